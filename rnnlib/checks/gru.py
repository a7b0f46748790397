"""Automatic checks for the exercises of the GRU chapter.

- :func:`gru_parameter_count`: the number of parameters of a GRU layer, both conventions;
- :func:`gru_step_forward`: one step in the memo's convention (reset before the product,
  :math:`h = (1-u) h_{prev} + u a`);
- :func:`gru_pytorch_to_cho`: converting PyTorch-convention weights to the memo's, and
  refusing (``ValueError``) where no exact conversion exists;
- :func:`gru_update_gate_backward`: the gradient of the update gate's pre-activation;
- :func:`gru_no_reset_step`: one step of a GRU whose reset gate is removed.

Each compares the learner's function with :mod:`rnnlib.gru` on a few fixed cases (float64
and float32, a batch of one, a zero state) and recognises the usual mistakes: the gates
swapped, the interpolation written PyTorch's way round (``z`` where the memo has ``u``),
the reset gate applied after the product instead of before.
"""

import copy

import numpy as np

from rnnlib import gru
from rnnlib.activations import sigmoid, sigmoid_grad_from_output
from rnnlib.checks._core import Case, CheckResult, Mistake, run_check
from rnnlib.fast import gru as fast_gru

__all__ = [
    "gru_no_reset_step",
    "gru_parameter_count",
    "gru_pytorch_to_cho",
    "gru_step_forward",
    "gru_update_gate_backward",
]

# A bias that makes a sigmoid gate exactly 1 in float32 and float64: sigma(40) rounds to 1.
_OPEN = 40.0


# ------------------------------------------------------------------------ parameter count


def _count(D, H, convention):
    return 3 * H * (D + H) + 3 * H + (H if convention == "pytorch" else 0)


def gru_parameter_count(student_fn):
    """Check ``student_fn(input_size, hidden_size, convention="cho") -> int``.

    Parameters
    ----------
    student_fn : callable
        Takes the input size D, the hidden size H and ``convention`` (``"cho"`` or
        ``"pytorch"``) and returns the number of learned numbers of a GRU layer:
        :math:`3H(D+H) + 3H`, plus H for ``b_hn`` in PyTorch's convention.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    sizes = [(3, 4), (1, 1), (10, 32), (7, 2)]
    cases = [
        Case(
            (D, H),
            {"convention": convention},
            label=f"D={D}, H={H}, {convention}",
            expected=_count(D, H, convention),
        )
        for D, H in sizes
        for convention in ("cho", "pytorch")
    ]
    hints = [
        Mistake(
            "the LSTM's count 4H(D+H) + 4H",
            lambda D, H, convention="cho": 4 * H * (D + H) + 4 * H,
            "The GRU has three blocks (r, u, a), not the LSTM's four.",
        ),
        Mistake(
            "the count without the biases",
            lambda D, H, convention="cho": 3 * H * (D + H),
            "Each of the three blocks also has a bias of H numbers.",
        ),
        Mistake(
            "torch.nn.GRU's count with two full bias vectors (6H)",
            lambda D, H, convention="cho": 3 * H * (D + H) + 6 * H,
            "bias_ih and bias_hh of the r and z blocks only act through their sum, so "
            "rnnlib keeps one bias b (3H,) plus b_hn (H,) for PyTorch's convention.",
        ),
        Mistake(
            "the memo's count for PyTorch's convention (b_hn forgotten)",
            lambda D, H, convention="cho": _count(D, H, "cho"),
            "convention='pytorch' has one more bias, b_hn (H,), inside the reset product.",
        ),
        Mistake(
            "a count with a single hidden-to-hidden block",
            lambda D, H, convention="cho": (
                3 * H * D + H * H + 3 * H + (H if convention == "pytorch" else 0)
            ),
            "Each of the three blocks has its own (H, H) recurrent weights: W is (D+H, 3H).",
        ),
    ]
    return run_check("gru_parameter_count", student_fn, cases, hints=hints, output_name="count",
                     forbidden=FORBIDDEN["gru_parameter_count"])


# ---------------------------------------------------------------------------- step forward


def _step_arrays(seed, N, D, H, dtype=np.float64, zero_state=False, blocks=3):
    """Fixed random x (N, D), h_prev (N, H) and params {"W": (D+H, G*H), "b": (G*H,)}."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(dtype)
    if zero_state:
        h_prev = np.zeros((N, H), dtype)
    else:
        h_prev = rng.uniform(-0.9, 0.9, (N, H)).astype(dtype)
    params = {
        "W": rng.normal(scale=0.7, size=(D + H, blocks * H)).astype(dtype),
        "b": rng.normal(scale=0.5, size=(blocks * H,)).astype(dtype),
    }
    return x, h_prev, params


