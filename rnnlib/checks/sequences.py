"""Automatic checks for the exercises of the chapter "Sequences and recurrence".

- :func:`sequences_unroll`: run one RNN step function over a whole sequence and collect
  the hidden states, ``(X, h0, params) -> (Y, h_T)``;
- :func:`sequences_stack`: stack recurrent layers, each reading the sequence of hidden
  states of the layer below, ``(X, params_list) -> Y`` of the top layer.

Both compare the learner's function with rnnlib's on a few fixed cases (float64 and
float32, a sequence of one step, several layers of the same width) and recognise the
usual mistakes of each.
"""

import numpy as np

from rnnlib import layers, rnn
from rnnlib.checks._core import Case, Mistake, run_check
from rnnlib.fast import rnn as fast_rnn

__all__ = ["sequences_stack", "sequences_unroll"]


# ------------------------------------------------------------------------------ unroll


def _unroll_case(seed, N, T, D, H, dtype=np.float64, zero_state=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, D)).astype(dtype)
    h0 = np.zeros((N, H), dtype) if zero_state else rng.uniform(-0.9, 0.9, (N, H)).astype(dtype)
    params = rnn.init_params(D, H, rng=rng, dtype=dtype)
    params["W"] *= dtype(2.0)  # a strong recurrence, so every slip changes the answer
    label = f"N={N}, T={T}, D={D}, H={H}" + (", zero h0" if zero_state else "")
    if dtype == np.float32:
        label = "float32, " + label
    return Case((X, h0, params), label=label)


def _unroll_cases():
    return [
        _unroll_case(10, 2, 5, 3, 4),
        _unroll_case(11, 3, 4, 2, 3, zero_state=True),
        _unroll_case(12, 1, 1, 3, 2),
        _unroll_case(13, 2, 6, 3, 3, dtype=np.float32),
    ]


def _reference_unroll(X, h0, params):
    Y, h_T, _ = rnn.forward(X, h0, params)
    return Y, h_T


def _steps(X, h0, params, *, update_state=True):
    """The hidden states h_1 ... h_T (each (N, H)) from rnn.step_forward."""
    h, states = h0, []
    for t in range(X.shape[1]):
        h_new, _, _ = rnn.step_forward(X[:, t], h, params)
        states.append(h_new)
        if update_state:
            h = h_new
    return states


