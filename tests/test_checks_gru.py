"""Tests for the GRU exercise checks: pass on a solution, name each usual mistake, fail
politely on the stub and on a function that raises."""

import numpy as np
import pytest

from rnnlib import checks, gru
from rnnlib.activations import sigmoid
from rnnlib.checks import gru as gru_checks


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def broken(*args, **kwargs):
    return args[0] @ np.ones((1000, 3))  # a shape error inside the learner's code


# ------------------------------------------------------------------------ parameter count


def parameter_count_solution(input_size, hidden_size, convention="cho"):
    D, H = input_size, hidden_size
    return 3 * H * (D + H) + 3 * H + (H if convention == "pytorch" else 0)


def test_parameter_count_passes_on_a_solution(capsys):
    result = checks.gru_parameter_count(parameter_count_solution)
    assert result
    assert "✔ gru_parameter_count" in capsys.readouterr().out


def test_parameter_count_solution_matches_init_params():
    for convention in gru.CONVENTIONS:
        params = gru.init_params(5, 7, rng=0, convention=convention)
        assert sum(p.size for p in params.values()) == parameter_count_solution(5, 7, convention)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda D, H, convention="cho": 4 * H * (D + H) + 4 * H, "LSTM"),
        (lambda D, H, convention="cho": 3 * H * (D + H), "without the biases"),
        (lambda D, H, convention="cho": 3 * H * (D + H) + 6 * H, "two full bias vectors"),
        (lambda D, H, convention="cho": 3 * H * (D + H) + 3 * H, "b_hn forgotten"),
        (lambda D, H, convention="cho": 3 * H * D + H * H + 3 * H
         + (H if convention == "pytorch" else 0), "single hidden-to-hidden block"),
    ],
)
def test_parameter_count_names_the_usual_mistakes(wrong, words):
    result = checks.gru_parameter_count(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_parameter_count_float_answer_is_a_dtype_failure():
    result = checks.gru_parameter_count(lambda D, H, convention="cho": float(
        parameter_count_solution(D, H, convention)))
    assert not result
    assert result.status == "wrong-dtype"


def test_parameter_count_fails_without_raising_on_the_stub():
    result = checks.gru_parameter_count(stub)
    assert not result
    assert result.status == "not-implemented"


def test_parameter_count_without_convention_argument_reports_an_exception():
    result = checks.gru_parameter_count(lambda D, H: 3 * H * (D + H) + 3 * H)
    assert not result
    assert result.status == "exception"


# ---------------------------------------------------------------------------- step forward


def step_forward_solution(x, h_prev, params):
    H = h_prev.shape[1]
    W, b = params["W"], params["b"]
    z = np.concatenate([x, h_prev], axis=1)
    gates = sigmoid(z @ W[:, : 2 * H] + b[: 2 * H])
    r, u = gates[:, :H], gates[:, H:]
    a = np.tanh(np.concatenate([x, r * h_prev], axis=1) @ W[:, 2 * H :] + b[2 * H :])
    return (1 - u) * h_prev + u * a


def _pieces(x, h_prev, params):
    H = h_prev.shape[1]
    W, b = params["W"], params["b"]
    z = np.concatenate([x, h_prev], axis=1)
    r = sigmoid(z @ W[:, :H] + b[:H])
    u = sigmoid(z @ W[:, H : 2 * H] + b[H : 2 * H])
    return H, W, b, r, u


def pytorch_interpolation(x, h_prev, params):
    H, W, b, r, u = _pieces(x, h_prev, params)
    a = np.tanh(np.concatenate([x, r * h_prev], axis=1) @ W[:, 2 * H :] + b[2 * H :])
    return u * h_prev + (1 - u) * a


def gates_swapped(x, h_prev, params):
    H, W, b, r, u = _pieces(x, h_prev, params)
    a = np.tanh(np.concatenate([x, u * h_prev], axis=1) @ W[:, 2 * H :] + b[2 * H :])
    return (1 - r) * h_prev + r * a


def reset_after_product(x, h_prev, params):
    H, W, b, r, u = _pieces(x, h_prev, params)
    D = x.shape[1]
    a = np.tanh(x @ W[:D, 2 * H :] + b[2 * H :] + r * (h_prev @ W[D:, 2 * H :]))
    return (1 - u) * h_prev + u * a


def reset_ignored(x, h_prev, params):
    H, W, b, r, u = _pieces(x, h_prev, params)
    a = np.tanh(np.concatenate([x, h_prev], axis=1) @ W[:, 2 * H :] + b[2 * H :])
    return (1 - u) * h_prev + u * a


def sigmoid_candidate(x, h_prev, params):
    H, W, b, r, u = _pieces(x, h_prev, params)
    a = sigmoid(np.concatenate([x, r * h_prev], axis=1) @ W[:, 2 * H :] + b[2 * H :])
    return (1 - u) * h_prev + u * a


def test_step_forward_passes_on_a_solution(capsys):
    result = checks.gru_step_forward(step_forward_solution)
    assert result
    assert "✔ gru_step_forward" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (pytorch_interpolation, "PyTorch's way round"),
        (gates_swapped, "reset and update gates swapped"),
        (reset_after_product, "reset gate applied after the product"),
        (reset_ignored, "ignores the reset gate"),
        (sigmoid_candidate, "sigmoid for the candidate"),
    ],
)
def test_step_forward_names_the_usual_mistakes(wrong, words):
    result = checks.gru_step_forward(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_step_forward_returning_the_rnnlib_triple_is_a_type_failure():
    result = checks.gru_step_forward(lambda x, h_prev, params: gru.step_forward(x, h_prev, params))
    assert not result
    assert result.status == "wrong-type"


def test_step_forward_float64_result_for_float32_inputs_is_a_dtype_failure():
    result = checks.gru_step_forward(
        lambda x, h_prev, params: step_forward_solution(x, h_prev, params).astype(np.float64))
    assert not result
    assert result.status == "wrong-dtype"


def test_step_forward_fails_without_raising_on_the_stub_and_on_an_error():
    assert checks.gru_step_forward(stub).status == "not-implemented"
    result = checks.gru_step_forward(broken)
    assert not result
    assert result.status == "exception"


# ----------------------------------------------------------------- PyTorch -> memo weights


def pytorch_to_cho_solution(params):
    W, b, b_hn = params["W"], params["b"], params["b_hn"]
    H = b_hn.shape[0]
    W_hn = W[-H:, 2 * H :]
    if np.any(W_hn[~np.eye(H, dtype=bool)] != 0) or np.any(b_hn != 0):
        raise ValueError("no exact conversion")
    W, b = W.copy(), b.copy()
    W[:, H : 2 * H] *= -1
    b[H : 2 * H] *= -1
    return {"W": W, "b": b}


def test_pytorch_to_cho_passes_on_a_solution(capsys):
    result = checks.gru_pytorch_to_cho(pytorch_to_cho_solution)
    assert result
    out = capsys.readouterr().out
    assert "✔ gru_pytorch_to_cho" in out
    assert "refused with ValueError" in out


def test_pytorch_to_cho_solution_really_converts():
    rng = np.random.default_rng(5)
    D, H = 3, 4
    params = gru.init_params(D, H, rng=rng, convention="pytorch")
    params["W"][D:, 2 * H :] = np.diag(rng.normal(size=H))
    params["b_hn"][:] = 0
    X = rng.normal(size=(2, 6, D))
    Y_pytorch = gru.forward(X, None, params, convention="pytorch")[0]
    Y_cho = gru.forward(X, None, pytorch_to_cho_solution(params), convention="cho")[0]
    np.testing.assert_allclose(Y_cho, Y_pytorch, rtol=0, atol=1e-14)


def _without_refusal(params):
    H = params["b_hn"].shape[0]
    W, b = params["W"].copy(), params["b"].copy()
    W[:, H : 2 * H] *= -1
    b[H : 2 * H] *= -1
    return {"W": W, "b": b}


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda p: {"W": p["W"].copy(), "b": p["b"].copy()}, "negate the z block"),
        (lambda p: {"W": np.concatenate([p["W"][:, :p["b_hn"].size],
                                         1 - p["W"][:, p["b_hn"].size: 2 * p["b_hn"].size],
                                         p["W"][:, 2 * p["b_hn"].size:]], axis=1),
                    "b": np.concatenate([p["b"][:p["b_hn"].size],
                                         1 - p["b"][p["b_hn"].size: 2 * p["b_hn"].size],
                                         p["b"][2 * p["b_hn"].size:]])},
         "1 - W"),
    ],
)
def test_pytorch_to_cho_names_the_usual_mistakes(wrong, words):
    result = checks.gru_pytorch_to_cho(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_pytorch_to_cho_bias_not_negated_is_named():
    def weights_only(params):
        H = params["b_hn"].shape[0]
        W = params["W"].copy()
        W[:, H : 2 * H] *= -1
        return {"W": W, "b": params["b"].copy()}

    result = checks.gru_pytorch_to_cho(weights_only)
    assert not result
    assert "bias" in result.hint


def test_pytorch_to_cho_keeping_b_hn_is_a_type_failure():
    result = checks.gru_pytorch_to_cho(lambda p: {**_without_refusal(p), "b_hn": p["b_hn"]})
    assert not result
    assert result.status == "wrong-type"
    assert "b_hn" in result.message


def test_pytorch_to_cho_must_refuse_what_cannot_be_converted():
    result = checks.gru_pytorch_to_cho(_without_refusal)
    assert not result
    assert result.status == "wrong-value"
    assert "cannot be converted exactly" in result.message
    assert "not diagonal" in result.hint


def test_pytorch_to_cho_must_refuse_a_nonzero_b_hn():
    def refuses_only_off_diagonal(params):
        H = params["b_hn"].shape[0]
        W_hn = params["W"][-H:, 2 * H :]
        if np.any(W_hn[~np.eye(H, dtype=bool)] != 0):
            raise ValueError("not diagonal")
        return _without_refusal(params)

    result = checks.gru_pytorch_to_cho(refuses_only_off_diagonal)
    assert not result
    assert "b_hn is not zero" in result.hint


def test_pytorch_to_cho_refusing_with_another_exception_is_reported():
    def refuses_with_runtime_error(params):
        H = params["b_hn"].shape[0]
        if np.any(params["b_hn"] != 0) or np.any(params["W"][-H:, 2 * H :][~np.eye(H, dtype=bool)]):
            raise RuntimeError("impossible")
        return _without_refusal(params)

    result = checks.gru_pytorch_to_cho(refuses_with_runtime_error)
    assert not result
    assert result.status == "exception"
    assert "ValueError" in result.hint


def test_pytorch_to_cho_changing_the_argument_in_place_fails():
    def in_place(params):
        H = params["b_hn"].shape[0]
        params["W"][:, H : 2 * H] *= -1
        params["b"][H : 2 * H] *= -1
        return {"W": params["W"], "b": params["b"]}

    result = checks.gru_pytorch_to_cho(in_place)
    assert not result
    assert result.status == "modified-input"


def test_pytorch_to_cho_fails_without_raising_on_the_stub_and_on_a_non_function():
    assert checks.gru_pytorch_to_cho(stub).status == "not-implemented"
    assert checks.gru_pytorch_to_cho(None).status == "not-callable"


# ------------------------------------------------------------------ update gate backward


def update_backward_solution(dh, h_prev, a, u):
    return dh * (a - h_prev) * u * (1 - u)


def test_update_backward_reference_is_rnnlibs_backward():
    # One sequence (N=1): the gradient of b's u block is exactly dp_u of that sequence.
    rng = np.random.default_rng(3)
    D, H = 3, 4
    params = gru.init_params(D, H, rng=rng)
    x = rng.normal(size=(1, D))
    h_prev = rng.uniform(-0.9, 0.9, (1, H))
    h, _, cache = gru.step_forward(x, h_prev, params)
    # u and a from the memo's equations, not from the cache's internals; the step's
    # public output confirms they are the step's own.
    _, W, b, r, u = _pieces(x, h_prev, params)
    a = np.tanh(np.concatenate([x, r * h_prev], axis=1) @ W[:, 2 * H :] + b[2 * H :])
    np.testing.assert_allclose(h, (1 - u) * h_prev + u * a, rtol=1e-12, atol=1e-14)
    dh = rng.normal(size=(1, H))
    _, _, grads = gru.step_backward(dh, None, cache)
    expected = gru_checks._reference_update_backward(dh, h_prev, a, u)
    np.testing.assert_allclose(grads["b"][H : 2 * H], expected[0], rtol=1e-12, atol=1e-14)


def test_update_backward_passes_on_a_solution(capsys):
    assert checks.gru_update_gate_backward(update_backward_solution)
    assert "✔ gru_update_gate_backward" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda dh, h, a, u: dh * (a - h), "without the sigmoid's derivative"),
        (lambda dh, h, a, u: dh * (h - a) * u * (1 - u), "PyTorch's sign"),
        (lambda dh, h, a, u: dh * (a - h) * (1 - u**2), "tanh derivative"),
        (lambda dh, h, a, u: dh * u * (1 - u), "without dh/du"),
        (lambda dh, h, a, u: dh * u, "candidate's path"),
    ],
)
def test_update_backward_names_the_usual_mistakes(wrong, words):
    result = checks.gru_update_gate_backward(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_update_backward_fails_without_raising_on_the_stub():
    assert checks.gru_update_gate_backward(stub).status == "not-implemented"
    assert checks.gru_update_gate_backward(lambda dh, h, a, u: dh.T).status == "wrong-shape"


# ---------------------------------------------------------------------- no reset gate


def no_reset_solution(x, h_prev, params):
    H = h_prev.shape[1]
    z = np.concatenate([x, h_prev], axis=1)
    u = sigmoid(z @ params["W"][:, :H] + params["b"][:H])
    a = np.tanh(z @ params["W"][:, H:] + params["b"][H:])
    return (1 - u) * h_prev + u * a


def test_no_reset_passes_on_a_solution(capsys):
    assert checks.gru_no_reset_step(no_reset_solution)
    assert "✔ gru_no_reset_step" in capsys.readouterr().out


def _no_reset_variant(order="ua", interpolation="memo", reset=1.0):
    def step(x, h_prev, params):
        H, D = h_prev.shape[1], x.shape[1]
        u_block, a_block = (slice(0, H), slice(H, 2 * H)) if order == "ua" else (
            slice(H, 2 * H), slice(0, H))
        z = np.concatenate([x, h_prev], axis=1)
        u = sigmoid(z @ params["W"][:, u_block] + params["b"][u_block])
        W_a = params["W"][:, a_block]
        a = np.tanh(x @ W_a[:D] + reset * (h_prev @ W_a[D:]) + params["b"][a_block])
        if interpolation == "memo":
            return (1 - u) * h_prev + u * a
        return u * h_prev + (1 - u) * a
    return step


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_no_reset_variant(interpolation="pytorch"), "PyTorch's way round"),
        (_no_reset_variant(order="au"), "order a, u"),
        (_no_reset_variant(reset=0.0), "input alone"),
    ],
)
def test_no_reset_names_the_usual_mistakes(wrong, words):
    result = checks.gru_no_reset_step(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_no_reset_fails_without_raising_on_the_stub_and_on_an_error():
    assert checks.gru_no_reset_step(stub).status == "not-implemented"
    assert checks.gru_no_reset_step(broken).status == "exception"
