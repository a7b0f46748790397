"""Tests for rnnlib.tbptt: the truncated gradient, the echo task, the cost measurement."""

import numpy as np
import pytest

from rnnlib import optim, tbptt
from rnnlib.gradcheck import assert_gradients_close
from rnnlib.model import SequenceModel
from rnnlib.train import fit_stream


def test_echo_stream_targets_are_the_lagged_inputs():
    X, targets = tbptt.echo_stream(3, 20, 4, n_symbols=3, rng=0)
    assert X.shape == (3, 20, 3) and targets.shape == (3, 20)
    np.testing.assert_array_equal(targets[:, 4:], X[:, :-4].argmax(-1))
    with pytest.raises(ValueError, match="n_symbols"):
        tbptt.echo_stream(1, 5, 1, n_symbols=1)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_one_chunk_is_full_bptt(cell):
    model = SequenceModel(cell, 2, 4, 2, rng=0)
    X, targets = tbptt.echo_stream(2, 9, 2, rng=1)
    loss, grads, _ = tbptt.truncated_gradients(model, X, targets, 9)
    loss_full, grads_full = model.loss_and_grads(X, targets, loss="cross_entropy")
    assert loss == pytest.approx(loss_full)
    for key in grads:
        np.testing.assert_allclose(grads[key], grads_full[key], rtol=1e-10, atol=1e-12)


def test_truncated_loss_is_the_full_loss_but_the_gradient_is_not():
    model = SequenceModel("gru", 2, 5, 2, rng=2)
    X, targets = tbptt.echo_stream(2, 12, 3, rng=3)
    loss, grads, states = tbptt.truncated_gradients(model, X, targets, 5)
    loss_full, grads_full, states_full = model.loss_and_grads(
        X, targets, loss="cross_entropy", return_states=True)
    assert loss == pytest.approx(loss_full)  # the state is carried: same forward pass
    np.testing.assert_allclose(states[0], states_full[0])
    assert not np.allclose(grads["layer0.W"], grads_full["layer0.W"])


def test_truncated_gradient_is_the_gradient_with_chunk_starts_held_fixed():
    # Finite differences of the chunks' weighted losses, each from its start state held
    # fixed at the value the carried forward pass gave it.
    model = SequenceModel("lstm", 2, 3, 2, rng=4)
    X, targets = tbptt.echo_stream(2, 7, 2, rng=5)
    k = 3
    _, grads, _ = tbptt.truncated_gradients(model, X, targets, k)
    starts, states = [], None
    for start in range(0, 7, k):
        starts.append(states)
        _, states = model.forward(X[:, start : start + k], states, return_states=True)
    starts = [None if s is None else [tuple(np.copy(part) for part in layer)
                                      if isinstance(layer, tuple) else np.copy(layer)
                                      for layer in s] for s in starts]

    def loss_fn():
        total = 0.0
        for number, start in enumerate(range(0, 7, k)):
            part = slice(start, min(start + k, 7))
            value, _ = model.loss_and_grads(X[:, part], targets[:, part],
                                            loss="cross_entropy", states0=starts[number])
            total += (part.stop - part.start) / 7 * value
        return total

    assert_gradients_close(loss_fn, model.params, grads, tol=1e-6)


def test_a_lag_longer_than_the_chunk_is_not_learned_and_a_shorter_one_is():
    lag = 4
    accuracy = {}
    for chunk in (3, 12):
        model = SequenceModel("gru", 2, 12, 2, rng=0)
        X, targets = tbptt.echo_stream(8, 250 * chunk, lag, rng=1)
        fit_stream(model, X, targets, optim.Adam(1e-2), chunk=chunk,
                   loss="cross_entropy", clip=1.0)
        X_test, targets_test = tbptt.echo_stream(16, 100, lag, rng=2)
        accuracy[chunk] = tbptt.echo_accuracy(model, X_test, targets_test, lag)
    # Chunk 3 < lag 4: no gradient ever links a loss to the input 4 steps back, so the
    # recurrence never learns to keep it (the output layer may still read what the
    # carried state happens to hold, a little above chance).
    assert accuracy[3] < 0.7 and accuracy[12] > 0.95


def test_cost_measures_memory_and_time():
    seconds, peak = tbptt.cost(lambda: np.ones(1_000_000), repeats=2)
    assert seconds > 0 and 7_000_000 < peak < 9_000_000
    model = SequenceModel("rnn", 2, 8, 2, rng=0)
    X, targets = tbptt.echo_stream(4, 200, 2, rng=0)
    _, full = tbptt.cost(lambda: model.loss_and_grads(X, targets, loss="cross_entropy"), 1)
    _, short = tbptt.cost(lambda: tbptt.truncated_gradients(model, X, targets, 10), 1)
    assert short < full / 3
