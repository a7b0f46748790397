"""Automatic checks for the exercises of the LSTM chapter.

- :func:`lstm_step_forward`: one forward step, gates in the memo's order f, i, a, o;
- :func:`lstm_step_backward`: the gradients of that step;
- :func:`lstm_peephole_step_forward`: a step with peephole connections (Gers et al. 2002);
- :func:`lstm_coupled_step_forward`: a step with coupled input and forget gates,
  :math:`f_t = 1 - i_t`.

Each compares the learner's function with a reference on a few fixed cases (float64 and
float32, a batch of one, a zero state, and one case with D + H = 4H, where a transposed
weight matrix still has the right shape and only its values can give it away) and recognises
the usual mistakes: the gates taken in PyTorch's order i, f, g, o, the forget gate left out
of the state update (the memo's slip), ``W @ z`` instead of ``z @ W``, and more.
"""

import numpy as np

from rnnlib import lstm
from rnnlib.activations import sigmoid
from rnnlib.checks._core import Case, Mistake, run_check
from rnnlib.fast import lstm as fast_lstm

__all__ = [
    "lstm_coupled_step_forward",
    "lstm_peephole_step_forward",
    "lstm_step_backward",
    "lstm_step_forward",
]

_TOLERANCES = {"rtol": 1e-5, "atol": 1e-6}


def _step_arrays(seed, N, D, H, dtype=np.float64, zero_state=False, blocks=4):
    """Fixed random x (N, D), h_prev, s_prev (N, H), W (D+H, blocks*H), b (blocks*H,)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(dtype)
    if zero_state:
        h_prev = np.zeros((N, H), dtype)
        s_prev = np.zeros((N, H), dtype)
    else:
        h_prev = rng.uniform(-1, 1, (N, H)).astype(dtype)
        s_prev = rng.normal(scale=1.5, size=(N, H)).astype(dtype)
    W = rng.normal(scale=0.8, size=(D + H, blocks * H)).astype(dtype)
    b = rng.normal(scale=0.5, size=(blocks * H,)).astype(dtype)
    return x, h_prev, s_prev, W, b


def _step_cases(blocks=4):
    # The first case has D + H == blocks * H, so W is square and a transposed product runs
    # without a shape error; its wrong values are then recognised as the transposed-W mistake.
    square_D = (blocks - 1) * 2
    return [
        Case(_step_arrays(0, 2, square_D, 2, blocks=blocks),
             label=f"N=2, D={square_D}, H=2 (W is square)"),
        Case(_step_arrays(1, 3, 3, 4, blocks=blocks), label="N=3, D=3, H=4"),
        Case(_step_arrays(2, 1, 2, 3, blocks=blocks), label="one sequence, N=1, D=2, H=3"),
        Case(_step_arrays(3, 2, 4, 3, zero_state=True, blocks=blocks),
             label="zero state, N=2, D=4, H=3"),
        Case(_step_arrays(4, 2, 3, 3, dtype=np.float32, blocks=blocks),
             label="float32, N=2, D=3, H=3"),
    ]


def _blocks(x, h_prev, W, b, n_blocks, *, transposed=False, swapped_concat=False):
    """Pre-activation blocks of z @ W + b (or of a usual mistake), each (N, H)."""
    z = np.concatenate([h_prev, x] if swapped_concat else [x, h_prev], axis=1)
    P = (z @ W.T if transposed else z @ W) + b
    return np.split(P, n_blocks, axis=1)


# ----------------------------------------------------------------------------- forward


def _reference_step_forward(x, h_prev, s_prev, W, b):
    h, (_, s), _ = lstm.step_forward(x, (h_prev, s_prev), {"W": W, "b": b})
    return h, s


def _forward_variant(x, h_prev, s_prev, W, b, *, order="fiao", forget=True,
                     a_activation=np.tanh, squash_output=True, **block_options):
    """The step forward computed with one deliberate change (a usual mistake)."""
    P = dict(zip(order, _blocks(x, h_prev, W, b, 4, **block_options), strict=True))
    f, i, a, o = sigmoid(P["f"]), sigmoid(P["i"]), a_activation(P["a"]), sigmoid(P["o"])
    s = (f * s_prev if forget else s_prev) + i * a
    h = o * (np.tanh(s) if squash_output else s)
    return h, s


def lstm_step_forward(student_fn):
    """Check ``student_fn(x, h_prev, s_prev, W, b) -> (h, s)``, one step of the LSTM.

    Parameters
    ----------
    student_fn : callable
        Takes x (N, D), h_prev (N, H), s_prev (N, H), W (D+H, 4H) with column blocks in the
        order f, i, a, o, and b (4H,); returns the new output h (N, H) and cell state
        s (N, H), in the dtype of its inputs (book equations ``lstm-concat`` to
        ``lstm-output``).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def variant(**options):
        return lambda x, h_prev, s_prev, W, b: _forward_variant(x, h_prev, s_prev, W, b,
                                                                **options)

    def transposed(x, h_prev, s_prev, W, b):
        # Only a square W can be used transposed without a shape error; otherwise the
        # learner's code raised and the exception is reported instead.
        if W.shape[0] != W.shape[1]:
            return None
        return _forward_variant(x, h_prev, s_prev, W, b, transposed=True)

    def swapped_outputs(x, h_prev, s_prev, W, b):
        h, s = _reference_step_forward(x, h_prev, s_prev, W, b)
        return s, h

    hints = [
        Mistake("the gates taken in PyTorch's order i, f, g, o", variant(order="ifao"),
                "rnnlib and the book stack the blocks of W as f, i, a, o (the memo's order): "
                "W[:, :H] is the forget gate and W[:, H:2H] the input gate."),
        Mistake("the memo's state update s = s_prev + i * a, without the forget gate",
                variant(forget=False),
                "The forget gate is computed but never used: s = f * s_prev + i * a."),
        Mistake("a transposed weight matrix (W @ z, or z @ W.T)", transposed,
                "W has shape (D+H, 4H) and acts on the row z = [x, h_prev] from the right: "
                "z @ W + b."),
        Mistake("the concatenation in the order [h_prev, x]", variant(swapped_concat=True),
                "The book's z_t is [x_t, h_{t-1}]: W[:D] multiplies x and W[D:] h_prev."),
        Mistake("a sigmoid for the input activation a", variant(a_activation=sigmoid),
                "a is the candidate content, in (-1, 1): a = tanh(...). Only f, i and o are "
                "sigmoids."),
        Mistake("the output o * s without the tanh", variant(squash_output=False),
                "The output is h = o * tanh(s)."),
        Mistake("(s, h) returned in the wrong order", swapped_outputs,
                "Return the output first, then the cell state: return h, s."),
    ]
    return run_check("lstm_step_forward", student_fn, _step_cases(), _reference_step_forward,
                     hints=hints, output_name="(h, s)", **_TOLERANCES,
                     forbidden=FORBIDDEN["lstm_step_forward"])


