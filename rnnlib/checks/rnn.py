"""Automatic checks for the exercises of the basic-RNN chapter.

- :func:`rnn_step_forward`: one forward step, ``h = tanh([x, h_prev] @ W + b)``;
- :func:`rnn_step_backward`: the gradients of that step;
- :func:`rnn_two_step_backward`: backpropagation through two steps, where the gradient of
  the first state has two sources;
- :func:`rnn_truncated_bptt`: the parameter gradients of truncated backpropagation through
  time;
- :func:`rnn_clip_grad_norm`: clipping all gradients by their global norm;
- :func:`rnn_clip_by_value`: clipping every gradient entry to an interval.

Each compares the learner's function with rnnlib's on a few fixed cases (float64 and
float32, batch of one, zero state) and recognises the usual mistakes.
"""

import numpy as np

from rnnlib import optim, rnn
from rnnlib.checks._core import Case, Mistake, run_check
from rnnlib.fast import rnn as fast_rnn

__all__ = [
    "rnn_clip_by_value",
    "rnn_clip_grad_norm",
    "rnn_step_backward",
    "rnn_step_forward",
    "rnn_truncated_bptt",
    "rnn_two_step_backward",
]


def _step_arrays(seed, N, D, H, dtype=np.float64, zero_state=False):
    """Fixed random x (N, D), h_prev (N, H), W (D+H, H), b (H,) for one test case."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(dtype)
    h_prev = np.zeros((N, H), dtype) if zero_state else rng.uniform(-1, 1, (N, H)).astype(dtype)
    W = rng.normal(scale=0.6, size=(D + H, H)).astype(dtype)
    b = rng.normal(scale=0.3, size=(H,)).astype(dtype)
    return x, h_prev, W, b


def _step_cases():
    return [
        Case(_step_arrays(0, 2, 3, 4), label="N=2, D=3, H=4"),
        Case(_step_arrays(1, 1, 2, 3), label="one sequence, N=1, D=2, H=3"),
        Case(_step_arrays(2, 3, 4, 2, zero_state=True), label="zero state, N=3, D=4, H=2"),
        Case(_step_arrays(3, 2, 3, 3, dtype=np.float32), label="float32, N=2, D=3, H=3"),
    ]


# ----------------------------------------------------------------------------- forward


def _reference_step_forward(x, h_prev, W, b):
    h, _, _ = rnn.step_forward(x, h_prev, {"W": W, "b": b})
    return h


def rnn_step_forward(student_fn):
    """Check ``student_fn(x, h_prev, W, b) -> h``, one step of the basic RNN.

    Parameters
    ----------
    student_fn : callable
        Takes x (N, D), h_prev (N, H), W (D+H, H), b (H,) and returns h (N, H), the new
        state :math:`\\tanh([x, h_{prev}] W + b)`, in the dtype of its inputs.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def swapped_order(x, h_prev, W, b):
        return np.tanh(np.concatenate([h_prev, x], axis=1) @ W + b)

    def no_tanh(x, h_prev, W, b):
        return np.concatenate([x, h_prev], axis=1) @ W + b

    def sigmoid_instead(x, h_prev, W, b):
        return 1 / (1 + np.exp(-(np.concatenate([x, h_prev], axis=1) @ W + b)))

    def no_bias(x, h_prev, W, b):
        return np.tanh(np.concatenate([x, h_prev], axis=1) @ W)

    def input_only(x, h_prev, W, b):
        return np.tanh(x @ W[: x.shape[1]] + b)

    hints = [
        Mistake("the concatenation in the order [h_prev, x]", swapped_order,
                "The book's z_t is [x_t, h_{t-1}]: the input comes first, so W[:D] "
                "multiplies x and W[D:] multiplies h_prev."),
        Mistake("the pre-activation z @ W + b without the tanh", no_tanh,
                "Apply np.tanh to the pre-activation."),
        Mistake("a sigmoid where the basic RNN uses tanh", sigmoid_instead,
                "The basic RNN's nonlinearity is tanh (values in [-1, 1]), not the sigmoid."),
        Mistake("the step without the bias b", no_bias, "Add b to the pre-activation."),
        Mistake("a step that ignores the previous state", input_only,
                "The recurrent part h_prev @ W[D:] is what makes the network recurrent: "
                "concatenate [x, h_prev] (axis=1) before multiplying by W."),
    ]
    return run_check("rnn_step_forward", student_fn, _step_cases(), _reference_step_forward,
                     hints=hints, output_name="h", rtol=1e-5, atol=1e-6,
                     forbidden=FORBIDDEN["rnn_step_forward"])


