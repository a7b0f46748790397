"""rnnlib.masking: padding and masks give exactly the unpadded results and gradients, the
last valid step and its backward, batching by length, and agreement with PyTorch's packed
sequences."""

import numpy as np
import pytest

from rnnlib import gradcheck, interop, losses, lstm, masking
from rnnlib.layers import CELLS
from rnnlib.model import SequenceModel

LENGTHS = [5, 2, 7, 4]


def sequences(D=3, seed=0, lengths=LENGTHS):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((T, D)) for T in lengths]


def test_pad_and_mask():
    seqs = sequences()
    X, lengths = masking.pad_sequences(seqs, value=9.0)
    assert X.shape == (4, 7, 3)
    np.testing.assert_array_equal(lengths, LENGTHS)
    mask = masking.length_mask(lengths)
    assert mask.dtype == bool and mask.sum() == sum(LENGTHS)
    for n, seq in enumerate(seqs):
        np.testing.assert_array_equal(X[n, : len(seq)], seq)
        assert (X[n, len(seq):] == 9.0).all()
        assert mask[n, : len(seq)].all() and not mask[n, len(seq):].any()
    assert masking.length_mask(lengths, T=9).shape == (4, 9)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_padding_contributes_exactly_zero(cell):
    """Masked loss on a padded batch: gradients at padded steps exactly 0, padding values
    irrelevant, and the gradients equal the sum over the sequences run one by one."""
    module = CELLS[cell]
    seqs = sequences()
    X, lengths = masking.pad_sequences(seqs)
    mask = masking.length_mask(lengths)
    params = module.init_params(3, 4, rng=1)
    target = np.random.default_rng(2).standard_normal((4, 7, 4))

    def run(X):
        Y, _, cache = module.forward(X, None, params)
        value, dY = losses.mse(Y, target, mask)
        dX, _, grads = module.backward(dY, None, cache)
        return Y, value, dX, grads

    Y, value, dX, grads = run(X)
    assert (dX[~mask] == 0).all()  # exactly zero, not just small
    X_other = X.copy()
    X_other[~mask] = 1e3  # different padding: nothing real changes
    Y2, value2, dX2, grads2 = run(X_other)
    np.testing.assert_array_equal(Y[mask], Y2[mask])
    assert value == value2
    for key in grads:
        np.testing.assert_array_equal(grads[key], grads2[key])
    # One sequence at a time: the same total.
    count = mask.sum() * 4
    total = {key: np.zeros_like(g) for key, g in grads.items()}
    for n, seq in enumerate(seqs):
        Yn, _, cache = module.forward(seq[None], None, params)
        np.testing.assert_allclose(Yn[0], Y[n, : len(seq)], atol=1e-14)
        dYn = 2 * (Yn - target[n : n + 1, : len(seq)]) / count
        _, _, gn = module.backward(dYn, None, cache)
        for key in total:
            total[key] += gn[key]
    for key in grads:
        np.testing.assert_allclose(grads[key], total[key], atol=1e-14)


def test_last_valid_and_its_backward_gradcheck():
    rng = np.random.default_rng(0)
    Y = rng.standard_normal((4, 7, 3))
    lengths = np.array(LENGTHS)
    last = masking.last_valid(Y, lengths)
    for n, T in enumerate(LENGTHS):
        np.testing.assert_array_equal(last[n], Y[n, T - 1])
    G = rng.standard_normal((4, 3))
    dY = masking.last_valid_backward(G, lengths, 7)
    err = gradcheck.check_gradients(
        lambda: float(np.sum(masking.last_valid(Y, lengths) * G)), {"Y": Y}, {"Y": dY})
    assert err["Y"] < 1e-8


def test_last_valid_is_the_final_state_of_the_unpadded_sequence():
    seqs = sequences()
    X, lengths = masking.pad_sequences(seqs)
    params = lstm.init_params(3, 4, rng=0)
    Y, _, _ = lstm.forward(X, None, params)
    last = masking.last_valid(Y, lengths)
    for n, seq in enumerate(seqs):
        _, (h_T, _), _ = lstm.forward(seq[None], None, params)
        np.testing.assert_allclose(last[n], h_T[0], atol=1e-14)


def test_last_valid_loss_gradcheck():
    X, lengths = masking.pad_sequences(sequences(D=2))
    model = SequenceModel("gru", 2, 3, 2, rng=0, fast=False)
    y = np.random.default_rng(1).standard_normal((4, 2))
    _, grads = masking.last_valid_loss_and_grads(model, X, lengths, y)
    errors = gradcheck.check_gradients(
        lambda: masking.last_valid_loss_and_grads(model, X, lengths, y)[0],
        model.params, grads)
    assert max(errors.values()) < 1e-6


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_agrees_with_pytorch_packed_sequences(cell):
    torch = pytest.importorskip("torch")
    options = {"convention": "pytorch"} if cell == "gru" else {}
    X, lengths = masking.pad_sequences(sequences())
    model = SequenceModel(cell, 3, 5, 2, rng=0, **options)
    y = np.random.default_rng(3).standard_normal((4, 2))
    value, grads = masking.last_valid_loss_and_grads(model, X, lengths, y)
    net = interop.to_torch([model.layer_params(0)], cell, **options)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        torch.tensor(X), torch.tensor(lengths), batch_first=True, enforce_sorted=False)
    out, h_n = net(packed)
    h_n = h_n[0] if cell == "lstm" else h_n
    W, b = torch.tensor(model.params["out.W"], requires_grad=True), torch.tensor(
        model.params["out.b"], requires_grad=True)
    loss = ((h_n[-1] @ W + b - torch.tensor(y)) ** 2).mean()
    loss.backward()
    assert abs(loss.item() - value) < 1e-12
    torch_grads = interop.grads_from_torch(net)[0]
    for key, g in torch_grads.items():
        np.testing.assert_allclose(grads[f"layer0.{key}"], g, atol=1e-12)
    np.testing.assert_allclose(grads["out.W"], W.grad.numpy(), atol=1e-12)
    padded, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True)
    top, _, _ = model._run(X, None)
    mask = masking.length_mask(lengths)
    np.testing.assert_allclose(top[mask], padded.detach().numpy()[mask], atol=1e-12)


def test_batches_by_length_save_padding():
    lengths = np.random.default_rng(0).integers(5, 100, size=256)
    by_length = masking.length_batches(lengths, 32, rng=0)
    random = masking.length_batches(lengths, 32, by_length=False, rng=0)
    for batches in (by_length, random):
        np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(256))
    computed_sorted, real = masking.padding_cost(lengths, by_length)
    computed_random, real2 = masking.padding_cost(lengths, random)
    assert real == real2 == lengths.sum()
    assert real <= computed_sorted < computed_random
    order = masking.sort_by_length(lengths)
    assert (np.diff(lengths[order]) <= 0).all()
    X = np.zeros((3, 10, 2))
    assert masking.trim_to_longest(X, np.array([2, 6, 3])).shape == (3, 6, 2)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="lengths"):
        masking.length_mask(np.array([0, 2]))
    with pytest.raises(ValueError, match="lengths"):
        masking.length_mask(np.array([3, 2]), T=2)
    with pytest.raises(ValueError, match="lengths"):
        masking.last_valid(np.zeros((2, 3, 1)), np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"sequences\[1\]"):
        masking.pad_sequences([np.zeros((2, 3)), np.zeros((2, 4))])
    with pytest.raises(ValueError, match="Y"):
        masking.last_valid(np.zeros((2, 3)), np.array([1, 2]))
