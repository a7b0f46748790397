"""Tests for rnnlib.train: fit and fit_stream learn, record what they promise, fail clearly."""

import itertools

import numpy as np
import pytest

from rnnlib import data
from rnnlib.model import SequenceModel
from rnnlib.optim import SGD, Adam
from rnnlib.train import fit, fit_stream


def test_fit_overfits_a_few_sequences():
    # Three short sequences of the copy task, seen again and again: a small LSTM must drive
    # the loss far below its starting value (which is about log of the alphabet size).
    X, targets, mask = data.copy_task(3, 2, 2, n_symbols=3, rng=0)
    model = SequenceModel("lstm", X.shape[2], 16, X.shape[2], rng=0)
    history = fit(model, itertools.repeat((X, targets, mask)), Adam(0.05), 150,
                  progress=False, loss="cross_entropy")
    assert history["loss"][0] > 0.8
    assert history["loss"][-1] < 0.02
    predicted = model.predict(X).argmax(axis=-1)
    np.testing.assert_array_equal(predicted[mask], targets[mask])


def test_fit_learns_next_step_prediction_with_a_callable():
    model = SequenceModel("gru", 1, 8, 1, rng=1)
    history = fit(model, lambda rng: data.sine_wave(8, 20, noise=0.0, rng=rng), Adam(0.02),
                  120, clip=1.0, progress=False, rng=2)
    assert history["loss"][-10:].mean() < 0.2 * history["loss"][:10].mean()


def test_history_records_every_step_and_the_callback():
    model = SequenceModel("rnn", 2, 4, 1, rng=0)
    calls = []

    def callback(model, step):
        calls.append(step)
        X, y = data.adding_problem(16, 6, rng=99)
        return model.loss_and_grads(X, y, last_only=True)[0]

    history = fit(model, lambda rng: data.adding_problem(8, 6, rng=rng), SGD(0.05), 25,
                  clip=0.5, progress=False, callback=callback, eval_every=10, last_only=True)
    assert history["loss"].shape == history["grad_norm"].shape == (25,)
    assert calls == [0, 10, 20, 25]
    assert [step for step, _ in history["callback"]] == calls
    assert all(isinstance(value, float) for _, value in history["callback"])
    assert history["seconds"] > 0
    # The recorded norm is the one before clipping, so it may exceed the threshold.
    assert np.all(history["grad_norm"] > 0)


def test_clipped_norm_is_the_unclipped_one():
    X, y = data.adding_problem(4, 5, rng=0)
    runs = []
    for clip in (None, 1e-3):
        model = SequenceModel("rnn", 2, 3, 1, rng=0)
        runs.append(fit(model, itertools.repeat((X, y)), SGD(0.1), 1, clip=clip,
                        progress=False, last_only=True))
    assert runs[0]["grad_norm"][0] == runs[1]["grad_norm"][0] > 1e-3


def test_same_seed_same_run():
    def run():
        model = SequenceModel("lstm", 1, 4, 1, rng=0)
        return fit(model, lambda rng: data.sine_wave(4, 10, rng=rng), Adam(0.01), 5,
                   progress=False, rng=3)["loss"]

    np.testing.assert_array_equal(run(), run())


def test_progress_bar_can_be_shown_and_hidden(capsys):
    X, y = data.sine_wave(2, 5, rng=0)
    model = SequenceModel("rnn", 1, 3, 1, rng=0)
    fit(model, itertools.repeat((X, y)), SGD(0.01), 3, progress=False)
    assert capsys.readouterr().err == ""
    fit(model, itertools.repeat((X, y)), SGD(0.01), 3, progress=True, description="sine")
    err = capsys.readouterr().err
    assert "sine" in err and "3/3" in err


def test_bad_batches():
    X, y = data.sine_wave(2, 5, rng=0)
    model = SequenceModel("rnn", 1, 3, 1, rng=0)
    with pytest.raises(ValueError, match="batches: the iterable ran out after 2 batches"):
        fit(model, [(X, y), (X, y)], SGD(0.01), 3, progress=False)
    with pytest.raises(ValueError, match=r"batches: expected \(X, targets\) or"):
        fit(model, itertools.repeat(X), SGD(0.01), 1, progress=False)
    with pytest.raises(ValueError, match="batches: expected a callable"):
        fit(model, 42, SGD(0.01), 1, progress=False)
    with pytest.raises(ValueError, match="steps: expected a positive integer"):
        fit(model, itertools.repeat((X, y)), SGD(0.01), 0, progress=False)
    with pytest.raises(ValueError, match="clip: expected a positive number"):
        fit(model, itertools.repeat((X, y)), SGD(0.01), 1, clip=-1.0, progress=False)
    with pytest.raises(ValueError, match="X: expected shape"):
        fit(model, itertools.repeat((X[..., [0, 0]], y)), SGD(0.01), 1, progress=False)


def test_a_diverging_loss_is_reported_with_its_step():
    # Saturated hidden units (+1) times output weights of 1e160 square to inf.
    X = np.full((1, 2, 1), 10.0)
    model = SequenceModel("rnn", 1, 2, 1, rng=0)
    model.params["layer0.W"][:] = 1.0
    model.params["out.W"][:] = 1e160
    with pytest.raises(FloatingPointError, match="step 1: the loss is inf"):
        fit(model, itertools.repeat((X, np.zeros((1, 2, 1)))), SGD(0.1), 2, progress=False)


