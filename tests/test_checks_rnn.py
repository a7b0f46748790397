"""Tests for the basic-RNN exercise checks: pass on a solution, name each usual mistake,
fail politely on the stub."""

import numpy as np
import pytest

from rnnlib import checks, optim, rnn


def stub(*args):
    # YOUR CODE HERE
    raise NotImplementedError()


# ----------------------------------------------------------------------------- forward


def step_forward_solution(x, h_prev, W, b):
    z = np.concatenate([x, h_prev], axis=1)
    return np.tanh(z @ W + b)


def test_step_forward_passes_on_a_solution(capsys):
    result = checks.rnn_step_forward(step_forward_solution)
    assert result
    assert "✔ rnn_step_forward" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda x, h, W, b: np.tanh(np.concatenate([h, x], 1) @ W + b), "[h_prev, x]"),
        (lambda x, h, W, b: np.concatenate([x, h], 1) @ W + b, "without the tanh"),
        (lambda x, h, W, b: 1 / (1 + np.exp(-(np.concatenate([x, h], 1) @ W + b))),
         "sigmoid"),
        (lambda x, h, W, b: np.tanh(np.concatenate([x, h], 1) @ W), "without the bias"),
        (lambda x, h, W, b: np.tanh(x @ W[: x.shape[1]] + b), "ignores the previous state"),
    ],
)
def test_step_forward_names_the_usual_mistakes(wrong, words):
    result = checks.rnn_step_forward(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_step_forward_transposed_product_gets_a_shape_message():
    def transposed(x, h_prev, W, b):
        return np.tanh(np.concatenate([x, h_prev], 1) @ W + b).T

    result = checks.rnn_step_forward(transposed)
    assert not result
    assert result.status == "wrong-shape"
    assert "expected shape (2, 4), got (4, 2)" in result.message


def test_step_forward_float64_result_for_float32_inputs_is_a_dtype_failure():
    def upcast(x, h_prev, W, b):
        return step_forward_solution(x, h_prev, W, b).astype(np.float64)

    result = checks.rnn_step_forward(upcast)
    assert not result
    assert result.status == "wrong-dtype"


def test_step_forward_fails_without_raising_on_the_stub():
    result = checks.rnn_step_forward(stub)
    assert not result
    assert result.status == "not-implemented"


def test_step_forward_reports_an_exception():
    result = checks.rnn_step_forward(lambda x, h_prev, W, b: x @ W)
    assert not result
    assert result.status == "exception"


# ---------------------------------------------------------------------------- backward


def step_backward_solution(dh, x, h_prev, W, b):
    D = x.shape[1]
    z = np.concatenate([x, h_prev], axis=1)
    h = np.tanh(z @ W + b)
    da = dh * (1 - h**2)
    dz = da @ W.T
    return dz[:, :D], dz[:, D:], z.T @ da, da.sum(axis=0)


def _backward_variant(kind):
    def fn(dh, x, h_prev, W, b):
        D = x.shape[1]
        z = np.concatenate([x, h_prev], axis=1)
        a = z @ W + b
        h = np.tanh(a)
        da = {
            "no-derivative": dh,
            "pre-activation": dh * (1 - a**2),
            "no-square": dh * (1 - h),
            "db-not-summed": dh * (1 - h**2),
        }[kind]
        dz = da @ W.T
        db = da if kind == "db-not-summed" else da.sum(axis=0)
        return dz[:, :D], dz[:, D:], z.T @ da, db

    return fn


def test_step_backward_passes_on_a_solution():
    assert checks.rnn_step_backward(step_backward_solution)


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("no-derivative", "without the tanh derivative"),
        ("pre-activation", "square the output h, not a"),
        ("no-square", "1 - h instead of 1 - h**2"),
        ("db-not-summed", "sums da over the batch"),
    ],
)
def test_step_backward_names_the_usual_mistakes(kind, words):
    result = checks.rnn_step_backward(_backward_variant(kind))
    assert not result
    assert words in result.hint


