r"""The long short-term memory (LSTM) cell: forward and backpropagation through time.

Dimension letters: N batch, T time, D input, H hidden. Sequences are batch first.

**Forward.** All gates read the same row :math:`z_t = [x_t, h_{t-1}]` (N, D+H), so one product
:math:`z_t W + b` (N, 4H) gives all four pre-activations side by side, in the memo's order
f, i, a, o (column blocks of width H):

.. math::

    f_t = \sigma(z_t W_f + b_f)        \qquad \text{(lstm-forget)}

    i_t = \sigma(z_t W_i + b_i)        \qquad \text{(lstm-input)}

    a_t = \tanh(z_t W_a + b_a)         \qquad \text{(lstm-activation)}

    o_t = \sigma(z_t W_o + b_o)        \qquad \text{(lstm-output-gate)}

    s_t = f_t \odot s_{t-1} + i_t \odot a_t   \qquad \text{(lstm-state)}

    h_t = o_t \odot \tanh(s_t)         \qquad \text{(lstm-output)}

``W`` is (D+H, 4H) and ``b`` (4H,); ``W[:, :H]`` is :math:`W_f`, ``W[:, H:2H]`` is
:math:`W_i` and so on. The memo writes the state update as :math:`s_t = I_t a_t + s_{t-1}`:
it defines a forget gate but never uses it. That is the state update of the original LSTM
of Hochreiter and Schmidhuber (1997), before Gers, Schmidhuber and Cummins (2000) added the
forget gate.
``forget_gate=False`` gives that cell, with ``W`` (D+H, 3H) and ``b`` (3H,) in blocks i, a, o
and (lstm-state) replaced by

.. math:: s_t = s_{t-1} + i_t \odot a_t                 \qquad \text{(lstm-state-1997)}

Backward, with :math:`\bar q = \partial L/\partial q` and :math:`\bar h_t` the total gradient
reaching :math:`h_t` (from the output at step t and from step t+1):

.. math::

    \bar o_t = \bar h_t \odot \tanh(s_t)                                \qquad \text{(lstm-do)}

    \bar s_t = \bar s_{t+1} \odot f_{t+1}
               + \bar h_t \odot o_t \odot (1 - \tanh^2(s_t))           \qquad \text{(lstm-ds)}

    \bar f_t = \bar s_t \odot s_{t-1}, \quad \bar i_t = \bar s_t \odot a_t, \quad
    \bar a_t = \bar s_t \odot i_t                                       \qquad \text{(lstm-dgates)}

and through the activations, :math:`\bar p = \bar g \odot g (1 - g)` for a sigmoid gate
:math:`g` and :math:`\bar p = \bar a \odot (1 - a^2)` for :math:`a`, giving the (N, 4H)
pre-activation gradient :math:`\bar P_t`. Then, as in the RNN,
:math:`\bar z_t = \bar P_t W^\top` splits into :math:`\bar x_t` and the part of
:math:`\bar h_{t-1}` that flows back through the gates, and
:math:`\bar W = \sum_t z_t^\top \bar P_t`, :math:`\bar b = \sum_t \sum_n \bar P_t`.
The term :math:`\bar s_{t+1} \odot f_{t+1}` is the "constant error carousel": without a
forget gate it is :math:`\bar s_{t+1}` itself, passed back unchanged.

The sequence functions compute the input part of all gates at every step with one product
``X @ W[:D] + b`` before the time loop, and :math:`\bar W` and the input gradients with
one product each after it; everything else follows the step functions line by line. A
faster arrangement of the same computation, with the same interface and results, is
:mod:`rnnlib.fast.lstm`.

In every function the lines before the first equation only check the arguments
(:mod:`rnnlib._validate`).

PyTorch: ``torch.nn.LSTM`` orders its gate blocks i, f, g, o (g is our a) and stores
``weight_ih_l0`` (4H, D) and ``weight_hh_l0`` (4H, H), so ``weight_ih_l0`` is ``W[:D].T``
with the f and i blocks swapped (see :mod:`rnnlib.interop`). It has no cell without a
forget gate.
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

#: Column blocks of ``W`` and ``b`` (forget, input, input activation, output).
GATES = ("f", "i", "a", "o")
#: Column blocks with ``forget_gate=False`` (the 1997 cell).
GATES_NO_FORGET = ("i", "a", "o")
#: Keyword options of the forward functions and of :func:`init_params`.
OPTIONS = ("forget_gate",)
INIT_OPTIONS = ("forget_gate", "forget_bias")


def _gates(forget_gate):
    if not isinstance(forget_gate, (bool, np.bool_)):
        raise ValueError(f"forget_gate: expected True or False, got {forget_gate!r}")
    return GATES if forget_gate else GATES_NO_FORGET


def init_params(
    input_size, hidden_size, *, rng=None, dtype=np.float64, forget_gate=True, forget_bias=1.0
):
    r"""Draw initial parameters like PyTorch, plus a positive forget-gate bias.

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
    forget_gate : bool, default True
        With the forget gate (blocks f, i, a, o) or the 1997 cell without (i, a, o).
    forget_bias : float, default 1.0
        Added to :math:`b_f`, so that the cell starts out remembering
        (:math:`f \approx \sigma(1) \approx 0.73`) instead of halving its state every step;
        Jozefowicz et al. (2015) found this helps. Ignored when ``forget_gate=False``.
        Use 0.0 for PyTorch's initialisation.

    Returns
    -------
    params : dict
        ``"W"`` (D+H, 4H) and ``"b"`` (4H,) in blocks f, i, a, o; (D+H, 3H) and (3H,) in
        blocks i, a, o without the forget gate. Every entry is uniform in
        :math:`[-1/\sqrt{H}, 1/\sqrt{H}]`, then ``forget_bias`` is added to ``b[:H]``.
    """
    D = check_positive_int("input_size", input_size)
    H = check_positive_int("hidden_size", hidden_size)
    G = len(_gates(forget_gate))
    dtype = resolve_dtype(dtype)
    rng = resolve_rng(rng)
    k = 1.0 / np.sqrt(H)
    W = rng.uniform(-k, k, size=(D + H, G * H))
    b = rng.uniform(-k, k, size=(G * H,))
    if forget_gate:
        b[:H] += forget_bias
    return {"W": W.astype(dtype), "b": b.astype(dtype)}


def check_params(params, input_size, dtype=None, *, forget_gate=True):
    """Check an LSTM parameter dict for inputs of size ``input_size``; return H.

    Parameters
    ----------
    params : dict
        ``"W"`` (D+H, 4H) and ``"b"`` (4H,), or 3H without the forget gate.
    input_size : int
        D.
    dtype : {numpy.float64, numpy.float32}, optional
        The dtype the arrays must have; None means that of ``params["W"]``.
    forget_gate : bool, default True
        Which cell the parameters are for.

    Returns
    -------
    H : int
        The hidden size.

    Raises
    ------
    ValueError
        Naming the key, the expected shape and the shape received (and the option to pass
        when the weight fits the other cell).
    """
    D = check_positive_int("input_size", input_size)
    return _check_params(params, D, dtype, "input_size", forget_gate)


def _check_params(params, D, dtype, source, forget_gate):
    """Check ``params`` against D, the dtype and the option; return H."""
    gates = _gates(forget_gate)
    other, advice = (
        (GATES_NO_FORGET, "the cell without forget gate; pass forget_gate=False")
        if forget_gate
        else (GATES, "the cell with forget gate; pass forget_gate=True")
    )
    H = hidden_size_of(params, D, gates, source, alternatives=[(other, advice)])
    G = len(gates)
    dtype = params["W"].dtype if dtype is None else dtype
    expected = {"W": ((D + H, G * H), f"D+H, {G}H"), "b": ((G * H,), f"{G}H")}
    check_param_shapes(params, expected, dtype)
    return H


def _check_state(name, state, N, H, dtype):
    """Return the (h, s) pair ``state`` checked to be two (N, H) arrays (None = zeros)."""
    if state is None:
        zeros = np.zeros((N, H), dtype=dtype)
        return zeros, zeros
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ValueError(
            f"{name}: expected a tuple (h, s) of two arrays of shape (N, H) = ({N}, {H}), "
            f"got {type(state).__name__}"
            + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else "")
        )
    h = check_array(f"{name}[0] (h)", state[0], shape=(N, H), dtype=dtype, dims="N, H")
    s = check_array(f"{name}[1] (s)", state[1], shape=(N, H), dtype=dtype, dims="N, H")
    return h, s


def _activate(P, forget_gate):
    """Apply the gate nonlinearities to pre-activations P (..., G*H), in place; return P.

    Every block is a sigmoid except a (the second to last), which is a tanh.
    """
    H = P.shape[-1] // (4 if forget_gate else 3)
    a = slice(P.shape[-1] - 2 * H, P.shape[-1] - H)  # the block of a
    P[..., : a.start] = sigmoid(P[..., : a.start])  # f, i  (or only i)
    P[..., a] = tanh(P[..., a])
    P[..., a.stop :] = sigmoid(P[..., a.stop :])  # o
    return P


def _activation_grad(gates, forget_gate):
    """Derivative of each block's activation from the activated gates (..., G*H)."""
    H = gates.shape[-1] // (4 if forget_gate else 3)
    d = sigmoid_grad_from_output(gates)  # right for every block but a
    a = slice(gates.shape[-1] - 2 * H, gates.shape[-1] - H)
    d[..., a] = tanh_grad_from_output(gates[..., a])
    return d


