r"""Layers around the recurrent cells: the output layer, stacks, bidirectional layers, a model.

A recurrent cell (:mod:`rnnlib.rnn`, :mod:`rnnlib.lstm`, :mod:`rnnlib.gru`) turns an input
sequence into a sequence of hidden states. To make a network that solves a task, this
module adds:

- a **dense output layer** that maps each hidden state to the V outputs the task needs
  (:func:`init_dense`, :func:`dense_forward`, :func:`dense_backward`);
- **stacking**: the memo's "multiple layers", where the hidden sequence of layer l is the
  input sequence of layer l + 1 (:func:`stack_forward`, :func:`stack_backward`);
- a **bidirectional** layer: one cell reads the sequence forwards in time, another reads it
  backwards, and their outputs are put side by side (:func:`bidirectional_forward`,
  :func:`bidirectional_backward`);
- :class:`SequenceModel`: cells, stack and output layer in one object with a flat parameter
  dict, a loss, its gradients, predictions and sampling of text.

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
"""

import inspect

import numpy as np

from rnnlib import gru, lstm, rnn
from rnnlib._validate import (
    check_array,
    check_params,
    check_positive_int,
    resolve_dtype,
    resolve_rng,
)
from rnnlib.activations import softmax
from rnnlib.fast import CELLS as FAST_CELLS
from rnnlib.losses import mse, softmax_cross_entropy

__all__ = [
    "CELLS",
    "SequenceModel",
    "bidirectional_backward",
    "bidirectional_forward",
    "dense_backward",
    "dense_forward",
    "init_dense",
    "stack_backward",
    "stack_forward",
]

#: The recurrent cells by name; each is a module with ``init_params``, ``forward``,
#: ``backward``, ``step_forward``, ``step_backward`` and ``GATES``.
CELLS = {"rnn": rnn, "lstm": lstm, "gru": gru}

#: The losses :meth:`SequenceModel.loss_and_grads` accepts by name.
LOSSES = {"mse": mse, "cross_entropy": softmax_cross_entropy}


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


def _resolve_cell(cell):
    """Accept a cell's name (a key of :data:`CELLS`) or the module itself; return the module."""
    if isinstance(cell, str):
        if cell not in CELLS:
            raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {cell!r}")
        return CELLS[cell]
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


def stack_forward(X, params_list, cell, states0=None, **cell_options):
    """Run a stack of recurrent layers (stack-forward).

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    params_list : list of dict
        L parameter dicts, one per layer, bottom first. Layer 0 has input size D, layer
        l > 0 has input size H_{l-1} (the hidden size of the layer below).
    cell : str or module
        ``"rnn"``, ``"lstm"``, ``"gru"`` (see :data:`CELLS`) or the module itself.
    states0 : list or None, optional
        L initial states (each as the cell expects: (N, H_l) for rnn/gru, a tuple (h, s)
        for lstm; an entry may be None); None means zeros for every layer.
    **cell_options
        Passed to every layer's ``forward``, e.g. ``forget_gate=False`` or
        ``convention="pytorch"``.

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H_top)
        The hidden sequence of the top layer.
    states_T : list
        The final state of every layer, bottom first.
    cache : dict
        What :func:`stack_backward` needs.

    Raises
    ------
    ValueError
        From any layer, prefixed with the layer's index.
    """
    module = _resolve_cell(cell)
    if not isinstance(params_list, (list, tuple)) or not params_list:
        raise ValueError("params_list: expected a non-empty list of parameter dicts, one per "
                         f"layer, got {type(params_list).__name__}")
    L = len(params_list)
    states0 = _per_layer("states0", states0, L)
    layer_input = X
    states_T, caches = [], []
    for layer, (params, state0) in enumerate(zip(params_list, states0, strict=True)):
        try:
            layer_input, state_T, layer_cache = module.forward(
                layer_input, state0, params, **cell_options
            )  # (N, T, H_l)
        except ValueError as err:
            raise ValueError(f"layer {layer}: {err}") from err
        states_T.append(state_T)
        caches.append(layer_cache)
    return layer_input, states_T, {"module": module, "caches": caches}


