r"""Layers around the recurrent cells: the output layer, stacks, bidirectional layers.

A recurrent cell (:mod:`rnnlib.rnn`, :mod:`rnnlib.lstm`, :mod:`rnnlib.gru`) turns an input
sequence into a sequence of hidden states. To make a network that solves a task, this
module adds:

- :data:`CELLS`, the one registry of the recurrent cells by name;
- a **dense output layer** that maps each hidden state to the V outputs the task needs
  (:func:`init_dense`, :func:`dense_forward`, :func:`dense_backward`);
- **stacking**: the memo's "multiple layers", where the hidden sequence of layer l is the
  input sequence of layer l + 1 (:func:`stack_forward`, :func:`stack_backward`), with
  one-way or bidirectional layers;
- a **bidirectional** layer: one cell reads the sequence forwards in time, another reads it
  backwards, and their outputs are put side by side (:func:`bidirectional_forward`,
  :func:`bidirectional_backward`).

:class:`rnnlib.model.SequenceModel` puts cells, stack and output layer together in one
object with a flat parameter dict, a loss and its gradients.

All of them are forward/backward pairs of pure functions, like the cells: ``forward``
returns its outputs and a ``cache``; ``backward`` takes the gradient of the loss with
respect to the outputs and the cache, and returns the gradients with respect to the inputs
and the parameters.

Dimension letters: N batch, T time, D input, H hidden, V output. Sequences are batch first.

Equations
---------
Output layer, applied at every step (or only at the last one):

.. math::

    o_t = h_t W_{\text{out}} + b_{\text{out}}                       \qquad \text{(dense-forward)}

    \bar W_{\text{out}} = \sum_t h_t^\top \bar o_t, \quad
    \bar b_{\text{out}} = \sum_t \textstyle\sum_n \bar o_t, \quad
    \bar h_t = \bar o_t W_{\text{out}}^\top                         \qquad \text{(dense-backward)}

Stack of L layers, :math:`h^{(0)}_t = x_t`:

.. math::

    h^{(l)}_t = \text{cell}\big(h^{(l-1)}_t,\ h^{(l)}_{t-1};\ \theta^{(l)}\big),
    \qquad l = 1, \dots, L                                          \qquad \text{(stack-forward)}

In the backward pass the gradient reaching :math:`h^{(l)}_t` is the sum of what comes from
the same layer one step later (through time) and from the layer above at the same step
(through depth); the second term is the input gradient that layer l + 1's backward pass
returns, so the stack's backward pass runs the layers' backward passes from the top down:

.. math::

    \frac{\partial L}{\partial h^{(l)}_t}\Big|_{\text{from above}}
      = \frac{\partial L}{\partial x^{(l+1)}_t}                     \qquad \text{(stack-backward)}

A stack of bidirectional layers is the same with each layer's cell replaced by a
bidirectional layer: layer l + 1 reads the 2H features of layer l at every step.
"""

from contextlib import contextmanager

import numpy as np

from rnnlib import gru, lstm, rnn
from rnnlib._validate import (
    check_array,
    check_params,
    check_positive_int,
    resolve_dtype,
    resolve_rng,
)
from rnnlib.fast import CELLS as FAST_CELLS

__all__ = [
    "CELLS",
    "bidirectional_backward",
    "bidirectional_forward",
    "dense_backward",
    "dense_forward",
    "init_dense",
    "resolve_cell",
    "stack_backward",
    "stack_forward",
]

#: The recurrent cells by name: the one registry the rest of rnnlib looks cells up in. Each
#: is a module with ``init_params``, ``check_params``, ``forward``, ``backward``,
#: ``step_forward``, ``step_backward``, ``GATES``, ``OPTIONS`` (the keyword options of its
#: forward functions) and ``INIT_OPTIONS`` (those of ``init_params``). Their fast twins, with
#: the same names, are :data:`rnnlib.fast.CELLS`.
CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}



# --------------------------------------------------------------------------------------
# Dense output layer
# --------------------------------------------------------------------------------------


