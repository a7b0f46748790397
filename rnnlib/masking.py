r"""Batches of sequences of different lengths: padding, masks, the last valid step, sorting.

A batch array (N, T, D) needs every sequence to have T steps. Sequences of lengths
:math:`T_n \le T` are **padded** at the end; a **mask**
:math:`m_{nt} = [\,t < T_n\,]` (steps counted from 0) says which steps are real:

.. math::

    m_{nt} = \begin{cases} 1 & t < T_n \\ 0 & t \ge T_n \end{cases}
                                                                   \qquad \text{(mask-def)}

The losses of :mod:`rnnlib.losses` take such a mask and average over the real steps only,

.. math::

    L = \frac{1}{\sum_{n,t} m_{nt}} \sum_{n,t} m_{nt}\, \ell(o_{nt}, y_{nt}),
    \qquad \frac{\partial L}{\partial o_{nt}} = 0 \text{ where } m_{nt} = 0
                                                                   \qquad \text{(mask-loss)}

Because the cells run forwards in time, padding at the end changes nothing that comes
before it: the outputs at real steps are those of the unpadded sequence, and, since no loss
looks at a padded step and no later step is real, the gradient reaching every padded step
is exactly zero, so padded steps add exactly nothing to :math:`\bar W` (book, equation
``rnn-grads``). A **many-to-one** head must read the state after the last real step,
:math:`h_{n, T_n - 1}` (:func:`last_valid`), not :math:`h_{n, T-1}`, which has read the
padding too; its backward pass puts the gradient at that step (:func:`last_valid_backward`).

Padding costs work: a batch computes :math:`N \max_n T_n` steps for :math:`\sum_n T_n` real
ones. Putting sequences of similar lengths in the same batch (:func:`length_batches`) and
cutting each batch at its longest sequence (:func:`trim_to_longest`) removes most of it;
:func:`padding_cost` counts what remains.

Dimension letters: N batch, T time (the longest length), D input, H hidden.
"""

import numpy as np

from rnnlib._validate import check_array, check_positive_int, resolve_dtype, resolve_rng

__all__ = [
    "last_valid",
    "last_valid_backward",
    "last_valid_loss_and_grads",
    "length_batches",
    "length_mask",
    "pad_sequences",
    "padding_cost",
    "sort_by_length",
    "trim_to_longest",
]


def _check_lengths(lengths, T=None):
    """Lengths as an int array (N,), each in [1, T]."""
    if not isinstance(lengths, np.ndarray):
        lengths = np.asarray(lengths)
    if lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(
            f"lengths: expected a 1-d integer array of shape (N,), got dtype "
            f"{lengths.dtype} and shape {lengths.shape}"
        )
    if lengths.size and lengths.min() < 1:
        raise ValueError(f"lengths: expected every length >= 1, got {lengths.min()}")
    if T is not None and lengths.size and lengths.max() > T:
        raise ValueError(
            f"lengths: expected every length <= T = {T} (the padded length), got "
            f"{lengths.max()}"
        )
    return lengths.astype(np.int64)


def pad_sequences(sequences, *, value=0.0, dtype=None):
    """Stack sequences of different lengths into one batch, padded at the end.

    Parameters
    ----------
    sequences : list of numpy.ndarray, each of shape (T_n, D)
        N sequences with the same D, each at least one step long.
    value : float, default 0.0
        What the padded steps hold (nothing computed from real steps depends on it).
    dtype : {numpy.float64, numpy.float32}, optional
        Default: that of the first sequence.

    Returns
    -------
    X : numpy.ndarray, shape (N, T, D)
        ``X[n, :T_n]`` is ``sequences[n]``, the rest is ``value``; T is the longest length.
    lengths : numpy.ndarray of int64, shape (N,)
        :math:`T_n`.
    """
    if not isinstance(sequences, (list, tuple)) or not sequences:
        raise ValueError("sequences: expected a non-empty list of arrays of shape (T_n, D)")
    first = check_array("sequences[0]", sequences[0], ndim=2, dims="T_n, D", nonempty=True)
    dtype = first.dtype if dtype is None else resolve_dtype(dtype)
    D = first.shape[1]
    for n, seq in enumerate(sequences):
        check_array(f"sequences[{n}]", seq, shape=(None, D), dims="T_n, D", nonempty=True)
    lengths = np.array([len(seq) for seq in sequences], dtype=np.int64)
    X = np.full((len(sequences), int(lengths.max()), D), value, dtype=dtype)  # (N, T, D)
    for n, seq in enumerate(sequences):
        X[n, : len(seq)] = seq
    return X, lengths


