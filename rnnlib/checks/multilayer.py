"""Automatic checks for the exercises of the "Going further" chapters.

Multilayer and bidirectional RNNs (``book/multilayer.ipynb``):

- :func:`multilayer_stack_forward`: a stack of basic RNN layers run column by column;
- :func:`multilayer_stack_backward`: the stack's backward pass, layer by layer, top down;
- :func:`multilayer_bidirectional_forward`: a bidirectional layer from two one-way passes;
- :func:`multilayer_residual_stack_forward`: a stack with residual connections between layers.

The head-to-head comparison (``book/head_to_head.ipynb``):

- :func:`head_to_head_matched_hidden_size`: the hidden size that fits a parameter budget.

From rnnlib to PyTorch (``book/pytorch.ipynb``):

- :func:`pytorch_lstm_from_torch`: ``torch.nn.LSTM``'s four tensors to rnnlib's ``W``, ``b``.

How fast is rnnlib? (``book/performance.ipynb``):

- :func:`performance_gemm_flops`: the floating-point operations of a layer's matrix products;
- :func:`performance_lstm_gate_activations`: an LSTM step's four gate nonlinearities with one
  ``np.tanh`` call;
- :func:`performance_lstm_cache_bytes`: the memory that ``rnnlib.lstm.forward`` keeps for the
  backward pass.

Each compares the learner's function with :mod:`rnnlib` on a few fixed cases (float64 and
float32, one sequence, several layers, input size equal to or different from the hidden
size) and recognises the usual mistakes: every layer fed the input, the top layer's
gradient given to every layer, the backward-in-time outputs left reversed, PyTorch's gate
order kept.
"""

import numpy as np

from rnnlib import activations, interop, layers, lstm, rnn
from rnnlib.checks._core import Case, Mistake, run_check
from rnnlib.fast import rnn as fast_rnn

__all__ = [
    "head_to_head_matched_hidden_size",
    "multilayer_bidirectional_forward",
    "multilayer_residual_stack_forward",
    "multilayer_stack_backward",
    "multilayer_stack_forward",
    "performance_gemm_flops",
    "performance_lstm_cache_bytes",
    "performance_lstm_gate_activations",
    "pytorch_lstm_from_torch",
]


# -------------------------------------------------------------------------- shared cases


