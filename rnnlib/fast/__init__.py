r"""The cells' sequence functions arranged for speed, beside the ones the book derives.

:mod:`rnnlib.rnn`, :mod:`rnnlib.lstm` and :mod:`rnnlib.gru` are written to be read next to
the chapters' equations. The modules here compute the same with the same interface,
arranged for speed; :class:`rnnlib.model.SequenceModel` (and so :func:`rnnlib.train.fit`)
and the benchmark (``make bench``) use them. ``book/performance.ipynb`` explains the
arrangements and shows what they buy together against the plain cells and PyTorch.

**The contract.** ``rnnlib.fast.<cell>`` is a drop-in cell module: it has the same
``init_params``, step functions, ``GATES``, ``OPTIONS`` and ``check_params`` (they are
``rnnlib.<cell>``'s own, re-exported), and its ``forward`` and ``backward`` take the same
arguments and return the same values as ``rnnlib.<cell>.forward`` and ``backward`` to
rounding (``tests/test_fast.py`` checks every cell configuration, both dtypes, with and
without an initial state: 1e-12 relative in float64, 2e-5 in float32). Only the cache
differs, and a cache goes back to the module that made it (a backward given another's
cache raises ``ValueError``).

**What is arranged differently** (all of it exact rearrangement, no approximation):

- *Gate nonlinearities in a few calls* (:class:`rnnlib.fast.gates.GateActivations`): the
  gate blocks of a step (the LSTM's f, i, a, o; the GRU's r and u or z) through one
  elementwise call, on weight columns scaled once
  beforehand by powers of two (exact in floating point): :math:`\sigma(x) = \tfrac12
  \tanh(x/2) + \tfrac12` in float32, :math:`\sigma(x) = 1/(1 + e^{-x})` and
  :math:`\tanh(x) = 2/(1 + e^{-2x}) - 1` in float64, where NumPy's ``tanh`` costs about
  twice its ``exp``.
- *Feature-major layout*: inside the loop a step's gates are a (G*H, N) array, one column
  per sequence, so each gate block is one contiguous piece of memory and every NumPy call
  runs over it in one sweep.
- *Preallocated buffers and ``out=``*: few temporary arrays per step. At the book's sizes
  a step's arithmetic takes microseconds and the fixed cost of a NumPy call is what a
  step costs.
- *Gradient factors before the backward loop*: every product of forward values in the
  backward equations is computed for all steps at once, so the loop only multiplies them
  by the carried gradient.

``rnn`` uses the buffers and the precomputed factor :math:`1 - h_t^2` (its one tanh block
needs no rescaling, and it keeps the batch-first layout, so it gains little over the plain
RNN); ``lstm`` and ``gru`` (both conventions) use all four. The precomputed factors cost
memory: the fast LSTM and GRU need more than the plain cells in training.
"""

from rnnlib.fast import gates, gru, lstm, rnn

__all__ = ["CELLS", "gates", "gru", "lstm", "rnn"]

#: The fast cell modules by name, like :data:`rnnlib.layers.CELLS`.
CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}
