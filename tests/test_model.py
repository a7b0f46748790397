"""Tests for rnnlib.model.SequenceModel: gradients, parameters, states, options, sampling.

Every gradient is checked against centred finite differences in float64 with a relative
error below 1e-6 (a correct pass gives about 1e-9 here).
"""

import helpers
import numpy as np
import pytest

from rnnlib import fast, layers
from rnnlib.gradcheck import assert_gradients_close
from rnnlib.layers import stack_forward
from rnnlib.model import SequenceModel

TOL = 1e-6


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
    model = SequenceModel(helpers.cell_name(cell), 2, 2, 3, num_layers=2, rng=rng,
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


@pytest.mark.parametrize("num_layers", [1, 2])
def test_bidirectional_last_only_gradient_check(rng, num_layers):
    model = SequenceModel("gru", 2, 3, 2, num_layers=num_layers, rng=rng, bidirectional=True,
                          convention="pytorch")
    X = rng.standard_normal((2, 5, 2))
    _model_gradcheck(model, X, rng.standard_normal((2, 2)), loss="mse", last_only=True)
    _model_gradcheck(model, X, np.array([1, 0]), loss="cross_entropy", last_only=True)


def test_bidirectional_last_only_reads_what_torch_h_n_holds(rng, torch):
    # Many-to-one from a bidirectional top layer: the forward half after x_T (h_n[-2]) and
    # the reverse half after reading back to x_1 (h_n[-1]), not top[:, -1]'s reverse half,
    # which has read x_T only.
    from rnnlib import interop

    N, T, D, H, V = 3, 6, 2, 4, 2
    model = SequenceModel("lstm", D, H, V, num_layers=2, rng=rng, bidirectional=True)
    net = torch.nn.LSTM(D, H, num_layers=2, bidirectional=True, batch_first=True,
                        dtype=torch.float64)
    with torch.no_grad():
        for layer in range(2):
            for reverse, suffix in ((False, ""), (True, "_reverse")):
                one_way = interop.to_torch([model.layer_params(layer, reverse=reverse)], "lstm")
                one_way_input = 2 * H if layer else D
                assert one_way.input_size == one_way_input
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(net, f"{name}_l{layer}{suffix}").copy_(getattr(one_way, f"{name}_l0"))
    X = rng.standard_normal((N, T, D))
    _, (h_n, _) = net(torch.from_numpy(X))
    features = torch.cat([h_n[-2], h_n[-1]], dim=1).detach().numpy()  # (N, 2H)
    expected = features @ model.params["out.W"] + model.params["out.b"]
    np.testing.assert_allclose(model.predict(X, last_only=True), expected, rtol=0, atol=1e-12)
    # The old reading, the top layer's outputs at the last step, differs.
    assert not np.allclose(model.forward(X)[:, -1], expected)
    loss, _ = model.loss_and_grads(X, np.zeros((N, V)), loss="mse", last_only=True)
    np.testing.assert_allclose(loss, np.mean(expected**2), rtol=1e-12)  # scores the same output


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
    with pytest.raises(ValueError, match="states0: bidirectional layers always start from zero"):
        bi.forward(X, [None])
    with pytest.raises(ValueError, match="it takes none"):
        SequenceModel("rnn", 2, 3, 2, forget_gate=True)
    with pytest.raises(ValueError, match="fast: expected True or False"):
        SequenceModel("rnn", 2, 3, 2, fast="yes")
    with pytest.raises(ValueError, match="cell: expected one of"):
        SequenceModel(np, 2, 3, 2)


# ---------------------------------------------------------------------------------------
# Fast cells and options
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_fast_and_plain_cells_give_the_same_model(rng, cell_config, bidirectional):
    _, cell, options = cell_config
    name = helpers.cell_name(cell)
    fast_model = SequenceModel(name, 2, 3, 2, num_layers=2, rng=5, bidirectional=bidirectional,
                               **options)
    plain = SequenceModel(name, 2, 3, 2, num_layers=2, rng=5, bidirectional=bidirectional,
                          fast=False, **options)
    assert fast_model.cell is fast.CELLS[name] and plain.cell is layers.CELLS[name]
    X = rng.standard_normal((2, 4, 2))
    targets = rng.standard_normal((2, 4, 2))
    loss_fast, grads_fast = fast_model.loss_and_grads(X, targets)
    loss_plain, grads_plain = plain.loss_and_grads(X, targets)
    assert loss_fast == pytest.approx(loss_plain, rel=1e-12)
    for key in plain.params:
        np.testing.assert_allclose(grads_fast[key], grads_plain[key], rtol=1e-10, atol=1e-13)


def test_a_module_cell_is_used_as_given(rng):
    plain = SequenceModel(layers.CELLS["gru"], 2, 3, 2, rng=rng, convention="pytorch")
    assert plain.cell is layers.CELLS["gru"] and plain.cell_name == "gru"
    twin = SequenceModel(fast.CELLS["lstm"], 2, 3, 2, rng=rng, fast=False)
    assert twin.cell is fast.CELLS["lstm"] and twin.cell_name == "lstm"


def test_options_go_to_init_params_and_forward_as_the_cell_declares(rng):
    # forget_bias is only an option of init_params, forget_gate of both.
    model = SequenceModel("lstm", 2, 3, 2, rng=0, forget_gate=False, forget_bias=5.0)
    assert model.cell_options == {"forget_gate": False}
    assert model.params["layer0.W"].shape == (5, 9)  # blocks i, a, o
    biased = SequenceModel("lstm", 2, 3, 2, rng=0, forget_bias=5.0)
    assert biased.cell_options == {}
    assert biased.params["layer0.b"][:3].min() > 4  # the forget block starts near 5
    gru_model = SequenceModel("gru", 2, 3, 2, rng=0, convention="pytorch")
    assert gru_model.cell_options == {"convention": "pytorch"}
    assert "layer0.b_hn" in gru_model.params
    assert "forget_bias=5.0" in repr(biased) and "convention='pytorch'" in repr(gru_model)


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
