"""Helpers shared by the test files, imported as a plain module (``import helpers``).

Dimension letters: N batch, T time, D input, H hidden.
"""

import numpy as np

from rnnlib import fast, gru, lstm, rnn

#: Every cell configuration rnnlib implements: (id, module, fast twin, options).
CELL_CONFIGS = [
    ("rnn", rnn, fast.rnn, {}),
    ("lstm", lstm, fast.lstm, {"forget_gate": True}),
    ("lstm-1997", lstm, fast.lstm, {"forget_gate": False}),
    ("gru-cho", gru, fast.gru, {"convention": "cho"}),
    ("gru-pytorch", gru, fast.gru, {"convention": "pytorch"}),
]


def random_state(cell, N, H, rng, dtype=np.float64):
    """A random state for ``cell``: (N, H), or the pair (h, s) for the LSTM."""
    if cell in (lstm, fast.lstm):
        return tuple(rng.standard_normal((N, H)).astype(dtype) for _ in range(2))
    return rng.standard_normal((N, H)).astype(dtype)


def as_list(state):
    """A cell's state as a list of arrays: [h] or [h, s]."""
    return list(state) if isinstance(state, tuple) else [state]


def run_step_by_step(cell, X, state0, params, dY, dstate_T, **options):
    """Forward and backward over a sequence with the step functions only.

    CS231n's ``rnn_forward``/``rnn_backward``: the sequence functions must agree with it.

    Returns
    -------
    Y (N, T, H), state_T, dX (N, T, D), dstate0, grads (dict summed over steps)
    """
    T = X.shape[1]
    state, outputs, caches = state0, [], []
    for t in range(T):
        h, state, cache = cell.step_forward(X[:, t], state, params, **options)
        outputs.append(h)
        caches.append(cache)
    dstate, dxs, grads = dstate_T, [None] * T, None
    for t in reversed(range(T)):
        dxs[t], dstate, step_grads = cell.step_backward(dY[:, t], dstate, caches[t])
        if grads is None:
            grads = step_grads
        else:
            grads = {key: grads[key] + step_grads[key] for key in grads}
    return np.stack(outputs, axis=1), state, np.stack(dxs, axis=1), dstate, grads


def cell_name(cell):
    """The name of a cell module in the registries: "lstm" for rnnlib.lstm and rnnlib.fast.lstm."""
    return cell.__name__.rsplit(".", 1)[-1]
