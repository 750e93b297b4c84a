"""The assignment 07 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import time

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

from dlcourse.checks import lesson07
from dlcourse.convnets import simple_convnet
from dlcourse.optimizers import Adam

# ----------------------------------------------------------------------------- references
# The model answers of solutions/07_cnn_training.ipynb, loaded from the notebook.

ANSWERS = model_answers("07_cnn_training")
conv_input_gradient = ANSWERS["conv_input_gradient"]
max_pool_backward = ANSWERS["max_pool_backward"]
bias_relu_backward = ANSWERS["bias_relu_backward"]
col2im_single = ANSWERS["col2im_single"]


def input_gradient_by_positions(dout, W, x_shape, stride=1, pad=0, add=True):
    """Another correct formulation: a loop over output positions (add=False: the mistake)."""
    n, c, h, w = x_shape
    _, _, fh, fw = W.shape
    dx = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for p in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            patch = np.tensordot(dout[:, :, p, q], W, axes=(1, 0))  # (N, C, FH, FW)
            rows = slice(p * stride, p * stride + fh)
            cols = slice(q * stride, q * stride + fw)
            if add:
                dx[:, :, rows, cols] += patch
            else:
                dx[:, :, rows, cols] = patch
    return dx[:, :, pad : pad + h, pad : pad + w]


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [
        ("7.1", conv_input_gradient),
        ("7.2", max_pool_backward),
        ("7.3", bias_relu_backward),
        ("7.4", col2im_single),
    ],
)
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", ["7.1", "7.2", "7.3", "7.4", "7.6", "7.7"])
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


# ----------------------------------------------------------------------------- 7.1


def test_flipped_filter_in_input_gradient_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        return conv_input_gradient(dout, W[:, :, ::-1, ::-1], x_shape, stride, pad)

    assert "the filter is flipped" in failed("7.1", wrong)


def test_overwriting_overlapping_patches_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        return input_gradient_by_positions(dout, W, x_shape, stride, pad, add=False)

    assert "add (+=) instead of assigning (=)" in failed("7.1", wrong)


def test_ignored_stride_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        n, c, h, w = x_shape
        wide = (n, c, h + 2 * stride * dout.shape[2], w + 2 * stride * dout.shape[3])
        return conv_input_gradient(dout, W, wide, 1, pad)[:, :, :h, :w]

    assert "with stride 2 the patch of output position" in failed("7.1", wrong)


def test_padding_left_on_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        n, c, h, w = x_shape
        return conv_input_gradient(dout, W, (n, c, h + 2 * pad, w + 2 * pad), stride, 0)

    assert "cut the padding off" in failed("7.1", wrong)


def test_input_gradient_by_positions_passes():
    assert_passes("7.1", input_gradient_by_positions)


# ----------------------------------------------------------------------------- 7.2


def test_gradient_to_every_tied_maximum_is_named():
    def wrong(x, dout, pool_h=2, pool_w=2, stride=2):
        dx = np.zeros_like(x)
        for a in range(dout.shape[2]):
            for b in range(dout.shape[3]):
                rs = slice(a * stride, a * stride + pool_h)
                cs = slice(b * stride, b * stride + pool_w)
                window = x[:, :, rs, cs]
                mask = window == window.max(axis=(2, 3), keepdims=True)
                dx[:, :, rs, cs] += mask * dout[:, :, a, b, None, None]
        return dx

    assert "every tied maximum" in failed("7.2", wrong)


def test_average_pooling_backward_is_named():
    def wrong(x, dout, pool_h=2, pool_w=2, stride=2):
        dx = np.zeros_like(x)
        for a in range(dout.shape[2]):
            for b in range(dout.shape[3]):
                rs = slice(a * stride, a * stride + pool_h)
                cs = slice(b * stride, b * stride + pool_w)
                dx[:, :, rs, cs] += dout[:, :, a, b, None, None] / (pool_h * pool_w)
        return dx

    assert "that is average pooling" in failed("7.2", wrong)


def test_overwriting_overlapping_windows_is_named():
    def wrong(x, dout, pool_h=2, pool_w=2, stride=2):
        dx = np.zeros_like(x)
        n, c, h_out, w_out = dout.shape
        rows, cols = np.indices((n, c))
        for a in range(h_out):
            for b in range(w_out):
                window = x[:, :, a * stride : a * stride + pool_h, b * stride : b * stride + pool_w]
                i, j = np.unravel_index(window.reshape(n, c, -1).argmax(axis=2), (pool_h, pool_w))
                dx[rows, cols, a * stride + i, b * stride + j] = dout[:, :, a, b]
        return dx

    assert "add them (+=) instead of assigning" in failed("7.2", wrong)


def test_last_tied_maximum_is_named():
    def wrong(x, dout, pool_h=2, pool_w=2, stride=2):
        flipped = max_pool_backward(
            x[:, :, ::-1, ::-1], dout[:, :, ::-1, ::-1], pool_h, pool_w, stride
        )
        return flipped[:, :, ::-1, ::-1]

    # Flipping both axes turns "first maximum" into "last maximum" for even-tiling windows.
    assert "the last of the tied maxima" in failed("7.2", wrong)


# ----------------------------------------------------------------------------- 7.3


def test_relu_mask_from_dout_is_named():
    def wrong(dout, z):
        dz = dout * (dout > 0)
        return dz, dz.sum(axis=(0, 2, 3))

    assert "the mask comes from the forward input z" in failed("7.3", wrong)


def test_relu_mask_letting_zero_through_is_named():
    def wrong(dout, z):
        dz = dout * (z >= 0)
        return dz, dz.sum(axis=(0, 2, 3))

    assert "where z == 0 exactly" in failed("7.3", wrong)


def test_per_pixel_bias_is_named():
    def wrong(dout, z):
        dz = dout * (z > 0)
        return dz, dz.sum(axis=0)

    assert "one bias per feature-map pixel" in failed("7.3", wrong)


def test_bias_gradient_as_mean_is_named():
    def wrong(dout, z):
        dz = dout * (z > 0)
        return dz, dz.mean(axis=(0, 2, 3))

    assert "is a mean" in failed("7.3", wrong)


def test_bias_gradient_without_mask_is_named():
    def wrong(dout, z):
        return dout * (z > 0), dout.sum(axis=(0, 2, 3))

    assert "ignores the ReLU mask" in failed("7.3", wrong)


# ----------------------------------------------------------------------------- 7.4


def test_col2im_overwriting_overlaps_is_named():
    def wrong(cols, shape, fh, fw, stride=1, pad=0):
        h, w = shape
        h_out = (h + 2 * pad - fh) // stride + 1
        w_out = (w + 2 * pad - fw) // stride + 1
        padded = np.zeros((h + 2 * pad, w + 2 * pad))
        for a in range(h_out):
            for b in range(w_out):
                patch = cols[a * w_out + b].reshape(fh, fw)
                padded[a * stride : a * stride + fh, b * stride : b * stride + fw] = patch
        return padded[pad : pad + h, pad : pad + w]

    assert "must be added (+=), not overwritten" in failed("7.4", wrong)


def test_col2im_keeping_the_padding_is_named():
    def wrong(cols, shape, fh, fw, stride=1, pad=0):
        padded_shape = (shape[0] + 2 * pad, shape[1] + 2 * pad)
        full = col2im_single(cols, padded_shape, fh, fw, stride, 0)
        return full if pad else col2im_single(cols, shape, fh, fw, stride, pad)

    assert "cut the padding off" in failed("7.4", wrong)


# ----------------------------------------------------------------------------- 7.6 and 7.7


def sanity_checks(x, labels, seed, max_steps=300, report_after=False, expected=None):
    model = simple_convnet(rng=seed)
    initial_loss = float(model.loss(x, labels))
    optimizer = Adam(lr=0.001)
    steps = 0
    while model.accuracy(x, labels) < 1.0 and steps < max_steps:
        model.loss_and_gradient(x, labels)
        optimizer.update(model.params, model.grads)
        steps += 1
    if report_after:
        initial_loss = float(model.loss(x, labels))  # the mistake: measured after training
    expected_loss = float(np.log(10)) if expected is None else expected
    return model, {"initial_loss": initial_loss, "expected_loss": expected_loss, "steps": steps}


def train_cnn(x_train, labels_train, seconds, stop_on_time=True, lr=0.002):
    start = time.perf_counter()
    model = simple_convnet(filters=16, rng=0)
    optimizer = Adam(lr=lr)
    shuffle = np.random.default_rng(0)
    while time.perf_counter() - start < 0.9 * seconds or not stop_on_time:
        order = shuffle.permutation(len(x_train))
        for batch in np.array_split(order, max(1, len(order) // 100)):
            model.loss_and_gradient(x_train[batch], labels_train[batch])
            optimizer.update(model.params, model.grads)
            if stop_on_time and time.perf_counter() - start > 0.9 * seconds:
                break
        if not stop_on_time and time.perf_counter() - start > 2 * seconds:
            break  # the mistake: an epoch count that ignores the budget
    return model


def test_sanity_checks_model_answer_passes():
    assert_passes("7.6", sanity_checks)


def test_initial_loss_measured_after_training_is_named():
    def wrong(x, labels, seed, max_steps=300):
        return sanity_checks(x, labels, seed, max_steps, report_after=True)

    assert "the loss *after* training" in failed("7.6", wrong)


def test_expected_loss_with_log10_is_named():
    def wrong(x, labels, seed, max_steps=300):
        return sanity_checks(x, labels, seed, max_steps, expected=1.0)

    assert "natural log" in failed("7.6", wrong)


def test_stopping_before_the_digits_are_learned_is_named():
    def wrong(x, labels, seed, max_steps=300):
        return sanity_checks(x, labels, seed, max_steps=1)

    assert "learns 20 digits by heart" in failed("7.6", wrong)


def test_report_that_is_not_a_pair_says_what_came_back():
    def wrong(x, labels, seed, max_steps=300):
        return {"initial_loss": 2.3, "expected_loss": 2.3, "steps": 1}

    message = failed("7.6", wrong)
    assert "should return a pair (model, report)" in message and "returned dict" in message


def test_train_cnn_model_answer_passes():
    assert_passes("7.7", train_cnn)


def test_training_that_ignores_the_clock_is_named(monkeypatch):
    monkeypatch.setattr(lesson07, "_budget", lambda: (100, 0.2, 0.0, 100))  # 0.2 s, no goal

    def wrong(x_train, labels_train, seconds):
        time.sleep(2.5)  # stands for epochs run without looking at the clock
        return simple_convnet(rng=0)

    assert "check the clock" in failed("7.7", wrong)


def test_a_network_that_does_not_learn_misses_the_goal():
    def wrong(x_train, labels_train, seconds):
        return train_cnn(x_train, labels_train, seconds / 8, lr=1e-6)

    assert "the goal is" in failed("7.7", wrong)