def init_dense(input_size, output_size, *, rng=None, dtype=np.float64):
    r"""Initial parameters of a dense layer, uniform in :math:`[-1/\sqrt{H}, 1/\sqrt{H}]`.

    This is PyTorch's default for ``torch.nn.Linear(H, V)``.

    Parameters
    ----------
    input_size : int
        H, the size of each input vector (the hidden size of the layer below).
    output_size : int
        V, the number of outputs.
    rng : numpy.random.Generator, int or None, optional
        Random generator or seed.
    dtype : {numpy.float64, numpy.float32}, optional
        dtype of the arrays.

    Returns
    -------
    params : dict
        ``"W"`` (H, V) and ``"b"`` (V,).
    """
    H = check_positive_int("input_size", input_size)
    V = check_positive_int("output_size", output_size)
    rng = resolve_rng(rng)
    dtype = resolve_dtype(dtype)
    k = 1.0 / np.sqrt(H)
    return {
        "W": rng.uniform(-k, k, size=(H, V)).astype(dtype),
        "b": rng.uniform(-k, k, size=(V,)).astype(dtype),
    }


def dense_forward(h, params):
    r"""Affine output layer, applied to every row: ``out = h @ W + b`` (dense-forward).

    Parameters
    ----------
    h : numpy.ndarray, shape (N, H) or (N, T, H)
        Hidden states: one per sequence, or one per step.
    params : dict
        ``"W"`` (H, V) and ``"b"`` (V,), same dtype as ``h``.

    Returns
    -------
    out : numpy.ndarray, shape (N, V) or (N, T, V)
        Outputs (values for regression, logits for classification).
    cache : tuple
        What :func:`dense_backward` needs.
    """
    check_array("h", h)
    if h.ndim not in (2, 3):
        raise ValueError(
            f"h: expected a 2-d array (N, H) or a 3-d array (N, T, H), got a {h.ndim}-d "
            f"array of shape {h.shape}"
        )
    H = h.shape[-1]
    if not isinstance(params, dict) or "W" not in params:
        raise ValueError("params: expected a dict with 'W' (H, V) and 'b' (V,)")
    W = check_array("params['W']", params["W"], shape=(H, None), dtype=h.dtype, dims="H, V")
    check_params(params, {"W": (W.shape, "H, V"), "b": ((W.shape[1],), "V")}, h.dtype)
    out = h @ W + params["b"]  # (N, V) or (N, T, V)
    return out, (h, W)


def dense_backward(dout, cache):
    r"""Backward pass of :func:`dense_forward` (dense-backward).

    Parameters
    ----------
    dout : numpy.ndarray, shape (N, V) or (N, T, V)
        Gradient of the loss with respect to the outputs.
    cache : tuple
        From :func:`dense_forward`.

    Returns
    -------
    dh : numpy.ndarray, shape (N, H) or (N, T, H)
        Gradient with respect to the layer's input ``h``.
    grads : dict
        ``"W"`` (H, V) and ``"b"`` (V,).
    """
    h, W = cache
    out_shape = h.shape[:-1] + (W.shape[1],)
    dims = "N, V" if h.ndim == 2 else "N, T, V"
    check_array("dout", dout, shape=out_shape, dtype=h.dtype, dims=dims)
    rows_h = h.reshape(-1, h.shape[-1])  # (N*T, H): every step of every sequence is a row
    rows_d = dout.reshape(-1, W.shape[1])  # (N*T, V)
    grads = {"W": rows_h.T @ rows_d, "b": rows_d.sum(axis=0)}
    dh = dout @ W.T  # (N, H) or (N, T, H)
    return dh, grads


# --------------------------------------------------------------------------------------
# Stacks of recurrent layers
# --------------------------------------------------------------------------------------


