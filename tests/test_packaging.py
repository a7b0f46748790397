"""The wheel holds all of rnnlib: every subpackage and the data files.

An editable install (``pip install -e .``, what ``make`` does) reads the source tree, so it
works even when ``pyproject.toml`` lists too few packages; a wheel or a non-editable install
then silently lacks ``rnnlib.checks`` or ``rnnlib.fast``. This test builds the wheel the way
pip does for a non-editable install and reads its file list.

The build is offline: ``--no-build-isolation`` uses this virtualenv's setuptools (pinned in
requirements.txt; since version 70.1 setuptools builds wheels by itself, without the
``wheel`` package), ``--no-deps`` skips the dependencies and ``PIP_NO_INDEX`` forbids any
package index. It runs on a copy of the project, so that the ``build/`` and ``*.egg-info``
directories setuptools writes stay out of the source tree.
"""

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rnnlib"

#: Directories the build does not need; copying them would only take time.
NOT_COPIED = (".git", ".venv", "_build", "book", "benchmarks", "node_modules", "build",
              "*.egg-info", "__pycache__", ".pytest_cache", ".hypothesis", ".ruff_cache",
              ".jupyter_cache", ".ipynb_checkpoints")


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory):
    """The names of the files in a freshly built wheel of the project."""
    tmp = tmp_path_factory.mktemp("wheel")
    source, out = tmp / "source", tmp / "dist"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_COPIED))
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps",
         "--no-build-isolation", "-w", str(out)],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )
    assert result.returncode == 0, f"pip wheel failed:\n{result.stdout}\n{result.stderr}"
    wheels = list(out.glob("rnnlib-*.whl"))
    assert len(wheels) == 1, f"expected one rnnlib wheel in {out}, got {wheels}"
    with zipfile.ZipFile(wheels[0]) as wheel:
        return set(wheel.namelist())


def _packages(root):
    """Every directory under ``root`` (itself included) that has an ``__init__.py``."""
    return sorted(init.parent for init in root.rglob("__init__.py")
                  if "__pycache__" not in init.parts)


def test_the_source_tree_has_subpackages():
    # Guards the test below: it must compare against something.
    names = {path.relative_to(ROOT).as_posix() for path in _packages(PACKAGE)}
    assert {"rnnlib", "rnnlib/checks", "rnnlib/fast"} <= names


def test_wheel_has_every_subpackage_and_module(wheel_files):
    missing = []
    for package in _packages(PACKAGE):
        for module in package.glob("*.py"):
            name = module.relative_to(ROOT).as_posix()
            if name not in wheel_files:
                missing.append(name)
    assert not missing, f"the wheel lacks {missing}"


def test_wheel_has_the_data_files(wheel_files):
    data_files = sorted((PACKAGE / "data_files").glob("*.txt"))
    assert data_files, "rnnlib/data_files/*.txt: expected at least one text file"
    missing = [path.relative_to(ROOT).as_posix() for path in data_files
               if path.relative_to(ROOT).as_posix() not in wheel_files]
    assert not missing, f"the wheel lacks {missing}"


def test_wheel_holds_no_tests_or_book(wheel_files):
    top_level = {name.split("/", 1)[0] for name in wheel_files}
    top_level = {name for name in top_level if not name.endswith(".dist-info")}
    assert top_level <= {"rnnlib", "experiments"}, f"unexpected in the wheel: {top_level}"
