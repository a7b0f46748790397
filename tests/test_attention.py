"""rnnlib.attention: gradient checks of every array, agreement with the same equations
written in PyTorch with autograd, the mask, and clear errors for bad input."""

import numpy as np
import pytest
import torch

from rnnlib import attention, gradcheck

SCORES = {
    "additive": (attention.additive_forward, attention.additive_backward),
    "multiplicative": (attention.multiplicative_forward, attention.multiplicative_backward),
}


def arrays(score, seed=0, N=3, T=5, H=4, E=6, A=7, dtype=np.float64):
    rng = np.random.default_rng(seed)
    if score == "additive":
        params = {"W_q": rng.normal(size=(H, A)), "W_k": rng.normal(size=(E, A)),
                  "b": rng.normal(size=A), "v": rng.normal(size=A)}
    else:
        params = {"W": rng.normal(size=(H, E))}
    params = {k: v.astype(dtype) for k, v in params.items()}
    s, enc = rng.normal(size=(N, H)).astype(dtype), rng.normal(size=(N, T, E)).astype(dtype)
    mask = np.ones((N, T), dtype=bool)
    mask[0, -2:] = False
    mask[1, -1] = False
    G = rng.normal(size=(N, E)).astype(dtype)
    return s, enc, params, mask, G


def torch_attention(score, s, enc, params, mask):
    """(att-score) to (att-context) written directly in PyTorch."""
    if score == "additive":
        u = torch.tanh((s @ params["W_q"])[:, None] + enc @ params["W_k"] + params["b"])
        e = u @ params["v"]
    else:
        e = torch.einsum("ne,nte->nt", s @ params["W"], enc)
    e = e.masked_fill(~torch.tensor(mask), float("-inf"))
    alpha = torch.softmax(e, dim=1)
    return torch.einsum("nt,nte->ne", alpha, enc), alpha


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("use_mask", [False, True])
def test_gradients_of_every_array(score, use_mask):
    forward, backward = SCORES[score]
    s, enc, params, mask, G = arrays(score)
    mask = mask if use_mask else None
    context, _, cache = forward(s, enc, params, mask)
    ds, denc, grads = backward(G, cache)

    def loss():
        return float(np.sum(forward(s, enc, params, mask)[0] * G))

    errors = gradcheck.check_gradients(loss, {"s": s, "enc": enc, **params},
                                       {"s": ds, "enc": denc, **grads})
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("score", SCORES)
def test_agrees_with_pytorch_autograd(score):
    forward, backward = SCORES[score]
    s, enc, params, mask, G = arrays(score, seed=1)
    context, alpha, cache = forward(s, enc, params, mask)
    ds, denc, grads = backward(G, cache)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    s_t, enc_t = torch.tensor(s, requires_grad=True), torch.tensor(enc, requires_grad=True)
    context_t, alpha_t = torch_attention(score, s_t, enc_t, t, mask)
    (context_t * torch.tensor(G)).sum().backward()
    np.testing.assert_allclose(context, context_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(alpha, alpha_t.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(ds, s_t.grad.numpy(), atol=1e-12)
    np.testing.assert_allclose(denc, enc_t.grad.numpy(), atol=1e-12)
    for k in params:
        np.testing.assert_allclose(grads[k], t[k].grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("score", SCORES)
def test_masked_steps_get_no_weight_and_no_gradient(score):
    forward, backward = SCORES[score]
    s, enc, params, mask, G = arrays(score, seed=2)
    context, alpha, cache = forward(s, enc, params, mask)
    assert np.all(alpha[~mask] == 0)
    np.testing.assert_allclose(alpha.sum(axis=1), 1)
    _, denc, _ = backward(G, cache)
    assert np.all(denc[~mask] == 0)
    # What sits on a padded step does not matter.
    enc2 = enc.copy()
    enc2[~mask] = 1e3
    np.testing.assert_allclose(forward(s, enc2, params, mask)[0], context, atol=1e-12)


@pytest.mark.parametrize("score", SCORES)
def test_float32(score):
    forward, backward = SCORES[score]
    s, enc, params, mask, G = arrays(score, dtype=np.float32)
    context, alpha, cache = forward(s, enc, params, mask)
    ds, denc, grads = backward(G, cache)
    assert context.dtype == ds.dtype == denc.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_init_shapes():
    p = attention.init_additive(4, 6, 5, rng=0)
    assert {k: v.shape for k, v in p.items()} == {"W_q": (4, 5), "W_k": (6, 5), "b": (5,),
                                                  "v": (5,)}
    assert attention.init_multiplicative(4, 6, rng=0)["W"].shape == (4, 6)


def test_bad_input_names_the_argument():
    s, enc, params, mask, G = arrays("additive")
    with pytest.raises(ValueError, match="enc"):
        attention.additive_forward(s, enc[:2], params)
    with pytest.raises(ValueError, match="mask"):
        attention.additive_forward(s, enc, params, mask[:, :2])
    with pytest.raises(ValueError, match="mask"):
        attention.additive_forward(s, enc, params, np.zeros_like(mask))
    with pytest.raises(ValueError, match="W_k"):
        attention.additive_forward(s, enc, {**params, "W_k": params["W_k"][:2]})
    with pytest.raises(ValueError, match="W"):
        attention.multiplicative_forward(s, enc, {"W": np.zeros((2, 2))})
    _, _, cache = attention.additive_forward(s, enc, params)
    with pytest.raises(ValueError, match="dcontext"):
        attention.additive_backward(G[:, :2], cache)
    with pytest.raises(ValueError):
        attention.multiplicative_backward(G, cache)  # the other score's cache
