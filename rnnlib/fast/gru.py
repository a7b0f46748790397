r"""The GRU's sequence functions arranged for speed, in both conventions.

A drop-in replacement for :mod:`rnnlib.gru`: :func:`forward` and :func:`backward` compute
what :func:`rnnlib.gru.forward` and :func:`rnnlib.gru.backward` compute for
``convention="cho"`` (the memo's GRU) and ``convention="pytorch"`` alike (the tests check
agreement to rounding in float64 and float32), with the same arrangement in both, so that a
timing of one against the other, or against :mod:`rnnlib.fast.lstm`, compares
architectures rather than tuning. Everything else (:func:`init_params`, the step
functions, ``GATES``) is :mod:`rnnlib.gru`'s own. See :mod:`rnnlib.fast` for what each
arrangement buys.
"""

import numpy as np

from rnnlib._validate import check_array, check_cache, check_finite
from rnnlib.activations import sigmoid_grad_from_output, tanh_grad_from_output
from rnnlib.fast.gates import GateActivations
from rnnlib.gru import (
    CONVENTIONS,
    GATES,
    GATES_PYTORCH,
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
    "CONVENTIONS",
    "GATES",
    "GATES_PYTORCH",
    "INIT_OPTIONS",
    "OPTIONS",
    "backward",
    "check_params",
    "forward",
    "init_params",
    "step_backward",
    "step_forward",
]


