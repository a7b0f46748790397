"""The book's prose names and quotes rnnlib as rnnlib is now.

The chapters show rnnlib's source with ``show_source(...)`` and their prose refers to it, so
when the library changes a quote can go stale silently. These tests read the prose of
book/*.ipynb (markdown cells) and book/*.md with MyST's parser, as the build does: code
blocks, maths (``$...$``), roles (``{eq}`...```) and ``%`` comments are not prose, the
bodies of directives such as ``{exercise}`` are. No built book is needed.

**Names.** An inline code span that is a dotted name, optionally called
(`rnnlib.data.adding_problem`, `lstm.forward(X, None, p)`), must resolve by import and
getattr when its first part is ``rnnlib``, a name the page's code imports from rnnlib
(``from rnnlib import lstm``, ``import rnnlib.lstm as L``), or the name of an rnnlib
submodule (``rnn``, ``data``, ``plots``, ...) that the page's code does not bind to
something else (a page's code is its code cells, or a .md page's python blocks).
`np.tanh`, `torch.nn.LSTM`, `params["W"]`, `x.T @ dP` or `rnn.py` are not names of rnnlib.

**Quotes.** A code span is a quote of an rnnlib function or class, and must occur in its
code (the source without docstrings, white space ignored; a part of a line will do, and
``...`` may stand for code left out), when

(a) it sits in the body of a table column (a pipe table or a ``{list-table}``) whose
    header names that function in a code span, e.g. "Line of `rnn.backward`"; a bare
    `step_backward` in a header means the function of that name the chapter shows with
    ``show_source`` nearest to the table, or else the only imported rnnlib module's; or
(b) it sits in a sentence that contains the word "line" or "lines" and exactly one code
    span that is the name of an rnnlib function, e.g. "The line `h = np.tanh(a)` of
    `rnn.step_forward`" (the other spans of the sentence are the quotes).

Each finding names the file, the cell (counted from 1) and its line, the span and the rnnlib
name, and says what to do. ``test_current_book`` checks the real book (select it with
``-k current_book``); the other tests run the checker on small synthetic pages.
"""

import inspect
from pathlib import Path

import nbformat
import pytest
from book_source import (
    check_notebook,
    check_page,
    check_path,
    code_of,
    quote_occurs,
    scan_notebook,
    scan_path,
)
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import rnnlib.rnn

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "book").glob("*.ipynb")) + sorted((ROOT / "book").glob("*.md"))
STALE = "dh = dh * 12345"  # no rnnlib function has this line


def notebook(*cells):
    """A notebook from strings: "code: ..." is a code cell, anything else markdown."""
    return new_notebook(cells=[
        new_code_cell(cell.removeprefix("code:")) if cell.startswith("code:")
        else new_markdown_cell(cell)
        for cell in cells
    ])


def a_line_of(func):
    """The last statement line of ``func``'s code, as an author would quote it."""
    lines = [line.strip() for line in code_of(func).splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "def ", ")"))][-1]


def spans(findings):
    return [finding.span for finding in findings]


# -- quotes: the table rule -------------------------------------------------------------


def table(header, *rows):
    return "\n".join([f"| equation | {header} |", "|---|---|",
                      *(f"| {left} | {right} |" for left, right in rows)])


def test_a_table_quote_of_a_current_line_passes():
    line = a_line_of(rnnlib.rnn.backward)
    nb = notebook("code:from rnnlib import rnn",
                  table("Line of `rnn.backward`", ("{eq}`rnn-dh`", f"`{line}`")))
    assert [q.span for q in scan_notebook(nb).quotes] == [line]
    assert check_notebook(nb) == []


def test_a_stale_table_quote_fails_with_a_message_that_says_where_and_what_to_do():
    nb = notebook("code:from rnnlib import rnn", "Some prose.",
                  table("Line of `rnn.backward`", ("one", f"`{STALE}`, then more")))
    [finding] = check_notebook(nb, "book/x.ipynb")
    assert (finding.span, finding.target) == (STALE, "rnnlib.rnn.backward")
    message = str(finding)
    for part in ("book/x.ipynb", "cell 3", "line 3", STALE, "rnnlib.rnn.backward",
                 "show_source(rnnlib.rnn.backward)"):
        assert part in message


