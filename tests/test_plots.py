"""Tests for rnnlib.plots: the style, the palette and the drawing helpers."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb

from rnnlib import plots


@pytest.fixture
def ax():
    with matplotlib.rc_context():
        plots.style()
        fig, ax = plt.subplots()
        yield ax
        plt.close(fig)


def test_palette_is_okabe_ito():
    assert plots.PALETTE == {
        "black": "#000000",
        "orange": "#E69F00",
        "sky_blue": "#56B4E9",
        "green": "#009E73",
        "yellow": "#F0E442",
        "blue": "#0072B2",
        "vermillion": "#D55E00",
        "purple": "#CC79A7",
    }
    assert sorted(plots.CYCLE) == sorted(plots.PALETTE.values())
    assert plots.CYCLE[-1] == plots.PALETTE["yellow"]  # weakest on white comes last
    assert set(plots.CELL_COLORS) == {"rnn", "lstm", "gru"}
    assert len(set(plots.CELL_COLORS.values())) == 3


def test_style_sets_the_book_look():
    with matplotlib.rc_context():
        applied = plots.style()
        rc = matplotlib.rcParams
        assert tuple(rc["figure.figsize"]) == (7.0, 3.5)
        assert rc["figure.dpi"] == plots.DPI
        # a 7-inch figure fills the book's text width of about 700-800 pixels
        assert 700 <= 7 * plots.DPI <= 800
        assert rc["font.size"] >= 10
        assert rc["axes.grid"] is True
        cycle = [to_rgb(c) for c in rc["axes.prop_cycle"].by_key()["color"]]
        assert cycle == [to_rgb(c) for c in plots.CYCLE]
        assert applied["font.size"] == rc["font.size"]
        plots.style()  # calling it twice is harmless
        assert rc["figure.dpi"] == plots.DPI


@pytest.mark.parametrize("kind", ["many-to-many", "many-to-one", "one-to-many"])
@pytest.mark.parametrize("layers", [1, 3])
def test_unrolled_graph_draws_one_box_per_layer_and_step(ax, kind, layers):
    steps = 5
    art = plots.unrolled_graph(ax, steps, kind=kind, layers=layers, cell_label="RNN")
    assert len(art["cells"]) == layers
    assert all(len(row) == steps for row in art["cells"])
    # recurrent arrows: h_0 in, then one between consecutive steps, in every layer
    assert len(art["state_arrows"]) == layers * steps
    n_in = {"many-to-many": steps, "many-to-one": steps, "one-to-many": 1}[kind]
    n_out = {"many-to-many": steps, "many-to-one": 1, "one-to-many": steps}[kind]
    assert len(art["inputs"]) == n_in
    assert len(art["outputs"]) == n_out
    assert art["outputs"][-1].get_text() == f"$y_{{{steps}}}$"
    texts = {t.get_text() for t in ax.texts}
    assert ("RNN 3" in texts) == (layers == 3)
    assert not ax.axison


def test_unrolled_graph_without_initial_state(ax):
    art = plots.unrolled_graph(ax, 3, show_initial_state=False)
    assert len(art["state_arrows"]) == 2


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"steps": 0}, "steps: expected a positive integer, got 0"),
        ({"steps": 2.5}, "steps: expected a positive integer"),
        ({"layers": 0}, "layers: expected a positive integer, got 0"),
        ({"kind": "many-to-few"}, "kind: expected one of"),
    ],
)
def test_unrolled_graph_rejects_bad_arguments(ax, kwargs, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        plots.unrolled_graph(ax, **kwargs)


def test_loss_curve_plots_a_list_on_a_log_axis(ax):
    losses = [1.0, 0.5, 0.25, 0.125]
    line = plots.loss_curve(ax, losses, label="RNN")
    np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_array_equal(line.get_ydata(), losses)
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "training step"
    assert ax.get_ylabel() == "loss"
    assert ax.get_legend() is not None


def test_loss_curve_reads_a_history_mapping_with_steps(ax):
    history = {"step": [10, 20, 30], "loss": [3.0, 2.0, 1.5]}
    line = plots.loss_curve(ax, history)
    np.testing.assert_array_equal(line.get_xdata(), [10, 20, 30])
    assert ax.get_legend() is None


def test_loss_curve_smoothing_is_a_moving_average(ax):
    losses = np.array([4.0, 2.0, 6.0, 0.0, 2.0])
    line = plots.loss_curve(ax, losses, smooth=3, log=False)
    np.testing.assert_allclose(line.get_ydata(), [4.0, 8 / 3, 8 / 3])
    np.testing.assert_array_equal(line.get_xdata(), [3, 4, 5])
    assert len(ax.lines) == 2  # the raw curve stays, faint, behind
    assert ax.lines[0].get_alpha() < 1


def test_loss_curve_falls_back_to_linear_axis_for_a_zero_loss(ax):
    plots.loss_curve(ax, [1.0, 0.0])
    assert ax.get_yscale() == "linear"


@pytest.mark.parametrize(
    ("history", "kwargs", "words"),
    [
        ([], {}, r"history: expected shape \(S,\) with S >= 1, got \(0,\)"),
        ([[1.0, 2.0]], {}, r"history: expected shape \(S,\)"),
        ([1.0, np.nan], {}, r"history contains NaN or inf \(first at index \(1,\)\)"),
        ({"accuracy": [1.0]}, {}, "history: expected an entry 'loss'"),
        ({"step": [1, 2], "loss": [1.0]}, {}, r"history\['step'\]: expected shape \(1,\)"),
        ([1.0, 0.5], {"smooth": 3}, r"smooth: expected an integer in \[1, 2\], got 3"),
        (3.0, {}, "history: expected a sequence of losses, got float"),
    ],
)
def test_loss_curve_rejects_bad_input(ax, history, kwargs, words):
    with pytest.raises(ValueError, match=words):
        plots.loss_curve(ax, history, **kwargs)


def test_lstm_cell_diagram_returns_a_figure_and_checks_steps():
    fig = plots.lstm_cell_diagram(steps=2)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 1
    plt.close(fig)
    for steps in (0, 7, 2.5):
        with pytest.raises(ValueError, match="steps"):
            plots.lstm_cell_diagram(steps=steps)


def test_lstm_cell_diagram_draws_on_a_given_axes_in_palette_colours(ax):
    fig = plots.lstm_cell_diagram(steps=3, ax=ax)
    assert fig is ax.figure
    colours = {to_rgb(line.get_color()) for line in ax.lines}
    assert to_rgb(plots.PALETTE["blue"]) in colours  # the cell state
    gates = [patch for patch in ax.patches
             if to_rgb(patch.get_facecolor()[:3]) == to_rgb(plots.PALETTE["orange"])]
    assert len(gates) == 4 * 3  # four gates per step
