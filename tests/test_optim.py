"""Tests for rnnlib.optim: hand-computed steps, PyTorch agreement, a quadratic, clipping."""

import re

import numpy as np
import pytest

from rnnlib.optim import SGD, Adam, clip_grad_norm, global_norm


def _quadratic(params, curvature):
    """f(p) = 1/2 sum_k c_k p_k^2 over all arrays, and its gradient c * p."""
    loss = 0.5 * sum(float(np.sum(curvature[k] * p**2)) for k, p in params.items())
    grads = {k: curvature[k] * p for k, p in params.items()}
    return loss, grads


@pytest.fixture
def quadratic_problem(rng):
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    curvature = {"W": rng.uniform(0.5, 2.0, (3, 4)), "b": rng.uniform(0.5, 2.0, 4)}
    return params, curvature


# ---------------------------------------------------------------------------------------
# SGD
# ---------------------------------------------------------------------------------------


def test_sgd_first_step_by_hand():
    params = {"w": np.array([1.0, -2.0])}
    SGD(lr=0.1).step(params, {"w": np.array([0.5, 4.0])})
    np.testing.assert_allclose(params["w"], [1.0 - 0.05, -2.0 - 0.4])


def test_sgd_momentum_two_steps_by_hand():
    w = np.array([1.0])
    params = {"w": w}
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(params, {"w": np.array([2.0])})  # v = 2, w = 1 - 0.2 = 0.8
    opt.step(params, {"w": np.array([1.0])})  # v = 0.9 * 2 + 1 = 2.8, w = 0.8 - 0.28
    np.testing.assert_allclose(params["w"], [0.52])
    assert params["w"] is w  # updated in place


def test_adam_first_two_steps_by_hand():
    lr, (b1, b2), eps = 0.01, (0.9, 0.999), 1e-8
    params = {"w": np.array([1.0, 1.0])}
    opt = Adam(lr=lr, betas=(b1, b2), eps=eps)
    g1, g2 = np.array([3.0, -1e-3]), np.array([1.0, 2.0])
    opt.step(params, {"w": g1})
    # Bias correction: m_hat = g1 and v_hat = g1^2, so each entry moves by lr (sign of g).
    np.testing.assert_allclose(params["w"], 1.0 - lr * g1 / (np.abs(g1) + eps), rtol=1e-12)
    after_first = params["w"].copy()
    opt.step(params, {"w": g2})
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    m_hat, v_hat = m / (1 - b1**2), v / (1 - b2**2)
    np.testing.assert_allclose(params["w"], after_first - lr * m_hat / (np.sqrt(v_hat) + eps),
                               rtol=1e-12)
    assert opt.t == 2


