"""Tests for rnnlib._validate: every message names the argument, the expected and the got."""

import re

import numpy as np
import pytest

from rnnlib._validate import (
    check_array,
    check_finite,
    check_params,
    check_positive_int,
    format_shape,
    hidden_size_of,
    resolve_dtype,
    resolve_rng,
)


def test_format_shape_with_and_without_letters():
    assert format_shape((4, None, 3)) == "(4, *, 3)"
    assert format_shape((4, None, 3), "N, T, D") == "(N, T, D) = (4, *, 3)"
    assert format_shape((5,), "H") == "(H,) = (5,)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_array_returns_the_array_itself(dtype):
    X = np.zeros((4, 7, 3), dtype=dtype)
    assert check_array("X", X, shape=(4, None, 3), dtype=dtype, dims="N, T, D") is X


def test_check_array_wrong_shape_names_argument_expected_and_got():
    X = np.zeros((4, 7, 5))
    message = "X: expected shape (N, T, D) = (4, 7, 3), got (4, 7, 5)"
    with pytest.raises(ValueError, match=re.escape(message)):
        check_array("X", X, shape=(4, 7, 3), dims="N, T, D")


def test_check_array_wrong_rank():
    with pytest.raises(
        ValueError, match=r"X: expected a 3-d array .*got a 2-d array of shape \(4, 7\)"
    ):
        check_array("X", np.zeros((4, 7)), ndim=3, dims="N, T, D")


@pytest.mark.parametrize(
    "bad, pattern",
    [
        (np.zeros((2, 3), dtype=np.int64), "expected dtype float32 or float64, got int64"),
        (np.zeros((2, 3), dtype=np.float16), "expected dtype float32 or float64, got float16"),
        ([[0.0, 1.0]], "expected a NumPy array, got list"),
    ],
)
def test_check_array_rejects_non_float_arrays(bad, pattern):
    with pytest.raises(ValueError, match=f"x: {pattern}"):
        check_array("x", bad)


def test_check_array_rejects_mismatched_dtype():
    with pytest.raises(ValueError, match="state0: expected dtype float64 like the other arrays"):
        check_array("state0", np.zeros((2, 3), dtype=np.float32), dtype=np.float64)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_check_array_reports_first_nan_or_inf(bad_value):
    X = np.zeros((2, 3, 4))
    X[0, 2, 1] = bad_value
    X[1, 0, 0] = bad_value
    with pytest.raises(
        ValueError, match=re.escape("X contains NaN or inf (first at index (0, 2, 1))")
    ):
        check_array("X", X)
    assert check_array("X", X, finite=False) is X  # finite=False lets it through
    with pytest.raises(ValueError, match="dY contains NaN or inf"):
        check_finite("dY", X)


def test_check_params_missing_extra_wrong_shape_and_dtype():
    expected = {"W": ((5, 6), "D+H, 3H"), "b": ((6,), "3H")}
    good = {"W": np.zeros((5, 6)), "b": np.zeros(6)}
    assert check_params(good, expected, np.float64) is good
    with pytest.raises(ValueError, match="params: expected keys 'W', 'b'; missing 'b'"):
        check_params({"W": good["W"]}, expected, np.float64)
    with pytest.raises(ValueError, match="unexpected 'b_hn'. pass convention"):
        check_params({**good, "b_hn": np.zeros(2)}, expected, np.float64, hint="pass convention")
    with pytest.raises(
        ValueError, match=re.escape("params['b']: expected shape (3H,) = (6,), got (5,)")
    ):
        check_params({**good, "b": np.zeros(5)}, expected, np.float64)
    with pytest.raises(ValueError, match=re.escape("params['W']: expected dtype float32")):
        check_params(good, expected, np.float32)
    with pytest.raises(ValueError, match="params: expected a dict of arrays, got list"):
        check_params([good], expected, np.float64)


def test_hidden_size_of_reads_h_and_explains_misfits():
    blocks = ("f", "i", "a", "o")
    params = {"W": np.zeros((3 + 5, 4 * 5))}
    assert hidden_size_of(params, 3, blocks) == 5
    # A 3-block weight given where 4 blocks were expected: the message points at the option.
    three = {"W": np.zeros((3 + 5, 3 * 5))}
    with pytest.raises(ValueError, match="fits blocks i, a, o: pass forget_gate=False"):
        hidden_size_of(three, 3, blocks, alternatives=[(("i", "a", "o"), "pass forget_gate=False")])
    with pytest.raises(ValueError, match=re.escape("(D+H, 4H) = (8, 20) for D = 3 (from X)")):
        hidden_size_of(three, 3, blocks)
    # W is consistent on its own (D = 3, H = 5), so the input is named as the culprit.
    with pytest.raises(ValueError, match=re.escape("X: expected input size D = 3 to fit")):
        hidden_size_of(params, 9, blocks)
    with pytest.raises(ValueError, match="with D = 9 .* H >= 1, so more than 9 rows, got"):
        hidden_size_of({"W": np.zeros((9, 7))}, 9, blocks)
    with pytest.raises(ValueError, match="params: missing key 'W'"):
        hidden_size_of({"b": np.zeros(3)}, 3, blocks)


def test_small_helpers():
    assert check_positive_int("hidden_size", np.int64(3)) == 3
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="hidden_size: expected a positive integer"):
            check_positive_int("hidden_size", bad)
    assert resolve_dtype("float32") == np.float32
    for bad in (np.int32, "float16", "no such dtype"):
        with pytest.raises(ValueError, match="dtype: expected float32 or float64"):
            resolve_dtype(bad)
    generator = np.random.default_rng(1)
    assert resolve_rng(generator) is generator
    assert resolve_rng(7).integers(1000) == np.random.default_rng(7).integers(1000)
    with pytest.raises(ValueError, match="rng: expected a numpy.random.Generator"):
        resolve_rng(1.5)
