"""Automatic checks for the exercises of the chapter on minGRU and the scan.

- :func:`mingru_combine`: the scan's operator on pairs (a, b), (scan-combine);
- :func:`mingru_hillis_steele`: an inclusive prefix scan of the pairs, Hillis and Steele's
  way;
- :func:`mingru_log_scan_backward`: the gradients of the log-space scan with respect to
  :math:`\\log a_t` and :math:`\\log b_t`;
- :func:`mingru_minlstm_step`: one step of minLSTM.

Each compares the learner's function with :mod:`rnnlib.scan` or :mod:`rnnlib.mingru` on a
few fixed cases (float64 and float32, a length that is not a power of two, a batch of one)
and recognises the usual mistakes: the two maps composed in the wrong order, an exclusive
scan where an inclusive one is asked for, the factor :math:`a_t` or :math:`h_{t-1}`
forgotten, minLSTM's gates left unnormalised.
"""

import numpy as np

from rnnlib import mingru, scan
from rnnlib.activations import sigmoid
from rnnlib.checks._core import Case, Mistake, run_check

__all__ = [
    "mingru_combine",
    "mingru_hillis_steele",
    "mingru_log_scan_backward",
    "mingru_minlstm_step",
]


def _pairs(seed, N, T, H, dtype=np.float64):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.2, 1.0, (N, T, H)).astype(dtype)
    B = rng.normal(size=(N, T, H)).astype(dtype)
    return A, B


# ------------------------------------------------------------------------------ combine


def mingru_combine(student_fn):
    """Check ``student_fn(left, right) -> (a, b)``, the scan's operator (scan-combine).

    Parameters
    ----------
    student_fn : callable
        Takes two pairs ``left = (a, b)`` and ``right = (a2, b2)`` of arrays of one shape
        and returns the pair of the map "apply left, then right": ``(a2 * a, a2 * b + b2)``.

    Returns
    -------
    CheckResult
    """
    cases = []
    for seed, shape, dtype, label in [(0, (2, 3), np.float64, "shape (2, 3)"),
                                      (1, (1, 4), np.float64, "shape (1, 4)"),
                                      (2, (3, 2), np.float32, "float32, shape (3, 2)")]:
        rng = np.random.default_rng(seed)
        a, b, a2, b2 = (rng.uniform(0.2, 2.0, shape).astype(dtype) for _ in range(4))
        cases.append(Case(((a, b), (a2, b2)), label=label))
    rng = np.random.default_rng(3)
    a, a2 = rng.uniform(0.2, 2.0, (2, 3)), rng.uniform(0.2, 2.0, (2, 3))
    b, b2 = rng.uniform(-2.0, -0.2, (2, 3)), rng.uniform(-2.0, 2.0, (2, 3))
    cases.append(Case(((a, b), (a2, b2)), label="negative b, shape (2, 3)"))
    hints = [
        Mistake("the maps composed the other way round, right first, then left",
                lambda left, right: scan.combine(right, left),
                "The pair (a, b) is the step h -> a h + b. Apply left first: "
                "a2 (a h + b) + b2 = (a2 a) h + (a2 b + b2)."),
        Mistake("b2 + b instead of a2 * b + b2",
                lambda left, right: (left[0] * right[0], left[1] + right[1]),
                "The right step multiplies everything that came before, b included."),
    ]
    return run_check("mingru_combine", student_fn, cases, reference=scan.combine, hints=hints,
                     output_name="(a, b)", forbidden=FORBIDDEN["mingru_combine"])


# ------------------------------------------------------------------------ Hillis-Steele


def _exclusive(A, B):
    return scan.blelloch_scan(A, B)


def _without_doubling(A, B):
    """A scan whose offset grows by one each level instead of doubling."""
    A, B = A.copy(), B.copy()
    T = A.shape[1]
    d = 1
    while d < T and d < int(np.ceil(np.log2(T))) + 1:
        A[:, d:], B[:, d:] = scan.combine((A[:, :-d], B[:, :-d]), (A[:, d:], B[:, d:]))
        d += 1
    return A, B


def _a_first(A, B):
    """Hillis-Steele with A updated before B is computed from it."""
    A, B = A.copy(), B.copy()
    d = 1
    while d < A.shape[1]:
        A[:, d:] = A[:, d:] * A[:, :-d]
        B[:, d:] = A[:, d:] * B[:, :-d] + B[:, d:]
        d *= 2
    return A, B


