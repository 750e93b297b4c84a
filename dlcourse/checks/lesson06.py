"""Checkers for assignment 06 · CNN forward (convolution, im2col, max pooling).

Every checker compares the learner's function with a small reference written here
with ``sliding_window_view`` (a different method from the loops the learner writes),
on non-square images and filters, several seeds, strides and paddings, and names the
typical mistake when it recognises one (a flipped filter, a forgotten ``+ 1``, a
mean instead of a max...).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.checks import checker
from dlcourse.checks.tools import (
    CheckFailed,
    argmax_index,
    call_keeping,
    expect_array,
    expect_finite,
)

# ----------------------------------------------------------------------------- references


def _out_size(size: int, filter_size: int, stride: int, pad: int) -> int:
    """(size + 2·pad − filter_size) / stride + 1, assuming it divides evenly."""
    return (size + 2 * pad - filter_size) // stride + 1


def _windows(image: np.ndarray, fh: int, fw: int, stride: int, pad: int) -> np.ndarray:
    """All (fh, fw) patches of a padded 2-D image: (H_out, W_out, fh, fw)."""
    padded = np.pad(np.asarray(image, np.float64), pad)
    return sliding_window_view(padded, (fh, fw))[::stride, ::stride]


def _conv(image: np.ndarray, filt: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Reference cross-correlation of one (H, W) image with one (FH, FW) filter."""
    patches = _windows(image, *filt.shape, stride, pad)
    return np.einsum("abij,ij->ab", patches, filt)


