"""Shared fixtures for the test suite.

Dimension letters: N batch, T time, D input, H hidden.
"""

import numpy as np
import pytest

from rnnlib import gru, lstm, rnn

#: Every cell configuration rnnlib implements: (id, module, options).
CELL_CONFIGS = [
    ("rnn", rnn, {}),
    ("lstm", lstm, {"forget_gate": True}),
    ("lstm-1997", lstm, {"forget_gate": False}),
    ("gru-cho", gru, {"convention": "cho"}),
    ("gru-pytorch", gru, {"convention": "pytorch"}),
]


@pytest.fixture
def rng():
    """A fresh, seeded generator for each test, so tests do not depend on their order."""
    return np.random.default_rng(20250516)


@pytest.fixture(params=CELL_CONFIGS, ids=[config[0] for config in CELL_CONFIGS])
def cell_config(request):
    """Each cell configuration in turn, as (id, module, options)."""
    return request.param


def random_state(cell, N, H, rng, dtype=np.float64):
    """A random state for ``cell``: (N, H), or the pair (h, s) for the LSTM."""
    if cell is lstm:
        return tuple(rng.standard_normal((N, H)).astype(dtype) for _ in range(2))
    return rng.standard_normal((N, H)).astype(dtype)


@pytest.fixture
def make_state():
    """The function ``random_state(cell, N, H, rng, dtype=np.float64)``."""
    return random_state


@pytest.fixture
def torch():
    """PyTorch, limited to one thread because the machine's cores are shared."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


def run_step_by_step(cell, X, state0, params, dY, dstate_T, **options):
    """Forward and backward over a sequence with the step functions only.

    The sequence functions use a faster formulation (input projection before the loop,
    weight gradients after it); this is the slow reference they must agree with.

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


@pytest.fixture
def step_by_step():
    """The function ``run_step_by_step(cell, X, state0, params, dY, dstate_T, **options)``."""
    return run_step_by_step
