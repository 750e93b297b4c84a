"""Convolution and max pooling as layers: the readable reference (lessons 06 and 07).

A convolution slides each filter W[f] (C, FH, FW) over the input x (N, C, H, W) and
takes, at every position, the sum of the elementwise product with the patch under it.
This module writes it exactly as lesson 06 teaches, with **im2col**:

1. ``cols = im2col(x, FH, FW, stride, pad)``: one patch per row, (N·H_out·W_out, C·FH·FW);
2. ``W_col = W.reshape(F, -1)``: one filter per row, (F, C·FH·FW);
3. ``out = cols @ W_col.T + b``: every output value at once, (N·H_out·W_out, F);
4. reshape to (N, H_out, W_out, F) and move the filter axis forward: (N, F, H_out, W_out).

The backward pass is lesson 07's: ``dW = cols.T @ dout_col``, ``db = Σ dout_col`` and
``dx = col2im(dout_col @ W_col)``, where col2im adds every row of gradients back onto the
pixels its patch came from. :class:`MaxPool2D` pools with im2col too, one window per row.

The model factories (:mod:`dlcourse.convnets`) and the benchmarks use the fast layers of
:mod:`dlcourse.fastconv` instead; they compute the same numbers (the tests check it on
every shape they cover) and store parameters under the same names, so weights saved from
one load into the other.
"""

from __future__ import annotations

import math

import numpy as np

from dlcourse.layers import Layer

__all__ = [
    "Conv2D",
    "MaxPool2D",
    "as_image_batch",
    "col2im",
    "conv_output_size",
    "im2col",
    "square_side",
]


def conv_output_size(size: int, filter_size: int, stride: int = 1, pad: int = 0) -> int:
    """Output length of a window of ``filter_size`` sliding over ``size`` pixels.

    ``(size + 2·pad − filter_size) / stride + 1``; e.g. 28 pixels, a 5-pixel filter,
    stride 1, no padding: 24 positions. Raises ValueError when the window does not
    fit: larger than the padded input, or the stride not dividing the remaining span.
    """
    if filter_size < 1 or stride < 1 or pad < 0:
        raise ValueError(
            f"expected filter_size >= 1, stride >= 1 and pad >= 0 but got "
            f"filter_size={filter_size}, stride={stride}, pad={pad}"
        )
    span = size + 2 * pad - filter_size
    if span < 0:
        raise ValueError(
            f"a window of {filter_size} pixels does not fit in {size} pixels with padding "
            f"{pad} (padded size {size + 2 * pad}); use a smaller filter or more padding"
        )
    if span % stride:
        raise ValueError(
            f"a window of {filter_size} pixels with stride {stride} does not tile {size} "
            f"pixels with padding {pad}: {size} + 2·{pad} − {filter_size} = {span} is not "
            f"divisible by {stride}; change the stride or the padding"
        )
    return span // stride + 1


def square_side(size: int) -> int | None:
    """The side of a square image of ``size`` pixels (28 for 784), or None if not square."""
    side = math.isqrt(size)
    return side if side * side == size else None


def as_image_batch(x: np.ndarray) -> np.ndarray:
    """Images as a (N, C, H, W) batch from flat square (N, H·W), (N, H, W) or (N, C, H, W).

    e.g. (N, 784) -> (N, 1, 28, 28) (a view, no copy). Raises ValueError for other shapes.
    """
    x = np.asarray(x)
    if x.ndim == 2:
        side = square_side(x.shape[1])
        if side is None:
            raise ValueError(
                f"expected flat square images (N, H·W) such as (N, 784) but got shape {x.shape}"
            )
        return x.reshape(len(x), 1, side, side)
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4:
        return x
    raise ValueError(
        f"expected images of shape (N, C, H, W), (N, H, W) or (N, H·W) but got shape {x.shape}"
    )


def check_images(x: np.ndarray, who: str, channels: int | None = None) -> None:
    """Raise ValueError unless x is a (N, C, H, W) batch (with ``channels`` channels)."""
    want = "(N, C, H, W)" if channels is None else f"(N, {channels}, H, W)"
    if x.ndim != 4:
        hint = ""
        side = square_side(x.shape[1]) if x.ndim == 2 else None
        if side is not None:
            hint = f"; for flat images use x.reshape(-1, 1, {side}, {side})"
        elif x.ndim == 3:
            hint = "; for a batch of one-channel images use x[:, None]"
        raise ValueError(f"{who} expected input of shape {want} but got x of shape {x.shape}{hint}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{who} expected input with {channels} channel(s), shape {want}, but got x of "
            f"shape {x.shape} with {x.shape[1]} channel(s)"
        )


