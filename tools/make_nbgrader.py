"""Build an nbgrader course folder from the book's notebooks.

    python tools/make_nbgrader.py [--out _build/nbgrader] [--seed 0] [--only rnn,gru]

The book stays the one source: this reads its markup and writes, into ``--out`` (never into
``book/``), what ``nbgrader generate_assignment`` takes:

* ``source/<chapter>/<chapter>.ipynb``: one assignment per chapter that has exercises,
  named after its notebook, where

  - each ``{exercise}`` cell is kept as a read-only cell; its ``:label:`` is the exercise's
    id, its ``**Difficulty:**`` line gives the points (one per ★), and its ``**Automatic
    check:**`` line says whether it is a code exercise (``checks.<name>``) or pen and paper;
  - a code cell with ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` becomes an nbgrader
    *autograded answer* (``solution``), whose marked lines nbgrader replaces with its stub;
  - a cell tagged ``exercise-check`` becomes a locked *autograded test* worth the
    exercise's points: each ``assert checks.<name>(...)`` becomes
    ``checks.score(checks.<name>, ..., points=...)``, which runs the check in grading mode
    (every case, partial credit, a failure raised with its verdict) and, in a hidden-test
    line that the release does not show, draws the graded cases from a seed;
  - the solution block of a pen-and-paper exercise (``{solution-start}`` ...
    ``{solution-end}``) becomes one *manually graded answer* cell holding the book's worked
    answer (and, as a code listing, the solution-only code that checks it): nbgrader
    releases it as ``YOUR ANSWER HERE``;
  - everything else in a solution block (explanations of a code exercise, solution-only
    code cells) is left out: it stays in the book;
  - a ``show_source(...)`` line listing a function that an exercise of the chapter asks
    students to write (``rnnlib.checks``' ``FORBIDDEN`` lists) prints, instead, that the
    listing is withheld, and the exercise says where the reference can still be read;
  - ``Path("..")``, the notebooks' way of reaching the repository's root, becomes
    ``Path(".")``: the assignment folder, which holds copies of ``experiments/`` and
    ``benchmarks/`` (nbgrader copies them into every release and autograded submission);
  - outputs are cleared.
* ``nbgrader_config.py``: the book's cell timeout (``execute.timeout`` of _config.yml) for
  nbgrader's ``Execute`` step, and nbgrader's stubs (the same as ``make student``'s).
* ``assignments.json``: each assignment's exercises, cells and points.

Conversion errors (an exercise without a label or difficulty, markers out of balance)
stop the build with the notebook and cell named.
"""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import importlib.util
import json
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_student", ROOT / "tools" / "make_student.py")
make_student = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("make_student", make_student)
_spec.loader.exec_module(make_student)

CHECK_TAG = make_student.CHECK_TAG
BEGIN_SOLUTION = make_student.BEGIN_SOLUTION
HANDOUT_DIRS = ["experiments", "benchmarks"]
MARKER = ".nbgrader-course"
SCHEMA_VERSION = 3

_EXERCISE = re.compile(r"^[ \t]*(`{3,}|:{3,})\s*\{exercise\}")
_LABEL = re.compile(r"^\s*:label:\s*(\S+)", re.MULTILINE)
_DIFFICULTY = re.compile(r"\*\*Difficulty:\*\*\s*([★☆]+)")
_CHECK = re.compile(r"\*\*Automatic check:\*\*\s*`checks\.(\w+)`")
_PAPER = re.compile(r"\*\*Automatic check:\*\*\s*none")
_SHOW_SOURCE = re.compile(
    r"^(?P<indent>\s*)(?:[\w.]*\.)?show_source\((?P<name>[A-Za-z_][\w.]*)\)\s*;?\s*$"
)


class NbgraderEditionError(ValueError):
    """The book's markup cannot be turned into an nbgrader assignment."""


@dataclass
class Exercise:
    """One exercise of a chapter, as the nbgrader edition grades it."""

    label: str
    points: int
    check: str | None  # the check's name, None for pen and paper
    answer_cells: list[str] = field(default_factory=list)  # grade_ids
    test_cells: list[str] = field(default_factory=list)
    manual_cells: list[str] = field(default_factory=list)
    withheld: list[str] = field(default_factory=list)


