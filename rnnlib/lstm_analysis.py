r"""Measurements and pictures for the LSTM chapter.

- :func:`gate_trace`: every gate, the cell state and the output of an LSTM at every step of a
  sequence, read from :func:`rnnlib.lstm.forward`'s cache (for plots and heatmaps);
- :func:`gradient_norm_by_lag`: how strongly a loss on the last output depends on the input
  k steps earlier, for any rnnlib cell (the constant-error-carousel measurement, book
  equations ``lstm-rnn-product`` and ``lstm-carousel``);
- :func:`draw_cell_diagram`: the LSTM unrolled over a few steps, drawn with matplotlib;
- the two Reber-grammar experiments of the chapter's second page:
  :func:`reber_train_test_sets`, :func:`fraction_solved` and :func:`train_until_solved`
  (Experiment 1 of Hochreiter and Schmidhuber 1997, with the paper's success criterion), and
  :func:`train_on_stream`, :func:`run_stream`, :func:`long_lag_steps` and
  :func:`stream_positions` (the continual stream of Gers, Schmidhuber and Cummins 2000).

Dimension letters: N batch, T time, D input, H hidden, V outputs.
"""

import numpy as np

from rnnlib import data, layers, lstm
from rnnlib._validate import check_array, check_positive_int
from rnnlib.data import long_lag_steps, reber_train_test_sets, stream_positions
from rnnlib.train import fit, fit_stream

__all__ = [
    "draw_cell_diagram",
    "fraction_solved",
    "gate_trace",
    "gradient_norm_by_lag",
    "long_lag_steps",
    "reber_train_test_sets",
    "run_stream",
    "stream_positions",
    "train_on_stream",
    "train_until_solved",
]


def gate_trace(X, params, state0=None, *, forget_gate=True):
    r"""Gates, cell state and output of an LSTM at every step of a sequence.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    params : dict
        LSTM parameters, ``"W"`` (D+H, 4H) and ``"b"`` (4H,) (3H without the forget gate).
    state0 : tuple (h0, s0) of numpy.ndarray, each (N, H), or None
        Initial state; None means zeros.
    forget_gate : bool, default True
        Whether ``params`` belong to the cell with a forget gate.

    Returns
    -------
    trace : dict of numpy.ndarray, each (N, T, H)
        ``"f"``, ``"i"``, ``"a"``, ``"o"``: the activated gates (book equations
        ``lstm-forget`` to ``lstm-output-gate``); ``"s"``: the cell state :math:`s_t`;
        ``"h"``: the output :math:`h_t`. Without a forget gate ``"f"`` is all ones, which is
        what the 1997 cell's update :math:`s_t = s_{t-1} + i_t a_t` amounts to.

    Notes
    -----
    A thin reader of :func:`rnnlib.lstm.forward`: it does no arithmetic of its own, it only
    splits the cached gate activations (N, T, G*H) into their blocks.
    """
    Y, _, cache = lstm.forward(X, state0, params, forget_gate=forget_gate)
    gates = cache["gates"]  # (N, T, G*H), activated, blocks in lstm.GATES order
    names = lstm.GATES if forget_gate else lstm.GATES_NO_FORGET
    blocks = dict(zip(names, np.split(gates, len(names), axis=-1), strict=True))
    if not forget_gate:
        blocks["f"] = np.ones_like(blocks["i"])
    return {
        "f": blocks["f"].copy(),
        "i": blocks["i"].copy(),
        "a": blocks["a"].copy(),
        "o": blocks["o"].copy(),
        "s": cache["S"].copy(),
        "h": Y,
    }


