r"""What a sequence model reads while it generates: its own outputs.

A next-step model is trained with *teacher forcing*: at step :math:`t` it reads the true
:math:`x_t`, whatever it predicted at step :math:`t-1`. When it generates, it reads its own
previous output instead (*free running*). This module holds the pieces the chapter
"Training in practice I" derives:

- decoding a distribution: :func:`temperature_probabilities`, :func:`top_k_probabilities`
  and :func:`sample_symbols`, and :func:`generate`, which draws many samples at once from a
  character model with a temperature and a top-k cut;
- free running a real-valued next-step model: :func:`free_run`;
- scheduled sampling (Bengio et al. 2015): :func:`inverse_sigmoid_decay`,
  :func:`scheduled_inputs` and :class:`ScheduledSampling`, which trains a model on inputs
  that are partly its own predictions.

Dimension letters: N batch, T time, D input, V output (vocabulary). Sequences are batch
first.
"""

import numpy as np

from rnnlib._validate import check_array, check_number, check_positive_int, resolve_rng
from rnnlib.activations import softmax

__all__ = [
    "ScheduledSampling",
    "free_run",
    "generate",
    "inverse_sigmoid_decay",
    "sample_symbols",
    "scheduled_inputs",
    "temperature_probabilities",
    "top_k_probabilities",
]


def _check_logits(logits):
    logits = np.asarray(logits)
    if logits.ndim < 1 or logits.shape[-1] < 1 or not np.issubdtype(logits.dtype,
                                                                      np.floating):
        raise ValueError(f"logits: expected a float array of shape (..., V), got shape "
                         f"{logits.shape}, dtype {logits.dtype}")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits: expected finite values, got NaN or inf")
    return logits.astype(np.float64)


def temperature_probabilities(logits, temperature=1.0):
    r"""The next-symbol distribution :math:`\operatorname{softmax}(o / \tau)`.

    Parameters
    ----------
    logits : numpy.ndarray, shape (..., V)
        The output layer's logits :math:`o`.
    temperature : float, default 1.0
        :math:`\tau \ge 0`; 0 puts all the probability on the most likely symbol (the
        first one in a tie).

    Returns
    -------
    numpy.ndarray of float64, shape (..., V)
        Probabilities that sum to 1 along the last axis.

    Notes
    -----
    .. math:: p_\tau(v) = \frac{\exp(o_v / \tau)}{\sum_{u} \exp(o_u / \tau)}
       \qquad\text{(temperature)}

    :math:`\tau = 1` is the model's own distribution; :math:`\tau \to 0` tends to greedy
    decoding (the argmax) and :math:`\tau \to \infty` to the uniform distribution.
    """
    logits = _check_logits(logits)
    tau = check_number("temperature", temperature, low=0.0, low_open=False)
    if tau == 0:
        return np.eye(logits.shape[-1])[np.argmax(logits, axis=-1)]
    return softmax(logits / tau)


def top_k_probabilities(logits, k, temperature=1.0):
    r"""Keep the ``k`` most likely symbols, renormalised, at a temperature.

    Parameters
    ----------
    logits : numpy.ndarray, shape (..., V)
    k : int
        How many symbols keep a chance, 1 <= k; ``k >= V`` keeps them all.
    temperature : float, default 1.0
        Applied to the kept logits, as in :func:`temperature_probabilities`.

    Returns
    -------
    numpy.ndarray of float64, shape (..., V)
        Zero outside the ``k`` largest logits (ties at the k-th value are broken by
        position: the first ones are kept), sums to 1 along the last axis.

    Notes
    -----
    With :math:`K` the set of the :math:`k` largest logits,

    .. math:: p_{k,\tau}(v) = \frac{[v \in K] \exp(o_v / \tau)}{\sum_{u \in K}
       \exp(o_u / \tau)} \qquad\text{(top-k)}

    Top-k sampling is Fan, Lewis and Dauphin (2018)'s decoder: it removes the long tail
    of unlikely symbols, each rare on its own but together drawn often.
    """
    logits = _check_logits(logits)
    k = check_positive_int("k", k)
    V = logits.shape[-1]
    if k >= V:
        return temperature_probabilities(logits, temperature)
    order = np.argsort(-logits, axis=-1, kind="stable")  # (..., V) most likely first
    keep = np.zeros(logits.shape, dtype=bool)
    np.put_along_axis(keep, order[..., :k], True, axis=-1)
    kept = np.where(keep, logits, -np.inf)  # exp(-inf) = 0 outside K
    tau = check_number("temperature", temperature, low=0.0, low_open=False)
    if tau == 0:
        return np.eye(V)[np.argmax(logits, axis=-1)]
    scaled = kept / tau
    weights = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return weights / weights.sum(axis=-1, keepdims=True)


