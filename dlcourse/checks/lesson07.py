"""Checkers for assignment 07 · CNN backward and training (input gradient, pooling from
its switches, filter and bias gradients, col2im for a batch, sanity checks, a CNN against
the clock).

The input, filter and bias gradients are compared with numerical gradients (central
differences in float64) of the scalar ``L = sum((conv(x, W) + b) * dout)``, written here
with its own forward pass. Pooling backward and col2im are compared with references
written here (pooling with switches this module computes itself), and col2im also with
the identity ``<im2col(x), dcols> = <x, col2im(dcols)>``; all on non-square shapes and
several seeds. Tasks 7.6 and 7.7 measure the
learner's returned model themselves (its accuracy on digits the check picks, and the
wall-clock time of the call).
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from dlcourse.checks import checker, raised_message
from dlcourse.checks.tools import (
    CheckFailed,
    argmax_index,
    batch_windows,
    call_keeping,
    case_rng,
    cross_correlate,
    expect_array,
    expect_finite,
    type_name,
)
from dlcourse.gradients import numerical_gradient

if TYPE_CHECKING:
    from dlcourse.data import MNIST

# ----------------------------------------------------------------------------- helpers


def _matches(got: np.ndarray, want: np.ndarray, rtol: float = 1e-6) -> bool:
    return got.shape == want.shape and np.allclose(got, want, rtol=rtol, atol=1e-8)


def _max_relative_error(got: np.ndarray, want: np.ndarray) -> tuple[float, tuple[int, ...]]:
    error = np.abs(got - want) / np.maximum(np.abs(got) + np.abs(want), 1e-8)
    where = argmax_index(error)
    return float(error[where]), where


def _slice_hint(err: Exception, text: str, h_out: int, w_out: int, stride: int) -> CheckFailed:
    """The learner's shape error, with what a slice per offset (u, v) must pick."""
    return CheckFailed(
        f"{raised_message(err, __name__)}; in {text}, the slice of offset (u, v) must pick "
        f"exactly H_out × W_out = {h_out}×{w_out} positions, rows u, u + {stride}, …, "
        f"u + {stride}·(H_out − 1): stop it there, u : u + {stride}·(H_out − 1) + 1 : {stride} "
        "(a slice u::stride runs on to the border and can pick one more)"
    )


# ----------------------------------------------------------------------------- task 7.1

_DX_CASES = (  # x shape (N, C, H, W), W shape (F, C, FH, FW), stride, pad
    ((2, 3, 6, 7), (4, 3, 3, 2), 1, 0),
    ((1, 2, 8, 9), (3, 2, 3, 3), 2, 0),  # stride 2 leaves the last row untouched: dx = 0 there
    ((2, 2, 5, 6), (3, 2, 3, 2), 1, 1),
    ((3, 1, 7, 7), (2, 1, 2, 2), 2, 1),
)


def _out_size(size: int, fsize: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - fsize) // stride + 1


def _input_grad(
    dout: np.ndarray,
    W: np.ndarray,
    x_shape: tuple[int, ...],
    stride: int,
    pad: int,
    add: bool = True,
) -> np.ndarray:
    """Exact dx: every output position sends dout · W back onto its patch (``add=False``:
    the typical mistake of assigning instead of adding where patches overlap)."""
    patches = np.einsum("nfpq,fcuv->npqcuv", dout, W)  # the gradient of every patch
    return _add_patches(patches, x_shape, stride, pad, add)


def _add_patches(
    patches: np.ndarray, x_shape: tuple[int, ...], stride: int, pad: int, add: bool = True
) -> np.ndarray:
    """Patches (N, H_out, W_out, C, fh, fw) added back onto an image of x_shape, a loop over
    output positions, the padding cut off (``add=False``: assigned, the typical mistake)."""
    n, c, h, w = x_shape
    _, h_out, w_out, _, fh, fw = patches.shape
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for i in range(h_out):
        for j in range(w_out):
            rows = slice(i * stride, i * stride + fh)
            cols = slice(j * stride, j * stride + fw)
            if add:
                padded[:, :, rows, cols] += patches[:, i, j]
            else:
                padded[:, :, rows, cols] = patches[:, i, j]
    return padded[:, :, pad : pad + h, pad : pad + w]


def _numerical_input_grad(
    dout: np.ndarray, W: np.ndarray, x_shape: tuple[int, ...], stride: int, pad: int
) -> np.ndarray:
    """Central differences of L(x) = sum(conv(x, W) * dout) at x = 0 (L is linear in x)."""
    x = np.zeros(x_shape)
    return numerical_gradient(lambda v: np.sum(cross_correlate(v, W, stride, pad) * dout), x, 1e-5)