def _step_cases(blocks=3):
    return [
        Case(_step_arrays(0, 2, 3, 4, blocks=blocks), label="N=2, D=3, H=4"),
        Case(_step_arrays(1, 1, 2, 3, blocks=blocks), label="one sequence, N=1, D=2, H=3"),
        Case(_step_arrays(2, 3, 2, 5, blocks=blocks), label="N=3, D=2, H=5"),
        Case(
            _step_arrays(3, 2, 4, 2, blocks=blocks, zero_state=True),
            label="zero state, N=2, D=4, H=2",
        ),
        Case(
            _step_arrays(4, 2, 3, 3, dtype=np.float32, blocks=blocks),
            label="float32, N=2, D=3, H=3",
        ),
    ]


def _parts(x, h_prev, params):
    """The pieces of a memo-convention step: z, r, u, and the blocks of W and b."""
    H = h_prev.shape[1]
    W, b = params["W"], params["b"]
    z = np.concatenate([x, h_prev], axis=1)  # (N, D+H)
    r = sigmoid(z @ W[:, :H] + b[:H])
    u = sigmoid(z @ W[:, H : 2 * H] + b[H : 2 * H])
    return z, r, u, W[:, 2 * H :], b[2 * H :]


def _reference_step_forward(x, h_prev, params):
    h, _, _ = gru.step_forward(x, h_prev, params, convention="cho")
    return h


