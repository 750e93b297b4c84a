"""The assignment 05 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import Stub, assert_not_implemented, assert_passes, failed

# ----------------------------------------------------------------------------- references
# The same code as in solutions/05_functionization.ipynb.


class Affine:
    def __init__(self, W, b):
        self.params = {"W": W, "b": b}
        self.grads = {}
        self.x = None

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class ReLU:
    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self.mask


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
        self.t = t
        return -np.sum(t * np.log(self.y + 1e-7)) / x.shape[0]

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
        ("5.1", (Affine,)),
        ("5.2", (ReLU, Sigmoid)),
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
    class Wrong(Affine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["W"] = dout.T @ self.x
            return dx

    assert "you computed the transpose" in failed("5.1", Wrong)


def test_averaged_bias_gradient_is_named():
    class Wrong(Affine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] = dout.mean(axis=0)
            return dx

    assert "its gradient is the sum" in failed("5.1", Wrong)


def test_unsummed_bias_gradient_is_named():
    class Wrong(Affine):
        def backward(self, dout):
            dx = super().backward(dout)
            self.grads["b"] = dout
            return dx

    assert "one row per sample" in failed("5.1", Wrong)


def test_dx_with_untransposed_W_is_reported():
    class Wrong(Affine):
        def backward(self, dout):
            super().backward(dout)
            return dout @ self.params["W"][:, : dout.shape[1]].T[:, :0]  # wrong shape

    assert "dx = dout @ W.T" in failed("5.1", Wrong)


def test_affine_without_bias_is_reported():
    class Wrong(Affine):
        def forward(self, x):
            self.x = x
            return x @ self.params["W"]

    assert "Affine.forward(x)" in failed("5.1", Wrong)


# ----------------------------------------------------------------------------- 5.2


def test_relu_mask_of_wrong_sign_is_named():
    class Wrong(ReLU):
        def backward(self, dout):
            return dout * ~self.mask

    assert "the mask has the wrong sign" in failed("5.2", Wrong, Sigmoid)


def test_relu_changing_dout_in_place_is_named():
    class Wrong(ReLU):
        def backward(self, dout):
            dout[~self.mask] = 0
            return dout

    assert "changed dout in place" in failed("5.2", Wrong, Sigmoid)


def test_sigmoid_backward_from_the_input_is_named():
    class Wrong(Sigmoid):
        def forward(self, x):
            self.x = x
            return super().forward(x)

        def backward(self, dout):
            return dout * self.x * (1 - self.x)

    assert "used the input x" in failed("5.2", ReLU, Wrong)


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
            self.t = t
            return -np.sum(t * np.log(self.y + 1e-7)) / x.shape[0]

    assert "subtract each row's maximum" in failed("5.3", Wrong)


def test_summed_loss_is_named():
    class Wrong(SoftmaxWithLoss):
        def forward(self, x, t):
            return super().forward(x, t) * x.shape[0]

    assert "return the mean" in failed("5.3", Wrong)


# ----------------------------------------------------------------------------- 5.4


def test_backward_in_forward_order_is_named():
    def wrong(layers, loss_layer, x, t):
        for layer in layers:
            x = layer.forward(x)
        loss = loss_layer.forward(x, t)
        dout = loss_layer.backward()
        for layer in layers:
            try:
                dout = layer.backward(dout)
            except ValueError:
                break
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
