"""Checkers for assignment 07 · CNN backward and training (input gradient, pooling,
bias/ReLU, col2im, sanity checks, a CNN against the clock).

The input gradient is compared with a numerical gradient (central differences in
float64) of the scalar ``L(x) = sum(conv(x, W) * dout)``, whose exact gradient is the
``dx`` the learner computes. The other backward pieces are compared with references
written here, on non-square shapes and several seeds. Tasks 7.6 and 7.7 measure the
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


def _pool_windows(x: np.ndarray, pool_h: int, pool_w: int, stride: int) -> np.ndarray:
    """(N, C, H_out, W_out, pool_h, pool_w) views of x: (N, C, H, W)."""
    return sliding_window_view(x, (pool_h, pool_w), axis=(2, 3))[:, :, ::stride, ::stride]


def _scatter(
    x_shape: tuple[int, ...],
    dout: np.ndarray,
    pool_h: int,
    pool_w: int,
    stride: int,
    weights: np.ndarray,
) -> np.ndarray:
    """Add dout[n, c, a, b] · weights[n, c, a, b, i, j] to dx[n, c, a·stride + i, b·stride + j]."""
    dx = np.zeros(x_shape)
    h_out, w_out = dout.shape[2:]
    for a in range(h_out):
        for b in range(w_out):
            rows = slice(a * stride, a * stride + pool_h)
            cols = slice(b * stride, b * stride + pool_w)
            dx[:, :, rows, cols] += dout[:, :, a, b, None, None] * weights[:, :, a, b]
    return dx


def _pool_backward(
    x: np.ndarray,
    dout: np.ndarray,
    pool_h: int,
    pool_w: int,
    stride: int,
    rule: str = "first",
) -> np.ndarray:
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

_DX_CASES = (  # x shape (N, C, H, W), W shape (F, C, FH, FW), stride, pad
    ((2, 3, 6, 7), (4, 3, 3, 2), 1, 0),
    ((1, 2, 8, 9), (3, 2, 3, 3), 2, 0),  # stride 2 leaves the last row untouched: dx = 0 there
    ((2, 2, 5, 6), (3, 2, 3, 2), 1, 1),
    ((3, 1, 7, 7), (2, 1, 2, 2), 2, 1),
)


def _out_size(size: int, fsize: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - fsize) // stride + 1


def _conv_general(x: np.ndarray, W: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """Cross-correlation with stride and zero padding. x: (N, C, H, W) -> (N, F, H_out, W_out)."""
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    windows = sliding_window_view(padded, W.shape[2:], axis=(2, 3))[:, :, ::stride, ::stride]
    out: np.ndarray = np.einsum("ncpqij,fcij->nfpq", windows, W)
    return out


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
    n, c, h, w = x_shape
    _, _, fh, fw = W.shape
    dx = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    h_out, w_out = dout.shape[2:]
    for p in range(h_out):
        for q in range(w_out):
            patch = np.einsum("nf,fcij->ncij", dout[:, :, p, q], W)
            rows = slice(p * stride, p * stride + fh)
            cols = slice(q * stride, q * stride + fw)
            if add:
                dx[:, :, rows, cols] += patch
            else:
                dx[:, :, rows, cols] = patch
    return dx[:, :, pad : pad + h, pad : pad + w]


def _numerical_input_grad(
    dout: np.ndarray, W: np.ndarray, x_shape: tuple[int, ...], stride: int, pad: int
) -> np.ndarray:
    """Central differences of L(x) = sum(conv(x, W) * dout) at x = 0 (L is linear in x)."""
    x = np.zeros(x_shape)
    return numerical_gradient(lambda v: np.sum(_conv_general(v, W, stride, pad) * dout), x, 1e-5)


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
    ((2, 2, 6, 8), 2, 2, 2, True),
    ((1, 2, 7, 9), 3, 3, 2, False),
    ((2, 1, 6, 9), 2, 3, 2, True),
)


@checker("7.2", uses=("max_pool_backward",))
def check_max_pool_backward(max_pool_backward: Callable) -> None:
    """Task 7.2: route each dout value to the first maximum of its window, adding overlaps."""
    for seed, (shape, pool_h, pool_w, stride, ties) in enumerate(_POOL_CASES):
        rng = case_rng(40 + seed)
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
        rng = case_rng(50 + seed)
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


def _col2im(
    cols: np.ndarray, shape: tuple[int, int], fh: int, fw: int, stride: int, pad: int
) -> np.ndarray:
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
        cols = case_rng(60 + seed).normal(size=(h_out * w_out, fh * fw))
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


@checker("7.7", uses=("train_cnn",))
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