def test_the_header_may_name_the_function_in_full_without_an_import():
    nb = notebook(table("`rnnlib.rnn.backward`", ("one", f"`{STALE}`")))
    assert spans(check_notebook(nb)) == [STALE]


def test_only_code_spans_in_the_header_s_column_are_quotes_and_maths_is_not_code():
    nb = notebook("code:from rnnlib import rnn",
                  table("line of `rnn.backward`", (f"`{STALE}`", f"$ {STALE} $ {{eq}}`x`")))
    assert scan_notebook(nb).quotes == []


def test_a_table_without_a_function_in_its_header_quotes_nothing():
    nb = notebook("code:from rnnlib import rnn",
                  table("In `rnnlib`", ("x", f"`{STALE}`")),
                  table("PyTorch (`torch.nn.RNN`)", ("x", f"`{STALE}`")))
    assert scan_notebook(nb).quotes == []


def test_a_list_table_counts_as_a_table():
    text = (f"```{{list-table}}\n:header-rows: 1\n\n* - equation\n  - line of `rnn.forward`\n"
            f"* - one\n  - `{STALE}`\n```\n")
    [finding] = check_page(text, "book/page.md")
    assert (finding.span, finding.target) == (STALE, "rnnlib.rnn.forward")
    assert "book/page.md, line 7" in str(finding)


def test_a_bare_header_name_is_the_function_shown_nearest_to_the_table():
    stale = table("line of `step_backward`", ("one", f"`{STALE}`"))
    nb = notebook("code:from rnnlib import lstm, rnn",
                  "code:rnnlib.show_source(rnn.step_backward)", "prose", "prose", "prose",
                  stale, "code:rnnlib.show_source(lstm.step_backward)")
    [finding] = check_notebook(nb)
    assert finding.target == "rnnlib.lstm.step_backward"
    good = table("line of `step_backward`", ("one", f"`{a_line_of(rnnlib.rnn.step_backward)}`"))
    nb = notebook("code:from rnnlib import lstm, rnn",
                  "code:rnnlib.show_source(rnn.step_backward)", good)
    assert check_notebook(nb) == []


def test_a_bare_header_name_that_two_imported_modules_have_is_reported():
    nb = notebook("code:from rnnlib import lstm, rnn",
                  table("line of `step_backward`", ("one", f"`{STALE}`")))
    [finding] = check_notebook(nb)
    assert "rnnlib.lstm.step_backward, rnnlib.rnn.step_backward" in finding.problem
    assert "`lstm.step_backward`" in finding.advice


# -- quotes: the sentence rule ----------------------------------------------------------


def test_a_sentence_about_a_line_of_a_function_quotes_its_other_spans():
    line = a_line_of(rnnlib.rnn.step_forward)
    good = f"The line `{line}` of `rnn.step_forward` does it."
    assert check_notebook(notebook("code:from rnnlib import rnn", good)) == []
    stale = f"In `rnnlib.rnn.step_forward`, the lines `{line}` and `{STALE}` do it."
    assert spans(check_notebook(notebook(stale))) == [STALE]


def test_the_sentence_rule_needs_the_word_line_and_exactly_one_function():
    nb = notebook(
        "code:from rnnlib import rnn",
        f"`rnn.step_forward` computes `{STALE}`.",  # no "line"
        f"The line `{STALE}` is in `rnn.forward` or `rnn.backward`.",  # two functions
        f"This line is about `rnnlib.rnn`: `{STALE}`.",  # a module, not a function
        f"Read the lines of `rnn.forward`. Then `{STALE}` is the next sentence's.",
    )
    assert scan_notebook(nb).quotes == []


# -- matching a quote -------------------------------------------------------------------


def test_white_space_may_differ_and_an_ellipsis_leaves_code_out():
    source = "    dA_rows = dA.reshape(rows, H)\n    return dX, (dW, db)\n"
    assert quote_occurs("dA.reshape( rows,H )", source)
    assert quote_occurs("return dX, ...", source)
    assert quote_occurs("dA_rows = ... (dW, db)", source)
    assert not quote_occurs("(dW, db) ... dA_rows", source)  # out of order
    assert not quote_occurs("A_rows", source)  # not a whole name
    assert not quote_occurs("dA.reshape(rows, D)", source)


