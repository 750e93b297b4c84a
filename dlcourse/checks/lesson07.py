"""Checkers for assignment 07 · CNN backward (filter gradient, pooling, bias/ReLU, col2im).

The filter gradient is compared with a numerical gradient (central differences in
float64) of the scalar ``L(W) = sum(conv(x, W) * dout)``, whose exact gradient is the
``dW`` the learner computes. The other checkers compare with references written here,
on non-square shapes and several seeds, and name the typical mistake when they see it.
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
from dlcourse.gradients import numerical_gradient

# ----------------------------------------------------------------------------- helpers


def _conv(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Cross-correlation, stride 1, no padding. x: (N, C, H, W), W: (F, C, FH, FW)."""
    windows = sliding_window_view(x, W.shape[2:], axis=(2, 3))  # (N, C, H_out, W_out, FH, FW)
    return np.einsum("ncabij,fcij->nfab", windows, W)


def _filter_grad(x: np.ndarray, dout: np.ndarray, fh: int, fw: int) -> np.ndarray:
    """Exact dW: (F, C, FH, FW) = input windows correlated with dout, summed over the batch."""
    windows = sliding_window_view(x, (fh, fw), axis=(2, 3))
    return np.einsum("ncabij,nfab->fcij", windows, dout)


def _numerical_filter_grad(x: np.ndarray, dout: np.ndarray, fh: int, fw: int) -> np.ndarray:
    """Central differences of L(W) = sum(conv(x, W) * dout) at W = 0, element by element.

    x: (N, C, H, W); dout: (N, F, H_out, W_out); returns dW: (F, C, fh, fw) in float64.
    L is linear in W, so the difference quotient at 0 is exact up to rounding.
    """
    W = np.zeros((dout.shape[1], x.shape[1], fh, fw))
    return numerical_gradient(lambda w: np.sum(_conv(x, w) * dout), W, h=1e-5)


def _matches(got: np.ndarray, want: np.ndarray, rtol: float = 1e-6) -> bool:
    return got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=1e-8)


def _max_relative_error(got: np.ndarray, want: np.ndarray) -> tuple[float, tuple[int, ...]]:
    error = np.abs(got - want) / np.maximum(np.abs(got) + np.abs(want), 1e-8)
    where = argmax_index(error)
    return float(error[where]), where


def _pool_windows(x: np.ndarray, pool_h: int, pool_w: int, stride: int) -> np.ndarray:
    """(N, C, H_out, W_out, pool_h, pool_w) views of x: (N, C, H, W)."""
    return sliding_window_view(x, (pool_h, pool_w), axis=(2, 3))[:, :, ::stride, ::stride]


def _scatter(x_shape, dout, pool_h, pool_w, stride, weights) -> np.ndarray:
    """Add dout[n, c, a, b] · weights[n, c, a, b, i, j] to dx[n, c, a·stride + i, b·stride + j]."""
    dx = np.zeros(x_shape)
    h_out, w_out = dout.shape[2:]
    for a in range(h_out):
        for b in range(w_out):
            rows = slice(a * stride, a * stride + pool_h)
            cols = slice(b * stride, b * stride + pool_w)
            dx[:, :, rows, cols] += dout[:, :, a, b, None, None] * weights[:, :, a, b]
    return dx


def _pool_backward(x, dout, pool_h, pool_w, stride, rule: str = "first") -> np.ndarray:
    """Max-pool backward, the gradient going to the first maximum of each window (row-major).

    rule "all" sends it to every tied maximum, "last" to the last one, "mean" spreads it
    evenly (average pooling), "assign" overwrites instead of adding where windows overlap:
    the typical wrong answers, used to recognise them.
    """
    windows = _pool_windows(x, pool_h, pool_w, stride)
    flat = windows.reshape(*windows.shape[:4], -1)
    if rule == "mean":
        weights = np.full(windows.shape, 1.0 / (pool_h * pool_w))
    elif rule == "all":
        weights = (windows == windows.max(axis=(-2, -1), keepdims=True)).astype(float)
    else:
        if rule == "last":
            index = flat.shape[-1] - 1 - np.argmax(flat[..., ::-1], axis=-1)
        else:
            index = np.argmax(flat, axis=-1)
        weights = (np.arange(flat.shape[-1]) == index[..., None]).astype(float)
        weights = weights.reshape(windows.shape)
    if rule != "assign":
        return _scatter(x.shape, dout, pool_h, pool_w, stride, weights)
    dx = np.zeros(x.shape)
    h_out, w_out = dout.shape[2:]
    for a in range(h_out):
        for b in range(w_out):
            rows = slice(a * stride, a * stride + pool_h)
            cols = slice(b * stride, b * stride + pool_w)
            hit = weights[:, :, a, b] > 0
            dx[:, :, rows, cols][hit] = (dout[:, :, a, b, None, None] * weights[:, :, a, b])[hit]
    return dx