# ---------------------------------------------------------------------------- backward


def _backward_cases():
    cases = []
    for number, case in enumerate(_step_cases()):
        x, h_prev, W, b = case.args
        rng = np.random.default_rng(100 + number)
        dh = rng.normal(size=(x.shape[0], W.shape[1])).astype(x.dtype)
        cases.append(Case((dh, x, h_prev, W, b), label=case.label))
    return cases


def _reference_step_backward(dh, x, h_prev, W, b):
    _, _, cache = rnn.step_forward(x, h_prev, {"W": W, "b": b})
    dx, dh_prev, grads = rnn.step_backward(dh, None, cache)
    return dx, dh_prev, grads["W"], grads["b"]


def _backward_from_da(da, x, h_prev, W):
    """The step's gradients given the pre-activation gradient da (N, H)."""
    D = x.shape[1]
    z = np.concatenate([x, h_prev], axis=1)
    dz = da @ W.T
    return dz[:, :D], dz[:, D:], z.T @ da, da.sum(axis=0)


def rnn_step_backward(student_fn):
    """Check ``student_fn(dh, x, h_prev, W, b) -> (dx, dh_prev, dW, db)``.

    Parameters
    ----------
    student_fn : callable
        Takes dh (N, H), the gradient of the loss with respect to the new state
        :math:`h = \\tanh([x, h_{prev}] W + b)`, and the step's inputs x (N, D),
        h_prev (N, H), W (D+H, H), b (H,); returns dx (N, D), dh_prev (N, H), dW (D+H, H)
        and db (H,).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def h_of(x, h_prev, W, b):
        return np.tanh(np.concatenate([x, h_prev], axis=1) @ W + b)

    def no_tanh_derivative(dh, x, h_prev, W, b):
        return _backward_from_da(dh, x, h_prev, W)

    def derivative_at_preactivation(dh, x, h_prev, W, b):
        a = np.concatenate([x, h_prev], axis=1) @ W + b
        return _backward_from_da(dh * (1 - a**2), x, h_prev, W)

    def derivative_without_square(dh, x, h_prev, W, b):
        return _backward_from_da(dh * (1 - h_of(x, h_prev, W, b)), x, h_prev, W)

    def db_not_summed(dh, x, h_prev, W, b):
        da = dh * (1 - h_of(x, h_prev, W, b) ** 2)
        dx, dh_prev, dW, _ = _backward_from_da(da, x, h_prev, W)
        return dx, dh_prev, dW, da

    hints = [
        Mistake("the gradients without the tanh derivative", no_tanh_derivative,
                "Between dh and the weights sits h = tanh(a): first da = dh * (1 - h**2)."),
        Mistake("the tanh derivative taken as 1 - a**2 with a the pre-activation",
                derivative_at_preactivation,
                "tanh'(a) = 1 - tanh(a)**2 = 1 - h**2: square the output h, not a."),
        Mistake("the tanh derivative written 1 - h instead of 1 - h**2",
                derivative_without_square, "tanh'(a) = 1 - h**2."),
        Mistake("db left with one row per sequence", db_not_summed,
                "b is shared by the whole batch, so its gradient sums da over the batch: "
                "da.sum(axis=0), shape (H,)."),
    ]
    return run_check("rnn_step_backward", student_fn, _backward_cases(),
                     _reference_step_backward, hints=hints,
                     output_name="(dx, dh_prev, dW, db)", rtol=1e-4, atol=1e-5,
                     forbidden=FORBIDDEN["rnn_step_backward"])


# ---------------------------------------------------------------------- two-step backward


def _two_step_case(seed, N, D, H, dtype=np.float64, with_dstate=True):
    rng = np.random.default_rng(seed)
    dY = rng.normal(size=(N, 2, H)).astype(dtype)
    dstate_T = rng.normal(size=(N, H)).astype(dtype) if with_dstate else np.zeros((N, H), dtype)
    X = rng.normal(size=(N, 2, D)).astype(dtype)
    h0 = rng.uniform(-1, 1, size=(N, H)).astype(dtype)
    W = rng.normal(scale=0.7, size=(D + H, H)).astype(dtype)
    b = rng.normal(scale=0.3, size=(H,)).astype(dtype)
    label = f"N={N}, D={D}, H={H}" + ("" if with_dstate else ", dstate_T = 0")
    if dtype != np.float64:
        label += f", {np.dtype(dtype).name}"
    return Case((dY, dstate_T, X, h0, W, b), label=label)


def _reference_two_step(dY, dstate_T, X, h0, W, b):
    _, _, cache = rnn.forward(X, h0, {"W": W, "b": b})
    dX, dh0, grads = rnn.backward(dY, dstate_T, cache)
    return dX, dh0, grads["W"], grads["b"]


def _two_step_manual(dY, dstate_T, X, h0, W, b, *, first_output=True, final_state=True,
                     carry=True, both_steps=True):
    """Two steps of BPTT with some of its terms switched off (for the usual mistakes)."""
    D = X.shape[2]
    z1 = np.concatenate([X[:, 0], h0], axis=1)
    h1 = np.tanh(z1 @ W + b)
    z2 = np.concatenate([X[:, 1], h1], axis=1)
    h2 = np.tanh(z2 @ W + b)
    dh2 = dY[:, 1] + (dstate_T if final_state else 0)
    da2 = dh2 * (1 - h2**2)
    dz2 = da2 @ W.T
    dh1 = (dY[:, 0] if first_output else 0) + (dz2[:, D:] if carry else 0)
    da1 = dh1 * (1 - h1**2)
    dz1 = da1 @ W.T
    dW = z2.T @ da2 + (z1.T @ da1 if both_steps else 0)
    db = da2.sum(axis=0) + (da1.sum(axis=0) if both_steps else 0)
    dX = np.stack([dz1[:, :D], dz2[:, :D]], axis=1)
    return dX, dz1[:, D:], dW, db


def rnn_two_step_backward(student_fn):
    """Check ``student_fn(dY, dstate_T, X, h0, W, b) -> (dX, dh0, dW, db)``, BPTT over T = 2.

    Parameters
    ----------
    student_fn : callable
        Takes dY (N, 2, H), the gradient reaching each step's output h_1, h_2; dstate_T
        (N, H), the gradient reaching the final state h_2 from outside the sequence; the
        inputs X (N, 2, D); the initial state h0 (N, H); W (D+H, H) and b (H,). Returns
        dX (N, 2, D), dh0 (N, H), dW (D+H, H) and db (H,), in the dtype of the inputs.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def no_first_output(*args):
        return _two_step_manual(*args, first_output=False)

    def no_final_state(*args):
        return _two_step_manual(*args, final_state=False)

    def not_carried(*args):
        return _two_step_manual(*args, carry=False)

    def last_step_only(*args):
        return _two_step_manual(*args, both_steps=False)

    hints = [
        Mistake("h_1's gradient without dY[:, 0]", no_first_output,
                "h_1 is used twice, by its output and by step 2: "
                "dh_1 = dY[:, 0] + (gradient from step 2)."),
        Mistake("dstate_T ignored", no_final_state,
                "The final state h_2 is also used outside the sequence: "
                "dh_2 = dY[:, 1] + dstate_T."),
        Mistake("no gradient carried from step 2 back to h_1", not_carried,
                "Step 2 reads h_1 through W_h = W[D:]: add da_2 @ W[D:].T to dh_1."),
        Mistake("dW and db from step 2 only", last_step_only,
                "W and b are used at both steps: add the gradients of both."),
    ]
    cases = [
        _two_step_case(0, 2, 3, 4),
        _two_step_case(1, 1, 2, 3, with_dstate=False),
        _two_step_case(2, 3, 2, 2),
        _two_step_case(3, 2, 3, 3, dtype=np.float32),
    ]
    return run_check("rnn_two_step_backward", student_fn, cases, _reference_two_step,
                     hints=hints, output_name="(dX, dh0, dW, db)", rtol=1e-4, atol=1e-5,
                     forbidden=FORBIDDEN["rnn_two_step_backward"])


