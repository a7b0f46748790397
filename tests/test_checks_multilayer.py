"""Tests for the checks of the "Going further" chapters (multilayer RNNs, the head-to-head
comparison, PyTorch): pass on a solution, name each usual mistake, fail politely on the stub
and on a function that raises."""

import numpy as np
import pytest

from rnnlib import checks, interop, layers, rnn
from rnnlib.checks import multilayer as multilayer_checks
from rnnlib.model import SequenceModel


def stub(*args, **kwargs):
    # YOUR CODE HERE
    raise NotImplementedError()


def broken(*args, **kwargs):
    return args[0] @ np.ones((1000, 3))  # a shape error inside the learner's code


# ------------------------------------------------------------------------- stack forward


def stack_forward_solution(X, params_list):
    N, T, _ = X.shape
    states = [None] * len(params_list)
    outputs = []
    for t in range(T):
        layer_input = X[:, t]
        for layer, params in enumerate(params_list):
            layer_input, states[layer], _ = rnn.step_forward(layer_input, states[layer], params)
        outputs.append(layer_input)
    return np.stack(outputs, axis=1), states


def test_stack_forward_passes_on_a_solution(capsys):
    result = checks.multilayer_stack_forward(stack_forward_solution)
    assert result
    assert "✔ multilayer_stack_forward" in capsys.readouterr().out


def test_stack_forward_reference_is_the_column_order():
    X, params_list = multilayer_checks._stack_arrays(0, 2, 5, 3, 4, 3)
    Y, states = stack_forward_solution(X, params_list)
    Y_ref, states_ref, _ = layers.stack_forward(X, params_list, "rnn")
    np.testing.assert_allclose(Y, Y_ref, rtol=1e-12)
    for h, h_ref in zip(states, states_ref, strict=True):
        np.testing.assert_allclose(h, h_ref, rtol=1e-12)


def every_layer_reads_x(X, params_list):
    states, Y = [], None
    for params in params_list:
        Y, state, _ = rnn.forward(X, None, params)
        states.append(state)
    return Y, states


def bottom_layer_output(X, params_list):
    _, states = stack_forward_solution(X, params_list)
    return rnn.forward(X, None, params_list[0])[0], states


def states_top_first(X, params_list):
    Y, states = stack_forward_solution(X, params_list)
    return Y, states[::-1]


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (every_layer_reads_x, "reading the input X"),
        (bottom_layer_output, "bottom layer's states"),
        (states_top_first, "top layer first"),
    ],
)
def test_stack_forward_names_the_usual_mistakes(wrong, words):
    result = checks.multilayer_stack_forward(wrong)
    assert not result
    assert result.status in ("wrong-value", "wrong-shape", "exception")
    assert words in result.hint


def test_stack_forward_every_layer_reads_x_is_caught_on_the_equal_width_cases():
    # With D != H the wrong wiring raises (a shape error) on the first case; the check must
    # still name it on a case with D == H.
    def only_equal_widths(X, params_list):
        if X.shape[2] != params_list[0]["b"].shape[0]:
            return stack_forward_solution(X, params_list)
        return every_layer_reads_x(X, params_list)

    result = checks.multilayer_stack_forward(only_equal_widths)
    assert not result
    assert "reading the input X" in result.hint


def test_stack_forward_fails_without_raising_on_the_stub_and_on_errors():
    result = checks.multilayer_stack_forward(stub)
    assert not result and result.status == "not-implemented"
    result = checks.multilayer_stack_forward(broken)
    assert not result and result.status == "exception"


def test_stack_forward_float32_must_stay_float32():
    def float64_answer(X, params_list):
        Y, states = stack_forward_solution(X, params_list)
        return Y.astype(np.float64), [h.astype(np.float64) for h in states]

    result = checks.multilayer_stack_forward(float64_answer)
    assert not result and result.status == "wrong-dtype"


# ------------------------------------------------------------------------ stack backward


def stack_backward_solution(X, params_list, dY):
    caches, layer_input = [], X
    for params in params_list:
        layer_input, _, cache = rnn.forward(layer_input, None, params)
        caches.append(cache)
    grads_list = [None] * len(params_list)
    d_output = dY
    for layer in reversed(range(len(params_list))):
        d_output, _, grads_list[layer] = rnn.backward(d_output, None, caches[layer])
    return d_output, grads_list