def output_hw(
    height: int, width: int, fh: int, fw: int, stride: int, pad: int, who: str
) -> tuple[int, int]:
    """(H_out, W_out) of an fh×fw window on height×width; errors name the layer ``who``."""
    try:
        return (
            conv_output_size(height, fh, stride, pad),
            conv_output_size(width, fw, stride, pad),
        )
    except ValueError as error:
        raise ValueError(
            f"{who} cannot place a {fh}×{fw} window with stride {stride} and padding {pad} "
            f"on a {height}×{width} input: {error}"
        ) from None


def patches(x: np.ndarray, fh: int, fw: int, stride: int, pad: int) -> np.ndarray:
    """Every fh×fw patch of x, by offset. x: (N, C, H, W) -> (N, C, fh, fw, H_out, W_out).

    ``patches[n, c, a, b, i, j] = x_padded[n, c, i·stride + a, j·stride + b]``: the loop
    runs over the fh·fw offsets (a, b) inside the filter, and each offset of all patches
    is one strided slice of the input, copied at once.
    """
    n, c, height, width = x.shape
    h_out, w_out = output_hw(height, width, fh, fw, stride, pad, "im2col")
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((n, c, fh, fw, h_out, w_out), dtype=x.dtype)
    for a in range(fh):
        for b in range(fw):
            out[:, :, a, b] = x[
                :, :, a : a + stride * h_out : stride, b : b + stride * w_out : stride
            ]
    return out


def add_patches(
    patch_grads: np.ndarray, x_shape: tuple[int, ...], stride: int, pad: int
) -> np.ndarray:
    """Adjoint of :func:`patches`: add each patch back where it came from.

    patch_grads: (N, C, fh, fw, H_out, W_out); returns (N, C, H, W), padding dropped.
    Overlapping patches add up, so a pixel covered by several patches collects each one.
    """
    n, c, height, width = x_shape
    _, _, fh, fw, h_out, w_out = patch_grads.shape
    out = np.zeros((n, c, height + 2 * pad, width + 2 * pad), dtype=patch_grads.dtype)
    for a in range(fh):
        for b in range(fw):
            window = (slice(a, a + stride * h_out, stride), slice(b, b + stride * w_out, stride))
            out[(..., *window)] += patch_grads[:, :, a, b]
    return np.ascontiguousarray(out[:, :, pad : pad + height, pad : pad + width])


