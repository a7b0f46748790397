"""The attention chapter's exercise checks: pass on the solution, fail on a stub with a
helpful message, recognise the common mistakes, and never raise because of the learner."""

import numpy as np
import pytest

from rnnlib import attention, checks
from rnnlib.checks.attention import (
    _reference_additive,
    _reference_beam,
    _unshifted_softmax,
)


def stub(*args):
    raise NotImplementedError()


def masked_softmax(scores, mask):
    e = np.where(mask, scores, -np.inf)
    e = np.exp(e - e.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def dot_attention(s, enc, mask):
    alpha = attention.masked_softmax(np.einsum("ne,nte->nt", s, enc), mask)
    return np.einsum("nt,nte->ne", alpha, enc), alpha


SOLUTIONS = {
    "attention_masked_softmax": masked_softmax,
    "attention_dot_product": dot_attention,
    "attention_additive_backward": _reference_additive,
    "attention_beam_search": _reference_beam,
}


@pytest.mark.parametrize("name", SOLUTIONS)
def test_passes_on_the_solution_and_fails_on_a_stub(name, capsys):
    check = getattr(checks, name)
    assert check(SOLUTIONS[name])
    assert not check(stub)
    assert "not implemented" in capsys.readouterr().out
    assert not check(None)
    assert not check(lambda *a: 1 / 0)


def test_masked_softmax_mistakes(capsys):
    assert not checks.attention_masked_softmax(
        lambda s, m: np.exp(s) / np.exp(s).sum(axis=1, keepdims=True))
    assert "ignores the mask" in capsys.readouterr().out
    assert not checks.attention_masked_softmax(
        lambda s, m: m * np.exp(s) / np.exp(s).sum(axis=1, keepdims=True))
    assert "renormalised" in capsys.readouterr().out
    assert not checks.attention_masked_softmax(_unshifted_softmax)
    assert "largest score" in capsys.readouterr().out


def test_dot_product_mistakes(capsys):
    assert not checks.attention_dot_product(
        lambda s, enc, mask: dot_attention(s / np.sqrt(s.shape[1]), enc, mask))
    assert "scaled" in capsys.readouterr().out
    assert not checks.attention_dot_product(
        lambda s, enc, mask: dot_attention(s, enc, np.ones_like(mask)))
    assert "ignore the mask" in capsys.readouterr().out


def test_additive_backward_mistakes(capsys):
    def no_context_path(dcontext, s, enc, params):
        ds, denc, grads = _reference_additive(dcontext, s, enc, params)
        _, alpha, _ = attention.additive_forward(s, enc, params)
        return ds, denc - alpha[:, :, None] * dcontext[:, None, :], grads

    assert not checks.attention_additive_backward(no_context_path)
    assert "only the path through the scores" in capsys.readouterr().out


def test_beam_search_mistakes(capsys):
    assert not checks.attention_beam_search(lambda lp, K, L: _reference_beam(lp, 1, L))
    assert "greedy" in capsys.readouterr().out
    assert not checks.attention_beam_search(
        lambda lp, K, L: _reference_beam(lp, K, L) + (0,))
    assert "end token" in capsys.readouterr().out


def test_beam_cases_are_ones_where_greedy_is_wrong():
    from rnnlib.checks.attention import _beam_cases
    for case in _beam_cases():
        log_probs, K, L = case.args
        assert _reference_beam(log_probs, K, L) != _reference_beam(log_probs, 1, L)