def test_stack_backward_passes_on_a_solution(capsys):
    result = checks.multilayer_stack_backward(stack_backward_solution)
    assert result
    assert "✔ multilayer_stack_backward" in capsys.readouterr().out


def test_stack_backward_reference_matches_finite_differences():
    from rnnlib import gradcheck

    X, params_list = multilayer_checks._stack_arrays(5, 2, 4, 3, 3, 3)
    dY = multilayer_checks._upstream(X, params_list)
    dX, grads_list = multilayer_checks._reference_stack_backward(X, params_list, dY)
    arrays = {"X": X, **{f"{l}.{k}": v for l, p in enumerate(params_list) for k, v in p.items()}}
    analytic = {"X": dX, **{f"{l}.{k}": v for l, g in enumerate(grads_list)
                            for k, v in g.items()}}
    errors = gradcheck.check_gradients(
        lambda: float(np.sum(dY * layers.stack_forward(X, params_list, "rnn")[0])),
        arrays, analytic)
    assert max(errors.values()) < 1e-7


def dY_to_every_layer(X, params_list, dY):
    caches, layer_input = [], X
    for params in params_list:
        layer_input, _, cache = rnn.forward(layer_input, None, params)
        caches.append(cache)
    grads_list, dX = [], None
    for cache in caches:
        dX_layer, _, grads = rnn.backward(dY, None, cache)
        grads_list.append(grads)
        dX = dX_layer if dX is None else dX
    return dX, grads_list


def grads_top_first(X, params_list, dY):
    dX, grads_list = stack_backward_solution(X, params_list, dY)
    return dX, grads_list[::-1]


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (dY_to_every_layer, "dY given to every layer"),
        (grads_top_first, "top layer first"),
    ],
)
def test_stack_backward_names_the_usual_mistakes(wrong, words):
    result = checks.multilayer_stack_backward(wrong)
    assert not result
    assert words in result.hint


def test_stack_backward_fails_without_raising_on_the_stub_and_on_errors():
    result = checks.multilayer_stack_backward(stub)
    assert not result and result.status == "not-implemented"
    result = checks.multilayer_stack_backward(broken)
    assert not result and result.status == "exception"


def test_stack_backward_catches_a_missing_input_gradient():
    def no_dX(X, params_list, dY):
        dX, grads_list = stack_backward_solution(X, params_list, dY)
        return np.zeros_like(dX), grads_list

    result = checks.multilayer_stack_backward(no_dX)
    assert not result and result.status == "wrong-value"


# ------------------------------------------------------------------ bidirectional forward


def bidirectional_solution(X, params_fwd, params_bwd):
    forward, _, _ = rnn.forward(X, None, params_fwd)
    backward, _, _ = rnn.forward(X[:, ::-1], None, params_bwd)
    return np.concatenate([forward, backward[:, ::-1]], axis=2)


def test_bidirectional_passes_on_a_solution(capsys):
    result = checks.multilayer_bidirectional_forward(bidirectional_solution)
    assert result
    assert "✔ multilayer_bidirectional_forward" in capsys.readouterr().out


def not_reversed_back(X, params_fwd, params_bwd):
    forward, _, _ = rnn.forward(X, None, params_fwd)
    backward, _, _ = rnn.forward(X[:, ::-1], None, params_bwd)
    return np.concatenate([forward, backward], axis=2)


def halves_swapped(X, params_fwd, params_bwd):
    Y = bidirectional_solution(X, params_fwd, params_bwd)
    H = Y.shape[2] // 2
    return np.concatenate([Y[:, :, H:], Y[:, :, :H]], axis=2)


def second_cell_forwards(X, params_fwd, params_bwd):
    forward, _, _ = rnn.forward(X, None, params_fwd)
    other, _, _ = rnn.forward(X, None, params_bwd)
    return np.concatenate([forward, other], axis=2)


@pytest.mark.parametrize(
    ("wrong", "words"),
    [
        (not_reversed_back, "reversed time order"),
        (halves_swapped, "wrong order"),
        (second_cell_forwards, "reading the sequence forwards"),
    ],
)
def test_bidirectional_names_the_usual_mistakes(wrong, words):
    result = checks.multilayer_bidirectional_forward(wrong)
    assert not result
    assert result.status == "wrong-value"
    assert words in result.hint


