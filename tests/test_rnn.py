"""Tests for rnnlib.rnn, the basic (Elman) RNN.

The reference is the memo's equation written out with plain loops, one sample, one step and
one unit at a time: s_t = tanh(W_memo [x_t, s_{t-1}] + b), where W_memo = W.T acts on column
vectors. Nothing in it shares code with rnnlib.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlib import rnn
from rnnlib.gradcheck import check_cell, relative_error


def memo_rnn(X, s0, W, b):
    """The memo's basic RNN with plain loops; returns all states (N, T, H) as a list array."""
    N, T, D = X.shape
    H = len(b)
    W_memo = W.T  # (H, D+H): the memo's W, acting on the column vector [x_t, s_{t-1}]
    Y = np.zeros((N, T, H))
    for n in range(N):
        s = [float(v) for v in s0[n]]
        for t in range(T):
            column = [float(v) for v in X[n, t]] + s  # [x_t, s_{t-1}]
            s = [
                math.tanh(sum(W_memo[j, k] * column[k] for k in range(D + H)) + b[j])
                for j in range(H)
            ]
            Y[n, t] = s
    return Y


def fixed_case(N=2, T=4, D=3, H=2):
    """Deterministic inputs and parameters (no random numbers), moderate sizes of values."""
    X = np.sin(np.arange(N * T * D, dtype=np.float64)).reshape(N, T, D)
    s0 = np.cos(np.arange(N * H, dtype=np.float64)).reshape(N, H) / 2
    params = {
        "W": np.linspace(-0.8, 0.7, (D + H) * H).reshape(D + H, H),
        "b": np.linspace(-0.1, 0.2, H),
    }
    return X, s0, params


def test_forward_matches_memo_equations_on_fixed_inputs():
    X, s0, params = fixed_case()
    Y, state_T, _ = rnn.forward(X, s0, params)
    expected = memo_rnn(X, s0, params["W"], params["b"])
    np.testing.assert_allclose(Y, expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(state_T, Y[:, -1])  # y_t = s_t: the output is the state


def test_step_forward_matches_memo_and_none_state_means_zeros():
    X, s0, params = fixed_case(T=1)
    h, state, _ = rnn.step_forward(X[:, 0], s0, params)
    np.testing.assert_allclose(h, memo_rnn(X, s0, params["W"], params["b"])[:, 0], rtol=1e-13)
    assert state is h
    h_none, _, _ = rnn.step_forward(X[:, 0], None, params)
    h_zero, _, _ = rnn.step_forward(X[:, 0], np.zeros_like(s0), params)
    np.testing.assert_array_equal(h_none, h_zero)


@pytest.mark.parametrize("with_state", [True, False], ids=["state0", "zero-state0"])
def test_gradients_match_finite_differences(rng, with_state):
    N, T, D, H = 2, 4, 3, 3
    params = rnn.init_params(D, H, rng=rng)
    X = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H)) if with_state else None
    errors = check_cell(rnn, X, h0, params, rng=rng)
    assert set(errors) == {"W", "b", "X", "state0"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (1, 6, 2, 3), (5, 1, 3, 2), (3, 4, 2, 5)])
def test_shapes_and_dtypes(rng, N, T, D, H, dtype):
    params = rnn.init_params(D, H, rng=rng, dtype=dtype)
    X = rng.standard_normal((N, T, D)).astype(dtype)
    Y, h_T, cache = rnn.forward(X, None, params)
    assert Y.shape == (N, T, H) and h_T.shape == (N, H)
    dX, dh0, grads = rnn.backward(np.ones_like(Y), None, cache)
    assert dX.shape == X.shape and dh0.shape == (N, H)
    assert {key: g.shape for key, g in grads.items()} == {key: p.shape for key, p in params.items()}
    for array in (Y, h_T, dX, dh0, *grads.values()):
        assert array.dtype == dtype
    h, _, step_cache = rnn.step_forward(X[:, 0], None, params)
    dx, dh_prev, step_grads = rnn.step_backward(np.ones_like(h), None, step_cache)
    assert h.shape == (N, H) and dx.shape == (N, D) and dh_prev.shape == (N, H)
    for array in (h, dx, dh_prev, *step_grads.values()):
        assert array.dtype == dtype


def test_float32_agrees_with_float64(rng):
    params = rnn.init_params(3, 4, rng=rng)
    X = rng.standard_normal((2, 6, 3))
    dY = rng.standard_normal((2, 6, 4))
    Y64, _, cache64 = rnn.forward(X, None, params)
    params32 = {key: p.astype(np.float32) for key, p in params.items()}
    Y32, _, cache32 = rnn.forward(X.astype(np.float32), None, params32)
    assert relative_error(Y32, Y64) < 1e-6
    grads64 = rnn.backward(dY, None, cache64)[2]
    grads32 = rnn.backward(dY.astype(np.float32), None, cache32)[2]
    for key in params:
        assert relative_error(grads32[key], grads64[key]) < 1e-5


def test_init_params_like_pytorch():
    params = rnn.init_params(3, 16, rng=0, dtype=np.float32)
    assert params["W"].shape == (19, 16) and params["b"].shape == (16,)
    assert params["W"].dtype == np.float32
    bound = 1 / math.sqrt(16)
    assert np.all(np.abs(params["W"]) <= bound) and np.abs(params["W"]).max() > 0.8 * bound
    again = rnn.init_params(3, 16, rng=0, dtype=np.float32)
    np.testing.assert_array_equal(params["W"], again["W"])
    with pytest.raises(ValueError, match="hidden_size: expected a positive integer, got 0"):
        rnn.init_params(3, 0)
    with pytest.raises(ValueError, match="dtype: expected float32 or float64, got int64"):
        rnn.init_params(3, 2, dtype=np.int64)