def sequences_unroll(student_fn):
    """Check ``student_fn(X, h0, params) -> (Y, h_T)``, the RNN run over a whole sequence.

    Parameters
    ----------
    student_fn : callable
        Takes X (N, T, D), h0 (N, H) and params ``{"W": (D+H, H), "b": (H,)}``; returns
        Y (N, T, H) with ``Y[:, t]`` the hidden state after reading step t, and the final
        state h_T (N, H), in the dtype of X.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def time_major(X, h0, params):
        states = _steps(X, h0, params)
        return np.stack(states, axis=0), states[-1]

    def state_not_carried(X, h0, params):
        states = _steps(X, h0, params, update_state=False)
        return np.stack(states, axis=1), states[-1]

    def shifted_by_one(X, h0, params):
        states = _steps(X, h0, params)
        return np.stack([h0, *states[:-1]], axis=1), states[-1]

    def reversed_time(X, h0, params):
        states = _steps(X[:, ::-1], h0, params)
        return np.stack(states, axis=1), states[-1]

    def first_state_returned(X, h0, params):
        states = _steps(X, h0, params)
        return np.stack(states, axis=1), states[0]

    hints = [
        Mistake(
            "the states stacked time first, (T, N, H)",
            time_major,
            "Sequences are batch first in rnnlib: stack the states along axis 1, "
            "np.stack(states, axis=1), so Y has shape (N, T, H).",
        ),
        Mistake(
            "every step started from h0 (the state is never passed on)",
            state_not_carried,
            "Passing the state on is what makes the network recurrent: after each step, "
            "use the new state as h_prev of the next step.",
        ),
        Mistake(
            "Y holding h_0, ..., h_{T-1} instead of h_1, ..., h_T",
            shifted_by_one,
            "Store the state after each step: Y[:, t] is the state once x_t has been read; "
            "h0 itself is not part of Y.",
        ),
        Mistake(
            "the sequence read from its last step to its first",
            reversed_time,
            "Loop over t = 0, 1, ..., T-1 and read X[:, t].",
        ),
        Mistake(
            "the first state returned as the final state",
            first_state_returned,
            "h_T is the state after the last step, the same as Y[:, -1].",
        ),
    ]
    return run_check(
        "sequences_unroll",
        student_fn,
        _unroll_cases(),
        _reference_unroll,
        hints=hints,
        output_name="(Y, h_T)",
        rtol=1e-5,
        atol=1e-6,
                     forbidden=FORBIDDEN["sequences_unroll"])


# ------------------------------------------------------------------------------- stack


def _stack_case(seed, N, T, D, sizes, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, D)).astype(dtype)
    params_list = []
    inputs = D
    for H in sizes:
        params = rnn.init_params(inputs, H, rng=rng, dtype=dtype)
        params["W"] *= dtype(1.5)
        params_list.append(params)
        inputs = H
    label = f"N={N}, T={T}, D={D}, hidden sizes {list(sizes)}"
    if dtype == np.float32:
        label = "float32, " + label
    return Case((X, params_list), label=label)


def _stack_cases():
    return [
        # First, every width equal to D: wrong wiring still runs and can be recognised.
        _stack_case(21, 2, 4, 3, [3, 3, 3]),
        _stack_case(20, 2, 5, 3, [4, 5]),
        _stack_case(22, 3, 1, 2, [4, 2]),
        _stack_case(23, 2, 6, 3, [3, 3], dtype=np.float32),
    ]


def _all_widths_equal(X, params_list):
    return all(params["b"].shape[0] == X.shape[-1] for params in params_list)


def _reference_stack(X, params_list):
    Y = X
    for params in params_list:
        Y, _, _ = rnn.forward(Y, None, params)
    return Y


def sequences_stack(student_fn):
    """Check ``student_fn(X, params_list) -> Y``, a stack of basic RNN layers.

    Parameters
    ----------
    student_fn : callable
        Takes X (N, T, D) and a list of L parameter dicts, layer l's being
        ``{"W": (H_{l-1} + H_l, H_l), "b": (H_l,)}`` with ``H_0 = D``; every layer starts
        from a zero state and reads the whole output sequence of the layer below. Returns
        the top layer's hidden states Y (N, T, H_L).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    # These wrong wirings only run when every layer has width D; elsewhere they cannot be
    # what the learner computed, and return None (which matches no answer).
    def every_layer_reads_x(X, params_list):
        if not _all_widths_equal(X, params_list):
            return None
        Y = None
        for params in params_list:
            Y, _, _ = rnn.forward(X, None, params)
        return Y

    def first_layer_only(X, params_list):
        Y, _, _ = rnn.forward(X, None, params_list[0])
        return Y

    def final_state_handed_up(X, params_list):
        if not _all_widths_equal(X, params_list):
            return None
        Y, state = X, None
        for params in params_list:
            Y, state, _ = rnn.forward(Y, state, params)
        return Y

    def layers_reversed(X, params_list):
        if not _all_widths_equal(X, params_list):
            return None
        return _reference_stack(X, params_list[::-1])

    hints = [
        Mistake(
            "every layer reading the input X",
            every_layer_reads_x,
            "Layer l+1 reads the hidden states of layer l: feed the Y returned by one "
            "layer as the X of the next.",
        ),
        Mistake(
            "the output of the first layer",
            first_layer_only,
            "Run every layer in params_list and return the top layer's states.",
        ),
        Mistake(
            "each layer starting from the final state of the layer below",
            final_state_handed_up,
            "Layers are stacked in depth, not in time: each layer starts from its own "
            "zero state (pass None as state0).",
        ),
        Mistake(
            "the layers applied from the top down",
            layers_reversed,
            "params_list[0] is the bottom layer, the one that reads X.",
        ),
    ]
    return run_check(
        "sequences_stack",
        student_fn,
        _stack_cases(),
        _reference_stack,
        hints=hints,
        output_name="Y",
        rtol=1e-5,
        atol=1e-6,
                     forbidden=FORBIDDEN["sequences_stack"])


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them).
FORBIDDEN = {
    "sequences_unroll": (
        _reference_unroll, rnn.forward, fast_rnn.forward, layers.stack_forward,
    ),
    "sequences_stack": (_reference_stack, layers.stack_forward),
}
