"""Tests for rnnlib.gru in both conventions.

References, written with plain loops over samples, steps and units:
- "cho", the memo's GRU: r, u from [x_t, y_{t-1}]; a_t = tanh(W_a [x_t, r_t y_{t-1}] + b_a);
  y_t = (1 - u_t) y_{t-1} + u_t a_t.
- "pytorch", the equations of torch.nn.GRU's documentation: n_t = tanh(W_in x_t + b_in +
  r_t (W_hn h_{t-1} + b_hn)); h_t = (1 - z_t) n_t + z_t h_{t-1}.
"""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlib import gru
from rnnlib.gradcheck import check_cell, relative_error

CONVENTIONS = [pytest.param("cho", id="cho"), pytest.param("pytorch", id="pytorch")]


def logistic(v):
    return 1.0 / (1.0 + math.exp(-v))


def memo_gru(X, h0, params, convention):
    """Both GRUs with plain loops; returns Y (N, T, H)."""
    N, T, D = X.shape
    H = h0.shape[1]
    W_memo, b = params["W"].T, params["b"]  # (3H, D+H), acting on columns [x_t, y_{t-1}]

    def preact(row, column, first=0):
        """Row ``row`` of W_memo times ``column``, which starts at column ``first`` of W_memo."""
        return sum(W_memo[row, first + k] * value for k, value in enumerate(column))

    Y = np.zeros((N, T, H))
    for n in range(N):
        y = list(h0[n])
        for t in range(T):
            x = list(X[n, t])
            r = [logistic(preact(j, x + y) + b[j]) for j in range(H)]
            u = [logistic(preact(H + j, x + y) + b[H + j]) for j in range(H)]  # z for pytorch
            new_y = []
            for j in range(H):
                row = 2 * H + j  # the candidate's row
                if convention == "cho":
                    reset_y = [r_k * y_k for r_k, y_k in zip(r, y, strict=True)]
                    a = math.tanh(preact(row, x + reset_y) + b[row])
                    new_y.append((1 - u[j]) * y[j] + u[j] * a)
                else:
                    hidden = preact(row, y, first=D) + params["b_hn"][j]
                    n_t = math.tanh(preact(row, x) + b[row] + r[j] * hidden)
                    new_y.append((1 - u[j]) * n_t + u[j] * y[j])
            y = new_y
            Y[n, t] = y
    return Y