# ----------------------------------------------------------------------------- task 7.1

_GRAD_CASES = (  # (N, C, H, W), (F, FH, FW)
    ((2, 2, 6, 7), (3, 3, 4)),
    ((3, 1, 8, 5), (1, 5, 2)),
    ((2, 3, 6, 6), (2, 3, 3)),
)


@checker("7.1", uses=("filter_gradient",))
def check_filter_gradient(filter_gradient: Callable) -> None:
    """Task 7.1: dW (F, C, FH, FW) from x (N, C, H, W) and dout (N, F, H_out, W_out)."""
    for seed, ((n, c, h, w), (f, fh, fw)) in enumerate(_GRAD_CASES):
        rng = np.random.default_rng(30 + seed)
        x = rng.normal(size=(n, c, h, w))
        dout = rng.normal(size=(n, f, h - fh + 1, w - fw + 1))
        text = f"filter_gradient(x of shape {x.shape}, dout of shape {dout.shape})"
        got = expect_array(
            text,
            call_keeping(
                filter_gradient, x, dout, example="window = x[:, :, i : i + h_out, j : j + w_out]"
            ),
        )
        want = _numerical_filter_grad(x, dout, fh, fw)
        if got.shape != want.shape:
            hint = " (F, C, FH, FW) with FH = H − H_out + 1 and FW = W − W_out + 1"
            if got.shape == (c, f, fh, fw):
                hint = "; the filter axis F comes first, then the channel axis C"
            elif got.shape == (f, c, fw, fh):
                hint = "; height and width are swapped (FH comes before FW)"
            elif got.shape == x.shape:
                hint = "; that is the shape of dx: this task asks for the gradient of the filter"
            elif got.shape == (n, f, c, fh, fw):
                hint = "; sum the per-sample gradients over the batch axis"
            raise CheckFailed(
                f"{text} should have shape {want.shape} but has shape {got.shape}{hint}"
            )
        expect_finite(text, got)
        if _matches(got, want, rtol=1e-5):
            continue
        exact = _filter_grad(x, dout, fh, fw)
        if _matches(got, exact[..., ::-1, ::-1]):
            raise CheckFailed(
                f"{text} is the flipped filter gradient; dW[f, c, i, j] multiplies "
                "dout[n, f, a, b] with x[n, c, a + i, b + j] (no flipping: the forward pass "
                "does not flip either)"
            )
        if fh == fw and _matches(got, exact.swapaxes(-1, -2)):
            raise CheckFailed(
                f"{text} is transposed: dW[..., i, j] belongs to filter row i, column j"
            )
        if _matches(got, exact / n):
            raise CheckFailed(
                f"{text} is {n}× too small: you averaged over the batch. The loss is already a "
                "mean (dout carries the 1/N), so sum over samples here"
            )
        error, where = _max_relative_error(got, want)
        raise CheckFailed(
            f"{text} disagrees with the numerical gradient: relative error {error:.1e} at index "
            f"{where} (got {got[where]:.6g}, expected {want[where]:.6g})"
        )


# ----------------------------------------------------------------------------- task 7.2

_POOL_CASES = (  # (x shape, pool_h, pool_w, stride, ties)
    ((2, 3, 6, 8), 2, 2, 2, False),
    ((2, 2, 6, 8), 2, 2, 2, True),
    ((1, 2, 7, 9), 3, 3, 2, False),
    ((2, 1, 6, 9), 2, 3, 2, True),
)


