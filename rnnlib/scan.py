r"""The linear recurrence :math:`h_t = a_t \odot h_{t-1} + b_t`, by a loop and by scans.

Dimension letters: N batch, T time, H hidden. Sequences are batch first, ``(N, T, H)``.
Time is indexed from 1 in the equations and from 0 in the arrays (``A[:, 0]`` is
:math:`a_1`).

When a recurrent cell's coefficients :math:`a_t, b_t` depend on the input only (minGRU and
minLSTM, :mod:`rnnlib.mingru`), the whole sequence of states is one *prefix scan*.
The arrays ``A`` and ``B`` hold the coefficients :math:`a_t, b_t` of every step (the
chapter's :math:`\alpha_t, \beta_t`), not the prefix products :math:`A_t, B_t` below.

**The recurrence and its operator.** Write a step as the pair :math:`(a_t, b_t)`, the affine
map :math:`h \mapsto a_t h + b_t`. Doing step :math:`(a, b)` and then :math:`(a', b')` is
again affine:

.. math::

    (a, b) \bullet (a', b') = (a' a,\; a' b + b')                  \qquad \text{(scan-combine)}

Composition of maps is associative, so :math:`\bullet` is, with identity :math:`(1, 0)`, and
the prefix :math:`(A_t, B_t) = (a_1, b_1) \bullet \dots \bullet (a_t, b_t)` gives every state
at once:

.. math::

    h_t = A_t \odot h_0 + B_t, \qquad A_t = \prod_{k \le t} a_k, \quad
    B_t = \sum_{k \le t} \Big(\prod_{k < j \le t} a_j\Big) b_k     \qquad \text{(scan-prefix)}

**Backward.** With :math:`g_t = \partial L / \partial h_t` the *total* gradient reaching
:math:`h_t` (from the output :math:`\bar y_t` and, through :math:`h_{t+1}`, from the future):

.. math::

    g_T = \bar y_T + \bar h_T, \qquad g_t = a_{t+1} \odot g_{t+1} + \bar y_t
                                                                    \qquad \text{(scan-bwd)}

    \bar a_t = g_t \odot h_{t-1}, \qquad \bar b_t = g_t, \qquad \bar h_0 = a_1 \odot g_1
                                                                    \qquad \text{(scan-bwd-inputs)}

(scan-bwd) is the same linear recurrence run backwards in time, with coefficients shifted by
one step, so the backward pass is a scan too.

**Log space.** For positive :math:`a_t, b_t, h_0` (as in Feng et al.'s log-space minGRU),
with :math:`\lambda_t = \sum_{k \le t} \log a_k` (so :math:`\lambda_0 = 0`) and
:math:`b_0 := h_0`:

.. math::

    \log h_t = \lambda_t + \log \sum_{k=0}^{t} \exp(\log b_k - \lambda_k)
                                                                    \qquad \text{(scan-log)}

a cumulative sum and a cumulative log-sum-exp, never forming the products :math:`A_t`,
which underflow on long sequences. Its gradients follow from (scan-bwd-inputs) by the chain
rule, :math:`\overline{\log a_t} = a_t \bar a_t` and :math:`\overline{\log b_t} = b_t \bar
b_t`, with :math:`g_t` from (scan-bwd) (it can have either sign, so it is computed with the
plain scan, not in log space).

**The functions**, each a forward/backward pair with the same arguments and results:

- :func:`sequential_forward` / :func:`sequential_backward`: the loop, one step at a time,
  the reference the others are tested against;
- :func:`parallel_forward` / :func:`parallel_backward`: Blelloch's work-efficient scan
  (:func:`blelloch_scan`), 2 log2 T levels, each one vectorised NumPy operation over all the
  pairs of that level;
- :func:`log_forward` / :func:`log_backward`: (scan-log), with ``numpy.logaddexp.accumulate``
  for the cumulative log-sum-exp.

:func:`hillis_steele_scan` is the other classic parallel scan: log2 T levels, but T
combines at each (T log2 T in all, where Blelloch's does about 2T).
"""