def test_step_backward_transposed_dW_gets_a_shape_message():
    def transposed(dh, x, h_prev, W, b):
        dx, dh_prev, dW, db = step_backward_solution(dh, x, h_prev, W, b)
        return dx, dh_prev, dW.T, db

    result = checks.rnn_step_backward(transposed)
    assert not result
    assert result.status == "wrong-shape"
    assert "[2]" in result.message  # names the third item, dW


def test_step_backward_fails_without_raising_on_the_stub():
    result = checks.rnn_step_backward(stub)
    assert not result
    assert result.status == "not-implemented"


# ------------------------------------------------------------------------ truncated BPTT


def truncated_bptt_solution(X, dY, params, k):
    T = X.shape[1]
    grads = {name: np.zeros_like(p) for name, p in params.items()}
    state = None
    for start in range(0, T, k):
        _, state, cache = rnn.forward(X[:, start:start + k], state, params)
        _, _, chunk = rnn.backward(dY[:, start:start + k], None, cache)
        for name in grads:
            grads[name] = grads[name] + chunk[name]
    return grads


def test_truncated_bptt_passes_on_a_solution():
    assert checks.rnn_truncated_bptt(truncated_bptt_solution)


def test_truncated_bptt_recognises_full_bptt():
    def full(X, dY, params, k):
        _, _, cache = rnn.forward(X, None, params)
        return rnn.backward(dY, None, cache)[2]

    result = checks.rnn_truncated_bptt(full)
    assert not result
    assert "without truncation" in result.hint


def test_truncated_bptt_recognises_a_state_reset():
    def reset(X, dY, params, k):
        grads = {name: np.zeros_like(p) for name, p in params.items()}
        for start in range(0, X.shape[1], k):
            _, _, cache = rnn.forward(X[:, start:start + k], None, params)
            chunk = rnn.backward(dY[:, start:start + k], None, cache)[2]
            grads = {name: grads[name] + chunk[name] for name in grads}
        return grads

    result = checks.rnn_truncated_bptt(reset)
    assert not result
    assert "zero state" in result.hint


def test_truncated_bptt_recognises_a_dropped_last_chunk():
    def dropped(X, dY, params, k):
        return truncated_bptt_solution(X[:, : X.shape[1] // k * k],
                                       dY[:, : X.shape[1] // k * k], params, k)

    result = checks.rnn_truncated_bptt(dropped)
    assert not result
    assert "shorter chunk" in result.hint


def test_truncated_bptt_recognises_the_last_chunk_only():
    def last_only(X, dY, params, k):
        start = (X.shape[1] - 1) // k * k
        _, state, _ = rnn.forward(X[:, :start], None, params) if start else (None, None, None)
        _, _, cache = rnn.forward(X[:, start:], state, params)
        return rnn.backward(dY[:, start:], None, cache)[2]

    result = checks.rnn_truncated_bptt(last_only)
    assert not result
    assert "all chunks" in result.hint


def test_truncated_bptt_fails_without_raising_on_the_stub():
    result = checks.rnn_truncated_bptt(stub)
    assert not result
    assert result.status == "not-implemented"


# ---------------------------------------------------------------------- two-step backward


def two_step_solution(dY, dstate_T, X, h0, W, b):
    D = X.shape[2]
    z1 = np.concatenate([X[:, 0], h0], axis=1)
    h1 = np.tanh(z1 @ W + b)
    z2 = np.concatenate([X[:, 1], h1], axis=1)
    h2 = np.tanh(z2 @ W + b)
    da2 = (dY[:, 1] + dstate_T) * (1 - h2**2)
    da1 = (dY[:, 0] + da2 @ W[D:].T) * (1 - h1**2)
    dX = np.stack([da1 @ W[:D].T, da2 @ W[:D].T], axis=1)
    return dX, da1 @ W[D:].T, z1.T @ da1 + z2.T @ da2, da1.sum(axis=0) + da2.sum(axis=0)


def test_two_step_backward_passes_on_a_solution():
    assert checks.rnn_two_step_backward(two_step_solution)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"first_output": False}, "dY[:, 0]"),
        ({"final_state": False}, "dstate_T"),
        ({"carry": False}, "W[D:].T"),
        ({"both_steps": False}, "both steps"),
    ],
)
def test_two_step_backward_names_the_usual_mistakes(options, words):
    from rnnlib.checks.rnn import _two_step_manual

    def wrong(*args):
        return _two_step_manual(*args, **options)

    result = checks.rnn_two_step_backward(wrong)
    assert not result
    assert words in result.hint


