"""Tests for rnnlib.sampling: decoding distributions, free running, scheduled sampling."""

import numpy as np
import pytest

from rnnlib import data, sampling
from rnnlib.gradcheck import assert_gradients_close
from rnnlib.model import SequenceModel


def test_temperature_one_is_the_softmax_and_zero_the_argmax():
    logits = np.array([[1.0, 3.0, 2.0], [0.5, -1.0, 0.5]])
    p = sampling.temperature_probabilities(logits, 1.0)
    np.testing.assert_allclose(p, np.exp(logits) / np.exp(logits).sum(1, keepdims=True))
    np.testing.assert_array_equal(sampling.temperature_probabilities(logits, 0.0),
                                  [[0, 1, 0], [1, 0, 0]])
    hot = sampling.temperature_probabilities(logits, 100.0)
    np.testing.assert_allclose(hot, 1 / 3, atol=0.01)


def test_top_k_keeps_the_k_largest_and_renormalises():
    logits = np.array([0.1, 2.0, -1.0, 1.5, 0.3])
    p = sampling.top_k_probabilities(logits, 2)
    kept = np.exp([2.0, 1.5]) / np.exp([2.0, 1.5]).sum()
    np.testing.assert_allclose(p, [0, kept[0], 0, kept[1], 0])
    np.testing.assert_allclose(sampling.top_k_probabilities(logits, 5),
                               sampling.temperature_probabilities(logits))
    p_cold = sampling.top_k_probabilities(logits, 3, temperature=0.5)
    assert np.count_nonzero(p_cold) == 3 and np.isclose(p_cold.sum(), 1)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="temperature"):
        sampling.temperature_probabilities(np.zeros(3), -1.0)
    with pytest.raises(ValueError, match="k"):
        sampling.top_k_probabilities(np.zeros(3), 0)
    with pytest.raises(ValueError, match="logits"):
        sampling.temperature_probabilities(np.array([1.0, np.nan]))
    model = SequenceModel("rnn", 2, 3, 1, rng=0)
    with pytest.raises(ValueError, match="input_size == output_size"):
        sampling.free_run(model, np.zeros((1, 2, 2)), 3)
    model = SequenceModel("rnn", 1, 3, 1, rng=0)
    with pytest.raises(ValueError, match=r"X_prime.*\(N, P, D\)|X_prime"):
        sampling.free_run(model, np.zeros((1, 2, 3)), 3)
    with pytest.raises(ValueError, match="teacher_probability"):
        sampling.scheduled_inputs(model, np.zeros((1, 4, 1)), 1.5)


def test_sample_symbols_follows_the_probabilities():
    p = np.tile([0.2, 0.5, 0.3], (20000, 1))
    draws = sampling.sample_symbols(p, rng=0)
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20000, p[0], atol=0.015)
    assert np.all(sampling.sample_symbols(np.tile([0.0, 1.0, 0.0], (50, 1)), rng=1) == 1)


def test_greedy_generate_equals_the_models_greedy_sample():
    corpus = data.char_corpus(lowercase=True)
    V = corpus.vocab_size
    model = SequenceModel("gru", V, 8, V, rng=3)
    prime = corpus.encode("the ")
    batch = sampling.generate(model, prime, 25, n_samples=3, temperature=0.0, rng=0)
    single = model.sample(prime, 25, temperature=0.0)
    assert batch.shape == (3, 25)
    for row in batch:
        np.testing.assert_array_equal(row, single)


def test_generate_with_top_1_is_greedy_and_top_k_stays_in_the_top_k():
    V = 6
    model = SequenceModel("rnn", V, 5, V, rng=4)
    greedy = sampling.generate(model, [0, 1], 10, n_samples=2, temperature=0.0)
    top1 = sampling.generate(model, [0, 1], 10, n_samples=2, temperature=1.0, top_k=1,
                             rng=0)
    np.testing.assert_array_equal(greedy, top1)
    samples = sampling.generate(model, [2], 1, n_samples=500, top_k=2, rng=1)
    logits = model.forward(np.eye(V)[[2]][None])[0, -1]
    assert set(np.unique(samples)) <= set(np.argsort(-logits)[:2])