import numpy as np

from rnnlib._validate import check_array, check_cache

__all__ = [
    "blelloch_scan",
    "combine",
    "hillis_steele_scan",
    "log_backward",
    "log_forward",
    "parallel_backward",
    "parallel_forward",
    "sequential_backward",
    "sequential_forward",
]


def _check_inputs(A, B, h0, names=("A", "B", "h0")):
    """Check A (N, T, H), B like A, h0 (N, H) or None; return them (h0 zeros if None)."""
    A = check_array(names[0], A, ndim=3, dims="N, T, H", nonempty=True)
    N, T, H = A.shape
    B = check_array(names[1], B, shape=(N, T, H), dtype=A.dtype, dims="N, T, H")
    if h0 is None:
        h0 = np.zeros((N, H), dtype=A.dtype)
    h0 = check_array(names[2], h0, shape=(N, H), dtype=A.dtype, dims="N, H")
    return A, B, h0


def _check_grads(cache, dY, dh_T):
    """Check dY (N, T, H) and dh_T (N, H) or None against the cache; return them."""
    N, T, H = cache["Y"].shape
    dtype = cache["Y"].dtype
    dY = check_array("dY", dY, shape=(N, T, H), dtype=dtype, dims="N, T, H")
    if dh_T is None:
        dh_T = np.zeros((N, H), dtype=dtype)
    dh_T = check_array("dh_T", dh_T, shape=(N, H), dtype=dtype, dims="N, H")
    return dY, dh_T


def _input_grads(G, A, Y, h0):
    """(scan-bwd-inputs) from the total gradients G (N, T, H): dA, dB, dh0."""
    H_prev = np.concatenate([h0[:, None], Y[:, :-1]], axis=1)  # (N, T, H): h_{t-1}
    return G * H_prev, G, A[:, 0] * G[:, 0]


# --------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------


def sequential_forward(A, B, h0=None):
    r"""The linear recurrence one step at a time: :math:`h_t = a_t h_{t-1} + b_t`.

    Parameters
    ----------
    A : numpy.ndarray, shape (N, T, H)
        The coefficients :math:`a_t`.
    B : numpy.ndarray, shape (N, T, H)
        The inputs :math:`b_t`, same dtype as ``A``.
    h0 : numpy.ndarray, shape (N, H), or None
        The initial state; None means zeros.

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H)
        The states :math:`h_1, \dots, h_T`.
    h_T : numpy.ndarray, shape (N, H)
        The last state, ``Y[:, -1]``.
    cache : dict
        What :func:`sequential_backward` needs.
    """
    A, B, h0 = _check_inputs(A, B, h0)
    Y = np.empty_like(B)
    h = h0
    for t in range(A.shape[1]):
        h = A[:, t] * h + B[:, t]  # (N, H)
        Y[:, t] = h
    cache = {"made_by": "rnnlib.scan.sequential_forward", "A": A, "h0": h0, "Y": Y}
    return Y, h, cache


def sequential_backward(dY, dh_T, cache):
    r"""Backward through :func:`sequential_forward`, one step at a time (scan-bwd).

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L / \partial h_t` from the outputs at every step.
    dh_T : numpy.ndarray, shape (N, H), or None
        Gradient with respect to the final state from outside; None means zeros.
    cache : dict
        From :func:`sequential_forward`.

    Returns
    -------
    dA, dB : numpy.ndarray, shape (N, T, H)
        Gradients with respect to ``A`` and ``B``.
    dh0 : numpy.ndarray, shape (N, H)
        Gradient with respect to ``h0``.
    """
    check_cache(cache, "rnnlib.scan.sequential_forward", ("A", "h0", "Y"))
    dY, dh_T = _check_grads(cache, dY, dh_T)
    A = cache["A"]
    T = A.shape[1]
    G = np.empty_like(dY)  # (N, T, H): g_t, the total gradient reaching h_t
    g = dY[:, T - 1] + dh_T  # g_T
    G[:, T - 1] = g
    for t in reversed(range(T - 1)):
        g = A[:, t + 1] * g + dY[:, t]  # (scan-bwd)
        G[:, t] = g
    return _input_grads(G, A, cache["Y"], cache["h0"])


