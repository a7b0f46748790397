"""Automatic checks for the exercises of ``book/attention.ipynb``."""

import numpy as np

from rnnlib import attention
from rnnlib.checks._core import Case, Mistake, run_check

__all__ = [
    "attention_additive_backward",
    "attention_beam_search",
    "attention_dot_product",
    "attention_masked_softmax",
]


# ---------------------------------------------------------------------- masked softmax


def _softmax_cases():
    cases = []
    for seed, (N, T, label) in enumerate([(2, 5, "N=2, T=5"), (3, 4, "N=3, T=4"),
                                          (1, 6, "one row, T=6")]):
        rng = np.random.default_rng(30 + seed)
        scores = 3 * rng.normal(size=(N, T))
        lengths = rng.integers(1, T + 1, size=N)
        lengths[0] = T - 1 if T > 1 else T  # at least one row with padding
        mask = np.arange(T)[None, :] < lengths[:, None]
        cases.append(Case((scores, mask), label=label + ", padded rows"))
    # Scores of about +-1000 on kept steps: exp overflows unless the row's largest kept
    # score is subtracted first.
    scores = np.array([[1000.0, 999.0, 998.0, 0.0], [-1000.0, -1001.0, 5.0, 7.0]])
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    cases.append(Case((scores, mask), label="scores of about +-1000, padded rows"))
    return cases


def _unshifted_softmax(scores, mask):
    with np.errstate(over="ignore", invalid="ignore"):
        e = np.where(mask, np.exp(scores), 0.0)
        return e / e.sum(axis=1, keepdims=True)


def _plain_softmax(scores, mask):
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def attention_masked_softmax(student_fn):
    """Check ``student_fn(scores, mask) -> alpha``, the softmax over kept source steps.

    Parameters
    ----------
    student_fn : callable
        Takes scores (N, T) and a bool mask (N, T) and returns alpha (N, T): zero where
        the mask is False, each row summing to one over the kept steps.

    Returns
    -------
    CheckResult
    """
    hints = [
        Mistake("a softmax that ignores the mask", _plain_softmax,
                "Padded steps must get weight 0: set their scores to -inf before the "
                "softmax (np.where(mask, scores, -np.inf))."),
        Mistake("the softmax's weights zeroed on padding but not renormalised",
                lambda scores, mask: _plain_softmax(scores, mask) * mask,
                "After zeroing the padded steps the rows no longer sum to 1: leave them out "
                "of the sum, or mask the scores before the softmax."),
        Mistake("a masked softmax that does not subtract the largest score first",
                _unshifted_softmax,
                "exp(1000) overflows to inf and exp(-1000) underflows to 0, giving nan: "
                "subtract each row's largest kept score before np.exp (the weights do "
                "not change)."),
    ]
    return run_check("attention_masked_softmax", student_fn, _softmax_cases(),
                     attention.masked_softmax, hints=hints, output_name="alpha",
                     forbidden=FORBIDDEN["attention_masked_softmax"])


# ---------------------------------------------------------------------- dot product


def _dot_cases():
    cases = []
    for seed, (N, T, E, label) in enumerate([(2, 5, 4, "N=2, T=5, E=4"),
                                             (3, 3, 2, "N=3, T=3, E=2")]):
        rng = np.random.default_rng(40 + seed)
        s, enc = rng.normal(size=(N, E)), rng.normal(size=(N, T, E))
        mask = np.ones((N, T), dtype=bool)
        mask[0, -1] = False
        cases.append(Case((s, enc, mask), label=label))
    return cases


def _reference_dot(s, enc, mask):
    N, E = s.shape
    context, alpha, _ = attention.multiplicative_forward(s, enc, {"W": np.eye(E)}, mask)
    return context, alpha


