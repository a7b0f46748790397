"""Tests for the LSTM exercise checks: pass on a solution, name each usual mistake, fail
politely on the stub."""

import numpy as np
import pytest

from rnnlib import checks, lstm
from rnnlib.activations import sigmoid


def stub(*args):
    # YOUR CODE HERE
    raise NotImplementedError()


def _gates(x, h_prev, W, b, n_blocks=4):
    z = np.concatenate([x, h_prev], axis=1)
    return np.split(z @ W + b, n_blocks, axis=1)


# ----------------------------------------------------------------------------- forward


def step_forward_solution(x, h_prev, s_prev, W, b):
    f, i, a, o = _gates(x, h_prev, W, b)
    f, i, a, o = sigmoid(f), sigmoid(i), np.tanh(a), sigmoid(o)
    s = f * s_prev + i * a
    return o * np.tanh(s), s


def torch_order(x, h_prev, s_prev, W, b):
    i, f, a, o = _gates(x, h_prev, W, b)
    f, i, a, o = sigmoid(f), sigmoid(i), np.tanh(a), sigmoid(o)
    s = f * s_prev + i * a
    return o * np.tanh(s), s


def memo_update(x, h_prev, s_prev, W, b):
    f, i, a, o = _gates(x, h_prev, W, b)
    i, a, o = sigmoid(i), np.tanh(a), sigmoid(o)
    s = s_prev + i * a
    return o * np.tanh(s), s


def transposed_weights(x, h_prev, s_prev, W, b):
    z = np.concatenate([x, h_prev], axis=1)
    f, i, a, o = np.split((W @ z.T).T + b, 4, axis=1)
    f, i, a, o = sigmoid(f), sigmoid(i), np.tanh(a), sigmoid(o)
    s = f * s_prev + i * a
    return o * np.tanh(s), s


def sigmoid_candidate(x, h_prev, s_prev, W, b):
    f, i, a, o = (sigmoid(p) for p in _gates(x, h_prev, W, b))
    s = f * s_prev + i * a
    return o * np.tanh(s), s


def unsquashed_output(x, h_prev, s_prev, W, b):
    f, i, a, o = _gates(x, h_prev, W, b)
    f, i, a, o = sigmoid(f), sigmoid(i), np.tanh(a), sigmoid(o)
    s = f * s_prev + i * a
    return o * s, s


def test_step_forward_passes_on_a_solution(capsys):
    result = checks.lstm_step_forward(step_forward_solution)
    assert result
    assert "✔ lstm_step_forward" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (torch_order, "PyTorch's order i, f, g, o"),
        (memo_update, "without the forget gate"),
        (transposed_weights, "transposed weight matrix"),
        (sigmoid_candidate, "sigmoid for the input activation"),
        (unsquashed_output, "without the tanh"),
        (lambda *args: step_forward_solution(*args)[::-1], "wrong order"),
    ],
)
def test_step_forward_names_the_usual_mistakes(wrong, words):
    result = checks.lstm_step_forward(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_step_forward_fails_politely_on_the_stub():
    result = checks.lstm_step_forward(stub)
    assert not result
    assert result.status == "not-implemented"


def test_step_forward_reports_an_exception_without_raising():
    def broken(x, h_prev, s_prev, W, b):
        return np.concatenate([x, h_prev]) @ W  # axis missing: shapes do not fit

    result = checks.lstm_step_forward(broken)
    assert not result
    assert result.status == "exception"
    assert "ValueError" in result.message


def test_step_forward_float64_answer_for_float32_inputs_is_a_dtype_failure():
    def upcast(*args):
        return tuple(v.astype(np.float64) for v in step_forward_solution(*args))

    result = checks.lstm_step_forward(upcast)
    assert not result
    assert result.status == "wrong-dtype"
    assert "float32" in result.message


# ---------------------------------------------------------------------------- backward


def step_backward_solution(dh, ds_next, x, h_prev, s_prev, W, b, *, carousel=True,
                           output_derivative=True, order="fiao"):
    D = x.shape[1]
    z = np.concatenate([x, h_prev], axis=1)
    f, i, a, o = _gates(x, h_prev, W, b)
    f, i, a, o = sigmoid(f), sigmoid(i), np.tanh(a), sigmoid(o)
    tanh_s = np.tanh(f * s_prev + i * a)
    ds = ds_next + dh * o * ((1 - tanh_s**2) if output_derivative else 1)
    pre = {"f": ds * s_prev * f * (1 - f), "i": ds * a * i * (1 - i),
           "a": ds * i * (1 - a**2), "o": dh * tanh_s * o * (1 - o)}
    dP = np.concatenate([pre[k] for k in order], axis=1)
    dz = dP @ W.T
    return dz[:, :D], dz[:, D:], ds * f if carousel else ds, z.T @ dP, dP.sum(axis=0)


def test_step_backward_passes_on_a_solution():
    assert checks.lstm_step_backward(step_backward_solution)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"carousel": False}, "carousel without the forget gate"),
        ({"output_derivative": False}, "without the derivative of tanh(s)"),
        ({"order": "ifao"}, "order i, f, a, o"),
    ],
)
def test_step_backward_names_the_usual_mistakes(options, words):
    def wrong(*args):
        return step_backward_solution(*args, **options)

    result = checks.lstm_step_backward(wrong)
    assert not result
    assert words in result.hint


