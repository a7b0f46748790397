"""The book's figure style, in one place, and small drawing helpers every chapter uses.

Call :func:`style` once at the top of a notebook (``from rnnlib import plots;
plots.style()``). Figures are then readable at the book's text width (about 700 px for a
``figsize`` of ``(7, 3.5)``), use the Okabe-Ito palette, which stays distinguishable for
the common forms of colour blindness, and have a light grid.

Helpers:

- :data:`PALETTE` the Okabe-Ito colours by name, :data:`CYCLE` the order lines take them
  in, and :data:`CELL_COLORS` one fixed colour per architecture, so the RNN, the LSTM and
  the GRU look the same in every chapter.
- :func:`unrolled_graph` draws a recurrent network unrolled in time (one or several
  layers; many-to-many, many-to-one or one-to-many).
- :func:`loss_curve` draws a training loss against the step, optionally smoothed.
- :func:`lstm_cell_diagram` draws the LSTM cell unrolled over a few steps (the book's
  figure of the cell).
"""

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch

__all__ = [
    "CELL_COLORS",
    "CYCLE",
    "DPI",
    "PALETTE",
    "loss_curve",
    "lstm_cell_diagram",
    "style",
    "unrolled_graph",
]

#: The Okabe-Ito palette (Okabe and Ito, "Color Universal Design", 2008), by name.
PALETTE = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}

#: The order in which successive lines take their colour (yellow last: weak on white).
CYCLE = [
    PALETTE[name]
    for name in ("blue", "orange", "green", "vermillion", "purple", "sky_blue", "black", "yellow")
]

#: One colour per architecture, the same in every chapter.
CELL_COLORS = {"rnn": PALETTE["blue"], "lstm": PALETTE["orange"], "gru": PALETTE["green"]}

#: Resolution of figures shown in the book: a (7, 3.5) inch figure is 770 x 385 px.
DPI = 110

_STYLE = {
    "figure.figsize": (7.0, 3.5),
    "figure.dpi": DPI,
    "savefig.dpi": DPI,
    "figure.facecolor": "white",
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.prop_cycle": mpl.cycler(color=CYCLE),
    "axes.grid": True,
    "grid.color": "#d0d0d0",
    "grid.linewidth": 0.6,
    "grid.alpha": 0.8,
    "axes.axisbelow": True,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "lines.markersize": 6,
    "image.cmap": "viridis",
    "mathtext.fontset": "dejavusans",
}


def style():
    """Apply the book's figure style to matplotlib (process-wide).

    Sets ``matplotlib.rcParams``: figure size ``(7, 3.5)`` inches at :data:`DPI` dots per
    inch, 11 pt text, the Okabe-Ito colour cycle (:data:`CYCLE`), a light grid behind the
    data, no top or right spine, constrained layout, and ``viridis`` for images. Calling it
    again is harmless.

    Returns
    -------
    dict
        The settings applied, for reference.
    """
    mpl.rcParams.update(_STYLE)
    return dict(_STYLE)


# --------------------------------------------------------------------------------------
# Unrolled computation graph
# --------------------------------------------------------------------------------------

_KINDS = ("many-to-many", "many-to-one", "one-to-many")


def _box(ax, center, text, *, width, height, facecolor, edgecolor, fontsize, textcolor="black"):
    x, y = center
    patch = FancyBboxPatch(
        (x - width / 2, y - height / 2),
        width,
        height,
        boxstyle="round,pad=0.02,rounding_size=0.12",
        facecolor=facecolor,
        edgecolor=edgecolor,
        linewidth=1.5,
        zorder=3,
    )
    ax.add_patch(patch)
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color=textcolor, zorder=4)
    return patch


def _arrow(ax, start, end, *, color, text=None, text_offset=(0.0, 0.0), fontsize=10):
    arrow = FancyArrowPatch(
        start,
        end,
        arrowstyle="-|>",
        mutation_scale=14,
        linewidth=1.6,
        color=color,
        shrinkA=0,
        shrinkB=0,
        zorder=2,
    )
    ax.add_patch(arrow)
    if text:
        mx = (start[0] + end[0]) / 2 + text_offset[0]
        my = (start[1] + end[1]) / 2 + text_offset[1]
        ax.text(mx, my, text, ha="center", va="bottom", fontsize=fontsize, color=color, zorder=4)
    return arrow


