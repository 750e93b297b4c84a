"""Convolution and max pooling as layers (lessons 06 and 07).

A convolution slides each filter W[f] (C, FH, FW) over the input x (N, C, H, W) and
takes, at every position, the sum of the elementwise product with the patch under it.
Written with loops that is N·F·H_out·W_out small products; here it is one matrix
product per sample, thanks to **im2col**: copy every patch into a column first.

Five tricks keep the layers fast without hiding the arithmetic:

1. Patches are gathered with a loop over the FH·FW *offsets inside the filter*, not over
   pixels: offset (a, b) of every patch of every sample is one strided slice of the
   input, copied at once (:func:`im2col`). :func:`col2im`, its adjoint, adds the slices
   back the same way (``np.add.at`` would be far slower).
2. :class:`Conv2D` builds the columns per sample, ``cols: (n, C·FH·FW, H_out·W_out)``, so
   ``W (F, C·FH·FW) @ cols`` comes out directly as (n, F, H_out·W_out), i.e. the
   contiguous (N, F, H_out, W_out) layout every layer uses, with no transpose.
3. **Chunks that fit in the cache.** The columns repeat every pixel FH·FW times: for a
   3×3 convolution of 100 images with 16 channels of 28×28 they take 45 MB, and
   writing then rereading that much memory costs more than the arithmetic. Conv2D
   therefore works through the batch a few samples at a time (:data:`CHUNK_BYTES` of
   columns, which stay in the CPU cache) and keeps only x for the backward pass, where
   it rebuilds each chunk's columns (cheap: they are in the cache again). Small
   columns (a first layer with one channel) are built in one go and kept.
4. **The input gradient is a convolution too.** For stride 1, ``dx`` is dout
   convolved with the filters turned by 180° and with their two channel axes swapped
   (``W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)``), padded by FH − 1 − pad: each input
   pixel collects ``dout · W`` from every output that saw it. So backward reuses the
   forward code instead of a col2im that scatters FH·FW slices.
5. **Shift the rows once, slide down for free.** For stride 1 and several channels,
   Conv2D copies each (padded) channel only FW times, shifted left by 0..FW−1 pixels
   (:func:`_shifted_rows`), instead of FH·FW times. Moving a patch down by a pixels is
   then just starting a·W_out values later in the same memory, so the FH vertical
   offsets are views and the product becomes FH smaller ones:
   ``out = Σ_a W[:, :, a, :] @ rows[..., a·W_out : a·W_out + H_out·W_out]``.

:class:`MaxPool2D` takes the maximum of the PH·PW strided slices with ``np.maximum``
(one per offset in the window) instead of building windows and reducing them;
backward sends each gradient to the first maximum of its window.

A Conv2D that is the network's first layer does not need the gradient of its input:
:meth:`Conv2D.param_backward` (what ``Sequential`` calls on its first layer when
training) fills ``grads`` and skips ``dx``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from dlcourse.layers import Layer

__all__ = ["CHUNK_BYTES", "Conv2D", "MaxPool2D", "col2im", "conv_output_size", "im2col"]

#: Size of the columns Conv2D builds at a time (trick 3): small enough for the CPU cache.
CHUNK_BYTES = int(os.environ.get("DLCOURSE_CHUNK_BYTES", 2 << 20))
#: Columns up to this size are built in one go: with few channels (a first layer),
#: many small chunks would cost more in per-slice overhead than the cache saves.
SINGLE_CHUNK_BYTES = 8 << 20
#: Size of the shifted rows (trick 5) built at a time.
ROW_CHUNK_BYTES = 1 << 20


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


def _check_images(x: np.ndarray, who: str, channels: int | None = None) -> None:
    """Raise ValueError unless x is a (N, C, H, W) batch (with ``channels`` channels)."""
    want = "(N, C, H, W)" if channels is None else f"(N, {channels}, H, W)"
    if x.ndim != 4:
        hint = ""
        if x.ndim == 2 and int(np.sqrt(x.shape[1])) ** 2 == x.shape[1]:
            side = int(np.sqrt(x.shape[1]))
            hint = f"; for flat images use x.reshape(-1, 1, {side}, {side})"
        elif x.ndim == 3:
            hint = "; for a batch of one-channel images use x[:, None]"
        raise ValueError(f"{who} expected input of shape {want} but got x of shape {x.shape}{hint}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(
            f"{who} expected input with {channels} channel(s), shape {want}, but got x of "
            f"shape {x.shape} with {x.shape[1]} channel(s)"
        )


def _output_hw(
    height: int, width: int, fh: int, fw: int, stride: int, pad: int, who: str
) -> tuple[int, int]:
    """(H_out, W_out) of an fh×fw window on height×width; errors name the layer."""
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


def _patches(x: np.ndarray, fh: int, fw: int, stride: int, pad: int) -> np.ndarray:
    """Every fh×fw patch of x, by offset. x: (N, C, H, W) -> (N, C, fh, fw, H_out, W_out).

    ``patches[n, c, a, b, i, j] = x_padded[n, c, i·stride + a, j·stride + b]``: one
    strided slice per offset (a, b) copies that offset of all patches at once.
    """
    n, c, height, width = x.shape
    h_out, w_out = _output_hw(height, width, fh, fw, stride, pad, "im2col")
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    patches = np.empty((n, c, fh, fw, h_out, w_out), dtype=x.dtype)
    for a in range(fh):
        for b in range(fw):
            patches[:, :, a, b] = x[
                :, :, a : a + stride * h_out : stride, b : b + stride * w_out : stride
            ]
    return patches


def _add_patches(
    patches: np.ndarray, x_shape: tuple[int, ...], stride: int, pad: int
) -> np.ndarray:
    """Adjoint of :func:`_patches`: add each patch back where it came from.

    patches: (N, C, fh, fw, H_out, W_out); returns (N, C, H, W), padding dropped.
    Overlapping patches add up, so pixels covered by several patches collect the
    gradient of each.
    """
    n, c, height, width = x_shape
    _, _, fh, fw, h_out, w_out = patches.shape
    out = np.zeros((n, c, height + 2 * pad, width + 2 * pad), dtype=patches.dtype)
    for a in range(fh):
        for b in range(fw):
            out[:, :, a : a + stride * h_out : stride, b : b + stride * w_out : stride] += patches[
                :, :, a, b
            ]
    if pad:
        out = np.ascontiguousarray(out[:, :, pad:-pad, pad:-pad])
    return out


def im2col(x: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Patches as rows. x: (N, C, H, W) -> cols: (N·H_out·W_out, C·fh·fw).

    Row ``(n·H_out + i)·W_out + j`` is the patch of sample n at output position (i, j),
    flattened in (C, fh, fw) order, so ``cols @ W.reshape(F, -1).T`` is the convolution.
    """
    x = np.asarray(x)
    _check_images(x, "im2col")
    patches = _patches(x, fh, fw, stride, pad)
    n, c, _, _, h_out, w_out = patches.shape
    return patches.transpose(0, 4, 5, 1, 2, 3).reshape(n * h_out * w_out, c * fh * fw)


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
    h_out, w_out = _output_hw(height, width, fh, fw, stride, pad, "col2im")
    want = (n * h_out * w_out, c * fh * fw)
    if col.shape != want:
        raise ValueError(
            f"col2im expected col of shape {want} (N·H_out·W_out, C·fh·fw) for x_shape "
            f"{tuple(x_shape)} and a {fh}×{fw} window, but got {col.shape}"
        )
    patches = col.reshape(n, h_out, w_out, c, fh, fw).transpose(0, 3, 4, 5, 1, 2)
    return _add_patches(patches, tuple(x_shape), stride, pad)