def mingru_hillis_steele(student_fn):
    """Check ``student_fn(A, B) -> (A_prefix, B_prefix)``, an inclusive scan of the pairs.

    Parameters
    ----------
    student_fn : callable
        Takes A and B (N, T, H) and returns :math:`A_t = \\prod_{k \\le t} a_k` and
        :math:`B_t` of (scan-prefix), both (N, T, H), without changing its arguments.

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(_pairs(0, 2, 8, 3), label="N=2, T=8, H=3"),
        Case(_pairs(1, 1, 13, 2), label="T=13, not a power of two"),
        Case(_pairs(2, 2, 1, 2), label="T=1"),
        Case(_pairs(3, 2, 6, 2, np.float32), label="float32, T=6"),
    ]
    hints = [
        Mistake("an exclusive scan (each position holds the pairs before it)", _exclusive,
                "Position t must include pair t itself: h_t = A_t h_0 + B_t."),
        Mistake("A updated before B is computed from it", _a_first,
                "B's update needs the old A[:, d:]: compute both right-hand sides first "
                "(one tuple assignment), or update B before A."),
        Mistake("an offset that grows by one each level instead of doubling",
                _without_doubling, "The offset doubles: 1, 2, 4, ..., so log2 T levels "
                                   "cover the whole sequence."),
    ]
    return run_check("mingru_hillis_steele", student_fn, cases,
                     reference=scan.hillis_steele_scan, hints=hints,
                     output_name="(A_prefix, B_prefix)",
                     forbidden=FORBIDDEN["mingru_hillis_steele"])


# -------------------------------------------------------------------- log-space backward


def _log_case(seed, N, T, H, dtype=np.float64):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.3, 0.95, (N, T, H)).astype(dtype)
    B = rng.uniform(0.1, 1.0, (N, T, H)).astype(dtype)
    h0 = rng.uniform(0.1, 1.0, (N, H)).astype(dtype)
    Y, _, _ = scan.sequential_forward(A, B, h0)
    dY = rng.normal(size=(N, T, H)).astype(dtype)
    return dY, Y, A, B, h0


def _reference_log_backward(dY, Y, A, B, h0):
    _, _, cache = scan.log_forward(np.log(A), np.log(B), np.log(h0))
    dlog_A, dlog_B, _ = scan.log_backward(dY, None, cache)
    return dlog_A, dlog_B


def _plain_grads(dY, Y, A, B, h0):
    _, _, cache = scan.sequential_forward(A, B, h0)
    dA, dB, _ = scan.sequential_backward(dY, None, cache)
    return dA, dB


def _h_t_not_h_prev(dY, Y, A, B, h0):
    dA, dB = _plain_grads(dY, Y, A, B, h0)
    H_prev = np.concatenate([h0[:, None], Y[:, :-1]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return A * dA / H_prev * Y, B * dB


def _no_future(dY, Y, A, B, h0):
    H_prev = np.concatenate([h0[:, None], Y[:, :-1]], axis=1)
    return A * dY * H_prev, B * dY


def mingru_log_scan_backward(student_fn):
    """Check ``student_fn(dY, Y, A, B, h0) -> (dlog_A, dlog_B)``.

    Parameters
    ----------
    student_fn : callable
        Takes the gradient dY (N, T, H) with respect to the states, the states Y (N, T, H)
        of :math:`h_t = a_t h_{t-1} + b_t`, the positive coefficients A and B (N, T, H) and
        h0 (N, H), and returns the gradients with respect to :math:`\\log a_t` and
        :math:`\\log b_t`.

    Returns
    -------
    CheckResult
    """
    # Y is the forward pass of A, B and h0: grading mode must not redraw them apart.
    cases = [
        Case(_log_case(0, 2, 6, 3), label="N=2, T=6, H=3", redraw=False),
        Case(_log_case(1, 1, 9, 2), label="N=1, T=9, H=2", redraw=False),
        Case(_log_case(2, 2, 1, 2), label="T=1", redraw=False),
        Case(_log_case(3, 2, 5, 2, np.float32), label="float32, T=5", redraw=False),
    ]
    hints = [
        Mistake("the gradients with respect to a_t and b_t, not their logarithms",
                _plain_grads, "d/d(log a) = a d/da: multiply by A and by B."),
        Mistake("h_t where h_{t-1} belongs", _h_t_not_h_prev,
                "a_t multiplies the previous state: the gradient of a_t is g_t h_{t-1}."),
        Mistake("only the gradient from each step's own output (no g_t from the future)",
                _no_future, "g_t = dY_t + a_{t+1} g_{t+1}: run that recurrence backwards "
                            "in time first (or scan it)."),
    ]
    return run_check("mingru_log_scan_backward", student_fn, cases,
                     reference=_reference_log_backward, hints=hints,
                     output_name="(dlog_A, dlog_B)", rtol=1e-5, atol=1e-6,
                     forbidden=FORBIDDEN["mingru_log_scan_backward"])


# -------------------------------------------------------------------------- minLSTM step


def _step_case(seed, N, D, H, dtype=np.float64, zero_state=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(dtype)
    h_prev = (np.zeros((N, H)) if zero_state else rng.normal(size=(N, H))).astype(dtype)
    params = {"W": rng.normal(scale=0.7, size=(D, 3 * H)).astype(dtype),
              "b": rng.normal(scale=0.5, size=(3 * H,)).astype(dtype)}
    return x, h_prev, params


def _reference_minlstm(x, h_prev, params):
    return mingru.step_forward(x, h_prev, params, variant="minlstm")[0]


def _gates(x, params):
    H = params["b"].shape[0] // 3
    P = x @ params["W"] + params["b"]
    return sigmoid(P[:, :H]), sigmoid(P[:, H : 2 * H]), P[:, 2 * H :]


def _unnormalised(x, h_prev, params):
    f, i, a = _gates(x, params)
    return f * h_prev + i * a


def _tanh_candidate(x, h_prev, params):
    f, i, a = _gates(x, params)
    return f / (f + i) * h_prev + i / (f + i) * np.tanh(a)


def _gru_like(x, h_prev, params):
    f, i, a = _gates(x, params)
    return (1 - i) * h_prev + i * a


def mingru_minlstm_step(student_fn):
    """Check ``student_fn(x, h_prev, params) -> h``, one minLSTM step (minlstm-step).

    Parameters
    ----------
    student_fn : callable
        Takes x (N, D), h_prev (N, H) and params {"W": (D, 3H), "b": (3H,)} with column
        blocks f, i, a, and returns h (N, H).

    Returns
    -------
    CheckResult
    """
    cases = [
        Case(_step_case(0, 2, 3, 4), label="N=2, D=3, H=4"),
        Case(_step_case(1, 1, 2, 3), label="one sequence, N=1"),
        Case(_step_case(2, 2, 4, 2, zero_state=True), label="zero state"),
        Case(_step_case(3, 2, 3, 3, np.float32), label="float32"),
    ]
    hints = [
        Mistake("the gates not normalised, h = f h_prev + i a", _unnormalised,
                "minLSTM divides both gates by f + i so that they sum to one."),
        Mistake("a tanh on the candidate", _tanh_candidate,
                "Feng et al.'s minimal cells use the candidate x W_a + b_a as it is."),
        Mistake("minGRU's update, h = (1 - i) h_prev + i a", _gru_like,
                "minLSTM has its own forget gate f; the weights are f/(f+i) and i/(f+i)."),
    ]
    return run_check("mingru_minlstm_step", student_fn, cases, reference=_reference_minlstm,
                     hints=hints, output_name="h", forbidden=FORBIDDEN["mingru_minlstm_step"])


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them). The scans give
# the operator too, as the last pair of a scan of two steps; Blelloch's exclusive scan
# is one combine away from the inclusive one, and the recurrence run twice (h0 = 0 for
# B_t; B = 0 and h0 = 1 for A_t) gives the prefix pairs. The Hillis-Steele exercise may
# call combine, the operator the exercise before it wrote; the log-space backward may run
# a forward pass or a scan for g_t, but not a backward pass that returns the gradients.
# mingru._coefficients returns minLSTM's normalised gates, leaving one line to write.
FORBIDDEN = {
    "mingru_combine": (scan.combine, scan.hillis_steele_scan),
    "mingru_hillis_steele": (
        scan.hillis_steele_scan, scan.blelloch_scan, scan.sequential_forward,
        scan.parallel_forward,
    ),
    "mingru_log_scan_backward": (
        _reference_log_backward, scan.log_backward, scan.sequential_backward,
        scan.parallel_backward,
    ),
    "mingru_minlstm_step": (
        _reference_minlstm, mingru.step_forward, mingru.forward, mingru._coefficients,
    ),
}