@dataclass
class Assignment:
    name: str
    notebook: str
    exercises: list[Exercise] = field(default_factory=list)

    @property
    def points(self) -> float:
        return float(sum(e.points for e in self.exercises))


# --------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------


def _nbgrader(grade_id, *, solution=False, grade=False, locked=False, points=None,
              task=False):
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked,
            "schema_version": SCHEMA_VERSION, "solution": solution, "task": task}
    if points is not None:
        meta["points"] = points
    return meta


def parse_exercise(text: str, where: str) -> Exercise | None:
    """The exercise a markdown cell opens (label, points, check), or None."""
    if not any(_EXERCISE.match(line) for line in text.split("\n")):
        return None
    label = _LABEL.search(text)
    stars = _DIFFICULTY.search(text)
    if label is None or stars is None:
        raise NbgraderEditionError(
            f"{where}: an {{exercise}} needs a :label: and a **Difficulty:** line")
    check = _CHECK.search(text)
    if check is None and not _PAPER.search(text):
        raise NbgraderEditionError(
            f"{where}: exercise {label.group(1)!r} has no **Automatic check:** line")
    return Exercise(label.group(1), stars.group(1).count("★"),
                    check.group(1) if check else None)


def split_solution_markdown(text: str, in_solution: bool, where: str):
    """Split one markdown cell into the text outside and inside solution blocks.

    Returns ``(kept, solution, in_solution, closed)``, ``closed`` saying whether a
    ``{solution-end}`` is in the cell; the directives' own fences and options are in
    neither.
    """
    kept, solution = [], []
    closed = False
    closing = None  # the fence closing the directive line being skipped
    options = False
    for line in text.split("\n"):
        if closing is not None:
            if make_student._closes(line, closing):
                closing = None
                options = False
            elif options and re.match(r"^\s*:\w[\w-]*:", line):
                pass  # the directive's options (:class: dropdown)
            else:
                options = False
                (solution if in_solution else kept).append(line)
            continue
        match = make_student._FENCE.match(line)
        if match and match["name"] == "solution-start":
            if in_solution:
                raise NbgraderEditionError(f"{where}: {{solution-start}} inside a solution")
            in_solution, closing, options = True, match["fence"], True
            continue
        if match and match["name"] == "solution-end":
            if not in_solution:
                raise NbgraderEditionError(
                    f"{where}: {{solution-end}} without {{solution-start}}")
            in_solution, closing, options = False, match["fence"], True
            closed = True
            continue
        (solution if in_solution else kept).append(line)
    return ("\n".join(kept).strip("\n"), "\n".join(solution).strip("\n"), in_solution,
            closed)


def graded_test_source(source: str, points: float, seed: int, where: str):
    """The test cell's source: each top-level ``assert checks.<name>(args)`` becomes a
    ``checks.score`` call, and a hidden line draws the graded cases from ``seed``.

    Returns ``(source, count)``; ``count`` is how many checks the cell grades.
    """
    tree = make_student._parse(source)
    if tree is None:
        raise NbgraderEditionError(f"{where}: the check cell does not parse")
    asserts = [node for node in tree.body if isinstance(node, ast.Assert)
               and isinstance(node.test, ast.Call)
               and isinstance(node.test.func, ast.Attribute)
               and isinstance(node.test.func.value, ast.Name)
               and node.test.func.value.id == "checks"]
    if not asserts:
        raise NbgraderEditionError(f"{where}: an exercise-check cell without "
                                   f"`assert checks.<name>(...)`")
    each = round(points / len(asserts), 6)
    lines = source.split("\n")
    names = []
    for number, node in reversed(list(enumerate(asserts))):
        call = node.test
        args = [ast.get_source_segment(source, a) for a in call.args]
        args += [ast.get_source_segment(source, k) for k in call.keywords]
        target = "" if len(asserts) == 1 else f"_points_{number} = "
        text = (f"{target}checks.score(checks.{call.func.attr}, {', '.join(args)}, "
                f"points={each:g})")
        first = lines[node.lineno - 1]
        indent = first[: len(first) - len(first.lstrip())]
        lines[node.lineno - 1 : node.end_lineno] = [indent + text]
        names.append(f"_points_{number}")
    if len(asserts) > 1:
        lines.append(" + ".join(reversed(names)))
    elif node is not tree.body[-1]:
        raise NbgraderEditionError(f"{where}: the check must be the cell's last statement")
    hidden = ["### BEGIN HIDDEN TESTS",
              f"checks.use_graded_cases({seed})  # graded cases, not the book's",
              "### END HIDDEN TESTS"]
    return "\n".join(hidden + lines), len(asserts)


