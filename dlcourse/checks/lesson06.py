"""Checkers for assignment 06 · CNN forward (shapes of a network, convolution, im2col,
max pooling with switches).

Every checker compares the learner's function with a small reference written here
(the array ones with ``sliding_window_view``, a different method from the loops the
learner writes), on random non-square images, filters and architectures from
``case_rng``, strides and paddings, and names the typical mistake when it recognises
one (a forgotten bias or ``+ 1``, a flipped filter, a maximum started at 0, the last
maximum kept on ties...).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

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

# ----------------------------------------------------------------------------- references


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
    pooled: np.ndarray = batch_windows(x, pool_h, pool_w, stride).max(axis=(-2, -1))
    return pooled


def _matches(got: np.ndarray, want: np.ndarray) -> bool:
    return got.shape == want.shape and np.allclose(got, want, rtol=1e-6, atol=1e-8)


def _worst(got: np.ndarray, want: np.ndarray) -> str:
    """'at index (i, j): got a, expected b' for the element with the largest error."""
    error = np.abs(got - want)
    where = argmax_index(error)
    return f"at index {where}: got {got[where]:.6g}, expected {want[where]:.6g}"


# ----------------------------------------------------------------------------- task 6.1

Spec = tuple  # ("conv", filters, fh, fw, stride, pad), ("pool", ph, pw, stride), ...
Row = tuple[tuple[int, ...], int]  # (output shape, parameter count) of one layer


def _positions(size: int, window: int, stride: int, pad: int) -> int | None:
    """(size + 2·pad − window) / stride + 1, or None when the window does not fit evenly."""
    span = size + 2 * pad - window
    return None if span < 0 or span % stride else span // stride + 1


def _misfit(size: int, window: int, stride: int, pad: int) -> str:
    """Why a window does not fit along one axis, in the formula's terms."""
    span = size + 2 * pad - window
    if span < 0:
        return f"a window of {window} is larger than the {size + 2 * pad} pixels it slides over"
    return (
        f"{size} + 2·{pad} − {window} = {span} is not divisible by the stride {stride}, "
        "so the last pixels would be left out"
    )


def _layer(shape: tuple[int, ...], spec: Spec) -> tuple[Row | None, str]:
    """Reference for one layer: ((shape, n_params), "") or (None, why it does not fit)."""
    kind = spec[0]
    if kind in ("conv", "pool") and len(shape) != 3:
        return None, f"it needs a (C, H, W) input but gets shape {shape}"
    if kind == "conv":
        _, filters, fh, fw, stride, pad = spec
        c, h, w = shape
        h_out, w_out = _positions(h, fh, stride, pad), _positions(w, fw, stride, pad)
        if h_out is None:
            return None, _misfit(h, fh, stride, pad)
        if w_out is None:
            return None, _misfit(w, fw, stride, pad)
        return ((filters, h_out, w_out), filters * c * fh * fw + filters), ""
    if kind == "pool":
        _, ph, pw, stride = spec
        c, h, w = shape
        h_out, w_out = _positions(h, ph, stride, 0), _positions(w, pw, stride, 0)
        if h_out is None:
            return None, _misfit(h, ph, stride, 0)
        if w_out is None:
            return None, _misfit(w, pw, stride, 0)
        return ((c, h_out, w_out), 0), ""
    if kind == "relu":
        return (shape, 0), ""
    if kind == "flatten":
        return ((int(np.prod(shape)),), 0), ""
    if kind == "affine":
        if len(shape) != 1:
            return None, f"an affine layer needs a flat input but gets shape {shape}"
        units = spec[1]
        return ((units,), shape[0] * units + units), ""
    return None, f"{kind!r} is not a layer kind the task defines"


def _shapes(input_shape: tuple[int, ...], layers: list[Spec]) -> list[Row]:
    """Reference network_shapes for an architecture that fits."""
    rows, shape = [], tuple(input_shape)
    for spec in layers:
        row, why = _layer(shape, spec)
        assert row is not None, why
        rows.append(row)
        shape = row[0]
    return rows