def fixed_case(convention, N=2, T=3, D=2, H=3):
    X = np.sin(np.arange(N * T * D, dtype=np.float64) + 0.3).reshape(N, T, D)
    h0 = np.cos(np.arange(N * H, dtype=np.float64)).reshape(N, H) / 2
    params = {
        "W": np.cos(np.arange((D + H) * 3 * H, dtype=np.float64) * 0.9).reshape(D + H, 3 * H),
        "b": np.linspace(-0.4, 0.3, 3 * H),
    }
    if convention == "pytorch":
        params["b_hn"] = np.linspace(0.2, -0.2, H)
    return X, h0, params


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_forward_matches_reference_equations_on_fixed_inputs(convention):
    X, h0, params = fixed_case(convention)
    Y, h_T, _ = gru.forward(X, h0, params, convention=convention)
    np.testing.assert_allclose(Y, memo_gru(X, h0, params, convention), rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(h_T, Y[:, -1])


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_step_forward_matches_reference(convention):
    X, h0, params = fixed_case(convention, T=1)
    h, state, _ = gru.step_forward(X[:, 0], h0, params, convention=convention)
    expected = memo_gru(X, h0, params, convention)[:, 0]
    np.testing.assert_allclose(h, expected, rtol=1e-13, atol=1e-15)
    assert state is h


def test_the_conventions_differ_only_in_the_reset_gate_and_the_sign_of_the_update(rng):
    """Hold the reset gate open (W_r = 0, b_r = 40, so r rounds to 1) and set b_hn = 0: then
    PyTorch's n is the memo's a, and z = 1 - u when z's weights are u's negated, because
    1 - sigmoid(p) = sigmoid(-p). The two GRUs then agree; with a working reset gate they
    do not."""
    D, H = 2, 3
    cho = gru.init_params(D, H, rng=rng)
    cho["W"][:, :H] = 0.0
    cho["b"][:H] = 40.0
    torch_style = {"W": cho["W"].copy(), "b": cho["b"].copy(), "b_hn": np.zeros(H)}
    torch_style["W"][:, H : 2 * H] *= -1
    torch_style["b"][H : 2 * H] *= -1
    X = rng.standard_normal((3, 5, D))
    Y_cho, _, _ = gru.forward(X, None, cho, convention="cho")
    Y_torch, _, _ = gru.forward(X, None, torch_style, convention="pytorch")
    np.testing.assert_allclose(Y_cho, Y_torch, rtol=1e-13, atol=1e-15)
    # A reset gate that actually resets separates them.
    cho["b"][:H] = torch_style["b"][:H] = -1.0
    cho["W"][:, :H] = torch_style["W"][:, :H] = rng.standard_normal((D + H, H))
    Y_cho, _, _ = gru.forward(X, None, cho, convention="cho")
    Y_torch, _, _ = gru.forward(X, None, torch_style, convention="pytorch")
    assert np.abs(Y_cho - Y_torch).max() > 1e-3


@pytest.mark.parametrize("with_state", [True, False], ids=["state0", "zero-state0"])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_gradients_match_finite_differences(rng, convention, with_state):
    N, T, D, H = 2, 4, 3, 3
    params = gru.init_params(D, H, rng=rng, convention=convention)
    X = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H)) if with_state else None
    errors = check_cell(gru, X, h0, params, rng=rng, convention=convention)
    assert set(errors) == set(params) | {"X", "state0"}
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("N, T, D, H", [(1, 1, 1, 1), (1, 5, 2, 3), (4, 1, 3, 2)])
@pytest.mark.parametrize("convention", CONVENTIONS)
def test_shapes_and_dtypes(rng, N, T, D, H, dtype, convention):
    params = gru.init_params(D, H, rng=rng, dtype=dtype, convention=convention)
    X = rng.standard_normal((N, T, D)).astype(dtype)
    Y, h_T, cache = gru.forward(X, None, params, convention=convention)
    assert Y.shape == (N, T, H) and h_T.shape == (N, H)
    dX, dh0, grads = gru.backward(np.ones_like(Y), None, cache)
    assert dX.shape == X.shape and dh0.shape == (N, H)
    assert {key: g.shape for key, g in grads.items()} == {key: p.shape for key, p in params.items()}
    for array in (Y, h_T, dX, dh0, *grads.values()):
        assert array.dtype == dtype
    h, _, step_cache = gru.step_forward(X[:, 0], None, params, convention=convention)
    dx, dh_prev, step_grads = gru.step_backward(np.ones_like(h), None, step_cache)
    assert dx.shape == (N, D) and dh_prev.shape == (N, H)
    for array in (h, dx, dh_prev, *step_grads.values()):
        assert array.dtype == dtype


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_float32_agrees_with_float64(rng, convention):
    params = gru.init_params(3, 4, rng=rng, convention=convention)
    X = rng.standard_normal((2, 6, 3))
    dY = rng.standard_normal((2, 6, 4))
    Y64, _, cache64 = gru.forward(X, None, params, convention=convention)
    params32 = {key: p.astype(np.float32) for key, p in params.items()}
    Y32, _, cache32 = gru.forward(X.astype(np.float32), None, params32, convention=convention)
    assert relative_error(Y32, Y64) < 1e-6
    grads64 = gru.backward(dY, None, cache64)[2]
    grads32 = gru.backward(dY.astype(np.float32), None, cache32)[2]
    for key in params:
        assert relative_error(grads32[key], grads64[key]) < 1e-5


