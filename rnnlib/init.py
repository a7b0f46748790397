r"""Initialising recurrent weights: the default uniform draw, orthogonal and identity blocks,
and the LSTM's forget-gate bias.

Every rnnlib cell keeps one weight ``W`` (D+H, G*H) acting on the row
:math:`[x_t, h_{t-1}]`: its first D rows read the input, its last H rows the previous
state, and its G column blocks of width H belong to the gates (``cell.GATES``). The
**recurrent block** of gate g is the (H, H) matrix

.. math::

    W_{h,g} = W[D:,\ gH:(g+1)H]                                     \qquad \text{(init-block)}

and it is what the backward pass multiplies the gradient by at every step (book, equation
``rnn-jacobian``). The functions here set those blocks and report their spectral radii:

- the cells' own ``init_params`` draw every entry uniformly in
  :math:`[-1/\sqrt{H}, 1/\sqrt{H}]` (PyTorch's default). An entry then has variance
  :math:`\sigma^2 = 1/(3H)`, and by the circular law the eigenvalues of an (H, H) matrix
  of such entries fill a disc of radius :math:`\sigma\sqrt{H}`, so

  .. math:: \rho(W_{h,g}) \approx 1/\sqrt{3} \approx 0.577       \qquad \text{(init-uniform-radius)}

  for large H, whatever H is;
- :func:`orthogonal`: a random orthogonal matrix :math:`Q` (:math:`Q^\top Q = I`), whose
  eigenvalues all lie on the unit circle, so that a linear recurrence neither shrinks nor
  grows any direction (Saxe, McClelland and Ganguli 2014);
- the identity, :math:`W_{h,g} = I`, as in the IRNN of Le, Jaitly and Hinton (2015), who
  used it with ReLU units and zero biases: the state is copied unchanged when the input is
  zero;
- :func:`set_forget_bias`: the LSTM's forget-gate bias :math:`b_f` set to a constant
  (Gers, Schmidhuber and Cummins 2000 introduced the forget gate and started its bias
  positive; Jozefowicz, Zaremba and Sutskever 2015 recommend exactly 1),
  so that :math:`f_t \approx \sigma(1) \approx 0.73` at the start.

All functions are pure: they return new dicts and leave their arguments unchanged, except
:func:`init_model`, which sets a :class:`rnnlib.model.SequenceModel`'s own arrays.

Dimension letters: D input, H hidden, G number of gate blocks.
"""

import numpy as np

from rnnlib._validate import (
    check_array,
    check_number,
    check_positive_int,
    resolve_dtype,
    resolve_rng,
)
from rnnlib.analysis import spectral_radius
from rnnlib.layers import resolve_cell

__all__ = [
    "SCHEMES",
    "init_model",
    "init_recurrent",
    "orthogonal",
    "recurrent_blocks",
    "recurrent_spectral_radii",
    "set_forget_bias",
]

#: The initialisations of the recurrent blocks :func:`init_recurrent` knows.
SCHEMES = ("uniform", "orthogonal", "identity")


def _cell_module(cell):
    """The rnnlib cell module for a name or a module (derivation-shaped or fast)."""
    return resolve_cell(cell, fast=False)


def _split_sizes(params, input_size, cell):
    """D, H and the gate blocks of a cell's parameter dict (after checking it)."""
    module = _cell_module(cell)
    D = check_positive_int("input_size", input_size)
    if not isinstance(params, dict) or "W" not in params:
        raise ValueError("params: expected a cell's parameter dict with a key 'W'")
    W = check_array("params['W']", params["W"], ndim=2, dims="D+H, G*H")
    H = W.shape[0] - D
    if H < 1 or W.shape[1] % H:
        raise ValueError(
            f"params['W']: expected shape (D+H, G*H) with D = {D} (input_size), got {W.shape}"
        )
    G = W.shape[1] // H
    return module, D, H, G


