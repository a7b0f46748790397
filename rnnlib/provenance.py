"""Where a committed result came from: the code, the command, the machine and the versions.

Every results file the book reads (``experiments/``, ``benchmarks/results/``) stores
:func:`record` under the key ``"provenance"``, so a reader can tell which code made it:

- ``git``: ``commit`` (the checked-out commit), ``dirty`` (whether tracked files differed
  from it; ``None`` when there is no git repository);
- ``rnnlib_sha256``: a hash of every ``.py`` file of the installed ``rnnlib`` (names and
  contents), which changes whenever the library's code does, with or without git;
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


def source_hash(package=PACKAGE):
    """SHA-256 over the relative path and contents of every ``.py`` file under ``package``."""
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
    return {
        "git": git_state(),
        "rnnlib_sha256": source_hash(),
        "command": command or " ".join([Path(sys.executable).name, *sys.argv]),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": versions(),
    }


def same_code(results):
    """True when ``results["provenance"]`` was made by the rnnlib sources running now."""
    try:
        return results["provenance"]["rnnlib_sha256"] == source_hash()
    except (KeyError, TypeError):
        return False