def resolve_cell(cell, *, fast=False):
    """The cell module for a name (a key of :data:`CELLS`) or for a module itself.

    Parameters
    ----------
    cell : str or module
        ``"rnn"``, ``"lstm"``, ``"gru"``, one of the modules of :data:`CELLS` or one of
        their twins in :data:`rnnlib.fast.CELLS`.
    fast : bool, default False
        For a name, return the :mod:`rnnlib.fast` twin instead. A module is returned as it
        is.

    Returns
    -------
    module

    Raises
    ------
    ValueError
        For any other name or object.
    """
    if isinstance(cell, str):
        if cell not in CELLS:
            raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {cell!r}")
        return FAST_CELLS[cell] if fast else CELLS[cell]
    if cell in CELLS.values() or cell in FAST_CELLS.values():
        return cell
    raise ValueError(
        f"cell: expected one of {sorted(CELLS)} or the module rnnlib.rnn, rnnlib.lstm or "
        f"rnnlib.gru (or its rnnlib.fast twin), got {cell!r}"
    )


def _per_layer(name, values, L):
    """Check a per-layer list (states or state gradients); None means None for every layer."""
    if values is None:
        return [None] * L
    if not isinstance(values, (list, tuple)) or len(values) != L:
        got = f"length {len(values)}" if isinstance(values, (list, tuple)) else type(
            values).__name__
        raise ValueError(f"{name}: expected a list of {L} entries (one per layer), got {got}")
    return list(values)


def _direction_pair(layer, params):
    """Check that a bidirectional layer's parameters are a pair of dicts; return the pair."""
    if (not isinstance(params, (tuple, list)) or len(params) != 2
            or not all(isinstance(p, dict) for p in params)):
        got = (f"a {type(params).__name__} of length {len(params)}"
               if isinstance(params, (tuple, list)) else type(params).__name__)
        raise ValueError(
            f"params_list[{layer}]: expected a pair (params_fwd, params_bwd) of parameter "
            f"dicts for a bidirectional layer, got {got}"
        )
    return params


@contextmanager
def _errors_name_layer(layer):
    """Prefix a ValueError raised inside the block with the index of the layer."""
    try:
        yield
    except ValueError as err:
        raise ValueError(f"layer {layer}: {err}") from err


def stack_forward(X, params_list, cell, states0=None, *, bidirectional=False, **cell_options):
    """Run a stack of recurrent layers (stack-forward).

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    params_list : list
        L entries, one per layer, bottom first: a parameter dict, or with
        ``bidirectional=True`` a pair ``(params_fwd, params_bwd)`` (see
        :func:`bidirectional_forward`). Layer 0 has input size D, layer l > 0 the output
        size of the layer below: H_{l-1}, or 2H_{l-1} for bidirectional layers.
    cell : str or module
        ``"rnn"``, ``"lstm"``, ``"gru"`` (see :data:`CELLS`) or the module itself.
    states0 : list or None, optional
        L initial states (each as the cell expects: (N, H_l) for rnn/gru, a tuple (h, s)
        for lstm; an entry may be None); None means zeros for every layer. Must be None for
        bidirectional layers, which always start from zeros.
    bidirectional : bool, default False
        Every layer is a bidirectional layer (:func:`bidirectional_forward`).
    **cell_options
        Passed to every layer's ``forward``, e.g. ``forget_gate=False`` or
        ``convention="pytorch"``.

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H_top), or (N, T, 2H_top) if bidirectional
        The hidden sequence of the top layer.
    states_T : list or None
        The final state of every layer, bottom first; None for bidirectional layers.
    cache : dict
        What :func:`stack_backward` needs.

    Raises
    ------
    ValueError
        From any layer, prefixed with the layer's index.
    """
    module = resolve_cell(cell)
    if not isinstance(bidirectional, (bool, np.bool_)):
        raise ValueError(f"bidirectional: expected True or False, got {bidirectional!r}")
    if not isinstance(params_list, (list, tuple)) or not params_list:
        raise ValueError("params_list: expected a non-empty list of parameter dicts, one per "
                         f"layer, got {type(params_list).__name__}")
    L = len(params_list)
    if bidirectional and states0 is not None:
        raise ValueError("states0: bidirectional layers always start from zero states; "
                         f"expected None, got {type(states0).__name__}")
    states0 = _per_layer("states0", states0, L)
    if bidirectional:
        params_list = [_direction_pair(layer, pair) for layer, pair in enumerate(params_list)]
    layer_input = X
    states_T, caches = [], []
    for layer, (params, state0) in enumerate(zip(params_list, states0, strict=True)):
        with _errors_name_layer(layer):
            if bidirectional:
                params_fwd, params_bwd = params
                layer_input, layer_cache = bidirectional_forward(
                    layer_input, params_fwd, params_bwd, module, **cell_options
                )  # (N, T, 2H_l)
                state_T = None
            else:
                layer_input, state_T, layer_cache = module.forward(
                    layer_input, state0, params, **cell_options
                )  # (N, T, H_l)
        states_T.append(state_T)
        caches.append(layer_cache)
    cache = {"module": module, "bidirectional": bool(bidirectional), "caches": caches}
    return layer_input, (None if bidirectional else states_T), cache


