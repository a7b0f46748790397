r"""Attention over an encoder's states: additive (Bahdanau) and multiplicative (Luong).

Dimension letters: N batch, T source steps, H decoder state (the query), E encoder state
(the keys and values; 2H' for a bidirectional encoder of hidden size H'), A the width of
the additive attention's hidden layer.

At every decoder step a query :math:`s` (N, H), the decoder's state, is compared with each
encoder state :math:`h_j` (N, T, E); the scores become weights that sum to one over the
source steps that the mask keeps, and the context is the weighted mean of the encoder
states:

.. math::

    e_j = \operatorname{score}(s, h_j)                          \qquad \text{(att-score)}

    \alpha_j = \frac{m_j \exp e_j}{\sum_k m_k \exp e_k}         \qquad \text{(att-weights)}

    c = \textstyle\sum_j \alpha_j h_j                           \qquad \text{(att-context)}

with :math:`m_j \in \{0, 1\}` the source mask (0 on padding). Two scores:

.. math::

    \text{additive:}\quad e_j = v^\top \tanh(s W_q + h_j W_k + b)  \qquad \text{(att-additive)}

    \text{multiplicative:}\quad e_j = s\, W\, h_j^\top              \qquad \text{(att-general)}

The additive score is Bahdanau, Cho and Bengio's (2015) one-hidden-layer network; the
multiplicative one is Luong, Pham and Manning's (2015) "general" score (their "dot" score
is :math:`W = I`). Backward, with :math:`\bar c` the gradient reaching the context:

.. math::

    \bar\alpha_j = \bar c \cdot h_j, \qquad
    \bar h_j \mathrel{+}= \alpha_j \bar c                        \qquad \text{(att-bwd-context)}

    \bar e_j = \alpha_j \big(\bar\alpha_j - \textstyle\sum_k \alpha_k \bar\alpha_k\big)
                                                                 \qquad \text{(att-bwd-softmax)}

and then through the score: for the additive one, with :math:`u_j = \tanh(\cdot)` (N, T, A)
and :math:`\bar p_j = \bar e_j\, v \odot (1 - u_j^2)`,

.. math::

    \bar v = \textstyle\sum_{n, j} \bar e_j u_j, \quad
    \bar s = \big(\textstyle\sum_j \bar p_j\big) W_q^\top, \quad
    \bar h_j \mathrel{+}= \bar p_j W_k^\top, \quad
    \bar W_q = \textstyle\sum_n s^\top \sum_j \bar p_j, \quad
    \bar W_k = \textstyle\sum_{n, j} h_j^\top \bar p_j             \qquad \text{(att-bwd-additive)}

(and :math:`\bar b = \sum_{n,j} \bar p_j`); for the multiplicative one

.. math::

    \bar s = \textstyle\sum_j \bar e_j\, h_j W^\top, \quad
    \bar h_j \mathrel{+}= \bar e_j\, s W, \quad
    \bar W = \textstyle\sum_n s^\top \sum_j \bar e_j h_j           \qquad \text{(att-bwd-general)}

A masked step has :math:`\alpha_j = 0`, so it gets no gradient from the weights (its
:math:`\bar e_j = 0`) and none from the context.

In every function the lines before the first equation only check the arguments.
"""

import numpy as np

from rnnlib._validate import (
    check_array,
    check_cache,
    check_params,
    check_positive_int,
    resolve_dtype,
    resolve_rng,
)

__all__ = [
    "SCORES",
    "additive_backward",
    "additive_forward",
    "init_additive",
    "init_multiplicative",
    "masked_softmax",
    "masked_softmax_backward",
    "multiplicative_backward",
    "multiplicative_forward",
]

#: The two scores, by name: the one registry :mod:`rnnlib.seq2seq` looks them up in.
SCORES = ("additive", "multiplicative")


def init_additive(query_size, key_size, attention_size, *, rng=None, dtype=np.float64):
    r"""Initial parameters of additive attention, uniform in :math:`[-1/\sqrt{A}, 1/\sqrt{A}]`.

    Parameters
    ----------
    query_size : int
        H, the size of the query (the decoder's state).
    key_size : int
        E, the size of each encoder state.
    attention_size : int
        A, the width of the score's hidden layer.
    rng : numpy.random.Generator, int or None, optional
    dtype : {numpy.float64, numpy.float32}, optional

    Returns
    -------
    params : dict
        ``"W_q"`` (H, A), ``"W_k"`` (E, A), ``"b"`` (A,) and ``"v"`` (A,).
    """
    H = check_positive_int("query_size", query_size)
    E = check_positive_int("key_size", key_size)
    A = check_positive_int("attention_size", attention_size)
    rng, dtype = resolve_rng(rng), resolve_dtype(dtype)
    k = 1.0 / np.sqrt(A)
    return {
        "W_q": rng.uniform(-k, k, (H, A)).astype(dtype),
        "W_k": rng.uniform(-k, k, (E, A)).astype(dtype),
        "b": np.zeros(A, dtype=dtype),
        "v": rng.uniform(-k, k, (A,)).astype(dtype),
    }


