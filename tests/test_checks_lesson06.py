"""The assignment 06 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub
from numpy.lib.stride_tricks import sliding_window_view

# ----------------------------------------------------------------------------- references
# The model answers of solutions/06_cnn_forward.ipynb, loaded from the notebook.

ANSWERS = model_answers("06_cnn_forward")
network_shapes = ANSWERS["network_shapes"]
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
        ("6.1", network_shapes),
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


def shapes_with(
    input_shape,
    layers,
    conv_params=None,
    conv_shape=None,
    pool_shape=None,
    affine_params=None,
    positions=None,
    flat_affine=False,
):
    """network_shapes with one piece swapped for a wrong formula (the others right)."""

    def right_positions(size, window, stride, pad):
        span = size + 2 * pad - window
        if span < 0 or span % stride:
            raise ValueError(f"window {window} does not fit {size} + 2·{pad}")
        return span // stride + 1

    def named(index, spec, fit, *axes):
        try:
            return tuple(fit(*axis) for axis in axes)
        except ValueError as err:
            raise ValueError(f"layer {index} {spec}: {err}") from None

    fit = positions or right_positions
    shape, table = tuple(input_shape), []
    for index, spec in enumerate(layers):
        kind, *args = spec
        count = 0
        if kind == "conv":
            filters, fh, fw, stride, pad = args
            c, h, w = shape
            sizes = named(index, spec, fit, (h, fh, stride, pad), (w, fw, stride, pad))
            shape = conv_shape(c, filters, sizes) if conv_shape else (filters, *sizes)
            count = (conv_params or (lambda f, c, fh, fw: f * c * fh * fw + f))(filters, c, fh, fw)
        elif kind == "pool":
            ph, pw, stride = args
            c, h, w = shape
            sizes = named(index, spec, fit, (h, ph, stride, 0), (w, pw, stride, 0))
            shape = pool_shape(c, sizes) if pool_shape else (c, *sizes)
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        elif kind == "affine":
            if len(shape) != 1 and not flat_affine:
                raise ValueError(f"layer {index} {spec}: affine needs a flat input")
            (units,) = args
            d = int(np.prod(shape))
            count = (affine_params or (lambda d, u: d * u + u))(d, units)
            shape = (units,)
        elif kind != "relu":
            raise ValueError(f"layer {index} {spec}: unknown kind {kind!r}")
        table.append((shape, count))
    return table


def test_conv_count_without_bias_is_named():
    def wrong(input_shape, layers):
        return shapes_with(input_shape, layers, conv_params=lambda f, c, fh, fw: f * c * fh * fw)

    assert "forget the biases (one per filter" in failed("6.1", wrong)


def test_affine_count_without_bias_is_named():
    def wrong(input_shape, layers):
        return shapes_with(input_shape, layers, affine_params=lambda d, u: d * u)

    message = failed("6.1", wrong)
    assert "forget the biases (one per unit" in message
    assert "layer 6 ('affine'," in message


def test_conv_count_without_input_channels_is_named():
    def wrong(input_shape, layers):
        return shapes_with(input_shape, layers, conv_params=lambda f, c, fh, fw: f * fh * fw + f)

    message = failed("6.1", wrong)
    assert "each filter spans all" in message and "input channels" in message
    assert "layer 0 ('conv'," in message


def test_pool_changing_the_channel_count_is_named():
    def wrong(input_shape, layers):
        return shapes_with(input_shape, layers, pool_shape=lambda c, sizes: (1, *sizes))

    message = failed("6.1", wrong)
    assert "pooling works on each channel separately" in message
    assert "layer 2 ('pool'," in message


def test_conv_keeping_the_input_channels_is_named():
    def wrong(input_shape, layers):
        return shapes_with(input_shape, layers, conv_shape=lambda c, f, sizes: (c, *sizes))

    assert "one map per filter" in failed("6.1", wrong)


def test_floor_division_accepting_a_misfit_is_named():
    def wrong(input_shape, layers):
        return shapes_with(
            input_shape,
            layers,
            positions=lambda size, window, s, pad: (size + 2 * pad - window) // s + 1,
        )

    message = failed("6.1", wrong)
    assert "should raise ValueError at layer 2 ('conv', 4, 2, 2, 2, 0)" in message
    assert "is not divisible by the stride 2" in message
    assert "// would silently drop the last pixels" in message


def test_window_larger_than_its_input_must_raise():
    def wrong(input_shape, layers):
        def positions(size, window, stride, pad):
            span = size + 2 * pad - window
            if span % stride:  # forgets the negative span
                raise ValueError(f"{span} is not divisible by {stride}")
            return span // stride + 1

        return shapes_with(input_shape, layers, positions=positions)

    message = failed("6.1", wrong)
    assert "should raise ValueError at layer 3 ('conv', 3, 3, 3, 1, 0)" in message
    assert "is larger than the 2 pixels" in message


def test_affine_on_an_unflattened_input_is_named():
    def wrong(input_shape, layers):
        return shapes_with(input_shape, layers, flat_affine=True)

    message = failed("6.1", wrong)
    assert "should raise ValueError at layer 3 ('affine', 10)" in message
    assert "add a ('flatten',) layer before it" in message


def test_missing_plus_one_is_named():
    def wrong(input_shape, layers):
        return shapes_with(
            input_shape,
            layers,
            positions=lambda size, window, s, pad: (size + 2 * pad - window) // s,
        )

    assert "forget the + 1" in failed("6.1", wrong)


def test_ignored_padding_is_named():
    def wrong(input_shape, layers):
        return shapes_with(
            input_shape, layers, positions=lambda size, window, s, pad: (size - window) // s + 1
        )

    message = failed("6.1", wrong)
    assert "the padding is missing" in message
    assert "layer 0 ('conv'," in message


def test_true_division_giving_float_sizes_is_named():
    def wrong(input_shape, layers):
        return shapes_with(
            input_shape,
            layers,
            positions=lambda size, window, s, pad: (size + 2 * pad - window) / s + 1,
        )

    assert "divide with // once you know the division is exact" in failed("6.1", wrong)


def test_error_that_does_not_name_the_layer_is_caught():
    def wrong(input_shape, layers):
        try:
            return network_shapes(input_shape, layers)
        except ValueError:
            raise ValueError("does not fit") from None

    message = failed("6.1", wrong)
    assert (
        "raised ValueError, good, but its message ('does not fit') should name the layer" in message
    )


def test_unknown_kind_must_raise():
    def wrong(input_shape, layers):
        known = [spec for spec in layers if spec[0] != "dropout"]
        rows = network_shapes(input_shape, known)
        return rows + [rows[-1]] * (len(layers) - len(known))  # treats it as a no-op

    message = failed("6.1", wrong)
    assert "should raise ValueError at layer 3 ('dropout', 0.5)" in message
    assert "not a layer kind the task defines" in message


def test_valid_network_that_raises_is_reported_with_the_right_table():
    def wrong(input_shape, layers):
        raise ValueError("layer 0 does not fit")

    message = failed("6.1", wrong)
    assert "your code raised ValueError: layer 0 does not fit" in message
    assert "but every layer of" in message and "the table should be" in message


def test_lists_and_numpy_ints_pass():
    def variant(input_shape, layers):
        return [
            [list(np.array(shape)), np.int64(count)]
            for shape, count in network_shapes(input_shape, layers)
        ]

    assert_passes("6.1", variant)


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


def pool_with(
    x,
    pool_h=2,
    pool_w=2,
    stride=2,
    start=None,
    larger=np.greater,
    offset=None,
    h_out=None,
    copy=True,
):
    """The model answer's loop with one piece swappable for a typical mistake."""
    h, w = x.shape[2:]
    h_out = h_out(h, pool_h, stride) if h_out else (h - pool_h) // stride + 1
    w_out = (w - pool_w) // stride + 1
    first = x[:, :, : stride * (h_out - 1) + 1 : stride, : stride * (w_out - 1) + 1 : stride]
    out = start(first) if start else (first.copy() if copy else first)
    switches = np.zeros(out.shape, dtype=int)
    for u in range(pool_h):
        for v in range(pool_w):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            cols = slice(v, v + stride * (w_out - 1) + 1, stride)
            values = x[:, :, rows, cols]
            bigger = larger(values, out)
            out[bigger] = values[bigger]
            switches[bigger] = offset(u, v, pool_h, pool_w) if offset else u * pool_w + v
    return out, switches