def test_two_step_backward_fails_without_raising_on_the_stub():
    result = checks.rnn_two_step_backward(stub)
    assert not result
    assert result.status == "not-implemented"


# ------------------------------------------------------------------------------ clipping


def clip_solution(grads, max_norm):
    norm = float(np.sqrt(sum(np.sum(g.astype(np.float64) ** 2) for g in grads.values())))
    scale = max_norm / norm if norm > max_norm else 1.0
    return {name: g * g.dtype.type(scale) for name, g in grads.items()}, norm


def test_clip_passes_on_a_solution():
    assert checks.rnn_clip_grad_norm(clip_solution)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda g, c: ({k: v * (c / np.linalg.norm(v)) if np.linalg.norm(v) > c else v
                        for k, v in g.items()}, optim.global_norm(g)), "its own norm"),
        (lambda g, c: ({k: np.clip(v, -c, c) for k, v in g.items()}, optim.global_norm(g)),
         "value clipping"),
        (lambda g, c: ({k: v * (c / optim.global_norm(g)) for k, v in g.items()},
                       optim.global_norm(g)), "only when norm > max_norm"),
        (lambda g, c: (clip_solution(g, c)[0], min(clip_solution(g, c)[1], c)),
         "norm before clipping"),
    ],
)
def test_clip_names_the_usual_mistakes(wrong, words):
    result = checks.rnn_clip_grad_norm(wrong)
    assert not result
    assert words in result.hint


def test_clip_in_place_is_accepted():
    def in_place(grads, max_norm):
        norm = optim.clip_grad_norm(grads, max_norm)
        return grads, norm

    assert checks.rnn_clip_grad_norm(in_place)


def test_clip_fails_without_raising_on_the_stub():
    result = checks.rnn_clip_grad_norm(stub)
    assert not result
    assert result.status == "not-implemented"


def test_clip_float64_for_float32_gradients_is_a_dtype_failure_with_a_hint():
    def upcast(grads, max_norm):
        norm = optim.global_norm(grads)
        scale = np.float64(max_norm / norm if norm > max_norm else 1.0)
        return {name: g * scale for name, g in grads.items()}, norm

    result = checks.rnn_clip_grad_norm(upcast)
    assert not result
    assert result.status == "wrong-dtype"


# ------------------------------------------------------------------------ value clipping


def clip_by_value_solution(grads, clip_value):
    return {name: np.clip(g, -clip_value, clip_value) for name, g in grads.items()}


def test_clip_by_value_passes_on_a_solution():
    assert checks.rnn_clip_by_value(clip_by_value_solution)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda g, c: {k: v * min(1.0, c / optim.global_norm(g)) for k, v in g.items()},
         "np.clip(g, -clip_value, clip_value)"),
        (lambda g, c: {k: np.minimum(v, c) for k, v in g.items()}, "negative entries"),
        (lambda g, c: {k: np.minimum(np.abs(v), c) for k, v in g.items()}, "sign"),
    ],
)
def test_clip_by_value_names_the_usual_mistakes(wrong, words):
    result = checks.rnn_clip_by_value(wrong)
    assert not result
    assert words in result.hint


def test_clip_by_value_float64_for_float32_is_a_dtype_failure():
    def upcast(grads, clip_value):
        return {k: np.clip(v.astype(np.float64), -clip_value, clip_value)
                for k, v in grads.items()}

    result = checks.rnn_clip_by_value(upcast)
    assert not result
    assert result.status == "wrong-dtype"


def test_clip_by_value_fails_without_raising_on_the_stub():
    result = checks.rnn_clip_by_value(stub)
    assert not result
    assert result.status == "not-implemented"


def test_checks_do_not_raise_on_garbage():
    for check in (checks.rnn_step_forward, checks.rnn_step_backward,
                  checks.rnn_truncated_bptt, checks.rnn_clip_grad_norm,
                  checks.rnn_clip_by_value, checks.rnn_two_step_backward):
        assert not check(None)
        assert not check(lambda *args: "not an array")
