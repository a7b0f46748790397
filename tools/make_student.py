"""Build the student edition of the course: the same book with every solution taken out.

    python tools/make_student.py [--out _build/student] [--no-html]

What it writes into ``--out`` (never into ``book/``):

* ``book/``: every notebook and markdown page of the book, with

  - each solution block removed: the markdown from ``{solution-start}`` to
    ``{solution-end}`` inclusive, every markdown cell between them, and every code cell
    between them that has no nbgrader markers (such a cell is all solution);
  - solution code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's
    markers) replaced by ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the
    markers' indentation, so a function keeps its signature; nbgrader's
    ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` lines removed;
  - the ``assert`` in front of the checks of cells tagged ``exercise-check`` dropped, so a
    check prints its verdict instead of stopping the notebook;
  - the tag ``raises-exception`` added to every cell that raises at top level once stubbed
    (top-level solution code, or a call of a stubbed function);
  - outputs and execution counts cleared;

  and the book's other files (bibliography, vendored scripts, Sphinx extensions) copied.
* ``_config.yml`` and ``_toc.yml``: the book's, with the title marked as the student
  edition and the instructor guide left out of the table of contents.
* ``rnnlib/``, ``experiments/`` and ``benchmarks/`` (scripts and saved results that some
  chapters include or read), ``pyproject.toml``, ``requirements.txt`` and a short
  ``README.md``, so the folder is a complete hand-out: ``pip install -r requirements.txt``
  then ``jupyter lab``.
* ``_build/html/``: the student HTML book, built from the student notebooks with the
  book's own command (notebooks executed, warnings as errors); skipped with ``--no-html``.

Files are rewritten only when their content changes, so a second run rebuilds (and
re-executes) only what changed.
"""

from __future__ import annotations

import argparse
import ast
import copy
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
CHECK_TAG = "exercise-check"
RAISES_TAG = "raises-exception"

# The book's pages that are for instructors only.
INSTRUCTOR_ONLY = {"book/instructors"}
# The HTML build: the same command as `make book`.
BUILD_ARGS = ["build", ".", "--builder", "html", "-n", "-W", "--keep-going"]
# Files and folders of the hand-out next to book/: the library, and the experiment and
# benchmark scripts with their saved results, which chapters include or read.
HANDOUT_FILES = ["pyproject.toml", "requirements.txt"]
HANDOUT_DIRS = ["rnnlib", "experiments", "benchmarks"]
MARKER = ".student-edition"

_FENCE = re.compile(
    r"^[ \t]*(?P<fence>`{3,}|:{3,})\s*\{(?P<name>solution-start|solution-end|solution)\}"
)
_CODE_CELL_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|:{3,})\s*\{code-cell\}")


class StudentEditionError(ValueError):
    """The source cannot be turned into a student edition (unbalanced markers...)."""


@dataclass
class NotebookReport:
    """What the builder did to one notebook or page."""

    path: str
    solutions_removed: int = 0
    stubs: int = 0
    checks: int = 0
    raising_cells: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------------------
# Code: nbgrader markers, checks, cells that raise
# --------------------------------------------------------------------------------------


def stub_solution_code(source: str, where: str = "cell") -> tuple[str, int]:
    """Replace each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region by a stub.

    Parameters
    ----------
    source : str
        Python source (a code cell).
    where : str
        Named in error messages (``"book/rnn.ipynb, cell 12"``).

    Returns
    -------
    stubbed : str
        The source with each region replaced by ``# YOUR CODE HERE`` and
        ``raise NotImplementedError()``, indented like the ``### BEGIN SOLUTION`` line, and
        hidden-test regions removed.
    count : int
        How many solution regions were replaced.

    Raises
    ------
    StudentEditionError
        On a marker without its partner.
    """
    lines = source.split("\n")
    out: list[str] = []
    count = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        text = line.strip()
        if text.startswith((BEGIN_SOLUTION, BEGIN_HIDDEN)):
            end_marker = END_SOLUTION if text.startswith(BEGIN_SOLUTION) else END_HIDDEN
            end = next((j for j in range(i + 1, len(lines))
                        if lines[j].strip().startswith(end_marker)), None)
            nested = next((j for j in range(i + 1, end or len(lines))
                           if lines[j].strip().startswith((BEGIN_SOLUTION, BEGIN_HIDDEN))),
                          None)
            if end is None or nested is not None:
                raise StudentEditionError(
                    f"{where}: line {i + 1} opens {text!r} but no {end_marker!r} closes it"
                )
            if end_marker == END_SOLUTION:
                indent = line[: len(line) - len(line.lstrip())]
                out.extend(indent + stub for stub in STUB)
                count += 1
            i = end + 1
            continue
        if text.startswith((END_SOLUTION, END_HIDDEN)):
            raise StudentEditionError(f"{where}: line {i + 1} has {text!r} without its BEGIN")
        out.append(line)
        i += 1
    return "\n".join(out), count


