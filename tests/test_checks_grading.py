"""Tests of the checks' grading mode (rnnlib.checks.grading and score).

In the book a check accepts any way of computing the answer and stops at its first failing
case; under grading it runs every case (partial credit), may redraw the cases from a seed,
fails an answer that calls the rnnlib function its exercise asks for, and ``score`` raises
the verdict as a :class:`CheckFailed`. The book's own solutions, taken from the notebooks,
must get full marks in grading mode.
"""

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

from rnnlib import attention, checks, init, mingru, rnn, sampling
from rnnlib.checks import CheckFailed, grading, score

ROOT = Path(__file__).resolve().parent.parent


def my_step(x, h_prev, W, b):
    return np.tanh(np.concatenate([x, h_prev], axis=1) @ W + b)


def step_by_rnnlib(x, h_prev, W, b):
    h, _, _ = rnn.step_forward(x, h_prev, {"W": W, "b": b})
    return h


def test_the_book_mode_still_accepts_rnnlib_and_prints_as_before(capsys):
    result = checks.rnn_step_forward(step_by_rnnlib)
    assert result and result.status == "passed"
    assert capsys.readouterr().out == "✔ rnn_step_forward: correct\n  all 4 test cases pass\n"


def test_grading_fails_an_answer_that_calls_the_reference():
    with pytest.raises(CheckFailed) as caught:
        score(checks.rnn_step_forward, step_by_rnnlib, points=2)
    result = caught.value.result
    assert result.status == "calls-reference"
    assert "rnnlib.rnn.step_forward" in str(caught.value)
    assert result.fraction == 0


def minlstm_by_rnnlib(x, h_prev, params):
    return mingru.step_forward(x, h_prev, params, variant="minlstm")[0]


@pytest.mark.parametrize(("check", "answer", "called"), [
    (checks.attention_masked_softmax, attention.masked_softmax, "masked_softmax"),
    (checks.attention_masked_softmax,
     lambda scores, mask: attention.masked_softmax(scores, mask), "masked_softmax"),
    (checks.mingru_minlstm_step, minlstm_by_rnnlib, "mingru.step_forward"),
    (checks.training_top_k, lambda logits, k: sampling.top_k_probabilities(logits, k),
     "top_k_probabilities"),
    # the check wraps the answer to catch changes in place: the call is still seen
    (checks.training_setup_forget_bias,
     lambda params, value: init.set_forget_bias(params, value), "set_forget_bias"),
], ids=["masked-softmax-itself", "masked-softmax", "minlstm", "top-k", "forget-bias"])
def test_grading_fails_an_answer_that_calls_the_rnnlib_function(check, answer, called):
    # The chapters after the GRU's: the book accepts the call, grading does not.
    assert check(answer)
    with grading(seed=3):
        result = check(answer)
    assert result.status == "calls-reference"
    assert called in result.verdict
    assert result.fraction == 0


@pytest.mark.parametrize(("check", "module", "private"), [
    ("gru_parameter_count", "gru", "_count"),
    ("head_to_head_matched_hidden_size", "multilayer", "_reference_matched_hidden_size"),
    ("performance_gemm_flops", "multilayer", "_reference_gemm_flops"),
    ("performance_lstm_cache_bytes", "multilayer", "_measured_cache_bytes"),
])
def test_grading_fails_a_count_taken_from_the_checks_own_function(check, module, private):
    # The counting exercises' expected values come from a function of the check module:
    # an answer that calls it passes in the book and scores nothing when graded.
    reference = getattr(importlib.import_module(f"rnnlib.checks.{module}"), private)

    def answer(*args, **kwargs):
        return reference(*args, **kwargs)

    assert getattr(checks, check)(answer)
    with grading(seed=3):
        result = getattr(checks, check)(answer)
    assert result.status == "calls-reference"
    assert result.fraction == 0


def test_grading_sees_through_an_alias():
    from rnnlib.rnn import step_forward as renamed

    def sly(x, h_prev, W, b):
        return renamed(x, h_prev, {"W": W, "b": b})[0]

    with grading(seed=1):
        result = checks.rnn_step_forward(sly)
    assert result.status == "calls-reference"


