r"""Move weights between rnnlib and PyTorch's ``torch.nn.RNN``, ``LSTM`` and ``GRU``.

rnnlib keeps one weight per cell acting on the row :math:`[x_t, h_{t-1}]`; PyTorch keeps two
per layer l, acting on column vectors, and two biases:

============================  ==================================  ==========================
PyTorch (layer l)             shape                               rnnlib ``params_list[l]``
============================  ==================================  ==========================
``weight_ih_l{l}``            (G*H, D) (D = H for l > 0)          ``W[:D].T``, blocks permuted
``weight_hh_l{l}``            (G*H, H)                            ``W[D:].T``, blocks permuted
``bias_ih_l{l}``              (G*H,)                              ``b``, blocks permuted
``bias_hh_l{l}``              (G*H,)                              zeros (GRU: ``[0, 0, b_hn]``)
============================  ==================================  ==========================

Gate blocks, in the order each library stores them (G blocks of H rows/columns):

- RNN (``nonlinearity="tanh"``): one block, nothing to permute.
- LSTM: rnnlib f, i, a, o (the memo's order); PyTorch i, f, g, o, where g is our a. So the
  first two blocks swap places, the last two stay.
- GRU with ``convention="pytorch"``: r, z, n in both, nothing to permute.

PyTorch adds its two biases, so only their sum matters, except for the GRU's ``b_hn``, which
sits inside the reset product :math:`r \odot (h W_{hn} + b_{hn})` and is kept apart. Going to
PyTorch, ``b`` goes into ``bias_ih`` and zeros into ``bias_hh`` (except ``b_hn``); coming
back, :func:`from_torch` sums them. Gradients are not summed: the gradient of ``b`` is the
gradient of ``bias_ih`` (see :func:`grads_from_torch`).

What PyTorch cannot represent, and :func:`to_torch` refuses with a ``ValueError``:

- the memo's GRU (``convention="cho"``): its reset gate scales :math:`h_{t-1}` *before* the
  product with the candidate's weights; ``torch.nn.GRU`` scales the product's result,
  ``b_hn`` included. No choice of weights turns one into the other. (The other difference,
  :math:`(1-u)h_{t-1} + u a` against :math:`(1-z)n + z h_{t-1}`, could be absorbed, since
  :math:`1 - \sigma(p) = \sigma(-p)`; the reset gate cannot.)
- the LSTM without forget gate (``forget_gate=False``): ``torch.nn.LSTM`` always multiplies
  the cell state by :math:`f_t`. A huge forget bias only approximates :math:`f_t = 1`.

Modules are built with ``batch_first=True``, so they take the same (N, T, D) arrays as
rnnlib. PyTorch is imported only when these functions are called.
"""

import numpy as np

from rnnlib._validate import FLOAT_DTYPES, check_array, check_positive_int
from rnnlib.layers import CELLS

__all__ = ["TORCH_GATE_ORDER", "from_torch", "grads_from_torch", "to_torch"]

#: For each cell, PyTorch's gate blocks in its storage order, named by rnnlib's gates.
TORCH_GATE_ORDER = {
    "rnn": ("h",),
    "lstm": ("i", "f", "a", "o"),  # torch's i, f, g, o
    "gru": ("r", "z", "n"),
}

#: The only option values PyTorch can represent (see the module's docstring).
_TORCH_OPTIONS = {"rnn": {}, "lstm": {"forget_gate": True}, "gru": {"convention": "pytorch"}}


def _cell_name(cell):
    """Accept a cell name or module of :data:`rnnlib.layers.CELLS`; return the name."""
    for name, module in CELLS.items():
        if cell == name or cell is module:
            return name
    raise ValueError(f"cell: expected 'rnn', 'lstm' or 'gru' (or the module), got {cell!r}")


def _permutation(name):
    """Index of rnnlib's block for each of PyTorch's blocks, in PyTorch's order."""
    module = CELLS[name]
    ours = module.GATES_PYTORCH if name == "gru" else module.GATES
    return [ours.index(gate) for gate in TORCH_GATE_ORDER[name]]


def _permute_blocks(a, perm, axis):
    """Reorder the H-wide blocks of ``a`` along ``axis``: block k of the result is perm[k]."""
    blocks = np.split(a, len(perm), axis=axis)
    return np.concatenate([blocks[k] for k in perm], axis=axis)