def _fitting_conv(rng: np.random.Generator, size: int, stride: int, pad: int) -> int:
    """A filter size from 2…5 that fits `size` pixels evenly (1 if none does)."""
    fits = [f for f in range(2, 6) if _positions(size, f, stride, pad) is not None]
    return int(rng.choice(fits)) if fits else 1


def _architecture(salt: int) -> tuple[tuple[int, int, int], list[Spec]]:
    """A random CNN that fits: conv (stride 1, padding) → ReLU → pool → conv (stride 2)
    → ReLU → flatten → affine → ReLU → affine; non-square images, filters and pools."""
    rng = case_rng(salt)
    channels = int(rng.integers(2, 4))
    filters1 = channels + int(rng.integers(1, 4))  # never the input's channel count
    fh, fw = 3, int(rng.choice([2, 4, 5]))  # non-square
    pad = int(rng.integers(1, 3))
    ph, pw, pool_stride = 3, 2, 2
    h1, w1 = ph + pool_stride * int(rng.integers(3, 6)), pw + pool_stride * int(rng.integers(2, 5))
    height, width = h1 - 2 * pad + fh - 1, w1 - 2 * pad + fw - 1  # conv 1 gives (h1, w1)
    h2, w2 = (h1 - ph) // pool_stride + 1, (w1 - pw) // pool_stride + 1
    pad2 = int(rng.integers(0, 2))
    fh2, fw2 = _fitting_conv(rng, h2, 2, pad2), _fitting_conv(rng, w2, 2, pad2)
    filters2 = int(rng.integers(2, 6))
    layers = [
        ("conv", filters1, fh, fw, 1, pad),
        ("relu",),
        ("pool", ph, pw, pool_stride),
        ("conv", filters2, fh2, fw2, 2, pad2),
        ("relu",),
        ("flatten",),
        ("affine", int(rng.integers(5, 20))),
        ("relu",),
        ("affine", int(rng.integers(2, 11))),
    ]
    return (channels, height, width), layers


def _misfits(salt: int) -> list[tuple[tuple[int, int, int], list[Spec]]]:
    """Networks whose layer 2 or 3 must raise: a conv and a pool that leave pixels out, a
    filter larger than its input, affine on an unflattened input and an unknown kind."""
    rng = case_rng(salt)
    c, f = int(rng.integers(1, 4)), int(rng.integers(2, 6))
    odd = 2 * int(rng.integers(4, 8)) + 1  # an odd size, 9…15
    start: list[Spec] = [("conv", f, 3, 3, 1, 1), ("relu",)]  # 3×3 with pad 1 keeps (H, W)
    return [
        ((c, odd, odd + 2), [*start, ("conv", 4, 2, 2, 2, 0)]),  # (odd − 2) / 2
        ((c, odd + 1, odd), [*start, ("pool", 2, 2, 2)]),  # (odd − 2) / 2 along W
        ((c, 4, 6), [*start, ("pool", 2, 2, 2), ("conv", 3, 3, 3, 1, 0)]),  # 3×3 on 2×3
        ((c, odd, odd), [*start, ("pool", 3, 3, 2), ("affine", 10)]),
        ((c, odd, odd), [*start, ("pool", 3, 3, 2), ("dropout", 0.5)]),
    ]


def _int_shape(value: object) -> tuple[int, ...] | None:
    """value as a tuple of ints if it is a tuple/list of whole ints, else None."""
    if not isinstance(value, tuple | list):
        return None
    if not all(isinstance(s, int | np.integer) and not isinstance(s, bool) for s in value):
        return None
    return tuple(int(s) for s in value)


