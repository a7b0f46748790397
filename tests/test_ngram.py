"""Tests for rnnlib.ngram: loss units and n-gram baselines."""

import numpy as np
import pytest

from rnnlib import data, ngram


def test_units():
    assert ngram.bits_per_character(np.log(2)) == pytest.approx(1.0)
    assert ngram.perplexity(np.log(7.0)) == pytest.approx(7.0)
    np.testing.assert_allclose(ngram.bits_per_character(np.array([0.0, np.log(4)])),
                               [0, 2])
    nats = 1.3
    assert 2 ** ngram.bits_per_character(nats) == pytest.approx(ngram.perplexity(nats))


def test_counts_by_hand():
    ids = np.array([0, 1, 1, 0, 1])
    np.testing.assert_array_equal(ngram.ngram_counts(ids, 1, 2), [2, 3])
    np.testing.assert_array_equal(ngram.ngram_counts(ids, 2, 2), [[0, 2], [1, 1]])
    trigrams = ngram.ngram_counts(ids, 3, 2)
    assert trigrams[0, 1, 1] == 1 and trigrams[1, 1, 0] == 1 and trigrams[1, 0, 1] == 1
    assert trigrams.sum() == 3


def test_model_is_smoothed_and_normalised():
    ids = np.array([0, 1, 1, 0, 1])
    P = ngram.ngram_model(ids, 2, 3, alpha=0.5)
    np.testing.assert_allclose(P.sum(axis=-1), 1.0)
    # after 0: counts (0, 2, 0) + 0.5 over 2 + 1.5
    np.testing.assert_allclose(P[0], [0.5 / 3.5, 2.5 / 3.5, 0.5 / 3.5])
    np.testing.assert_allclose(P[2], 1 / 3)  # never seen: uniform


def test_cross_entropy_by_hand_and_uniform():
    P = np.array([[0.25, 0.75], [0.5, 0.5]])
    ids = np.array([0, 1, 1])
    expected = -(np.log(0.75) + np.log(0.5)) / 2
    assert ngram.ngram_cross_entropy(P, ids) == pytest.approx(expected)
    assert ngram.ngram_cross_entropy(P, ids, start=2) == pytest.approx(-np.log(0.5))
    V = 5
    uniform = np.full((V, V), 1 / V)
    assert ngram.ngram_cross_entropy(uniform, np.arange(V)) == pytest.approx(np.log(V))


def test_higher_orders_fit_the_training_text_better():
    corpus = data.char_corpus(lowercase=True)
    train_ids = corpus.ids[: corpus.n_train]
    losses = [ngram.ngram_cross_entropy(ngram.ngram_model(train_ids, n, corpus.vocab_size),
                                        train_ids, start=2) for n in (1, 2, 3)]
    assert losses[0] > losses[1] > losses[2]


def test_bad_arguments():
    with pytest.raises(ValueError, match="n"):
        ngram.ngram_counts(np.array([0, 1]), 5, 2)
    with pytest.raises(ValueError, match="ids"):
        ngram.ngram_counts(np.array([0, 3]), 1, 2)
    with pytest.raises(ValueError, match="alpha"):
        ngram.ngram_model(np.array([0, 1]), 1, 2, alpha=0.0)
    with pytest.raises(ValueError, match="start"):
        ngram.ngram_cross_entropy(np.full((2, 2), 0.5), np.array([0, 1]), start=0)
