"""Tests of the student edition (tools/make_student.py).

The same properties are tested on a small synthetic chapter made here, so they hold
whatever chapters exist, and on every real notebook under book/ that has an exercise:

* no solution is left in the student edition: neither any line of code written between the
  nbgrader markers or in a solution-only cell, nor any line of solution text;
* the student notebooks run, and the only cells that raise are the stubs' (tagged
  ``raises-exception``); the checks print their verdict instead of stopping the notebook
  (on the synthetic chapter here; on the real book by the student HTML build, which fails
  on any other cell that raises);
* the full edition (book/) is left exactly as it was.

The test marked ``book`` builds the student HTML book (executing the student notebooks)
into _build/student, as ``make student`` does, and checks the pages.
"""

import hashlib
import importlib.util
import json
import re
import sys
import time
from pathlib import Path

import nbformat
import pytest
import yaml
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"

_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
make_student = importlib.util.module_from_spec(_spec)
sys.modules["make_student"] = make_student  # dataclasses look their module up there
_spec.loader.exec_module(make_student)

_spec = importlib.util.spec_from_file_location("exercise_index",
                                               BOOK / "_ext" / "exercise_index.py")
exercise_index = importlib.util.module_from_spec(_spec)
sys.modules["exercise_index"] = exercise_index
_spec.loader.exec_module(exercise_index)


# --------------------------------------------------------------------------------------
# An independent reading of the conventions: what counts as solution text
# --------------------------------------------------------------------------------------

_START = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution-start\}")
_END = re.compile(r"^\s*(`{3,}|:{3,})\s*\{solution-end\}")
_DIRECTIVE_LINE = re.compile(r"^\s*(`{3,}|:{3,}.*|:\w[\w-]*:.*)$")


def solution_lines(nb):
    """Every non-blank line of every solution in a full-edition notebook.

    Lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``, every line of a code cell
    inside a solution block that has no markers, and every line of markdown between
    ``{solution-start}`` and ``{solution-end}`` other than the directives' own fences and
    options.
    """
    lines = set()
    in_block = False
    for cell in nb.cells:
        source = cell.source.split("\n")
        if cell.cell_type == "markdown":
            for line in source:
                if _START.match(line):
                    in_block = True
                elif _END.match(line):
                    in_block = False
                elif in_block and line.strip() and not _DIRECTIVE_LINE.match(line):
                    lines.add(line.strip())
            continue
        tags = cell.metadata.get("tags", [])
        marked = any("### BEGIN SOLUTION" in line for line in source)
        if in_block and not marked and "exercise-check" not in tags:
            lines.update(line.strip() for line in source if line.strip())
            continue
        inside = False
        for line in source:
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and line.strip():
                lines.add(line.strip())
    return lines


def _outside_solutions(nb):
    """Stripped lines that occur outside every solution (they may legitimately stay)."""
    outside = set()
    in_block = False
    for cell in nb.cells:
        source = cell.source.split("\n")
        if cell.cell_type == "markdown":
            for line in source:
                if _START.match(line):
                    in_block = True
                elif _END.match(line):
                    in_block = False
                elif not in_block:
                    outside.add(line.strip())
            continue
        tags = cell.metadata.get("tags", [])
        marked = any("### BEGIN SOLUTION" in line for line in source)
        if in_block and not marked and "exercise-check" not in tags:
            continue
        inside = False
        for line in source:
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif not inside:
                outside.add(line.strip())
    return outside


def distinctive_solution_lines(nb):
    """Solution lines that say something of their own: any of these in the student edition
    is a leak.

    A line is left out when it also occurs outside the solutions, whole or inside a longer
    line (a solution may repeat a call that the exercise's text shows), or when it has
    fewer than three letters or digits (``],`` or ``)`` prove nothing).
    """
    outside = "\n".join(_outside_solutions(nb))
    return {line for line in solution_lines(nb)
            if line not in outside and sum(c.isalnum() for c in line) >= 3}


