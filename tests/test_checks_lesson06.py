"""The assignment 06 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

# ----------------------------------------------------------------------------- references
# The model answers of solutions/06_cnn_forward.ipynb, loaded from the notebook.

ANSWERS = model_answers("06_cnn_forward")
conv_output_size = ANSWERS["conv_output_size"]
conv2d_offsets = ANSWERS["conv2d_offsets"]
im2col_single = ANSWERS["im2col_single"]
max_pool_forward = ANSWERS["max_pool_forward"]


def conv_loop(x, W, stride=1, pad=0):
    """Lesson 06's loop over samples, filters and positions: another correct formulation."""
    n, _, h, w = x.shape
    f, _, fh, fw = W.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out = (h + 2 * pad - fh) // stride + 1
    w_out = (w + 2 * pad - fw) // stride + 1
    out = np.zeros((n, f, h_out, w_out))
    for k in range(n):
        for m in range(f):
            for p in range(h_out):
                for q in range(w_out):
                    patch = padded[k, :, p * stride : p * stride + fh, q * stride : q * stride + fw]
                    out[k, m, p, q] = np.sum(patch * W[m])
    return out


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [
        ("6.1", conv_output_size),
        ("6.2", conv2d_offsets),
        ("6.3", im2col_single),
        ("6.4", max_pool_forward),
    ],
)
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", ["6.1", "6.2", "6.3", "6.4"])
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


# ----------------------------------------------------------------------------- 6.1


def test_output_size_without_plus_one_is_named():
    def wrong(size, filter_size, stride=1, pad=0):
        return (size + 2 * pad - filter_size) // stride

    assert "forget the + 1" in failed("6.1", wrong)


def test_output_size_without_padding_is_named():
    def wrong(size, filter_size, stride=1, pad=0):
        return (size - filter_size) // stride + 1

    assert "size + 2·pad" in failed("6.1", wrong)


def test_output_size_as_float_is_named():
    def wrong(size, filter_size, stride=1, pad=0):
        return (size + 2 * pad - filter_size) / stride + 1

    assert "a float; return an int" in failed("6.1", wrong)


def test_output_size_must_reject_uneven_strides():
    def wrong(size, filter_size, stride=1, pad=0):
        return (size + 2 * pad - filter_size) // stride + 1

    message = failed("6.1", wrong)
    assert "should raise ValueError" in message
    assert "is not divisible by 3" in message


# ----------------------------------------------------------------------------- 6.2


def test_flipped_filter_is_named():
    def wrong(x, W, stride=1, pad=0):
        return conv2d_offsets(x, W[:, :, ::-1, ::-1], stride, pad)

    assert "flipped the filter" in failed("6.2", wrong)


def test_transposed_filter_is_named():
    def wrong(x, W, stride=1, pad=0):
        square = W.shape[2] == W.shape[3]
        return conv2d_offsets(x, W.transpose(0, 1, 3, 2) if square else W, stride, pad)

    assert "transposed filter" in failed("6.2", wrong)


def test_ignored_stride_and_pad_are_named():
    def wrong(x, W, stride=1, pad=0):
        return conv2d_offsets(x, W)

    assert "stride and pad were ignored" in failed("6.2", wrong)


def test_unsummed_channels_are_named():
    def wrong(x, W, stride=1, pad=0):
        parts = [
            conv2d_offsets(x[:, c : c + 1], W[:, c : c + 1], stride, pad) for c in range(x.shape[1])
        ]
        return np.stack(parts, axis=2)

    assert "sum over the input channels" in failed("6.2", wrong)


def test_integer_result_for_integer_images_is_named():
    def wrong(x, W, stride=1, pad=0):
        out = conv_loop(x, W, stride, pad)
        return out.astype(x.dtype)  # like np.zeros_like(x) for the output

    assert "returned an integer array" in failed("6.2", wrong)


def test_conv_that_changes_its_input_is_caught():
    def wrong(x, W, stride=1, pad=0):
        out = conv2d_offsets(x, W, stride, pad)
        x -= x.mean()
        return out

    assert "changed `x` in place" in failed("6.2", wrong)


def test_loop_over_positions_passes():
    assert_passes("6.2", conv_loop)


# ----------------------------------------------------------------------------- 6.3


def test_transposed_im2col_is_named():
    def wrong(image, fh, fw, stride=1, pad=0):
        return im2col_single(image, fh, fw, stride, pad).T

    assert "you returned the transpose" in failed("6.3", wrong)


def test_patch_flattened_by_columns_is_named():
    def wrong(image, fh, fw, stride=1, pad=0):
        cols = im2col_single(image, fh, fw, stride, pad)
        return cols.reshape(-1, fh, fw).transpose(0, 2, 1).reshape(cols.shape)

    assert "column by column" in failed("6.3", wrong)


def test_rows_in_wrong_order_are_named():
    def wrong(image, fh, fw, stride=1, pad=0):
        cols = im2col_single(image, fh, fw, stride, pad)
        h_out = (image.shape[0] + 2 * pad - fh) // stride + 1
        # rows ordered as if the loop ran over ow outside and oh inside
        return cols.reshape(h_out, -1, fh * fw).transpose(1, 0, 2).reshape(cols.shape)

    assert "the rows are in the wrong order" in failed("6.3", wrong)


# ----------------------------------------------------------------------------- 6.4


def test_max_started_from_zero_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return np.maximum(max_pool_forward(x, pool_h, pool_w, stride), 0)

    assert "start the maximum from the window's first value" in failed("6.4", wrong)


def test_average_pooling_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        n, c, h, w = x.shape
        h_out, w_out = (h - pool_h) // stride + 1, (w - pool_w) // stride + 1
        out = np.zeros((n, c, h_out, w_out))
        for i in range(h_out):
            for j in range(w_out):
                win = x[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w]
                out[:, :, i, j] = win.mean(axis=(2, 3))
        return out

    assert "averaged each window" in failed("6.4", wrong)


def test_pooling_across_channels_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return max_pool_forward(x, pool_h, pool_w, stride).max(axis=1)

    assert "pool each channel separately" in failed("6.4", wrong)


def test_swapped_pool_sizes_are_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return max_pool_forward(x, pool_w, pool_h, stride)

    assert "pool_h goes with the height axis" in failed("6.4", wrong)


def test_pooling_size_from_floor_division_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        n, c, h, w = x.shape
        out = np.zeros((n, c, h // stride, w // stride))
        for i in range(h // stride):
            for j in range(w // stride):
                window = x[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w]
                out[:, :, i, j] = window.max(axis=(2, 3))
        return out

    assert "hang over the border" in failed("6.4", wrong)


def test_im2col_by_index_arrays_passes():
    def variant(image, fh, fw, stride=1, pad=0):
        padded = np.pad(image, pad)
        h_out = (image.shape[0] + 2 * pad - fh) // stride + 1
        w_out = (image.shape[1] + 2 * pad - fw) // stride + 1
        rows = np.arange(h_out)[:, None, None, None] * stride + np.arange(fh)[None, None, :, None]
        cols = np.arange(w_out)[None, :, None, None] * stride + np.arange(fw)[None, None, None, :]
        return padded[rows, cols].reshape(h_out * w_out, fh * fw)

    assert_passes("6.3", variant)
