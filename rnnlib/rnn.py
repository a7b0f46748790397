r"""The basic (Elman) recurrent neural network: forward and backpropagation through time.

Dimension letters: N batch, T time, D input, H hidden. Sequences are batch first.

**Forward.** At each step the cell reads the input :math:`x_t` (N, D) and its own previous
state :math:`h_{t-1}` (N, H), side by side in one row :math:`z_t = [x_t, h_{t-1}]` (N, D+H):

.. math::

    z_t = [x_t,\ h_{t-1}]                                          \qquad \text{(rnn-concat)}

    a_t = z_t W + b                                                 \qquad \text{(rnn-preact)}

    h_t = \tanh(a_t)                                                \qquad \text{(rnn-forward)}

with ``W`` (D+H, H) and ``b`` (H,). This is the memo's :math:`s_t = \tanh(W[x_t, s_{t-1}]+b)`,
:math:`y_t = s_t`, written for a batch of row vectors: the memo's :math:`W` is our ``W.T``.
``W[:D]`` is the input-to-hidden part and ``W[D:]`` the hidden-to-hidden part.

Backward, with :math:`\bar h_t = \partial L / \partial h_t` the total gradient reaching
:math:`h_t` (from the output at step t and from step t+1):

.. math::

    \bar h_t = \frac{\partial L}{\partial y_t} + \bar a_{t+1} W_h^\top  \qquad \text{(rnn-dh)}

    \bar a_t = \bar h_t \odot (1 - h_t^2)                           \qquad \text{(rnn-da)}

    \bar W = \sum_t z_t^\top \bar a_t, \quad \bar b = \sum_t \textstyle\sum_n \bar a_t,
    \quad \bar x_t = \bar a_t W_x^\top                              \qquad \text{(rnn-grads)}

The sequence functions compute the input part :math:`x_t W_x + b` of every step with one
product before the time loop, and :math:`\bar W` and the input gradients with one product
each after it; everything else follows the step functions line by line. A faster
arrangement of the same computation, with the same interface and results, is
:mod:`rnnlib.fast.rnn`.

In every function the lines before the first equation only check the arguments
(:mod:`rnnlib._validate`).

PyTorch: ``torch.nn.RNN(nonlinearity="tanh")`` computes the same with
``weight_ih_l0 = W[:D].T``, ``weight_hh_l0 = W[D:].T`` and ``bias_ih_l0 + bias_hh_l0 = b``
(see :mod:`rnnlib.interop`).
"""

import numpy as np

from rnnlib._validate import (
    check_array,
    check_cache,
    check_finite,
    check_positive_int,
    hidden_size_of,
    resolve_dtype,
    resolve_rng,
)
from rnnlib._validate import check_params as check_param_shapes
from rnnlib.activations import tanh, tanh_grad_from_output

__all__ = [
    "GATES",
    "INIT_OPTIONS",
    "OPTIONS",
    "backward",
    "check_params",
    "forward",
    "init_params",
    "step_backward",
    "step_forward",
]

#: Column blocks of ``W`` and ``b``: a single one, the pre-activation of the new state.
GATES = ("h",)
#: Keyword options of the forward functions (the RNN has none) and of :func:`init_params`.
OPTIONS = ()
INIT_OPTIONS = ()


def init_params(input_size, hidden_size, *, rng=None, dtype=np.float64):
    r"""Draw initial parameters like PyTorch: uniform in :math:`[-1/\sqrt{H}, 1/\sqrt{H}]`.

    Parameters
    ----------
    input_size : int
        D, the size of each input vector.
    hidden_size : int
        H, the size of the hidden state.
    rng : numpy.random.Generator or int or None, optional
        Random generator or seed.
    dtype : {numpy.float64, numpy.float32}, optional
        dtype of the arrays.

    Returns
    -------
    params : dict
        ``"W"`` (D+H, H) and ``"b"`` (H,).
    """
    D = check_positive_int("input_size", input_size)
    H = check_positive_int("hidden_size", hidden_size)
    dtype = resolve_dtype(dtype)
    rng = resolve_rng(rng)
    k = 1.0 / np.sqrt(H)
    return {
        "W": rng.uniform(-k, k, size=(D + H, H)).astype(dtype),
        "b": rng.uniform(-k, k, size=(H,)).astype(dtype),
    }


