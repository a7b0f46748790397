"""Interactive figures that keep working in the static HTML book.

:func:`precomputed_slider` draws a figure for each of a few parameter values ahead of time,
keeps them as PNG images in an :class:`ipywidgets.Stack`, and switches between them with a
slider tied to the stack by :func:`ipywidgets.jslink`. The link runs in the browser, so the
slider works on the book's HTML pages where no Python kernel is running: the page stores
the widgets' state (the images included) and the widget manager rebuilds them there.

:func:`live_slider` is the kernel version, for JupyterLab: it calls the drawing function
again on every move of the slider, so any value in a range can be tried, but it needs a
running kernel and shows nothing new in the static book.

Usage, with ``make_figure(value)`` returning a :class:`matplotlib.figure.Figure`::

    from rnnlib import widgets
    widgets.precomputed_slider(make_figure, [0.5, 0.9, 1.0, 1.1, 1.5],
                               description="spectral radius")

Keep the number of values small (5 to 9): every image is stored in the page.
"""

import io
import numbers
from collections.abc import Callable, Sequence

import ipywidgets
import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from rnnlib import plots

__all__ = ["MAX_VALUES", "PrecomputedSlider", "live_slider", "precomputed_slider"]

#: Most figures one slider may precompute (each one is stored as an image in the page).
MAX_VALUES = 25


class PrecomputedSlider(ipywidgets.VBox):
    """The widget :func:`precomputed_slider` returns: a slider above a stack of images.

    In the browser it is an ordinary ``VBox``; in Python it also exposes its parts.

    Attributes
    ----------
    slider : ipywidgets.SelectionSlider
        Its ``index`` is the position of the value shown.
    stack : ipywidgets.Stack
        One :class:`ipywidgets.Image` (PNG) per value; ``selected_index`` is the one shown.
    link : ipywidgets.widgets.widget_link.Link
        The browser-side link from ``slider.index`` to ``stack.selected_index``.
    values : list
        The parameter values, in slider order.
    """

    def __init__(self, slider, stack, link, values, **kwargs):
        super().__init__(children=[slider, stack], **kwargs)
        self.slider = slider
        self.stack = stack
        self.link = link
        self.values = list(values)


def _check_make_figure(make_figure):
    if not callable(make_figure):
        raise ValueError(
            "make_figure: expected a function of one value returning a matplotlib Figure, "
            f"got {type(make_figure).__name__}"
        )


def _format_value(value, fmt):
    if fmt is None:
        if isinstance(value, numbers.Integral) or isinstance(value, str):
            return str(value)
        if isinstance(value, numbers.Real):
            return f"{value:g}"
        return str(value)
    if callable(fmt):
        return str(fmt(value))
    return format(value, fmt)


def _render_png(make_figure, value, dpi):
    """Call ``make_figure(value)``, return the figure as PNG bytes, always close it."""
    figures_before = set(plt.get_fignums())
    fig = None
    try:
        fig = make_figure(value)
        if not isinstance(fig, Figure):
            raise ValueError(
                f"make_figure: expected a matplotlib Figure for value {value!r}, "
                f"got {type(fig).__name__}"
            )
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
        return buffer.getvalue()
    finally:
        if isinstance(fig, Figure):
            plt.close(fig)
        # Figures make_figure opened through pyplot but did not return are closed too.
        for number in set(plt.get_fignums()) - figures_before:
            plt.close(number)