# ---------------------------------------------------------------------------- backward


def _backward_cases():
    cases = []
    for number, case in enumerate(_step_cases()):
        x, h_prev, s_prev, W, b = case.args
        rng = np.random.default_rng(200 + number)
        N, H = h_prev.shape
        dh = rng.normal(size=(N, H)).astype(x.dtype)
        ds_next = rng.normal(size=(N, H)).astype(x.dtype)
        cases.append(Case((dh, ds_next, x, h_prev, s_prev, W, b), label=case.label))
    return cases


def _reference_step_backward(dh, ds_next, x, h_prev, s_prev, W, b):
    _, _, cache = lstm.step_forward(x, (h_prev, s_prev), {"W": W, "b": b})
    dx, (dh_prev, ds_prev), grads = lstm.step_backward(
        dh, (np.zeros_like(dh), ds_next), cache)
    return dx, dh_prev, ds_prev, grads["W"], grads["b"]


def _backward_variant(dh, ds_next, x, h_prev, s_prev, W, b, *, carousel_f=True,
                      output_tanh_grad=True, use_ds_next=True, order="fiao",
                      dh_prev_blocks="fiao", f_on_ds_next=False):
    """The step backward computed with one deliberate change (a usual mistake).

    ``dh_prev_blocks`` names the blocks whose pre-activation gradients reach ``dh_prev``
    (all four when right); ``f_on_ds_next`` multiplies the incoming ``ds_next`` by this
    step's forget gate, although step t+1 has already applied its own.
    """
    D, H = x.shape[1], h_prev.shape[1]
    z = np.concatenate([x, h_prev], axis=1)
    f, i, a, o = np.split(z @ W + b, 4, axis=1)
    f, i, a, o = sigmoid(f), sigmoid(i), np.tanh(a), sigmoid(o)
    tanh_s = np.tanh(f * s_prev + i * a)
    ds_in = (ds_next * f if f_on_ds_next else ds_next) if use_ds_next else 0
    ds = ds_in + dh * o * ((1 - tanh_s**2) if output_tanh_grad else 1)
    pre = {
        "f": ds * s_prev * f * (1 - f),
        "i": ds * a * i * (1 - i),
        "a": ds * i * (1 - a**2),
        "o": dh * tanh_s * o * (1 - o),
    }
    dP = np.concatenate([pre[name] for name in order], axis=1)  # (N, 4H)
    dz = dP @ W.T
    ds_prev = ds * f if carousel_f else ds
    kept = np.concatenate([np.full(H, name in dh_prev_blocks) for name in order])  # (4H,)
    dh_prev = (dP * kept) @ W[D:].T  # (N, H): through the kept blocks only
    return dz[:, :D], dh_prev, ds_prev, z.T @ dP, dP.sum(axis=0)