def to_torch(params_list, cell, **options):
    """Build a PyTorch module that computes the same as rnnlib with these parameters.

    Parameters
    ----------
    params_list : list of dict, or dict
        One parameter dict per layer, bottom layer first (a single dict means one layer).
        Layer 0's ``W`` is (D+H, G*H); every later layer takes the layer below's output, so
        its ``W`` is (H+H, G*H). All layers share H and the dtype (float32 or float64).
    cell : {"rnn", "lstm", "gru"} or the module ``rnnlib.rnn``, ``lstm``, ``gru``
        The cell type.
    **options
        The cell's option: ``forget_gate`` (lstm, must be True) or ``convention`` (gru, must
        be ``"pytorch"``).

    Returns
    -------
    torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU
        With ``batch_first=True``, ``num_layers=len(params_list)``, the dtype of the
        parameters, and the weights mapped as in the table of this module's docstring.

    Raises
    ------
    ValueError
        For a cell PyTorch cannot represent (``convention="cho"``, ``forget_gate=False``), an
        unknown option, or parameters whose shapes or dtypes do not fit together.
    """
    import torch

    name = _cell_name(cell)
    module = CELLS[name]
    allowed = set(module.OPTIONS)
    unknown = set(options) - allowed
    if unknown:
        raise ValueError(
            f"options: {name} takes {sorted(allowed) or 'no options'}, got {sorted(unknown)}"
        )
    if name == "lstm" and not options.get("forget_gate", True):
        raise ValueError(
            "forget_gate=False: torch.nn.LSTM always multiplies the cell state by a forget "
            "gate f_t; the 1997 cell without one (s_t = s_{t-1} + i_t a_t) has no exact "
            "PyTorch equivalent (a large forget bias only approximates f_t = 1)"
        )
    if name == "gru" and options.get("convention", "cho") != "pytorch":
        raise ValueError(
            f"convention={options.get('convention', 'cho')!r}: torch.nn.GRU applies the reset "
            "gate after the recurrent product, r * (h W_hn + b_hn), while the memo's GRU (Cho et "
            "al.'s reset gate) applies it before, tanh([x, r * h] W_a + b_a); no choice of "
            "torch weights reproduces that. Use convention='pytorch' (rnnlib.gru supports both)"
        )
    if isinstance(params_list, dict):
        params_list = [params_list]
    if not isinstance(params_list, (list, tuple)) or not params_list:
        raise ValueError(
            f"params_list: expected a non-empty list of parameter dicts, got {params_list!r}"
        )
    G = len(TORCH_GATE_ORDER[name])

    # Layer 0 fixes D, H and the dtype; every layer is then checked like the cell checks it.
    first = params_list[0]
    if not isinstance(first, dict) or "W" not in first:
        raise ValueError(f"params_list[0]: expected a dict with keys 'W', 'b', got {first!r}")
    W0 = check_array("params_list[0]['W']", first["W"], ndim=2, dims=f"D+H, {G}H")
    H = W0.shape[1] // G
    D = W0.shape[0] - H
    dtype = W0.dtype
    for layer, params in enumerate(params_list):
        # Layer l > 0 reads the outputs of layer l - 1: its input size is H.
        where = (f"params_list[{layer}]" if layer == 0 else
                 f"params_list[{layer}] (reads params_list[{layer - 1}]'s output, H = {H})")
        try:
            module.check_params(params, D if layer == 0 else H, dtype, **_TORCH_OPTIONS[name])
        except ValueError as err:
            raise ValueError(f"{where}: {err}") from None
        if params["W"].shape[1] != G * H:
            raise ValueError(
                f"params_list[{layer}]['W']: expected shape (H+H, {'' if G == 1 else G}H) = "
                f"({2 * H}, {G * H}) "
                f"(all layers share H = {H}), got {params['W'].shape}"
            )

    torch_class = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[name]
    torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
    net = torch_class(D, H, num_layers=len(params_list), batch_first=True, dtype=torch_dtype)
    perm = _permutation(name)
    with torch.no_grad():
        for layer, params in enumerate(params_list):
            d = D if layer == 0 else H
            W = _permute_blocks(params["W"], perm, axis=1)  # (d+H, G*H) in torch's order
            b_ih = _permute_blocks(params["b"], perm, axis=0)  # (G*H,)
            b_hh = np.zeros_like(b_ih)
            if name == "gru":
                b_hh[2 * H :] = params["b_hn"]
            for suffix, value in (
                ("weight_ih", W[:d].T),  # (G*H, d)
                ("weight_hh", W[d:].T),  # (G*H, H)
                ("bias_ih", b_ih),
                ("bias_hh", b_hh),
            ):
                getattr(net, f"{suffix}_l{layer}").copy_(
                    torch.from_numpy(np.ascontiguousarray(value))
                )
    return net


def _torch_layout(net):
    """Cell name and number of layers of a torch module, refusing what rnnlib cannot hold."""
    import torch

    if isinstance(net, torch.nn.LSTM):
        if net.proj_size:
            raise ValueError(
                f"module: LSTM with proj_size={net.proj_size} is not supported (H "
                "outputs are projected; rnnlib's LSTM has no projection)"
            )
        name = "lstm"
    elif isinstance(net, torch.nn.GRU):
        name = "gru"
    elif isinstance(net, torch.nn.RNN):
        if net.nonlinearity != "tanh":
            raise ValueError(
                f"module: RNN with nonlinearity={net.nonlinearity!r} is not "
                "supported; rnnlib's RNN uses tanh"
            )
        name = "rnn"
    else:
        raise ValueError(f"module: expected torch.nn.RNN, LSTM or GRU, got {type(net).__name__}")
    if net.bidirectional:
        raise ValueError(
            "module: bidirectional modules are not supported; convert each "
            "direction with its own unidirectional module"
        )
    check_positive_int("module.num_layers", net.num_layers)
    return name, net.num_layers