@checker("7.2", uses=("max_pool_backward",))
def check_max_pool_backward(max_pool_backward: Callable) -> None:
    """Task 7.2: route each dout value to the first maximum of its window, adding overlaps."""
    for seed, (shape, pool_h, pool_w, stride, ties) in enumerate(_POOL_CASES):
        rng = np.random.default_rng(40 + seed)
        x = rng.integers(-2, 3, size=shape).astype(float) if ties else rng.normal(size=shape)
        h_out, w_out = (shape[2] - pool_h) // stride + 1, (shape[3] - pool_w) // stride + 1
        dout = rng.normal(size=(*shape[:2], h_out, w_out))
        text = (
            f"max_pool_backward(x of shape {shape}, dout of shape {dout.shape}, "
            f"pool_h={pool_h}, pool_w={pool_w}, stride={stride})"
        )
        got = call_keeping(
            max_pool_backward,
            x,
            dout,
            pool_h=pool_h,
            pool_w=pool_w,
            stride=stride,
            example="dx = np.zeros_like(x)",
        )
        got = expect_array(text, got)
        if got.shape != x.shape:
            raise CheckFailed(
                f"{text} should return dx with the shape of x, {x.shape}, but has shape {got.shape}"
            )
        expect_finite(text, got)
        want = _pool_backward(x, dout, pool_h, pool_w, stride)
        if _matches(got, want):
            continue
        where = "" if not ties else " (this x has ties: equal values in a window)"
        if ties and _matches(got, _pool_backward(x, dout, pool_h, pool_w, stride, "all")):
            raise CheckFailed(
                f"{text}{where} sent the gradient to every tied maximum, so it counts twice. "
                "Send it to one input only: the first maximum in row-major order, which is "
                "what np.argmax over the flattened window picks"
            )
        if ties and _matches(got, _pool_backward(x, dout, pool_h, pool_w, stride, "last")):
            raise CheckFailed(
                f"{text}{where} chose the last of the tied maxima; use the first one in "
                "row-major order (np.argmax over the flattened window), as the forward pass does"
            )
        if _matches(got, _pool_backward(x, dout, pool_h, pool_w, stride, "mean")):
            raise CheckFailed(
                f"{text} spread the gradient evenly over each window: that is average pooling. "
                "Max pooling passes it to the maximum only; the other inputs get 0"
            )
        if stride < max(pool_h, pool_w) and _matches(
            got, _pool_backward(x, dout, pool_h, pool_w, stride, "assign")
        ):
            raise CheckFailed(
                f"{text}: windows overlap when stride < pool size, and an input that is the "
                "maximum of two windows gets both gradients; add them (+=) instead of assigning"
            )
        error, index = _max_relative_error(got, want)
        raise CheckFailed(
            f"{text}{where} is off: relative error {error:.1e} at index {index} "
            f"(got {got[index]:.6g}, expected {want[index]:.6g})"
        )


# ----------------------------------------------------------------------------- task 7.3


@checker("7.3", uses=("bias_relu_backward",))
def check_bias_relu_backward(bias_relu_backward: Callable) -> None:
    """Task 7.3: dz = dout · (z > 0) and db = dz summed over N, H and W, one value per filter."""
    for seed, shape in enumerate(((2, 3, 4, 5), (3, 2, 5, 3))):
        rng = np.random.default_rng(50 + seed)
        z = rng.normal(size=shape)
        z[0, 0, 0, :2] = 0.0  # exact zeros: ReLU's gradient is taken as 0 there
        dout = rng.normal(size=shape)
        text = f"bias_relu_backward(dout of shape {shape}, z of shape {shape})"
        result = call_keeping(
            bias_relu_backward, dout, z, example="dz = dout * (z > 0), not dout[z <= 0] = 0"
        )
        if not isinstance(result, tuple) or len(result) != 2:
            raise CheckFailed(
                f"{text} should return a pair (dz, db) but returned {type(result).__name__}"
            )
        dz, db = result
        want_dz = dout * (z > 0)
        want_db = want_dz.sum(axis=(0, 2, 3))
        dz = expect_array(f"dz from {text}", dz)
        if dz.shape != shape:
            raise CheckFailed(f"dz from {text} should have shape {shape} but has shape {dz.shape}")
        expect_finite("dz", dz)
        if not _matches(dz, want_dz):
            if _matches(dz, dout * (dout > 0)):
                raise CheckFailed(
                    f"dz from {text}: the mask comes from the forward input z (z > 0), "
                    "not from dout"
                )
            if _matches(dz, dout * (z >= 0)):
                raise CheckFailed(
                    f"dz from {text} lets the gradient through where z == 0 exactly; use the mask "
                    "z > 0 (ReLU's gradient at 0 is taken as 0, as dlcourse's ReLU does)"
                )
            if _matches(dz, z > 0) or _matches(dz, (z > 0) * 1.0):
                raise CheckFailed(f"dz from {text} is the mask alone; multiply it with dout")
            error, where = _max_relative_error(dz, want_dz)
            raise CheckFailed(f"dz from {text} is off: relative error {error:.1e} at index {where}")
        db = expect_array(f"db from {text}", db)
        f = shape[1]
        if db.shape != (f,):
            hint = ""
            if db.shape == shape[1:]:
                hint = (
                    "; that is one bias per feature-map pixel. A conv layer has one bias per "
                    "filter: sum over the batch and both spatial axes"
                )
            raise CheckFailed(
                f"db from {text} should have shape ({f},), one value per filter, but has shape "
                f"{db.shape}{hint}"
            )
        if _matches(db, want_db):
            continue
        if _matches(db, dout.sum(axis=(0, 2, 3))):
            raise CheckFailed(f"db from {text} ignores the ReLU mask; sum dz, not dout")
        if _matches(db, want_dz.mean(axis=(0, 2, 3))) or _matches(db, want_db / shape[0]):
            raise CheckFailed(f"db from {text} is a mean; the bias gradient is the sum of dz")
        error, where = _max_relative_error(db, want_db)
        raise CheckFailed(f"db from {text} is off: relative error {error:.1e} at index {where}")