def test_max_started_from_zero_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return pool_with(x, pool_h, pool_w, stride, start=np.zeros_like)

    assert "start the running maximum from the values of the first offset" in failed("6.4", wrong)


def test_last_maximum_on_ties_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return pool_with(x, pool_h, pool_w, stride, larger=np.greater_equal)

    message = failed("6.4", wrong)
    assert "whole numbers, with ties" in message
    assert "strictly larger (>, not >=)" in message


def test_offset_counted_with_pool_h_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return pool_with(x, pool_h, pool_w, stride, offset=lambda u, v, ph, pw: u * ph + v)

    assert "the switches count u * pool_h + v" in failed("6.4", wrong)


def test_switches_as_pairs_are_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        out, switches = max_pool_forward(x, pool_h, pool_w, stride)
        return out, np.stack(np.divmod(switches, pool_w), axis=-1)

    def wrong_tuple(x, pool_h=2, pool_w=2, stride=2):
        out, switches = max_pool_forward(x, pool_h, pool_w, stride)
        return out, np.divmod(switches, pool_w)

    assert "not the pair (u, v)" in failed("6.4", wrong)
    assert "not the pair (u, v)" in failed("6.4", wrong_tuple)


def test_float_switches_are_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        out, switches = max_pool_forward(x, pool_h, pool_w, stride)
        return out, switches.astype(float)

    assert "should be an integer array" in failed("6.4", wrong)


