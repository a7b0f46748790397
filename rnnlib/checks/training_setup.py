"""Automatic checks for the exercises of the chapter on initialisation, variable-length
batches and regularisation.

- :func:`training_setup_length_mask`: the mask of the real steps of a padded batch;
- :func:`training_setup_last_valid`: the output at each sequence's last real step;
- :func:`training_setup_forget_bias`: an LSTM's parameters with the forget-gate bias set.

Each compares the learner's function with :mod:`rnnlib.masking` or :mod:`rnnlib.init` on a
few fixed cases and recognises the usual mistakes: a mask one step too long, the last step
of the padded batch instead of the last real one, the bias set in PyTorch's forget block.
"""

import functools

import numpy as np

from rnnlib import init, masking
from rnnlib.checks._core import Case, Mistake, run_check

__all__ = [
    "training_setup_forget_bias",
    "training_setup_last_valid",
    "training_setup_length_mask",
]

# -------------------------------------------------------------------------- length mask


def training_setup_length_mask(student_fn):
    """Check ``student_fn(lengths, T) -> mask``, the (N, T) booleans ``t < lengths[n]``.

    Parameters
    ----------
    student_fn : callable
        Takes ``lengths`` (N,) int and the padded length ``T``, returns a bool array (N, T).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    cases = [
        Case((np.array([3, 1, 5]), 5), label="lengths [3, 1, 5], T=5"),
        Case((np.array([2, 2]), 4), label="equal lengths [2, 2], T=4"),
        Case((np.array([1]), 1), label="one sequence of one step"),
        Case((np.array([4, 6, 1, 6]), 7), label="T longer than every sequence"),
    ]
    steps = lambda lengths, T: np.arange(T)[None, :]  # noqa: E731
    hints = [
        Mistake(
            "the mask t <= lengths[n], one step too long",
            lambda lengths, T: steps(lengths, T) <= lengths[:, None],
            "Steps are counted from 0, so a sequence of length T_n has steps 0 ... T_n - 1: "
            "use t < lengths[n].",
        ),
        Mistake(
            "the mask transposed, shape (T, N)",
            lambda lengths, T: (steps(lengths, T) < lengths[:, None]).T,
            "Batch first: one row per sequence, one column per step, shape (N, T).",
        ),
        Mistake(
            "a mask of the padding, not of the real steps",
            lambda lengths, T: steps(lengths, T) >= lengths[:, None],
            "The mask is True where the step is real (t < T_n), False on the padding.",
        ),
        Mistake(
            "the real steps put at the end (padding at the start)",
            lambda lengths, T: steps(lengths, T) >= T - lengths[:, None],
            "rnnlib pads at the end: the real steps are the first T_n of each row.",
        ),
    ]
    return run_check("training_setup_length_mask", student_fn, cases,
                     reference=masking.length_mask, hints=hints, output_name="mask",
                     forbidden=FORBIDDEN["training_setup_length_mask"])


# --------------------------------------------------------------------------- last valid


def _padded(seed, lengths, T, H, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((len(lengths), T, H)).astype(dtype), np.array(lengths)


def training_setup_last_valid(student_fn):
    """Check ``student_fn(Y, lengths) -> last``, ``Y[n, lengths[n] - 1]`` for every n.

    Parameters
    ----------
    student_fn : callable
        Takes outputs ``Y`` (N, T, H) of a padded batch and ``lengths`` (N,), returns the
        (N, H) outputs at each sequence's last real step.

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(_padded(0, [3, 1, 4], 5, 2), label="N=3, T=5, H=2"),
        Case(_padded(1, [2, 4], 6, 3), label="N=2, T=6, H=3"),
        Case(_padded(2, [1], 3, 4), label="one sequence of one step, T=3"),
        Case(_padded(3, [2, 3, 1], 4, 2, np.float32), label="float32, N=3, T=4, H=2"),
    ]
    rows = lambda Y: np.arange(Y.shape[0])  # noqa: E731
    hints = [
        Mistake(
            "the last step of the padded batch, Y[:, -1]",
            lambda Y, lengths: Y[:, -1],
            "Y[:, -1] has read the padding too. Take Y[n, lengths[n] - 1] for each n, e.g. "
            "Y[np.arange(N), lengths - 1].",
        ),
        Mistake(
            "the step after the last real one, Y[n, lengths[n]]",
            lambda Y, lengths: Y[rows(Y), lengths],
            "Steps are counted from 0: the last real step of a sequence of length T_n is "
            "T_n - 1.",
        ),
        Mistake(
            "the first step, Y[:, 0]",
            lambda Y, lengths: Y[:, 0],
            "A many-to-one head reads the state after the whole sequence, its last real "
            "step.",
        ),
    ]
    return run_check("training_setup_last_valid", student_fn, cases,
                     reference=masking.last_valid, hints=hints, output_name="last",
                     forbidden=FORBIDDEN["training_setup_last_valid"])


