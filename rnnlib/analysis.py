r"""Measurements for the chapters on vanishing and exploding gradients and on the LSTM.

The backward pass of the basic RNN carries the gradient from step to step by multiplying it
with the Jacobian of one step (book, equation ``rnn-jacobian``)

.. math::

    \frac{\partial h_t}{\partial h_{t-1}} = \operatorname{diag}(1 - h_t^2)\, W_h^\top ,

so the gradient that reaches :math:`h_k` from a loss at step :math:`t` has been multiplied by
:math:`t - k` such matrices. The helpers here measure what that does:

- :func:`state_gradients`: the total gradient :math:`\partial L / \partial h_t` at every step,
  by running :func:`rnnlib.rnn.step_backward` backwards in time;
- :func:`set_spectral_radius`: rescale a square recurrent matrix to a chosen spectral radius;
- :func:`one_unit_forward` and :func:`one_unit_loss_and_grads`: the one-unit network
  :math:`x_t = w\,\sigma(x_{t-1}) + b` of Pascanu, Mikolov and Bengio (2013), evaluated on a
  whole grid of :math:`(w, b)` at once, with its gradient by backpropagation through time
  (their loss on :math:`\sigma(x_T)`, or a variant on :math:`x_T` itself).

And for the LSTM chapter:

- :func:`gate_trace`: every gate, the cell state and the output of an LSTM at every step of a
  sequence, by replaying :func:`rnnlib.lstm.step_forward` (for plots and heatmaps);
- :func:`gradient_norm_by_lag`: how strongly a loss on the last output depends on the input
  k steps earlier, for any rnnlib cell (the constant-error-carousel measurement, book
  equations ``lstm-rnn-product`` and ``lstm-carousel``).

Dimension letters: N batch, T time, D input, H hidden.
"""

import numpy as np

from rnnlib import lstm, rnn
from rnnlib._validate import check_array, check_positive_int
from rnnlib.activations import sigmoid, sigmoid_grad_from_output

__all__ = [
    "gate_trace",
    "gradient_norm_by_lag",
    "one_unit_forward",
    "one_unit_loss_and_grads",
    "set_spectral_radius",
    "spectral_radius",
    "state_gradients",
]