def precomputed_slider(
    make_figure: Callable,
    values: Sequence,
    description: str = "value",
    *,
    value=None,
    format=None,
    dpi=None,
    width="100%",
):
    """A slider that switches between figures drawn in advance; works without a kernel.

    Parameters
    ----------
    make_figure : callable
        ``make_figure(v)`` draws the figure for the value ``v`` and returns the
        :class:`matplotlib.figure.Figure`. It is called once per value, now; every figure is
        closed once it is rendered (also the ones it opened but did not return).
    values : sequence, length K with 1 <= K <= MAX_VALUES
        The values the slider offers, in order (numbers or strings). Keep K small (5 to 9):
        each figure is stored as an image in the notebook and in the HTML page.
    description : str, optional
        Label in front of the slider, e.g. ``"spectral radius"``.
    value : optional
        The value shown first (default: the first one). Must be one of ``values``.
    format : str or callable, optional
        How the slider shows a value: a format spec such as ``".2f"`` or a function of the
        value returning a string. Default: ``str`` for integers and strings, ``"g"`` for
        other numbers.
    dpi : float, optional
        Resolution of the images (default :data:`rnnlib.plots.DPI`, the book's).
    width : str, optional
        CSS width of the images; the default ``"100%"`` scales them to the page.

    Returns
    -------
    PrecomputedSlider
        A ``VBox`` holding a ``SelectionSlider`` and a ``Stack`` of K ``Image`` widgets,
        linked in the browser by :func:`ipywidgets.jslink`.

    Raises
    ------
    ValueError
        If ``make_figure`` is not callable or does not return a Figure, if ``values`` is
        empty, longer than :data:`MAX_VALUES` or holds a value twice, or if ``value`` is not
        one of ``values``.
    """
    _check_make_figure(make_figure)
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        try:
            values = list(values)
        except TypeError:
            raise ValueError(
                f"values: expected a sequence of values, got {type(values).__name__}"
            ) from None
    values = list(values)
    if not 1 <= len(values) <= MAX_VALUES:
        raise ValueError(f"values: expected between 1 and {MAX_VALUES} values, got {len(values)}")
    labels = [_format_value(v, format) for v in values]
    if len(set(labels)) != len(labels):
        raise ValueError(f"values: expected distinct values, got the labels {labels}")
    if value is None:
        start = 0
    else:
        matches = [i for i, v in enumerate(values) if v == value]
        if not matches:
            raise ValueError(f"value: expected one of {labels}, got {value!r}")
        start = matches[0]

    dpi = plots.DPI if dpi is None else dpi
    images = [
        ipywidgets.Image(
            value=_render_png(make_figure, v, dpi),
            format="png",
            layout=ipywidgets.Layout(width=width, height="auto"),
        )
        for v in values
    ]
    stack = ipywidgets.Stack(images, selected_index=start)
    slider = ipywidgets.SelectionSlider(
        options=list(zip(labels, range(len(values)), strict=True)),
        index=start,
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        layout=ipywidgets.Layout(width="min(100%, 34em)"),
    )
    link = ipywidgets.jslink((slider, "index"), (stack, "selected_index"))
    return PrecomputedSlider(slider, stack, link, values)


def live_slider(make_figure: Callable, values, description: str = "value", *, value=None):
    """A slider that redraws the figure in the running kernel (JupyterLab only).

    Like :func:`ipywidgets.interact`: every move calls ``make_figure`` again, so it can
    offer a continuous range. In the static HTML book it shows only its first figure; use
    :func:`precomputed_slider` there.

    Parameters
    ----------
    make_figure : callable
        ``make_figure(v)`` returns a :class:`matplotlib.figure.Figure`.
    values : sequence or tuple (min, max) or (min, max, step)
        A list of values (a ``SelectionSlider``), or a range: integers give an
        ``IntSlider``, other numbers a ``FloatSlider`` (step default: 1/100 of the range).
    description : str, optional
        Label in front of the slider.
    value : optional
        The starting value (default: the first value, or the middle of the range).

    Returns
    -------
    ipywidgets.VBox
        The slider above an :class:`ipywidgets.Output` that shows the current figure.

    Raises
    ------
    ValueError
        If ``make_figure`` is not callable, the range is empty or not numeric, or a list of
        values is empty.
    """
    _check_make_figure(make_figure)
    style = {"description_width": "initial"}
    layout = ipywidgets.Layout(width="min(100%, 34em)")
    is_range = (
        isinstance(values, tuple)
        and len(values) in (2, 3)
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
    )
    if is_range:
        low, high = values[0], values[1]
        if not low < high:
            raise ValueError(f"values: expected a range (min, max) with min < max, got {values}")
        if all(isinstance(v, numbers.Integral) for v in values):
            slider_class = ipywidgets.IntSlider
            step = values[2] if len(values) == 3 else 1
            start = (low + high) // 2 if value is None else value
        else:
            slider_class = ipywidgets.FloatSlider
            step = values[2] if len(values) == 3 else (high - low) / 100
            start = (low + high) / 2 if value is None else value
        slider = slider_class(
            value=start,
            min=low,
            max=high,
            step=step,
            description=description,
            continuous_update=False,
            style=style,
            layout=layout,
        )
    else:
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise ValueError(
                f"values: expected a sequence or a (min, max[, step]) range, got {values!r}"
            )
        if len(values) == 0:
            raise ValueError("values: expected at least one value, got 0")
        options = [(_format_value(v, None), v) for v in values]
        slider = ipywidgets.SelectionSlider(
            options=options,
            value=values[0] if value is None else value,
            description=description,
            continuous_update=False,
            style=style,
            layout=layout,
        )

    output = ipywidgets.Output()

    def redraw(change=None):
        with output:
            output.clear_output(wait=True)
            fig = make_figure(slider.value)
            try:
                if not isinstance(fig, Figure):
                    raise ValueError(
                        f"make_figure: expected a matplotlib Figure, got {type(fig).__name__}"
                    )
                from IPython.display import display

                display(fig)
            finally:
                if isinstance(fig, Figure):
                    plt.close(fig)

    slider.observe(redraw, names="value")
    redraw()
    box = ipywidgets.VBox([slider, output])
    box.slider = slider
    box.output = output
    box.redraw = redraw
    return box
