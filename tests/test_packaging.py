"""The package as a user installs it: a wheel holds every subpackage and data file.

The course installs rnnlib in editable mode, where the source tree is on the path and a
missing package entry goes unnoticed. This test builds the wheel offline, as
``pip install .`` would, and compares its file list with the source tree.
"""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_every_subpackage_and_data_file(tmp_path):
    # Build from a copy, so that the build leaves nothing in the working tree.
    copy = tmp_path / "src"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    for name in ("rnnlib", "experiments"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(copy), "--no-deps", "--no-build-isolation",
         "--no-index", "--quiet", "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = tmp_path.glob("rnnlib-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    source = ROOT / "rnnlib"
    packages = sorted(p.parent.relative_to(ROOT) for p in source.rglob("__init__.py"))
    assert {Path("rnnlib"), Path("rnnlib/checks"), Path("rnnlib/fast")} <= set(packages)
    for package in packages:
        for module in (ROOT / package).glob("*.py"):
            name = module.relative_to(ROOT).as_posix()
            assert name in names, f"{name} missing from {wheel.name}"
    data_files = sorted((source / "data_files").glob("*.txt"))
    assert data_files
    for path in data_files:
        assert path.relative_to(ROOT).as_posix() in names, f"{path} missing from {wheel.name}"