def stack_backward(dY, dstates_T, cache):
    r"""Backward pass of :func:`stack_forward` (stack-backward).

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H_top)
        Gradient of the loss with respect to the top layer's hidden sequence.
    dstates_T : list or None
        Gradient with respect to every layer's final state (as the cell expects; an entry
        may be None); None means zeros for every layer.
    cache : dict
        From :func:`stack_forward`.

    Returns
    -------
    dX : numpy.ndarray, shape (N, T, D)
        Gradient with respect to the input sequences.
    dstates0 : list
        Gradient with respect to every layer's initial state, bottom first.
    grads_list : list of dict
        Parameter gradients of every layer, bottom first.

    Notes
    -----
    Each layer's backward pass carries the gradient back through time within the layer;
    the input gradient it returns is the gradient reaching the hidden sequence of the layer
    below, from above. So the layers are processed top down, and each layer's ``dY`` is the
    ``dX`` of the layer above it.
    """
    module, caches = cache["module"], cache["caches"]
    L = len(caches)
    dstates_T = _per_layer("dstates_T", dstates_T, L)
    dstates0, grads_list = [None] * L, [None] * L
    d_layer_output = dY
    for layer in reversed(range(L)):
        try:
            d_layer_output, dstates0[layer], grads_list[layer] = module.backward(
                d_layer_output, dstates_T[layer], caches[layer]
            )  # d_layer_output: (N, T, H_{l-1}) or (N, T, D) at the bottom
        except ValueError as err:
            raise ValueError(f"layer {layer}: {err}") from err
    return d_layer_output, dstates0, grads_list


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
    module = _resolve_cell(cell)
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


# --------------------------------------------------------------------------------------
# A whole model
# --------------------------------------------------------------------------------------


def _accepted_options(function, options):
    """The subset of ``options`` that ``function`` takes as keyword arguments."""
    accepted = inspect.signature(function).parameters
    return {k: v for k, v in options.items() if k in accepted}


