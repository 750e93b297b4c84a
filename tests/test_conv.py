"""Conv2D, MaxPool2D, im2col and col2im against loop references and numerical gradients.

Every layer test runs on the reference layers (dlcourse.conv) and on the fast ones
(dlcourse.fastconv); further tests check that both give the same numbers on every shape.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dlcourse.fastconv
from dlcourse.conv import Conv2D, MaxPool2D, col2im, conv_output_size, im2col
from dlcourse.fastconv import FastConv2D, FastMaxPool2D
from dlcourse.gradients import gradient_check

# (x shape, W shape, stride, pad): channels, filters, strides, paddings and non-square sizes
CONV_CASES = [
    ((2, 1, 7, 7), (3, 1, 3, 3), 1, 0),
    ((3, 2, 6, 8), (4, 2, 3, 2), 1, 1),
    ((2, 3, 9, 7), (2, 3, 3, 3), 2, 1),
    ((1, 2, 5, 5), (1, 2, 5, 5), 1, 0),
    ((2, 1, 4, 6), (2, 1, 1, 3), 1, 2),
    ((2, 2, 8, 8), (3, 2, 4, 4), 2, 0),
    ((2, 3, 6, 6), (4, 3, 3, 3), 1, 1),  # like deep_convnet: shifted rows in every product
]
# (x shape, pool_h, pool_w, stride): side by side, overlapping and non-square windows
POOL_CASES = [
    ((2, 3, 6, 8), 2, 2, 2),
    ((2, 2, 7, 7), 3, 3, 2),
    ((1, 2, 5, 6), 2, 3, 1),
    ((3, 1, 4, 4), 4, 4, 4),
]


def conv_loop(x, W, b, stride, pad):
    """Reference convolution with explicit loops. x: (N, C, H, W) -> (N, F, H_out, W_out)."""
    n, _, height, width = x.shape
    f, _, fh, fw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out = (height + 2 * pad - fh) // stride + 1
    w_out = (width + 2 * pad - fw) // stride + 1
    out = np.zeros((n, f, h_out, w_out))
    for i in range(n):
        for k in range(f):
            for r in range(h_out):
                for c in range(w_out):
                    patch = xp[i, :, r * stride : r * stride + fh, c * stride : c * stride + fw]
                    out[i, k, r, c] = np.sum(patch * W[k]) + b[k]
    return out


def im2col_loop(x, fh, fw, stride, pad):
    """Reference im2col: one flattened (C, fh, fw) patch per row, rows in (n, i, j) order."""
    n, _, height, width = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out = (height + 2 * pad - fh) // stride + 1
    w_out = (width + 2 * pad - fw) // stride + 1
    rows = []
    for i in range(n):
        for r in range(h_out):
            for c in range(w_out):
                rows.append(xp[i, :, r * stride : r * stride + fh, c * stride : c * stride + fw])
    return np.array(rows).reshape(len(rows), -1)


def pool_loop(x, ph, pw, stride):
    """Reference max pooling with explicit loops."""
    n, ch, height, width = x.shape
    h_out, w_out = (height - ph) // stride + 1, (width - pw) // stride + 1
    out = np.zeros((n, ch, h_out, w_out))
    for r in range(h_out):
        for c in range(w_out):
            window = x[:, :, r * stride : r * stride + ph, c * stride : c * stride + pw]
            out[:, :, r, c] = window.max(axis=(2, 3))
    return out


@pytest.fixture(params=[Conv2D, FastConv2D], ids=["reference", "fast"])
def conv_cls(request):
    return request.param


@pytest.fixture(params=[MaxPool2D, FastMaxPool2D], ids=["reference", "fast"])
def pool_cls(request):
    return request.param


def make_conv(rng, w_shape, stride, pad, dtype=np.float64, cls=Conv2D):
    W = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return cls(W, b, stride=stride, pad=pad)


# ------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("size", "filter_size", "stride", "pad", "want"),
    [(28, 5, 1, 0, 24), (28, 3, 1, 1, 28), (7, 3, 2, 0, 3), (9, 3, 2, 1, 5), (24, 2, 2, 0, 12)],
)
def test_conv_output_size_follows_the_formula(size, filter_size, stride, pad, want):
    got = conv_output_size(size, filter_size, stride, pad)
    assert got == want
    assert isinstance(got, int)


def test_conv_output_size_rejects_a_filter_larger_than_the_input():
    with pytest.raises(ValueError, match=r"5 pixels does not fit in 3 pixels"):
        conv_output_size(3, 5)


def test_conv_output_size_rejects_a_stride_that_does_not_tile():
    with pytest.raises(ValueError, match=r"28 \+ 2·0 − 5 = 23 is not divisible by 2"):
        conv_output_size(28, 5, stride=2)


# ------------------------------------------------------------------ im2col


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_im2col_matches_the_loop_reference(x_shape, w_shape, stride, pad):
    x = np.random.default_rng(1).standard_normal(x_shape)
    fh, fw = w_shape[2:]
    np.testing.assert_array_equal(
        im2col(x, fh, fw, stride, pad), im2col_loop(x, fh, fw, stride, pad)
    )


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_col2im_is_the_adjoint_of_im2col(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(2)
    fh, fw = w_shape[2:]
    x = rng.standard_normal(x_shape)
    cols = im2col(x, fh, fw, stride, pad)
    y = rng.standard_normal(cols.shape)
    back = col2im(y, x_shape, fh, fw, stride, pad)
    assert back.shape == x_shape
    assert np.isclose(np.sum(cols * y), np.sum(x * back), rtol=1e-12)


def test_col2im_counts_how_many_patches_cover_each_pixel():
    ones = np.ones((4, 9))  # 2×2 output positions of a 3×3 window on a 4×4 image
    covered = col2im(ones, (1, 1, 4, 4), 3, 3)[0, 0]
    np.testing.assert_array_equal(covered[0], [1, 2, 2, 1])
    np.testing.assert_array_equal(covered[1], [2, 4, 4, 2])


def test_col2im_rejects_columns_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"expected col of shape \(4, 9\).*but got \(4, 8\)"):
        col2im(np.zeros((4, 8)), (1, 1, 4, 4), 3, 3)


# ------------------------------------------------------------------ Conv2D


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_conv_forward_matches_the_loop_reference(conv_cls, x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(3)
    layer = make_conv(rng, w_shape, stride, pad, cls=conv_cls)
    x = rng.standard_normal(x_shape)
    want = conv_loop(x, layer.W, layer.b, stride, pad)
    np.testing.assert_allclose(layer.forward(x), want, rtol=1e-12, atol=1e-12)
    assert layer.output_shape(x_shape[1:]) == want.shape[1:]


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_conv_backward_matches_numerical_gradient(conv_cls, x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(4)
    layer = make_conv(rng, w_shape, stride, pad, dtype=np.float32, cls=conv_cls)
    result = gradient_check(layer, rng.standard_normal(x_shape), rng=rng)
    assert set(result.errors) == {"dx", "W", "b"}
    assert result.passed(1e-6), str(result)


def test_conv_param_backward_gives_the_same_grads_without_dx(conv_cls):
    rng = np.random.default_rng(5)
    layer = make_conv(rng, (3, 2, 3, 3), 1, 1, cls=conv_cls)
    x = rng.standard_normal((2, 2, 5, 5))
    dout = rng.standard_normal((2, 3, 5, 5))
    layer.forward(x)
    assert layer.backward(dout).shape == x.shape
    full = dict(layer.grads)
    layer.grads = {}
    assert layer.param_backward(dout) is None
    for name in ("W", "b"):
        np.testing.assert_array_equal(layer.grads[name], full[name])


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_fast_conv_in_chunks_of_one_sample_gives_the_same_output_and_gradients(
    monkeypatch, x_shape, w_shape, stride, pad
):
    rng = np.random.default_rng(10)
    layer = make_conv(rng, w_shape, stride, pad, cls=FastConv2D)
    x = rng.standard_normal(x_shape)
    dout = rng.standard_normal((x_shape[0], *layer.output_shape(x_shape[1:])))
    whole = layer.forward(x), layer.backward(dout), dict(layer.grads)
    monkeypatch.setattr(dlcourse.fastconv, "SINGLE_CHUNK_BYTES", 0)
    monkeypatch.setattr(dlcourse.fastconv, "CHUNK_BYTES", 1)  # one sample per chunk
    monkeypatch.setattr(dlcourse.fastconv, "ROW_CHUNK_BYTES", 1)
    chunked = layer.forward(x), layer.backward(dout), dict(layer.grads)
    assert layer.cols is None or x_shape[0] == 1  # several chunks: no columns kept
    for a, b in zip(whole[:2], chunked[:2], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    for name in ("W", "b"):
        np.testing.assert_allclose(whole[2][name], chunked[2][name], rtol=1e-12, atol=1e-12)


def test_fast_conv_shifted_rows_hold_each_channel_shifted_left_by_every_filter_column():
    x_pad = np.random.default_rng(12).standard_normal((2, 3, 6, 7))
    fw, w_out = 3, 5  # a 3-wide filter on 7 padded columns: 5 output columns
    rows = dlcourse.fastconv._shifted_rows(x_pad, fw, w_out)
    assert rows.shape == (2, 3 * fw, 6 * w_out)
    for c in range(3):
        for b in range(fw):
            want = x_pad[:, c, :, b : b + w_out].reshape(2, -1)  # rows r, columns j + b
            np.testing.assert_array_equal(rows[:, c * fw + b], want)


def test_fast_conv_keeps_the_columns_of_a_small_one_channel_batch_for_backward():
    layer = make_conv(np.random.default_rng(11), (3, 1, 5, 5), 1, 0, cls=FastConv2D)
    layer.forward(np.zeros((4, 1, 28, 28)))
    assert layer.cols.shape == (4, 25, 24 * 24)  # (N, C·FH·FW, H_out·W_out)


def test_conv_keeps_float32_and_does_not_mutate_its_inputs(conv_cls):
    rng = np.random.default_rng(6)
    layer = make_conv(rng, (4, 3, 3, 3), 1, 1, dtype=np.float32, cls=conv_cls)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    dout = rng.standard_normal((2, 4, 6, 6)).astype(np.float32)
    x_copy, dout_copy = x.copy(), dout.copy()
    out = layer.forward(x)
    dx = layer.backward(dout)
    assert out.dtype == dx.dtype == layer.grads["W"].dtype == layer.grads["b"].dtype == np.float32
    if conv_cls is FastConv2D:  # the reference returns lesson 06's transposed view
        assert out.flags.c_contiguous and dx.flags.c_contiguous
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dout, dout_copy)


def test_conv_rejects_a_filter_larger_than_the_input(conv_cls):
    layer = make_conv(np.random.default_rng(0), (1, 1, 5, 5), 1, 0, cls=conv_cls)
    with pytest.raises(ValueError, match=r"Conv2D cannot place a 5×5 window .* on a 3×3 input"):
        layer.forward(np.zeros((1, 1, 3, 3)))


def test_conv_rejects_the_wrong_channel_count(conv_cls):
    layer = make_conv(np.random.default_rng(0), (30, 3, 5, 5), 1, 0, cls=conv_cls)
    with pytest.raises(
        ValueError, match=r"W is 30×3×5×5\) expected input with 3 channel.*\(2, 1, 28, 28\)"
    ):
        layer.forward(np.zeros((2, 1, 28, 28)))


def test_conv_rejects_flat_input_with_a_reshape_hint(conv_cls):
    layer = make_conv(np.random.default_rng(0), (2, 1, 5, 5), 1, 0, cls=conv_cls)
    with pytest.raises(ValueError, match=r"got x of shape \(4, 784\).*reshape\(-1, 1, 28, 28\)"):
        layer.forward(np.zeros((4, 784)))


def test_conv_rejects_a_bias_that_is_not_one_per_filter(conv_cls):
    with pytest.raises(ValueError, match=r"expected b of shape \(3,\).*got b of shape \(576,\)"):
        conv_cls(np.zeros((3, 1, 5, 5)), np.zeros(576))


def test_conv_backward_before_forward_says_so(conv_cls):
    layer = make_conv(np.random.default_rng(0), (2, 1, 3, 3), 1, 0, cls=conv_cls)
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.zeros((1, 2, 3, 3)))


# --------------------------------------------------------------- MaxPool2D


@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_maxpool_forward_matches_the_loop_reference(pool_cls, x_shape, ph, pw, stride):
    x = np.random.default_rng(7).standard_normal(x_shape)
    pool = pool_cls(ph, pw, stride)
    want = pool_loop(x, ph, pw, stride)
    np.testing.assert_array_equal(pool.forward(x), want)
    assert pool.output_shape(x_shape[1:]) == want.shape[1:]


@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_maxpool_backward_matches_numerical_gradient(pool_cls, x_shape, ph, pw, stride):
    rng = np.random.default_rng(8)
    x = rng.permutation(np.prod(x_shape)).reshape(x_shape) * 0.01  # distinct values: no ties
    result = gradient_check(pool_cls(ph, pw, stride), x, rng=rng)
    assert result.passed(1e-6), str(result)


def test_maxpool_sends_a_tied_window_gradient_to_one_position(pool_cls):
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 2:, 2:] = [[1, 3], [3, 2]]  # two maxima in the last window
    pool = pool_cls(2)
    pool.forward(x)
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    np.testing.assert_array_equal(dx.sum(axis=(2, 3)), [[4.0]])  # one unit per window
    assert dx[0, 0, 2, 3] == 1 and dx[0, 0, 3, 2] == 0  # the first maximum wins


def test_maxpool_keeps_float32_and_does_not_mutate_its_inputs(pool_cls):
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)
    dout = rng.standard_normal((2, 3, 4, 4)).astype(np.float32)
    x_copy, dout_copy = x.copy(), dout.copy()
    pool = pool_cls(2)
    assert pool.forward(x).dtype == pool.backward(dout).dtype == np.float32
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(dout, dout_copy)


def test_maxpool_rejects_a_window_that_does_not_tile_the_input(pool_cls):
    with pytest.raises(ValueError, match=r"MaxPool2D cannot place a 2×2 window .* on a 7×7 input"):
        pool_cls(2).forward(np.zeros((1, 1, 7, 7)))


def test_maxpool_rejects_non_image_input(pool_cls):
    with pytest.raises(ValueError, match=r"MaxPool2D expected input of shape \(N, C, H, W\)"):
        pool_cls(2).forward(np.zeros((2, 28, 28)))


# ------------------------------------------------ the fast layers equal the reference


@pytest.mark.parametrize(("x_shape", "w_shape", "stride", "pad"), CONV_CASES)
def test_fast_conv_equals_the_reference_forward_backward_and_grads(x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(13)
    reference = make_conv(rng, w_shape, stride, pad)
    fast = FastConv2D(reference.W, reference.b, stride=stride, pad=pad)
    x = rng.standard_normal(x_shape)
    dout = rng.standard_normal((x_shape[0], *reference.output_shape(x_shape[1:])))
    np.testing.assert_allclose(fast.forward(x), reference.forward(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast.backward(dout), reference.backward(dout), atol=1e-12)
    for name in ("W", "b"):
        np.testing.assert_allclose(fast.grads[name], reference.grads[name], atol=1e-12)


@pytest.mark.parametrize(("x_shape", "ph", "pw", "stride"), POOL_CASES)
def test_fast_maxpool_equals_the_reference_with_ties(x_shape, ph, pw, stride):
    rng = np.random.default_rng(14)
    x = rng.integers(0, 3, size=x_shape).astype(float)  # many ties: the first maximum wins
    dout = rng.standard_normal((x_shape[0], *MaxPool2D(ph, pw, stride).output_shape(x_shape[1:])))
    reference, fast = MaxPool2D(ph, pw, stride), FastMaxPool2D(ph, pw, stride)
    np.testing.assert_array_equal(fast.forward(x), reference.forward(x))
    np.testing.assert_allclose(fast.backward(dout), reference.backward(dout), atol=1e-12)


def test_reference_conv_is_the_lessons_four_steps():
    rng = np.random.default_rng(15)
    layer = make_conv(rng, (4, 2, 3, 3), 1, 1)
    x = rng.standard_normal((2, 2, 5, 5))
    out = layer.forward(x)
    cols = im2col(x, 3, 3, 1, 1)
    np.testing.assert_array_equal(layer.cols, cols)  # step 1, kept for backward
    steps = (cols @ layer.W.reshape(4, -1).T + layer.b).reshape(2, 5, 5, 4).transpose(0, 3, 1, 2)
    np.testing.assert_array_equal(out, steps)


def test_conv_weights_are_settable_like_affine_weights(conv_cls):
    layer = make_conv(np.random.default_rng(16), (2, 1, 3, 3), 1, 0, cls=conv_cls)
    layer.W = np.ones((2, 1, 3, 3))
    layer.b = np.full(2, 0.5)
    assert layer.params["W"] is layer.W and layer.params["b"] is layer.b
    np.testing.assert_allclose(layer.forward(np.ones((1, 1, 3, 3))).ravel(), [9.5, 9.5])
    with pytest.raises(ValueError, match=r"expected W of shape \(F, C, FH, FW\) but got"):
        layer.W = np.ones((2, 9))


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 3),
    c=st.integers(1, 3),
    f=st.integers(1, 4),
    fh=st.integers(1, 4),
    fw=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    extra_h=st.integers(0, 4),
    extra_w=st.integers(0, 4),
    seed=st.integers(0, 2**16),
)
def test_fast_conv_equals_the_reference_on_any_shape_that_fits(
    n, c, f, fh, fw, stride, pad, extra_h, extra_w, seed
):
    # input sizes the window tiles exactly: (size + 2·pad − filter) divisible by stride
    height = max(fh - 2 * pad, 1) + extra_h * stride
    width = max(fw - 2 * pad, 1) + extra_w * stride
    height += (-(height + 2 * pad - fh)) % stride
    width += (-(width + 2 * pad - fw)) % stride
    rng = np.random.default_rng(seed)
    reference = make_conv(rng, (f, c, fh, fw), stride, pad)
    fast = FastConv2D(reference.W, reference.b, stride=stride, pad=pad)
    x = rng.standard_normal((n, c, height, width))
    out = reference.forward(x)
    np.testing.assert_allclose(fast.forward(x), out, rtol=1e-10, atol=1e-10)
    dout = rng.standard_normal(out.shape)
    np.testing.assert_allclose(fast.backward(dout), reference.backward(dout), atol=1e-10)
    for name in ("W", "b"):
        np.testing.assert_allclose(fast.grads[name], reference.grads[name], atol=1e-10)