def state_gradients(X, params, dY, state0=None):
    r"""Total gradient of the loss with respect to every hidden state of a basic RNN.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    params : dict
        RNN parameters ``"W"`` (D+H, H) and ``"b"`` (H,), same dtype as ``X``.
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L / \partial y_t`, the gradient arriving at each step's output from
        above (zeros at the steps the loss does not look at).
    state0 : numpy.ndarray, shape (N, H), or None
        Initial state; None means zeros.

    Returns
    -------
    dH : numpy.ndarray, shape (N, T, H)
        ``dH[:, t]`` is :math:`\delta h_{t+1} = \partial L / \partial h_{t+1}` (steps counted
        from 1), the sum of the gradient from the output at that step and the gradient
        flowing back from all later steps (book, equation ``rnn-dh``).

    Notes
    -----
    :func:`rnnlib.rnn.backward` keeps only the gradient it needs, so this function replays
    the sequence with :func:`rnnlib.rnn.step_forward` and walks back with
    :func:`rnnlib.rnn.step_backward`, recording the incoming gradient at every step. It does
    no arithmetic of its own beyond the sum of the two incoming gradients.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D")
    N, T, _ = X.shape
    H = params["W"].shape[1] if isinstance(params, dict) and "W" in params else None
    dY = check_array("dY", dY, shape=(N, T, H), dtype=X.dtype, dims="N, T, H")
    caches = []
    h = state0
    for t in range(T):
        h, _, cache = rnn.step_forward(X[:, t], h, params)
        caches.append(cache)
    dH = np.empty_like(dY)
    dstate = np.zeros_like(dY[:, 0])  # (N, H): nothing flows back from beyond step T
    for t in reversed(range(T)):
        dH[:, t] = dY[:, t] + dstate  # (N, H): output path + recurrent path
        _, dstate, _ = rnn.step_backward(dY[:, t], dstate, caches[t])
    return dH


def spectral_radius(W):
    r"""Largest absolute value of the eigenvalues of a square matrix.

    Parameters
    ----------
    W : numpy.ndarray, shape (H, H)

    Returns
    -------
    float
        :math:`\rho(W) = \max_i |\lambda_i(W)|`.
    """
    W = check_array("W", W, ndim=2, dims="H, H")
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"W: expected a square matrix (H, H), got {W.shape}")
    return float(np.abs(np.linalg.eigvals(W)).max())


def set_spectral_radius(W, radius):
    r"""Return ``W`` rescaled so that its spectral radius is ``radius``.

    Parameters
    ----------
    W : numpy.ndarray, shape (H, H)
        A square matrix with at least one non-zero eigenvalue.
    radius : float
        The spectral radius wanted, > 0.

    Returns
    -------
    numpy.ndarray, shape (H, H), same dtype as ``W``
        ``W * radius / spectral_radius(W)``: same eigenvectors, eigenvalues scaled.
    """
    current = spectral_radius(W)
    if not radius > 0:
        raise ValueError(f"radius: expected a positive number, got {radius!r}")
    if current == 0:
        raise ValueError("W: all eigenvalues are zero, so no rescaling changes its radius")
    return (W * (radius / current)).astype(W.dtype)


def one_unit_forward(w, b, *, x0=0.5, steps=50):
    r"""Run the one-unit network :math:`x_t = w\,\sigma(x_{t-1}) + b` for ``steps`` steps.

    Parameters
    ----------
    w, b : float or numpy.ndarray, broadcastable to a common shape S
        Recurrent weight and bias; pass grids (e.g. from ``np.meshgrid``) to run many
        networks at once.
    x0 : float, default 0.5
        Initial state :math:`x_0`.
    steps : int, default 50
        Number of steps T.

    Returns
    -------
    numpy.ndarray, shape (T+1, *S)
        ``xs[t]`` is :math:`x_t`, from :math:`x_0` to :math:`x_T`.

    Notes
    -----
    This is the recurrence of Pascanu, Mikolov and Bengio (2013, section 2.3) with no input:
    a single sigmoid unit that feeds itself. For some :math:`(w, b)` it has one stable
    fixed point, for others two; crossing the boundary between the two regimes moves
    :math:`x_T` abruptly, which is the "cliff" in the error surface.
    """
    steps = check_positive_int("steps", steps)
    w, b = np.broadcast_arrays(np.asarray(w, dtype=float), np.asarray(b, dtype=float))
    xs = np.empty((steps + 1,) + w.shape)
    xs[0] = x0
    for t in range(1, steps + 1):
        xs[t] = w * sigmoid(xs[t - 1]) + b
    return xs


def one_unit_loss_and_grads(w, b, *, x0=0.5, steps=50, target=0.7, sigmoid_output=False):
    r"""Loss of the one-unit network after ``steps`` steps and its gradient in (w, b).

    Parameters
    ----------
    w, b : float or numpy.ndarray, broadcastable to a common shape S
        Recurrent weight and bias.
    x0 : float, default 0.5
        Initial state.
    steps : int, default 50
        Number of steps T.
    target : float, default 0.7
        Target :math:`y^\ast` of the output.
    sigmoid_output : bool, default False
        If True the output is :math:`y = \sigma(x_T)`, as in Pascanu, Mikolov and Bengio
        (2013, section 2.3, whose error surface is :math:`(\sigma(x_{50}) - 0.7)^2` with
        :math:`x_0 = 0.5`, the defaults here). If False the output is the state itself,
        :math:`y = x_T`: a variant whose loss is not bounded, so the cliff is taller.

    Returns
    -------
    loss, dw, db : numpy.ndarray, shape S
        The loss :math:`(y - y^\ast)^2` and its partial derivatives with respect to ``w``
        and ``b``.

    Notes
    -----
    Backpropagation through time for a scalar state: with
    :math:`\bar x_T = 2(y - y^\ast)\, \partial y / \partial x_T` (the last factor is
    :math:`\sigma'(x_T)` with the sigmoid output, 1 without), going from :math:`t = T`
    down to 1,

    .. math::

        \bar w \mathrel{+}= \bar x_t\, \sigma(x_{t-1}), \qquad
        \bar b \mathrel{+}= \bar x_t, \qquad
        \bar x_{t-1} = \bar x_t\, w\, \sigma'(x_{t-1}).

    Each step multiplies :math:`\bar x` by :math:`w \sigma'(x_{t-1})`, the one-unit Jacobian.
    """
    if not isinstance(sigmoid_output, (bool, np.bool_)):
        raise ValueError(f"sigmoid_output: expected True or False, got {sigmoid_output!r}")
    xs = one_unit_forward(w, b, x0=x0, steps=steps)
    w = np.broadcast_to(np.asarray(w, dtype=float), xs.shape[1:])
    if sigmoid_output:
        y = sigmoid(xs[-1])
        loss = (y - target) ** 2
        dx = 2 * (y - target) * sigmoid_grad_from_output(y)
    else:
        loss = (xs[-1] - target) ** 2
        dx = 2 * (xs[-1] - target)
    dw = np.zeros_like(loss)
    db = np.zeros_like(loss)
    for t in range(steps, 0, -1):
        s = sigmoid(xs[t - 1])
        dw += dx * s
        db += dx
        dx = dx * w * sigmoid_grad_from_output(s)
    return loss, dw, db


# --------------------------------------------------------------------------------------
# The LSTM: gates over time, and the gradient by lag
# --------------------------------------------------------------------------------------


def gate_trace(X, params, state0=None, *, forget_gate=True):
    r"""Gates, cell state and output of an LSTM at every step of a sequence.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    params : dict
        LSTM parameters, ``"W"`` (D+H, 4H) and ``"b"`` (4H,) (3H without the forget gate),
        same dtype as ``X``.
    state0 : tuple (h0, s0) of numpy.ndarray, each (N, H), or None
        Initial state; None means zeros.
    forget_gate : bool, default True
        Whether ``params`` belong to the cell with a forget gate.

    Returns
    -------
    trace : dict of numpy.ndarray, each (N, T, H)
        ``"f"``, ``"i"``, ``"a"``, ``"o"``: the activated gates (book equations
        ``lstm-forget`` to ``lstm-output-gate``); ``"s"``: the cell state :math:`s_t`;
        ``"h"``: the output :math:`h_t`. Without a forget gate ``"f"`` is all ones, which is
        what the 1997 cell's update :math:`s_t = s_{t-1} + i_t a_t` amounts to.

    Notes
    -----
    Like :func:`state_gradients`, this replays the sequence step by step, here with
    :func:`rnnlib.lstm.step_forward`, and records what every step computed: the gates from
    the step's cache (activated, blocks in ``lstm.GATES`` order), the state and the output
    from what it returns. It does no arithmetic of its own.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D")
    N, T, _ = X.shape
    names = lstm.GATES if forget_gate else lstm.GATES_NO_FORGET
    steps = {name: [] for name in (*names, "s", "h")}
    state = state0
    for t in range(T):
        h, state, cache = lstm.step_forward(X[:, t], state, params, forget_gate=forget_gate)
        blocks = np.split(cache["gates"], len(names), axis=-1)  # each (N, H)
        for name, block in zip(names, blocks, strict=True):
            steps[name].append(block)
        steps["s"].append(state[1])
        steps["h"].append(h)
    trace = {name: np.stack(values, axis=1) for name, values in steps.items()}  # (N, T, H)
    if not forget_gate:
        trace["f"] = np.ones_like(trace["i"])
    return {name: trace[name] for name in ("f", "i", "a", "o", "s", "h")}


