"""rnnlib.regularize: dropout masks (per step and fixed over time), weight decay."""

import itertools

import numpy as np
import pytest

from rnnlib import data, gradcheck, regularize
from rnnlib.model import SequenceModel
from rnnlib.optim import Adam
from rnnlib.train import fit


def test_dropout_mask_values_and_mean():
    mask = regularize.dropout_mask((200, 50, 10), 0.3, rng=0)
    assert set(np.unique(mask)) == {0.0, 1 / 0.7}
    assert abs(mask.mean() - 1) < 0.01
    assert (regularize.dropout_mask((3, 4), 0.0, rng=0) == 1).all()


def test_variational_mask_is_fixed_over_time_and_survival():
    mask = regularize.variational_mask(100, 20, 8, 0.5, rng=0)
    assert mask.shape == (100, 20, 8)
    assert (mask == mask[:, :1]).all()
    # (reg-survival): fixed mask -> 1 - p survive every step; fresh masks -> (1 - p)^k.
    fresh = regularize.dropout_mask((4000, 5, 1), 0.5, rng=1) > 0
    assert abs(fresh.all(axis=1).mean() - 0.5**5) < 0.01
    assert abs((mask > 0).all(axis=1).mean() - 0.5) < 0.05


def test_weight_decay_gradient_is_that_of_the_penalty():
    model = SequenceModel("rnn", 2, 3, 1, rng=0)
    params = model.params
    zero = {k: np.zeros_like(v) for k, v in params.items()}
    grads = regularize.weight_decay_grads(params, zero, 0.1)
    errors = gradcheck.check_gradients(lambda: regularize.l2_penalty(params, 0.1),
                                       params, grads)
    assert max(errors.values()) < 1e-7
    assert (grads["layer0.b"] == 0).all() and (grads["out.b"] == 0).all()
    assert regularize.weight_keys(params) == ["layer0.W", "out.W"]


def test_regularized_trains_the_model_and_predicts_without_dropout():
    X, Y = data.sine_wave(4, 20, rng=0)
    model = SequenceModel("lstm", 1, 8, 1, rng=0)
    trainer = regularize.Regularized(model, input_dropout=0.2, weight_decay=1e-3, rng=0)
    assert trainer.params is model.params
    np.testing.assert_array_equal(trainer.predict(X), model.predict(X))
    value, grads = trainer.loss_and_grads(X, Y)
    plain, _ = model.loss_and_grads(X, Y)
    assert value != plain
    history = fit(trainer, itertools.repeat((X, Y)), Adam(1e-2), 30, progress=False)
    assert history["loss"][-1] < history["loss"][0]
    off = regularize.Regularized(model)
    assert off.loss_and_grads(X, Y)[0] == model.loss_and_grads(X, Y)[0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="p"):
        regularize.dropout_mask((2, 2), 1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        regularize.l2_penalty({"W": np.ones((2, 2))}, -1.0)
    with pytest.raises(ValueError, match="grads"):
        regularize.weight_decay_grads({"W": np.ones((2, 2))}, {"V": np.ones((2, 2))}, 0.1)
