"""Data augmentation: more training images from the ones you have (lessons 07 and 08).

A digit moved by a pixel or two is still the same digit. Training on randomly shifted
copies teaches a network that position matters little, so it overfits its training
set less. The shifts are drawn afresh for every mini-batch (pass
:func:`random_shifts` to ``dlcourse.training.train(augment=...)``), so no enlarged
copy of the data set is ever kept in memory. Lesson 08 adds small random rotations
(:func:`random_rotations`) and Gaussian input noise (:func:`gaussian_noise`), hooks of
the same form.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "gaussian_noise",
    "random_rotations",
    "random_shifts",
    "rotate_images",
    "shift_images",
]


def shift_images(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Every image of x moved dy pixels down and dx pixels right (negative: up, left).

    x: (N, C, H, W); returns a new (N, C, H, W) array. Pixels moved in from the border
    are 0, the background of MNIST digits scaled to [0, 1].
    """
    if x.ndim != 4:
        raise ValueError(f"shift_images expected x of shape (N, C, H, W) but got {x.shape}")
    height, width = x.shape[2:]
    if abs(dy) >= height or abs(dx) >= width:
        raise ValueError(f"a shift of ({dy}, {dx}) moves a {height}×{width} image out of view")
    out = np.zeros_like(x)
    out[..., max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = x[
        ..., max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return out


def random_shifts(max_pixels: int = 1) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """An augmentation that moves each image by its own random (dy, dx), |dy|, |dx| ≤ max_pixels.

    returns: ``augment(x, rng)`` for x: (N, C, H, W), giving a shifted copy of x.
    The loop runs over the (2·max_pixels + 1)² possible shifts, not over images: each
    shift is applied to all the images that drew it at once.
    """
    if max_pixels < 1:
        raise ValueError(f"expected max_pixels to be at least 1 but got {max_pixels}")
    offsets = np.arange(-max_pixels, max_pixels + 1)

    def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        dys = rng.choice(offsets, size=len(x))
        dxs = rng.choice(offsets, size=len(x))
        out = np.empty_like(x)
        for dy in offsets:
            for dx in offsets:
                chosen = (dys == dy) & (dxs == dx)
                if chosen.any():
                    out[chosen] = shift_images(x[chosen], int(dy), int(dx))
        return out

    augment.__name__ = f"random_shifts({max_pixels})"
    return augment


# ------------------------------------------------------------------ lesson 08 additions


def rotate_images(x: np.ndarray, degrees: np.ndarray | float) -> np.ndarray:
    """Every image of x turned counter-clockwise about its centre by its own angle.

    x: (N, C, H, W); degrees: (N,) one angle per image, or one number for all.
    returns: a new (N, C, H, W) array of x's dtype. Each output pixel reads the input
    at the point the rotation brought it from, interpolating between the four nearest
    pixels (bilinear); points outside the image read 0, the background of MNIST digits.
    All images are computed at once: the loop-free gather below indexes by image.
    """
    if x.ndim != 4:
        raise ValueError(f"rotate_images expected x of shape (N, C, H, W) but got {x.shape}")
    n, _, height, width = x.shape
    angles = np.broadcast_to(np.deg2rad(np.asarray(degrees, dtype=np.float64)), (n,))
    cos, sin = np.cos(angles)[:, None, None], np.sin(angles)[:, None, None]  # (N, 1, 1)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)  # (H, W) each
    dy, dx = rows - (height - 1) / 2, cols - (width - 1) / 2
    # Where each output pixel comes from: the inverse rotation (rows point down).
    src_rows = (height - 1) / 2 + dx * sin + dy * cos  # (N, H, W)
    src_cols = (width - 1) / 2 + dx * cos - dy * sin
    top, left = np.floor(src_rows), np.floor(src_cols)
    frac_r, frac_c = src_rows - top, src_cols - left
    image = np.arange(n)[:, None, None]
    out = np.zeros((n, height, width, x.shape[1]), dtype=np.float64)  # channels last
    for step_r, weight_r in ((0, 1 - frac_r), (1, frac_r)):
        for step_c, weight_c in ((0, 1 - frac_c), (1, frac_c)):
            r, c = (top + step_r).astype(np.intp), (left + step_c).astype(np.intp)
            inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
            pixels = x[image, :, np.clip(r, 0, height - 1), np.clip(c, 0, width - 1)]
            out += pixels * (weight_r * weight_c * inside)[..., None]
    return out.transpose(0, 3, 1, 2).astype(x.dtype)


def random_rotations(
    max_degrees: float = 15.0,
) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """An augmentation that turns each image by its own angle, uniform in ±max_degrees.

    returns: ``augment(x, rng)`` for x: (N, C, H, W), giving a rotated copy of x
    (see :func:`rotate_images`).
    """
    if not 0 < max_degrees <= 180:
        raise ValueError(f"max_degrees must be in (0, 180], got {max_degrees}")

    def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rotate_images(x, rng.uniform(-max_degrees, max_degrees, size=len(x)))

    augment.__name__ = f"random_rotations({max_degrees:g})"
    return augment


def gaussian_noise(sigma: float = 0.1) -> Callable[[np.ndarray, np.random.Generator], np.ndarray]:
    """An augmentation that adds independent N(0, sigma²) noise to every input value.

    returns: ``augment(x, rng)`` for x of any shape, e.g. (N, 784) or (N, C, H, W), giving
    x + noise in x's float dtype. The pixels are not clipped to [0, 1].
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")

    def augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        return x + dtype.type(sigma) * rng.standard_normal(x.shape, dtype=dtype)

    augment.__name__ = f"gaussian_noise({sigma:g})"
    return augment