def _seed(base: int, grade_id: str) -> int:
    digest = hashlib.sha256(f"{base}:{grade_id}".encode()).hexdigest()
    return int(digest[:8], 16)


def forbidden_names() -> dict[str, list[str]]:
    """For each check of rnnlib.checks, the qualified names of the functions it forbids."""
    import rnnlib.checks as checks

    names: dict[str, list[str]] = {}
    for module_name in sorted({getattr(getattr(checks, n), "__module__", "")
                               for n in checks.__all__}):
        module = sys.modules.get(module_name)
        for check, functions in getattr(module, "FORBIDDEN", {}).items():
            names[check] = [f"{f.__module__}.{f.__qualname__}" for f in functions
                            if not f.__name__.startswith("_")]
    return names


def _withhold(source: str, withheld: dict[str, str]) -> tuple[str, list[str]]:
    """Replace ``show_source(x)`` lines whose ``x`` is withheld by a printed note."""
    out, hidden = [], []
    for line in source.split("\n"):
        match = _SHOW_SOURCE.match(line)
        name = match["name"] if match else ""
        full = next((q for q in (name, f"rnnlib.{name}") if q in withheld), None)
        if full is None:
            out.append(line)
            continue
        hidden.append(full)
        out.append(f'{match["indent"]}print("The listing of {full} is withheld in the '
                   f'graded edition: exercise {withheld[full]} asks you to write it.")')
    return "\n".join(out), hidden


# --------------------------------------------------------------------------------------
# A notebook
# --------------------------------------------------------------------------------------