def im2col(x: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Patches as rows. x: (N, C, H, W) -> cols: (N·H_out·W_out, C·fh·fw).

    Row ``(n·H_out + i)·W_out + j`` is the patch of sample n at output position (i, j),
    flattened in (C, fh, fw) order, so ``cols @ W.reshape(F, -1).T`` is the convolution.
    """
    x = np.asarray(x)
    check_images(x, "im2col")
    p = patches(x, fh, fw, stride, pad)
    n, c, _, _, h_out, w_out = p.shape
    return p.transpose(0, 4, 5, 1, 2, 3).reshape(n * h_out * w_out, c * fh * fw)


def col2im(
    col: np.ndarray,
    x_shape: tuple[int, int, int, int],
    fh: int,
    fw: int,
    stride: int = 1,
    pad: int = 0,
) -> np.ndarray:
    """Adjoint of :func:`im2col`: rows added back onto their patches, padding removed.

    col: (N·H_out·W_out, C·fh·fw) laid out like im2col's output; returns (N, C, H, W).
    Used for the gradient of a convolution's input: dx = col2im(dcols, x.shape, ...).
    """
    col = np.asarray(col)
    if len(x_shape) != 4:
        raise ValueError(f"col2im expected x_shape (N, C, H, W) but got {tuple(x_shape)}")
    n, c, height, width = x_shape
    h_out, w_out = output_hw(height, width, fh, fw, stride, pad, "col2im")
    want = (n * h_out * w_out, c * fh * fw)
    if col.shape != want:
        raise ValueError(
            f"col2im expected col of shape {want} (N·H_out·W_out, C·fh·fw) for x_shape "
            f"{tuple(x_shape)} and a {fh}×{fw} window but got {col.shape}"
        )
    patch_grads = col.reshape(n, h_out, w_out, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    return add_patches(patch_grads, tuple(x_shape), stride, pad)


def check_conv_params(W: np.ndarray, b: np.ndarray, stride: int, pad: int, who: str) -> None:
    """Raise ValueError unless W is (F, C, FH, FW), b is (F,) and stride/pad are valid."""
    if W.ndim != 4:
        raise ValueError(f"{who} expected W of shape (F, C, FH, FW) but got shape {W.shape}")
    if b.shape != (W.shape[0],):
        raise ValueError(
            f"{who} expected b of shape ({W.shape[0]},), one bias per filter of W "
            f"{W.shape}, but got b of shape {b.shape}"
        )
    if int(stride) != stride or stride < 1 or int(pad) != pad or pad < 0:
        raise ValueError(
            f"{who} expected an integer stride >= 1 and pad >= 0 but got "
            f"stride={stride!r}, pad={pad!r}"
        )


class ConvBase(Layer):
    """What both convolution layers share: W, b, stride, pad, shapes and checks."""

    kind = "conv"

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        super().__init__()
        W, b = np.asarray(W), np.asarray(b)
        check_conv_params(W, b, stride, pad, type(self).__name__)
        self.params = {"W": W, "b": b}
        self.stride, self.pad = int(stride), int(pad)
        self.x: np.ndarray | None = None

    @property
    def W(self) -> np.ndarray:
        """Filters (F, C, FH, FW)."""
        return self.params["W"]

    @W.setter
    def W(self, value: np.ndarray) -> None:
        value = np.asarray(value)
        check_conv_params(value, self.b, self.stride, self.pad, type(self).__name__)
        self.params["W"] = value

    @property
    def b(self) -> np.ndarray:
        """One bias per filter (F,)."""
        return self.params["b"]

    @b.setter
    def b(self, value: np.ndarray) -> None:
        value = np.asarray(value)
        check_conv_params(self.W, value, self.stride, self.pad, type(self).__name__)
        self.params["b"] = value

    def __repr__(self) -> str:
        f, c, fh, fw = self.W.shape
        return (
            f"{type(self).__name__}({f} filters {c}×{fh}×{fw}, "
            f"stride={self.stride}, pad={self.pad})"
        )

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(C, H, W) -> (F, H_out, W_out)."""
        f, c, fh, fw = self.W.shape
        if len(input_shape) != 3 or input_shape[0] != c:
            raise ValueError(
                f"{type(self).__name__} expected a per-sample input shape ({c}, H, W) but got "
                f"{tuple(input_shape)}"
            )
        height, width = input_shape[1:]
        return (f, *output_hw(height, width, fh, fw, self.stride, self.pad, type(self).__name__))

    def check_input(self, x: np.ndarray) -> None:
        """Raise ValueError unless x is (N, C, H, W) with the filters' C channels."""
        f, c, fh, fw = self.W.shape
        check_images(x, f"{type(self).__name__} (W is {f}×{c}×{fh}×{fw})", channels=c)

    def check_dout(self, dout: np.ndarray) -> np.ndarray:
        """The cached x, after checking dout has the forward output's shape."""
        x = self._cached("x")
        want = (x.shape[0], *self.output_shape(x.shape[1:]))
        if dout.shape != want:
            raise ValueError(
                f"{type(self).__name__}.backward expected dout of shape {want} (the forward "
                f"output) but got {dout.shape}"
            )
        return x


class Conv2D(ConvBase):
    """Convolution layer, the reference: F filters of shape (C, FH, FW), one bias each.

    W: (F, C, FH, FW), b: (F,); x: (N, C, H, W) -> (N, F, H_out, W_out) with
    ``out[n, f, i, j] = Σ_{c,a,b} x_pad[n, c, i·s + a, j·s + b] · W[f, c, a, b] + b[f]``.
    Forward is lesson 06's four steps and caches x and its columns; backward is
    lesson 07's: dW from the columns, dx through col2im.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        super().__init__(W, b, stride, pad)
        self.cols: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> (N, F, H_out, W_out); caches x and cols."""
        x = np.asarray(x)
        self.check_input(x)
        f, _, fh, fw = self.W.shape
        _, h_out, w_out = self.output_shape(x.shape[1:])
        cols = im2col(x, fh, fw, self.stride, self.pad)  # step 1: (N·H_out·W_out, C·FH·FW)
        W_col = self.W.reshape(f, -1)  # step 2: (F, C·FH·FW)
        out = cols @ W_col.T + self.b  # step 3: (N·H_out·W_out, F)
        self.x, self.cols = x, cols
        # step 4: (N, H_out, W_out, F) -> (N, F, H_out, W_out)
        result: np.ndarray = out.reshape(len(x), h_out, w_out, f).transpose(0, 3, 1, 2)
        return result

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W); fills grads "W" and "b"."""
        dout = np.asarray(dout)
        x = self.check_dout(dout)
        f, _, fh, fw = self.W.shape
        dout_col = dout.transpose(0, 2, 3, 1).reshape(-1, f)  # (N·H_out·W_out, F)
        cols = self._cached("cols")
        self.grads = {
            "W": (dout_col.T @ cols).reshape(self.W.shape),  # Σ over every patch
            "b": dout_col.sum(axis=0),
        }
        dcols = dout_col @ self.W.reshape(f, -1)  # (N·H_out·W_out, C·FH·FW)
        return col2im(dcols, x.shape, fh, fw, self.stride, self.pad)


class PoolBase(Layer):
    """What both pooling layers share: window size, stride and output shape."""

    kind = "pool"

    def __init__(self, pool_h: int = 2, pool_w: int | None = None, stride: int | None = None):
        super().__init__()
        self.pool_h = int(pool_h)
        self.pool_w = self.pool_h if pool_w is None else int(pool_w)
        self.stride = self.pool_h if stride is None else int(stride)
        if min(self.pool_h, self.pool_w, self.stride) < 1:
            raise ValueError(
                f"{type(self).__name__} expected pool_h, pool_w and stride >= 1 but got "
                f"pool_h={pool_h}, pool_w={pool_w}, stride={stride}"
            )
        self.x: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pool_h}×{self.pool_w}, stride={self.stride})"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(C, H, W) -> (C, H_out, W_out)."""
        who = type(self).__name__
        if len(input_shape) != 3:
            raise ValueError(
                f"{who} expected a per-sample input shape (C, H, W) but got {tuple(input_shape)}"
            )
        c, height, width = input_shape
        return (c, *output_hw(height, width, self.pool_h, self.pool_w, self.stride, 0, who))