def _expect_rows(text: str, got: object, count: int) -> list:
    """Fail unless got is a list of `count` (shape, n_params) pairs."""
    if not isinstance(got, list | tuple):
        raise CheckFailed(
            f"{text} should return a list with one (shape, n_params) pair per layer "
            f"but returned {type_name(got)}"
        )
    if len(got) != count:
        raise CheckFailed(
            f"{text} returned {len(got)} rows for {count} layers; append one "
            "(shape, n_params) pair per layer, the input itself gets none"
        )
    for index, row in enumerate(got):
        if not isinstance(row, tuple | list) or len(row) != 2:
            raise CheckFailed(
                f"{text}: row {index} is {row!r}; each row is a pair (shape, n_params), "
                "e.g. ((30, 24, 24), 780)"
            )
    return list(got)


def _shape_hint(spec: Spec, before: tuple[int, ...], got: tuple[int, ...], want: tuple) -> str:
    """Names the mistake behind a wrong output shape of layer `spec`, or ""."""
    kind = spec[0]
    if kind in ("conv", "pool") and len(got) == 3:
        sizes, want_sizes = got[1:], want[1:]
        if sizes == want_sizes and kind == "conv" and got[0] == before[0]:
            return (
                f"; a conv layer outputs one map per filter, {spec[1]} maps, "
                f"not as many as its input has channels ({before[0]})"
            )
        if sizes == want_sizes and kind == "pool":
            return (
                f"; pooling works on each channel separately, so it keeps all {before[0]} channels"
            )
        if sizes == (want_sizes[0] - 1, want_sizes[1] - 1):
            return "; did you forget the + 1 of (H + 2·pad − F) / stride + 1 (the first position)?"
        if kind == "conv" and spec[5] and got[0] == want[0]:
            unpadded = tuple(
                (size - window) // spec[4] + 1
                for size, window in zip(before[1:], spec[2:4], strict=True)
            )
            if sizes == unpadded:
                return (
                    f"; the padding is missing: pad={spec[5]} puts that many rows and columns "
                    "of zeros on every side, so the input is H + 2·pad pixels high and "
                    "W + 2·pad wide"
                )
        if sizes == want_sizes[::-1]:
            return "; (height, width) are swapped: fh goes with H, fw with W"
    if kind == "pool" and len(got) == 2 and got == want[1:]:
        return f"; pooling works on each channel separately: keep the channel axis, {want}"
    if kind == "flatten":
        return f"; flatten turns (C, H, W) into one axis of C·H·W = {want[0]} numbers"
    return ""


def _count_hint(spec: Spec, before: tuple[int, ...], got: int, want: int) -> str:
    """Names the mistake behind a wrong parameter count of layer `spec`, or ""."""
    kind = spec[0]
    if kind in ("relu", "pool", "flatten"):
        return f"; a {kind} layer has no weights, so 0 parameters"
    if kind == "conv":
        filters, fh, fw = spec[1:4]
        channels = before[0]
        if got == filters * channels * fh * fw:
            return f"; did you forget the biases (one per filter: + {filters})?"
        if got == filters * fh * fw + filters and channels > 1:
            return (
                f"; each filter spans all {channels} input channels: "
                f"filters·C·fh·fw + filters = {filters}·{channels}·{fh}·{fw} + {filters}"
            )
        if got == filters * fh * fw:
            return "; count every input channel (filters·C·fh·fw) and the biases (+ filters)"
    if kind == "affine" and len(before) == 1 and got == before[0] * spec[1]:
        return f"; did you forget the biases (one per unit: + {spec[1]})?"
    return ""