def length_mask(lengths, T=None):
    r"""The mask of the real steps (mask-def).

    Parameters
    ----------
    lengths : numpy.ndarray of int, shape (N,)
        :math:`T_n`, each between 1 and T.
    T : int, optional
        The padded length; default the longest length.

    Returns
    -------
    mask : numpy.ndarray of bool, shape (N, T)
        ``mask[n, t]`` is True exactly when :math:`t < T_n`.
    """
    lengths = _check_lengths(lengths)
    T = int(lengths.max()) if T is None else check_positive_int("T", T)
    lengths = _check_lengths(lengths, T)
    return np.arange(T)[None, :] < lengths[:, None]  # (1, T) < (N, 1) -> (N, T)


def last_valid(Y, lengths):
    r"""The output at each sequence's last real step, :math:`h_{n, T_n - 1}`.

    Parameters
    ----------
    Y : numpy.ndarray, shape (N, T, H)
        Outputs of a cell (or of a stack) at every step of a padded batch.
    lengths : numpy.ndarray of int, shape (N,)

    Returns
    -------
    numpy.ndarray, shape (N, H)
        ``Y[n, lengths[n] - 1]``. It equals the final state of a one-way cell run on the
        unpadded sequence (for the LSTM, its output :math:`h`, not its memory :math:`s`).
    """
    Y = check_array("Y", Y, ndim=3, dims="N, T, H")
    N, T, _ = Y.shape
    lengths = _check_lengths(lengths, T)
    if lengths.shape != (N,):
        raise ValueError(f"lengths: expected shape (N,) = ({N},), got {lengths.shape}")
    return Y[np.arange(N), lengths - 1]  # (N, H)


def last_valid_backward(dlast, lengths, T):
    r"""Backward pass of :func:`last_valid`: the gradient at every step.

    Parameters
    ----------
    dlast : numpy.ndarray, shape (N, H)
        Gradient of the loss with respect to ``last_valid(Y, lengths)``.
    lengths : numpy.ndarray of int, shape (N,)
    T : int
        The padded length of ``Y``.

    Returns
    -------
    dY : numpy.ndarray, shape (N, T, H)
        ``dlast[n]`` at step ``lengths[n] - 1`` of sequence n, zero everywhere else.
    """
    dlast = check_array("dlast", dlast, ndim=2, dims="N, H")
    N, H = dlast.shape
    T = check_positive_int("T", T)
    lengths = _check_lengths(lengths, T)
    if lengths.shape != (N,):
        raise ValueError(f"lengths: expected shape (N,) = ({N},), got {lengths.shape}")
    dY = np.zeros((N, T, H), dtype=dlast.dtype)
    dY[np.arange(N), lengths - 1] = dlast
    return dY


def sort_by_length(lengths, *, descending=True):
    """The order that sorts sequences by length (stable: ties keep their order).

    Parameters
    ----------
    lengths : numpy.ndarray of int, shape (N,)
    descending : bool, default True
        Longest first, the order ``torch.nn.utils.rnn.pack_padded_sequence`` expects with
        ``enforce_sorted=True``.

    Returns
    -------
    order : numpy.ndarray of int64, shape (N,)
        ``lengths[order]`` is sorted.
    """
    lengths = _check_lengths(lengths)
    key = -lengths if descending else lengths
    return np.argsort(key, kind="stable")


