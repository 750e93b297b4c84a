"""The assignment 05 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import Stub, assert_not_implemented, assert_passes, failed

from dlcourse.checks import check

# ----------------------------------------------------------------------------- references
# The same code as in solutions/05_functionization.ipynb.


class Dense:
    def __init__(self, W, b):
        self.params = {"W": W, "b": b}
        self.grads = {}
        self.x = None
        self.x_shape = None

    def forward(self, x):
        self.x_shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return (dout @ self.params["W"].T).reshape(self.x_shape)


class LeakyReLU:
    def __init__(self, alpha=0.01):
        self.alpha = alpha
        self.slope = None

    def forward(self, x):
        self.slope = np.where(x > 0, 1.0, self.alpha)
        return x * self.slope

    def backward(self, dout):
        return dout * self.slope


class Sigmoid:
    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = 1 / (1 + np.exp(-np.clip(x, -500, 500)))
        return self.out

    def backward(self, dout):
        return dout * self.out * (1 - self.out)


class SoftmaxWithLoss:
    def __init__(self):
        self.y = None
        self.t = None

    def forward(self, x, t):
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        self.y = e / e.sum(axis=1, keepdims=True)
        self.t = t if t.ndim == 2 else np.eye(x.shape[1])[t]
        return -np.sum(self.t * np.log(self.y + 1e-7)) / x.shape[0]

    def backward(self, dout=1.0):
        return dout * (self.y - self.t) / self.y.shape[0]


def backprop(layers, loss_layer, x, t):
    for layer in layers:
        x = layer.forward(x)
    loss = loss_layer.forward(x, t)
    dout = loss_layer.backward()
    for layer in reversed(layers):
        dout = layer.backward(dout)
    return loss


def stub_backprop(layers, loss_layer, x, t):
    raise NotImplementedError("Task 5.4: write your code here")


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "objects"),
    [
        ("5.1", (Dense,)),
        ("5.2", (LeakyReLU, Sigmoid)),
        ("5.3", (SoftmaxWithLoss,)),
        ("5.4", (backprop,)),
    ],
)
def test_reference_solution_passes(task, objects):
    assert_passes(task, *objects)


@pytest.mark.parametrize(
    ("task", "objects"),
    [("5.1", (Stub,)), ("5.2", (Stub, Stub)), ("5.3", (Stub,)), ("5.4", (stub_backprop,))],
)
def test_stub_fails_as_not_implemented(task, objects):
    assert_not_implemented(task, *objects)


# ----------------------------------------------------------------------------- 5.1


def test_transposed_dW_is_named():
    class Wrong(Dense):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["W"] = dout.T @ self.x
            return dx

    assert "you computed the transpose" in failed("5.1", Wrong)


def test_averaged_bias_gradient_is_named():
    class Wrong(Dense):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] = dout.mean(axis=0)
            return dx

    assert "its gradient is the sum" in failed("5.1", Wrong)


def test_unsummed_bias_gradient_is_named():
    class Wrong(Dense):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] = dout
            return dx

    assert "one row per sample" in failed("5.1", Wrong)


def test_dx_of_the_wrong_shape_is_reported():
    class Wrong(Dense):
        def backward(self, dout):
            super().backward(dout)
            return dout @ self.params["W"][:, : dout.shape[1]].T[:, :0]  # wrong shape

    assert "but x has shape" in failed("5.1", Wrong)


def test_dx_left_flat_is_named():
    class Wrong(Dense):
        def backward(self, dout):
            super().backward(dout)
            return dout @ self.params["W"].T

    assert "reshape dx back to it" in failed("5.1", Wrong)


def test_layer_without_bias_is_reported():
    class Wrong(Dense):
        def forward(self, x):
            return super().forward(x) - self.params["b"]

    assert "Dense.forward(x)" in failed("5.1", Wrong)


def test_gradients_accumulated_across_calls_are_named():
    class Wrong(Dense):
        def backward(self, dout):
            dx = super().backward(dout)
            self.total = getattr(self, "total", 0) + self.grads["W"]
            self.grads["W"] = self.total  # grads["W"] += x.T @ dout
            return dx

    assert "you accumulated" in failed("5.1", Wrong)


def test_lesson_affine_for_flat_inputs_only_is_named():
    class Wrong(Dense):  # lesson 05's Affine, x @ W: fails on images
        def forward(self, x):
            self.x = x
            return x @ self.params["W"] + self.params["b"]

    message = failed("5.1", Wrong)
    assert "raised ValueError" in message or "flatten each sample" in message


# ----------------------------------------------------------------------------- 5.2


def test_plain_relu_instead_of_leaky_is_named():
    class Wrong(LeakyReLU):
        def forward(self, x):
            super().forward(x)
            return np.maximum(x, 0)

    assert "a plain ReLU" in failed("5.2", Wrong, Sigmoid)


def test_leaky_backward_that_blocks_negative_inputs_is_named():
    class Wrong(LeakyReLU):
        def backward(self, dout):
            return dout * (self.slope == 1.0)

    assert "blocks the gradient where x < 0" in failed("5.2", Wrong, Sigmoid)


def test_leaky_slopes_swapped_is_named():
    class Wrong(LeakyReLU):
        def backward(self, dout):
            return dout * np.where(self.slope == 1.0, self.alpha, 1.0)

    assert "swapped the slopes" in failed("5.2", Wrong, Sigmoid)


def test_either_slope_at_zero_passes():
    class SlopeOneAtZero(LeakyReLU):
        def forward(self, x):
            self.slope = np.where(x >= 0, 1.0, self.alpha)
            return x * self.slope

    assert_passes("5.2", SlopeOneAtZero, Sigmoid)


def test_leaky_changing_dout_in_place_is_named():
    class Wrong(LeakyReLU):
        def backward(self, dout):
            dout *= self.slope
            return dout

    assert "changed dout in place" in failed("5.2", Wrong, Sigmoid)


def test_sigmoid_without_overflow_protection_is_named():
    class Wrong(Sigmoid):
        def forward(self, x):
            self.out = 1 / (1 + np.exp(-x))
            return self.out

    assert "overflowed" in failed("5.2", LeakyReLU, Wrong)


def test_sigmoid_written_with_tanh_passes():
    class Variant(Sigmoid):
        def forward(self, x):
            self.out = 0.5 * (1 + np.tanh(0.5 * x))
            return self.out

    assert_passes("5.2", LeakyReLU, Variant)


def test_sigmoid_backward_from_the_input_is_named():
    class Wrong(Sigmoid):
        def forward(self, x):
            self.x = x
            return super().forward(x)

        def backward(self, dout):
            return dout * self.x * (1 - self.x)

    assert "used the input x" in failed("5.2", LeakyReLU, Wrong)


# ----------------------------------------------------------------------------- 5.3


def test_forgetting_to_divide_by_the_batch_size_is_named():
    class Wrong(SoftmaxWithLoss):
        def backward(self, dout=1.0):
            return dout * (self.y - self.t)

    assert "N times too large" in failed("5.3", Wrong)


def test_unstable_softmax_is_named():
    class Wrong(SoftmaxWithLoss):
        def forward(self, x, t):
            e = np.exp(x)
            self.y = e / e.sum(axis=1, keepdims=True)
            self.t = t if t.ndim == 2 else np.eye(x.shape[1])[t]
            return -np.sum(self.t * np.log(self.y + 1e-7)) / x.shape[0]

    assert "subtract each row's maximum" in failed("5.3", Wrong)


def test_summed_loss_is_named():
    class Wrong(SoftmaxWithLoss):
        def forward(self, x, t):
            return super().forward(x, t) * x.shape[0]

    assert "return the mean" in failed("5.3", Wrong)


def test_unguarded_log_is_named():
    class Wrong(SoftmaxWithLoss):
        def forward(self, x, t):
            super().forward(x, t)
            return -np.sum(self.t * np.log(self.y)) / x.shape[0]

    assert "log(0) is -inf" in failed("5.3", Wrong)


def test_exact_log_softmax_loss_passes():
    class Variant(SoftmaxWithLoss):
        def forward(self, x, t):
            super().forward(x, t)
            shifted = x - x.max(axis=1, keepdims=True)
            log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return float(-np.sum(self.t * log_y) / x.shape[0])

    assert_passes("5.3", Variant)


def test_backward_ignoring_dout_is_named():
    class Wrong(SoftmaxWithLoss):
        def backward(self, dout=1.0):
            return (self.y - self.t) / self.y.shape[0]

    assert "it ignored dout" in failed("5.3", Wrong)


def test_backward_overwriting_the_cache_is_named():
    class Wrong(SoftmaxWithLoss):
        def backward(self, dout=1.0):
            self.y -= self.t
            self.y *= dout / self.y.shape[0]
            return self.y

    assert "changed the cached self.y in place" in failed("5.3", Wrong)


def test_one_hot_only_loss_is_reported():
    class Wrong(SoftmaxWithLoss):
        def forward(self, x, t):
            super().forward(x, t)
            self.t = t
            return -np.sum(t * np.log(self.y + 1e-7)) / x.shape[0]

    assert not check_result("5.3", Wrong).passed


def test_a_loss_that_is_not_a_number_says_what_came_back():
    class Wrong(SoftmaxWithLoss):
        def forward(self, x, t):
            return {"loss": super().forward(x, t)}

    message = failed("5.3", Wrong)
    assert "should return one number" in message and "returned dict" in message


# ----------------------------------------------------------------------------- 5.4


def test_backward_in_forward_order_is_named():
    def wrong(layers, loss_layer, x, t):
        for layer in layers:
            x = layer.forward(x)
        loss = loss_layer.forward(x, t)
        dout = loss_layer.backward()
        for layer in layers:
            dout = layer.backward(dout)
        return loss

    assert "it must go in reverse order" in failed("5.4", wrong)


def test_forgetting_to_return_the_loss_is_named():
    def wrong(layers, loss_layer, x, t):
        backprop(layers, loss_layer, x, t)

    assert "return the loss value" in failed("5.4", wrong)


def test_skipping_a_layer_is_named():
    def wrong(layers, loss_layer, x, t):
        for layer in layers:
            x = layer.forward(x)
        loss = loss_layer.forward(x, t)
        dout = loss_layer.backward()
        for layer in reversed(layers[1:]):
            dout = layer.backward(dout)
        return loss

    assert "call it on every layer" in failed("5.4", wrong)


def check_result(task, *objects):
    return check(task, *objects, verbose=False)


def test_backprop_returning_a_tuple_says_what_came_back():
    def wrong(layers, loss_layer, x, t):
        return (backprop(layers, loss_layer, x, t), "done")

    message = failed("5.4", wrong)
    assert "should return one number" in message and "returned tuple" in message