def orthogonal(size, *, gain=1.0, rng=None, dtype=np.float64):
    r"""A random orthogonal matrix, uniformly distributed, times ``gain``.

    Parameters
    ----------
    size : int
        H, the number of rows and columns.
    gain : float, default 1.0
        Every eigenvalue of the result has absolute value ``gain``.
    rng : numpy.random.Generator, int or None, optional
        Random generator or seed.
    dtype : {numpy.float64, numpy.float32}, optional

    Returns
    -------
    Q : numpy.ndarray, shape (H, H)
        :math:`Q^\top Q = \text{gain}^2 I`.

    Notes
    -----
    The QR decomposition of a matrix A of independent standard normal entries gives an
    orthogonal Q; multiplying each column of Q by the sign of the matching diagonal entry
    of R makes the decomposition unique and Q uniformly distributed over the orthogonal
    group (without it, numerical QR routines favour some signs). All eigenvalues of an
    orthogonal matrix have modulus 1, so :math:`\rho(Q) = 1` (init-orthogonal).
    """
    H = check_positive_int("size", size)
    gain = check_number("gain", gain)
    rng = resolve_rng(rng)
    dtype = resolve_dtype(dtype)
    A = rng.standard_normal((H, H))
    Q, R = np.linalg.qr(A)
    signs = np.sign(np.diag(R))
    signs[signs == 0] = 1.0
    return (gain * Q * signs).astype(dtype)  # (H, H): column j times sign(R[j, j])


def recurrent_blocks(params, input_size, cell):
    r"""The recurrent (H, H) block of every gate of a cell's weight (init-block).

    Parameters
    ----------
    params : dict
        A cell's parameters with ``"W"`` (D+H, G*H).
    input_size : int
        D.
    cell : {"rnn", "lstm", "gru"} or an rnnlib cell module

    Returns
    -------
    dict of str to numpy.ndarray
        Gate name (``"h"`` for the RNN; ``"f"``, ``"i"``, ``"a"``, ``"o"`` for the LSTM;
        ``"r"``, ``"u"``, ``"a"`` or ``"r"``, ``"z"``, ``"n"`` for the GRU) to a copy of its
        block ``W[D:, gH:(g+1)H]`` (H, H).
    """
    module, D, H, G = _split_sizes(params, input_size, cell)
    names = _gate_names(module, G, params)
    W = params["W"]
    return {name: W[D:, g * H:(g + 1) * H].copy() for g, name in enumerate(names)}


def _gate_names(module, G, params):
    """The gate names of a cell whose weight has G blocks (a GRU with ``b_hn`` is PyTorch's)."""
    options = ("GATES_PYTORCH",) if "b_hn" in params else ("GATES", "GATES_NO_FORGET")
    for option in options:
        names = getattr(module, option, None)
        if names is not None and len(names) == G:
            return names
    raise ValueError(f"params['W']: {G} gate blocks do not fit the {module.__name__} cell")


def recurrent_spectral_radii(params, input_size, cell):
    r"""Spectral radius of every gate's recurrent block.

    Parameters
    ----------
    params : dict
        A cell's parameters with ``"W"`` (D+H, G*H).
    input_size : int
        D.
    cell : {"rnn", "lstm", "gru"} or an rnnlib cell module

    Returns
    -------
    dict of str to float
        Gate name to :math:`\rho(W_{h,g})` (init-uniform-radius gives its typical value
        for the default initialisation).
    """
    return {name: spectral_radius(block)
            for name, block in recurrent_blocks(params, input_size, cell).items()}