def gru_step_forward(student_fn):
    """Check ``student_fn(x, h_prev, params) -> h``, one GRU step in the memo's convention.

    Parameters
    ----------
    student_fn : callable
        Takes x (N, D), h_prev (N, H) and params {"W": (D+H, 3H), "b": (3H,)} with column
        blocks r, u, a, and returns h (N, H):
        :math:`r, u = \\sigma([x, h_{prev}] W_{r,u} + b_{r,u})`,
        :math:`a = \\tanh([x, r \\odot h_{prev}] W_a + b_a)`,
        :math:`h = (1 - u) \\odot h_{prev} + u \\odot a`.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def candidate(x, h_prev, params, r):
        _, _, _, W_a, b_a = _parts(x, h_prev, params)
        return np.tanh(np.concatenate([x, r * h_prev], axis=1) @ W_a + b_a)

    def interpolation_swapped(x, h_prev, params):
        _, r, u, _, _ = _parts(x, h_prev, params)
        return u * h_prev + (1 - u) * candidate(x, h_prev, params, r)

    def gates_swapped(x, h_prev, params):
        _, r, u, _, _ = _parts(x, h_prev, params)
        return (1 - r) * h_prev + r * candidate(x, h_prev, params, u)

    def reset_after(x, h_prev, params):
        D = x.shape[1]
        _, r, u, W_a, b_a = _parts(x, h_prev, params)
        a = np.tanh(x @ W_a[:D] + b_a + r * (h_prev @ W_a[D:]))
        return (1 - u) * h_prev + u * a

    def no_reset(x, h_prev, params):
        _, r, u, _, _ = _parts(x, h_prev, params)
        return (1 - u) * h_prev + u * candidate(x, h_prev, params, np.ones_like(r))

    def sigmoid_candidate(x, h_prev, params):
        _, r, u, W_a, b_a = _parts(x, h_prev, params)
        a = sigmoid(np.concatenate([x, r * h_prev], axis=1) @ W_a + b_a)
        return (1 - u) * h_prev + u * a

    hints = [
        Mistake(
            "the update written PyTorch's way round, h = u h_prev + (1 - u) a",
            interpolation_swapped,
            "In the memo's convention u weights the candidate: "
            "h = (1 - u) * h_prev + u * a. (PyTorch's z = 1 - u weights h_prev.)",
        ),
        Mistake(
            "the reset and update gates swapped",
            gates_swapped,
            "The column blocks of W are r, u, a: W[:, :H] is the reset gate and "
            "W[:, H:2H] the update gate.",
        ),
        Mistake(
            "the reset gate applied after the product, r * (h_prev @ W_ha)",
            reset_after,
            "That is PyTorch's convention. The memo resets h_prev before the product: "
            "a = tanh([x, r * h_prev] @ W_a + b_a).",
        ),
        Mistake(
            "a candidate that ignores the reset gate",
            no_reset,
            "The candidate reads r * h_prev, not h_prev.",
        ),
        Mistake(
            "a sigmoid for the candidate",
            sigmoid_candidate,
            "The candidate a is a tanh (values in (-1, 1)); only the gates are sigmoids.",
        ),
    ]
    return run_check(
        "gru_step_forward",
        student_fn,
        _step_cases(),
        _reference_step_forward,
        hints=hints,
        output_name="h",
        rtol=1e-5,
        atol=1e-6,
                     forbidden=FORBIDDEN["gru_step_forward"])


# ----------------------------------------------------------------- PyTorch -> memo weights


def _pytorch_params(seed, D, H, dtype=np.float64, diagonal=True, b_hn_zero=True):
    rng = np.random.default_rng(seed)
    params = gru.init_params(D, H, rng=rng, dtype=dtype, convention="pytorch")
    if diagonal:
        W_hn = params["W"][D:, 2 * H :]  # (H, H) view
        W_hn[~np.eye(H, dtype=bool)] = 0
    if b_hn_zero:
        params["b_hn"][:] = 0
    return params


def _reference_pytorch_to_cho(params):
    H = params["b_hn"].shape[0]
    W, b = params["W"].copy(), params["b"].copy()
    W[:, H : 2 * H] *= -1
    b[H : 2 * H] *= -1
    return {"W": W, "b": b}


def _dict_changed(before, after):
    for key, value in before.items():
        if not (
            isinstance(after.get(key), np.ndarray)
            and after[key].shape == value.shape
            and np.array_equal(after[key], value)
        ):
            return key
    return ""


def gru_pytorch_to_cho(student_fn):
    """Check ``student_fn(params) -> params_cho``: PyTorch-convention weights to the memo's.

    Parameters
    ----------
    student_fn : callable
        Takes PyTorch-convention params {"W": (D+H, 3H), "b": (3H,), "b_hn": (H,)} and
        returns memo-convention params {"W": (D+H, 3H), "b": (3H,)} computing the same
        outputs with each unit's own gates, without changing its argument. Where that is
        impossible (the candidate's recurrent block ``W[D:, 2H:]`` not diagonal, or ``b_hn``
        not zero) it must raise ``ValueError``.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    name = "gru_pytorch_to_cho"
    convertible = [
        Case((_pytorch_params(0, 3, 4),), label="diagonal W_hn, b_hn = 0, D=3, H=4"),
        Case((_pytorch_params(1, 2, 1, diagonal=False),), label="H=1, b_hn = 0, D=2"),
        Case(
            (_pytorch_params(2, 4, 3, dtype=np.float32),),
            label="float32, diagonal W_hn, b_hn = 0, D=4, H=3",
        ),
    ]

    def not_negated(params):
        return {"W": params["W"].copy(), "b": params["b"].copy()}

    def one_minus(params):
        H = params["b_hn"].shape[0]
        W, b = params["W"].copy(), params["b"].copy()
        W[:, H : 2 * H] = 1 - W[:, H : 2 * H]
        b[H : 2 * H] = 1 - b[H : 2 * H]
        return {"W": W, "b": b}

    def weights_only(params):
        H = params["b_hn"].shape[0]
        W = params["W"].copy()
        W[:, H : 2 * H] *= -1
        return {"W": W, "b": params["b"].copy()}

    hints = [
        Mistake(
            "the weights copied unchanged",
            not_negated,
            "u = 1 - z, and 1 - sigma(p) = sigma(-p): negate the z block's weights "
            "W[:, H:2H] and bias b[H:2H].",
        ),
        Mistake(
            "1 - W for the update block",
            one_minus,
            "It is the gate's value that becomes 1 - z, not its weights: since "
            "1 - sigma(p) = sigma(-p), negate the z block's weights and bias.",
        ),
        Mistake(
            "the z block's weights negated but not its bias",
            weights_only,
            "Negate the whole pre-activation of z: the bias b[H:2H] too.",
        ),
    ]

    # A function that changes the caller's params dict in place (run_check only sees arrays
    # passed directly) is caught first.
    if callable(student_fn):
        params = copy.deepcopy(convertible[0].args[0])
        try:
            student_fn(params)
        except Exception:  # reported below by run_check, with its message
            pass
        else:
            changed = _dict_changed(convertible[0].args[0], params)
            if changed:
                result = CheckResult(
                    name,
                    False,
                    "modified-input",
                    f"your function changed params[{changed!r}] in place",
                    hints=["copy before changing: W = params['W'].copy()"],
                    case=f"test case 1 ({convertible[0].label})",
                )
                result._announce()
                return result

    result = run_check(
        name,
        student_fn,
        convertible,
        _reference_pytorch_to_cho,
        hints=hints,
        output_name="params_cho",
        rtol=1e-6,
        atol=1e-7,
        verbose=False,
        forbidden=FORBIDDEN["gru_pytorch_to_cho"],
    )
    if not result:
        result._announce()
        return result

    impossible = [
        (
            _pytorch_params(3, 3, 4, diagonal=False),
            "general W_hn, b_hn = 0, D=3, H=4",
            "the candidate's recurrent weights W[D:, 2H:] are not diagonal, so the reset "
            "gate of unit k would have to scale the other units' contributions",
        ),
        (
            _pytorch_params(4, 3, 4, b_hn_zero=False),
            "diagonal W_hn, b_hn not zero, D=3, H=4",
            "b_hn is not zero, and the memo's GRU has no term 'reset gate times a bias'",
        ),
    ]
    total = len(convertible) + len(impossible)
    for number, (params, label, why) in enumerate(impossible, start=len(convertible) + 1):
        where = f"test case {number} of {total} ({label})"
        try:
            got = student_fn(copy.deepcopy(params))
        except ValueError:
            continue
        except Exception as error:  # the learner's bug, reported, never re-raised
            result = CheckResult(
                name,
                False,
                "exception",
                f"{student_fn.__name__} raised {type(error).__name__}: {error}",
                hints=[
                    "for parameters that cannot be converted, raise ValueError "
                    "with a message that says why"
                ],
                case=where,
                exception=error,
            )
            result._announce()
            return result
        X = np.random.default_rng(number).normal(size=(2, 5, 3))
        Y_pytorch = gru.forward(X, None, params, convention="pytorch")[0]
        try:
            Y_cho = gru.forward(X, None, got, convention="cho")[0]
            worst = np.abs(Y_cho - Y_pytorch).max()
            gap = f"; its outputs differ from PyTorch's by up to {worst:.2g}"
        except Exception:  # the answer is not even valid memo-convention params
            gap = ""
        result = CheckResult(
            name,
            False,
            "wrong-value",
            f"these parameters cannot be converted exactly, but your function returned "
            f"{'a dict' if isinstance(got, dict) else type(got).__name__}{gap}",
            hints=[f"raise ValueError here: {why}"],
            case=where,
        )
        result._announce()
        return result
    result = CheckResult(
        name,
        True,
        "passed",
        f"all {total} test cases pass ({len(convertible)} converted exactly, "
        f"{len(impossible)} refused with ValueError)",
    )
    result._announce()
    return result


