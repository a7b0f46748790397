"""The two Reber-grammar experiments of the LSTM chapter, at full size.

1. Embedded Reber grammar (Hochreiter and Schmidhuber 1997, Experiment 1): LSTM with and
   without forget gate against the basic RNN, several seeds each, trained until the paper's
   success criterion holds on all 256 training and all 256 test strings.
2. Continual embedded Reber stream (Gers, Schmidhuber and Cummins 2000): the 1997 cell and
   the cell with forget gate trained on one stream that is never reset.

The book page ``book/lstm_experiments.ipynb`` loads what this script writes:

- ``experiments/lstm_reber.json``: every run's outcome and learning curve, the training logs
  of the stream experiment, the settings and the software versions;
- ``experiments/lstm_reber_weights.npz``: the trained stream models of seed 0 (one with and
  one without forget gate), which the page evaluates on fresh test streams.

Run from the repository root. The results file records how long the run took
(``"seconds"``) and, under ``"provenance"``, the command, the number of cores and the thread
settings (``OMP_NUM_THREADS`` and the like) it ran with; the book page prints them.
``--part`` runs one half, so the two halves can run in parallel and are merged at the end
(the merged ``"seconds"`` is the sum of the two halves)::

    .venv/bin/python experiments/lstm_reber.py                 # everything
    .venv/bin/python experiments/lstm_reber.py --part reber-lstm
    .venv/bin/python experiments/lstm_reber.py --part reber-rnn-and-stream
    .venv/bin/python experiments/lstm_reber.py --merge
"""

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from rnnlib import data, optim, provenance
from rnnlib.model import SequenceModel
from rnnlib.train import fit, fit_stream

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "lstm_reber.json"
WEIGHTS = HERE / "lstm_reber_weights.npz"

#: Settings of the embedded Reber experiment (Experiment 1 of the 1997 paper).
REBER = {
    "n_train": 256,
    "n_test": 256,
    "seeds": list(range(10)),
    "batch_size": 32,
    "eval_every": 25,
    "max_sequences": 100_000,
    "learning_rate": 0.01,
    "optimizer": "Adam",
    "models": {
        "LSTM with forget gate": {"cell": "lstm", "hidden_size": 16, "forget_gate": True},
        "LSTM without forget gate (1997 cell)": {"cell": "lstm", "hidden_size": 16,
                                                 "forget_gate": False},
        "basic RNN": {"cell": "rnn", "hidden_size": 32},
    },
}

#: Settings of the continual stream experiment (Gers, Schmidhuber and Cummins 2000).
STREAM = {
    "seeds": [0, 1, 2],
    "hidden_size": 16,
    "n_streams": 16,
    "chunk": 40,
    "optimizer_steps": 1000,
    "learning_rate": 0.01,
    "clip": 1.0,
    "log_every": 50,
}


def make_model(spec, seed):
    options = {"forget_gate": spec["forget_gate"]} if spec["cell"] == "lstm" else {}
    return SequenceModel(spec["cell"], 7, spec["hidden_size"], 7, rng=seed, **options)


def fraction_solved(model, batch):
    """Fraction of the strings of ``batch`` (a data.ReberBatch) predicted correctly at every
    step, by the criterion of the 1997 paper (:func:`rnnlib.data.reber_strings_correct`)."""
    return float(data.reber_strings_correct(model.forward(batch.X), batch).mean())