def _stack_arrays(seed, N, T, D, H, L, dtype=np.float64):
    """Fixed X (N, T, D) and L basic-RNN parameter dicts (layer 0 (D+H, H), others (2H, H))."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, D)).astype(dtype)
    params_list = [rnn.init_params(D if layer == 0 else H, H, rng=rng, dtype=dtype)
                   for layer in range(L)]
    for params in params_list:  # larger weights than the default, so that mistakes show
        params["W"] *= 2.0
    return X, params_list


def _stack_cases():
    # Cases with D == H come first, so that wirings which only run when every layer has the
    # input's width (every layer reading X) give a wrong value that the hints can name.
    return [
        (_stack_arrays(1, 3, 4, 4, 4, 2), "N=3, T=4, D=H=4, two layers"),
        (_stack_arrays(0, 2, 5, 3, 4, 3), "N=2, T=5, D=3, H=4, three layers"),
        (_stack_arrays(2, 1, 6, 2, 3, 1), "one layer, one sequence, N=1, T=6, D=2, H=3"),
        (_stack_arrays(3, 2, 3, 5, 5, 4), "N=2, T=3, D=H=5, four layers"),
        (_stack_arrays(4, 2, 4, 3, 3, 3, np.float32), "float32, N=2, T=4, D=H=3, three layers"),
    ]


# ------------------------------------------------------------------------- stack forward


def _reference_stack_forward(X, params_list):
    Y, states, _ = layers.stack_forward(X, params_list, "rnn")
    return Y, states


def multilayer_stack_forward(student_fn):
    """Check ``student_fn(X, params_list) -> (Y, final_states)`` for a basic-RNN stack.

    Parameters
    ----------
    student_fn : callable
        Takes X (N, T, D) and a list of L parameter dicts (layer 0's ``W`` (D+H, H), the
        others' (2H, H), each ``b`` (H,)); starts every layer from a zero state; returns the
        top layer's states Y (N, T, H) and the list of the L final states, each (N, H),
        bottom layer first (equation ml-forward).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def every_layer_reads_x(X, params_list):
        states, outputs = [], None
        for params in params_list:
            outputs, state, _ = rnn.forward(X, None, params)
            states.append(state)
        return outputs, states

    def bottom_layer_output(X, params_list):
        Y, states = _reference_stack_forward(X, params_list)
        first, _, _ = rnn.forward(X, None, params_list[0])
        return first, states

    def states_top_first(X, params_list):
        Y, states = _reference_stack_forward(X, params_list)
        return Y, states[::-1]

    hints = [
        Mistake("every layer reading the input X instead of the layer below", every_layer_reads_x,
                "Layer l + 1 reads the states of layer l at the same step; only layer 0 "
                "reads x_t."),
        Mistake("the bottom layer's states returned as Y", bottom_layer_output,
                "Y is the state sequence of the top layer, the one the output layer reads."),
        Mistake("the final states listed top layer first", states_top_first,
                "List the final states bottom layer first, like params_list."),
    ]
    cases = [Case(args, label=label) for args, label in _stack_cases()]
    return run_check("multilayer_stack_forward", student_fn, cases, _reference_stack_forward,
                     hints=hints, output_name="(Y, final_states)", rtol=1e-5, atol=1e-6,
                     forbidden=FORBIDDEN["multilayer_stack_forward"])


# ------------------------------------------------------------------------ stack backward


def _upstream(X, params_list, seed=7):
    """A fixed upstream gradient dY (N, T, H) matching the stack's output."""
    N, T, _ = X.shape
    H = params_list[-1]["b"].shape[0]
    return np.random.default_rng(seed).normal(size=(N, T, H)).astype(X.dtype)


def _reference_stack_backward(X, params_list, dY):
    _, _, cache = layers.stack_forward(X, params_list, "rnn")
    dX, _, grads_list = layers.stack_backward(dY, None, cache)
    return dX, grads_list


def multilayer_stack_backward(student_fn):
    """Check ``student_fn(X, params_list, dY) -> (dX, grads_list)`` for a basic-RNN stack.

    Parameters
    ----------
    student_fn : callable
        Takes X (N, T, D), a list of L parameter dicts and dY (N, T, H), the gradient of the
        loss with respect to the top layer's states; zero initial states. Returns dX
        (N, T, D) and the list of the L layers' gradient dicts ``{"W", "b"}``, bottom first
        (equations ml-backward and ml-from-above).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def forward_caches(X, params_list):
        caches, layer_input = [], X
        for params in params_list:
            layer_input, _, cache = rnn.forward(layer_input, None, params)
            caches.append(cache)
        return caches

    def dY_to_every_layer(X, params_list, dY):
        caches = forward_caches(X, params_list)
        grads_list, dX = [], None
        for cache in caches:
            dX_layer, _, grads = rnn.backward(dY, None, cache)
            grads_list.append(grads)
            dX = dX_layer if dX is None else dX
        return dX, grads_list

    def grads_top_first(X, params_list, dY):
        dX, grads_list = _reference_stack_backward(X, params_list, dY)
        return dX, grads_list[::-1]

    def top_layer_only(X, params_list, dY):
        dX, grads_list = _reference_stack_backward(X, params_list, dY)
        caches = forward_caches(X, params_list)
        _, _, top = rnn.backward(dY, None, caches[-1])
        zero = [{k: np.zeros_like(v) for k, v in g.items()} for g in grads_list[:-1]]
        return np.zeros_like(X), [*zero, top]

    hints = [
        Mistake("dY given to every layer", dY_to_every_layer,
                "Only the top layer receives dY. Each lower layer receives, as its upstream "
                "gradient, the input gradient dX that the layer above returned."),
        Mistake("the gradients listed top layer first", grads_top_first,
                "List the gradient dicts bottom layer first, like params_list."),
        Mistake("gradients for the top layer only", top_layer_only,
                "Continue down the stack: the dX of layer l + 1 is the dY of layer l."),
    ]
    cases = []
    for (X, params_list), label in _stack_cases():
        cases.append(Case((X, params_list, _upstream(X, params_list)), label=label))
    return run_check("multilayer_stack_backward", student_fn, cases, _reference_stack_backward,
                     hints=hints, output_name="(dX, grads_list)", rtol=1e-4, atol=1e-5,
                     forbidden=FORBIDDEN["multilayer_stack_backward"])


# ------------------------------------------------------------------ bidirectional forward


def _bidirectional_cases():
    cases = []
    for seed, (N, T, D, H, dtype), label in [
        (0, (2, 5, 3, 4, np.float64), "N=2, T=5, D=3, H=4"),
        (1, (1, 4, 2, 2, np.float64), "one sequence, N=1, T=4, D=2, H=2"),
        (2, (3, 1, 3, 3, np.float64), "a single step, T=1"),
        (3, (2, 6, 4, 3, np.float32), "float32, N=2, T=6, D=4, H=3"),
    ]:
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(N, T, D)).astype(dtype)
        params_fwd = rnn.init_params(D, H, rng=rng, dtype=dtype)
        params_bwd = rnn.init_params(D, H, rng=rng, dtype=dtype)
        cases.append(Case((X, params_fwd, params_bwd), label=label))
    return cases


def _reference_bidirectional(X, params_fwd, params_bwd):
    Y, _ = layers.bidirectional_forward(X, params_fwd, params_bwd, "rnn")
    return Y


def multilayer_bidirectional_forward(student_fn):
    """Check ``student_fn(X, params_fwd, params_bwd) -> Y`` for a bidirectional basic RNN.

    Parameters
    ----------
    student_fn : callable
        Takes X (N, T, D) and two basic-RNN parameter dicts (``W`` (D+H, H), ``b`` (H,));
        returns Y (N, T, 2H): ``Y[:, t, :H]`` the forward cell's state after reading
        x_1..x_t, ``Y[:, t, H:]`` the backward cell's state after reading x_T..x_t, both
        cells starting from zero (equation ml-bi-forward).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def not_reversed_back(X, params_fwd, params_bwd):
        forward, _, _ = rnn.forward(X, None, params_fwd)
        backward, _, _ = rnn.forward(X[:, ::-1], None, params_bwd)
        return np.concatenate([forward, backward], axis=2)

    def halves_swapped(X, params_fwd, params_bwd):
        Y = _reference_bidirectional(X, params_fwd, params_bwd)
        H = Y.shape[2] // 2
        return np.concatenate([Y[:, :, H:], Y[:, :, :H]], axis=2)

    def second_cell_forwards(X, params_fwd, params_bwd):
        forward, _, _ = rnn.forward(X, None, params_fwd)
        other, _, _ = rnn.forward(X, None, params_bwd)
        return np.concatenate([forward, other], axis=2)

    hints = [
        Mistake("the backward cell's outputs left in reversed time order", not_reversed_back,
                "The backward cell's output number k (in reversed time) belongs to step "
                "T - 1 - k: reverse it back, Y_backward[:, ::-1], before concatenating."),
        Mistake("the two halves in the wrong order", halves_swapped,
                "The forward-in-time states come first (Y[:, :, :H]), as in PyTorch."),
        Mistake("the second cell reading the sequence forwards", second_cell_forwards,
                "The second cell reads x_T, ..., x_1: give it X[:, ::-1]."),
    ]
    return run_check("multilayer_bidirectional_forward", student_fn, _bidirectional_cases(),
                     _reference_bidirectional, hints=hints, output_name="Y",
                     rtol=1e-5, atol=1e-6,
                     forbidden=FORBIDDEN["multilayer_bidirectional_forward"])


# ----------------------------------------------------------------- residual stack forward


def _reference_residual_stack(X, params_list):
    layer_input = X
    for layer, params in enumerate(params_list):
        Y, _, _ = rnn.forward(layer_input, None, params)  # (N, T, H)
        layer_input = Y if layer == 0 else Y + layer_input  # what goes up: h + its input
    return layer_input


def multilayer_residual_stack_forward(student_fn):
    """Check ``student_fn(X, params_list) -> Y`` for a basic-RNN stack with residual links.

    Parameters
    ----------
    student_fn : callable
        Takes X (N, T, D) and a list of L parameter dicts as for
        :func:`multilayer_stack_forward`, zero initial states; every layer above the first
        passes up the sum of its state sequence and its own input sequence,
        :math:`x^{(l+1)}_t = h^{(l)}_t + x^{(l)}_t` for :math:`l \\ge 2`, while the recurrence
        inside each layer uses the layer's own states :math:`h^{(l)}_{t-1}`. Returns the top
        layer's output sequence, that sum, (N, T, H).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def plain_stack(X, params_list):
        return layers.stack_forward(X, params_list, "rnn")[0]

    def residual_on_first_layer_too(X, params_list):
        if X.shape[2] != params_list[0]["b"].shape[0]:  # only possible when D == H
            return _reference_residual_stack(X, params_list)
        layer_input = X
        for params in params_list:
            layer_input = rnn.forward(layer_input, None, params)[0] + layer_input
        return layer_input

    def residual_at_the_top_only(X, params_list):
        layer_input = X
        for params in params_list:
            previous, layer_input = layer_input, rnn.forward(layer_input, None, params)[0]
        return layer_input + previous if len(params_list) > 1 else layer_input

    hints = [
        Mistake("a stack without residual connections", plain_stack,
                "Every layer above the first passes up h + its input, and the next layer "
                "reads that sum."),
        Mistake("a residual connection on the first layer as well", residual_on_first_layer_too,
                "The first layer's input is x_t, of width D: it has no residual connection."),
        Mistake("the residual added to the top layer only", residual_at_the_top_only,
                "Add the residual after every layer above the first, before the next layer "
                "reads it."),
    ]
    cases = [Case(args, label=label) for args, label in _stack_cases()]
    return run_check("multilayer_residual_stack_forward", student_fn, cases,
                     _reference_residual_stack, hints=hints, output_name="Y", rtol=1e-5,
                     atol=1e-6,
                     forbidden=FORBIDDEN["multilayer_residual_stack_forward"])


# --------------------------------------------------------------- matched hidden size


def _gate_blocks(cell):
    """G, the number of H-wide gate blocks of a cell's weight: 1, 4 or 3."""
    return len(layers.CELLS[cell].GATES)


def _model_parameters(cell, D, H, V):
    G = _gate_blocks(cell)
    return G * H * (D + H) + G * H + H * V + V


def _reference_matched_hidden_size(cell, input_size, output_size, budget):
    H = 0
    while _model_parameters(cell, input_size, H + 1, output_size) <= budget:
        H += 1
    return H


def head_to_head_matched_hidden_size(student_fn):
    """Check ``student_fn(cell, input_size, output_size, budget) -> int``.

    Parameters
    ----------
    student_fn : callable
        Takes a cell name (``"rnn"``, ``"lstm"``, ``"gru"``), D, V and a parameter budget;
        returns the largest hidden size H for which a one-layer
        ``SequenceModel(cell, D, H, V)`` (cell and dense output layer) has at most
        ``budget`` parameters: :math:`GH(D+H) + GH + HV + V` with G = 1, 4, 3 gate blocks.
        (0 if not even H = 1 fits.)

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    arguments = [
        (("rnn", 2, 1, 2600), "rnn, D=2, V=1, budget 2600"),
        (("lstm", 2, 1, 2600), "lstm, D=2, V=1, budget 2600"),
        (("gru", 2, 1, 2600), "gru, D=2, V=1, budget 2600"),
        (("lstm", 10, 10, 3000), "lstm, D=10, V=10, budget 3000"),
        (("gru", 7, 7, 10_000), "gru, D=7, V=7, budget 10000"),
        (("rnn", 3, 2, 5), "a budget too small for H=1"),
        (("lstm", 1, 1, 64), "a budget met exactly (H=3 uses 64)"),
    ]
    cases = [Case(args, label=label, expected=_reference_matched_hidden_size(*args))
             for args, label in arguments]

    def without_output_layer(cell, D, V, budget):
        G, H = _gate_blocks(cell), 0
        while G * (H + 1) * (D + H + 1) + G * (H + 1) <= budget:
            H += 1
        return H

    def smallest_over(cell, D, V, budget):
        return _reference_matched_hidden_size(cell, D, V, budget) + 1

    def lstm_three_blocks(cell, D, V, budget):
        H = 0
        G = 3 if cell == "lstm" else _gate_blocks(cell)
        while G * (H + 1) * (D + H + 1) + G * (H + 1) + (H + 1) * V + V <= budget:
            H += 1
        return H

    hints = [
        Mistake("a size that ignores the output layer", without_output_layer,
                "The budget covers the whole model: the dense output layer adds HV + V."),
        Mistake("the smallest size over the budget", smallest_over,
                "Return the largest H whose count is at most the budget."),
        Mistake("the LSTM counted with three gate blocks", lstm_three_blocks,
                "The LSTM with forget gate has four blocks (f, i, a, o): G = 4."),
    ]
    return run_check("head_to_head_matched_hidden_size", student_fn, cases, hints=hints,
                     output_name="H", forbidden=FORBIDDEN["head_to_head_matched_hidden_size"])


# -------------------------------------------------------------------- LSTM from PyTorch


def _torch_lstm_tensors(seed, D, H, dtype=np.float64):
    """Arrays shaped like torch.nn.LSTM's weight_ih (4H, D), weight_hh (4H, H), biases (4H,)."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(4 * H, D)).astype(dtype), rng.normal(size=(4 * H, H)).astype(dtype),
            rng.normal(size=4 * H).astype(dtype), rng.normal(size=4 * H).astype(dtype))