class SequenceModel:
    r"""Recurrent layers and a dense output layer: a complete sequence model.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The recurrent cell of every layer.
    input_size : int
        D, the size of each input vector.
    hidden_size : int
        H, the hidden size of every recurrent layer.
    output_size : int
        V, the number of outputs per step (values for ``"mse"``, classes for
        ``"cross_entropy"``).
    num_layers : int, default 1
        L, the number of stacked recurrent layers.
    rng : numpy.random.Generator, int or None
        Random generator or seed for the initial parameters.
    dtype : float32 or float64, default float64
        dtype of the parameters; inputs must have the same.
    bidirectional : bool, default False
        Make every layer bidirectional (a layer above then reads 2H features per step).
    fast : bool, default True
        Run the cells' sequence functions from :mod:`rnnlib.fast` (same results, faster)
        instead of the derivation-shaped ones of :mod:`rnnlib.rnn`, :mod:`rnnlib.lstm` and
        :mod:`rnnlib.gru`. Ignored when ``cell`` is a module.
    **cell_options
        Passed to the cell: ``forget_gate`` and ``forget_bias`` for the LSTM,
        ``convention`` for the GRU.

    Attributes
    ----------
    params : dict of str to numpy.ndarray
        All parameters in one flat dict: ``"layer0.W"``, ``"layer0.b"``, ...,
        ``"layer{L-1}.b"``, then ``"out.W"`` (H or 2H, V) and ``"out.b"`` (V,). A
        bidirectional layer's backward-in-time cell is ``"layer{l}.reverse.W"`` and so on.
        Optimisers update these arrays in place.

    Notes
    -----
    At each step the top layer's hidden state goes through the output layer,
    :math:`o_t = h^{(L)}_t W_{\text{out}} + b_{\text{out}}` (dense-forward). For a
    many-to-one task (``last_only=True``) only :math:`o_{T-1}` is computed and scored.

    Examples
    --------
    >>> model = SequenceModel("lstm", 1, 16, 1, num_layers=2, rng=0)
    >>> X, Y = rnnlib.data.sine_wave(8, 50, rng=1)
    >>> loss, grads = model.loss_and_grads(X, Y, loss="mse")
    """

    def __init__(self, cell, input_size, hidden_size, output_size, num_layers=1, *,
                 rng=None, dtype=np.float64, bidirectional=False, fast=True, **cell_options):
        self.cell_name = cell if isinstance(cell, str) else cell.__name__.rsplit(".", 1)[-1]
        if not isinstance(fast, (bool, np.bool_)):
            raise ValueError(f"fast: expected True or False, got {fast!r}")
        self.cell = _resolve_cell(cell)
        if isinstance(cell, str) and fast:
            self.cell = FAST_CELLS[cell]
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.output_size = check_positive_int("output_size", output_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if not isinstance(bidirectional, (bool, np.bool_)):
            raise ValueError(f"bidirectional: expected True or False, got {bidirectional!r}")
        self.bidirectional = bool(bidirectional)
        self.dtype = resolve_dtype(dtype)
        init_options = _accepted_options(self.cell.init_params, cell_options)
        self.cell_options = _accepted_options(self.cell.forward, cell_options)
        unknown = set(cell_options) - set(init_options) - set(self.cell_options)
        if unknown:
            raise ValueError(
                f"cell_options: {sorted(unknown)} are not options of the {self.cell_name} cell"
            )
        self._init_options = init_options
        rng = resolve_rng(rng)
        directions = ("", "reverse.") if self.bidirectional else ("",)
        self.params = {}
        for layer in range(self.num_layers):
            if layer == 0:
                layer_input = self.input_size
            else:
                layer_input = self.hidden_size * len(directions)
            for direction in directions:
                params = self.cell.init_params(layer_input, self.hidden_size, rng=rng,
                                               dtype=self.dtype, **init_options)
                for key, value in params.items():
                    self.params[f"layer{layer}.{direction}{key}"] = value
        out = init_dense(self.hidden_size * len(directions), self.output_size, rng=rng,
                         dtype=self.dtype)
        self.params["out.W"], self.params["out.b"] = out["W"], out["b"]

    # -- parameters ---------------------------------------------------------------------

    def layer_params(self, layer, reverse=False):
        """The parameter dict of one recurrent layer (the model's own arrays, not copies).

        Parameters
        ----------
        layer : int
            0 for the bottom layer.
        reverse : bool, default False
            The backward-in-time cell of a bidirectional layer.

        Returns
        -------
        dict
            E.g. ``{"W": params["layer1.W"], "b": params["layer1.b"]}``.
        """
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"layer: expected 0 <= layer < {self.num_layers}, got {layer}")
        if reverse and not self.bidirectional:
            raise ValueError("reverse: this model is not bidirectional")
        prefix = f"layer{layer}." + ("reverse." if reverse else "")
        return {key[len(prefix):]: value for key, value in self.params.items()
                if key.startswith(prefix) and "." not in key[len(prefix):]}

    def num_parameters(self):
        """The number of trainable numbers in the model.

        Returns
        -------
        int
        """
        return int(sum(p.size for p in self.params.values()))

    def __repr__(self):
        options = "".join(f", {k}={v!r}" for k, v in
                          {**self._init_options, **self.cell_options}.items())
        return (
            f"SequenceModel({self.cell_name!r}, input_size={self.input_size}, "
            f"hidden_size={self.hidden_size}, output_size={self.output_size}, "
            f"num_layers={self.num_layers}, bidirectional={self.bidirectional}{options}; "
            f"{self.num_parameters()} parameters)"
        )

    # -- forward and backward -----------------------------------------------------------

    def _check_X(self, X):
        return check_array("X", X, shape=(None, None, self.input_size), dtype=self.dtype,
                           dims="N, T, D")

    def _run(self, X, states0):
        """The recurrent layers: top hidden sequence (N, T, H or 2H), final states, cache."""
        if self.bidirectional:
            if states0 is not None:
                raise ValueError("states0: a bidirectional model always starts from zeros")
            layer_input, caches = X, []
            for layer in range(self.num_layers):
                try:
                    layer_input, layer_cache = bidirectional_forward(
                        layer_input, self.layer_params(layer), self.layer_params(layer, True),
                        self.cell, **self.cell_options)
                except ValueError as err:
                    raise ValueError(f"layer {layer}: {err}") from err
                caches.append(layer_cache)
            return layer_input, None, caches
        params_list = [self.layer_params(layer) for layer in range(self.num_layers)]
        return stack_forward(X, params_list, self.cell, states0, **self.cell_options)

    def _run_backward(self, dtop, cache):
        """Gradients of all recurrent parameters, in a flat dict, given d(top sequence)."""
        grads = {}
        if self.bidirectional:
            for layer in reversed(range(self.num_layers)):
                dtop, g_fwd, g_bwd = bidirectional_backward(dtop, cache[layer])
                grads.update({f"layer{layer}.{k}": v for k, v in g_fwd.items()})
                grads.update({f"layer{layer}.reverse.{k}": v for k, v in g_bwd.items()})
        else:
            _, _, grads_list = stack_backward(dtop, None, cache)
            for layer, layer_grads in enumerate(grads_list):
                grads.update({f"layer{layer}.{k}": v for k, v in layer_grads.items()})
        return grads

    def forward(self, X, states0=None, *, return_states=False):
        """Outputs at every step.

        Parameters
        ----------
        X : numpy.ndarray, shape (N, T, D)
            Input sequences, the model's dtype.
        states0 : list or None, optional
            Initial state of every layer (see :func:`stack_forward`); None means zeros.
            Not for bidirectional models.
        return_states : bool, default False
            Also return the final state of every layer, to continue a long sequence.

        Returns
        -------
        outputs : numpy.ndarray, shape (N, T, V)
            Values, or logits for a classifier.
        states_T : list
            Only with ``return_states=True``.
        """
        self._check_X(X)
        top, states_T, _ = self._run(X, states0)
        outputs, _ = dense_forward(top, {"W": self.params["out.W"], "b": self.params["out.b"]})
        return (outputs, states_T) if return_states else outputs

    def predict(self, X, *, last_only=False, probabilities=False):
        """Predictions for inputs ``X``.

        Parameters
        ----------
        X : numpy.ndarray, shape (N, T, D)
        last_only : bool, default False
            Only the prediction after the last step.
        probabilities : bool, default False
            Apply a softmax to the outputs (for a classifier).

        Returns
        -------
        numpy.ndarray, shape (N, T, V), or (N, V) with ``last_only=True``
        """
        outputs = self.forward(X)
        if last_only:
            outputs = outputs[:, -1]
        return softmax(outputs) if probabilities else outputs

    def loss_and_grads(self, X, targets, loss="mse", mask=None, last_only=False, *,
                       states0=None, return_states=False):
        """The loss on a batch and its gradient with respect to every parameter.

        Parameters
        ----------
        X : numpy.ndarray, shape (N, T, D)
            Input sequences, the model's dtype.
        targets : numpy.ndarray
            For ``"mse"``: values of shape (N, T, V), or (N, V) with ``last_only``, in the
            model's dtype. For ``"cross_entropy"``: integer classes of shape (N, T), or (N,)
            with ``last_only``.
        loss : {"mse", "cross_entropy"}, default "mse"
            See :mod:`rnnlib.losses`.
        mask : numpy.ndarray of bool, shape (N, T) or (N,), optional
            Which items count in the mean.
        last_only : bool, default False
            Many-to-one: only the output after the last step is computed and scored.
        states0 : list or None, optional
            Initial states of the layers (truncated backpropagation through time over a
            long stream: pass the previous chunk's final states). Their gradient is not
            returned: the chunk boundary is where backpropagation stops.
        return_states : bool, default False
            Also return the final states of the layers.

        Returns
        -------
        loss : float
        grads : dict of str to numpy.ndarray
            Same keys, shapes and dtype as :attr:`params`.
        states_T : list
            Only with ``return_states=True``.

        Raises
        ------
        ValueError
            For inputs or targets of the wrong shape or dtype, or holding NaN or inf.
        FloatingPointError
            If the loss overflows to inf or NaN.
        """
        if loss not in LOSSES:
            raise ValueError(f"loss: expected one of {sorted(LOSSES)}, got {loss!r}")
        self._check_X(X)
        top, states_T, run_cache = self._run(X, states0)  # (N, T, H or 2H)
        out_params = {"W": self.params["out.W"], "b": self.params["out.b"]}
        features = top[:, -1] if last_only else top  # (N, H) or (N, T, H)
        outputs, dense_cache = dense_forward(features, out_params)
        value, doutputs = LOSSES[loss](outputs, targets, mask)
        if not np.isfinite(value):  # overflow: backpropagating it would only spread NaN
            raise FloatingPointError(
                f"the loss is {value}: the outputs overflowed (are the parameters or the "
                f"learning rate too large?)"
            )
        dfeatures, out_grads = dense_backward(doutputs, dense_cache)
        if last_only:
            dtop = np.zeros_like(top)
            dtop[:, -1] = dfeatures
        else:
            dtop = dfeatures
        grads = self._run_backward(dtop, run_cache)
        grads["out.W"], grads["out.b"] = out_grads["W"], out_grads["b"]
        grads = {key: grads[key] for key in self.params}  # same order as params
        return (value, grads, states_T) if return_states else (value, grads)

    # -- text generation ------------------------------------------------------------------

    def sample(self, prime, length, *, temperature=1.0, rng=None):
        r"""Generate a sequence from a character (or any next-symbol) model.

        The model must read the one-hot code of the symbol it predicts
        (``input_size == output_size``), as a character-level language model does.
        It first reads ``prime``; then, ``length`` times, it draws the next symbol from
        :math:`\operatorname{softmax}(o_t / \tau)` and reads it back in.

        Parameters
        ----------
        prime : array-like of int, shape (P,)
            Symbols to start from (at least one), e.g. ``corpus.encode("The river")``.
        length : int
            How many symbols to generate.
        temperature : float, default 1.0
            :math:`\tau \ge 0`. Below 1 the choice is more conservative (more likely
            symbols become more likely still), above 1 more adventurous; 0 always takes the
            most likely symbol.
        rng : numpy.random.Generator, int or None
            Random generator or seed.

        Returns
        -------
        numpy.ndarray of int64, shape (length,)
            The generated symbols (not including ``prime``); decode them with
            ``corpus.decode``.
        """
        if self.bidirectional:
            raise ValueError("sample: a bidirectional model reads the future, so it cannot "
                             "generate a sequence one step at a time")
        V = self.output_size
        if self.input_size != V:
            raise ValueError(
                f"sample: expected a model whose input is the one-hot code of its output "
                f"(input_size == output_size), got input_size={self.input_size}, "
                f"output_size={V}"
            )
        prime = np.asarray(prime)
        if prime.ndim != 1 or prime.size == 0 or not np.issubdtype(prime.dtype, np.integer):
            raise ValueError(f"prime: expected a non-empty 1-d integer array (P,), got shape "
                             f"{prime.shape}, dtype {prime.dtype}")
        if prime.min() < 0 or prime.max() >= V:
            raise ValueError(f"prime: expected symbols in [0, {V}), got {prime.min()}.."
                             f"{prime.max()}")
        length = check_positive_int("length", length)
        if not np.isfinite(temperature) or temperature < 0:
            raise ValueError(f"temperature: expected a number >= 0, got {temperature!r}")
        rng = resolve_rng(rng)
        one_hot = np.eye(V, dtype=self.dtype)
        outputs, states = self.forward(one_hot[prime][None], return_states=True)  # (1, P, V)
        generated = np.empty(length, dtype=np.int64)
        for k in range(length):
            logits = outputs[0, -1].astype(np.float64)  # (V,)
            if temperature == 0:
                symbol = int(np.argmax(logits))
            else:
                symbol = int(rng.choice(V, p=softmax(logits / temperature)))
            generated[k] = symbol
            outputs, states = self.forward(one_hot[[symbol]][None], states,
                                           return_states=True)  # (1, 1, V)
        return generated
