"""Tests for rnnlib.layers: the cell registry, dense layer, stacks and bidirectional layers.

Every backward pass is checked against centred finite differences in float64 with a
relative error below 1e-6 (a correct pass gives about 1e-9 here).
"""

import helpers
import numpy as np
import pytest

from rnnlib import fast, lstm, rnn
from rnnlib.gradcheck import assert_gradients_close
from rnnlib.layers import (
    CELLS,
    bidirectional_backward,
    bidirectional_forward,
    dense_backward,
    dense_forward,
    init_dense,
    resolve_cell,
    stack_backward,
    stack_forward,
)

TOL = 1e-6


def _parts(state):
    """The arrays of a state: (h,) or the LSTM's (h, s)."""
    return tuple(state) if isinstance(state, tuple) else (state,)


# ---------------------------------------------------------------------------------------
# The registry of cells
# ---------------------------------------------------------------------------------------


def test_cells_registry_holds_every_cell_the_tests_know():
    plain = {helpers.cell_name(cell): cell for _, cell, _, _ in helpers.CELL_CONFIGS}
    twins = {helpers.cell_name(cell): twin for _, cell, twin, _ in helpers.CELL_CONFIGS}
    assert CELLS == plain
    assert fast.CELLS == twins


def test_resolve_cell_names_modules_and_fast_twins():
    for name, cell in CELLS.items():
        assert resolve_cell(name) is cell
        assert resolve_cell(name, fast=True) is fast.CELLS[name]
        assert resolve_cell(cell, fast=True) is cell  # a module is taken as it is
        assert resolve_cell(fast.CELLS[name]) is fast.CELLS[name]
    with pytest.raises(ValueError, match=r"cell: expected one of \['gru', 'lstm', 'rnn'\]"):
        resolve_cell("elman")
    with pytest.raises(ValueError, match="or its rnnlib.fast twin"):
        resolve_cell(np)


# ---------------------------------------------------------------------------------------
# Dense layer
# ---------------------------------------------------------------------------------------


def test_dense_forward_by_hand():
    params = {"W": np.array([[1.0, 2.0], [0.0, -1.0]]), "b": np.array([0.5, 0.0])}
    out, _ = dense_forward(np.array([[1.0, 3.0]]), params)  # (N, H) = (1, 2)
    np.testing.assert_allclose(out, [[1.5, -1.0]])


@pytest.mark.parametrize("shape", [(3, 4), (2, 5, 4), (1, 1, 4)], ids=["N,H", "N,T,H", "N=T=1"])
def test_dense_gradient_check(rng, shape):
    h = rng.standard_normal(shape)
    params = init_dense(4, 3, rng=rng)
    out, cache = dense_forward(h, params)
    assert out.shape == shape[:-1] + (3,)
    G = rng.standard_normal(out.shape)
    dh, grads = dense_backward(G, cache)

    def loss():
        return float(np.sum(dense_forward(h, params)[0] * G))

    assert_gradients_close(loss, {"h": h, **params}, {"h": dh, **grads}, tol=TOL)


def test_init_dense_like_torch_linear(rng):
    params = init_dense(16, 3, rng=rng)
    assert params["W"].shape == (16, 3) and params["b"].shape == (3,)
    assert np.abs(params["W"]).max() <= 1 / np.sqrt(16)
    assert init_dense(4, 2, dtype=np.float32)["W"].dtype == np.float32
    np.testing.assert_array_equal(init_dense(4, 2, rng=3)["W"], init_dense(4, 2, rng=3)["W"])
    with pytest.raises(ValueError, match="input_size: expected a positive integer"):
        init_dense(0, 2)
    with pytest.raises(ValueError, match="output_size: expected a positive integer"):
        init_dense(4, 2.5)
    with pytest.raises(TypeError):
        init_dense(4, 2, rng)  # rng is keyword-only, as in the cells' init_params


def test_dense_keeps_float32(rng):
    params = init_dense(4, 2, rng=rng, dtype=np.float32)
    out, cache = dense_forward(rng.standard_normal((3, 4)).astype(np.float32), params)
    dh, grads = dense_backward(np.ones_like(out), cache)
    assert out.dtype == dh.dtype == grads["W"].dtype == np.float32


def test_dense_bad_input(rng):
    params = init_dense(4, 2, rng=rng)
    with pytest.raises(ValueError, match=r"params\['W'\]: expected shape \(H, V\) = \(5, \*\)"):
        dense_forward(np.zeros((3, 5)), params)
    with pytest.raises(ValueError, match="params\\['W'\\]: expected dtype float32"):
        dense_forward(np.zeros((3, 4), np.float32), params)
    with pytest.raises(ValueError, match="h: expected a 2-d array"):
        dense_forward(np.zeros(4), params)
    _, cache = dense_forward(np.zeros((3, 4)), params)
    with pytest.raises(ValueError, match=r"dout: expected shape \(N, V\) = \(3, 2\)"):
        dense_backward(np.zeros((3, 3)), cache)


# ---------------------------------------------------------------------------------------
# Stacks
# ---------------------------------------------------------------------------------------


def _stack(cell, options, sizes, rng):
    """Parameters for a stack whose layer sizes are sizes = (D, H_1, ..., H_L)."""
    return [cell.init_params(d, h, rng=rng, **options)
            for d, h in zip(sizes[:-1], sizes[1:], strict=True)]


def test_stack_is_the_layers_chained(rng, cell_config):
    _, cell, options = cell_config
    params_list = _stack(cell, options, (3, 4, 2), rng)
    X = rng.standard_normal((2, 5, 3))
    Y, states_T, _ = stack_forward(X, params_list, cell, **options)
    Y1, state1, _ = cell.forward(X, None, params_list[0], **options)
    Y2, state2, _ = cell.forward(Y1, None, params_list[1], **options)
    np.testing.assert_array_equal(Y, Y2)
    for got, expected in zip(states_T, (state1, state2), strict=True):
        for a, b in zip(_parts(got), _parts(expected), strict=True):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("sizes", [(3, 4, 3), (2, 3, 4, 3)], ids=["2-layer", "3-layer"])
def test_stack_gradient_check(rng, cell_config, make_state, sizes):
    # Every weight, the inputs and every layer's initial state, with a loss that reads the
    # top outputs and every layer's final state (so gradients flow in through dstates_T).
    _, cell, options = cell_config
    N, T = 2, 4
    params_list = _stack(cell, options, sizes, rng)
    X = rng.standard_normal((N, T, sizes[0]))
    states0 = [make_state(cell, N, h, rng) for h in sizes[1:]]
    Y, states_T, cache = stack_forward(X, params_list, cell, states0, **options)
    G_Y = rng.standard_normal(Y.shape)
    G_T = [tuple(rng.standard_normal(p.shape) for p in _parts(s)) for s in states_T]
    dstates_T = [g if isinstance(s, tuple) else g[0] for g, s in zip(G_T, states_T,
                                                                       strict=True)]
    dX, dstates0, grads_list = stack_backward(G_Y, dstates_T, cache)

    def loss():
        Y, states_T, _ = stack_forward(X, params_list, cell, states0, **options)
        total = np.sum(Y * G_Y)
        for s, g in zip(states_T, G_T, strict=True):
            total += sum(np.sum(p * w) for p, w in zip(_parts(s), g, strict=True))
        return float(total)

    arrays, analytic = {"X": X}, {"X": dX}
    for layer, (params, grads) in enumerate(zip(params_list, grads_list, strict=True)):
        for key in params:
            arrays[f"{layer}.{key}"], analytic[f"{layer}.{key}"] = params[key], grads[key]
    for layer, (s0, ds0) in enumerate(zip(states0, dstates0, strict=True)):
        for k, (part, grad) in enumerate(zip(_parts(s0), _parts(ds0), strict=True)):
            arrays[f"state0[{layer}][{k}]"], analytic[f"state0[{layer}][{k}]"] = part, grad
    assert_gradients_close(loss, arrays, analytic, tol=TOL)


def test_stack_accepts_names_and_shapes_n1_t1(rng):
    params_list = _stack(lstm, {}, (2, 3, 3), rng)
    Y, states_T, cache = stack_forward(rng.standard_normal((1, 1, 2)), params_list, "lstm")
    assert Y.shape == (1, 1, 3) and len(states_T) == 2
    dX, dstates0, grads_list = stack_backward(np.ones_like(Y), None, cache)
    assert dX.shape == (1, 1, 2) and len(dstates0) == len(grads_list) == 2