def init_multiplicative(query_size, key_size, *, rng=None, dtype=np.float64):
    r"""Initial parameters of multiplicative attention, uniform in :math:`\pm 1/\sqrt{E}`.

    Parameters
    ----------
    query_size : int
        H, the size of the query.
    key_size : int
        E, the size of each encoder state.
    rng : numpy.random.Generator, int or None, optional
    dtype : {numpy.float64, numpy.float32}, optional

    Returns
    -------
    params : dict
        ``"W"`` (H, E).
    """
    H = check_positive_int("query_size", query_size)
    E = check_positive_int("key_size", key_size)
    rng, dtype = resolve_rng(rng), resolve_dtype(dtype)
    k = 1.0 / np.sqrt(E)
    return {"W": rng.uniform(-k, k, (H, E)).astype(dtype)}


def _check_inputs(s, enc, mask):
    """Check query, encoder states and mask; return them with the mask as bool (N, T)."""
    s = check_array("s", s, ndim=2, dims="N, H", nonempty=True)
    N = s.shape[0]
    enc = check_array("enc", enc, shape=(N, None, None), dtype=s.dtype, dims="N, T, E",
                      nonempty=True)
    T = enc.shape[1]
    if mask is None:
        return s, enc, np.ones((N, T), dtype=bool)
    mask = np.asarray(mask)
    if mask.shape != (N, T) or mask.dtype != bool:
        raise ValueError(f"mask: expected a bool array of shape (N, T) = {(N, T)}, got "
                         f"{mask.dtype} of shape {mask.shape}")
    if not mask.any(axis=1).all():
        raise ValueError("mask: every row must keep at least one source step, got a row "
                         f"of zeros (row {int(np.flatnonzero(~mask.any(axis=1))[0])})")
    return s, enc, mask


def masked_softmax(scores, mask):
    r"""Attention weights (att-weights): softmax over the kept source steps, 0 elsewhere.

    Parameters
    ----------
    scores : numpy.ndarray, shape (N, T)
        The scores :math:`e_j`.
    mask : numpy.ndarray of bool, shape (N, T)
        True where a source step counts; every row keeps at least one.

    Returns
    -------
    alpha : numpy.ndarray, shape (N, T)
        Non-negative, zero where the mask is False, each row summing to 1.
    """
    e = np.where(mask, scores, -np.inf)  # (N, T)
    e = np.exp(e - e.max(axis=1, keepdims=True))  # exp(-inf) = 0 on masked steps
    return e / e.sum(axis=1, keepdims=True)


def masked_softmax_backward(dalpha, alpha):
    r"""Backward of :func:`masked_softmax` (att-bwd-softmax).

    Parameters
    ----------
    dalpha : numpy.ndarray, shape (N, T)
        Gradient with respect to the weights.
    alpha : numpy.ndarray, shape (N, T)
        The weights :func:`masked_softmax` returned.

    Returns
    -------
    dscores : numpy.ndarray, shape (N, T)
        Gradient with respect to the scores; 0 on masked steps, where alpha is 0.
    """
    return alpha * (dalpha - (alpha * dalpha).sum(axis=1, keepdims=True))


def additive_forward(s, enc, params, mask=None):
    r"""Additive attention (att-additive), (att-weights), (att-context).

    Parameters
    ----------
    s : numpy.ndarray, shape (N, H)
        The query, the decoder's state.
    enc : numpy.ndarray, shape (N, T, E)
        The encoder's states, keys and values at once.
    params : dict
        ``"W_q"`` (H, A), ``"W_k"`` (E, A), ``"b"`` (A,), ``"v"`` (A,).
    mask : numpy.ndarray of bool, shape (N, T), optional
        False on padded source steps; None keeps every step.

    Returns
    -------
    context : numpy.ndarray, shape (N, E)
        :math:`c = \sum_j \alpha_j h_j`.
    alpha : numpy.ndarray, shape (N, T)
        The attention weights.
    cache : dict
        What :func:`additive_backward` needs.
    """
    s, enc, mask = _check_inputs(s, enc, mask)
    H, E = s.shape[1], enc.shape[2]
    A = params["v"].shape[0] if isinstance(params, dict) and "v" in params else None
    check_params(params, {"W_q": ((H, A), "H, A"), "W_k": ((E, A), "E, A"),
                          "b": ((A,), "A"), "v": ((A,), "A")}, s.dtype)

    q = s @ params["W_q"]  # (N, A)
    u = np.tanh(q[:, None, :] + enc @ params["W_k"] + params["b"])  # (N, T, A)
    scores = u @ params["v"]  # (N, T)                             (att-additive)
    alpha = masked_softmax(scores, mask)  # (N, T)                 (att-weights)
    context = np.einsum("nt,nte->ne", alpha, enc)  # (N, E)        (att-context)
    cache = {"made_by": "rnnlib.attention.additive_forward", "s": s, "enc": enc,
             "u": u, "alpha": alpha, "params": params}
    return context, alpha, cache


