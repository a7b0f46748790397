"""Tests for rnnlib.gradcheck: the checker finds correct gradients correct and wrong ones
wrong, and reports bad arguments clearly."""

import types

import numpy as np
import pytest

from rnnlib import rnn
from rnnlib.gradcheck import (
    assert_gradients_close,
    check_cell,
    check_gradients,
    numerical_gradient,
    relative_error,
)


def test_numerical_gradient_of_a_quadratic_form(rng):
    A = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    before = x.copy()
    numeric = numerical_gradient(lambda: float(x @ A @ x), x)
    # Centred differences are exact for quadratics up to rounding.
    np.testing.assert_allclose(numeric, (A + A.T) @ before, rtol=1e-8, atol=1e-9)
    np.testing.assert_array_equal(x, before)  # every entry restored


def test_centred_differences_beat_one_sided_ones():
    x = np.array([0.7])
    eps = 1e-4
    centred = numerical_gradient(lambda: float(np.sin(x[0])), x, eps=eps)[0]
    one_sided = (np.sin(0.7 + eps) - np.sin(0.7)) / eps
    exact = np.cos(0.7)
    assert abs(centred - exact) < 1e-8 < abs(one_sided - exact)


def test_relative_error_values():
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.ones((2, 2)), np.ones((2, 2))) == 0.0
    # max |a-b| = 0.5, max(|a|+|b|) = 4.5
    assert relative_error(np.array([2.0, 0.1]), np.array([2.5, 0.1])) == pytest.approx(0.5 / 4.5)
    with pytest.raises(ValueError, match=r"b: expected the shape of a, \(2,\), got \(3,\)"):
        relative_error(np.zeros(2), np.zeros(3))


def test_check_gradients_accepts_right_and_flags_wrong_gradients(rng):
    w = rng.standard_normal(3)
    v = rng.standard_normal((2, 3))

    def loss():
        return float(np.sum(np.tanh(v @ w)))

    d = 1 - np.tanh(v @ w) ** 2  # (2,)
    right = {"w": v.T @ d, "v": np.outer(d, w)}
    errors = check_gradients(loss, {"w": w, "v": v}, right)
    assert max(errors.values()) < 1e-8
    wrong = {"w": right["w"], "v": 1.01 * right["v"]}
    errors = check_gradients(loss, {"w": w, "v": v}, wrong)
    assert errors["w"] < 1e-8 and errors["v"] > 1e-3
    with pytest.raises(AssertionError, match=r"relative error above 1e-07 for v: "):
        assert_gradients_close(loss, {"w": w, "v": v}, wrong)
    assert assert_gradients_close(loss, {"w": w, "v": v}, right)["v"] < 1e-8


def test_check_cell_catches_a_wrong_backward(rng):
    """A backward pass with one slip (dW off by 1 %) must fail the check, the others pass."""

    def slightly_wrong_backward(dY, dstate_T, cache):
        dX, dstate0, grads = rnn.backward(dY, dstate_T, cache)
        return dX, dstate0, {"W": grads["W"] * 1.01, "b": grads["b"]}

    broken = types.SimpleNamespace(forward=rnn.forward, backward=slightly_wrong_backward)
    params = rnn.init_params(2, 3, rng=rng)
    X = rng.standard_normal((2, 3, 2))
    errors = check_cell(broken, X, None, params, rng=1)
    assert errors["W"] > 1e-3
    assert max(errors[k] for k in ("b", "X", "state0")) < 1e-6


def test_check_cell_restores_every_array(rng):
    params = rnn.init_params(2, 3, rng=rng)
    X = rng.standard_normal((2, 3, 2))
    h0 = rng.standard_normal((2, 3))
    copies = [a.copy() for a in (params["W"], params["b"], X, h0)]
    check_cell(rnn, X, h0, params, rng=1)
    for original, array in zip(copies, (params["W"], params["b"], X, h0), strict=True):
        np.testing.assert_array_equal(array, original)


def test_bad_arguments():
    x = np.zeros(3)
    with pytest.raises(ValueError, match=r"eps: expected a positive step size, got 0"):
        numerical_gradient(lambda: 0.0, x, eps=0)
    read_only = np.zeros(3)
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="x: expected a writeable array"):
        numerical_gradient(lambda: 0.0, read_only)
    with pytest.raises(ValueError, match=r"f: expected a scalar, got shape \(3,\)"):
        numerical_gradient(lambda: x * 2, x)
    with pytest.raises(ValueError, match="f: expected a finite value, got nan"):
        numerical_gradient(lambda: float("nan"), x)
    with pytest.raises(ValueError, match="x: expected dtype float32 or float64, got int64"):
        numerical_gradient(lambda: 0.0, np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="analytic: missing the gradient of 'v'"):
        check_gradients(lambda: 0.0, {"v": x}, {})
    with pytest.raises(ValueError, match=r"analytic\['v'\]: expected shape \(3,\), got \(2,\)"):
        check_gradients(lambda: 0.0, {"v": x}, {"v": np.zeros(2)})


def test_default_tolerance_is_the_books_and_a_tanh_derivative_bug_exceeds_it_by_far():
    import inspect

    from rnnlib import rnn

    assert inspect.signature(assert_gradients_close).parameters["tol"].default == 1e-7
    rng = np.random.default_rng(4)
    X, params = rng.normal(size=(2, 5, 3)), rnn.init_params(3, 4, rng=rng)
    G = rng.normal(size=(2, 5, 4))
    Y, _, cache = rnn.forward(X, None, params)

    def loss():
        return float(np.sum(rnn.forward(X, None, params)[0] * G))

    _, _, right = rnn.backward(G, None, cache)
    assert max(check_gradients(loss, params, right).values()) < 1e-7
    # the same BPTT with tanh'(a) taken as 1 - a**2 from the pre-activation
    H_prev = np.concatenate([np.zeros((2, 1, 4)), Y[:, :-1]], axis=1)
    Z = np.concatenate([X, H_prev], axis=2)
    A = Z @ params["W"] + params["b"]
    dA, dh = np.zeros_like(Y), np.zeros((2, 4))
    for t in reversed(range(5)):
        dA[:, t] = (G[:, t] + dh) * (1 - A[:, t] ** 2)
        dh = dA[:, t] @ params["W"][3:].T
    wrong = {"W": np.einsum("ntd,nth->dh", Z, dA), "b": dA.sum(axis=(0, 1))}
    assert min(check_gradients(loss, params, wrong).values()) > 1e-3
    with pytest.raises(AssertionError, match="relative error above 1e-07"):
        assert_gradients_close(loss, params, wrong)