def make_nbgrader_notebook(nb, where: str = "notebook", seed: int = 0,
                           forbidden: dict[str, list[str]] | None = None):
    """Return the nbgrader source version of a book notebook, and its Assignment.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        A full-edition notebook (not changed).
    where : str
        Its path, for messages and the assignment's name.
    seed : int
        The course's seed: each test cell's graded cases are drawn from it and the cell's
        id.
    forbidden : dict, optional
        ``{check: [qualified function names]}``; by default read from rnnlib.checks.
    """
    forbidden = forbidden_names() if forbidden is None else forbidden
    name = Path(where).stem
    assignment = Assignment(name, Path(where).name)
    source = copy.deepcopy(nb)
    # The functions this chapter's exercises ask for, and the exercise that asks.
    withheld: dict[str, str] = {}
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            exercise = parse_exercise(cell.source, where)
            if exercise and exercise.check:
                for full in forbidden.get(exercise.check, []):
                    withheld.setdefault(full, exercise.label)

    cells = []
    exercise: Exercise | None = None
    in_solution = False
    solution_text: list[str] = []
    solution_code: list[str] = []
    used_ids: set[str] = set()

    def unique(grade_id):
        candidate, n = grade_id, 2
        while candidate in used_ids:
            candidate, n = f"{grade_id}-{n}", n + 1
        used_ids.add(candidate)
        return candidate

    def close_solution(cell_id):
        """At {solution-end}: a pen-and-paper exercise gets its manual answer cell."""
        if exercise is not None and exercise.check is None:
            parts = ["\n".join(solution_text).strip()]
            if solution_code:
                parts.append("The book checks this answer with:\n\n```python\n"
                             + "\n\n".join(solution_code) + "\n```")
            text = "\n\n".join(p for p in parts if p) or "(The book gives no worked answer.)"
            grade_id = unique(f"{exercise.label}-answer")
            cell = nbformat.v4.new_markdown_cell(text)
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True, grade=True,
                                                  points=exercise.points)
            cell.id = f"{cell_id}-answer"[:64]
            exercise.manual_cells.append(grade_id)
            cells.append(cell)
        solution_text.clear()
        solution_code.clear()

    for number, cell in enumerate(source.cells, start=1):
        here = f"{where}, cell {number}"
        if cell.cell_type == "markdown":
            opened = parse_exercise(cell.source, here)
            if opened is not None:
                if in_solution:
                    raise NbgraderEditionError(f"{here}: an exercise inside a solution")
                exercise = opened
                assignment.exercises.append(exercise)
                exercise_uses = forbidden.get(exercise.check, []) if exercise.check else []
                grade_id = unique(f"{exercise.label}-text")
                cell.metadata["nbgrader"] = _nbgrader(grade_id, locked=True)
                cells.append(cell)
                if exercise_uses:
                    exercise.withheld = exercise_uses
                    note = nbformat.v4.new_markdown_cell(
                        "**Graded edition.** This exercise is graded by "
                        f"`checks.{exercise.check}` on cases drawn at grading time; an "
                        "answer that calls "
                        + ", ".join(f"`{f}`" for f in exercise_uses)
                        + " scores nothing. Where this notebook would list their source, "
                        "the listing is withheld; the book's HTML edition and rnnlib's "
                        "source files still show them, and the check cannot tell an answer "
                        "derived from the equations from one copied from there."
                    )
                    note.id = f"{cell.id}-graded"[:64]
                    note.metadata["nbgrader"] = _nbgrader(unique(f"{exercise.label}-note"),
                                                          locked=True)
                    cells.append(note)
                continue
            kept, solution, in_solution, closed = split_solution_markdown(
                cell.source, in_solution, here)
            if solution:
                solution_text.append(solution)
            if closed:
                close_solution(cell.id)
            if kept.strip():
                cell.source = kept
                cells.append(cell)
            continue
        if cell.cell_type != "code":
            if not in_solution:
                cells.append(cell)
            continue

        tags = list(cell.metadata.get("tags", []))
        marked = BEGIN_SOLUTION in cell.source
        # Check the markers balance (the same rules as the student edition).
        try:
            make_student.stub_solution_code(cell.source, here)
        except make_student.StudentEditionError as error:
            raise NbgraderEditionError(str(error)) from None
        cell.outputs = []
        cell.execution_count = None
        if in_solution and not marked and CHECK_TAG not in tags:
            solution_code.append(cell.source)  # solution-only code: not in the assignment
            continue
        if marked:
            label = exercise.label if exercise else f"cell-{cell.id}"
            grade_id = unique(f"{label}-code")
            cell.metadata["nbgrader"] = _nbgrader(grade_id, solution=True)
            if exercise:
                exercise.answer_cells.append(grade_id)
        elif CHECK_TAG in tags:
            if exercise is None or exercise.check is None:
                raise NbgraderEditionError(f"{here}: an exercise-check cell outside a code "
                                           f"exercise")
            grade_id = unique(f"{exercise.label}-check")
            cell.source, _ = graded_test_source(cell.source, exercise.points,
                                                _seed(seed, grade_id), here)
            cell.metadata["nbgrader"] = _nbgrader(grade_id, grade=True, locked=True,
                                                  points=exercise.points)
            exercise.test_cells.append(grade_id)
        else:
            cell.source, _ = _withhold(cell.source, withheld)
            cell.source = re.sub(r"""Path\((["'])\.\.\1\)""", 'Path(".")', cell.source)
        cells.append(cell)
    if in_solution:
        raise NbgraderEditionError(f"{where}: a {{solution-start}} is never closed")
    for exercise in assignment.exercises:
        if exercise.check and len(exercise.test_cells) > 1:
            share = exercise.points / len(exercise.test_cells)
            for cell in cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade_id") in exercise.test_cells:
                    meta["points"] = share
                    cell.source = re.sub(r"points=[\d.]+", f"points={share:g}", cell.source)
        if exercise.check and not exercise.test_cells:
            raise NbgraderEditionError(
                f"{where}: exercise {exercise.label!r} names checks.{exercise.check} but has "
                f"no cell tagged {CHECK_TAG}")
    source.cells = cells
    return source, assignment