def unrolled_graph(
    ax,
    steps=4,
    *,
    kind="many-to-many",
    layers=1,
    cell_label="cell",
    input_label="x",
    state_label="h",
    output_label="y",
    show_initial_state=True,
    color=None,
    fontsize=11,
):
    r"""Draw a recurrent network unrolled over ``steps`` time steps.

    Each column is one time step: the input :math:`x_t` at the bottom, one box per layer
    (the same cell, with the same weights, at every step), the output :math:`y_t` on top.
    Horizontal arrows carry the hidden state :math:`h_t` from one step to the next; vertical
    arrows carry the input up through the layers.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw. Its grid and ticks are switched off and its limits set.
    steps : int, optional
        Number of time steps T drawn (at least 1).
    kind : {"many-to-many", "many-to-one", "one-to-many"}, optional
        Which inputs and outputs exist: an output at every step, only at the last step, or
        an input only at the first step.
    layers : int, optional
        Number of stacked layers L (at least 1). Layer :math:`l`'s output sequence is layer
        :math:`l+1`'s input sequence.
    cell_label : str, optional
        Text in each box, e.g. ``"RNN"`` or ``"LSTM"``.
    input_label, state_label, output_label : str, optional
        Symbols for input, hidden state and output; step indices are added as subscripts.
    show_initial_state : bool, optional
        Draw the initial state :math:`h_0` entering the first step.
    color : str, optional
        Colour of the boxes' edges and of the recurrent arrows (default: the palette's blue).
    fontsize : float, optional
        Size of the labels in points.

    Returns
    -------
    dict
        The drawn artists: ``"cells"`` a list of ``layers`` lists of ``steps`` patches,
        ``"state_arrows"`` the recurrent arrows, ``"inputs"`` and ``"outputs"`` the input
        and output label texts (only the drawn ones).

    Raises
    ------
    ValueError
        If ``steps`` or ``layers`` is not a positive integer, or ``kind`` is unknown.
    """
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps: expected a positive integer, got {steps!r}")
    if not isinstance(layers, (int, np.integer)) or isinstance(layers, bool) or layers < 1:
        raise ValueError(f"layers: expected a positive integer, got {layers!r}")
    if kind not in _KINDS:
        raise ValueError(f"kind: expected one of {', '.join(_KINDS)}, got {kind!r}")
    edge = color or PALETTE["blue"]
    grey = "#555555"
    dx, dy = 2.0, 1.45  # distance between steps and between layers
    width, height = 1.05, 0.62
    x0 = 1.6 if show_initial_state else 0.6
    y_input = 0.0
    y_cell = [1.3 + dy * layer for layer in range(layers)]
    y_output = y_cell[-1] + 1.3

    artists = {"cells": [], "state_arrows": [], "inputs": [], "outputs": []}
    sub_layer = layers > 1
    for layer in range(layers):
        row = []
        for t in range(steps):
            x = x0 + dx * t
            label = cell_label if not sub_layer else f"{cell_label} {layer + 1}"
            row.append(
                _box(
                    ax,
                    (x, y_cell[layer]),
                    label,
                    width=width,
                    height=height,
                    facecolor="#eef5fb",
                    edgecolor=edge,
                    fontsize=fontsize,
                )
            )
        artists["cells"].append(row)

    def state_name(t, layer):
        sup = f"^{{({layer + 1})}}" if sub_layer else ""
        return f"${state_label}_{{{t}}}{sup}$"

    for layer in range(layers):
        y = y_cell[layer]
        if show_initial_state:
            artists["state_arrows"].append(
                _arrow(
                    ax,
                    (x0 - dx * 0.78, y),
                    (x0 - width / 2, y),
                    color=edge,
                    text=state_name(0, layer),
                    text_offset=(-0.12, 0.06),
                    fontsize=fontsize,
                )
            )
        for t in range(steps - 1):
            xa = x0 + dx * t + width / 2
            xb = x0 + dx * (t + 1) - width / 2
            artists["state_arrows"].append(
                _arrow(
                    ax,
                    (xa, y),
                    (xb, y),
                    color=edge,
                    text=state_name(t + 1, layer),
                    text_offset=(0.0, 0.06),
                    fontsize=fontsize,
                )
            )
        # Between layers: layer l's hidden state goes up as layer l+1's input.
        if layer + 1 < layers:
            for t in range(steps):
                x = x0 + dx * t
                _arrow(ax, (x, y + height / 2), (x, y_cell[layer + 1] - height / 2), color=grey)

    for t in range(steps):
        x = x0 + dx * t
        has_input = kind != "one-to-many" or t == 0
        has_output = kind != "many-to-one" or t == steps - 1
        if has_input:
            _arrow(ax, (x, y_input + 0.28), (x, y_cell[0] - height / 2), color=grey)
            artists["inputs"].append(
                ax.text(
                    x,
                    y_input,
                    f"${input_label}_{{{t + 1}}}$",
                    ha="center",
                    va="center",
                    fontsize=fontsize + 1,
                )
            )
        if has_output:
            _arrow(ax, (x, y_cell[-1] + height / 2), (x, y_output - 0.3), color=grey)
            artists["outputs"].append(
                ax.text(
                    x,
                    y_output,
                    f"${output_label}_{{{t + 1}}}$",
                    ha="center",
                    va="center",
                    fontsize=fontsize + 1,
                )
            )

    ax.set_xlim(x0 - dx * 0.95 if show_initial_state else 0.0, x0 + dx * (steps - 1) + 0.9)
    ax.set_ylim(y_input - 0.45, y_output + 0.45)
    ax.set_aspect("equal")
    ax.axis("off")
    return artists


