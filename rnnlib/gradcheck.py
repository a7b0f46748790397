r"""Finite-difference gradient checks: is a hand-written backward pass right?

A backward pass is a long chain of small products, and a slip in any of them (a missing
transpose, a gate's derivative taken from the wrong block) still gives arrays of the right
shape. The check that catches such slips compares each analytic gradient with a numerical
one from centred differences, entry by entry,

.. math::

    \frac{\partial L}{\partial x_k} \approx
    \frac{L(x + \epsilon e_k) - L(x - \epsilon e_k)}{2 \epsilon}
                                                                  \qquad \text{(centred-difference)}

whose error is :math:`O(\epsilon^2)` (the one-sided difference's is :math:`O(\epsilon)`), and
summarises each array by one relative error

.. math::

    \text{rel}(a, n) = \frac{\max_k |a_k - n_k|}{\max_k (|a_k| + |n_k|)}
                                                                  \qquad \text{(relative-error)}

The error of a centred difference has two parts: truncation, :math:`O(\epsilon^2)`, and
rounding, about :math:`10^{-16} |L| / \epsilon` in float64, which grows as :math:`\epsilon`
shrinks; :math:`\epsilon = 10^{-6}` keeps both small. In float64 with that step the book
requires a relative error below :math:`10^{-7}` (:func:`assert_gradients_close`'s default).
Correct backward passes in the basic-RNN chapter give errors between about
:math:`10^{-10}` and :math:`10^{-8}` (the chapter prints them); a planted bug there, the
:math:`\tanh` derivative taken at the pre-activation, gives errors above :math:`10^{-3}`
(asserted). Float32 cannot resolve such small differences: check gradients in float64.

:func:`check_cell` does the whole check for a sequence cell (``rnnlib.rnn``, ``lstm``,
``gru``): a random linear loss of the outputs and final state, backward, and the numerical
gradient of every weight, bias, input and initial state.
"""

import numpy as np

from rnnlib._validate import check_array, resolve_rng

__all__ = [
    "assert_gradients_close",
    "check_cell",
    "check_gradients",
    "numerical_gradient",
    "relative_error",
]


