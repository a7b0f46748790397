"""Tests for rnnlib.interop, and PyTorch parity of every cell it can represent.

Parity: the same weights (moved with to_torch) give the same outputs, final states and
gradients of every weight, bias, input and initial state as torch.nn.RNN / LSTM / GRU:
within 1e-10 in float64 and 1e-5 (relative) in float32, for one and two layers. Two rnnlib
layers are chained by hand here: layer 0's outputs are layer 1's inputs.
"""

import re

import helpers
import numpy as np
import pytest

from rnnlib import gru, interop, lstm, rnn
from rnnlib.gradcheck import relative_error

#: The configurations of helpers.CELL_CONFIGS that torch.nn can represent (the others,
#: the LSTM without forget gate and the memo's GRU, are refused: see bad_to_torch_cases).
TORCH_CELLS = [
    pytest.param(cell.__name__.rsplit(".", 1)[-1], cell, options, id=config_id)
    for config_id, cell, _, options in helpers.CELL_CONFIGS
    if config_id in ("rnn", "lstm", "gru-pytorch")
]


def assert_close(actual, expected, dtype, what):
    if dtype == np.float64:
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10, err_msg=what)
    else:
        assert relative_error(actual, expected) < 1e-5, what


def rnnlib_stack(cell, X, states0, params_list, dY, dstates_T, options):
    """Forward through the layers, then backward: outputs, final states and all gradients.

    Written out here on purpose instead of calling rnnlib.layers.stack_forward and
    stack_backward: the parity tests compare torch with the cells alone, so a mistake in
    the stack functions cannot hide one in the cells (test_layers checks the stack
    functions against the chained cells and against finite differences).
    """
    caches, states_T, inputs = [], [], X
    for params, state0 in zip(params_list, states0, strict=True):
        inputs, state_T, cache = cell.forward(inputs, state0, params, **options)
        caches.append(cache)
        states_T.append(state_T)
    Y = inputs
    grads_list, dstates0, dout = [None] * len(caches), [None] * len(caches), dY
    for layer in reversed(range(len(caches))):
        dout, dstates0[layer], grads_list[layer] = cell.backward(
            dout, dstates_T[layer], caches[layer]
        )
    return Y, states_T, dout, dstates0, grads_list


def torch_parity(torch, name, cell, options, params_list, N, T, rng, dtype):
    """Run rnnlib and torch on the same data; compare everything."""
    num_layers = len(params_list)
    D = params_list[0]["W"].shape[0] - params_list[0]["b"].shape[0] // len(cell.GATES)
    H = params_list[0]["W"].shape[0] - D
    X = rng.standard_normal((N, T, D)).astype(dtype)
    states0 = [helpers.random_state(cell, N, H, rng, dtype) for _ in range(num_layers)]
    dY = rng.standard_normal((N, T, H)).astype(dtype)
    dstates_T = [helpers.random_state(cell, N, H, rng, dtype) for _ in range(num_layers)]
    Y, states_T, dX, dstates0, grads_list = rnnlib_stack(
        cell, X, states0, params_list, dY, dstates_T, options
    )

    net = interop.to_torch(params_list, name, **options)
    X_t = torch.tensor(X, requires_grad=True)

    def stacked(states, part):
        array = np.stack([s[part] if cell is lstm else s for s in states])  # (L, N, H)
        return torch.tensor(array, requires_grad=True)

    if cell is lstm:
        h0_t, c0_t = stacked(states0, 0), stacked(states0, 1)
        Y_t, (h_n, c_n) = net(X_t, (h0_t, c0_t))
        finals = [h_n, c_n]
        initials = [h0_t, c0_t]
    else:
        h0_t = stacked(states0, 0)
        Y_t, h_n = net(X_t, h0_t)
        finals, initials = [h_n], [h0_t]
    loss = (Y_t * torch.tensor(dY)).sum()
    for part, final in enumerate(finals):
        loss = (
            loss
            + (
                final * torch.tensor(np.stack([s[part] if cell is lstm else s for s in dstates_T]))
            ).sum()
        )
    loss.backward()

    assert_close(Y, Y_t.detach().numpy(), dtype, "Y")
    assert_close(dX, X_t.grad.numpy(), dtype, "dX")
    for part, (final, initial) in enumerate(zip(finals, initials, strict=True)):
        for layer in range(num_layers):
            mine_T = states_T[layer][part] if cell is lstm else states_T[layer]
            mine_d0 = dstates0[layer][part] if cell is lstm else dstates0[layer]
            assert_close(mine_T, final.detach().numpy()[layer], dtype, f"state_T {layer}.{part}")
            assert_close(mine_d0, initial.grad.numpy()[layer], dtype, f"dstate0 {layer}.{part}")
    torch_grads = interop.grads_from_torch(net)
    for layer in range(num_layers):
        assert set(torch_grads[layer]) == set(grads_list[layer])
        for key in grads_list[layer]:
            assert_close(grads_list[layer][key], torch_grads[layer][key], dtype, f"{layer}.{key}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("num_layers", [1, 2])
@pytest.mark.parametrize("name, cell, options", TORCH_CELLS)
def test_parity_with_torch(torch, rng, name, cell, options, num_layers, dtype):
    D, H = 3, 4
    params_list = [
        cell.init_params(D if layer == 0 else H, H, rng=rng, dtype=dtype, **options)
        for layer in range(num_layers)
    ]
    torch_parity(torch, name, cell, options, params_list, 2, 5, rng, dtype)


@pytest.mark.parametrize("name, cell, options", TORCH_CELLS)
def test_parity_with_torch_single_sample_single_step(torch, rng, name, cell, options):
    params_list = [cell.init_params(2, 3, rng=rng, **options)]
    torch_parity(torch, name, cell, options, params_list, 1, 1, rng, np.float64)


@pytest.mark.parametrize("name, cell, options", TORCH_CELLS)
def test_torch_initialised_module_through_from_torch(torch, rng, name, cell, options):
    """torch's own initialisation has nonzero bias_hh: from_torch must sum the biases (and
    keep the GRU's b_hn apart) for the outputs and gradients to agree."""
    torch.manual_seed(0)
    net = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name](
        3, 4, num_layers=2, batch_first=True, dtype=torch.float64
    )
    params_list = interop.from_torch(net)
    assert np.abs(net.bias_hh_l0.detach().numpy()).max() > 0
    torch_parity(torch, name, cell, options, params_list, 2, 4, rng, np.float64)