class _QuadraticModel:
    """The smallest object fit accepts: a params dict and loss_and_grads."""

    def __init__(self, nan_gradient=False):
        self.params = {"w": np.array([3.0, -2.0])}
        self.nan_gradient = nan_gradient

    def loss_and_grads(self, X, targets, loss, mask, last_only):
        w = self.params["w"]
        grad = np.full(2, np.nan) if self.nan_gradient else w.copy()
        return 0.5 * float(w @ w), {"w": grad}


def test_fit_works_with_any_model_with_params_and_loss_and_grads():
    model = _QuadraticModel()
    history = fit(model, itertools.repeat((None, None)), SGD(0.5), 10, progress=False)
    np.testing.assert_allclose(history["loss"], 6.5 * 0.25 ** np.arange(10))
    np.testing.assert_allclose(model.params["w"], [3.0 * 0.5**10, -2.0 * 0.5**10])


def test_a_nan_gradient_is_reported_with_its_step():
    with pytest.raises(FloatingPointError, match="step 1: the gradient holds NaN or inf"):
        fit(_QuadraticModel(nan_gradient=True), itertools.repeat((None, None)), SGD(0.1), 3,
            progress=False)


# ---------------------------------------------------------------------------------------
# stop_when
# ---------------------------------------------------------------------------------------


def _adding_batches(rng):
    return data.adding_problem(8, 6, rng=rng)


def test_stop_when_ends_the_run_and_truncates_the_history():
    model = SequenceModel("rnn", 2, 4, 1, rng=0)
    history = fit(model, _adding_batches, SGD(0.05), 100, progress=False, eval_every=10,
                  last_only=True, rng=0, callback=lambda m, step: step,
                  stop_when=lambda result: result >= 30)
    assert history["stopped_at"] == 30
    assert history["loss"].shape == history["grad_norm"].shape == (30,)
    assert [step for step, _ in history["callback"]] == [0, 10, 20, 30]


def test_stop_when_that_never_holds_runs_to_the_end_like_without_it():
    runs = []
    for stop_when in (None, lambda result: False):
        model = SequenceModel("rnn", 2, 4, 1, rng=0)
        runs.append(fit(model, _adding_batches, SGD(0.05), 25, progress=False,
                        eval_every=10, last_only=True, rng=0, stop_when=stop_when,
                        callback=lambda m, step: float(m.params["out.b"].sum())))
    assert runs[0]["stopped_at"] is None and runs[1]["stopped_at"] is None
    np.testing.assert_array_equal(runs[0]["loss"], runs[1]["loss"])
    assert runs[0]["callback"] == runs[1]["callback"]


def test_stop_when_at_step_zero_trains_nothing():
    model = SequenceModel("rnn", 2, 4, 1, rng=0)
    before = {key: value.copy() for key, value in model.params.items()}
    history = fit(model, _adding_batches, SGD(0.05), 10, progress=False, last_only=True,
                  callback=lambda m, step: 1.0, stop_when=lambda result: True)
    assert history["stopped_at"] == 0
    assert history["loss"].shape == (0,) and history["callback"] == [(0, 1.0)]
    assert all(np.array_equal(before[key], model.params[key]) for key in before)


def test_stop_when_is_checked():
    model = SequenceModel("rnn", 2, 4, 1, rng=0)
    with pytest.raises(ValueError, match="stop_when"):
        fit(model, _adding_batches, SGD(0.05), 5, progress=False, stop_when=lambda r: True)
    with pytest.raises(ValueError, match="stop_when"):
        fit(model, _adding_batches, SGD(0.05), 5, progress=False,
            callback=lambda m, step: 0.0, stop_when=3)


# ---------------------------------------------------------------------------------------
# fit_stream
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("forget_gate", [True, False])
def test_fit_stream_carries_the_state_and_logs(forget_gate):
    stream = data.reber_stream(2, 60, rng=3)
    model = SequenceModel("lstm", 7, 4, 7, rng=0, forget_gate=forget_gate)
    log = fit_stream(model, stream.X, stream.targets, Adam(0.01), chunk=10, clip=1.0,
                     loss="cross_entropy", log_every=2,
                     callback=lambda m, states, position: float(np.abs(states[0][1]).mean()))
    assert log["position"] == [20, 40, 60]
    assert len(log["loss"]) == len(log["callback"]) == 3
    assert all(np.isfinite(log["loss"]))
    assert np.isclose(log["callback"][-1], np.abs(log["states"][0][1]).mean())


def test_fit_stream_carries_the_state_between_chunks():
    # With an optimiser that changes nothing, the carried state after two chunks is the
    # state after running the whole stream at once.
    class Frozen:
        def step(self, params, grads):
            pass

    X, Y = data.sine_wave(3, 20, rng=0)
    model = SequenceModel("gru", 1, 5, 1, rng=0)
    log = fit_stream(model, X, Y, Frozen(), chunk=10, log_every=1)
    _, _, states = model.loss_and_grads(X, Y, return_states=True)
    np.testing.assert_allclose(log["states"][0], states[0])
    assert log["position"] == [10, 20]


def test_fit_stream_rejects_bad_arguments():
    X, Y = data.sine_wave(2, 20, rng=0)
    model = SequenceModel("rnn", 1, 3, 1, rng=0)
    with pytest.raises(ValueError, match="X"):
        fit_stream(model, X, Y, SGD(0.1), chunk=100)
    with pytest.raises(ValueError, match="targets"):
        fit_stream(model, X, Y[:, :10], SGD(0.1), chunk=5)
    with pytest.raises(ValueError, match="chunk"):
        fit_stream(model, X, Y, SGD(0.1), chunk=0)