def _dx_hint(
    got: np.ndarray,
    dout: np.ndarray,
    W: np.ndarray,
    x_shape: tuple[int, ...],
    stride: int,
    pad: int,
) -> str:
    """What a wrong dx looks like it did, from the typical mistakes."""
    if _matches(got, _input_grad(dout, W[:, :, ::-1, ::-1], x_shape, stride, pad)):
        return (
            "the filter is flipped: the forward pass multiplied x at offset (u, v) of a patch "
            "by W[:, :, u, v], so that is the weight its gradient goes back with"
        )
    if _matches(got, _input_grad(dout, W, x_shape, stride, pad, add=False)):
        return (
            "where patches overlap, only the last one's gradient is kept: a pixel in several "
            "patches collects the sum of their gradients, so add (+=) instead of assigning (=)"
        )
    if stride > 1 and _matches(got, _input_grad(dout, W, x_shape, 1, pad)[..., : got.shape[3]]):
        return (
            f"the patches were placed one pixel apart; with stride {stride} the patch of "
            f"output position (i, j) starts at (i·{stride}, j·{stride})"
        )
    return ""


@checker("7.1", uses=("conv_input_gradient",))
def check_conv_input_gradient(conv_input_gradient: Callable) -> None:
    """Task 7.1: dx (N, C, H, W) from dout (N, F, H_out, W_out) and W, with stride and pad."""
    for salt, (x_shape, w_shape, stride, pad) in enumerate(_DX_CASES):
        rng = case_rng(710 + salt)
        W = rng.normal(size=w_shape)
        n, _, h, w = x_shape
        h_out, w_out = (
            _out_size(h, w_shape[2], stride, pad),
            _out_size(w, w_shape[3], stride, pad),
        )
        dout = rng.normal(size=(n, w_shape[0], h_out, w_out))
        text = (
            f"conv_input_gradient(dout of shape {dout.shape}, W of shape {w_shape}, "
            f"x_shape={x_shape}, stride={stride}, pad={pad})"
        )
        got = call_keeping(
            conv_input_gradient,
            dout,
            W,
            x_shape,
            stride=stride,
            pad=pad,
            example="dx = np.zeros(...); dx[...] += ...",
        )
        got = expect_array(text, got)
        want = _numerical_input_grad(dout, W, x_shape, stride, pad)
        if got.shape != want.shape:
            hint = ""
            if got.shape == (n, x_shape[1], h + 2 * pad, w + 2 * pad) and pad:
                hint = (
                    "; that is the padded input's shape: cut the padding off at the end "
                    "(the padding zeros are not inputs, their gradient is dropped)"
                )
            raise CheckFailed(f"{text} should have shape {want.shape} but has {got.shape}{hint}")
        expect_finite(text, got)
        if _matches(got, want, rtol=1e-5):
            continue
        hint = _dx_hint(got, dout, W, x_shape, stride, pad)
        error, where = _max_relative_error(got, want)
        raise CheckFailed(
            f"{text} is off: relative error {error:.1e} at index {where} (got {got[where]:.6g}, "
            f"expected {want[where]:.6g}, from the numerical gradient)"
            + (f"; {hint}" if hint else "")
        )


# ----------------------------------------------------------------------------- task 7.2

_POOL_CASES = (  # (x shape, pool_h, pool_w, stride, ties)
    ((2, 3, 6, 8), 2, 2, 2, False),
    ((2, 2, 6, 8), 2, 2, 2, True),  # ties: the switch names the first maximum
    ((1, 2, 7, 9), 3, 3, 2, True),  # overlapping windows
    ((2, 2, 6, 9), 2, 3, 2, False),  # non-square pool, overlapping along the columns
    ((2, 1, 8, 11), 2, 3, 3, False),  # stride > pool_h: rows 2 and 5 are in no window
)


def _switches(x: np.ndarray, pool_h: int, pool_w: int, stride: int) -> np.ndarray:
    """(N, C, H_out, W_out) row-major offset u·pool_w + v of each window's first maximum."""
    view = batch_windows(x, pool_h, pool_w, stride)
    switches: np.ndarray = view.reshape(*view.shape[:4], -1).argmax(axis=-1)
    return switches


def _route(
    dout: np.ndarray,
    switches: np.ndarray,
    x_shape: tuple[int, ...],
    pool_w: int,
    stride: int,
) -> np.ndarray:
    """Reference max-pool backward: dout[n, c, i, j] added at (i·stride + u, j·stride + v),
    (u, v) = divmod(switch, pool_w), one index per window (np.add.at: overlaps add up)."""
    n, c, i, j = np.indices(dout.shape)
    u, v = np.divmod(switches, pool_w)
    dx = np.zeros(x_shape)
    np.add.at(dx, (n, c, i * stride + u, j * stride + v), dout)
    return dx