def _from_torch_arrays(net, attribute):
    """Map the tensors (or their gradients) of a torch module to rnnlib's dicts."""
    name, num_layers = _torch_layout(net)
    perm_back = np.argsort(_permutation(name))  # the inverse permutation: torch's to ours
    H = net.hidden_size
    params_list = []
    for layer in range(num_layers):

        def get(tensor_name, layer=layer):
            # None only for a module built with bias=False; a tensor without a gradient
            # is an error, never read as zeros.
            tensor = getattr(net, f"{tensor_name}_l{layer}", None)
            if tensor is None:
                return None
            value = getattr(tensor, attribute)
            if value is None:
                frozen = "" if tensor.requires_grad else (
                    ": it has requires_grad=False, so PyTorch computes no gradient for it")
                raise ValueError(
                    f"module: {tensor_name}_l{layer} has no {attribute} (run backward "
                    f"first){frozen}"
                )
            return value.detach().cpu().numpy().copy()

        W_ih, W_hh = get("weight_ih"), get("weight_hh")  # (G*H, d), (G*H, H)
        if W_ih.dtype not in FLOAT_DTYPES:
            raise ValueError(f"module: expected float32 or float64 weights, got {W_ih.dtype}")
        b_ih = get("bias_ih")  # (G*H,), None without bias
        # bias_hh's gradient equals bias_ih's except for the GRU's b_hn block, so only the
        # GRU reads it (and a frozen bias_hh is fine for the RNN and the LSTM).
        b_hh = get("bias_hh") if attribute == "data" or name == "gru" else None
        if b_ih is None:
            b_ih = np.zeros(W_ih.shape[0], dtype=W_ih.dtype)
        if b_hh is None:
            b_hh = np.zeros(W_ih.shape[0], dtype=W_ih.dtype)
        W = np.concatenate([W_ih.T, W_hh.T], axis=0)  # (d+H, G*H), torch's block order
        params = {"W": _permute_blocks(W, perm_back, axis=1)}
        if attribute == "data":
            b = b_ih + b_hh  # only the sum of torch's two biases matters ...
            if name == "gru":
                b[2 * H :] = b_ih[2 * H :]  # ... except b_hn, kept apart below
        else:  # b enters exactly like bias_ih, so its gradient is bias_ih's (not the sum)
            b = b_ih
        params["b"] = _permute_blocks(b, perm_back, axis=0)
        if name == "gru":
            params["b_hn"] = b_hh[2 * H :].copy()
        params_list.append(params)
    return params_list


def from_torch(module):
    """Read the weights of a PyTorch RNN, LSTM or GRU into rnnlib parameter dicts.

    Parameters
    ----------
    module : torch.nn.RNN (tanh), torch.nn.LSTM or torch.nn.GRU
        Unidirectional, any number of layers, float32 or float64, with or without biases.

    Returns
    -------
    params_list : list of dict
        One dict per layer, bottom first: ``"W"`` (D+H, G*H) (D = H above layer 0) and
        ``"b"`` (G*H,) in rnnlib's gate order, ``b = bias_ih + bias_hh``; for the GRU
        ``b = bias_ih + [bias_hh_r, bias_hh_z, 0]`` and ``"b_hn"`` (H,) is bias_hh's n
        block. Use them with ``rnnlib.rnn``, ``rnnlib.lstm`` (``forget_gate=True``) or
        ``rnnlib.gru`` with ``convention="pytorch"``.

    Raises
    ------
    ValueError
        For a module rnnlib cannot represent: bidirectional, ``nonlinearity="relu"``,
        an LSTM with ``proj_size > 0``, or another class.
    """
    return _from_torch_arrays(module, "data")


def grads_from_torch(module):
    """Read the gradients of a PyTorch module's weights, in rnnlib's layout.

    Parameters
    ----------
    module : torch.nn.RNN (tanh), torch.nn.LSTM or torch.nn.GRU
        After ``loss.backward()``, so that every weight has a ``.grad``.

    Returns
    -------
    grads_list : list of dict
        One dict per layer, with the keys and shapes :func:`from_torch` gives. The gradient
        of ``b`` is that of ``bias_ih`` alone: rnnlib's ``b`` plays the part of
        ``bias_ih`` (and of the r, z blocks of ``bias_hh``, whose gradient is the same), so
        summing the two gradients would count it twice. ``bias_hh``'s gradient is read
        only for the GRU (its n block is ``b_hn``'s gradient).

    Raises
    ------
    ValueError
        If a weight that rnnlib's gradients need has no ``.grad``: before
        ``backward()``, or for a tensor frozen with ``requires_grad_(False)``. Freezing
        ``bias_hh`` is harmless for the RNN and the LSTM but freezes the GRU's ``b_hn``.
    """
    return _from_torch_arrays(module, "grad")