def _compare_rows(
    text: str, input_shape: tuple[int, ...], layers: list[Spec], rows: list, want: list[Row]
) -> None:
    """Fail at the first layer whose shape or parameter count differs from `want`."""
    before = tuple(input_shape)
    for index, (spec, (shape, count), (want_shape, want_count)) in enumerate(
        zip(layers, rows, want, strict=True)
    ):
        where = f"{text}: layer {index} {spec!r}"
        shape_ints = _int_shape(shape)
        if shape_ints is None:
            whole = isinstance(shape, tuple | list) and any(
                isinstance(s, float | np.floating) and float(s).is_integer() for s in shape
            )
            hint = (
                "; sizes are whole numbers: divide with // once you know the division is exact"
                if whole
                else ""
            )
            raise CheckFailed(
                f"{where}: the shape should be a tuple of ints such as {want_shape} "
                f"but is {shape!r}{hint}"
            )
        if shape_ints != want_shape:
            hint = _shape_hint(spec, before, shape_ints, want_shape)
            raise CheckFailed(
                f"{where} gets input shape {before}, so its output shape should be "
                f"{want_shape} but yours is {shape_ints}{hint}"
            )
        if isinstance(count, bool) or not isinstance(count, int | np.integer):
            raise CheckFailed(
                f"{where}: the parameter count should be the int {want_count} but is {count!r}"
            )
        if count != want_count:
            hint = _count_hint(spec, before, int(count), want_count)
            raise CheckFailed(
                f"{where} gets input shape {before}, so it has {want_count:,} parameters "
                f"but you counted {int(count):,}{hint}"
            )
        before = want_shape


def _first_misfit(input_shape: tuple[int, ...], layers: list[Spec]) -> tuple[int, str]:
    """The index of the first layer that does not fit, and why."""
    shape = tuple(input_shape)
    for index, spec in enumerate(layers):
        row, why = _layer(shape, spec)
        if row is None:
            return index, why
        shape = row[0]
    raise AssertionError(f"every layer of {layers} fits")


def _expect_misfit_raises(network_shapes: Callable, input_shape: tuple, layers: list) -> None:
    """network_shapes must raise ValueError naming the layer that does not fit."""
    index, why = _first_misfit(input_shape, layers)
    spec = layers[index]
    text = f"network_shapes({input_shape}, {layers})"
    try:
        got = network_shapes(input_shape, list(layers))
    except ValueError as err:
        said = str(err)
        if not re.search(rf"(?<![\d.]){index}(?![\d.])", said) or str(spec[0]) not in said:
            raise CheckFailed(
                f"{text} raised ValueError, good, but its message ({said!r}) should name the "
                f"layer: its index {index} and its spec {spec!r}, and say why: {why}"
            ) from None
        return
    hint = ""
    if spec[0] in ("conv", "pool") and "divisible" in why:
        hint = "; // would silently drop the last pixels, so check the remainder first"
    if spec[0] == "affine":
        hint = "; add a ('flatten',) layer before it, do not flatten silently"
    raise CheckFailed(
        f"{text} should raise ValueError at layer {index} {spec!r} ({why}) "
        f"but returned {got!r}{hint}"
    )


@checker("6.1", uses=("network_shapes",))
def check_network_shapes(network_shapes: Callable) -> None:
    """Task 6.1: (shape, n_params) per layer of random CNNs; ValueError where a layer misfits."""
    for salt in (610, 611, 612):
        input_shape, layers = _architecture(salt)
        text = f"network_shapes({input_shape}, layers)"
        try:
            got = network_shapes(input_shape, list(layers))
        except ValueError as err:
            raise CheckFailed(
                f"{text}: {raised_message(err, __name__)}, but every layer of {layers} fits; "
                f"the table should be {_shapes(input_shape, layers)}"
            ) from None
        rows = _expect_rows(text, got, len(layers))
        _compare_rows(text, input_shape, layers, rows, _shapes(input_shape, layers))
    for input_shape, layers in _misfits(613):
        _expect_misfit_raises(network_shapes, input_shape, layers)


# ----------------------------------------------------------------------------- task 6.2