def init_recurrent(params, input_size, cell, scheme, *, gain=1.0, rng=None):
    r"""Return a copy of ``params`` with every gate's recurrent block set by ``scheme``.

    Parameters
    ----------
    params : dict
        A cell's parameters with ``"W"`` (D+H, G*H) and ``"b"`` (G*H,), float32 or float64.
    input_size : int
        D.
    cell : {"rnn", "lstm", "gru"} or an rnnlib cell module
    scheme : {"uniform", "orthogonal", "identity"}
        ``"uniform"`` keeps the blocks as they are (the cells' default draw) and multiplies
        them by ``gain``; ``"orthogonal"`` puts an independent :func:`orthogonal` matrix in
        each block; ``"identity"`` puts :math:`I` in each block (the IRNN's recurrent
        matrix).
    gain : float, default 1.0
        Every block is multiplied by it: the orthogonal and identity blocks then have
        spectral radius ``gain``.
    rng : numpy.random.Generator, int or None, optional
        For the orthogonal blocks.

    Returns
    -------
    dict
        Same keys, shapes and dtypes; only ``W[D:]`` differs. The input rows ``W[:D]`` and
        the biases are left as drawn.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: expected one of {SCHEMES}, got {scheme!r}")
    _, D, H, G = _split_sizes(params, input_size, cell)
    gain = check_number("gain", gain)
    rng = resolve_rng(rng)
    new = {key: value.copy() for key, value in params.items()}
    W = new["W"]
    for g in range(G):
        block = W[D:, g * H:(g + 1) * H]  # (H, H), a view into the copy
        if scheme == "uniform":
            block *= gain
        elif scheme == "orthogonal":
            block[...] = orthogonal(H, gain=gain, rng=rng, dtype=W.dtype)
        else:
            block[...] = gain * np.eye(H, dtype=W.dtype)
    return new


def set_forget_bias(params, value):
    r"""Return a copy of an LSTM's parameters with the forget-gate bias :math:`b_f` = ``value``.

    Parameters
    ----------
    params : dict
        LSTM parameters with the forget gate: ``"W"`` (D+H, 4H) and ``"b"`` (4H,), blocks
        f, i, a, o (rnnlib's order; PyTorch's is i, f, g, o).
    value : float
        The bias of every forget unit; at the start, with small weights,
        :math:`f_t \approx \sigma(\text{value})`.

    Returns
    -------
    dict
        Same keys, shapes and dtypes; ``b[:H]`` is ``value``, everything else unchanged.
    """
    value = check_number("value", value)
    if not isinstance(params, dict) or "b" not in params:
        raise ValueError("params: expected an LSTM's parameter dict with a key 'b' (4H,)")
    b = check_array("params['b']", params["b"], ndim=1, dims="4H")
    if b.shape[0] % 4:
        raise ValueError(
            f"params['b']: expected shape (4H,) (blocks f, i, a, o), got {b.shape}"
        )
    H = b.shape[0] // 4
    new = {key: array.copy() for key, array in params.items()}
    new["b"][:H] = value  # the f block comes first in rnnlib's order
    return new


def init_model(model, scheme="uniform", *, gain=1.0, forget_bias=None, rng=None):
    """Set the recurrent blocks (and an LSTM's forget bias) of every layer of a model.

    Parameters
    ----------
    model : rnnlib.model.SequenceModel
        A one-way model; its arrays are changed in place.
    scheme, gain, rng
        As in :func:`init_recurrent`.
    forget_bias : float or None, optional
        For an LSTM with forget gate: :func:`set_forget_bias` to this value. None keeps
        the bias ``init_params`` drew.

    Returns
    -------
    model
        The same object, for chaining.
    """
    if getattr(model, "bidirectional", False):
        raise ValueError("model: init_model takes one-way models (bidirectional=False)")
    rng = resolve_rng(rng)
    cell = model.cell_name
    if forget_bias is not None and not (
        cell == "lstm" and model.cell_options.get("forget_gate", True)
    ):
        raise ValueError(
            f"forget_bias: only an LSTM with forget gate has one, not the {cell} cell"
        )
    for layer in range(model.num_layers):
        params = model.layer_params(layer)  # the model's own arrays
        input_size = model.input_size if layer == 0 else model.hidden_size
        new = init_recurrent(params, input_size, cell, scheme, gain=gain, rng=rng)
        if forget_bias is not None:
            new = set_forget_bias(new, forget_bias)
        for key, value in new.items():
            params[key][...] = value
    return model
