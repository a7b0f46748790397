r"""Regularising recurrent networks: dropout masks fixed over time, and weight decay.

**Dropout** multiplies activations by a random mask :math:`m` of zeros (probability p) and
:math:`1/(1-p)` (probability 1-p), so that the mean of every masked activation is
unchanged (inverted dropout, :func:`dropout_mask`). In a recurrent network the question is
*when* to draw a new mask:

- a new mask at every step (:func:`dropout_mask` of shape (N, T, D)) on the recurrent
  connection multiplies the state by a fresh mask at each step, so a unit's contribution
  survives :math:`k` steps only with probability :math:`(1-p)^k`
  (reg-survival); memory fades by construction;
- one mask per sequence, the same at every step (:func:`variational_mask`), the
  "variational" dropout of Gal and Ghahramani (2016): within a sequence the same units
  are dropped at every step, so a kept unit is never cut off, and the network as a whole
  is one thinned network for the length of the sequence.

.. math::

    P(\text{a unit survives } k \text{ steps}) =
    \begin{cases} (1-p)^k & \text{new mask every step} \\
                  1-p     & \text{one mask per sequence} \end{cases}
                                                                    \qquad \text{(reg-survival)}

:class:`Regularized` applies such a mask to a model's inputs during training (outside the
cell, so every rnnlib cell takes it unchanged).

**Weight decay** adds :math:`\tfrac{\lambda}{2} \sum W^2` over the weight matrices (not the
biases) to the loss, and so :math:`\lambda W` to their gradients (:func:`l2_penalty`,
:func:`weight_decay_grads`): every step pulls the weights towards zero, and with them the
recurrent blocks' spectral radius. With Adam this sum is rescaled by Adam's per-parameter
step sizes, which is why Loshchilov and Hutter (2019) subtract the decay from the weights
directly instead ("decoupled" weight decay); here it is the plain penalty.

Dimension letters: N batch, T time, D input.
"""

import numpy as np

from rnnlib._validate import check_array, check_number, resolve_dtype, resolve_rng

__all__ = [
    "Regularized",
    "dropout_mask",
    "l2_penalty",
    "variational_mask",
    "weight_decay_grads",
    "weight_keys",
]


def dropout_mask(shape, p, *, rng=None, dtype=np.float64):
    r"""An inverted-dropout mask: 0 with probability p, :math:`1/(1-p)` otherwise.

    Parameters
    ----------
    shape : tuple of int
        E.g. (N, T, D) for a new mask at every step.
    p : float
        Dropout probability, :math:`0 \le p < 1`.
    rng : numpy.random.Generator, int or None, optional
    dtype : {numpy.float64, numpy.float32}, optional

    Returns
    -------
    numpy.ndarray of the given shape
        Every entry has mean 1, so ``x * mask`` has the mean of ``x``.
    """
    p = check_number("p", p, low=0.0, high=1.0, low_open=False)
    rng = resolve_rng(rng)
    dtype = resolve_dtype(dtype)
    keep = rng.random(shape) >= p
    return (keep / (1.0 - p)).astype(dtype)


def variational_mask(N, T, D, p, *, rng=None, dtype=np.float64):
    """One dropout mask per sequence, the same at every step (Gal and Ghahramani 2016).

    Parameters
    ----------
    N, T, D : int
        Batch size, number of steps, number of features.
    p : float
        Dropout probability.
    rng : numpy.random.Generator, int or None, optional
    dtype : {numpy.float64, numpy.float32}, optional

    Returns
    -------
    numpy.ndarray, shape (N, T, D)
        ``mask[n, t]`` is the same for every t (a read-only broadcast view of an (N, 1, D)
        mask).
    """
    per_sequence = dropout_mask((N, 1, D), p, rng=rng, dtype=dtype)  # (N, 1, D)
    return np.broadcast_to(per_sequence, (N, T, D))


def weight_keys(params):
    """The keys of the weight matrices (2-d arrays) of a parameter dict: not the biases."""
    return [key for key, value in params.items() if np.ndim(value) == 2]


def l2_penalty(params, weight_decay):
    r"""The weight-decay term :math:`\tfrac{\lambda}{2} \sum_W \|W\|^2` over weight matrices.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
    weight_decay : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    float
    """
    weight_decay = check_number("weight_decay", weight_decay, low=0.0, low_open=False)
    return 0.5 * weight_decay * sum(float(np.sum(params[k] ** 2)) for k in weight_keys(params))


def weight_decay_grads(params, grads, weight_decay):
    r"""Gradients with the weight-decay term's gradient :math:`\lambda W` added.

    Parameters
    ----------
    params, grads : dict of str to numpy.ndarray
        Same keys and shapes.
    weight_decay : float
        :math:`\lambda \ge 0`.

    Returns
    -------
    dict
        New gradients: ``grads[k] + weight_decay * params[k]`` for the weight matrices,
        the biases' gradients unchanged.
    """
    weight_decay = check_number("weight_decay", weight_decay, low=0.0, low_open=False)
    if set(params) != set(grads):
        raise ValueError("grads: expected the same keys as params, got "
                         f"{sorted(set(params) ^ set(grads))} in only one of them")
    decayed = set(weight_keys(params))
    return {k: grads[k] + weight_decay * params[k] if k in decayed else grads[k]
            for k in grads}


class Regularized:
    """A model trained with input dropout and weight decay; a drop-in for ``fit``.

    Parameters
    ----------
    model : rnnlib.model.SequenceModel or similar
        Its ``params`` are shared (not copied): training this object trains the model.
    input_dropout : float, default 0.0
        Dropout probability on the inputs during training.
    variational : bool, default True
        One mask per sequence for all steps (:func:`variational_mask`); False draws a new
        mask at every step.
    weight_decay : float, default 0.0
        :math:`\\lambda` of :func:`l2_penalty`.
    rng : numpy.random.Generator, int or None, optional
        For the masks.

    Notes
    -----
    ``loss_and_grads`` is the training loss (masked inputs, penalty included); ``predict``
    is the model's, without dropout, as at test time.
    """

    def __init__(self, model, *, input_dropout=0.0, variational=True, weight_decay=0.0,
                 rng=None):
        self.model = model
        self.params = model.params
        self.input_dropout = check_number("input_dropout", input_dropout, low=0.0,
                                          high=1.0, low_open=False)
        self.variational = bool(variational)
        self.weight_decay = check_number("weight_decay", weight_decay, low=0.0,
                                         low_open=False)
        self.rng = resolve_rng(rng)

    def loss_and_grads(self, X, targets, loss="mse", mask=None, last_only=False):
        """Training loss and gradients: dropout on ``X`` (N, T, D), plus the penalty."""
        X = check_array("X", X, ndim=3, dims="N, T, D")
        if self.input_dropout > 0:
            N, T, D = X.shape
            if self.variational:
                drop = variational_mask(N, T, D, self.input_dropout, rng=self.rng,
                                        dtype=X.dtype)
            else:
                drop = dropout_mask((N, T, D), self.input_dropout, rng=self.rng,
                                    dtype=X.dtype)
            X = X * drop
        value, grads = self.model.loss_and_grads(X, targets, loss=loss, mask=mask,
                                                 last_only=last_only)
        if self.weight_decay > 0:
            value += l2_penalty(self.params, self.weight_decay)
            grads = weight_decay_grads(self.params, grads, self.weight_decay)
        return value, grads

    def predict(self, X, **kwargs):
        """The model's predictions, without dropout."""
        return self.model.predict(X, **kwargs)