# -------------------------------------------------------------------------- forget bias


def _lstm_params(seed, D, H, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return {
        "W": rng.uniform(-0.5, 0.5, (D + H, 4 * H)).astype(dtype),
        "b": rng.uniform(-0.5, 0.5, (4 * H,)).astype(dtype),
    }


def training_setup_forget_bias(student_fn):
    """Check ``student_fn(params, value) -> new_params``, the LSTM's ``b_f`` set to ``value``.

    Parameters
    ----------
    student_fn : callable
        Takes LSTM parameters {"W": (D+H, 4H), "b": (4H,)} in rnnlib's blocks f, i, a, o
        and a number, and returns a new dict whose ``b[:H]`` is ``value``, everything else
        as it was; ``params`` itself must not change.

    Returns
    -------
    CheckResult
    """
    cases = [
        Case((_lstm_params(0, 2, 3), 1.0), label="D=2, H=3, value 1"),
        Case((_lstm_params(1, 1, 1), 2.5), label="D=1, H=1, value 2.5"),
        Case((_lstm_params(2, 3, 4), 0.0), label="D=3, H=4, value 0"),
        Case((_lstm_params(3, 2, 2, np.float32), 1.0), label="float32, D=2, H=2"),
    ]

    def with_block(params, value, start, stop, add=False):
        new = {key: array.copy() for key, array in params.items()}
        H = new["b"].shape[0] // 4
        block = slice(start * H, stop * H)
        new["b"][block] = new["b"][block] + value if add else value
        return new

    hints = [
        Mistake(
            "the bias set in the second block, which is PyTorch's forget gate (i, f, g, o)",
            lambda params, value: with_block(params, value, 1, 2),
            "rnnlib orders the blocks f, i, a, o: the forget gate's bias is b[:H].",
        ),
        Mistake(
            "the value added to the drawn bias instead of replacing it",
            lambda params, value: with_block(params, value, 0, 1, add=True),
            "Set b[:H] = value (lstm.init_params's forget_bias adds; this exercise sets).",
        ),
        Mistake(
            "every bias set to the value",
            lambda params, value: with_block(params, value, 0, 4),
            "Only the forget gate's block b[:H]; the input, activation and output biases "
            "stay as drawn.",
        ),
    ]
    return run_check("training_setup_forget_bias", _refuse_changes(student_fn), cases,
                     reference=init.set_forget_bias, hints=hints, output_name="new_params",
                     forbidden=FORBIDDEN["training_setup_forget_bias"])


def _refuse_changes(student_fn):
    """Wrap ``student_fn(params, value)`` so that changing ``params`` in place fails."""
    if not callable(student_fn):
        return student_fn

    @functools.wraps(student_fn)
    def wrapped(params, value):
        before = {key: array.copy() for key, array in params.items()}
        answer = student_fn(params, value)
        for key, array in before.items():
            if not np.array_equal(params[key], array):
                raise ValueError(
                    f"your function changed params[{key!r}] in place; copy the arrays "
                    "first (new = {k: a.copy() for k, a in params.items()}), so that the "
                    "caller's parameters stay as they were"
                )
        return answer

    return wrapped


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them).
FORBIDDEN = {
    "training_setup_length_mask": (masking.length_mask,),
    "training_setup_last_valid": (masking.last_valid,),
    "training_setup_forget_bias": (init.set_forget_bias,),
}