def attention_dot_product(student_fn):
    """Check ``student_fn(s, enc, mask) -> (context, alpha)``, Luong's dot score.

    Parameters
    ----------
    student_fn : callable
        Takes the query s (N, E), the encoder's states enc (N, T, E) and a bool mask
        (N, T); returns the context (N, E) and the weights alpha (N, T) of the score
        :math:`e_j = s \\cdot h_j`.

    Returns
    -------
    CheckResult
    """
    def scaled(s, enc, mask):
        return _reference_dot(s / np.sqrt(s.shape[1]), enc, mask)

    def unmasked(s, enc, mask):
        return _reference_dot(s, enc, np.ones_like(mask))

    def context_unweighted(s, enc, mask):
        _, alpha = _reference_dot(s, enc, mask)
        return enc.mean(axis=1), alpha

    hints = [
        Mistake("the scaled dot product s . h / sqrt(E) (the Transformer's)", scaled,
                "Luong's dot score has no scaling: e_j = s . h_j."),
        Mistake("weights that ignore the mask", unmasked,
                "Give the padded steps a score of -inf before the softmax."),
        Mistake("the right weights but a context that is the plain mean of the states",
                context_unweighted,
                "The context is the weighted sum: np.einsum('nt,nte->ne', alpha, enc)."),
    ]
    return run_check("attention_dot_product", student_fn, _dot_cases(), _reference_dot,
                     hints=hints, output_name="(context, alpha)",
                     forbidden=FORBIDDEN["attention_dot_product"])


# ---------------------------------------------------------------------- additive backward


def _additive_cases():
    cases = []
    for seed, (N, T, H, E, A, label) in enumerate([(2, 4, 3, 5, 6, "N=2, T=4, H=3, E=5"),
                                                   (3, 3, 2, 2, 3, "N=3, T=3, H=E=2")]):
        rng = np.random.default_rng(50 + seed)
        params = {"W_q": rng.normal(size=(H, A)), "W_k": rng.normal(size=(E, A)),
                  "b": rng.normal(size=A), "v": rng.normal(size=A)}
        s, enc = rng.normal(size=(N, H)), rng.normal(size=(N, T, E))
        dcontext = rng.normal(size=(N, E))
        cases.append(Case((dcontext, s, enc, params), label=label))
    return cases


def _reference_additive(dcontext, s, enc, params):
    _, _, cache = attention.additive_forward(s, enc, params)
    return attention.additive_backward(dcontext, cache)


def attention_additive_backward(student_fn):
    """Check ``student_fn(dcontext, s, enc, params) -> (ds, denc, grads)``.

    Parameters
    ----------
    student_fn : callable
        The backward pass of additive attention without a mask: takes dcontext (N, E),
        the query s (N, H), the encoder's states enc (N, T, E) and params ``"W_q"``
        (H, A), ``"W_k"`` (E, A), ``"b"`` (A,), ``"v"`` (A,); returns ds (N, H), denc
        (N, T, E) and a dict of gradients with the keys of ``params``.

    Returns
    -------
    CheckResult
    """
    def forward_parts(s, enc, params):
        u = np.tanh((s @ params["W_q"])[:, None] + enc @ params["W_k"] + params["b"])
        alpha = attention.masked_softmax(u @ params["v"], np.ones(u.shape[:2], bool))
        return u, alpha

    def variant(dcontext, s, enc, params, *, softmax_shift=True, context_path=True):
        u, alpha = forward_parts(s, enc, params)
        dalpha = np.einsum("ne,nte->nt", dcontext, enc)
        de = alpha * (dalpha - (alpha * dalpha).sum(axis=1, keepdims=True)
                      if softmax_shift else dalpha)
        dP = de[:, :, None] * params["v"] * (1 - u**2)
        denc = dP @ params["W_k"].T
        if context_path:
            denc = denc + alpha[:, :, None] * dcontext[:, None, :]
        grads = {"W_q": s.T @ dP.sum(axis=1), "W_k": np.einsum("nte,nta->ea", enc, dP),
                 "b": dP.sum(axis=(0, 1)), "v": np.einsum("nt,nta->a", de, u)}
        return dP.sum(axis=1) @ params["W_q"].T, denc, grads

    hints = [
        Mistake("the softmax's backward without its second term, alpha * dalpha",
                lambda *a: variant(*a, softmax_shift=False),
                "Every weight depends on every score: de_j = alpha_j (dalpha_j - "
                "sum_k alpha_k dalpha_k)."),
        Mistake("denc with only the path through the scores",
                lambda *a: variant(*a, context_path=False),
                "Each h_j also enters the context c = sum_j alpha_j h_j: add "
                "alpha_j * dcontext to denc."),
    ]
    return run_check("attention_additive_backward", student_fn, _additive_cases(),
                     _reference_additive, hints=hints, output_name="(ds, denc, grads)",
                     rtol=1e-6, atol=1e-9, forbidden=FORBIDDEN["attention_additive_backward"])