def additive_backward(dcontext, cache):
    r"""Backward of :func:`additive_forward` (att-bwd-context), (att-bwd-softmax),
    (att-bwd-additive).

    Parameters
    ----------
    dcontext : numpy.ndarray, shape (N, E)
        Gradient with respect to the context.
    cache : dict
        From :func:`additive_forward`.

    Returns
    -------
    ds : numpy.ndarray, shape (N, H)
        Gradient with respect to the query.
    denc : numpy.ndarray, shape (N, T, E)
        Gradient with respect to the encoder's states (via the context and the score).
    grads : dict
        Same keys and shapes as the parameters.
    """
    check_cache(cache, "rnnlib.attention.additive_forward",
                ("s", "enc", "u", "alpha", "params"))
    s, enc, u = cache["s"], cache["enc"], cache["u"]
    alpha, params = cache["alpha"], cache["params"]
    N, T, E = enc.shape
    dcontext = check_array("dcontext", dcontext, shape=(N, E), dtype=s.dtype,
                           dims="N, E")

    dalpha = np.einsum("ne,nte->nt", dcontext, enc)  # (N, T)   (att-bwd-context)
    denc = alpha[:, :, None] * dcontext[:, None, :]  # (N, T, E)
    dscores = masked_softmax_backward(dalpha, alpha)  # (N, T)  (att-bwd-softmax)
    dP = dscores[:, :, None] * params["v"] * (1 - u**2)  # (N, T, A): via v, tanh
    dq = dP.sum(axis=1)  # (N, A): q was added at every source step
    denc += dP @ params["W_k"].T  # (N, T, E)                    (att-bwd-additive)
    grads = {
        "W_q": s.T @ dq,  # (H, A)
        "W_k": np.einsum("nte,nta->ea", enc, dP),  # (E, A)
        "b": dP.sum(axis=(0, 1)),  # (A,)
        "v": np.einsum("nt,nta->a", dscores, u),  # (A,)
    }
    return dq @ params["W_q"].T, denc, grads


def multiplicative_forward(s, enc, params, mask=None):
    r"""Multiplicative ("general") attention (att-general), (att-weights), (att-context).

    Parameters
    ----------
    s : numpy.ndarray, shape (N, H)
        The query, the decoder's state.
    enc : numpy.ndarray, shape (N, T, E)
        The encoder's states.
    params : dict
        ``"W"`` (H, E).
    mask : numpy.ndarray of bool, shape (N, T), optional
        False on padded source steps; None keeps every step.

    Returns
    -------
    context : numpy.ndarray, shape (N, E)
    alpha : numpy.ndarray, shape (N, T)
    cache : dict
        What :func:`multiplicative_backward` needs.
    """
    s, enc, mask = _check_inputs(s, enc, mask)
    H, E = s.shape[1], enc.shape[2]
    check_params(params, {"W": ((H, E), "H, E")}, s.dtype)

    sW = s @ params["W"]  # (N, E): the query moved into the encoder's space
    scores = np.einsum("ne,nte->nt", sW, enc)  # (N, T)              (att-general)
    alpha = masked_softmax(scores, mask)  # (N, T)                     (att-weights)
    context = np.einsum("nt,nte->ne", alpha, enc)  # (N, E)            (att-context)
    cache = {"made_by": "rnnlib.attention.multiplicative_forward", "s": s, "enc": enc,
             "sW": sW, "alpha": alpha, "params": params}
    return context, alpha, cache


def multiplicative_backward(dcontext, cache):
    r"""Backward of :func:`multiplicative_forward`.

    (att-bwd-context), (att-bwd-softmax), (att-bwd-general).

    Parameters
    ----------
    dcontext : numpy.ndarray, shape (N, E)
        Gradient with respect to the context.
    cache : dict
        From :func:`multiplicative_forward`.

    Returns
    -------
    ds : numpy.ndarray, shape (N, H)
    denc : numpy.ndarray, shape (N, T, E)
    grads : dict
        ``"W"`` (H, E).
    """
    check_cache(cache, "rnnlib.attention.multiplicative_forward",
                ("s", "enc", "sW", "alpha", "params"))
    s, enc, sW = cache["s"], cache["enc"], cache["sW"]
    alpha, params = cache["alpha"], cache["params"]
    N, T, E = enc.shape
    dcontext = check_array("dcontext", dcontext, shape=(N, E), dtype=s.dtype,
                           dims="N, E")

    dalpha = np.einsum("ne,nte->nt", dcontext, enc)  # (N, T)   (att-bwd-context)
    denc = alpha[:, :, None] * dcontext[:, None, :]  # (N, T, E)
    dscores = masked_softmax_backward(dalpha, alpha)  # (N, T)  (att-bwd-softmax)
    dsW = np.einsum("nt,nte->ne", dscores, enc)  # (N, E)        (att-bwd-general)
    denc += dscores[:, :, None] * sW[:, None, :]  # (N, T, E)
    return dsW @ params["W"].T, denc, {"W": s.T @ dsW}
