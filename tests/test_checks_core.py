"""Tests of the exercise-check machinery in rnnlib.checks._core."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnlib import checks
from rnnlib.checks import Case, CheckResult, Mistake, check_value, compare, run_check


def reference_step(x, h_prev, W, b):
    """The basic RNN step, h = tanh([x, h_prev] @ W + b): x (N, D), h_prev (N, H)."""
    return np.tanh(np.concatenate([x, h_prev], axis=1) @ W + b)


def without_bias(x, h_prev, W, b):
    return np.tanh(np.concatenate([x, h_prev], axis=1) @ W)


def make_cases(dtype=np.float64):
    rng = np.random.default_rng(0)
    cases = []
    for n, d, h in [(2, 3, 4), (1, 5, 2), (3, 1, 3)]:
        args = (
            rng.normal(size=(n, d)).astype(dtype),
            rng.normal(size=(n, h)).astype(dtype),
            rng.normal(size=(d + h, h)).astype(dtype),
            rng.normal(size=h).astype(dtype),
        )
        cases.append(Case(args, label=f"N={n}, D={d}, H={h}"))
    return cases


MISTAKES = [Mistake("the step without its bias b", without_bias, "Add b after the product.")]


def check(fn, **options):
    options.setdefault("hints", MISTAKES)
    return run_check("rnn_step_forward", fn, make_cases(), reference_step, **options)


# --- passing ------------------------------------------------------------------------------


def test_correct_function_passes_and_prints_a_verdict(capsys):
    def my_step(x, h_prev, W, b):
        z = np.concatenate([x, h_prev], axis=1)
        return np.tanh(z @ W + b)

    result = check(my_step)
    assert result
    assert result.passed and result.status == "passed"
    assert result.hints == [] and result.mistake is None
    out = capsys.readouterr().out
    assert out.startswith("✔ rnn_step_forward: correct")
    assert "all 3 test cases pass" in out


def test_small_rounding_differences_pass():
    result = check(lambda x, h, W, b: reference_step(x, h, W, b) * (1 + 1e-9))
    assert result


def test_verbose_false_prints_nothing(capsys):
    result = check(reference_step, verbose=False)
    assert result
    assert capsys.readouterr().out == ""


# --- each kind of failure, with its message -------------------------------------------


def test_not_implemented_stub(capsys):
    def my_step(x, h_prev, W, b):
        # YOUR CODE HERE
        raise NotImplementedError()

    result = check(my_step)
    assert not result
    assert result.status == "not-implemented"
    out = capsys.readouterr().out
    assert out.startswith("✘ rnn_step_forward: not implemented yet")
    assert "my_step still raises NotImplementedError" in out
    assert "YOUR CODE HERE" in out


def test_exception_is_reported_with_the_line_that_raised():
    def my_step(x, h_prev, W, b):
        return x @ W + b  # forgot to concatenate h_prev: wrong inner dimension

    result = check(my_step)
    assert not result
    assert result.status == "exception"
    assert isinstance(result.exception, ValueError)
    assert "my_step raised ValueError" in result.message
    assert "return x @ W + b" in result.message
    assert "test case 1 of 3" in result.case
    assert "x (2, 3)" in result.case and "W (7, 4)" in result.case


def test_exception_inside_a_library_points_at_the_learners_line():
    import json

    def my_step(x, h_prev, W, b):
        settings = json.loads("{not json")  # raises inside the standard library
        return settings

    result = check(my_step)
    assert result.status == "exception"
    assert 'in my_step, line' in result.message
    assert 'settings = json.loads("{not json")' in result.message


def test_wrong_shape_reports_received_and_expected():
    def my_step(x, h_prev, W, b):
        z = np.concatenate([x, h_prev], axis=1)
        return np.tanh(W.T @ z.T + b[:, None])  # (H, N) instead of (N, H)

    result = check(my_step)
    assert result.status == "wrong-shape"
    assert "expected shape (2, 4), got (4, 2)" in result.message
    assert result.comparison.got == (4, 2) and result.comparison.expected == (2, 4)
    assert "transpose" in result.hint
    assert "wrong shape" in str(result)


def test_wrong_value_names_the_first_wrong_entry():
    def my_step(x, h_prev, W, b):
        out = reference_step(x, h_prev, W, b)
        out[1, 2] += 0.5
        return out

    result = check(my_step)
    assert result.status == "wrong-value"
    assert result.comparison.index == (1, 2)
    assert result.message.startswith("output[1, 2] = ")
    assert "1 of 8 entries differ" in result.message
    assert "largest difference 0.5" in result.message


def test_known_mistake_is_recognised_with_its_hint():
    result = check(without_bias)
    assert result.status == "wrong-value"
    assert result.mistake is MISTAKES[0]
    assert "your answer matches the step without its bias b. Add b after the product." in (
        result.hint
    )


def test_unrecognised_wrong_value_gives_the_general_hints_only():
    result = check(lambda x, h, W, b: -reference_step(x, h, W, b),
                   hints=[*MISTAKES, "See the equation of the step."])
    assert result.mistake is None
    assert result.hints == ["See the equation of the step."]


def test_nan_is_reported_as_not_finite():
    def my_step(x, h_prev, W, b):
        out = reference_step(x, h_prev, W, b)
        out[0, 1] = np.nan
        return out

    result = check(my_step)
    assert result.status == "not-finite"
    assert result.comparison.index == (0, 1)
    assert "output[0, 1] is nan" in result.message


def test_overflow_is_reported_with_numpy_warning_and_never_raises():
    def my_step(x, h_prev, W, b):  # an unstable sigmoid, fed huge values
        return 1 / (1 + np.exp(-1e4 * (np.concatenate([x, h_prev], axis=1) @ W + b)))

    result = check(my_step)
    assert not result
    assert result.status == "wrong-value"
    assert "numpy warned: overflow" in result.hint


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        (None, "got None"),
        ([1.0, 2.0], "got a list of 2 items"),
        ((np.zeros((2, 4)), np.zeros((2, 4))), "got a tuple of 2 items"),
        ({"h": 1}, "got a dict with keys ['h']"),
        ("h", "got the string 'h'"),
        (3.0, "got the number 3.0"),
    ],
)
def test_wrong_type(returned, words):
    result = check(lambda x, h, W, b: returned)
    assert result.status == "wrong-type"
    assert "expected an array of shape (2, 4) (float64)" in result.message
    assert words in result.message


def test_forgotten_return_gets_a_hint():
    def my_step(x, h_prev, W, b):
        np.tanh(np.concatenate([x, h_prev], axis=1) @ W + b)

    result = check(my_step)
    assert result.status == "wrong-type"
    assert "forget to `return`" in result.hint


def test_wrong_dtype():
    result = check(lambda x, h, W, b: reference_step(x, h, W, b).astype(np.float32))
    assert result.status == "wrong-dtype"
    assert "expected dtype float64, got float32" in result.message

    result = check(lambda x, h, W, b: np.zeros((x.shape[0], W.shape[1]), dtype=int))
    assert result.status == "wrong-dtype"
    assert "integer" in result.hint


def test_float32_inputs_demand_float32_output():
    def promotes(x, h_prev, W, b):
        return reference_step(x, h_prev, W, b) + np.zeros(W.shape[1])  # float64 zeros

    result = run_check("step32", promotes, make_cases(np.float32), reference_step)
    assert result.status == "wrong-dtype"
    assert "expected dtype float32, got float64" in result.message
    assert run_check("step32", promotes, make_cases(np.float32), reference_step,
                     check_dtype=False)


def test_changing_an_argument_in_place_fails():
    def my_step(x, h_prev, W, b):
        h_prev *= 0  # ruins the caller's state
        return reference_step(x, h_prev, W, b)

    result = check(my_step)
    assert result.status == "modified-input"
    assert "changed its argument `h_prev` in place" in result.message


def test_cases_are_not_shared_between_calls():
    cases = make_cases()
    before = [np.copy(a) for a in cases[0].args]

    def vandal(x, h_prev, W, b):
        W[...] = 0
        return reference_step(x, h_prev, W, b)

    run_check("rnn_step_forward", vandal, cases, reference_step, verbose=False)
    for a, b in zip(before, cases[0].args, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("thing", [None, np.zeros((2, 4)), "my_step", 3])
def test_not_a_function(thing):
    result = check(thing)
    assert result.status == "not-callable"
    assert "pass the function itself" in result.hint


def test_first_failing_case_is_named():
    def only_square(x, h_prev, W, b):
        if x.shape[0] == 1:
            return np.zeros((1, W.shape[1]))
        return reference_step(x, h_prev, W, b)

    result = check(only_square)
    assert result.status == "wrong-value"
    assert result.case.startswith("test case 2 of 3 (N=1, D=5, H=2;")


# --- structured answers -------------------------------------------------------------------


def test_tuples_and_dicts_are_compared_part_by_part():
    def reference(a):
        return a * 2, {"W": a.T.copy(), "b": a.sum(axis=0)}

    cases = [Case((np.arange(6.0).reshape(2, 3),), label="a 2x3")]

    assert run_check("pair", reference, cases, reference, output_name="(y, grads)")

    result = run_check("pair", lambda a: (a * 2, {"W": a.T.copy()}), cases, reference)
    assert result.status == "wrong-type"
    assert "output[1]: missing key(s) ['b']" in result.message

    result = run_check("pair", lambda a: (a * 2, {"W": a.T.copy(), "b": a.sum(axis=1)}),
                       cases, reference)
    assert result.status == "wrong-shape"
    assert "output[1]['b']: expected shape (3,), got (2,)" in result.message

    result = run_check("pair", lambda a: a * 2, cases, reference)
    assert result.status == "wrong-type"
    assert "expected a tuple of 2 items" in result.message


def test_case_with_expected_value_and_keyword_arguments():
    cases = [Case((np.array([1.0, 2.0]),), {"scale": 3.0}, expected=np.array([3.0, 6.0]))]
    assert run_check("scale", lambda v, scale: v * scale, cases)
    result = run_check("scale", lambda v, scale: v + scale, cases)
    assert result.status == "wrong-value"
    assert "output[0] = 4, expected 3" in result.message


def test_plain_tuple_cases():
    cases = [(np.array([1.0, -1.0]),)]
    assert run_check("negate", np.negative, cases, lambda v: -v)


def test_missing_reference_is_the_check_authors_error():
    with pytest.raises(ValueError, match="reference"):
        run_check("broken", np.negative, [(np.ones(2),)], None)
    with pytest.raises(ValueError, match="cases"):
        run_check("broken", np.negative, [], np.negative)


# --- compare and check_value directly ---------------------------------------------------


def test_compare_scalars_and_integers():
    assert compare(0.1 + 0.2, 0.3)
    assert not compare(1, 2)
    assert compare(np.float32(1.5), 1.5, check_dtype=False)
    assert compare(np.array([1, 2, 3]), np.array([1, 2, 3]))
    result = compare(np.array([1, 2, 4]), np.array([1, 2, 3]), "counts")
    assert result.kind == "wrong-value" and result.message.startswith("counts[2] = 4, expected 3")
    assert compare(np.array([1.0, 2.0]), np.array([1, 2])).kind == "wrong-dtype"
    assert compare(None, None) and compare("abc", "abc")
    assert compare(np.array([np.nan, 1.0]), np.array([np.nan, 1.0]))


def test_compare_reshaped_array_gets_layout_hint():
    result = compare(np.zeros(6), np.zeros((2, 3)))
    assert result.kind == "wrong-shape"
    assert "layout" in result.hint


def test_check_value(capsys):
    assert check_value("loss_at_init", float(np.log(5)), np.log(5.0))
    result = check_value("loss_at_init", 5.0, np.log(5.0),
                         hints=[Mistake("the number of classes instead of its log",
                                        lambda: 5.0, "Take the logarithm.")])
    assert result.status == "wrong-value"
    assert "the number of classes instead of its log" in result.hint
    assert "your answer = 5, expected 1.60944" in capsys.readouterr().out


# --- the result object --------------------------------------------------------------------


def test_result_repr_str_and_truthiness():
    result = CheckResult("demo", False, "wrong-shape", "output: expected shape (2,), got (3,)",
                         hints=["a hint"], case="test case 1 of 1")
    assert not result
    assert repr(result) == "<CheckResult ✘ demo: wrong shape>"
    assert str(result).splitlines() == [
        "✘ demo: wrong shape",
        "  on test case 1 of 1",
        "  output: expected shape (2,), got (3,)",
        "  hint: a hint",
    ]
    assert CheckResult("demo", True, "passed")
    with pytest.raises(ValueError, match="status"):
        CheckResult("demo", True, "fine")
    with pytest.raises(ValueError, match="disagrees"):
        CheckResult("demo", True, "wrong-value")


def test_long_hints_are_wrapped():
    hint = "a long hint " * 20
    result = CheckResult("demo", False, "wrong-value", "output[0] = 1, expected 2",
                         hints=[hint.strip()])
    lines = str(result).splitlines()[2:]
    assert len(lines) > 1 and all(len(line) <= 88 for line in lines)
    assert lines[0].startswith("  hint: a long hint") and lines[1].startswith("        ")
    assert result.hint == hint.strip()


def test_display_outside_a_notebook_prints_the_verdict(capsys):
    result = check(reference_step, verbose=False)
    result._ipython_display_()
    assert capsys.readouterr().out.startswith("✔ rnn_step_forward: correct")


def test_helpers_are_exported():
    for name in ["Case", "CheckResult", "Comparison", "Mistake", "check_value", "compare",
                 "run_check"]:
        assert name in checks.__all__
        assert hasattr(checks, name)
    for name in checks.__all__:
        assert hasattr(checks, name), name


def test_every_chapter_check_is_exported():
    """A chapter module's checks are all reachable as rnnlib.checks.<name>."""
    import importlib
    import pkgutil

    modules = [m.name for m in pkgutil.iter_modules(checks.__path__)
               if not m.name.startswith("_")]
    for name in modules:
        module = importlib.import_module(f"rnnlib.checks.{name}")
        assert module.__all__, f"rnnlib/checks/{name}.py has an empty __all__"
        for check in module.__all__:
            assert check in checks.__all__, f"{check} (from {name}) is not in __all__"
            assert getattr(checks, check) is getattr(module, check), check


# --- never raises on anything a learner can return --------------------------------------

anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3)
    | st.builds(lambda n, v: np.full((n, 4), v), st.integers(0, 3), st.floats())
    | st.builds(lambda v: np.full((2, 4), v, dtype=np.float32), st.floats(width=32)),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
    | st.dictionaries(st.text(max_size=2), inner, max_size=2),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(anything)
def test_never_raises_whatever_the_function_returns(value):
    result = check(lambda x, h, W, b: value, verbose=False)
    assert not result
    assert result.status in {"wrong-type", "wrong-shape", "wrong-dtype", "not-finite",
                             "wrong-value"}
    assert str(result).startswith("✘ rnn_step_forward:")


@pytest.mark.parametrize(
    "error",
    [ZeroDivisionError("division by zero"), KeyError("W"), IndexError("index 9"),
     TypeError("bad"), AssertionError("my own assert"), RecursionError("deep")],
)
def test_never_raises_whatever_the_function_raises(error):
    def my_step(x, h_prev, W, b):
        raise error

    result = check(my_step)
    assert result.status == "exception"
    assert type(error).__name__ in result.message
