r"""The LSTM's sequence functions arranged for speed: same interface, same results.

A drop-in replacement for :mod:`rnnlib.lstm`: :func:`forward` and :func:`backward` compute
what :func:`rnnlib.lstm.forward` and :func:`rnnlib.lstm.backward` compute (the tests check
agreement to rounding in float64 and float32); everything else (:func:`init_params`, the
step functions, ``GATES``) is :mod:`rnnlib.lstm`'s own. A cache of this module's
:func:`forward` goes only to this module's :func:`backward`. See :mod:`rnnlib.fast` for
what each arrangement buys.
"""

import numpy as np

from rnnlib._validate import check_array, check_cache, check_finite
from rnnlib.activations import sigmoid_grad_from_output, tanh_grad_from_output
from rnnlib.fast.gates import GateActivations
from rnnlib.lstm import (
    GATES,
    GATES_NO_FORGET,
    INIT_OPTIONS,
    OPTIONS,
    _check_params,
    _check_state,
    check_params,
    init_params,
    step_backward,
    step_forward,
)

__all__ = [
    "GATES",
    "GATES_NO_FORGET",
    "INIT_OPTIONS",
    "OPTIONS",
    "backward",
    "check_params",
    "forward",
    "init_params",
    "step_backward",
    "step_forward",
]


def forward(X, state0, params, *, forget_gate=True):
    r"""Run the LSTM over a whole sequence.

    Same arguments and results as :func:`rnnlib.lstm.forward`, which documents them; the cache
    goes only to this module's :func:`backward`.

    Notes
    -----
    The same computation as :func:`rnnlib.lstm.forward`, arranged for speed:

    - the input part of all gates at all steps is one batched product
      :math:`W_x^\top x_t^\top + b` into a feature-major (T, G*H, N) array before the loop,
      and each step adds the recurrent part with one product for all gates;
    - all gate nonlinearities of a step are one :class:`~rnnlib.fast.gates.GateActivations`
      call, for which the weight columns are scaled once beforehand (exactly, by powers of
      two);
    - every step writes into preallocated arrays (``out=`` and in-place operators), so a
      step is about ten NumPy calls. At small sizes the time per call, not the arithmetic,
      is what a step costs;
    - inside the loop every array is feature-major, (G*H, N) for the gates of a step, so
      that each gate block is one contiguous piece of memory. The cache keeps that layout
      only (no batch-first copies).
    """
    X = check_array("X", X, ndim=3, dims="N, T, D", finite=False, nonempty=True)
    N, T, D = X.shape
    H = _check_params(params, D, X.dtype, "X", forget_gate)
    check_finite("X", X)
    h0, s0 = _check_state("state0", state0, N, H, X.dtype)
    W = params["W"]
    G = 4 if forget_gate else 3
    # Inside the loop every array is "feature-major": one column per sequence, (H, N) for a
    # state and (G*H, N) for the gates, so that each gate block of each step is one
    # contiguous piece of memory and every NumPy call runs over it in one sweep.
    activate = GateActivations("ssts" if forget_gate else "sts", H, X.dtype, axis=0)
    W_scaled = W * activate.scale  # (D+H, G*H): columns pre-scaled for `activate`
    W_h_T = np.ascontiguousarray(W_scaled[D:].T)  # (G*H, H)

    # (T, G*H, N): input part of every pre-activation, computed feature-major directly
    # (one product per step, W_x^T x_t^T, in one batched call); becomes the gates.
    gates = np.matmul(np.ascontiguousarray(W_scaled[:D].T), X.transpose(1, 2, 0))
    # the bias repeated per column, (G*H, N): added to each step's block in one sweep, where a
    # (G*H, 1) column would be added row by row
    gates += np.ascontiguousarray(
        np.broadcast_to((params["b"] * activate.scale)[:, None], (G * H, N))
    )
    Y = np.empty((T, H, N), dtype=X.dtype)
    S = np.empty((T, H, N), dtype=X.dtype)  # cell states s_t
    tanh_S = np.empty((T, H, N), dtype=X.dtype)
    recurrent = np.empty((G * H, N), dtype=X.dtype)  # W_h^T h_{t-1}, reused every step
    input_term = np.empty((H, N), dtype=X.dtype)  # i_t * a_t
    F, I, A, O = _split_rows(gates, forget_gate)  # (T, H, N) views; F None without
    h, s = np.ascontiguousarray(h0.T), np.ascontiguousarray(s0.T)  # (H, N)
    for t in range(T):
        g = gates[t]  # (G*H, N)
        g += np.matmul(W_h_T, h, out=recurrent)  # full pre-activations, one product
        activate(g)  # (lstm-forget) ... (lstm-output-gate), all blocks in one go
        np.multiply(I[t], A[t], out=input_term)
        if F is None:
            np.add(s, input_term, out=S[t])  # (lstm-state-1997)
        else:
            np.multiply(F[t], s, out=S[t])
            S[t] += input_term  # (lstm-state)
        s = S[t]
        np.tanh(s, out=tanh_S[t])
        h = np.multiply(O[t], tanh_S[t], out=Y[t])  # (lstm-output)
    cache = {
        "made_by": "rnnlib.fast.lstm.forward",
        "X": X,
        "h0": h0,
        "s0": s0,
        "W": W,
        "forget_gate": forget_gate,
        # feature-major, (T, ., N): activated gates, outputs, cell states, tanh of the states
        "gates": gates,
        "Y": Y,
        "S": S,
        "tanh_S": tanh_S,
    }
    return np.ascontiguousarray(Y.transpose(2, 0, 1)), (h.T.copy(), s.T.copy()), cache