# ------------------------------------------------------------------ update gate backward


def _update_cases():
    cases = []
    for seed, (N, H, dtype, label) in enumerate(
        [
            (2, 4, np.float64, "N=2, H=4"),
            (1, 3, np.float64, "one sequence, N=1, H=3"),
            (3, 2, np.float32, "float32, N=3, H=2"),
        ]
    ):
        rng = np.random.default_rng(10 + seed)
        dh = rng.normal(size=(N, H)).astype(dtype)
        h_prev = rng.uniform(-0.9, 0.9, (N, H)).astype(dtype)
        a = rng.uniform(-0.9, 0.9, (N, H)).astype(dtype)
        u = rng.uniform(0.05, 0.95, (N, H)).astype(dtype)
        cases.append(Case((dh, h_prev, a, u), label=label))
    return cases


def _reference_update_backward(dh, h_prev, a, u):
    # The u line of rnnlib.gru.step_backward (tests/test_checks_gru.py checks the two agree):
    # dh/du = a - h_prev from (gru-output), times sigma'(p_u) = u (1 - u).
    return dh * (a - h_prev) * sigmoid_grad_from_output(u)


def gru_update_gate_backward(student_fn):
    """Check ``student_fn(dh, h_prev, a, u) -> dp_u``, the update gate's backward pass.

    Parameters
    ----------
    student_fn : callable
        Takes dh, h_prev, a and u (all (N, H)) and returns the gradient of the loss with
        respect to the update gate's pre-activation, (N, H):
        :math:`\\bar p_u = \\bar h \\odot (a - h_{prev}) \\odot u (1 - u)`.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """
    hints = [
        Mistake(
            "the gradient of u itself, without the sigmoid's derivative",
            lambda dh, h_prev, a, u: dh * (a - h_prev),
            "u = sigma(p_u), so multiply by sigma'(p_u) = u * (1 - u).",
        ),
        Mistake(
            "PyTorch's sign, dh * (h_prev - a) * u * (1 - u)",
            lambda dh, h_prev, a, u: dh * (h_prev - a) * u * (1 - u),
            "In the memo's convention h = (1 - u) h_prev + u a, so dh/du = a - h_prev.",
        ),
        Mistake(
            "the tanh derivative 1 - u**2 for a sigmoid gate",
            lambda dh, h_prev, a, u: dh * (a - h_prev) * (1 - u**2),
            "The update gate is a sigmoid: sigma' = u * (1 - u).",
        ),
        Mistake(
            "the sigmoid's derivative alone, without dh/du = a - h_prev",
            lambda dh, h_prev, a, u: dh * u * (1 - u),
            "h depends on u through (1 - u) h_prev + u a: dh/du = a - h_prev.",
        ),
        Mistake(
            "the gradient of the candidate's path, dh * u",
            lambda dh, h_prev, a, u: dh * u,
            "That is the gradient of a; the update gate's is dh * (a - h_prev), then "
            "times u * (1 - u).",
        ),
    ]
    return run_check(
        "gru_update_gate_backward",
        student_fn,
        _update_cases(),
        _reference_update_backward,
        hints=hints,
        output_name="dp_u",
        rtol=1e-5,
        atol=1e-6,
                     forbidden=FORBIDDEN["gru_update_gate_backward"])


