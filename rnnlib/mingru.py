r"""The minimal GRU and LSTM of Feng et al. (2024): gates that read the input only.

Dimension letters: N batch, T time, D input, H hidden. Sequences are batch first.

The memo's GRU computes its gates and its candidate from :math:`[x_t, h_{t-1}]`. Drop
:math:`h_{t-1}` from all of them and what is left is a *linear* recurrence in :math:`h`,
whose coefficients come from the input alone, so the whole sequence of states is one scan
(:mod:`rnnlib.scan`).

**minGRU** (``variant="mingru"``). ``W`` (D, 2H) and ``b`` (2H,), column blocks u, a:

.. math::

    u_t = \sigma(x_t W_u + b_u)                                      \qquad \text{(mingru-update)}

    \tilde a_t = x_t W_a + b_a, \qquad a_t = \phi(\tilde a_t)      \qquad \text{(mingru-candidate)}

    h_t = (1 - u_t) \odot h_{t-1} + u_t \odot a_t                    \qquad \text{(mingru-linear)}

**minLSTM** (``variant="minlstm"``). ``W`` (D, 3H) and ``b`` (3H,), column blocks f, i, a;
no output gate and no separate cell state, and the two gates normalised to sum to one:

.. math::

    f_t = \sigma(x_t W_f + b_f), \quad i_t = \sigma(x_t W_i + b_i), \quad
    f'_t = \frac{f_t}{f_t + i_t}, \quad i'_t = \frac{i_t}{f_t + i_t}, \quad
    h_t = f'_t \odot h_{t-1} + i'_t \odot a_t, \quad a_t = \phi(\tilde a_t)
                                                                    \qquad \text{(minlstm-step)}

Both are :math:`h_t = \alpha_t \odot h_{t-1} + \beta_t` (mingru-linear) with
:math:`\alpha_t = 1 - u_t`, :math:`\beta_t = u_t a_t` (minGRU) or :math:`\alpha_t = f'_t`,
:math:`\beta_t = i'_t a_t` (minLSTM).

**The candidate's activation** :math:`\phi` (``candidate=``): ``"linear"``, the identity, as
in Feng et al.'s minGRU and minLSTM (no tanh); or ``"g"``, the book's choice following
their log-space formulation, :math:`g(x) = x + \tfrac12` for :math:`x \ge 0` and
:math:`\sigma(x)` for :math:`x < 0`, positive (which the log-space scan needs) and
continuous, with slope 1 for x > 0 and :math:`\sigma'(x) \le 1/4` for x < 0.

**How the sequence is computed** (``scan=``): ``"sequential"`` (the loop,
:func:`rnnlib.scan.sequential_forward`), ``"parallel"`` (Blelloch's scan,
:func:`rnnlib.scan.parallel_forward`) or ``"log"`` (:func:`rnnlib.scan.log_forward`, with
``candidate="g"`` and a state :math:`h_0 \ge 0`). All three give the same states to rounding.
In log space the coefficients are computed from the pre-activations as logarithms, never
rounding a gate to 0 or 1 first: :math:`\log(1 - u) = -\mathrm{softplus}(\tilde u)`,
:math:`\log u = -\mathrm{softplus}(-\tilde u)`, and for minLSTM with
:math:`\delta = \log i - \log f`, :math:`\log f' = -\mathrm{softplus}(\delta)`,
:math:`\log i' = -\mathrm{softplus}(-\delta)`.

**Backward.** The scan's backward (scan-bwd) gives :math:`\bar\alpha_t, \bar\beta_t`; then,
elementwise, for minGRU

.. math::

    \bar{\tilde u} = (\bar\beta \odot a - \bar\alpha) \odot u (1 - u), \qquad
    \bar{\tilde a} = \bar\beta \odot u \odot \phi'(\tilde a)          \qquad \text{(mingru-bwd)}

and for minLSTM, with :math:`q = \bar\alpha - \bar\beta \odot a` (since
:math:`\beta = (1 - f') a`),

.. math::

    \bar{\tilde f} = q \odot f' i' (1 - f), \qquad \bar{\tilde i} = -q \odot f' i' (1 - i),
    \qquad \bar{\tilde a} = \bar\beta \odot i' \odot \phi'(\tilde a)  \qquad \text{(minlstm-bwd)}

and, as for every layer that multiplies its input by ``W``: :math:`\bar W = \sum_t x_t^\top
\bar p_t`, :math:`\bar b = \sum_t \bar p_t`, :math:`\bar x_t = \bar p_t W^\top`, with
:math:`\bar p_t` the gradients of all pre-activations side by side.

Feng et al. write :math:`z_t` for our :math:`u_t` (on the same side: :math:`h_t = (1 - z_t)
h_{t-1} + z_t \tilde h_t`) and :math:`\tilde h_t` for our candidate :math:`a_t`.
"""