def _route_by_offsets(
    dout: np.ndarray,
    switches: np.ndarray,
    x_shape: tuple[int, ...],
    pool_h: int,
    pool_w: int,
    stride: int,
    code: Callable[[int, int], int],
    add: bool = True,
) -> np.ndarray:
    """The task's loop over offsets with a typical mistake: ``code(u, v)`` the switch taken
    for offset (u, v), ``add=False`` assigning instead of adding; ``stride`` may be wrong."""
    dx = np.zeros(x_shape)
    h_out, w_out = dout.shape[2:]
    for u in range(pool_h):
        for v in range(pool_w):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            cols = slice(v, v + stride * (w_out - 1) + 1, stride)
            routed = dout * (switches == code(u, v))
            if dx[:, :, rows, cols].shape != routed.shape:
                return np.full(x_shape, np.nan)  # this mistake cannot produce x_shape here
            if add:
                dx[:, :, rows, cols] += routed
            else:
                dx[:, :, rows, cols] = routed
    return dx


def _windows_per_pixel(
    x_shape: tuple[int, ...], h_out: int, w_out: int, pool_h: int, pool_w: int, stride: int
) -> np.ndarray:
    """(H, W) how many pooling windows contain each input pixel."""
    count = np.zeros(x_shape[2:], dtype=int)
    for i in range(h_out):
        for j in range(w_out):
            count[i * stride : i * stride + pool_h, j * stride : j * stride + pool_w] += 1
    return count


def _pool_hint(
    got: np.ndarray,
    dout: np.ndarray,
    switches: np.ndarray,
    x_shape: tuple[int, ...],
    pool_h: int,
    pool_w: int,
    stride: int,
) -> str:
    """What a wrong dx looks like it did, from the typical mistakes (or "")."""

    def by_offsets(
        code: Callable[[int, int], int], step: int = stride, add: bool = True
    ) -> np.ndarray:
        return _route_by_offsets(dout, switches, x_shape, pool_h, pool_w, step, code, add)

    if pool_h != pool_w and _matches(got, by_offsets(lambda u, v: u * pool_h + v)):
        return (
            f"offset (u, v) was numbered u·pool_h + v; a window has {pool_w} columns, so the "
            f"switch of offset (u, v) is u·pool_w + v = u·{pool_w} + v"
        )
    if _matches(got, by_offsets(lambda u, v: v * pool_h + u)):
        return (
            "the switches were read column by column, (u, v) swapped; they count row by row: "
            "offset (u, v) has the switch u·pool_w + v"
        )
    if stride != 1 and _matches(got, by_offsets(lambda u, v: u * pool_w + v, step=1)):
        return (
            f"the windows were placed one pixel apart; with stride {stride} window (i, j) starts "
            f"at (i·{stride}, j·{stride}), so step the slices by the stride"
        )
    h_out, w_out = dout.shape[2:]
    overlap = _windows_per_pixel(x_shape, h_out, w_out, pool_h, pool_w, stride) > 1
    if overlap.any():
        want = _route(dout, switches, x_shape, pool_w, stride)
        wrong = ~np.isclose(got, want, rtol=1e-6, atol=1e-8)
        if (wrong.any(axis=(0, 1)) <= overlap).all():
            return (
                f"only inputs that sit in two windows (stride {stride} < pool {pool_h}×{pool_w}: "
                "the windows overlap) are wrong; the slices of different offsets overlap too, "
                "and assigning (=) overwrites what an earlier offset put there: add (+=)"
            )
    return ""


