r"""The RNN encoder-decoder, with or without attention.

Dimension letters: N batch, T source steps, U target steps, V vocabulary, H' encoder
hidden size, E the size of an encoder state (H', or 2H' for a bidirectional encoder), and
H = E the decoder's hidden size, so that the encoder's final state can start the decoder.

**Encoder** (:func:`encode`): a recurrent layer (any cell of :data:`rnnlib.layers.CELLS`,
optionally bidirectional) reads the one-hot source :math:`x_1 \dots x_T` and returns its
states :math:`h_1 \dots h_T` (N, T, E) and a summary, the decoder's initial state
:math:`s_0` (enc-summary): the final state, or for a bidirectional encoder the forward
cell's last state next to the backward cell's last (which sits at step 1).

**Decoder step** (:func:`decoder_step_forward`), with :math:`y_{i-1}` the previous target
token, one-hot (N, V):

.. math::

    \text{without attention:}\quad s_i = \text{cell}(y_{i-1},\ s_{i-1}), \qquad
    o_i = s_i W_o + b_o                                         \qquad \text{(dec-plain)}

    \text{with attention:}\quad c_i = \text{attend}(s_{i-1},\ h_{1..T}), \quad
    s_i = \text{cell}([y_{i-1}, c_i],\ s_{i-1}), \quad
    o_i = [s_i, c_i] W_o + b_o                                  \qquad \text{(dec-attention)}

The first is the encoder-decoder of Sutskever, Vinyals and Le (2014), whose decoder knows
the source only through :math:`s_0`; the second is Bahdanau, Cho and Bengio's (2015), whose
decoder looks back at every source state at every step (:mod:`rnnlib.attention`), with
their deep output layer replaced by one dense layer. For an LSTM the query is the ``h``
part of the state.

**Training** (:meth:`Seq2Seq.loss_and_grads`) uses teacher forcing: the decoder's input at
step i is the *true* previous token, not its own guess, so the U steps are known before the
decoder runs and the loss is the mean cross-entropy of the U outputs. **Decoding** has no
true tokens: :meth:`Seq2Seq.greedy` feeds back the most likely token,
:meth:`Seq2Seq.beam_search` keeps the K most likely prefixes.
"""

import numpy as np

from rnnlib import attention as att
from rnnlib import layers
from rnnlib._validate import check_positive_int, resolve_dtype, resolve_rng
from rnnlib.activations import log_softmax
from rnnlib.losses import softmax_cross_entropy
from rnnlib.seq2seq_data import END, START, VOCAB, one_hot

__all__ = [
    "Seq2Seq",
    "decoder_step_backward",
    "decoder_step_forward",
    "encode",
    "encode_backward",
]

_ATTENTION = {
    "additive": (att.additive_forward, att.additive_backward),
    "multiplicative": (att.multiplicative_forward, att.multiplicative_backward),
}


def _h(state):
    """The hidden part of a cell's state: ``h`` itself, or ``h`` of an LSTM's ``(h, s)``."""
    return state[0] if isinstance(state, tuple) else state


def encode(X, enc_params, cell, *, bidirectional=False):
    r"""Run the encoder over the source (enc-summary).

    Parameters
    ----------
    X : numpy.ndarray, shape (N, T, V)
        The one-hot source.
    enc_params : dict or tuple of two dicts
        The cell's parameters; ``(params_fwd, params_bwd)`` when bidirectional.
    cell : module
        A cell of :data:`rnnlib.layers.CELLS`.
    bidirectional : bool, default False

    Returns
    -------
    enc : numpy.ndarray, shape (N, T, E)
        The encoder's states :math:`h_1 \dots h_T`.
    s0 : numpy.ndarray (N, E), or a tuple (h, s) for the LSTM
        The decoder's initial state. For a bidirectional LSTM the memory ``s`` starts at 0.
    cache : dict
        What :func:`encode_backward` needs.
    """
    if not bidirectional:
        enc, state_T, cache = cell.forward(X, None, enc_params)  # (N, T, H')
        return enc, state_T, {"cache": cache, "bidirectional": False, "cell": cell}
    enc, cache = layers.bidirectional_forward(X, *enc_params, cell)  # (N, T, 2H')
    Hp = enc.shape[2] // 2
    h0 = np.concatenate([enc[:, -1, :Hp], enc[:, 0, Hp:]], axis=1)  # (N, 2H')
    s0 = (h0, np.zeros_like(h0)) if cell is layers.CELLS["lstm"] else h0
    return enc, s0, {"cache": cache, "bidirectional": True, "cell": cell, "H'": Hp}