# ---------------------------------------------------------------------- no reset gate


def _reference_no_reset(x, h_prev, params):
    # rnnlib's memo-convention GRU with a reset gate held open (weights 0, bias 40: r = 1).
    D, H = x.shape[1], h_prev.shape[1]
    W = np.concatenate([np.zeros((D + H, H), x.dtype), params["W"]], axis=1)  # (D+H, 3H)
    b = np.concatenate([np.full(H, _OPEN, x.dtype), params["b"]])  # (3H,)
    h, _, _ = gru.step_forward(x, h_prev, {"W": W, "b": b}, convention="cho")
    return h


def gru_no_reset_step(student_fn):
    """Check ``student_fn(x, h_prev, params) -> h``, a GRU step without the reset gate.

    Parameters
    ----------
    student_fn : callable
        Takes x (N, D), h_prev (N, H) and params {"W": (D+H, 2H), "b": (2H,)} with column
        blocks u, a, and returns h (N, H):
        :math:`u = \\sigma([x, h_{prev}] W_u + b_u)`,
        :math:`a = \\tanh([x, h_{prev}] W_a + b_a)`,
        :math:`h = (1 - u) \\odot h_{prev} + u \\odot a`.

    Returns
    -------
    CheckResult
        Truthy only when every case passes; the verdict is printed.
    """

    def pieces(x, h_prev, params):
        H = h_prev.shape[1]
        z = np.concatenate([x, h_prev], axis=1)
        u = sigmoid(z @ params["W"][:, :H] + params["b"][:H])
        return z, u, params["W"][:, H:], params["b"][H:]

    def swapped(x, h_prev, params):
        z, u, W_a, b_a = pieces(x, h_prev, params)
        return u * h_prev + (1 - u) * np.tanh(z @ W_a + b_a)

    def blocks_swapped(x, h_prev, params):
        H = h_prev.shape[1]
        z = np.concatenate([x, h_prev], axis=1)
        u = sigmoid(z @ params["W"][:, H:] + params["b"][H:])
        a = np.tanh(z @ params["W"][:, :H] + params["b"][:H])
        return (1 - u) * h_prev + u * a

    def reset_closed(x, h_prev, params):
        D = x.shape[1]
        _, u, W_a, b_a = pieces(x, h_prev, params)
        return (1 - u) * h_prev + u * np.tanh(x @ W_a[:D] + b_a)

    hints = [
        Mistake(
            "the update written PyTorch's way round, h = u h_prev + (1 - u) a",
            swapped,
            "Keep the memo's interpolation: h = (1 - u) * h_prev + u * a.",
        ),
        Mistake(
            "the blocks taken in the order a, u",
            blocks_swapped,
            "The column blocks are u then a: W[:, :H] is the update gate.",
        ),
        Mistake(
            "a candidate computed from the input alone (reset gate held at 0)",
            reset_closed,
            "Removing the reset gate means r = 1: the candidate reads all of h_prev, "
            "a = tanh([x, h_prev] @ W_a + b_a).",
        ),
    ]
    return run_check(
        "gru_no_reset_step",
        student_fn,
        _step_cases(blocks=2),
        _reference_no_reset,
        hints=hints,
        output_name="h",
        rtol=1e-5,
        atol=1e-6,
                     forbidden=FORBIDDEN["gru_no_reset_step"])


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them).
FORBIDDEN = {
    "gru_step_forward": (
        _reference_step_forward, gru.step_forward, gru.forward, fast_gru.forward,
    ),
    "gru_update_gate_backward": (
        _reference_update_backward, gru.step_backward, gru.backward, fast_gru.backward,
    ),
    "gru_no_reset_step": (_reference_no_reset,),
    "gru_pytorch_to_cho": (_reference_pytorch_to_cho,),
    "gru_parameter_count": (_count,),  # the check's own count, its cases' expected values
}
