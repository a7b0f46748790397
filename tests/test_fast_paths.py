"""Tests of the speed-oriented code paths of the cells.

The sequence functions (``forward``, ``backward``) are arranged for speed: gate
nonlinearities through :class:`rnnlib.activations.GateActivations` on weight columns scaled
beforehand, preallocated buffers written in place, and gradient factors computed for all
steps before the backward loop. The step functions keep the derivation's shape. These
tests check that the fast paths compute the same as the plain ones, stay stable at extreme
inputs, and never modify their arguments or the cache in place.

Dimension letters: N batch, T time, D input, H hidden.
"""

import numpy as np
import pytest

from rnnlib import activations, gru, lstm, rnn
from rnnlib.activations import GateActivations

CELLS = [
    pytest.param(rnn, {}, id="rnn"),
    pytest.param(lstm, {"forget_gate": True}, id="lstm"),
    pytest.param(lstm, {"forget_gate": False}, id="lstm-1997"),
    pytest.param(gru, {"convention": "cho"}, id="gru-cho"),
    pytest.param(gru, {"convention": "pytorch"}, id="gru-pytorch"),
]
DTYPES = [pytest.param(np.float64, id="float64"), pytest.param(np.float32, id="float32")]
TOL = {np.float64: 1e-12, np.float32: 2e-5}


