r"""The basic RNN's sequence functions arranged for speed: same interface, same results.

A drop-in replacement for :mod:`rnnlib.rnn`: :func:`forward` and :func:`backward` compute
what :func:`rnnlib.rnn.forward` and :func:`rnnlib.rnn.backward` compute (the tests check
agreement to rounding in float64 and float32), with fewer temporary arrays; everything else
(:func:`init_params`, the step functions, ``GATES``) is :mod:`rnnlib.rnn`'s own. See
:mod:`rnnlib.fast` for what each arrangement buys.
"""

import numpy as np

from rnnlib._validate import check_array, check_cache, check_finite
from rnnlib.activations import tanh_grad_from_output
from rnnlib.rnn import (
    GATES,
    INIT_OPTIONS,
    OPTIONS,
    _check_params,
    check_params,
    init_params,
    step_backward,
    step_forward,
)

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


def forward(X, state0, params):
    r"""Run the RNN over a whole sequence.

    Same arguments and results as :func:`rnnlib.rnn.forward`, which documents them; the cache
    goes only to this module's :func:`backward`.

    Notes
    -----
    The same computation as :func:`rnnlib.rnn.forward`; the loop writes each step's
    pre-activation straight into ``Y`` and applies tanh there in place, three NumPy calls per
    step and no temporary arrays.
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

    # (N, T, H): input part of every pre-activation, one product over all N*T rows
    A = (X.reshape(N * T, D) @ W[:D]).reshape(N, T, H)
    A += b
    Y = np.empty((N, T, H), dtype=X.dtype)
    h = h0
    for t in range(T):
        a = np.matmul(h, W_h, out=Y[:, t])  # (N, H), written straight into Y
        a += A[:, t]
        h = np.tanh(a, out=a)  # (rnn-forward), in place
    cache = {"made_by": "rnnlib.fast.rnn.forward", "X": X, "h0": h0, "Y": Y, "W": W}
    return Y, h.copy(), cache


def backward(dY, dstate_T, cache):
    r"""Backpropagation through time over a whole sequence: the adjoint of :func:`forward`.

    Same arguments and results as :func:`rnnlib.rnn.backward`, which documents them; ``cache``
    must come from this module's :func:`forward`.

    Notes
    -----
    The same computation as :func:`rnnlib.rnn.backward`, with :math:`1 - h_t^2` of every
    step computed before the loop and turned into :math:`\bar a_t` in place, the recurrent
    product written into the carried gradient (``out=``), and the weight gradient written
    in two blocks without building the concatenated rows :math:`Z`.
    """
    check_cache(cache, "rnnlib.fast.rnn.forward", ("X", "h0", "Y", "W"))
    X, h0, Y, W = cache["X"], cache["h0"], cache["Y"], cache["W"]
    N, T, H = Y.shape
    D = X.shape[2]
    dY = check_array("dY", dY, shape=(N, T, H), dtype=Y.dtype, dims="N, T, H")
    if dstate_T is None:
        dh = np.zeros((N, H), dtype=Y.dtype)
    else:
        dh = check_array("dstate_T", dstate_T, shape=(N, H), dtype=Y.dtype, dims="N, H").copy()
    W_h_T = np.ascontiguousarray(W[D:].T)  # (H, H); a contiguous copy multiplies faster

    dA = tanh_grad_from_output(Y)  # (N, T, H): 1 - h_t^2, becomes the gradient of a_t
    for t in reversed(range(T)):
        dh += dY[:, t]  # (N, H): from the output and from step t+1   (rnn-dh)
        da = dA[:, t]
        da *= dh  # (rnn-da)
        np.matmul(da, W_h_T, out=dh)  # (N, H): on to h_{t-1}

    # (rnn-grads), each as one product over all N*T rows.
    rows = N * T
    H_prev = np.empty_like(Y)  # (N, T, H): h_{t-1}
    H_prev[:, 0] = h0
    H_prev[:, 1:] = Y[:, :-1]
    dA_rows = dA.reshape(rows, H)  # (N*T, H)
    dW = np.empty_like(W)  # (D+H, H)
    np.matmul(X.reshape(rows, D).T, dA_rows, out=dW[:D])
    np.matmul(H_prev.reshape(rows, H).T, dA_rows, out=dW[D:])
    grads = {"W": dW, "b": dA_rows.sum(axis=0)}
    dX = (dA_rows @ W[:D].T).reshape(N, T, D)
    return dX, dh, grads