def bad_input_cases():
    """(description, call, message pattern) for every kind of bad input."""
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 3, 3, 4
    p = rnn.init_params(D, H, rng=rng)
    X = rng.standard_normal((N, T, D))
    Y, _, cache = rnn.forward(X, None, p)
    X_nan = X.copy()
    X_nan[1, 2, 0] = np.nan
    h_inf = np.zeros((N, H))
    h_inf[0, 3] = np.inf
    dY_nan = np.zeros_like(Y)
    dY_nan[0, 1, 2] = np.nan
    step_cache = rnn.step_forward(X[:, 0], None, p)[2]
    W_short = {"W": p["W"][:-1], "b": p["b"]}
    cases = [
        ("X rank", lambda: rnn.forward(X[0], None, p), "X: expected a 3-d array"),
        (
            "X size",
            lambda: rnn.forward(X[:, :, :2], None, p),
            re.escape("X: expected input size D = 3 to fit params['W'] of shape (7, 4)"),
        ),
        (
            "W rows",
            lambda: rnn.forward(X, None, W_short),
            re.escape("X: expected input size D = 2 to fit params['W'] of shape (6, 4)"),
        ),
        (
            "W too few rows",
            lambda: rnn.forward(X, None, {"W": p["W"][:3], "b": p["b"]}),
            re.escape("params['W']: expected shape (D+H, H) with D = 3 (from X) and H >= 1"),
        ),
        (
            "b size",
            lambda: rnn.forward(X, None, {"W": p["W"], "b": p["b"][:-1]}),
            re.escape("params['b']: expected shape (H,) = (4,), got (3,)"),
        ),
        (
            "state0 batch",
            lambda: rnn.forward(X, np.zeros((3, H)), p),
            re.escape("state0: expected shape (N, H) = (2, 4), got (3, 4)"),
        ),
        (
            "X dtype",
            lambda: rnn.forward(X.astype(np.float32), None, p),
            re.escape("params['W']: expected dtype float32 like the other arrays of this call"),
        ),
        (
            "state0 dtype",
            lambda: rnn.forward(X, np.zeros((N, H), np.float32), p),
            "state0: expected dtype float64",
        ),
        (
            "int X",
            lambda: rnn.forward(X.astype(np.int64), None, p),
            "X: expected dtype float32 or float64, got int64",
        ),
        (
            "X NaN",
            lambda: rnn.forward(X_nan, None, p),
            re.escape("X contains NaN or inf (first at index (1, 2, 0))"),
        ),
        (
            "state0 inf",
            lambda: rnn.forward(X, h_inf, p),
            re.escape("state0 contains NaN or inf (first at index (0, 3))"),
        ),
        (
            "params NaN",
            lambda: rnn.forward(X, None, {"W": p["W"] * np.nan, "b": p["b"]}),
            "params\\['W'\\] contains NaN or inf",
        ),
        (
            "params key",
            lambda: rnn.forward(X, None, {"W": p["W"]}),
            "params: expected keys 'W', 'b'; missing 'b'",
        ),
        (
            "dY shape",
            lambda: rnn.backward(Y[:, :2], None, cache),
            re.escape("dY: expected shape (N, T, H) = (2, 3, 4), got (2, 2, 4)"),
        ),
        (
            "dY NaN",
            lambda: rnn.backward(dY_nan, None, cache),
            re.escape("dY contains NaN or inf (first at index (0, 1, 2))"),
        ),
        (
            "dstate_T",
            lambda: rnn.backward(Y, np.zeros((N, H + 1)), cache),
            re.escape("dstate_T: expected shape (N, H) = (2, 4), got (2, 5)"),
        ),
        ("x rank", lambda: rnn.step_forward(X, None, p), "x: expected a 2-d array"),
        (
            "dh NaN",
            lambda: rnn.step_backward(np.full((N, H), np.nan), None, step_cache),
            "dh contains NaN or inf",
        ),
        (
            "dstate",
            lambda: rnn.step_backward(np.zeros((N, H)), np.zeros((N, 1)), step_cache),
            re.escape("dstate: expected shape (N, H) = (2, 4), got (2, 1)"),
        ),
    ]
    return [pytest.param(call, pattern, id=name) for name, call, pattern in cases]


@pytest.mark.parametrize("call, pattern", bad_input_cases())
def test_bad_input_raises_clear_error(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


@settings(max_examples=20, deadline=None)
@given(
    N=st.integers(1, 3),
    T=st.integers(1, 4),
    D=st.integers(1, 3),
    H=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_random_shapes_forward_and_gradients(N, T, D, H, seed):
    rng = np.random.default_rng(seed)
    params = rnn.init_params(D, H, rng=rng)
    X = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    Y, _, _ = rnn.forward(X, h0, params)
    np.testing.assert_allclose(Y, memo_rnn(X, h0, params["W"], params["b"]), rtol=1e-12, atol=1e-14)
    errors = check_cell(rnn, X, h0, params, rng=rng)
    assert max(errors.values()) < 1e-6, errors
