"""Tests for the checks of "Sequences and recurrence": pass on a solution, name each usual
mistake, fail politely on the stub and on broken code."""

import numpy as np
import pytest

from rnnlib import checks, rnn


def stub(*args):
    # YOUR CODE HERE
    raise NotImplementedError()


# ------------------------------------------------------------------------------ unroll


def unroll_solution(X, h0, params):
    h, states = h0, []
    for t in range(X.shape[1]):
        h, _, _ = rnn.step_forward(X[:, t], h, params)
        states.append(h)
    return np.stack(states, axis=1), h


def test_unroll_passes_on_a_solution(capsys):
    result = checks.sequences_unroll(unroll_solution)
    assert result
    assert "✔ sequences_unroll" in capsys.readouterr().out


def test_unroll_passes_on_rnnlib_itself():
    assert checks.sequences_unroll(lambda X, h0, params: rnn.forward(X, h0, params)[:2])


def _states(X, h0, params, carry=True):
    h, states = h0, []
    for t in range(X.shape[1]):
        new, _, _ = rnn.step_forward(X[:, t], h, params)
        states.append(new)
        h = new if carry else h
    return states


@pytest.mark.parametrize(
    ("wrong", "status", "words"),
    [
        (lambda X, h0, p: (np.stack(_states(X, h0, p), 0), _states(X, h0, p)[-1]),
         "wrong-shape", "time first"),
        (lambda X, h0, p: (np.stack(_states(X, h0, p, carry=False), 1),
                           _states(X, h0, p, carry=False)[-1]),
         "wrong-value", "never passed on"),
        (lambda X, h0, p: (np.stack([h0, *_states(X, h0, p)[:-1]], 1), _states(X, h0, p)[-1]),
         "wrong-value", "h_0, ..., h_{T-1}"),
        (lambda X, h0, p: (np.stack(_states(X[:, ::-1], h0, p), 1),
                           _states(X[:, ::-1], h0, p)[-1]),
         "wrong-value", "last step to its first"),
        (lambda X, h0, p: (np.stack(_states(X, h0, p), 1), _states(X, h0, p)[0]),
         "wrong-value", "first state returned"),
    ],
)
def test_unroll_names_the_usual_mistakes(wrong, status, words):
    result = checks.sequences_unroll(wrong)
    assert not result
    assert result.status == status
    assert words in result.hint


def test_unroll_fails_politely_on_the_stub():
    result = checks.sequences_unroll(stub)
    assert not result
    assert result.status == "not-implemented"


def test_unroll_reports_an_exception_without_raising():
    def broken(X, h0, params):
        return X @ params["W"], h0  # (N, T, D) @ (D+H, H): mismatched shapes

    result = checks.sequences_unroll(broken)
    assert not result
    assert result.status == "exception"
    assert "ValueError" in result.message or "matmul" in result.message


def test_unroll_float32_must_stay_float32():
    def upcast(X, h0, params):
        Y, h = unroll_solution(X, h0, params)
        return Y.astype(np.float64), h.astype(np.float64)

    result = checks.sequences_unroll(upcast)
    assert not result
    assert result.status == "wrong-dtype"
    assert "float32" in result.case


def test_unroll_detects_an_input_changed_in_place():
    def overwrites(X, h0, params):
        Y, h = unroll_solution(X, h0, params)
        h0[...] = h  # the caller's h0 would change
        return Y, h

    result = checks.sequences_unroll(overwrites)
    assert not result
    assert result.status == "modified-input"


# ------------------------------------------------------------------------------- stack


def stack_solution(X, params_list):
    Y = X
    for params in params_list:
        Y, _, _ = rnn.forward(Y, None, params)
    return Y


def test_stack_passes_on_a_solution(capsys):
    result = checks.sequences_stack(stack_solution)
    assert result
    assert "✔ sequences_stack" in capsys.readouterr().out


def _every_layer_reads_x(X, params_list):
    for params in params_list:
        Y, _, _ = rnn.forward(X, None, params)
    return Y


def _final_state_handed_up(X, params_list):
    Y, state = X, None
    for params in params_list:
        Y, state, _ = rnn.forward(Y, state, params)
    return Y


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (_every_layer_reads_x, "every layer reading the input X"),
        (lambda X, ps: rnn.forward(X, None, ps[0])[0], "first layer"),
        (lambda X, ps: stack_solution(X, ps[::-1]), "top down"),
        (_final_state_handed_up, "final state of the layer below"),
    ],
)
def test_stack_names_the_usual_mistakes(wrong, words):
    result = checks.sequences_stack(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_stack_wrong_widths_are_reported_as_a_shape_error():
    def first_layer_only_mixed(X, params_list):
        if len(params_list) == 3:  # the equal-width case: answer it correctly
            return stack_solution(X, params_list)
        return rnn.forward(X, None, params_list[0])[0]

    result = checks.sequences_stack(first_layer_only_mixed)
    assert not result
    assert result.status == "wrong-shape"
    assert "expected shape (2, 5, 5), got (2, 5, 4)" in result.message


def test_stack_fails_politely_on_the_stub():
    result = checks.sequences_stack(stub)
    assert not result
    assert result.status == "not-implemented"


def test_checks_refuse_something_that_is_not_a_function():
    result = checks.sequences_stack(np.zeros(3))
    assert not result
    assert result.status == "not-callable"