def lstm_step_backward(student_fn):
    """Check ``student_fn(dh, ds_next, x, h_prev, s_prev, W, b)``, one LSTM step backward.

    Parameters
    ----------
    student_fn : callable
        Takes dh (N, H), the total gradient of the loss with respect to the output
        :math:`h_t`; ds_next (N, H), the gradient reaching the cell state :math:`s_t` from
        step t+1; and the step's inputs x (N, D), h_prev, s_prev (N, H), W (D+H, 4H) in
        blocks f, i, a, o, b (4H,). Returns ``(dx, dh_prev, ds_prev, dW, db)`` with the
        shapes of x, h_prev, s_prev, W and b (book equations ``lstm-do`` to
        ``lstm-dweights``).

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def variant(**options):
        return lambda *args: _backward_variant(*args, **options)

    hints = [
        Mistake("a carousel without the forget gate, ds_prev = ds",
                variant(carousel_f=False),
                "s_t = f * s_prev + i * a, so ds_prev = ds * f (lstm-dgates)."),
        Mistake("the output path without the derivative of tanh(s)",
                variant(output_tanh_grad=False),
                "h = o * tanh(s): the gradient reaching s from h is dh * o * (1 - tanh(s)**2)."),
        Mistake("a state gradient that ignores ds_next", variant(use_ds_next=False),
                "s_t is used twice, by the output and by the next step: add ds_next to the "
                "gradient from the output (lstm-ds)."),
        Mistake("the pre-activation gradients stacked in the order i, f, a, o",
                variant(order="ifao"),
                "Stack them in the order of W's column blocks, f, i, a, o."),
        Mistake("dh_prev through the output gate's block only", variant(dh_prev_blocks="o"),
                "h_prev feeds all four gates through z = [x, h_prev]: dh_prev is the h part of "
                "dz = dP @ W.T with all four blocks of dP (lstm-dweights)."),
        Mistake("ds_next multiplied by this step's forget gate", variant(f_on_ds_next=True),
                "ds_next arrives already multiplied by step t+1's forget gate; add it as it is "
                "(lstm-ds), and multiply by this step's f only for ds_prev."),
    ]
    return run_check("lstm_step_backward", student_fn, _backward_cases(),
                     _reference_step_backward, hints=hints,
                     output_name="(dx, dh_prev, ds_prev, dW, db)", rtol=1e-4, atol=1e-5,
                     forbidden=FORBIDDEN["lstm_step_backward"])


# ---------------------------------------------------------------------------- peepholes


def _peephole_cases():
    cases = []
    for number, case in enumerate(_step_cases()):
        x, h_prev, s_prev, W, b = case.args
        rng = np.random.default_rng(300 + number)
        H = h_prev.shape[1]
        p = {name: rng.normal(size=(H,)).astype(x.dtype) for name in ("f", "i", "o")}
        cases.append(Case((x, h_prev, s_prev, W, b, p), label=case.label))
    return cases


def _peephole_variant(x, h_prev, s_prev, W, b, p, *, output_sees="s", use_peepholes=True):
    """A peephole LSTM step (Gers, Schraudolph and Schmidhuber 2002), or a usual mistake."""
    P = dict(zip("fiao", _blocks(x, h_prev, W, b, 4), strict=True))
    scale = 1.0 if use_peepholes else 0.0
    f = sigmoid(P["f"] + scale * p["f"] * s_prev)
    i = sigmoid(P["i"] + scale * p["i"] * s_prev)
    a = np.tanh(P["a"])
    s = f * s_prev + i * a
    o = sigmoid(P["o"] + scale * p["o"] * (s if output_sees == "s" else s_prev))
    return o * np.tanh(s), s


def _reference_peephole(x, h_prev, s_prev, W, b, p):
    return _peephole_variant(x, h_prev, s_prev, W, b, p)


def lstm_peephole_step_forward(student_fn):
    """Check ``student_fn(x, h_prev, s_prev, W, b, p) -> (h, s)``, a step with peepholes.

    Parameters
    ----------
    student_fn : callable
        As for :func:`lstm_step_forward`, plus ``p``, a dict of peephole weights ``"f"``,
        ``"i"``, ``"o"``, each (H,): the forget and input gates add ``p["f"] * s_prev`` and
        ``p["i"] * s_prev`` to their pre-activations, the output gate adds ``p["o"] * s``
        with the new state s.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def old_state_for_o(*args):
        return _peephole_variant(*args, output_sees="s_prev")

    def no_peepholes(*args):
        return _peephole_variant(*args, use_peepholes=False)

    hints = [
        Mistake("an output gate that looks at the previous state s_prev", old_state_for_o,
                "The output gate is computed after the update, so it looks at the new "
                "state: o = sigmoid(... + p['o'] * s)."),
        Mistake("the plain LSTM step, without the peephole terms", no_peepholes,
                "Add p['f'] * s_prev, p['i'] * s_prev and p['o'] * s to the pre-activations "
                "of f, i and o."),
    ]
    return run_check("lstm_peephole_step_forward", student_fn, _peephole_cases(),
                     _reference_peephole, hints=hints, output_name="(h, s)", **_TOLERANCES,
                     forbidden=FORBIDDEN["lstm_peephole_step_forward"])


