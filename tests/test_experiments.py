"""The head-to-head experiment: the script runs end to end on a tiny configuration, and the
committed results have the documented layout and follow from their own runs."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "head_to_head.py"
RESULTS = ROOT / "experiments" / "results" / "head_to_head.json"


@pytest.fixture(scope="module")
def head_to_head():
    spec = importlib.util.spec_from_file_location("head_to_head", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_results(head_to_head, tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "tiny.json"
    head_to_head.main(["--config", "tiny", "--out", str(out), "--quiet"])
    return json.loads(out.read_text())


def test_tiny_configuration_runs_end_to_end(head_to_head, tiny_results):
    config = head_to_head.CONFIGS["tiny"]
    assert head_to_head.validate_results(tiny_results)
    tasks = {run["task"] for run in tiny_results["runs"]}
    assert tasks == {"adding", "copy", "reber"}
    assert {run["arch"] for run in tiny_results["runs"]} == set(head_to_head.ARCHITECTURES)
    for run in tiny_results["runs"]:
        assert 0 < run["steps"] <= config["max_steps"]
        assert run["sequences"] == run["steps"] * config["batch_size"]
        assert 0.0 <= run["test_correct"] <= 1.0
    assert tiny_results["config_name"] == "tiny"
    assert tiny_results["run_time_seconds"] >= 0


def test_validate_results_names_what_is_wrong(head_to_head, tiny_results):
    broken = json.loads(json.dumps(tiny_results))
    del broken["versions"]
    with pytest.raises(ValueError, match="versions"):
        head_to_head.validate_results(broken)
    broken = json.loads(json.dumps(tiny_results))
    broken["runs"][0]["solved"] = "yes"
    with pytest.raises(ValueError, match="solved"):
        head_to_head.validate_results(broken)
    broken = json.loads(json.dumps(tiny_results))
    broken["runs"] = broken["runs"][:-1]
    with pytest.raises(ValueError, match="runs"):
        head_to_head.validate_results(broken)
    broken = json.loads(json.dumps(tiny_results))
    broken["runs"][0]["solved"] = not broken["runs"][0]["solved"]
    with pytest.raises(ValueError, match="summary"):
        head_to_head.validate_results(broken)


def test_same_seed_same_results(head_to_head):
    config = head_to_head.CONFIGS["tiny"]
    task = head_to_head.Task("copy", 2, config)
    validation = task.evaluation_set(8, 1)
    test = task.evaluation_set(8, 2)
    first = head_to_head.run_one(task, "gru", 0, config, validation, test)
    second = head_to_head.run_one(task, "gru", 0, config, validation, test)
    for key in ("solved", "steps", "validation_correct", "test_correct", "final_loss"):
        assert first[key] == second[key]


def test_architectures_have_comparable_sizes(head_to_head):
    counts = head_to_head.parameter_counts()
    assert max(counts.values()) / min(counts.values()) < 1.25


def test_reber_pool_respects_the_minimum_length(head_to_head):
    pool = head_to_head.reber_pool(15, seed=3, size=50)
    assert len(pool) == 50 and min(len(s) for s in pool) >= 15
    with pytest.raises(ValueError, match="lag"):
        head_to_head.reber_pool(100, seed=3)


def test_unknown_task_and_configuration_are_refused(head_to_head):
    with pytest.raises(ValueError, match="task"):
        head_to_head.Task("parity", 3, head_to_head.CONFIGS["tiny"])
    with pytest.raises(ValueError, match="config_name"):
        head_to_head.run("huge")


def test_committed_results_have_the_documented_layout(head_to_head):
    if not RESULTS.exists():
        pytest.fail(f"{RESULTS} is missing: run the command in the script's docstring")
    results = json.loads(RESULTS.read_text())
    assert head_to_head.validate_results(results)
    assert results["config_name"] == "full"
    assert results["config"] == head_to_head.CONFIGS["full"]
    assert results["run_time_seconds"] < 60 * 60
    assert "head_to_head.py" in results["command"]


# ---------------------------------------------------------------------------------------
# The LSTM chapter's Reber script
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lstm_reber():
    spec = importlib.util.spec_from_file_location("lstm_reber", ROOT / "experiments" /
                                                  "lstm_reber.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lstm_reber_train_until_solved_respects_the_budget(lstm_reber):
    from rnnlib import data, optim
    from rnnlib.model import SequenceModel

    train, test = data.reber_train_test_sets(16, 16, rng=2)
    model = SequenceModel("lstm", 7, 3, 7, rng=0)
    result = lstm_reber.train_until_solved(model, train, test, optimizer=optim.Adam(0.01),
                                           max_sequences=64, batch_size=8, eval_every=4,
                                           rng=0)
    assert result["solved"] is False and result["sequences"] is None
    assert [point[0] for point in result["curve"]] == [32, 64]
    for _, on_train, on_test in result["curve"]:
        assert 0.0 <= on_train <= 1.0 and 0.0 <= on_test <= 1.0


def test_lstm_reber_fraction_solved_uses_the_paper_criterion(lstm_reber):
    from rnnlib import data

    class Oracle:
        """Outputs the legal-next sets themselves, one step spoiled if asked."""

        def __init__(self, batch, spoil=None):
            self.batch, self.spoil = batch, spoil

        def forward(self, X):
            outputs = self.batch.legal.astype(float)
            if self.spoil is not None:
                outputs[self.spoil] = 1 - outputs[self.spoil]
            return outputs

    train, _ = data.reber_train_test_sets(8, 1, rng=1)
    assert lstm_reber.fraction_solved(Oracle(train), train) == 1.0
    assert lstm_reber.fraction_solved(Oracle(train, spoil=(3, 2)), train) == 7 / 8