def all_strings(value):
    """Every string inside a JSON value, joined: what a reader of the file could see."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *all_strings(v)]]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


def find_leaks(solution, lines, text):
    """The solution lines that occur in a student file.

    A solution line leaks when it is a line of the student file, or, being long enough (50
    characters) not to occur by chance, anywhere in the file's text. (A short solution line
    such as ``$\\rho > 1$.`` may well be part of a longer line of the exercise's text.)
    """
    return sorted(line for line in solution
                  if line in lines or (len(line) >= 50 and line in text))


def leaked_lines(full_nb, student_path):
    """The distinctive solution lines of ``full_nb`` found anywhere in the student file."""
    strings = all_strings(json.loads(student_path.read_text()))
    lines = {line.strip() for string in strings for line in string.split("\n")}
    return find_leaks(distinctive_solution_lines(full_nb), lines, "\n".join(strings))


def execute(path, timeout=None):
    """Run a notebook in its folder; return it with outputs (errors allowed, recorded).

    Each cell may take as long as the book's build allows (``execute.timeout``).
    """
    if timeout is None:
        config = yaml.safe_load((ROOT / "_config.yml").read_text())
        timeout = config.get("execute", {}).get("timeout", 180)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def raising_cells(nb):
    """(index, tags, error name, error message) of each code cell that ended in an error."""
    found = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            if output.output_type == "error":
                found.append((index, cell.metadata.get("tags", []), output.ename,
                              output.evalue))
    return found


def tree_digest(folder):
    """A digest of every file's path and content under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# A synthetic chapter with every shape the conventions allow
# --------------------------------------------------------------------------------------

EXERCISE = """````{exercise} Double a vector
:label: demo-ex-double

**Difficulty:** ★☆☆ · **Automatic check:** `check_double`

Write `my_double(v)`, which returns twice `v`.
````"""

PAPER = """Text before the pen-and-paper exercise stays.

````{exercise} How many parameters
:label: demo-ex-count

**Difficulty:** ★★☆ · **Automatic check:** none (pen and paper)

Count the parameters of the doubling layer.
````

```{solution-start} demo-ex-count
:class: dropdown
```
There are none: the zebra-striped doubling has no weights at all.

```{solution-end}
```

Text after the solution stays too."""


def synthetic_chapter():
    """A full-edition notebook with two exercises, a top-level stub and a plain solution."""
    check = new_code_cell(
        "assert check_double(my_double)", metadata={"tags": ["exercise-check"]}
    )
    return new_notebook(
        cells=[
            new_markdown_cell("# A demo chapter\n\nIt doubles things."),
            new_code_cell("import numpy as np\n\nfrom rnnlib.checks import run_check\n\n"
                          "rng = np.random.default_rng(0)"),
            new_code_cell(
                "def check_double(fn):\n"
                "    cases = [(np.arange(3.0),), (rng.normal(size=(2, 2)),)]\n"
                '    return run_check("check_double", fn, cases, lambda v: 2 * v)'
            ),
            new_markdown_cell(EXERCISE),
            new_markdown_cell("```{solution-start} demo-ex-double\n:class: dropdown\n```\n"
                              "Adding the vector to itself avoids a multiplication."),
            new_code_cell(
                "def my_double(v):\n"
                '    """Return 2 v for an array v of any shape."""\n'
                "    ### BEGIN SOLUTION\n"
                "    twice_v = v + v\n"
                "\n"
                "    return twice_v\n"
                "    ### END SOLUTION"
            ),
            new_code_cell("worked_example = my_double(np.array([1.5]))\n"
                          "assert worked_example[0] == 3.0"),
            new_markdown_cell("```{solution-end}\n```"),
            check,
            new_markdown_cell(PAPER),
            new_markdown_cell("::::{solution} demo-ex-count\n:label: demo-sol-plain\n\n"
                              "```python\nsecret_plain_solution = 1\n```\n::::"),
            new_code_cell("### BEGIN SOLUTION\nfortytwo = 6 * 7\n### END SOLUTION\n"
                          "print(fortytwo)"),
            new_code_cell("    ### BEGIN HIDDEN TESTS\nassert fortytwo == 42\n"
                          "    ### END HIDDEN TESTS"),
            new_markdown_cell("## Summary\n\nDoubling is easy."),
            new_code_cell('print("the chapter ran to its end")'),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}},
    )


