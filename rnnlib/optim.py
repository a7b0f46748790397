r"""Optimisers and gradient clipping for parameter dicts.

Every rnnlib model keeps its parameters in a dict of named arrays and returns gradients in a
dict with the same keys, so one optimiser serves every architecture. An optimiser's
``step(params, grads)`` updates the arrays of ``params`` **in place** (the dict's arrays stay
the same objects, so views and references to them stay valid) and keeps whatever it needs
between steps (momentum, moment estimates) keyed by parameter name.

- :class:`SGD`: gradient descent, with optional (heavy-ball) momentum;
- :class:`Adam`: Kingma and Ba (2015), with bias correction;
- :func:`clip_grad_norm`: rescale all gradients together when their global norm exceeds a
  threshold (Pascanu, Mikolov and Bengio 2013), the usual cure for exploding gradients in
  recurrent networks.

Both optimisers follow PyTorch's update rules (``torch.optim.SGD`` and ``torch.optim.Adam``
without weight decay), so a model trained here and its PyTorch twin take the same steps.

Hyperparameters must be real numbers in their range: a string such as ``"0.01"``, None, a
bool or NaN raises a ``ValueError`` naming the argument. An optimiser keeps its state for
one set of parameters: once it has state (momentum, moment estimates), a step with other
keys, shapes or dtypes raises a ``ValueError``; make a new optimiser for a new model.
"""

import numbers

import numpy as np

from rnnlib._validate import check_array

__all__ = ["SGD", "Adam", "clip_grad_norm", "global_norm"]


def _check_number(name, value, expected, in_range):
    """Return ``value`` as a float if it is a real number for which ``in_range`` holds.

    Parameters
    ----------
    name : str
        The argument's name, for the message.
    value : object
        What the caller passed.
    expected : str
        What the argument must be, e.g. ``"a positive number"``.
    in_range : callable
        Takes the float, returns whether it is allowed.

    Raises
    ------
    ValueError
        Naming the argument, what it must be and what was received, for anything that is
        not a real number (a string, None, a bool, an array), for NaN and infinities, and
        for numbers out of range.
    """
    # bool is an int subclass, but lr=True is a mistake, not the learning rate 1.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name}: expected {expected}, got {value!r} "
                         f"(of type {type(value).__name__})")
    number = float(value)
    if not np.isfinite(number) or not in_range(number):
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return number


def _check_lr(lr):
    """Return the learning rate ``lr`` as a float, checked to be a positive number."""
    return _check_number("lr", lr, "a positive learning rate", lambda x: x > 0)


def _check_state(owner, state, params):
    """Check that ``params`` are the parameters ``state`` (non-empty) was kept for.

    Parameters
    ----------
    owner : str
        The optimiser, e.g. ``"this SGD"``, for the message.
    state : dict of str to numpy.ndarray
        Per-parameter arrays from earlier steps, each of its parameter's shape and dtype.
    params : dict of str to numpy.ndarray

    Raises
    ------
    ValueError
        If the keys differ, or a parameter's shape or dtype changed since the earlier steps.
    """
    if state.keys() != params.keys():
        raise ValueError(
            f"params: expected the keys {owner} has state for, {sorted(state)}, got keys "
            f"{sorted(params)}; use a new optimiser for another model"
        )
    for key, p in params.items():
        kept = state[key]
        if kept.shape != p.shape or kept.dtype != p.dtype:
            raise ValueError(
                f"params[{key!r}]: expected shape {kept.shape} and dtype {kept.dtype} (as in "
                f"earlier steps), got shape {p.shape} and dtype {p.dtype}; use a new "
                "optimiser for a model whose parameters changed"
            )


