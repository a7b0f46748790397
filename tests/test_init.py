"""rnnlib.init: orthogonal and identity recurrent blocks, the forget-gate bias, radii."""

import numpy as np
import pytest

from rnnlib import gru, init, lstm, rnn
from rnnlib.model import SequenceModel


@pytest.mark.parametrize("H", [1, 5, 40])
def test_orthogonal_is_orthogonal_with_radius_gain(H):
    Q = init.orthogonal(H, gain=0.9, rng=0)
    assert Q.shape == (H, H)
    np.testing.assert_allclose(Q.T @ Q, 0.81 * np.eye(H), atol=1e-12)
    assert np.allclose(np.abs(np.linalg.eigvals(Q)), 0.9)


def test_orthogonal_float32_and_seeded():
    assert init.orthogonal(4, rng=1, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(init.orthogonal(4, rng=1), init.orthogonal(4, rng=1))


def test_uniform_default_radius_is_near_one_over_sqrt3():
    radii = [init.recurrent_spectral_radii(rnn.init_params(2, 300, rng=s), 2, "rnn")["h"]
             for s in range(3)]
    assert abs(np.mean(radii) - 1 / np.sqrt(3)) < 0.05


@pytest.mark.parametrize(
    ("module", "cell", "options", "gates"),
    [(rnn, "rnn", {}, ("h",)), (lstm, "lstm", {}, ("f", "i", "a", "o")),
     (lstm, "lstm", {"forget_gate": False}, ("i", "a", "o")),
     (gru, "gru", {}, ("r", "u", "a")), (gru, "gru", {"convention": "pytorch"}, ("r", "z", "n"))],
)
@pytest.mark.parametrize("scheme", init.SCHEMES)
def test_init_recurrent_sets_every_block_and_nothing_else(module, cell, options, gates, scheme):
    D, H = 3, 4
    params = module.init_params(D, H, rng=0, **options)
    before = {k: v.copy() for k, v in params.items()}
    new = init.init_recurrent(params, D, cell, scheme, gain=0.5, rng=1)
    for key in params:  # the argument is unchanged
        np.testing.assert_array_equal(params[key], before[key])
    np.testing.assert_array_equal(new["W"][:D], params["W"][:D])
    np.testing.assert_array_equal(new["b"], params["b"])
    blocks = init.recurrent_blocks(new, D, cell)
    assert tuple(blocks) == gates
    for g, name in enumerate(gates):
        block = blocks[name]
        if scheme == "identity":
            np.testing.assert_array_equal(block, 0.5 * np.eye(H))
        elif scheme == "orthogonal":
            np.testing.assert_allclose(block.T @ block, 0.25 * np.eye(H), atol=1e-12)
        else:
            np.testing.assert_allclose(block, 0.5 * params["W"][D:, g * H:(g + 1) * H])
    assert set(init.recurrent_spectral_radii(new, D, cell)) == set(gates)


def test_set_forget_bias_sets_the_f_block_only():
    params = lstm.init_params(2, 3, rng=0, forget_bias=0.0)
    new = init.set_forget_bias(params, 1.0)
    np.testing.assert_array_equal(new["b"][:3], 1.0)
    np.testing.assert_array_equal(new["b"][3:], params["b"][3:])
    np.testing.assert_array_equal(new["W"], params["W"])
    assert not np.allclose(params["b"][:3], 1.0)


def test_init_model_sets_every_layer_in_place():
    model = SequenceModel("lstm", 2, 5, 1, num_layers=2, rng=0, forget_bias=0.0)
    W0 = model.params["layer0.W"]
    init.init_model(model, "identity", forget_bias=1.0)
    assert model.params["layer0.W"] is W0
    for layer, D in ((0, 2), (1, 5)):
        params = model.layer_params(layer)
        for block in init.recurrent_blocks(params, D, "lstm").values():
            np.testing.assert_array_equal(block, np.eye(5))
        np.testing.assert_array_equal(params["b"][:5], 1.0)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="scheme"):
        init.init_recurrent(rnn.init_params(2, 3, rng=0), 2, "rnn", "xavier")
    with pytest.raises(ValueError, match="input_size"):
        init.init_recurrent(rnn.init_params(2, 3, rng=0), 7, "rnn", "identity")
    with pytest.raises(ValueError, match="params\\['b'\\]"):
        init.set_forget_bias({"W": np.zeros((5, 12)), "b": np.zeros(6)}, 1.0)
    with pytest.raises(ValueError, match="forget_bias"):
        init.init_model(SequenceModel("rnn", 2, 3, 1, rng=0), forget_bias=1.0)
    with pytest.raises(ValueError, match="size"):
        init.orthogonal(0)
