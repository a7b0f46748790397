"""Tests for rnnlib.activations: stable at +-1000, exact to rounding, right derivatives.

pyproject.toml turns every RuntimeWarning (overflow, invalid value) into an error, so merely
calling a function at +-1000 checks that it neither overflows nor warns.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rnnlib.activations import (
    log_softmax,
    sigmoid,
    sigmoid_grad_from_output,
    softmax,
    softmax_grad_from_output,
    tanh,
    tanh_grad_from_output,
)
from rnnlib.gradcheck import numerical_gradient, relative_error

EXTREMES = np.array([-1000.0, -745.0, -40.0, -1.0, 0.0, 1.0, 40.0, 745.0, 1000.0])


def sigmoid_by_math(x):
    """The sigmoid from its definition, one Python float at a time (math.exp underflows
    harmlessly to 0 for very negative arguments; avoid exp of large positive numbers)."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    return math.exp(x) / (1.0 + math.exp(x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_at_extremes_no_overflow_and_keeps_dtype(dtype):
    y = sigmoid(EXTREMES.astype(dtype))
    assert y.dtype == dtype
    assert np.all(np.isfinite(y)) and np.all((y >= 0) & (y <= 1))
    assert y[0] == 0 and y[4] == 0.5 and y[-1] == 1


def test_sigmoid_is_exact_to_rounding_including_the_tails():
    x = np.concatenate([np.linspace(-700, 700, 1001), [-1e-12, 1e-12, -30.0, -50.0]])
    expected = np.array([sigmoid_by_math(v) for v in x])
    # Relative error per entry, so tiny values deep in the left tail are checked too.
    nonzero = expected > 0
    rel = np.abs(sigmoid(x)[nonzero] - expected[nonzero]) / expected[nonzero]
    assert rel.max() < 4 * np.finfo(np.float64).eps
    # The symmetry 1 - sigma(x) = sigma(-x), up to rounding.
    assert np.max(np.abs(1 - sigmoid(x) - sigmoid(-x))) < 2 * np.finfo(np.float64).eps


def tanh_by_expm1(x):
    """tanh from its definition, one Python float at a time, in the form that stays
    accurate near 0: tanh|x| = e / (e + 2) with e = exp(2|x|) - 1 from math.expm1 (the
    form (1 - exp(-2|x|)) / (1 + exp(-2|x|)) cancels there); tanh is odd. Beyond |x| = 20,
    1 - tanh|x| < 1e-17 is below float64's rounding, and expm1 would overflow further out."""
    if abs(x) > 20:
        return math.copysign(1.0, x)
    e = math.expm1(2 * abs(x))
    return math.copysign(e / (e + 2), x)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_at_extremes_no_overflow_and_keeps_dtype(dtype):
    x = EXTREMES.astype(dtype)
    y = tanh(x)
    assert y.dtype == dtype
    assert y[0] == -1 and y[4] == 0 and y[-1] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_accurate_to_rounding_near_zero_and_everywhere(dtype):
    magnitudes = np.logspace(-30, 1.5, 400)  # 1e-30 .. 31.6: the linear part, the bend, 1
    x = np.concatenate([-magnitudes[::-1], [0.0], magnitudes]).astype(dtype)
    expected = np.array([tanh_by_expm1(float(v)) for v in x])  # float64, at the same x
    nonzero = expected != 0
    rel = np.abs(tanh(x)[nonzero] - expected[nonzero]) / np.abs(expected[nonzero])
    # Relative error per entry, so that the smallest values are checked as closely as the
    # largest: a tanh that loses precision near 0 fails by orders of magnitude here.
    assert rel.max() < 4 * np.finfo(dtype).eps


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tanh_is_odd_monotone_and_saturates(dtype):
    x = np.linspace(0, 50, 2001).astype(dtype)
    y = tanh(x)
    np.testing.assert_array_equal(tanh(-x), -y)  # exactly odd
    assert np.all(np.diff(y) >= 0)  # never decreasing
    assert np.all(y[x >= 20] == 1)  # saturated: 1 - tanh(20) is far below rounding
    assert np.all(y[(x > 0) & (x < 5)] < 1)  # but not before


@pytest.mark.parametrize(
    "function, derivative",
    [(sigmoid, sigmoid_grad_from_output), (tanh, tanh_grad_from_output)],
    ids=["sigmoid", "tanh"],
)
def test_derivatives_from_output_match_finite_differences(function, derivative):
    x = np.linspace(-6, 6, 25)
    eps = 1e-6
    numeric = (function(x + eps) - function(x - eps)) / (2 * eps)
    assert relative_error(derivative(function(x)), numeric) < 1e-9
    assert np.all(derivative(function(EXTREMES)) >= 0)  # saturated: 0, never negative


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_at_extremes(dtype):
    logits = np.array([[-1000.0, 0.0, 1000.0], [1000.0, 1000.0, -1000.0]], dtype=dtype)
    p = softmax(logits)
    assert p.dtype == dtype
    np.testing.assert_allclose(p, [[0, 0, 1], [0.5, 0.5, 0]], atol=0)
    logp = log_softmax(logits)
    assert logp.dtype == dtype
    log2 = math.log(2)
    np.testing.assert_allclose(logp, [[-2000, -1000, 0], [-log2, -log2, -2000 - log2]], rtol=1e-6)


def test_softmax_matches_definition_and_shift_invariance(rng):
    x = rng.standard_normal((2, 3, 5))
    naive = np.exp(x) / np.exp(x).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(softmax(x), naive, rtol=1e-14)
    np.testing.assert_allclose(softmax(x + 500.0), naive, rtol=1e-13)
    np.testing.assert_allclose(log_softmax(x), np.log(naive), rtol=1e-13, atol=1e-14)
    # axis: softmax over the time axis
    np.testing.assert_allclose(softmax(x, axis=1).sum(axis=1), 1.0, rtol=1e-14)
    with pytest.raises(ValueError):  # numpy's AxisError is a ValueError
        softmax(x, axis=3)


def test_softmax_grad_from_output_matches_finite_differences(rng):
    x = rng.standard_normal((3, 4))
    weights = rng.standard_normal((3, 4))  # loss = sum(weights * softmax(x))
    numeric = numerical_gradient(lambda: float(np.sum(weights * softmax(x))), x)
    analytic = softmax_grad_from_output(softmax(x), weights)
    assert relative_error(analytic, numeric) < 1e-8


@settings(max_examples=40, deadline=None)
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=5),
        elements=st.floats(-1000, 1000),
    )
)
def test_property_outputs_stay_in_range(x):
    s = sigmoid(x)
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.abs(tanh(x)) <= 1)
    p = softmax(x)
    assert np.all(p >= 0)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(log_softmax(x) <= 0)