# ------------------------------------------------------------------ coupled input/forget


def _coupled_variant(x, h_prev, s_prev, W, b, *, keep="1-i"):
    """A step with f = 1 - i and blocks i, a, o (or a usual mistake about f)."""
    i, a, o = _blocks(x, h_prev, W, b, 3)
    i, a, o = sigmoid(i), np.tanh(a), sigmoid(o)
    f = {"1-i": 1 - i, "i": i, "1": 1.0}[keep]
    s = f * s_prev + i * a
    return o * np.tanh(s), s


def _reference_coupled(x, h_prev, s_prev, W, b):
    return _coupled_variant(x, h_prev, s_prev, W, b)


def lstm_coupled_step_forward(student_fn):
    """Check ``student_fn(x, h_prev, s_prev, W, b) -> (h, s)`` with coupled gates.

    Parameters
    ----------
    student_fn : callable
        Takes x (N, D), h_prev, s_prev (N, H), W (D+H, 3H) in blocks i, a, o and b (3H,);
        returns h and s (N, H) of the LSTM whose forget gate is :math:`f_t = 1 - i_t`.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def keep_i(*args):
        return _coupled_variant(*args, keep="i")

    def keep_all(*args):
        return _coupled_variant(*args, keep="1")

    def swapped_roles(x, h_prev, s_prev, W, b):
        i, a, o = _blocks(x, h_prev, W, b, 3)
        i, a, o = sigmoid(i), np.tanh(a), sigmoid(o)
        s = i * s_prev + (1 - i) * a
        return o * np.tanh(s), s

    hints = [
        Mistake("f = i instead of f = 1 - i", keep_i,
                "Coupling means the cell forgets exactly as much as it writes: f = 1 - i."),
        Mistake("the state update without forgetting, s = s_prev + i * a", keep_all,
                "Multiply s_prev by f = 1 - i."),
        Mistake("s = i * s_prev + (1 - i) * a, the roles of i and 1 - i swapped",
                swapped_roles, "i weights the new candidate a; 1 - i weights s_prev."),
    ]
    return run_check("lstm_coupled_step_forward", student_fn, _step_cases(blocks=3),
                     _reference_coupled, hints=hints, output_name="(h, s)", **_TOLERANCES,
                     forbidden=FORBIDDEN["lstm_coupled_step_forward"])


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them).
FORBIDDEN = {
    "lstm_step_forward": (
        _reference_step_forward, lstm.step_forward, lstm.forward, fast_lstm.forward,
    ),
    "lstm_step_backward": (
        _reference_step_backward, lstm.step_backward, lstm.backward, fast_lstm.backward,
    ),
    "lstm_peephole_step_forward": (_reference_peephole,),
    "lstm_coupled_step_forward": (_reference_coupled,),
}