def _split(gates, forget_gate):
    """Split activated gates (..., G*H) into views (f, i, a, o); f is None without it."""
    blocks = np.split(gates, 4 if forget_gate else 3, axis=-1)
    return tuple(blocks) if forget_gate else (None, *blocks)


def step_forward(x, state, params, *, forget_gate=True):
    r"""One time step of the LSTM: (lstm-forget) to (lstm-output).

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
        Inputs at this step.
    state : tuple (h, s) of numpy.ndarray, each (N, H), or None
        Previous hidden state :math:`h_{t-1}` and cell state :math:`s_{t-1}`; None means
        zeros.
    params : dict
        ``"W"`` (D+H, 4H) and ``"b"`` (4H,) in blocks f, i, a, o (3H in blocks i, a, o
        when ``forget_gate=False``), same dtype as ``x``.
    forget_gate : bool, default True
        False gives the 1997 cell :math:`s_t = s_{t-1} + i_t a_t` (lstm-state-1997).

    Returns
    -------
    h : numpy.ndarray, shape (N, H)
        Output :math:`h_t`.
    state : tuple (h, s) of numpy.ndarray, each (N, H)
        New state; ``state[0] is h``.
    cache : dict
        What :func:`step_backward` needs.

    Notes
    -----
    PyTorch's ``torch.nn.LSTMCell`` is the same cell with its gate blocks ordered i, f, g, o.
    """
    x = check_array("x", x, ndim=2, dims="N, D", finite=False, nonempty=True)
    N, D = x.shape
    H = _check_params(params, D, x.dtype, "x", forget_gate)
    check_finite("x", x)
    h_prev, s_prev = _check_state("state", state, N, H, x.dtype)

    z = np.concatenate([x, h_prev], axis=1)  # (N, D+H)   (lstm-concat)
    # (N, G*H): (lstm-preact), then (lstm-forget), (lstm-input), (lstm-activation),
    # (lstm-output-gate) block by block
    gates = _activate(z @ params["W"] + params["b"], forget_gate)
    f, i, a, o = _split(gates, forget_gate)  # each (N, H)
    s = i * a + (s_prev if f is None else f * s_prev)  # (lstm-state) / (lstm-state-1997)
    tanh_s = tanh(s)
    h = o * tanh_s  # (lstm-output)
    cache = {
        "made_by": "rnnlib.lstm.step_forward",
        "z": z,
        "gates": gates,
        "s_prev": s_prev,
        "tanh_s": tanh_s,
        "W": params["W"],
        "D": D,
        "forget_gate": forget_gate,
    }
    return h, (h, s), cache