def _im2col(image: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Reference im2col of one channel: (H_out·W_out, fh·fw), one patch per row."""
    patches = _windows(image, fh, fw, stride, pad)
    return patches.reshape(-1, fh * fw)


def _max_pool(x: np.ndarray, pool_h: int, pool_w: int, stride: int) -> np.ndarray:
    """Reference max pooling of x: (N, C, H, W) -> (N, C, H_out, W_out)."""
    windows = sliding_window_view(x, (pool_h, pool_w), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(-2, -1))


def _matches(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-8)


def _worst(got: np.ndarray, want: np.ndarray) -> str:
    """'at index (i, j): got a, expected b' for the element with the largest error."""
    error = np.abs(got - want)
    where = argmax_index(error)
    return f"at index {where}: got {got[where]:.6g}, expected {want[where]:.6g}"


# ----------------------------------------------------------------------------- task 6.1

_SIZE_CASES = (  # (size, filter_size, stride, pad) -> output size
    ((28, 5, 1, 0), 24),
    ((28, 5, 1, 2), 28),
    ((7, 3, 2, 0), 3),
    ((9, 3, 3, 0), 3),
    ((12, 4, 2, 1), 6),
    ((5, 5, 1, 0), 1),
)
_BAD_SIZE_CASES = ((10, 4, 3, 1), (28, 5, 2, 0), (3, 5, 1, 0))


@checker("6.1", uses=("conv_output_size",))
def check_conv_output_size(conv_output_size: Callable) -> None:
    """Task 6.1: (size + 2·pad − filter_size) / stride + 1, as an int; ValueError if uneven."""
    for (size, fsize, stride, pad), want in _SIZE_CASES:
        text = f"conv_output_size({size}, {fsize}, stride={stride}, pad={pad})"
        got = conv_output_size(size, fsize, stride=stride, pad=pad)
        if isinstance(got, bool) or not isinstance(got, int | np.integer):
            if isinstance(got, float | np.floating) and got == want:
                raise CheckFailed(
                    f"{text} returned {got!r}, a float; return an int "
                    "(use // once you know the division is exact, or int(...))"
                )
            raise CheckFailed(f"{text} should return the int {want} but returned {got!r}")
        if got == want:
            continue
        hint = ""
        if got == want - 1:
            hint = "; did you forget the + 1 (the filter's first position)?"
        elif got == _out_size(size, fsize, stride, 0) and pad:
            hint = "; the padding adds pad pixels on *both* sides: size + 2·pad"
        elif got == _out_size(size, fsize, stride, pad // 2 if pad else 0) or got == _out_size(
            size + pad, fsize, stride, 0
        ):
            hint = "; the padding adds pad pixels on *both* sides: size + 2·pad"
        elif got == size + 2 * pad - fsize + 1 and stride > 1:
            hint = "; divide by the stride before adding 1"
        raise CheckFailed(f"{text} should be {want} but returned {got}{hint}")
    for size, fsize, stride, pad in _BAD_SIZE_CASES:
        text = f"conv_output_size({size}, {fsize}, stride={stride}, pad={pad})"
        span = size + 2 * pad - fsize
        reason = (
            f"the filter is larger than the padded input ({size + 2 * pad} pixels)"
            if span < 0
            else f"{size} + 2·{pad} − {fsize} = {span} is not divisible by {stride}"
        )
        try:
            got = conv_output_size(size, fsize, stride=stride, pad=pad)
        except ValueError:
            continue
        raise CheckFailed(f"{text} should raise ValueError ({reason}) but returned {got!r}")


# ----------------------------------------------------------------------------- task 6.2

# (image shape, filter shape, stride, pad), all giving whole output sizes
_CONV_CASES = (
    ((28, 28), (5, 5), 1, 0),
    ((7, 9), (3, 2), 1, 0),
    ((9, 12), (3, 4), 2, 1),
    ((6, 5), (2, 3), 1, 2),
    ((8, 8), (3, 3), 1, 1),
)


def _conv_case(seed: int, image_shape, filter_shape) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=image_shape), rng.normal(size=filter_shape)


@checker("6.2", uses=("conv2d_naive",))
def check_conv2d_naive(conv2d_naive: Callable) -> None:
    """Task 6.2: slide one (FH, FW) filter over one (H, W) image, with stride and padding."""
    for seed, (image_shape, filter_shape, stride, pad) in enumerate(_CONV_CASES):
        image, filt = _conv_case(seed, image_shape, filter_shape)
        text = (
            f"conv2d_naive(image of shape {image_shape}, filter of shape {filter_shape}, "
            f"stride={stride}, pad={pad})"
        )
        got = call_keeping(
            conv2d_naive, image, filt, stride=stride, pad=pad, example="padded = np.pad(image, pad)"
        )
        want = _conv(image, filt, stride, pad)
        got = expect_array(text, got)
        if got.shape != want.shape:
            hint = " (output size: (H + 2·pad − FH) / stride + 1 for each axis)"
            if got.shape == (
                image_shape[0] - filter_shape[0] + 1,
                image_shape[1] - filter_shape[1] + 1,
            ):
                hint = (
                    "; it looks like stride and pad were ignored"
                    if (stride, pad) != (1, 0)
                    else hint
                )
            elif got.shape == want.shape[::-1]:
                hint = "; rows and columns are swapped"
            raise CheckFailed(
                f"{text} should have shape {want.shape} but has shape {got.shape}{hint}"
            )
        expect_finite(text, got)
        if _matches(got, want):
            continue
        if _matches(got, _conv(image, filt[::-1, ::-1], stride, pad)):
            raise CheckFailed(
                f"{text} flipped the filter: that is the convolution of signal processing. "
                "A CNN layer slides the filter as it is (cross-correlation): "
                "out[i, j] = sum(patch * filt) with no flipping"
            )
        if filt.shape[0] == filt.shape[1] and _matches(got, _conv(image, filt.T, stride, pad)):
            raise CheckFailed(
                f"{text} used the transposed filter; multiply patch[a, b] with filt[a, b], "
                "row index with row index"
            )
        if pad and _matches(
            got, _conv(np.pad(image, pad, constant_values=image.mean()), filt, stride, 0)
        ):
            raise CheckFailed(f"{text}: pad with zeros (np.pad(image, pad)), not another value")
        raise CheckFailed(f"{text} is off {_worst(got, want)}")


# ----------------------------------------------------------------------------- task 6.3

_IM2COL_CASES = (
    ((6, 7), (3, 2), 1, 0),
    ((9, 12), (3, 4), 2, 1),
    ((5, 5), (3, 3), 1, 1),
)


@checker("6.3", uses=("im2col_single",))
def check_im2col_single(im2col_single: Callable) -> None:
    """Task 6.3: one patch per row (row-major over output positions), flattened row-major."""
    for seed, (image_shape, (fh, fw), stride, pad) in enumerate(_IM2COL_CASES):
        image = np.random.default_rng(10 + seed).normal(size=image_shape)
        text = (
            f"im2col_single(image of shape {image_shape}, fh={fh}, fw={fw}, "
            f"stride={stride}, pad={pad})"
        )
        got = expect_array(
            text,
            call_keeping(
                im2col_single,
                image,
                fh,
                fw,
                stride=stride,
                pad=pad,
                example="padded = np.pad(image, pad)",
            ),
        )
        want = _im2col(image, fh, fw, stride, pad)
        if got.shape != want.shape:
            hint = ""
            if got.shape == want.shape[::-1]:
                hint = (
                    "; you returned the transpose: one row per output position, "
                    "one column per filter pixel"
                )
            raise CheckFailed(
                f"{text} should have shape {want.shape} (H_out·W_out rows, FH·FW columns) "
                f"but has shape {got.shape}{hint}"
            )
        if _matches(got, want):
            continue
        patches = _windows(image, fh, fw, stride, pad)
        if _matches(got, patches.transpose(0, 1, 3, 2).reshape(want.shape)):
            raise CheckFailed(
                f"{text}: each row should be the patch flattened row by row (patch.ravel()); "
                "yours reads it column by column"
            )
        if _matches(got, patches.transpose(1, 0, 2, 3).reshape(want.shape)):
            raise CheckFailed(
                f"{text}: the rows are in the wrong order; row oh·W_out + ow must hold the patch "
                "at output position (oh, ow) (loop over oh outside, ow inside)"
            )
        raise CheckFailed(f"{text} is off {_worst(got, want)}")


# ----------------------------------------------------------------------------- task 6.4

_POOL_CASES = (  # (x shape, pool_h, pool_w, stride)
    ((2, 3, 6, 8), 2, 2, 2),
    ((1, 2, 7, 9), 3, 3, 2),
    ((2, 1, 6, 9), 2, 3, 2),
)


@checker("6.4", uses=("max_pool_forward",))
def check_max_pool_forward(max_pool_forward: Callable) -> None:
    """Task 6.4: the maximum of each (pool_h, pool_w) window, per sample and channel."""
    for seed, (shape, pool_h, pool_w, stride) in enumerate(_POOL_CASES):
        x = np.random.default_rng(20 + seed).normal(size=shape)
        if seed == 1:
            x = -np.abs(x) - 0.1  # every value negative: a max started at 0 shows up here
        text = (
            f"max_pool_forward(x of shape {shape}, pool_h={pool_h}, pool_w={pool_w}, "
            f"stride={stride})"
        )
        got = expect_array(
            text,
            call_keeping(
                max_pool_forward,
                x,
                pool_h=pool_h,
                pool_w=pool_w,
                stride=stride,
                example="window = x[...]; window.max(...), not x[...] = ...",
            ),
        )
        want = _max_pool(x, pool_h, pool_w, stride)
        if got.shape != want.shape:
            hint = " (N and C stay; H_out = (H − pool_h) / stride + 1, likewise W_out)"
            if got.shape == want.shape[:1] + want.shape[2:] or got.ndim != 4:
                hint = "; pool each channel separately, keeping the (N, C, ...) axes"
            elif pool_h != pool_w and got.shape == _max_pool(x, pool_w, pool_h, stride).shape:
                hint = "; pool_h goes with the height axis (2) and pool_w with the width axis (3)"
            raise CheckFailed(
                f"{text} should have shape {want.shape} but has shape {got.shape}{hint}"
            )
        expect_finite(text, got)
        if _matches(got, want):
            continue
        if (got == 0).any() and _matches(got, np.maximum(want, 0)):
            raise CheckFailed(
                f"{text} returned 0 where every value in the window is negative; start the "
                "maximum from the window's first value (or use .max()), not from 0"
            )
        windows = sliding_window_view(x, (pool_h, pool_w), axis=(2, 3))[:, :, ::stride, ::stride]
        if _matches(got, windows.mean(axis=(-2, -1))):
            raise CheckFailed(f"{text} averaged each window; max pooling takes the largest value")
        raise CheckFailed(f"{text} is off {_worst(got, want)}")