def stack_backward(dY, dstates_T, cache):
    r"""Backward pass of :func:`stack_forward` (stack-backward).

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H_top), or (N, T, 2H_top) if bidirectional
        Gradient of the loss with respect to the top layer's hidden sequence.
    dstates_T : list or None
        Gradient with respect to every layer's final state (as the cell expects; an entry
        may be None); None means zeros for every layer. Must be None for bidirectional
        layers, which return no final states.
    cache : dict
        From :func:`stack_forward`.

    Returns
    -------
    dX : numpy.ndarray, shape (N, T, D)
        Gradient with respect to the input sequences.
    dstates0 : list or None
        Gradient with respect to every layer's initial state, bottom first; None for
        bidirectional layers.
    grads_list : list
        Parameter gradients of every layer, bottom first: a dict per layer, or for
        bidirectional layers a pair ``(grads_fwd, grads_bwd)``.

    Raises
    ------
    ValueError
        From any layer, prefixed with the layer's index.

    Notes
    -----
    Each layer's backward pass carries the gradient back through time within the layer;
    the input gradient it returns is the gradient reaching the hidden sequence of the layer
    below, from above. So the layers are processed top down, and each layer's ``dY`` is the
    ``dX`` of the layer above it.
    """
    module, caches, bidirectional = cache["module"], cache["caches"], cache["bidirectional"]
    L = len(caches)
    if bidirectional and dstates_T is not None:
        raise ValueError("dstates_T: bidirectional layers return no final states; expected "
                         f"None, got {type(dstates_T).__name__}")
    dstates_T = _per_layer("dstates_T", dstates_T, L)
    dstates0, grads_list = [None] * L, [None] * L
    d_layer_output = dY
    for layer in reversed(range(L)):
        with _errors_name_layer(layer):
            if bidirectional:
                d_layer_output, grads_fwd, grads_bwd = bidirectional_backward(
                    d_layer_output, caches[layer]
                )
                grads_list[layer] = (grads_fwd, grads_bwd)
            else:
                d_layer_output, dstates0[layer], grads_list[layer] = module.backward(
                    d_layer_output, dstates_T[layer], caches[layer]
                )
        # d_layer_output: (N, T, H_{l-1}) or 2H_{l-1}, and (N, T, D) below the bottom layer
    return d_layer_output, (None if bidirectional else dstates0), grads_list


# --------------------------------------------------------------------------------------
# Bidirectional layer
# --------------------------------------------------------------------------------------