def sample_symbols(probabilities, rng=None):
    """Draw one symbol from each row of ``probabilities``.

    Parameters
    ----------
    probabilities : numpy.ndarray, shape (N, V)
        Each row sums to 1.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    numpy.ndarray of int64, shape (N,)

    Notes
    -----
    One uniform number per row, compared with the row's cumulative sum (inverse
    transform sampling), so a whole batch is drawn at once.
    """
    probabilities = check_array("probabilities", np.asarray(probabilities, dtype=float),
                                ndim=2, dims="N, V")
    rng = resolve_rng(rng)
    cumulative = np.cumsum(probabilities, axis=1)  # (N, V)
    u = rng.random((probabilities.shape[0], 1)) * cumulative[:, -1:]  # (N, 1)
    return np.minimum((cumulative <= u).sum(axis=1), probabilities.shape[1] - 1)


def _check_next_symbol_model(model, name):
    if getattr(model, "bidirectional", False):
        raise ValueError(f"{name}: a bidirectional model reads the future, so it cannot "
                         f"generate one step at a time")
    if model.input_size != model.output_size:
        raise ValueError(
            f"{name}: expected a model that reads what it predicts (input_size == "
            f"output_size), got input_size={model.input_size}, "
            f"output_size={model.output_size}"
        )


def generate(model, prime, length, *, n_samples=1, temperature=1.0, top_k=None, rng=None):
    r"""Draw ``n_samples`` continuations of ``prime`` from a character model at once.

    Like :meth:`rnnlib.model.SequenceModel.sample`, with a batch of samples and an
    optional top-k cut: the model reads ``prime``, then ``length`` times draws the next
    symbol of every sample from :func:`top_k_probabilities` (or
    :func:`temperature_probabilities` without ``top_k``) and reads it back in.

    Parameters
    ----------
    model : SequenceModel
        A next-symbol model, ``input_size == output_size == V``.
    prime : array-like of int, shape (P,)
        The symbols every sample starts from (at least one).
    length : int
        Symbols to generate per sample.
    n_samples : int, default 1
        N, the number of samples, drawn as one batch.
    temperature : float, default 1.0
    top_k : int or None, default None
        Keep only the ``top_k`` most likely symbols at each step; None keeps all.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    numpy.ndarray of int64, shape (N, length)
        The generated symbols, without the prime.
    """
    _check_next_symbol_model(model, "generate")
    V = model.output_size
    prime = np.asarray(prime)
    if prime.ndim != 1 or prime.size == 0 or not np.issubdtype(prime.dtype, np.integer):
        raise ValueError(f"prime: expected a non-empty 1-d integer array (P,), got shape "
                         f"{prime.shape}, dtype {prime.dtype}")
    if prime.min() < 0 or prime.max() >= V:
        raise ValueError(f"prime: expected symbols in [0, {V}), got {prime.min()}.."
                         f"{prime.max()}")
    length = check_positive_int("length", length)
    N = check_positive_int("n_samples", n_samples)
    check_number("temperature", temperature, low=0.0, low_open=False)
    if top_k is not None:
        check_positive_int("top_k", top_k)
    rng = resolve_rng(rng)
    one_hot = np.eye(V, dtype=model.dtype)
    X_prime = np.broadcast_to(one_hot[prime], (N, prime.size, V)).copy()  # (N, P, V)
    outputs, states = model.forward(X_prime, return_states=True)  # (N, P, V)
    generated = np.empty((N, length), dtype=np.int64)
    for k in range(length):
        logits = outputs[:, -1]  # (N, V)
        if top_k is None:
            probabilities = temperature_probabilities(logits, temperature)
        else:
            probabilities = top_k_probabilities(logits, top_k, temperature)
        generated[:, k] = sample_symbols(probabilities, rng)
        outputs, states = model.forward(one_hot[generated[:, k]][:, None], states,
                                        return_states=True)  # (N, 1, V)
    return generated


