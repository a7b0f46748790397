r"""Sequence tasks generated on the fly, and the course's own text for character models.

Every generator takes an ``rng`` (a ``numpy.random.Generator``, an int seed, or None for
fresh randomness) and returns NumPy arrays, batch first, so the same seed gives the same
data on every machine. Nothing is downloaded: the tasks are drawn from their definitions,
and the text in ``rnnlib/data_files/`` was written for this course.

======================  ==============================  ===================================
task                    what it tests                   returns
======================  ==============================  ===================================
:func:`sine_wave`       next-step prediction            X (N, T, 1), Y (N, T, 1)
:func:`adding_problem`  a long time lag, many-to-one    X (N, T, 2), y (N, 1)
:func:`copy_task`       holding symbols over a delay    X (N, T, K+2), targets (N, T), mask
:func:`embedded_reber`  a grammar, a 2-symbol memory    :class:`ReberBatch`
:func:`reber_stream`    the same without resets         :class:`ReberBatch`
:func:`char_corpus`     character-level language model  :class:`CharCorpus`
======================  ==============================  ===================================

Dimension letters: N batch (number of sequences), T time, K alphabet size, V vocabulary.
"""

import re
from dataclasses import dataclass
from importlib import resources
from typing import NamedTuple

import numpy as np

from rnnlib._validate import check_positive_int, resolve_dtype, resolve_rng

__all__ = [
    "REBER_SYMBOLS",
    "CharCorpus",
    "ReberBatch",
    "adding_problem",
    "available_corpora",
    "char_corpus",
    "copy_task",
    "embedded_reber",
    "embedded_reber_string",
    "long_lag_steps",
    "reber_batch",
    "reber_branch_lags",
    "reber_legal_next",
    "reber_step_correct",
    "reber_stream",
    "reber_stream_entropy",
    "reber_string",
    "reber_strings_correct",
    "reber_train_test_sets",
    "sine_wave",
    "stream_positions",
]


def _check_range(name, value, low, high=np.inf):
    """Raise ``ValueError`` unless ``low <= value <= high`` (a finite real number)."""
    if isinstance(value, bool) or not np.isscalar(value) or not low <= value <= high:
        bounds = f">= {low}" if high == np.inf else f"in [{low}, {high}]"
        raise ValueError(f"{name}: expected a number {bounds}, got {value!r}")
    return float(value)


# --------------------------------------------------------------------------------------
# Sine waves
# --------------------------------------------------------------------------------------


def sine_wave(n_sequences, length, *, noise=0.1, period_range=(10.0, 40.0), rng=None,
              dtype=np.float64):
    r"""Noisy sine waves for next-step prediction.

    Each sequence is :math:`s_t = \sin(2\pi t / P + \varphi) + \varepsilon_t` for
    :math:`t = 0, \dots, T`, with a period :math:`P` drawn uniformly from ``period_range``,
    a phase :math:`\varphi` uniform in :math:`[0, 2\pi)`, and Gaussian noise
    :math:`\varepsilon_t \sim \mathcal N(0, \text{noise}^2)`. The input is the series and
    the target is the same series one step later: ``Y[:, t] = X[:, t + 1]``.

    Parameters
    ----------
    n_sequences : int
        N, the number of sequences.
    length : int
        T, the number of time steps of each input sequence.
    noise : float, default 0.1
        Standard deviation of the additive noise (0 for clean waves).
    period_range : tuple of two floats, default (10.0, 40.0)
        Smallest and largest period, in time steps (both > 0).
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    dtype : float32 or float64, default float64

    Returns
    -------
    X : numpy.ndarray, shape (N, T, 1)
        The noisy series :math:`s_0, \dots, s_{T-1}`.
    Y : numpy.ndarray, shape (N, T, 1)
        The next values :math:`s_1, \dots, s_T`.

    Notes
    -----
    Next-step prediction is the training setup of Elman (1990), here on a smooth periodic
    signal; the noisy sine wave has no single origin and is the usual warm-up for sequence
    models. Because the noise at step :math:`t+1` cannot be predicted, the best possible
    mean squared error is :math:`\text{noise}^2` (plus whatever the model cannot infer about
    :math:`P` and :math:`\varphi` from the first few noisy steps).
    """
    N = check_positive_int("n_sequences", n_sequences)
    T = check_positive_int("length", length)
    noise = _check_range("noise", noise, 0.0)
    if (
        len(period_range) != 2
        or not 0 < period_range[0] <= period_range[1]
        or not np.isfinite(period_range[1])
    ):
        raise ValueError(
            f"period_range: expected (smallest, largest) with 0 < smallest <= largest, "
            f"got {period_range!r}"
        )
    rng = resolve_rng(rng)
    dtype = resolve_dtype(dtype)
    period = rng.uniform(period_range[0], period_range[1], size=(N, 1))  # (N, 1)
    phase = rng.uniform(0.0, 2 * np.pi, size=(N, 1))  # (N, 1)
    t = np.arange(T + 1)  # (T+1,)
    series = np.sin(2 * np.pi * t / period + phase)  # (N, T+1)
    series += noise * rng.standard_normal(series.shape)
    series = series.astype(dtype)[:, :, None]  # (N, T+1, 1)
    return series[:, :-1].copy(), series[:, 1:].copy()