def gradient_norm_by_lag(cell, params, X, *, direction=None, **cell_options):
    r"""Norm of the gradient of a loss on the last output with respect to earlier inputs.

    The loss is :math:`L = h_T \cdot u` for a fixed unit vector :math:`u` (the same for
    every sequence); backpropagation through time gives :math:`\partial L / \partial x_t`
    for every step, and its norm at lag :math:`k = T - t` says how much the input
    :math:`k` steps before the end can still move the output.

    Parameters
    ----------
    cell : module
        An rnnlib cell module: :mod:`rnnlib.rnn`, :mod:`rnnlib.lstm` or :mod:`rnnlib.gru`.
    params : dict
        The cell's parameters, same dtype as ``X``.
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    direction : numpy.ndarray, shape (H,), optional
        The vector :math:`u`; default :math:`(1, \dots, 1)/\sqrt{H}`.
    **cell_options
        Passed to the cell's ``forward`` (e.g. ``forget_gate=False``).

    Returns
    -------
    norms : numpy.ndarray, shape (T,)
        ``norms[k]`` is the mean over the batch of
        :math:`\|\partial L / \partial x_{T-k}\|`: ``norms[0]`` the last step,
        ``norms[-1]`` the first.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D")
    Y, _, cache = cell.forward(X, None, params, **cell_options)
    N, T, H = Y.shape
    if direction is None:
        direction = np.full(H, 1.0 / np.sqrt(H), dtype=X.dtype)
    direction = check_array("direction", direction, shape=(H,), dims="H")
    dY = np.zeros_like(Y)  # (N, T, H): the loss looks only at the last output
    dY[:, -1] = direction
    dX, _, _ = cell.backward(dY, None, cache)  # (N, T, D)
    norms = np.linalg.norm(dX, axis=2).mean(axis=0)  # (T,), indexed by time
    return norms[::-1].copy()  # indexed by lag
