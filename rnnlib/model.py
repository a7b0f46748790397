r"""A complete sequence model: stacked recurrent layers and a dense output layer.

:class:`SequenceModel` keeps the parameters of every layer in one flat dict (what the
optimisers of :mod:`rnnlib.optim` update), and computes a loss of :mod:`rnnlib.losses` and
its gradient with respect to every parameter. The layers themselves are
:mod:`rnnlib.layers`'s functions: :func:`~rnnlib.layers.stack_forward` and
:func:`~rnnlib.layers.stack_backward` (one-way or bidirectional layers) and the dense output
layer :func:`~rnnlib.layers.dense_forward`, :func:`~rnnlib.layers.dense_backward`. By default
the cells run through their :mod:`rnnlib.fast` twins.

Dimension letters: N batch, T time, D input, H hidden, V output. Sequences are batch first.
"""

import numpy as np

from rnnlib._validate import check_array, check_positive_int, resolve_dtype, resolve_rng
from rnnlib.activations import softmax
from rnnlib.layers import (
    dense_backward,
    dense_forward,
    init_dense,
    resolve_cell,
    stack_backward,
    stack_forward,
)
from rnnlib.losses import mse, softmax_cross_entropy

__all__ = ["LOSSES", "SequenceModel"]

#: The losses :meth:`SequenceModel.loss_and_grads` accepts by name.
LOSSES = {"mse": mse, "cross_entropy": softmax_cross_entropy}


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
        The cell's options: ``forget_gate`` and ``forget_bias`` for the LSTM,
        ``convention`` for the GRU. Those in the cell's ``INIT_OPTIONS`` go to its
        ``init_params``, those in its ``OPTIONS`` to its ``forward`` (``forget_gate`` to
        both).

    Attributes
    ----------
    params : dict of str to numpy.ndarray
        All parameters in one flat dict: ``"layer0.W"``, ``"layer0.b"``, ...,
        ``"layer{L-1}.b"``, then ``"out.W"`` (H or 2H, V) and ``"out.b"`` (V,). A
        bidirectional layer's backward-in-time cell is ``"layer{l}.reverse.W"`` and so on.
        Optimisers update these arrays in place.

    Raises
    ------
    ValueError
        For an unknown cell or option, or a size that is not a positive integer.

    Notes
    -----
    At each step the top layer's hidden state goes through the output layer,
    :math:`o_t = h^{(L)}_t W_{\text{out}} + b_{\text{out}}` (dense-forward). For a
    many-to-one task (``last_only=True``) only :math:`o_{T-1}` is computed and scored; a
    bidirectional model then reads :math:`[\overrightarrow{h}_T, \overleftarrow{h}_1]`,
    the state of each direction after it has read the whole sequence.

    Examples
    --------
    >>> model = SequenceModel("lstm", 1, 16, 1, num_layers=2, rng=0)
    >>> X, Y = rnnlib.data.sine_wave(8, 50, rng=1)
    >>> loss, grads = model.loss_and_grads(X, Y, loss="mse")
    """

    def __init__(self, cell, input_size, hidden_size, output_size, num_layers=1, *,
                 rng=None, dtype=np.float64, bidirectional=False, fast=True, **cell_options):
        if not isinstance(fast, (bool, np.bool_)):
            raise ValueError(f"fast: expected True or False, got {fast!r}")
        self.cell = resolve_cell(cell, fast=bool(fast))
        self.cell_name = self.cell.__name__.rsplit(".", 1)[-1]  # "lstm" for rnnlib.fast.lstm
        self.input_size = check_positive_int("input_size", input_size)
        self.hidden_size = check_positive_int("hidden_size", hidden_size)
        self.output_size = check_positive_int("output_size", output_size)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if not isinstance(bidirectional, (bool, np.bool_)):
            raise ValueError(f"bidirectional: expected True or False, got {bidirectional!r}")
        self.bidirectional = bool(bidirectional)
        self.dtype = resolve_dtype(dtype)
        known = sorted(set(self.cell.OPTIONS) | set(self.cell.INIT_OPTIONS))
        unknown = sorted(set(cell_options) - set(known))
        if unknown:
            takes = f"it takes {known}" if known else "it takes none"
            raise ValueError(
                f"cell_options: {unknown} are not options of the {self.cell_name} cell; {takes}"
            )
        # An option may be both: the LSTM's forget_gate shapes the parameters and the step.
        self._init_options = {k: v for k, v in cell_options.items()
                              if k in self.cell.INIT_OPTIONS}
        self.cell_options = {k: v for k, v in cell_options.items() if k in self.cell.OPTIONS}
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
                                               dtype=self.dtype, **self._init_options)
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

    def _layer_params_list(self):
        """Every layer's parameters for :func:`stack_forward`: dicts, or pairs of dicts."""
        if self.bidirectional:
            return [(self.layer_params(layer), self.layer_params(layer, reverse=True))
                    for layer in range(self.num_layers)]
        return [self.layer_params(layer) for layer in range(self.num_layers)]

    def _run(self, X, states0):
        """The recurrent layers: top hidden sequence (N, T, H or 2H), final states, cache."""
        return stack_forward(X, self._layer_params_list(), self.cell, states0,
                             bidirectional=self.bidirectional, **self.cell_options)

    def _run_backward(self, dtop, cache):
        """Gradients of all recurrent parameters, in a flat dict, given d(top sequence)."""
        _, _, grads_list = stack_backward(dtop, None, cache)
        grads = {}
        for layer, layer_grads in enumerate(grads_list):
            if self.bidirectional:
                directions = zip(("", "reverse."), layer_grads, strict=True)
            else:
                directions = [("", layer_grads)]
            for direction, direction_grads in directions:
                grads.update({f"layer{layer}.{direction}{key}": value
                              for key, value in direction_grads.items()})
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
            Only the prediction after the whole sequence (for a bidirectional model from
            the forward half's last state and the reverse half's first, as in
            :meth:`loss_and_grads`).
        probabilities : bool, default False
            Apply a softmax to the outputs (for a classifier).

        Returns
        -------
        numpy.ndarray, shape (N, T, V), or (N, V) with ``last_only=True``
        """
        if last_only:
            self._check_X(X)
            top, _, _ = self._run(X, None)
            outputs, _ = dense_forward(self._last_features(top),
                                       {"W": self.params["out.W"], "b": self.params["out.b"]})
        else:
            outputs = self.forward(X)
        return softmax(outputs) if probabilities else outputs

    def _last_features(self, top):
        """What a many-to-one output reads: (N, H), or (N, 2H) for a bidirectional top layer.

        A one-way layer's state after the last step has read the whole sequence. A
        bidirectional layer's forward half has too at step T, ``top[:, -1, :H]``, but its
        reverse half has read the whole sequence at step 1, ``top[:, 0, H:]`` (at step T it
        has read only :math:`x_T`). These are PyTorch's ``h_n[-2]`` and ``h_n[-1]``.
        """
        if not self.bidirectional:
            return top[:, -1]
        H = self.hidden_size
        return np.concatenate([top[:, -1, :H], top[:, 0, H:]], axis=1)  # (N, 2H)

    def _last_features_backward(self, dfeatures, top):
        """The gradient of the top sequence (N, T, H or 2H) from that of the last features."""
        dtop = np.zeros_like(top)
        if not self.bidirectional:
            dtop[:, -1] = dfeatures
        else:
            H = self.hidden_size
            dtop[:, -1, :H] = dfeatures[:, :H]
            dtop[:, 0, H:] = dfeatures[:, H:]
        return dtop

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
            Many-to-one: only the output after the whole sequence is computed and scored.
            For a bidirectional model it reads the forward half's state after the last step
            and the reverse half's after the first, the two that have read every input.
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
        features = self._last_features(top) if last_only else top  # (N, H or 2H) or (N, T, .)
        outputs, dense_cache = dense_forward(features, out_params)
        value, doutputs = LOSSES[loss](outputs, targets, mask)
        if not np.isfinite(value):  # overflow: backpropagating it would only spread NaN
            raise FloatingPointError(
                f"the loss is {value}: the outputs overflowed (are the parameters or the "
                f"learning rate too large?)"
            )
        dfeatures, out_grads = dense_backward(doutputs, dense_cache)
        dtop = self._last_features_backward(dfeatures, top) if last_only else dfeatures
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