def train_until_solved(model, train, test, *, optimizer, max_sequences, batch_size,
                       eval_every, rng):
    """Train on Reber strings until every training and every test string is solved.

    Every step draws ``batch_size`` different strings of ``train`` (data.ReberBatch, N
    strings), trimmed to the longest of them; every ``eval_every`` steps the criterion is
    checked on both whole sets, and :func:`rnnlib.train.fit` stops at the first check that
    finds them solved, or after ``max_sequences`` training strings.

    Returns
    -------
    dict
        ``"solved"`` (bool); ``"sequences"``: training strings presented until the check that
        found the task solved (None if it never was); ``"curve"``: ``(sequences, fraction of
        training strings solved, fraction of test strings solved)`` at every check;
        ``"seconds"``.
    """
    lengths = train.mask.sum(axis=1)  # (N,)

    def batches(rng):
        rows = rng.choice(len(lengths), batch_size, replace=False)
        T = int(lengths[rows].max())  # trim the padding this batch does not need
        return train.X[rows, :T], train.targets[rows, :T], train.mask[rows, :T]

    def check(model, step):
        if step == 0 or step % eval_every:  # checks only every eval_every steps
            return None
        return fraction_solved(model, train), fraction_solved(model, test)

    history = fit(model, batches, optimizer, -(-max_sequences // batch_size), progress=False,
                  callback=check, eval_every=eval_every, loss="cross_entropy", rng=rng,
                  stop_when=lambda result: result is not None and result == (1.0, 1.0))
    solved = history["stopped_at"] is not None
    return {"solved": solved,
            "sequences": history["stopped_at"] * batch_size if solved else None,
            "curve": [(step * batch_size, *result) for step, result in history["callback"]
                      if result is not None],
            "seconds": history["seconds"]}


def run_reber(model_names):
    runs = []
    for name in model_names:
        spec = REBER["models"][name]
        for seed in REBER["seeds"]:
            train, test = data.reber_train_test_sets(
                REBER["n_train"], REBER["n_test"], rng=10_000 + seed)
            model = make_model(spec, seed)
            result = train_until_solved(
                model, train, test, optimizer=optim.Adam(REBER["learning_rate"]),
                max_sequences=REBER["max_sequences"], batch_size=REBER["batch_size"],
                eval_every=REBER["eval_every"], rng=20_000 + seed)
            runs.append({"model": name, "seed": seed, "parameters": model.num_parameters(),
                         **result})
            print(f"{name:38s} seed {seed}: solved={result['solved']} "
                  f"sequences={result['sequences']} ({result['seconds']:.0f} s)", flush=True)
    return runs


def run_stream():
    logs, weights = [], {}
    for forget_gate in (True, False):
        for seed in STREAM["seeds"]:
            stream = data.reber_stream(STREAM["n_streams"],
                                       STREAM["optimizer_steps"] * STREAM["chunk"],
                                       rng=30_000 + seed)
            model = SequenceModel("lstm", 7, STREAM["hidden_size"], 7, rng=seed,
                                  forget_gate=forget_gate)
            start = time.perf_counter()
            history = fit_stream(
                model, stream.X, stream.targets, optim.Adam(STREAM["learning_rate"]),
                chunk=STREAM["chunk"], clip=STREAM["clip"], loss="cross_entropy",
                log_every=STREAM["log_every"],
                callback=lambda m, states, position: float(np.abs(states[0][1]).mean()))
            log = {"symbols": history["position"], "loss": history["loss"],
                   "mean_abs_state": history["callback"]}  # mean |s| of the LSTM layer
            seconds = time.perf_counter() - start
            logs.append({"forget_gate": forget_gate, "seed": seed, "seconds": seconds, **log})
            print(f"stream, forget_gate={forget_gate}, seed {seed}: final loss "
                  f"{log['loss'][-1]:.3f}, mean |s| {log['mean_abs_state'][-1]:.1f} "
                  f"({seconds:.0f} s)", flush=True)
            if seed == 0:
                tag = "forget" if forget_gate else "no_forget"
                for key, value in model.params.items():
                    weights[f"{tag}/{key}"] = value
    return logs, weights


def environment():
    import rnnlib

    return {"python": platform.python_version(), "numpy": np.__version__,
            "rnnlib": rnnlib.__version__, "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d", time.gmtime())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "reber-lstm", "reber-rnn-and-stream"],
                        default="all")
    parser.add_argument("--merge", action="store_true",
                        help="merge the two part files into the final results")
    args = parser.parse_args()
    lstm_names = ["LSTM with forget gate", "LSTM without forget gate (1997 cell)"]
    if args.merge:
        a = json.loads((HERE / "lstm_reber.reber-lstm.json").read_text())
        b = json.loads((HERE / "lstm_reber.reber-rnn-and-stream.json").read_text())
        merged = {**b, "reber_runs": a["reber_runs"] + b["reber_runs"],
                  "seconds": a["seconds"] + b["seconds"]}
        RESULTS.write_text(json.dumps(merged, indent=1) + "\n")
        print("wrote", RESULTS)
        return
    start = time.perf_counter()
    results = {"reber_settings": REBER, "stream_settings": STREAM,
               "environment": environment(), "provenance": provenance.record(),
               "reber_runs": [], "stream_logs": []}
    if args.part in ("all", "reber-lstm"):
        results["reber_runs"] += run_reber(lstm_names)
    if args.part in ("all", "reber-rnn-and-stream"):
        results["reber_runs"] += run_reber(["basic RNN"])
        results["stream_logs"], weights = run_stream()
        np.savez_compressed(WEIGHTS, **weights)
        print("wrote", WEIGHTS)
    results["seconds"] = time.perf_counter() - start
    path = RESULTS if args.part == "all" else HERE / f"lstm_reber.{args.part}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print("wrote", path)


if __name__ == "__main__":
    provenance.pin_numerics()  # the same floating-point kernels on every x86-64 machine
    main()
