"""Where a committed result came from: the code, the command, the machine and the versions.

Every results file the book reads (``experiments/``, ``benchmarks/results/``) stores
:func:`record` under the key ``"provenance"``, so a reader can tell which code made it:

- ``git``: ``commit`` (the checked-out commit), ``dirty`` (whether tracked files differed
  from it; ``None`` when there is no git repository);
- ``rnnlib_files`` and ``rnnlib_sha256``: the rnnlib modules the result's code imports
  (:func:`used_files`: those loaded when it is recorded, and every rnnlib module those import
  anywhere in their code, less :data:`BOOKKEEPING`), and a hash of their code (names and
  syntax trees without docstrings, :func:`code_hash`), which changes whenever the code that
  computed the result does, with or without git, and not when a comment, a docstring or a
  module the result never used does;
- ``command``, ``date`` (ISO 8601, UTC), ``machine`` and ``versions``; ``machine`` includes
  ``numerics``, the settings that decide which CPU kernels NumPy and OpenBLAS run.

A training run repeats to the last bit only where the same floating-point kernels run: NumPy
picks its ``tanh`` and ``exp`` loops, and OpenBLAS its matrix kernels, by the CPU's features,
so an AVX-512 machine and an AVX2 machine round differently and a long training run drifts
apart. :data:`PINNED_NUMERICS` asks every x86-64 machine for the same kernels (NumPy's AVX2
loops, OpenBLAS's Haswell kernels). The same holds for threads: a matrix product split over
two threads adds its terms in another order, so every machine runs one BLAS thread
(:data:`ONE_THREAD`). ``make`` exports both, the course's Jupyter kernel sets both, and the
experiment scripts restart themselves under them (:func:`pin_numerics`).

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

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(__file__).resolve().parent


# The environment under which every x86-64 machine with AVX2 runs the same floating-point
# kernels. Both libraries read it once, when they load, so it must be set before the
# process starts: the Makefile exports the same values (tests/test_provenance.py checks).
PINNED_NUMERICS = {
    "OPENBLAS_CORETYPE": "Haswell",
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
}
# One thread for every BLAS and OpenMP library, on every machine. Measured: the LSTM with
# weight decay of experiments/training_setup.py (seed 0) ends at training loss 0.0125421
# with one OpenBLAS thread and 0.0125648 with two. The committed results use one.
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def numerics_to_pin():
    """:data:`ONE_THREAD`, with :data:`PINNED_NUMERICS` on x86-64 (other CPUs have other
    kernels)."""
    kernels = PINNED_NUMERICS if platform.machine() in ("x86_64", "AMD64") else {}
    return {**ONE_THREAD, **kernels}


def numerics():
    """The pinning variables as this process sees them, and the SIMD groups NumPy uses."""
    from numpy._core import _multiarray_umath as umath

    used = [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]
    return {**{name: os.environ.get(name) for name in PINNED_NUMERICS},
            "numpy_simd": [*umath.__cpu_baseline__, *used]}


def pin_numerics():
    """Restart this script under :func:`numerics_to_pin` unless it already runs under it.

    NumPy and OpenBLAS have chosen their kernels by the time rnnlib is imported, so the only
    way to change them is a new process. Call it in a script's ``if __name__ == "__main__":``
    block, never in code that tests import: it replaces the running process.
    """
    missing = {name: value for name, value in numerics_to_pin().items()
               if os.environ.get(name) != value}
    if not missing:
        return
    print("restarting under " + " ".join(f"{k}={v!r}" for k, v in missing.items())
          + " (the same floating-point kernels on every x86-64 machine)", flush=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **missing})


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
# committed result what it was.
BOOKKEEPING = ("provenance.py", "source.py")


def _file_of(name):
    """The file of the rnnlib module or package called ``name``, or None."""
    parts = name.split(".")[1:]
    if not parts:
        return PACKAGE / "__init__.py"
    stem = PACKAGE.joinpath(*parts)
    for path in (stem.with_suffix(".py"), stem / "__init__.py"):
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
            base = (package[:len(package) - node.level + 1] if node.level
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
    """A module's code: its syntax tree without docstrings (comments never enter it)."""
    tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_hash(files, package=PACKAGE):
    """SHA-256 over the names and the code (:func:`_code_of`) of ``files``, relative to
    ``package``; raises FileNotFoundError if one of them no longer exists."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(_code_of(Path(package) / name).encode())
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
        "threads": {name: os.environ.get(name) for name in
                    ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
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
        "rnnlib_sha256": code_hash(files),
        "command": command or " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
    }


def same_code(results):
    """True when ``results["provenance"]`` was made by the rnnlib code running now: the
    modules it records as used have the same code (for a record without that list, every
    file of rnnlib is byte for byte the same)."""
    try:
        origin = results["provenance"]
        files = origin.get("rnnlib_files")
        now = source_hash() if files is None else code_hash(files)
        return origin["rnnlib_sha256"] == now
    except (KeyError, TypeError, AttributeError, OSError, SyntaxError):
        return False
