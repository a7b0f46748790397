"""Tests for rnnlib.layers: dense layer, stacks, bidirectional layers and SequenceModel.

Every backward pass is checked against centred finite differences in float64 with a
relative error below 1e-6 (a correct pass gives about 1e-9 here).
"""

import numpy as np
import pytest

from rnnlib import layers, lstm, rnn
from rnnlib.gradcheck import assert_gradients_close
from rnnlib.layers import (
    CELLS,
    SequenceModel,
    bidirectional_backward,
    bidirectional_forward,
    dense_backward,
    dense_forward,
    init_dense,
    stack_backward,
    stack_forward,
)

TOL = 1e-6


def _parts(state):
    """The arrays of a state: (h,) or the LSTM's (h, s)."""
    return tuple(state) if isinstance(state, tuple) else (state,)


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
    assert CELLS == {"rnn": rnn, "lstm": lstm, "gru": layers.gru}


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
# SequenceModel
# ---------------------------------------------------------------------------------------


def _model_gradcheck(model, X, targets, **kwargs):
    _, grads = model.loss_and_grads(X, targets, **kwargs)
    assert grads.keys() == model.params.keys()
    for key, g in grads.items():
        assert g.shape == model.params[key].shape and g.dtype == model.params[key].dtype
    return assert_gradients_close(lambda: model.loss_and_grads(X, targets, **kwargs)[0],
                                  model.params, grads, tol=TOL)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_model_gradient_check_cross_entropy_with_mask(rng, cell_config, bidirectional):
    _, cell, options = cell_config
    model = SequenceModel(cell.__name__.split(".")[-1], 2, 2, 3, num_layers=2, rng=rng,
                          bidirectional=bidirectional, **options)
    X = rng.standard_normal((2, 4, 2))
    targets = rng.integers(0, 3, size=(2, 4))
    mask = np.array([[True, True, False, True], [True, False, False, False]])
    _model_gradcheck(model, X, targets, loss="cross_entropy", mask=mask)


@pytest.mark.parametrize("last_only", [False, True], ids=["every-step", "last-only"])
def test_model_gradient_check_mse(rng, last_only):
    model = SequenceModel("lstm", 2, 2, 2, num_layers=3, rng=rng)
    X = rng.standard_normal((2, 4, 2))
    targets = rng.standard_normal((2, 2) if last_only else (2, 4, 2))
    _model_gradcheck(model, X, targets, loss="mse", last_only=last_only)


def test_model_gradient_check_last_only_classification_n1_t1(rng):
    model = SequenceModel("gru", 2, 3, 3, rng=rng, convention="pytorch")
    X = rng.standard_normal((1, 1, 2))
    _model_gradcheck(model, X, np.array([2]), loss="cross_entropy", last_only=True)


def test_model_parameters_are_named_and_counted(rng):
    model = SequenceModel("lstm", 3, 4, 2, num_layers=2, rng=rng)
    assert list(model.params) == ["layer0.W", "layer0.b", "layer1.W", "layer1.b",
                                  "out.W", "out.b"]
    assert model.params["layer0.W"].shape == (3 + 4, 16)
    assert model.params["layer1.W"].shape == (4 + 4, 16)
    expected = (7 * 16 + 16) + (8 * 16 + 16) + (4 * 2 + 2)
    assert model.num_parameters() == expected
    assert model.layer_params(1)["W"] is model.params["layer1.W"]  # views, not copies

    bi = SequenceModel("gru", 3, 4, 2, num_layers=2, rng=rng, bidirectional=True,
                       convention="pytorch")
    assert "layer1.reverse.b_hn" in bi.params
    assert bi.params["layer1.W"].shape == (2 * 4 + 4, 12)  # reads both directions below
    assert bi.params["out.W"].shape == (8, 2)
    assert set(bi.layer_params(0, reverse=True)) == {"W", "b", "b_hn"}


def test_model_forward_matches_stack_and_dense(rng):
    model = SequenceModel("rnn", 2, 3, 2, num_layers=2, rng=rng)
    X = rng.standard_normal((2, 4, 2))
    top, _, _ = stack_forward(X, [model.layer_params(0), model.layer_params(1)], "rnn")
    expected = top @ model.params["out.W"] + model.params["out.b"]
    np.testing.assert_allclose(model.forward(X), expected)
    np.testing.assert_allclose(model.predict(X, last_only=True), expected[:, -1])
    probs = model.predict(X, probabilities=True)
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0)