def drop_check_asserts(source: str) -> tuple[str, int]:
    """Turn each top-level ``assert <check call>[, message]`` into the bare call.

    Returns the new source and how many asserts were dropped.
    """
    tree = _parse(source)
    if tree is None:
        return source, 0
    lines = source.split("\n")
    asserts = [node for node in tree.body if isinstance(node, ast.Assert)]
    for node in reversed(asserts):
        call = ast.get_source_segment(source, node.test)
        first = lines[node.lineno - 1]
        indent = first[: len(first) - len(first.lstrip())]
        lines[node.lineno - 1 : node.end_lineno] = (indent + call).split("\n")
    return "\n".join(lines), len(asserts)


def stubbed_functions(source: str) -> set[str]:
    """Names of the functions (at any depth) whose body raises ``NotImplementedError``."""
    tree = _parse(source)
    if tree is None:
        return set()
    return {node.name for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and any(_is_not_implemented(n) for n in ast.walk(node))}


def raises_at_top_level(source: str, stubbed: set[str]) -> bool:
    """Whether running the cell reaches a stub: a ``raise NotImplementedError`` outside any
    function, or a call of a stubbed function outside any function."""
    tree = _parse(source)
    if tree is None:
        return False

    def visit(node) -> bool:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return False
        if _is_not_implemented(node):
            return True
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in stubbed):
            return True
        return any(visit(child) for child in ast.iter_child_nodes(node))

    return visit(tree)