def test_output_size_from_floor_division_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return pool_with(x, pool_h, pool_w, stride, h_out=lambda h, ph, s: h // s)

    message = failed("6.4", wrong)
    assert "your code raised ValueError" in message
    assert (
        "An output of H // stride = 7 rows would count windows that hang over the border" in message
    )


def test_partial_windows_by_a_loop_are_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        n, c, h, w = x.shape
        out = np.zeros((n, c, h // stride, w // stride), dtype=x.dtype)
        switches = np.zeros(out.shape, dtype=int)
        for i in range(h // stride):
            for j in range(w // stride):
                window = x[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w]
                flat = window.reshape(n, c, -1)  # a partial window at the border
                out[:, :, i, j] = flat.max(axis=2)
                switches[:, :, i, j] = flat.argmax(axis=2)
        return out, switches

    assert "hang over the border" in failed("6.4", wrong)


def test_mixed_samples_and_channels_are_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        n, c = x.shape[:2]
        # pools a (C, N, H, W) batch, then reshapes it back instead of transposing it
        out, switches = max_pool_forward(x.transpose(1, 0, 2, 3), pool_h, pool_w, stride)
        return out.reshape(n, c, *out.shape[2:]), switches.reshape(n, c, *out.shape[2:])

    assert "Keep the (N, C) axes where they are" in failed("6.4", wrong)


def test_pooling_across_channels_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        out, switches = max_pool_forward(x, pool_h, pool_w, stride)
        return out.max(axis=1), switches[:, 0]

    assert "pool each channel separately" in failed("6.4", wrong)


def test_swapped_pool_sizes_are_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return max_pool_forward(x, pool_w, pool_h, stride)

    assert "pool_h goes with the height axis" in failed("6.4", wrong)


def test_pooling_that_changes_x_is_caught():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return pool_with(x, pool_h, pool_w, stride, copy=False)  # out is a view of x

    message = failed("6.4", wrong)
    assert "changed `x` in place" in message and "a slice is a view of x" in message


def test_float64_output_for_float32_input_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        return pool_with(x, pool_h, pool_w, stride, start=lambda first: first.astype(np.float64))

    assert "keep x's dtype" in failed("6.4", wrong)


def test_average_pooling_is_named():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        _, switches = max_pool_forward(x, pool_h, pool_w, stride)
        windows = sliding_window_view(x, (pool_h, pool_w), axis=(2, 3))[:, :, ::stride, ::stride]
        return windows.mean(axis=(-2, -1)).astype(x.dtype), switches

    assert "averaged each window" in failed("6.4", wrong)


def test_windows_that_do_not_fit_must_raise():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        n, c, h, w = x.shape
        if (h - pool_h) % stride == 0 and (w - pool_w) % stride == 0 and h >= pool_h:
            return max_pool_forward(x, pool_h, pool_w, stride)
        return np.zeros((n, c, 1, 1)), np.zeros((n, c, 1, 1), dtype=int)

    message = failed("6.4", wrong)
    assert (
        "should raise ValueError (H − pool = 8 − 3 = 5 is not divisible by the stride 2" in message
    )


def test_window_larger_than_the_map_must_raise():
    def wrong(x, pool_h=2, pool_w=2, stride=2):
        if x.shape[2] >= pool_h:
            return max_pool_forward(x, pool_h, pool_w, stride)
        return pool_with(x, pool_h, pool_w, stride)

    assert "a window of 3 is larger than H = 2" in failed("6.4", wrong)


def test_full_initial_maximum_and_loop_over_positions_pass():
    def minus_infinity(x, pool_h=2, pool_w=2, stride=2):
        max_pool_forward(x, pool_h, pool_w, stride)  # raises where the windows do not fit
        return pool_with(x, pool_h, pool_w, stride, start=lambda f: np.full_like(f, -np.inf))

    def by_positions(x, pool_h=2, pool_w=2, stride=2):
        n, c, h, w = x.shape
        if (h - pool_h) % stride or (w - pool_w) % stride or h < pool_h or w < pool_w:
            raise ValueError("the windows do not fit")
        h_out, w_out = (h - pool_h) // stride + 1, (w - pool_w) // stride + 1
        out = np.empty((n, c, h_out, w_out), dtype=x.dtype)
        switches = np.empty((n, c, h_out, w_out), dtype=np.int64)
        for i in range(h_out):
            for j in range(w_out):
                window = x[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w]
                flat = window.reshape(n, c, -1)
                out[:, :, i, j] = flat.max(axis=2)
                switches[:, :, i, j] = flat.argmax(axis=2)
        return out, switches

    assert_passes("6.4", minus_infinity)
    assert_passes("6.4", by_positions)


def test_im2col_by_index_arrays_passes():
    def variant(image, fh, fw, stride=1, pad=0):
        padded = np.pad(image, pad)
        h_out = (image.shape[0] + 2 * pad - fh) // stride + 1
        w_out = (image.shape[1] + 2 * pad - fw) // stride + 1
        rows = np.arange(h_out)[:, None, None, None] * stride + np.arange(fh)[None, None, :, None]
        cols = np.arange(w_out)[None, :, None, None] * stride + np.arange(fw)[None, None, None, :]
        return padded[rows, cols].reshape(h_out * w_out, fh * fw)

    assert_passes("6.3", variant)