def _check_grads(params, grads):
    """Check that ``grads`` matches ``params`` key by key, in shape and dtype.

    Parameters
    ----------
    params : dict of str to numpy.ndarray
    grads : dict of str to numpy.ndarray
        Same keys; each gradient has its parameter's shape and dtype and is finite.

    Raises
    ------
    ValueError
        Naming the missing or unexpected keys, or the gradient with the wrong shape, dtype
        or a NaN/inf.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params: expected a dict of arrays, got {type(params).__name__}")
    if not isinstance(grads, dict):
        raise ValueError(f"grads: expected a dict of arrays, got {type(grads).__name__}")
    if params.keys() != grads.keys():
        missing = sorted(set(params) - set(grads))
        extra = sorted(set(grads) - set(params))
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if extra:
            parts.append(f"unexpected {extra}")
        raise ValueError(
            f"grads: expected the same keys as params; {'; '.join(parts)}"
        )
    for key, p in params.items():
        check_array(f"params[{key!r}]", p, finite=False)
        check_array(f"grads[{key!r}]", grads[key], shape=p.shape, dtype=p.dtype)


class SGD:
    r"""Stochastic gradient descent with optional momentum.

    Parameters
    ----------
    lr : float
        Learning rate :math:`\eta > 0`.
    momentum : float, default 0.0
        Momentum coefficient :math:`\mu \in [0, 1)`; 0 gives plain gradient descent.

    Attributes
    ----------
    lr, momentum : float
        May be changed between steps (e.g. for a learning-rate schedule); checked like the
        arguments.
    velocity : dict of str to numpy.ndarray
        The running velocity of each parameter (empty until the first step with momentum).

    Raises
    ------
    ValueError
        If ``lr`` is not a positive number or ``momentum`` not a number in [0, 1) (a
        string, None, a bool or NaN included).

    Notes
    -----
    For every parameter :math:`\theta` with gradient :math:`g`,

    .. math::

        v \leftarrow \mu v + g, \qquad \theta \leftarrow \theta - \eta v,

    starting from :math:`v = 0` (so the first step is :math:`\theta - \eta g`). This is
    PyTorch's form of heavy-ball momentum. With a constant learning rate it is the same as
    the textbook form :math:`v \leftarrow \mu v - \eta g,\ \theta \leftarrow \theta + v`
    up to the scale of :math:`v`.
    """

    def __init__(self, lr, momentum=0.0):
        self.lr = lr
        self.momentum = momentum
        self.velocity = {}

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _check_lr(value)

    @property
    def momentum(self):
        return self._momentum

    @momentum.setter
    def momentum(self, value):
        self._momentum = _check_number("momentum", value, "a value in [0, 1)",
                                       lambda x: 0 <= x < 1)

    def step(self, params, grads):
        """Update ``params`` in place with one step.

        Parameters
        ----------
        params : dict of str to numpy.ndarray
            Parameters, any shapes, float32 or float64.
        grads : dict of str to numpy.ndarray
            Their gradients: the same keys, shapes and dtypes.

        Raises
        ------
        ValueError
            If the keys, shapes or dtypes of ``grads`` do not match ``params``, a gradient
            holds NaN or inf, or ``params`` no longer matches the velocity kept from earlier
            steps (other keys, shapes or dtypes).
        """
        _check_grads(params, grads)
        if self.velocity:
            _check_state("this SGD", self.velocity, params)
        for key, p in params.items():
            g = grads[key]
            if self.momentum:
                v = self.velocity.get(key)
                if v is None:
                    v = self.velocity[key] = np.zeros_like(p)
                v *= self.momentum
                v += g
                g = v
            p -= p.dtype.type(self.lr) * g

    def __repr__(self):
        return f"SGD(lr={self.lr}, momentum={self.momentum})"


class Adam:
    r"""Adam: adaptive moment estimation (Kingma and Ba 2015).

    Parameters
    ----------
    lr : float, default 1e-3
        Step size :math:`\eta > 0`.
    betas : tuple of two floats, default (0.9, 0.999)
        Decay rates :math:`(\beta_1, \beta_2)`, each in [0, 1), of the running means of the
        gradient and of its square.
    eps : float, default 1e-8
        :math:`\epsilon > 0`, added to the denominator so it is never zero.

    Attributes
    ----------
    lr : float
        May be changed between steps; checked like the argument.
    t : int
        Number of steps taken.
    m, v : dict of str to numpy.ndarray
        First and second moment estimates per parameter.

    Raises
    ------
    ValueError
        If ``lr`` or ``eps`` is not a positive number, or ``betas`` not two numbers in
        [0, 1) (a string, None, a bool or NaN included).

    Notes
    -----
    At step :math:`t = 1, 2, \dots`, for every parameter :math:`\theta` with gradient
    :math:`g`:

    .. math::

        m &\leftarrow \beta_1 m + (1 - \beta_1) g, \qquad
        v \leftarrow \beta_2 v + (1 - \beta_2) g^2, \\
        \hat m &= \frac{m}{1 - \beta_1^t}, \qquad \hat v = \frac{v}{1 - \beta_2^t}, \qquad
        \theta \leftarrow \theta - \eta \frac{\hat m}{\sqrt{\hat v} + \epsilon}.

    The bias corrections undo the pull towards the zero start: at :math:`t = 1`,
    :math:`\hat m = g` and :math:`\hat v = g^2`, so the first step moves every entry by
    about :math:`\eta` in the direction of :math:`-\operatorname{sign}(g)`, whatever the
    gradient's scale.
    """

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.lr = lr
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected two values in [0, 1), got {betas!r}")
        self.betas = tuple(
            _check_number(f"betas[{k}]", beta, "a value in [0, 1)", lambda x: 0 <= x < 1)
            for k, beta in enumerate(betas)
        )
        self.eps = _check_number("eps", eps, "a positive number", lambda x: x > 0)
        self.t = 0
        self.m = {}
        self.v = {}

    @property
    def lr(self):
        return self._lr

    @lr.setter
    def lr(self, value):
        self._lr = _check_lr(value)

    def step(self, params, grads):
        """Update ``params`` in place with one Adam step.

        Parameters
        ----------
        params : dict of str to numpy.ndarray
            Parameters, any shapes, float32 or float64.
        grads : dict of str to numpy.ndarray
            Their gradients: the same keys, shapes and dtypes.

        Raises
        ------
        ValueError
            If the keys, shapes or dtypes of ``grads`` do not match ``params``, a gradient
            holds NaN or inf, or ``params`` no longer matches the moment estimates kept
            from earlier steps.
        """
        _check_grads(params, grads)
        if self.m:
            _check_state("this Adam", self.m, params)
        self.t += 1
        beta1, beta2 = self.betas
        correction1 = 1 - beta1**self.t
        correction2 = 1 - beta2**self.t
        for key, p in params.items():
            g = grads[key]
            if key not in self.m:
                self.m[key] = np.zeros_like(p)
                self.v[key] = np.zeros_like(p)
            m, v = self.m[key], self.v[key]
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * (g * g)
            m_hat = m / correction1
            v_hat = v / correction2
            p -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype, copy=False)

    def __repr__(self):
        return f"Adam(lr={self.lr}, betas={self.betas}, eps={self.eps})"


def global_norm(grads):
    r"""The Euclidean norm of all gradients taken together.

    Parameters
    ----------
    grads : dict of str to numpy.ndarray
        Gradients, any shapes.

    Returns
    -------
    float
        :math:`\|g\| = \sqrt{\sum_{\text{keys}} \sum_{\text{entries}} g^2}` (accumulated in
        float64). NaN or inf if a gradient holds one.
    """
    if not isinstance(grads, dict):
        raise ValueError(f"grads: expected a dict of arrays, got {type(grads).__name__}")
    total = 0.0
    for key, g in grads.items():
        check_array(f"grads[{key!r}]", g, finite=False)
        total += float(np.sum(np.square(g, dtype=np.float64)))
    return float(np.sqrt(total))


def clip_grad_norm(grads, max_norm):
    r"""Rescale the gradients in place so that their global norm is at most ``max_norm``.

    Parameters
    ----------
    grads : dict of str to numpy.ndarray
        Gradients, any shapes; modified in place.
    max_norm : float
        The threshold :math:`c > 0`.

    Returns
    -------
    float
        The global norm :math:`\|g\|` **before** clipping (see :func:`global_norm`), useful
        to plot how often and how strongly clipping acts.

    Raises
    ------
    ValueError
        If ``max_norm`` is not a positive number (a string, None, a bool or NaN included),
        or a gradient holds NaN or inf (clipping cannot repair it, and an optimiser step
        would spread it into every parameter).

    Notes
    -----
    If :math:`\|g\| > c`, every gradient is multiplied by the same factor :math:`c/\|g\|`,
    so the direction of the full gradient is kept and only its length becomes :math:`c`
    (Pascanu, Mikolov and Bengio 2013, Algorithm 1). Otherwise nothing changes.
    """
    max_norm = _check_number("max_norm", max_norm, "a positive number", lambda x: x > 0)
    norm = global_norm(grads)
    if not np.isfinite(norm):
        for key, g in grads.items():
            check_array(f"grads[{key!r}]", g)  # raises, naming the first bad gradient
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm
