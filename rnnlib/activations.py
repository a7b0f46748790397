r"""Activation functions and their derivatives, stable for inputs of any size.

Every gate of the RNN, LSTM and GRU is a sigmoid or a tanh of a pre-activation, and a
classifier on top ends in a softmax. Written naively, :math:`1 / (1 + e^{-x})` overflows at
:math:`x = -1000` (``exp(1000)`` is inf; NumPy warns) and :math:`e^{x_k} / \sum_j e^{x_j}`
overflows for logits of a few hundred. The versions here never compute an exponential of a
positive number, so they neither overflow nor warn, and they are exact to float rounding.

Derivatives are written in terms of the function's *output*, because backpropagation keeps
the outputs from the forward pass anyway (equation labels as in the book):

.. math::

    \sigma'(x) = \sigma(x)\,(1 - \sigma(x))            \qquad \text{(sigmoid-derivative)}

    \tanh'(x) = 1 - \tanh^2(x)                          \qquad \text{(tanh-derivative)}

Every function keeps the input's dtype (float32 stays float32). These are the inner loops of
the cells, so they do not validate their arguments; the cell functions that call them do.
"""

import numpy as np

__all__ = [
    "log_softmax",
    "sigmoid",
    "sigmoid_grad_from_output",
    "softmax",
    "softmax_grad_from_output",
    "tanh",
    "tanh_grad_from_output",
]


def sigmoid(x):
    r"""Logistic sigmoid :math:`\sigma(x) = 1 / (1 + e^{-x})`, without overflow.

    Parameters
    ----------
    x : numpy.ndarray, any shape (float32 or float64)
        Pre-activations.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        Values in :math:`[0, 1]`.

    Notes
    -----
    With :math:`e = e^{-|x|} \in (0, 1]` (never overflows),

    .. math::

        \sigma(x) = \frac{1}{1 + e} \text{ for } x \ge 0, \qquad
        \sigma(x) = \frac{e}{1 + e} \text{ for } x < 0.

    Both branches divide numbers near 1, so the result is exact to rounding even deep in the
    tails (the shortcut :math:`\tfrac12 + \tfrac12 \tanh(x/2)` loses all relative precision
    there, because it subtracts two numbers close to :math:`\tfrac12`).
    """
    x = np.asarray(x)
    e = np.exp(-np.abs(x))
    out = np.where(x >= 0, np.ones_like(e), e)  # numerator: 1 or e
    out /= 1 + e
    return out


def sigmoid_grad_from_output(y):
    r"""Derivative of the sigmoid from its output: :math:`\sigma' = y (1 - y)`.

    Parameters
    ----------
    y : numpy.ndarray, any shape
        Output of :func:`sigmoid`.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``y``
        :math:`d\sigma/dx` at the input that produced ``y`` (sigmoid-derivative).
    """
    return y * (1 - y)


def tanh(x):
    r"""Hyperbolic tangent :math:`\tanh(x) = (e^x - e^{-x}) / (e^x + e^{-x})`.

    Parameters
    ----------
    x : numpy.ndarray, any shape (float32 or float64)
        Pre-activations.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        Values in :math:`[-1, 1]`.

    Notes
    -----
    This is ``np.tanh``: it is stable at any input (it saturates to :math:`\pm 1`) and
    accurate near 0, where the short formula :math:`(1 - e^{-2|x|})/(1 + e^{-2|x|})` loses
    precision.
    """
    return np.tanh(x)


def tanh_grad_from_output(y):
    r"""Derivative of tanh from its output: :math:`\tanh' = 1 - y^2`.

    Parameters
    ----------
    y : numpy.ndarray, any shape
        Output of :func:`tanh`.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``y``
        :math:`d\tanh/dx` at the input that produced ``y`` (tanh-derivative).
    """
    return 1 - y * y


def softmax(x, axis=-1):
    r"""Softmax :math:`p_k = e^{x_k} / \sum_j e^{x_j}` along ``axis``, without overflow.

    Parameters
    ----------
    x : numpy.ndarray, any shape, e.g. (N, V) or (N, T, V)
        Logits.
    axis : int, default -1
        The axis of the classes (V).

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        Probabilities, non-negative and summing to 1 along ``axis``.

    Notes
    -----
    Softmax does not change when a constant is subtracted from every logit, so we subtract
    the largest: then every exponent is :math:`\le 0` (no overflow) and the largest term is
    exactly 1 (the sum is at least 1, so no division by zero).
    """
    x = np.asarray(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(x, axis=-1):
    r"""Logarithm of :func:`softmax`, computed without forming tiny probabilities.

    Parameters
    ----------
    x : numpy.ndarray, any shape, e.g. (N, V) or (N, T, V)
        Logits.
    axis : int, default -1
        The axis of the classes (V).

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        :math:`\log p_k`, all :math:`\le 0`.

    Notes
    -----
    With :math:`m = \max_j x_j`,
    :math:`\log p_k = (x_k - m) - \log \sum_j e^{x_j - m}`. Taking ``np.log(softmax(x))``
    instead would give ``-inf`` as soon as a probability underflows to 0 (logits 1000
    apart), and a cross-entropy loss of inf.
    """
    x = np.asarray(x)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax_grad_from_output(y, dy, axis=-1):
    r"""Backpropagate through softmax: the gradient with respect to its input.

    Parameters
    ----------
    y : numpy.ndarray, any shape, e.g. (N, V)
        Output of :func:`softmax` along ``axis``.
    dy : numpy.ndarray, same shape as ``y``
        Gradient of the loss with respect to ``y``.
    axis : int, default -1
        The axis of the classes (V).

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``y``
        Gradient of the loss with respect to the logits.

    Notes
    -----
    The Jacobian of softmax is :math:`\partial p_k / \partial x_j = p_k(\delta_{kj} - p_j)`
    (softmax-derivative). Multiplying it by ``dy`` without forming the :math:`V \times V`
    matrix gives

    .. math:: \frac{\partial L}{\partial x_j} = p_j \Big(g_j - \sum_k g_k p_k\Big),
        \qquad g = \partial L / \partial p .
    """
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))