def forward(X, state0, params, *, convention="cho"):
    r"""Run the GRU over a whole sequence, in either convention, arranged for speed.

    Same arguments and results as :func:`rnnlib.gru.forward`, which documents them; the cache
    goes only to this module's :func:`backward`.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D", finite=False, nonempty=True)
    N, T, D = X.shape
    H = _check_params(params, D, X.dtype, "X", convention)
    check_finite("X", X)
    h0 = _check_state("state0", state0, N, H, X.dtype)
    run = _forward_cho if convention == "cho" else _forward_pytorch
    cache = {"made_by": "rnnlib.fast.gru.forward", "X": X, "h0": h0, "W": params["W"],
             "convention": convention, **run(X, h0, params)}
    Y = np.ascontiguousarray(cache["Y"].transpose(2, 0, 1))  # (N, T, H)
    return Y, Y[:, -1].copy(), cache


def backward(dY, dstate_T, cache):
    r"""Backpropagation through time for the GRU: the adjoint of :func:`forward`.

    Same arguments and results as :func:`rnnlib.gru.backward`, which documents them; ``cache``
    must come from this module's :func:`forward`.
    """
    check_cache(cache, "rnnlib.fast.gru.forward", ("X", "h0", "W", "convention", "gates", "Y"))
    T, H, N = cache["Y"].shape
    dY = check_array("dY", dY, shape=(N, T, H), dtype=cache["Y"].dtype, dims="N, T, H")
    dh = _check_state("dstate_T", dstate_T, N, H, cache["Y"].dtype)
    run = _backward_cho if cache["convention"] == "cho" else _backward_pytorch
    return run(dY, dh, cache)


def _forward_cho(X, h0, params):
    r"""The time loop of :func:`forward` for ``convention="cho"`` (the memo's GRU).

    The same equations as :func:`rnnlib.gru.step_forward`: the input part of all gates at all
    steps is one batched product before the loop; per step one (2H, H) x (H, N) product
    serves r and u and one (H, H) x (H, N) product the candidate (it needs
    :math:`r_t \odot h_{t-1}` first), the two sigmoids are one
    :class:`~rnnlib.fast.gates.GateActivations` call on weight columns scaled once
    beforehand, and every step writes into preallocated feature-major arrays.

    Returns
    -------
    dict
        ``"gates"`` (T, 3H, N) activated r, u, a of every step; ``"RH"`` (T, H, N),
        :math:`r_t \odot h_{t-1}` of every step; ``"Y"`` (T, H, N), the hidden states.
    """
    N, T, D = X.shape
    H = h0.shape[1]
    activate_ru = GateActivations("ss", H, X.dtype, axis=0)
    scale = np.concatenate([activate_ru.scale, np.ones(H, X.dtype)])  # (3H,): a unscaled
    W_scaled = params["W"] * scale  # (D+H, 3H): exact, the factors are powers of two
    W_h_T = np.ascontiguousarray(W_scaled[D:].T)  # (3H, H)
    W_ru_T, W_a_T = W_h_T[: 2 * H], W_h_T[2 * H :]  # contiguous row blocks

    # (T, 3H, N): input part of every pre-activation, one batched product
    gates = np.matmul(np.ascontiguousarray(W_scaled[:D].T), X.transpose(1, 2, 0))
    gates += np.ascontiguousarray(np.broadcast_to((params["b"] * scale)[:, None], (3 * H, N)))
    RH = np.empty((T, H, N), dtype=X.dtype)  # r_t * h_{t-1} of every step
    Y = np.empty((T, H, N), dtype=X.dtype)
    q_ru = np.empty((2 * H, N), dtype=X.dtype)  # recurrent part of r and u, reused
    q_a = np.empty((H, N), dtype=X.dtype)  # recurrent part of a, reused
    work = np.empty((H, N), dtype=X.dtype)
    h = h0.T.copy()  # (H, N)
    for t in range(T):
        g = gates[t]  # (3H, N)
        g[: 2 * H] += np.matmul(W_ru_T, h, out=q_ru)
        activate_ru(g[: 2 * H])  # (gru-reset), (gru-update)
        r, u, a = g[:H], g[H : 2 * H], g[2 * H :]
        np.multiply(r, h, out=RH[t])
        a += np.matmul(W_a_T, RH[t], out=q_a)
        np.tanh(a, out=a)  # (gru-candidate)
        np.subtract(a, h, out=work)
        work *= u
        h = np.add(h, work, out=Y[t])  # h + u (a - h)   (gru-output)
    return {"gates": gates, "RH": RH, "Y": Y}


def _backward_cho(dY, dh, cache):
    r"""The time loop of :func:`backward` for ``convention="cho"`` (the memo's GRU).

    (gru-bwd-output) to (gru-bwd-inputs) regrouped: the factors that come from the forward
    pass only are computed for all steps at once before the loop,

    .. math::

        \alpha_t = u_t (1 - a_t^2), \quad
        \beta_t = (a_t - h_{t-1})\, u_t (1 - u_t), \quad
        \gamma_t = h_{t-1}\, r_t (1 - r_t),

    so that :math:`\bar p_a = \bar h_t \alpha_t`, :math:`\bar p_u = \bar h_t \beta_t`,
    :math:`\overline{(r h)} = \bar p_a W_{h,a}^\top`, :math:`\bar p_r = \overline{(r h)}
    \gamma_t`, and the loop's two products are :math:`\overline{(r h)}` and
    :math:`[\bar p_r, \bar p_u] W_{h,ru}^\top`.
    """
    X, h0, W = cache["X"], cache["h0"], cache["W"]
    gates, Y, RH = cache["gates"], cache["Y"], cache["RH"]  # (T, 3H, N), (T, H, N) twice
    T, H, N = Y.shape
    D = X.shape[2]
    W_h_a = np.ascontiguousarray(W[D:, 2 * H :])  # (H, H): gradient of r * h_prev
    W_h_ru = np.ascontiguousarray(W[D:, : 2 * H])  # (H, 2H): on to h_{t-1} via r, u
    r, u, a = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]  # each (T, H, N)
    H_prev = np.empty_like(Y)  # (T, H, N): h_{t-1}
    H_prev[0] = h0.T
    H_prev[1:] = Y[:-1]

    alpha = tanh_grad_from_output(a)
    alpha *= u  # (T, H, N)
    beta = a - H_prev
    beta *= sigmoid_grad_from_output(u)
    gamma = sigmoid_grad_from_output(r)
    gamma *= H_prev
    keep = 1 - u  # (T, H, N): the part of dh_t that goes straight to h_{t-1}
    dY_fm = np.ascontiguousarray(dY.transpose(1, 2, 0))  # (T, H, N)

    dP = np.empty((T, 3, H, N), dtype=Y.dtype)  # gradient of every pre-activation
    drh = np.empty((H, N), dtype=Y.dtype)
    back = np.empty((H, N), dtype=Y.dtype)
    dh = dh.T.copy()  # (H, N)
    for t in reversed(range(T)):
        dh += dY_fm[t]  # from the output and from step t+1
        np.multiply(dh, alpha[t], out=dP[t, 2])  # p_a
        np.multiply(dh, beta[t], out=dP[t, 1])  # p_u
        np.matmul(W_h_a, dP[t, 2], out=drh)  # gradient of r * h_prev
        np.multiply(drh, gamma[t], out=dP[t, 0])  # p_r
        np.matmul(W_h_ru, dP[t, :2].reshape(2 * H, N), out=back)
        dh *= keep[t]
        dh += back
        drh *= r[t]
        dh += drh  # (gru-bwd-inputs)
    del alpha, beta, gamma, keep, dY_fm  # freed before the large arrays below: a lower peak

    # Products over all N*T columns (t, n), with dP as (3H, T*N): whole rows move.
    rows = N * T
    dP_cols = np.ascontiguousarray(dP.reshape(T, 3 * H, N).transpose(1, 0, 2)).reshape(3 * H, rows)
    del dP
    X_rows = np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(rows, D)  # (T*N, D)
    H_prev_rows = np.ascontiguousarray(H_prev.transpose(0, 2, 1)).reshape(rows, H)
    RH_rows = np.ascontiguousarray(RH.transpose(0, 2, 1)).reshape(rows, H)
    dW = np.empty_like(W)  # (D+H, 3H)
    np.matmul(X_rows.T, dP_cols.T, out=dW[:D])
    dW[D:, : 2 * H] = H_prev_rows.T @ dP_cols[: 2 * H].T  # r, u multiplied h_{t-1}
    dW[D:, 2 * H :] = RH_rows.T @ dP_cols[2 * H :].T  # a multiplied r_t * h_{t-1}
    grads = {"W": dW, "b": dP_cols.sum(axis=1)}
    dX_rows = dP_cols.T @ W[:D].T  # (T*N, D)
    dX = np.ascontiguousarray(dX_rows.reshape(T, N, D).transpose(1, 0, 2))  # (N, T, D)
    return dX, dh.T.copy(), grads


def _forward_pytorch(X, h0, params):
    r"""The time loop of :func:`forward` for ``convention="pytorch"``.

    The same equations as :func:`rnnlib.gru.step_forward`; the input part of all gates at
    all steps is one batched product before the loop, one (3H, H) x (H, N) product per step
    serves all three gates, the gate nonlinearities are one
    :class:`~rnnlib.fast.gates.GateActivations` call for r and z (on weight columns scaled
    once beforehand) and one ``np.tanh`` for n (which needs r first), and every step writes
    into preallocated arrays. The arrays are feature-major, one column per
    sequence, so that each gate block of each step is contiguous.

    Returns
    -------
    dict
        ``"gates"`` (T, 3H, N) activated r, z, n of every step; ``"Q_n"`` (T, H, N),
        :math:`q_n = h_{t-1} W_{h,n} + b_{hn}` of every step; ``"Y"`` (T, H, N), the hidden
        states.
    """
    N, T, D = X.shape
    H = h0.shape[1]
    activate_rz = GateActivations("ss", H, X.dtype, axis=0)
    scale = np.concatenate([activate_rz.scale, np.ones(H, X.dtype)])  # (3H,): n unscaled
    W_scaled = params["W"] * scale  # (D+H, 3H): exact, the factors are powers of two
    W_h_T = np.ascontiguousarray(W_scaled[D:].T)  # (3H, H)
    b_hn = np.ascontiguousarray(  # (H, N): the bias repeated per column, for contiguous adds
        np.broadcast_to(params["b_hn"][:, None], (H, N))
    )

    # (T, 3H, N): input part of every pre-activation, one batched product
    gates = np.matmul(np.ascontiguousarray(W_scaled[:D].T), X.transpose(1, 2, 0))
    gates += np.ascontiguousarray(np.broadcast_to((params["b"] * scale)[:, None], (3 * H, N)))
    Q_n = np.empty((T, H, N), dtype=X.dtype)  # q_n of every step
    Y = np.empty((T, H, N), dtype=X.dtype)
    q = np.empty((3 * H, N), dtype=X.dtype)  # W_h^T h_{t-1}, reused every step
    work = np.empty((H, N), dtype=X.dtype)
    h = h0.T.copy()  # (H, N)
    for t in range(T):
        g = gates[t]  # (3H, N)
        np.matmul(W_h_T, h, out=q)  # recurrent part of all gates, one product
        g[: 2 * H] += q[: 2 * H]
        activate_rz(g[: 2 * H])  # r, z
        r, z, n = g[:H], g[H : 2 * H], g[2 * H :]
        np.add(q[2 * H :], b_hn, out=Q_n[t])  # q_n
        n += np.multiply(r, Q_n[t], out=work)
        np.tanh(n, out=n)  # (gru-pytorch)
        np.subtract(h, n, out=work)
        work *= z
        h = np.add(n, work, out=Y[t])  # n + z (h - n)   (gru-pytorch)
    return {"gates": gates, "Q_n": Q_n, "Y": Y}


def _backward_pytorch(dY, dh, cache):
    r"""The time loop of :func:`backward` for ``convention="pytorch"``.

    The backward of (gru-pytorch) regrouped: the factors that come from the forward pass only are
    computed for all steps at once before the loop,

    .. math::

        \beta_t = [(h_{t-1} - n_t)\, z_t (1 - z_t),\ (1 - z_t)(1 - n_t^2)\, r_t], \quad
        \rho_t = q_n (1 - r_t),

    so that the gradient of the recurrent product :math:`\bar Q_t = [\bar q_r, \bar q_z,
    \bar q_n]` is :math:`[\bar q_n \rho_t,\ \bar h_t \beta_t]` (:math:`\bar q_r = \bar p_r`,
    :math:`\bar q_z = \bar p_z`), and :math:`\bar h_{t-1} = \bar h_t z_t + \bar Q_t W_h^\top`
    is the loop's one product. The input-side gradient :math:`\bar P` differs from
    :math:`\bar Q` only in its n block, :math:`\bar p_n = \bar h_t (1 - z_t)(1 - n_t^2)`,
    filled in after the loop from the stored :math:`\bar h_t`.
    """
    X, h0, W = cache["X"], cache["h0"], cache["W"]
    gates, Y, Q_n = cache["gates"], cache["Y"], cache["Q_n"]  # (T, 3H, N), (T, H, N) twice
    T, H, N = Y.shape
    D = X.shape[2]
    W_h = W[D:]  # (H, 3H): dh_{t-1} gets W_h dQ_t in the feature-major layout
    r, z, n = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]  # each (T, H, N)
    H_prev = np.empty_like(Y)  # (T, H, N): h_{t-1}
    H_prev[0] = h0.T
    H_prev[1:] = Y[:-1]

    dn_factor = tanh_grad_from_output(n)
    dn_factor *= 1 - z  # (T, H, N): (1 - z)(1 - n^2)
    beta = np.empty((T, 2, H, N), dtype=Y.dtype)  # blocks z, n of the factor above
    np.subtract(H_prev, n, out=beta[:, 0])
    beta[:, 0] *= sigmoid_grad_from_output(z)
    np.multiply(dn_factor, r, out=beta[:, 1])
    rho = Q_n * (1 - r)  # (T, H, N): q_n (1 - r)
    dY_fm = np.ascontiguousarray(dY.transpose(1, 2, 0))  # (T, H, N)

    dQ = np.empty((T, 3, H, N), dtype=Y.dtype)  # gradient of the recurrent product
    dH = np.empty((T, H, N), dtype=Y.dtype)  # total gradient reaching h_t
    back = np.empty((H, N), dtype=Y.dtype)
    dh = dh.T.copy()  # (H, N)
    for t in reversed(range(T)):
        dh = np.add(dY_fm[t], dh, out=dH[t])  # from the output and from step t+1
        np.multiply(dh, beta[t], out=dQ[t, 1:])  # q_z, q_n
        np.multiply(dQ[t, 2], rho[t], out=dQ[t, 0])  # q_r = p_r
        np.matmul(W_h, dQ[t].reshape(3 * H, N), out=back)
        dh = np.multiply(dh, z[t])
        dh += back  # (gru-pytorch), backward
    del beta, rho, dY_fm, H_prev  # freed before the large arrays below: a lower peak

    # Products over all N*T columns (t, n), with dQ and then dP as (3H, T*N): whole rows
    # move. dP equals dQ but for the n block, so one array serves both, one after the other.
    rows = N * T
    cols = np.ascontiguousarray(dQ.reshape(T, 3 * H, N).transpose(1, 0, 2)).reshape(3 * H, rows)
    del dQ
    H_prev_rows = np.empty((T, N, H), dtype=Y.dtype)  # h_{t-1}, rows (t, n)
    H_prev_rows[0] = h0
    H_prev_rows[1:] = Y[:-1].transpose(0, 2, 1)
    dW = np.empty_like(W)  # (D+H, 3H)
    np.matmul(H_prev_rows.reshape(rows, H).T, cols.T, out=dW[D:])  # recurrent rows: dQ
    del H_prev_rows
    b_hn = cols[2 * H :].sum(axis=1)
    dH *= dn_factor  # (T, H, N): p_n, the n block of dP
    cols[2 * H :] = dH.transpose(1, 0, 2).reshape(H, rows)  # cols is now dP
    X_rows = np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(rows, D)  # (T*N, D)
    np.matmul(X_rows.T, cols.T, out=dW[:D])  # input rows: dP
    grads = {"W": dW, "b": cols.sum(axis=1), "b_hn": b_hn}
    dX_rows = cols.T @ W[:D].T  # (T*N, D)
    dX = np.ascontiguousarray(dX_rows.reshape(T, N, D).transpose(1, 0, 2))  # (N, T, D)
    return dX, dh.T.copy(), grads
