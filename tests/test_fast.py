"""Tests of rnnlib.fast: the contract that each fast cell module is a drop-in twin.

For every cell configuration, both dtypes, with and without an initial state and a final
state gradient: the fast ``forward``/``backward`` give the plain ones' outputs, final state
and every gradient (1e-12 relative in float64, 2e-5 in float32), and both agree with the
step functions unrolled over time. Also :class:`rnnlib.fast.gates.GateActivations`, extreme
inputs, arguments left unchanged, strided inputs, and caches that go only to their own
backward.

Dimension letters: N batch, T time, D input, H hidden.
"""

import numpy as np
import pytest
from helpers import CELL_CONFIGS, as_list, random_state, run_step_by_step

from rnnlib import activations, fast
from rnnlib.fast.gates import GateActivations

PLAIN_AND_FAST = [
    pytest.param(plain, fast_cell, options, id=name)
    for name, plain, fast_cell, options in CELL_CONFIGS
]
BOTH = [
    pytest.param(cell, options, id=f"{name}-{kind}")
    for name, plain, fast_cell, options in CELL_CONFIGS
    for kind, cell in (("plain", plain), ("fast", fast_cell))
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
    return params, X, dY, random_state(cell, N, H, rng, dtype), random_state(cell, N, H, rng, dtype)


def assert_close(actual, expected, tol, what):
    """Relative agreement, measured against the size of the expected array."""
    scale = max(float(np.max(np.abs(expected))), np.finfo(expected.dtype).tiny)
    error = float(np.max(np.abs(actual.astype(np.float64) - expected))) / scale
    assert actual.dtype == expected.dtype, what
    assert error <= tol, f"{what}: relative error {error:.2e} above {tol:.0e}"


def run(cell, options, X, state0, params, dY, dstate_T):
    Y, state_T, cache = cell.forward(X, state0, params, **options)
    dX, dstate0, grads = cell.backward(dY, dstate_T, cache)
    return Y, state_T, dX, dstate0, grads


def assert_same_results(got, expected, tol):
    names = ("Y", "state_T", "dX", "dstate0")
    for name, a, b in zip(names, got[:4], expected[:4], strict=True):
        for k, (x, y) in enumerate(zip(as_list(a), as_list(b), strict=True)):
            assert_close(x, y, tol, f"{name}[{k}]")
    assert list(got[4]) == list(expected[4])
    for key in expected[4]:
        assert_close(got[4][key], expected[4][key], tol, f"grads[{key!r}]")


def test_every_cell_has_a_fast_twin():
    assert set(fast.CELLS) == {"rnn", "lstm", "gru"}
    for _, plain, fast_cell, _ in CELL_CONFIGS:
        assert fast.CELLS[plain.__name__.rsplit(".", 1)[1]] is fast_cell
        for name in ("init_params", "step_forward", "step_backward", "check_params"):
            assert getattr(fast_cell, name) is getattr(plain, name)
        assert fast_cell.GATES == plain.GATES and fast_cell.OPTIONS == plain.OPTIONS
        assert fast_cell.forward is not plain.forward and fast_cell.backward is not plain.backward


@pytest.mark.parametrize("with_states", [False, True], ids=["zero-states", "given-states"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("plain", "fast_cell", "options"), PLAIN_AND_FAST)
def test_fast_equals_plain(plain, fast_cell, options, dtype, with_states, rng):
    params, X, dY, state0, dstate = make(plain, options, dtype, rng)
    if not with_states:
        state0 = dstate = None
    expected = run(plain, options, X, state0, params, dY, dstate)
    got = run(fast_cell, options, X, state0, params, dY, dstate)
    assert_same_results(got, expected, TOL[dtype])


@pytest.mark.parametrize("with_states", [False, True], ids=["zero-states", "given-states"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("cell", "options"), BOTH)
def test_sequence_functions_equal_unrolled_steps(cell, options, dtype, with_states, rng):
    params, X, dY, state0, dstate = make(cell, options, dtype, rng)
    if not with_states:
        state0 = dstate = None
    expected = run_step_by_step(cell, X, state0, params, dY, dstate, **options)
    got = run(cell, options, X, state0, params, dY, dstate)
    assert_same_results(got, expected, 10 * TOL[dtype])


@pytest.mark.parametrize(("cell", "options"), BOTH)
def test_saturated_inputs_stay_finite_and_quiet(cell, options, rng):
    # Inputs of size 1e4 drive every gate far into saturation; the float64 exp method of the
    # fast path overflows internally and must give the right limits without a RuntimeWarning
    # (pytest turns RuntimeWarning into an error for this project).
    params, X, dY, state0, dstate = make(cell, options, np.float64, rng, scale=1e4)
    Y, _, dX, _, grads = run(cell, options, X, state0, params, dY, dstate)
    bound = max(1.0, *(np.abs(s).max() for s in as_list(state0)))  # GRU keeps h0's size
    assert np.all(np.isfinite(Y)) and np.all(np.abs(Y) <= bound + 1e-12)
    assert np.all(np.isfinite(dX)) and all(np.all(np.isfinite(g)) for g in grads.values())
    Y_ref = run_step_by_step(cell, X, state0, params, dY, dstate, **options)[0]
    np.testing.assert_allclose(Y, Y_ref, atol=1e-12)


@pytest.mark.parametrize("N", [1, 3])  # N = 1: transposes of (1, H) are views, not copies
@pytest.mark.parametrize(("cell", "options"), BOTH)
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


@pytest.mark.parametrize(("cell", "options"), BOTH)
def test_non_contiguous_inputs(cell, options, rng):
    params, X, dY, state0, dstate = make(cell, options, np.float64, rng)
    X_wide = np.empty((X.shape[0], X.shape[1], 2 * X.shape[2]))
    X_wide[..., ::2] = X
    strided = run(cell, options, X_wide[..., ::2], state0, params, dY, dstate)
    contiguous = run(cell, options, X, state0, params, dY, dstate)
    assert_same_results(strided, contiguous, 1e-13)


@pytest.mark.parametrize(("plain", "fast_cell", "options"), PLAIN_AND_FAST)
def test_a_cache_goes_only_to_its_own_backward(plain, fast_cell, options, rng):
    params, X, dY, _, _ = make(plain, options, np.float64, rng)
    plain_cache = plain.forward(X, None, params, **options)[2]
    fast_cache = fast_cell.forward(X, None, params, **options)[2]
    name = plain.__name__
    with pytest.raises(ValueError, match=rf"expected the cache returned by {name}\.forward, "
                                         rf"got the cache of rnnlib\.fast\."):
        plain.backward(dY, None, fast_cache)
    with pytest.raises(ValueError, match=r"expected the cache returned by rnnlib\.fast\."):
        fast_cell.backward(dY, None, plain_cache)
    step_cache = plain.step_forward(X[:, 0], None, params, **options)[2]
    with pytest.raises(ValueError, match=rf"got the cache of {name}\.step_forward"):
        plain.backward(dY, None, step_cache)
    with pytest.raises(ValueError, match="expected the dict returned by"):
        fast_cell.backward(dY, None, [plain_cache])


@pytest.mark.parametrize("shape", [(0, 5, 4), (3, 0, 4)], ids=["no-sequences", "no-steps"])
@pytest.mark.parametrize(("cell", "options"), BOTH)
def test_empty_batches_and_sequences_are_refused(cell, options, shape, rng):
    params = cell.init_params(4, 5, rng=rng, **options)
    with pytest.raises(ValueError, match=r"X: expected at least one entry along every "
                                         r"dimension \(N, T, D\), got shape"):
        cell.forward(np.zeros(shape), None, params, **options)
    with pytest.raises(ValueError, match=r"x: expected at least one entry along every "
                                         r"dimension \(N, D\), got shape \(0, 4\)"):
        cell.step_forward(np.zeros((0, 4)), None, params, **options)


@pytest.mark.parametrize(("plain", "fast_cell", "options"), PLAIN_AND_FAST)
def test_a_backward_given_another_cells_cache_says_so(plain, fast_cell, options, rng):
    params, X, dY, _, _ = make(plain, options, np.float64, rng)
    for other, other_fast, other_options in [(c[1], c[2], c[3]) for c in CELL_CONFIGS]:
        if other is plain:
            continue
        other_params = other.init_params(X.shape[2], 5, rng=rng, **other_options)
        cache = other.forward(X, None, other_params, **other_options)[2]
        with pytest.raises(ValueError, match=f"got the cache of {other.__name__}.forward"):
            plain.backward(dY, None, cache)
        cache = other_fast.forward(X, None, other_params, **other_options)[2]
        with pytest.raises(ValueError, match=f"got the cache of {other_fast.__name__}.forward"):
            fast_cell.backward(dY, None, cache)