def _chunks(n: int, bytes_per_sample: int, rows: bool = False) -> Iterator[slice]:
    """Slices of the batch 0..n holding about :data:`CHUNK_BYTES` of columns each.

    ``rows=True``: about :data:`ROW_CHUNK_BYTES` of shifted rows (trick 5) each.
    """
    if not rows and n * bytes_per_sample <= SINGLE_CHUNK_BYTES:
        yield slice(0, n)
        return
    size = max(1, (ROW_CHUNK_BYTES if rows else CHUNK_BYTES) // max(1, bytes_per_sample))
    for start in range(0, n, size):
        yield slice(start, min(start + size, n))


def _uses_rows(stride: int, channels: int) -> bool:
    """Whether Conv2D uses shifted rows (trick 5): stride 1 and more than one channel.

    With one channel the FH products would each be tiny, so im2col does better there.
    """
    return stride == 1 and channels > 1


def _shifted_rows(x_pad: np.ndarray, fw: int, w_out: int) -> np.ndarray:
    """Each channel FW times, shifted left by 0..FW−1 pixels (trick 5).

    x_pad: (n, C, H_pad, W_pad) -> rows: (n, C·FW, H_pad·W_out) with
    ``rows[n, c·FW + b, r·W_out + j] = x_pad[n, c, r, j + b]``. Offset (a, b) of the
    patch at output (i, j) is ``rows[n, c·FW + b, (i + a)·W_out + j]``: for a fixed a
    and all (i, j), one contiguous stretch of H_out·W_out values starting at a·W_out.
    """
    n, c, h_pad, _ = x_pad.shape
    rows = np.empty((n, c, fw, h_pad, w_out), dtype=x_pad.dtype)
    for b in range(fw):
        rows[:, :, b] = x_pad[:, :, :, b : b + w_out]
    return rows.reshape(n, c * fw, h_pad * w_out)


def _pad(x: np.ndarray, pad: int) -> np.ndarray:
    """x: (N, C, H, W) with ``pad`` zeros around each image: (N, C, H + 2·pad, W + 2·pad)."""
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if pad else x


def _convolve_rows(x: np.ndarray, W: np.ndarray, pad: int) -> np.ndarray:
    """Stride-1 convolution without bias from shifted rows (trick 5), chunk by chunk.

    x: (N, C, H, W), W: (F, C, FH, FW) -> (N, F, H_out, W_out) as
    ``Σ_a W[:, :, a, :] (F, C·FW) @ rows[:, :, a·W_out : a·W_out + H_out·W_out]``.
    """
    n, c, height, width = x.shape
    f, _, fh, fw = W.shape
    h_out, w_out = _output_hw(height, width, fh, fw, 1, pad, "Conv2D")
    p = h_out * w_out
    x_pad = _pad(x, pad)
    out = np.empty((n, f, p), dtype=np.result_type(x, W))
    kernels = [W[:, :, a, :].reshape(f, c * fw) for a in range(fh)]
    for chunk in _chunks(n, c * fw * x_pad.shape[2] * w_out * x.itemsize, rows=True):
        rows = _shifted_rows(x_pad[chunk], fw, w_out)
        np.matmul(kernels[0], rows[:, :, :p], out=out[chunk])
        for a in range(1, fh):
            out[chunk] += kernels[a] @ rows[:, :, a * w_out : a * w_out + p]
    return out.reshape(n, f, h_out, w_out)


def _convolve(
    x: np.ndarray, W: np.ndarray, stride: int, pad: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """The convolution without bias, chunk by chunk (trick 3), and the columns if small.

    x: (N, C, H, W), W: (F, C, FH, FW) -> out (N, F, H_out, W_out), computed as
    ``W (F, C·FH·FW) @ cols (n, C·FH·FW, H_out·W_out)`` for a few samples at a time.
    When the whole batch made a single chunk, its cols (N, C·FH·FW, H_out·W_out) come
    back too (keeping them costs little and spares backward rebuilding them); else None.
    """
    n, c, height, width = x.shape
    if _uses_rows(stride, c):
        return _convolve_rows(x, W, pad), None
    f, _, fh, fw = W.shape
    h_out, w_out = _output_hw(height, width, fh, fw, stride, pad, "Conv2D")
    out = np.empty((n, f, h_out * w_out), dtype=np.result_type(x, W))
    kernel = W.reshape(f, c * fh * fw)
    for rows in _chunks(n, kernel.shape[1] * h_out * w_out * x.itemsize):
        cols = _patches(x[rows], fh, fw, stride, pad).reshape(-1, c * fh * fw, h_out * w_out)
        np.matmul(kernel, cols, out=out[rows])
    single = cols.shape[0] == n
    return out.reshape(n, f, h_out, w_out), cols if single else None


class Conv2D(Layer):
    """Convolution layer: F filters of shape (C, FH, FW) plus one bias per filter.

    W: (F, C, FH, FW), b: (F,); x: (N, C, H, W) -> (N, F, H_out, W_out) with
    ``out[n, f, i, j] = Σ_{c,a,b} x_pad[n, c, i·s + a, j·s + b] · W[f, c, a, b] + b[f]``.

    Forward caches x (not its columns: see trick 3 in the module docstring). Backward:
    ``db = Σ dout``, ``dW = Σ_n dout_n @ cols_nᵀ`` with the columns rebuilt chunk by
    chunk, and dx as a convolution of dout with the turned filters (trick 4; col2im
    when the stride is not 1). :meth:`param_backward` (for a first layer, whose input
    is the data) stops before dx.
    """

    kind = "conv"

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        super().__init__()
        W, b = np.asarray(W), np.asarray(b)
        if W.ndim != 4:
            raise ValueError(f"Conv2D expected W of shape (F, C, FH, FW) but got shape {W.shape}")
        if b.shape != (W.shape[0],):
            raise ValueError(
                f"Conv2D expected b of shape ({W.shape[0]},), one bias per filter of W "
                f"{W.shape}, but got b of shape {b.shape}"
            )
        if int(stride) != stride or stride < 1 or int(pad) != pad or pad < 0:
            raise ValueError(
                f"Conv2D expected an integer stride >= 1 and pad >= 0 but got "
                f"stride={stride!r}, pad={pad!r}"
            )
        self.params = {"W": W, "b": b}
        self.stride, self.pad = int(stride), int(pad)
        self.x: np.ndarray | None = None
        self.cols: np.ndarray | None = None  # kept by forward only for small batches

    @property
    def W(self) -> np.ndarray:
        return self.params["W"]

    @property
    def b(self) -> np.ndarray:
        return self.params["b"]

    def __repr__(self) -> str:
        f, c, fh, fw = self.W.shape
        return f"Conv2D({f} filters {c}×{fh}×{fw}, stride={self.stride}, pad={self.pad})"

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(C, H, W) -> (F, H_out, W_out)."""
        f, c, fh, fw = self.W.shape
        if len(input_shape) != 3 or input_shape[0] != c:
            raise ValueError(
                f"Conv2D expected a per-sample input shape ({c}, H, W) but got {tuple(input_shape)}"
            )
        h_out, w_out = _output_hw(*input_shape[1:], fh, fw, self.stride, self.pad, "Conv2D")
        return (f, h_out, w_out)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> (N, F, H_out, W_out); caches x (and cols if small)."""
        x = np.asarray(x)
        f, c, fh, fw = self.W.shape
        _check_images(x, f"Conv2D (W is {f}×{c}×{fh}×{fw})", channels=c)
        out, self.cols = _convolve(x, self.W, self.stride, self.pad)
        out += self.b[:, None, None]
        self.x = x
        return out

    def _check_dout(self, dout: np.ndarray) -> np.ndarray:
        """dout as (N, F, H_out·W_out), after checking it matches the forward output."""
        x = self._cached("x")
        f, _, fh, fw = self.W.shape
        h_out, w_out = _output_hw(*x.shape[2:], fh, fw, self.stride, self.pad, "Conv2D")
        want = (x.shape[0], f, h_out, w_out)
        if dout.shape != want:
            raise ValueError(
                f"Conv2D.backward expected dout of shape {want} (the forward output) "
                f"but got {dout.shape}"
            )
        return dout.reshape(x.shape[0], f, h_out * w_out)

    def param_backward(self, dout: np.ndarray) -> None:
        """dout: (N, F, H_out, W_out); fills grads "W" (F, C, FH, FW) and "b" (F,) only."""
        dout = self._check_dout(np.asarray(dout))
        x, (f, c, fh, fw) = self.x, self.W.shape
        b = dout.sum(axis=(0, 2))
        if _uses_rows(self.stride, c):
            self.grads = {"W": self._rows_weight_gradient(dout), "b": b}
            return
        n, _, p = dout.shape
        dW = np.zeros((f, c * fh * fw), dtype=np.result_type(x, dout))
        for rows in _chunks(n, c * fh * fw * p * x.itemsize):
            cols = self.cols
            if cols is None:  # rebuild this chunk's columns (trick 3)
                cols = _patches(x[rows], fh, fw, self.stride, self.pad)
                cols = cols.reshape(-1, c * fh * fw, p)
            # cols @ doutᵀ (K×F per sample) runs faster than dout @ colsᵀ (F×K).
            dW += (cols @ dout[rows].transpose(0, 2, 1)).sum(axis=0).T
        self.grads = {"W": dW.reshape(self.W.shape), "b": b}

    def _rows_weight_gradient(self, dout: np.ndarray) -> np.ndarray:
        """dW from shifted rows (trick 5). dout: (N, F, P) -> dW: (F, C, FH, FW).

        ``dW[:, :, a, :] = Σ_n dout_n (F, P) @ rows_n[:, a·W_out : a·W_out + P]ᵀ``.
        """
        x, (f, c, fh, fw) = self.x, self.W.shape
        n, _, p = dout.shape
        w_out = x.shape[3] + 2 * self.pad - fw + 1
        x_pad = _pad(x, self.pad)
        dW = np.zeros((fh, c * fw, f), dtype=np.result_type(x, dout))
        for chunk in _chunks(n, c * fw * x_pad.shape[2] * w_out * x.itemsize, rows=True):
            rows = _shifted_rows(x_pad[chunk], fw, w_out)
            dout_t = dout[chunk].transpose(0, 2, 1)  # (n, P, F)
            for a in range(fh):
                dW[a] += (rows[:, :, a * w_out : a * w_out + p] @ dout_t).sum(axis=0)
        # dW[a, c·FW + b, f] -> (F, C, FH, FW)
        return np.ascontiguousarray(dW.reshape(fh, c, fw, f).transpose(3, 1, 0, 2))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, F, H_out, W_out) -> dx: (N, C, H, W); also fills grads."""
        dout = np.asarray(dout)
        self.param_backward(dout)
        _, _, fh, fw = self.W.shape
        if self.stride == 1 and fh == fw and self.pad < fh:
            # Trick 4: dx is dout convolved with the turned filters (C, F, FH, FW).
            turned = self.W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            return _convolve(dout, np.ascontiguousarray(turned), 1, fh - 1 - self.pad)[0]
        return self._col2im_backward(dout)

    def _col2im_backward(self, dout: np.ndarray) -> np.ndarray:
        """dx the general way: dcols = Wᵀ @ dout, added back onto the patches (col2im)."""
        x, (f, c, fh, fw) = self.x, self.W.shape
        n, h_out, w_out = x.shape[0], dout.shape[2], dout.shape[3]
        dcols = self.W.reshape(f, -1).T @ dout.reshape(n, f, h_out * w_out)
        patches = dcols.reshape(n, c, fh, fw, h_out, w_out)
        return _add_patches(patches, x.shape, self.stride, self.pad)


class MaxPool2D(Layer):
    """Max pooling: the largest value of each pool_h×pool_w window, per channel.

    x: (N, C, H, W) -> (N, C, H_out, W_out); no parameters. ``pool_w`` defaults to
    ``pool_h`` and ``stride`` to ``pool_h`` (windows side by side, not overlapping).
    Forward caches x and the output; backward sends each window's gradient to the
    first position holding its maximum (ties: one winner, as in the argmax).
    """

    kind = "pool"

    def __init__(self, pool_h: int = 2, pool_w: int | None = None, stride: int | None = None):
        super().__init__()
        self.pool_h = int(pool_h)
        self.pool_w = self.pool_h if pool_w is None else int(pool_w)
        self.stride = self.pool_h if stride is None else int(stride)
        if min(self.pool_h, self.pool_w, self.stride) < 1:
            raise ValueError(
                f"MaxPool2D expected pool_h, pool_w and stride >= 1 but got pool_h={pool_h}, "
                f"pool_w={pool_w}, stride={stride}"
            )
        self.x: np.ndarray | None = None
        self.out: np.ndarray | None = None

    def __repr__(self) -> str:
        return f"MaxPool2D({self.pool_h}×{self.pool_w}, stride={self.stride})"

    def _windows(self, h_out: int, w_out: int):
        """(rows, columns) slices picking offset (a, b) of every window, for each offset."""
        s = self.stride
        for a in range(self.pool_h):
            for b in range(self.pool_w):
                yield slice(a, a + s * h_out, s), slice(b, b + s * w_out, s)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """(C, H, W) -> (C, H_out, W_out)."""
        if len(input_shape) != 3:
            raise ValueError(
                f"MaxPool2D expected a per-sample input shape (C, H, W) but got "
                f"{tuple(input_shape)}"
            )
        c, height, width = input_shape
        return (
            c,
            *_output_hw(height, width, self.pool_h, self.pool_w, self.stride, 0, "MaxPool2D"),
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> (N, C, H_out, W_out); caches x and the output."""
        x = np.asarray(x)
        _check_images(x, "MaxPool2D")
        h_out, w_out = _output_hw(
            *x.shape[2:], self.pool_h, self.pool_w, self.stride, 0, "MaxPool2D"
        )
        windows = self._windows(h_out, w_out)
        out = x[(..., *next(windows))].copy()
        for rows, cols in windows:
            np.maximum(out, x[..., rows, cols], out=out)
        self.x, self.out = x, out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W), nonzero at each window's max."""
        x, out = self._cached("x"), self._cached("out")
        if dout.shape != out.shape:
            raise ValueError(
                f"MaxPool2D.backward expected dout of shape {out.shape} (the forward output) "
                f"but got {dout.shape}"
            )
        dx = np.zeros_like(x, dtype=np.result_type(x, dout))
        overlapping = self.stride < max(self.pool_h, self.pool_w)
        remaining = np.ones(out.shape, dtype=bool)  # windows whose max is not yet found
        hit = np.empty(out.shape, dtype=bool)
        for rows, cols in self._windows(*out.shape[2:]):
            np.equal(x[..., rows, cols], out, out=hit)
            hit &= remaining  # only the first maximum of each window
            remaining ^= hit
            if overlapping:  # a pixel in several windows collects from each
                dx[..., rows, cols] += dout * hit
            else:
                np.multiply(dout, hit, out=dx[..., rows, cols])
        return dx