def encode_backward(denc, ds0, cache):
    """Backward of :func:`encode`.

    Parameters
    ----------
    denc : numpy.ndarray, shape (N, T, E)
        Gradient with respect to the encoder's states (from the attention).
    ds0 : numpy.ndarray (N, E), or a tuple for the LSTM
        Gradient with respect to the decoder's initial state.
    cache : dict

    Returns
    -------
    grads : dict or tuple of two dicts
        Like the encoder's parameters. (The source is one-hot data: no gradient.)
    """
    if not cache["bidirectional"]:
        _, _, grads = cache["cell"].backward(denc, ds0, cache["cache"])
        return grads
    Hp = cache["H'"]
    dh0 = _h(ds0)  # the LSTM's memory s0 was the constant 0
    denc = denc.copy()
    denc[:, -1, :Hp] += dh0[:, :Hp]
    denc[:, 0, Hp:] += dh0[:, Hp:]
    _, grads_fwd, grads_bwd = layers.bidirectional_backward(denc, cache["cache"])
    return grads_fwd, grads_bwd


def decoder_step_forward(y_prev, state, enc, params, cell, *, attention=None,
                         mask=None):
    r"""One decoder step: (dec-plain), or (dec-attention) with ``attention``.

    Parameters
    ----------
    y_prev : numpy.ndarray, shape (N, V)
        The previous target token, one-hot.
    state : numpy.ndarray (N, H), or a tuple (h, s) for the LSTM
        The decoder's state :math:`s_{i-1}`.
    enc : numpy.ndarray, shape (N, T, E)
        The encoder's states (read only with attention).
    params : dict
        ``"dec"`` (the cell's parameters, input size V, or V + E with attention),
        ``"out"`` (dense, H or H + E to V) and with attention ``"att"``.
    cell : module
        A cell of :data:`rnnlib.layers.CELLS`.
    attention : {"additive", "multiplicative"} or None
    mask : numpy.ndarray of bool, shape (N, T), optional
        The source mask, passed to the attention.

    Returns
    -------
    logits : numpy.ndarray, shape (N, V)
        :math:`o_i`.
    state : numpy.ndarray (N, H) or tuple
        :math:`s_i`.
    alpha : numpy.ndarray, shape (N, T), or None
        The attention weights of this step.
    cache : dict
        What :func:`decoder_step_backward` needs.
    """
    cache = {"cell": cell, "attention": attention}
    if attention is None:
        h, state, cache["cell_cache"] = cell.step_forward(y_prev, state,
                                                          params["dec"])
        logits, cache["out_cache"] = layers.dense_forward(h, params["out"])
        return logits, state, None, cache  # (dec-plain)
    attend = _ATTENTION[attention][0]
    context, alpha, cache["att_cache"] = attend(_h(state), enc, params["att"], mask)
    x = np.concatenate([y_prev, context], axis=1)  # (N, V + E)
    h, state, cache["cell_cache"] = cell.step_forward(x, state, params["dec"])
    hc = np.concatenate([h, context], axis=1)  # (N, H + E)
    logits, cache["out_cache"] = layers.dense_forward(hc, params["out"])
    # (dec-attention): the output layer sees the state and the context
    cache["sizes"] = (y_prev.shape[1], h.shape[1])
    return logits, state, alpha, cache


def decoder_step_backward(dlogits, dstate, cache):
    """Backward of :func:`decoder_step_forward`.

    Parameters
    ----------
    dlogits : numpy.ndarray, shape (N, V)
        Gradient with respect to this step's logits.
    dstate : numpy.ndarray (N, H) or tuple, or None
        Gradient with respect to :math:`s_i` from step i + 1.
    cache : dict

    Returns
    -------
    dstate_prev : numpy.ndarray (N, H) or tuple
        Gradient with respect to :math:`s_{i-1}`.
    denc : numpy.ndarray (N, T, E), or None without attention
        This step's gradient with respect to the encoder's states.
    grads : dict
        ``"dec"``, ``"out"`` and, with attention, ``"att"``, like ``params``.
    """
    cell = cache["cell"]
    if cache["attention"] is None:
        dh, out_grads = layers.dense_backward(dlogits, cache["out_cache"])
        _, dstate_prev, dec_grads = cell.step_backward(dh, dstate, cache["cell_cache"])
        return dstate_prev, None, {"dec": dec_grads, "out": out_grads}
    V, H = cache["sizes"]
    dhc, out_grads = layers.dense_backward(dlogits, cache["out_cache"])  # (N, H + E)
    dx, dstate_prev, dec_grads = cell.step_backward(dhc[:, :H], dstate, cache["cell_cache"])
    dcontext = dhc[:, H:] + dx[:, V:]  # the context fed the output and the cell's input
    dquery, denc, att_grads = _ATTENTION[cache["attention"]][1](dcontext, cache["att_cache"])
    if isinstance(dstate_prev, tuple):  # LSTM: the query was h, not the memory s
        dstate_prev = (dstate_prev[0] + dquery, dstate_prev[1])
    else:
        dstate_prev = dstate_prev + dquery
    return dstate_prev, denc, {"dec": dec_grads, "out": out_grads, "att": att_grads}