def check_params(params, input_size, dtype=None):
    """Check an RNN parameter dict for inputs of size ``input_size``; return H.

    Parameters
    ----------
    params : dict
        ``"W"`` (D+H, H) and ``"b"`` (H,).
    input_size : int
        D.
    dtype : {numpy.float64, numpy.float32}, optional
        The dtype the arrays must have; None means that of ``params["W"]``.

    Returns
    -------
    H : int
        The hidden size.

    Raises
    ------
    ValueError
        Naming the key, the expected shape and the shape received.
    """
    D = check_positive_int("input_size", input_size)
    return _check_params(params, D, dtype, "input_size")


def _check_params(params, D, dtype, source):
    """Check ``params`` against the input size D and dtype of ``source``; return H."""
    H = hidden_size_of(params, D, GATES, source)
    dtype = params["W"].dtype if dtype is None else dtype
    check_param_shapes(params, {"W": ((D + H, H), "D+H, H"), "b": ((H,), "H")}, dtype)
    return H


def step_forward(x, state, params):
    r"""One time step of the RNN (rnn-forward).

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
        Inputs at this step.
    state : numpy.ndarray, shape (N, H), or None
        Previous hidden state :math:`h_{t-1}`; None means zeros.
    params : dict
        ``"W"`` (D+H, H) and ``"b"`` (H,), same dtype as ``x``.

    Returns
    -------
    h : numpy.ndarray, shape (N, H)
        New hidden state, which is also the output :math:`y_t`.
    state : numpy.ndarray, shape (N, H)
        The same array ``h`` (the RNN's whole state is its output).
    cache : dict
        What :func:`step_backward` needs.

    Notes
    -----
    :math:`h_t = \tanh([x_t, h_{t-1}] W + b)`; the memo's :math:`W` acting on a column
    vector is our ``W.T``.
    """
    x = check_array("x", x, ndim=2, dims="N, D", finite=False, nonempty=True)
    N, D = x.shape
    H = _check_params(params, D, x.dtype, "x")
    check_finite("x", x)
    if state is None:
        state = np.zeros((N, H), dtype=x.dtype)
    h_prev = check_array("state", state, shape=(N, H), dtype=x.dtype, dims="N, H")

    z = np.concatenate([x, h_prev], axis=1)  # (N, D+H)   (rnn-concat)
    h = tanh(z @ params["W"] + params["b"])  # (N, H)     (rnn-preact), (rnn-forward)
    cache = {"made_by": "rnnlib.rnn.step_forward", "z": z, "h": h, "W": params["W"], "D": D}
    return h, h, cache


def step_backward(dh, dstate, cache):
    r"""Backward through one time step: the adjoint of :func:`step_forward`.

    Parameters
    ----------
    dh : numpy.ndarray, shape (N, H)
        :math:`\partial L/\partial h_t` from whatever uses this step's output.
    dstate : numpy.ndarray, shape (N, H), or None
        :math:`\partial L/\partial h_t` flowing back from step t+1; None means zeros.
    cache : dict
        From :func:`step_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, D)
        Gradient with respect to ``x``.
    dstate_prev : numpy.ndarray, shape (N, H)
        Gradient with respect to the previous state :math:`h_{t-1}`.
    grads : dict
        ``"W"`` (D+H, H) and ``"b"`` (H,).

    Notes
    -----
    (rnn-dh), (rnn-da), (rnn-grads) for a single step: the two incoming gradients add up
    because :math:`h_t` is used twice, as the output and as the next step's state.
    """
    check_cache(cache, "rnnlib.rnn.step_forward", ("z", "h", "W", "D"))
    z, h, W, D = cache["z"], cache["h"], cache["W"], cache["D"]
    dh = check_array("dh", dh, shape=h.shape, dtype=h.dtype, dims="N, H")
    if dstate is not None:
        dstate = check_array("dstate", dstate, shape=h.shape, dtype=h.dtype, dims="N, H")
        dh = dh + dstate

    da = dh * tanh_grad_from_output(h)  # (N, H)      (rnn-da)
    grads = {"W": z.T @ da, "b": da.sum(axis=0)}  # (D+H, H), (H,)
    dz = da @ W.T  # (N, D+H): gradient of the concatenation [x, h_prev]
    return dz[:, :D], dz[:, D:], grads


