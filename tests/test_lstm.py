"""Tests for rnnlib.lstm, with the forget gate and without it (the memo's / 1997 cell).

The reference is the memo's LSTM written with plain loops over samples, steps and units,
with the memo's slip corrected (the forget gate multiplies s_{t-1}) when forget_gate=True,
and exactly as the memo writes it, s_t = I_t a_t + s_{t-1}, when forget_gate=False.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlib import lstm
from rnnlib.gradcheck import check_cell, relative_error

VARIANTS = [pytest.param(True, id="forget-gate"), pytest.param(False, id="1997")]


def logistic(v):
    return 1.0 / (1.0 + math.exp(-v))


def memo_lstm(X, h0, s0, W, b, forget_gate=True):
    """The memo's equations with plain loops. Returns (Y, S), both (N, T, H)."""
    N, T, D = X.shape
    H = h0.shape[1]
    W_memo = W.T  # (G*H, D+H), acting on the column [x_t, y_{t-1}]
    names = ("f", "i", "a", "o") if forget_gate else ("i", "a", "o")
    Y, S = np.zeros((N, T, H)), np.zeros((N, T, H))

    def gate(name, column, j):
        row = names.index(name) * H + j
        return sum(W_memo[row, k] * column[k] for k in range(D + H)) + b[row]

    for n in range(N):
        y, s = list(h0[n]), list(s0[n])
        for t in range(T):
            column = list(X[n, t]) + y  # [x_t, y_{t-1}]
            new_s, new_y = [], []
            for j in range(H):
                i_t = logistic(gate("i", column, j))
                a_t = math.tanh(gate("a", column, j))
                o_t = logistic(gate("o", column, j))
                if forget_gate:
                    f_t = logistic(gate("f", column, j))
                    s_j = f_t * s[j] + i_t * a_t
                else:
                    s_j = i_t * a_t + s[j]  # the memo's line, word for word
                new_s.append(s_j)
                new_y.append(o_t * math.tanh(s_j))
            y, s = new_y, new_s
            Y[n, t], S[n, t] = y, s
    return Y, S


def fixed_case(forget_gate, N=2, T=3, D=2, H=3):
    G = 4 if forget_gate else 3
    X = np.sin(np.arange(N * T * D, dtype=np.float64) + 0.5).reshape(N, T, D)
    h0 = np.cos(np.arange(N * H, dtype=np.float64)).reshape(N, H) / 2
    s0 = np.sin(np.arange(N * H, dtype=np.float64) * 0.7).reshape(N, H)
    params = {
        "W": np.cos(np.arange((D + H) * G * H, dtype=np.float64) * 1.3).reshape(D + H, G * H) / 2,
        "b": np.linspace(-0.3, 0.4, G * H),
    }
    return X, (h0, s0), params


