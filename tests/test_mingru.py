"""rnnlib.mingru: the step functions and the three ways of running a sequence agree, every
gradient passes the finite-difference check, values and gradients agree with the same
equations written with PyTorch's autograd, and bad input is named."""

import numpy as np
import pytest
import torch

from rnnlib import gradcheck, mingru

CONFIGS = [(variant, candidate, method)
           for variant in mingru.VARIANTS
           for candidate in mingru.CANDIDATES
           for method in mingru.SCANS
           if not (method == "log" and candidate == "linear")]


def _arrays(seed, variant, N=2, T=7, D=3, H=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = mingru.init_params(D, H, rng=rng, variant=variant, dtype=dtype)
    X = rng.normal(size=(N, T, D)).astype(dtype)
    h0 = rng.uniform(0.1, 1.0, (N, H)).astype(dtype)
    return X, h0, params


@pytest.mark.parametrize(("variant", "candidate", "method"), CONFIGS)
def test_sequence_equals_steps(variant, candidate, method):
    X, h0, params = _arrays(0, variant)
    Y, h_T, _ = mingru.forward(X, h0, params, variant=variant, candidate=candidate,
                               scan=method)
    h = h0
    for t in range(X.shape[1]):
        h, _, _ = mingru.step_forward(X[:, t], h, params, variant=variant,
                                      candidate=candidate)
        np.testing.assert_allclose(Y[:, t], h, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(h_T, h, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(("variant", "candidate", "method"), CONFIGS)
def test_gradient_check(variant, candidate, method):
    X, h0, params = _arrays(1, variant)
    errors = gradcheck.check_cell(mingru, X, h0, params, rng=2, variant=variant,
                                  candidate=candidate, scan=method)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("variant", mingru.VARIANTS)
def test_step_backward_gradient_check(variant):
    X, h0, params = _arrays(3, variant, T=1)
    x = X[:, 0]
    rng = np.random.default_rng(4)
    dh = rng.normal(size=h0.shape)

    def loss():
        return float(np.sum(mingru.step_forward(x, h0, params, variant=variant)[0] * dh))

    _, _, cache = mingru.step_forward(x, h0, params, variant=variant)
    dx, dh_prev, grads = mingru.step_backward(dh, None, cache)
    errors = gradcheck.check_gradients(loss, {"x": x, "h0": h0, **params},
                                       {"x": dx, "h0": dh_prev, **grads})
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("variant", mingru.VARIANTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_backwards_of_the_three_scans_agree(variant, dtype):
    X, h0, params = _arrays(5, variant, T=13, dtype=dtype)
    rng = np.random.default_rng(6)
    dY = rng.normal(size=(2, 13, 4)).astype(dtype)
    results = {}
    for method in mingru.SCANS:
        Y, _, cache = mingru.forward(X, h0, params, variant=variant, candidate="g",
                                     scan=method)
        results[method] = (Y, *mingru.backward(dY, None, cache))
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    for method in ("parallel", "log"):
        Y, dX, dh0, grads = results[method]
        Y_ref, dX_ref, dh0_ref, grads_ref = results["sequential"]
        np.testing.assert_allclose(Y, Y_ref, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(dX, dX_ref, rtol=rtol, atol=rtol)
        np.testing.assert_allclose(dh0, dh0_ref, rtol=rtol, atol=rtol)
        for key in grads:
            np.testing.assert_allclose(grads[key], grads_ref[key], rtol=rtol, atol=rtol)
            assert grads[key].dtype == dtype


def _torch_forward(X, h0, params, variant, candidate):
    """The module's equations, written with torch operations."""
    P = X @ params["W"] + params["b"]
    H = h0.shape[1]
    cand = P[..., -H:]
    if candidate == "g":
        cand = torch.where(cand >= 0, cand + 0.5, torch.sigmoid(cand))
    if variant == "mingru":
        u = torch.sigmoid(P[..., :H])
        alpha, beta = 1 - u, u * cand
    else:
        f, i = torch.sigmoid(P[..., :H]), torch.sigmoid(P[..., H : 2 * H])
        alpha, beta = f / (f + i), i / (f + i) * cand
    h, states = h0, []
    for t in range(X.shape[1]):
        h = alpha[:, t] * h + beta[:, t]
        states.append(h)
    return torch.stack(states, 1)


@pytest.mark.parametrize(("variant", "candidate", "method"), CONFIGS)
def test_agrees_with_torch_autograd(variant, candidate, method):
    X, h0, params = _arrays(7, variant)
    dY = np.random.default_rng(8).normal(size=(2, 7, 4))
    tX, th0 = torch.tensor(X, requires_grad=True), torch.tensor(h0, requires_grad=True)
    tparams = {k: torch.tensor(v, requires_grad=True) for k, v in params.items()}
    Y_torch = _torch_forward(tX, th0, tparams, variant, candidate)
    (Y_torch * torch.tensor(dY)).sum().backward()
    Y, _, cache = mingru.forward(X, h0, params, variant=variant, candidate=candidate,
                                 scan=method)
    dX, dh0, grads = mingru.backward(dY, None, cache)
    np.testing.assert_allclose(Y, Y_torch.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dX, tX.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh0, th0.grad.numpy(), rtol=1e-10, atol=1e-12)
    for key in params:
        np.testing.assert_allclose(grads[key], tparams[key].grad.numpy(), rtol=1e-10,
                                   atol=1e-12)


def test_g_and_log_g():
    x = np.linspace(-30, 30, 601)
    assert (mingru.g(x) > 0).all()
    np.testing.assert_allclose(np.exp(mingru.log_g(x)), mingru.g(x), rtol=1e-13)
    np.testing.assert_allclose(mingru.g(np.array([0.0, 2.0])), [0.5, 2.5])


def test_log_scan_survives_where_products_underflow():
    # 4000 steps with a = 0.5: the product of the a's underflows to 0 in float64.
    X, h0, params = _arrays(9, "mingru", N=1, T=4000, D=1, H=1)
    params["b"][:] = 0
    params["W"][:] = [[0.0, 1.0]]  # u = 1/2 everywhere, candidate from x
    Y, _, _ = mingru.forward(X, h0, params, candidate="g", scan="log")
    Y_loop, _, _ = mingru.forward(X, h0, params, candidate="g", scan="sequential")
    assert np.prod(np.full(4000, 0.5)) == 0.0
    np.testing.assert_allclose(Y, Y_loop, rtol=1e-9)


def test_parameters_and_errors():
    params = mingru.init_params(3, 5, rng=0, variant="minlstm")
    assert params["W"].shape == (3, 15) and params["b"].shape == (15,)
    assert mingru.check_params(params, 3, variant="minlstm") == 5
    X = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match=r"params\['W'\]: expected shape \(D, 2H\)"):
        mingru.forward(X, None, params)  # minLSTM weights given to minGRU
    with pytest.raises(ValueError, match="variant"):
        mingru.forward(X, None, params, variant="mingrux")
    with pytest.raises(ValueError, match="candidate: scan='log' needs"):
        mingru.forward(X, None, params, variant="minlstm", scan="log")
    with pytest.raises(ValueError, match="state0: scan='log' needs a state >= 0"):
        mingru.forward(X, -np.ones((2, 5)), params, variant="minlstm", candidate="g",
                       scan="log")
    with pytest.raises(ValueError, match="X: expected a 3-d array"):
        mingru.forward(X[0], None, params, variant="minlstm")
    with pytest.raises(ValueError, match="state"):
        mingru.step_forward(X[:, 0], np.zeros((2, 4)), params, variant="minlstm")


# --------------------------------------------------------------------------------------
# experiments/mingru.py: the stacked model, the script end to end, the committed results
# --------------------------------------------------------------------------------------

import importlib.util  # noqa: E402
import json  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "experiments" / "results" / "mingru.json"


@pytest.fixture(scope="module")
def experiment():
    spec = importlib.util.spec_from_file_location("mingru_experiment",
                                                  ROOT / "experiments" / "mingru.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("variant", mingru.VARIANTS)
@pytest.mark.parametrize("last_only", [False, True])
def test_stacked_model_gradient_check(experiment, variant, last_only):
    model = experiment.MinimalModel(3, 4, 2, num_layers=2, rng=0, variant=variant)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(2, 5, 3))
    targets = rng.normal(size=(2, 2) if last_only else (2, 5, 2))
    _, grads = model.loss_and_grads(X, targets, loss="mse", last_only=last_only)

    def loss():
        return float(model.loss_and_grads(X, targets, loss="mse", last_only=last_only)[0])

    errors = gradcheck.check_gradients(loss, model.params, grads)
    assert max(errors.values()) < 1e-7, errors


def test_stacked_model_scans_agree(experiment):
    X = np.random.default_rng(2).normal(size=(3, 20, 2))
    outputs = [experiment.MinimalModel(2, 5, 3, 2, rng=4, scan=method).predict(X)
               for method in ("sequential", "parallel")]
    np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-12, atol=1e-12)


def test_tiny_configuration_runs_end_to_end(experiment, tmp_path):
    out = tmp_path / "tiny.json"
    experiment.main(["--config", "tiny", "--out", str(out), "--quiet"])
    results = json.loads(out.read_text())
    assert experiment.validate_results(results)
    assert {run["arch"] for run in results["runs"]} == set(experiment.ARCHITECTURES)
    broken = json.loads(out.read_text())
    broken["runs"] = broken["runs"][:-1]
    with pytest.raises(ValueError, match="runs"):
        experiment.validate_results(broken)
    broken = json.loads(out.read_text())
    broken["timing"]["by_width"]["2"]["parallel"]["forward"] = 0
    with pytest.raises(ValueError, match="positive times"):
        experiment.validate_results(broken)


def test_committed_results_have_the_documented_layout(experiment):
    results = json.loads(RESULTS.read_text())
    assert experiment.validate_results(results)
    assert results["config_name"] == "full"
    assert results["config"] == experiment.CONFIGS["full"]
    assert "mingru.py" in results["provenance"]["command"]
    assert results["provenance"]["git"]["dirty"] is False
