"""A small training loop: batches in, optimiser steps, a history out.

:func:`fit` does what every experiment in the book does by hand otherwise: draw a batch,
compute the loss and its gradients, optionally clip them, take an optimiser step, and
record the loss and the gradient norm, with a progress bar (``tqdm.auto``, which shows a
widget in Jupyter and text in a terminal). It works with :class:`rnnlib.model.SequenceModel`
and with any object that has a ``params`` dict and a ``loss_and_grads(X, targets, loss=,
mask=, last_only=)`` method returning ``(loss, grads)``; ``stop_when`` ends a run early
(for example once a task is solved).

:func:`fit_stream` is truncated backpropagation through time over one long stream that is
never reset: consecutive chunks, each starting from the previous chunk's final state.
"""

import time

import numpy as np
from tqdm.auto import tqdm

from rnnlib._validate import check_positive_int, resolve_rng
from rnnlib.optim import clip_grad_norm, global_norm

__all__ = ["fit", "fit_stream"]


def _batch_source(batches, rng):
    """Turn ``batches`` (a callable of rng, or an iterable) into a function of the step."""
    if callable(batches):
        return lambda step: batches(rng)
    try:
        iterator = iter(batches)
    except TypeError:
        raise ValueError(
            f"batches: expected a callable rng -> (X, Y[, mask]) or an iterable of such "
            f"tuples, got {type(batches).__name__}"
        ) from None

    def next_batch(step):
        try:
            return next(iterator)
        except StopIteration:
            raise ValueError(
                f"batches: the iterable ran out after {step - 1} batches; give at least "
                f"`steps` batches, or a callable"
            ) from None

    return next_batch


def _unpack(batch, step):
    """Split a batch into (X, targets, mask)."""
    if not isinstance(batch, (tuple, list)) or len(batch) not in (2, 3):
        got = f"length {len(batch)}" if isinstance(batch, (tuple, list)) else type(
            batch).__name__
        raise ValueError(f"batches: expected (X, targets) or (X, targets, mask) at step {step}, "
                         f"got {got}")
    X, targets = batch[0], batch[1]
    mask = batch[2] if len(batch) == 3 else None
    return X, targets, mask