def length_batches(lengths, batch_size, *, by_length=True, rng=None):
    """Split sequence indices into batches, optionally of similar lengths.

    Parameters
    ----------
    lengths : numpy.ndarray of int, shape (N,)
    batch_size : int
        Sequences per batch (the last batch may be smaller).
    by_length : bool, default True
        Sort by length first, so each batch holds sequences of similar lengths
        ("bucketing"); False splits a random permutation.
    rng : numpy.random.Generator, int or None, optional
        Shuffles the order of the batches (and, with ``by_length=False``, the sequences).

    Returns
    -------
    list of numpy.ndarray of int64
        The indices of each batch; together they are every index once.
    """
    lengths = _check_lengths(lengths)
    batch_size = check_positive_int("batch_size", batch_size)
    rng = resolve_rng(rng)
    if by_length:
        order = sort_by_length(lengths, descending=False)
    else:
        order = rng.permutation(len(lengths))
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[k] for k in rng.permutation(len(batches))]


def trim_to_longest(X, lengths):
    """Cut a padded batch at its longest sequence.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
    lengths : numpy.ndarray of int, shape (N,)

    Returns
    -------
    numpy.ndarray, shape (N, max(lengths), D)
        A view of ``X[:, :max(lengths)]``: the steps after it are padding for every
        sequence, so nothing real is lost.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D")
    lengths = _check_lengths(lengths, X.shape[1])
    return X[:, : int(lengths.max())]


def padding_cost(lengths, batches):
    r"""How many steps a set of batches computes, and how many of them are real.

    Parameters
    ----------
    lengths : numpy.ndarray of int, shape (N,)
    batches : list of numpy.ndarray of int
        Indices of each batch (from :func:`length_batches`).

    Returns
    -------
    computed : int
        :math:`\sum_b |b| \max_{n \in b} T_n`: every batch cut at its longest sequence.
    real : int
        :math:`\sum_n T_n`.
    """
    lengths = _check_lengths(lengths)
    computed = sum(len(batch) * int(lengths[batch].max()) for batch in batches)
    return int(computed), int(sum(int(lengths[batch].sum()) for batch in batches))


def last_valid_loss_and_grads(model, X, lengths, targets, loss="mse"):
    r"""A many-to-one loss on a padded batch: the head reads :math:`h_{n, T_n - 1}`.

    Like ``model.loss_and_grads(X, targets, loss, last_only=True)``, except that the
    output layer reads :func:`last_valid` of the top layer instead of its last step.

    Parameters
    ----------
    model : rnnlib.model.SequenceModel
        A one-way model.
    X : numpy.ndarray, shape (N, T, D)
        A padded batch (:func:`pad_sequences`), the model's dtype.
    lengths : numpy.ndarray of int, shape (N,)
    targets : numpy.ndarray
        (N, V) values for ``"mse"``, (N,) classes for ``"cross_entropy"``.
    loss : {"mse", "cross_entropy"}, default "mse"

    Returns
    -------
    loss : float
    grads : dict of str to numpy.ndarray
        Same keys, shapes and dtype as ``model.params``.
    """
    from rnnlib.layers import dense_backward, dense_forward
    from rnnlib.model import LOSSES

    if getattr(model, "bidirectional", False):
        raise ValueError("model: a bidirectional model's reverse half would read the padding "
                         "first; last_valid_loss_and_grads takes one-way models")
    if loss not in LOSSES:
        raise ValueError(f"loss: expected one of {sorted(LOSSES)}, got {loss!r}")
    model._check_X(X)
    top, _, run_cache = model._run(X, None)  # (N, T, H)
    features = last_valid(top, lengths)  # (N, H)
    out_params = {"W": model.params["out.W"], "b": model.params["out.b"]}
    outputs, dense_cache = dense_forward(features, out_params)  # (N, V)
    value, doutputs = LOSSES[loss](outputs, targets)
    dfeatures, out_grads = dense_backward(doutputs, dense_cache)
    dtop = last_valid_backward(dfeatures, lengths, X.shape[1])  # (N, T, H)
    grads = model._run_backward(dtop, run_cache)
    grads["out.W"], grads["out.b"] = out_grads["W"], out_grads["b"]
    return value, {key: grads[key] for key in model.params}
