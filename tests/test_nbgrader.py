"""The nbgrader edition (tools/make_nbgrader.py), tested with nbgrader itself.

* Every chapter with exercises becomes an assignment that ``nbgrader generate_assignment``
  accepts, with an autograded answer and a locked test cell per code exercise and a
  manually graded answer per pen-and-paper exercise, worth one point per ★.
* No line of any solution is in the release (the student edition's search, line by line).
* A simulated class goes through ``nbgrader autograde``, ``generate_feedback`` and
  ``export`` on a few chapters: the book's solutions get every autograded point, the
  untouched release none, a submission with one known mistake loses exactly that
  exercise's points (with the check's verdict in the feedback), and one that calls the
  rnnlib function its exercise asks for loses that exercise's points too.

Marked ``nbgrader`` (``make nbgrader-check`` runs it; ``make unit`` does not).
"""

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
BIN = Path(sys.executable).parent

pytestmark = pytest.mark.nbgrader


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


make_nbgrader = _load("make_nbgrader", ROOT / "tools" / "make_nbgrader.py")
student_tests = _load("student_edition_tests", ROOT / "tests" / "test_student.py")

# The chapters graded end to end (the quickest to execute), and for each: a known mistake
# (answer cell, text replaced, text put instead, words of the check's hint) and an answer
# that calls the rnnlib function its exercise asks for (answer cell, new source, name).
CLASS = {
    "sequences": {
        "mistake": ("sequences-ex-stack-code", "for params in params_list:",
                    "for params in params_list[:1]:", "the output of the first layer"),
        "reference": ("sequences-ex-unroll-code",
                      "def my_rnn_forward(X, h0, params):\n"
                      "    Y, h_T, _ = rnn.forward(X, h0, params)\n"
                      "    return Y, h_T\n", "rnnlib.rnn.forward"),
    },
    "gru": {
        "mistake": ("gru-ex-step-forward-code", "return (1 - u) * h_prev + u * a",
                    "return u * h_prev + (1 - u) * a", "PyTorch's way round"),
        "reference": ("gru-ex-update-backward-code",
                      "def my_update_gate_backward(dh, h_prev, a, u):\n"
                      "    from rnnlib import checks\n"
                      "    return checks.gru._reference_update_backward(dh, h_prev, a, u)\n",
                      "_reference_update_backward"),
    },
}
STUDENTS = ["alice", "bob", "carol", "dave"]  # solutions, stubs, one mistake, reference


def nbgrader(course, *args, timeout=1800):
    """Run an nbgrader command in the course folder; return its output (it must succeed)."""
    env = dict(os.environ)
    env.pop("MPLBACKEND", None)
    # nbgrader runs `alembic` (its database migrations) from the PATH
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    run = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=timeout)
    output = run.stdout + run.stderr
    lines = [line for line in output.split("\n") if "| INFO] Copying" not in line]
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n" + "\n".join(lines)
    return output