@checker("7.2", uses=("max_pool_backward",))
def check_max_pool_backward(max_pool_backward: Callable) -> None:
    """Task 7.2: dx (N, C, H, W): each window's dout added at its switch, overlaps summed."""
    for salt, (shape, pool_h, pool_w, stride, ties) in enumerate(_POOL_CASES):
        rng = case_rng(720 + salt)
        x = rng.integers(-2, 3, size=shape).astype(float) if ties else rng.normal(size=shape)
        switches = _switches(x, pool_h, pool_w, stride)
        dout = rng.normal(size=switches.shape)
        text = (
            f"max_pool_backward(dout of shape {dout.shape}, switches, x_shape={shape}, "
            f"pool_h={pool_h}, pool_w={pool_w}, stride={stride})"
        )
        try:
            got = call_keeping(
                max_pool_backward,
                dout,
                switches,
                shape,
                pool_h=pool_h,
                pool_w=pool_w,
                stride=stride,
                example="dx[...] += dout * (switches == ...)",
            )
        except ValueError as err:
            if "broadcast" not in str(err):
                raise
            raise _slice_hint(err, text, dout.shape[2], dout.shape[3], stride) from err
        got = expect_array(text, got)
        if got.shape != shape:
            hint = ""
            if got.shape == dout.shape:
                hint = (
                    "; that is the pooled shape of dout: dx has one value per input pixel, "
                    "np.zeros(x_shape) to start with"
                )
            raise CheckFailed(f"{text} should have shape {shape} but has {got.shape}{hint}")
        expect_finite(text, got)
        want = _route(dout, switches, shape, pool_w, stride)
        if _matches(got, want):
            continue
        if got.dtype.kind in "iub":
            raise CheckFailed(
                f"{text} returned integers ({got.dtype}), so the gradients were rounded; "
                "start from a float array: np.zeros(x_shape)"
            )
        hint = _pool_hint(got, dout, switches, shape, pool_h, pool_w, stride)
        error, where = _max_relative_error(got, want)
        raise CheckFailed(
            f"{text} is off: relative error {error:.1e} at index {where} "
            f"(got {got[where] + 0.0:.6g}, expected {want[where]:.6g})"
            + (f"; {hint}" if hint else "")
        )


# ----------------------------------------------------------------------------- task 7.3

_DW_CASES = (  # x shape (N, C, H, W), filter shape (F, C, FH, FW), stride, pad
    ((2, 3, 6, 7), (4, 3, 3, 2), 1, 0),
    ((2, 2, 8, 9), (3, 2, 3, 3), 2, 0),
    ((3, 2, 5, 6), (3, 2, 2, 3), 1, 1),
    ((2, 3, 7, 7), (2, 3, 3, 2), 2, 1),
)


def _filter_grad(
    x: np.ndarray, dout: np.ndarray, filter_shape: tuple[int, ...], stride: int, pad: int
) -> np.ndarray:
    """dW[f, c, u, v] = Σ dout[n, f, i, j] · x_padded[n, c, i·stride + u, j·stride + v], used
    with stride 1 to recognise an ignored stride (all NaN where those slices do not fit)."""
    _, _, fh, fw = filter_shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out, w_out = dout.shape[2:]
    dW = np.zeros(filter_shape)
    for u in range(fh):
        for v in range(fw):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            window = padded[:, :, rows, v : v + stride * (w_out - 1) + 1 : stride]
            if window.shape[2:] != (h_out, w_out):
                return np.full(filter_shape, np.nan)  # the mistake would not run here
            dW[:, :, u, v] = np.einsum("nfij,ncij->fc", dout, window)
    return dW


def _numerical_param_grads(
    x: np.ndarray, dout: np.ndarray, filter_shape: tuple[int, ...], stride: int, pad: int
) -> tuple[np.ndarray, np.ndarray]:
    """Central differences of L(W, b) = sum((conv(x, W) + b) · dout) at W = 0, b = 0 (L is
    linear in W and b, so they are exact to rounding)."""
    W = np.zeros(filter_shape)
    b = np.zeros(filter_shape[0])

    def loss(_: np.ndarray) -> float:
        out = cross_correlate(x, W, stride, pad) + b[None, :, None, None]
        return float(np.sum(out * dout))

    return numerical_gradient(loss, W, 1e-5), numerical_gradient(loss, b, 1e-5)


def _dw_hint(
    got: np.ndarray,
    want: np.ndarray,
    x: np.ndarray,
    dout: np.ndarray,
    stride: int,
    pad: int,
) -> str:
    """What a wrong dW looks like it did, from the typical mistakes (or "")."""
    n = x.shape[0]
    if _matches(got, want[:, :, ::-1, ::-1]):
        return (
            "the filter is flipped: in the forward pass W[f, c, u, v] multiplied x at offset "
            "(u, v) of each patch, so its gradient collects those same pixels"
        )
    if _matches(got, want / n):
        return (
            f"that is the sum divided by N = {n}: dout is already the gradient of the batch's "
            "loss, so sum over the samples without averaging"
        )
    if stride > 1 and _matches(got, _filter_grad(x, dout, want.shape, 1, pad)):
        return (
            f"the patches were taken one pixel apart; with stride {stride}, output (i, j) "
            f"used the pixels from (i·{stride}, j·{stride}) on, so step the slices by the stride"
        )
    return ""