def test_free_run_reads_its_own_predictions():
    model = SequenceModel("lstm", 2, 6, 2, rng=5)
    X_prime = np.random.default_rng(0).standard_normal((3, 4, 2))
    predictions = sampling.free_run(model, X_prime, 5)
    # the same thing by hand: the whole sequence prime + predictions, teacher-forced
    full = np.concatenate([X_prime, predictions[:, :-1]], axis=1)  # (3, 8, 2)
    np.testing.assert_allclose(model.forward(full)[:, 3:], predictions, rtol=1e-10)


def test_inverse_sigmoid_decay():
    assert sampling.inverse_sigmoid_decay(0, 10) == pytest.approx(10 / 11)
    assert sampling.inverse_sigmoid_decay(10 * np.log(10), 10) == pytest.approx(0.5)
    values = sampling.inverse_sigmoid_decay(np.arange(100), 20)
    assert np.all(np.diff(values) < 0)
    with pytest.raises(ValueError, match="k"):
        sampling.inverse_sigmoid_decay(3, 0.5)


def test_scheduled_inputs_at_the_two_ends():
    model = SequenceModel("gru", 1, 5, 1, rng=6)
    X, _ = data.sine_wave(4, 9, rng=0)
    np.testing.assert_array_equal(sampling.scheduled_inputs(model, X, 1.0, rng=0), X)
    own = sampling.scheduled_inputs(model, X, 0.0, rng=0)
    np.testing.assert_array_equal(own[:, 0], X[:, 0])
    np.testing.assert_allclose(own[:, 1:], sampling.free_run(model, X[:, :1], 8),
                               rtol=1e-10)
    half = sampling.scheduled_inputs(model, X, 0.5, rng=1)
    from_truth = np.isclose(half[:, 1:], X[:, 1:])
    assert from_truth.any() and not from_truth.all()


def test_scheduled_inputs_for_a_classifier_are_one_hot_symbols():
    V = 5
    model = SequenceModel("rnn", V, 4, V, rng=7)
    X = np.eye(V)[np.random.default_rng(0).integers(0, V, (3, 7))]
    mixed = sampling.scheduled_inputs(model, X, 0.3, loss="cross_entropy", rng=2)
    np.testing.assert_array_equal(mixed.sum(-1), 1.0)
    assert set(np.unique(mixed)) == {0.0, 1.0}


def test_scheduled_sampling_gradient_is_that_of_the_mixed_inputs():
    # The sampled inputs are constants of the step: the wrapper's gradient is the model's
    # gradient on the mixed inputs, checked here against finite differences.
    model = SequenceModel("lstm", 1, 3, 1, rng=8)
    X, Y = data.sine_wave(2, 6, rng=3)
    wrapper = sampling.ScheduledSampling(model, lambda i: 0.5, rng=4)
    loss, grads = wrapper.loss_and_grads(X, Y)
    mixed = sampling.scheduled_inputs(model, X, 0.5, rng=4)
    assert loss == pytest.approx(model.loss_and_grads(mixed, Y)[0])

    def loss_fn():
        return model.loss_and_grads(mixed, Y)[0]

    assert_gradients_close(loss_fn, model.params, grads, tol=1e-6)
    assert wrapper.step == 1 and wrapper.teacher_probabilities == [0.5]
    with pytest.raises(ValueError, match="last_only"):
        wrapper.loss_and_grads(X, Y, last_only=True)


def test_scheduled_sampling_at_probability_one_is_teacher_forcing():
    model = SequenceModel("rnn", 1, 4, 1, rng=9)
    X, Y = data.sine_wave(3, 8, rng=5)
    loss, grads = sampling.ScheduledSampling(model, lambda i: 1.0).loss_and_grads(X, Y)
    loss_tf, grads_tf = model.loss_and_grads(X, Y)
    assert loss == loss_tf
    for key in grads:
        np.testing.assert_array_equal(grads[key], grads_tf[key])
