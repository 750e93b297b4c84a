"""Claims of lesson 05 about numerical gradients and gradient checks."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.gradients import GradientCheck, gradient_check, numerical_gradient, relative_error
from dlcourse.layers import Affine, Layer, ReLU


def test_numerical_gradient_of_a_quadratic_is_exact():
    x = np.array([[1.0, -2.0, 3.0], [0.5, 0.0, -1.5]])
    grad = numerical_gradient(lambda z: float(np.sum(z**2)), x)
    np.testing.assert_allclose(grad, 2 * x, rtol=1e-8)
    assert grad.shape == x.shape and grad.dtype == x.dtype


def test_numerical_gradient_restores_x_after_each_element():
    x = np.array([1.0, 2.0, 3.0])
    seen = []
    numerical_gradient(lambda z: seen.append(z.copy()) or 0.0, x, h=0.5)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])
    # only one element is perturbed at a time
    assert all(np.count_nonzero(s != [1.0, 2.0, 3.0]) == 1 for s in seen)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0, 3.0])

    def f(z: np.ndarray) -> float:
        if z[1] != 2.0:
            raise ArithmeticError("boom")
        return float(z.sum())

    with pytest.raises(ArithmeticError, match="boom"):
        numerical_gradient(f, x)
    np.testing.assert_array_equal(x, [1.0, 2.0, 3.0])


def test_numerical_gradient_refuses_integer_arrays():
    with pytest.raises(TypeError, match="float numpy array"):
        numerical_gradient(lambda z: 0.0, np.array([1, 2, 3]))


def test_relative_error_formula():
    a = np.array([1.0, 0.0, 2.0, 1e-12])
    n = np.array([1.1, 0.0, -2.0, 0.0])
    np.testing.assert_allclose(relative_error(a, n), [0.1 / 1.1, 0.0, 2.0, 1e-4])


class WrongAffine(Affine):
    """Affine whose dW is wrong at exactly one place, [3, 1]."""

    def backward(self, dout):
        dx = super().backward(dout)
        self.grads["W"] = self.grads["W"].copy()
        self.grads["W"][3, 1] += 0.5
        return dx


def test_gradient_check_finds_where_a_gradient_is_wrong():
    rng = np.random.default_rng(0)
    layer = WrongAffine(rng.standard_normal((5, 3)), rng.standard_normal(3))
    result = gradient_check(layer, rng.standard_normal((4, 5)), rng=0)
    assert not result.passed()
    assert result.where == "W[3, 1]"
    assert result.errors["dx"] < 1e-8 and result.errors["b"] < 1e-8
    assert "FAILED" in str(result) and "W[3, 1]" in str(result)


class DoubleDx(Layer):
    kind = "double"

    def forward(self, x):
        return x * 3

    def backward(self, dout):
        return dout * 2  # wrong: should be 3


def test_gradient_check_catches_a_wrong_dx():
    result = gradient_check(DoubleDx(), np.ones((2, 3)))
    assert result.max_error == pytest.approx(1 / 3)
    assert result.where.startswith("dx[")


def test_gradient_check_runs_in_float64_and_leaves_the_layer_alone():
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((6, 4)).astype(np.float32), np.zeros(4, np.float32)
    layer = Affine(W, b)
    W_before = W.copy()
    result = gradient_check(layer, rng.standard_normal((3, 6)).astype(np.float32))
    assert result.passed(1e-6), str(result)  # float32 could never reach 1e-6
    assert layer.W is W and layer.W.dtype == np.float32
    np.testing.assert_array_equal(W, W_before)
    assert layer.grads == {}


def test_gradient_check_result_is_readable():
    result = GradientCheck(max_error=3e-9, where="affine2.W[3, 1]", errors={"affine2.W": 3e-9})
    assert result.passed() and not result.passed(1e-10)
    text = str(result)
    assert text.startswith("gradient check passed: max relative error 3.00e-09 at affine2.W[3, 1]")
    assert "affine2.W" in text.splitlines()[1]


def test_gradient_check_of_relu_away_from_the_kink_passes():
    x = np.array([[-1.0, 0.5, 2.0], [0.3, -0.2, -3.0]])
    assert gradient_check(ReLU(), x).passed()