@pytest.mark.parametrize("forget_gate", VARIANTS)
def test_forward_matches_memo_equations_on_fixed_inputs(forget_gate):
    X, (h0, s0), params = fixed_case(forget_gate)
    Y, (h_T, s_T), _ = lstm.forward(X, (h0, s0), params, forget_gate=forget_gate)
    Y_ref, S_ref = memo_lstm(X, h0, s0, params["W"], params["b"], forget_gate)
    np.testing.assert_allclose(Y, Y_ref, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(h_T, Y[:, -1])
    np.testing.assert_allclose(s_T, S_ref[:, -1], rtol=1e-13, atol=1e-15)


def test_saturated_forget_gate_is_the_1997_cell(rng):
    """With W_f = 0 and b_f = 40, f = sigmoid(40) rounds to 1 in float64, so the cell with a
    forget gate computes exactly what the cell without one does."""
    D, H = 2, 3
    without = lstm.init_params(D, H, rng=rng, forget_gate=False)
    with_f = {
        "W": np.concatenate([np.zeros((D + H, H)), without["W"]], axis=1),
        "b": np.concatenate([np.full(H, 40.0), without["b"]]),
    }
    X = rng.standard_normal((2, 5, D))
    Y_without, _, _ = lstm.forward(X, None, without, forget_gate=False)
    Y_with, _, _ = lstm.forward(X, None, with_f)
    np.testing.assert_array_equal(Y_with, Y_without)


@pytest.mark.parametrize("forget_gate", VARIANTS)
def test_step_forward_matches_memo(forget_gate):
    X, (h0, s0), params = fixed_case(forget_gate, T=1)
    h, (h_again, s), _ = lstm.step_forward(X[:, 0], (h0, s0), params, forget_gate=forget_gate)
    Y_ref, S_ref = memo_lstm(X, h0, s0, params["W"], params["b"], forget_gate)
    np.testing.assert_allclose(h, Y_ref[:, 0], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(s, S_ref[:, 0], rtol=1e-13, atol=1e-15)
    assert h_again is h


@pytest.mark.parametrize("with_state", [True, False], ids=["state0", "zero-state0"])
@pytest.mark.parametrize("forget_gate", VARIANTS)
def test_gradients_match_finite_differences(rng, make_state, forget_gate, with_state):
    N, T, D, H = 2, 4, 3, 3
    params = lstm.init_params(D, H, rng=rng, forget_gate=forget_gate)
    X = rng.standard_normal((N, T, D))
    state0 = make_state(lstm, N, H, rng) if with_state else None
    errors = check_cell(lstm, X, state0, params, rng=rng, forget_gate=forget_gate)
    assert set(errors) == {"W", "b", "X", "state0[0]", "state0[1]"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (1, 5, 2, 3), (4, 1, 3, 2)])
@pytest.mark.parametrize("forget_gate", VARIANTS)
def test_shapes_and_dtypes(rng, N, T, D, H, dtype, forget_gate):
    G = 4 if forget_gate else 3
    params = lstm.init_params(D, H, rng=rng, dtype=dtype, forget_gate=forget_gate)
    assert params["W"].shape == (D + H, G * H) and params["b"].shape == (G * H,)
    X = rng.standard_normal((N, T, D)).astype(dtype)
    Y, (h_T, s_T), cache = lstm.forward(X, None, params, forget_gate=forget_gate)
    assert Y.shape == (N, T, H) and h_T.shape == s_T.shape == (N, H)
    dX, (dh0, ds0), grads = lstm.backward(np.ones_like(Y), None, cache)
    assert dX.shape == X.shape and dh0.shape == ds0.shape == (N, H)
    assert {key: g.shape for key, g in grads.items()} == {key: p.shape for key, p in params.items()}
    for array in (Y, h_T, s_T, dX, dh0, ds0, *grads.values()):
        assert array.dtype == dtype
    h, state, step_cache = lstm.step_forward(X[:, 0], None, params, forget_gate=forget_gate)
    dx, (dh_prev, ds_prev), step_grads = lstm.step_backward(np.ones_like(h), None, step_cache)
    assert dx.shape == (N, D) and dh_prev.shape == ds_prev.shape == (N, H)
    for array in (h, *state, dx, dh_prev, ds_prev, *step_grads.values()):
        assert array.dtype == dtype


@pytest.mark.parametrize("forget_gate", VARIANTS)
def test_float32_agrees_with_float64(rng, forget_gate):
    params = lstm.init_params(3, 4, rng=rng, forget_gate=forget_gate)
    X = rng.standard_normal((2, 6, 3))
    dY = rng.standard_normal((2, 6, 4))
    Y64, _, cache64 = lstm.forward(X, None, params, forget_gate=forget_gate)
    params32 = {key: p.astype(np.float32) for key, p in params.items()}
    Y32, _, cache32 = lstm.forward(X.astype(np.float32), None, params32, forget_gate=forget_gate)
    assert relative_error(Y32, Y64) < 1e-6
    grads64 = lstm.backward(dY, None, cache64)[2]
    grads32 = lstm.backward(dY.astype(np.float32), None, cache32)[2]
    for key in params:
        assert relative_error(grads32[key], grads64[key]) < 1e-5


def test_init_params_forget_bias():
    H = 25
    bound = 1 / math.sqrt(H)
    params = lstm.init_params(2, H, rng=0)
    assert np.all(params["b"][:H] >= 1 - bound) and np.all(params["b"][:H] <= 1 + bound)
    assert np.all(np.abs(params["b"][H:]) <= bound) and np.all(np.abs(params["W"]) <= bound)
    torch_like = lstm.init_params(2, H, rng=0, forget_bias=0.0)
    assert np.all(np.abs(torch_like["b"]) <= bound)
    np.testing.assert_allclose(params["b"][:H] - torch_like["b"][:H], 1.0)
    no_forget = lstm.init_params(2, H, rng=0, forget_gate=False, dtype=np.float32)
    assert no_forget["W"].shape == (2 + H, 3 * H) and no_forget["W"].dtype == np.float32
    assert np.all(np.abs(no_forget["b"]) <= bound)


def bad_input_cases():
    """(description, call, message pattern) for every kind of bad input."""
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 3, 3, 4
    p = lstm.init_params(D, H, rng=rng)
    p3 = lstm.init_params(D, H, rng=rng, forget_gate=False)
    X = rng.standard_normal((N, T, D))
    Y, _, cache = lstm.forward(X, None, p)
    zeros = np.zeros((N, H))
    s_nan = np.zeros((N, H))
    s_nan[1, 1] = np.nan
    dY_inf = np.zeros_like(Y)
    dY_inf[1, 0, 3] = -np.inf
    step_cache = lstm.step_forward(X[:, 0], None, p)[2]
    cases = [
        ("X rank", lambda: lstm.forward(X[:, 0], None, p), "X: expected a 3-d array"),
        (
            "X size",
            lambda: lstm.forward(X[:, :, :2], None, p),
            re.escape("X: expected input size D = 3 to fit params['W'] of shape (7, 16)"),
        ),
        (
            "3-block W with forget_gate=True",
            lambda: lstm.forward(X, None, p3),
            "fits blocks i, a, o: the cell without forget gate; pass forget_gate=False",
        ),
        (
            "4-block W with forget_gate=False",
            lambda: lstm.forward(X, None, p, forget_gate=False),
            "fits blocks f, i, a, o: the cell with forget gate; pass forget_gate=True",
        ),
        (
            "forget_gate not a bool",
            lambda: lstm.forward(X, None, p, forget_gate="yes"),
            "forget_gate: expected True or False, got 'yes'",
        ),
        (
            "b shape",
            lambda: lstm.forward(X, None, {"W": p["W"], "b": p["b"][: 3 * H]}),
            re.escape("params['b']: expected shape (4H,) = (16,), got (12,)"),
        ),
        (
            "state0 not a pair",
            lambda: lstm.forward(X, zeros, p),
            re.escape("state0: expected a tuple (h, s) of two arrays of shape (N, H) = (2, 4)"),
        ),
        (
            "state0 s batch",
            lambda: lstm.forward(X, (zeros, np.zeros((1, H))), p),
            re.escape("state0[1] (s): expected shape (N, H) = (2, 4), got (1, 4)"),
        ),
        (
            "state0 NaN",
            lambda: lstm.forward(X, (zeros, s_nan), p),
            re.escape("state0[1] (s) contains NaN or inf (first at index (1, 1))"),
        ),
        (
            "params dtype",
            lambda: lstm.forward(X, None, {k: v.astype(np.float32) for k, v in p.items()}),
            re.escape("params['W']: expected dtype float64"),
        ),
        (
            "dY inf",
            lambda: lstm.backward(dY_inf, None, cache),
            re.escape("dY contains NaN or inf (first at index (1, 0, 3))"),
        ),
        (
            "dstate_T shape",
            lambda: lstm.backward(Y, (zeros, np.zeros((N, H + 1))), cache),
            re.escape("dstate_T[1] (s): expected shape (N, H) = (2, 4), got (2, 5)"),
        ),
        (
            "dstate_T dtype",
            lambda: lstm.backward(Y, (zeros.astype(np.float32), zeros), cache),
            re.escape("dstate_T[0] (h): expected dtype float64"),
        ),
        (
            "step dstate",
            lambda: lstm.step_backward(zeros, zeros, step_cache),
            "dstate: expected a tuple \\(h, s\\)",
        ),
        (
            "step dh",
            lambda: lstm.step_backward(np.zeros((N, H + 1)), None, step_cache),
            re.escape("dh: expected shape (N, H) = (2, 4), got (2, 5)"),
        ),
    ]
    return [pytest.param(call, pattern, id=name) for name, call, pattern in cases]


@pytest.mark.parametrize("call, pattern", bad_input_cases())
def test_bad_input_raises_clear_error(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


@settings(max_examples=15, deadline=None)
@given(
    N=st.integers(1, 3),
    T=st.integers(1, 3),
    D=st.integers(1, 3),
    H=st.integers(1, 3),
    forget_gate=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_random_shapes_forward_and_gradients(N, T, D, H, forget_gate, seed):
    rng = np.random.default_rng(seed)
    params = lstm.init_params(D, H, rng=rng, forget_gate=forget_gate)
    X = rng.standard_normal((N, T, D))
    h0, s0 = rng.standard_normal((N, H)), rng.standard_normal((N, H))
    Y, _, _ = lstm.forward(X, (h0, s0), params, forget_gate=forget_gate)
    Y_ref, _ = memo_lstm(X, h0, s0, params["W"], params["b"], forget_gate)
    np.testing.assert_allclose(Y, Y_ref, rtol=1e-12, atol=1e-14)
    errors = check_cell(lstm, X, (h0, s0), params, rng=rng, forget_gate=forget_gate)
    assert max(errors.values()) < 1e-6, errors
