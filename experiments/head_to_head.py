"""Basic RNN, LSTM (with and without forget gate) and GRU on three long-lag tasks.

Every architecture is trained on the adding problem, the copy task and the embedded Reber
grammar at growing time lags, from several random seeds, and each run is judged by the
success criterion of the paper the task comes from (see ``TASKS`` below). The results, with
the command, date, machine, library versions and run time, are written as JSON; the book's
chapter ``book/head_to_head.ipynb`` loads that file and draws the figure and the table.

Run from the repository root (one BLAS thread: the matrices are small, and the machine is
shared)::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/head_to_head.py \
        --config full --out experiments/results/head_to_head.json

``--config tiny`` runs a configuration small enough for the tests (a few seconds), and
``--config reduced`` the one the chapter runs live. The JSON layout is documented in
:func:`run` (``SCHEMA_VERSION`` changes when it does).

Design, in brief:

- **Equal budgets.** Every run gets the same number of training sequences (batches of
  ``batch_size`` sequences, at most ``max_steps`` optimiser steps), the same optimiser
  (Adam, gradient norm clipped to 1) and the same learning rate. A run stops early once it
  meets the success criterion on its validation set, checked every ``eval_every`` steps;
  the number of training sequences it needed is recorded, like the papers do.
- **Comparable sizes.** The hidden sizes are chosen so that the four networks have roughly
  the same number of parameters, as Chung et al. (2014) did for their comparison.
- **Fresh data.** Training batches are drawn on the fly; the validation and test sets are
  fixed per task and lag, and are never trained on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

# One BLAS thread unless told otherwise: for matrices this small, threads only add overhead.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import rnnlib  # noqa: E402
from rnnlib import data, provenance  # noqa: E402
from rnnlib.model import SequenceModel  # noqa: E402
from rnnlib.optim import Adam  # noqa: E402
from rnnlib.train import fit  # noqa: E402

SCHEMA_VERSION = 1

#: Hochreiter and Schmidhuber's tolerance on the adding problem's target scaled to [0, 1].
ADDING_TOLERANCE = 0.04

#: The architectures compared: label -> (cell, cell options, hidden size).
#: Hidden sizes give about the same number of parameters (see ``parameter_counts``).
ARCHITECTURES = {
    "rnn": ("rnn", {}, 48),
    "lstm": ("lstm", {"forget_gate": True}, 24),
    "lstm_no_forget": ("lstm", {"forget_gate": False}, 28),
    "gru": ("gru", {"convention": "cho"}, 28),
}

#: Human-readable names, for the chapter's legend and table.
ARCHITECTURE_NAMES = {
    "rnn": "basic RNN",
    "lstm": "LSTM (forget gate)",
    "lstm_no_forget": "LSTM (no forget gate, 1997)",
    "gru": "GRU",
}

#: What each task measures, its lag, and where its success criterion comes from.
TASKS = {
    "adding": {
        "lag_name": "sequence length T",
        "criterion": (
            "a sequence is processed correctly when the absolute error of the answer is "
            "below 0.04 (Hochreiter and Schmidhuber 1997, Experiment 4, their variant of the "
            "task); a run succeeds when at least `threshold` of the validation sequences are"
        ),
    },
    "copy": {
        "lag_name": "delay (steps)",
        "criterion": (
            "a sequence is processed correctly when every recalled symbol is the most likely "
            "output (the copying memory problem as set by Arjovsky, Shah and Bengio 2016); a "
            "run succeeds when at least `threshold` of the validation sequences are"
        ),
    },
    "reber": {
        "lag_name": "minimum string length",
        "criterion": (
            "a string is processed correctly when, at every step, the outputs of the legal "
            "next symbols are larger than all others (Hochreiter and Schmidhuber 1997, "
            "Experiment 1); a run succeeds when at least `threshold` of the validation "
            "strings are"
        ),
    },
}

#: Configurations: ``full`` for the committed results, ``reduced`` for the chapter's live
#: run, ``tiny`` for the tests.
CONFIGS = {
    "full": {
        "lags": {"adding": [10, 25, 50, 75], "copy": [2, 5, 10, 20], "reber": [9, 15, 20]},
        "architectures": list(ARCHITECTURES),
        "seeds": [0, 1, 2],
        "max_steps": 1500,
        "eval_every": 100,
        "batch_size": 32,
        "learning_rate": 1e-2,
        "clip": 1.0,
        "threshold": 0.99,
        "copy_symbols": 3,
        "n_validation": 256,
        "n_test": 512,
    },
    "reduced": {
        "lags": {"adding": [50]},
        "architectures": ["rnn", "gru"],
        "seeds": [0],
        "max_steps": 500,
        "eval_every": 100,
        "batch_size": 32,
        "learning_rate": 1e-2,
        "clip": 1.0,
        "threshold": 0.99,
        "copy_symbols": 3,
        "n_validation": 256,
        "n_test": 512,
    },
    "tiny": {
        "lags": {"adding": [10], "copy": [2], "reber": [9]},
        "architectures": list(ARCHITECTURES),
        "seeds": [0],
        "max_steps": 4,
        "eval_every": 2,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "clip": 1.0,
        "threshold": 0.99,
        "copy_symbols": 2,
        "n_validation": 8,
        "n_test": 8,
    },
}

# Seeds of the fixed evaluation sets (distinct from every training seed).
_VALIDATION_SEED = 10_000
_TEST_SEED = 20_000
# Embedded Reber strings of a given minimum length are drawn from pools sampled once.
_REBER_POOL_SIZE = 200_000


# --------------------------------------------------------------------------------------
# Tasks: a batch sampler, the model's sizes, the loss, and the per-sequence criterion
# --------------------------------------------------------------------------------------


def reber_pool(min_length, seed, size=2000):
    """``size`` embedded Reber strings of at least ``min_length`` symbols.

    The grammar makes long strings rare (about 4% have 20 symbols or more), so strings are
    drawn from the grammar (:func:`rnnlib.data.embedded_reber_string`) and the long enough
    ones kept. Training and evaluation use pools drawn from different seeds.

    Parameters
    ----------
    min_length : int
        At least 9 (the shortest string of the grammar).
    seed : int
        Seed of the generator.
    size : int, default 2000
        Number of strings returned.

    Returns
    -------
    list of str
    """
    if min_length > 40:
        raise ValueError(f"lag: expected a minimum string length of at most 40 for the "
                         f"embedded Reber grammar (longer strings are too rare), got {min_length}")
    rng = np.random.default_rng(seed)
    pool = []
    while len(pool) < size:
        pool.extend(s for s in (data.embedded_reber_string(rng) for _ in range(10_000))
                    if len(s) >= min_length)
    return pool[:size]


class Task:
    """One task at one lag: sizes, loss, training batches, evaluation sets and the judge.

    Parameters
    ----------
    name : {"adding", "copy", "reber"}
    lag : int
        Adding problem: the sequence length T (the first marked value lies in the first
        half and the second in the second half, so the first must be held for at least
        T/2 steps). Copy task: the delay
        between the last symbol read and the first one recalled. Embedded Reber grammar:
        the minimum string length (the two T/P symbols that must match are length - 3
        steps apart).
    config : dict
        One of :data:`CONFIGS`.
    """

    def __init__(self, name, lag, config):
        if name not in TASKS:
            raise ValueError(f"task: expected one of {sorted(TASKS)}, got {name!r}")
        self.name, self.lag, self.config = name, int(lag), config
        self.loss = "mse" if name == "adding" else "cross_entropy"
        self.last_only = name == "adding"
        self.input_size, self.output_size = {
            "adding": (2, 1),
            "copy": (10, 10),  # 8 symbols, the blank and the "go" marker
            "reber": (7, 7),
        }[name]
        if name == "reber":
            self._train_pool = reber_pool(self.lag, seed=1)

    def _draw(self, n, rng):
        """A batch as the data generator returns it."""
        if self.name == "adding":
            return data.adding_problem(n, self.lag, variant="simplified", rng=rng)
        if self.name == "copy":
            return data.copy_task(n, self.config["copy_symbols"], self.lag, n_symbols=8,
                                  rng=rng)
        return data.reber_batch([self._train_pool[i] for i in
                                 rng.integers(len(self._train_pool), size=n)])

    def training_batch(self, rng):
        """``(X, targets)`` or ``(X, targets, mask)`` for :func:`rnnlib.train.fit`."""
        batch = self._draw(self.config["batch_size"], rng)
        if self.name == "reber":
            return batch.X, batch.targets, batch.mask
        return batch

    def evaluation_set(self, n, seed):
        """A fixed set of ``n`` sequences, never trained on."""
        if self.name == "reber":
            return data.reber_batch(reber_pool(self.lag, seed=seed, size=n))
        return self._draw(n, np.random.default_rng(seed))

    def correct(self, model, batch):
        """Which sequences the model processes correctly, by the task's criterion.

        Returns
        -------
        numpy.ndarray of bool, shape (n,)
        """
        if self.name == "adding":
            X, y = batch  # (n, T, 2), (n, 1)
            # The paper's 0.04 on a target scaled to [0, 1]; this target spans [0, 2].
            return np.abs(model.predict(X, last_only=True) - y)[:, 0] < 2 * ADDING_TOLERANCE
        if self.name == "copy":
            X, targets, mask = batch  # (n, T, K+2), (n, T), (n, T)
            predicted = model.predict(X).argmax(axis=-1)  # (n, T)
            return ((predicted == targets) | ~mask).all(axis=1)
        return data.reber_strings_correct(model.predict(batch.X), batch)


def build_model(arch, task, seed):
    """A :class:`rnnlib.model.SequenceModel` of architecture ``arch`` for ``task``."""
    cell, options, hidden_size = ARCHITECTURES[arch]
    return SequenceModel(cell, task.input_size, hidden_size, task.output_size, rng=seed,
                         **options)


def parameter_counts(input_size=2, output_size=1):
    """Number of parameters of each architecture (recurrent layer and output layer).

    Returns
    -------
    dict of str to int
    """
    return {arch: build_model(arch, _Sizes(input_size, output_size), 0).num_parameters()
            for arch in ARCHITECTURES}


class _Sizes:
    """Just the sizes a model needs (for :func:`parameter_counts`)."""

    def __init__(self, input_size, output_size):
        self.input_size, self.output_size = input_size, output_size


# --------------------------------------------------------------------------------------
# One run, and the whole experiment
# --------------------------------------------------------------------------------------


def run_one(task, arch, seed, config, validation, test):
    """Train one network on one task at one lag and judge it.

    Training stops as soon as the fraction of validation sequences processed correctly
    reaches ``config["threshold"]`` (checked every ``eval_every`` steps), or after
    ``max_steps`` steps.

    Returns
    -------
    dict
        ``task``, ``lag``, ``arch``, ``seed``; ``solved`` (bool, the success
        criterion met on the validation set); ``steps`` and ``sequences`` (training
        steps and sequences used, up to success or to the budget);
        ``validation_correct`` and ``test_correct`` (fractions of sequences processed
        correctly at the end); ``final_loss`` (mean training loss of the last
        ``eval_every`` steps); ``seconds``.
    """
    model = build_model(arch, task, seed)
    start = time.perf_counter()

    def validation_score(model, step):
        # Not measured before training (step 0): an untrained network never succeeds.
        return None if step == 0 else float(task.correct(model, validation).mean())

    history = fit(
        model, task.training_batch, Adam(config["learning_rate"]), config["max_steps"],
        clip=config["clip"], progress=False, callback=validation_score,
        eval_every=config["eval_every"],
        stop_when=lambda score: score is not None and score >= config["threshold"],
        loss=task.loss, last_only=task.last_only,
        rng=np.random.default_rng(1000 + seed),
    )
    solved = history["stopped_at"] is not None
    steps = len(history["loss"])
    valid_score = history["callback"][-1][1]
    # the steps since the last check
    last = steps % config["eval_every"] or config["eval_every"]
    losses = history["loss"][-last:]
    return {
        "task": task.name,
        "lag": task.lag,
        "arch": arch,
        "seed": seed,
        "solved": solved,
        "steps": steps,
        "sequences": steps * config["batch_size"],
        "validation_correct": valid_score,
        "test_correct": float(task.correct(model, test).mean()),
        "final_loss": float(np.mean(losses)),
        "seconds": round(time.perf_counter() - start, 3),
    }


def summarise(runs):
    """Success rate and median sequences-to-success per task, architecture and lag.

    Returns
    -------
    dict
        ``summary[task][arch][str(lag)] = {"success_rate": float, "runs": int,
        "median_sequences_when_solved": int or None, "mean_test_correct": float}``.
    """
    summary = {}
    for run in runs:
        cell = summary.setdefault(run["task"], {}).setdefault(run["arch"], {})
        cell.setdefault(str(run["lag"]), []).append(run)
    for arches in summary.values():
        for lags in arches.values():
            for lag, group in lags.items():
                solved = [r["sequences"] for r in group if r["solved"]]
                lags[lag] = {
                    "success_rate": len(solved) / len(group),
                    "runs": len(group),
                    "median_sequences_when_solved": int(np.median(solved)) if solved else None,
                    "mean_test_correct": float(np.mean([r["test_correct"] for r in group])),
                }
    return summary


def _versions():
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "rnnlib": rnnlib.__version__}
    return versions


def _machine():
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
    }


def run(config_name="full", *, progress=True, command=None):
    """Run every (task, lag, architecture, seed) of a configuration.

    Parameters
    ----------
    config_name : {"full", "reduced", "tiny"}
    progress : bool, default True
        Print one line per run.
    command : str, optional
        The command line to record (default: this process's).

    Returns
    -------
    dict
        The results, ready for JSON:

        - ``schema_version`` (int), ``config_name`` (str), ``config`` (dict);
        - ``command`` (str), ``date`` (ISO 8601, UTC), ``machine`` (dict: platform,
          processor, cpu_count, omp_num_threads), ``versions`` (dict: python, numpy,
          rnnlib), ``provenance`` (:func:`rnnlib.provenance.record`: git commit, dirty
          tree, the rnnlib modules used and a hash of their code), ``run_time_seconds`` (float);
        - ``architectures``: label -> {cell, options, hidden_size, name, parameters}
          (parameters for the adding problem's sizes);
        - ``tasks``: name -> {lag_name, criterion};
        - ``runs``: a list of the dicts :func:`run_one` returns;
        - ``summary``: see :func:`summarise`.
    """
    if config_name not in CONFIGS:
        raise ValueError(f"config_name: expected one of {sorted(CONFIGS)}, got {config_name!r}")
    config = CONFIGS[config_name]
    origin = provenance.record(command)  # before the runs: the code that runs is this code
    start = time.perf_counter()
    runs = []
    for task_name, lags in config["lags"].items():
        for lag in lags:
            task = Task(task_name, lag, config)
            validation = task.evaluation_set(config["n_validation"], _VALIDATION_SEED)
            test = task.evaluation_set(config["n_test"], _TEST_SEED)
            for arch in config["architectures"]:
                for seed in config["seeds"]:
                    result = run_one(task, arch, seed, config, validation, test)
                    runs.append(result)
                    if progress:
                        print(f"{task_name:6s} lag {lag:3d} {arch:15s} seed {seed}: "
                              f"{'solved' if result['solved'] else 'not solved':10s} "
                              f"after {result['sequences']:6d} sequences, test "
                              f"{result['test_correct']:.3f}, {result['seconds']:.1f} s",
                              flush=True)
    counts = parameter_counts()
    return {
        "schema_version": SCHEMA_VERSION,
        "config_name": config_name,
        "config": config,
        "command": origin["command"],
        "date": origin["date"],
        "machine": _machine(),
        "versions": _versions(),
        "provenance": origin,
        "run_time_seconds": round(time.perf_counter() - start, 1),
        "architectures": {
            arch: {"cell": cell, "options": options, "hidden_size": H,
                   "name": ARCHITECTURE_NAMES[arch], "parameters": counts[arch]}
            for arch, (cell, options, H) in ARCHITECTURES.items()
        },
        "tasks": {name: dict(info) for name, info in TASKS.items()},
        "runs": runs,
        "summary": summarise(runs),
    }


#: Fields of every entry of ``results["runs"]`` and their types.
RUN_FIELDS = {
    "task": str, "lag": int, "arch": str, "seed": int, "solved": bool, "steps": int,
    "sequences": int, "validation_correct": float, "test_correct": float,
    "final_loss": float, "seconds": float,
}

#: Top-level fields of the results and their types.
RESULT_FIELDS = {
    "schema_version": int, "config_name": str, "config": dict, "command": str, "date": str,
    "machine": dict, "versions": dict, "provenance": dict, "run_time_seconds": float,
    "architectures": dict,
    "tasks": dict, "runs": list, "summary": dict,
}


def validate_results(results):
    """Check that ``results`` (from :func:`run`, or loaded from its JSON) has the layout.

    Raises
    ------
    ValueError
        Naming the first missing or mistyped field, or a summary that does not follow
        from the runs.
    """
    for name, kind in RESULT_FIELDS.items():
        if name not in results:
            raise ValueError(f"results: missing field {name!r}")
        value = results[name]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            raise ValueError(f"results[{name!r}]: expected {kind.__name__}, got "
                             f"{type(value).__name__}")
    if results["schema_version"] != SCHEMA_VERSION:
        raise ValueError(f"results['schema_version']: expected {SCHEMA_VERSION}, got "
                         f"{results['schema_version']}")
    for key in ("numpy", "python", "rnnlib"):
        if key not in results["versions"]:
            raise ValueError(f"results['versions']: missing {key!r}")
    for key in ("platform", "processor", "cpu_count"):
        if key not in results["machine"]:
            raise ValueError(f"results['machine']: missing {key!r}")
    config = results["config"]
    for k, run_entry in enumerate(results["runs"]):
        for name, kind in RUN_FIELDS.items():
            value = run_entry.get(name)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ValueError(f"results['runs'][{k}][{name!r}]: expected {kind.__name__}, "
                                 f"got {value!r}")
        if run_entry["lag"] not in config["lags"].get(run_entry["task"], []):
            raise ValueError(f"results['runs'][{k}]: lag {run_entry['lag']} of task "
                             f"{run_entry['task']!r} is not in the configuration")
        if run_entry["arch"] not in results["architectures"]:
            raise ValueError(f"results['runs'][{k}]: unknown architecture {run_entry['arch']!r}")
    expected_runs = sum(len(lags) for lags in config["lags"].values()) * len(
        config["architectures"]) * len(config["seeds"])
    if len(results["runs"]) != expected_runs:
        raise ValueError(f"results['runs']: expected {expected_runs} runs for the "
                         f"configuration, got {len(results['runs'])}")
    if summarise(results["runs"]) != results["summary"]:
        raise ValueError("results['summary']: does not follow from results['runs']")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the JSON results (default: print a summary)")
    parser.add_argument("--quiet", action="store_true", help="no line per run")
    args = parser.parse_args(argv)
    results = run(args.config, progress=not args.quiet)
    validate_results(results)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {args.out} ({results['run_time_seconds']:.0f} s)")
    else:
        print(json.dumps(results["summary"], indent=1))
    return results


if __name__ == "__main__":
    provenance.pin_numerics()  # the same floating-point kernels on every x86-64 machine
    main()
