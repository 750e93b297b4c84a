"""Every optimizer minimises test functions, updates in place and matches its formula."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.optimizers import (
    OPTIMIZERS,
    SGD,
    AdaGrad,
    Adam,
    Momentum,
    Nesterov,
    RMSprop,
    get_optimizer,
)

CURVATURE = np.array([1.0, 10.0])  # an ill-conditioned bowl: steep in y, flat in x
CENTRE = np.array([3.0, -2.0])


def quadratic_grad(w: np.ndarray) -> np.ndarray:
    """Gradient of ½·Σ a_i (w_i − c_i)², minimum at CENTRE."""
    return CURVATURE * (w - CENTRE)


def rosenbrock_grad(w: np.ndarray, b: float = 10.0) -> np.ndarray:
    """Gradient of (1 − x)² + b·(y − x²)², minimum at (1, 1) in a curved valley."""
    x, y = w
    return np.array([-2 * (1 - x) - 4 * b * x * (y - x * x), 2 * b * (y - x * x)])


def minimise(optimizer, grad_fn, start, steps: int) -> np.ndarray:
    params = {"w": np.array(start, dtype=np.float64)}
    for _ in range(steps):
        optimizer.update(params, {"w": grad_fn(params["w"])})
    return params["w"]


QUADRATIC_LR = {
    "sgd": 0.05,
    "momentum": 0.02,
    "nesterov": 0.02,
    "adagrad": 0.5,
    "rmsprop": 0.01,
    "adam": 0.05,
}
ROSENBROCK_LR = {
    "sgd": 0.01,
    "momentum": 0.002,
    "nesterov": 0.002,
    "adagrad": 0.5,
    "rmsprop": 0.002,
    "adam": 0.02,
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_minimises_an_ill_conditioned_quadratic(name):
    w = minimise(get_optimizer(name, lr=QUADRATIC_LR[name]), quadratic_grad, [0.0, 0.0], 2000)
    np.testing.assert_allclose(w, CENTRE, atol=1e-3)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_finds_the_rosenbrock_minimum(name):
    w = minimise(get_optimizer(name, lr=ROSENBROCK_LR[name]), rosenbrock_grad, [-1.0, 1.0], 3000)
    np.testing.assert_allclose(w, [1.0, 1.0], atol=1e-2)


def test_momentum_gets_closer_than_sgd_in_the_same_number_of_steps():
    sgd = minimise(SGD(lr=0.01), quadratic_grad, [0.0, 0.0], 100)
    momentum = minimise(Momentum(lr=0.01), quadratic_grad, [0.0, 0.0], 100)
    assert np.abs(momentum - CENTRE).max() < np.abs(sgd - CENTRE).max() / 10


def test_sgd_step_is_minus_lr_times_gradient():
    params = {"W": np.array([1.0, -2.0])}
    SGD(lr=0.1).update(params, {"W": np.array([0.5, -4.0])})
    np.testing.assert_allclose(params["W"], [0.95, -1.6])


def test_momentum_two_steps_match_the_velocity_formula():
    params, g = {"W": np.array([1.0])}, {"W": np.array([2.0])}
    opt = Momentum(lr=0.1, momentum=0.9)
    opt.update(params, g)  # v = -0.2, W = 0.8
    opt.update(params, g)  # v = 0.9·(-0.2) - 0.2 = -0.38, W = 0.42
    np.testing.assert_allclose(params["W"], [0.42])


def test_nesterov_two_steps_match_the_look_ahead_formula():
    params, g = {"W": np.array([1.0])}, {"W": np.array([2.0])}
    opt = Nesterov(lr=0.1, momentum=0.9)
    opt.update(params, g)  # v = -0.2; W = 1 + 0.9·(-0.2) - 0.2 = 0.62
    np.testing.assert_allclose(params["W"], [0.62])
    opt.update(params, g)  # v = -0.38; W = 0.62 + 0.9·(-0.38) - 0.2 = 0.078
    np.testing.assert_allclose(params["W"], [0.078])


def test_adagrad_and_rmsprop_steps_match_their_formulas():
    g = np.array([3.0, -0.5])
    ada = {"W": np.zeros(2)}
    AdaGrad(lr=0.1, eps=1e-12).update(ada, {"W": g})
    np.testing.assert_allclose(ada["W"], -0.1 * np.sign(g))  # h = g², so the step is lr·sign(g)
    rms = {"W": np.zeros(2)}
    RMSprop(lr=0.1, decay=0.9, eps=1e-12).update(rms, {"W": g})
    np.testing.assert_allclose(rms["W"], -0.1 * g / np.sqrt(0.1 * g**2))


def test_one_adam_step_matches_a_hand_computation():
    w = np.array([0.5, -1.0, 2.0])
    g = np.array([0.1, -3.0, 0.0])
    lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
    m = (1 - b1) * g
    v = (1 - b2) * g**2
    m_hat, v_hat = m / (1 - b1), v / (1 - b2)
    expected = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    params = {"W": w.copy()}
    Adam(lr=lr, beta1=b1, beta2=b2, eps=eps).update(params, {"W": g})
    np.testing.assert_allclose(params["W"], expected, rtol=1e-12)
    # Thanks to the bias correction the first step is lr·sign(g), not (1 - β1)·lr·...
    np.testing.assert_allclose(params["W"] - w, [-0.01, 0.01, 0.0], atol=1e-9)


def test_second_adam_step_uses_the_step_count_in_its_bias_correction():
    g1, g2 = np.array([1.0]), np.array([-2.0])
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    m = b1 * (1 - b1) * g1 + (1 - b1) * g2
    v = b2 * (1 - b2) * g1**2 + (1 - b2) * g2**2
    step2 = lr * (m / (1 - b1**2)) / (np.sqrt(v / (1 - b2**2)) + eps)
    params = {"W": np.array([0.0])}
    opt = Adam(lr=lr)
    opt.update(params, {"W": g1})
    opt.update(params, {"W": g2})
    step1 = lr * g1 / (np.abs(g1) + eps)
    np.testing.assert_allclose(params["W"], -step1 - step2, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_update_is_in_place_keeps_float32_and_leaves_grads_alone(name):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((4, 3)).astype(np.float32)
    g = rng.standard_normal((4, 3)).astype(np.float32)
    params, grads = {"W": W}, {"W": g}
    before, g_before = W.copy(), g.copy()
    opt = get_optimizer(name, lr=0.1)
    for _ in range(3):
        opt.update(params, grads)
    assert params["W"] is W and W.dtype == np.float32
    assert not np.allclose(W, before)
    np.testing.assert_array_equal(g, g_before)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_state_buffers_are_reused_between_steps(name):
    params, grads = {"W": np.ones(5)}, {"W": np.full(5, 0.5)}
    opt = get_optimizer(name, lr=0.1)
    opt.update(params, grads)
    buffers = {key: id(array) for key, array in opt.state["W"].items()}
    opt.update(params, grads)
    assert {key: id(array) for key, array in opt.state["W"].items()} == buffers


def test_each_parameter_keeps_its_own_state():
    params = {"a": np.zeros(2), "b": np.zeros(3)}
    grads = {"a": np.ones(2), "b": -np.ones(3)}
    opt = Momentum(lr=0.1)
    opt.update(params, grads)
    np.testing.assert_allclose(opt.state["a"]["v"], -0.1)
    np.testing.assert_allclose(opt.state["b"]["v"], 0.1)


def test_changing_lr_between_steps_takes_effect():
    params = {"W": np.zeros(1)}
    opt = SGD(lr=0.1)
    opt.update(params, {"W": np.ones(1)})
    opt.lr = 0.01
    opt.update(params, {"W": np.ones(1)})
    np.testing.assert_allclose(params["W"], [-0.11])


def test_unknown_optimizer_name_lists_the_valid_names():
    with pytest.raises(ValueError, match=r"unknown optimizer 'adamw'; choose one of: sgd, .*adam"):
        get_optimizer("adamw")


def test_get_optimizer_is_case_insensitive_and_passes_arguments():
    opt = get_optimizer("Adam", lr=0.003, beta1=0.8)
    assert isinstance(opt, Adam) and opt.lr == 0.003 and opt.beta1 == 0.8
    assert repr(opt) == "Adam(lr=0.003, beta1=0.8, beta2=0.999, eps=1e-08)"


def test_missing_gradient_names_the_parameter():
    with pytest.raises(KeyError, match=r"no gradient for \['affine1.b'\]"):
        SGD().update({"affine1.b": np.zeros(2)}, {"affine1.W": np.zeros(2)})


def test_gradient_of_the_wrong_shape_is_reported_with_both_shapes():
    with pytest.raises(
        ValueError, match=r"'W' has shape \(3,\) but the parameter has shape \(2,\)"
    ):
        SGD().update({"W": np.zeros(2)}, {"W": np.zeros(3)})


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: SGD(lr=0), "expected lr to be positive"),
        (lambda: Momentum(momentum=1.0), r"expected momentum to be in \[0, 1\)"),
        (lambda: Adam(beta2=-0.1), r"expected beta2 to be in \[0, 1\)"),
    ],
)
def test_invalid_hyperparameters_are_rejected(factory, message):
    with pytest.raises(ValueError, match=message):
        factory()


def test_reset_forgets_the_state():
    params = {"W": np.zeros(1)}
    opt = Adam(lr=0.1)
    opt.update(params, {"W": np.ones(1)})
    opt.reset()
    params["W"][:] = 0
    opt.update(params, {"W": np.ones(1)})
    np.testing.assert_allclose(params["W"], [-0.1])  # a first step again: lr·sign(g)