def test_docstrings_do_not_count_as_code():
    assert "Parameters" in inspect.getsource(rnnlib.rnn.backward)
    nb = notebook(table("line of `rnnlib.rnn.backward`", ("one", "`Parameters`")))
    assert spans(check_notebook(nb)) == ["Parameters"]


# -- names ------------------------------------------------------------------------------


def test_names_that_rnnlib_does_not_have_fail():
    nb = notebook(
        "code:from rnnlib import lstm\nimport rnnlib.data as D",
        "Use `rnnlib.rnn.no_such_function`, `lstm.no_such_function(X, None, p)`, "
        "`D.no_such_task`, `rnnlib.no_such_module.f` and `plots.NO_SUCH_COLOUR`.",
    )
    findings = check_notebook(nb, "book/x.ipynb")
    assert spans(findings) == ["rnnlib.rnn.no_such_function", "lstm.no_such_function(X, None, p)",
                               "D.no_such_task", "rnnlib.no_such_module.f",
                               "plots.NO_SUCH_COLOUR"]
    assert [finding.target for finding in findings][:3] == [
        "rnnlib.rnn.no_such_function", "rnnlib.lstm.no_such_function", "rnnlib.data.no_such_task"]
    assert "book/x.ipynb, cell 2, line 1" in str(findings[0])
    assert "rnnlib.rnn has no attribute 'no_such_function'" in str(findings[0])


def test_current_names_pass():
    nb = notebook(
        "code:from rnnlib import lstm",
        "`rnnlib.rnn.forward`, `lstm.forward(X, None, p)`, `rnnlib.checks`, `data.adding_problem`"
        ", `plots.PALETTE`, `rnnlib.model.SequenceModel.forward`.",
    )
    assert len(scan_notebook(nb).names) == 6
    assert check_notebook(nb) == []


def test_other_libraries_code_and_file_names_are_not_names_of_rnnlib():
    nb = notebook(
        "code:import numpy as np\nfrom torch import optim\ndata = {}",
        "`np.no_such`, `torch.nn.NoSuch`, `nn.NoSuch`, `out.no_such`, `params[\"out.no_such\"]`, "
        "`x.no_such @ dP`, `assert rnn.no_such(x)`, `rnn.py`, `optim.NoSuch`, `data.no_such`.",
    )
    assert scan_notebook(nb).names == []


def test_directive_bodies_are_prose_and_code_blocks_comments_and_maths_are_not():
    text = (
        "````{exercise} Use `rnnlib.rnn.no_title`\n:label: ex\n\nCall `rnnlib.rnn.no_body`.\n\n"
        "```python\nrnnlib.rnn.no_code\n```\n````\n\n"
        "```{code-cell} python\n`rnnlib.rnn.no_cell`\n```\n\n"
        "% `rnnlib.rnn.no_comment`\n\n$`rnnlib.rnn.no_maths`$\n"
    )
    assert spans(check_page(text)) == ["rnnlib.rnn.no_title", "rnnlib.rnn.no_body"]


# -- the real book ----------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES, ids=[path.name for path in PAGES])
def test_current_book(path):
    findings = check_path(path, ROOT)
    if findings:
        pytest.fail(
            f"{path.name} names or quotes rnnlib code that rnnlib no longer has "
            f"({len(findings)}; the convention is in tests/test_book_source.py):\n"
            + "\n".join(map(str, findings)),
            pytrace=False,
        )


@pytest.mark.parametrize(
    ("page", "target"),
    [("rnn.ipynb", "rnnlib.rnn.backward"), ("gru.ipynb", "rnnlib.gru.step_backward"),
     ("lstm.ipynb", "rnnlib.lstm.step_backward")],
)
def test_the_book_s_tables_of_lines_are_read_as_quotes(page, target):
    """The rules cover what the chapters already write: a reworded table would go unchecked."""
    quotes = scan_path(ROOT / "book" / page).quotes
    assert len([quote for quote in quotes if quote.target == target]) >= 5


def test_every_page_is_read():
    assert {path.suffix for path in PAGES} == {".ipynb", ".md"}
    assert all(nbformat.read(path, as_version=4).cells for path in PAGES if path.suffix == ".ipynb")