def test_init_params_per_convention():
    cho = gru.init_params(2, 9, rng=0)
    assert set(cho) == {"W", "b"} and cho["W"].shape == (11, 27) and cho["b"].shape == (27,)
    torch_style = gru.init_params(2, 9, rng=0, convention="pytorch", dtype=np.float32)
    assert set(torch_style) == {"W", "b", "b_hn"} and torch_style["b_hn"].shape == (9,)
    assert all(p.dtype == np.float32 for p in torch_style.values())
    assert all(np.abs(p).max() <= 1 / 3 for p in torch_style.values())
    with pytest.raises(ValueError, match="convention: expected 'cho' or 'pytorch', got 'keras'"):
        gru.init_params(2, 9, convention="keras")


def bad_input_cases():
    """(description, call, message pattern) for every kind of bad input."""
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 3, 3, 4
    cho = gru.init_params(D, H, rng=rng)
    torch_style = gru.init_params(D, H, rng=rng, convention="pytorch")
    X = rng.standard_normal((N, T, D))
    Y, _, cache = gru.forward(X, None, cho)
    h_nan = np.zeros((N, H))
    h_nan[0, 2] = np.nan
    step_cache = gru.step_forward(X[:, 0], None, torch_style, convention="pytorch")[2]
    cases = [
        ("X rank", lambda: gru.forward(X[None], None, cho), "X: expected a 3-d array"),
        (
            "X size",
            lambda: gru.forward(X[:, :, :1], None, cho),
            re.escape("X: expected input size D = 3 to fit params['W'] of shape (7, 12)"),
        ),
        (
            "pytorch params with cho",
            lambda: gru.forward(X, None, torch_style),
            "unexpected 'b_hn'. 'b_hn' belongs to PyTorch's GRU: pass convention='pytorch'",
        ),
        (
            "cho params with pytorch",
            lambda: gru.forward(X, None, cho, convention="pytorch"),
            "missing 'b_hn'. convention='pytorch' needs 'b_hn'",
        ),
        (
            "unknown convention",
            lambda: gru.forward(X, None, cho, convention="Cho"),
            "convention: expected 'cho' or 'pytorch', got 'Cho'",
        ),
        (
            "b_hn shape",
            lambda: gru.forward(
                X, None, {**torch_style, "b_hn": np.zeros(3 * H)}, convention="pytorch"
            ),
            re.escape("params['b_hn']: expected shape (H,) = (4,), got (12,)"),
        ),
        (
            "state0 batch",
            lambda: gru.forward(X, np.zeros((N + 1, H)), cho),
            re.escape("state0: expected shape (N, H) = (2, 4), got (3, 4)"),
        ),
        (
            "state0 NaN",
            lambda: gru.forward(X, h_nan, cho),
            re.escape("state0 contains NaN or inf (first at index (0, 2))"),
        ),
        (
            "X float32",
            lambda: gru.forward(X.astype(np.float32), None, cho),
            re.escape("params['W']: expected dtype float32 like the other arrays of this call"),
        ),
        (
            "dY shape",
            lambda: gru.backward(Y[:, :, :2], None, cache),
            re.escape("dY: expected shape (N, T, H) = (2, 3, 4), got (2, 3, 2)"),
        ),
        (
            "dstate_T NaN",
            lambda: gru.backward(Y, h_nan, cache),
            re.escape("dstate_T contains NaN or inf (first at index (0, 2))"),
        ),
        (
            "step dstate dtype",
            lambda: gru.step_backward(np.zeros((N, H)), np.zeros((N, H), np.float32), step_cache),
            re.escape("dstate: expected dtype float64"),
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
    convention=st.sampled_from(["cho", "pytorch"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_property_random_shapes_forward_and_gradients(N, T, D, H, convention, seed):
    rng = np.random.default_rng(seed)
    params = gru.init_params(D, H, rng=rng, convention=convention)
    X = rng.standard_normal((N, T, D))
    h0 = rng.standard_normal((N, H))
    Y, _, _ = gru.forward(X, h0, params, convention=convention)
    np.testing.assert_allclose(Y, memo_gru(X, h0, params, convention), rtol=1e-12, atol=1e-14)
    errors = check_cell(gru, X, h0, params, rng=rng, convention=convention)
    assert max(errors.values()) < 1e-6, errors