def free_run(model, X_prime, horizon):
    r"""Let a real-valued next-step model read its own predictions for ``horizon`` steps.

    The model reads the true prefix ``X_prime`` (teacher forcing); its last output is its
    prediction of the next value, which it then reads as its next input, and so on.

    Parameters
    ----------
    model : SequenceModel
        A next-step regression model, ``input_size == output_size == D``.
    X_prime : numpy.ndarray, shape (N, P, D)
        The true prefix, the model's dtype.
    horizon : int
        How many values to predict.

    Returns
    -------
    numpy.ndarray, shape (N, horizon, D)
        ``[:, 0]`` is the one-step prediction after the prefix, ``[:, h]`` the prediction
        made ``h + 1`` steps ahead.

    Notes
    -----
    .. math:: h_t = f(\hat x_t, h_{t-1}), \quad \hat x_{t+1} = g(h_t)
       \quad\text{instead of}\quad h_t = f(x_t, h_{t-1}) \qquad\text{(free-running)}

    Each error is read back in, so errors can compound with the horizon.
    """
    _check_next_symbol_model(model, "free_run")
    X_prime = check_array("X_prime", X_prime, shape=(None, None, model.input_size),
                          dtype=model.dtype, dims="N, P, D")
    horizon = check_positive_int("horizon", horizon)
    outputs, states = model.forward(X_prime, return_states=True)  # (N, P, D)
    predictions = np.empty((X_prime.shape[0], horizon, X_prime.shape[2]), dtype=model.dtype)
    predictions[:, 0] = outputs[:, -1]
    for h in range(1, horizon):
        outputs, states = model.forward(predictions[:, h - 1 : h], states,
                                        return_states=True)  # (N, 1, D)
        predictions[:, h] = outputs[:, 0]
    return predictions


def inverse_sigmoid_decay(step, k):
    r"""Bengio et al. (2015)'s schedule: the probability of reading the true input.

    Parameters
    ----------
    step : int or numpy.ndarray
        :math:`i \ge 0`, the training step.
    k : float
        :math:`k \ge 1`; larger keeps teacher forcing longer.

    Returns
    -------
    float or numpy.ndarray
        :math:`\varepsilon_i`, from :math:`k / (k + 1)` at step 0 down towards 0.

    Notes
    -----
    .. math:: \varepsilon_i = \frac{k}{k + \exp(i / k)} \qquad\text{(inverse-sigmoid)}

    It equals 1/2 at :math:`i = k \ln k`.
    """
    k = check_number("k", k, low=1.0, low_open=False)
    step = np.asarray(step, dtype=float)
    if np.any(step < 0):
        raise ValueError(f"step: expected steps >= 0, got {step.min()}")
    value = k / (k + np.exp(step / k))
    return float(value) if value.ndim == 0 else value