# --------------------------------------------------------------------------------------
# Parallel scans
# --------------------------------------------------------------------------------------


def combine(left, right):
    r"""The scan's operator (scan-combine): step ``left``, then step ``right``.

    Parameters
    ----------
    left, right : tuple of two numpy.ndarray of the same shape
        Pairs :math:`(a, b)` and :math:`(a', b')`, each the map :math:`h \mapsto a h + b`.

    Returns
    -------
    tuple of two numpy.ndarray
        :math:`(a' a, a' b + b')`, the map ``h -> right(left(h))``.
    """
    a, b = left
    a2, b2 = right
    return a2 * a, a2 * b + b2


def hillis_steele_scan(A, B):
    r"""Inclusive prefix scan of the pairs (A, B) along time, Hillis and Steele's way.

    At level k (k = 0, 1, ..., ceil(log2 T) - 1) every position t >= 2^k combines with the
    position 2^k steps before it; after the last level position t holds
    :math:`(A_t, B_t)` of (scan-prefix). T combines per level, T log2 T in all.

    Parameters
    ----------
    A, B : numpy.ndarray, shape (N, T, H)
        The pairs :math:`(a_t, b_t)`.

    Returns
    -------
    A_prefix, B_prefix : numpy.ndarray, shape (N, T, H)
        :math:`A_t` and :math:`B_t` of (scan-prefix), so that :math:`h_t = A_t h_0 + B_t`.
    """
    A, B, _ = _check_inputs(A, B, None)
    A, B = A.copy(), B.copy()
    d = 1
    while d < A.shape[1]:
        # Pair t becomes (pair t - d) . (pair t); the right-hand sides use the old values.
        A[:, d:], B[:, d:] = combine((A[:, :-d], B[:, :-d]), (A[:, d:], B[:, d:]))
        d *= 2
    return A, B


def blelloch_scan(A, B):
    r"""Exclusive prefix scan of the pairs (A, B) along time, Blelloch's way.

    T is padded with identity pairs (1, 0) up to a power of two, P. The **up-sweep** builds a
    balanced tree of partial products in place: at level d = 1, 2, 4, ..., P/2 the pair at
    every position i = 2d-1, 4d-1, ... becomes (pair i - d) . (pair i), so position i holds
    the product of the 2d pairs ending there. The **down-sweep** sets the last position to
    the identity and walks back down: at d = P/2, ..., 2, 1 each right child receives
    (its parent's prefix) . (its left sibling's product), and each left child its parent's
    prefix. About 2P combines in 2 log2 P levels.

    Parameters
    ----------
    A, B : numpy.ndarray, shape (N, T, H)
        The pairs :math:`(a_t, b_t)`.

    Returns
    -------
    A_before, B_before : numpy.ndarray, shape (N, T, H)
        Position t holds :math:`(A_{t-1}, B_{t-1})`, the product of the pairs *before* t
        (the identity at t = 1), so that :math:`h_{t-1} = A_{t-1} h_0 + B_{t-1}`.
    """
    A, B, _ = _check_inputs(A, B, None)
    N, T, H = A.shape
    P = 1 << (T - 1).bit_length()  # the power of two >= T
    a = np.ones((N, P, H), dtype=A.dtype)  # identity pairs pad the end
    b = np.zeros((N, P, H), dtype=A.dtype)
    a[:, :T], b[:, :T] = A, B
    d = 1
    while d < P:  # up-sweep
        left, right = slice(d - 1, None, 2 * d), slice(2 * d - 1, None, 2 * d)
        a[:, right], b[:, right] = combine((a[:, left], b[:, left]), (a[:, right], b[:, right]))
        d *= 2
    a[:, -1], b[:, -1] = 1, 0  # the prefix before everything is the identity
    d = P // 2
    while d >= 1:  # down-sweep
        left, right = slice(d - 1, None, 2 * d), slice(2 * d - 1, None, 2 * d)
        sibling = a[:, left].copy(), b[:, left].copy()  # (N, P/2d, H) each
        a[:, left], b[:, left] = a[:, right], b[:, right]
        a[:, right], b[:, right] = combine((a[:, right], b[:, right]), sibling)
        d //= 2
    return a[:, :T], b[:, :T]