def test_step_backward_ignoring_ds_next_is_named():
    def wrong(dh, ds_next, *rest):
        return step_backward_solution(dh, np.zeros_like(ds_next), *rest)

    result = checks.lstm_step_backward(wrong)
    assert not result
    assert "ignores ds_next" in result.hint


def test_step_backward_fails_politely_on_the_stub():
    result = checks.lstm_step_backward(stub)
    assert not result
    assert result.status == "not-implemented"


def test_step_backward_wrong_db_shape_is_reported():
    def db_per_row(*args):
        dx, dh_prev, ds_prev, dW, db = step_backward_solution(*args)
        return dx, dh_prev, ds_prev, dW, np.tile(db, (2, 1))

    result = checks.lstm_step_backward(db_per_row)
    assert not result
    assert result.status == "wrong-shape"


def test_step_backward_reference_agrees_with_rnnlib_sequence_backward():
    # The check's reference is rnnlib's step backward; a one-step sequence must agree.
    rng = np.random.default_rng(0)
    params = lstm.init_params(3, 2, rng=rng)
    X = rng.normal(size=(2, 1, 3))
    dY = rng.normal(size=(2, 1, 2))
    _, _, cache = lstm.forward(X, None, params)
    dX, _, grads = lstm.backward(dY, None, cache)
    zeros = np.zeros((2, 2))
    dx, _, _, dW, db = step_backward_solution(dY[:, 0], zeros, X[:, 0], zeros, zeros,
                                              params["W"], params["b"])
    assert np.allclose(dx, dX[:, 0]) and np.allclose(dW, grads["W"])
    assert np.allclose(db, grads["b"])


# ---------------------------------------------------------------------------- peepholes


def peephole_solution(x, h_prev, s_prev, W, b, p, *, output_sees_new=True, peep=True):
    f, i, a, o = _gates(x, h_prev, W, b)
    k = 1.0 if peep else 0.0
    f = sigmoid(f + k * p["f"] * s_prev)
    i = sigmoid(i + k * p["i"] * s_prev)
    s = f * s_prev + i * np.tanh(a)
    o = sigmoid(o + k * p["o"] * (s if output_sees_new else s_prev))
    return o * np.tanh(s), s


def test_peephole_passes_on_a_solution():
    assert checks.lstm_peephole_step_forward(peephole_solution)


def test_peephole_output_gate_on_the_old_state_is_named():
    result = checks.lstm_peephole_step_forward(
        lambda *args: peephole_solution(*args, output_sees_new=False))
    assert not result
    assert "previous state s_prev" in result.hint


def test_peephole_without_peepholes_is_named():
    result = checks.lstm_peephole_step_forward(
        lambda *args: peephole_solution(*args, peep=False))
    assert not result
    assert "without the peephole terms" in result.hint


def test_peephole_fails_politely_on_the_stub():
    assert checks.lstm_peephole_step_forward(stub).status == "not-implemented"


# ------------------------------------------------------------------ coupled input/forget


def coupled_solution(x, h_prev, s_prev, W, b, *, keep=None):
    i, a, o = _gates(x, h_prev, W, b, n_blocks=3)
    i, a, o = sigmoid(i), np.tanh(a), sigmoid(o)
    f = 1 - i if keep is None else keep(i)
    s = f * s_prev + i * a
    return o * np.tanh(s), s


def test_coupled_passes_on_a_solution():
    assert checks.lstm_coupled_step_forward(coupled_solution)


@pytest.mark.parametrize(
    ("keep", "words"),
    [(lambda i: i, "f = i instead of f = 1 - i"), (lambda i: 1.0, "without forgetting")],
)
def test_coupled_names_the_usual_mistakes(keep, words):
    result = checks.lstm_coupled_step_forward(lambda *args: coupled_solution(*args, keep=keep))
    assert not result
    assert words in result.hint


def test_coupled_rejects_the_four_block_cell_politely():
    # A learner who reuses the four-gate step on three blocks gets a verdict, not a crash.
    result = checks.lstm_coupled_step_forward(step_forward_solution)
    assert not result
    assert result.status in {"exception", "wrong-value", "wrong-shape"}


def test_coupled_fails_politely_on_the_stub():
    assert checks.lstm_coupled_step_forward(stub).status == "not-implemented"


def test_step_backward_dh_prev_through_one_block_is_named():
    def wrong(dh, ds_next, x, h_prev, s_prev, W, b):
        dx, _, ds_prev, dW, db = step_backward_solution(dh, ds_next, x, h_prev, s_prev, W, b)
        D, H = x.shape[1], h_prev.shape[1]
        f, i, a, o = _gates(x, h_prev, W, b)
        f, i, a, o = sigmoid(f), sigmoid(i), np.tanh(a), sigmoid(o)
        tanh_s = np.tanh(f * s_prev + i * a)
        do_pre = dh * tanh_s * o * (1 - o)  # (N, H): the output gate's pre-activation
        return dx, do_pre @ W[D:, 3 * H :].T, ds_prev, dW, db

    result = checks.lstm_step_backward(wrong)
    assert not result
    assert "output gate's block only" in result.hint


def test_step_backward_forget_gate_on_ds_next_is_named():
    def wrong(dh, ds_next, x, h_prev, s_prev, W, b):
        f = sigmoid(_gates(x, h_prev, W, b)[0])
        return step_backward_solution(dh, ds_next * f, x, h_prev, s_prev, W, b)

    result = checks.lstm_step_backward(wrong)
    assert not result
    assert "this step's forget gate" in result.hint
