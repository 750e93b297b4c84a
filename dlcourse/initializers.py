"""Weight initialisation: how large the starting weights should be (lesson 09).

Each initializer returns a weight matrix W of shape (fan_in, fan_out) drawn with a
scale that depends on the layer's size. ``fan_in`` is the number of inputs of one
unit (D for an Affine layer, C·FH·FW for a convolution), ``fan_out`` the number of
units. Pass ``shape=`` for a weight of another layout, e.g. a filter bank
(F, C, FH, FW) with ``fan_in = C * FH * FW``.

Names follow the source material: ``xavier`` is N(0, 1/fan_in) as the source defines
it; Glorot's original versions, which use fan_in + fan_out, are ``glorot_normal`` and
``glorot_uniform``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcourse.config import as_rng

__all__ = [
    "INITIALIZERS",
    "get_initializer",
    "glorot_normal",
    "glorot_uniform",
    "he",
    "normal",
    "xavier",
]


def _check_fans(fan_in: int, fan_out: int) -> None:
    if fan_in < 1 or fan_out < 1:
        raise ValueError(
            f"expected fan_in and fan_out to be positive but got {fan_in} and {fan_out}"
        )


def _shape(fan_in: int, fan_out: int, shape: tuple[int, ...] | None) -> tuple[int, ...]:
    _check_fans(fan_in, fan_out)
    return (fan_in, fan_out) if shape is None else tuple(shape)


def normal(
    fan_in: int,
    fan_out: int,
    std: float = 0.01,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Gaussian N(0, std²) weights of a fixed ``std`` (the source's 0.01 or 1).

    returns: (fan_in, fan_out), or ``shape``.
    """
    return (as_rng(rng).standard_normal(_shape(fan_in, fan_out, shape)) * std).astype(dtype)


def xavier(
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Xavier, as the source defines it: N(0, 1/fan_in), for sigmoid and tanh layers."""
    _check_fans(fan_in, fan_out)
    return normal(fan_in, fan_out, np.sqrt(1 / fan_in), rng, dtype, shape)


def he(
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """He (Kaiming) initialisation N(0, 2/fan_in), for ReLU layers."""
    _check_fans(fan_in, fan_out)
    return normal(fan_in, fan_out, np.sqrt(2 / fan_in), rng, dtype, shape)


def glorot_normal(
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Glorot & Bengio (2010), normal: N(0, 2/(fan_in + fan_out))."""
    _check_fans(fan_in, fan_out)
    return normal(fan_in, fan_out, np.sqrt(2 / (fan_in + fan_out)), rng, dtype, shape)


def glorot_uniform(
    fan_in: int,
    fan_out: int,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Glorot & Bengio (2010), uniform: U(-a, a) with a = sqrt(6/(fan_in + fan_out))."""
    _check_fans(fan_in, fan_out)
    limit = np.sqrt(6 / (fan_in + fan_out))
    size = _shape(fan_in, fan_out, shape)
    return as_rng(rng).uniform(-limit, limit, size).astype(dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "normal": normal,
    "xavier": xavier,
    "he": he,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
}


def get_initializer(name: str) -> Callable[..., np.ndarray]:
    """The initializer called ``name`` (one of :data:`INITIALIZERS`).

    Unknown names raise ValueError listing the valid ones.
    """
    key = str(name).lower()
    if key not in INITIALIZERS:
        valid = ", ".join(repr(n) for n in INITIALIZERS)
        raise ValueError(f"unknown initializer {name!r}; valid names are {valid}")
    return INITIALIZERS[key]
