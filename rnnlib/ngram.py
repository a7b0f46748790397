r"""Reading a language model's loss: units, and the n-gram baselines to compare it with.

A character model's loss is a cross-entropy in nats per character. The same number in bits
(:func:`bits_per_character`) is the length of the code the model would give the text, and
its exponential (:func:`perplexity`) the number of equally likely characters the model is,
on average, choosing between. A loss means little alone; the baselines here say what is
learned by counting: :func:`ngram_model` estimates
:math:`p(c_t \mid c_{t-n+1}, \dots, c_{t-1})` from counts with add-:math:`\alpha`
smoothing, :func:`ngram_cross_entropy` scores a text with it.

Letters: V the vocabulary size, n the order (1 unigram, 2 bigram, 3 trigram).
"""

import numpy as np

from rnnlib._validate import check_number, check_positive_int

__all__ = [
    "bits_per_character",
    "ngram_counts",
    "ngram_cross_entropy",
    "ngram_model",
    "perplexity",
]


def bits_per_character(nats):
    r"""A cross-entropy in nats, in bits: :math:`\text{bpc} = \text{nats} / \ln 2`.

    Parameters
    ----------
    nats : float or numpy.ndarray

    Returns
    -------
    float or numpy.ndarray
    """
    bits = np.asarray(nats, dtype=float) / np.log(2)
    return float(bits) if bits.ndim == 0 else bits


def perplexity(nats):
    r"""The perplexity of a cross-entropy in nats: :math:`e^{\text{nats}} = 2^{\text{bpc}}`.

    Parameters
    ----------
    nats : float or numpy.ndarray

    Returns
    -------
    float or numpy.ndarray
        A uniform guess among V symbols has perplexity V.
    """
    value = np.exp(np.asarray(nats, dtype=float))
    return float(value) if value.ndim == 0 else value


def _check_ids(name, ids, V):
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{name}: expected a 1-d integer array (L,), got shape {ids.shape}, "
                         f"dtype {ids.dtype}")
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        raise ValueError(f"{name}: expected ids in [0, {V}), got {ids.min()}..{ids.max()}")
    return ids


def ngram_counts(ids, n, V):
    """How often each n-gram occurs in a text.

    Parameters
    ----------
    ids : numpy.ndarray of int, shape (L,)
        The text as ids in [0, V).
    n : int
        The order, 1 <= n <= 4 (the table has V**n entries).
    V : int
        The vocabulary size.

    Returns
    -------
    numpy.ndarray of int64, shape (V,) * n
        ``counts[a, b, c]`` is the number of positions t with ``ids[t-2:t+1] == [a, b, c]``
        (for n = 3).
    """
    n = check_positive_int("n", n)
    V = check_positive_int("V", V)
    if n > 4:
        raise ValueError(f"n: expected 1 <= n <= 4, got {n}")
    ids = _check_ids("ids", ids, V)
    if ids.size < n:
        raise ValueError(f"ids: expected at least n = {n} ids, got {ids.size}")
    index = np.zeros(ids.size - n + 1, dtype=np.int64)
    for j in range(n):  # the n-gram starting at t, as one number in base V
        index = index * V + ids[j : ids.size - n + 1 + j]
    return np.bincount(index, minlength=V**n).reshape((V,) * n)


def ngram_model(ids, n, V, alpha=0.1):
    r"""Conditional next-symbol probabilities from counts, with add-:math:`\alpha` smoothing.

    Parameters
    ----------
    ids : numpy.ndarray of int, shape (L,)
        The training text.
    n : int
        The order: 1 counts single symbols, 2 pairs, 3 triples.
    V : int
    alpha : float, default 0.1
        :math:`\alpha > 0`, the pseudo-count added to every n-gram, so that no symbol has
        probability 0 after any context.

    Returns
    -------
    numpy.ndarray of float64, shape (V,) * n
        ``P[a, b, c]`` is :math:`p(c \mid a, b)`; it sums to 1 over the last axis.

    Notes
    -----
    With :math:`C(\cdot)` the counts of the training text,

    .. math:: p(c_t \mid c_{t-n+1:t-1}) = \big(C(c_{t-n+1:t}) + \alpha\big)
       \big/ \big(\textstyle\sum_{v} C(c_{t-n+1:t-1}, v) + \alpha V\big)
       \qquad\text{(add-alpha)}

    A context never seen gets the uniform distribution.
    """
    alpha = check_number("alpha", alpha, low=0.0)
    counts = ngram_counts(ids, n, V) + alpha  # (V,) * n
    return counts / counts.sum(axis=-1, keepdims=True)


def ngram_cross_entropy(P, ids, start=None):
    r"""The mean cross-entropy, in nats per symbol, of an n-gram model on a text.

    Parameters
    ----------
    P : numpy.ndarray, shape (V,) * n
        From :func:`ngram_model`.
    ids : numpy.ndarray of int, shape (L,)
        The text to score.
    start : int, optional
        The first position scored, at least n - 1 (the first with a full context);
        default n - 1. Give the same ``start`` to compare models of different orders on
        the same symbols.

    Returns
    -------
    float
        :math:`-(L - s)^{-1} \sum_{t=s}^{L-1} \ln p(c_t \mid c_{t-n+1:t-1})`.
    """
    P = np.asarray(P, dtype=float)
    n, V = P.ndim, P.shape[0]
    if n < 1 or any(size != V for size in P.shape):
        raise ValueError(f"P: expected shape (V,) * n, got {P.shape}")
    ids = _check_ids("ids", ids, V)
    start = n - 1 if start is None else int(start)
    if start < n - 1 or start >= ids.size:
        raise ValueError(f"start: expected {n - 1} <= start < {ids.size}, got {start}")
    positions = np.arange(start, ids.size)  # (L - s,)
    context = tuple(ids[positions - (n - 1) + j] for j in range(n))
    return float(-np.mean(np.log(P[context])))