CONFIG = """title: Demo book
execute:
  execute_notebooks: cache
sphinx:
  local_extensions:
    book_assets: book/_ext
"""

TOC = """format: jb-book
root: book/intro
parts:
  - caption: Chapters
    chapters:
      - file: book/demo
  - caption: For instructors
    chapters:
      - file: book/instructors
      - file: book/exercises
"""

MARKDOWN_PAGE = """# A page in MyST markdown

```{code-cell} ipython3
def my_half(v):
    ### BEGIN SOLUTION
    return v / 2.0  # the halving secret
    ### END SOLUTION
```

```{solution-start} page-ex
:class: dropdown
```
Half of the page-level secret.
```{solution-end}
```

```{code-cell} ipython3
:tags: [exercise-check]
assert check_half(my_half)
```
"""


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """A tiny course (config, toc, one chapter, pages) and its student edition."""
    root = tmp_path_factory.mktemp("course")
    (root / "_config.yml").write_text(CONFIG)
    (root / "_toc.yml").write_text(TOC)
    book = root / "book"
    book.mkdir()
    nbformat.write(synthetic_chapter(), book / "demo.ipynb")
    (book / "intro.md").write_text("# Demo\n\nWelcome.\n")
    (book / "page.md").write_text(MARKDOWN_PAGE)
    (book / "instructors.md").write_text("# For instructors\n\nGrade kindly.\n")
    (book / "exercises.md").write_text("# Exercises\n")
    (book / "references.bib").write_text("@misc{demo, title={Demo}}\n")
    before = tree_digest(book)
    out = root / "_build" / "student"
    reports = make_student.build_student_sources(root, out)
    return {"root": root, "out": out, "reports": reports, "before": before}


def test_synthetic_report_counts(synthetic):
    reports = {r.path: r for r in synthetic["reports"]}
    demo = reports["book/demo.ipynb"]
    assert (demo.solutions_removed, demo.stubs, demo.checks) == (3, 2, 1)
    page = reports["book/page.md"]
    assert (page.solutions_removed, page.stubs, page.checks) == (1, 1, 1)


def test_synthetic_has_no_solution(synthetic):
    full = nbformat.read(synthetic["root"] / "book/demo.ipynb", as_version=4)
    distinctive = distinctive_solution_lines(full)
    # the independent reading above finds the solutions it should
    assert {"twice_v = v + v", "return twice_v", "fortytwo = 6 * 7",
            "worked_example = my_double(np.array([1.5]))",
            "Adding the vector to itself avoids a multiplication.",
            "There are none: the zebra-striped doubling has no weights at all."} <= distinctive
    student_path = synthetic["out"] / "book/demo.ipynb"
    assert leaked_lines(full, student_path) == []
    raw = student_path.read_text()
    for secret in ["secret_plain_solution", "solution-start", "solution-end", "fortytwo == 42",
                   "HIDDEN TESTS", "BEGIN SOLUTION"]:
        assert secret not in raw


def test_synthetic_keeps_exercises_signatures_and_checks(synthetic):
    nb = nbformat.read(synthetic["out"] / "book/demo.ipynb", as_version=4)
    sources = [cell.source for cell in nb.cells]
    assert EXERCISE in sources
    assert ("def my_double(v):\n"
            '    """Return 2 v for an array v of any shape."""\n'
            "    # YOUR CODE HERE\n"
            "    raise NotImplementedError()") in sources
    check = next(cell for cell in nb.cells if "exercise-check" in cell.metadata.get("tags", []))
    assert check.source == "check_double(my_double)"
    top = next(cell for cell in nb.cells if cell.source.startswith("# YOUR CODE HERE"))
    assert top.source == "# YOUR CODE HERE\nraise NotImplementedError()\nprint(fortytwo)"
    assert top.metadata["tags"] == ["raises-exception"]
    paper = next(s for s in sources if s.startswith("Text before"))
    assert paper.endswith("````\n\nText after the solution stays too.")
    assert "demo-ex-count" in paper
    assert all(cell.get("outputs", []) == [] for cell in nb.cells)


