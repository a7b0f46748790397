"""Tests for the checks of "Training in practice I": pass on a solution, name each usual
mistake, fail politely on the stub."""

import numpy as np
import pytest

from rnnlib import checks


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def bigram_solution(ids, V, alpha):
    counts = np.zeros((V, V))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    counts += alpha
    return counts / counts.sum(axis=1, keepdims=True)


def bigram_raw_counts(ids, V, alpha):
    counts = np.zeros((V, V))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)


def top_k_solution(logits, k):
    kth = np.sort(logits, axis=-1)[..., -k][..., None]
    weights = np.where(logits >= kth, np.exp(logits - logits.max(-1, keepdims=True)), 0)
    return weights / weights.sum(-1, keepdims=True)


def top_k_not_renormalised(logits, k):
    kth = np.sort(logits, axis=-1)[..., -k][..., None]
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    return np.where(logits >= kth, p, 0)


def test_checks_pass_on_solutions(capsys):
    assert checks.training_add_alpha_bigram(bigram_solution)
    assert checks.training_top_k(top_k_solution)
    assert checks.training_lag_signal_share(lambda k, L: max(k - L, 0) / k)
    out = capsys.readouterr().out
    assert "✔ training_add_alpha_bigram" in out and "✔ training_top_k" in out


def bigram_unigram_denominator(ids, V, alpha):
    # the equation's denominator misread as the context character's count in the text
    counts = np.zeros((V, V))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return (counts + alpha) / (np.bincount(ids, minlength=V)[:, None] + alpha * V)


@pytest.mark.parametrize(
    ("check", "wrong", "words"),
    [
        ("training_add_alpha_bigram", lambda ids, V, a: bigram_solution(ids, V, a).T,
         "transposed"),
        ("training_add_alpha_bigram", bigram_raw_counts, "without smoothing"),
        ("training_add_alpha_bigram", bigram_unigram_denominator, "whole text"),
        ("training_top_k", top_k_not_renormalised, "not renormalised"),
        ("training_top_k", lambda logits, k: top_k_solution(-logits, k) * 0
         + top_k_solution(np.where(top_k_solution(-logits, k) > 0, logits, -1e9), k),
         "smallest"),
        ("training_lag_signal_share", lambda k, L: (k - L) / k, "negative"),
        ("training_lag_signal_share", lambda k, L: max(k - L + 1, 0) / k, "one position"),
    ],
)
def test_checks_name_the_usual_mistakes(check, wrong, words):
    result = getattr(checks, check)(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint or words in result.message


@pytest.mark.parametrize("check", ["training_add_alpha_bigram", "training_top_k",
                                   "training_lag_signal_share"])
def test_checks_fail_without_raising_on_the_stub(check):
    result = getattr(checks, check)(stub)
    assert not result
    assert result.status == "not-implemented"