def scheduled_inputs(model, X, teacher_probability, *, loss="mse", rng=None):
    r"""The inputs of one scheduled-sampling step: each one true or the model's own.

    The model runs over ``X`` one step at a time. At step :math:`t \ge 1`, independently
    for every sequence, it reads the true :math:`x_t` with probability
    :math:`\varepsilon` (``teacher_probability``) and otherwise its own prediction of
    :math:`x_t` made at step :math:`t-1`: the output itself for ``loss="mse"``, a symbol
    drawn from the softmax of the output (one-hot) for ``loss="cross_entropy"``. Step 0
    always reads the true :math:`x_0`.

    Parameters
    ----------
    model : SequenceModel
        A next-step model (``input_size == output_size``) whose target at step t is the
        input at step t + 1.
    X : numpy.ndarray, shape (N, T, D)
        The true inputs, the model's dtype.
    teacher_probability : float
        :math:`\varepsilon \in [0, 1]`: 1 is teacher forcing, 0 free running.
    loss : {"mse", "cross_entropy"}, default "mse"
        What the model's output is: a value, or the logits of a symbol.
    rng : numpy.random.Generator, int or None

    Returns
    -------
    numpy.ndarray, shape (N, T, D)
        The mixed inputs. The training step treats them as constants: no gradient flows
        back through the model's predictions into the previous steps, as in Bengio et al.

    Notes
    -----
    .. math:: \tilde x_t = x_t \text{ with probability } \varepsilon, \text{ else }
       \hat x_t \qquad\text{(scheduled-sampling)}
    """
    _check_next_symbol_model(model, "scheduled_inputs")
    X = check_array("X", X, shape=(None, None, model.input_size), dtype=model.dtype,
                    dims="N, T, D")
    eps = check_number("teacher_probability", teacher_probability, low=0.0, high=1.0,
                       low_open=False, high_open=False)
    if loss not in ("mse", "cross_entropy"):
        raise ValueError(f"loss: expected 'mse' or 'cross_entropy', got {loss!r}")
    rng = resolve_rng(rng)
    N, T, D = X.shape
    mixed = X.copy()
    if eps == 1.0:
        return mixed
    states = None
    for t in range(T - 1):
        outputs, states = model.forward(mixed[:, t : t + 1], states,
                                        return_states=True)  # (N, 1, D)
        if loss == "mse":
            own = outputs[:, 0]  # (N, D)
        else:
            symbols = sample_symbols(softmax(outputs[:, 0].astype(np.float64)), rng)
            own = np.eye(D, dtype=model.dtype)[symbols]  # (N, D)
        true = rng.random(N) < eps  # (N,)
        mixed[:, t + 1] = np.where(true[:, None], X[:, t + 1], own)
    return mixed


class ScheduledSampling:
    r"""A model wrapper that :func:`rnnlib.train.fit` trains with scheduled sampling.

    Each call of :meth:`loss_and_grads` takes :math:`\varepsilon_i` from ``schedule`` at
    the wrapper's step counter :math:`i`, mixes the batch's inputs with
    :func:`scheduled_inputs`, and returns the model's loss and gradients on the mixed
    inputs (against the true targets). The wrapper shares the model's ``params``, so the
    optimiser updates the model itself.

    Parameters
    ----------
    model : SequenceModel
        A next-step model.
    schedule : callable
        ``schedule(step) -> teacher_probability``, e.g.
        ``lambda i: inverse_sigmoid_decay(i, 50)``.
    rng : numpy.random.Generator, int or None
        Drives the coin flips (and the symbol draws of a classifier).

    Attributes
    ----------
    params : dict
        The model's own parameter dict.
    step : int
        Calls so far.
    teacher_probabilities : list of float
        :math:`\varepsilon_i` at every call.
    """

    def __init__(self, model, schedule, rng=None):
        if not callable(schedule):
            raise ValueError(f"schedule: expected a callable step -> probability, got "
                             f"{type(schedule).__name__}")
        _check_next_symbol_model(model, "ScheduledSampling")
        self.model = model
        self.params = model.params
        self.schedule = schedule
        self.rng = resolve_rng(rng)
        self.step = 0
        self.teacher_probabilities = []

    def loss_and_grads(self, X, targets, loss="mse", mask=None, last_only=False):
        """The model's loss and gradients on scheduled-sampling inputs.

        Parameters
        ----------
        X : numpy.ndarray, shape (N, T, D)
        targets : numpy.ndarray, shape (N, T, D) or (N, T)
        loss : {"mse", "cross_entropy"}, default "mse"
        mask : numpy.ndarray of bool, shape (N, T), optional
        last_only : bool, default False
            Must be False: scheduled sampling is for next-step models.

        Returns
        -------
        loss : float
        grads : dict of str to numpy.ndarray
        """
        if last_only:
            raise ValueError("last_only: scheduled sampling is for next-step models, whose "
                             "every step is scored")
        eps = float(self.schedule(self.step))
        self.step += 1
        self.teacher_probabilities.append(eps)
        mixed = scheduled_inputs(self.model, X, eps, loss=loss, rng=self.rng)
        return self.model.loss_and_grads(mixed, targets, loss=loss, mask=mask)