def parallel_forward(A, B, h0=None):
    r"""The linear recurrence by Blelloch's scan; same arguments and results as the loop.

    Parameters
    ----------
    A : numpy.ndarray, shape (N, T, H)
        The coefficients :math:`a_t`.
    B : numpy.ndarray, shape (N, T, H)
        The inputs :math:`b_t`, same dtype as ``A``.
    h0 : numpy.ndarray, shape (N, H), or None
        The initial state; None means zeros.

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H)
        The states :math:`h_1, \dots, h_T`.
    h_T : numpy.ndarray, shape (N, H)
        The last state.
    cache : dict
        What :func:`parallel_backward` needs.

    Notes
    -----
    :func:`blelloch_scan` gives :math:`h_{t-1} = A_{t-1} h_0 + B_{t-1}` (scan-prefix) for
    every t at once; one more elementwise step gives :math:`h_t = a_t h_{t-1} + b_t`.
    """
    A, B, h0 = _check_inputs(A, B, h0)
    A_before, B_before = blelloch_scan(A, B)
    H_prev = A_before * h0[:, None] + B_before  # (N, T, H): h_{t-1}
    Y = A * H_prev + B
    cache = {"made_by": "rnnlib.scan.parallel_forward", "A": A, "h0": h0, "Y": Y}
    return Y, Y[:, -1], cache


def _reverse_time_gradients(A, dY, dh_T):
    """(scan-bwd) for all t by one scan: flip time, shift the coefficients by one step."""
    N, T, H = A.shape
    # In reversed time s = T - t the recurrence is g <- a_{t+1} g + dY_t, starting from dh_T
    # with coefficient 1 (nothing multiplies dh_T on its way into g_T).
    C = np.concatenate([np.ones((N, 1, H), dtype=A.dtype), A[:, :0:-1]], axis=1)
    C_before, D_before = blelloch_scan(C, dY[:, ::-1])
    G_reversed = C * (C_before * dh_T[:, None] + D_before) + dY[:, ::-1]
    return G_reversed[:, ::-1]  # (N, T, H): g_t


def parallel_backward(dY, dh_T, cache):
    r"""Backward through :func:`parallel_forward`: (scan-bwd) as a reverse-time scan.

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L / \partial h_t` from the outputs at every step.
    dh_T : numpy.ndarray, shape (N, H), or None
        Gradient with respect to the final state from outside; None means zeros.
    cache : dict
        From :func:`parallel_forward`.

    Returns
    -------
    dA, dB : numpy.ndarray, shape (N, T, H)
        Gradients with respect to ``A`` and ``B``.
    dh0 : numpy.ndarray, shape (N, H)
        Gradient with respect to ``h0``.

    Notes
    -----
    Reading time backwards, :math:`g_t = a_{t+1} g_{t+1} + \bar y_t` is the forward
    recurrence with coefficients :math:`(1, a_T, a_{T-1}, \dots, a_2)`, inputs
    :math:`(\bar y_T, \dots, \bar y_1)` and initial state :math:`\bar h_T`; one
    :func:`blelloch_scan` gives every :math:`g_t`, then (scan-bwd-inputs).
    """
    check_cache(cache, "rnnlib.scan.parallel_forward", ("A", "h0", "Y"))
    dY, dh_T = _check_grads(cache, dY, dh_T)
    G = _reverse_time_gradients(cache["A"], dY, dh_T)
    return _input_grads(G, cache["A"], cache["Y"], cache["h0"])


# --------------------------------------------------------------------------------------
# Log space
# --------------------------------------------------------------------------------------


