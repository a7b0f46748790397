"""Give the course's Jupyter kernel (.venv's ``python3``) the pinned numeric environment.

Every notebook runs in that kernel, whoever starts it (``jupyter-book``, nbval, JupyterLab,
nbgrader), so with ``env`` in its kernel.json each of them runs NumPy and OpenBLAS with the
same floating-point kernels, and the same single BLAS thread, as the scripts that made the
committed results (``rnnlib.numerics.numerics_to_pin``). ``make setup`` runs it after
installing the kernel.

Run: ``.venv/bin/python tools/pin_kernel.py``.
"""

import json
import sys
from pathlib import Path

from rnnlib import numerics


def pin(kernel_json):
    """Write the pinned variables into ``kernel_json``'s ``env``; return what it now holds."""
    path = Path(kernel_json)
    if not path.is_file():
        raise SystemExit(f"{path} is missing: install the kernel first "
                         "(python -m ipykernel install --sys-prefix --name python3)")
    spec = json.loads(path.read_text())
    env = {**spec.get("env", {}), **numerics.numerics_to_pin()}
    spec["env"] = env
    path.write_text(json.dumps(spec, indent=1) + "\n")
    return env


def main():
    kernel_json = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    env = pin(kernel_json)
    print(f"{kernel_json}: env {env}")


if __name__ == "__main__":
    main()