# (x shape (N, C, H, W), filter shape (F, C, FH, FW), stride, pad): whole output sizes
_CONV_CASES = (
    ((2, 3, 7, 9), (4, 3, 3, 2), 1, 0),
    ((1, 2, 9, 12), (3, 2, 3, 4), 2, 1),
    ((3, 1, 6, 5), (2, 1, 2, 3), 1, 2),
    ((2, 4, 8, 8), (5, 4, 3, 3), 1, 1),
)


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
        want = cross_correlate(x, W, stride, pad)
        got = expect_array(text, got)
        if got.shape != want.shape:
            hint = _conv_shape_hint(got.shape, want.shape, x, W, stride, pad)
            raise CheckFailed(
                f"{text} should have shape {want.shape} but has shape {got.shape}{hint}"
            )
        expect_finite(text, got)
        if _matches(got, want):
            continue
        if _matches(got, cross_correlate(x, W[:, :, ::-1, ::-1], stride, pad)):
            raise CheckFailed(
                f"{text} flipped the filter: that is the convolution of signal processing. "
                "A CNN layer slides the filter as it is (cross-correlation): at offset (u, v) "
                "the input is multiplied by W[:, :, u, v], not by its mirror image"
            )
        if w_shape[2] == w_shape[3] and _matches(
            got, cross_correlate(x, W.transpose(0, 1, 3, 2), stride, pad)
        ):
            raise CheckFailed(
                f"{text} used the transposed filter; at offset (u, v) use W[:, :, u, v], "
                "row offset with row offset"
            )
        if pad and _matches(got, cross_correlate(x, W, stride, 0)[:, :, : got.shape[2]]):
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
    want = cross_correlate(x, W, 1, 0)
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

_POOL_CASES = (  # (x shape, pool_h, pool_w, stride, values); every window fits
    ((2, 3, 6, 8), 2, 2, 2, "normal"),
    ((3, 2, 7, 9), 3, 3, 2, "negative"),  # a maximum started at 0 shows up here
    ((2, 3, 7, 9), 3, 2, 1, "normal"),  # overlapping, non-square; H // stride = 7, H_out = 5
    ((3, 2, 8, 10), 4, 2, 2, "ties"),  # whole numbers: many ties; H // stride = 4, H_out = 3
    ((2, 3, 6, 6), 2, 2, 2, "float32"),
)
_POOL_MISFITS = (((1, 2, 8, 7), 3, 3, 2), ((2, 1, 7, 8), 3, 3, 2), ((1, 1, 2, 5), 3, 2, 1))


def _pool_input(salt: int, shape: tuple[int, ...], values: str) -> np.ndarray:
    """A batch x of `shape`: normal (float64 or float32), all negative, or whole numbers."""
    rng = case_rng(salt)
    if values == "negative":
        return -np.abs(rng.normal(size=shape)) - 0.1
    if values == "ties":
        return rng.integers(-2, 3, size=shape).astype(np.float64)
    return rng.normal(size=shape).astype(np.float32 if values == "float32" else np.float64)


def _pool_windows(x: np.ndarray, pool_h: int, pool_w: int, stride: int) -> np.ndarray:
    """(N, C, H_out, W_out, pool_h·pool_w) windows of x: (N, C, H, W), flattened row by row."""
    view = batch_windows(x, pool_h, pool_w, stride)
    return view.reshape(*view.shape[:4], pool_h * pool_w)


def _first_switches(windows: np.ndarray) -> np.ndarray:
    """Row-major offset u·pool_w + v of each window's first maximum: (N, C, H_out, W_out)."""
    first: np.ndarray = windows.argmax(axis=-1)
    return first


def _last_switches(windows: np.ndarray) -> np.ndarray:
    """Offset of each window's *last* maximum (what >= instead of > keeps on ties)."""
    size = windows.shape[-1]
    last: np.ndarray = size - 1 - windows[..., ::-1].argmax(axis=-1)
    return last


def _moved_plane(got: np.ndarray, want: np.ndarray) -> str:
    """'out[n, c] holds the map of sample n2, channel c2' when whole maps are misplaced."""
    n, c = want.shape[:2]
    for k in range(n):
        for m in range(c):
            if np.allclose(got[k, m], want[k, m]):
                continue
            for k2 in range(n):
                for m2 in range(c):
                    if np.allclose(got[k, m], want[k2, m2]):
                        return (
                            f"; out[{k}, {m}] holds the pooled map of sample {k2}, channel {m2}. "
                            "Keep the (N, C) axes where they are: slice only the H and W axes"
                        )
            return ""
    return ""