def test_stack_bad_input(rng):
    params_list = _stack(rnn, {}, (2, 3, 3), rng)
    X = rng.standard_normal((2, 4, 2))
    with pytest.raises(ValueError, match="cell: expected one of"):
        stack_forward(X, params_list, "transformer")
    with pytest.raises(ValueError, match="states0: expected a list of 2 entries"):
        stack_forward(X, params_list, rnn, [None])
    with pytest.raises(ValueError, match="params_list: expected a non-empty list"):
        stack_forward(X, [], rnn)
    bad = [params_list[0], rnn.init_params(4, 3, rng=rng)]  # layer 1 expects input size 3
    with pytest.raises(ValueError, match="layer 1: X: expected input size D = 4"):
        stack_forward(X, bad, rnn)
    Y, _, cache = stack_forward(X, params_list, rnn)
    with pytest.raises(ValueError, match=r"layer 1: dY: expected shape \(N, T, H\)"):
        stack_backward(np.zeros((2, 4, 5)), None, cache)
    with pytest.raises(ValueError, match="bidirectional: expected True or False, got 'yes'"):
        stack_forward(X, params_list, rnn, bidirectional="yes")


# ---------------------------------------------------------------------------------------
# Bidirectional layer
# ---------------------------------------------------------------------------------------


def test_bidirectional_halves(rng, cell_config):
    _, cell, options = cell_config
    pf, pb = (cell.init_params(3, 4, rng=rng, **options) for _ in range(2))
    X = rng.standard_normal((2, 5, 3))
    Y, _ = bidirectional_forward(X, pf, pb, cell, **options)
    assert Y.shape == (2, 5, 8)
    np.testing.assert_array_equal(Y[:, :, :4], cell.forward(X, None, pf, **options)[0])
    Y_rev = cell.forward(X[:, ::-1].copy(), None, pb, **options)[0]
    np.testing.assert_array_equal(Y[:, :, 4:], Y_rev[:, ::-1])


@pytest.mark.parametrize("T", [4, 1], ids=["T=4", "T=1"])
def test_bidirectional_gradient_check(rng, cell_config, T):
    _, cell, options = cell_config
    pf, pb = (cell.init_params(3, 2, rng=rng, **options) for _ in range(2))
    X = rng.standard_normal((2, T, 3))
    Y, cache = bidirectional_forward(X, pf, pb, cell, **options)
    G = rng.standard_normal(Y.shape)
    dX, gf, gb = bidirectional_backward(G, cache)

    def loss():
        return float(np.sum(bidirectional_forward(X, pf, pb, cell, **options)[0] * G))

    arrays = {"X": X, **{f"fwd.{k}": v for k, v in pf.items()},
              **{f"bwd.{k}": v for k, v in pb.items()}}
    analytic = {"X": dX, **{f"fwd.{k}": v for k, v in gf.items()},
                **{f"bwd.{k}": v for k, v in gb.items()}}
    assert_gradients_close(loss, arrays, analytic, tol=TOL)


def test_bidirectional_rnn_matches_torch(rng, torch):
    D, H = 3, 4
    pf, pb = rnn.init_params(D, H, rng=rng), rnn.init_params(D, H, rng=rng)
    X = rng.standard_normal((2, 6, D))
    Y, _ = bidirectional_forward(X, pf, pb, "rnn")
    twin = torch.nn.RNN(D, H, batch_first=True, bidirectional=True, dtype=torch.float64)
    with torch.no_grad():
        for suffix, p in (("", pf), ("_reverse", pb)):
            getattr(twin, f"weight_ih_l0{suffix}").copy_(torch.tensor(p["W"][:D].T))
            getattr(twin, f"weight_hh_l0{suffix}").copy_(torch.tensor(p["W"][D:].T))
            getattr(twin, f"bias_ih_l0{suffix}").copy_(torch.tensor(p["b"]))
            getattr(twin, f"bias_hh_l0{suffix}").zero_()
        expected, _ = twin(torch.tensor(X))
    np.testing.assert_allclose(Y, expected.numpy(), atol=1e-12)