def log_forward(log_A, log_B, log_h0=None):
    r"""The linear recurrence for positive coefficients, in log space (scan-log).

    Parameters
    ----------
    log_A : numpy.ndarray, shape (N, T, H)
        :math:`\log a_t` (any real numbers: :math:`a_t > 0`).
    log_B : numpy.ndarray, shape (N, T, H)
        :math:`\log b_t` (-inf allowed: :math:`b_t = 0`).
    log_h0 : numpy.ndarray, shape (N, H), or None
        :math:`\log h_0`; None means :math:`h_0 = 0` (log -inf).

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H)
        The states :math:`h_t = \exp(\log h_t)`, positive.
    h_T : numpy.ndarray, shape (N, H)
        The last state.
    cache : dict
        What :func:`log_backward` needs.

    Notes
    -----
    :math:`\lambda_t` is ``numpy.cumsum`` of ``log_A`` over time and the cumulative
    log-sum-exp is ``numpy.logaddexp.accumulate``; both are single NumPy calls, loops in C.
    """
    log_A = check_array("log_A", log_A, ndim=3, dims="N, T, H", nonempty=True)
    N, T, H = log_A.shape
    log_B = check_array("log_B", log_B, shape=(N, T, H), dtype=log_A.dtype, dims="N, T, H",
                        finite=False)
    if np.isnan(log_B).any() or np.isposinf(log_B).any():
        raise ValueError("log_B: expected real numbers or -inf (b_t = 0), got NaN or +inf")
    if log_h0 is None:
        log_h0 = np.full((N, H), -np.inf, dtype=log_A.dtype)
    log_h0 = check_array("log_h0", log_h0, shape=(N, H), dtype=log_A.dtype, dims="N, H",
                         finite=False)
    if np.isnan(log_h0).any() or np.isposinf(log_h0).any():
        raise ValueError("log_h0: expected real numbers or -inf (h0 = 0), got NaN or +inf")
    lam = np.cumsum(log_A, axis=1)  # (N, T, H): lambda_t = sum_{k<=t} log a_k
    lam0 = np.concatenate([np.zeros((N, 1, H), dtype=log_A.dtype), lam], axis=1)
    log_values = np.concatenate([log_h0[:, None], log_B], axis=1)  # (N, T+1, H): b_0 = h0
    log_Y = lam + np.logaddexp.accumulate(log_values - lam0, axis=1)[:, 1:]  # (scan-log)
    Y = np.exp(log_Y)
    cache = {"made_by": "rnnlib.scan.log_forward", "A": np.exp(log_A), "B": np.exp(log_B),
             "h0": np.exp(log_h0), "Y": Y}
    return Y, Y[:, -1], cache


def log_backward(dY, dh_T, cache):
    r"""Backward through :func:`log_forward`.

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L / \partial h_t` (with respect to the states, not their logs).
    dh_T : numpy.ndarray, shape (N, H), or None
        Gradient with respect to the final state from outside; None means zeros.
    cache : dict
        From :func:`log_forward`.

    Returns
    -------
    dlog_A, dlog_B : numpy.ndarray, shape (N, T, H)
        Gradients with respect to ``log_A`` and ``log_B``.
    dh0 : numpy.ndarray, shape (N, H)
        Gradient with respect to :math:`h_0` itself (that with respect to ``log_h0`` is
        ``h0 * dh0``; returning this one keeps it finite at :math:`h_0 = 0`).

    Notes
    -----
    :math:`\overline{\log a_t} = a_t\, g_t\, h_{t-1}` and :math:`\overline{\log b_t} = b_t\,
    g_t`, with :math:`g_t` from the reverse-time scan of :func:`parallel_backward`.
    """
    check_cache(cache, "rnnlib.scan.log_forward", ("A", "B", "h0", "Y"))
    dY, dh_T = _check_grads(cache, dY, dh_T)
    A, B = cache["A"], cache["B"]
    G = _reverse_time_gradients(A, dY, dh_T)
    dA, dB, dh0 = _input_grads(G, A, cache["Y"], cache["h0"])
    return A * dA, B * dB, dh0
