"""The scheduled-sampling experiment: the script runs on a tiny configuration, seeds
reproduce, and the committed results have the documented layout."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "training.py"
RESULTS = ROOT / "experiments" / "results" / "training.json"


@pytest.fixture(scope="module")
def experiment():
    spec = importlib.util.spec_from_file_location("training_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_configuration_runs_end_to_end(experiment, tmp_path):
    out = tmp_path / "tiny.json"
    experiment.main(["--config", "tiny", "--out", str(out), "--quiet"])
    results = json.loads(out.read_text())
    assert experiment.validate_results(results)
    assert {run["method"] for run in results["runs"]} == {"teacher_forcing", "scheduled"}


def test_same_seed_same_results(experiment):
    config = experiment.CONFIGS["tiny"]
    first = experiment.run_one("scheduled", 100, 0, config)
    second = experiment.run_one("scheduled", 100, 0, config)
    assert first["horizon_errors"] == second["horizon_errors"]


def test_validate_results_names_what_is_wrong(experiment):
    with pytest.raises(ValueError, match="runs"):
        experiment.validate_results({"config_name": "tiny",
                                     "config": experiment.CONFIGS["tiny"], "runs": [],
                                     "run_time_seconds": 0.0, "provenance": {}})


@pytest.mark.skipif(not RESULTS.exists(), reason="results not committed yet")
def test_committed_results_are_valid_and_of_the_full_configuration(experiment):
    results = json.loads(RESULTS.read_text())
    assert experiment.validate_results(results)
    assert results["config"] == experiment.CONFIGS["full"]
