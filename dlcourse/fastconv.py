"""Fast convolution and max pooling layers (lesson 07's "where the speed comes from").

:class:`FastConv2D` and :class:`FastMaxPool2D` compute exactly what the reference
layers :class:`dlcourse.conv.Conv2D` and :class:`dlcourse.conv.MaxPool2D` compute (the
tests check it), with the same parameter names, so weights saved from either load into
the other. The model factories (:mod:`dlcourse.convnets`) and the benchmarks use them.
The reference is lesson 06's im2col written plainly: ``cols`` (N·H_out·W_out, C·FH·FW)
times the filters, one transpose back to (N, F, H_out, W_out), col2im for dx. Five
tricks make this module faster without changing the arithmetic:

1. **Gather by filter offset, not by pixel.** Patches are gathered with a loop over the
   FH·FW *offsets inside the filter*: offset (a, b) of every patch of every sample is
   one strided slice of the input, copied at once (:func:`dlcourse.conv.patches`, which
   the reference's ``im2col`` uses too). Its adjoint adds the slices back the same way
   (``np.add.at`` would be far slower).
2. **One layout throughout.** FastConv2D builds the columns per sample,
   ``cols: (n, C·FH·FW, H_out·W_out)``, so ``W (F, C·FH·FW) @ cols`` comes out directly
   as (n, F, H_out·W_out), i.e. the contiguous (N, F, H_out, W_out) layout every layer
   uses: the reference's ``cols @ W_col.T`` needs a transpose afterwards, this does not.
3. **Chunks that fit in the cache.** The columns repeat every pixel FH·FW times: for a
   3×3 convolution of 100 images with 16 channels of 28×28 they take 45 MB, and
   writing then rereading that much memory costs more than the arithmetic.
   FastConv2D therefore works through the batch a few samples at a time
   (:data:`CHUNK_BYTES` of columns, which stay in the CPU cache) and keeps only x for
   the backward pass, where it rebuilds each chunk's columns (cheap: they are in the
   cache again). Small columns (a first layer with one channel) are built in one go
   and kept.
4. **The input gradient is a convolution too.** For stride 1 and square filters,
   ``dx`` is dout padded by FH − 1 − pad (so it depends on the layer's own padding:
   a "same" 3×3 layer, pad 1, pads dout by 1; a "valid" 5×5 one by 4), convolved with
   the filters turned by 180° *and with their two channel axes swapped*,
   ``W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)`` of shape (C, F, FH, FW): the gradient
   flows from the F output channels back to the C input channels. Each input pixel
   collects ``dout · W`` from every output that saw it. So backward reuses the forward
   code instead of a col2im that scatters FH·FW slices.
5. **Shift the rows once, slide down for free.** For stride 1 and several channels,
   FastConv2D copies each (padded) channel only FW times, shifted left by 0..FW−1
   pixels (:func:`_shifted_rows`), instead of FH·FW times. Moving a patch down by a
   pixels is then just starting a·W_out values later in the same memory, so the FH
   vertical offsets are views and the product becomes FH smaller ones:
   ``out = Σ_a W[:, :, a, :] @ rows[..., a·W_out : a·W_out + H_out·W_out]``.

:class:`FastMaxPool2D` takes the maximum of the PH·PW strided slices with
``np.maximum`` (one per offset in the window) instead of building windows and reducing
them; backward sends each gradient to the first maximum of its window.

A FastConv2D that is the network's first layer does not need the gradient of its input:
:meth:`FastConv2D.param_backward` (what ``Sequential`` calls on its first layer when
training) fills ``grads`` and skips ``dx``.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from dlcourse.conv import ConvBase, PoolBase, add_patches, check_images, output_hw, patches

__all__ = ["CHUNK_BYTES", "FastConv2D", "FastMaxPool2D"]

#: Size of the columns FastConv2D builds at a time (trick 3): small enough for the CPU cache.
CHUNK_BYTES = 2 << 20
#: Columns up to this size are built in one go: with few channels (a first layer),
#: many small chunks would cost more in per-slice overhead than the cache saves.
SINGLE_CHUNK_BYTES = 8 << 20
#: Size of the shifted rows (trick 5) built at a time.
ROW_CHUNK_BYTES = 1 << 20


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
    h_out, w_out = output_hw(height, width, fh, fw, 1, pad, "Conv2D")
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
    h_out, w_out = output_hw(height, width, fh, fw, stride, pad, "Conv2D")
    out = np.empty((n, f, h_out * w_out), dtype=np.result_type(x, W))
    kernel = W.reshape(f, c * fh * fw)
    for rows in _chunks(n, kernel.shape[1] * h_out * w_out * x.itemsize):
        cols = patches(x[rows], fh, fw, stride, pad).reshape(-1, c * fh * fw, h_out * w_out)
        np.matmul(kernel, cols, out=out[rows])
    single = cols.shape[0] == n
    return out.reshape(n, f, h_out, w_out), cols if single else None


class FastConv2D(ConvBase):
    """Convolution layer, the fast version of :class:`dlcourse.conv.Conv2D`.

    Same W (F, C, FH, FW), b (F,), stride, pad, shapes and numbers as the reference;
    x: (N, C, H, W) -> (N, F, H_out, W_out). Forward caches x (and the columns only
    when they are small: trick 3). Backward: ``db = Σ dout``, dW from the columns
    rebuilt chunk by chunk (or from shifted rows, trick 5), and dx as a convolution
    of dout with the turned filters (trick 4; col2im when the stride is not 1).
    :meth:`param_backward` (for a first layer, whose input is the data) stops before dx.
    """

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        super().__init__(W, b, stride, pad)
        self.cols: np.ndarray | None = None  # kept by forward only for small batches

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> (N, F, H_out, W_out); caches x (and cols if small)."""
        x = np.asarray(x)
        self.check_input(x)
        out, self.cols = _convolve(x, self.W, self.stride, self.pad)
        out += self.b[:, None, None]
        self.x = x
        return out

    def param_backward(self, dout: np.ndarray) -> None:
        """dout: (N, F, H_out, W_out); fills grads "W" (F, C, FH, FW) and "b" (F,) only."""
        dout = np.asarray(dout)
        x, (f, c, fh, fw) = self.check_dout(dout), self.W.shape
        dout = dout.reshape(dout.shape[0], f, -1)  # (N, F, H_out·W_out)
        b = dout.sum(axis=(0, 2))
        if _uses_rows(self.stride, c):
            self.grads = {"W": self._rows_weight_gradient(x, dout), "b": b}
            return
        n, _, p = dout.shape
        dW = np.zeros((f, c * fh * fw), dtype=np.result_type(x, dout))
        for rows in _chunks(n, c * fh * fw * p * x.itemsize):
            cols = self.cols
            if cols is None:  # rebuild this chunk's columns (trick 3)
                cols = patches(x[rows], fh, fw, self.stride, self.pad).reshape(-1, c * fh * fw, p)
            # cols @ doutᵀ (K×F per sample) runs faster than dout @ colsᵀ (F×K).
            dW += (cols @ dout[rows].transpose(0, 2, 1)).sum(axis=0).T
        self.grads = {"W": dW.reshape(self.W.shape), "b": b}

    def _rows_weight_gradient(self, x: np.ndarray, dout: np.ndarray) -> np.ndarray:
        """dW from shifted rows (trick 5). dout: (N, F, P) -> dW: (F, C, FH, FW).

        ``dW[:, :, a, :] = Σ_n dout_n (F, P) @ rows_n[:, a·W_out : a·W_out + P]ᵀ``.
        """
        f, c, fh, fw = self.W.shape
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
            # Trick 4: dx is dout, padded by FH − 1 − pad, convolved with the filters
            # turned by 180° and with their channel axes swapped: (C, F, FH, FW).
            turned = self.W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
            return _convolve(dout, np.ascontiguousarray(turned), 1, fh - 1 - self.pad)[0]
        return self._col2im_backward(dout)

    def _col2im_backward(self, dout: np.ndarray) -> np.ndarray:
        """dx the general way: dcols = Wᵀ @ dout, added back onto the patches (col2im)."""
        x, (f, c, fh, fw) = self._cached("x"), self.W.shape
        n, h_out, w_out = x.shape[0], dout.shape[2], dout.shape[3]
        dcols = self.W.reshape(f, -1).T @ dout.reshape(n, f, h_out * w_out)
        patch_grads = dcols.reshape(n, c, fh, fw, h_out, w_out)
        return add_patches(patch_grads, x.shape, self.stride, self.pad)