def numerical_gradient(f, x, eps=1e-6):
    r"""Gradient of a scalar function by centred differences (centred-difference).

    Parameters
    ----------
    f : callable
        ``f()`` takes no argument and returns a float; it must read ``x`` (which is changed
        in place and restored entry by entry), e.g. a closure over the parameters.
    x : numpy.ndarray, any shape (float64 recommended)
        The array to differentiate with respect to.
    eps : float, default 1e-6
        Step size.

    Returns
    -------
    numpy.ndarray, same shape and dtype as ``x``
        :math:`\partial f / \partial x`.

    Raises
    ------
    ValueError
        If ``x`` is not a writeable float array, ``eps`` is not positive, or ``f`` returns
        something that is not a finite number.
    """
    check_array("x", x)
    if not x.flags.writeable:
        raise ValueError(
            "x: expected a writeable array (it is perturbed in place), got a read-only one"
        )
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps: expected a positive step size, got {eps!r}")
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + eps
        f_plus = f()
        x[index] = old - eps
        f_minus = f()
        x[index] = old  # restore before anything can go wrong
        for value in (f_plus, f_minus):
            if np.ndim(value) != 0:
                raise ValueError(f"f: expected a scalar, got shape {np.shape(value)}")
            if not np.isfinite(value):
                raise ValueError(f"f: expected a finite value, got {value!r}")
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def relative_error(a, b):
    r"""Relative error between two gradients (relative-error).

    Parameters
    ----------
    a, b : numpy.ndarray, same shape
        Typically the analytic and the numerical gradient.

    Returns
    -------
    float
        :math:`\max_k |a_k - b_k| / \max_k (|a_k| + |b_k|)`, in :math:`[0, 1]`; 0 when both
        are exactly zero.

    Notes
    -----
    Dividing by the largest entry of the array, rather than entry by entry, keeps tiny
    entries (whose own relative error is dominated by the finite-difference noise) from
    dominating the result.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a, {a.shape}, got {b.shape}")
    if a.size == 0:
        return 0.0
    scale = np.max(np.abs(a) + np.abs(b))
    return float(np.max(np.abs(a - b)) / max(scale, np.finfo(np.float64).tiny))


def check_gradients(loss_fn, arrays, analytic, eps=1e-6):
    """Compare analytic gradients with numerical ones, array by array.

    Parameters
    ----------
    loss_fn : callable
        ``loss_fn()`` returns the loss as a float, reading the arrays of ``arrays``.
    arrays : dict of str to numpy.ndarray
        The arrays to check, each perturbed in place (and restored).
    analytic : dict of str to numpy.ndarray
        For every key of ``arrays``, the analytic gradient of the same shape.
    eps : float, default 1e-6
        Finite-difference step.

    Returns
    -------
    dict of str to float
        The relative error (relative-error) of every array.

    Raises
    ------
    ValueError
        If a key of ``arrays`` has no analytic gradient, or its shape differs.
    """
    errors = {}
    for name, x in arrays.items():
        if name not in analytic:
            raise ValueError(f"analytic: missing the gradient of {name!r}")
        check_array(f"analytic[{name!r}]", analytic[name], shape=x.shape, finite=False)
        numeric = numerical_gradient(loss_fn, x, eps)
        errors[name] = relative_error(analytic[name], numeric)
    return errors


def assert_gradients_close(loss_fn, arrays, analytic, tol=1e-7, eps=1e-6):
    """Like :func:`check_gradients`, but raise ``AssertionError`` if an error exceeds ``tol``.

    Parameters
    ----------
    loss_fn, arrays, analytic, eps
        As in :func:`check_gradients`.
    tol : float, default 1e-7
        Largest relative error accepted (the book's tolerance, see the module docstring).

    Returns
    -------
    dict of str to float
        The relative error of every array.
    """
    errors = check_gradients(loss_fn, arrays, analytic, eps)
    bad = {name: err for name, err in errors.items() if not err <= tol}
    if bad:
        listing = ", ".join(f"{name}: {err:.2e}" for name, err in bad.items())
        raise AssertionError(f"relative error above {tol:.0e} for {listing}")
    return errors


def _state_parts(state):
    """The arrays of a state: (h,) for the RNN and GRU, (h, s) for the LSTM."""
    return tuple(state) if isinstance(state, (tuple, list)) else (state,)


def check_cell(cell, X, state0, params, *, rng=None, eps=1e-6, **options):
    r"""Gradient-check a sequence cell's :func:`forward`/:func:`backward` pair.

    The loss is a fixed random linear function of everything the forward pass returns,
    :math:`L = \sum Y \odot G_Y + \sum \text{state}_T \odot G_T`, so that its gradient with
    respect to the outputs is exactly the random ``G`` passed to ``backward``.

    Parameters
    ----------
    cell : module
        ``rnnlib.rnn``, ``rnnlib.lstm``, ``rnnlib.gru`` or any module with the same
        ``forward(X, state0, params, **options)`` and ``backward(dY, dstate_T, cache)``.
    X : numpy.ndarray, shape (N, T, D)
        Inputs (float64 for a meaningful check). Perturbed in place and restored.
    state0 : numpy.ndarray (N, H), tuple of them, or None
        Initial state; None is replaced by zeros so that its gradient is checked too.
    params : dict
        The cell's parameters. Perturbed in place and restored.
    rng : numpy.random.Generator or int or None, optional
        For the random output weights ``G``.
    eps : float, default 1e-6
        Finite-difference step.
    **options
        Passed to ``forward``, e.g. ``forget_gate=False`` or ``convention="pytorch"``.

    Returns
    -------
    dict of str to float
        Relative error for every parameter (its key), ``"X"``, and ``"state0"`` (or
        ``"state0[0]"``, ``"state0[1]"`` for the LSTM's (h, s)).
    """
    rng = resolve_rng(rng)
    Y, state_T, cache = cell.forward(X, state0, params, **options)
    if state0 is None:  # check the gradient with respect to a zero initial state too
        state0 = tuple(np.zeros_like(part) for part in _state_parts(state_T))
        if not isinstance(state_T, tuple):
            state0 = state0[0]
    G_Y = rng.standard_normal(Y.shape).astype(Y.dtype)
    G_T = tuple(rng.standard_normal(p.shape).astype(p.dtype) for p in _state_parts(state_T))
    dstate_T = G_T if isinstance(state_T, tuple) else G_T[0]
    dX, dstate0, grads = cell.backward(G_Y, dstate_T, cache)

    def loss():
        Y, state_T, _ = cell.forward(X, state0, params, **options)
        total = np.sum(Y * G_Y)
        for part, weight in zip(_state_parts(state_T), G_T, strict=True):
            total += np.sum(part * weight)
        return float(total)

    arrays = dict(params)
    analytic = dict(grads)
    arrays["X"], analytic["X"] = X, dX
    if isinstance(state0, tuple):
        for k, (part, grad) in enumerate(zip(state0, dstate0, strict=True)):
            arrays[f"state0[{k}]"], analytic[f"state0[{k}]"] = part, grad
    else:
        arrays["state0"], analytic["state0"] = state0, dstate0
    return check_gradients(loss, arrays, analytic, eps)