def _split_rows(gates, forget_gate):
    """Split feature-major gates (..., G*H, N) into row-block views (f, i, a, o)."""
    blocks = np.split(gates, 4 if forget_gate else 3, axis=-2)
    return tuple(blocks) if forget_gate else (None, *blocks)


def backward(dY, dstate_T, cache):
    r"""Backpropagation through time for the LSTM: the adjoint of :func:`forward`.

    Same arguments and results as :func:`rnnlib.lstm.backward`, which documents them; ``cache``
    must come from this module's :func:`forward`.

    Notes
    -----
    The same equations as :func:`rnnlib.lstm.step_backward`, regrouped so that the loop does
    as little as possible. Everything in (lstm-do), (lstm-ds), (lstm-dgates) and the activation
    derivatives that does not involve a gradient is a product of forward values, so it is
    computed for all steps at once before the loop:

    .. math::

        c_t = o_t (1 - \tanh^2 s_t), \quad
        k_t = [s_{t-1} f_t(1-f_t),\ a_t i_t (1-i_t),\ i_t (1 - a_t^2)], \quad
        l_t = \tanh(s_t)\, o_t (1 - o_t).

    The loop then carries :math:`\bar h` and :math:`\bar s` back in time:
    :math:`\bar s_t = \bar s_{t+1} f_{t+1} + \bar h_t c_t`, the pre-activation gradient
    :math:`\bar P_t = [\bar s_t k_t,\ \bar h_t l_t]` (N, G*H) is stored, and
    :math:`\bar h_{t-1} = \bar P_t W_h^\top` is the one product inside the loop.
    Afterwards :math:`\bar W = [X; H_{prev}]^\top \bar P` (over all N*T rows, with
    :math:`H_{prev}` the states :math:`h_{t-1}`) and :math:`\bar X = \bar P W_x^\top` are
    one product each.
    """
    keys = ("X", "h0", "s0", "W", "forget_gate", "gates", "Y", "S", "tanh_S")
    check_cache(cache, "rnnlib.fast.lstm.forward", keys)
    X, W, forget_gate = cache["X"], cache["W"], cache["forget_gate"]
    gates, Y, S, tanh_S = cache["gates"], cache["Y"], cache["S"], cache["tanh_S"]  # (T, ., N)
    T, H, N = Y.shape
    D = X.shape[2]
    G = gates.shape[1] // H
    dY = check_array("dY", dY, shape=(N, T, H), dtype=Y.dtype, dims="N, T, H")
    if dstate_T is None:
        dh = np.zeros((H, N), dtype=Y.dtype)
        ds = np.zeros((H, N), dtype=Y.dtype)
    else:
        dh, ds = _check_state("dstate_T", dstate_T, N, H, Y.dtype)
        dh, ds = dh.T.copy(), ds.T.copy()  # (H, N) each, new arrays: updated in place below
    W_h = W[D:]  # (H, G*H): dh_{t-1} = W_h dP_t in the feature-major layout
    dY_fm = np.ascontiguousarray(dY.transpose(1, 2, 0))  # (T, H, N)

    # The factors of the gradient that come from the forward pass only, all steps at once.
    f, i, a, o = _split_rows(gates, forget_gate)  # each (T, H, N)
    c = tanh_grad_from_output(tanh_S)
    c *= o  # (T, H, N): c_t
    k = np.empty((T, G - 1, H, N), dtype=Y.dtype)  # k_t, blocks [f,] i, a
    if f is not None:  # s_{t-1} f_t (1 - f_t), with s_{t-1} read from S shifted by one step
        sigmoid_f = sigmoid_grad_from_output(f)
        np.multiply(cache["s0"].T, sigmoid_f[0], out=k[0, 0])
        np.multiply(S[:-1], sigmoid_f[1:], out=k[1:, 0])
        del sigmoid_f
    np.multiply(a, sigmoid_grad_from_output(i), out=k[:, -2])
    np.multiply(i, tanh_grad_from_output(a), out=k[:, -1])
    l = tanh_S * sigmoid_grad_from_output(o)  # (T, H, N): l_t

    dP = np.empty((T, G, H, N), dtype=Y.dtype)  # gradient of every pre-activation
    dh_from_s = np.empty((H, N), dtype=Y.dtype)
    for t in reversed(range(T)):
        dh += dY_fm[t]  # (H, N): from the output and from step t+1
        ds += np.multiply(dh, c[t], out=dh_from_s)  # (lstm-ds)
        np.multiply(ds, k[t], out=dP[t, :-1])  # [f,] i, a blocks
        np.multiply(dh, l[t], out=dP[t, -1])  # o block                  (lstm-do)
        if f is not None:
            ds *= f[t]  # on to s_{t-1}
        np.matmul(W_h, dP[t].reshape(G * H, N), out=dh)  # (H, N): on to h_{t-1}
    del c, k, l, dY_fm  # freed before the large arrays below: the peak memory stays lower

    # The products over all N*T columns (t, n): dP as (G*H, T*N), moving whole rows of N.
    rows = N * T
    dP_cols = np.ascontiguousarray(dP.reshape(T, G * H, N).transpose(1, 0, 2)).reshape(G * H, rows)
    del dP
    Z = np.empty((T, N, D + H), dtype=Y.dtype)  # rows z_t = [x_t, h_{t-1}], (t, n)
    Z[:, :, :D] = X.transpose(1, 0, 2)
    Z[0, :, D:] = cache["h0"]
    Z[1:, :, D:] = Y[:-1].transpose(0, 2, 1)
    # (D+H, G*H), one product for W_x and W_h; dP_cols.T is a view, BLAS reads it as is
    dW = Z.reshape(rows, D + H).T @ dP_cols.T
    grads = {"W": dW, "b": dP_cols.sum(axis=1)}
    dX_rows = dP_cols.T @ W[:D].T  # (T*N, D)
    dX = np.ascontiguousarray(dX_rows.reshape(T, N, D).transpose(1, 0, 2))  # (N, T, D)
    return dX, (dh.T.copy(), ds.T.copy()), grads
