"""Checks for the exercises of "Training in practice I" (book/training.ipynb)."""

import numpy as np

from rnnlib import ngram, sampling
from rnnlib.checks._core import Case, Mistake, run_check

__all__ = ["training_add_alpha_bigram", "training_lag_signal_share", "training_top_k"]


# ----------------------------------------------------------------------------- bigram


def _bigram_case(seed, length, V, alpha):
    ids = np.random.default_rng(seed).integers(0, V, size=length)
    return Case((ids, V, alpha), label=f"{length} ids, V={V}, alpha={alpha}")


def _counts(ids, V):
    counts = np.zeros((V, V))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    return counts


def _reference_bigram(ids, V, alpha):
    return ngram.ngram_model(ids, 2, V, alpha)


def training_add_alpha_bigram(student_fn):
    """Check ``student_fn(ids, V, alpha) -> P``, the add-alpha bigram model.

    Parameters
    ----------
    student_fn : callable
        Takes a text as ids (L,), the vocabulary size V and alpha > 0, and returns the
        (V, V) table with ``P[a, b]`` the probability of ``b`` right after ``a``:
        ``(count(a, b) + alpha) / (count(a, .) + alpha V)``.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    hints = [
        Mistake("the table transposed, P[next, previous]",
                lambda ids, V, alpha: ngram.ngram_model(ids, 2, V, alpha).T,
                "Row a is the context: P[a, b] is p(b | a), and each row sums to 1."),
        Mistake("alpha added to the counts but not alpha V to the row total",
                lambda ids, V, alpha: (_counts(ids, V) + alpha)
                / np.maximum(_counts(ids, V).sum(1, keepdims=True), 1),
                "Every one of the V entries of a row got alpha more, so the row's total "
                "grew by alpha V; divide by count(a, .) + alpha V."),
        Mistake("the context's count in the whole text as the denominator",
                lambda ids, V, alpha: (_counts(ids, V) + alpha)
                / (np.bincount(ids, minlength=V)[:, None] + alpha * V),
                "Divide by the number of pairs that start with a, sum over b of "
                "count(a, b): a character that ends the text starts no pair, so its "
                "count in the whole text is one too many."),
        Mistake("the counts without smoothing",
                lambda ids, V, alpha: _counts(ids, V)
                / np.maximum(_counts(ids, V).sum(1, keepdims=True), 1),
                "Add alpha to every count, so that no pair has probability 0."),
        Mistake("the joint probabilities p(a, b) instead of the conditional p(b | a)",
                lambda ids, V, alpha: (_counts(ids, V) + alpha)
                / (_counts(ids, V) + alpha).sum(),
                "Normalise each row, not the whole table."),
    ]
    cases = [_bigram_case(0, 30, 4, 0.5), _bigram_case(1, 12, 5, 1.0),
             _bigram_case(2, 200, 3, 0.1)]
    return run_check("training_add_alpha_bigram", student_fn, cases, _reference_bigram,
                     hints=hints, output_name="P", check_dtype=False,
                     forbidden=FORBIDDEN["training_add_alpha_bigram"])


# ----------------------------------------------------------------------------- top-k


def _top_k_case(seed, shape, k):
    logits = np.random.default_rng(seed).normal(0, 2, size=shape)
    return Case((logits, k), label=f"logits {shape}, k={k}")


def _reference_top_k(logits, k):
    return sampling.top_k_probabilities(logits, k)


def training_top_k(student_fn):
    """Check ``student_fn(logits, k) -> probabilities``, top-k sampling's distribution.

    Parameters
    ----------
    student_fn : callable
        Takes logits of shape (..., V) and k, and returns probabilities of the same
        shape: the softmax of the k largest logits of each row, 0 elsewhere.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def softmax_then_cut(logits, k):
        full = sampling.temperature_probabilities(logits)
        return np.where(sampling.top_k_probabilities(logits, k) > 0, full, 0.0)

    def smallest(logits, k):
        order = np.argsort(logits, axis=-1, kind="stable")  # least likely first
        keep = np.zeros(logits.shape, dtype=bool)
        np.put_along_axis(keep, order[..., :k], True, axis=-1)
        weights = np.where(keep, np.exp(logits - logits.max(axis=-1, keepdims=True)), 0.0)
        return weights / weights.sum(axis=-1, keepdims=True)

    hints = [
        Mistake("the softmax of all logits, set to 0 outside the top k but not "
                "renormalised", softmax_then_cut,
                "After zeroing the others, divide by the sum of what is kept (or take the "
                "softmax of the k kept logits only)."),
        Mistake("the k smallest logits kept", smallest,
                "Keep the k largest: np.argsort(-logits)[..., :k], or compare with the "
                "k-th largest value."),
        Mistake("k + 1 symbols kept",
                lambda logits, k: sampling.top_k_probabilities(logits, k + 1),
                "Check the slice: [:k] holds k entries."),
    ]
    cases = [_top_k_case(0, (6,), 2), _top_k_case(1, (3, 8), 3), _top_k_case(2, (2, 5), 1),
             _top_k_case(3, (4,), 4)]
    return run_check("training_top_k", student_fn, cases, _reference_top_k, hints=hints,
                     output_name="probabilities", check_dtype=False,
                     forbidden=FORBIDDEN["training_top_k"])


# ---------------------------------------------------------------------- lag and chunk


def training_lag_signal_share(student_fn):
    """Check ``student_fn(chunk, lag) -> float``, the share of steps that can teach a lag.

    Parameters
    ----------
    student_fn : callable
        Takes the chunk length k and the lag L (both >= 1) and returns the share of a
        chunk's k loss terms whose gradient reaches the input L steps before them within
        the chunk: ``max(k - L, 0) / k``.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    pairs = [(10, 4), (4, 4), (3, 8), (32, 1), (7, 6)]
    cases = [Case((k, L), label=f"chunk={k}, lag={L}", expected=max(k - L, 0) / k)
             for k, L in pairs]
    hints = [
        Mistake("(k - L + 1) / k, one position too many",
                lambda k, L: max(k - L + 1, 0) / k,
                "Number the positions of a chunk 0 to k - 1: the input L steps before "
                "position j is inside the chunk when j - L >= 0."),
        Mistake("a negative share when the lag is longer than the chunk",
                lambda k, L: (k - L) / k,
                "No position can reach back further than the chunk: the share is 0 then."),
        Mistake("the share of positions that cannot learn the lag",
                lambda k, L: min(L, k) / k,
                "The question asks for the positions whose gradient does reach back L "
                "steps."),
    ]
    return run_check("training_lag_signal_share", student_fn, cases, hints=hints,
                     output_name="share", check_dtype=False)


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them). The bigram is
# to be written without rnnlib.ngram, whose counts leave only the smoothing to write;
# top-k may take a softmax from rnnlib (temperature_probabilities), the building block.
# training_lag_signal_share has no entry: its cases hold the expected shares, and no
# function in rnnlib computes one.
FORBIDDEN = {
    "training_add_alpha_bigram": (_reference_bigram, ngram.ngram_model, ngram.ngram_counts),
    "training_top_k": (_reference_top_k, sampling.top_k_probabilities),
}