def test_model_states_carry_a_sequence_across_chunks(rng):
    model = SequenceModel("lstm", 2, 3, 2, num_layers=2, rng=rng)
    X = rng.standard_normal((2, 6, 2))
    whole = model.forward(X)
    first, states = model.forward(X[:, :4], return_states=True)
    second = model.forward(X[:, 4:], states)
    np.testing.assert_allclose(np.concatenate([first, second], axis=1), whole, atol=1e-14)
    _, _, states_T = model.loss_and_grads(X[:, :4], np.zeros((2, 4, 2)), return_states=True)
    np.testing.assert_allclose(states_T[1][0], states[1][0])


def test_float32_model(rng):
    model = SequenceModel("gru", 2, 3, 2, rng=rng, dtype=np.float32)
    X = rng.standard_normal((2, 4, 2)).astype(np.float32)
    loss, grads = model.loss_and_grads(X, np.zeros((2, 4, 2), np.float32))
    assert model.forward(X).dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())
    with pytest.raises(ValueError, match="X: expected dtype float32"):
        model.forward(X.astype(np.float64))


def test_model_bad_input(rng):
    with pytest.raises(ValueError, match="cell: expected one of"):
        SequenceModel("lstmm", 2, 3, 2)
    with pytest.raises(ValueError, match=r"cell_options: \['convention'\] are not options"):
        SequenceModel("lstm", 2, 3, 2, convention="cho")
    with pytest.raises(ValueError, match="num_layers: expected a positive integer"):
        SequenceModel("rnn", 2, 3, 2, num_layers=0)
    model = SequenceModel("rnn", 2, 3, 2, rng=rng)
    X = rng.standard_normal((2, 4, 2))
    with pytest.raises(ValueError, match=r"X: expected shape \(N, T, D\) = \(\*, \*, 2\)"):
        model.forward(rng.standard_normal((2, 4, 3)))
    with pytest.raises(ValueError, match="loss: expected one of"):
        model.loss_and_grads(X, np.zeros((2, 4, 2)), loss="hinge")
    with pytest.raises(ValueError, match=r"target: expected a 2-d array \(N, V\) = \(2, 2\)"):
        model.loss_and_grads(X, np.zeros((2, 4, 2)), last_only=True)
    with pytest.raises(ValueError, match="targets: expected an integer array"):
        model.loss_and_grads(X, np.zeros((2, 4)), loss="cross_entropy")
    bi = SequenceModel("rnn", 2, 3, 2, rng=rng, bidirectional=True)
    with pytest.raises(ValueError, match="states0: a bidirectional model"):
        bi.forward(X, [None])


# ---------------------------------------------------------------------------------------
# Sampling from a character model
# ---------------------------------------------------------------------------------------


def test_sample(rng):
    V = 5
    model = SequenceModel("lstm", V, 8, V, rng=rng)
    prime = np.array([0, 3, 1])
    a = model.sample(prime, 20, temperature=1.0, rng=1)
    b = model.sample(prime, 20, temperature=1.0, rng=1)
    assert a.shape == (20,) and a.dtype == np.int64 and ((a >= 0) & (a < V)).all()
    np.testing.assert_array_equal(a, b)
    # Temperature 0 is greedy: each symbol is the most likely one after what came before.
    greedy = model.sample(prime, 6, temperature=0.0, rng=2)
    sequence = np.concatenate([prime, greedy])
    logits = model.forward(np.eye(V)[sequence][None])[0]  # (P + 6, V)
    np.testing.assert_array_equal(greedy, logits[len(prime) - 1 : -1].argmax(axis=-1))


def test_high_temperature_spreads_the_choices(rng):
    model = SequenceModel("rnn", 4, 6, 4, rng=rng)
    cold = model.sample([1], 300, temperature=0.05, rng=0)
    hot = model.sample([1], 300, temperature=5.0, rng=0)
    assert len(np.unique(hot)) == 4
    assert np.bincount(cold, minlength=4).max() > np.bincount(hot, minlength=4).max()


def test_sample_bad_input(rng):
    with pytest.raises(ValueError, match="input_size == output_size"):
        SequenceModel("rnn", 3, 4, 2, rng=rng).sample([0], 5)
    model = SequenceModel("rnn", 3, 4, 3, rng=rng)
    with pytest.raises(ValueError, match=r"prime: expected symbols in \[0, 3\)"):
        model.sample([3], 5)
    with pytest.raises(ValueError, match="temperature: expected a number >= 0"):
        model.sample([0], 5, temperature=-1.0)
    with pytest.raises(ValueError, match="sample: a bidirectional model"):
        SequenceModel("rnn", 3, 4, 3, rng=rng, bidirectional=True).sample([0], 5)