# ---------------------------------------------------------------------- beam search


def _toy_model(seed, V, depth):
    """Next-token log-probabilities for every prefix: a fixed function of the prefix."""

    def log_probs(prefix):
        prefix = tuple(int(token) for token in prefix)
        logits = 2.5 * np.random.default_rng([seed, len(prefix), *prefix]).normal(size=V)
        if len(prefix) >= depth:
            logits[0] += 50.0  # token 0 is the end token; long prefixes end
        elif not prefix:
            logits[0] -= 50.0  # and no output is empty
        return logits - np.log(np.exp(logits).sum())

    return log_probs


def _reference_beam(log_probs, beam_width, max_length):
    live, finished = [((), 0.0)], []
    for _ in range(max_length):
        candidates = []
        for prefix, score in live:
            lp = log_probs(prefix)
            candidates += [(prefix + (token,), score + lp[token]) for token in range(len(lp))]
        candidates.sort(key=lambda c: -c[1])
        live = []
        for prefix, score in candidates[:beam_width]:
            if prefix[-1] == 0:
                finished.append((score, prefix[:-1]))
            else:
                live.append((prefix, score))
        if not live or (finished and max(finished)[0] >= max(s for _, s in live)):
            break
    if finished:
        return max(finished)[1]
    return live[0][0]


def _beam_cases():
    cases = []
    for seed, (V, depth, K, label) in enumerate([(4, 3, 3, "V=4, K=3"),
                                                 (5, 4, 2, "V=5, K=2"),
                                                 (3, 3, 4, "V=3, K=4")]):
        for trial in range(40):  # pick a toy model on which greedy is not the answer
            model = _toy_model(100 * seed + trial, V, depth)
            if _reference_beam(model, K, 8) != _reference_beam(model, 1, 8):
                break
        cases.append(Case((model, K, 8), label=label))
    return cases


def attention_beam_search(student_fn):
    """Check ``student_fn(log_probs, beam_width, max_length) -> tokens``.

    Parameters
    ----------
    student_fn : callable
        ``log_probs(prefix)`` gives the log-probabilities (V,) of the next token after a
        tuple of tokens; token 0 is the end token. Returns the most likely finished output
        found by beam search, without its end token, as a tuple of ints.

    Returns
    -------
    CheckResult
    """
    hints = [
        Mistake("greedy decoding (a beam of width 1)",
                lambda log_probs, K, L: _reference_beam(log_probs, 1, L),
                "Keep the beam_width best prefixes at every step, ranked by their total "
                "log-probability, not only the best one."),
        Mistake("the output with its end token", lambda log_probs, K, L: _reference_beam(
            log_probs, K, L) + (0,), "Leave the end token (0) out of the answer."),
    ]
    return run_check("attention_beam_search", student_fn, _beam_cases(), _reference_beam,
                     hints=hints, output_name="tokens",
                     forbidden=FORBIDDEN["attention_beam_search"])


# The functions each exercise asks the learner to write rather than call: the check's
# own reference and the rnnlib functions that compute the same answer (a check fails
# with "calls-reference" when the learner's function calls one of them). The weights of
# multiplicative_forward are the masked softmax of its scores, so with one-dimensional
# keys that hold the scores and W = [[1]] it returns the masked softmax's answer; the
# dot-product exercise may call masked_softmax, the building block the one before it
# wrote.
FORBIDDEN = {
    "attention_masked_softmax": (attention.masked_softmax, attention.multiplicative_forward),
    "attention_dot_product": (_reference_dot, attention.multiplicative_forward),
    "attention_additive_backward": (_reference_additive, attention.additive_backward),
    "attention_beam_search": (_reference_beam,),
}
