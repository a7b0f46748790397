"""Tests for rnnlib.losses: values, finite-difference gradients, masks, stability, errors."""

import warnings

import numpy as np
import pytest

from rnnlib.gradcheck import assert_gradients_close
from rnnlib.losses import mse, softmax_cross_entropy

SHAPES = {"sequence": (3, 4, 5), "last-step": (3, 5), "N=1,T=1": (1, 1, 2)}


def _mask(rng, item_shape):
    mask = rng.random(item_shape) > 0.4
    mask.flat[0] = True  # never empty
    return mask


# ---------------------------------------------------------------------------------------
# Mean squared error
# ---------------------------------------------------------------------------------------


def test_mse_value_by_hand():
    pred = np.array([[1.0, 2.0], [3.0, 5.0]])  # (N, V) = (2, 2)
    target = np.array([[0.0, 2.0], [3.0, 1.0]])
    loss, dpred = mse(pred, target)
    assert loss == pytest.approx((1.0 + 0 + 0 + 16.0) / 4)
    np.testing.assert_allclose(dpred, 2 * (pred - target) / 4)
    # The mask drops the second item: mean over the first item's two entries.
    loss, dpred = mse(pred, target, mask=np.array([True, False]))
    assert loss == pytest.approx(1.0 / 2)
    np.testing.assert_allclose(dpred, [[1.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
def test_mse_gradient_check(rng, shape, masked):
    pred = rng.standard_normal(shape)
    target = rng.standard_normal(shape)
    mask = _mask(rng, shape[:-1]) if masked else None
    _, dpred = mse(pred, target, mask)
    assert_gradients_close(lambda: mse(pred, target, mask)[0], {"pred": pred},
                           {"pred": dpred}, tol=1e-6)


def test_mse_matches_torch_with_mask(rng, torch):
    pred = rng.standard_normal((3, 4, 2))
    target = rng.standard_normal((3, 4, 2))
    mask = _mask(rng, (3, 4))
    loss, dpred = mse(pred, target, mask)
    pred_t = torch.tensor(pred, requires_grad=True)
    m = torch.tensor(mask)
    loss_t = torch.nn.functional.mse_loss(pred_t[m], torch.tensor(target)[m])
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(dpred, pred_t.grad.numpy(), atol=1e-14)


def test_mse_keeps_float32(rng):
    pred = rng.standard_normal((2, 3, 1)).astype(np.float32)
    loss, dpred = mse(pred, np.zeros_like(pred))
    assert dpred.dtype == np.float32
    assert isinstance(loss, float)


def test_mask_of_zeros_and_ones_is_accepted(rng):
    pred, target = rng.standard_normal((2, 3, 1)), rng.standard_normal((2, 3, 1))
    mask = np.array([[1, 0, 1], [0, 0, 1]])
    assert mse(pred, target, mask)[0] == mse(pred, target, mask.astype(bool))[0]


def test_masked_items_do_not_matter(rng):
    pred, target = rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2))
    mask = np.array([[True, False, True], [False, True, True]])
    other = target.copy()
    other[~mask] = 1e6  # whatever sits under the mask
    assert mse(pred, target, mask)[0] == mse(pred, other, mask)[0]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"target": np.zeros((2, 3, 2))}, r"target: expected shape \(N, T, V\) = \(2, 3, 1\)"),
        ({"target": np.zeros((2, 3, 1), np.float32)}, "target: expected dtype float64"),
        ({"mask": np.ones((2, 4), bool)}, r"mask: expected shape \(N, T\) = \(2, 3\)"),
        ({"mask": np.zeros((2, 3), bool)}, "mask: selects no item"),
        ({"mask": np.full((2, 3), 0.5)}, "mask: expected booleans"),
        ({"pred": np.zeros(3)}, "pred: expected a 3-d array"),
        ({"pred": np.full((2, 3, 1), np.nan)}, "pred contains NaN or inf"),
    ],
)
def test_mse_bad_input(kwargs, message):
    args = {"pred": np.zeros((2, 3, 1)), "target": np.zeros((2, 3, 1)), "mask": None}
    args.update(kwargs)
    if "pred" in kwargs and kwargs["pred"].ndim == 1:
        args["target"] = np.zeros(3)
    with pytest.raises(ValueError, match=message):
        mse(**args)