def test_grading_fails_an_answer_that_is_the_checks_own_reference():
    from rnnlib.checks import rnn as rnn_checks

    with grading():
        result = checks.rnn_step_forward(rnn_checks._reference_step_forward)
    assert result.status == "calls-reference"


def test_grading_keeps_the_functions_an_exercise_allows():
    def truncated(X, dY, params, k):  # the book's solution uses rnn.forward and backward
        grads = {name: np.zeros_like(p) for name, p in params.items()}
        state = None
        for start in range(0, X.shape[1], k):
            chunk = slice(start, start + k)
            _, state, cache = rnn.forward(X[:, chunk], state, params)
            _, _, chunk_grads = rnn.backward(dY[:, chunk], None, cache)
            grads = {name: grads[name] + chunk_grads[name] for name in grads}
        return grads

    assert score(checks.rnn_truncated_bptt, truncated, points=3, seed=7) == 3.0


def seen_arguments(seed):
    seen = []

    def spy(x, h_prev, W, b):
        seen.append((x.copy(), h_prev.copy(), W.copy()))
        return my_step(x, h_prev, W, b)

    if seed is None:
        assert checks.rnn_step_forward(spy)
    else:
        with grading(seed=seed):
            assert checks.rnn_step_forward(spy)
    return seen


def test_graded_cases_come_from_the_seed_and_keep_shapes_dtypes_and_zeros():
    book, one, again, other = (seen_arguments(s) for s in (None, 1, 1, 2))
    assert len(book) == len(one) == len(other) == 4
    for b, o, a, t in zip(book, one, again, other, strict=True):
        for arrays in zip(b, o, a, t, strict=True):
            assert len({(x.shape, x.dtype) for x in arrays}) == 1
            assert np.array_equal(arrays[1], arrays[2])  # same seed, same case
            if np.any(arrays[0]):
                assert not np.array_equal(arrays[0], arrays[1])  # not the book's values
                assert not np.array_equal(arrays[1], arrays[3])  # another seed, others
            else:
                assert not np.any(arrays[1])  # the zero state stays zero


def test_a_case_marked_redraw_false_keeps_its_values_in_grading_mode():
    # Arguments that must stay consistent (an output with the inputs that made it) are
    # not redrawn; the other cases of the same check are.
    x = np.array([1.0, 2.0, 3.0])
    seen = []

    def double(v, twice):
        seen.append((v.copy(), twice.copy()))
        return 2 * v

    cases = [checks.Case((x, 2 * x), redraw=False), checks.Case((x, 2 * x))]
    with grading(seed=5):
        result = checks.run_check("double", double, cases, reference=lambda v, t: 2 * v)
    assert result.fraction == 1
    (kept, kept_twice), (redrawn, redrawn_twice) = seen
    assert np.array_equal(kept, x) and np.array_equal(kept_twice, 2 * x)
    assert not np.array_equal(redrawn, x)
    assert not np.array_equal(redrawn_twice, 2 * redrawn)  # the consistency redraw breaks


def test_partial_credit_is_the_fraction_of_cases_passed(capsys):
    def float64_only(x, h_prev, W, b):
        return my_step(x, h_prev, W, b).astype(np.float64)  # wrong for the float32 case

    with grading(seed=3):
        result = checks.rnn_step_forward(float64_only)
    assert not result and result.status == "wrong-dtype"
    assert (result.cases_passed, result.cases_total) == (3, 4)
    assert result.fraction == 0.75
    assert "3 of 4 test cases pass" in result.verdict
    capsys.readouterr()
    assert score(checks.rnn_step_forward, float64_only, points=2) == 1.5
    assert "wrong dtype" in capsys.readouterr().out


def test_the_book_mode_stops_at_the_first_failure():
    def no_bias(x, h_prev, W, b):
        return np.tanh(np.concatenate([x, h_prev], axis=1) @ W)

    result = checks.rnn_step_forward(no_bias)
    assert result.cases_passed == 0 and result.fraction == 0
    assert "test cases pass" not in result.verdict