def step_backward(dh, dstate, cache):
    r"""Backward through one LSTM step: the adjoint of :func:`step_forward`.

    Parameters
    ----------
    dh : numpy.ndarray, shape (N, H)
        :math:`\partial L/\partial h_t` from whatever uses this step's output.
    dstate : tuple (dh_next, ds_next) of numpy.ndarray, each (N, H), or None
        Gradients with respect to the state :math:`(h_t, s_t)` flowing back from step t+1;
        None means zeros.
    cache : dict
        From :func:`step_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, D)
        Gradient with respect to ``x``.
    dstate_prev : tuple (dh_prev, ds_prev) of numpy.ndarray, each (N, H)
        Gradients with respect to :math:`(h_{t-1}, s_{t-1})`.
    grads : dict
        ``"W"`` and ``"b"``, shaped like the parameters.

    Notes
    -----
    (lstm-ds), (lstm-do), (lstm-dgates) for one step, then through the activations and the
    fused product.
    """
    keys = ("z", "gates", "s_prev", "tanh_s", "W", "D", "forget_gate")
    check_cache(cache, "rnnlib.lstm.step_forward", keys)
    z, gates, s_prev, tanh_s = cache["z"], cache["gates"], cache["s_prev"], cache["tanh_s"]
    W, D, forget_gate = cache["W"], cache["D"], cache["forget_gate"]
    N, H = s_prev.shape
    dh = check_array("dh", dh, shape=(N, H), dtype=s_prev.dtype, dims="N, H")
    if dstate is None:
        ds = np.zeros_like(s_prev)
    else:
        dh_next, ds = _check_state("dstate", dstate, N, H, s_prev.dtype)
        dh = dh + dh_next
    f, i, a, o = _split(gates, forget_gate)

    ds = ds + dh * o * tanh_grad_from_output(tanh_s)  # (N, H)       (lstm-ds)
    dgates = np.empty_like(gates)  # (N, G*H), blocks like gates
    df, di, da, do = _split(dgates, forget_gate)  # views that write into dgates
    do[...] = dh * tanh_s  # (lstm-do)
    di[...] = ds * a  # (lstm-dgates)
    da[...] = ds * i
    if f is not None:
        df[...] = ds * s_prev
    dP = dgates * _activation_grad(gates, forget_gate)  # (N, G*H)   (lstm-dpreact)

    grads = {"W": z.T @ dP, "b": dP.sum(axis=0)}  # (lstm-dweights)
    dz = dP @ W.T  # (N, D+H)                                     (lstm-dweights)
    ds_prev = ds if f is None else ds * f  # the carousel        (lstm-dgates)
    return dz[:, :D], (dz[:, D:], ds_prev), grads