def _pool_shape_hint(
    got: tuple[int, ...],
    want: tuple[int, ...],
    x: np.ndarray,
    pool_h: int,
    pool_w: int,
    stride: int,
) -> str:
    h, w = x.shape[2:]
    if len(got) != 4 or got == want[:1] + want[2:]:
        return "; pool each channel separately, keeping the (N, C, ...) axes"
    if got[2:] == (h // stride, w // stride):
        return (
            f"; that is H // stride = {h} // {stride}, which counts windows that hang over the "
            f"border too. Only whole windows count: H_out = (H − pool_h) / stride + 1 = {want[2]}"
        )
    if pool_h != pool_w and got[2:] == ((h - pool_w) // stride + 1, (w - pool_h) // stride + 1):
        return "; pool_h goes with the height axis (2) and pool_w with the width axis (3)"
    return " (N and C stay; H_out = (H − pool_h) / stride + 1, likewise W_out)"


def _check_switches(
    text: str, switches: object, x: np.ndarray, pool_h: int, pool_w: int, stride: int
) -> None:
    """switches: int offsets u·pool_w + v of each window's first maximum, shaped like out."""
    windows = _pool_windows(x, pool_h, pool_w, stride)
    want = _first_switches(windows)
    pair = "; keep one int per window, the offset u * pool_w + v, not the pair (u, v)"
    if isinstance(switches, tuple | list) and len(switches) == 2:
        raise CheckFailed(f"{text}: switches is a pair of arrays{pair}")
    switches = expect_array(f"{text}: switches", switches)
    if switches.shape != want.shape:
        hint = pair if switches.shape in ((*want.shape, 2), (2, *want.shape)) else ""
        raise CheckFailed(
            f"{text}: switches should have the shape of out, {want.shape}, "
            f"but has shape {switches.shape}{hint}"
        )
    if switches.dtype.kind not in "iu":
        raise CheckFailed(
            f"{text}: switches should be an integer array (offsets such as 0, 1, 2…) but has "
            f"dtype {switches.dtype}; make it with np.zeros(out.shape, dtype=int)"
        )
    if np.array_equal(switches, want):
        return
    if np.array_equal(switches, _last_switches(windows)):
        raise CheckFailed(
            f"{text}: on ties your switches point at the *last* maximum of the window; update "
            "the switch only where a value is strictly larger (>, not >=), so that the first "
            "maximum wins, as np.argmax of the flattened window picks"
        )
    u, v = np.divmod(want, pool_w)
    if pool_h != pool_w and np.array_equal(switches, u * pool_h + v):
        raise CheckFailed(
            f"{text}: the switches count u * pool_h + v; a row of the window holds pool_w "
            f"= {pool_w} values, so the row-major offset of (u, v) is u * pool_w + v"
        )
    where = argmax_index(switches != want)
    raise CheckFailed(
        f"{text}: switches{list(where)} should be {want[where]} (the offset u * pool_w + v of "
        f"that window's first maximum) but is {switches[where]}"
    )


def _pool_raised(
    text: str, err: Exception, x: np.ndarray, pool_h: int, pool_w: int, stride: int
) -> str:
    """The message for an exception on windows that fit (often an H // stride output size)."""
    h, w = x.shape[2:]
    h_out, w_out = (h - pool_h) // stride + 1, (w - pool_w) // stride + 1
    hint = ""
    if (h // stride, w // stride) != (h_out, w_out):
        hint = (
            f". An output of H // stride = {h // stride} rows would count windows that hang "
            "over the border; the slice of offset (u, v) must hold exactly H_out rows and "
            "W_out columns: x[:, :, u : u + stride * (H_out − 1) + 1 : stride, ...]"
        )
    return (
        f"{text}: {raised_message(err, __name__)}, but these windows fit: "
        f"H_out = ({h} − {pool_h}) / {stride} + 1 = {h_out}, W_out = {w_out}{hint}"
    )


@checker("6.4", uses=("max_pool_forward",))
def check_max_pool_forward(max_pool_forward: Callable) -> None:
    """Task 6.4: (out, switches) per sample and channel; ValueError when windows misfit."""
    for salt, (shape, pool_h, pool_w, stride, values) in enumerate(_POOL_CASES):
        x = _pool_input(640 + salt, shape, values)
        text = (
            f"max_pool_forward(x of shape {shape}{' (float32)' if values == 'float32' else ''}"
            f"{' (whole numbers, with ties)' if values == 'ties' else ''}, "
            f"pool_h={pool_h}, pool_w={pool_w}, stride={stride})"
        )
        try:
            result = call_keeping(
                max_pool_forward,
                x,
                pool_h=pool_h,
                pool_w=pool_w,
                stride=stride,
                example="out = x[:, :, rows, cols].copy(): a slice is a view of x",
            )
        except (ValueError, IndexError) as err:
            raise CheckFailed(_pool_raised(text, err, x, pool_h, pool_w, stride)) from None
        if not isinstance(result, tuple | list) or len(result) != 2:
            raise CheckFailed(
                f"{text} should return two arrays, (out, switches), but returned "
                f"{type_name(result)}"
            )
        got, switches = result
        got = expect_array(f"{text}: out", got)
        want = _max_pool(x, pool_h, pool_w, stride)
        if got.shape != want.shape:
            hint = _pool_shape_hint(got.shape, want.shape, x, pool_h, pool_w, stride)
            raise CheckFailed(
                f"{text}: out should have shape {want.shape} but has shape {got.shape}{hint}"
            )
        expect_finite(f"{text}: out", got)
        if not _matches(got, want):
            if (got == 0).any() and _matches(got, np.maximum(want, 0)):
                raise CheckFailed(
                    f"{text} returned 0 where every value in the window is negative; start the "
                    "running maximum from the values of the first offset (0, 0), not from 0"
                )
            windows = _pool_windows(x.astype(np.float64), pool_h, pool_w, stride)
            if _matches(got, windows.mean(axis=-1)):
                raise CheckFailed(
                    f"{text} averaged each window; max pooling takes the largest value"
                )
            raise CheckFailed(f"{text}: out is off {_worst(got, want)}{_moved_plane(got, want)}")
        if got.dtype != x.dtype:
            raise CheckFailed(
                f"{text}: out has dtype {got.dtype} for x of dtype {x.dtype}; a maximum is one "
                "of the values, so keep x's dtype (start from a slice of x, or pass "
                "dtype=x.dtype)"
            )
        _check_switches(text, switches, x, pool_h, pool_w, stride)
    for shape, pool_h, pool_w, stride in _POOL_MISFITS:
        x = case_rng(649).normal(size=shape)
        _expect_pool_raises(max_pool_forward, x, pool_h, pool_w, stride)


def _expect_pool_raises(
    max_pool_forward: Callable, x: np.ndarray, pool_h: int, pool_w: int, stride: int
) -> None:
    """max_pool_forward must raise ValueError when the windows do not fit x."""
    text = (
        f"max_pool_forward(x of shape {x.shape}, pool_h={pool_h}, pool_w={pool_w}, stride={stride})"
    )
    h, w = x.shape[2:]
    axis, size, pool = ("H", h, pool_h) if (h - pool_h) % stride or h < pool_h else ("W", w, pool_w)
    why = (
        f"a window of {pool} is larger than {axis} = {size}"
        if size < pool
        else f"{axis} − pool = {size} − {pool} = {size - pool} is not divisible by the stride "
        f"{stride}, so the last window would hang over the border"
    )
    try:
        max_pool_forward(x, pool_h=pool_h, pool_w=pool_w, stride=stride)
    except ValueError:
        return
    raise CheckFailed(
        f"{text} should raise ValueError ({why}) but returned without an error; "
        "check that the windows fit before you slice"
    )