class Seq2Seq:
    """An encoder-decoder over :data:`rnnlib.seq2seq_data.VOCAB`, with a flat parameter dict.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The cell of the encoder and of the decoder.
    hidden_size : int
        H', the encoder's hidden size; the decoder's is E = H' (2H' if bidirectional).
    attention : {"additive", "multiplicative"} or None, default None
    bidirectional : bool, default False
    attention_size : int, optional
        A, the additive score's hidden width (default E).
    rng : numpy.random.Generator, int or None
    dtype : {numpy.float64, numpy.float32}

    Attributes
    ----------
    params : dict of str to numpy.ndarray
        Flat: ``"enc.W"`` (``"enc_fwd.W"``, ``"enc_bwd.W"`` if bidirectional), ``"dec.W"``,
        ``"att.W_q"``..., ``"out.W"``, ``"out.b"``: what :class:`rnnlib.optim.Adam` and
        :mod:`rnnlib.gradcheck` take.
    """

    def __init__(self, cell, hidden_size, *, attention=None, bidirectional=False,
                 attention_size=None, rng=None, dtype=np.float64):
        self.cell = layers.resolve_cell(cell)
        if attention is not None and attention not in att.SCORES:
            raise ValueError(f"attention: expected one of {att.SCORES} or None, got "
                             f"{attention!r}")
        self.attention, self.bidirectional = attention, bool(bidirectional)
        Hp = check_positive_int("hidden_size", hidden_size)
        V = len(VOCAB)
        E = 2 * Hp if bidirectional else Hp
        self.hidden_size, self.state_size = Hp, E
        rng, dtype = resolve_rng(rng), resolve_dtype(dtype)
        p = {}
        for name in ("enc_fwd", "enc_bwd") if bidirectional else ("enc",):
            p[name] = self.cell.init_params(V, Hp, rng=rng, dtype=dtype)
        p["dec"] = self.cell.init_params(V + (E if attention else 0), E, rng=rng,
                                         dtype=dtype)
        if attention == "additive":
            p["att"] = att.init_additive(E, E, attention_size or E, rng=rng, dtype=dtype)
        elif attention == "multiplicative":
            p["att"] = att.init_multiplicative(E, E, rng=rng, dtype=dtype)
        p["out"] = layers.init_dense(E + (E if attention else 0), V, rng=rng, dtype=dtype)
        self.params = {f"{part}.{key}": value for part, sub in p.items()
                       for key, value in sub.items()}

    def _part(self, name):
        prefix = name + "."
        return {k[len(prefix):]: v for k, v in self.params.items() if k.startswith(prefix)}

    def _parts(self):
        enc = ((self._part("enc_fwd"), self._part("enc_bwd")) if self.bidirectional
               else self._part("enc"))
        dec = {"dec": self._part("dec"), "out": self._part("out")}
        if self.attention:
            dec["att"] = self._part("att")
        return enc, dec

    def num_parameters(self):
        """The number of learned numbers."""
        return int(sum(v.size for v in self.params.values()))

    def _encode(self, src, enc_params):
        X = one_hot(src, dtype=self.params["out.W"].dtype)  # (N, T, V)
        return encode(X, enc_params, self.cell, bidirectional=self.bidirectional)

    def loss_and_grads(self, src, tgt_in, tgt_out, *, src_mask=None, tgt_mask=None):
        """Mean cross-entropy under teacher forcing, and its gradient.

        Parameters
        ----------
        src : numpy.ndarray of int, shape (N, T)
        tgt_in : numpy.ndarray of int, shape (N, U)
            The decoder's inputs: the start token, then the target shifted by one.
        tgt_out : numpy.ndarray of int, shape (N, U)
            The tokens to predict.
        src_mask, tgt_mask : numpy.ndarray of bool, (N, T) and (N, U), optional
            False on padding.

        Returns
        -------
        loss : float
        grads : dict
            Same keys and shapes as :attr:`params`.
        """
        if np.shape(tgt_in) != np.shape(tgt_out):
            raise ValueError(f"tgt_out: expected the shape of tgt_in {np.shape(tgt_in)}, "
                             f"got {np.shape(tgt_out)}")
        enc_params, dec_params = self._parts()
        enc, state, enc_cache = self._encode(src, enc_params)
        Y_in = one_hot(tgt_in, dtype=enc.dtype)  # (N, U, V): teacher forcing
        U = Y_in.shape[1]
        logits, caches = np.empty(Y_in.shape, dtype=enc.dtype), []
        for i in range(U):
            logits[:, i], state, _, cache = decoder_step_forward(
                Y_in[:, i], state, enc, dec_params, self.cell, attention=self.attention,
                mask=src_mask)
            caches.append(cache)
        loss, dlogits = softmax_cross_entropy(logits, np.asarray(tgt_out), tgt_mask)

        grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        denc, dstate = np.zeros_like(enc), None
        for i in reversed(range(U)):
            dstate, denc_i, step_grads = decoder_step_backward(dlogits[:, i], dstate,
                                                               caches[i])
            if denc_i is not None:
                denc += denc_i
            for part, sub in step_grads.items():
                for key, g in sub.items():
                    grads[f"{part}.{key}"] += g
        enc_grads = encode_backward(denc, dstate, enc_cache)
        named = (zip(("enc_fwd", "enc_bwd"), enc_grads, strict=True) if self.bidirectional
                 else [("enc", enc_grads)])
        for part, sub in named:
            for key, g in sub.items():
                grads[f"{part}.{key}"] += g
        return loss, grads

    def greedy(self, src, max_length, *, src_mask=None):
        """Greedy decoding: feed back the most likely token at every step.

        Parameters
        ----------
        src : numpy.ndarray of int, shape (N, T)
        max_length : int
            L, the number of steps decoded (rows are cut at their first end token by
            :func:`rnnlib.seq2seq_data.strip_end`).
        src_mask : numpy.ndarray of bool, shape (N, T), optional

        Returns
        -------
        tokens : numpy.ndarray of int, shape (N, L)
        alphas : numpy.ndarray, shape (N, L, T), or None without attention
            The attention weights of every step.
        """
        L = check_positive_int("max_length", max_length)
        enc_params, dec_params = self._parts()
        enc, state, _ = self._encode(src, enc_params)
        N, T = enc.shape[:2]
        tokens = np.empty((N, L), dtype=np.int64)
        alphas = np.zeros((N, L, T)) if self.attention else None
        y = np.full(N, START)
        for i in range(L):
            logits, state, alpha, _ = decoder_step_forward(
                one_hot(y, dtype=enc.dtype), state, enc, dec_params, self.cell,
                attention=self.attention, mask=src_mask)
            y = logits.argmax(axis=1)
            tokens[:, i] = y
            if alpha is not None:
                alphas[:, i] = alpha
        return tokens, alphas

    def beam_search(self, src, max_length, beam_width=3):
        """Beam search for one source: keep the ``beam_width`` most likely prefixes.

        Parameters
        ----------
        src : numpy.ndarray of int, shape (T,)
            One source sequence.
        max_length : int
            The longest output, end token included.
        beam_width : int, default 3
            K; K = 1 is greedy decoding.

        Returns
        -------
        tokens : tuple of int
            The most likely finished output (without its end token), or the most likely
            unfinished prefix if none finished within ``max_length``.
        log_prob : float
            Its log-probability (end token included when finished).

        Notes
        -----
        At each step every live prefix is extended by every token; the K extensions with
        the highest total log-probability survive. A prefix that emits the end token is
        finished; the search stops when the best finished output is more likely than every
        live prefix (extending a prefix only lowers its log-probability) or after
        ``max_length`` steps.
        """
        src = np.asarray(src)
        if src.ndim != 1:
            raise ValueError(f"src: expected one sequence, shape (T,), got {src.shape}")
        K = check_positive_int("beam_width", beam_width)
        L = check_positive_int("max_length", max_length)
        enc_params, dec_params = self._parts()
        enc, state, _ = self._encode(src[None], enc_params)  # (1, T, E)
        prefixes, scores = [()], np.zeros(1)
        finished = []  # (log_prob, tokens)
        for _ in range(L):
            n = len(prefixes)
            last = np.array([p[-1] if p else START for p in prefixes])
            logits, new_state, _, _ = decoder_step_forward(
                one_hot(last, dtype=enc.dtype), state, np.repeat(enc, n, axis=0),
                dec_params, self.cell, attention=self.attention)
            total = scores[:, None] + log_softmax(logits)  # (n, V)
            best = np.argsort(total, axis=None)[::-1][:K]  # the K best extensions
            keep_rows, keep_prefixes, keep_scores = [], [], []
            for flat in best:
                row, token = divmod(int(flat), total.shape[1])
                if token == END:
                    finished.append((float(total[row, token]), prefixes[row]))
                else:
                    keep_rows.append(row)
                    keep_prefixes.append(prefixes[row] + (token,))
                    keep_scores.append(total[row, token])
            best_finished = max(finished)[0] if finished else -np.inf
            if not keep_rows or best_finished >= max(keep_scores):
                break
            pick = np.array(keep_rows)
            state = (tuple(part[pick] for part in new_state)
                     if isinstance(new_state, tuple) else new_state[pick])
            prefixes, scores = keep_prefixes, np.array(keep_scores)
        if finished:
            log_prob, tokens = max(finished)
            return tuple(tokens), log_prob
        return tuple(prefixes[0]), float(scores[0])
