"""Initialisation and regularisation, measured: the runs of ``book/training_setup.ipynb``.

Two experiments, each over several seeds:

- **Initialisation on a long-lag task.** The adding problem (many-to-one; one marked
  value is in the first half of the sequence, T/2 to T - 1 steps before the end, the
  other in the second half, 0 to T/2 - 1 steps before it) with the basic RNN whose
  recurrent matrix starts as PyTorch's uniform draw, as a random orthogonal matrix, or
  as the identity, and with the LSTM whose forget-gate bias starts at PyTorch's default
  (a uniform draw around 0) or at exactly 1. A run succeeds when its validation answers
  are within the tolerance of ``experiments/head_to_head.py`` (0.08 on the sum) for 99%
  of the sequences.
- **Regularisation.** Next-step prediction of noisy sine waves from a small fixed training
  set, without regularisation, with weight decay, and with input dropout whose mask is
  fixed over time; train and validation losses at the end.

Run from the repository root, from a clean committed tree so that the provenance says so::

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python experiments/training_setup.py \
        --config full --out experiments/results/training_setup.json

``--config tiny`` is small enough for the tests.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from rnnlib import data, init, provenance  # noqa: E402
from rnnlib.model import SequenceModel  # noqa: E402
from rnnlib.optim import Adam  # noqa: E402
from rnnlib.regularize import Regularized  # noqa: E402
from rnnlib.train import fit  # noqa: E402

SCHEMA_VERSION = 1

#: Tolerance on the adding problem's sum (0.04 on the target scaled to [0, 1]).
ADDING_TOLERANCE_ON_SUM = 0.08

#: The initialisations compared: label -> (cell, hidden size, recurrent scheme,
#: forget-gate bias or None for the cell's default draw).
INITS = {
    "rnn_uniform": ("rnn", 32, "uniform", None),
    "rnn_orthogonal": ("rnn", 32, "orthogonal", None),
    "rnn_identity": ("rnn", 32, "identity", None),
    "lstm_bias_0": ("lstm", 16, "uniform", None),
    "lstm_bias_1": ("lstm", 16, "uniform", 1.0),
}

#: Names for the chapter's figure and table.
INIT_NAMES = {
    "rnn_uniform": "RNN, uniform (default)",
    "rnn_orthogonal": "RNN, orthogonal",
    "rnn_identity": "RNN, identity",
    "lstm_bias_0": "LSTM, forget bias ≈ 0",
    "lstm_bias_1": "LSTM, forget bias 1",
}

#: The regularisers compared: label -> keyword arguments of ``Regularized``.
REGULARIZERS = {
    "none": {},
    "weight_decay": {"weight_decay": 1e-3},
    "dropout": {"input_dropout": 0.2, "variational": True},
}

CONFIGS = {
    "full": {
        "length": 100,
        "seeds": [0, 1, 2],
        "max_steps": 1500,
        "eval_every": 100,
        "batch_size": 32,
        "learning_rate": 1e-2,
        "clip": 1.0,
        "threshold": 0.99,
        "n_validation": 256,
        "record_every": 25,
        "reg_seeds": [0, 1, 2],
        "reg_train": 8,
        "reg_valid": 256,
        "reg_length": 60,
        "reg_hidden": 48,
        "reg_steps": 600,
    },
    "tiny": {
        "length": 10,
        "seeds": [0],
        "max_steps": 4,
        "eval_every": 2,
        "batch_size": 4,
        "learning_rate": 1e-2,
        "clip": 1.0,
        "threshold": 0.99,
        "n_validation": 8,
        "record_every": 2,
        "reg_seeds": [0],
        "reg_train": 4,
        "reg_valid": 8,
        "reg_length": 10,
        "reg_hidden": 4,
        "reg_steps": 4,
    },
}


def build_model(label, seed):
    """The network of one initialisation, seeded."""
    cell, hidden_size, scheme, forget_bias = INITS[label]
    # forget_bias 0.0: one uniform draw around 0, like PyTorch's
    options = {"forget_bias": 0.0} if cell == "lstm" else {}
    model = SequenceModel(cell, 2, hidden_size, 1, rng=seed, **options)
    return init.init_model(model, scheme, forget_bias=forget_bias, rng=seed + 100)


def adding_validation(config):
    """The fixed validation set of the adding problem (never trained on)."""
    return data.adding_problem(config["n_validation"], config["length"], rng=12345)


def adding_correct(model, batch):
    """Per sequence: is the answer within the tolerance?"""
    X, y = batch
    return np.abs(model.predict(X, last_only=True) - y)[:, 0] < ADDING_TOLERANCE_ON_SUM


def run_init(label, seed, config, validation):
    """Train one network of one initialisation on the adding problem.

    Returns
    -------
    dict
        ``label``, ``seed``, ``solved``, ``steps`` (to success or the budget),
        ``validation_correct`` (at the end), ``loss`` (the training loss averaged over
        every ``record_every`` steps), ``seconds``.
    """
    model = build_model(label, seed)
    start = time.perf_counter()

    def score(model, step):
        return None if step == 0 else float(adding_correct(model, validation).mean())

    length = config["length"]
    history = fit(model, lambda rng: data.adding_problem(config["batch_size"], length,
                                                         rng=rng),
                  Adam(config["learning_rate"]), config["max_steps"], clip=config["clip"],
                  progress=False, callback=score, eval_every=config["eval_every"],
                  stop_when=lambda s: s is not None and s >= config["threshold"],
                  last_only=True, rng=np.random.default_rng(1000 + seed))
    losses = history["loss"]
    k = config["record_every"]
    binned = [float(np.mean(losses[i:i + k])) for i in range(0, len(losses), k)]
    return {
        "label": label,
        "seed": seed,
        "solved": history["stopped_at"] is not None,
        "steps": len(losses),
        "validation_correct": history["callback"][-1][1],
        "loss": binned,
        "seconds": round(time.perf_counter() - start, 3),
    }


def regularization_data(config, seed):
    """A small fixed training set and a larger validation set of noisy sine waves."""
    train = data.sine_wave(config["reg_train"], config["reg_length"], rng=2000 + seed)
    valid = data.sine_wave(config["reg_valid"], config["reg_length"], rng=99)
    return train, valid


def run_regularization(label, seed, config):
    """Train one LSTM on the small sine-wave set with one regulariser.

    Returns
    -------
    dict
        ``label``, ``seed``, ``train_loss`` and ``valid_loss`` (mean squared error without
        dropout or penalty, at the end), ``recurrent_radius`` (spectral radius of the
        LSTM's forget-gate recurrent block at the end), ``seconds``.
    """
    (X, Y), (Xv, Yv) = regularization_data(config, seed)
    model = SequenceModel("lstm", 1, config["reg_hidden"], 1, rng=seed)
    trainer = Regularized(model, rng=3000 + seed, **REGULARIZERS[label])
    start = time.perf_counter()
    fit(trainer, itertools.repeat((X, Y)), Adam(config["learning_rate"]),
        config["reg_steps"], clip=config["clip"], progress=False)
    train_loss, _ = model.loss_and_grads(X, Y)
    valid_loss, _ = model.loss_and_grads(Xv, Yv)
    radius = init.recurrent_spectral_radii(model.layer_params(0), 1, "lstm")["f"]
    return {
        "label": label,
        "seed": seed,
        "train_loss": float(train_loss),
        "valid_loss": float(valid_loss),
        "recurrent_radius": float(radius),
        "seconds": round(time.perf_counter() - start, 3),
    }


def summarise(init_runs, reg_runs):
    """Per initialisation: runs solved, median steps when solved; per regulariser: means."""
    summary = {"init": {}, "regularization": {}}
    for label in INITS:
        runs = [r for r in init_runs if r["label"] == label]
        solved = [r["steps"] for r in runs if r["solved"]]
        summary["init"][label] = {
            "solved": len(solved),
            "runs": len(runs),
            "median_steps_when_solved": float(np.median(solved)) if solved else None,
            "mean_validation_correct": float(np.mean([r["validation_correct"]
                                                      for r in runs])),
        }
    for label in REGULARIZERS:
        runs = [r for r in reg_runs if r["label"] == label]
        summary["regularization"][label] = {
            key: float(np.mean([r[key] for r in runs]))
            for key in ("train_loss", "valid_loss", "recurrent_radius")
        }
    return summary


def run(config_name, progress=True):
    """Every run of one configuration, with its summary and provenance."""
    config = CONFIGS[config_name]
    origin = provenance.record()  # before the runs: the tree as the code was read
    start = time.perf_counter()
    validation = adding_validation(config)
    init_runs, reg_runs = [], []
    for label in INITS:
        for seed in config["seeds"]:
            init_runs.append(run_init(label, seed, config, validation))
            if progress:
                r = init_runs[-1]
                print(f"{label:15s} seed {seed}: solved={r['solved']} steps={r['steps']} "
                      f"({r['seconds']:.0f} s)", flush=True)
    for label in REGULARIZERS:
        for seed in config["reg_seeds"]:
            reg_runs.append(run_regularization(label, seed, config))
            if progress:
                r = reg_runs[-1]
                print(f"{label:15s} seed {seed}: train {r['train_loss']:.4f} "
                      f"valid {r['valid_loss']:.4f} ({r['seconds']:.0f} s)", flush=True)
    return {
        "schema_version": SCHEMA_VERSION,
        "config_name": config_name,
        "config": config,
        "init_runs": init_runs,
        "regularization_runs": reg_runs,
        "summary": summarise(init_runs, reg_runs),
        "run_time_seconds": round(time.perf_counter() - start, 1),
        "provenance": origin,
    }


def validate_results(results):
    """Check the layout of a results file; return True or raise ``ValueError``."""
    for key in ("schema_version", "config", "init_runs", "regularization_runs", "summary",
                "provenance"):
        if key not in results:
            raise ValueError(f"results: missing {key!r}")
    config = results["config"]
    if len(results["init_runs"]) != len(INITS) * len(config["seeds"]):
        raise ValueError("results: init_runs does not hold one run per label and seed")
    if len(results["regularization_runs"]) != len(REGULARIZERS) * len(config["reg_seeds"]):
        raise ValueError("results: regularization_runs does not hold one run per label "
                         "and seed")
    if results["summary"] != summarise(results["init_runs"], results["regularization_runs"]):
        raise ValueError("results: summary does not follow from the runs")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument("--out", type=Path, default=None)
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