def _is_not_implemented(node) -> bool:
    if not isinstance(node, ast.Raise) or node.exc is None:
        return False
    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def _parse(source: str):
    """The cell's AST, with IPython syntax (magics, !commands) turned into Python first."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        python = TransformerManager().transform_cell(source)
    except ImportError:
        python = source
    try:
        return ast.parse(python)
    except SyntaxError:
        return None


# --------------------------------------------------------------------------------------
# Markdown: solution blocks
# --------------------------------------------------------------------------------------


def strip_solution_markdown(text: str, in_solution: bool, where: str = "cell"):
    """Remove the parts of a markdown text that belong to a solution.

    Parameters
    ----------
    text : str
        One markdown cell (or a whole MyST markdown page).
    in_solution : bool
        Whether the text starts inside a ``{solution-start}`` ... ``{solution-end}`` block
        opened by an earlier cell.
    where : str
        Named in error messages.

    Returns
    -------
    kept : str
        The text outside solution blocks (``{solution}`` directives are removed too).
    in_solution : bool
        Whether the text ends inside a solution block.
    removed : int
        How many solution blocks started or ended here.
    """
    kept: list[str] = []
    removed = 0
    # The fence that closes the directive being skipped ({solution-start}, {solution-end}
    # or a plain {solution}), or None.
    closing: str | None = None
    for line in text.split("\n"):
        match = _FENCE.match(line)
        if closing is not None:
            if _closes(line, closing):
                closing = None
            continue
        if match and match["name"] == "solution-start":
            if in_solution:
                raise StudentEditionError(f"{where}: {{solution-start}} inside a solution")
            in_solution = True
            removed += 1
            closing = match["fence"]
            continue
        if match and match["name"] == "solution-end":
            if not in_solution:
                raise StudentEditionError(f"{where}: {{solution-end}} without {{solution-start}}")
            in_solution = False
            closing = match["fence"]
            continue
        if match and match["name"] == "solution" and not in_solution:
            removed += 1
            closing = match["fence"]
            continue
        if not in_solution:
            if removed and not line.strip() and (not kept or not kept[-1].strip()):
                continue  # one blank line where a solution was, not two
            kept.append(line)
    return "\n".join(kept).strip("\n"), in_solution, removed


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return len(text) >= len(fence) and set(text) == {fence[0]}


# --------------------------------------------------------------------------------------
# Notebooks and pages
# --------------------------------------------------------------------------------------


def make_student_notebook(nb, where: str = "notebook"):
    """Return the student version of a notebook (the input is not changed).

    Parameters
    ----------
    nb : nbformat.NotebookNode
    where : str
        The notebook's path, for messages.

    Returns
    -------
    student : nbformat.NotebookNode
    report : NotebookReport
    """
    report = NotebookReport(where)
    student = copy.deepcopy(nb)
    cells = []
    in_solution = False
    stubbed: set[str] = set()
    for number, cell in enumerate(student.cells, start=1):
        here = f"{where}, cell {number}"
        if cell.cell_type == "markdown":
            text, in_solution, removed = strip_solution_markdown(cell.source, in_solution, here)
            report.solutions_removed += removed
            if text.strip():
                cell.source = text
                cells.append(cell)
            continue
        if cell.cell_type != "code":
            if not in_solution:
                cells.append(cell)
            continue

        source, count = stub_solution_code(cell.source, here)
        tags = list(cell.metadata.get("tags", []))
        if in_solution and count == 0 and CHECK_TAG not in tags:
            continue  # a solution-only cell (a worked computation): nothing of it stays
        report.stubs += count
        if CHECK_TAG in tags:
            source, dropped = drop_check_asserts(source)
            report.checks += dropped
        stubbed |= stubbed_functions(source) if count else set()
        if (count or stubbed) and raises_at_top_level(source, stubbed) and CHECK_TAG not in tags:
            if RAISES_TAG not in tags:
                tags.append(RAISES_TAG)
            report.raising_cells.append(len(cells))
        if tags:
            cell.metadata["tags"] = tags
        cell.source = source
        cell.outputs = []
        cell.execution_count = None
        cells.append(cell)
    if in_solution:
        raise StudentEditionError(f"{where}: a {{solution-start}} is never closed")
    student.cells = cells
    return student, report


def make_student_markdown(text: str, where: str = "page"):
    """Return the student version of a MyST markdown page, and a report.

    Solution blocks are removed, marked solution code is stubbed, and the asserts of
    ``{code-cell}`` blocks tagged ``exercise-check`` are dropped.
    """
    report = NotebookReport(where)
    kept, in_solution, report.solutions_removed = strip_solution_markdown(text, False, where)
    if in_solution:
        raise StudentEditionError(f"{where}: a {{solution-start}} is never closed")
    kept, report.stubs = stub_solution_code(kept, where)
    lines = kept.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _CODE_CELL_FENCE.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if _closes(lines[j], match["fence"])),
                   len(lines))
        block = lines[i + 1 : end]
        options = [line for line in block if line.startswith(":")]
        body = "\n".join(line for line in block if not line.startswith(":"))
        if any(CHECK_TAG in line for line in options if line.startswith(":tags:")):
            body, dropped = drop_check_asserts(body)
            report.checks += dropped
        out.append(lines[i])
        out.extend(options)
        out.extend(body.split("\n") if body else [])
        if end < len(lines):
            out.append(lines[end])
        i = end + 1
    return "\n".join(out) + ("\n" if text.endswith("\n") else ""), report


# --------------------------------------------------------------------------------------
# The edition
# --------------------------------------------------------------------------------------


def build_student_sources(root: Path, out: Path) -> list[NotebookReport]:
    """Write the student notebooks, pages, configuration and hand-out files into ``out``.

    Parameters
    ----------
    root : Path
        The course's repository (holding ``_config.yml``, ``_toc.yml`` and ``book/``).
    out : Path
        The student edition's folder; it must not be ``root`` itself or lie inside
        ``root/book``.

    Returns
    -------
    list of NotebookReport
        One per notebook or markdown page, in path order.
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    book = root / "book"
    if out == root or out == book or book in out.parents or out in root.parents:
        raise StudentEditionError(
            f"--out: expected a folder outside the book (such as {root / '_build/student'}), "
            f"got {out}"
        )
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise StudentEditionError(
            f"--out: {out} exists and is not a student edition; choose an empty folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("Written by tools/make_student.py; safe to delete.\n")

    written: set[Path] = set()
    reports: list[NotebookReport] = []
    for path in sorted(book.rglob("*")):
        relative = path.relative_to(root)
        if path.is_dir() or _ignored(relative):
            continue
        if relative.with_suffix("").as_posix() in INSTRUCTOR_ONLY:
            continue
        target = out / relative
        if path.suffix == ".ipynb":
            nb = nbformat.read(path, as_version=4)
            student, report = make_student_notebook(nb, relative.as_posix())
            _write(target, nbformat.writes(student) + "\n")
            reports.append(report)
        elif path.suffix == ".md":
            text, report = make_student_markdown(path.read_text(), relative.as_posix())
            _write(target, text)
            reports.append(report)
        else:
            _copy(path, target)
        written.add(target)

    for folder in HANDOUT_DIRS:
        for path in sorted((root / folder).rglob("*")):
            relative = path.relative_to(root)
            if path.is_file() and not _ignored(relative):
                _copy(path, out / relative)
                written.add(out / relative)
    for name in HANDOUT_FILES:
        if (root / name).exists():
            _copy(root / name, out / name)
    _write(out / "README.md", _readme(root))
    _write(out / "_config.yml", _student_config(root / "_config.yml"))
    _write(out / "_toc.yml", _student_toc(root / "_toc.yml"))

    # Files from an earlier run whose source is gone.
    for folder in [out / "book", *(out / name for name in HANDOUT_DIRS)]:
        for path in sorted(folder.rglob("*"), reverse=True):
            if path.is_file() and path not in written:
                path.unlink()
            elif path.is_dir() and not any(path.iterdir()):
                path.rmdir()
    return reports


def build_student_html(out: Path) -> float:
    """Build the student HTML book in ``out/_build/html``; return the time it took (s)."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book) if jupyter_book.exists() else "jupyter-book", *BUILD_ARGS]
    # The notebooks' kernels must use matplotlib's inline backend, which ipykernel selects
    # only when MPLBACKEND is unset: a non-interactive backend inherited from the caller
    # (Agg, for scripts) would leave every page without its figures.
    env = dict(os.environ)
    if "inline" not in env.get("MPLBACKEND", "inline"):
        del env["MPLBACKEND"]
    start = time.perf_counter()
    # The notebooks first, as many at once as there are cores (tools/execute.py), then the
    # build, which finds them executed.
    subprocess.run([sys.executable, str(Path(__file__).with_name("execute.py"))],
                   cwd=out, check=True, env=env)
    subprocess.run(command, cwd=out, check=True, env=env)
    return time.perf_counter() - start


def _student_config(path: Path) -> str:
    config = yaml.safe_load(path.read_text())
    config["title"] = f"{config.get('title', 'The book')} (student edition)"
    header = ("# The student edition's configuration: the book's _config.yml, written by\n"
              "# tools/make_student.py. Edit the book's own file, not this one.\n")
    return header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=100)


def _student_toc(path: Path) -> str:
    toc = yaml.safe_load(path.read_text())

    def keep(entries):
        kept = []
        for entry in entries or []:
            if entry.get("file") in INSTRUCTOR_ONLY:
                continue
            entry = dict(entry)
            for key in ("sections", "chapters"):
                if key in entry:
                    entry[key] = keep(entry[key])
            kept.append(entry)
        return kept

    if "parts" in toc:
        parts = []
        for part in toc["parts"]:
            part = dict(part)
            part["chapters"] = keep(part.get("chapters"))
            if part["chapters"]:
                if part.get("caption") == "For instructors":
                    part["caption"] = "Exercises"
                parts.append(part)
        toc["parts"] = parts
    for key in ("chapters", "sections"):
        if key in toc:
            toc[key] = keep(toc[key])
    header = ("# The student edition's table of contents: the book's _toc.yml without the\n"
              "# instructor guide, written by tools/make_student.py.\n")
    return header + yaml.safe_dump(toc, sort_keys=False, allow_unicode=True)


def _readme(root: Path) -> str:
    title = yaml.safe_load((root / "_config.yml").read_text()).get("title", "The course")
    return f"""# {title}: student edition

The chapters are the notebooks in `book/`. Each exercise has a cell to fill in (it says
`# YOUR CODE HERE` and raises `NotImplementedError` until you do) and, below it, a check
that prints whether your code is right and, if not, what to look at.

Set up once (Python 3.11):

```bash
python3 -m venv .venv
.venv/bin/pip install -r requirements.txt
.venv/bin/python -m ipykernel install --sys-prefix --name python3
```

Then open the notebooks with `.venv/bin/jupyter lab book`, and run a check again after
each change to your code. `_build/html/index.html`, if it is there, is the book to read.
"""


def _ignored(relative: Path) -> bool:
    parts = set(relative.parts)
    return bool(parts & {".ipynb_checkpoints", "__pycache__", "_build", ".jupyter_cache"}) or (
        relative.suffix in {".pyc"}
    )


def _write(target: Path, text: str) -> None:
    if target.exists() and target.read_text() == text:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def _copy(source: Path, target: Path) -> None:
    if target.exists() and target.read_bytes() == source.read_bytes():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "student",
                        help="the student edition's folder (default: _build/student)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the course's repository (default: this one)")
    parser.add_argument("--no-html", action="store_true",
                        help="write the notebooks and pages only; do not build the HTML")
    args = parser.parse_args(argv)
    try:
        reports = build_student_sources(args.root, args.out)
    except StudentEditionError as error:
        print(f"make_student: {error}", file=sys.stderr)
        return 1
    for report in reports:
        if report.solutions_removed or report.stubs or report.checks:
            print(f"{report.path}: {report.solutions_removed} solution block(s) removed, "
                  f"{report.stubs} stub(s), {report.checks} check(s) kept")
    print(f"Student notebooks and pages written to {args.out}")
    if not args.no_html:
        seconds = build_student_html(args.out)
        print(f"Student HTML book built in {seconds:.0f} s: "
              f"open file://{Path(args.out).resolve() / '_build/html/index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
