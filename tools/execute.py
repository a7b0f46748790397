"""Execute a book's notebooks into its notebook cache, several at a time.

``jupyter-book build`` executes the notebooks it finds out of date one after another, each
in one kernel, so on a machine with two cores the second stays idle for most of a build.
This script executes them first, ``--jobs`` kernels at once (the longest notebooks first,
as timed by the previous run), and stores each executed notebook in the cache the build
reads (``execute.cache`` of ``_config.yml``, keyed as the build keys it: on the code
cells, their metadata and the kernel). The build then finds every notebook executed and
only renders. A notebook that fails here is left out of the cache, so the build executes
it again and reports its error as it always does: this script never hides a failure, it
only says which notebooks the build will have to run.

``make book`` and ``make pdf`` run it before their builds, and ``tools/make_student.py``
before building the student edition.

Run: ``.venv/bin/python tools/execute.py [--root DIR] [--jobs N]``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

import nbformat
import yaml


def toc_docnames(root: Path) -> list[str]:
    """The pages of ``root/_toc.yml`` (the root, then every file of every part), in the
    table's order, without their suffixes."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))
            walk(entry.get("chapters"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    return [str(Path(name).with_suffix("")) for name in names]


def toc_notebooks(root: Path) -> list[Path]:
    """The ``.ipynb`` files of ``root/_toc.yml``, in the table's order."""
    paths = (root / f"{name}.ipynb" for name in toc_docnames(root))
    return [path for path in paths if path.is_file()]


def execution_settings(root: Path) -> dict:
    """The cache's folder and the cell timeout, from the ``execute`` block of _config.yml."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    execute = config.get("execute", {}) or {}
    mode = execute.get("execute_notebooks", "auto")
    if mode != "cache":
        raise SystemExit(f"{root / '_config.yml'}: execute_notebooks is {mode!r}; this script "
                         "fills the notebook cache, which the build reads only in 'cache' mode")
    return {"cache": root / execute.get("cache", ".jupyter_cache"),
            "timeout": execute.get("timeout", 30),
            "allow_errors": execute.get("allow_errors", False)}


def _execute(job):
    """Run one notebook in a fresh kernel, in its own folder (as the build does)."""
    from jupyter_cache.executors.utils import single_nb_execution

    path, timeout, allow_errors = job
    notebook = nbformat.read(path, as_version=4)
    result = single_nb_execution(notebook, cwd=str(path.parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    error = None if result.err is None else f"{type(result.err).__name__}"
    return path, notebook, result.time, error


def execute(root: Path, jobs: int) -> dict:
    """Execute every toc notebook the cache lacks, ``jobs`` at once; cache those that pass.

    Returns ``{"cached": [...], "executed": [...], "failed": [...]}`` (paths).
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    root = Path(root).resolve()
    settings = execution_settings(root)
    cache = get_cache(settings["cache"])
    timings = root / "_build" / ".notebook_seconds.json"
    seconds = json.loads(timings.read_text()) if timings.is_file() else {}
    cached, todo = [], []
    for path in toc_notebooks(root):
        try:
            cache.match_cache_notebook(nbformat.read(path, as_version=4))
            cached.append(path)
        except KeyError:
            todo.append(path)
    # The longest first, as long as the last run took (kept in _build, which outlives the
    # cache), so that no kernel is left running a long notebook alone at the end.
    todo.sort(key=lambda path: -seconds.get(path.relative_to(root).as_posix(), 0.0))
    report = {"cached": cached, "executed": [], "failed": []}
    if not todo:
        print(f"all {len(cached)} notebooks are in the cache", flush=True)
        return report
    jobs = max(1, min(jobs, len(todo)))
    print(f"executing {len(todo)} notebooks, {jobs} at a time ({len(cached)} already in "
          "the cache)", flush=True)
    start = time.perf_counter()
    work = [(path.resolve(), settings["timeout"], settings["allow_errors"]) for path in todo]
    with multiprocessing.get_context("spawn").Pool(jobs) as pool:
        for done, (path, notebook, took, error) in enumerate(
                pool.imap_unordered(_execute, work), start=1):
            name = path.relative_to(root)
            if error is None:
                cache.cache_notebook_bundle(
                    CacheBundleIn(notebook, str(path), data={"execution_seconds": took}),
                    check_validity=False, overwrite=True)
                report["executed"].append(path)
                seconds[name.as_posix()] = round(took, 1)
                print(f"[{done}/{len(todo)}] {name}: executed in {took:.1f} s", flush=True)
            else:
                report["failed"].append(path)
                print(f"[{done}/{len(todo)}] {name}: failed ({error}) after {took:.1f} s; "
                      "the build runs it again and reports the error", flush=True)
    timings.parent.mkdir(parents=True, exist_ok=True)
    timings.write_text(json.dumps(seconds, indent=1, sort_keys=True) + "\n")
    print(f"executed {len(report['executed'])} notebooks in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path.cwd(),
                        help="the book's folder, with _config.yml and _toc.yml (default: .)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="kernels at once (default: the number of cores)")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, not {args.jobs}")
    for name in ("_config.yml", "_toc.yml"):
        if not (args.root / name).is_file():
            parser.error(f"{args.root / name} is missing: --root must be a book's folder")
    execute(args.root, args.jobs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