class MaxPool2D(PoolBase):
    """Max pooling, the reference: the largest value of each pool_h×pool_w window.

    x: (N, C, H, W) -> (N, C, H_out, W_out); no parameters. ``pool_w`` defaults to
    ``pool_h`` and ``stride`` to ``pool_h`` (windows side by side, not overlapping).
    Forward puts each window of each channel in a row (im2col) and takes the row's
    maximum; backward sends each gradient to the first maximum of its window (the
    argmax) and adds the rows back with col2im.
    """

    def __init__(self, pool_h: int = 2, pool_w: int | None = None, stride: int | None = None):
        super().__init__(pool_h, pool_w, stride)
        self.argmax: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> (N, C, H_out, W_out); caches x and each window's argmax."""
        x = np.asarray(x)
        check_images(x, "MaxPool2D")
        n, c, _, _ = x.shape
        _, h_out, w_out = self.output_shape(x.shape[1:])
        cols = im2col(x, self.pool_h, self.pool_w, self.stride)  # (N·H_out·W_out, C·PH·PW)
        windows = cols.reshape(-1, c, self.pool_h * self.pool_w)  # one window per (row, c)
        self.x, self.argmax = x, windows.argmax(axis=2)
        out = windows.max(axis=2)  # (N·H_out·W_out, C)
        result: np.ndarray = out.reshape(n, h_out, w_out, c).transpose(0, 3, 1, 2)
        return result

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W), nonzero at each window's max."""
        dout = np.asarray(dout)
        x, argmax = self._cached("x"), self._cached("argmax")
        want = (len(x), *self.output_shape(x.shape[1:]))
        if dout.shape != want:
            raise ValueError(
                f"MaxPool2D.backward expected dout of shape {want} (the forward output) "
                f"but got {dout.shape}"
            )
        c, size = x.shape[1], self.pool_h * self.pool_w
        dwindows = np.zeros((argmax.shape[0], c, size), dtype=np.result_type(x, dout))
        dout_col = dout.transpose(0, 2, 3, 1).reshape(-1, c)  # (N·H_out·W_out, C)
        np.put_along_axis(dwindows, argmax[..., None], dout_col[..., None], axis=2)
        return col2im(
            dwindows.reshape(-1, c * size), x.shape, self.pool_h, self.pool_w, self.stride
        )
