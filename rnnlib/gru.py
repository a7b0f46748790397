r"""The gated recurrent unit (GRU), in the memo's and in PyTorch's convention.

Dimension letters: N batch, T time, D input, H hidden. Sequences are batch first.

Two GRUs go by the same name. They differ in which side of the interpolation the update
gate weights, and in where the reset gate acts. The first difference is only a relabelling
(negate the update gate's weights and bias, so z = 1 - u); the second makes them different
models: the candidate's recurrent product sees r * h_{t-1} in one and is multiplied by r in
the other, and no rearrangement of weights turns one into the other in general (only when
the candidate's recurrent matrix is diagonal and b_hn = 0). So rnnlib implements both,
chosen with ``convention=``.

**The memo's GRU** (``convention="cho"``, Cho et al. 2014). ``W`` (D+H, 3H) and ``b`` (3H,)
in column blocks r, u, a (width H each):

.. math::

    r_t = \sigma([x_t, h_{t-1}] W_r + b_r)                     \qquad \text{(gru-reset)}

    u_t = \sigma([x_t, h_{t-1}] W_u + b_u)                     \qquad \text{(gru-update)}

    a_t = \tanh([x_t, r_t \odot h_{t-1}] W_a + b_a)            \qquad \text{(gru-candidate)}

    h_t = (1 - u_t) \odot h_{t-1} + u_t \odot a_t              \qquad \text{(gru-output)}

The reset gate scales the previous state *before* the product with the recurrent weights.
Backward, with :math:`\bar h_t` the total gradient reaching :math:`h_t`, :math:`\bar p` the
gradients of the pre-activations, and :math:`W_{h,q}` = ``W[D:]`` restricted to block q:

.. math::

    \bar p_a = \bar h_t \odot u_t \odot (1 - a_t^2), \qquad
    \bar p_u = \bar h_t \odot (a_t - h_{t-1}) \odot u_t (1 - u_t)

    \overline{(r h)} = \bar p_a W_{h,a}^\top, \qquad
    \bar p_r = \overline{(r h)} \odot h_{t-1} \odot r_t (1 - r_t)

    \bar h_{t-1} = \bar h_t \odot (1 - u_t) + \overline{(r h)} \odot r_t
                   + [\bar p_r, \bar p_u] W_{h,ru}^\top         \qquad \text{(gru-backward)}

**PyTorch's GRU** (``convention="pytorch"``, as ``torch.nn.GRU``). ``W`` (D+H, 3H) and
``b`` (3H,) in blocks r, z, n, and an extra ``b_hn`` (H,):

.. math::

    r_t = \sigma([x_t, h_{t-1}] W_r + b_r), \qquad z_t = \sigma([x_t, h_{t-1}] W_z + b_z)

    n_t = \tanh(x_t W_{x,n} + b_n + r_t \odot (h_{t-1} W_{h,n} + b_{hn}))
                                                                 \qquad \text{(gru-pytorch-n)}

    h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}              \qquad \text{(gru-pytorch-output)}

The reset gate scales the *result* of the recurrent product (bias ``b_hn`` included, which is
why it cannot be merged into ``b``), and :math:`z_t` weights the old state where the memo's
:math:`u_t` weights the new one. Because every recurrent product now acts on
:math:`h_{t-1}` itself, one (N, H) x (H, 3H) product per step serves all three gates.
Backward, with :math:`q_n = h_{t-1} W_{h,n} + b_{hn}`:

.. math::

    \bar p_n = \bar h_t \odot (1 - z_t) \odot (1 - n_t^2), \qquad
    \bar p_z = \bar h_t \odot (h_{t-1} - n_t) \odot z_t (1 - z_t)

    \bar q_n = \bar p_n \odot r_t, \qquad \bar p_r = \bar p_n \odot q_n \odot r_t (1 - r_t)

    \bar h_{t-1} = \bar h_t \odot z_t + [\bar p_r, \bar p_z, \bar q_n] W_h^\top
                                                         \qquad \text{(gru-pytorch-backward)}

Weight gradients (both conventions): the input rows ``W[:D]`` get :math:`\sum_t x_t^\top
\bar p_t`; the recurrent rows get the product of whatever row vector multiplied them
(:math:`h_{t-1}`, or :math:`r_t \odot h_{t-1}` for the memo's candidate) with the gradient
of that product. Each is one product over all N*T rows after the time loop.

PyTorch's layout: ``weight_ih_l0`` (3H, D) is ``W[:D].T`` and ``weight_hh_l0`` (3H, H) is
``W[D:].T``, blocks r, z, n in the same order; ``bias_ih_l0`` is ``b`` and ``bias_hh_l0``
is ``[0, 0, b_hn]`` (see :mod:`rnnlib.interop`).
"""