def reference_activations(P, kinds):
    """sigmoid or tanh of each column block of P, with the plain functions."""
    H = P.shape[-1] // len(kinds)
    out = np.empty_like(P)
    for g, kind in enumerate(kinds):
        block = P[..., g * H : (g + 1) * H]
        func = activations.sigmoid if kind == "s" else activations.tanh
        out[..., g * H : (g + 1) * H] = func(block)
    return out


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("kinds", ["s", "t", "ss", "sts", "ssts", "tst"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_gate_activations_match_sigmoid_and_tanh(kinds, dtype, axis, rng):
    H = 5
    P = (rng.standard_normal((7, len(kinds) * H)) * 4).astype(dtype)
    P[0, :] = 1000.0  # saturated: exp overflows in the float64 method; no warning allowed
    P[1, :] = -1000.0
    P[2, :] = 0.0
    act = GateActivations(kinds, H, dtype, axis=axis)
    assert act.scale.shape == (len(kinds) * H,) and act.scale.dtype == dtype
    # every factor is a signed power of two, so scaling the weights is exact
    assert np.all(np.log2(np.abs(act.scale)) == np.round(np.log2(np.abs(act.scale))))
    if axis == -1:
        result = act(P * act.scale)
    else:  # feature-major: blocks along the rows of the transposed array
        result = act(np.ascontiguousarray((P * act.scale).T)).T
    assert result.dtype == dtype
    expected = reference_activations(P, kinds)
    np.testing.assert_allclose(result, expected, rtol=0, atol=4 * np.finfo(dtype).eps)
    assert np.all(np.isfinite(result))


@pytest.mark.parametrize("dtype", DTYPES)
def test_gate_activations_rows_reused_for_another_batch_size(dtype, rng):
    # axis=0 keeps per-column constants of the last batch size; a new size must rebuild them
    H, kinds = 4, "ssts"
    act = GateActivations(kinds, H, dtype, axis=0)
    for N in (6, 2, 6):
        P = (rng.standard_normal((N, len(kinds) * H)) * 4).astype(dtype)
        result = act(np.ascontiguousarray((P * act.scale).T)).T
        np.testing.assert_allclose(
            result, reference_activations(P, kinds), rtol=0, atol=4 * np.finfo(dtype).eps
        )


def test_gate_activations_method_by_dtype():
    assert GateActivations("ssts", 3, np.float64).method == "exp"
    assert GateActivations("ssts", 3, np.float32).method == "tanh"
    assert GateActivations("t", 3, np.float64).method == "tanh"


def test_gate_activations_work_in_place_on_views(rng):
    P = rng.standard_normal((4, 2, 6))
    view = P[:, 1]  # (4, 6), not contiguous
    expected = reference_activations(view.copy(), "st")
    act = GateActivations("st", 3, np.float64)
    view *= act.scale
    out = act(view)
    assert out is view
    np.testing.assert_allclose(P[:, 1], expected, atol=1e-15)


@pytest.mark.parametrize("kinds", ["", "sx", "S"])
def test_gate_activations_reject_bad_kinds(kinds):
    with pytest.raises(ValueError, match="kinds: expected a string of 's' and 't'"):
        GateActivations(kinds, 3, np.float64)


def test_gate_activations_reject_bad_axis():
    with pytest.raises(ValueError, match="axis: expected -1"):
        GateActivations("st", 3, np.float64, axis=1)


def make(cell, options, dtype, rng, N=3, T=6, D=4, H=5, scale=1.0):
    params = cell.init_params(D, H, rng=rng, dtype=dtype, **options)
    X = (rng.standard_normal((N, T, D)) * scale).astype(dtype)
    dY = rng.standard_normal((N, T, H)).astype(dtype)
    if cell is lstm:
        state0 = tuple(rng.standard_normal((N, H)).astype(dtype) for _ in range(2))
        dstate = tuple(rng.standard_normal((N, H)).astype(dtype) for _ in range(2))
    else:
        state0 = rng.standard_normal((N, H)).astype(dtype)
        dstate = rng.standard_normal((N, H)).astype(dtype)
    return params, X, dY, state0, dstate


def unrolled(cell, options, X, state0, params, dY, dstate_T):
    """forward and backward built from the step functions: the readable reference."""
    T = X.shape[1]
    state, caches, Y = state0, [], []
    for t in range(T):
        h, state, cache = cell.step_forward(X[:, t], state, params, **options)
        Y.append(h)
        caches.append(cache)
    dstate, dX, grads = dstate_T, [None] * T, None
    for t in reversed(range(T)):
        dx, dstate, g = cell.step_backward(dY[:, t], dstate, caches[t])
        dX[t] = dx
        grads = g if grads is None else {k: grads[k] + g[k] for k in grads}
    return np.stack(Y, axis=1), state, np.stack(dX, axis=1), dstate, grads


def as_list(state):
    return list(state) if isinstance(state, tuple) else [state]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("cell", "options"), CELLS)
def test_sequence_fast_path_equals_unrolled_steps(cell, options, dtype, rng):
    params, X, dY, state0, dstate = make(cell, options, dtype, rng)
    Y, state_T, cache = cell.forward(X, state0, params, **options)
    dX, dstate0, grads = cell.backward(dY, dstate, cache)
    Y_ref, state_ref, dX_ref, dstate0_ref, grads_ref = unrolled(
        cell, options, X, state0, params, dY, dstate
    )
    tol = TOL[dtype]
    np.testing.assert_allclose(Y, Y_ref, rtol=tol, atol=tol)
    np.testing.assert_allclose(dX, dX_ref, rtol=tol, atol=tol)
    for a, b in zip(
        as_list(state_T) + as_list(dstate0), as_list(state_ref) + as_list(dstate0_ref), strict=True
    ):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert set(grads) == set(params)
    for key in params:
        assert grads[key].dtype == dtype
        np.testing.assert_allclose(grads[key], grads_ref[key], rtol=10 * tol, atol=10 * tol)


@pytest.mark.parametrize(("cell", "options"), CELLS)
def test_saturated_inputs_stay_finite_and_quiet(cell, options, rng):
    # Inputs of size 1e4 drive every gate far into saturation; the float64 exp method
    # overflows internally and must give the right limits without a RuntimeWarning
    # (pytest turns RuntimeWarning into an error for this project).
    params, X, dY, state0, dstate = make(cell, options, np.float64, rng, scale=1e4)
    Y, _, cache = cell.forward(X, state0, params, **options)
    dX, _, grads = cell.backward(dY, dstate, cache)
    bound = max(1.0, *(np.abs(s).max() for s in as_list(state0)))  # GRU keeps h0's size
    assert np.all(np.isfinite(Y)) and np.all(np.abs(Y) <= bound + 1e-12)
    assert np.all(np.isfinite(dX)) and all(np.all(np.isfinite(g)) for g in grads.values())
    Y_ref = unrolled(cell, options, X, state0, params, dY, dstate)[0]
    np.testing.assert_allclose(Y, Y_ref, atol=1e-12)


@pytest.mark.parametrize("N", [1, 3])  # N = 1: transposes of (1, H) are views, not copies
@pytest.mark.parametrize(("cell", "options"), CELLS)
def test_arguments_and_cache_are_not_modified(cell, options, N, rng):
    params, X, dY, state0, dstate = make(cell, options, np.float64, rng, N=N)
    originals = [a.copy() for a in [X, dY, *params.values(), *as_list(state0), *as_list(dstate)]]
    Y, state_T, cache = cell.forward(X, state0, params, **options)
    first = cell.backward(dY, dstate, cache)
    second = cell.backward(dY, dstate, cache)  # the cache must survive a backward pass
    np.testing.assert_array_equal(first[0], second[0])
    for key in params:
        np.testing.assert_array_equal(first[2][key], second[2][key])
    after = [X, dY, *params.values(), *as_list(state0), *as_list(dstate)]
    for before, now in zip(originals, after, strict=True):
        np.testing.assert_array_equal(before, now)
    # the returned final state is a new array, not a view into Y
    for s in as_list(state_T):
        assert not np.shares_memory(s, Y)


@pytest.mark.parametrize(("cell", "options"), CELLS)
def test_non_contiguous_inputs(cell, options, rng):
    params, X, dY, state0, dstate = make(cell, options, np.float64, rng)
    X_wide = np.empty((X.shape[0], X.shape[1], 2 * X.shape[2]))
    X_wide[..., ::2] = X
    X_view = X_wide[..., ::2]  # same values, strided
    Y, _, cache = cell.forward(X_view, state0, params, **options)
    dX, _, grads = cell.backward(dY, dstate, cache)
    Y_c, _, cache_c = cell.forward(X, state0, params, **options)
    dX_c, _, grads_c = cell.backward(dY, dstate, cache_c)
    np.testing.assert_allclose(Y, Y_c, atol=1e-14)
    np.testing.assert_allclose(dX, dX_c, atol=1e-14)
    for key in params:
        np.testing.assert_allclose(grads[key], grads_c[key], atol=1e-13)
