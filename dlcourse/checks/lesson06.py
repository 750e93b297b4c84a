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
    case_rng,
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


def _im2col(image: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Reference im2col of one channel: (H_out·W_out, fh·fw), one patch per row."""
    patches = _windows(image, fh, fw, stride, pad)
    return patches.reshape(-1, fh * fw)


def _max_pool(x: np.ndarray, pool_h: int, pool_w: int, stride: int) -> np.ndarray:
    """Reference max pooling of x: (N, C, H, W) -> (N, C, H_out, W_out)."""
    windows = sliding_window_view(x, (pool_h, pool_w), axis=(2, 3))[:, :, ::stride, ::stride]
    pooled: np.ndarray = windows.max(axis=(-2, -1))
    return pooled


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

# (x shape (N, C, H, W), filter shape (F, C, FH, FW), stride, pad): whole output sizes
_CONV_CASES = (
    ((2, 3, 7, 9), (4, 3, 3, 2), 1, 0),
    ((1, 2, 9, 12), (3, 2, 3, 4), 2, 1),
    ((3, 1, 6, 5), (2, 1, 2, 3), 1, 2),
    ((2, 4, 8, 8), (5, 4, 3, 3), 1, 1),
)


def _conv_batch(x: np.ndarray, W: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Reference: x (N, C, H, W) cross-correlated with W (F, C, FH, FW) -> (N, F, H_out, W_out)."""
    padded = np.pad(np.asarray(x, np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, W.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out: np.ndarray = np.einsum("ncpqij,fcij->nfpq", windows, np.asarray(W, np.float64))
    return out


def _conv_shape_hint(
    got: tuple[int, ...],
    want: tuple[int, ...],
    x: np.ndarray,
    W: np.ndarray,
    stride: int,
    pad: int,
) -> str:
    n, f = want[:2]
    if len(got) == 5:
        return "; sum over the input channels c too: each filter spans all C channels"
    if got[:2] == (f, n):
        return "; the samples axis comes first: (N, F, H_out, W_out)"
    plain = (x.shape[2] - W.shape[2] + 1, x.shape[3] - W.shape[3] + 1)
    if got[2:] == plain and (stride, pad) != (1, 0):
        return "; it looks like stride and pad were ignored"
    return " (output size: (H + 2·pad − FH) / stride + 1 for each axis)"


@checker("6.2", uses=("conv2d_offsets",))
def check_conv2d_offsets(conv2d_offsets: Callable) -> None:
    """Task 6.2: x (N, C, H, W) with filters W (F, C, FH, FW), stride and zero padding."""
    for salt, (x_shape, w_shape, stride, pad) in enumerate(_CONV_CASES):
        rng = case_rng(620 + salt)
        x, W = rng.normal(size=x_shape), rng.normal(size=w_shape)
        text = (
            f"conv2d_offsets(x of shape {x_shape}, W of shape {w_shape}, "
            f"stride={stride}, pad={pad})"
        )
        got = call_keeping(
            conv2d_offsets,
            x,
            W,
            stride=stride,
            pad=pad,
            example="padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))",
        )
        want = _conv_batch(x, W, stride, pad)
        got = expect_array(text, got)
        if got.shape != want.shape:
            hint = _conv_shape_hint(got.shape, want.shape, x, W, stride, pad)
            raise CheckFailed(
                f"{text} should have shape {want.shape} but has shape {got.shape}{hint}"
            )
        expect_finite(text, got)
        if _matches(got, want):
            continue
        if _matches(got, _conv_batch(x, W[:, :, ::-1, ::-1], stride, pad)):
            raise CheckFailed(
                f"{text} flipped the filter: that is the convolution of signal processing. "
                "A CNN layer slides the filter as it is (cross-correlation): at offset (u, v) "
                "the input is multiplied by W[:, :, u, v], not by its mirror image"
            )
        if w_shape[2] == w_shape[3] and _matches(
            got, _conv_batch(x, W.transpose(0, 1, 3, 2), stride, pad)
        ):
            raise CheckFailed(
                f"{text} used the transposed filter; at offset (u, v) use W[:, :, u, v], "
                "row offset with row offset"
            )
        if pad and _matches(got, _conv_batch(x, W, stride, 0)[:, :, : got.shape[2]]):
            raise CheckFailed(f"{text}: pad with zeros before sliding the filter")
        raise CheckFailed(f"{text} is off {_worst(got, want)}")
    _check_integer_images(conv2d_offsets)


def _check_integer_images(conv2d_offsets: Callable) -> None:
    """Integer pixel values (0…255), as images come from a file: the output must be float."""
    rng = case_rng(629)
    x = rng.integers(0, 256, size=(2, 1, 6, 7))
    W = rng.normal(size=(2, 1, 3, 3)) / 10
    text = "conv2d_offsets(x of integer pixels 0…255, shape (2, 1, 6, 7), W of floats (2, 1, 3, 3))"
    got = expect_array(text, call_keeping(conv2d_offsets, x, W))
    want = _conv_batch(x, W, 1, 0)
    if got.dtype.kind in "iu":
        raise CheckFailed(
            f"{text} returned an integer array (dtype {got.dtype}), so every sum was cut to a "
            "whole number. An output made with np.zeros_like(x) (or dtype=x.dtype) takes the "
            "images' integer dtype; make it a float array: np.zeros((N, F, H_out, W_out))"
        )
    if not _matches(got, want):
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
        image = case_rng(10 + seed).normal(size=image_shape)
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
                f"{text}: the rows are in the wrong order; row i·W_out + j must hold the patch "
                "at output position (i, j) (loop over i outside, j inside)"
            )
        raise CheckFailed(f"{text} is off {_worst(got, want)}")


# ----------------------------------------------------------------------------- task 6.4

_POOL_CASES = (  # (x shape, pool_h, pool_w, stride)
    ((2, 3, 6, 8), 2, 2, 2),
    ((1, 2, 7, 9), 3, 3, 2),
    ((2, 1, 6, 9), 2, 3, 2),
    ((2, 2, 8, 6), 3, 3, 2),  # H // stride = 4 but only 3 windows fit: no partial windows
)


@checker("6.4", uses=("max_pool_forward",))
def check_max_pool_forward(max_pool_forward: Callable) -> None:
    """Task 6.4: the maximum of each (pool_h, pool_w) window, per sample and channel."""
    for seed, (shape, pool_h, pool_w, stride) in enumerate(_POOL_CASES):
        x = case_rng(20 + seed).normal(size=shape)
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
            elif got.shape[2:] == (shape[2] // stride, shape[3] // stride):
                hint = (
                    f"; that is H // stride = {shape[2]} // {stride}, which counts the windows "
                    "that hang over the border too. Only whole windows count: "
                    f"H_out = (H − pool_h) // stride + 1 = {want.shape[2]}"
                )
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
