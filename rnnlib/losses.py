r"""Loss functions over sequences: mean squared error and softmax cross-entropy.

Each loss returns the pair ``(loss, dpred)``: the scalar loss and its gradient with respect
to the prediction, ready to be passed down into the output layer's backward pass.

An *item* is one prediction: one time step of one sequence for outputs of shape
``(N, T, V)``, one sequence for outputs of shape ``(N, V)``. Both losses are the **mean over
the items that count**: all of them, or those selected by a ``mask`` of shape ``(N, T)``
(or ``(N,)``); the squared error also averages over the V outputs of an item. So for
predictions (N, T, V) the mean squared error divides by N*T*V and cross-entropy by N*T (the
book's equation ``rnn-loss``); for a many-to-one task, whose predictions are (N, V), they
divide by N*V and N. A mask lets a batch hold sequences of different lengths (padding is
masked out) and lets a task score only some steps (the copy task scores only the recall
phase). Because the loss is a mean, its size does not depend on the batch size or the
sequence length, so one learning rate suits all of them.

Dimension letters: N batch, T time, V output size (number of classes for cross-entropy).
"""

import numpy as np

from rnnlib._validate import check_array
from rnnlib.activations import log_softmax

__all__ = ["mse", "softmax_cross_entropy"]


def _item_dims(ndim):
    """Dimension letters of the prediction and of one mask/target entry per item."""
    return ("N, T, V", "N, T") if ndim == 3 else ("N, V", "N")


def _check_mask(mask, item_shape, item_dims):
    """Validate a mask and return it as a boolean array of shape ``item_shape``.

    Parameters
    ----------
    mask : numpy.ndarray of bool, or of numbers that are all 0 or 1
        Shape ``item_shape``.
    item_shape : tuple of int
        The shape of the predictions without their last axis, e.g. (N, T).
    item_dims : str
        Dimension letters for the message, e.g. ``"N, T"``.

    Returns
    -------
    numpy.ndarray of bool, shape ``item_shape``
    """
    if not isinstance(mask, np.ndarray):
        raise ValueError(
            f"mask: expected a NumPy array of shape ({item_dims}) = {item_shape}, "
            f"got {type(mask).__name__}"
        )
    if mask.shape != item_shape:
        raise ValueError(f"mask: expected shape ({item_dims}) = {item_shape}, got {mask.shape}")
    if mask.dtype != bool:
        if not (np.issubdtype(mask.dtype, np.number) and np.isin(mask, (0, 1)).all()):
            raise ValueError(
                f"mask: expected booleans (or numbers that are all 0 or 1), got dtype "
                f"{mask.dtype} with other values"
            )
        mask = mask != 0
    if not mask.any():
        raise ValueError("mask: selects no item, so the mean loss is undefined")
    return mask


def mse(pred, target, mask=None):
    r"""Mean squared error and its gradient.

    Parameters
    ----------
    pred : numpy.ndarray, shape (N, T, V) or (N, V), float32 or float64
        Predictions, e.g. the output layer's values at every step or at the last step.
    target : numpy.ndarray, same shape and dtype as ``pred``
        Target values.
    mask : numpy.ndarray of bool, shape (N, T) or (N,), optional
        Which items count (``pred.shape[:-1]``). A masked-out item contributes neither to
        the loss nor to the gradient. Numbers that are all 0 or 1 are accepted too.

    Returns
    -------
    loss : float
        :math:`L = \frac{1}{M V} \sum_{\text{items } m \text{ kept}} \sum_{k=1}^{V}
        (\hat y_{mk} - y_{mk})^2`, where M is the number of items kept (all of them without
        a mask). This is the mean over every kept entry, as ``torch.nn.MSELoss()`` computes.
    dpred : numpy.ndarray, same shape and dtype as ``pred``
        :math:`\partial L / \partial \hat y = \frac{2}{M V} (\hat y - y)` on kept items,
        0 on masked ones.

    Raises
    ------
    ValueError
        If the shapes or dtypes disagree, an input holds NaN or inf, or the mask is not
        boolean or selects no item.

    Notes
    -----
    Some texts put a factor :math:`\tfrac12` in front so that the gradient is just
    :math:`\hat y - y`; we keep the plain mean so that the loss reads as "the mean squared
    error" and matches PyTorch.
    """
    check_array("pred", pred)
    if pred.ndim not in (2, 3):
        raise ValueError(
            f"pred: expected a 3-d array (N, T, V) or a 2-d array (N, V), got a {pred.ndim}-d "
            f"array of shape {pred.shape}"
        )
    pred_dims, item_dims = _item_dims(pred.ndim)
    check_array("target", target, shape=pred.shape, dtype=pred.dtype, dims=pred_dims)
    diff = pred - target
    if mask is None:
        count = diff.size
    else:
        keep = _check_mask(mask, pred.shape[:-1], item_dims)
        diff = diff * keep[..., None]  # zero where masked; same dtype as pred
        count = int(keep.sum()) * pred.shape[-1]
    loss = float(np.sum(diff * diff, dtype=np.float64) / count)
    dpred = diff * pred.dtype.type(2.0 / count)
    return loss, dpred


