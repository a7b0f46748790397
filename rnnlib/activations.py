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
    "GateActivations",
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
    This is ``np.tanh``: it is stable at any input (it saturates to :math:`\pm 1`) and, on
    current NumPy builds, vectorised with SIMD, so it is several times faster than any
    formula built from ``np.exp`` that is as accurate (the accurate one is
    :math:`\operatorname{sign}(x)\,(-m)/(2 + m)` with :math:`m = \operatorname{expm1}(-2|x|)`;
    the shorter :math:`(1 - e^{-2|x|})/(1 + e^{-2|x|})` loses precision near 0).
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


class GateActivations:
    r"""Sigmoid and tanh over the column blocks of gate pre-activations, in a few calls.

    The cells' sequence loops (``rnn.forward``, ``lstm.forward``, ``gru.forward``) call this
    once per time step, on the (N, G*H) pre-activations of all G gates at once. It computes
    the same as :func:`sigmoid` and :func:`tanh` block by block, but with three to four
    in-place NumPy calls over the whole row block instead of several calls per block. At the
    book's sizes a step's arithmetic takes microseconds, so the number of calls, not the
    arithmetic, decides the speed.

    Parameters
    ----------
    kinds : str
        One letter per column block: ``"s"`` sigmoid, ``"t"`` tanh; e.g. ``"ssts"`` for the
        LSTM's f, i, a, o.
    hidden_size : int
        H, the width of each block.
    dtype : {numpy.float32, numpy.float64}
        dtype of the pre-activations.
    axis : {-1, 0}, default -1
        Where the G blocks lie: along the columns of an (N, G*H) array (-1), or along the
        rows of a "feature-major" (G*H, N) array (0), where each block is contiguous.

    Attributes
    ----------
    scale : numpy.ndarray, shape (G*H,)
        Factor by which the caller multiplies each column's pre-activation beforehand;
        cheapest by scaling the weight columns and biases once before the time loop. Every
        factor is a power of two, possibly negative, so the scaling is exact.
    method : {"tanh", "exp"}
        Which identity is used (see Notes).

    Notes
    -----
    Both identities rewrite every block as a function of *one* elementwise call:

    - float32 (``method="tanh"``; NumPy's float32 tanh is vectorised and fast):
      :math:`\sigma(x) = \tfrac12 \tanh(x/2) + \tfrac12`, so with ``scale`` 1/2 for sigmoid
      columns and 1 for tanh columns, ``tanh(P) * alpha + beta`` with per-column
      ``alpha, beta`` = (1/2, 1/2) or (1, 0).
    - float64 with sigmoid columns (``method="exp"``; NumPy's float64 tanh takes about
      twice as long as its exp): :math:`\sigma(x) = 1/(1 + e^{-x})` and
      :math:`\tanh(x) = 2/(1 + e^{-2x}) - 1`, so with ``scale`` -1 or -2,
      ``numerator / (1 + exp(P))`` with numerator 1 or 2, then 1 subtracted from the tanh
      columns. Only tanh columns (``kinds="t"``) use ``np.tanh`` directly in both dtypes.

    Both are stable at any input: an exponential that overflows gives ``inf`` and the
    quotient 0, the right limit (the overflow warning is silenced), and no positive number
    is subtracted from a nearly equal one except in :math:`2/(1+e^{-2x}) - 1` near 0, where
    the absolute error stays at float64 rounding. The tests check both methods against
    :func:`sigmoid` and :func:`tanh`.
    """

    def __init__(self, kinds, hidden_size, dtype, *, axis=-1):
        if not kinds or set(kinds) - {"s", "t"}:
            raise ValueError(f"kinds: expected a string of 's' and 't', got {kinds!r}")
        dtype = np.dtype(dtype)
        H = hidden_size
        is_tanh = np.repeat([k == "t" for k in kinds], H)  # (G*H,) one flag per column
        # The exp identity saves time only where sigmoid columns share the call; a block of
        # tanh alone is one np.tanh call either way.
        self.method = "exp" if dtype == np.float64 and "s" in kinds else "tanh"
        if self.method == "tanh":
            self.scale = np.where(is_tanh, 1.0, 0.5).astype(dtype)
            self._alpha = self.scale  # 1 for tanh columns, 1/2 for sigmoid columns
            self._beta = np.where(is_tanh, 0.0, 0.5).astype(dtype)
        else:
            self.scale = np.where(is_tanh, -2.0, -1.0).astype(dtype)
            self._numerator = np.where(is_tanh, 2.0, 1.0).astype(dtype)
        # The tanh columns as runs of whole blocks, to subtract 1 from (exp method).
        self._tanh_blocks = [slice(g * H, (g + 1) * H) for g, k in enumerate(kinds) if k == "t"]
        self._all_tanh = set(kinds) == {"t"}
        self._all_sigmoid = set(kinds) == {"s"}
        if axis not in (0, -1):
            raise ValueError(f"axis: expected -1 (blocks along columns) or 0, got {axis!r}")
        self.axis = axis
        # With axis=0 each block is a contiguous run of rows: the exp method divides run by
        # run (a broadcast over rows of length N would iterate row by row); the tanh method
        # uses full (G*H, N) constants instead (see _row_constants).
        self._runs = []  # (slice, kind) for maximal runs of equal kinds
        start = 0
        for g in range(1, len(kinds) + 1):
            if g == len(kinds) or kinds[g] != kinds[start]:
                self._runs.append((slice(start * H, g * H), kinds[start]))
                start = g

    def __call__(self, P):
        """Overwrite ``P`` (N, G*H), or (G*H, N) with ``axis=0``, holding ``scale`` times the
        pre-activations, with the activations; return ``P``."""
        if self.axis == 0:
            return self._call_rows(P)
        if self.method == "tanh":
            np.tanh(P, out=P)
            if not self._all_tanh:
                P *= self._alpha
                P += self._beta
            return P
        with np.errstate(over="ignore"):  # exp(P) = inf gives the right limit below
            np.exp(P, out=P)
        P += 1.0
        np.divide(self._numerator, P, out=P)
        if self._all_tanh:
            P -= 1.0
        elif not self._all_sigmoid:
            for block in self._tanh_blocks:
                P[..., block] -= 1.0
        return P

    def _row_constants(self, n):
        """``alpha`` and ``beta`` of the tanh method as (G*H, n) arrays, made once per n.

        Full arrays rather than (G*H, 1) columns: NumPy broadcasts a column row by row, in
        G*H short loops, but multiplies two arrays of the same shape in one sweep. A tanh
        row becomes ``tanh * 1 + 0``, the same value.
        """
        if getattr(self, "_rows_n", None) != n:
            shape = (self.scale.size, n)
            self._alpha_rows = np.broadcast_to(self._alpha[:, None], shape).copy()
            self._beta_rows = np.broadcast_to(self._beta[:, None], shape).copy()
            self._rows_n = n
        return self._alpha_rows, self._beta_rows

    def _call_rows(self, P):
        """:meth:`__call__` for blocks along axis 0: P is (G*H, N), each block contiguous."""
        if self.method == "tanh":
            np.tanh(P, out=P)
            if self._all_sigmoid:  # sigma(x) = tanh(x/2)/2 + 1/2
                P *= 0.5
                P += 0.5
            elif not self._all_tanh:  # both kinds: two sweeps over P instead of two per run
                alpha, beta = self._row_constants(P.shape[1])
                P *= alpha
                P += beta
            return P
        with np.errstate(over="ignore"):  # exp(P) = inf gives the right limit below
            np.exp(P, out=P)
        P += 1.0
        for run, kind in self._runs:
            if kind == "s":
                np.divide(1.0, P[run], out=P[run])
            else:
                np.divide(2.0, P[run], out=P[run])
                P[run] -= 1.0
        return P