def test_bidirectional_fails_without_raising_on_the_stub_and_on_errors():
    result = checks.multilayer_bidirectional_forward(stub)
    assert not result and result.status == "not-implemented"
    result = checks.multilayer_bidirectional_forward(broken)
    assert not result and result.status == "exception"


def test_bidirectional_wrong_width_is_a_shape_failure():
    def forward_half_only(X, params_fwd, params_bwd):
        return rnn.forward(X, None, params_fwd)[0]

    result = checks.multilayer_bidirectional_forward(forward_half_only)
    assert not result and result.status == "wrong-shape"


# --------------------------------------------------------------------- matched hidden size


def matched_hidden_size_solution(cell, input_size, output_size, budget):
    G = {"rnn": 1, "gru": 3, "lstm": 4}[cell]
    H = 0
    while True:
        h = H + 1
        if G * h * (input_size + h) + G * h + h * output_size + output_size > budget:
            return H
        H = h


def test_matched_hidden_size_passes_on_a_solution(capsys):
    result = checks.head_to_head_matched_hidden_size(matched_hidden_size_solution)
    assert result
    assert "✔ head_to_head_matched_hidden_size" in capsys.readouterr().out


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_matched_hidden_size_solution_agrees_with_sequence_model(cell):
    H = matched_hidden_size_solution(cell, 4, 3, 2000)
    assert SequenceModel(cell, 4, H, 3, rng=0).num_parameters() <= 2000
    assert SequenceModel(cell, 4, H + 1, 3, rng=0).num_parameters() > 2000


def test_matched_hidden_size_names_the_usual_mistakes():
    def without_output_layer(cell, D, V, budget):
        G, H = {"rnn": 1, "gru": 3, "lstm": 4}[cell], 0
        while G * (H + 1) * (D + H + 1) + G * (H + 1) <= budget:
            H += 1
        return H

    def one_too_many(cell, D, V, budget):
        return matched_hidden_size_solution(cell, D, V, budget) + 1

    def lstm_with_three_blocks(cell, D, V, budget):
        return matched_hidden_size_solution("gru" if cell == "lstm" else cell, D, V, budget)

    for wrong, words in [(without_output_layer, "output layer"),
                         (one_too_many, "smallest size over the budget"),
                         (lstm_with_three_blocks, "three gate blocks")]:
        result = checks.head_to_head_matched_hidden_size(wrong)
        assert not result
        assert words in result.hint


def test_matched_hidden_size_fails_without_raising_on_the_stub():
    result = checks.head_to_head_matched_hidden_size(stub)
    assert not result and result.status == "not-implemented"


def test_matched_hidden_size_float_answer_is_a_type_failure():
    result = checks.head_to_head_matched_hidden_size(
        lambda *args: float(matched_hidden_size_solution(*args)))
    assert not result and result.status in ("wrong-dtype", "wrong-type")


# ---------------------------------------------------------------------- LSTM from PyTorch


def lstm_from_torch_solution(weight_ih, weight_hh, bias_ih, bias_hh):
    H = weight_hh.shape[1]
    W = np.concatenate([weight_ih.T, weight_hh.T], axis=0)  # torch order i, f, g, o
    b = bias_ih + bias_hh
    i, f, g, o = (slice(k * H, (k + 1) * H) for k in range(4))
    return {"W": np.concatenate([W[:, f], W[:, i], W[:, g], W[:, o]], axis=1),
            "b": np.concatenate([b[f], b[i], b[g], b[o]])}


def test_lstm_from_torch_passes_on_a_solution(capsys):
    result = checks.pytorch_lstm_from_torch(lstm_from_torch_solution)
    assert result
    assert "✔ pytorch_lstm_from_torch" in capsys.readouterr().out


def test_lstm_from_torch_reference_agrees_with_interop():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    module = torch.nn.LSTM(3, 4, batch_first=True, dtype=torch.float64)
    ours = lstm_from_torch_solution(*(getattr(module, f"{name}_l0").detach().numpy()
                                      for name in ("weight_ih", "weight_hh", "bias_ih",
                                                   "bias_hh")))
    (expected,) = interop.from_torch(module)
    np.testing.assert_allclose(ours["W"], expected["W"], rtol=1e-12)
    np.testing.assert_allclose(ours["b"], expected["b"], rtol=1e-12)