def test_bidirectional_bad_input(rng):
    pf, pb = rnn.init_params(3, 4, rng=rng), rnn.init_params(3, 5, rng=rng)
    X = rng.standard_normal((2, 5, 3))
    with pytest.raises(ValueError, match="params_bwd: expected the hidden size of params_fwd"):
        bidirectional_forward(X, pf, pb, rnn)
    Y, cache = bidirectional_forward(X, pf, rnn.init_params(3, 4, rng=rng), rnn)
    with pytest.raises(ValueError, match=r"dY: expected shape \(N, T, 2H\) = \(2, 5, 8\)"):
        bidirectional_backward(np.zeros((2, 5, 4)), cache)


# ---------------------------------------------------------------------------------------
# Stacks of bidirectional layers
# ---------------------------------------------------------------------------------------


def _bidirectional_stack(cell, options, sizes, rng):
    """(params_fwd, params_bwd) per layer; layer l > 0 reads the 2H_{l-1} features below."""
    inputs = [sizes[0]] + [2 * h for h in sizes[1:-1]]
    return [tuple(cell.init_params(d, h, rng=rng, **options) for _ in range(2))
            for d, h in zip(inputs, sizes[1:], strict=True)]


def test_bidirectional_stack_is_the_layers_chained(rng, cell_config):
    _, cell, options = cell_config
    pairs = _bidirectional_stack(cell, options, (3, 4, 2), rng)
    X = rng.standard_normal((2, 5, 3))
    Y, states_T, _ = stack_forward(X, pairs, cell, bidirectional=True, **options)
    Y1, _ = bidirectional_forward(X, *pairs[0], cell, **options)  # (N, T, 8)
    Y2, _ = bidirectional_forward(Y1, *pairs[1], cell, **options)  # (N, T, 4)
    np.testing.assert_array_equal(Y, Y2)
    assert states_T is None


@pytest.mark.parametrize("T", [3, 1], ids=["T=3", "T=1"])
def test_bidirectional_stack_gradient_check(rng, cell_config, T):
    _, cell, options = cell_config
    pairs = _bidirectional_stack(cell, options, (2, 3, 2), rng)
    X = rng.standard_normal((2, T, 2))
    Y, _, cache = stack_forward(X, pairs, cell, bidirectional=True, **options)
    assert Y.shape == (2, T, 4)
    G = rng.standard_normal(Y.shape)
    dX, dstates0, grads_list = stack_backward(G, None, cache)
    assert dstates0 is None

    def loss():
        return float(np.sum(stack_forward(X, pairs, cell, bidirectional=True, **options)[0] * G))

    arrays, analytic = {"X": X}, {"X": dX}
    for layer, (pair, grad_pair) in enumerate(zip(pairs, grads_list, strict=True)):
        for direction, params, grads in zip(("fwd", "bwd"), pair, grad_pair, strict=True):
            for key in params:
                name = f"{layer}.{direction}.{key}"
                arrays[name], analytic[name] = params[key], grads[key]
    assert_gradients_close(loss, arrays, analytic, tol=TOL)


def test_bidirectional_stack_bad_input(rng):
    pairs = _bidirectional_stack(rnn, {}, (2, 3, 3), rng)
    X = rng.standard_normal((2, 4, 2))
    with pytest.raises(ValueError, match="states0: bidirectional layers always start from zero"):
        stack_forward(X, pairs, rnn, [None, None], bidirectional=True)
    with pytest.raises(ValueError, match=r"params_list\[1\]: expected a pair \(params_fwd, "
                                         r"params_bwd\) of parameter dicts .* got dict"):
        stack_forward(X, [pairs[0], pairs[1][0]], rnn, bidirectional=True)
    one_way_size = [pairs[0], (rnn.init_params(3, 3, rng=rng), rnn.init_params(3, 3, rng=rng))]
    with pytest.raises(ValueError, match="layer 1: forward-in-time cell .*input size D = 3"):
        stack_forward(X, one_way_size, rnn, bidirectional=True)  # layer 1 reads 2H = 6
    Y, _, cache = stack_forward(X, pairs, rnn, bidirectional=True)
    with pytest.raises(ValueError, match="dstates_T: bidirectional layers return no final"):
        stack_backward(np.zeros_like(Y), [None, None], cache)
    with pytest.raises(ValueError, match=r"layer 1: dY: expected shape \(N, T, 2H\)"):
        stack_backward(np.zeros((2, 4, 3)), None, cache)
