"""Numerical gradients and gradient checks (lesson 05).

Backpropagation is fast but easy to get wrong; the central difference
(f(x + h) − f(x − h)) / 2h is slow but hard to get wrong. A gradient check compares
the two in float64 and reports the largest relative error and where it occurred.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from dlcourse.config import as_rng
from dlcourse.layers import Layer, cast_layer
from dlcourse.models import Model

__all__ = ["GradientCheck", "gradient_check", "numerical_gradient", "relative_error"]


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4
) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x`` by central differences.

    x: float array of any shape; returns an array like x whose element i is
    (f(x + h·e_i) − f(x − h·e_i)) / 2h. Each element of x is changed in place while
    f is evaluated and restored afterwards, even if f raises.
    """
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(
            f"numerical_gradient expected a float numpy array x (it perturbs x in place) "
            f"but got {type(x).__name__} with dtype {getattr(x, 'dtype', None)}"
        )
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        original = x[idx].copy()
        try:
            x[idx] = original + h
            f_plus = float(f(x))
            x[idx] = original - h
            f_minus = float(f(x))
        finally:
            x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Elementwise |a − n| / max(|a|, |n|, 1e-8): analytic ``a`` against numerical ``n``."""
    a, n = np.asarray(a, dtype=np.float64), np.asarray(n, dtype=np.float64)
    error: np.ndarray = np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), 1e-8)
    return error


@dataclass
class GradientCheck:
    """Result of :func:`gradient_check`.

    max_error: largest relative error over all checked arrays; where: the array and
    index it occurred at (``"affine2.W[3, 1]"``, ``"dx[0, 2]"``); errors: the largest
    relative error of each array by name.
    """

    max_error: float
    where: str
    errors: dict[str, float] = field(default_factory=dict)

    def passed(self, tol: float = 1e-6) -> bool:
        """True when every relative error is below ``tol``."""
        return bool(self.max_error < tol)

    def __str__(self) -> str:
        verdict = "passed" if self.passed() else "FAILED"
        lines = [
            f"gradient check {verdict}: max relative error {self.max_error:.2e} at {self.where}"
        ]
        width = max((len(name) for name in self.errors), default=0)
        lines += [f"  {name:<{width}}  {err:.2e}" for name, err in self.errors.items()]
        return "\n".join(lines)


def _generators(obj: Layer | Model) -> Iterator[np.random.Generator]:
    """The random generators a layer (or every layer of a model) holds as attributes."""
    layers = [obj] if isinstance(obj, Layer) else list(obj.layers.values())
    for layer in layers:
        for value in vars(layer).values():
            if isinstance(value, np.random.Generator):
                yield value


def _freeze_randomness(obj: Layer | Model) -> Callable[[], None]:
    """A function that resets every generator of ``obj``, so each forward pass
    draws the same dropout mask (otherwise the loss would change between calls)."""
    saved = [(g, copy.deepcopy(g.bit_generator.state)) for g in _generators(obj)]

    def restore() -> None:
        for g, state in saved:
            g.bit_generator.state = copy.deepcopy(state)

    return restore


def _compare(analytic: dict[str, np.ndarray], numeric: dict[str, np.ndarray]) -> GradientCheck:
    errors: dict[str, float] = {}
    worst, where = 0.0, "nowhere (no arrays to check)"
    for name, a in analytic.items():
        if a.size == 0:
            continue
        err = relative_error(a, numeric[name])
        idx = np.unravel_index(int(err.argmax()), err.shape)
        errors[name] = float(err[idx])
        if errors[name] >= worst:
            worst = errors[name]
            where = f"{name}[{', '.join(str(int(i)) for i in idx)}]" if idx else name
    return GradientCheck(max_error=worst, where=where, errors=errors)


def _check_layer(layer: Layer, x: np.ndarray, h: float, rng: np.random.Generator) -> GradientCheck:
    layer = cast_layer(copy.deepcopy(layer), np.float64)
    x = np.array(x, dtype=np.float64)
    restore = _freeze_randomness(layer)
    restore()
    out = layer.forward(x)
    dout = rng.standard_normal(out.shape)
    analytic = {"dx": layer.backward(dout.copy())}
    analytic.update({name: layer.grads[name] for name in layer.params})

    def loss(_: np.ndarray) -> float:
        restore()
        return float(np.sum(layer.forward(x) * dout))

    arrays = {"dx": x, **layer.params}
    numeric = {name: numerical_gradient(loss, arr, h) for name, arr in arrays.items()}
    return _compare(analytic, numeric)


def _check_model(model: Model, x: np.ndarray, t: np.ndarray, h: float) -> GradientCheck:
    model = copy.deepcopy(model)
    for layer in model.layers.values():
        cast_layer(layer, np.float64)
    x = np.array(x, dtype=np.float64)
    t = np.asarray(t)
    if t.dtype.kind == "f":
        t = t.astype(np.float64)
    restore = _freeze_randomness(model)
    restore()
    analytic = {name: g.copy() for name, g in model.loss_and_gradient(x, t)[1].items()}

    def loss(_: np.ndarray) -> float:
        restore()
        return float(model.loss(x, t))

    numeric = {name: numerical_gradient(loss, p, h) for name, p in model.params.items()}
    return _compare(analytic, numeric)


def gradient_check(
    target: Layer | Model,
    x: np.ndarray,
    t: np.ndarray | None = None,
    h: float = 1e-5,
    rng: np.random.Generator | int | None = None,
) -> GradientCheck:
    """Compare backpropagation with central differences, in float64.

    target: a :class:`~dlcourse.layers.Layer` (checks dx and every param against the
    loss sum(forward(x) · dout) for a random fixed dout) or a
    :class:`~dlcourse.models.Model` such as :class:`~dlcourse.models.Sequential` (checks
    every param of ``model.loss(x, t)``, in the mode the model is in). Works on
    float64 copies: ``target`` and x are left untouched. Keep x away from kinks (ReLU
    at 0, max-pool ties).
    rng: draws the layer check's random dout (a Generator, a seed, or None: see
    :func:`dlcourse.config.as_rng`).
    """
    if isinstance(target, Layer):
        return _check_layer(target, x, h, as_rng(rng))
    if t is None:
        raise ValueError("gradient_check of a model needs targets t for model.loss(x, t)")
    return _check_model(target, x, t, h)