class FastMaxPool2D(PoolBase):
    """Max pooling, the fast version of :class:`dlcourse.conv.MaxPool2D`.

    Same windows, shapes and numbers as the reference; x: (N, C, H, W) ->
    (N, C, H_out, W_out). Forward takes ``np.maximum`` over the PH·PW strided slices
    (one per offset in the window) instead of building windows; it caches x and the
    output. Backward sends each window's gradient to the first position holding its
    maximum (ties: one winner, as in the argmax).
    """

    def __init__(self, pool_h: int = 2, pool_w: int | None = None, stride: int | None = None):
        super().__init__(pool_h, pool_w, stride)
        self.out: np.ndarray | None = None

    def _windows(self, h_out: int, w_out: int) -> Iterator[tuple[slice, slice]]:
        """(rows, columns) slices picking offset (a, b) of every window, for each offset."""
        s = self.stride
        for a in range(self.pool_h):
            for b in range(self.pool_w):
                yield slice(a, a + s * h_out, s), slice(b, b + s * w_out, s)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, C, H, W) -> (N, C, H_out, W_out); caches x and the output."""
        x = np.asarray(x)
        check_images(x, "FastMaxPool2D")
        _, h_out, w_out = self.output_shape(x.shape[1:])
        windows = self._windows(h_out, w_out)
        out = x[(..., *next(windows))].copy()
        for rows, cols in windows:
            np.maximum(out, x[..., rows, cols], out=out)
        self.x, self.out = x, out
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, C, H_out, W_out) -> dx: (N, C, H, W), nonzero at each window's max."""
        dout = np.asarray(dout)
        x, out = self._cached("x"), self._cached("out")
        if dout.shape != out.shape:
            raise ValueError(
                f"FastMaxPool2D.backward expected dout of shape {out.shape} (the forward "
                f"output) but got {dout.shape}"
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
