"""Data augmentation: more training images from the ones you have (lesson 07, more in 08).

A digit moved by a pixel or two is still the same digit. Training on randomly shifted
copies teaches a network that position matters little, so it overfits its training
set less. The shifts are drawn afresh for every mini-batch (pass
:func:`random_shifts` to ``dlcourse.training.train(augment=...)``), so no enlarged
copy of the data set is ever kept in memory.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["random_shifts", "shift_images"]


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
