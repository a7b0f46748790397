r"""Measurements and pictures for the LSTM chapter.

- :func:`gate_trace`: every gate, the cell state and the output of an LSTM at every step of a
  sequence, read from :func:`rnnlib.lstm.forward`'s cache (for plots and heatmaps);
- :func:`gradient_norm_by_lag`: how strongly a loss on the last output depends on the input
  k steps earlier, for any rnnlib cell (the constant-error-carousel measurement, book
  equations ``lstm-rnn-product`` and ``lstm-carousel``);
- :func:`draw_cell_diagram`: the LSTM unrolled over a few steps, drawn with matplotlib.

Dimension letters: N batch, T time, D input, H hidden.
"""

import numpy as np

from rnnlib import lstm
from rnnlib._validate import check_array, check_positive_int

__all__ = ["draw_cell_diagram", "gate_trace", "gradient_norm_by_lag"]


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