def forward(X, state0, params, *, forget_gate=True):
    r"""Run the LSTM over a whole sequence.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences, batch first.
    state0 : tuple (h0, s0) of numpy.ndarray, each (N, H), or None
        Initial hidden and cell state; None means zeros.
    params : dict
        ``"W"`` (D+H, 4H) and ``"b"`` (4H,) in blocks f, i, a, o (3H, blocks i, a, o when
        ``forget_gate=False``), same dtype as ``X``.
    forget_gate : bool, default True
        False gives the 1997 cell (lstm-state-1997).

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H)
        Output :math:`h_t` at every step.
    state_T : tuple (h_T, s_T) of numpy.ndarray, each (N, H)
        Final hidden and cell state.
    cache : dict
        What :func:`backward` needs.

    Notes
    -----
    The loop is :func:`step_forward`'s body, line for line, except that the input part
    :math:`x_t W_x + b` of every gate at every step is one product ``X @ W[:D] + b`` of
    shape (N, T, G*H) before the loop; each step adds the recurrent part
    :math:`h_{t-1} W_h` of all gates with one product. The result equals calling
    :func:`step_forward` T times (the tests check this).
    """
    X = check_array("X", X, ndim=3, dims="N, T, D", finite=False, nonempty=True)
    N, T, D = X.shape
    H = _check_params(params, D, X.dtype, "X", forget_gate)
    check_finite("X", X)
    h0, s0 = _check_state("state0", state0, N, H, X.dtype)
    W = params["W"]
    W_h = W[D:]  # (H, G*H): recurrent part of every gate, a view

    gates = X @ W[:D] + params["b"]  # (N, T, G*H): input part of every pre-activation
    Y = np.empty((N, T, H), dtype=X.dtype)  # outputs h_t
    S = np.empty((N, T, H), dtype=X.dtype)  # cell states s_t
    tanh_S = np.empty((N, T, H), dtype=X.dtype)  # tanh(s_t)
    h, s = h0, s0
    for t in range(T):
        # (N, G*H): (lstm-preact) and the gates (lstm-forget) to (lstm-output-gate)
        gates[:, t] = _activate(gates[:, t] + h @ W_h, forget_gate)
        f, i, a, o = _split(gates[:, t], forget_gate)  # each (N, H)
        s = i * a + (s if f is None else f * s)  # (lstm-state) / (lstm-state-1997)
        tanh_s = tanh(s)
        h = o * tanh_s  # (lstm-output)
        Y[:, t], S[:, t], tanh_S[:, t] = h, s, tanh_s
    cache = {
        "made_by": "rnnlib.lstm.forward",
        "X": X,
        "h0": h0,
        "s0": s0,
        "gates": gates,
        "Y": Y,
        "S": S,
        "tanh_S": tanh_S,
        "W": W,
        "forget_gate": forget_gate,
    }
    return Y, (h, s), cache


