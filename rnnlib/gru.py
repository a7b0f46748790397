r"""The gated recurrent unit (GRU), in the memo's and in PyTorch's convention.

Dimension letters: N batch, T time, D input, H hidden. Sequences are batch first.

Two GRUs go by the same name. They differ in which side of the interpolation the update
gate weights, and in where the reset gate acts. The first difference is only a relabelling
(negate the update gate's weights and bias, so z = 1 - u); the second makes them different
models: the candidate's recurrent product sees r * h_{t-1} in one and is multiplied by r in
the other, and no rearrangement of weights turns one into the other in general (only when
the candidate's recurrent matrix is diagonal and b_hn = 0). So rnnlib implements both,
chosen with ``convention=``.

**The memo's GRU** (``convention="cho"``): the reset gate of Cho et al. 2014, applied before
the recurrent product, with the interpolation written as Chung et al. 2014 write it, the
update gate on the candidate (Cho et al.'s z weighs the old state instead, so u = 1 - z).
``W`` (D+H, 3H) and ``b`` (3H,) in column blocks r, u, a (width H each):

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
                   + [\bar p_r, \bar p_u] W_{h,ru}^\top         \qquad \text{(gru-bwd-inputs)}

**PyTorch's GRU** (``convention="pytorch"``, as ``torch.nn.GRU``). ``W`` (D+H, 3H) and
``b`` (3H,) in blocks r, z, n, and an extra ``b_hn`` (H,):

.. math::

    r_t = \sigma([x_t, h_{t-1}] W_r + b_r), \qquad z_t = \sigma([x_t, h_{t-1}] W_z + b_z)

    n_t = \tanh(x_t W_{x,n} + b_n + r_t \odot (h_{t-1} W_{h,n} + b_{hn}))
                                                                 \qquad \text{(gru-pytorch)}

    h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}              \qquad \text{(gru-pytorch)}

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
                                                         \qquad \text{(gru-pytorch, backward)}

Weight gradients (both conventions): the input rows ``W[:D]`` get :math:`\sum_t x_t^\top
\bar p_t`; the recurrent rows get the product of whatever row vector multiplied them
(:math:`h_{t-1}`, or :math:`r_t \odot h_{t-1}` for the memo's candidate) with the gradient
of that product. The sequence functions compute the input part of every gate at every step
with one product before the time loop and these weight gradients with one product each
after it; everything else follows the step functions line by line. A faster arrangement of
the same computation, with the same interface and results, is :mod:`rnnlib.fast.gru`.

In every function the lines before the first equation only check the arguments
(:mod:`rnnlib._validate`).

PyTorch's layout: ``weight_ih_l0`` (3H, D) is ``W[:D].T`` and ``weight_hh_l0`` (3H, H) is
``W[D:].T``, blocks r, z, n in the same order; ``bias_ih_l0`` is ``b`` and ``bias_hh_l0``
is ``[0, 0, b_hn]`` (see :mod:`rnnlib.interop`).
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
from rnnlib.activations import (
    sigmoid,
    sigmoid_grad_from_output,
    tanh,
    tanh_grad_from_output,
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

#: Column blocks of ``W`` and ``b`` with ``convention="cho"`` (reset, update, candidate).
GATES = ("r", "u", "a")
#: Column blocks with ``convention="pytorch"`` (reset, update, new), as in ``torch.nn.GRU``.
GATES_PYTORCH = ("r", "z", "n")
#: The accepted values of ``convention``.
CONVENTIONS = ("cho", "pytorch")
#: Keyword options of the forward functions and of :func:`init_params`.
OPTIONS = ("convention",)
INIT_OPTIONS = ("convention",)


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


def check_params(params, input_size, dtype=None, *, convention="cho"):
    """Check a GRU parameter dict for inputs of size ``input_size``; return H.

    Parameters
    ----------
    params : dict
        ``"W"`` (D+H, 3H), ``"b"`` (3H,) and, for ``convention="pytorch"``, ``"b_hn"`` (H,).
    input_size : int
        D.
    dtype : {numpy.float64, numpy.float32}, optional
        The dtype the arrays must have; None means that of ``params["W"]``.
    convention : {"cho", "pytorch"}, default "cho"
        Which GRU the parameters are for.

    Returns
    -------
    H : int
        The hidden size.

    Raises
    ------
    ValueError
        Naming the key, the expected shape and the shape received (and the convention to
        pass when the keys fit the other GRU).
    """
    D = check_positive_int("input_size", input_size)
    return _check_params(params, D, dtype, "input_size", convention)


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
    dtype = params["W"].dtype if dtype is None else dtype
    check_param_shapes(params, expected, dtype, hint=hint)
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
    x = check_array("x", x, ndim=2, dims="N, D", finite=False, nonempty=True)
    N, D = x.shape
    H = _check_params(params, D, x.dtype, "x", convention)
    check_finite("x", x)
    h_prev = _check_state("state", state, N, H, x.dtype)
    W, b = params["W"], params["b"]
    W_x, W_h = W[:D], W[D:]  # (D, 3H), (H, 3H)

    gates = x @ W_x + b  # (N, 3H): input part of all pre-activations
    cache = {"made_by": "rnnlib.gru.step_forward", "x": x, "h_prev": h_prev, "gates": gates,
             "W": W, "convention": convention}
    if convention == "cho":
        gates[:, : 2 * H] = sigmoid(gates[:, : 2 * H] + h_prev @ W_h[:, : 2 * H])  # r, u
        r, u = gates[:, :H], gates[:, H : 2 * H]  # (gru-reset), (gru-update)
        rh = r * h_prev  # (N, H): the reset applies before the product
        gates[:, 2 * H :] = tanh(gates[:, 2 * H :] + rh @ W_h[:, 2 * H :])  # (gru-candidate)
        a = gates[:, 2 * H :]
        h = h_prev + u * (a - h_prev)  # = (1 - u) h_prev + u a   (gru-output)
        cache["rh"] = rh  # what multiplied W_h's a block
    else:
        q = h_prev @ W_h  # (N, 3H): recurrent part of all gates, one product
        q[:, 2 * H :] += params["b_hn"]
        gates[:, : 2 * H] = sigmoid(gates[:, : 2 * H] + q[:, : 2 * H])  # r, z
        r, z = gates[:, :H], gates[:, H : 2 * H]
        q_n = q[:, 2 * H :]  # (N, H): h_prev W_{h,n} + b_hn
        gates[:, 2 * H :] = tanh(gates[:, 2 * H :] + r * q_n)  # (gru-pytorch)
        n = gates[:, 2 * H :]
        h = n + z * (h_prev - n)  # = (1 - z) n + z h_prev   (gru-pytorch)
        cache["q_n"] = q_n  # needed for the reset gate's gradient
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
    (gru-bwd-output) to (gru-bwd-weights), or the backward of (gru-pytorch) for
    ``convention="pytorch"``.
    """
    check_cache(cache, "rnnlib.gru.step_forward", ("x", "h_prev", "gates", "W", "convention"))
    x, h_prev, gates, W = cache["x"], cache["h_prev"], cache["gates"], cache["W"]
    N, H = h_prev.shape
    D = x.shape[1]
    dh = check_array("dh", dh, shape=(N, H), dtype=h_prev.dtype, dims="N, H")
    if dstate is not None:
        dh = dh + _check_state("dstate", dstate, N, H, h_prev.dtype)
    W_x_T, W_h_T = W[:D].T, W[D:].T  # (3H, D), (3H, H)
    dP = np.empty_like(gates)  # (N, 3H): gradient of the input-side pre-activations
    r = gates[:, :H]

    if cache["convention"] == "cho":
        u, a, rh = gates[:, H : 2 * H], gates[:, 2 * H :], cache["rh"]
        dP[:, 2 * H :] = dh * u * tanh_grad_from_output(a)  # p_a
        dP[:, H : 2 * H] = dh * (a - h_prev) * sigmoid_grad_from_output(u)  # p_u
        drh = dP[:, 2 * H :] @ W_h_T[2 * H :]  # (N, H): gradient of r * h_prev
        dP[:, :H] = drh * h_prev * sigmoid_grad_from_output(r)  # p_r
        dh_prev = dh * (1 - u) + drh * r + dP[:, : 2 * H] @ W_h_T[: 2 * H]  # (gru-bwd-inputs)
        dW_h = np.concatenate([h_prev.T @ dP[:, : 2 * H], rh.T @ dP[:, 2 * H :]], axis=1)
        grads = {"W": np.concatenate([x.T @ dP, dW_h], axis=0), "b": dP.sum(axis=0)}
    else:
        z, n, q_n = gates[:, H : 2 * H], gates[:, 2 * H :], cache["q_n"]
        dP[:, 2 * H :] = dh * (1 - z) * tanh_grad_from_output(n)  # p_n
        dP[:, H : 2 * H] = dh * (h_prev - n) * sigmoid_grad_from_output(z)  # p_z
        dP[:, :H] = dP[:, 2 * H :] * q_n * sigmoid_grad_from_output(r)  # p_r
        dQ = dP.copy()  # (N, 3H): gradient of the recurrent product h_prev @ W_h + [0,0,b_hn]
        dQ[:, 2 * H :] *= r  # q_n enters n only through r * q_n
        dh_prev = dh * z + dQ @ W_h_T  # (gru-pytorch), backward
        grads = {
            "W": np.concatenate([x.T @ dP, h_prev.T @ dQ], axis=0),  # (D+H, 3H)
            "b": dP.sum(axis=0),
            "b_hn": dQ[:, 2 * H :].sum(axis=0),
        }
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
    The loop is :func:`step_forward`'s body, line for line, except that the input part of
    all gates at all steps is one product before the loop. Per step, the memo's GRU needs two
    recurrent products (the candidate's waits for the reset gate), PyTorch's only one. The
    result equals calling :func:`step_forward` T times (the tests check this).
    """
    X = check_array("X", X, ndim=3, dims="N, T, D", finite=False, nonempty=True)
    N, T, D = X.shape
    H = _check_params(params, D, X.dtype, "X", convention)
    check_finite("X", X)
    h0 = _check_state("state0", state0, N, H, X.dtype)
    W = params["W"]
    W_h = W[D:]  # (H, 3H), a view

    gates = X @ W[:D] + params["b"]  # (N, T, 3H): input part, becomes the gates
    Y = np.empty((N, T, H), dtype=X.dtype)
    # What multiplied W_h's last block at every step: r * h_prev (cho) or q_n (pytorch).
    RH_or_Q_n = np.empty((N, T, H), dtype=X.dtype)
    h = h0
    for t in range(T):
        g = gates[:, t]  # (N, 3H), a view: becomes this step's gates
        if convention == "cho":
            g[:, : 2 * H] = sigmoid(g[:, : 2 * H] + h @ W_h[:, : 2 * H])  # r, u
            r, u = g[:, :H], g[:, H : 2 * H]  # (gru-reset), (gru-update)
            rh = r * h  # (N, H)
            g[:, 2 * H :] = tanh(g[:, 2 * H :] + rh @ W_h[:, 2 * H :])  # (gru-candidate)
            a = g[:, 2 * H :]
            h = h + u * (a - h)  # (gru-output)
            RH_or_Q_n[:, t] = rh
        else:
            q = h @ W_h  # (N, 3H): recurrent part of all gates, one product
            q[:, 2 * H :] += params["b_hn"]
            g[:, : 2 * H] = sigmoid(g[:, : 2 * H] + q[:, : 2 * H])  # r, z
            r, z = g[:, :H], g[:, H : 2 * H]
            q_n = q[:, 2 * H :]  # (N, H)
            g[:, 2 * H :] = tanh(g[:, 2 * H :] + r * q_n)  # (gru-pytorch)
            n = g[:, 2 * H :]
            h = n + z * (h - n)  # (gru-pytorch)
            RH_or_Q_n[:, t] = q_n
        Y[:, t] = h
    cache = {
        "made_by": "rnnlib.gru.forward",
        "X": X,
        "h0": h0,
        "gates": gates,
        "Y": Y,
        "W": W,
        "convention": convention,
        "RH" if convention == "cho" else "Q_n": RH_or_Q_n,
    }
    return Y, h, cache


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
    The loop runs backwards in time, carries :math:`\bar h` and is :func:`step_backward`'s
    body line for line ((gru-bwd-output) to (gru-bwd-inputs), or the backward of
    (gru-pytorch)); it stores the gradients of the input-side pre-activations ``dP``
    (N, T, 3H) and, for PyTorch's GRU, of the
    recurrent product ``dQ`` (its n block scaled by r). Afterwards the weight gradients are
    one product per block of rows over all N*T rows: :math:`h_{t-1}` for the blocks that
    multiplied it, :math:`r_t \odot h_{t-1}` for the memo's candidate.
    """
    check_cache(cache, "rnnlib.gru.forward", ("X", "h0", "gates", "Y", "W", "convention"))
    X, h0, gates, Y, W = cache["X"], cache["h0"], cache["gates"], cache["Y"], cache["W"]
    cho = cache["convention"] == "cho"
    N, T, H = Y.shape
    D = X.shape[2]
    dY = check_array("dY", dY, shape=(N, T, H), dtype=Y.dtype, dims="N, T, H")
    dh = _check_state("dstate_T", dstate_T, N, H, Y.dtype)
    W_h_T = W[D:].T  # (3H, H)

    dP = np.empty_like(gates)  # (N, T, 3H): gradient of the input-side pre-activations
    dQ = None if cho else np.empty_like(gates)  # (N, T, 3H): of the recurrent product
    for t in reversed(range(T)):
        g, d = gates[:, t], dP[:, t]  # (N, 3H) views
        r = g[:, :H]
        h_prev = Y[:, t - 1] if t > 0 else h0
        dh = dY[:, t] + dh  # (N, H): from the output and from step t+1
        if cho:
            u, a = g[:, H : 2 * H], g[:, 2 * H :]
            d[:, 2 * H :] = dh * u * tanh_grad_from_output(a)  # p_a
            d[:, H : 2 * H] = dh * (a - h_prev) * sigmoid_grad_from_output(u)  # p_u
            drh = d[:, 2 * H :] @ W_h_T[2 * H :]  # (N, H): gradient of r * h_prev
            d[:, :H] = drh * h_prev * sigmoid_grad_from_output(r)  # p_r
            dh = dh * (1 - u) + drh * r + d[:, : 2 * H] @ W_h_T[: 2 * H]  # (gru-bwd-inputs)
        else:
            z, n, q_n = g[:, H : 2 * H], g[:, 2 * H :], cache["Q_n"][:, t]
            d[:, 2 * H :] = dh * (1 - z) * tanh_grad_from_output(n)  # p_n
            d[:, H : 2 * H] = dh * (h_prev - n) * sigmoid_grad_from_output(z)  # p_z
            d[:, :H] = d[:, 2 * H :] * q_n * sigmoid_grad_from_output(r)  # p_r
            dq = dQ[:, t]  # (N, 3H) view
            dq[...] = d
            dq[:, 2 * H :] *= r  # q_n enters n only through r * q_n
            dh = dh * z + dq @ W_h_T  # (gru-pytorch), backward

    # Weight gradients, one product per block of rows over all N*T rows.
    rows = N * T
    dP_rows = dP.reshape(rows, 3 * H)  # (N*T, 3H)
    X_rows = X.reshape(rows, D)  # (N*T, D)
    H_prev = np.concatenate([h0[:, None, :], Y[:, :-1]], axis=1).reshape(rows, H)
    if cho:
        RH_rows = cache["RH"].reshape(rows, H)  # r_t * h_{t-1}
        dW_h = np.concatenate([H_prev.T @ dP_rows[:, : 2 * H], RH_rows.T @ dP_rows[:, 2 * H :]],
                              axis=1)  # (H, 3H)
        grads = {"W": np.concatenate([X_rows.T @ dP_rows, dW_h]), "b": dP_rows.sum(axis=0)}
    else:
        dQ_rows = dQ.reshape(rows, 3 * H)  # (N*T, 3H)
        grads = {
            "W": np.concatenate([X_rows.T @ dP_rows, H_prev.T @ dQ_rows]),  # (D+H, 3H)
            "b": dP_rows.sum(axis=0),
            "b_hn": dQ_rows[:, 2 * H :].sum(axis=0),
        }
    dX = dP @ W[:D].T  # (N, T, D)
    return dX, dh, grads
