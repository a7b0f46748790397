"""Shared fixtures for the test suite.

Dimension letters: N batch, T time, D input, H hidden.
"""

import helpers
import numpy as np
import pytest

#: Every cell configuration rnnlib implements: (id, module, options).
CELL_CONFIGS = [(name, cell, options) for name, cell, _, options in helpers.CELL_CONFIGS]


@pytest.fixture
def rng():
    """A fresh, seeded generator for each test, so tests do not depend on their order."""
    return np.random.default_rng(20250516)


@pytest.fixture(params=CELL_CONFIGS, ids=[config[0] for config in CELL_CONFIGS])
def cell_config(request):
    """Each cell configuration in turn, as (id, module, options)."""
    return request.param


@pytest.fixture
def make_state():
    """The function ``random_state(cell, N, H, rng, dtype=np.float64)``."""
    return helpers.random_state


@pytest.fixture
def torch():
    """PyTorch, limited to one thread because the machine's cores are shared."""
    import torch  # pinned in requirements.txt: a missing torch is a broken setup, not a skip

    torch.set_num_threads(1)
    return torch


@pytest.fixture
def step_by_step():
    """The function ``run_step_by_step(cell, X, state0, params, dY, dstate_T, **options)``."""
    return helpers.run_step_by_step
