"""Gate nonlinearities of a whole step in a few in-place NumPy calls (the fast path only).

:class:`GateActivations` rewrites the sigmoid and tanh of every gate block through one
elementwise call on pre-activations whose weights were scaled beforehand. The plain cells use
:func:`rnnlib.activations.sigmoid` and :func:`rnnlib.activations.tanh`, which say the formula
once; this is the same mathematics arranged so that a step costs fewer NumPy calls.
"""

import numpy as np

__all__ = ["GateActivations"]


class GateActivations:
    r"""Sigmoid and tanh over the column blocks of gate pre-activations, in a few calls.

    The fast sequence loops (:func:`rnnlib.fast.lstm.forward`, :func:`rnnlib.fast.gru.forward`)
    call this once per time step, on the pre-activations of all G gates at once. It computes
    the same as :func:`rnnlib.activations.sigmoid` and :func:`rnnlib.activations.tanh` block
    by block, but with a few in-place NumPy calls over the whole block of rows instead of
    several calls per gate block (three in float32; in float64 with ``axis=0``, two plus one
    per run of equal kinds, plus one for a tanh run). At the
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
    :func:`rnnlib.activations.sigmoid` and :func:`rnnlib.activations.tanh`.
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