# --------------------------------------------------------------------------------------
# The course folder
# --------------------------------------------------------------------------------------

CONFIG = '''"""nbgrader's configuration for the course, written by tools/make_nbgrader.py."""

c = get_config()  # noqa: F821 (nbgrader defines it)

# The book lets a cell run {timeout} s (execute.timeout in _config.yml); nbgrader's default
# is 30 s, too short for the chapters' training cells.
c.Execute.timeout = {timeout}
c.Execute.kernel_name = "python3"
# The stubs of `make student`.
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback"]
'''


def build_course(root: Path, out: Path, *, seed: int = 0, only=None) -> list[Assignment]:
    """Write the nbgrader course folder ``out`` from the book in ``root``."""
    root, out = Path(root).resolve(), Path(out).resolve()
    book = root / "book"
    if out == root or book == out or book in out.parents or out in root.parents:
        raise NbgraderEditionError(f"--out: expected a folder outside the book, got {out}")
    if out.exists() and any(out.iterdir()) and not (out / MARKER).exists():
        raise NbgraderEditionError(
            f"--out: {out} exists and is not an nbgrader course made here; choose an empty "
            f"folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("Written by tools/make_nbgrader.py; safe to delete.\n")
    config = yaml.safe_load((root / "_config.yml").read_text())
    timeout = int(config.get("execute", {}).get("timeout", 180))
    (out / "nbgrader_config.py").write_text(CONFIG.format(timeout=timeout))

    forbidden = forbidden_names()
    assignments = []
    written = set()
    for path in sorted(book.glob("*.ipynb")):
        if only and path.stem not in only:
            continue
        nb = nbformat.read(path, as_version=4)
        if not any(c.cell_type == "markdown" and parse_exercise(c.source, path.name)
                   for c in nb.cells):
            continue
        converted, assignment = make_nbgrader_notebook(
            nb, path.relative_to(root).as_posix(), seed=seed, forbidden=forbidden)
        folder = out / "source" / assignment.name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.validate(converted)
        (folder / path.name).write_text(nbformat.writes(converted) + "\n")
        for name in HANDOUT_DIRS:
            _copy_tree(root / name, folder / name)
        written.add(folder)
        assignments.append(assignment)
    for folder in sorted((out / "source").glob("*")):
        if folder.is_dir() and folder not in written and not only:
            shutil.rmtree(folder)
    summary = [{"name": a.name, "notebook": a.notebook, "points": a.points,
                "exercises": [asdict(e) for e in a.exercises]} for a in assignments]
    (out / "assignments.json").write_text(json.dumps(summary, indent=1) + "\n")
    return assignments


def _copy_tree(source: Path, target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(
        "__pycache__", "*.pyc", ".ipynb_checkpoints"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "nbgrader",
                        help="the course folder (default: _build/nbgrader)")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the course's repository (default: this one)")
    parser.add_argument("--seed", type=int, default=0,
                        help="the course's seed for the graded cases (keep it private)")
    parser.add_argument("--only", default="",
                        help="comma-separated chapters (notebook names) to convert")
    args = parser.parse_args(argv)
    only = {name.strip() for name in args.only.split(",") if name.strip()} or None
    start = time.perf_counter()
    try:
        assignments = build_course(args.root, args.out, seed=args.seed, only=only)
    except NbgraderEditionError as error:
        print(f"make_nbgrader: {error}", file=sys.stderr)
        return 1
    for a in assignments:
        code = sum(1 for e in a.exercises if e.check)
        paper = len(a.exercises) - code
        print(f"{a.name}: {len(a.exercises)} exercises ({code} autograded, {paper} graded "
              f"by hand), {a.points:g} points")
    print(f"{len(assignments)} assignments written to {args.out / 'source'} in "
          f"{time.perf_counter() - start:.1f} s; then, in {args.out}: "
          f"nbgrader generate_assignment <name>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
