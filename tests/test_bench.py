"""Smoke test of the benchmark script: it runs end to end and writes the documented JSON.

Timings are never asserted (the machine is shared and noisy); only that every
configuration was measured, the numbers are finite and positive, and rnnlib and torch
computed the same thing.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks" / "bench.py"


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "quick.json"
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--threads", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def test_quick_run_writes_the_schema(quick_report):
    report, _ = quick_report
    assert report["schema"] == "rnnlib-bench/1"
    for key in ("date", "git", "machine", "versions", "threads", "settings", "results",
                "summary"):
        assert key in report, key
    assert len(report["git"]["commit"]) == 40 and isinstance(report["git"]["dirty"], bool)
    assert report["machine"]["cores"] >= 1 and report["machine"]["cpu"]
    assert set(report["versions"]) >= {"python", "numpy", "torch", "rnnlib", "blas"}
    assert report["threads"] == {"numpy_blas": 1, "torch": 1}
    assert report["settings"]["quick"] is True


def test_quick_run_measures_every_configuration(quick_report):
    report, _ = quick_report
    results = report["results"]
    # 3 cells x 2 dtypes x 2 modes at the one quick size
    assert len(results) == 12
    seen = {(r["mode"], r["cell"], r["dtype"]) for r in results}
    assert seen == {
        (m, c, d)
        for m in ("train", "infer")
        for c in ("rnn", "lstm", "gru")
        for d in ("float32", "float64")
    }
    for r in results:
        for key in ("rnnlib_ms", "plain_ms", "torch_ms", "gemm_ms", "ratio", "plain_ratio",
                    "fast_speedup", "gemm_share"):
            assert math.isfinite(r[key]) and r[key] > 0, (key, r)
        assert r["ratio_min"] <= r["ratio_max"]
        assert len(r["block_ratios"]) == report["settings"]["blocks"]
        # the same model in both libraries: outputs and input gradients agree
        tol = 1e-4 if r["dtype"] == "float32" else 1e-10
        assert r["max_abs_diff_Y"] < tol and r["max_abs_diff_dX"] < tol, r
        mem = r["memory"]
        assert mem["rnnlib_tracemalloc_mib"] > 0
        assert min(mem["rnnlib_rss_mib"], mem["plain_rss_mib"], mem["torch_rss_mib"]) >= 0


def test_quick_run_prints_the_table_and_summary(quick_report):
    report, stdout = quick_report
    assert "rnnlib ms" in stdout and "torch ms" in stdout
    summary = report["summary"]
    assert summary["train"]["configurations"] == 6
    assert summary["infer"]["configurations"] == 6
    assert summary["train"]["geometric_mean_ratio"] > 0
    assert set(summary["targets"]) >= {"train_geomean_le_0.75", "train_max_le_1.25",
                                       "infer_geomean_le_0.9"}