def _reference_from_torch(weight_ih, weight_hh, bias_ih, bias_hh):
    H = weight_hh.shape[1]
    # torch's blocks are i, f, g, o; rnnlib's f, i, a, o: take torch blocks 1, 0, 2, 3.
    order = [1, 0, 2, 3]
    W = np.concatenate([weight_ih.T, weight_hh.T], axis=0)  # (D+H, 4H) in torch's order
    W = np.concatenate([W[:, k * H:(k + 1) * H] for k in order], axis=1)
    b = bias_ih + bias_hh
    b = np.concatenate([b[k * H:(k + 1) * H] for k in order])
    assert lstm.GATES == ("f", "i", "a", "o")
    return {"W": W, "b": b}


def pytorch_lstm_from_torch(student_fn):
    """Check ``student_fn(weight_ih, weight_hh, bias_ih, bias_hh) -> {"W", "b"}``.

    Parameters
    ----------
    student_fn : callable
        Takes NumPy arrays shaped like one layer of ``torch.nn.LSTM``: ``weight_ih``
        (4H, D), ``weight_hh`` (4H, H), ``bias_ih`` and ``bias_hh`` (4H,), gate blocks in
        PyTorch's order i, f, g, o; returns rnnlib's parameters ``{"W": (D+H, 4H),
        "b": (4H,)}`` with blocks in the order f, i, a, o.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    cases = [
        Case(_torch_lstm_tensors(0, 3, 2), label="D=3, H=2"),
        Case(_torch_lstm_tensors(1, 1, 4), label="D=1, H=4"),
        Case(_torch_lstm_tensors(2, 5, 5), label="D=H=5"),
        Case(_torch_lstm_tensors(3, 2, 3, np.float32), label="float32, D=2, H=3"),
    ]

    def keep_torch_order(weight_ih, weight_hh, bias_ih, bias_hh):
        return {"W": np.concatenate([weight_ih.T, weight_hh.T], axis=0),
                "b": bias_ih + bias_hh}

    def bias_ih_only(weight_ih, weight_hh, bias_ih, bias_hh):
        return _reference_from_torch(weight_ih, weight_hh, bias_ih, np.zeros_like(bias_hh))

    def bias_not_permuted(weight_ih, weight_hh, bias_ih, bias_hh):
        params = _reference_from_torch(weight_ih, weight_hh, bias_ih, bias_hh)
        return {"W": params["W"], "b": bias_ih + bias_hh}

    def hidden_rows_first(weight_ih, weight_hh, bias_ih, bias_hh):
        D = weight_ih.shape[1]
        params = _reference_from_torch(weight_ih, weight_hh, bias_ih, bias_hh)
        W = params["W"]
        return {"W": np.concatenate([W[D:], W[:D]], axis=0), "b": params["b"]}

    hints = [
        Mistake("the gate blocks left in PyTorch's order i, f, g, o", keep_torch_order,
                "rnnlib's blocks are f, i, a, o: swap the first two H-wide blocks of the "
                "columns of W and of b."),
        Mistake("b taken from bias_ih alone", bias_ih_only,
                "PyTorch adds both biases to the pre-activation: b = bias_ih + bias_hh."),
        Mistake("W's blocks reordered but b's not", bias_not_permuted,
                "Reorder the blocks of b exactly like the columns of W."),
        Mistake("the recurrent rows placed before the input rows", hidden_rows_first,
                "W acts on [x, h_prev]: its first D rows are weight_ih.T, the last H rows "
                "weight_hh.T."),
    ]
    return run_check("pytorch_lstm_from_torch", student_fn, cases, _reference_from_torch,
                     hints=hints, output_name="params", rtol=1e-6, atol=1e-7,
                     forbidden=FORBIDDEN["pytorch_lstm_from_torch"])


# ------------------------------------------------------------------- GEMM floating point


def _reference_gemm_flops(T, N, D, H, G, mode):
    # 2 operations per multiply-add. Forward: the input projection (N*T, D) x (D, GH) and T
    # recurrent products (N, H) x (H, GH). Training adds T backward recurrent products
    # (N, GH) x (GH, H), the weight gradient (D+H, N*T) x (N*T, GH) and the input gradient
    # (N*T, GH) x (GH, D).
    forward = 2 * N * T * D * G * H + 2 * T * N * H * G * H
    if mode == "infer":
        return forward
    return forward + 2 * T * N * G * H * H + 2 * (D + H) * N * T * G * H + 2 * N * T * G * H * D


def performance_gemm_flops(student_fn):
    """Check ``student_fn(T, N, D, H, G, mode) -> int``.

    Parameters
    ----------
    student_fn : callable
        Takes the sizes T, N, D, H, the number of gate blocks G (1 for the RNN, 4 for the
        LSTM, 3 for the GRU) and ``mode`` (``"train"`` or ``"infer"``); returns the number
        of floating-point operations (two per multiply-add) of the matrix products of one
        layer: for ``"infer"`` the input projection and the T recurrent products of the
        forward pass; for ``"train"`` also the T recurrent products of the backward pass,
        the weight gradient and the input gradient.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    arguments = [
        ((50, 32, 32, 64, 4, "train"), "LSTM T=50 N=32 D=32 H=64, train"),
        ((50, 32, 32, 64, 4, "infer"), "LSTM T=50 N=32 D=32 H=64, infer"),
        ((100, 64, 128, 256, 3, "train"), "GRU T=100 N=64 D=128 H=256, train"),
        ((7, 2, 5, 3, 1, "train"), "RNN T=7 N=2 D=5 H=3, train"),
        ((7, 2, 5, 3, 1, "infer"), "RNN T=7 N=2 D=5 H=3, infer"),
    ]
    cases = [Case(args, label=label, expected=_reference_gemm_flops(*args))
             for args, label in arguments]

    def multiply_adds(T, N, D, H, G, mode):
        return _reference_gemm_flops(T, N, D, H, G, mode) // 2

    def training_twice_forward(T, N, D, H, G, mode):
        forward = _reference_gemm_flops(T, N, D, H, G, "infer")
        return forward if mode == "infer" else 3 * forward

    def no_input_gradient(T, N, D, H, G, mode):
        flops = _reference_gemm_flops(T, N, D, H, G, mode)
        return flops if mode == "infer" else flops - 2 * N * T * G * H * D

    def weight_gradient_of_W_h_only(T, N, D, H, G, mode):
        flops = _reference_gemm_flops(T, N, D, H, G, mode)
        return flops if mode == "infer" else flops - 2 * D * N * T * G * H

    hints = [
        Mistake("the number of multiply-adds, not of floating-point operations",
                multiply_adds, "Count two operations, a multiply and an add, per "
                "multiply-add: an (m, k) x (k, n) product is 2mkn."),
        Mistake("a training step counted as three forward passes", training_twice_forward,
                "Count the backward products one by one: T recurrent products, then one "
                "weight gradient over [x, h_prev] (D+H rows) and one input gradient."),
        Mistake("the training step without the input gradient", no_input_gradient,
                "The benchmark computes every gradient, dX too: (N*T, GH) x (GH, D)."),
        Mistake("the weight gradient of the recurrent rows only", weight_gradient_of_W_h_only,
                "The weight gradient is [X; H_prev]^T dP, with D + H rows."),
    ]
    return run_check("performance_gemm_flops", student_fn, cases, hints=hints,
                     output_name="flops", forbidden=FORBIDDEN["performance_gemm_flops"])