def test_synthetic_markdown_page(synthetic):
    text = (synthetic["out"] / "book/page.md").read_text()
    assert "halving secret" not in text and "page-level secret" not in text
    assert "def my_half(v):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n```" in text
    assert ":tags: [exercise-check]\ncheck_half(my_half)\n```" in text


def test_synthetic_config_toc_and_handout(synthetic):
    out = synthetic["out"]
    toc = (out / "_toc.yml").read_text()
    assert "book/instructors" not in toc and not (out / "book/instructors.md").exists()
    assert "caption: Exercises" in toc and "book/exercises" in toc
    assert "title: Demo book (student edition)" in (out / "_config.yml").read_text()
    assert "jupyter lab book" in (out / "README.md").read_text()
    assert (out / "book/references.bib").exists()


def test_synthetic_full_edition_unchanged(synthetic):
    assert tree_digest(synthetic["root"] / "book") == synthetic["before"]


def test_synthetic_full_edition_runs_and_passes_its_check(synthetic):
    nb = execute(synthetic["root"] / "book/demo.ipynb")
    assert raising_cells(nb) == []
    check = next(cell for cell in nb.cells if "exercise-check" in cell.metadata.get("tags", []))
    assert "✔ check_double: correct" in check.outputs[0].text


def test_synthetic_student_runs_with_only_the_stubs_raising(synthetic):
    nb = execute(synthetic["out"] / "book/demo.ipynb")
    errors = raising_cells(nb)
    assert [(tags, name) for _, tags, name, _ in errors] == [
        (["raises-exception"], "NotImplementedError")]
    check = next(cell for cell in nb.cells if "exercise-check" in cell.metadata.get("tags", []))
    # the verdict is printed once, and the result is not displayed a second time
    assert [output.output_type for output in check.outputs] == ["stream"]
    assert check.outputs[0].text.startswith("✘ check_double: not implemented yet")
    assert "the chapter ran to its end" in nb.cells[-1].outputs[0].text


def test_rebuild_keeps_unchanged_files_and_removes_stale_ones(synthetic):
    root, out = synthetic["root"], synthetic["out"]
    student = out / "book/demo.ipynb"
    stamp = student.stat().st_mtime_ns
    (root / "book/old.md").write_text("# Soon gone\n")
    make_student.build_student_sources(root, out)
    assert (out / "book/old.md").exists()
    (root / "book/old.md").unlink()
    make_student.build_student_sources(root, out)
    assert not (out / "book/old.md").exists()
    assert student.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("where", ["book", "book/sub", "."])
def test_refuses_to_write_into_the_book(synthetic, where):
    with pytest.raises(make_student.StudentEditionError, match="--out"):
        make_student.build_student_sources(synthetic["root"], synthetic["root"] / where)


def test_refuses_a_folder_that_is_not_a_student_edition(tmp_path, synthetic):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(make_student.StudentEditionError, match="not a student edition"):
        make_student.build_student_sources(synthetic["root"], tmp_path)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