@pytest.mark.parametrize("name, cell, options", TORCH_CELLS)
def test_round_trip_and_layout(torch, rng, name, cell, options):
    params_list = [
        cell.init_params(3, 5, rng=rng, **options),
        cell.init_params(5, 5, rng=rng, **options),
    ]
    net = interop.to_torch(params_list, cell, **options)  # the module works as cell, too
    assert net.batch_first and net.num_layers == 2 and net.hidden_size == 5
    assert net.weight_ih_l0.dtype == torch.float64
    G = len(interop.TORCH_GATE_ORDER[name])
    assert tuple(net.weight_ih_l0.shape) == (G * 5, 3)
    assert tuple(net.weight_hh_l1.shape) == (G * 5, 5)
    b_hh = net.bias_hh_l1.detach().numpy()
    if name == "gru":  # [0, 0, b_hn]
        np.testing.assert_array_equal(b_hh[:10], 0)
        np.testing.assert_array_equal(b_hh[10:], params_list[1]["b_hn"])
    else:
        np.testing.assert_array_equal(b_hh, 0)
    back = interop.from_torch(net)
    for ours, theirs in zip(params_list, back, strict=True):
        assert set(ours) == set(theirs)
        for key in ours:
            np.testing.assert_array_equal(ours[key], theirs[key])


def test_lstm_gate_order_mapping(torch):
    """rnnlib's blocks f, i, a, o land in torch's i, f, g, o slots."""
    D, H = 2, 1
    W = np.zeros((D + H, 4 * H))
    for block in range(4):  # tag every block of W[0] with its index in rnnlib's order
        W[0, block] = block + 1
    net = interop.to_torch([{"W": W, "b": np.arange(4.0)}], "lstm")
    np.testing.assert_array_equal(net.weight_ih_l0.detach().numpy()[:, 0], [2, 1, 3, 4])
    np.testing.assert_array_equal(net.bias_ih_l0.detach().numpy(), [1, 0, 2, 3])


def test_single_dict_means_one_layer(torch):
    params = rnn.init_params(2, 3, rng=0)
    assert interop.to_torch(params, "rnn").num_layers == 1


