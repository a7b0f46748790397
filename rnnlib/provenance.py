"""Where a committed result came from: the code, the command, the machine and the versions.

Every results file the book reads (``experiments/``, ``benchmarks/results/``) stores
:func:`record` under the key ``"provenance"``, so a reader can tell which code made it:

- ``git``: ``commit`` (the checked-out commit), ``dirty`` (whether tracked files differed
  from it; ``None`` when there is no git repository);
- ``rnnlib_files``, ``rnnlib_hash`` and ``rnnlib_sha256``: the rnnlib files the result
  depends on (:func:`used_files`: the rnnlib modules loaded when the record is made, and every
  rnnlib module those import anywhere in their code, less :data:`BOOKKEEPING`), how they are
  hashed (:data:`HASH_SCHEME`) and the hash of their code (names, and each module written
  out again from its syntax tree without docstrings, :func:`code_hash`). The hash changes
  when the code of one of those files does, with or without git, and not when only a
  comment, a docstring or a file outside the list changes. It covers rnnlib's ``.py`` files
  only: the experiment's own script and the data files rnnlib reads are covered by ``git``;
- ``command``, ``date`` (ISO 8601, UTC), ``machine`` and ``versions``; ``machine`` includes
  ``threads`` and ``numerics``, the settings that decide how many threads and which CPU
  kernels NumPy and OpenBLAS run (:mod:`rnnlib.numerics`).

The settings under which a training run repeats to the last bit on any machine (the CPU
kernels and one BLAS thread) are in :mod:`rnnlib.numerics`; this module re-exports
:func:`~rnnlib.numerics.pin_numerics`, which the experiment scripts call.

:func:`same_code` tells whether a results file was made by the code that is running now.
"""

import ast
import datetime
import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

# Re-exported: the experiment scripts call provenance.pin_numerics() under __main__.
from rnnlib.numerics import ONE_THREAD, PINNED_NUMERICS, numerics, numerics_to_pin, pin_numerics

__all__ = ["BOOKKEEPING", "HASH_SCHEME", "ONE_THREAD", "PINNED_NUMERICS", "code_hash",
           "git_state", "machine", "numerics", "numerics_to_pin", "pin_numerics", "record",
           "same_code", "source_hash", "used_files", "versions"]

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(__file__).resolve().parent


def git_state(root=ROOT):
    """``{"commit": ..., "dirty": ...}`` of the repository at ``root`` (``None`` if none)."""

    def git(*args):
        try:
            done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


# Modules that record or display results and compute none: a change to them leaves every
# committed result what it was. (The settings that do change results, the threads and the
# CPU kernels, live in numerics.py, which provenance.py imports and so is hashed.)
BOOKKEEPING = ("provenance.py", "source.py")
# How rnnlib_sha256 is made: each file's code written out by ast.unparse, so that the same
# code gives the same hash under every Python version that parses it alike.
HASH_SCHEME = "ast-unparse-1"


def _file_of(name):
    """The file of the rnnlib module or package called ``name``, or None."""
    parts = name.split(".")[1:]
    if not parts:
        return PACKAGE / "__init__.py"
    stem = PACKAGE.joinpath(*parts)
    for path in (stem / "__init__.py", stem.with_suffix(".py")):  # a package comes first
        if path.is_file():
            return path
    return None


def _imported_files(path):
    """The rnnlib files a module imports, at its top or inside a function, with the
    ``__init__.py`` of every package on the way."""
    package = ("rnnlib", *path.relative_to(PACKAGE).parent.parts)
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = (package[:max(1, len(package) - node.level + 1)] if node.level
                    else tuple(node.module.split(".")))
            module = ".".join([*base, *([node.module] if node.level and node.module else [])])
            names.append(module)
            names += [f"{module}.{alias.name}" for alias in node.names]  # a submodule?
    found = set()
    for name in names:
        parts = name.split(".")
        if parts[0] != "rnnlib":
            continue
        for k in range(1, len(parts) + 1):
            file = _file_of(".".join(parts[:k]))
            if file is not None:
                found.add(file)
    return found