# ----------------------------------------------------------------------------- task 7.4

_COL2IM_CASES = (  # (image shape, fh, fw, stride, pad)
    ((5, 6), 3, 2, 1, 0),
    ((9, 12), 3, 4, 2, 1),
    ((4, 4), 3, 3, 1, 1),
)


def _col2im(cols: np.ndarray, shape, fh: int, fw: int, stride: int, pad: int) -> np.ndarray:
    """Reference col2im of one channel: add every row back onto its patch, drop the padding."""
    h, w = shape
    h_out, w_out = (h + 2 * pad - fh) // stride + 1, (w + 2 * pad - fw) // stride + 1
    padded = np.zeros((h + 2 * pad, w + 2 * pad))
    patches = cols.reshape(h_out, w_out, fh, fw)
    for a in range(h_out):
        for b in range(w_out):
            padded[a * stride : a * stride + fh, b * stride : b * stride + fw] += patches[a, b]
    return padded[pad : pad + h, pad : pad + w]


@checker("7.4", uses=("col2im_single",))
def check_col2im_single(col2im_single: Callable) -> None:
    """Task 7.4: the adjoint of im2col: rows added back onto their patches, padding removed."""
    for seed, (shape, fh, fw, stride, pad) in enumerate(_COL2IM_CASES):
        h_out = (shape[0] + 2 * pad - fh) // stride + 1
        w_out = (shape[1] + 2 * pad - fw) // stride + 1
        cols = np.random.default_rng(60 + seed).normal(size=(h_out * w_out, fh * fw))
        text = (
            f"col2im_single(cols of shape {cols.shape}, {shape}, fh={fh}, fw={fw}, "
            f"stride={stride}, pad={pad})"
        )
        got = expect_array(
            text,
            call_keeping(
                col2im_single,
                cols,
                shape,
                fh,
                fw,
                stride=stride,
                pad=pad,
                example="padded = np.zeros(...); padded[...] += ...",
            ),
        )
        want = _col2im(cols, shape, fh, fw, stride, pad)
        if got.shape != want.shape:
            hint = ""
            if got.shape == (shape[0] + 2 * pad, shape[1] + 2 * pad):
                hint = "; cut the padding off before returning (padded[pad:pad + H, pad:pad + W])"
            raise CheckFailed(
                f"{text} should have shape {want.shape} but has shape {got.shape}{hint}"
            )
        expect_finite(text, got)
        if _matches(got, want):
            continue
        # overwriting instead of adding: the last patch written wins where patches overlap
        last = np.zeros((shape[0] + 2 * pad, shape[1] + 2 * pad))
        patches = cols.reshape(h_out, w_out, fh, fw)
        for a in range(h_out):
            for b in range(w_out):
                last[a * stride : a * stride + fh, b * stride : b * stride + fw] = patches[a, b]
        if _matches(got, last[pad : pad + shape[0], pad : pad + shape[1]]):
            raise CheckFailed(
                f"{text}: where patches overlap, a pixel appears in several rows and its "
                "gradients must be added (+=), not overwritten"
            )
        error, where = _max_relative_error(got, want)
        raise CheckFailed(
            f"{text} is off: relative error {error:.1e} at index {where} "
            f"(got {got[where]:.6g}, expected {want[where]:.6g})"
        )