# --------------------------------------------------------------------------------------
# The adding problem
# --------------------------------------------------------------------------------------


def adding_problem(n_sequences, length, *, variant="simplified", rng=None, dtype=np.float64):
    r"""The adding problem: remember two marked numbers over a long sequence, output their sum.

    Every step carries a pair (value, marker). Exactly two steps are marked with marker 1.0;
    after the last step the network must output a function of the sum of the two marked
    values. Everything between the marks is a distraction, and the first mark can be almost
    T steps before the answer, so the task measures how far back a network can carry
    information and its gradient.

    Parameters
    ----------
    n_sequences : int
        N, the number of sequences.
    length : int
        T, the number of steps (at least 2 for ``"simplified"``, at least 10 for
        ``"hochreiter1997"``).
    variant : {"simplified", "hochreiter1997"}, default "simplified"
        Which definition to use (see Notes).
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    dtype : float32 or float64, default float64

    Returns
    -------
    X : numpy.ndarray, shape (N, T, 2)
        ``X[:, :, 0]`` the values, ``X[:, :, 1]`` the markers.
    y : numpy.ndarray, shape (N, 1)
        The target at the last step. Train with ``last_only=True`` and the ``"mse"`` loss.

    Notes
    -----
    **The paper's variant** (``"hochreiter1997"``; Hochreiter and Schmidhuber 1997,
    Section 5.4, Experiment 4). Values are uniform in :math:`[-1, 1]`; markers are 1.0,
    0.0 or -1.0. The first mark falls on one of the first ten steps, the second on one of
    the first :math:`\lfloor T/2 \rfloor - 1` steps that are still unmarked. The first and
    the last step carry marker -1 unless marked (and if the very first step is marked, its
    value :math:`X_1` is set to 0). The target is :math:`0.5 + (X_1 + X_2)/4`, the sum
    scaled into :math:`[0, 1]`, and a sequence counts as solved when the absolute error is
    below 0.04. The paper also draws each sequence's length at random between T and
    :math:`T + T/10`; here every sequence has exactly T steps so that a batch is one array.

    **The simplified variant** (``"simplified"``, the default), the form most papers since
    Le, Jaitly and Hinton (2015) use: values uniform in :math:`[0, 1]`, markers 0 or 1, one
    mark uniformly in the first half :math:`[0, \lfloor T/2 \rfloor)` and one in the second
    half, and the target is the plain sum :math:`X_1 + X_2`. Always answering 1 gives a mean
    squared error of :math:`2 \cdot \tfrac{1}{12} \approx 0.167`, the baseline a network
    must beat to show it has learned anything.
    """
    N = check_positive_int("n_sequences", n_sequences)
    T = check_positive_int("length", length)
    rng = resolve_rng(rng)
    dtype = resolve_dtype(dtype)
    rows = np.arange(N)
    if variant == "simplified":
        if T < 2:
            raise ValueError(f"length: expected at least 2 for variant='simplified', got {T}")
        half = T // 2
        values = rng.uniform(0.0, 1.0, size=(N, T))
        first = rng.integers(0, half, size=N)
        second = rng.integers(half, T, size=N)
        markers = np.zeros((N, T))
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        target = values[rows, first] + values[rows, second]
    elif variant == "hochreiter1997":
        if T < 10:
            raise ValueError(
                f"length: expected at least 10 for variant='hochreiter1997' (the first mark "
                f"falls on one of the first ten steps), got {T}"
            )
        values = rng.uniform(-1.0, 1.0, size=(N, T))
        markers = np.zeros((N, T))
        markers[:, 0] = -1.0
        markers[:, -1] = -1.0
        first = rng.integers(0, 10, size=N)
        # The second mark: one of the first floor(T/2) - 1 positions other than `first`.
        # Drawing k in [0, floor(T/2) - 1) and skipping over `first` picks uniformly among them.
        k = rng.integers(0, T // 2 - 1, size=N)
        second = k + (k >= first)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        values[rows[first == 0], 0] = 0.0
        target = 0.5 + (values[rows, first] + values[rows, second]) / 4.0
    else:
        raise ValueError(
            f"variant: expected 'simplified' or 'hochreiter1997', got {variant!r}"
        )
    X = np.stack([values, markers], axis=-1).astype(dtype)  # (N, T, 2)
    return X, target[:, None].astype(dtype)  # (N, 1)


# --------------------------------------------------------------------------------------
# The copy task
# --------------------------------------------------------------------------------------


def copy_task(n_sequences, sequence_length=5, delay=10, *, n_symbols=8, rng=None,
              dtype=np.float64):
    r"""The copy (memory) task: read a few symbols, wait, then write them back in order.

    Each sequence has three phases, :math:`T = 2S + \text{delay}` steps in all
    (S = ``sequence_length``, K = ``n_symbols``; symbols are the integers
    :math:`0, \dots, K-1`, the blank is K and the "go" marker is K + 1)::

        input   c1 c2 ... cS  _  _ ... _  GO  _  _ ... _
        target  _  _  ... _   _  _ ... _  _   c1 c2 ... cS
                |-- S steps --|-- delay steps --|-- S steps --|

    The go marker is the last step of the delay. Only the last S steps are scored by
    ``mask``; elsewhere the target is the blank.

    Parameters
    ----------
    n_sequences : int
        N, the number of sequences.
    sequence_length : int, default 5
        S, how many symbols to remember.
    delay : int, default 10
        Steps between the last symbol and the first answer, including the go step (>= 1).
        The network must hold the symbols for ``delay`` steps longer than it reads them.
    n_symbols : int, default 8
        K, the alphabet size.
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    dtype : float32 or float64, default float64
        dtype of ``X``.

    Returns
    -------
    X : numpy.ndarray, shape (N, T, K + 2)
        One-hot inputs.
    targets : numpy.ndarray of int64, shape (N, T)
        The class to predict at every step (for ``softmax_cross_entropy``).
    mask : numpy.ndarray of bool, shape (N, T)
        True on the recall phase, the last S steps.

    Notes
    -----
    Long-delay memory tasks of this kind come from Hochreiter and Schmidhuber (1997), whose
    experiments ask a network to hold information over long lags among distractors. The
    form here, symbols, a blank delay, a marker, then recall, is the "copying memory
    problem" as set by Arjovsky, Shah and Bengio (2016), with a shorter default delay; the
    same idea is the copy task of Graves, Wayne and Danihelka (2014). A network that
    remembers nothing can at best guess uniformly in the recall phase, a cross-entropy of
    :math:`\log K` per scored step (2.08 for K = 8).
    """
    N = check_positive_int("n_sequences", n_sequences)
    S = check_positive_int("sequence_length", sequence_length)
    delay = check_positive_int("delay", delay)
    K = check_positive_int("n_symbols", n_symbols)
    rng = resolve_rng(rng)
    dtype = resolve_dtype(dtype)
    T = 2 * S + delay
    blank, go = K, K + 1
    symbols = rng.integers(0, K, size=(N, S))  # (N, S)
    inputs = np.full((N, T), blank, dtype=np.int64)
    inputs[:, :S] = symbols
    inputs[:, S + delay - 1] = go
    targets = np.full((N, T), blank, dtype=np.int64)
    targets[:, S + delay :] = symbols
    mask = np.zeros((N, T), dtype=bool)
    mask[:, S + delay :] = True
    X = np.eye(K + 2, dtype=dtype)[inputs]  # (N, T, K+2)
    return X, targets, mask


# --------------------------------------------------------------------------------------
# Reber grammar and embedded Reber grammar
# --------------------------------------------------------------------------------------

#: The seven symbols, in the order of the one-hot encoding.
REBER_SYMBOLS = "BTPSXVE"
_SYMBOL_INDEX = {s: i for i, s in enumerate(REBER_SYMBOLS)}

# Reber's (1967) finite-state grammar: node -> ((symbol, next node), ...). Node 6 emits the
# final E and the string ends (None). From every node the two edges are equally likely.
_REBER_GRAPH = {
    0: (("B", 1),),
    1: (("T", 2), ("P", 3)),
    2: (("S", 2), ("X", 4)),
    3: (("T", 3), ("V", 5)),
    4: (("X", 3), ("S", 6)),
    5: (("P", 4), ("V", 6)),
    6: (("E", None),),
}


def reber_string(rng=None):
    """Draw one string of the Reber grammar.

    Parameters
    ----------
    rng : numpy.random.Generator, int or None
        Random generator or seed.

    Returns
    -------
    str
        Starts with ``"B"``, ends with ``"E"``, e.g. ``"BTSSXXTVVE"`` or ``"BPVVE"``;
        at least 5 symbols.

    Notes
    -----
    The grammar is the finite-state automaton of Reber (1967), as drawn in Cleeremans,
    Servan-Schreiber and McClelland (1989) and used by Hochreiter and Schmidhuber (1997,
    Experiment 1). Starting from its first node, a string follows one of the outgoing edges
    of the current node with equal probability and emits that edge's symbol, until the
    final ``E``. The symbols S, X, V, T and P each label two edges, so one symbol alone does
    not tell where in the graph the string is; but the graph is deterministic (the two
    edges leaving a node carry different symbols), so the whole prefix does.

    The graph, with its nodes numbered 0 to 6 (``_REBER_GRAPH``); each edge is written
    ``node --symbol--> next node``, and a string starts at node 0 and ends after the ``E``::

        0 --B--> 1
        1 --T--> 2    1 --P--> 3
        2 --S--> 2    2 --X--> 4
        3 --T--> 3    3 --V--> 5
        4 --X--> 3    4 --S--> 6
        5 --P--> 4    5 --V--> 6
        6 --E--> end
    """
    rng = resolve_rng(rng)
    node, out = 0, []
    while node is not None:
        edges = _REBER_GRAPH[node]
        symbol, node = edges[rng.integers(len(edges))] if len(edges) > 1 else edges[0]
        out.append(symbol)
    return "".join(out)


def embedded_reber_string(rng=None):
    """Draw one string of the embedded Reber grammar.

    Parameters
    ----------
    rng : numpy.random.Generator, int or None
        Random generator or seed.

    Returns
    -------
    str
        ``"BT" + r + "TE"`` or ``"BP" + r + "PE"`` (equally likely), where ``r`` is a
        :func:`reber_string`; at least 9 symbols.

    Notes
    -----
    The embedded grammar (Cleeremans, Servan-Schreiber and McClelland 1989; Hochreiter and
    Schmidhuber 1997, Experiment 1) wraps a Reber string in two copies of the same symbol,
    T or P. To predict the second-to-last symbol a network must remember the second symbol
    across the whole inner string, and the inner string alone gives no clue, because both
    branches contain the same Reber strings.
    """
    rng = resolve_rng(rng)
    branch = "TP"[rng.integers(2)]
    return "B" + branch + reber_string(rng) + branch + "E"


class _ReberReader:
    """Reads a (possibly embedded, possibly continual) Reber string symbol by symbol.

    ``allowed()`` gives the set of symbols the grammar allows next; ``read(symbol)`` moves
    on, raising ``ValueError`` for a symbol that is not allowed.
    """

    def __init__(self, embedded, continual=False):
        self.embedded = embedded
        self.continual = continual
        self._restart()

    def _restart(self):
        # phase: "outer-B", "branch", "inner", "close", "outer-E" (embedded) or just "inner".
        self.phase = "outer-B" if self.embedded else "inner"
        self.branch = None
        self.node = 0
        self.done = False

    def allowed(self):
        if self.done:
            return {"B"} if self.continual else set()
        if self.phase == "outer-B":
            return {"B"}
        if self.phase == "branch":
            return {"T", "P"}
        if self.phase == "close":
            return {self.branch}
        if self.phase == "outer-E":
            return {"E"}
        return {symbol for symbol, _ in _REBER_GRAPH[self.node]}

    def read(self, symbol):
        allowed = self.allowed()
        if symbol not in allowed:
            raise ValueError(
                f"string: symbol {symbol!r} is not allowed here by the grammar "
                f"(allowed: {', '.join(sorted(allowed)) or 'nothing, the string has ended'})"
            )
        if self.done:  # continual stream: a new string begins with this B
            self._restart()
        if self.phase == "outer-B":
            self.phase = "branch"
        elif self.phase == "branch":
            self.branch, self.phase = symbol, "inner"
        elif self.phase == "close":
            self.phase = "outer-E"
        elif self.phase == "outer-E":
            self.done = True
        else:  # inside a Reber string
            self.node = dict(_REBER_GRAPH[self.node])[symbol]
            if self.node is None:
                if self.embedded:
                    self.phase = "close"
                else:
                    self.done = True


def reber_legal_next(string, *, embedded=True, continual=False):
    """The set of symbols the grammar allows after each prefix of ``string``.

    This is what the success criterion of Hochreiter and Schmidhuber (1997) needs: a
    network that predicts the next symbol cannot know which of two legal symbols comes
    next, only which ones may.

    Parameters
    ----------
    string : str
        A string of the grammar (or, with ``continual=True``, a stretch of a stream of
        strings starting at a ``B``), at least 2 symbols.
    embedded : bool, default True
        Embedded Reber grammar (True) or the plain Reber grammar (False).
    continual : bool, default False
        After a final ``E`` another string may begin (so ``B`` is legal), as in the stream of
        :func:`reber_stream`.

    Returns
    -------
    numpy.ndarray of bool, shape (L - 1, 7)
        Row t marks the symbols (in the order of :data:`REBER_SYMBOLS`) allowed after
        reading ``string[: t + 1]``; L is ``len(string)``. The symbol actually next,
        ``string[t + 1]``, is always among them.

    Raises
    ------
    ValueError
        If ``string`` is not in the grammar (naming the first symbol that is not allowed).
    """
    if not isinstance(string, str) or len(string) < 2:
        raise ValueError(f"string: expected a str of at least 2 symbols, got {string!r}")
    reader = _ReberReader(embedded, continual)
    legal = np.zeros((len(string) - 1, len(REBER_SYMBOLS)), dtype=bool)
    for t, symbol in enumerate(string[:-1]):
        reader.read(symbol)
        for allowed in reader.allowed():
            legal[t, _SYMBOL_INDEX[allowed]] = True
    reader.read(string[-1])  # the last symbol must be legal too
    if not continual and not reader.done:
        raise ValueError(f"string: {string!r} stops before the grammar's final 'E'")
    return legal


class ReberBatch(NamedTuple):
    """A batch of Reber strings encoded for next-symbol prediction.

    Attributes
    ----------
    X : numpy.ndarray, shape (N, T, 7)
        One-hot inputs: the symbols of each string except the last, padded with zero rows.
    targets : numpy.ndarray of int64, shape (N, T)
        The index of the next symbol at every step (-1 on padding).
    legal : numpy.ndarray of bool, shape (N, T, 7)
        The symbols the grammar allows next at every step (all False on padding).
    mask : numpy.ndarray of bool, shape (N, T)
        True on real steps, False on padding.
    strings : list of str
        The N strings (for a stream, the N stretches of the stream, each T + 1 symbols).
    """

    X: np.ndarray
    targets: np.ndarray
    legal: np.ndarray
    mask: np.ndarray
    strings: list


def reber_batch(strings, *, embedded=True, continual=False, dtype=np.float64):
    """Encode Reber strings for next-symbol prediction.

    Parameters
    ----------
    strings : list of str
        N strings of the grammar (for example from :func:`embedded_reber_string`, or
        :func:`reber_string` with ``embedded=False``).
    embedded : bool, default True
        Whether the strings are from the embedded grammar (used for the legal sets).
    continual : bool, default False
        Whether the strings are stretches of a stream (see :func:`reber_legal_next`).
    dtype : float32 or float64, default float64
        dtype of ``X``.

    Returns
    -------
    ReberBatch
        With T = the longest string's length - 1; shorter strings are padded at the end.
    """
    if isinstance(strings, str) or not strings:
        raise ValueError("strings: expected a non-empty list of str")
    dtype = resolve_dtype(dtype)
    N = len(strings)
    T = max(len(s) for s in strings) - 1
    V = len(REBER_SYMBOLS)
    X = np.zeros((N, T, V), dtype=dtype)
    targets = np.full((N, T), -1, dtype=np.int64)
    legal = np.zeros((N, T, V), dtype=bool)
    mask = np.zeros((N, T), dtype=bool)
    for n, string in enumerate(strings):
        if set(string) - set(REBER_SYMBOLS):
            raise ValueError(f"strings[{n}]: expected only the symbols {REBER_SYMBOLS}, got "
                             f"{string!r}")
        ids = np.array([_SYMBOL_INDEX[s] for s in string])
        L = len(string) - 1
        legal[n, :L] = reber_legal_next(string, embedded=embedded, continual=continual)
        X[n, np.arange(L), ids[:-1]] = 1
        targets[n, :L] = ids[1:]
        mask[n, :L] = True
    return ReberBatch(X, targets, legal, mask, list(strings))


def embedded_reber(n_strings, *, rng=None, dtype=np.float64):
    """A batch of embedded Reber strings, encoded for next-symbol prediction.

    Parameters
    ----------
    n_strings : int
        N, the number of strings.
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    dtype : float32 or float64, default float64
        dtype of ``X``.

    Returns
    -------
    ReberBatch
        ``X`` (N, T, 7), ``targets`` (N, T), ``legal`` (N, T, 7), ``mask`` (N, T) and the
        strings, T being the longest string's length - 1. Train with the cross-entropy loss
        and ``mask``; judge with :func:`reber_step_correct`.

    Notes
    -----
    The benchmark of Hochreiter and Schmidhuber (1997, Experiment 1); see
    :func:`embedded_reber_string`. A string is processed correctly when every one of its
    steps is (:func:`reber_step_correct`); the hard steps are the second-to-last ones, which
    need the second symbol.
    """
    N = check_positive_int("n_strings", n_strings)
    rng = resolve_rng(rng)
    strings = [embedded_reber_string(rng) for _ in range(N)]
    return reber_batch(strings, embedded=True, dtype=dtype)


def reber_stream(n_streams, length, *, rng=None, dtype=np.float64):
    """Continual streams of embedded Reber strings, concatenated with no reset between them.

    Parameters
    ----------
    n_streams : int
        N, the number of independent streams.
    length : int
        T, the number of input steps of each stream.
    rng : numpy.random.Generator, int or None
        Random generator or seed.
    dtype : float32 or float64, default float64
        dtype of ``X``.

    Returns
    -------
    ReberBatch
        ``X`` (N, T, 7), ``targets`` (N, T), ``legal`` (N, T, 7), ``mask`` (N, T) (all True)
        and, as ``strings``, the N stretches of T + 1 symbols, each starting with a ``B``.
        After a string's final ``E`` the next symbol is always ``B``.

    Notes
    -----
    The continual embedded Reber task of Gers, Schmidhuber and Cummins (2000). The network
    reads one long stream, ``...BT...TEBP...PEBT...``, and is never told where a string
    ends by having its state reset. An LSTM without forget gates (the 1997 cell, whose
    cell state only ever adds) lets its state grow over the strings until it saturates, and
    breaks down; with forget gates it learns to clear its memory after each string. Feed a
    long stream in consecutive chunks, passing the final state of one chunk as the initial
    state of the next.
    """
    N = check_positive_int("n_streams", n_streams)
    T = check_positive_int("length", length)
    rng = resolve_rng(rng)
    streams = []
    for _ in range(N):
        parts, total = [], 0
        while total < T + 1:
            parts.append(embedded_reber_string(rng))
            total += len(parts[-1])
        streams.append("".join(parts)[: T + 1])
    return reber_batch(streams, embedded=True, continual=True, dtype=dtype)


def reber_step_correct(outputs, legal):
    """Judge next-symbol predictions by the criterion of Hochreiter and Schmidhuber (1997).

    A step is predicted correctly when the outputs of the symbols the grammar allows next
    are the most active ones: every legal symbol's output is larger than every illegal
    symbol's output. (The network cannot know which of two legal symbols comes, only which
    may; so the criterion asks for the set, not the symbol.)

    Parameters
    ----------
    outputs : numpy.ndarray, shape (N, T, 7)
        The network's outputs at every step (logits or probabilities, any monotone scale).
    legal : numpy.ndarray of bool, shape (N, T, 7)
        The legal next symbols, from a :class:`ReberBatch`.

    Returns
    -------
    numpy.ndarray of bool, shape (N, T)
        True where the step is correct (and on padding steps, where ``legal`` is all False).
        A whole string is correct when all its unmasked steps are
        (:func:`reber_strings_correct`).
    """
    if not isinstance(outputs, np.ndarray) or outputs.ndim != 3 or outputs.shape[-1] != 7:
        got = outputs.shape if isinstance(outputs, np.ndarray) else type(outputs).__name__
        raise ValueError(f"outputs: expected shape (N, T, 7), got {got}")
    if not isinstance(legal, np.ndarray) or legal.shape != outputs.shape:
        got = legal.shape if isinstance(legal, np.ndarray) else type(legal).__name__
        raise ValueError(f"legal: expected shape (N, T, 7) = {outputs.shape}, got {got}")
    legal = legal.astype(bool, copy=False)
    lowest_legal = np.where(legal, outputs, np.inf).min(axis=-1)  # (N, T)
    highest_illegal = np.where(legal, -np.inf, outputs).max(axis=-1)  # (N, T)
    return lowest_legal > highest_illegal


def reber_strings_correct(outputs, batch):
    """Which whole strings are predicted correctly, by the criterion of the 1997 paper.

    A string is correct when every one of its unmasked steps is correct by
    :func:`reber_step_correct`; padding steps (``mask`` False) do not count.

    Parameters
    ----------
    outputs : numpy.ndarray, shape (N, T, 7)
        The network's outputs at every step (logits or probabilities).
    batch : ReberBatch
        ``legal`` (N, T, 7) and ``mask`` (N, T).

    Returns
    -------
    numpy.ndarray of bool, shape (N,)
        True for the strings whose every step is correct.
    """
    if not isinstance(batch, ReberBatch):
        raise ValueError(f"batch: expected a ReberBatch, got {type(batch).__name__}")
    correct = reber_step_correct(outputs, batch.legal)  # (N, T)
    return (correct | ~batch.mask).all(axis=1)


def reber_train_test_sets(n_train=256, n_test=256, *, rng=None):
    """Distinct embedded Reber strings for training and testing, as in the 1997 paper.

    Parameters
    ----------
    n_train, n_test : int, default 256
        How many different strings each set holds (the paper used 256 and 256).
    rng : numpy.random.Generator, int or None
        Random generator or seed.

    Returns
    -------
    train, test : ReberBatch
        Each encoded with :func:`reber_batch`; no test string is also a
        training string, and no string appears twice in a set.
    """
    n_train = check_positive_int("n_train", n_train)
    n_test = check_positive_int("n_test", n_test)
    rng = resolve_rng(rng)
    train, test = [], []
    seen = set()
    while len(train) < n_train:
        string = embedded_reber_string(rng)
        if string not in seen:
            seen.add(string)
            train.append(string)
    while len(test) < n_test:
        string = embedded_reber_string(rng)
        if string not in seen:
            seen.add(string)
            test.append(string)
    return reber_batch(train), reber_batch(test)


def long_lag_steps(batch):
    """The steps where the next symbol depends on the second symbol of the string.

    In the embedded Reber grammar, after the inner string's final ``E`` the next symbol must
    repeat the string's second symbol (T or P). These are the only steps that need memory
    across the whole inner string.

    Parameters
    ----------
    batch : ReberBatch
        ``X`` (N, T, 7) and ``legal`` (N, T, 7).

    Returns
    -------
    numpy.ndarray of bool, shape (N, T)
        True at the steps whose input is an ``E`` and whose only legal next symbol is T or
        P.
    """
    symbols = REBER_SYMBOLS
    reads_e = batch.X[..., symbols.index("E")] == 1  # (N, T)
    legal = batch.legal
    only_t = legal[..., symbols.index("T")] & (legal.sum(axis=-1) == 1)
    only_p = legal[..., symbols.index("P")] & (legal.sum(axis=-1) == 1)
    return reads_e & (only_t | only_p)


def reber_branch_lags(batch):
    """How many steps each string must hold its branch symbol.

    The branch symbol (T or P) is read at step 1; the step that must predict its repeat is
    the long-lag step of :func:`long_lag_steps`. The lag is the number of steps between the
    two, which equals the length of the inner Reber string (5 for ``"BTBTXSETE"``).

    Parameters
    ----------
    batch : ReberBatch
        Whole embedded Reber strings (from :func:`embedded_reber`,
        :func:`reber_train_test_sets` or :func:`reber_batch`), not a stream.

    Returns
    -------
    numpy.ndarray of int, shape (N,)
        The lag of each string, in steps.

    Raises
    ------
    ValueError
        If ``batch`` is not a ReberBatch, or a row does not have exactly one long-lag step
        (a stream, or plain Reber strings).
    """
    if not isinstance(batch, ReberBatch):
        raise ValueError(f"batch: expected a ReberBatch, got {type(batch).__name__}")
    marked = long_lag_steps(batch)  # (N, T)
    counts = marked.sum(axis=1)
    if np.any(counts != 1):
        n = int(np.flatnonzero(counts != 1)[0])
        raise ValueError(
            f"batch: row {n} has {counts[n]} long-lag steps, expected exactly 1 (whole "
            "embedded Reber strings, not a stream or plain Reber strings)")
    return marked.argmax(axis=1) - 1


def _reber_expectations():
    """Expected symbols and expected binary choices of one inner Reber string.

    Solves, for every node k of the graph, m_k = 1 + mean over k's edges of m_next (symbols
    emitted until the string ends) and c_k = [k has two edges] + mean of c_next (two-way
    choices made on the way), with m = c = 0 after the final E.
    """
    nodes = sorted(_REBER_GRAPH)
    index = {node: j for j, node in enumerate(nodes)}
    A = np.eye(len(nodes))  # (nodes, nodes): the system (I - P) m = 1, (I - P) c = choice
    symbols = np.ones(len(nodes))
    choices = np.zeros(len(nodes))
    for node, edges in _REBER_GRAPH.items():
        choices[index[node]] = float(len(edges) == 2)
        for _, following in edges:
            if following is not None:
                A[index[node], index[following]] -= 1 / len(edges)
    m, c = np.linalg.solve(A, np.stack([symbols, choices], axis=1)).T
    return float(m[index[0]]), float(c[index[0]])


def reber_stream_entropy(*, remember_branch=True):
    r"""The lowest cross-entropy per symbol a predictor can reach on a continual stream.

    In the stream of :func:`reber_stream` every symbol is either forced by the grammar or
    one of two equally likely symbols. A predictor that knows the grammar pays nothing for a
    forced symbol and :math:`\ln 2` for each two-way choice; over a long stream its mean loss
    per symbol tends to the expected number of choices in one embedded string divided by
    its expected length.

    Parameters
    ----------
    remember_branch : bool, default True
        True: the predictor knows which branch symbol (T or P) the string started with, so
        the closing symbol is forced. False: it has forgotten it and must guess the closing
        symbol too, one more two-way choice per string.

    Returns
    -------
    float
        Nats per symbol: :math:`7 \ln 2 / 12 \approx 0.404` with the branch remembered,
        :math:`8 \ln 2 / 12 \approx 0.462` without, computed from the grammar.

    Notes
    -----
    An inner Reber string has on average :math:`\bar L = 8` symbols, of which
    :math:`\bar L - 2 = 6` (all but B and E) are two-way choices. The embedded string adds
    the outer B, the branch symbol (a choice), the closing symbol (forced, if remembered)
    and the final E: :math:`\bar L + 4 = 12` symbols and 7 choices. In the stream the B
    after an E is forced as well, so every symbol is counted once.
    """
    if not isinstance(remember_branch, (bool, np.bool_)):
        raise ValueError(f"remember_branch: expected True or False, got {remember_branch!r}")
    inner_symbols, inner_choices = _reber_expectations()
    choices = inner_choices + 1 + (0 if remember_branch else 1)
    return choices * np.log(2) / (inner_symbols + 4)


def stream_positions(batch):
    """Where each step of a continual Reber stream is within its embedded string.

    Parameters
    ----------
    batch : ReberBatch
        From :func:`reber_stream` (each row starts at a string's first ``B``).

    Returns
    -------
    position : numpy.ndarray of int, shape (N, T)
        Index of the symbol read at each step within its embedded string: 0 for the outer
        ``B``, 1 for the branch symbol (T or P), 2 for the inner ``B``, and so on.
    branch : numpy.ndarray of str, shape (N, T)
        The branch symbol of the string each step belongs to (``"?"`` at position 0, before
        it has been read).
    """
    symbols = np.array(list(REBER_SYMBOLS))[batch.X.argmax(axis=-1)]  # (N, T)
    N, T = symbols.shape
    position = np.zeros((N, T), dtype=int)
    branch = np.full((N, T), "?")
    for n in range(N):
        current, letter = -1, "?"
        for t in range(T):
            new_string = symbols[n, t] == "B" and (t == 0 or symbols[n, t - 1] == "E")
            current = 0 if new_string else current + 1
            if current == 0:
                letter = "?"
            elif current == 1:
                letter = symbols[n, t]
            position[n, t], branch[n, t] = current, letter
    return position, branch


# --------------------------------------------------------------------------------------
# Character text
# --------------------------------------------------------------------------------------


def available_corpora():
    """Names of the texts shipped in ``rnnlib/data_files`` (for :func:`char_corpus`).

    Returns
    -------
    list of str
        File names without the ``.txt`` suffix, sorted.
    """
    folder = resources.files("rnnlib") / "data_files"
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".txt"))