def gradient_norm_by_lag(cell, params, X, *, direction=None, **cell_options):
    r"""Norm of the gradient of a loss on the last output with respect to earlier inputs.

    The loss is :math:`L = h_T \cdot u` for a fixed unit vector :math:`u` (the same for
    every sequence); backpropagation through time gives :math:`\partial L / \partial x_t`
    for every step, and its norm at lag :math:`k = T - t` says how much the input
    :math:`k` steps before the end can still move the output.

    Parameters
    ----------
    cell : module
        An rnnlib cell module: :mod:`rnnlib.rnn`, :mod:`rnnlib.lstm` or :mod:`rnnlib.gru`.
    params : dict
        The cell's parameters, same dtype as ``X``.
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    direction : numpy.ndarray, shape (H,), optional
        The vector :math:`u`; default :math:`(1, \dots, 1)/\sqrt{H}`.
    **cell_options
        Passed to the cell's ``forward`` (e.g. ``forget_gate=False``).

    Returns
    -------
    norms : numpy.ndarray, shape (T,)
        ``norms[k]`` is the mean over the batch of
        :math:`\|\partial L / \partial x_{T-k}\|`: ``norms[0]`` the last step, ``norms[-1]``
        the first.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D")
    Y, _, cache = cell.forward(X, None, params, **cell_options)
    N, T, H = Y.shape
    if direction is None:
        direction = np.full(H, 1.0 / np.sqrt(H), dtype=X.dtype)
    direction = check_array("direction", direction, shape=(H,), dims="H")
    dY = np.zeros_like(Y)  # (N, T, H): the loss looks only at the last output
    dY[:, -1] = direction
    dX, _, _ = cell.backward(dY, None, cache)  # (N, T, D)
    norms = np.linalg.norm(dX, axis=2).mean(axis=0)  # (T,), indexed by time
    return norms[::-1].copy()  # indexed by lag


def draw_cell_diagram(steps=3, *, ax=None):
    r"""Draw the LSTM unrolled over a few time steps (the book's figure of the cell).

    The cell state runs as a thick line along the top, through one multiplication by the
    forget gate and one addition of :math:`i_t \odot a_t` per step; the four gates read
    :math:`[x_t, h_{t-1}]` from the line along the bottom; :math:`h_t = o_t \odot
    \tanh(s_t)` leaves each step upwards and to the right, into the next step.

    Parameters
    ----------
    steps : int, default 3
        How many time steps to draw (1 to 5); the middle one is labelled :math:`t`.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure of width 7 inches is made if None.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyBboxPatch

    steps = check_positive_int("steps", steps)
    if steps > 5:
        raise ValueError(f"steps: expected 1 to 5, got {steps}")
    width = 3.2
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.6))
    else:
        fig = ax.figure
    state_color, gate_color, line_color = "#0072B2", "#E69F00", "0.25"
    state_y, bus_y, gate_y, mix_y = 2.9, 0.45, 1.35, 2.15

    def time_label(k):
        offset = k - steps // 2
        return "t" if offset == 0 else f"t{offset:+d}"

    def arrow(x0, y0, x1, y1, color=line_color, lw=1.2):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": lw,
                                "shrinkA": 0, "shrinkB": 0, "mutation_scale": 9})

    def node(x, y, text, color=line_color):
        ax.add_patch(Circle((x, y), 0.17, facecolor="white", edgecolor=color, lw=1.4, zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=10, zorder=4, color=color)

    def gate_box(x, y, name, function):
        ax.add_patch(FancyBboxPatch((x - 0.22, y - 0.2), 0.44, 0.4,
                                    boxstyle="round,pad=0.02", facecolor=gate_color,
                                    edgecolor="none", alpha=0.9, zorder=3))
        ax.text(x, y + 0.05, f"${name}$", ha="center", va="center", fontsize=10, zorder=4)
        ax.text(x, y - 0.37, function, ha="center", va="center", fontsize=7, color="0.3")

    total = steps * width
    # the cell state, running through all steps, and the line that carries h between steps
    ax.plot([-0.5, total + 0.3], [state_y, state_y], color=state_color, lw=3.5, zorder=1,
            solid_capstyle="butt")
    ax.plot([-0.5, total + 0.3], [bus_y, bus_y], color=line_color, lw=1.2, zorder=1)
    ax.text(-0.6, state_y, "cell state", ha="right", va="center", fontsize=8,
            color=state_color)
    ax.text(-0.6, bus_y, "output", ha="right", va="center", fontsize=8, color=line_color)
    for k in range(steps):
        x0 = k * width
        label = time_label(k)
        ax.add_patch(FancyBboxPatch((x0 + 0.15, 0.1), width - 0.3, 3.2,
                                    boxstyle="round,pad=0.02,rounding_size=0.15",
                                    facecolor="0.96", edgecolor="0.7", lw=1, zorder=0))
        gx = {"f": x0 + 0.55, "i": x0 + 1.1, "a": x0 + 1.65, "o": x0 + 2.25}
        ia_x, out_x, edge_x = gx["a"], x0 + 2.75, x0 + width
        # the gates read z_t = [x_t, h_{t-1}] from the line below
        for name, function in (("f", "σ"), ("i", "σ"), ("a", "tanh"), ("o", "σ")):
            ax.plot([gx[name], gx[name]], [bus_y, gate_y - 0.2], color=line_color, lw=1)
            gate_box(gx[name], gate_y, name, function)
        # forget: f_t * s_{t-1} on the state line
        arrow(gx["f"], gate_y + 0.2, gx["f"], state_y - 0.17)
        node(gx["f"], state_y, "×", state_color)
        # write: i_t * a_t, added to the state
        node(ia_x, mix_y, "×")
        ax.plot([gx["i"], gx["i"], ia_x - 0.17], [gate_y + 0.2, mix_y, mix_y],
                color=line_color, lw=1.2)
        arrow(gx["a"], gate_y + 0.2, ia_x, mix_y - 0.17)
        arrow(ia_x, mix_y + 0.17, ia_x, state_y - 0.17)
        node(ia_x, state_y, "+", state_color)
        # read: h_t = o_t * tanh(s_t), passed on to the next step
        ax.plot([out_x, out_x], [state_y, mix_y + 0.17], color=state_color, lw=1.2)
        ax.text(out_x, (state_y + mix_y) / 2 + 0.05, "tanh", ha="center", va="center",
                fontsize=7, color="0.3", zorder=4,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "0.6"})
        node(out_x, mix_y, "×")
        ax.plot([gx["o"], gx["o"], out_x - 0.17], [gate_y + 0.2, mix_y, mix_y],
                color=line_color, lw=1.2)
        ax.plot([out_x + 0.17, edge_x], [mix_y, mix_y], color=line_color, lw=1.2)
        arrow(edge_x, mix_y, edge_x, bus_y + 0.02)
        ax.text(edge_x + 0.05, bus_y - 0.08, f"$h_{{{label}}}$", ha="left", va="top",
                fontsize=10)
        # the input from below
        arrow(x0 + 1.4, -0.45, x0 + 1.4, bus_y - 0.02)
        ax.text(x0 + 1.4, -0.6, f"$x_{{{label}}}$", ha="center", va="top", fontsize=10)
        # the state between steps
        ax.text(edge_x, state_y + 0.2, f"$s_{{{label}}}$", ha="center", va="bottom",
                fontsize=10, color=state_color)
    first = time_label(0)
    prev = "t-1" if first == "t" else f"t{int(first[1:]) - 1:+d}"
    ax.text(-0.15, state_y + 0.2, f"$s_{{{prev}}}$", ha="center", va="bottom", fontsize=10,
            color=state_color)
    ax.text(-0.15, bus_y - 0.08, f"$h_{{{prev}}}$", ha="center", va="top", fontsize=10)
    ax.set_xlim(-1.9, total + 0.4)
    ax.set_ylim(-1.0, 3.6)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig


# --------------------------------------------------------------------------------------
# Embedded Reber grammar (Hochreiter and Schmidhuber 1997, Experiment 1)
# --------------------------------------------------------------------------------------


def fraction_solved(model, batch):
    """Fraction of strings whose every step meets the criterion of the 1997 paper.

    Parameters
    ----------
    model : rnnlib.layers.SequenceModel
        A next-symbol model with 7 inputs and 7 outputs.
    batch : data.ReberBatch
        ``X`` (N, T, 7), ``legal`` (N, T, 7), ``mask`` (N, T).

    Returns
    -------
    float
        The fraction of the N strings for which, at every step, the outputs of all legal next
        symbols are larger than the outputs of all other symbols
        (:func:`rnnlib.data.reber_strings_correct`).
    """
    outputs = model.forward(batch.X)  # (N, T, 7)
    return float(data.reber_strings_correct(outputs, batch).mean())


def train_until_solved(model, train, test, *, optimizer, max_sequences, batch_size=32,
                       eval_every=25, rng=None):
    """Train a next-symbol model on Reber strings until it meets the paper's criterion.

    Every step draws ``batch_size`` different strings from the training set, takes one
    optimiser step on the masked cross-entropy of the next symbol, and every ``eval_every``
    steps checks the success criterion of Hochreiter and Schmidhuber (1997, Experiment 1) on
    the whole training set *and* the whole test set. Training stops at the first check where
    every string of both sets is predicted correctly, or when ``max_sequences`` training
    strings have been presented.

    Parameters
    ----------
    model : rnnlib.layers.SequenceModel
        7 inputs, 7 outputs.
    train, test : data.ReberBatch
        From :func:`reber_train_test_sets`.
    optimizer : rnnlib.optim.SGD or rnnlib.optim.Adam
        Updates ``model.params`` in place.
    max_sequences : int
        The budget: training strings presented before giving up.
    batch_size : int, default 32
        Strings per optimiser step.
    eval_every : int, default 25
        Optimiser steps between two checks of the criterion.
    rng : numpy.random.Generator, int or None
        Chooses the strings of each batch.

    Returns
    -------
    dict
        ``"solved"`` (bool); ``"sequences"``: training strings presented until the check
        that found the task solved (None if it never was); ``"curve"``: list of
        ``(sequences, fraction of training strings solved, fraction of test strings
        solved)`` at every check; ``"seconds"``: wall-clock time.
    """
    max_sequences = check_positive_int("max_sequences", max_sequences)
    batch_size = check_positive_int("batch_size", batch_size)
    eval_every = check_positive_int("eval_every", eval_every)
    lengths = train.mask.sum(axis=1)  # (N_train,)

    def batches(rng):
        rows = rng.choice(len(lengths), batch_size, replace=False)
        T = int(lengths[rows].max())  # trim the padding this batch does not need
        return train.X[rows, :T], train.targets[rows, :T], train.mask[rows, :T]

    def check(model, step):
        if step == 0 or step % eval_every:  # checks only every eval_every steps
            return None
        return fraction_solved(model, train), fraction_solved(model, test)

    history = fit(model, batches, optimizer, -(-max_sequences // batch_size),
                  progress=False, callback=check, eval_every=eval_every,
                  stop_when=lambda result: result is not None and result == (1.0, 1.0),
                  loss="cross_entropy", rng=rng)
    curve = [(step * batch_size, *result) for step, result in history["callback"]
             if result is not None]
    solved = history["stopped_at"] is not None
    return {"solved": solved,
            "sequences": history["stopped_at"] * batch_size if solved else None,
            "curve": curve, "seconds": history["seconds"]}


# --------------------------------------------------------------------------------------
# Continual embedded Reber stream (Gers, Schmidhuber and Cummins 2000)
# --------------------------------------------------------------------------------------


def train_on_stream(model, stream, *, optimizer, chunk=40, clip=1.0, log_every=100):
    """Truncated backpropagation through time over a stream that is never reset.

    The stream is cut into consecutive chunks of ``chunk`` steps; each chunk starts from the
    final state of the previous one (so the network's state is never reset, as in the
    continual task), and the gradient stops at the chunk boundary.

    Parameters
    ----------
    model : rnnlib.layers.SequenceModel
        A one-layer LSTM next-symbol model with 7 inputs and 7 outputs.
    stream : data.ReberBatch
        From :func:`rnnlib.data.reber_stream`: ``X`` (N, T, 7) and ``targets`` (N, T).
    optimizer : rnnlib.optim.SGD or rnnlib.optim.Adam
    chunk : int, default 40
        Steps per chunk; ``T // chunk`` optimiser steps are taken.
    clip : float or None, default 1.0
        Global gradient-norm clipping.
    log_every : int, default 100
        Optimiser steps between two log entries.

    Returns
    -------
    dict of lists
        ``"symbols"``: stream position (symbols read per stream) at each log entry;
        ``"loss"``: mean training loss since the previous entry; ``"mean_abs_state"``: the
        mean of :math:`|s|` over units and streams at that position.
    """
    history = fit_stream(model, stream.X, stream.targets, optimizer, chunk=chunk, clip=clip,
                         loss="cross_entropy", log_every=log_every,
                         callback=lambda m, states, position: float(np.abs(states[0][1]).mean()))
    return {"symbols": history["position"], "loss": history["loss"],
            "mean_abs_state": history["callback"]}


def run_stream(model, X, *, forget_gate=True):
    """Run a one-layer LSTM model over a whole stream, keeping every gate and state.

    Parameters
    ----------
    model : rnnlib.layers.SequenceModel
        One LSTM layer and an output layer.
    X : numpy.ndarray, shape (N, T, D)
        The input stream, from a zero initial state.
    forget_gate : bool, default True
        Whether the model's cell has a forget gate.

    Returns
    -------
    outputs : numpy.ndarray, shape (N, T, V)
        The output layer's values (logits) at every step.
    trace : dict of numpy.ndarray, each (N, T, H)
        As from :func:`gate_trace`.
    """
    trace = gate_trace(X, model.layer_params(0), forget_gate=forget_gate)
    outputs, _ = layers.dense_forward(trace["h"], {"W": model.params["out.W"],
                                                   "b": model.params["out.b"]})
    return outputs, trace


