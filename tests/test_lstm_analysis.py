"""Tests for rnnlib.lstm_analysis: gate traces, gradient norm by lag, the cell diagram."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from rnnlib import lstm, lstm_analysis, rnn  # noqa: E402


@pytest.mark.parametrize("forget_gate", [True, False])
def test_gate_trace_matches_step_by_step_forward(forget_gate):
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 6, 3, 4
    params = lstm.init_params(D, H, rng=rng, forget_gate=forget_gate)
    X = rng.normal(size=(N, T, D))
    trace = lstm_analysis.gate_trace(X, params, forget_gate=forget_gate)
    assert set(trace) == {"f", "i", "a", "o", "s", "h"}
    state = None
    for t in range(T):
        h, state, _ = lstm.step_forward(X[:, t], state, params, forget_gate=forget_gate)
        assert np.allclose(trace["h"][:, t], h)
        assert np.allclose(trace["s"][:, t], state[1])
    # the gates reproduce the state update (lstm-state)
    s_prev = np.concatenate([np.zeros((N, 1, H)), trace["s"][:, :-1]], axis=1)
    assert np.allclose(trace["s"], trace["f"] * s_prev + trace["i"] * trace["a"])
    assert np.allclose(trace["h"], trace["o"] * np.tanh(trace["s"]))
    if not forget_gate:
        assert np.all(trace["f"] == 1.0)


def test_gradient_norm_by_lag_matches_a_direct_backward():
    rng = np.random.default_rng(1)
    N, T, D, H = 3, 8, 2, 5
    params = rnn.init_params(D, H, rng=rng)
    X = rng.normal(size=(N, T, D))
    norms = lstm_analysis.gradient_norm_by_lag(rnn, params, X)
    assert norms.shape == (T,)
    Y, _, cache = rnn.forward(X, None, params)
    dY = np.zeros_like(Y)
    dY[:, -1] = 1 / np.sqrt(H)
    dX, _, _ = rnn.backward(dY, None, cache)
    assert np.allclose(norms[0], np.linalg.norm(dX[:, -1], axis=1).mean())
    assert np.allclose(norms[-1], np.linalg.norm(dX[:, 0], axis=1).mean())


def test_gradient_norm_by_lag_shows_the_carousel():
    # With f = 1 and tiny recurrent weights, the gradient along the cell state cannot decay,
    # while a basic RNN with a contracting recurrent matrix loses it exponentially.
    rng = np.random.default_rng(2)
    N, T, D, H = 4, 60, 2, 6
    X = rng.normal(size=(N, T, D))
    params_1997 = lstm.init_params(D, H, rng=rng, forget_gate=False)
    params_1997["W"][D:] *= 0.01
    lstm_norms = lstm_analysis.gradient_norm_by_lag(lstm, params_1997, X, forget_gate=False)
    params_rnn = rnn.init_params(D, H, rng=rng)
    params_rnn["W"][D:] *= 0.5
    rnn_norms = lstm_analysis.gradient_norm_by_lag(rnn, params_rnn, X)
    assert rnn_norms[-1] < 1e-6 * rnn_norms[0]
    assert lstm_norms[-1] > 1e-2 * lstm_norms[0]


def test_gradient_norm_by_lag_rejects_a_wrong_direction():
    params = rnn.init_params(2, 3, rng=0)
    with pytest.raises(ValueError, match="direction"):
        lstm_analysis.gradient_norm_by_lag(rnn, params, np.zeros((1, 4, 2)),
                                           direction=np.ones(4))


def test_draw_cell_diagram_returns_a_figure_and_checks_steps():
    fig = lstm_analysis.draw_cell_diagram(steps=2)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 1
    plt.close(fig)
    with pytest.raises(ValueError, match="steps"):
        lstm_analysis.draw_cell_diagram(steps=7)


# ------------------------------------------------------------------ Reber experiments


class _Oracle:
    """A 'model' whose outputs are the legal-next sets themselves (always correct)."""

    def __init__(self, batch, spoil=None):
        self.batch, self.spoil = batch, spoil

    def forward(self, X):
        outputs = self.batch.legal.astype(float)
        if self.spoil is not None:
            outputs = outputs.copy()
            outputs[self.spoil] = 1 - outputs[self.spoil]
        return outputs


def test_fraction_solved_uses_the_paper_criterion():
    from rnnlib import data

    train, _ = data.reber_train_test_sets(8, 1, rng=1)
    assert lstm_analysis.fraction_solved(_Oracle(train), train) == 1.0
    # one wrong step in string 3 makes exactly that string fail
    assert lstm_analysis.fraction_solved(_Oracle(train, spoil=(3, 2)), train) == 7 / 8


def test_train_until_solved_respects_the_budget():
    from rnnlib import data, optim
    from rnnlib.layers import SequenceModel

    train, test = data.reber_train_test_sets(16, 16, rng=2)
    model = SequenceModel("lstm", 7, 3, 7, rng=0)
    result = lstm_analysis.train_until_solved(model, train, test, optimizer=optim.Adam(0.01),
                                              max_sequences=64, batch_size=8, eval_every=4,
                                              rng=0)
    assert result["solved"] is False and result["sequences"] is None
    assert [point[0] for point in result["curve"]] == [32, 64]
    for _, on_train, on_test in result["curve"]:
        assert 0.0 <= on_train <= 1.0 and 0.0 <= on_test <= 1.0


@pytest.mark.parametrize("forget_gate", [True, False])
def test_train_on_stream_carries_the_state_and_logs(forget_gate):
    from rnnlib import data, optim
    from rnnlib.layers import SequenceModel

    stream = data.reber_stream(2, 60, rng=3)
    model = SequenceModel("lstm", 7, 4, 7, rng=0, forget_gate=forget_gate)
    log = lstm_analysis.train_on_stream(model, stream, optimizer=optim.Adam(0.01), chunk=10,
                                        log_every=2)
    assert log["symbols"] == [20, 40, 60]
    assert len(log["loss"]) == len(log["mean_abs_state"]) == 3
    assert all(np.isfinite(log["loss"]))
    with pytest.raises(ValueError, match="chunk"):
        lstm_analysis.train_on_stream(model, stream, optimizer=optim.Adam(0.01), chunk=100)


def test_run_stream_matches_the_model_forward():
    from rnnlib import data
    from rnnlib.layers import SequenceModel

    stream = data.reber_stream(2, 30, rng=4)
    for forget_gate in (True, False):
        model = SequenceModel("lstm", 7, 5, 7, rng=1, forget_gate=forget_gate)
        outputs, trace = lstm_analysis.run_stream(model, stream.X, forget_gate=forget_gate)
        assert np.allclose(outputs, model.forward(stream.X))
        assert trace["s"].shape == (2, 30, 5)
