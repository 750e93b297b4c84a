"""The assignment 05 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import Stub, assert_not_implemented, assert_passes, failed, model_answers

from dlcourse.checks import check

# ----------------------------------------------------------------------------- references
# The model answers of solutions/05_functionization.ipynb, loaded from the notebook.

ANSWERS = model_answers("05_functionization")
Dense = ANSWERS["Dense"]
LeakyReLU = ANSWERS["LeakyReLU"]
Sigmoid = ANSWERS["Sigmoid"]
SoftmaxWithLoss = ANSWERS["SoftmaxWithLoss"]


def accumulated_gradients(layers, loss_layer, x, t, micro_batch, combine="share"):
    """The model answer; combine="sum", "mean" or "last" are the typical mistakes."""
    n = len(x)
    loss = 0.0
    grads = [{} for _ in layers]
    starts = range(0, n, micro_batch)
    for start in starts:
        piece_x, piece_t = x[start : start + micro_batch], t[start : start + micro_batch]
        weight = {"share": len(piece_x) / n, "sum": 1.0, "mean": 1 / len(starts), "last": 1.0}
        out = piece_x
        for layer in layers:
            out = layer.forward(out)
        loss += weight[combine] * loss_layer.forward(out, piece_t)
        dout = loss_layer.backward()
        for layer in reversed(layers):
            dout = layer.backward(dout)
        for total, layer in zip(grads, layers, strict=True):
            for name, value in getattr(layer, "grads", {}).items():
                if combine == "last":
                    total[name] = value.copy()
                else:
                    total[name] = total.get(name, 0) + weight[combine] * value
    return loss, grads


def stub_accumulated(layers, loss_layer, x, t, micro_batch):
    raise NotImplementedError("Task 5.4: write your code here")


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "objects"),
    [
        ("5.1", (Dense,)),
        ("5.2", (LeakyReLU, Sigmoid)),
        ("5.3", (SoftmaxWithLoss,)),
        ("5.4", (accumulated_gradients, Dense, LeakyReLU, SoftmaxWithLoss)),
    ],
)
def test_reference_solution_passes(task, objects):
    assert_passes(task, *objects)


@pytest.mark.parametrize(
    ("task", "objects"),
    [
        ("5.1", (Stub,)),
        ("5.2", (Stub, Stub)),
        ("5.3", (Stub,)),
        ("5.4", (stub_accumulated, Dense, LeakyReLU, SoftmaxWithLoss)),
    ],
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

LAYERS = (Dense, LeakyReLU, SoftmaxWithLoss)


@pytest.mark.parametrize(
    ("combine", "words"),
    [
        ("sum", "you added the micro-batches' gradients"),
        ("mean", "averaged the micro-batches' gradients with equal weights"),
        ("last", "these are the gradients of the last micro-batch only"),
    ],
)
def test_wrong_combination_of_micro_batches_is_named(combine, words):
    def wrong(layers, loss_layer, x, t, micro_batch):
        return accumulated_gradients(layers, loss_layer, x, t, micro_batch, combine)

    assert words in failed("5.4", wrong, *LAYERS)


def test_unweighted_loss_is_named():
    def wrong(layers, loss_layer, x, t, micro_batch):
        loss, grads = accumulated_gradients(layers, loss_layer, x, t, micro_batch)
        return loss * 1.5, grads

    assert "weight each micro-batch's mean loss" in failed("5.4", wrong, *LAYERS)


def test_backward_in_forward_order_names_the_learners_line():
    def wrong(layers, loss_layer, x, t, micro_batch):
        for layer in layers:
            x = layer.forward(x)
        loss_layer.forward(x, t)
        dout = loss_layer.backward()
        for layer in layers:  # forward order: the first Dense gets the wrong dout
            dout = layer.backward(dout)
        return 0.0, []

    message = failed("5.4", wrong, *LAYERS)
    assert message.startswith("your code raised ValueError")
    assert "of backward" in message  # the learner's Dense.backward line, not the checker's


def test_grads_that_are_not_a_list_say_what_came_back():
    def wrong(layers, loss_layer, x, t, micro_batch):
        loss, grads = accumulated_gradients(layers, loss_layer, x, t, micro_batch)
        return loss, {i: g for i, g in enumerate(grads)}

    message = failed("5.4", wrong, *LAYERS)
    assert "should return a pair (loss, grads)" in message and "returned tuple" in message


def test_accumulated_loss_that_is_not_a_number_says_what_came_back():
    def wrong(layers, loss_layer, x, t, micro_batch):
        loss, grads = accumulated_gradients(layers, loss_layer, x, t, micro_batch)
        return [loss], grads

    assert "should return one number" in failed("5.4", wrong, *LAYERS)


def test_accumulating_with_numpy_arrays_passes():
    def variant(layers, loss_layer, x, t, micro_batch):
        pieces = np.array_split(np.arange(len(x)), -(-len(x) // micro_batch))
        totals, loss = None, 0.0
        for piece in pieces:
            out = x[piece]
            for layer in layers:
                out = layer.forward(out)
            loss += loss_layer.forward(out, t[piece]) * len(piece) / len(x)
            dout = loss_layer.backward()
            for layer in layers[::-1]:
                dout = layer.backward(dout)
            now = [
                {k: v * len(piece) / len(x) for k, v in getattr(la, "grads", {}).items()}
                for la in layers
            ]
            totals = (
                now
                if totals is None
                else [{k: a[k] + b[k] for k in a} for a, b in zip(totals, now, strict=True)]
            )
        return loss, totals

    assert_passes("5.4", variant, *LAYERS)


def check_result(task, *objects):
    return check(task, *objects, verbose=False)