def used_files():
    """The rnnlib files this process's results depend on, relative to the package: every
    rnnlib module loaded now, and everything they import (also inside functions, which
    load later), less :data:`BOOKKEEPING`."""
    todo = {Path(module.__file__).resolve() for name, module in list(sys.modules.items())
            if (name == "rnnlib" or name.startswith("rnnlib."))
            and getattr(module, "__file__", None)}
    todo = {path for path in todo if path.is_relative_to(PACKAGE)}
    seen = set()
    while todo:
        path = todo.pop()
        seen.add(path)
        todo |= _imported_files(path) - seen
    return sorted(path.relative_to(PACKAGE).as_posix() for path in seen
                  if path.relative_to(PACKAGE).as_posix() not in BOOKKEEPING)


def _code_of(path):
    """A module's code: its syntax tree without docstrings (comments never enter it),
    written out again (``ast.unparse``), so formatting does not count either. No rnnlib
    module reads a ``__doc__``, so a docstring never changes what one computes."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def code_hash(files, package=None):
    """SHA-256 over the names and the code (:func:`_code_of`) of ``files``, relative to
    ``package`` (default: rnnlib's folder); raises FileNotFoundError if one of them no
    longer exists and ValueError for a name that is not a relative path inside it."""
    package = Path(PACKAGE if package is None else package).resolve()
    if isinstance(files, str) or not files:
        raise ValueError(f"files: expected a non-empty list of file names, got {files!r}")
    digest = hashlib.sha256()
    if not all(isinstance(name, str) for name in files):
        raise ValueError(f"files: expected file names, got {files!r}")
    for name in sorted(files):
        path = (package / name).resolve()
        if not path.is_relative_to(package):
            raise ValueError(f"files: {name!r} is not a file of {package}")
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(_code_of(path).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def source_hash(package=PACKAGE):
    """SHA-256 over the relative path and contents of every ``.py`` file under ``package``
    (what results recorded before ``rnnlib_files`` existed hashed)."""
    digest = hashlib.sha256()
    for path in sorted(Path(package).rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def machine():
    """CPU model, cores, memory, system and the BLAS thread settings of this process."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gib = None
    try:
        with open("/proc/meminfo") as info:
            memory_gib = round(int(info.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        load = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        load = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": memory_gib,
        "system": f"{platform.system()} {platform.release()}",
        "load_average_at_start": load,
        "threads": {name: os.environ.get(name) for name in ONE_THREAD},
        "numerics": numerics(),
    }


def versions():
    """Python, NumPy, rnnlib, and PyTorch when this process has imported it."""
    import rnnlib

    found = {"python": platform.python_version(), "numpy": np.__version__,
             "rnnlib": rnnlib.__version__}
    if "torch" in sys.modules:
        found["torch"] = sys.modules["torch"].__version__
    return found


def record(command=None):
    """The provenance of a result made now, by this process (see the module's docstring).

    Parameters
    ----------
    command : str, optional
        The command line that makes the result (default: this process's own).
    """
    if command is not None and not isinstance(command, str):
        raise TypeError(f"command: expected a string, got {type(command).__name__}")
    files = used_files()
    return {
        "git": git_state(),
        "rnnlib_files": files,
        "rnnlib_hash": HASH_SCHEME,
        "rnnlib_sha256": code_hash(files),
        "command": command or " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
    }


def same_code(results):
    """True when ``results["provenance"]`` was made by the rnnlib code on disk now: the
    files it records as used have the same code, hashed as it records (for a record made
    before ``rnnlib_files`` existed, every ``.py`` file of rnnlib is byte for byte the same).
    A record made by another hashing scheme, or naming files that are gone, gives False."""
    try:
        origin = results["provenance"]
        files = origin.get("rnnlib_files")
        if files is None:
            return origin["rnnlib_sha256"] == source_hash()
        if origin.get("rnnlib_hash") != HASH_SCHEME:
            return False
        return origin["rnnlib_sha256"] == code_hash(files)
    except (KeyError, TypeError, AttributeError, OSError, SyntaxError, ValueError):
        return False
