"""Tests for the checks of the minGRU chapter: pass on a solution, name each usual mistake,
fail politely on the stub and on a function that raises."""

import numpy as np
import pytest

from rnnlib import checks, scan
from rnnlib.activations import sigmoid
from rnnlib.checks import mingru as mingru_checks


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def broken(*args, **kwargs):
    return np.ones((3, 1000)) @ np.ones((3, 3))  # a shape error inside the learner's code


def combine_solution(left, right):
    (a, b), (a2, b2) = left, right
    return a2 * a, a2 * b + b2


def hillis_steele_solution(A, B):
    A, B = A.copy(), B.copy()
    d = 1
    while d < A.shape[1]:
        A[:, d:], B[:, d:] = A[:, d:] * A[:, :-d], A[:, d:] * B[:, :-d] + B[:, d:]
        d *= 2
    return A, B


def log_backward_solution(dY, Y, A, B, h0):
    T = Y.shape[1]
    G = np.empty_like(dY)
    g = dY[:, -1]
    G[:, -1] = g
    for t in reversed(range(T - 1)):
        g = A[:, t + 1] * g + dY[:, t]
        G[:, t] = g
    H_prev = np.concatenate([h0[:, None], Y[:, :-1]], axis=1)
    return A * G * H_prev, B * G


def minlstm_solution(x, h_prev, params):
    H = h_prev.shape[1]
    P = x @ params["W"] + params["b"]
    f, i = sigmoid(P[:, :H]), sigmoid(P[:, H : 2 * H])
    return f / (f + i) * h_prev + i / (f + i) * P[:, 2 * H :]


SOLUTIONS = {
    "mingru_combine": combine_solution,
    "mingru_hillis_steele": hillis_steele_solution,
    "mingru_log_scan_backward": log_backward_solution,
    "mingru_minlstm_step": minlstm_solution,
}


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_passes_on_a_solution(name, capsys):
    assert getattr(checks, name)(SOLUTIONS[name])
    assert f"✔ {name}" in capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(SOLUTIONS))
def test_fails_politely_on_the_stub_and_on_an_exception(name):
    result = getattr(checks, name)(stub)
    assert not result and result.status == "not-implemented"
    result = getattr(checks, name)(broken)
    assert not result and result.status == "exception"
    assert not getattr(checks, name)(None)


@pytest.mark.parametrize(
    ("name", "wrong", "words"),
    [
        ("mingru_combine", lambda left, right: scan.combine(right, left), "other way round"),
        ("mingru_combine", lambda left, right: (left[0] * right[0], left[1] + right[1]),
         "b2 + b"),
        ("mingru_hillis_steele", scan.blelloch_scan, "exclusive"),
        ("mingru_hillis_steele", mingru_checks._a_first, "A updated before B"),
        ("mingru_hillis_steele", mingru_checks._without_doubling, "doubling"),
        ("mingru_log_scan_backward", mingru_checks._plain_grads, "not their logarithms"),
        ("mingru_log_scan_backward", mingru_checks._h_t_not_h_prev, "h_{t-1}"),
        ("mingru_log_scan_backward", mingru_checks._no_future, "no g_t from the future"),
        ("mingru_minlstm_step", mingru_checks._unnormalised, "not normalised"),
        ("mingru_minlstm_step", mingru_checks._tanh_candidate, "tanh"),
        ("mingru_minlstm_step", mingru_checks._gru_like, "minGRU's update"),
    ],
)
def test_names_the_usual_mistakes(name, wrong, words):
    result = getattr(checks, name)(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_hillis_steele_that_changes_its_input_fails():
    def in_place(A, B):
        d = 1
        while d < A.shape[1]:
            A[:, d:], B[:, d:] = A[:, d:] * A[:, :-d], A[:, d:] * B[:, :-d] + B[:, d:]
            d *= 2
        return A, B

    result = checks.mingru_hillis_steele(in_place)
    assert not result and result.status == "modified-input"


def test_wrong_shape_is_reported():
    result = checks.mingru_minlstm_step(lambda x, h_prev, params: h_prev[:, :-1])
    assert not result and result.status == "wrong-shape"