def forward(X, state0, params):
    r"""Run the RNN over a whole sequence.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences, batch first.
    state0 : numpy.ndarray, shape (N, H), or None
        Initial state :math:`h_0`; None means zeros.
    params : dict
        ``"W"`` (D+H, H) and ``"b"`` (H,), same dtype as ``X``.

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H)
        Hidden state at every step, :math:`Y[:, t] = h_{t+1}` (steps counted from 1).
    state_T : numpy.ndarray, shape (N, H)
        The final state, equal to ``Y[:, -1]``.
    cache : dict
        What :func:`backward` needs.

    Notes
    -----
    (rnn-forward) at every step. The input term :math:`x_t W_x + b` of all steps is one
    product before the loop; the loop only adds :math:`h_{t-1} W_h`. The result equals
    calling :func:`step_forward` T times (the tests check this).
    """
    X = check_array("X", X, ndim=3, dims="N, T, D", finite=False, nonempty=True)
    N, T, D = X.shape
    H = _check_params(params, D, X.dtype, "X")
    check_finite("X", X)
    if state0 is None:
        state0 = np.zeros((N, H), dtype=X.dtype)
    h0 = check_array("state0", state0, shape=(N, H), dtype=X.dtype, dims="N, H")
    W, b = params["W"], params["b"]
    W_h = W[D:]  # (H, H): hidden-to-hidden part, a view

    A = X @ W[:D] + b  # (N, T, H): input part of every pre-activation, one product
    Y = np.empty((N, T, H), dtype=X.dtype)
    h = h0
    for t in range(T):
        h = tanh(A[:, t] + h @ W_h)  # (N, H)   (rnn-forward)
        Y[:, t] = h
    cache = {"made_by": "rnnlib.rnn.forward", "X": X, "h0": h0, "Y": Y, "W": W}
    return Y, h, cache


def backward(dY, dstate_T, cache):
    r"""Backpropagation through time over a whole sequence: the adjoint of :func:`forward`.

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L/\partial h_t` from the outputs at every step (zeros where the
        loss does not look at a step).
    dstate_T : numpy.ndarray, shape (N, H), or None
        Gradient with respect to the final state from outside the sequence (e.g. a later
        chunk of a long sequence); None means zeros.
    cache : dict
        From :func:`forward`.

    Returns
    -------
    dX : numpy.ndarray, shape (N, T, D)
        Gradient with respect to the inputs.
    dstate0 : numpy.ndarray, shape (N, H)
        Gradient with respect to the initial state ``state0``.
    grads : dict
        ``"W"`` (D+H, H) and ``"b"`` (H,).

    Notes
    -----
    The loop runs backwards in time and carries only :math:`\bar h` (rnn-dh), storing the
    pre-activation gradients :math:`\bar a_t` (rnn-da). Afterwards (rnn-grads) is done
    with one product each: stacking :math:`z_t = [x_t, h_{t-1}]` of all steps as rows of an
    (N*T, D+H) matrix Z and :math:`\bar a_t` as rows of an (N*T, H) matrix gives
    :math:`\bar W = Z^\top \bar A`, the sum over steps and batch in a single product.
    """
    check_cache(cache, "rnnlib.rnn.forward", ("X", "h0", "Y", "W"))
    X, h0, Y, W = cache["X"], cache["h0"], cache["Y"], cache["W"]
    N, T, H = Y.shape
    D = X.shape[2]
    dY = check_array("dY", dY, shape=(N, T, H), dtype=Y.dtype, dims="N, T, H")
    if dstate_T is None:
        dh = np.zeros((N, H), dtype=Y.dtype)
    else:
        dh = check_array("dstate_T", dstate_T, shape=(N, H), dtype=Y.dtype, dims="N, H")
    W_h_T = W[D:].T  # (H, H)

    dA = np.empty_like(Y)  # (N, T, H): gradient of every pre-activation a_t
    for t in reversed(range(T)):
        dh = dY[:, t] + dh  # (N, H): from the output and from step t+1   (rnn-dh)
        da = dh * tanh_grad_from_output(Y[:, t])  # (N, H)                 (rnn-da)
        dA[:, t] = da
        dh = da @ W_h_T  # (N, H): on to h_{t-1}

    # (rnn-grads), each as one product over all N*T rows.
    H_prev = np.concatenate([h0[:, None, :], Y[:, :-1]], axis=1)  # (N, T, H): h_{t-1}
    Z = np.concatenate([X, H_prev], axis=2).reshape(N * T, D + H)  # (N*T, D+H)
    dA_rows = dA.reshape(N * T, H)  # (N*T, H)
    grads = {"W": Z.T @ dA_rows, "b": dA_rows.sum(axis=0)}
    dX = dA @ W[:D].T  # (N, T, D)
    return dX, dh, grads
