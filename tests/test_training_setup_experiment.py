"""The initialisation and regularisation experiment: the script runs end to end on a tiny
configuration, and the committed results have the documented layout."""

import importlib.util
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "experiments" / "training_setup.py"
RESULTS = ROOT / "experiments" / "results" / "training_setup.json"


@pytest.fixture(scope="module")
def training_setup():
    spec = importlib.util.spec_from_file_location("training_setup", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tiny_configuration_runs_end_to_end(training_setup, tmp_path):
    out = tmp_path / "tiny.json"
    training_setup.main(["--config", "tiny", "--out", str(out), "--quiet"])
    results = json.loads(out.read_text())
    assert training_setup.validate_results(results)
    assert {r["label"] for r in results["init_runs"]} == set(training_setup.INITS)
    assert {r["label"] for r in results["regularization_runs"]} == set(
        training_setup.REGULARIZERS)
    for run in results["init_runs"]:
        assert 0 < run["steps"] <= results["config"]["max_steps"]


def test_initialisations_are_what_they_say(training_setup):
    import numpy as np

    from rnnlib import init

    identity = training_setup.build_model("rnn_identity", 0)
    np.testing.assert_array_equal(identity.params["layer0.W"][2:], np.eye(32))
    orthogonal = training_setup.build_model("rnn_orthogonal", 0)
    W_h = orthogonal.params["layer0.W"][2:]
    np.testing.assert_allclose(W_h.T @ W_h, np.eye(32), atol=1e-12)
    bias_1 = training_setup.build_model("lstm_bias_1", 0)
    np.testing.assert_array_equal(bias_1.params["layer0.b"][:16], 1.0)
    bias_0 = training_setup.build_model("lstm_bias_0", 0)
    assert np.abs(bias_0.params["layer0.b"][:16]).max() <= 0.25  # PyTorch's 1/sqrt(16)
    radius = init.recurrent_spectral_radii(
        training_setup.build_model("rnn_uniform", 0).layer_params(0), 2, "rnn")["h"]
    assert 0.3 < radius < 0.9


def test_committed_results_are_valid(training_setup):
    results = json.loads(RESULTS.read_text())
    assert training_setup.validate_results(results)
    assert results["config"] == training_setup.CONFIGS["full"]
    assert results["provenance"]["git"]["dirty"] is False