def _shape_hint(got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """A word on a wrong dW or db shape (or "")."""
    if len(want) == 4 and got == (want[1], want[0], *want[2:]):
        return (
            "; that is (C, F, FH, FW), channels and filters swapped: the filter axis comes "
            "first, dW[f, c, u, v], like W"
        )
    if len(want) == 1 and len(got) > 1:
        return (
            "; one bias b[f] is added at every position of every sample, so its gradient sums "
            "dout over the samples and both spatial axes: axes (0, 2, 3)"
        )
    return ""


def _call_param_gradients(
    conv_param_gradients: Callable,
    text: str,
    x: np.ndarray,
    dout: np.ndarray,
    settings: tuple[tuple[int, ...], int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """The learner's (dW, db), checked to be a pair of arrays; settings (filter_shape, stride,
    pad)."""
    filter_shape, stride, pad = settings
    try:
        result = call_keeping(
            conv_param_gradients,
            x,
            dout,
            filter_shape,
            stride=stride,
            pad=pad,
            example="x_padded = np.pad(x, ...)",
        )
    except (ValueError, IndexError) as err:
        if not pad:
            if "broadcast" not in str(err):
                raise
            raise _slice_hint(err, text, dout.shape[2], dout.shape[3], stride) from err
        # Without the padding, the slices (or im2col's rows) are too few for dout's positions.
        raise CheckFailed(
            f"{raised_message(err, __name__)}; in {text}, dout has one value per position "
            f"of x padded with {pad} row(s) and column(s) of zeros on every side: did you pad "
            "x first (np.pad on the two spatial axes)?"
        ) from err
    if not isinstance(result, tuple) or len(result) != 2:
        raise CheckFailed(f"{text} should return a pair (dW, db) but returned {type_name(result)}")
    return expect_array(f"dW from {text}", result[0]), expect_array(f"db from {text}", result[1])


@checker("7.3", uses=("conv_param_gradients",))
def check_conv_param_gradients(conv_param_gradients: Callable) -> None:
    """Task 7.3: dW (F, C, FH, FW) and db (F,) with stride and padding, vs a numerical gradient."""
    for salt, (x_shape, filter_shape, stride, pad) in enumerate(_DW_CASES):
        rng = case_rng(730 + salt)
        x = rng.normal(size=x_shape)
        h_out = _out_size(x_shape[2], filter_shape[2], stride, pad)
        w_out = _out_size(x_shape[3], filter_shape[3], stride, pad)
        dout = rng.normal(size=(x_shape[0], filter_shape[0], h_out, w_out))
        text = (
            f"conv_param_gradients(x of shape {x_shape}, dout of shape {dout.shape}, "
            f"filter_shape={filter_shape}, stride={stride}, pad={pad})"
        )
        dW, db = _call_param_gradients(
            conv_param_gradients, text, x, dout, (filter_shape, stride, pad)
        )
        want_dW, want_db = _numerical_param_grads(x, dout, filter_shape, stride, pad)
        for name, got, want in (("dW", dW, want_dW), ("db", db, want_db)):
            if got.shape != want.shape:
                raise CheckFailed(
                    f"{name} from {text} should have shape {want.shape} but has {got.shape}"
                    + _shape_hint(got.shape, want.shape)
                )
            expect_finite(f"{name} from {text}", got)
        if not _matches(dW, want_dW, rtol=1e-5):
            hint = _dw_hint(dW, want_dW, x, dout, stride, pad)
            error, where = _max_relative_error(dW, want_dW)
            raise CheckFailed(
                f"dW from {text} is off: relative error {error:.1e} at index {where} "
                f"(got {dW[where] + 0.0:.6g}, expected {want_dW[where]:.6g}, from the "
                "numerical gradient)" + (f"; {hint}" if hint else "")
            )
        if not _matches(db, want_db, rtol=1e-5):
            hint = ""
            if _matches(db, dout.mean(axis=(0, 2, 3))) or _matches(db, want_db / x_shape[0]):
                hint = "; that is a mean: the bias gradient is the sum of dout over n, i and j"
            error, where = _max_relative_error(db, want_db)
            raise CheckFailed(
                f"db from {text} is off: relative error {error:.1e} at index {where} "
                f"(got {db[where] + 0.0:.6g}, expected {want_db[where]:.6g}, from the "
                "numerical gradient)" + hint
            )


# ----------------------------------------------------------------------------- task 7.4

_COL2IM_CASES = (  # (x shape (N, C, H, W), fh, fw, stride, pad)
    ((2, 3, 5, 6), 3, 2, 1, 0),
    ((1, 2, 9, 12), 3, 4, 2, 1),
    ((3, 1, 4, 4), 3, 3, 1, 1),
    ((2, 2, 7, 8), 2, 3, 2, 0),
)
_ADJOINT_CASE = ((2, 3, 6, 7), 3, 3, 2, 1)  # checked by <im2col(x), dcols> = <x, col2im(dcols)>

# The layout of dcols' rows and columns, as the axes of (N, H_out, W_out, C, fh, fw) they hold
# (the task's), and the typical other orders: channel last, sample last.
_LAYOUTS = {
    "task": (0, 1, 2, 3, 4, 5),
    "channel last": (0, 1, 2, 4, 5, 3),
    "sample last": (1, 2, 0, 3, 4, 5),
}


def _im2col(x: np.ndarray, fh: int, fw: int, stride: int, pad: int) -> np.ndarray:
    """Reference im2col: (N·H_out·W_out, C·fh·fw), row (n, i, j), column (c, u, v)."""
    patches = batch_windows(x, fh, fw, stride, pad)
    n, c, h_out, w_out = patches.shape[:4]
    return patches.transpose(0, 2, 3, 1, 4, 5).reshape(n * h_out * w_out, c * fh * fw)


def _col2im(
    dcols: np.ndarray,
    x_shape: tuple[int, ...],
    fh: int,
    fw: int,
    stride: int,
    pad: int,
    layout: str = "task",
    add: bool = True,
) -> np.ndarray:
    """Reference col2im, a loop over output positions: every row of dcols added back onto its
    patch, the padding cut off. ``layout`` and ``add=False`` are the typical mistakes."""
    n, c, h, w = x_shape
    h_out, w_out = _out_size(h, fh, stride, pad), _out_size(w, fw, stride, pad)
    axes = _LAYOUTS[layout]
    sizes = (n, h_out, w_out, c, fh, fw)
    values = dcols.reshape([sizes[a] for a in axes]).transpose(np.argsort(axes))
    return _add_patches(values, x_shape, stride, pad, add)


def _col2im_hint(
    got: np.ndarray,
    dcols: np.ndarray,
    x_shape: tuple[int, ...],
    settings: tuple[int, int, int, int],
) -> str:
    """What a wrong col2im looks like it did, from the typical mistakes (or "")."""
    if _matches(got, _col2im(dcols, x_shape, *settings, add=False)) or _only_overlaps_wrong(
        got, dcols, x_shape, settings
    ):
        return (
            "where patches overlap, a pixel kept the gradient of only one of its patches. "
            "`padded[index] += values` adds a repeated index only once (numpy reads every "
            "selected element, adds, then writes each back, so the last write wins), and `=` "
            "overwrites; np.add.at(padded, index, values) adds every value"
        )
    for layout in ("channel last", "sample last"):
        if _matches(got, _col2im(dcols, x_shape, *settings, layout=layout)):
            return (
                f"the values went to the wrong pixels: you read dcols with the {layout}; row "
                "n·H_out·W_out + i·W_out + j is sample n at (i, j), column c·fh·fw + u·fw + v "
                "is channel c at offset (u, v): reshape to (N, H_out, W_out, C, fh, fw)"
            )
    if _matches(got, _col2im(dcols.T.reshape(dcols.shape), x_shape, *settings)):
        return (
            "dcols was read transposed: its rows are the N·H_out·W_out patches and its columns "
            "the C·fh·fw values of one patch; reshape dcols itself, not dcols.T"
        )
    return ""


def _only_overlaps_wrong(
    got: np.ndarray, dcols: np.ndarray, x_shape: tuple[int, ...], settings: tuple[int, ...]
) -> bool:
    """True when got differs from col2im only at pixels that sit in two or more patches."""
    fh, fw, stride, pad = settings
    ones = np.ones_like(dcols)
    in_several = _col2im(ones, x_shape, fh, fw, stride, pad) > 1.5  # patches per pixel
    wrong = ~np.isclose(got, _col2im(dcols, x_shape, fh, fw, stride, pad), rtol=1e-6, atol=1e-8)
    return bool(wrong.any() and not (wrong & ~in_several).any())


def _call_col2im(
    col2im_batch: Callable, dcols: np.ndarray, x_shape: tuple[int, ...], settings: tuple[int, ...]
) -> tuple[str, np.ndarray]:
    """The learner's result (finite, of shape x_shape) and the call written out."""
    fh, fw, stride, pad = settings
    text = (
        f"col2im_batch(dcols of shape {dcols.shape}, x_shape={x_shape}, fh={fh}, fw={fw}, "
        f"stride={stride}, pad={pad})"
    )
    got = call_keeping(
        col2im_batch,
        dcols,
        x_shape,
        fh,
        fw,
        stride=stride,
        pad=pad,
        example="values = dcols.reshape(...)",
    )
    got = expect_array(text, got)
    if got.shape != x_shape:
        n, c, h, w = x_shape
        hint = ""
        if got.shape == (n, c, h + 2 * pad, w + 2 * pad) and pad:
            hint = "; cut the padding off before returning (padded[:, :, pad:pad + H, pad:pad + W])"
        raise CheckFailed(f"{text} should have shape {x_shape} but has shape {got.shape}{hint}")
    expect_finite(text, got)
    return text, got


@checker("7.4", uses=("col2im_batch",))
def check_col2im_batch(col2im_batch: Callable) -> None:
    """Task 7.4: the adjoint of im2col for (N, C, H, W): rows added back, padding removed."""
    for salt, (x_shape, *settings) in enumerate(_COL2IM_CASES):
        fh, fw, stride, pad = settings
        rows = (
            x_shape[0]
            * _out_size(x_shape[2], fh, stride, pad)
            * _out_size(x_shape[3], fw, stride, pad)
        )
        dcols = case_rng(740 + salt).normal(size=(rows, x_shape[1] * fh * fw))
        text, got = _call_col2im(col2im_batch, dcols, x_shape, tuple(settings))
        want = _col2im(dcols, x_shape, fh, fw, stride, pad)
        if _matches(got, want):
            continue
        hint = _col2im_hint(got, dcols, x_shape, (fh, fw, stride, pad))
        error, where = _max_relative_error(got, want)
        raise CheckFailed(
            f"{text} is off: relative error {error:.1e} at index {where} "
            f"(got {got[where] + 0.0:.6g}, expected {want[where]:.6g})"
            + (f"; {hint}" if hint else "")
        )
    # A second check, by another route: col2im is the transpose (adjoint) of im2col.
    x_shape, fh, fw, stride, pad = _ADJOINT_CASE
    rng = case_rng(749)
    x = rng.normal(size=x_shape)
    cols = _im2col(x, fh, fw, stride, pad)
    dcols = rng.normal(size=cols.shape)
    text, got = _call_col2im(col2im_batch, dcols, x_shape, (fh, fw, stride, pad))
    left, right = float(np.sum(cols * dcols)), float(np.sum(x * got))
    if not np.isclose(left, right, rtol=1e-6, atol=1e-8):
        raise CheckFailed(
            f"{text} is not the transpose of im2col: for a random x, <im2col(x), dcols> = "
            f"{left:.6g} but <x, col2im_batch(dcols)> = {right:.6g}; every value of dcols must "
            "land on the very pixel im2col copied into its place"
        )


# ----------------------------------------------------------------------------- task 7.6

_TINY = 20  # digits the network must learn by heart


@functools.lru_cache(maxsize=1)
def _mnist() -> MNIST:
    """MNIST as images, loaded once and without its notice (the check prints only its verdict)."""
    from dlcourse.data import load_mnist

    with contextlib.redirect_stdout(io.StringIO()):
        return load_mnist(flatten=False)


def _digits(salt: int, count: int, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """``count`` digits (N, 1, 28, 28) float32 and their labels (N,), drawn with case_rng."""
    data = _mnist()
    x, labels = (data.x_train, data.t_train) if split == "train" else (data.x_test, data.t_test)
    index = case_rng(salt).choice(len(x), size=min(count, len(x)), replace=False)
    return x[index], labels[index]


def _accuracy_of(model: object, x: np.ndarray, labels: np.ndarray, who: str) -> float:
    """The accuracy of the learner's ``model`` on (x, labels), measured here from its scores."""
    predict = getattr(model, "predict", None)
    if predict is None:
        raise CheckFailed(
            f"{who} should return a model with a predict(x) method (a dlcourse Sequential "
            f"has one) but returned {type(model).__name__}"
        )
    scores = np.asarray(predict(x))
    if scores.shape != (len(x), 10):
        raise CheckFailed(
            f"model.predict(x) for {len(x)} digits should give scores of shape ({len(x)}, 10) "
            f"but gave shape {scores.shape}"
        )
    return float(np.mean(scores.argmax(axis=1) == labels))


@checker("7.6", uses=("sanity_checks",))
def check_sanity_checks(sanity_checks: Callable) -> None:
    """Task 7.6: initial loss of simple_convnet(rng=seed) ≈ ln 10, then 100 % on 20 digits."""
    from dlcourse.convnets import simple_convnet

    seed = int(case_rng(760).integers(0, 1000))
    x, labels = _digits(761, _TINY)
    text = f"sanity_checks(x of {_TINY} digits, labels, seed={seed})"
    result = call_keeping(sanity_checks, x, labels, seed, example="model.loss(x, labels)")
    if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], dict):
        raise CheckFailed(
            f"{text} should return a pair (model, report) with report a dict, but returned "
            f"{type(result).__name__} {result!r:.80}"
        )
    model, report = result
    missing = [key for key in ("initial_loss", "expected_loss", "steps") if key not in report]
    if missing:
        raise CheckFailed(f"the report has no {', '.join(map(repr, missing))}; see the task text")
    try:
        initial, expected = float(report["initial_loss"]), float(report["expected_loss"])
    except (TypeError, ValueError):
        raise CheckFailed(
            "report['initial_loss'] and report['expected_loss'] should be numbers but are "
            f"{report['initial_loss']!r:.40} and {report['expected_loss']!r:.40}"
        ) from None
    if not np.isclose(expected, np.log(10), rtol=1e-6):
        hint = ""
        if np.isclose(expected, np.log10(10)) or np.isclose(expected, 0.1):
            hint = "; the loss uses the natural log: −ln(1/10) = ln 10 ≈ 2.303"
        raise CheckFailed(
            f"report['expected_loss'] is {expected:.4g}: a network that guesses all 10 classes "
            f"equally gives every sample the loss −ln(1/10) = ln 10 ≈ 2.303{hint}"
        )
    want = float(simple_convnet(rng=seed).loss(x, labels))
    if not np.isclose(initial, want, rtol=1e-3):
        hint = ""
        if initial < 0.5 * want:
            hint = "; that looks like the loss *after* training: measure it before the first step"
        elif np.isclose(initial, want * len(x), rtol=1e-3):
            hint = "; that is the sum over the digits: the course's loss is the mean"
        raise CheckFailed(
            f"report['initial_loss'] is {initial:.4g} but simple_convnet(rng={seed}).loss(x, "
            f"labels) is {want:.4g} before any training{hint}"
        )
    steps = report["steps"]
    if not isinstance(steps, (int, np.integer)) or not 0 <= steps <= 300:
        raise CheckFailed(f"report['steps'] should be the number of steps taken (0–300): {steps!r}")
    accuracy = _accuracy_of(model, x, labels, "sanity_checks")
    if accuracy < 1.0:
        raise CheckFailed(
            f"after {steps} steps the model gets {accuracy:.0%} of the {_TINY} digits right, "
            "measured here; a working network learns 20 digits by heart (100 %). Train on the "
            "same 20 digits until all are right, or raise the learning rate; if it never gets "
            "there, a gradient is wrong"
        )


# ----------------------------------------------------------------------------- task 7.7


def _budget() -> tuple[int, float, float, int]:
    """(training digits, seconds, accuracy goal, test digits): the full and the quick run."""
    from dlcourse.config import sized

    return sized(4000, 1000), sized(90.0, 6.0), sized(0.95, 0.75), sized(1000, 500)


# Slow by design: 90 s of training in full mode, which the check itself times (it fails a
# call over 1.25 × 90 + 2 s); the limit leaves room for that and the test digits.
@checker("7.7", uses=("train_cnn",), seconds=180)
def check_train_cnn(train_cnn: Callable) -> None:
    """Task 7.7: a CNN trained within ``seconds`` reaches the accuracy goal on unseen digits."""
    import time

    count, seconds, goal, tests = _budget()
    x, labels = _digits(770, count)
    x_test, labels_test = _digits(771, tests, split="test")
    start = time.perf_counter()
    model = call_keeping(train_cnn, x, labels, seconds, example="model = simple_convnet(...)")
    elapsed = time.perf_counter() - start
    limit = 1.25 * seconds + 2.0  # margin for a busy machine and the last mini-batch
    if elapsed > limit:
        raise CheckFailed(
            f"train_cnn took {elapsed:.1f} s of its {seconds:g} s budget (at most {limit:.0f} s "
            "is accepted): check the clock (time.perf_counter()) after every mini-batch and "
            "stop when the budget is used up"
        )
    accuracy = _accuracy_of(model, x_test, labels_test, "train_cnn")
    if accuracy < goal:
        raise CheckFailed(
            f"after {elapsed:.0f} s of training, the model gets {accuracy:.1%} of {tests} test "
            f"digits right, measured here; the goal is {goal:.0%}. Use the time: more epochs "
            "within the budget, Adam with a learning rate near 0.001, mini-batches of 100"
        )
