"""Tests for rnnlib.widgets: precomputed (kernel-free) and live sliders."""

import ipywidgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
from ipywidgets.embed import dependency_state, embed_data
from ipywidgets.widgets.widget_link import Link

from rnnlib import widgets

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def make_line(value):
    fig, ax = plt.subplots(figsize=(4, 2))
    t = np.arange(10)
    ax.plot(t, value * t)
    ax.set_ylim(0, 20)
    return fig


@pytest.fixture(autouse=True)
def no_figures_left_open():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a figure was left open"


def test_precomputed_slider_has_one_png_per_value_in_a_stack():
    values = [0.5, 1.0, 2.0]
    box = widgets.precomputed_slider(make_line, values, description="slope")
    assert isinstance(box, ipywidgets.VBox)
    assert box.children == (box.slider, box.stack)
    assert isinstance(box.slider, ipywidgets.SelectionSlider)
    assert isinstance(box.stack, ipywidgets.Stack)
    assert box.slider.description == "slope"
    assert box.values == values
    images = box.stack.children
    assert len(images) == 3
    assert all(isinstance(im, ipywidgets.Image) and im.format == "png" for im in images)
    assert all(bytes(im.value).startswith(PNG_MAGIC) for im in images)
    assert len({bytes(im.value) for im in images}) == 3  # different values, different pictures
    assert [label for label, _ in box.slider.options] == ["0.5", "1", "2"]


def test_slider_and_stack_are_joined_by_a_browser_side_link():
    box = widgets.precomputed_slider(make_line, [1, 2, 3])
    link = box.link
    assert isinstance(link, Link)  # jslink, not a kernel-side observe
    assert link.source == (box.slider, "index")
    assert link.target == (box.stack, "selected_index")
    assert box.slider.index == box.stack.selected_index == 0


def test_starting_value_selects_its_figure():
    box = widgets.precomputed_slider(make_line, [1, 2, 3], value=2)
    assert box.slider.index == 1
    assert box.stack.selected_index == 1


def test_widget_state_embeds_images_and_link_for_static_html():
    box = widgets.precomputed_slider(make_line, [1, 2])
    # The link is not a child of the box: a page must store its state as well, as the
    # notebook's saved widget state does (it holds every widget the kernel made).
    data = embed_data(views=[box], state=dependency_state([box, box.link]))
    models = data["manager_state"]["state"].values()
    names = [m["model_name"] for m in models]
    assert names.count("ImageModel") == 2
    assert "LinkModel" in names
    assert "StackModel" in names
    assert "SelectionSliderModel" in names
    # The view of the whole widget is the VBox, and every model carries its own state.
    assert data["view_specs"][0]["model_id"] == box.model_id


def test_every_figure_is_closed_even_those_not_returned():
    def opens_two(value):
        plt.figure()  # a stray figure the function forgets about
        return make_line(value)

    widgets.precomputed_slider(opens_two, [1, 2, 3])
    # the autouse fixture asserts that no figure is left open


def test_figures_are_closed_when_make_figure_fails():
    def fails_on_two(value):
        fig = make_line(value)
        if value == 2:
            raise RuntimeError("cannot draw 2")
        return fig

    with pytest.raises(RuntimeError, match="cannot draw 2"):
        widgets.precomputed_slider(fails_on_two, [1, 2, 3])


def test_custom_format_and_string_values():
    box = widgets.precomputed_slider(make_line, [0.25, 0.5], format=".2f")
    assert [label for label, _ in box.slider.options] == ["0.25", "0.50"]
    box = widgets.precomputed_slider(lambda name: make_line(len(name)), ["rnn", "lstm"])
    assert [label for label, _ in box.slider.options] == ["rnn", "lstm"]


@pytest.mark.parametrize(
    ("args", "kwargs", "words"),
    [
        ((make_line, []), {}, r"values: expected between 1 and 25 values, got 0"),
        ((make_line, list(range(26))), {}, r"values: expected between 1 and 25 values, got 26"),
        ((make_line, 3.0), {}, "values: expected a sequence of values, got float"),
        ((make_line, [1.0, 1.0]), {}, "values: expected distinct values"),
        ((make_line, [1, 2]), {"value": 5}, r"value: expected one of \['1', '2'\], got 5"),
        (("not a function", [1]), {}, "make_figure: expected a function"),
        ((lambda v: None, [1]), {}, "make_figure: expected a matplotlib Figure for value 1, "
                                    "got NoneType"),
    ],
)
def test_precomputed_slider_rejects_bad_input(args, kwargs, words):
    with pytest.raises(ValueError, match=words):
        widgets.precomputed_slider(*args, **kwargs)


def test_values_may_be_any_iterable():
    box = widgets.precomputed_slider(make_line, np.array([1.0, 3.0]))
    assert len(box.stack.children) == 2


def test_live_slider_redraws_with_the_new_value():
    seen = []

    def record(value):
        seen.append(value)
        return make_line(value)

    box = widgets.live_slider(record, [1, 2, 3], description="slope")
    assert isinstance(box.slider, ipywidgets.SelectionSlider)
    assert isinstance(box.output, ipywidgets.Output)
    assert seen == [1]
    box.slider.value = 3
    assert seen == [1, 3]


@pytest.mark.parametrize(
    ("values", "slider_type", "start"),
    [((0, 10), ipywidgets.IntSlider, 5), ((0.0, 1.0), ipywidgets.FloatSlider, 0.5),
     ((0.0, 2.0, 0.5), ipywidgets.FloatSlider, 1.0)],
)
def test_live_slider_accepts_a_range(values, slider_type, start):
    box = widgets.live_slider(make_line, values)
    assert type(box.slider) is slider_type
    assert box.slider.value == start
    assert box.slider.min == values[0] and box.slider.max == values[1]


@pytest.mark.parametrize(
    ("values", "words"),
    [((1.0, 1.0), r"values: expected a range \(min, max\) with min < max"),
     ([], "values: expected at least one value, got 0"),
     ("abc", "values: expected a sequence or a"),
     (None, "values: expected a sequence or a")],
)
def test_live_slider_rejects_bad_values(values, words):
    with pytest.raises(ValueError, match=words):
        widgets.live_slider(make_line, values)