# ------------------------------------------------------------------------ truncated BPTT


def _bptt_case(seed, N, T, D, H, k, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, T, D)).astype(dtype)
    dY = rng.normal(size=(N, T, H)).astype(dtype)
    params = rnn.init_params(D, H, rng=rng, dtype=dtype)
    params["W"] *= dtype(2.0)  # strong recurrence, so cutting the gradient changes it
    return Case((X, dY, params, k), label=f"N={N}, T={T}, D={D}, H={H}, k={k}")


def _chunked_grads(X, dY, params, k, *, carry_state=True, chunks=None):
    """Gradients of the chunks of length k (all chunks, or those whose index is in chunks)."""
    T = X.shape[1]
    total = {name: np.zeros_like(p) for name, p in params.items()}
    state = None
    for number, start in enumerate(range(0, T, k)):
        Y, state_T, cache = rnn.forward(X[:, start:start + k], state, params)
        if chunks is None or number in chunks:
            _, _, grads = rnn.backward(dY[:, start:start + k], None, cache)
            for name in total:
                total[name] += grads[name]
        state = state_T if carry_state else None
    return total


def _reference_truncated_bptt(X, dY, params, k):
    return _chunked_grads(X, dY, params, k)


def rnn_truncated_bptt(student_fn):
    """Check ``student_fn(X, dY, params, k) -> grads``, truncated BPTT over chunks of k steps.

    Parameters
    ----------
    student_fn : callable
        Takes X (N, T, D), dY (N, T, H) (the gradient of the loss with respect to every
        hidden state output), the RNN's params {"W": (D+H, H), "b": (H,)} and the chunk
        length k; runs the sequence in chunks of k steps (the last one may be shorter),
        carrying the hidden state forward from chunk to chunk but starting each chunk's
        backward pass with no gradient from the future; returns the summed gradients
        {"W": (D+H, H), "b": (H,)}.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def full_bptt(X, dY, params, k):
        _, _, cache = rnn.forward(X, None, params)
        return rnn.backward(dY, None, cache)[2]

    def state_reset(X, dY, params, k):
        return _chunked_grads(X, dY, params, k, carry_state=False)

    def last_chunk_only(X, dY, params, k):
        last = (X.shape[1] - 1) // k
        return _chunked_grads(X, dY, params, k, chunks={last})

    def remainder_dropped(X, dY, params, k):
        full_chunks = set(range(X.shape[1] // k))
        return _chunked_grads(X, dY, params, k, chunks=full_chunks)

    hints = [
        Mistake("full backpropagation through time, without truncation", full_bptt,
                "Run rnn.backward on each chunk separately with dstate_T=None, so no gradient "
                "crosses a chunk boundary."),
        Mistake("chunks that each start from a zero state", state_reset,
                "Only the gradient is cut at a boundary: pass the previous chunk's final "
                "state as the next chunk's state0."),
        Mistake("the gradient of the last chunk only", last_chunk_only,
                "Add up the gradients of all chunks."),
        Mistake("the last, shorter chunk left out", remainder_dropped,
                "When k does not divide T the last chunk is shorter; "
                "range(0, T, k) gives every chunk's start."),
    ]
    cases = [
        _bptt_case(0, 2, 8, 3, 4, 4),
        _bptt_case(1, 3, 7, 2, 3, 3),
        _bptt_case(2, 1, 6, 2, 2, 1),
        _bptt_case(3, 2, 9, 3, 3, 4, dtype=np.float32),
    ]
    return run_check("rnn_truncated_bptt", student_fn, cases, _reference_truncated_bptt,
                     hints=hints, output_name="grads", rtol=1e-4, atol=1e-5,
                     forbidden=FORBIDDEN["rnn_truncated_bptt"])


# ------------------------------------------------------------------------------ clipping


def _reference_clip(grads, max_norm):
    clipped = {name: g.copy() for name, g in grads.items()}
    norm = optim.clip_grad_norm(clipped, max_norm)
    return clipped, norm


def _grads_case(seed, scale, max_norm, dtype=np.float64, label=""):
    rng = np.random.default_rng(seed)
    grads = {
        "W": (scale * rng.normal(size=(5, 3))).astype(dtype),
        "b": (scale * rng.normal(size=(3,))).astype(dtype),
        "out.W": (scale * rng.normal(size=(3, 2))).astype(dtype),
    }
    return Case((grads, max_norm), label=label)


def rnn_clip_grad_norm(student_fn):
    """Check ``student_fn(grads, max_norm) -> (clipped, norm)``, clipping by the global norm.

    Parameters
    ----------
    student_fn : callable
        Takes a dict of gradient arrays and a threshold ``max_norm`` > 0; returns a new dict
        with the same keys, every array multiplied by ``max_norm / norm`` when the global
        norm ``norm`` of all arrays together exceeds ``max_norm`` (unchanged otherwise),
        and ``norm`` itself, measured before clipping. Scaling the arrays of ``grads`` in
        place and returning that dict is fine too (that is what
        :func:`rnnlib.optim.clip_grad_norm` does).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def each_separately(grads, max_norm):
        clipped = {}
        for name, g in grads.items():
            n = np.linalg.norm(g)
            clipped[name] = g * (max_norm / n) if n > max_norm else g.copy()
        return clipped, optim.global_norm(grads)

    def value_clipping(grads, max_norm):
        clipped = {name: np.clip(g, -max_norm, max_norm) for name, g in grads.items()}
        return clipped, optim.global_norm(grads)

    def always_rescaled(grads, max_norm):
        norm = optim.global_norm(grads)
        clipped = {name: g * g.dtype.type(max_norm / norm) for name, g in grads.items()}
        return clipped, norm

    def norm_after(grads, max_norm):
        clipped, norm = _reference_clip(grads, max_norm)
        return clipped, min(norm, max_norm)

    hints = [
        Mistake("each array clipped by its own norm", each_separately,
                "Clip by the global norm, sqrt of the sum of squares of every entry of every "
                "array, and scale all arrays by the same factor so the direction is kept."),
        Mistake("clipping each entry to [-max_norm, max_norm]", value_clipping,
                "That is value clipping, which changes the gradient's direction. Compute one "
                "norm over all arrays and rescale them all by max_norm / norm."),
        Mistake("gradients rescaled even when their norm is below max_norm", always_rescaled,
                "Rescale only when norm > max_norm; small gradients pass unchanged."),
        Mistake("the norm measured after clipping", norm_after,
                "Return the norm before clipping: it is what you plot to see how often "
                "clipping acts."),
    ]
    cases = [
        _grads_case(0, 10.0, 1.0, label="global norm above max_norm"),
        _grads_case(1, 0.1, 5.0, label="global norm below max_norm"),
        _grads_case(2, 3.0, 2.0, dtype=np.float32, label="float32, norm above max_norm"),
    ]
    def upcast(grads, max_norm):  # float32 * NumPy float64 scalar gives float64 (NEP 50)
        norm = optim.global_norm(grads)
        scale = np.float64(max_norm / norm if norm > max_norm else 1.0)
        return {name: g * scale for name, g in grads.items()}, norm

    hints.append(Mistake("float32 gradients returned as float64", upcast,
                         "Multiplying a float32 array by a NumPy float64 number gives float64; "
                         "scale by g.dtype.type(scale) to keep each array's dtype."))
    return run_check("rnn_clip_grad_norm", student_fn, cases, _reference_clip, hints=hints,
                     output_name="(clipped, norm)", rtol=1e-5, atol=1e-7,
                     forbidden=FORBIDDEN["rnn_clip_grad_norm"])