@pytest.mark.parametrize("make", [
    lambda torch, p: (SGD(0.05, momentum=0.9), torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    lambda torch, p: (Adam(0.01), torch.optim.Adam(p, lr=0.01)),
], ids=["sgd-momentum", "adam"])
def test_optimisers_match_torch_over_ten_steps(rng, torch, quadratic_problem, make):
    params, curvature = quadratic_problem
    twins = [torch.tensor(p.copy(), requires_grad=True) for p in params.values()]
    ours, theirs = make(torch, twins)
    for _ in range(10):
        _, grads = _quadratic(params, curvature)
        ours.step(params, grads)
        theirs.zero_grad()
        loss = sum(0.5 * (torch.tensor(curvature[k]) * t**2).sum()
                   for k, t in zip(params, twins, strict=True))
        loss.backward()
        theirs.step()
    for p, t in zip(params.values(), twins, strict=True):
        np.testing.assert_allclose(p, t.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("optimizer", [SGD(0.3), SGD(0.1, momentum=0.9), Adam(0.05)],
                         ids=["sgd", "momentum", "adam"])
def test_optimisers_reduce_a_quadratic(quadratic_problem, optimizer):
    params, curvature = quadratic_problem
    start, _ = _quadratic(params, curvature)
    for _ in range(300):
        _, grads = _quadratic(params, curvature)
        optimizer.step(params, grads)
    end, _ = _quadratic(params, curvature)
    assert end < 1e-4 * start


@pytest.mark.parametrize("optimizer", [SGD(0.1, momentum=0.5), Adam(0.1)])
def test_float32_stays_float32(optimizer):
    params = {"w": np.ones(3, np.float32)}
    optimizer.step(params, {"w": np.full(3, 0.5, np.float32)})
    assert params["w"].dtype == np.float32


@pytest.mark.parametrize("optimizer", [SGD(0.1), Adam()], ids=["sgd", "adam"])
@pytest.mark.parametrize(
    "grads, message",
    [
        ({"W": np.zeros((2, 2))}, r"grads: expected the same keys as params; missing \['b'\]"),
        ({"W": np.zeros((2, 2)), "b": np.zeros(2), "c": np.zeros(1)}, r"unexpected \['c'\]"),
        ({"W": np.zeros((2, 3)), "b": np.zeros(2)}, r"grads\['W'\]: expected shape \(2, 2\)"),
        ({"W": np.zeros((2, 2), np.float32), "b": np.zeros(2)}, "expected dtype float64"),
        ({"W": np.full((2, 2), np.nan), "b": np.zeros(2)}, r"grads\['W'\] contains NaN"),
    ],
)
def test_mismatched_grads_are_rejected(optimizer, grads, message):
    params = {"W": np.zeros((2, 2)), "b": np.zeros(2)}
    with pytest.raises(ValueError, match=message):
        optimizer.step(params, grads)


# ---------------------------------------------------------------------------------------
# One policy for state kept between steps
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("make, owner", [
    (lambda: SGD(0.1, momentum=0.9), "this SGD"),
    (lambda: Adam(), "this Adam"),
], ids=["sgd-momentum", "adam"])
def test_optimisers_refuse_parameters_that_changed_after_steps(make, owner):
    opt = make()
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    with pytest.raises(ValueError, match=rf"params: expected the keys {owner} has state for, "
                                         r"\['w'\], got keys \['v'\]"):
        opt.step({"v": np.zeros(2)}, {"v": np.ones(2)})
    with pytest.raises(ValueError, match=r"params\['w'\]: expected shape \(2,\) and dtype "
                                         r"float64 \(as in earlier steps\), got shape \(3,\)"):
        opt.step({"w": np.zeros(3)}, {"w": np.ones(3)})
    with pytest.raises(ValueError, match="got shape \\(2,\\) and dtype float32"):
        opt.step({"w": np.zeros(2, np.float32)}, {"w": np.ones(2, np.float32)})
    params = {"w": np.zeros(2)}
    opt.step(params, {"w": np.ones(2)})  # the refused steps changed nothing
    assert np.all(params["w"] < 0)


def test_sgd_without_momentum_keeps_no_state():
    # Plain gradient descent has nothing to carry from one step to the next, so any
    # parameters may follow any others.
    opt = SGD(0.1)
    opt.step({"w": np.zeros(2)}, {"w": np.ones(2)})
    params = {"w": np.zeros(3)}
    opt.step(params, {"w": np.ones(3)})
    np.testing.assert_allclose(params["w"], -0.1)
    assert opt.velocity == {}


# ---------------------------------------------------------------------------------------
# Hyperparameters
# ---------------------------------------------------------------------------------------

#: Values that are not a usable hyperparameter, with what the message must show of them.
NOT_NUMBERS = [
    pytest.param("0.01", re.escape("got '0.01' (of type str)"), id="string"),
    pytest.param(None, re.escape("got None (of type NoneType)"), id="None"),
    pytest.param(True, re.escape("got True (of type bool)"), id="bool"),
    pytest.param(np.array([0.1]), re.escape("got array([0.1]) (of type ndarray)"), id="array"),
    pytest.param(float("nan"), "got nan", id="nan"),
    pytest.param(float("inf"), "got inf", id="inf"),
]
NEGATIVE = [pytest.param(-0.1, "got -0.1", id="negative"), pytest.param(0.0, "got 0.0", id="zero")]


@pytest.mark.parametrize("value, received", NOT_NUMBERS + NEGATIVE)
@pytest.mark.parametrize("make, expected", [
    (lambda v: SGD(v), "lr: expected a positive learning rate"),
    (lambda v: Adam(lr=v), "lr: expected a positive learning rate"),
    (lambda v: Adam(eps=v), "eps: expected a positive number"),
    (lambda v: clip_grad_norm({"W": np.ones(2)}, v), "max_norm: expected a positive number"),
], ids=["sgd-lr", "adam-lr", "adam-eps", "clip-max_norm"])
def test_positive_hyperparameters_refuse_what_is_not_a_positive_number(make, expected,
                                                                       value, received):
    with pytest.raises(ValueError, match=f"{expected}, {received}"):
        make(value)


@pytest.mark.parametrize("value, received", NOT_NUMBERS + [
    pytest.param(-0.1, "got -0.1", id="negative"),
    pytest.param(1.0, "got 1.0", id="one"),
])
@pytest.mark.parametrize("make, expected", [
    (lambda v: SGD(0.1, momentum=v), re.escape("momentum: expected a value in [0, 1)")),
    (lambda v: Adam(betas=(v, 0.999)), re.escape("betas[0]: expected a value in [0, 1)")),
    (lambda v: Adam(betas=(0.9, v)), re.escape("betas[1]: expected a value in [0, 1)")),
], ids=["momentum", "beta1", "beta2"])
def test_rates_in_0_1_refuse_what_is_not_such_a_number(make, expected, value, received):
    with pytest.raises(ValueError, match=f"{expected}, {received}"):
        make(value)


@pytest.mark.parametrize("betas", ["ab", (0.9,), (0.9, 0.99, 0.999), None, 0.9])
def test_betas_must_be_a_pair(betas):
    with pytest.raises(ValueError, match=re.escape(f"betas: expected two values in [0, 1), "
                                                   f"got {betas!r}")):
        Adam(betas=betas)


def test_hyperparameters_changed_between_steps_are_checked_too():
    sgd, adam = SGD(0.1, momentum=0.5), Adam()
    sgd.lr = 0.05  # a schedule
    assert sgd.lr == 0.05
    with pytest.raises(ValueError, match=re.escape("lr: expected a positive learning rate, "
                                                   "got '0.01' (of type str)")):
        sgd.lr = "0.01"
    with pytest.raises(ValueError, match="momentum: expected a value in"):
        sgd.momentum = None
    with pytest.raises(ValueError, match="lr: expected a positive learning rate, got nan"):
        adam.lr = float("nan")
    assert sgd.lr == 0.05 and sgd.momentum == 0.5 and adam.lr == 1e-3


def test_numpy_scalars_and_integers_are_numbers():
    assert SGD(np.float32(0.5), momentum=np.float64(0.25)).lr == 0.5
    assert SGD(1).lr == 1.0 and isinstance(SGD(1).lr, float)
    assert Adam(lr=np.float64(0.01), betas=(0, np.float32(0.5))).betas == (0.0, 0.5)
    grads = {"W": np.full(4, 2.0)}  # norm 4
    assert clip_grad_norm(grads, np.int64(2)) == pytest.approx(4.0)
    np.testing.assert_allclose(grads["W"], 1.0)


# ---------------------------------------------------------------------------------------
# Clipping
# ---------------------------------------------------------------------------------------


def test_clip_returns_the_norm_before_clipping_and_rescales():
    grads = {"W": np.array([[3.0, 0.0]]), "b": np.array([4.0])}  # global norm 5
    W = grads["W"]
    norm = clip_grad_norm(grads, max_norm=1.0)
    assert norm == pytest.approx(5.0)
    assert global_norm(grads) == pytest.approx(1.0)
    np.testing.assert_allclose(grads["W"], [[0.6, 0.0]])  # same direction, length 1
    np.testing.assert_allclose(grads["b"], [0.8])
    assert grads["W"] is W  # in place


def test_clip_leaves_small_gradients_alone(rng):
    grads = {"W": rng.standard_normal((3, 3)) * 0.01}
    before = grads["W"].copy()
    norm = clip_grad_norm(grads, max_norm=1.0)
    assert norm == pytest.approx(np.linalg.norm(before))
    np.testing.assert_array_equal(grads["W"], before)


def test_clip_keeps_float32():
    grads = {"W": np.full((2, 2), 10.0, np.float32)}
    clip_grad_norm(grads, 2.0)
    assert grads["W"].dtype == np.float32
    assert global_norm(grads) == pytest.approx(2.0, rel=1e-6)


def test_clip_reports_nan_and_bad_threshold():
    with pytest.raises(ValueError, match=r"grads\['b'\] contains NaN or inf"):
        clip_grad_norm({"W": np.ones(2), "b": np.array([1.0, np.inf])}, 1.0)
    with pytest.raises(ValueError, match="max_norm: expected a positive number, got 0.0"):
        clip_grad_norm({"W": np.ones(2)}, 0.0)