def fit(model, batches, optimizer, steps, clip=None, progress=True, callback=None,
        eval_every=100, *, loss="mse", last_only=False, rng=None, description="training",
        stop_when=None):
    """Train ``model`` for ``steps`` optimiser steps.

    Parameters
    ----------
    model : SequenceModel or similar
        Anything with a ``params`` dict and ``loss_and_grads(X, targets, loss=..., mask=...,
        last_only=...) -> (loss, grads)``.
    batches : callable or iterable
        Either a function ``batches(rng) -> (X, targets)`` or ``(X, targets, mask)``, called
        once per step with the generator ``rng`` (e.g.
        ``lambda rng: rnnlib.data.adding_problem(32, 50, rng=rng)``), or an iterable that
        yields such tuples (at least ``steps`` of them). To train on one fixed batch, pass
        ``itertools.repeat((X, Y))``.
    optimizer : SGD, Adam or similar
        Anything with ``step(params, grads)``.
    steps : int
        Number of optimiser steps.
    clip : float, optional
        Clip the global gradient norm to this value before every step
        (:func:`rnnlib.optim.clip_grad_norm`); None for no clipping.
    progress : bool, default True
        Show a progress bar with the current loss.
    callback : callable, optional
        ``callback(model, step)``, called before the first step (``step=0``), after every
        ``eval_every`` steps, and after the last step; whatever it returns is recorded (for
        example a validation loss or an accuracy). A number is also shown in the progress
        bar.
    eval_every : int, default 100
        How often ``callback`` is called, in steps.
    loss : {"mse", "cross_entropy"}, default "mse"
        Passed to ``model.loss_and_grads``.
    last_only : bool, default False
        Passed to ``model.loss_and_grads`` (many-to-one tasks).
    rng : numpy.random.Generator, int or None
        The generator passed to a callable ``batches``; a seed makes the run reproducible.
    description : str, default "training"
        Label of the progress bar.
    stop_when : callable, optional
        ``stop_when(result) -> bool``, a predicate on what ``callback`` returned, checked
        every time the callback runs (also at ``step=0``); when it is true, training stops
        there. Needs a ``callback``.

    Returns
    -------
    history : dict
        ``"loss"``: numpy.ndarray (steps_run,), the training loss at every step run (on the
        batch before the update); ``"grad_norm"``: numpy.ndarray (steps_run,), the global
        gradient norm at every step run, before clipping; ``"callback"``: list of
        ``(step, result)`` pairs; ``"stopped_at"``: the step after which ``stop_when`` ended
        the run (0 if before the first step), or None if it ran all ``steps``;
        ``"seconds"``: the wall-clock time of the whole run. ``steps_run`` is ``steps``, or
        ``stopped_at`` when the run stopped early.

    Raises
    ------
    FloatingPointError
        If the loss or a gradient becomes NaN or inf (the usual sign of a learning rate
        that is too large, or of exploding gradients without clipping); the message names
        the step.
    ValueError
        For a malformed batch, a mismatch between the model and the data, or an iterable
        that runs out.

    Examples
    --------
    >>> model = SequenceModel("lstm", 2, 16, 1, rng=0)
    >>> history = fit(model, lambda rng: data.adding_problem(32, 30, rng=rng), Adam(1e-2),
    ...               300, clip=1.0, last_only=True, rng=1)
    >>> history["loss"][-20:].mean()  # doctest: +SKIP
    """
    steps = check_positive_int("steps", steps)
    eval_every = check_positive_int("eval_every", eval_every)
    if clip is not None and (not np.isfinite(clip) or clip <= 0):
        raise ValueError(f"clip: expected a positive number or None, got {clip!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback: expected a callable or None, got {type(callback).__name__}")
    if stop_when is not None and not callable(stop_when):
        raise ValueError(f"stop_when: expected a callable or None, got "
                         f"{type(stop_when).__name__}")
    if stop_when is not None and callback is None:
        raise ValueError("stop_when: needs a callback, whose result it judges")
    rng = resolve_rng(rng)
    next_batch = _batch_source(batches, rng)
    losses = np.empty(steps)
    grad_norms = np.empty(steps)
    results = []
    postfix = {}

    def run_callback(step):
        """Call the callback, record its result; True when ``stop_when`` says stop."""
        result = callback(model, step)
        results.append((step, result))
        if isinstance(result, (int, float, np.number)) and not isinstance(result, bool):
            postfix["eval"] = f"{float(result):.4g}"
        return stop_when is not None and bool(stop_when(result))

    start = time.perf_counter()
    stopped_at = None
    if callback is not None and run_callback(0):
        stopped_at = 0
    show_every = max(1, steps // 200)  # refreshing the bar costs time; ~200 updates at most
    with tqdm(total=steps, desc=description, disable=not progress, leave=True) as bar:
        for step in range(1, steps + 1 if stopped_at is None else 1):
            X, targets, mask = _unpack(next_batch(step), step)
            # Overflow is reported below, once, as an error that names the step, instead
            # of as a stream of NumPy warnings.
            advice = "lower the learning rate or clip the gradients (clip=...)"
            with np.errstate(over="ignore", invalid="ignore"):
                try:
                    value, grads = model.loss_and_grads(X, targets, loss=loss, mask=mask,
                                                        last_only=last_only)
                except FloatingPointError as err:
                    raise FloatingPointError(f"step {step}: {err}; {advice}") from err
                norm = global_norm(grads)
            if not (np.isfinite(value) and np.isfinite(norm)):
                what = f"loss is {value}" if not np.isfinite(value) else (
                    "gradient holds NaN or inf")
                raise FloatingPointError(f"step {step}: the {what}; {advice}")
            grad_norms[step - 1] = norm if clip is None else clip_grad_norm(grads, clip)
            optimizer.step(model.params, grads)
            losses[step - 1] = value
            if callback is not None and (step % eval_every == 0 or step == steps):
                if run_callback(step):
                    stopped_at = step
            if step % show_every == 0 or step == steps or stopped_at is not None:
                postfix["loss"] = f"{value:.4g}"
                bar.set_postfix(postfix, refresh=False)
                bar.update(step - bar.n)
            if stopped_at is not None:
                break
    run = steps if stopped_at is None else stopped_at
    return {
        "loss": losses[:run].copy() if run < steps else losses,
        "grad_norm": grad_norms[:run].copy() if run < steps else grad_norms,
        "callback": results,
        "stopped_at": stopped_at,
        "seconds": time.perf_counter() - start,
    }


def fit_stream(model, X, targets, optimizer, *, chunk=40, clip=None, loss="mse",
               log_every=100, callback=None):
    """Truncated backpropagation through time over streams that are never reset.

    The streams are cut into consecutive chunks of ``chunk`` steps; each chunk starts from
    the final state of the previous one (so the network's state is carried across the whole
    stream), and the gradient stops at the chunk boundary. One optimiser step per chunk.

    Parameters
    ----------
    model : SequenceModel or similar
        Anything with a ``params`` dict and ``loss_and_grads(X, targets, loss=...,
        states0=..., return_states=True) -> (loss, grads, states)``.
    X : numpy.ndarray, shape (N, T, D)
        The N input streams.
    targets : numpy.ndarray, shape (N, T, V) or (N, T)
        The targets at every step (class ids for ``loss="cross_entropy"``).
    optimizer : SGD, Adam or similar
        Anything with ``step(params, grads)``.
    chunk : int, default 40
        Steps per chunk; ``T // chunk`` optimiser steps are taken (a last partial chunk is
        not used).
    clip : float, optional
        Clip the global gradient norm to this value before every step; None for no
        clipping.
    loss : {"mse", "cross_entropy"}, default "mse"
        Passed to ``model.loss_and_grads``.
    log_every : int, default 100
        Optimiser steps between two log entries.
    callback : callable, optional
        ``callback(model, states, position)``, called at every log entry with the carried
        states (the layers' states after ``position`` steps of every stream); its results
        are logged.

    Returns
    -------
    log : dict
        ``"position"``: list of int, the steps read per stream at each log entry;
        ``"loss"``: list of float, the mean training loss since the previous entry;
        ``"callback"``: list of the callback's results (empty without a callback);
        ``"states"``: the final carried states; ``"seconds"``: the wall-clock time.

    Raises
    ------
    ValueError
        If ``X`` is not (N, T, D), ``targets`` does not match it, the streams are shorter
        than one chunk, or ``clip`` is not positive.
    """
    chunk = check_positive_int("chunk", chunk)
    log_every = check_positive_int("log_every", log_every)
    if not isinstance(X, np.ndarray) or X.ndim != 3:
        got = X.shape if isinstance(X, np.ndarray) else type(X).__name__
        raise ValueError(f"X: expected an array of shape (N, T, D), got {got}")
    targets = np.asarray(targets)
    if targets.shape[:2] != X.shape[:2]:
        raise ValueError(f"targets: expected shape (N, T, ...) = {X.shape[:2]} first, got "
                         f"{targets.shape}")
    if clip is not None and (not np.isfinite(clip) or clip <= 0):
        raise ValueError(f"clip: expected a positive number or None, got {clip!r}")
    if callback is not None and not callable(callback):
        raise ValueError(f"callback: expected a callable or None, got {type(callback).__name__}")
    T = X.shape[1]
    if T < chunk:
        raise ValueError(f"X: expected at least chunk = {chunk} steps, got T = {T}")
    start = time.perf_counter()
    log = {"position": [], "loss": [], "callback": []}
    states, losses = None, []
    for number in range(T // chunk):
        part = slice(number * chunk, (number + 1) * chunk)
        value, grads, states = model.loss_and_grads(X[:, part], targets[:, part], loss=loss,
                                                    states0=states, return_states=True)
        if clip is not None:
            clip_grad_norm(grads, clip)
        optimizer.step(model.params, grads)
        losses.append(value)
        if (number + 1) % log_every == 0:
            log["position"].append((number + 1) * chunk)
            log["loss"].append(float(np.mean(losses)))
            if callback is not None:
                log["callback"].append(callback(model, states, (number + 1) * chunk))
            losses = []
    log["states"] = states
    log["seconds"] = time.perf_counter() - start
    return log
