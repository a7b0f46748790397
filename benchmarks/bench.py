"""Time rnnlib against PyTorch's CPU RNN, LSTM and GRU, and publish the results.

What is timed, for each cell (rnn, lstm, gru in PyTorch's convention), size and dtype, for
rnnlib's fast path (:mod:`rnnlib.fast`, what training uses), for its derivation-shaped cells
(``rnnlib.rnn``, ``lstm``, ``gru``: what the chapters show, "plain") and for PyTorch:

- a training step: the forward pass over the whole sequence and full backpropagation
  through time with a fixed upstream gradient ``dY``, every gradient included (weights,
  biases, inputs). rnnlib: ``forward`` then ``backward``; torch: ``X.requires_grad_()``,
  ``out.backward(dY)``;
- an inference forward pass (torch under ``torch.no_grad()``).

How: the two libraries, and the matrix products alone ("GEMM-only", the time a perfect
implementation built on the same NumPy products could not beat), run in interleaved
blocks of repetitions, in rotating order, in one process. Before each block the script
pauses briefly and makes one untimed warm-up call, because OpenBLAS's threads keep
spinning for a while after NumPy returns and would otherwise slow whoever runs next. The
ratio of a configuration is the median rnnlib time over the median torch time; its spread
is the range of the per-block ratios.

Peak memory: growth of the resident set (Linux's VmHWM, reset before each step through
``/proc/self/clear_refs``) in a separate process, for both libraries alike, with glibc's
mmap threshold fixed so that every large buffer is mapped on allocation and returned on
free (otherwise freed memory is reused and the growth under-counts). rnnlib's peak is
also taken with ``tracemalloc`` (NumPy reports its allocations to it) as a cross-check.

Usage (from the repository root; ``make bench`` runs the full benchmark)::

    python benchmarks/bench.py                 # full: 18 training + 18 inference configs
    python benchmarks/bench.py --quick --out /tmp/q.json   # seconds: a tiny size, to test

Dimension letters: N batch, T time, D input, H hidden, G gate blocks (1, 4, 3).
"""

