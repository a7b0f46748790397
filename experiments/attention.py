"""Exact-match accuracy against input length, for the encoder-decoder with and without
attention, on the digit-reversal task (the shape of Bahdanau et al.'s Figure 2).

Both models have a GRU encoder and a GRU decoder of the same small hidden size; the only
difference is the attention. Each is trained from several seeds on sources of every length
in ``lengths`` (one length per batch, drawn uniformly), then decoded greedily on a fixed
test set per length. The results, with :func:`rnnlib.provenance.record`, are written as
JSON; ``book/attention.ipynb`` reads them and re-runs one run.

Run from the repository root, from a clean committed tree::

    OMP_NUM_THREADS=1 .venv/bin/python experiments/attention.py --config full \
        --out experiments/results/attention.json \
        --weights experiments/results/attention_weights.npz

``--config tiny`` is small enough for the tests.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from rnnlib import provenance  # noqa: E402
from rnnlib import seq2seq_data as sd  # noqa: E402
from rnnlib.optim import Adam, clip_grad_norm  # noqa: E402
from rnnlib.seq2seq import Seq2Seq  # noqa: E402

SCHEMA_VERSION = 1

#: The two models compared: label -> attention score (None: no attention).
MODELS = {"plain": None, "attention": "additive"}
MODEL_NAMES = {"plain": "encoder-decoder", "attention": "with additive attention"}

CONFIGS = {
    "full": {
        "cell": "gru", "hidden_size": 16, "lengths": list(range(2, 17, 2)),
        "batch_size": 32, "steps": 1500, "lr": 0.01, "clip": 1.0,
        "seeds": [0, 1, 2], "n_test": 200, "test_seed": 12345,
    },
    "tiny": {
        "cell": "gru", "hidden_size": 4, "lengths": [2, 4],
        "batch_size": 4, "steps": 5, "lr": 0.01, "clip": 1.0,
        "seeds": [0], "n_test": 5, "test_seed": 12345,
    },
}


def train(model_name, seed, config, *, progress=False):
    """Train one model from one seed; return the model and its training losses.

    Parameters
    ----------
    model_name : {"plain", "attention"}
    seed : int
        Sets the initial weights and every training batch.
    config : dict
        One of :data:`CONFIGS`.
    progress : bool
        Show a progress bar.

    Returns
    -------
    model : rnnlib.seq2seq.Seq2Seq
    losses : list of float
    """
    rng = np.random.default_rng(seed)
    model = Seq2Seq(config["cell"], config["hidden_size"], attention=MODELS[model_name],
                    rng=rng)
    optimizer = Adam(config["lr"])
    losses = []
    for _ in tqdm(range(config["steps"]), disable=not progress, desc=f"{model_name} {seed}"):
        length = int(rng.choice(config["lengths"]))
        src, tgt_in, tgt_out = sd.reverse_digits(config["batch_size"], length, rng=rng)
        loss, grads = model.loss_and_grads(src, tgt_in, tgt_out)
        clip_grad_norm(grads, config["clip"])
        optimizer.step(model.params, grads)
        losses.append(loss)
    return model, losses


def test_set(length, config):
    """The fixed test set of one length: ``(src, tgt_in, tgt_out)``."""
    return sd.reverse_digits(config["n_test"], length, rng=config["test_seed"] + length)


def accuracy_by_length(model, config):
    """Exact-match accuracy of greedy decoding at every length: ``{length: fraction}``."""
    out = {}
    for length in config["lengths"]:
        src, _, tgt_out = test_set(length, config)
        tokens, _ = model.greedy(src, length + 1)
        out[str(length)] = float(sd.exact_match(tokens, tgt_out).mean())
    return out


def run_one(model_name, seed, config, *, progress=False, keep_model=False):
    """Train and test one model from one seed; the record the JSON file keeps.

    With ``keep_model=True`` return ``(record, model)``.
    """
    start = time.perf_counter()
    model, losses = train(model_name, seed, config, progress=progress)
    record = {
        "model": model_name,
        "seed": seed,
        "accuracy": accuracy_by_length(model, config),
        "final_loss": float(np.mean(losses[-50:])),
        "num_parameters": model.num_parameters(),
        "seconds": time.perf_counter() - start,
    }
    return (record, model) if keep_model else record


def run(config_name="full", *, progress=True, command=None, weights=None):
    """Every model and seed of a configuration.

    Returns
    -------
    dict
        ``schema_version``, ``config_name``, ``config``, ``provenance``,
        ``run_time_seconds``, ``runs`` (one :func:`run_one` record per model and seed) and
        ``summary``: per model, the mean accuracy over seeds at every length.

    With ``weights`` (a path), the parameters of every model trained from the first seed
    are saved there (``numpy.savez``, keys ``"<model>/<parameter>"``), so the chapter can
    draw their attention without training them again.
    """
    config = CONFIGS[config_name]
    origin = provenance.record(command)
    start = time.perf_counter()
    runs, kept = [], {}
    for name in MODELS:
        for seed in config["seeds"]:
            record, model = run_one(name, seed, config, progress=progress,
                                    keep_model=True)
            runs.append(record)
            if seed == config["seeds"][0]:
                kept.update({f"{name}/{k}": v for k, v in model.params.items()})
    if weights is not None:
        np.savez(weights, **kept)
    return {
        "schema_version": SCHEMA_VERSION,
        "config_name": config_name,
        "config": config,
        "provenance": origin,
        "run_time_seconds": time.perf_counter() - start,
        "runs": runs,
        "summary": summarise(runs, config),
    }


def summarise(runs, config):
    """Mean exact-match accuracy over seeds: ``{model: {length: mean}}``."""
    return {
        name: {
            str(length): float(np.mean([r["accuracy"][str(length)] for r in runs
                                        if r["model"] == name]))
            for length in config["lengths"]
        }
        for name in MODELS
    }


def validate_results(results):
    """Check the layout of a results dict; raise ValueError naming what is wrong."""
    for key in ("schema_version", "config", "provenance", "runs", "summary"):
        if key not in results:
            raise ValueError(f"results: missing {key!r}")
    config = results["config"]
    if len(results["runs"]) != len(MODELS) * len(config["seeds"]):
        raise ValueError("runs: expected one run per model and seed")
    if results["summary"] != summarise(results["runs"], config):
        raise ValueError("summary: does not follow from the runs")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--weights", type=Path, help="where to save the first seed's models")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.config, progress=not args.quiet, weights=args.weights)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    if not args.quiet:
        print(json.dumps(results["summary"], indent=1))
    return results


def load_model(model_name, config, weights):
    """A :class:`~rnnlib.seq2seq.Seq2Seq` with the parameters saved by :func:`run`."""
    model = Seq2Seq(config["cell"], config["hidden_size"], attention=MODELS[model_name],
                    rng=0)
    with np.load(weights) as saved:
        for key in model.params:
            model.params[key] = saved[f"{model_name}/{key}"]
    return model


if __name__ == "__main__":
    provenance.pin_numerics()  # the same floating-point kernels on every x86-64 machine
    main()
