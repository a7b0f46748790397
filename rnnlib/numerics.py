"""The settings under which a training run repeats to the last bit on any machine.

A training run repeats exactly only where the same floating-point kernels run: NumPy picks
its ``tanh`` and ``exp`` loops, and OpenBLAS its matrix kernels, by the CPU's features, so an
AVX-512 machine and an AVX2 machine round differently and a long training run drifts apart.
:data:`PINNED_NUMERICS` asks every x86-64 machine for the same kernels (NumPy's AVX2 loops,
OpenBLAS's Haswell kernels). The same holds for threads: a matrix product split over two
threads adds its terms in another order, so every machine runs one BLAS thread
(:data:`ONE_THREAD`). ``make`` exports both, the course's Jupyter kernel sets both
(``tools/pin_kernel.py``), and the experiment scripts restart themselves under them
(:func:`pin_numerics`). :func:`rnnlib.provenance.record` stores what a run had.
"""

import os
import platform
import sys

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
          + " (the threads and floating-point kernels of the committed results)", flush=True)
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **missing})