# ---------------------------------------------------------------------------------------
# Softmax cross-entropy
# ---------------------------------------------------------------------------------------


def test_cross_entropy_value_by_hand():
    logits = np.array([[0.0, 0.0], [np.log(3.0), 0.0]])  # (N, V) = (2, 2)
    targets = np.array([1, 0])
    loss, dlogits = softmax_cross_entropy(logits, targets)
    # p = (1/2, 1/2) and (3/4, 1/4): loss = -(log 1/2 + log 3/4) / 2
    assert loss == pytest.approx(-(np.log(0.5) + np.log(0.75)) / 2)
    np.testing.assert_allclose(dlogits, [[0.25, -0.25], [-0.125, 0.125]])


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
@pytest.mark.parametrize("masked", [False, True], ids=["no-mask", "mask"])
def test_cross_entropy_gradient_check(rng, shape, masked):
    logits = 2 * rng.standard_normal(shape)
    targets = rng.integers(0, shape[-1], size=shape[:-1])
    mask = _mask(rng, shape[:-1]) if masked else None
    _, dlogits = softmax_cross_entropy(logits, targets, mask)
    assert_gradients_close(lambda: softmax_cross_entropy(logits, targets, mask)[0],
                           {"logits": logits}, {"logits": dlogits}, tol=1e-6)


def test_cross_entropy_matches_torch_with_mask(rng, torch):
    logits = rng.standard_normal((3, 5, 4))
    targets = rng.integers(0, 4, size=(3, 5))
    mask = _mask(rng, (3, 5))
    targets[~mask] = -1  # padding value under the mask is fine
    loss, dlogits = softmax_cross_entropy(logits, targets, mask)
    logits_t = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(
        logits_t.reshape(-1, 4), torch.tensor(targets).reshape(-1), ignore_index=-1
    )
    loss_t.backward()
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(dlogits, logits_t.grad.numpy(), atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_stable_at_large_logits(dtype):
    logits = np.array([[[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]]], dtype=dtype)
    targets = np.array([[1, 1]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning
        loss, dlogits = softmax_cross_entropy(logits, targets)
    # Step 0: log p_1 = -2000 exactly; step 1: log p_1 = -log(1 + e^-1).
    expected = (2000.0 + np.log1p(np.exp(-1.0))) / 2
    assert loss == pytest.approx(expected, rel=1e-6)
    assert dlogits.dtype == dtype and np.isfinite(dlogits).all()
    np.testing.assert_allclose(dlogits[0, 0], [0.5, -0.5, 0.0], atol=1e-7)


def test_cross_entropy_loss_of_uniform_logits_is_log_V(rng):
    V = 7
    loss, _ = softmax_cross_entropy(np.zeros((4, 6, V)), rng.integers(0, V, size=(4, 6)))
    assert loss == pytest.approx(np.log(V))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"targets": np.zeros((2, 4), int)}, r"targets: expected shape \(N, T\) = \(2, 3\)"),
        ({"targets": np.zeros((2, 3))}, "targets: expected an integer array"),
        ({"targets": np.full((2, 3), 5)}, r"targets: expected class indices in \[0, 5\)"),
        ({"targets": np.full((2, 3), -1)}, "targets: expected class indices"),
        ({"mask": np.ones((3, 2), bool)}, r"mask: expected shape \(N, T\) = \(2, 3\)"),
        ({"logits": np.full((2, 3, 5), np.inf)}, "logits contains NaN or inf"),
        ({"logits": np.zeros((2, 3, 5), int)}, "logits: expected dtype float32 or float64"),
    ],
)
def test_cross_entropy_bad_input(kwargs, message):
    args = {"logits": np.zeros((2, 3, 5)), "targets": np.zeros((2, 3), int), "mask": None}
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        softmax_cross_entropy(**args)
