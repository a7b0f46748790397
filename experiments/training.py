"""Scheduled sampling against teacher forcing over several seeds, on the noisy sine wave.

The chapter "Training in practice I" (book/training.ipynb) trains one model each way and
measures its free-running error against the generation horizon; this script repeats the
same protocol over seeds and over the decay constant k of the inverse-sigmoid schedule, so
that the chapter can say how much of the difference is the method and how much the seed.

Protocol (the chapter's): a basic RNN with H = 24 is trained for 300 Adam steps (learning
rate 0.01, global gradient norm clipped at 1) on batches of 32 noisy sine waves (noise 0.1)
of 40 steps. It then reads the first 20 steps of 200 clean test waves and continues each for
40 steps on its own predictions; the mean squared error at each horizon is recorded. Seed s
initialises the model with s + 1, draws the batches with s + 2 and the coin flips with s + 3,
so seed 0 is exactly the chapter's own run.

Run from the repository's root, with a clean, committed tree so that the provenance says
which code made the file:

    OMP_NUM_THREADS=1 python experiments/training.py --config full \
        --out experiments/results/training.json

``--config tiny`` runs in seconds (for the tests).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from rnnlib import data, optim, provenance, sampling, train  # noqa: E402
from rnnlib.model import SequenceModel  # noqa: E402

CONFIGS = {
    "full": {"seeds": [0, 1, 2, 3, 4], "decay_ks": [50, 100, 200], "steps": 300,
             "hidden_size": 24, "batch_size": 32, "length": 40, "noise": 0.1,
             "prefix": 20, "horizon": 40, "test_waves": 200, "lr": 0.01, "clip": 1.0},
    "tiny": {"seeds": [0], "decay_ks": [100], "steps": 5, "hidden_size": 4,
             "batch_size": 4, "length": 10, "noise": 0.1, "prefix": 5, "horizon": 6,
             "test_waves": 8, "lr": 0.01, "clip": 1.0},
}

#: The test waves' seed (the chapter's).
TEST_SEED = 123


def horizon_errors(model, config):
    """Mean squared free-running error at each horizon 1..horizon, list of floats."""
    prefix, horizon = config["prefix"], config["horizon"]
    X_test, Y_test = data.sine_wave(config["test_waves"], prefix + horizon, noise=0.0,
                                    rng=TEST_SEED)
    future = Y_test[:, prefix - 1 : prefix - 1 + horizon]  # (N, horizon, 1)
    predictions = sampling.free_run(model, X_test[:, :prefix], horizon)
    return [float(e) for e in ((predictions - future) ** 2).mean(axis=(0, 2))]


def run_one(method, decay_k, seed, config):
    """Train one model ("teacher_forcing" or "scheduled") and measure it."""
    model = SequenceModel("rnn", 1, config["hidden_size"], 1, rng=seed + 1)
    if method == "teacher_forcing":
        trainee = model
    elif method == "scheduled":
        trainee = sampling.ScheduledSampling(
            model, lambda i: sampling.inverse_sigmoid_decay(i, decay_k), rng=seed + 3)
    else:
        raise ValueError(f"method: expected 'teacher_forcing' or 'scheduled', got {method!r}")

    def batches(batch_rng):
        return data.sine_wave(config["batch_size"], config["length"], noise=config["noise"],
                              rng=batch_rng)

    history = train.fit(trainee, batches, optim.Adam(config["lr"]), config["steps"],
                        clip=config["clip"], progress=False, rng=seed + 2)
    return {"method": method, "decay_k": decay_k, "seed": seed,
            "final_loss": float(history["loss"][-20:].mean()),
            "horizon_errors": horizon_errors(model, config),
            "seconds": history["seconds"]}


def run(config_name="full", *, progress=True, command=None):
    """Every run of a configuration, with the provenance, as a JSON-ready dict."""
    config = CONFIGS[config_name]
    origin = provenance.record(command)  # before the runs: the code that runs is this code
    start = time.perf_counter()
    plan = [("teacher_forcing", None, seed) for seed in config["seeds"]]
    plan += [("scheduled", k, seed) for k in config["decay_ks"] for seed in config["seeds"]]
    runs = []
    for number, (method, k, seed) in enumerate(plan, 1):
        runs.append(run_one(method, k, seed, config))
        if progress:
            print(f"[{number}/{len(plan)}] {method} k={k} seed={seed}: error at the last "
                  f"horizon {runs[-1]['horizon_errors'][-1]:.4f}", flush=True)
    return {"config_name": config_name, "config": config, "runs": runs,
            "run_time_seconds": time.perf_counter() - start, "provenance": origin}


def validate_results(results):
    """Raise ValueError naming what is missing or malformed; True otherwise."""
    for key in ("config_name", "config", "runs", "run_time_seconds", "provenance"):
        if key not in results:
            raise ValueError(f"results: missing {key!r}")
    config = results["config"]
    expected = len(config["seeds"]) * (1 + len(config["decay_ks"]))
    if len(results["runs"]) != expected:
        raise ValueError(f"runs: expected {expected}, got {len(results['runs'])}")
    for run_ in results["runs"]:
        if len(run_["horizon_errors"]) != config["horizon"]:
            raise ValueError(f"horizon_errors: expected {config['horizon']} values in run "
                             f"{run_['method']} seed {run_['seed']}")
        if not all(np.isfinite(run_["horizon_errors"])):
            raise ValueError(f"horizon_errors: not finite in run {run_['method']} seed "
                             f"{run_['seed']}")
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="full")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    results = run(args.config, progress=not args.quiet)
    validate_results(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    if not args.quiet:
        print(f"wrote {args.out} in {results['run_time_seconds']:.0f} s")


if __name__ == "__main__":
    provenance.pin_numerics()  # the same floating-point kernels on every x86-64 machine
    main()