import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1, help="BLAS and torch threads (1)")
    parser.add_argument("--quick", action="store_true", help="one tiny size, few repetitions")
    parser.add_argument("--out", type=Path, default=None, help="JSON file to write")
    parser.add_argument("--cells", default="rnn,lstm,gru", help="comma-separated subset")
    parser.add_argument("--sizes", default=None, help="comma-separated indices into SIZES")
    parser.add_argument("--dtypes", default="float32,float64", help="comma-separated subset")
    parser.add_argument("--modes", default="train,infer", help="comma-separated subset")
    parser.add_argument("--blocks", type=int, default=None, help="blocks per configuration")
    parser.add_argument(
        "--block-seconds", type=float, default=None, help="target time of one block"
    )
    parser.add_argument("--pause", type=float, default=0.05, help="pause before each block (s)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory measurement")
    parser.add_argument("--memory-worker", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


ARGS = _parse_args() if __name__ == "__main__" else None
# The thread count must be in the environment before NumPy (OpenBLAS) is first imported.
if ARGS is not None:
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

import rnnlib  # noqa: E402
from rnnlib import fast, gru, interop, lstm, provenance, rnn  # noqa: E402

#: (T, N, D, H) of the three sizes: small, medium, medium with a wide hidden layer.
SIZES = [(50, 32, 32, 64), (100, 64, 64, 128), (100, 64, 128, 256)]
#: The one tiny size of ``--quick``, which checks that everything runs, not how fast.
QUICK_SIZE = (8, 4, 8, 16)
#: Cell name -> (rnnlib's fast module, its plain twin, options, number of gate blocks G).
CELLS = {
    "rnn": (fast.rnn, rnn, {}, 1),
    "lstm": (fast.lstm, lstm, {}, 4),
    "gru": (fast.gru, gru, {"convention": "pytorch"}, 3),
}
DTYPES = {"float32": (np.float32, torch.float32), "float64": (np.float64, torch.float64)}
SCHEMA = "rnnlib-bench/1"
RESULTS_DIR = Path(__file__).resolve().parent / "results"


# ---------------------------------------------------------------------------------------
# The three things being timed, built once per configuration
# ---------------------------------------------------------------------------------------


def make_problem(cell, size, dtype_name, seed=0):
    """Random inputs, upstream gradient and parameters, and the equal torch module.

    Returns
    -------
    dict
        ``X`` (N, T, D), ``dY`` (N, T, H), ``params`` (rnnlib), ``net`` (torch module),
        ``X_t``, ``dY_t`` (torch tensors sharing memory with ``X``, ``dY``).
    """
    T, N, D, H = size
    module, _, options, _ = CELLS[cell]
    np_dtype, _ = DTYPES[dtype_name]
    rng = np.random.default_rng(seed)
    params = module.init_params(D, H, rng=rng, dtype=np_dtype, **options)
    X = rng.standard_normal((N, T, D)).astype(np_dtype)
    dY = rng.standard_normal((N, T, H)).astype(np_dtype)
    net = interop.to_torch([params], cell, **options)
    return {
        "X": X,
        "dY": dY,
        "params": params,
        "net": net,
        "X_t": torch.from_numpy(X),
        "dY_t": torch.from_numpy(dY),
    }


def rnnlib_callables(cell, problem, plain=False):
    """Return (train_step, inference) closures for rnnlib's fast path (or the plain cells)."""
    fast_module, plain_module, options, _ = CELLS[cell]
    module = plain_module if plain else fast_module
    X, dY, params = problem["X"], problem["dY"], problem["params"]

    def train_step():
        Y, _, cache = module.forward(X, None, params, **options)
        return module.backward(dY, None, cache)

    def inference():
        return module.forward(X, None, params, **options)[0]

    return train_step, inference


def torch_callables(problem):
    """Return (train_step, inference) closures for the torch module."""
    net, dY_t = problem["net"], problem["dY_t"]
    X_t = problem["X_t"].clone().requires_grad_()
    weights = list(net.parameters())

    def train_step():
        for w in weights:  # fresh gradients every step, as rnnlib returns new arrays
            w.grad = None
        X_t.grad = None
        out, _ = net(X_t)
        out.backward(dY_t)
        return X_t.grad

    def inference():
        with torch.no_grad():
            return net(problem["X_t"])[0]

    return train_step, inference


def gemm_callables(cell, size, dtype_name):
    """Return (train, inference) closures doing only the matrix products of one step.

    Training: the input projection (N*T, D) x (D, G*H), T recurrent products
    (N, H) x (H, G*H) forward and T products (N, G*H) x (G*H, H) backward, the weight
    gradient (D+H, N*T) x (N*T, G*H) and the input gradient (N*T, G*H) x (G*H, D).
    Inference: the first two. All into preallocated outputs, so nothing else is timed.
    """
    T, N, D, H = size
    G = CELLS[cell][3]
    np_dtype = DTYPES[dtype_name][0]
    rng = np.random.default_rng(1)

    def rand(*shape):
        return rng.standard_normal(shape).astype(np_dtype)

    W = rand(D + H, G * H) / math.sqrt(D + H)  # a Python float keeps the dtype
    W_x, W_h = W[:D], W[D:]
    X_rows, Z = rand(N * T, D), rand(N * T, D + H)
    P = np.empty((N * T, G * H), dtype=np_dtype)
    dP = rand(N * T, G * H)
    h, dh = rand(N, H), np.empty((N, H), dtype=np_dtype)
    q = np.empty((N, G * H), dtype=np_dtype)
    dW = np.empty_like(W)
    dX = np.empty((N * T, D), dtype=np_dtype)
    assert all(a.dtype == np_dtype for a in (W, X_rows, Z, dP, h)), "GEMM operands' dtype"

    def inference():
        np.matmul(X_rows, W_x, out=P)
        for _ in range(T):
            np.matmul(h, W_h, out=q)

    def train():
        inference()
        for t in range(T):
            np.matmul(dP[t * N : (t + 1) * N], W_h.T, out=dh)
        np.matmul(Z.T, dP, out=dW)
        np.matmul(dP, W_x.T, out=dX)

    return train, inference


def gemm_flops(cell, size, mode):
    """Floating-point operations of the matrix products of one call (2 per multiply-add)."""
    T, N, D, H = size
    G = CELLS[cell][3]
    forward = 2 * N * T * D * G * H + 2 * T * N * H * G * H
    if mode == "infer":
        return forward
    return forward + 2 * T * N * G * H * H + 2 * (D + H) * N * T * G * H + 2 * N * T * G * H * D


def agreement(cell, problem):
    """Largest absolute differences between rnnlib and torch: outputs and input gradients."""
    train_np, _ = rnnlib_callables(cell, problem)
    train_t, _ = torch_callables(problem)
    module, _, options, _ = CELLS[cell]
    Y = module.forward(problem["X"], None, problem["params"], **options)[0]
    with torch.no_grad():
        Y_t = problem["net"](problem["X_t"])[0].numpy()
    dX = train_np()[0]
    dX_t = train_t().numpy()
    return float(np.abs(Y - Y_t).max()), float(np.abs(dX - dX_t).max())


# ---------------------------------------------------------------------------------------
# Interleaved timing
# ---------------------------------------------------------------------------------------


def one_call_seconds(fn, calls=3):
    """Median wall time of a few calls of ``fn`` (after one warm-up call)."""
    fn()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_interleaved(fns, blocks, block_seconds, pause, progress=None):
    """Time several callables in alternating blocks.

    Parameters
    ----------
    fns : dict of str -> callable
        What to time, by name.
    blocks : int
        Blocks per callable. Block b runs the callables in an order rotated by b, so none
        is always first or always after the same neighbour.
    block_seconds : float
        Target duration of one block; sets the repetitions per block (2 to 200).
    pause : float
        Sleep before each block (s), followed by one untimed warm-up call.
    progress : tqdm or None
        Advanced by one per block.

    Returns
    -------
    dict of str -> list of list of float
        Per name, per block, the wall times of each repetition (s).
    """
    names = list(fns)
    reps = {
        name: int(min(200, max(2, round(block_seconds / max(one_call_seconds(fn), 1e-6)))))
        for name, fn in fns.items()
    }
    times = {name: [] for name in names}
    for b in range(blocks):
        order = names[b % len(names) :] + names[: b % len(names)]
        for name in order:
            fn = fns[name]
            time.sleep(pause)
            fn()  # warm-up: wakes the BLAS threads, fills the caches
            block = []
            for _ in range(reps[name]):
                start = time.perf_counter()
                fn()
                block.append(time.perf_counter() - start)
            times[name].append(block)
            if progress is not None:
                progress.update(1)
    return times


def summarise(times, cell, size, mode):
    """Medians, ratio and spread, GEMM share and throughput of one configuration."""
    med = {
        name: statistics.median(t for block in blocks for t in block)
        for name, blocks in times.items()
    }
    block_ratios = [
        statistics.median(a) / statistics.median(b)
        for a, b in zip(times["rnnlib"], times["torch"], strict=True)
    ]
    flops = gemm_flops(cell, size, mode)
    plain = {}
    if "plain" in med:
        plain = {"plain_ms": 1e3 * med["plain"], "plain_ratio": med["plain"] / med["torch"],
                 "fast_speedup": med["plain"] / med["rnnlib"]}
    return {
        "rnnlib_ms": 1e3 * med["rnnlib"],
        "torch_ms": 1e3 * med["torch"],
        **plain,
        "gemm_ms": 1e3 * med["gemm"],
        "ratio": med["rnnlib"] / med["torch"],
        "ratio_min": min(block_ratios),
        "ratio_max": max(block_ratios),
        "block_ratios": block_ratios,
        "gemm_share": med["gemm"] / med["rnnlib"],
        "gemm_share_torch": med["gemm"] / med["torch"],
        "gemm_gflops": flops / med["gemm"] / 1e9,
        "repetitions": {name: len(blocks[0]) for name, blocks in times.items()},
    }


# ---------------------------------------------------------------------------------------
# Peak memory (in a child process)
# ---------------------------------------------------------------------------------------


def _rss_kib():
    """Current and peak resident set size of this process (KiB), from /proc."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0])
    return values["VmRSS"], values["VmHWM"]


def _peak_growth_mib(fn):
    """Growth of the resident set during one call of ``fn`` (MiB), after a warm-up call."""
    fn()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current RSS
    before, _ = _rss_kib()
    result = fn()
    _, peak = _rss_kib()
    del result
    return (peak - before) / 1024


def _tracemalloc_peak_mib(fn):
    import tracemalloc

    fn()
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    return peak / 2**20


def memory_worker(configs):
    """Measure each configuration's peak memory; return a list of dicts (child process)."""
    out = []
    for cell, size, dtype_name, mode in configs:
        problem = make_problem(cell, size, dtype_name)
        np_fns = dict(zip(("train", "infer"), rnnlib_callables(cell, problem), strict=True))
        plain_fns = dict(
            zip(("train", "infer"), rnnlib_callables(cell, problem, plain=True), strict=True)
        )
        torch_fns = dict(zip(("train", "infer"), torch_callables(problem), strict=True))
        out.append(
            {
                "rnnlib_rss_mib": _peak_growth_mib(np_fns[mode]),
                "plain_rss_mib": _peak_growth_mib(plain_fns[mode]),
                "torch_rss_mib": _peak_growth_mib(torch_fns[mode]),
                "rnnlib_tracemalloc_mib": _tracemalloc_peak_mib(np_fns[mode]),
            }
        )
        del problem, np_fns, plain_fns, torch_fns
    return out


def measure_memory(configs, threads):
    """Run :func:`memory_worker` in a fresh process with a fixed mmap threshold."""
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = "65536"  # large buffers mmapped, and unmapped on free
    env["MALLOC_TRIM_THRESHOLD_"] = "131072"
    payload = json.dumps([[c, list(s), d, m] for c, s, d, m in configs])
    done = subprocess.run(
        [sys.executable, __file__, "--memory-worker", "--threads", str(threads)],
        input=payload,
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)


# ---------------------------------------------------------------------------------------
# Machine description, table, main
# ---------------------------------------------------------------------------------------


def blas_info():
    """Name and version of the BLAS NumPy uses."""
    try:
        deps = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{deps.get('name', '?')} {deps.get('version', '?')}"
    except (KeyError, TypeError, ValueError):
        return "unknown"


def geometric_mean(values):
    return math.exp(sum(math.log(v) for v in values) / len(values))


def format_table(results):
    """The results as a fixed-width text table, one row per configuration."""
    header = (
        f"{'mode':5} {'cell':4} {'dtype':7} {'T':>3} {'N':>3} {'D':>3} {'H':>3} "
        f"{'plain ms':>9} {'rnnlib ms':>9} {'torch ms':>9} {'ratio':>6} {'spread':>11} "
        f"{'GEMM ms':>8} {'GEMM %':>6} {'mem MiB np/torch':>16}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        mem = r.get("memory")
        mem_text = f"{mem['rnnlib_rss_mib']:.1f}/{mem['torch_rss_mib']:.1f}" if mem else "-"
        plain = f"{r['plain_ms']:9.2f}" if "plain_ms" in r else f"{'-':>9}"
        lines.append(
            f"{r['mode']:5} {r['cell']:4} {r['dtype']:7} {r['T']:3d} {r['N']:3d} {r['D']:3d} "
            f"{r['H']:3d} {plain} {r['rnnlib_ms']:9.2f} {r['torch_ms']:9.2f} {r['ratio']:6.2f} "
            f"{r['ratio_min']:5.2f}-{r['ratio_max']:<5.2f} {r['gemm_ms']:8.2f} "
            f"{100 * r['gemm_share']:5.0f}% {mem_text:>16}"
        )
    return "\n".join(lines)


def summary(results):
    """Geometric means and the targets: which are met."""
    out = {}
    for mode in ("train", "infer"):
        ratios = [r["ratio"] for r in results if r["mode"] == mode]
        if ratios:
            worst = max((r for r in results if r["mode"] == mode), key=lambda r: r["ratio"])
            out[mode] = {
                "geometric_mean_ratio": geometric_mean(ratios),
                "max_ratio": worst["ratio"],
                "max_ratio_config": f"{worst['cell']} {worst['dtype']} H={worst['H']}",
                "configurations": len(ratios),
            }
    wide = [r["gemm_share"] for r in results if r["H"] == 256]
    targets = {}
    if "train" in out:
        targets["train_geomean_le_0.75"] = out["train"]["geometric_mean_ratio"] <= 0.75
        targets["train_max_le_1.25"] = out["train"]["max_ratio"] <= 1.25
    if "infer" in out:
        targets["infer_geomean_le_0.9"] = out["infer"]["geometric_mean_ratio"] <= 0.9
    if wide:
        out["min_gemm_share_H256"] = min(wide)
        targets["gemm_share_H256_ge_0.75"] = min(wide) >= 0.75
    memory = [
        r["memory"]["rnnlib_rss_mib"] / r["memory"]["torch_rss_mib"]
        for r in results
        if r["mode"] == "train" and r["H"] == 256 and r.get("memory")
        and r["memory"]["torch_rss_mib"] > 0
    ]
    if memory:
        out["max_memory_ratio_train_H256"] = max(memory)
        targets["memory_train_H256_le_2x"] = max(memory) <= 2.0
    out["targets"] = targets
    return out


def main(args):
    torch.set_num_threads(args.threads)
    cells = args.cells.split(",")
    dtypes = args.dtypes.split(",")
    modes = args.modes.split(",")
    if args.sizes is not None:
        sizes = [SIZES[int(i)] for i in args.sizes.split(",")]
    else:
        sizes = [QUICK_SIZE] if args.quick else SIZES
    blocks = args.blocks or (2 if args.quick else 5)
    block_seconds = args.block_seconds or (0.005 if args.quick else 0.15)
    configs = [(c, s, d, m) for m in modes for c in cells for s in sizes for d in dtypes]

    # before timing: the code that runs is the code at this moment
    origin = provenance.record()
    load_start = os.getloadavg()
    started = datetime.datetime.now(datetime.UTC)
    results = []
    with tqdm(total=len(configs) * blocks * 4, desc="timing", unit="block") as progress:
        for cell, size, dtype_name, mode in configs:
            problem = make_problem(cell, size, dtype_name)
            np_train, np_infer = rnnlib_callables(cell, problem)
            p_train, p_infer = rnnlib_callables(cell, problem, plain=True)
            t_train, t_infer = torch_callables(problem)
            g_train, g_infer = gemm_callables(cell, size, dtype_name)
            fns = (
                {"rnnlib": np_train, "plain": p_train, "torch": t_train, "gemm": g_train}
                if mode == "train"
                else {"rnnlib": np_infer, "plain": p_infer, "torch": t_infer, "gemm": g_infer}
            )
            progress.set_postfix_str(f"{mode} {cell} {dtype_name} H={size[3]}")
            times = time_interleaved(fns, blocks, block_seconds, args.pause, progress)
            T, N, D, H = size
            y_diff, dx_diff = agreement(cell, problem)
            row = {"mode": mode, "cell": cell, "dtype": dtype_name, "T": T, "N": N, "D": D, "H": H}
            row.update(summarise(times, cell, size, mode))
            row["max_abs_diff_Y"] = y_diff
            row["max_abs_diff_dX"] = dx_diff
            results.append(row)
            progress.write(
                f"{mode} {cell} {dtype_name} H={H}: plain {row['plain_ms']:.2f} ms, "
                f"rnnlib {row['rnnlib_ms']:.2f} ms, "
                f"torch {row['torch_ms']:.2f} ms, ratio {row['ratio']:.2f}, "
                f"GEMM share {row['gemm_share']:.0%}"
            )
    if not args.no_memory:
        print("measuring peak memory in a child process ...", file=sys.stderr)
        for row, mem in zip(results, measure_memory(configs, args.threads), strict=True):
            row["memory"] = mem
    load_end = os.getloadavg()

    report = {
        "schema": SCHEMA,
        "date": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.datetime.now(datetime.UTC) - started).total_seconds(), 1),
        "git": origin["git"],
        "provenance": origin,
        "machine": origin["machine"],
        "load_average_start": list(load_start),
        "load_average_end": list(load_end),
        "nice": os.nice(0),
        "versions": {
            "python": platform.python_version(),
            "numpy": np.__version__,
            "blas": blas_info(),
            "torch": torch.__version__,
            "rnnlib": rnnlib.__version__,
        },
        "threads": {
            "numpy_blas": int(os.environ["OPENBLAS_NUM_THREADS"]),
            "torch": torch.get_num_threads(),
        },
        "settings": {
            "quick": args.quick,
            "blocks": blocks,
            "block_seconds": block_seconds,
            "pause_s": args.pause,
            "memory": "VmHWM growth in a child process (glibc mmap threshold 64 KiB); "
            "rnnlib also by tracemalloc",
        },
        "results": results,
        "summary": summary(results),
    }
    print(format_table(results))
    print(json.dumps(report["summary"], indent=2))
    print(f"load average: start {load_start}, end {load_end}")
    out = args.out
    if out is None:
        name = "quick.json" if args.quick else f"bench-{started:%Y%m%d-%H%M}.json"
        out = RESULTS_DIR / name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    if ARGS.memory_worker:
        torch.set_num_threads(ARGS.threads)
        todo = [(c, tuple(s), d, m) for c, s, d, m in json.loads(sys.stdin.read())]
        print(json.dumps(memory_worker(todo)))
    else:
        main(ARGS)
