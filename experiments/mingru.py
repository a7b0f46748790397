"""minGRU and minLSTM: the scan's speed against the loop, and the long-lag tasks.

Two experiments, written as JSON with :func:`rnnlib.provenance.record`; the chapter
``book/mingru.ipynb`` loads the file.

1. **Timing.** The linear recurrence :math:`h_t = a_t h_{t-1} + b_t` for a fixed batch N and
   width H, at lengths T from 16 to 4096: the Python loop (:func:`rnnlib.scan.sequential_forward`
   and its backward) against Blelloch's scan (:func:`rnnlib.scan.parallel_forward`),
   Hillis and Steele's (:func:`rnnlib.scan.hillis_steele_scan`, forward only) and the
   log-space scan (:func:`rnnlib.scan.log_forward`), each the best of several repeats; then
   the same at one length for several widths.
2. **Learning.** minGRU and minLSTM, one layer and two stacked, against the GRU and LSTM of
   ``experiments/head_to_head.py`` on the adding problem and the copy task, under that
   script's protocol (its ``Task`` class, equal budgets, Adam, clipping, the same success
   criteria), several seeds.

Run from the repository root, one BLAS thread::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/mingru.py \
        --config full --out experiments/results/mingru.json

``--config tiny`` runs in seconds (the tests), ``--config reduced`` is the chapter's live
re-run of one training run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from experiments import head_to_head  # noqa: E402
from rnnlib import mingru, provenance, scan  # noqa: E402
from rnnlib.layers import dense_backward, dense_forward, init_dense  # noqa: E402
from rnnlib.losses import mse, softmax_cross_entropy  # noqa: E402
from rnnlib.model import SequenceModel  # noqa: E402
from rnnlib.optim import Adam  # noqa: E402
from rnnlib.train import fit  # noqa: E402

SCHEMA_VERSION = 1

#: label -> (cell, options, hidden size, layers). The GRU and LSTM are head_to_head's.
ARCHITECTURES = {
    "gru": ("gru", {"convention": "cho"}, 28, 1),
    "lstm": ("lstm", {"forget_gate": True}, 24, 1),
    "mingru": ("mingru", {"variant": "mingru"}, 32, 1),
    "minlstm": ("mingru", {"variant": "minlstm"}, 32, 1),
    "mingru_2": ("mingru", {"variant": "mingru"}, 32, 2),
    "minlstm_2": ("mingru", {"variant": "minlstm"}, 32, 2),
}

ARCHITECTURE_NAMES = {
    "gru": "GRU",
    "lstm": "LSTM",
    "mingru": "minGRU",
    "minlstm": "minLSTM",
    "mingru_2": "minGRU, 2 layers",
    "minlstm_2": "minLSTM, 2 layers",
}

#: The timing methods: label -> what is timed.
METHODS = {
    "sequential": "the Python loop",
    "parallel": "Blelloch's scan",
    "hillis_steele": "Hillis and Steele's scan (forward only)",
    "log": "the log-space scan",
}

_TRAINING = {
    "batch_size": 32, "learning_rate": 1e-2, "clip": 1.0, "threshold": 0.99,
    "copy_symbols": 3, "n_validation": 256, "n_test": 512,
}

CONFIGS = {
    "full": {
        "timing": {"N": 16, "length_widths": [1, 64],
                   "lengths": [16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
                   "widths": [1, 4, 16, 64, 256], "width_length": 1024, "repeats": 3,
                   "min_seconds": 0.2},
        "lags": {"adding": [50], "copy": [10]},
        "architectures": list(ARCHITECTURES),
        "seeds": [0, 1, 2],
        "max_steps": 1500,
        "eval_every": 100,
        **_TRAINING,
    },
    "reduced": {
        "timing": {"N": 16, "length_widths": [64], "lengths": [16, 256],
                   "widths": [64], "width_length": 256, "repeats": 3,
                   "min_seconds": 0.0},
        "lags": {"copy": [10]},
        "architectures": ["mingru"],
        "seeds": [0],
        "max_steps": 1500,
        "eval_every": 100,
        **_TRAINING,
    },
    "tiny": {
        "timing": {"N": 2, "length_widths": [3], "lengths": [4, 8], "widths": [2, 4],
                   "width_length": 8, "repeats": 1, "min_seconds": 0.0},
        "lags": {"adding": [10], "copy": [2]},
        "architectures": list(ARCHITECTURES),
        "seeds": [0],
        "max_steps": 4,
        "eval_every": 2,
        **{**_TRAINING, "batch_size": 4, "copy_symbols": 2, "n_validation": 8,
           "n_test": 8},
    },
}


# --------------------------------------------------------------------------------------
# A stack of minimal cells with an output layer, for rnnlib.train.fit
# --------------------------------------------------------------------------------------


class MinimalModel:
    """Stacked minGRU or minLSTM layers (:mod:`rnnlib.mingru`) and a dense output layer.

    The same interface as :class:`rnnlib.model.SequenceModel` where :func:`rnnlib.train.fit`
    and :class:`experiments.head_to_head.Task` use it: ``params``, ``loss_and_grads``,
    ``predict``, ``num_parameters``. Layer l + 1 reads the states of layer l, as in
    :func:`rnnlib.layers.stack_forward`; every layer runs its recurrence with
    ``scan`` (the parallel scan by default).

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        D, H, V.
    num_layers : int, default 1
    rng : numpy.random.Generator, int or None
    variant : {"mingru", "minlstm"}, default "mingru"
    scan : {"sequential", "parallel"}, default "parallel"
    """

    def __init__(self, input_size, hidden_size, output_size, num_layers=1, *, rng=None,
                 variant="mingru", scan="parallel"):
        rng = np.random.default_rng(rng)
        self.variant, self.scan, self.num_layers = variant, scan, num_layers
        self.params = {}
        for layer in range(num_layers):
            size = input_size if layer == 0 else hidden_size
            for key, value in mingru.init_params(size, hidden_size, rng=rng,
                                                 variant=variant).items():
                self.params[f"layer{layer}.{key}"] = value
        out = init_dense(hidden_size, output_size, rng=rng)
        self.params["out.W"], self.params["out.b"] = out["W"], out["b"]

    def num_parameters(self):
        return int(sum(p.size for p in self.params.values()))

    def _layer(self, layer):
        return {k: self.params[f"layer{layer}.{k}"] for k in ("W", "b")}

    def _run(self, X):
        caches = []
        for layer in range(self.num_layers):
            X, _, cache = mingru.forward(X, None, self._layer(layer), variant=self.variant,
                                         scan=self.scan)
            caches.append(cache)
        return X, caches  # (N, T, H)

    def predict(self, X, *, last_only=False):
        top, _ = self._run(X)
        out = {"W": self.params["out.W"], "b": self.params["out.b"]}
        return dense_forward(top[:, -1] if last_only else top, out)[0]

    def loss_and_grads(self, X, targets, loss="mse", mask=None, last_only=False):
        top, caches = self._run(X)
        out = {"W": self.params["out.W"], "b": self.params["out.b"]}
        outputs, dense_cache = dense_forward(top[:, -1] if last_only else top, out)
        value, doutputs = (mse if loss == "mse" else softmax_cross_entropy)(outputs, targets,
                                                                             mask)
        dfeatures, out_grads = dense_backward(doutputs, dense_cache)
        dtop = np.zeros_like(top)
        if last_only:
            dtop[:, -1] = dfeatures
        else:
            dtop = dfeatures
        grads = {"out.W": out_grads["W"], "out.b": out_grads["b"]}
        for layer in reversed(range(self.num_layers)):
            dtop, _, layer_grads = mingru.backward(dtop, None, caches[layer])
            for key, grad in layer_grads.items():
                grads[f"layer{layer}.{key}"] = grad
        return value, {key: grads[key] for key in self.params}


def build_model(arch, task, seed):
    """The network of architecture ``arch`` for ``task`` (a head_to_head.Task)."""
    cell, options, hidden_size, layers = ARCHITECTURES[arch]
    if cell == "mingru":
        return MinimalModel(task.input_size, hidden_size, task.output_size, layers, rng=seed,
                            **options)
    return SequenceModel(cell, task.input_size, hidden_size, task.output_size, rng=seed,
                         **options)


# --------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------


def _best_time(fn, repeats, at_least=0.2):
    """The shortest of at least ``repeats`` runs and of ``at_least`` seconds of runs: on a
    shared machine the shortest is the run least disturbed by other work."""
    best, total, count = np.inf, 0.0, 0
    while count < repeats or total < at_least:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, total, count = min(best, elapsed), total + elapsed, count + 1
    return best


def time_methods(N, T, H, repeats, rng, min_seconds=0.2):
    """Seconds (best of ``repeats``) of each of :data:`METHODS` on random (N, T, H) inputs.

    ``min_seconds``: keep repeating until the runs of one measurement add up to this.

    Returns
    -------
    dict
        ``times[method]["forward"]`` (the states from ``A``, ``B``, ``h0``) and, except
        for Hillis and Steele's scan, ``times[method]["forward_backward"]`` (forward, then
        the gradients from a random ``dY``).
    """
    A = rng.uniform(0.5, 1.0, size=(N, T, H))
    B = rng.uniform(0.0, 1.0, size=(N, T, H))
    h0 = rng.uniform(0.0, 1.0, size=(N, H))
    dY = rng.standard_normal((N, T, H))
    log_A, log_B, log_h0 = np.log(A), np.log(B), np.log(h0)

    def hillis_steele():
        A_prefix, B_prefix = scan.hillis_steele_scan(A, B)
        return A_prefix * h0[:, None] + B_prefix  # (scan-prefix)

    def both(forward, backward, *args):
        def run():
            _, _, cache = forward(*args)
            backward(dY, None, cache)
        return run

    runs = {
        "sequential": {"forward": lambda: scan.sequential_forward(A, B, h0),
                       "forward_backward": both(scan.sequential_forward,
                                                scan.sequential_backward, A, B, h0)},
        "parallel": {"forward": lambda: scan.parallel_forward(A, B, h0),
                     "forward_backward": both(scan.parallel_forward, scan.parallel_backward,
                                              A, B, h0)},
        "hillis_steele": {"forward": hillis_steele},
        "log": {"forward": lambda: scan.log_forward(log_A, log_B, log_h0),
                "forward_backward": both(scan.log_forward, scan.log_backward, log_A, log_B,
                                         log_h0)},
    }
    times = {}
    for method, parts in runs.items():
        times[method] = {}
        for part, fn in parts.items():
            fn()  # warm up once
            times[method][part] = round(_best_time(fn, repeats, min_seconds), 7)
    return times


def run_timing(config, rng):
    """Both timing sweeps: over lengths at each of a few widths, over widths at one length.

    Returns
    -------
    dict
        ``N``; ``by_length[str(H)][str(T)]`` and ``by_width[str(H)]`` (at T =
        ``width_length``), each the dict of :func:`time_methods`.
    """
    N, repeats, least = config["N"], config["repeats"], config["min_seconds"]
    by_length = {str(H): {str(T): time_methods(N, T, H, repeats, rng, least)
                          for T in config["lengths"]}
                 for H in config["length_widths"]}
    T = config["width_length"]
    by_width = {str(H): time_methods(N, T, H, repeats, rng, least) for H in config["widths"]}
    return {"N": N, "width_length": T, "by_length": by_length, "by_width": by_width}


# --------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------


def run_one(task, arch, seed, config, validation, test):
    """Train and judge one network, as :func:`experiments.head_to_head.run_one` does.

    Returns
    -------
    dict
        ``task``, ``lag``, ``arch``, ``seed``, ``solved``, ``steps``, ``sequences``,
        ``validation_correct``, ``test_correct``, ``final_loss``, ``seconds``.
    """
    model = build_model(arch, task, seed)
    start = time.perf_counter()

    def validation_score(model, step):
        return None if step == 0 else float(task.correct(model, validation).mean())

    history = fit(model, task.training_batch, Adam(config["learning_rate"]),
                  config["max_steps"], clip=config["clip"], progress=False,
                  callback=validation_score, eval_every=config["eval_every"],
                  stop_when=lambda score: score is not None and score >= config["threshold"],
                  loss=task.loss, last_only=task.last_only,
                  rng=np.random.default_rng(1000 + seed))
    steps = len(history["loss"])
    last = steps % config["eval_every"] or config["eval_every"]
    return {
        "task": task.name,
        "lag": task.lag,
        "arch": arch,
        "seed": seed,
        "solved": history["stopped_at"] is not None,
        "steps": steps,
        "sequences": steps * config["batch_size"],
        "validation_correct": history["callback"][-1][1],
        "test_correct": float(task.correct(model, test).mean()),
        "final_loss": float(np.mean(history["loss"][-last:])),
        "seconds": round(time.perf_counter() - start, 3),
    }


def run(config_name="full", *, progress=True, command=None):
    """Both experiments of a configuration; the results as a JSON-ready dict.

    Returns
    -------
    dict
        ``schema_version``, ``config_name``, ``config``, ``provenance``
        (:func:`rnnlib.provenance.record`), ``run_time_seconds``, ``methods``,
        ``architectures`` (label -> cell, options, hidden_size, layers, name, parameters
        on the adding problem), ``timing`` (see :func:`run_timing`), ``runs`` (the dicts of
        :func:`run_one`) and ``summary`` (:func:`experiments.head_to_head.summarise`).
    """
    if config_name not in CONFIGS:
        raise ValueError(f"config_name: expected one of {sorted(CONFIGS)}, got {config_name!r}")
    config = CONFIGS[config_name]
    origin = provenance.record(command)
    start = time.perf_counter()
    timing = run_timing(config["timing"], np.random.default_rng(0))
    if progress:
        for H, by_T in timing["by_length"].items():
            for T, times in by_T.items():
                print(f"H = {H:>3s}, T = {T:>5s}, forward: " + ", ".join(
                    f"{k} {v['forward'] * 1e3:.2f} ms" for k, v in times.items()), flush=True)
    runs = []
    for task_name, lags in config["lags"].items():
        for lag in lags:
            task = head_to_head.Task(task_name, lag, config)
            validation = task.evaluation_set(config["n_validation"],
                                             head_to_head._VALIDATION_SEED)
            test = task.evaluation_set(config["n_test"], head_to_head._TEST_SEED)
            for arch in config["architectures"]:
                for seed in config["seeds"]:
                    result = run_one(task, arch, seed, config, validation, test)
                    runs.append(result)
                    if progress:
                        print(f"{task_name:6s} lag {lag:3d} {arch:10s} seed {seed}: "
                              f"{'solved' if result['solved'] else 'not solved':10s} "
                              f"after {result['sequences']:6d} sequences, test "
                              f"{result['test_correct']:.3f}, {result['seconds']:.1f} s",
                              flush=True)
    sizes = head_to_head._Sizes(2, 1)  # the adding problem's D and V
    return {
        "schema_version": SCHEMA_VERSION,
        "config_name": config_name,
        "config": config,
        "provenance": origin,
        "run_time_seconds": round(time.perf_counter() - start, 1),
        "methods": dict(METHODS),
        "architectures": {
            arch: {"cell": cell, "options": options, "hidden_size": H, "layers": layers,
                   "name": ARCHITECTURE_NAMES[arch],
                   "parameters": build_model(arch, sizes, 0).num_parameters()}
            for arch, (cell, options, H, layers) in ARCHITECTURES.items()
        },
        "timing": timing,
        "runs": runs,
        "summary": head_to_head.summarise(runs),
    }


def validate_results(results):
    """Check the layout of ``results`` (from :func:`run` or its JSON); raise ValueError."""
    for name in ("schema_version", "config_name", "config", "provenance", "run_time_seconds",
                 "methods", "architectures", "timing", "runs", "summary"):
        if name not in results:
            raise ValueError(f"results: missing field {name!r}")
    if results["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"results['schema_version']: expected {SCHEMA_VERSION}, got "
                         f"{results['schema_version']}")
    config = results["config"]
    timing = results["timing"]
    lengths = [str(T) for T in config["timing"]["lengths"]]
    if any(list(by_T) != lengths for by_T in timing["by_length"].values()):
        raise ValueError("results['timing']['by_length']: lengths differ from the config")
    entries = [t for by_T in timing["by_length"].values() for t in by_T.values()]
    for times in [*entries, *timing["by_width"].values()]:
        if set(times) != set(METHODS) or not all(
                v > 0 for parts in times.values() for v in parts.values()):
            raise ValueError(f"results['timing']: expected positive times for each of "
                             f"{sorted(METHODS)}, got {times}")
    expected = (sum(len(lags) for lags in config["lags"].values())
                * len(config["architectures"]) * len(config["seeds"]))
    if len(results["runs"]) != expected:
        raise ValueError(f"results['runs']: expected {expected} runs, got "
                         f"{len(results['runs'])}")
    if head_to_head.summarise(results["runs"]) != results["summary"]:
        raise ValueError("results['summary']: does not follow from results['runs']")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.config, progress=not args.quiet)
    validate_results(results)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out} ({results['run_time_seconds']:.0f} s)")
    return results


if __name__ == "__main__":
    provenance.pin_numerics()  # the same floating-point kernels on every x86-64 machine
    main()
