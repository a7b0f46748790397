"""The sequence-to-sequence task of the attention chapter: reversing strings of digits.

The source is a string of ``length`` random digits, the target the same digits in reverse
order followed by an end-of-sequence token. It has the structure attention was made for:
the i-th output digit is the input digit at position ``length - 1 - i``, so a decoder that
can look back at the source finds it in one place, while a decoder that sees only the
encoder's final state must carry every digit of the string in that one vector.

Tokens are integers: 0 padding, 1 start, 2 end, then the digits 0 to 9 as 3 to 12
(:data:`VOCAB`).
"""

import numpy as np

from rnnlib._validate import check_positive_int, resolve_dtype, resolve_rng

__all__ = [
    "END",
    "PAD",
    "START",
    "VOCAB",
    "decode",
    "encode",
    "exact_match",
    "one_hot",
    "pad_sources",
    "reverse_digits",
    "strip_end",
]

#: The vocabulary, shared by sources and targets: token i is ``VOCAB[i]``.
VOCAB = ("<pad>", "<s>", "</s>", *"0123456789")
PAD, START, END = 0, 1, 2
_DIGIT0 = 3


def encode(text):
    """Tokens (int array) of a string of digits, e.g. ``encode("307")`` -> [6, 3, 10]."""
    if not isinstance(text, str) or not text.isdigit() or not text.isascii():
        raise ValueError(f"text: expected a non-empty string of digits, got {text!r}")
    return np.array([_DIGIT0 + int(ch) for ch in text], dtype=np.int64)


def decode(tokens):
    """The text of a token sequence, digits only, stopping at the first end token."""
    out = []
    for token in np.asarray(tokens).tolist():
        if token == END:
            break
        out.append(VOCAB[token] if token >= _DIGIT0 else "")
    return "".join(out)


def reverse_digits(n_sequences, length, *, rng=None):
    """A batch of the reversal task, every source of the same length.

    Parameters
    ----------
    n_sequences : int
        N.
    length : int
        T, the number of digits of every source.
    rng : numpy.random.Generator, int or None, optional

    Returns
    -------
    src : numpy.ndarray of int, shape (N, T)
        The digits' tokens.
    tgt_in : numpy.ndarray of int, shape (N, T + 1)
        The decoder's inputs under teacher forcing: the start token, then the reversed
        digits.
    tgt_out : numpy.ndarray of int, shape (N, T + 1)
        What the decoder must output: the reversed digits, then the end token.
    """
    N = check_positive_int("n_sequences", n_sequences)
    T = check_positive_int("length", length)
    rng = resolve_rng(rng)
    src = rng.integers(_DIGIT0, _DIGIT0 + 10, size=(N, T))  # (N, T)
    reversed_src = src[:, ::-1]
    tgt_in = np.concatenate([np.full((N, 1), START), reversed_src], axis=1)
    tgt_out = np.concatenate([reversed_src, np.full((N, 1), END)], axis=1)
    return src, tgt_in, tgt_out


def one_hot(tokens, *, dtype=np.float64):
    """One-hot vectors of integer tokens: shape ``tokens.shape + (len(VOCAB),)``."""
    tokens = np.asarray(tokens)
    if not np.issubdtype(tokens.dtype, np.integer):
        raise ValueError(f"tokens: expected an integer array, got {tokens.dtype}")
    if tokens.size and (tokens.min() < 0 or tokens.max() >= len(VOCAB)):
        raise ValueError(f"tokens: expected values in [0, {len(VOCAB)}), got "
                         f"{tokens.min()} .. {tokens.max()}")
    return np.eye(len(VOCAB), dtype=resolve_dtype(dtype))[tokens]


def pad_sources(sources):
    """Put sources of different lengths in one batch, padded at the end.

    Parameters
    ----------
    sources : list of 1-d int arrays
        N token sequences.

    Returns
    -------
    src : numpy.ndarray of int, shape (N, T)
        T the longest length; :data:`PAD` after each sequence's end.
    mask : numpy.ndarray of bool, shape (N, T)
        True on the real tokens.
    """
    if not sources:
        raise ValueError("sources: expected at least one sequence, got none")
    T = max(len(s) for s in sources)
    src = np.full((len(sources), T), PAD, dtype=np.int64)
    mask = np.zeros((len(sources), T), dtype=bool)
    for i, s in enumerate(sources):
        src[i, : len(s)] = s
        mask[i, : len(s)] = True
    return src, mask


def strip_end(tokens):
    """A decoded row up to (not including) its first end token, as a tuple of ints."""
    out = []
    for token in np.asarray(tokens).tolist():
        if token == END:
            break
        out.append(token)
    return tuple(out)


def exact_match(predicted, tgt_out):
    """Per sequence, whether the decoded output equals the target exactly.

    Parameters
    ----------
    predicted : numpy.ndarray of int, shape (N, L)
        Decoded tokens (anything after the first end token is ignored).
    tgt_out : numpy.ndarray of int, shape (N, T + 1)
        Targets ending with the end token.

    Returns
    -------
    numpy.ndarray of bool, shape (N,)
    """
    if len(predicted) != len(tgt_out):
        raise ValueError(f"predicted: expected {len(tgt_out)} rows (one per target), got "
                         f"{len(predicted)}")
    return np.array([strip_end(p) == strip_end(t) for p, t in zip(predicted, tgt_out,
                                                                      strict=True)])