import numpy as np

from rnnlib import scan as scans
from rnnlib._validate import (
    check_array,
    check_cache,
    check_finite,
    check_positive_int,
    resolve_dtype,
    resolve_rng,
)
from rnnlib._validate import check_params as check_param_shapes
from rnnlib.activations import sigmoid

__all__ = [
    "CANDIDATES",
    "GATES",
    "INIT_OPTIONS",
    "OPTIONS",
    "SCANS",
    "VARIANTS",
    "backward",
    "check_params",
    "forward",
    "g",
    "init_params",
    "log_g",
    "step_backward",
    "step_forward",
]

#: Column blocks of ``W`` and ``b`` for each variant.
GATES = {"mingru": ("u", "a"), "minlstm": ("f", "i", "a")}
#: The accepted values of ``variant``, ``candidate`` and ``scan``.
VARIANTS = tuple(GATES)
CANDIDATES = ("linear", "g")
SCANS = ("sequential", "parallel", "log")
#: Keyword options of the forward functions and of :func:`init_params`.
OPTIONS = ("variant", "candidate", "scan")
INIT_OPTIONS = ("variant",)


def _choice(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {list(allowed)}, got {value!r}")
    return value


def _softplus(x):
    return np.logaddexp(0, x)


def g(x):
    r"""Positive activation (log space): :math:`x + 1/2` for x >= 0, else :math:`\sigma(x)`.

    Parameters
    ----------
    x : numpy.ndarray, any shape

    Returns
    -------
    numpy.ndarray, the shape of ``x``
        Positive values. Continuous at 0 (both pieces give 1/2); the slope jumps there from
        :math:`\sigma'(0) = 1/4` to 1.
    """
    return np.where(x >= 0, np.maximum(x, 0) + 0.5, sigmoid(np.minimum(x, 0)))


def _g_grad(x):
    s = sigmoid(np.minimum(x, 0))
    return np.where(x >= 0, 1.0, s * (1 - s)).astype(x.dtype)


def log_g(x):
    r""":math:`\log g(x)`, computed without forming :math:`g(x)` for negative x.

    Parameters
    ----------
    x : numpy.ndarray, any shape

    Returns
    -------
    numpy.ndarray, the shape of ``x``
        :math:`\log(x + 1/2)` for :math:`x \ge 0`, :math:`-\mathrm{softplus}(-x)` otherwise.
    """
    return np.where(x >= 0, np.log(np.maximum(x, 0) + 0.5), -_softplus(-np.minimum(x, 0)))


def _log_g_grad(x):
    return np.where(x >= 0, 1 / (np.maximum(x, 0) + 0.5), 1 - sigmoid(np.minimum(x, 0)))


def init_params(input_size, hidden_size, *, rng=None, dtype=np.float64, variant="mingru"):
    r"""Initial parameters, uniform in :math:`[-1/\sqrt{D}, 1/\sqrt{D}]` like ``nn.Linear``.

    Parameters
    ----------
    input_size : int
        D.
    hidden_size : int
        H.
    rng : numpy.random.Generator or int or None, optional
        Random generator or seed.
    dtype : {numpy.float64, numpy.float32}, optional
    variant : {"mingru", "minlstm"}, default "mingru"

    Returns
    -------
    params : dict
        ``"W"`` (D, GH) and ``"b"`` (GH,), G = 2 (minGRU) or 3 (minLSTM).
    """
    D = check_positive_int("input_size", input_size)
    H = check_positive_int("hidden_size", hidden_size)
    G = len(GATES[_choice("variant", variant, VARIANTS)])
    rng, dtype = resolve_rng(rng), resolve_dtype(dtype)
    k = 1.0 / np.sqrt(D)
    return {
        "W": rng.uniform(-k, k, size=(D, G * H)).astype(dtype),
        "b": rng.uniform(-k, k, size=(G * H,)).astype(dtype),
    }


def check_params(params, input_size, dtype=None, *, variant="mingru"):
    """Check a minGRU or minLSTM parameter dict for inputs of size ``input_size``; return H.

    Parameters
    ----------
    params : dict
        ``"W"`` (D, GH) and ``"b"`` (GH,).
    input_size : int
        D.
    dtype : {numpy.float64, numpy.float32}, optional
        Required dtype; None means that of ``params["W"]``.
    variant : {"mingru", "minlstm"}, default "mingru"

    Returns
    -------
    H : int
    """
    D = check_positive_int("input_size", input_size)
    return _check_params(params, D, dtype, "input_size", variant)


def _check_params(params, D, dtype, source, variant):
    blocks = GATES[_choice("variant", variant, VARIANTS)]
    G = len(blocks)
    if not isinstance(params, dict) or "W" not in params:
        raise ValueError("params: expected a dict with keys 'W' and 'b'")
    W = check_array("params['W']", params["W"], ndim=2, dims=f"D, {G}H", finite=False)
    H = W.shape[1] // G
    if W.shape[0] != D or H < 1 or W.shape[1] != G * H:
        raise ValueError(
            f"params['W']: expected shape (D, {G}H) with D = {D} (from {source}) and blocks "
            f"{', '.join(blocks)} ({variant}), got {W.shape}"
        )
    dtype = W.dtype if dtype is None else dtype
    expected = {"W": ((D, G * H), f"D, {G}H"), "b": ((G * H,), f"{G}H")}
    check_param_shapes(params, expected, dtype)
    return H


# --------------------------------------------------------------------------------------
# From pre-activations to the recurrence's coefficients, and back
# --------------------------------------------------------------------------------------


def _coefficients(P, variant, candidate):
    """(mingru-update), (mingru-candidate) or (minlstm-step): pre-activations P (..., GH)
    -> alpha, beta, and what backward needs."""
    H = P.shape[-1] // len(GATES[variant])
    p_a = P[..., -H:]
    a = g(p_a) if candidate == "g" else p_a  # the candidate
    if variant == "mingru":
        u = sigmoid(P[..., :H])
        return 1 - u, u * a, {"u": u, "a": a}
    f, i = sigmoid(P[..., :H]), sigmoid(P[..., H : 2 * H])
    f_n = f / (f + i)  # f'
    i_n = 1 - f_n  # i' = i / (f + i)
    return f_n, i_n * a, {"f": f, "i": i, "f_n": f_n, "i_n": i_n, "a": a}


def _coefficient_grads(d_alpha, d_beta, P, parts, variant, candidate):
    """(mingru-bwd) or (minlstm-bwd): gradients of alpha, beta -> of the pre-activations."""
    H = P.shape[-1] // len(GATES[variant])
    p_a, a = P[..., -H:], parts["a"]
    da_dp = _g_grad(p_a) if candidate == "g" else 1.0
    dP = np.empty_like(P)
    if variant == "mingru":
        u = parts["u"]
        dP[..., :H] = (d_beta * a - d_alpha) * u * (1 - u)
        dP[..., H:] = d_beta * u * da_dp
        return dP
    f, i, f_n, i_n = parts["f"], parts["i"], parts["f_n"], parts["i_n"]
    q = d_alpha - d_beta * a  # gradient of f' (beta = (1 - f') a)
    dP[..., :H] = q * f_n * i_n * (1 - f)
    dP[..., H : 2 * H] = -q * f_n * i_n * (1 - i)
    dP[..., 2 * H :] = d_beta * i_n * da_dp
    return dP


def _log_coefficients(P, variant):
    """log alpha and log beta from the pre-activations, with candidate g (see the module)."""
    H = P.shape[-1] // len(GATES[variant])
    log_a = log_g(P[..., -H:])
    if variant == "mingru":
        p_u = P[..., :H]
        return -_softplus(p_u), -_softplus(-p_u) + log_a
    log_f, log_i = -_softplus(-P[..., :H]), -_softplus(-P[..., H : 2 * H])
    delta = log_i - log_f
    return -_softplus(delta), -_softplus(-delta) + log_a


def _log_coefficient_grads(dlog_alpha, dlog_beta, P, variant):
    """Gradients of log alpha, log beta -> of the pre-activations (chain rule of the above)."""
    H = P.shape[-1] // len(GATES[variant])
    dP = np.empty_like(P)
    dP[..., -H:] = dlog_beta * _log_g_grad(P[..., -H:])
    if variant == "mingru":
        u = sigmoid(P[..., :H])
        dP[..., :H] = -dlog_alpha * u + dlog_beta * (1 - u)
        return dP
    f, i = sigmoid(P[..., :H]), sigmoid(P[..., H : 2 * H])
    i_n = i / (f + i)  # sigma(delta)
    d_delta = -dlog_alpha * i_n + dlog_beta * (1 - i_n)
    dP[..., :H] = -d_delta * (1 - f)
    dP[..., H : 2 * H] = d_delta * (1 - i)
    return dP


def _check_state(name, state, N, H, dtype):
    if state is None:
        return np.zeros((N, H), dtype=dtype)
    return check_array(name, state, shape=(N, H), dtype=dtype, dims="N, H")


# --------------------------------------------------------------------------------------
# One step
# --------------------------------------------------------------------------------------


def step_forward(x, state, params, *, variant="mingru", candidate="linear"):
    r"""One step: (mingru-update) to (mingru-linear), or (minlstm-step).

    Parameters
    ----------
    x : numpy.ndarray, shape (N, D)
        Inputs at this step.
    state : numpy.ndarray, shape (N, H), or None
        :math:`h_{t-1}`; None means zeros.
    params : dict
        ``"W"`` (D, GH) and ``"b"`` (GH,), same dtype as ``x``.
    variant : {"mingru", "minlstm"}, default "mingru"
    candidate : {"linear", "g"}, default "linear"
        The candidate's activation :math:`\phi`.

    Returns
    -------
    h : numpy.ndarray, shape (N, H)
        :math:`h_t`, also the output.
    state : numpy.ndarray, shape (N, H)
        The same array.
    cache : dict
        What :func:`step_backward` needs.
    """
    x = check_array("x", x, ndim=2, dims="N, D", nonempty=True)
    N, D = x.shape
    _choice("candidate", candidate, CANDIDATES)
    H = _check_params(params, D, x.dtype, "x", variant)
    h_prev = _check_state("state", state, N, H, x.dtype)
    P = x @ params["W"] + params["b"]  # (N, GH): every pre-activation reads x only
    alpha, beta, parts = _coefficients(P, variant, candidate)
    h = alpha * h_prev + beta  # (N, H)
    cache = {"made_by": "rnnlib.mingru.step_forward", "x": x, "h_prev": h_prev, "P": P,
             "alpha": alpha, "parts": parts, "W": params["W"], "variant": variant,
             "candidate": candidate}
    return h, h, cache


def step_backward(dh, dstate, cache):
    r"""Backward through one step: the adjoint of :func:`step_forward`.

    Parameters
    ----------
    dh : numpy.ndarray, shape (N, H)
        :math:`\partial L / \partial h_t` from this step's output.
    dstate : numpy.ndarray, shape (N, H), or None
        :math:`\partial L / \partial h_t` from step t+1; None means zeros.
    cache : dict
        From :func:`step_forward`.

    Returns
    -------
    dx : numpy.ndarray, shape (N, D)
    dstate_prev : numpy.ndarray, shape (N, H)
        Gradient with respect to :math:`h_{t-1}`: :math:`\bar h_t \odot \alpha_t`, and
        nothing else, since no gate reads :math:`h_{t-1}`.
    grads : dict
        ``"W"`` (D, GH) and ``"b"`` (GH,).
    """
    keys = ("x", "h_prev", "P", "alpha", "parts", "W", "variant", "candidate")
    check_cache(cache, "rnnlib.mingru.step_forward", keys)
    x, h_prev, P = cache["x"], cache["h_prev"], cache["P"]
    dh = check_array("dh", dh, shape=h_prev.shape, dtype=h_prev.dtype, dims="N, H")
    if dstate is not None:
        dh = dh + _check_state("dstate", dstate, *h_prev.shape, h_prev.dtype)
    # h = alpha h_prev + beta: (scan-bwd-inputs) for one step
    dP = _coefficient_grads(dh * h_prev, dh, P, cache["parts"], cache["variant"],
                            cache["candidate"])
    grads = {"W": x.T @ dP, "b": dP.sum(axis=0)}
    return dP @ cache["W"].T, dh * cache["alpha"], grads


# --------------------------------------------------------------------------------------
# A whole sequence
# --------------------------------------------------------------------------------------


def forward(X, state0, params, *, variant="mingru", candidate="linear", scan="parallel"):
    r"""Run minGRU or minLSTM over a sequence, by the loop or by a scan.

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, D)
        Input sequences.
    state0 : numpy.ndarray, shape (N, H), or None
        :math:`h_0`; None means zeros. With ``scan="log"`` it must be >= 0.
    params : dict
        ``"W"`` (D, GH) and ``"b"`` (GH,), same dtype as ``X``.
    variant : {"mingru", "minlstm"}, default "mingru"
    candidate : {"linear", "g"}, default "linear"
        The candidate's activation; ``scan="log"`` needs ``"g"``.
    scan : {"sequential", "parallel", "log"}, default "parallel"
        How the recurrence is computed (:mod:`rnnlib.scan`).

    Returns
    -------
    Y : numpy.ndarray, shape (N, T, H)
        :math:`h_1, \dots, h_T`.
    state_T : numpy.ndarray, shape (N, H)
        :math:`h_T`.
    cache : dict
        What :func:`backward` needs.

    Notes
    -----
    One product computes every pre-activation of every step, ``P = X @ W + b`` (N, T, GH),
    since none of them reads the state; then the coefficients :math:`\alpha_t, \beta_t`
    (or their logarithms) for all steps, elementwise; then one scan.
    """
    X = check_array("X", X, ndim=3, dims="N, T, D", nonempty=True)
    N, T, D = X.shape
    _choice("candidate", candidate, CANDIDATES)
    _choice("scan", scan, SCANS)
    H = _check_params(params, D, X.dtype, "X", variant)
    h0 = _check_state("state0", state0, N, H, X.dtype)
    if scan == "log" and candidate != "g":
        raise ValueError(f"candidate: scan='log' needs a positive candidate, candidate='g', "
                         f"got {candidate!r}")
    if scan == "log" and (h0 < 0).any():
        raise ValueError("state0: scan='log' needs a state >= 0 (it works with log h0), "
                         f"got a smallest entry of {h0.min():.3g}")
    P = X @ params["W"] + params["b"]  # (N, T, GH)
    cache = {"made_by": "rnnlib.mingru.forward", "X": X, "P": P, "W": params["W"],
             "variant": variant, "candidate": candidate, "scan": scan}
    if scan == "log":
        log_alpha, log_beta = _log_coefficients(P, variant)
        with np.errstate(divide="ignore"):  # log 0 = -inf is what a zero state means
            log_h0 = np.log(h0)
        Y, h_T, cache["scan_cache"] = scans.log_forward(log_alpha, log_beta, log_h0)
        return Y, h_T, cache
    alpha, beta, cache["parts"] = _coefficients(P, variant, candidate)
    run = scans.sequential_forward if scan == "sequential" else scans.parallel_forward
    Y, h_T, cache["scan_cache"] = run(alpha, beta, h0)
    return Y, h_T, cache


def backward(dY, dstate_T, cache):
    r"""Backward through :func:`forward`: the scan's backward, then (mingru-bwd) or
    (minlstm-bwd), then the weight gradients in one product each.

    Parameters
    ----------
    dY : numpy.ndarray, shape (N, T, H)
        :math:`\partial L / \partial h_t` at every step.
    dstate_T : numpy.ndarray, shape (N, H), or None
        Gradient with respect to the final state; None means zeros.
    cache : dict
        From :func:`forward`.

    Returns
    -------
    dX : numpy.ndarray, shape (N, T, D)
    dstate0 : numpy.ndarray, shape (N, H)
    grads : dict
        ``"W"`` (D, GH) and ``"b"`` (GH,).
    """
    keys = ("X", "P", "W", "variant", "candidate", "scan", "scan_cache")
    check_cache(cache, "rnnlib.mingru.forward", keys)
    X, P, variant = cache["X"], cache["P"], cache["variant"]
    if cache["scan"] == "log":
        dlog_alpha, dlog_beta, dh0 = scans.log_backward(dY, dstate_T, cache["scan_cache"])
        dP = _log_coefficient_grads(dlog_alpha, dlog_beta, P, variant)
    else:
        run = (scans.sequential_backward if cache["scan"] == "sequential"
               else scans.parallel_backward)
        d_alpha, d_beta, dh0 = run(dY, dstate_T, cache["scan_cache"])
        dP = _coefficient_grads(d_alpha, d_beta, P, cache["parts"], variant,
                                cache["candidate"])
    N, T, D = X.shape
    dP_rows = dP.reshape(N * T, -1)  # (N*T, GH)
    grads = {"W": X.reshape(N * T, D).T @ dP_rows, "b": dP_rows.sum(axis=0)}
    check_finite("grads['W']", grads["W"])
    return dP @ cache["W"].T, dh0, grads
