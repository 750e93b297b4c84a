"""The assignment 07 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, stub

# ----------------------------------------------------------------------------- references
# The same code as in solutions/07_cnn_training.ipynb.


def filter_gradient(x, dout):
    fh = x.shape[2] - dout.shape[2] + 1
    fw = x.shape[3] - dout.shape[3] + 1
    h_out, w_out = dout.shape[2:]
    dW = np.zeros((dout.shape[1], x.shape[1], fh, fw))
    for i in range(fh):
        for j in range(fw):
            window = x[:, :, i : i + h_out, j : j + w_out]  # (N, C, H_out, W_out)
            dW[:, :, i, j] = np.einsum("nfab,ncab->fc", dout, window)
    return dW


def max_pool_backward(x, dout, pool_h=2, pool_w=2, stride=2):
    dx = np.zeros_like(x)
    n, c, h_out, w_out = dout.shape
    rows, cols = np.indices((n, c))
    for a in range(h_out):
        for b in range(w_out):
            window = x[:, :, a * stride : a * stride + pool_h, b * stride : b * stride + pool_w]
            first = window.reshape(n, c, -1).argmax(axis=2)
            i, j = np.unravel_index(first, (pool_h, pool_w))
            dx[rows, cols, a * stride + i, b * stride + j] += dout[:, :, a, b]
    return dx


def bias_relu_backward(dout, z):
    dz = dout * (z > 0)
    return dz, dz.sum(axis=(0, 2, 3))


def col2im_single(cols, shape, fh, fw, stride=1, pad=0):
    h, w = shape
    h_out = (h + 2 * pad - fh) // stride + 1
    w_out = (w + 2 * pad - fw) // stride + 1
    padded = np.zeros((h + 2 * pad, w + 2 * pad))
    for a in range(h_out):
        for b in range(w_out):
            patch = cols[a * w_out + b].reshape(fh, fw)
            padded[a * stride : a * stride + fh, b * stride : b * stride + fw] += patch
    return padded[pad : pad + h, pad : pad + w]


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [
        ("7.1", filter_gradient),
        ("7.2", max_pool_backward),
        ("7.3", bias_relu_backward),
        ("7.4", col2im_single),
    ],
)
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", ["7.1", "7.2", "7.3", "7.4"])
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


# ----------------------------------------------------------------------------- 7.1


def test_flipped_filter_gradient_is_named():
    def wrong(x, dout):
        return filter_gradient(x, dout)[..., ::-1, ::-1]

    assert "flipped filter gradient" in failed("7.1", wrong)


def test_transposed_filter_gradient_is_named():
    def wrong(x, dout):
        return filter_gradient(x, dout).swapaxes(-1, -2)

    assert "height and width are swapped" in failed("7.1", wrong)


def test_transposed_square_filter_gradient_is_named():
    def wrong(x, dout):
        dW = filter_gradient(x, dout)
        return dW.swapaxes(-1, -2) if dW.shape[-1] == dW.shape[-2] else dW

    assert "is transposed" in failed("7.1", wrong)


def test_batch_mean_instead_of_sum_is_named():
    def wrong(x, dout):
        return filter_gradient(x, dout) / x.shape[0]

    assert "you averaged over the batch" in failed("7.1", wrong)


def test_swapped_filter_and_channel_axes_are_named():
    def wrong(x, dout):
        return filter_gradient(x, dout).transpose(1, 0, 2, 3)

    assert "the filter axis F comes first" in failed("7.1", wrong)


def test_other_wrong_filter_gradient_reports_the_numerical_comparison():
    def wrong(x, dout):
        dW = filter_gradient(x, dout)
        dW[..., 0, 0] *= 1.01
        return dW

    assert "disagrees with the numerical gradient: relative error" in failed("7.1", wrong)


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
