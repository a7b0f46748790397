r"""Truncated backpropagation through time over one long stream, and what it costs.

Full BPTT over a stream of T steps keeps every step's cache until the backward pass, and
takes one optimiser step per stream. Truncated BPTT (Williams and Peng 1990) cuts the
stream into chunks of k steps: the *state* is carried from chunk to chunk (each chunk's
forward pass starts from the previous chunk's final state), the *gradient* is not (each
chunk's backward pass starts with ``dstate_T=None``, no gradient from the future, and the
gradient reaching its initial state is dropped). :func:`rnnlib.train.fit_stream` trains
this way; this module has the pieces the chapter measures it with:

- :func:`truncated_gradients`, the truncated gradient of a whole stream's loss, which
  equals full BPTT's when ``chunk = T``;
- :func:`echo_stream`, a stream whose target is the input of ``lag`` steps ago, so the
  dependency to learn has a known length;
- :func:`echo_accuracy` and :func:`cost`, what a trained model gets right and what a
  gradient computation costs in time and memory.

Letters: N streams, T steps, D = S symbols, k chunk length.
"""

import time
import tracemalloc

import numpy as np

from rnnlib._validate import check_positive_int, resolve_dtype, resolve_rng

__all__ = ["cost", "echo_accuracy", "echo_stream", "truncated_gradients"]


def echo_stream(n_streams, length, lag, *, n_symbols=2, rng=None, dtype=np.float64):
    r"""Random symbols whose target is the symbol read ``lag`` steps earlier.

    Parameters
    ----------
    n_streams : int
        N.
    length : int
        T, steps per stream.
    lag : int
        L >= 1: ``targets[:, t]`` is the symbol of input step ``t - L``.
    n_symbols : int, default 2
        S, symbols drawn uniformly and independently.
    rng : numpy.random.Generator, int or None
    dtype : float32 or float64, default float64

    Returns
    -------
    X : numpy.ndarray, shape (N, T, S)
        One-hot symbols.
    targets : numpy.ndarray of int64, shape (N, T)
        The symbol L steps back. For t < L it is a symbol from before the stream started
        (drawn, never read): no model can do better than chance on those L steps.

    Notes
    -----
    A model that remembers the last L symbols gets every target from step L on; one that
    does not remembers nothing useful, since the symbols are independent: its best is
    chance, :math:`1/S`, and a loss of :math:`\ln S` nats.
    """
    N = check_positive_int("n_streams", n_streams)
    T = check_positive_int("length", length)
    L = check_positive_int("lag", lag)
    S = check_positive_int("n_symbols", n_symbols)
    if S < 2:
        raise ValueError(f"n_symbols: expected at least 2, got {S}")
    rng = resolve_rng(rng)
    symbols = rng.integers(0, S, size=(N, T + L))  # (N, T+L), the first L never read
    X = np.eye(S, dtype=resolve_dtype(dtype))[symbols[:, L:]]  # (N, T, S)
    return X, symbols[:, :T].copy()


def truncated_gradients(model, X, targets, chunk, *, loss="cross_entropy", states0=None):
    r"""The loss of whole streams and its gradient truncated at every chunk boundary.

    Parameters
    ----------
    model : SequenceModel
    X : numpy.ndarray, shape (N, T, D)
    targets : numpy.ndarray, shape (N, T) or (N, T, V)
    chunk : int
        k, steps per chunk; the last chunk is shorter when k does not divide T.
    loss : {"mse", "cross_entropy"}, default "cross_entropy"
    states0 : list or None, optional
        The layers' states before the first step.

    Returns
    -------
    loss : float
        The mean loss over all N T items: the same number as one forward pass over the
        whole streams, since the state is carried.
    grads : dict of str to numpy.ndarray
        The truncated gradient: each chunk's gradient, weighted by its share of the
        steps. With ``chunk >= T`` it is full BPTT's gradient.
    states_T : list
        The layers' final states.

    Notes
    -----
    With chunks :math:`c = 1, \dots, C` of lengths :math:`k_c` and mean losses
    :math:`\mathcal L_c`, the stream's loss is
    :math:`\mathcal L = \sum_c (k_c / T)\, \mathcal L_c`. The truncated gradient keeps,
    of the path from each loss term back to the parameters, only the steps inside the
    term's own chunk:

    .. math:: \tilde g = \sum_c (k_c / T)\; \partial \mathcal L_c / \partial
       \theta \,\big|_{s_{c-1} \text{ fixed}} \qquad\text{(truncated-gradient)}

    where :math:`s_{c-1}` is the state the chunk starts from.
    """
    k = check_positive_int("chunk", chunk)
    T = X.shape[1]
    grads = {key: np.zeros_like(value) for key, value in model.params.items()}
    total, states = 0.0, states0
    for start in range(0, T, k):
        part = slice(start, min(start + k, T))
        weight = (part.stop - part.start) / T
        value, chunk_grads, states = model.loss_and_grads(
            X[:, part], targets[:, part], loss=loss, states0=states, return_states=True)
        total += weight * value
        for key, g in chunk_grads.items():
            grads[key] += weight * g
    return total, grads, states


def echo_accuracy(model, X, targets, lag):
    """The share of an echo stream's targets a model gets right, from step ``lag`` on.

    Parameters
    ----------
    model : SequenceModel
    X : numpy.ndarray, shape (N, T, S)
    targets : numpy.ndarray of int, shape (N, T)
        From :func:`echo_stream`.
    lag : int
        The first ``lag`` steps are not scored (their targets were never read).

    Returns
    -------
    float
        In [0, 1]; chance is 1/S.
    """
    L = check_positive_int("lag", lag)
    predictions = np.argmax(model.forward(X), axis=-1)  # (N, T)
    return float(np.mean(predictions[:, L:] == targets[:, L:]))


def cost(compute, repeats=3):
    """The wall-clock time and the peak memory of ``compute()``.

    Parameters
    ----------
    compute : callable
        Called with no arguments, once under ``tracemalloc`` (for the memory) and
        ``repeats`` more times (the fastest time is kept).
    repeats : int, default 3

    Returns
    -------
    seconds : float
        The fastest of the timed calls.
    peak_bytes : int
        The largest amount of memory allocated at once during the traced call, above what
        was allocated before it (NumPy reports its arrays to ``tracemalloc``).
    """
    repeats = check_positive_int("repeats", repeats)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        compute()
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compute()
        times.append(time.perf_counter() - start)
    return min(times), int(peak)
