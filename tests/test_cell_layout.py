"""The chapters' code cells read well in the HTML book.

* No line of a code cell is longer than ``MAX_LINE`` characters: the book's code blocks show
  about that many at desktop width before a horizontal scrollbar appears.
* Folding code behind "Show code" (the tag ``hide-input``) or removing it from the page is
  for plotting and bookkeeping, never for what the reader must see: no cell of an exercise
  (inside a ``{solution-start}`` ... ``{solution-end}`` block, tagged ``exercise-check``, or
  holding nbgrader's solution markers or a stub) and no cell that calls ``show_source(``
  carries such a tag.

The notebooks are read with nbformat; nothing is executed. Solution blocks are found with
the student-edition builder's own reading (tools/make_student.py), so both agree on what
an exercise is.
"""

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))

#: The widest code line the book's code blocks show without scrolling.
MAX_LINE = 88
#: Tags that fold a cell's code away or take it off the page.
HIDING_TAGS = ("hide-input", "hide-cell", "remove-input", "remove-cell")
#: Text of a code cell that belongs to an exercise (nbgrader markers, the student stub).
EXERCISE_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION", "# YOUR CODE HERE")

_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
make_student = sys.modules.get("make_student") or importlib.util.module_from_spec(_spec)
if "make_student" not in sys.modules:
    sys.modules["make_student"] = make_student  # dataclasses look their module up there
    _spec.loader.exec_module(make_student)


def long_lines(nb, where="notebook", limit=MAX_LINE):
    """One message per code-cell line longer than ``limit`` characters.

    Cells are named by their index in ``nb.cells`` (from 0, as nbformat counts them) and
    lines by their number in the cell (from 1).
    """
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for number, line in enumerate(cell.source.split("\n"), start=1):
            if len(line) > limit:
                found.append(
                    f"{where}, cell {index}, line {number}: {len(line)} characters "
                    f"(at most {limit}): {line.strip()[:60]!r}..."
                )
    return found


def exercise_reasons(nb, where="notebook"):
    """For each code cell that belongs to an exercise, its index and why it does."""
    reasons = {}
    in_solution = False
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            _, in_solution, _ = make_student.strip_solution_markdown(
                cell.source, in_solution, f"{where}, cell {index}"
            )
            continue
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        if in_solution:
            reasons[index] = "it is inside a {solution-start} ... {solution-end} block"
        elif make_student.CHECK_TAG in tags:
            reasons[index] = f"it is tagged {make_student.CHECK_TAG}"
        elif any(marker in cell.source for marker in EXERCISE_MARKERS):
            reasons[index] = "it holds an exercise's solution markers or stub"
    return reasons


def hidden_that_must_show(nb, where="notebook"):
    """One message per code cell that must stay visible but carries a hiding tag."""
    exercise = exercise_reasons(nb, where)
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        hiding = [tag for tag in cell.metadata.get("tags", []) if tag in HIDING_TAGS]
        if not hiding:
            continue
        if index in exercise:
            found.append(f"{where}, cell {index}: tagged {hiding[0]} but {exercise[index]}; "
                         "an exercise's cells stay visible")
        if "show_source(" in cell.source:
            found.append(f"{where}, cell {index}: tagged {hiding[0]} but calls show_source(, "
                         "whose output is the code the chapter is about")
    return found


# --------------------------------------------------------------------------------------
# The checks themselves, on small notebooks made here
# --------------------------------------------------------------------------------------


def _notebook(*cells):
    return new_notebook(cells=list(cells))


def test_a_line_one_over_the_limit_is_reported_with_cell_and_line():
    nb = _notebook(
        new_markdown_cell("x" * 200),  # prose is not code
        new_code_cell("a = 1\nb = '" + "y" * (MAX_LINE - 6) + "'"),
        new_code_cell("c = '" + "z" * (MAX_LINE - 5) + "'\nd = 2"),
    )
    assert len(nb.cells[1].source.split("\n")[1]) == MAX_LINE
    assert len(nb.cells[2].source.split("\n")[0]) == MAX_LINE + 1
    found = long_lines(nb, "book/made_up.ipynb")
    assert len(found) == 1
    assert found[0].startswith("book/made_up.ipynb, cell 2, line 1: 89 characters")


def test_characters_not_bytes_are_counted():
    assert long_lines(_notebook(new_code_cell("# " + "τ" * (MAX_LINE - 2)))) == []


@pytest.mark.parametrize("tag", HIDING_TAGS)
def test_a_hidden_solution_cell_is_reported(tag):
    nb = _notebook(
        new_markdown_cell("```{exercise}\n:label: made-up\nDo it.\n```"),
        new_markdown_cell("````{solution-start} made-up\n:class: dropdown\n````"),
        new_code_cell("answer = 42", metadata={"tags": [tag]}),
        new_markdown_cell("````{solution-end}\n````"),
        new_code_cell("after = 1", metadata={"tags": [tag]}),  # after the block: fine
    )
    found = hidden_that_must_show(nb, "book/made_up.ipynb")
    assert len(found) == 1 and "cell 2" in found[0] and "solution-start" in found[0]


def test_hidden_checks_stubs_and_shown_sources_are_reported():
    nb = _notebook(
        new_code_cell("assert check(f)", metadata={"tags": ["exercise-check", "hide-input"]}),
        new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                      metadata={"tags": ["hide-input"]}),
        new_code_cell("def g():\n    # YOUR CODE HERE\n    raise NotImplementedError()",
                      metadata={"tags": ["remove-input"]}),
        new_code_cell("rnnlib.show_source(rnn.forward)", metadata={"tags": ["hide-input"]}),
        new_code_cell("plt.plot([1, 2])", metadata={"tags": ["hide-input"]}),
        new_code_cell("assert check(f)", metadata={"tags": ["exercise-check"]}),
    )
    found = hidden_that_must_show(nb)
    assert [message.split(":")[0] for message in found] == [
        "notebook, cell 0", "notebook, cell 1", "notebook, cell 2", "notebook, cell 3",
    ]
    assert "exercise-check" in found[0] and "show_source" in found[3]


# --------------------------------------------------------------------------------------
# The book
# --------------------------------------------------------------------------------------


def test_the_book_has_notebooks():
    assert len(NOTEBOOKS) >= 5


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_no_code_line_is_wider_than_the_code_block(path):
    nb = nbformat.read(path, as_version=4)
    found = long_lines(nb, path.relative_to(ROOT).as_posix())
    assert not found, "\n".join(["lines to rewrap:", *found])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_exercises_and_shown_sources_are_not_folded(path):
    nb = nbformat.read(path, as_version=4)
    found = hidden_that_must_show(nb, path.relative_to(ROOT).as_posix())
    assert not found, "\n".join(["remove the hiding tag:", *found])