import numpy as np

from rnnlib._validate import (
    check_array,
    check_finite,
    check_params,
    check_positive_int,
    hidden_size_of,
    resolve_dtype,
    resolve_rng,
)
from rnnlib.activations import (
    GateActivations,
    sigmoid,
    sigmoid_grad_from_output,
    tanh,
    tanh_grad_from_output,
)

__all__ = [
    "CONVENTIONS",
    "GATES",
    "GATES_PYTORCH",
    "backward",
    "forward",
    "init_params",
    "step_backward",
    "step_forward",
]

#: Column blocks of ``W`` and ``b`` with ``convention="cho"`` (reset, update, candidate).
GATES = ("r", "u", "a")
#: Column blocks with ``convention="pytorch"`` (reset, update, new), as in ``torch.nn.GRU``.
GATES_PYTORCH = ("r", "z", "n")
#: The accepted values of ``convention``.
CONVENTIONS = ("cho", "pytorch")


def _gates(convention):
    if convention not in CONVENTIONS:
        raise ValueError(f"convention: expected 'cho' or 'pytorch', got {convention!r}")
    return GATES if convention == "cho" else GATES_PYTORCH


def init_params(input_size, hidden_size, *, rng=None, dtype=np.float64, convention="cho"):
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
    convention : {"cho", "pytorch"}, default "cho"
        The memo's GRU or PyTorch's.

    Returns
    -------
    params : dict
        ``"W"`` (D+H, 3H) and ``"b"`` (3H,); with ``convention="pytorch"`` also
        ``"b_hn"`` (H,).
    """
    D = check_positive_int("input_size", input_size)
    H = check_positive_int("hidden_size", hidden_size)
    _gates(convention)
    dtype = resolve_dtype(dtype)
    rng = resolve_rng(rng)
    k = 1.0 / np.sqrt(H)
    params = {
        "W": rng.uniform(-k, k, size=(D + H, 3 * H)).astype(dtype),
        "b": rng.uniform(-k, k, size=(3 * H,)).astype(dtype),
    }
    if convention == "pytorch":
        params["b_hn"] = rng.uniform(-k, k, size=(H,)).astype(dtype)
    return params


def _check_params(params, D, dtype, source, convention):
    """Check ``params`` against D, the dtype and the convention; return H."""
    gates = _gates(convention)
    H = hidden_size_of(params, D, gates, source)
    expected = {"W": ((D + H, 3 * H), "D+H, 3H"), "b": ((3 * H,), "3H")}
    if convention == "pytorch":
        expected["b_hn"] = ((H,), "H")
        hint = (
            "convention='pytorch' needs 'b_hn', the bias inside the reset product; "
            "the memo's GRU without it is convention='cho'"
        )
    else:
        hint = "'b_hn' belongs to PyTorch's GRU: pass convention='pytorch'"
    check_params(params, expected, dtype, hint=hint)
    return H


def _check_state(name, state, N, H, dtype):
    """Return ``state`` checked to be (N, H) (None = zeros)."""
    if state is None:
        return np.zeros((N, H), dtype=dtype)
    return check_array(name, state, shape=(N, H), dtype=dtype, dims="N, H")


def step_forward(x, state, params, *, convention="cho"):
    r"""One time step of the GRU: (gru-reset) to (gru-output), or PyTorch's variant.

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
        Inputs at this step.
    state : numpy.ndarray, shape (N, H), or None
        Previous hidden state :math:`h_{t-1}`; None means zeros.
    params : dict
        ``"W"`` (D+H, 3H), ``"b"`` (3H,) and, for ``convention="pytorch"``, ``"b_hn"``
        (H,); same dtype as ``x``.
    convention : {"cho", "pytorch"}, default "cho"
        The memo's GRU (blocks r, u, a) or PyTorch's (blocks r, z, n).

    Returns
    -------
    h : numpy.ndarray, shape (N, H)
        New hidden state :math:`h_t`, also the output.
    state : numpy.ndarray, shape (N, H)
        The same array ``h``.
    cache : dict
        What :func:`step_backward` needs.
    """
    x = check_array("x", x, ndim=2, dims="N, D", finite=False)
    N, D = x.shape
    H = _check_params(params, D, x.dtype, "x", convention)
    check_finite("x", x)
    h_prev = _check_state("state", state, N, H, x.dtype)
    W, b = params["W"], params["b"]
    W_x, W_h = W[:D], W[D:]  # (D, 3H), (H, 3H)

    gates = x @ W_x + b  # (N, 3H): input part of all pre-activations
    if convention == "cho":
        gates[:, : 2 * H] += h_prev @ W_h[:, : 2 * H]  # r, u read h_prev
        gates[:, : 2 * H] = sigmoid(gates[:, : 2 * H])  # (gru-reset), (gru-update)
        r, u = gates[:, :H], gates[:, H : 2 * H]
        rh = r * h_prev  # (N, H): the reset applies before the product
        gates[:, 2 * H :] = tanh(gates[:, 2 * H :] + rh @ W_h[:, 2 * H :])  # (gru-candidate)
        a = gates[:, 2 * H :]
        h = h_prev + u * (a - h_prev)  # = (1 - u) h_prev + u a   (gru-output)
        recurrent_in = rh  # what multiplied W_h's a block
    else:
        q = h_prev @ W_h  # (N, 3H): recurrent part of all gates, one product
        q[:, 2 * H :] += params["b_hn"]
        gates[:, : 2 * H] = sigmoid(gates[:, : 2 * H] + q[:, : 2 * H])
        r, z = gates[:, :H], gates[:, H : 2 * H]
        gates[:, 2 * H :] = tanh(gates[:, 2 * H :] + r * q[:, 2 * H :])  # (gru-pytorch-n)
        n = gates[:, 2 * H :]
        h = n + z * (h_prev - n)  # = (1 - z) n + z h_prev   (gru-pytorch-output)
        recurrent_in = q[:, 2 * H :]  # q_n, needed for the reset gate's gradient
    cache = {
        "x": x,
        "h_prev": h_prev,
        "gates": gates,
        "recurrent_in": recurrent_in,
        "W": W,
        "convention": convention,
    }
    return h, h, cache


def step_backward(dh, dstate, cache):
    r"""Backward through one GRU step: the adjoint of :func:`step_forward`.

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
        Gradient with respect to :math:`h_{t-1}`.
    grads : dict
        Same keys and shapes as the parameters.

    Notes
    -----
    (gru-backward), or (gru-pytorch-backward) for ``convention="pytorch"``.
    """
    x, h_prev, gates, W = cache["x"], cache["h_prev"], cache["gates"], cache["W"]
    N, H = h_prev.shape
    D = x.shape[1]
    dh = check_array("dh", dh, shape=(N, H), dtype=h_prev.dtype, dims="N, H")
    if dstate is not None:
        dh = dh + _check_state("dstate", dstate, N, H, h_prev.dtype)
    W_x_T, W_h_T = W[:D].T, W[D:].T  # (3H, D), (3H, H)
    dP = np.empty_like(gates)  # (N, 3H): gradient of the input-side pre-activations
    r, g2, g3 = gates[:, :H], gates[:, H : 2 * H], gates[:, 2 * H :]

    if cache["convention"] == "cho":
        u, a, rh = g2, g3, cache["recurrent_in"]
        dP[:, 2 * H :] = dh * u * tanh_grad_from_output(a)  # p_a
        dP[:, H : 2 * H] = dh * (a - h_prev) * sigmoid_grad_from_output(u)  # p_u
        drh = dP[:, 2 * H :] @ W_h_T[2 * H :]  # (N, H): gradient of r * h_prev
        dP[:, :H] = drh * h_prev * sigmoid_grad_from_output(r)  # p_r
        dh_prev = dh * (1 - u) + drh * r + dP[:, : 2 * H] @ W_h_T[: 2 * H]
        dW_h = np.concatenate([h_prev.T @ dP[:, : 2 * H], rh.T @ dP[:, 2 * H :]], axis=1)  # (H, 3H)
        grads = {"b": dP.sum(axis=0)}
    else:
        z, n, q_n = g2, g3, cache["recurrent_in"]
        dP[:, 2 * H :] = dh * (1 - z) * tanh_grad_from_output(n)  # p_n
        dP[:, H : 2 * H] = dh * (h_prev - n) * sigmoid_grad_from_output(z)  # p_z
        dP[:, :H] = dP[:, 2 * H :] * q_n * sigmoid_grad_from_output(r)  # p_r
        dQ = dP.copy()  # (N, 3H): gradient of the recurrent product h_prev @ W_h + [0,0,b_hn]
        dQ[:, 2 * H :] *= r  # q_n enters n only through r * q_n
        dh_prev = dh * z + dQ @ W_h_T
        dW_h = h_prev.T @ dQ  # (H, 3H)
        grads = {"b": dP.sum(axis=0), "b_hn": dQ[:, 2 * H :].sum(axis=0)}

    grads["W"] = np.concatenate([x.T @ dP, dW_h], axis=0)  # (D+H, 3H)
    grads = {key: grads[key] for key in ("W", "b", "b_hn") if key in grads}
    return dP @ W_x_T, dh_prev, grads


def forward(X, state0, params, *, convention="cho"):
    r"""Run the GRU over a whole sequence.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences, batch first.
    state0 : numpy.ndarray, shape (N, H), or None
        Initial state :math:`h_0`; None means zeros.
    params : dict
        ``"W"`` (D+H, 3H), ``"b"`` (3H,) and, for ``convention="pytorch"``, ``"b_hn"``
        (H,); same dtype as ``X``.
    convention : {"cho", "pytorch"}, default "cho"
        The memo's GRU (blocks r, u, a) or PyTorch's (blocks r, z, n).

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H)
        Hidden state at every step.
    state_T : numpy.ndarray, shape (N, H)
        The final state, equal to ``Y[:, -1]``.
    cache : dict
        What :func:`backward` needs.

    Notes
    -----
    Equal to calling :func:`step_forward` T times (the tests check this). The input part of
    all gates at all steps is one product before the loop. Per step, the memo's GRU needs two
    recurrent products (the candidate's waits for the reset gate), PyTorch's only one.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D", finite=False)
    N, T, D = X.shape
    H = _check_params(params, D, X.dtype, "X", convention)
    check_finite("X", X)
    h0 = _check_state("state0", state0, N, H, X.dtype)
    W = params["W"]
    W_h = W[D:]  # (H, 3H), a view

    feature_major = None
    if convention == "pytorch":
        feature_major = _forward_pytorch(X, h0, params)
        gates = feature_major["gates"].transpose(2, 0, 1)  # (N, T, 3H) view
        recurrent_in = feature_major["Q_n"].transpose(2, 0, 1)  # (N, T, H) view
        Y = np.ascontiguousarray(feature_major["Y"].transpose(2, 0, 1))  # (N, T, H)
    else:
        gates = X @ W[:D] + params["b"]  # (N, T, 3H): input part, becomes the gates in place
        recurrent_in = np.empty((N, T, H), dtype=X.dtype)  # r * h_prev
        Y = np.empty((N, T, H), dtype=X.dtype)
        h = h0
        for t in range(T):
            g = gates[:, t]  # (N, 3H), a view
            g[:, : 2 * H] += h @ W_h[:, : 2 * H]
            g[:, : 2 * H] = sigmoid(g[:, : 2 * H])  # (gru-reset), (gru-update)
            r, u = g[:, :H], g[:, H : 2 * H]
            rh = r * h  # (N, H)
            g[:, 2 * H :] = tanh(g[:, 2 * H :] + rh @ W_h[:, 2 * H :])  # (gru-candidate)
            h = h + u * (g[:, 2 * H :] - h)  # (gru-output)
            recurrent_in[:, t] = rh
            Y[:, t] = h
    cache = {
        "X": X,
        "h0": h0,
        "gates": gates,
        "recurrent_in": recurrent_in,
        "Y": Y,
        "W": W,
        "convention": convention,
        "feature_major": feature_major,
    }
    return Y, Y[:, -1].copy(), cache


def _forward_pytorch(X, h0, params):
    r"""The time loop of :func:`forward` for ``convention="pytorch"``, arranged for speed.

    The same equations as :func:`step_forward`; the input part of all gates at all steps is
    one batched product before the loop, one (3H, H) x (H, N) product per step serves all
    three gates, the gate nonlinearities are :class:`~rnnlib.activations.GateActivations`
    calls (two per step: n needs r first) on weight columns scaled once beforehand, and every
    step writes into preallocated arrays. The arrays are feature-major, one column per
    sequence, so that each gate block of each step is contiguous (see ``lstm.forward``).

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
    activate_n = GateActivations("t", H, X.dtype, axis=0)
    scale = np.concatenate([activate_rz.scale, activate_n.scale])  # (3H,)
    W_scaled = params["W"] * scale  # (D+H, 3H): exact, the factors are powers of two
    W_h_T = np.ascontiguousarray(W_scaled[D:].T)  # (3H, H)
    b_hn = np.ascontiguousarray(  # (H, N): the bias repeated per column, for contiguous adds
        np.broadcast_to((params["b_hn"] * activate_n.scale)[:, None], (H, N))
    )

    # (T, 3H, N): input part of every pre-activation, one batched product
    gates = np.matmul(np.ascontiguousarray(W_scaled[:D].T), X.transpose(1, 2, 0))
    gates += np.ascontiguousarray(np.broadcast_to((params["b"] * scale)[:, None], (3 * H, N)))
    Q_n = np.empty((T, H, N), dtype=X.dtype)  # q_n of every step (scaled until the end)
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
        activate_n(n)  # (gru-pytorch-n)
        np.subtract(h, n, out=work)
        work *= z
        h = np.add(n, work, out=Y[t])  # n + z (h - n)   (gru-pytorch-output)
    Q_n /= activate_n.scale[0]  # undo the scaling (exact)
    return {"gates": gates, "Q_n": Q_n, "Y": Y}


def backward(dY, dstate_T, cache):
    r"""Backpropagation through time for the GRU: the adjoint of :func:`forward`.

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L/\partial h_t` from the outputs at every step.
    dstate_T : numpy.ndarray, shape (N, H), or None
        Gradient with respect to the final state from outside the sequence; None means
        zeros.
    cache : dict
        From :func:`forward`.

    Returns
    -------
    dX : numpy.ndarray, shape (N, T, D)
        Gradient with respect to the inputs.
    dstate0 : numpy.ndarray, shape (N, H)
        Gradient with respect to the initial state.
    grads : dict
        Same keys and shapes as the parameters.

    Notes
    -----
    The loop carries :math:`\bar h` back in time (gru-backward or gru-pytorch-backward) and
    stores the pre-activation gradients of every step: ``dP`` (N, T, 3H) for the input side,
    and for the recurrent side either the same (cho; its rows differ instead: :math:`h_{t-1}`
    for r, u and :math:`r_t \odot h_{t-1}` for a) or ``dQ`` (pytorch; the n block scaled by
    r). The weight gradients are then a few products over all N*T rows.
    """
    X, h0, gates, Y, W = cache["X"], cache["h0"], cache["gates"], cache["Y"], cache["W"]
    recurrent_in, convention = cache["recurrent_in"], cache["convention"]
    N, T, H = Y.shape
    D = X.shape[2]
    dY = check_array("dY", dY, shape=(N, T, H), dtype=Y.dtype, dims="N, T, H")
    dh = _check_state("dstate_T", dstate_T, N, H, Y.dtype)
    W_h_T = W[D:].T  # (3H, H)

    if convention == "pytorch":
        return _backward_pytorch(dY, dh, cache)

    # The memo's GRU (gru-backward). Derivatives of the activations, all steps at once.
    act_grad = sigmoid_grad_from_output(gates)  # (N, T, 3H), right for r and u
    act_grad[..., 2 * H :] = tanh_grad_from_output(gates[..., 2 * H :])  # a
    dP = np.empty_like(gates)  # (N, T, 3H): gradient of the pre-activations
    for t in reversed(range(T)):
        g, d = gates[:, t], dP[:, t]  # (N, 3H) views
        r, u, a = g[:, :H], g[:, H : 2 * H], g[:, 2 * H :]
        h_prev = Y[:, t - 1] if t > 0 else h0
        dh = dY[:, t] + dh  # (N, H): from the output and from step t+1
        d[:, 2 * H :] = dh * u  # gradient of a
        d[:, H : 2 * H] = dh * (a - h_prev)  # gradient of u
        d[:, 2 * H :] *= act_grad[:, t, 2 * H :]
        drh = d[:, 2 * H :] @ W_h_T[2 * H :]  # (N, H): gradient of r * h_prev
        d[:, :H] = drh * h_prev  # gradient of r
        d[:, : 2 * H] *= act_grad[:, t, : 2 * H]
        dh = dh * (1 - u) + drh * r + d[:, : 2 * H] @ W_h_T[: 2 * H]  # (gru-backward)

    # Weight gradients, one product per block of rows over all N*T rows.
    rows = N * T
    dP_rows = dP.reshape(rows, 3 * H)
    H_prev = np.concatenate([h0[:, None, :], Y[:, :-1]], axis=1).reshape(rows, H)
    dW = np.empty_like(W)  # (D+H, 3H)
    dW[:D] = X.reshape(rows, D).T @ dP_rows  # input rows, all gates
    dW[D:, : 2 * H] = H_prev.T @ dP_rows[:, : 2 * H]  # r, u multiplied h_prev
    dW[D:, 2 * H :] = recurrent_in.reshape(rows, H).T @ dP_rows[:, 2 * H :]  # a: r*h_prev
    grads = {"W": dW, "b": dP_rows.sum(axis=0)}
    dX = dP @ W[:D].T  # (N, T, D)
    return dX, dh, grads


def _backward_pytorch(dY, dh, cache):
    r"""The time loop of :func:`backward` for ``convention="pytorch"``, arranged for speed.

    (gru-pytorch-backward) regrouped: the factors that come from the forward pass only are
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
    fm = cache["feature_major"]
    gates, Y, Q_n = fm["gates"], fm["Y"], fm["Q_n"]  # (T, 3H, N), (T, H, N), (T, H, N)
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
        dh += back  # (gru-pytorch-backward)

    # Products over all N*T columns (t, n), with dP and dQ as (3H, T*N): whole rows move.
    rows = N * T
    dP = dQ.copy()  # (T, 3, H, N): input side, equal but for the n block
    np.multiply(dH, dn_factor, out=dP[:, 2])
    dP_cols = np.ascontiguousarray(dP.reshape(T, 3 * H, N).transpose(1, 0, 2)).reshape(3 * H, rows)
    dQ_cols = np.ascontiguousarray(dQ.reshape(T, 3 * H, N).transpose(1, 0, 2)).reshape(3 * H, rows)
    X_rows = np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(rows, D)  # (T*N, D)
    H_prev_rows = np.empty((T, N, H), dtype=Y.dtype)  # h_{t-1}, rows (t, n)
    H_prev_rows[0] = h0
    H_prev_rows[1:] = cache["Y"].transpose(1, 0, 2)[:-1]
    dW = np.empty_like(W)  # (D+H, 3H)
    np.matmul(X_rows.T, dP_cols.T, out=dW[:D])
    np.matmul(H_prev_rows.reshape(rows, H).T, dQ_cols.T, out=dW[D:])
    grads = {"W": dW, "b": dP_cols.sum(axis=1), "b_hn": dQ_cols[2 * H :].sum(axis=1)}
    dX_rows = dP_cols.T @ W[:D].T  # (T*N, D)
    dX = np.ascontiguousarray(dX_rows.reshape(T, N, D).transpose(1, 0, 2))  # (N, T, D)
    return dX, dh.T.copy(), grads
