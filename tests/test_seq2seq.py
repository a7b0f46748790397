"""rnnlib.seq2seq and rnnlib.seq2seq_data: the whole encoder-decoder's gradients (every
array, every cell, with and without attention, one- and two-directional), agreement with
the same model in PyTorch with autograd, decoding, and the task."""

import numpy as np
import pytest
import torch

from rnnlib import gradcheck, seq2seq
from rnnlib import seq2seq_data as sd


def sharpened(model, factor=4.0):
    """Scale the attention's parameters so that its gradients are not tiny."""
    for key in model.params:
        if key.startswith("att."):
            model.params[key] = model.params[key] * factor
    return model


CONFIGURATIONS = [(cell, attention, False) for cell in ("rnn", "lstm", "gru")
                  for attention in (None, "additive", "multiplicative")]
CONFIGURATIONS += [(cell, attention, True) for cell, attention in
                   [("rnn", None), ("lstm", "additive"), ("gru", "multiplicative")]]


@pytest.mark.parametrize(("cell", "attention", "bidirectional"), CONFIGURATIONS)
def test_gradients_of_every_array(cell, attention, bidirectional):
    model = sharpened(seq2seq.Seq2Seq(cell, 2, attention=attention,
                                      bidirectional=bidirectional, rng=0))
    src, tgt_in, tgt_out = sd.reverse_digits(2, 3, rng=1)
    src_mask = np.ones(src.shape, dtype=bool)
    src_mask[1, -1] = False
    _, grads = model.loss_and_grads(src, tgt_in, tgt_out, src_mask=src_mask)

    def loss():
        return model.loss_and_grads(src, tgt_in, tgt_out, src_mask=src_mask)[0]

    errors = gradcheck.check_gradients(loss, model.params, grads, eps=1e-5)
    assert max(errors.values()) < 1e-6, errors


def torch_loss(params, src, tgt_in, tgt_out, src_mask):
    """The basic-RNN encoder-decoder with additive attention, in PyTorch."""
    V = len(sd.VOCAB)
    eye = torch.eye(V, dtype=torch.float64)
    X, Y = eye[torch.tensor(src)], eye[torch.tensor(tgt_in)]
    N, T = src.shape
    h = torch.zeros(N, params["enc.b"].shape[0], dtype=torch.float64)
    enc = []
    for t in range(T):
        h = torch.tanh(torch.cat([X[:, t], h], 1) @ params["enc.W"] + params["enc.b"])
        enc.append(h)
    enc = torch.stack(enc, 1)
    s, logits = h, []
    for i in range(Y.shape[1]):
        u = torch.tanh((s @ params["att.W_q"])[:, None] + enc @ params["att.W_k"]
                       + params["att.b"])
        e = (u @ params["att.v"]).masked_fill(~torch.tensor(src_mask), float("-inf"))
        context = torch.einsum("nt,nte->ne", torch.softmax(e, 1), enc)
        s = torch.tanh(torch.cat([Y[:, i], context, s], 1) @ params["dec.W"]
                       + params["dec.b"])
        logits.append(torch.cat([s, context], 1) @ params["out.W"] + params["out.b"])
    logits = torch.stack(logits, 1)
    return torch.nn.functional.cross_entropy(logits.reshape(-1, V),
                                             torch.tensor(tgt_out).reshape(-1))


def test_agrees_with_pytorch_autograd():
    model = sharpened(seq2seq.Seq2Seq("rnn", 4, attention="additive", rng=3))
    src, tgt_in, tgt_out = sd.reverse_digits(3, 5, rng=4)
    src_mask = np.ones(src.shape, dtype=bool)
    src_mask[0, -2:] = False
    loss, grads = model.loss_and_grads(src, tgt_in, tgt_out, src_mask=src_mask)
    t = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    loss_t = torch_loss(t, src, tgt_in, tgt_out, src_mask)
    loss_t.backward()
    assert abs(loss - loss_t.item()) < 1e-12
    for k in grads:
        np.testing.assert_allclose(grads[k], t[k].grad.numpy(), atol=1e-12, err_msg=k)