@dataclass
class CharCorpus:
    r"""A text as a sequence of character ids, for a character-level language model.

    Create it with :func:`char_corpus`.

    Attributes
    ----------
    text : str
        The whole text.
    vocab : str
        The distinct characters, sorted; character ``vocab[i]`` has id ``i``. V is
        ``len(vocab)``.
    ids : numpy.ndarray of int64, shape (len(text),)
        The text encoded.
    n_train : int
        The first ``n_train`` characters are for training, the rest for validation.
    """

    text: str
    vocab: str
    ids: np.ndarray
    n_train: int

    @property
    def vocab_size(self):
        """V, the number of distinct characters."""
        return len(self.vocab)

    def encode(self, text):
        """Turn a string into ids.

        Parameters
        ----------
        text : str
            Only characters of :attr:`vocab`.

        Returns
        -------
        numpy.ndarray of int64, shape (len(text),)
        """
        index = {c: i for i, c in enumerate(self.vocab)}
        unknown = sorted(set(text) - set(index))
        if unknown:
            raise ValueError(f"text: characters not in the vocabulary: {unknown}")
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids):
        """Turn ids back into a string.

        Parameters
        ----------
        ids : array-like of int, shape (L,)

        Returns
        -------
        str
        """
        ids = np.asarray(ids)
        if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"ids: expected a 1-d integer array, got shape {ids.shape}, "
                             f"dtype {ids.dtype}")
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.vocab)):
            raise ValueError(f"ids: expected values in [0, {len(self.vocab)}), got "
                             f"{ids.min()}..{ids.max()}")
        return "".join(self.vocab[i] for i in ids)

    def one_hot(self, ids, dtype=np.float64):
        """One-hot encode ids.

        Parameters
        ----------
        ids : numpy.ndarray of int, any shape S
        dtype : float32 or float64, default float64

        Returns
        -------
        numpy.ndarray, shape S + (V,)
        """
        return np.eye(len(self.vocab), dtype=resolve_dtype(dtype))[np.asarray(ids)]

    def batch(self, batch_size, seq_len, *, rng=None, split="train", dtype=np.float64):
        r"""Random windows of the text as (inputs, targets) for next-character prediction.

        Parameters
        ----------
        batch_size : int
            N, the number of windows.
        seq_len : int
            T, the number of characters in each window.
        rng : numpy.random.Generator, int or None
            Random generator or seed (where each window starts).
        split : {"train", "valid"}, default "train"
            Which part of the text to cut windows from.
        dtype : float32 or float64, default float64
            dtype of ``X``.

        Returns
        -------
        X : numpy.ndarray, shape (N, T, V)
            One-hot characters :math:`c_s, \dots, c_{s+T-1}` of each window.
        targets : numpy.ndarray of int64, shape (N, T)
            The next characters :math:`c_{s+1}, \dots, c_{s+T}`.
        """
        N = check_positive_int("batch_size", batch_size)
        T = check_positive_int("seq_len", seq_len)
        if split == "train":
            part = self.ids[: self.n_train]
        elif split == "valid":
            part = self.ids[self.n_train :]
        else:
            raise ValueError(f"split: expected 'train' or 'valid', got {split!r}")
        if len(part) < T + 1:
            raise ValueError(
                f"seq_len: expected at most {len(part) - 1} for split={split!r}, got {T}"
            )
        rng = resolve_rng(rng)
        starts = rng.integers(0, len(part) - T, size=N)  # (N,)
        windows = part[starts[:, None] + np.arange(T + 1)]  # (N, T+1)
        return self.one_hot(windows[:, :-1], dtype), windows[:, 1:].copy()


