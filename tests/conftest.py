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