# --------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------


def _moving_average(values, window):
    kernel = np.ones(window) / window
    # "valid" so that the first smoothed point already averages `window` real points.
    return np.convolve(values, kernel, mode="valid")


def loss_curve(ax, history, *, label=None, color=None, smooth=None, log=True, key="loss"):
    """Plot a training loss against the training step.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    history : sequence of float, shape (S,), or mapping
        The loss at each of S steps, or a mapping (such as the history returned by
        ``rnnlib.train.fit``) whose entry ``key`` holds it; an entry ``"step"`` of the same
        length, when present, gives the step numbers (otherwise 1, 2, ..., S).
    label : str, optional
        Legend label of the curve.
    color : str, optional
        Line colour (default: the next colour of the cycle).
    smooth : int, optional
        Window of a moving average. The raw curve is then drawn faintly behind the smoothed
        one, which starts at step ``smooth``.
    log : bool, optional
        Logarithmic loss axis (the default: losses shrink by orders of magnitude).
    key : str, optional
        Which entry of a mapping to plot.

    Returns
    -------
    matplotlib.lines.Line2D
        The main line (the smoothed one when ``smooth`` is given).

    Raises
    ------
    ValueError
        If the losses are not a non-empty 1-D sequence of finite numbers, if the steps do
        not match them, or if ``smooth`` is not an integer between 1 and S.
    """
    steps = None
    if isinstance(history, Mapping):
        if key not in history:
            raise ValueError(f"history: expected an entry {key!r}, got keys {sorted(history)}")
        if "step" in history:
            steps = np.asarray(history["step"], dtype=float)
        history = history[key]
    if not isinstance(history, (Sequence, np.ndarray)):
        raise ValueError(f"history: expected a sequence of losses, got {type(history).__name__}")
    losses = np.asarray(history, dtype=float)
    if losses.ndim != 1 or losses.size == 0:
        raise ValueError(f"history: expected shape (S,) with S >= 1, got {losses.shape}")
    if not np.all(np.isfinite(losses)):
        first = int(np.flatnonzero(~np.isfinite(losses))[0])
        raise ValueError(f"history contains NaN or inf (first at index ({first},))")
    if steps is None:
        steps = np.arange(1, losses.size + 1, dtype=float)
    elif steps.shape != losses.shape:
        raise ValueError(f"history['step']: expected shape {losses.shape}, got {steps.shape}")
    if log and np.any(losses <= 0):
        log = False  # a loss of exactly zero cannot go on a log axis
    if smooth is not None:
        if not isinstance(smooth, (int, np.integer)) or not 1 <= smooth <= losses.size:
            raise ValueError(f"smooth: expected an integer in [1, {losses.size}], got {smooth!r}")
    if smooth is not None and smooth > 1:
        (raw,) = ax.plot(steps, losses, color=color, alpha=0.25, linewidth=1.0)
        (line,) = ax.plot(
            steps[smooth - 1 :],
            _moving_average(losses, smooth),
            color=raw.get_color(),
            label=label,
        )
    else:
        (line,) = ax.plot(steps, losses, color=color, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("training step")
    ax.set_ylabel("loss" if key == "loss" else key)
    if label is not None:
        ax.legend()
    return line


def lstm_cell_diagram(steps=3, *, ax=None):
    r"""Draw the LSTM unrolled over a few time steps (the book's figure of the cell).

    The cell state runs as a thick line along the top, through one multiplication by the
    forget gate and one addition of :math:`i_t \odot a_t` per step; the four gates read
    :math:`[x_t, h_{t-1}]` from the line along the bottom; :math:`h_t = o_t \odot
    \tanh(s_t)` leaves each step upwards and to the right, into the next step.

    The cell state and its operations are drawn in ``PALETTE["blue"]``, the gates in
    ``PALETTE["orange"]`` (the LSTM's colour in :data:`CELL_COLORS`), the other lines in
    ``PALETTE["black"]``.

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

    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps: expected an integer from 1 to 5, got {steps!r}")
    if steps > 5:
        raise ValueError(f"steps: expected 1 to 5, got {steps}")
    width = 3.2
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.6))
    else:
        fig = ax.figure
    state_color, gate_color, line_color = PALETTE["blue"], PALETTE["orange"], PALETTE["black"]
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