def bidirectional_forward(X, params_fwd, params_bwd, cell, **opts):
    r"""A bidirectional recurrent layer: one cell forwards in time, one backwards.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    params_fwd : dict
        Parameters of the cell that reads :math:`x_0, x_1, \dots, x_{T-1}`.
    params_bwd : dict
        Parameters of the cell that reads :math:`x_{T-1}, \dots, x_0`; same hidden size H.
    cell : str or module
        ``"rnn"``, ``"lstm"``, ``"gru"`` or the module itself (both directions use it).
    **opts
        Passed to both cells' ``forward``.

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, 2H)
        ``Y[:, t, :H]`` is the forward cell's state after reading :math:`x_0 \dots x_t`,
        ``Y[:, t, H:]`` the backward cell's state after reading :math:`x_{T-1} \dots x_t`,
        so every step sees the whole sequence. This is ``torch.nn.RNN(...,
        bidirectional=True)``'s layout. Both cells start from zero states.
    cache : dict
        What :func:`bidirectional_backward` needs.

    Notes
    -----
    With :math:`\overleftarrow{x}_t = x_{T-1-t}` the reversed sequence,
    :math:`\overrightarrow{h}_t = \text{cell}(x_t, \overrightarrow{h}_{t-1})`,
    :math:`\overleftarrow{h}_t = \text{cell}(\overleftarrow{x}_t, \overleftarrow{h}_{t-1})`
    and :math:`y_t = [\overrightarrow{h}_t,\ \overleftarrow{h}_{T-1-t}]`
    (bidirectional-forward). A bidirectional layer cannot be used to predict the next
    step of a sequence, since it reads the future; it suits tasks that see the whole
    sequence before answering.
    """
    module = resolve_cell(cell)
    X = check_array("X", X, ndim=3, dims="N, T, D")
    try:
        Y_fwd, _, cache_fwd = module.forward(X, None, params_fwd, **opts)  # (N, T, H)
    except ValueError as err:
        raise ValueError(f"forward-in-time cell (params_fwd): {err}") from err
    X_rev = np.ascontiguousarray(X[:, ::-1])  # (N, T, D), time reversed
    try:
        Y_bwd_rev, _, cache_bwd = module.forward(X_rev, None, params_bwd, **opts)  # (N, T, H)
    except ValueError as err:
        raise ValueError(f"backward-in-time cell (params_bwd): {err}") from err
    if Y_bwd_rev.shape != Y_fwd.shape:
        raise ValueError(
            f"params_bwd: expected the hidden size of params_fwd, H = {Y_fwd.shape[2]}, got "
            f"H = {Y_bwd_rev.shape[2]}"
        )
    Y = np.concatenate([Y_fwd, Y_bwd_rev[:, ::-1]], axis=2)  # (N, T, 2H)
    cache = {"module": module, "fwd": cache_fwd, "bwd": cache_bwd, "H": Y_fwd.shape[2]}
    return Y, cache


def bidirectional_backward(dY, cache):
    """Backward pass of :func:`bidirectional_forward`.

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, 2H)
        Gradient of the loss with respect to the layer's outputs.
    cache : dict
        From :func:`bidirectional_forward`.

    Returns
    -------
    dX : numpy.ndarray, shape (N, T, D)
        Gradient with respect to the inputs: the sum of what both cells send back (the
        backward-in-time cell's, reversed back into the original time order).
    grads_fwd : dict
        Gradients of ``params_fwd``.
    grads_bwd : dict
        Gradients of ``params_bwd``.
    """
    module, H = cache["module"], cache["H"]
    check_array("dY", dY, ndim=3, dims="N, T, 2H")
    N, T = dY.shape[:2]
    check_array("dY", dY, shape=(N, T, 2 * H), dtype=dY.dtype, dims="N, T, 2H")
    dX_fwd, _, grads_fwd = module.backward(np.ascontiguousarray(dY[:, :, :H]), None,
                                           cache["fwd"])
    dY_bwd_rev = np.ascontiguousarray(dY[:, ::-1, H:])  # (N, T, H) in the reversed order
    dX_bwd_rev, _, grads_bwd = module.backward(dY_bwd_rev, None, cache["bwd"])
    dX = dX_fwd + dX_bwd_rev[:, ::-1]  # (N, T, D)
    return dX, grads_fwd, grads_bwd