def backward(dY, dstate_T, cache):
    r"""Backpropagation through time for the LSTM: the adjoint of :func:`forward`.

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L/\partial h_t` from the outputs at every step.
    dstate_T : tuple (dh_T, ds_T) of numpy.ndarray, each (N, H), or None
        Gradients with respect to the final state from outside the sequence; None means
        zeros.
    cache : dict
        From :func:`forward`.

    Returns
    -------
    dX : numpy.ndarray, shape (N, T, D)
        Gradient with respect to the inputs.
    dstate0 : tuple (dh0, ds0) of numpy.ndarray, each (N, H)
        Gradients with respect to the initial state.
    grads : dict
        ``"W"`` and ``"b"``, shaped like the parameters.

    Notes
    -----
    The loop runs backwards in time, carries :math:`\bar h` and :math:`\bar s`, and is
    :func:`step_backward`'s body line for line: (lstm-ds), (lstm-do), (lstm-dgates), then
    through the activations to the pre-activation gradient :math:`\bar P_t` (N, G*H), which
    it stores. Only the product :math:`\bar P_t W_h^\top` that carries :math:`\bar h` back
    stays inside the loop. Afterwards :math:`\bar W = Z^\top \bar P` is one product over the
    stacked rows :math:`z_t = [x_t, h_{t-1}]` (N*T, D+H), and :math:`\bar X = \bar P W_x^\top`
    another.
    """
    keys = ("X", "h0", "s0", "gates", "Y", "S", "tanh_S", "W", "forget_gate")
    check_cache(cache, "rnnlib.lstm.forward", keys)
    X, gates, Y, S, tanh_S = cache["X"], cache["gates"], cache["Y"], cache["S"], cache["tanh_S"]
    W, forget_gate = cache["W"], cache["forget_gate"]
    N, T, H = Y.shape
    D = X.shape[2]
    dY = check_array("dY", dY, shape=(N, T, H), dtype=Y.dtype, dims="N, T, H")
    if dstate_T is None:
        dh = np.zeros((N, H), dtype=Y.dtype)
        ds = np.zeros((N, H), dtype=Y.dtype)
    else:
        dh, ds = _check_state("dstate_T", dstate_T, N, H, Y.dtype)
    W_h_T = W[D:].T  # (G*H, H)

    dP = np.empty_like(gates)  # (N, T, G*H): gradient of every pre-activation
    for t in reversed(range(T)):
        f, i, a, o = _split(gates[:, t], forget_gate)  # each (N, H)
        s_prev = S[:, t - 1] if t > 0 else cache["s0"]
        tanh_s = tanh_S[:, t]
        dh = dY[:, t] + dh  # (N, H): from the output and from step t+1
        ds = ds + dh * o * tanh_grad_from_output(tanh_s)  # (lstm-ds)
        dgates = np.empty_like(gates[:, t])  # (N, G*H), blocks like the gates
        df, di, da, do = _split(dgates, forget_gate)  # views that write into dgates
        do[...] = dh * tanh_s  # (lstm-do)
        di[...] = ds * a  # (lstm-dgates)
        da[...] = ds * i
        if f is not None:
            df[...] = ds * s_prev
        dP[:, t] = dgates * _activation_grad(gates[:, t], forget_gate)  # (lstm-dpreact)
        dh = dP[:, t] @ W_h_T  # (N, H): on to h_{t-1}                (lstm-dweights)
        ds = ds if f is None else ds * f  # (N, H): on to s_{t-1}, the carousel

    G_H = gates.shape[2]
    H_prev = np.concatenate([cache["h0"][:, None, :], Y[:, :-1]], axis=1)  # (N, T, H)
    Z = np.concatenate([X, H_prev], axis=2).reshape(N * T, D + H)  # (N*T, D+H)
    dP_rows = dP.reshape(N * T, G_H)  # (N*T, G*H)
    grads = {"W": Z.T @ dP_rows, "b": dP_rows.sum(axis=0)}  # (lstm-dweights), all steps
    dX = dP @ W[:D].T  # (N, T, D)
    return dX, (dh, ds), grads
