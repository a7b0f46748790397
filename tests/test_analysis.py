"""Tests for rnnlib.analysis: state gradients, spectral radius, the one-unit network."""

import numpy as np
import pytest

from rnnlib import analysis, lstm, rnn


def _setup(seed=0, N=3, T=6, D=2, H=4):
    rng = np.random.default_rng(seed)
    params = rnn.init_params(D, H, rng=rng)
    X = rng.normal(size=(N, T, D))
    dY = rng.normal(size=(N, T, H))
    return X, params, dY


def _loss(X, params, dY, state0=None):
    Y, _, _ = rnn.forward(X, state0, params)
    return float((Y * dY).sum())


def test_state_gradients_match_finite_differences_of_a_state_perturbation():
    # dL/dh_t is what a small change added to h_t does to L; perturb the state at step t by
    # running the sequence in two pieces and nudging the state between them.
    X, params, dY = _setup()
    dH = analysis.state_gradients(X, params, dY)
    N, T, H = dY.shape
    eps = 1e-6
    for t in (0, 2, T - 1):
        Y1, h_t, _ = rnn.forward(X[:, : t + 1], None, params)
        numeric = np.empty((N, H))
        for n in range(N):
            for j in range(H):
                vals = []
                for sign in (+1, -1):
                    h = h_t.copy()
                    h[n, j] += sign * eps
                    Y_head = Y1.copy()
                    Y_head[:, -1] = h
                    if t + 1 < T:
                        Y2, _, _ = rnn.forward(X[:, t + 1 :], h, params)
                        Y = np.concatenate([Y_head, Y2], axis=1)
                    else:
                        Y = Y_head
                    vals.append((Y * dY).sum())
                numeric[n, j] = (vals[0] - vals[1]) / (2 * eps)
        np.testing.assert_allclose(dH[:, t], numeric, rtol=1e-6, atol=1e-8)


def test_state_gradients_first_step_backpropagates_to_state0_like_rnn_backward():
    X, params, dY = _setup(seed=1)
    dH = analysis.state_gradients(X, params, dY)
    _, _, cache = rnn.forward(X, None, params)
    _, dstate0, _ = rnn.backward(dY, None, cache)
    # h_0 -> h_1 is one step: dL/dh_0 = (dH[:, 0] * (1 - h_1^2)) @ W_h.T
    Y, _, _ = rnn.forward(X, None, params)
    D = X.shape[2]
    expected = (dH[:, 0] * (1 - Y[:, 0] ** 2)) @ params["W"][D:].T
    np.testing.assert_allclose(dstate0, expected, rtol=1e-10, atol=1e-12)


def test_state_gradients_last_step_is_the_output_gradient():
    X, params, dY = _setup(seed=2)
    dH = analysis.state_gradients(X, params, dY)
    np.testing.assert_array_equal(dH[:, -1], dY[:, -1])


def test_state_gradients_rejects_wrong_dY_shape():
    X, params, dY = _setup()
    with pytest.raises(ValueError, match=r"dY: expected shape \(N, T, H\)"):
        analysis.state_gradients(X, params, dY[:, :-1])


def test_set_spectral_radius():
    rng = np.random.default_rng(3)
    W = rng.normal(size=(5, 5))
    for radius in (0.5, 1.0, 2.5):
        scaled = analysis.set_spectral_radius(W, radius)
        assert analysis.spectral_radius(scaled) == pytest.approx(radius, rel=1e-12)
    assert analysis.set_spectral_radius(W.astype(np.float32), 1.0).dtype == np.float32


def test_spectral_radius_errors():
    with pytest.raises(ValueError, match="square"):
        analysis.spectral_radius(np.ones((2, 3)))
    with pytest.raises(ValueError, match="radius"):
        analysis.set_spectral_radius(np.eye(2), -1.0)
    with pytest.raises(ValueError, match="eigenvalues are zero"):
        analysis.set_spectral_radius(np.array([[0.0, 1.0], [0.0, 0.0]]), 1.0)


def test_one_unit_forward_matches_the_recursion_and_broadcasts():
    xs = analysis.one_unit_forward(2.0, -1.0, x0=0.5, steps=3)
    x = 0.5
    for t in range(1, 4):
        x = 2.0 * (1 / (1 + np.exp(-x))) - 1.0
        assert xs[t] == pytest.approx(x, rel=1e-14)
    w, b = np.meshgrid(np.linspace(-5, 5, 4), np.linspace(-3, 3, 3))
    assert analysis.one_unit_forward(w, b, steps=7).shape == (8, 3, 4)


def test_one_unit_gradients_match_finite_differences():
    w = np.array([-3.0, 1.0, 5.0, 9.0])
    b = np.array([1.0, -0.5, -2.0, -4.5])
    loss, dw, db = analysis.one_unit_loss_and_grads(w, b, steps=20)
    eps = 1e-6
    lw = analysis.one_unit_loss_and_grads(w + eps, b, steps=20)[0]
    lw_ = analysis.one_unit_loss_and_grads(w - eps, b, steps=20)[0]
    lb = analysis.one_unit_loss_and_grads(w, b + eps, steps=20)[0]
    lb_ = analysis.one_unit_loss_and_grads(w, b - eps, steps=20)[0]
    np.testing.assert_allclose(dw, (lw - lw_) / (2 * eps), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(db, (lb - lb_) / (2 * eps), rtol=1e-5, atol=1e-8)
    assert loss.shape == (4,)


@pytest.mark.parametrize("steps", [20, 50])
def test_one_unit_sigmoid_output_gradients_match_finite_differences(steps):
    w = np.array([-3.0, 1.0, 5.0, 6.0, 9.0])
    b = np.array([1.0, -0.5, -2.0, -3.0, -4.5])
    loss, dw, db = analysis.one_unit_loss_and_grads(w, b, steps=steps, sigmoid_output=True)

    def loss_at(w, b):
        return analysis.one_unit_loss_and_grads(w, b, steps=steps, sigmoid_output=True)[0]

    eps = 1e-6
    np.testing.assert_allclose(dw, (loss_at(w + eps, b) - loss_at(w - eps, b)) / (2 * eps),
                               rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(db, (loss_at(w, b + eps) - loss_at(w, b - eps)) / (2 * eps),
                               rtol=1e-5, atol=1e-9)


def test_one_unit_sigmoid_output_is_the_published_loss():
    # (sigma(x_T) - 0.7)^2 from the recursion itself, bounded by 0.7^2 < 0.49 + 0.01
    w, b = np.meshgrid(np.linspace(-2, 10, 7), np.linspace(-6, 2, 5))
    loss, _, _ = analysis.one_unit_loss_and_grads(w, b, sigmoid_output=True)
    xs = analysis.one_unit_forward(w, b, x0=0.5, steps=50)
    np.testing.assert_allclose(loss, (1 / (1 + np.exp(-xs[-1])) - 0.7) ** 2, rtol=1e-12)
    assert loss.max() < 0.49
    plain, _, _ = analysis.one_unit_loss_and_grads(w, b)
    assert not np.allclose(plain, loss)  # the variant without the sigmoid differs


def test_one_unit_sigmoid_output_must_be_a_bool():
    with pytest.raises(ValueError, match="sigmoid_output"):
        analysis.one_unit_loss_and_grads(6.0, -3.0, sigmoid_output="yes")


def test_one_unit_steps_must_be_positive():
    with pytest.raises(ValueError, match="steps"):
        analysis.one_unit_forward(1.0, 0.0, steps=0)


# ---------------------------------------------------------------------------------------
# The LSTM: gate traces and the gradient by lag
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("forget_gate", [True, False])
def test_gate_trace_matches_the_sequence_forward(forget_gate):
    rng = np.random.default_rng(0)
    N, T, D, H = 2, 6, 3, 4
    params = lstm.init_params(D, H, rng=rng, forget_gate=forget_gate)
    X = rng.normal(size=(N, T, D))
    state0 = (rng.normal(size=(N, H)), rng.normal(size=(N, H)))
    trace = analysis.gate_trace(X, params, state0, forget_gate=forget_gate)
    assert set(trace) == {"f", "i", "a", "o", "s", "h"}
    assert all(value.shape == (N, T, H) for value in trace.values())
    Y, (h_T, s_T), cache = lstm.forward(X, state0, params, forget_gate=forget_gate)
    np.testing.assert_allclose(trace["h"], Y)
    np.testing.assert_allclose(trace["s"][:, -1], s_T)
    # the gates reproduce the state update (lstm-state) and the output (lstm-output)
    s_prev = np.concatenate([state0[1][:, None], trace["s"][:, :-1]], axis=1)
    np.testing.assert_allclose(trace["s"], trace["f"] * s_prev + trace["i"] * trace["a"])
    np.testing.assert_allclose(trace["h"], trace["o"] * np.tanh(trace["s"]))
    assert np.all((trace["i"] > 0) & (trace["i"] < 1)) and np.all(np.abs(trace["a"]) < 1)
    if not forget_gate:
        assert np.all(trace["f"] == 1.0)


def test_gate_trace_rejects_a_wrong_input():
    params = lstm.init_params(3, 2, rng=0)
    with pytest.raises(ValueError, match="X"):
        analysis.gate_trace(np.zeros((4, 3)), params)


def test_gradient_norm_by_lag_matches_a_direct_backward():
    rng = np.random.default_rng(1)
    N, T, D, H = 3, 8, 2, 5
    params = rnn.init_params(D, H, rng=rng)
    X = rng.normal(size=(N, T, D))
    norms = analysis.gradient_norm_by_lag(rnn, params, X)
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
    lstm_norms = analysis.gradient_norm_by_lag(lstm, params_1997, X, forget_gate=False)
    params_rnn = rnn.init_params(D, H, rng=rng)
    params_rnn["W"][D:] *= 0.5
    rnn_norms = analysis.gradient_norm_by_lag(rnn, params_rnn, X)
    assert rnn_norms[-1] < 1e-6 * rnn_norms[0]
    assert lstm_norms[-1] > 1e-2 * lstm_norms[0]


def test_gradient_norm_by_lag_rejects_a_wrong_direction():
    params = rnn.init_params(2, 3, rng=0)
    with pytest.raises(ValueError, match="direction"):
        analysis.gradient_norm_by_lag(rnn, params, np.zeros((1, 4, 2)),
                                      direction=np.ones(4))


def test_gate_trace_of_a_model_layer_gives_the_model_outputs():
    # What the LSTM chapter does to look inside a trained next-symbol model.
    from rnnlib import data, layers
    from rnnlib.model import SequenceModel

    stream = data.reber_stream(2, 30, rng=4)
    for forget_gate in (True, False):
        model = SequenceModel("lstm", 7, 5, 7, rng=1, forget_gate=forget_gate)
        trace = analysis.gate_trace(stream.X, model.layer_params(0), forget_gate=forget_gate)
        outputs, _ = layers.dense_forward(trace["h"], {"W": model.params["out.W"],
                                                       "b": model.params["out.b"]})
        np.testing.assert_allclose(outputs, model.forward(stream.X))
        assert trace["s"].shape == (2, 30, 5)