def test_a_failure_is_raised_with_its_verdict(capsys):
    def stub(x, h_prev, W, b):
        raise NotImplementedError()

    with pytest.raises(CheckFailed) as caught:
        score(checks.rnn_step_forward, stub, points=2)
    assert isinstance(caught.value, AssertionError)
    assert "✘ rnn_step_forward: not implemented yet" in str(caught.value)
    assert "YOUR CODE HERE" in str(caught.value)
    assert capsys.readouterr().out == ""  # the verdict is in the exception, not printed


def test_assert_passed_raises_the_verdict():
    result = checks.rnn_step_forward(lambda x, h, W, b: my_step(x, h, W, b) * 2)
    with pytest.raises(CheckFailed, match="wrong value"):
        result.assert_passed()
    assert checks.rnn_step_forward(my_step).assert_passed()


def test_score_refuses_what_is_not_a_check():
    with pytest.raises(ValueError, match="points"):
        score(checks.rnn_step_forward, my_step, points=0)
    with pytest.raises(TypeError, match="CheckResult"):
        score(lambda fn: True, my_step, points=1)


# --------------------------------------------------------------------------------------
# Every check, in grading mode, on the book's own solutions
# --------------------------------------------------------------------------------------


def _exercise_solutions():
    """(notebook, check, the answer cell's code, the check call) for every code exercise
    whose answer cell is a function definition, from the book's markup."""
    found = []
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        imports = []
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:
                continue
            imports += [ast.get_source_segment(cell.source, node) for node in tree.body
                        if isinstance(node, (ast.Import, ast.ImportFrom))]
        answer = None
        for cell in nb.cells:
            if cell.cell_type == "code" and "### BEGIN SOLUTION" in cell.source \
                    and cell.source.lstrip().startswith("def "):
                answer = cell.source
            tags = cell.metadata.get("tags", [])
            match = re.match(r"assert (checks\.(\w+)\(.*\))\s*$", cell.source.strip())
            if "exercise-check" in tags and match and answer:
                found.append(pytest.param("\n".join(imports), answer, match[1],
                                          id=f"{path.stem}-{match[2]}"))
                answer = None
    return found


@pytest.mark.parametrize(("imports", "answer", "call"), _exercise_solutions())
def test_the_books_solutions_get_full_marks_in_grading_mode(imports, answer, call):
    namespace = {}
    exec(compile(imports, "imports", "exec"), namespace)  # noqa: S102
    exec(compile(answer, "answer", "exec"), namespace)  # noqa: S102
    with grading(seed=20261202):
        result = eval(call, namespace)  # noqa: S307
    assert result, result.verdict
    assert result.fraction == 1.0


# The checks with no FORBIDDEN entry, and why each has nothing to forbid.
NOTHING_TO_FORBID = {
    "training_lag_signal_share": "the cases hold the expected shares, max(k - L, 0) / k, "
                                 "written inline; no function computes one",
}


def test_every_check_module_lists_its_references():
    every_check = {n for n in checks.__all__
                   if getattr(checks, n).__module__ != "rnnlib.checks._core"}
    assert set(NOTHING_TO_FORBID) <= every_check
    for name in sorted(every_check):
        fn = getattr(checks, name)
        module = sys.modules[fn.__module__]
        table = getattr(module, "FORBIDDEN", {})
        assert set(table) <= set(module.__all__), f"{module.__name__}.FORBIDDEN: a stray key"
        if name in NOTHING_TO_FORBID:
            assert name not in table, f"{name} has a FORBIDDEN entry: drop its exemption"
            continue
        assert table.get(name), f"{module.__name__}.FORBIDDEN has no entry for {name}"
        assert all(callable(f) for f in table[name])
        # the check passes its entry to run_check
        assert f'forbidden=FORBIDDEN["{name}"]' in inspect.getsource(fn), name