def test_lstm_from_torch_names_the_usual_mistakes():
    def keep_torch_order(weight_ih, weight_hh, bias_ih, bias_hh):
        return {"W": np.concatenate([weight_ih.T, weight_hh.T], axis=0), "b": bias_ih + bias_hh}

    def bias_ih_only(weight_ih, weight_hh, bias_ih, bias_hh):
        return lstm_from_torch_solution(weight_ih, weight_hh, bias_ih, np.zeros_like(bias_hh))

    def bias_not_permuted(weight_ih, weight_hh, bias_ih, bias_hh):
        params = lstm_from_torch_solution(weight_ih, weight_hh, bias_ih, bias_hh)
        return {"W": params["W"], "b": bias_ih + bias_hh}

    def hidden_rows_first(weight_ih, weight_hh, bias_ih, bias_hh):
        D = weight_ih.shape[1]
        params = lstm_from_torch_solution(weight_ih, weight_hh, bias_ih, bias_hh)
        return {"W": np.concatenate([params["W"][D:], params["W"][:D]]), "b": params["b"]}

    for wrong, words in [(keep_torch_order, "PyTorch's order"),
                         (bias_ih_only, "bias_ih alone"),
                         (bias_not_permuted, "b's not"),
                         (hidden_rows_first, "recurrent rows")]:
        result = checks.pytorch_lstm_from_torch(wrong)
        assert not result
        assert words in result.hint


def test_lstm_from_torch_transposed_weights_are_a_shape_failure():
    def not_transposed(weight_ih, weight_hh, bias_ih, bias_hh):
        return {"W": np.concatenate([weight_ih, weight_hh], axis=1), "b": bias_ih + bias_hh}

    result = checks.pytorch_lstm_from_torch(not_transposed)
    assert not result and result.status == "wrong-shape"


def test_lstm_from_torch_fails_without_raising_on_the_stub_and_on_errors():
    result = checks.pytorch_lstm_from_torch(stub)
    assert not result and result.status == "not-implemented"
    result = checks.pytorch_lstm_from_torch(broken)
    assert not result and result.status == "exception"


# ------------------------------------------------------------- performance: GEMM flops


def gemm_flops_solution(T, N, D, H, G, mode):
    def product(m, k, n):  # an (m, k) x (k, n) product: m k n multiply-adds
        return 2 * m * k * n

    flops = product(N * T, D, G * H) + T * product(N, H, G * H)
    if mode == "train":
        flops += T * product(N, G * H, H) + product(D + H, N * T, G * H)
        flops += product(N * T, G * H, D)
    return flops


def test_gemm_flops_passes_on_a_solution(capsys):
    assert multilayer_checks.performance_gemm_flops(gemm_flops_solution)
    assert "✔ performance_gemm_flops" in capsys.readouterr().out


def test_gemm_flops_names_the_usual_mistakes():
    def multiply_adds(*args):
        return gemm_flops_solution(*args) // 2

    def no_input_gradient(T, N, D, H, G, mode):
        return gemm_flops_solution(T, N, D, H, G, mode) - (
            2 * N * T * G * H * D if mode == "train" else 0)

    for wrong, words in [(multiply_adds, "multiply-adds"),
                         (no_input_gradient, "without the input gradient")]:
        result = multilayer_checks.performance_gemm_flops(wrong)
        assert not result
        assert words in result.hint


def test_gemm_flops_fails_on_a_wrong_answer_and_the_stub():
    result = multilayer_checks.performance_gemm_flops(
        lambda T, N, D, H, G, mode: gemm_flops_solution(T, N, D, H, G, "infer"))
    assert not result and result.status == "wrong-value"
    result = multilayer_checks.performance_gemm_flops(stub)
    assert not result and result.status == "not-implemented"


# --------------------------------------------------- performance: LSTM gate activations


def gate_activations_solution(P, H):
    A = P.copy()
    sigmoid_blocks = np.r_[0 : 2 * H, 3 * H : 4 * H]  # f, i and o
    A[:, sigmoid_blocks] *= 0.5
    np.tanh(A, out=A)  # one call for all four blocks
    A[:, sigmoid_blocks] = 0.5 * A[:, sigmoid_blocks] + 0.5
    return A


def test_gate_activations_passes_on_a_solution(capsys):
    assert multilayer_checks.performance_lstm_gate_activations(gate_activations_solution)
    assert "✔ performance_lstm_gate_activations" in capsys.readouterr().out