# --------------------------------------------------------------- LSTM gate activations


def _gate_cases():
    rng = np.random.default_rng(11)
    out = []
    for N, H, dtype, label in ((3, 2, np.float64, "N=3, H=2"), (1, 5, np.float64, "N=1, H=5"),
                               (4, 3, np.float32, "float32, N=4, H=3")):
        P = (3 * rng.standard_normal((N, 4 * H))).astype(dtype)
        out.append(Case((P, H), label=label))
    return out


def _reference_gate_activations(P, H):
    # rnnlib's block order f, i, a, o: sigmoid, sigmoid, tanh, sigmoid.
    assert lstm.GATES == ("f", "i", "a", "o")
    out = activations.sigmoid(P)
    out[:, 2 * H : 3 * H] = activations.tanh(P[:, 2 * H : 3 * H])
    return out


def performance_lstm_gate_activations(student_fn):
    """Check ``student_fn(P, H) -> A``.

    Parameters
    ----------
    student_fn : callable
        Takes an LSTM step's pre-activations ``P`` (N, 4H), blocks in rnnlib's order
        f, i, a, o, and H; returns a new array (N, 4H) of the same dtype holding
        :math:`\\sigma` of the f, i and o blocks and :math:`\\tanh` of the a block (the
        exercise asks for one ``np.tanh`` call, with
        :math:`\\sigma(x) = \\tfrac12 \\tanh(x/2) + \\tfrac12`; the check compares values).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def all_sigmoid(P, H):
        return activations.sigmoid(P)

    def without_half_argument(P, H):
        out = 0.5 * np.tanh(P) + 0.5
        out[:, 2 * H : 3 * H] = np.tanh(P[:, 2 * H : 3 * H])
        return out.astype(P.dtype)

    def without_shift(P, H):
        out = 0.5 * np.tanh(0.5 * P)
        out[:, 2 * H : 3 * H] = np.tanh(P[:, 2 * H : 3 * H])
        return out.astype(P.dtype)

    def tanh_on_second_block(P, H):
        out = activations.sigmoid(P)
        out[:, H : 2 * H] = activations.tanh(P[:, H : 2 * H])
        return out

    hints = [
        Mistake("a sigmoid on every block, the candidate a included", all_sigmoid,
                "The candidate block a (the third, columns 2H to 3H) takes tanh."),
        Mistake("sigma(x) computed as tanh(x)/2 + 1/2", without_half_argument,
                "The identity is sigma(x) = tanh(x/2)/2 + 1/2: halve the argument too."),
        Mistake("sigma(x) computed as tanh(x/2)/2, without the + 1/2", without_shift,
                "tanh(x/2)/2 lies in (-1/2, 1/2); add 1/2 to get the sigmoid."),
        Mistake("tanh on the second block", tanh_on_second_block,
                "rnnlib's blocks are f, i, a, o: the tanh block is the third."),
    ]
    return run_check("performance_lstm_gate_activations", student_fn, _gate_cases(),
                     _reference_gate_activations, hints=hints, output_name="A",
                     rtol=1e-5, atol=1e-6,
                     forbidden=FORBIDDEN["performance_lstm_gate_activations"])


# ------------------------------------------------------------------- LSTM cache memory


def _measured_cache_bytes(T, N, D, H, itemsize):
    """Bytes of the arrays rnnlib.lstm.forward's cache holds, other than X and W."""
    dtype = {4: np.float32, 8: np.float64}[itemsize]
    rng = np.random.default_rng(0)
    params = lstm.init_params(D, H, rng=rng, dtype=dtype)
    X = rng.standard_normal((N, T, D)).astype(dtype)
    _, _, cache = lstm.forward(X, None, params)
    return sum(value.nbytes for key, value in cache.items()
               if isinstance(value, np.ndarray) and key not in ("X", "W"))


