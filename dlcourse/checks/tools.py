"""Building blocks for checkers: each raises :class:`CheckFailed` with a specific reason."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


class CheckFailed(AssertionError):
    """A learner's answer is wrong; the message says how, in words a beginner can act on."""


def call(func: Callable, *args, **kwargs):
    """Call the learner's ``func`` on copies of ``args`` and fail if it changed them in place."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    result = func(*copies, **kwargs)
    for i, (original, copy) in enumerate(zip(args, copies, strict=True)):
        if isinstance(original, np.ndarray) and not np.array_equal(original, copy, equal_nan=True):
            name = getattr(func, "__name__", "your function")
            raise CheckFailed(
                f"{name} changed its argument {i + 1} in place; work on a copy "
                "(e.g. x = x - x.max(...) instead of x -= ...)"
            )
    return result


def expect_array(name: str, value: object, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Fail unless ``value`` is a numpy array (of ``shape`` when given)."""
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{name} should be a numpy array but is {type(value).__name__}")
    if shape is not None and value.shape != tuple(shape):
        raise CheckFailed(f"{name} should have shape {tuple(shape)} but has shape {value.shape}")
    return value


def expect_dtype(name: str, value: np.ndarray, kind: str = "f") -> None:
    """Fail unless ``value``'s dtype is of ``kind`` ('f' float, 'i' integer, 'b' bool)."""
    if value.dtype.kind != kind:
        wanted = {"f": "a float", "i": "an integer", "b": "a bool"}.get(kind, kind)
        raise CheckFailed(f"{name} should have {wanted} dtype but has dtype {value.dtype}")


def expect_finite(name: str, value: np.ndarray, hint: str = "") -> None:
    """Fail when ``value`` holds NaN or inf, naming the first bad index."""
    bad = ~np.isfinite(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "nan" if np.isnan(value[where]) else "inf"
        raise CheckFailed(
            f"{name} contains {kind} at index {where}" + (f"; {hint}" if hint else "")
        )


def relative_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Elementwise |got - want| / max(|got|, |want|, 1e-8)."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return np.abs(got - want) / np.maximum(np.maximum(np.abs(got), np.abs(want)), 1e-8)


def expect_close(
    name: str, got: object, want: np.ndarray, rtol: float = 1e-5, atol: float = 1e-8, hint: str = ""
) -> None:
    """Fail unless ``got`` matches ``want`` in shape and value, reporting the worst element."""
    want = np.asarray(want)
    got = expect_array(name, got, want.shape)
    expect_finite(name, got, hint)
    if np.allclose(got, want, rtol=rtol, atol=atol):
        return
    error = relative_error(got, want)
    where = np.unravel_index(int(np.argmax(error)), error.shape)
    where = tuple(int(i) for i in where)
    raise CheckFailed(
        f"{name} is off: relative error {error[where]:.1e} at index {where} "
        f"(got {got[where]:.6g}, expected {want[where]:.6g})" + (f"; {hint}" if hint else "")
    )