def _reference_clip_by_value(grads, clip_value):
    return {name: np.clip(g, -clip_value, clip_value) for name, g in grads.items()}


def rnn_clip_by_value(student_fn):
    """Check ``student_fn(grads, clip_value) -> clipped``, clipping every entry to an interval.

    Parameters
    ----------
    student_fn : callable
        Takes a dict of gradient arrays and a threshold ``clip_value`` > 0; returns a new
        dict with the same keys and arrays of the same shapes and dtypes, every entry
        limited to ``[-clip_value, clip_value]``.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def global_norm_instead(grads, clip_value):
        clipped, _ = _reference_clip(grads, clip_value)
        return clipped

    def upper_side_only(grads, clip_value):
        return {name: np.minimum(g, clip_value) for name, g in grads.items()}

    def absolute_values(grads, clip_value):
        return {name: np.minimum(np.abs(g), clip_value) for name, g in grads.items()}

    hints = [
        Mistake("clipping by the global norm", global_norm_instead,
                "Value clipping treats every entry alone: np.clip(g, -clip_value, clip_value)."),
        Mistake("only the upper side clipped", upper_side_only,
                "Large negative entries must be limited too, to -clip_value."),
        Mistake("the signs lost", absolute_values,
                "Clipping keeps the sign of each entry: np.clip, not np.abs."),
    ]
    cases = [
        _grads_case(0, 10.0, 1.0, label="large entries, clip_value 1"),
        _grads_case(1, 0.1, 5.0, label="every entry inside the interval"),
        _grads_case(2, 3.0, 2.0, dtype=np.float32, label="float32, clip_value 2"),
    ]
    return run_check("rnn_clip_by_value", student_fn, cases, _reference_clip_by_value,
                     hints=hints, output_name="clipped", rtol=1e-6, atol=1e-7,
                     forbidden=FORBIDDEN["rnn_clip_by_value"])


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them).
FORBIDDEN = {
    "rnn_step_forward": (
        _reference_step_forward, rnn.step_forward, rnn.forward, fast_rnn.forward,
    ),
    "rnn_step_backward": (
        _reference_step_backward, rnn.step_backward, rnn.backward, fast_rnn.backward,
    ),
    "rnn_two_step_backward": (
        _reference_two_step, rnn.step_forward, rnn.forward, rnn.step_backward,
        rnn.backward, fast_rnn.forward, fast_rnn.backward,
    ),
    "rnn_truncated_bptt": (_reference_truncated_bptt,),
    "rnn_clip_grad_norm": (_reference_clip, optim.clip_grad_norm),
    "rnn_clip_by_value": (_reference_clip_by_value,),
}