def chapters_with_exercises():
    return sorted(path.stem for path in BOOK.glob("*.ipynb")
                  if "{exercise}" in path.read_text())


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The course folder, with every assignment generated."""
    folder = tmp_path_factory.mktemp("nbgrader") / "course"
    make_nbgrader.build_course(ROOT, folder, seed=12345)
    nbgrader(folder, "generate_assignment", "*", "--force")
    return folder


def summary(course):
    return {a["name"]: a for a in json.loads((course / "assignments.json").read_text())}


def cell_by_id(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id")
                == grade_id)


# --------------------------------------------------------------------------------------
# The assignments and the release
# --------------------------------------------------------------------------------------


def test_one_assignment_per_chapter_with_exercises(course):
    assert sorted(summary(course)) == chapters_with_exercises()
    for name in chapters_with_exercises():
        assert (course / "release" / name / f"{name}.ipynb").exists()
        assert (course / "release" / name / "experiments" / "head_to_head.py").exists()
    config = (course / "nbgrader_config.py").read_text()
    assert "c.Execute.timeout = 180" in config


@pytest.mark.parametrize("name", chapters_with_exercises())
def test_cells_and_points_follow_the_markup(course, name):
    book = nbformat.read(BOOK / f"{name}.ipynb", as_version=4)
    source = nbformat.read(course / "source" / name / f"{name}.ipynb", as_version=4)
    stars = {}
    for cell in book.cells:
        exercise = make_nbgrader.parse_exercise(cell.source, name) \
            if cell.cell_type == "markdown" else None
        if exercise:
            stars[exercise.label] = (exercise.points, exercise.check)
    graded = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader")
        if meta and meta["grade"]:
            label = meta["grade_id"].rsplit("-", 1)[0]
            graded[label] = graded.get(label, 0) + meta["points"]
            if cell.cell_type == "code":
                assert meta["locked"] and not meta["solution"]
                assert "checks.score(checks." in cell.source
                assert "### BEGIN HIDDEN TESTS" in cell.source
            else:
                assert meta["solution"], "a manually graded answer is a solution cell"
    # every exercise is graded: a code exercise by its test cell, a pen-and-paper one by hand
    assert graded == {label: points for label, (points, _) in stars.items()}
    answers = [c for c in source.cells if "### BEGIN SOLUTION" in c.source]
    assert all(c.metadata["nbgrader"]["solution"] for c in answers)
    assert summary(course)[name]["points"] == sum(p for p, _ in stars.values())


@pytest.mark.parametrize("name", chapters_with_exercises())
def test_release_has_no_solution(course, name):
    book = nbformat.read(BOOK / f"{name}.ipynb", as_version=4)
    release = course / "release" / name / f"{name}.ipynb"
    assert student_tests.leaked_lines(book, release) == []
    text = release.read_text()
    for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "use_graded_cases",
                   "solution-start", "solution-end"):
        assert marker not in text, marker
    released = nbformat.read(release, as_version=4)
    manual = [c for c in released.cells if c.cell_type == "markdown"
              and c.metadata.get("nbgrader", {}).get("grade")]
    assert all(c.source == "YOUR ANSWER HERE" for c in manual)


def test_release_withholds_listings_of_what_the_exercises_ask_for(course):
    text = (course / "release" / "rnn" / "rnn.ipynb").read_text()
    assert "show_source(rnn.step_forward)" not in text
    assert "The listing of rnnlib.rnn.step_forward is withheld" in text
    assert "**Graded edition.**" in text


SYNTHETIC = [
    ("code", "from rnnlib import checks, rnn, show_source\nfrom pathlib import Path\n"
             "data = Path('..') / 'experiments'", []),
    ("code", "show_source(rnn.step_forward)", []),
    ("markdown", "````{exercise} Count\n:label: demo-ex-count\n\n"
                 "**Difficulty:** ★☆☆ · **Automatic check:** none (pen and paper)\n\n"
                 "How many?\n````", []),
    ("markdown", "```{solution-start} demo-ex-count\n:class: dropdown\n```\n"
                 "Exactly forty-two of them.", []),
    ("code", "assert 6 * 7 == 42", []),
    ("markdown", "```{solution-end}\n```", []),
    ("markdown", "````{exercise} Step\n:label: demo-ex-step\n\n"
                 "**Difficulty:** ★★★ · **Automatic check:** `checks.rnn_step_forward`\n"
                 "````", []),
    ("markdown", "```{solution-start} demo-ex-step\n:class: dropdown\n```\n"
                 "Concatenate, multiply, add, squash.", []),
    ("code", "def my_step(x, h_prev, W, b):\n    ### BEGIN SOLUTION\n"
             "    return np.tanh(np.concatenate([x, h_prev], axis=1) @ W + b)\n"
             "    ### END SOLUTION", []),
    ("markdown", "```{solution-end}\n```", []),
    ("code", "assert checks.rnn_step_forward(my_step)\n"
             "assert checks.rnn_step_forward(my_step)", ["exercise-check"]),
]


def synthetic_notebook():
    cells = []
    for kind, source, tags in SYNTHETIC:
        cell = (nbformat.v4.new_code_cell(source) if kind == "code"
                else nbformat.v4.new_markdown_cell(source))
        if tags:
            cell.metadata["tags"] = tags
        cells.append(cell)
    return nbformat.v4.new_notebook(cells=cells)


def test_a_new_chapter_is_converted_from_its_markup_alone():
    forbidden = {"rnn_step_forward": ["rnnlib.rnn.step_forward"]}
    nb, assignment = make_nbgrader.make_nbgrader_notebook(
        synthetic_notebook(), "book/demo.ipynb", seed=1, forbidden=forbidden)
    nbformat.validate(nb)
    assert assignment.points == 4
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
             if "nbgrader" in c.metadata}
    manual = by_id["demo-ex-count-answer"]
    assert manual.cell_type == "markdown" and manual.metadata["nbgrader"]["points"] == 1
    assert "Exactly forty-two" in manual.source and "6 * 7 == 42" in manual.source
    assert by_id["demo-ex-step-code"].metadata["nbgrader"]["solution"]
    test = by_id["demo-ex-step-check"]
    assert test.metadata["nbgrader"]["points"] == 3 and test.metadata["nbgrader"]["locked"]
    assert test.source.count("checks.score(checks.rnn_step_forward, my_step, points=1.5)") == 2
    assert test.source.rstrip().endswith("_points_0 + _points_1")
    text = nbformat.writes(nb)
    assert "Concatenate, multiply" not in text  # a code exercise's explanation stays out
    assert "solution-start" not in text and "solution-end" not in text
    assert "show_source(rnn.step_forward)" not in text
    assert "withheld in the graded edition: exercise demo-ex-step" in text
    assert "Path(\".\") / 'experiments'" in nb.cells[0].source


def test_conversion_refuses_broken_markup():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("````{exercise} No label\n\n**Difficulty:** ★☆☆\n````"),
    ])
    with pytest.raises(make_nbgrader.NbgraderEditionError, match="label"):
        make_nbgrader.make_nbgrader_notebook(nb, "demo.ipynb", forbidden={})


# --------------------------------------------------------------------------------------
# A simulated class
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded(course):
    """Submissions of four students on the CLASS chapters, autograded, with feedback and
    the exported grades."""
    for name, plan in CLASS.items():
        source = course / "source" / name
        release = course / "release" / name
        for student, base in zip(STUDENTS, [source, release, source, source], strict=True):
            target = course / "submitted" / student / name
            shutil.copytree(base, target, dirs_exist_ok=True)
        cell_id, old, new, _ = plan["mistake"]
        path = course / "submitted" / "carol" / name / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        cell = cell_by_id(nb, cell_id)
        assert old in cell.source
        cell.source = cell.source.replace(old, new)
        nbformat.write(nb, path)
        cell_id, code, _ = plan["reference"]
        path = course / "submitted" / "dave" / name / f"{name}.ipynb"
        nb = nbformat.read(path, as_version=4)
        cell_by_id(nb, cell_id).source = code
        nbformat.write(nb, path)
    for name in CLASS:
        nbgrader(course, "autograde", name, "--create", "--force")
        nbgrader(course, "generate_feedback", name, "--force")
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    with open(course / "grades.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {(r["assignment"], r["student_id"]): float(r["score"]) for r in rows}


def autograded_points(course, name):
    return sum(e["points"] for e in summary(course)[name]["exercises"] if e["check"])


def exercise_points(course, name, cell_id):
    label = cell_id.rsplit("-", 1)[0]
    return next(e["points"] for e in summary(course)[name]["exercises"]
                if e["label"] == label)


@pytest.mark.parametrize("name", sorted(CLASS))
def test_the_solutions_get_every_autograded_point(course, graded, name):
    assert graded[(name, "alice")] == autograded_points(course, name)
    nb = nbformat.read(course / "autograded" / "alice" / name / f"{name}.ipynb",
                       as_version=4)
    errors = [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
              if c.get("outputs") and c.metadata.get("nbgrader", {}).get("grade")
              and any(o.output_type == "error" for o in c.outputs)]
    assert errors == []


@pytest.mark.parametrize("name", sorted(CLASS))
def test_the_stubs_get_nothing(graded, name):
    assert graded[(name, "bob")] == 0


@pytest.mark.parametrize("name", sorted(CLASS))
def test_one_mistake_loses_that_exercise_with_the_hint_in_the_feedback(course, graded,
                                                                       name):
    cell_id, _, _, words = CLASS[name]["mistake"]
    lost = exercise_points(course, name, cell_id)
    assert graded[(name, "carol")] == autograded_points(course, name) - lost
    feedback = (course / "feedback" / "carol" / name / f"{name}.html").read_text()
    assert "CheckFailed" in feedback
    assert words.replace("'", "&#39;") in feedback or words in feedback


@pytest.mark.parametrize("name", sorted(CLASS))
def test_calling_the_reference_loses_that_exercise(course, graded, name):
    cell_id, _, called = CLASS[name]["reference"]
    lost = exercise_points(course, name, cell_id)
    assert graded[(name, "dave")] == autograded_points(course, name) - lost
    feedback = (course / "feedback" / "dave" / name / f"{name}.html").read_text()
    assert called in feedback


def test_grades_are_exported_for_every_student(course, graded):
    for name in CLASS:
        assert {s for (a, s) in graded if a == name} == set(STUDENTS)
