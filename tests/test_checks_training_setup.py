"""Tests for the exercise checks of the training-setup chapter: pass on a solution, name
each usual mistake, fail politely on the stub and on a function that changes its input."""

import numpy as np
import pytest

from rnnlib import checks


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def length_mask_solution(lengths, T):
    return np.arange(T)[None, :] < lengths[:, None]


def last_valid_solution(Y, lengths):
    return Y[np.arange(Y.shape[0]), lengths - 1]


def forget_bias_solution(params, value):
    new = {key: array.copy() for key, array in params.items()}
    H = new["b"].shape[0] // 4
    new["b"][:H] = value
    return new


@pytest.mark.parametrize(
    ("check", "solution"),
    [
        (checks.training_setup_length_mask, length_mask_solution),
        (checks.training_setup_last_valid, last_valid_solution),
        (checks.training_setup_forget_bias, forget_bias_solution),
    ],
)
def test_passes_on_a_solution_and_fails_on_the_stub(check, solution):
    assert check(solution)
    result = check(stub)
    assert not result
    assert result.status == "not-implemented"
    assert not check(None)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda lengths, T: np.arange(T)[None, :] <= lengths[:, None], "one step too long"),
        (lambda lengths, T: (np.arange(T)[None, :] < lengths[:, None]).T, "transposed"),
        (lambda lengths, T: np.arange(T)[None, :] >= lengths[:, None], "of the padding"),
    ],
)
def test_length_mask_names_the_usual_mistakes(wrong, words):
    result = checks.training_setup_length_mask(wrong)
    assert not result
    assert words in result.hint


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda Y, lengths: Y[:, -1], "Y[:, -1]"),
        (lambda Y, lengths: Y[np.arange(Y.shape[0]), lengths], "after the last real one"),
    ],
)
def test_last_valid_names_the_usual_mistakes(wrong, words):
    result = checks.training_setup_last_valid(wrong)
    assert not result
    assert words in result.hint


def _with_block(params, value, start, stop, add=False):
    new = {key: array.copy() for key, array in params.items()}
    H = new["b"].shape[0] // 4
    block = slice(start * H, stop * H)
    new["b"][block] = new["b"][block] + value if add else value
    return new


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (lambda p, v: _with_block(p, v, 1, 2), "PyTorch's forget gate"),
        (lambda p, v: _with_block(p, v, 0, 1, add=True), "added"),
        (lambda p, v: _with_block(p, v, 0, 4), "every bias"),
    ],
)
def test_forget_bias_names_the_usual_mistakes(wrong, words):
    result = checks.training_setup_forget_bias(wrong)
    assert not result
    assert words in result.hint


def test_forget_bias_refuses_a_change_in_place():
    def in_place(params, value):
        H = params["b"].shape[0] // 4
        params["b"][:H] = value
        return params

    result = checks.training_setup_forget_bias(in_place)
    assert not result
    assert "in place" in result.message