def bad_to_torch_cases():
    H = 4
    p_rnn = [rnn.init_params(3, H, rng=0), rnn.init_params(H, H, rng=1)]
    cases = [
        (
            "cho GRU",
            lambda: interop.to_torch([gru.init_params(3, H, rng=0)], "gru", convention="cho"),
            "convention='cho': torch.nn.GRU applies the reset gate after the recurrent product",
        ),
        (
            "default GRU convention is cho",
            lambda: interop.to_torch([gru.init_params(3, H, rng=0)], gru),
            "no choice of torch weights reproduces that. Use convention='pytorch'",
        ),
        (
            "LSTM without forget gate",
            lambda: interop.to_torch(
                [lstm.init_params(3, H, rng=0, forget_gate=False)], "lstm", forget_gate=False
            ),
            re.escape("forget_gate=False: torch.nn.LSTM always multiplies the cell state"),
        ),
        ("unknown cell", lambda: interop.to_torch(p_rnn, "elman"), "cell: expected 'rnn'"),
        (
            "unknown option",
            lambda: interop.to_torch(p_rnn, "rnn", forget_gate=True),
            re.escape("options: rnn takes no options, got ['forget_gate']"),
        ),
        ("empty list", lambda: interop.to_torch([], "rnn"), "params_list: expected a non-empty"),
        (
            "layer 1 hidden size",
            lambda: interop.to_torch([p_rnn[0], rnn.init_params(H, H + 1, rng=2)], "rnn"),
            re.escape(
                "params_list[1]['W']: expected shape (H+H, H) = (8, 4) (all layers share H = 4)"
            ),
        ),
        (
            "layer 1 input size",
            lambda: interop.to_torch([p_rnn[0], rnn.init_params(H + 1, H, rng=2)], "rnn"),
            re.escape(
                "params_list[1] (reads params_list[0]'s output, H = 4): input_size: expected "
                "input size D = 5"
            ),
        ),
        (
            "layer 1 dtype",
            lambda: interop.to_torch(
                [p_rnn[0], {k: v.astype(np.float32) for k, v in p_rnn[1].items()}], "rnn"
            ),
            re.escape("params_list[1] (reads params_list[0]'s output, H = 4): params['W']: "
                      "expected dtype float64"),
        ),
        (
            "layer 1 missing b",
            lambda: interop.to_torch([p_rnn[0], {"W": p_rnn[1]["W"]}], "rnn"),
            re.escape("params_list[1] (reads params_list[0]'s output, H = 4): params: "
                      "expected keys 'W', 'b'; missing 'b'"),
        ),
    ]
    return [pytest.param(call, pattern, id=name) for name, call, pattern in cases]


@pytest.mark.parametrize("call, pattern", bad_to_torch_cases())
def test_to_torch_refuses_clearly(torch, call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()


def test_from_torch_refuses_clearly(torch):
    cases = [
        (torch.nn.RNN(2, 3, nonlinearity="relu"), "nonlinearity='relu' is not supported"),
        (torch.nn.GRU(2, 3, bidirectional=True), "bidirectional modules are not supported"),
        (torch.nn.LSTM(2, 3, proj_size=2), "LSTM with proj_size=2 is not supported"),
        (torch.nn.Linear(2, 3), "module: expected torch.nn.RNN, LSTM or GRU, got Linear"),
    ]
    for module, pattern in cases:
        with pytest.raises(ValueError, match=pattern):
            interop.from_torch(module)
    with pytest.raises(ValueError, match="weight_ih_l0 has no grad \\(run backward first\\)"):
        interop.grads_from_torch(torch.nn.GRU(2, 3))


def test_grads_from_torch_refuses_a_frozen_b_hn_but_not_a_frozen_lstm_bias_hh(torch):
    # Freezing bias_hh is harmless for the LSTM (its gradient equals bias_ih's); for the
    # GRU it freezes b_hn, whose gradient must not be read as zeros.
    for module, refused in ((torch.nn.LSTM, False), (torch.nn.GRU, True)):
        net = module(2, 3, batch_first=True, dtype=torch.float64)
        net.bias_hh_l0.requires_grad_(False)
        net(torch.randn(2, 4, 2, dtype=torch.float64))[0].sum().backward()
        if refused:
            with pytest.raises(ValueError, match="bias_hh_l0 has no grad .*requires_grad=False"):
                interop.grads_from_torch(net)
        else:
            (grads,) = interop.grads_from_torch(net)
            assert np.any(grads["b"] != 0)


def test_from_torch_without_biases(torch):
    net = torch.nn.LSTM(2, 3, bias=False, batch_first=True, dtype=torch.float64)
    (params,) = interop.from_torch(net)
    np.testing.assert_array_equal(params["b"], np.zeros(12))
    X = np.random.default_rng(0).standard_normal((2, 3, 2))
    Y, _, _ = lstm.forward(X, None, params)
    np.testing.assert_allclose(Y, net(torch.tensor(X))[0].detach().numpy(), atol=1e-12)
