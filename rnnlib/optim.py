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
"""

import numpy as np

from rnnlib._validate import check_array, check_number

__all__ = ["SGD", "Adam", "clip_grad_norm", "global_norm"]


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


def _check_same_model(state, params, optimizer, what):
    """Both optimisers keep per-parameter state; it must fit the parameters of every step."""
    if not state:
        return
    if state.keys() != params.keys():
        raise ValueError(
            f"params: this {optimizer} has {what} for keys {sorted(state)}, got keys "
            f"{sorted(params)}; use a new optimiser for another model"
        )
    for key, p in params.items():
        if state[key].shape != p.shape:
            raise ValueError(
                f"params[{key!r}]: expected shape {state[key].shape} (as in earlier steps), "
                f"got {p.shape}; use a new optimiser for another model"
            )


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
        May be changed between steps (e.g. for a learning-rate schedule).
    velocity : dict of str to numpy.ndarray
        The running velocity of each parameter (empty until the first step with momentum).

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
        self.lr = check_number("lr", lr, low=0)
        self.momentum = check_number("momentum", momentum, low=0, low_open=False, high=1)
        self.velocity = {}

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
            If the keys, shapes or dtypes of ``grads`` do not match ``params``, or a
            gradient holds NaN or inf.
        """
        _check_grads(params, grads)
        _check_same_model(self.velocity, params, "SGD", "velocities")
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
        May be changed between steps.
    t : int
        Number of steps taken.
    m, v : dict of str to numpy.ndarray
        First and second moment estimates per parameter.

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
        self.lr = check_number("lr", lr, low=0)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas: expected two values in [0, 1), got {betas!r}")
        self.betas = tuple(
            check_number(f"betas[{k}]", beta, low=0, low_open=False, high=1)
            for k, beta in enumerate(betas)
        )
        self.eps = check_number("eps", eps, low=0)
        self.t = 0
        self.m = {}
        self.v = {}

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
        _check_same_model(self.m, params, "Adam", "moment estimates")
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
        If ``max_norm`` is not positive, or a gradient holds NaN or inf (clipping cannot
        repair it, and an optimiser step would spread it into every parameter).

    Notes
    -----
    If :math:`\|g\| > c`, every gradient is multiplied by the same factor :math:`c/\|g\|`,
    so the direction of the full gradient is kept and only its length becomes :math:`c`
    (Pascanu, Mikolov and Bengio 2013, Algorithm 1). Otherwise nothing changes.
    """
    max_norm = check_number("max_norm", max_norm, low=0)
    norm = global_norm(grads)
    if not np.isfinite(norm):
        for key, g in grads.items():
            check_array(f"grads[{key!r}]", g)  # raises, naming the first bad gradient
    if norm > max_norm:
        scale = max_norm / norm
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm
