"""rnnlib.scan: every scan equals the loop, every backward equals the loop's backward, the
loop's backward passes the finite-difference check and agrees with PyTorch's autograd."""

import numpy as np
import pytest
import torch

from rnnlib import gradcheck, scan

LENGTHS = [1, 2, 3, 7, 8, 13, 64]


def _inputs(seed, N, T, H, dtype=np.float64, positive=False):
    rng = np.random.default_rng(seed)
    A = rng.uniform(0.1, 1.0, (N, T, H)).astype(dtype)
    if positive:
        B = rng.uniform(0.1, 1.0, (N, T, H)).astype(dtype)
        h0 = rng.uniform(0.1, 1.0, (N, H)).astype(dtype)
    else:
        B = rng.normal(size=(N, T, H)).astype(dtype)
        h0 = rng.normal(size=(N, H)).astype(dtype)
    return A, B, h0


@pytest.mark.parametrize("T", LENGTHS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_scans_equal_the_loop(T, dtype):
    A, B, h0 = _inputs(T, 3, T, 4, dtype)
    Y, h_T, _ = scan.sequential_forward(A, B, h0)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    Y_par, h_T_par, _ = scan.parallel_forward(A, B, h0)
    np.testing.assert_allclose(Y_par, Y, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(h_T_par, h_T, rtol=rtol, atol=rtol)
    A_prefix, B_prefix = scan.hillis_steele_scan(A, B)
    np.testing.assert_allclose(A_prefix * h0[:, None] + B_prefix, Y, rtol=rtol, atol=rtol)
    np.testing.assert_allclose(A_prefix, np.cumprod(A, axis=1), rtol=rtol)
    assert Y_par.dtype == dtype and A_prefix.dtype == dtype


@pytest.mark.parametrize("T", LENGTHS)
def test_blelloch_scan_is_exclusive(T):
    A, B, h0 = _inputs(T, 2, T, 3)
    Y, _, _ = scan.sequential_forward(A, B, h0)
    A_before, B_before = scan.blelloch_scan(A, B)
    H_prev = np.concatenate([h0[:, None], Y[:, :-1]], axis=1)
    np.testing.assert_allclose(A_before * h0[:, None] + B_before, H_prev, rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_array_equal(A_before[:, 0], 1)
    np.testing.assert_array_equal(B_before[:, 0], 0)


@pytest.mark.parametrize("T", LENGTHS)
def test_log_scan_equals_the_loop_for_positive_inputs(T):
    A, B, h0 = _inputs(T, 2, T, 3, positive=True)
    Y, _, _ = scan.sequential_forward(A, B, h0)
    Y_log, _, _ = scan.log_forward(np.log(A), np.log(B), np.log(h0))
    np.testing.assert_allclose(Y_log, Y, rtol=1e-12)
    Y_zero, _, _ = scan.sequential_forward(A, B, None)
    np.testing.assert_allclose(scan.log_forward(np.log(A), np.log(B))[0], Y_zero, rtol=1e-12)


@pytest.mark.parametrize("T", LENGTHS)
def test_backwards_agree(T):
    A, B, h0 = _inputs(T, 2, T, 3, positive=True)
    rng = np.random.default_rng(100 + T)
    dY, dh_T = rng.normal(size=A.shape), rng.normal(size=h0.shape)
    reference = scan.sequential_backward(dY, dh_T, scan.sequential_forward(A, B, h0)[2])
    parallel = scan.parallel_backward(dY, dh_T, scan.parallel_forward(A, B, h0)[2])
    for got, expected in zip(parallel, reference, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    dlog_A, dlog_B, dh0 = scan.log_backward(
        dY, dh_T, scan.log_forward(np.log(A), np.log(B), np.log(h0))[2])
    np.testing.assert_allclose(dlog_A, A * reference[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dlog_B, B * reference[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dh0, reference[2], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("method", ["sequential", "parallel", "log"])
def test_gradient_check(method):
    A, B, h0 = _inputs(0, 2, 6, 3, positive=True)
    rng = np.random.default_rng(1)
    dY, dh_T = rng.normal(size=A.shape), rng.normal(size=h0.shape)
    if method == "log":
        arrays = {"log_A": np.log(A), "log_B": np.log(B), "log_h0": np.log(h0)}
        forward, backward = scan.log_forward, scan.log_backward
    else:
        arrays = {"A": A, "B": B, "h0": h0}
        forward = getattr(scan, f"{method}_forward")
        backward = getattr(scan, f"{method}_backward")
    names = list(arrays)

    def loss():
        Y, h_T, _ = forward(*arrays.values())
        return float(np.sum(Y * dY) + np.sum(h_T * dh_T))

    grads = backward(dY, dh_T, forward(*arrays.values())[2])
    analytic = dict(zip(names, grads, strict=True))
    if method == "log":  # log_backward returns the gradient of h0 itself
        analytic["log_h0"] = analytic["log_h0"] * h0
    errors = gradcheck.check_gradients(loss, arrays, analytic)
    assert max(errors.values()) < 1e-7, errors


def test_agrees_with_torch_autograd():
    A, B, h0 = _inputs(3, 2, 9, 4)
    rng = np.random.default_rng(2)
    dY, dh_T = rng.normal(size=A.shape), rng.normal(size=h0.shape)
    tA, tB, th0 = (torch.tensor(x, requires_grad=True) for x in (A, B, h0))
    h, states = th0, []
    for t in range(A.shape[1]):
        h = tA[:, t] * h + tB[:, t]
        states.append(h)
    loss = (torch.stack(states, 1) * torch.tensor(dY)).sum() + (h * torch.tensor(dh_T)).sum()
    loss.backward()
    Y, _, cache = scan.parallel_forward(A, B, h0)
    np.testing.assert_allclose(Y, torch.stack(states, 1).detach().numpy(), rtol=1e-12)
    for got, tensor in zip(scan.parallel_backward(dY, dh_T, cache), (tA, tB, th0),
                           strict=True):
        np.testing.assert_allclose(got, tensor.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_combine_is_associative():
    rng = np.random.default_rng(4)
    x, y, z = ((rng.uniform(0.1, 2, 5), rng.normal(size=5)) for _ in range(3))
    left = scan.combine(scan.combine(x, y), z)
    right = scan.combine(x, scan.combine(y, z))
    np.testing.assert_allclose(left, right, rtol=1e-13)
    identity = (np.ones(5), np.zeros(5))
    np.testing.assert_allclose(scan.combine(identity, x), x)
    np.testing.assert_allclose(scan.combine(x, identity), x)


def test_inputs_are_not_changed():
    A, B, h0 = _inputs(5, 2, 5, 3)
    copies = [A.copy(), B.copy(), h0.copy()]
    scan.parallel_forward(A, B, h0)
    scan.hillis_steele_scan(A, B)
    scan.blelloch_scan(A, B)
    for original, copy in zip((A, B, h0), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_bad_input_names_the_argument():
    A, B, h0 = _inputs(6, 2, 5, 3)
    with pytest.raises(ValueError, match=r"B: expected shape \(N, T, H\) = \(2, 5, 3\)"):
        scan.parallel_forward(A, B[:, :4], h0)
    with pytest.raises(ValueError, match="h0"):
        scan.sequential_forward(A, B, h0[:, :2])
    with pytest.raises(ValueError, match="A: expected a 3-d array"):
        scan.hillis_steele_scan(A[0], B[0])
    with pytest.raises(ValueError, match="log_B"):
        scan.log_forward(np.log(np.abs(A)), np.full(A.shape, np.nan))
    _, _, cache = scan.sequential_forward(A, B, h0)
    with pytest.raises(ValueError, match="dY"):
        scan.sequential_backward(np.zeros((2, 4, 3)), None, cache)
    with pytest.raises(ValueError, match="parallel_forward"):
        scan.parallel_backward(np.zeros(A.shape), None, cache)