@pytest.mark.parametrize(
    ("cells", "words"),
    [
        ([new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1")], "no '### END"),
        ([new_code_cell("x = 1\n### END SOLUTION")], "without its BEGIN"),
        ([new_markdown_cell("```{solution-start} a\n```\ntext")], "never closed"),
        ([new_markdown_cell("```{solution-end}\n```")], "without {solution-start}"),
    ],
)
def test_unbalanced_markers_are_reported(cells, words):
    with pytest.raises(make_student.StudentEditionError, match=re.escape(words)):
        make_student.make_student_notebook(new_notebook(cells=cells), "book/x.ipynb")


def test_check_asserts_with_messages_and_several_lines():
    source = ('assert checks.a(f), "message"\nassert checks.b(\n    g,\n)\nx = 1\n'
              "if x:\n    assert x")
    dropped, count = make_student.drop_check_asserts(source)
    assert count == 2
    assert dropped == "checks.a(f)\nchecks.b(\n    g,\n)\nx = 1\nif x:\n    assert x"


def test_cells_calling_a_stubbed_function_are_tagged():
    nb = new_notebook(cells=[
        new_code_cell("def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION"),
        new_code_cell("y = f(3)"),
        new_code_cell("def g():\n    return f(1)"),
    ])
    student, report = make_student.make_student_notebook(nb)
    assert [cell.metadata.get("tags", []) for cell in student.cells] == [
        [], ["raises-exception"], []]
    assert report.raising_cells == [1]


# --------------------------------------------------------------------------------------
# The exercise index (book/_ext/exercise_index.py) reads the same conventions
# --------------------------------------------------------------------------------------


def test_exercise_index_parses_the_synthetic_chapter(synthetic):
    texts = exercise_index.read_markdown(synthetic["root"] / "book/demo.ipynb")
    assert exercise_index.chapter_title(texts, "demo") == "A demo chapter"
    found = exercise_index.parse_exercises(texts, "book/demo", "A demo chapter")
    assert [(e.title, e.label, e.difficulty, e.check) for e in found] == [
        ("Double a vector", "demo-ex-double", "★☆☆ easy", "check_double"),
        ("How many parameters", "demo-ex-count", "★★☆ medium", None),
    ]
    assert found[1].check_text == "none (pen and paper)"


def test_exercise_index_reports_what_breaks_the_conventions():
    text = "````{exercise} No label\n\nJust text.\n````"
    (exercise,) = exercise_index.parse_exercises([text], "book/x", "X")
    assert (exercise.label, exercise.stars, exercise.check_text) == (None, None, None)


def test_chapter_guide_reads_objectives_links_and_times():
    text = ("# A chapter\n\nSee {doc}`rnn` and {doc}`the LSTM <lstm>` and {doc}`/book/gru`.\n\n"
            "```{admonition} Learning objectives\n:class: tip\n\nAfter this chapter you can\n\n"
            "- write $h_t$ with its\n  shape;\n- derive BPTT.\n```\n\n## Next\n\n- not this\n")
    assert exercise_index.learning_objectives([text]) == [
        "write $h_t$ with its shape;", "derive BPTT."]
    assert exercise_index.linked_docs([text], "book/x") == {"book/rnn", "book/lstm", "book/gru"}
    assert [exercise_index.format_minutes(m) for m in (45, 60, 135)] == [
        "45 min", "1 h", "2 h 15 min"]
    chapter = exercise_index.Chapter("book/x", "X", [], [], [], words=2500, code_cells=20)
    assert chapter.reading_minutes == 70  # 2500 words at 50 a minute, and 20 cells


# --------------------------------------------------------------------------------------
# The real book
# --------------------------------------------------------------------------------------


def _with_exercises():
    found = []
    for path in sorted(BOOK.glob("*.ipynb")):
        text = path.read_text()
        if "{solution-start}" in text or "### BEGIN SOLUTION" in text or "{exercise}" in text:
            found.append(path)
    return found


REAL = _with_exercises()


@pytest.fixture(scope="module")
def real_edition(tmp_path_factory):
    """The student notebooks of the real book, written into a temporary folder."""
    before = tree_digest(BOOK)
    out = tmp_path_factory.mktemp("student")
    make_student.build_student_sources(ROOT, out)
    return {"out": out, "before": before}


def test_real_full_edition_unchanged(real_edition):
    assert tree_digest(BOOK) == real_edition["before"]


def test_real_edition_has_every_page(real_edition):
    out = real_edition["out"]
    for path in BOOK.glob("*.ipynb"):
        assert (out / "book" / path.name).exists()
    for path in BOOK.glob("*.md"):
        if path.stem != "instructors":
            assert (out / "book" / path.name).exists()


@pytest.mark.parametrize("path", REAL, ids=[p.stem for p in REAL])
def test_real_notebook_has_no_solution(real_edition, path):
    full = nbformat.read(path, as_version=4)
    assert leaked_lines(full, real_edition["out"] / "book" / path.name) == []


# --------------------------------------------------------------------------------------
# The student HTML book (built after `make book`, in book-check)
# --------------------------------------------------------------------------------------


RNNLIB_LINES = {line.strip() for path in (ROOT / "rnnlib").glob("*.py")
                for line in path.read_text().split("\n")}


@pytest.fixture(scope="module")
def student_html():
    """Build the student edition with its HTML into _build/student, as `make student`."""
    out = ROOT / "_build" / "student"
    start = time.perf_counter()
    make_student.build_student_sources(ROOT, out)
    make_student.build_student_html(out)
    print(f"student edition built in {time.perf_counter() - start:.0f} s")
    return out / "_build" / "html"


@pytest.mark.book
def test_student_html(student_html):
    from bs4 import BeautifulSoup

    assert (student_html / "index.html").exists()
    assert not (student_html / "book/instructors.html").exists()
    for path in REAL:
        page = student_html / "book" / f"{path.stem}.html"
        assert page.exists(), page
        soup = BeautifulSoup(page.read_text(), "html.parser")
        assert soup.select(".solution") == [], f"{page.name} still has a solution"
        lines = {line.strip() for pre in soup.find_all("pre")
                 for line in pre.get_text("").split("\n")}
        lines |= {line.strip() for line in soup.get_text("\n").split("\n")}
        text = " ".join(soup.get_text(" ").split())
        full = nbformat.read(path, as_version=4)
        # The book shows rnnlib's own source openly (show_source), so a solution line that
        # is also a line of rnnlib is no leak on an executed page.
        solution = {" ".join(line.split())
                    for line in distinctive_solution_lines(full) - RNNLIB_LINES}
        leaks = find_leaks(solution, lines, text)
        assert leaks == [], f"{page.name} shows solution lines: {leaks[:5]}"
        if "{exercise}" in path.read_text():
            assert soup.select(".exercise"), f"{page.name} lost its exercises"
        figures = [cell.metadata["mystnb"]["figure"]["name"] for cell in full.cells
                   if cell.metadata.get("mystnb", {}).get("figure", {}).get("name")]
        missing = [name for name in figures if not soup.find(id=name)]
        assert missing == [], f"{page.name} lost figures {missing}"
        # Every check prints a verdict, and a stub fails its check politely (a cell that
        # raised without the raises-exception tag would have failed the build: -W, and
        # allow_errors is false).
        checks = sum("exercise-check" in cell.metadata.get("tags", []) for cell in full.cells)
        verdicts = text.count("✘")
        assert verdicts >= checks, f"{page.name}: {checks} checks, {verdicts} ✘ verdicts"
        if checks:
            assert "not implemented yet" in text


@pytest.mark.book
def test_full_exercise_index_lists_every_exercise():
    """The full book's index page has one row, and one link, per exercise in the toc."""
    from bs4 import BeautifulSoup

    page = ROOT / "_build/html/book/exercises.html"
    assert page.exists(), "build the book first (make book)"
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc.get("parts", []) for entry in part["chapters"]]
    labels = []
    for name in files:
        path = ROOT / f"{name}.ipynb"
        if path.exists():
            texts = exercise_index.read_markdown(path)
            labels += [e.label for e in exercise_index.parse_exercises(texts, name, name)]
    soup = BeautifulSoup(page.read_text(), "html.parser")
    rows = soup.select("table.exercise-index tbody tr.exercise-row")
    assert len(rows) == len(labels)
    links = {a["href"].split("#")[1] for a in soup.select("table.exercise-index a[href*='#']")}
    assert set(labels) <= links