@pytest.mark.parametrize("attention", [None, "additive"])
def test_beam_of_width_one_is_greedy_and_wider_beams_are_no_less_likely(attention):
    model = seq2seq.Seq2Seq("gru", 6, attention=attention, rng=5)
    src, _, _ = sd.reverse_digits(4, 3, rng=6)
    greedy, _ = model.greedy(src, 6)

    def log_prob(row, tokens):
        tgt_out = np.array([list(tokens) + [sd.END]])
        tgt_in = np.array([[sd.START, *tokens]])
        return -model.loss_and_grads(src[row:row + 1], tgt_in, tgt_out)[0] * tgt_out.size

    for row in range(len(src)):
        one, lp_one = model.beam_search(src[row], 6, beam_width=1)
        g = sd.strip_end(greedy[row])
        if len(g) < 6:  # greedy finished within the budget
            assert one == g
            assert lp_one == pytest.approx(log_prob(row, g))
        wide, lp_wide = model.beam_search(src[row], 6, beam_width=4)
        if len(wide) < 6:
            assert lp_wide == pytest.approx(log_prob(row, wide))
            if len(g) < 6:
                assert lp_wide >= lp_one - 1e-12


def test_greedy_returns_attention_weights_over_the_kept_source_steps():
    model = seq2seq.Seq2Seq("gru", 5, attention="multiplicative", rng=0)
    src, mask = sd.pad_sources([sd.encode("1234"), sd.encode("56")])
    tokens, alphas = model.greedy(src, 5, src_mask=mask)
    assert tokens.shape == (2, 5) and alphas.shape == (2, 5, 4)
    np.testing.assert_allclose(alphas.sum(axis=2), 1)
    assert np.all(alphas[1, :, 2:] == 0)
    assert seq2seq.Seq2Seq("gru", 5, rng=0).greedy(src, 5)[1] is None


def test_a_few_hundred_steps_learn_short_reversals():
    from rnnlib.optim import Adam, clip_grad_norm
    rng = np.random.default_rng(0)
    model = seq2seq.Seq2Seq("gru", 16, attention="additive", rng=rng)
    optimizer = Adam(0.02)
    for _ in range(300):
        src, tgt_in, tgt_out = sd.reverse_digits(32, 3, rng=rng)
        _, grads = model.loss_and_grads(src, tgt_in, tgt_out)
        clip_grad_norm(grads, 1.0)
        optimizer.step(model.params, grads)
    src, _, tgt_out = sd.reverse_digits(100, 3, rng=99)
    assert sd.exact_match(model.greedy(src, 4)[0], tgt_out).mean() > 0.9


def test_the_task():
    src, tgt_in, tgt_out = sd.reverse_digits(5, 7, rng=0)
    assert src.shape == (5, 7) and tgt_in.shape == tgt_out.shape == (5, 8)
    assert np.all(tgt_in[:, 0] == sd.START) and np.all(tgt_out[:, -1] == sd.END)
    np.testing.assert_array_equal(tgt_out[:, :-1], src[:, ::-1])
    np.testing.assert_array_equal(tgt_in[:, 1:], src[:, ::-1])
    assert sd.decode(sd.encode("0192")) == "0192"
    assert sd.exact_match(tgt_out, tgt_out).all()
    assert not sd.exact_match(tgt_in, tgt_out).any()
    assert sd.one_hot(src).shape == (5, 7, len(sd.VOCAB))


def test_bad_input_names_the_argument():
    with pytest.raises(ValueError, match="attention"):
        seq2seq.Seq2Seq("gru", 4, attention="cosine")
    with pytest.raises(ValueError, match="cell"):
        seq2seq.Seq2Seq("transformer", 4)
    with pytest.raises(ValueError, match="text"):
        sd.encode("12a")
    model = seq2seq.Seq2Seq("gru", 4, rng=0)
    src, tgt_in, tgt_out = sd.reverse_digits(2, 3, rng=0)
    with pytest.raises(ValueError, match="tgt_out"):
        model.loss_and_grads(src, tgt_in, tgt_out[:, :2])
    with pytest.raises(ValueError, match="src"):
        model.beam_search(src, 4)


def test_the_experiment_runs_end_to_end_on_its_tiny_configuration(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "experiments" / "attention.py"
    spec = importlib.util.spec_from_file_location("attention_experiment", script)
    experiment = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(experiment)
    out, weights = tmp_path / "tiny.json", tmp_path / "tiny.npz"
    experiment.main(["--config", "tiny", "--out", str(out), "--weights", str(weights),
                     "--quiet"])
    results = json.loads(out.read_text())
    assert experiment.validate_results(results)
    config = experiment.CONFIGS["tiny"]
    assert len(results["runs"]) == len(experiment.MODELS) * len(config["seeds"])
    model = experiment.load_model("attention", config, weights)
    first = next(r for r in results["runs"] if r["model"] == "attention")
    assert experiment.accuracy_by_length(model, config) == first["accuracy"]
    broken = json.loads(out.read_text())
    broken["runs"][0]["accuracy"]["2"] = 0.5 if broken["runs"][0]["accuracy"]["2"] != 0.5 \
        else 0.25
    with pytest.raises(ValueError, match="summary"):
        experiment.validate_results(broken)