def char_corpus(name="seasons", *, lowercase=False, valid_fraction=0.1):
    """Load one of the course's own texts for a character-level language model.

    Parameters
    ----------
    name : str, default "seasons"
        A name from :func:`available_corpora`: ``"seasons"`` is about 30 KB of plain English
        prose on weather, rivers and the seasons, written for this course (ASCII only).
    lowercase : bool, default False
        Lower-case the text first (a smaller vocabulary, so a small model learns faster).
    valid_fraction : float, default 0.1
        The share of the text, at its end, held out for validation (in [0, 0.5]).

    Returns
    -------
    CharCorpus
        With ``text``, ``vocab``, ``ids``, ``encode``, ``decode``, ``one_hot`` and ``batch``.

    Notes
    -----
    Character-level language modelling with recurrent networks goes back to Sutskever,
    Martens and Hinton (2011) and Graves (2013), and was made popular for teaching by
    Karpathy (2015). The text is ours, so the course has no licence to worry about, and it
    is small so that a model trains in seconds.
    """
    names = available_corpora()
    if name not in names:
        raise ValueError(f"name: expected one of {names}, got {name!r}")
    valid_fraction = _check_range("valid_fraction", valid_fraction, 0.0, 0.5)
    text = (resources.files("rnnlib") / "data_files" / f"{name}.txt").read_text("utf-8")
    text = re.sub(r"\r\n?", "\n", text)
    if lowercase:
        text = text.lower()
    vocab = "".join(sorted(set(text)))
    index = {c: i for i, c in enumerate(vocab)}
    ids = np.array([index[c] for c in text], dtype=np.int64)
    n_train = len(text) - int(round(valid_fraction * len(text)))
    return CharCorpus(text=text, vocab=vocab, ids=ids, n_train=n_train)