def softmax_cross_entropy(logits, targets, mask=None):
    r"""Softmax cross-entropy (negative log-likelihood of the target class) and its gradient.

    Parameters
    ----------
    logits : numpy.ndarray, shape (N, T, V) or (N, V), float32 or float64
        Unnormalised scores for V classes at every item.
    targets : numpy.ndarray of int, shape (N, T) or (N,)
        The class index of every item (``logits.shape[:-1]``), each in ``[0, V)``. Masked-out
        items may hold anything (``-1`` is a common padding value).
    mask : numpy.ndarray of bool, shape (N, T) or (N,), optional
        Which items count. Numbers that are all 0 or 1 are accepted too.

    Returns
    -------
    loss : float
        :math:`L = -\frac{1}{M} \sum_{\text{items } m \text{ kept}} \log p_{m, y_m}` with
        :math:`p_m = \operatorname{softmax}(z_m)`, where M is the number of items kept. This
        is ``torch.nn.CrossEntropyLoss()`` on the kept items.
    dlogits : numpy.ndarray, same shape and dtype as ``logits``
        :math:`\partial L / \partial z_m = \frac{1}{M}(p_m - e_{y_m})` on kept items
        (:math:`e_y` is the one-hot vector of class y), 0 on masked ones.

    Raises
    ------
    ValueError
        If a shape disagrees, ``targets`` is not integer or out of range where it counts,
        ``logits`` holds NaN or inf, or the mask is not boolean or selects no item.

    Notes
    -----
    The log-probabilities come from :func:`rnnlib.activations.log_softmax`, which subtracts
    the largest logit first, so logits of :math:`\pm 1000` give a finite loss and no
    warning. The gradient uses the classic simplification of softmax followed by the
    negative log-likelihood: the Jacobian of softmax and the :math:`-1/p` of the logarithm
    cancel to :math:`p - e_y`.
    """
    check_array("logits", logits)
    if logits.ndim not in (2, 3):
        raise ValueError(
            f"logits: expected a 3-d array (N, T, V) or a 2-d array (N, V), got a "
            f"{logits.ndim}-d array of shape {logits.shape}"
        )
    _, item_dims = _item_dims(logits.ndim)
    item_shape = logits.shape[:-1]
    V = logits.shape[-1]
    if not isinstance(targets, np.ndarray) or not np.issubdtype(targets.dtype, np.integer):
        got = targets.dtype if isinstance(targets, np.ndarray) else type(targets).__name__
        raise ValueError(f"targets: expected an integer array of shape ({item_dims}), got {got}")
    if targets.shape != item_shape:
        raise ValueError(
            f"targets: expected shape ({item_dims}) = {item_shape}, got {targets.shape}"
        )
    keep = None if mask is None else _check_mask(mask, item_shape, item_dims)
    counted = targets if keep is None else targets[keep]
    if counted.size and (counted.min() < 0 or counted.max() >= V):
        bad = (counted < 0) | (counted >= V)
        raise ValueError(
            f"targets: expected class indices in [0, {V}) (V = logits.shape[-1]), got "
            f"{counted[bad][0]}"
        )
    safe_targets = targets if keep is None else np.where(keep, targets, 0)
    log_p = log_softmax(logits)  # (N, T, V) or (N, V)
    picked = np.take_along_axis(log_p, safe_targets[..., None], axis=-1)[..., 0]
    count = picked.size if keep is None else int(keep.sum())
    if keep is not None:
        picked = picked * keep
    loss = float(-np.sum(picked, dtype=np.float64) / count)
    dlogits = np.exp(log_p)  # softmax probabilities p
    np.put_along_axis(
        dlogits,
        safe_targets[..., None],
        np.take_along_axis(dlogits, safe_targets[..., None], axis=-1) - 1,
        axis=-1,
    )
    if keep is not None:
        dlogits *= keep[..., None]
    dlogits *= logits.dtype.type(1.0 / count)
    return loss, dlogits