def performance_lstm_cache_bytes(student_fn):
    """Check ``student_fn(T, N, D, H, itemsize) -> int``.

    Parameters
    ----------
    student_fn : callable
        Takes the sizes T, N, D, H and the bytes per number (4 for float32, 8 for float64);
        returns the bytes of the arrays that ``rnnlib.lstm.forward`` (zero initial state)
        keeps in its cache for the backward pass, not counting the input ``X`` and the
        weights ``W``, which the caller holds anyway. The reference runs ``lstm.forward``
        and adds up the arrays' sizes.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    arguments = [
        ((5, 2, 3, 4, 8), "T=5 N=2 D=3 H=4, float64"),
        ((5, 2, 3, 4, 4), "T=5 N=2 D=3 H=4, float32"),
        ((12, 3, 1, 6, 8), "T=12 N=3 D=1 H=6, float64"),
        ((1, 1, 7, 2, 4), "T=1 N=1 D=7 H=2, float32"),
    ]
    cases = [Case(args, label=label, expected=_measured_cache_bytes(*args))
             for args, label in arguments]

    def numbers_not_bytes(T, N, D, H, itemsize):
        return _measured_cache_bytes(T, N, D, H, itemsize) // itemsize

    def with_inputs_and_weights(T, N, D, H, itemsize):
        return _measured_cache_bytes(T, N, D, H, itemsize) + itemsize * (
            N * T * D + (D + H) * 4 * H)

    def one_gate_block(T, N, D, H, itemsize):
        return _measured_cache_bytes(T, N, D, H, itemsize) - itemsize * 3 * N * T * H

    def without_tanh_of_state(T, N, D, H, itemsize):
        return _measured_cache_bytes(T, N, D, H, itemsize) - itemsize * N * T * H

    def without_initial_state(T, N, D, H, itemsize):
        return _measured_cache_bytes(T, N, D, H, itemsize) - itemsize * 2 * N * H

    hints = [
        Mistake("the number of stored numbers, not bytes", numbers_not_bytes,
                "Multiply by the bytes per number, itemsize."),
        Mistake("the count including X and W", with_inputs_and_weights,
                "Leave out X and W: the caller holds them whether or not there is a cache."),
        Mistake("the gates counted as one H-wide block per step", one_gate_block,
                "The cache keeps all four gate blocks of every step: (N, T, 4H)."),
        Mistake("the count without tanh(s_t)", without_tanh_of_state,
                "The forward pass keeps tanh(s_t) of every step too, for the output gate's "
                "gradient."),
        Mistake("the count without the initial states", without_initial_state,
                "The cache also keeps h_0 and s_0, (N, H) each (zeros here)."),
    ]
    return run_check("performance_lstm_cache_bytes", student_fn, cases, hints=hints,
                     output_name="bytes", forbidden=FORBIDDEN["performance_lstm_cache_bytes"])


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them).
FORBIDDEN = {
    "multilayer_stack_forward": (
        _reference_stack_forward, layers.stack_forward, rnn.forward, fast_rnn.forward,
    ),
    "multilayer_stack_backward": (_reference_stack_backward, layers.stack_backward),
    "multilayer_bidirectional_forward": (
        _reference_bidirectional, layers.bidirectional_forward, layers.stack_forward,
    ),
    "multilayer_residual_stack_forward": (_reference_residual_stack, layers.stack_forward),
    "pytorch_lstm_from_torch": (_reference_from_torch, interop.from_torch),
    "performance_lstm_gate_activations": (_reference_gate_activations, lstm._activate),
    # The counting exercises: only the check's own function, from which its cases' expected
    # values come (no rnnlib function computes them).
    "head_to_head_matched_hidden_size": (_reference_matched_hidden_size,),
    "performance_gemm_flops": (_reference_gemm_flops,),
    "performance_lstm_cache_bytes": (_measured_cache_bytes,),
}