def test_gate_activations_names_the_usual_mistakes():
    def no_half_argument(P, H):
        A = 0.5 * np.tanh(P) + 0.5
        A[:, 2 * H : 3 * H] = np.tanh(P[:, 2 * H : 3 * H])
        return A.astype(P.dtype)

    def every_block_sigmoid(P, H):
        return (0.5 * np.tanh(0.5 * P) + 0.5).astype(P.dtype)

    for wrong, words in [(no_half_argument, "tanh(x)/2 + 1/2"),
                         (every_block_sigmoid, "sigmoid on every block")]:
        result = multilayer_checks.performance_lstm_gate_activations(wrong)
        assert not result
        assert words in result.hint


def test_gate_activations_fails_in_place_float64_and_stub():
    def in_place(P, H):
        P[:] = gate_activations_solution(P, H)
        return P

    assert multilayer_checks.performance_lstm_gate_activations(in_place).status == (
        "modified-input")
    promoted = multilayer_checks.performance_lstm_gate_activations(
        lambda P, H: gate_activations_solution(P.astype(np.float64), H))
    assert not promoted and promoted.status == "wrong-dtype"
    assert multilayer_checks.performance_lstm_gate_activations(stub).status == (
        "not-implemented")


# ------------------------------------------------------- performance: LSTM cache bytes


def cache_bytes_solution(T, N, D, H, itemsize):
    # gates (N, T, 4H); Y, S, tanh(S) (N, T, H) each; h0 and s0 (N, H) each
    return itemsize * (4 * N * T * H + 3 * N * T * H + 2 * N * H)


def test_cache_bytes_passes_on_a_solution(capsys):
    assert multilayer_checks.performance_lstm_cache_bytes(cache_bytes_solution)
    assert "✔ performance_lstm_cache_bytes" in capsys.readouterr().out


def test_cache_bytes_names_the_usual_mistakes():
    def numbers(T, N, D, H, itemsize):
        return cache_bytes_solution(T, N, D, H, itemsize) // itemsize

    def without_tanh(T, N, D, H, itemsize):
        return cache_bytes_solution(T, N, D, H, itemsize) - itemsize * N * T * H

    for wrong, words in [(numbers, "not bytes"), (without_tanh, "without tanh(s_t)")]:
        result = multilayer_checks.performance_lstm_cache_bytes(wrong)
        assert not result
        assert words in result.hint


def test_cache_bytes_fails_on_a_wrong_answer_and_the_stub():
    result = multilayer_checks.performance_lstm_cache_bytes(
        lambda T, N, D, H, itemsize: cache_bytes_solution(T, N, D, H, itemsize) + 1)
    assert not result and result.status == "wrong-value"
    assert multilayer_checks.performance_lstm_cache_bytes(stub).status == "not-implemented"


# ---------------------------------------------------------------- residual stack forward


def residual_stack_solution(X, params_list):
    outputs = X
    for layer, params in enumerate(params_list):
        states, _, _ = rnn.forward(outputs, None, params)
        outputs = states if layer == 0 else states + outputs
    return outputs


def test_residual_stack_passes_on_a_solution(capsys):
    assert multilayer_checks.multilayer_residual_stack_forward(residual_stack_solution)
    assert "✔ multilayer_residual_stack_forward" in capsys.readouterr().out


def test_residual_stack_names_the_usual_mistakes():
    def no_residual(X, params_list):
        return layers.stack_forward(X, params_list, "rnn")[0]

    def residual_everywhere(X, params_list):
        outputs = X
        for params in params_list:
            outputs = rnn.forward(outputs, None, params)[0] + outputs
        return outputs  # fails with a shape error when D != H

    for wrong, words in [(no_residual, "without residual"),
                         (residual_everywhere, "first layer as well")]:
        result = multilayer_checks.multilayer_residual_stack_forward(wrong)
        assert not result
        assert words in result.hint


def test_residual_stack_fails_on_float64_output_and_the_stub():
    result = multilayer_checks.multilayer_residual_stack_forward(
        lambda X, params_list: residual_stack_solution(X, params_list).astype(np.float64))
    assert not result and result.status == "wrong-dtype"
    result = multilayer_checks.multilayer_residual_stack_forward(stub)
    assert not result and result.status == "not-implemented"
