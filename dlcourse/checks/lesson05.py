"""Checkers for assignment 05 · Functionization (layers with forward and backward).

The learner writes layer *classes*; each checker builds them on non-square random
shapes with several seeds, compares outputs and gradients with :mod:`dlcourse.layers`
(in float64) and names the typical mistake when it recognises one: a transposed dW,
a bias gradient averaged instead of summed, a ReLU mask of the wrong sign, a
gradient not divided by the batch size, layers visited in the wrong order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse import layers as ref
from dlcourse.checks import checker
from dlcourse.checks.tools import CheckFailed, expect_array, expect_close, expect_finite

SEEDS = (0, 1, 2)
SHAPES = ((4, 5, 3), (7, 2, 6), (1, 3, 2))  # (N, D, M): non-square, and a batch of one


def _backward_keeping(obj: Any, dout: np.ndarray, name: str) -> Any:
    """obj.backward(copy of dout), failing if it changed dout in place."""
    copy = dout.copy()
    dx = obj.backward(copy)
    if not np.array_equal(copy, dout):
        raise CheckFailed(
            f"{name}.backward changed dout in place (e.g. dout[mask] = 0); the layer before "
            "may still need it, so return a new array: dout * mask or dout.copy()"
        )
    return dx


def _forward_keeping(obj: Any, x: np.ndarray, name: str, *args: Any) -> Any:
    copy = x.copy()
    out = obj.forward(copy, *args)
    if not np.array_equal(copy, x):
        raise CheckFailed(f"{name}.forward changed its input x in place; work on a new array")
    return out


# ----------------------------------------------------------------------------- task 5.1


def _check_affine_grads(grads: Any, W: np.ndarray, x: np.ndarray, dout: np.ndarray) -> None:
    if not isinstance(grads, dict) or not {"W", "b"} <= set(grads):
        raise CheckFailed(
            "after backward, self.grads should be a dict with keys 'W' and 'b' "
            f"but it is {grads!r:.60}"
        )
    d, m = W.shape
    dW, db = grads["W"], grads["b"]
    expect_array("grads['W']", dW)
    if dW.shape == (m, d) and d != m:
        raise CheckFailed(
            f"grads['W'] has shape {dW.shape} but W has shape {W.shape}: you computed the "
            "transpose; dW = x.T @ dout has W's shape (D, M)"
        )
    expect_close("grads['W']", dW, x.T @ dout, hint="dW = x.T @ dout")
    expect_array("grads['b']", db)
    n = x.shape[0]
    if db.shape == dout.shape and n > 1:
        raise CheckFailed(
            f"grads['b'] has shape {db.shape}, one row per sample; b has shape ({m},): "
            "sum dout over the batch axis, dout.sum(axis=0)"
        )
    want = dout.sum(axis=0)
    if n > 1 and db.shape == want.shape and np.allclose(db * n, want):
        raise CheckFailed(
            "grads['b'] is the mean of dout over the batch; b is added to every sample, "
            "so its gradient is the sum: dout.sum(axis=0)"
        )
    expect_close("grads['b']", db, want, hint="db = dout.sum(axis=0)")


@checker("5.1", uses=("Affine",))
def check_affine(Affine: Callable) -> None:
    """Task 5.1: out = x @ W + b; dx = dout @ W.T; grads W = x.T @ dout, b = Σ dout."""
    for seed, (n, d, m) in zip(SEEDS, SHAPES, strict=True):
        rng = np.random.default_rng(seed)
        W, b = rng.standard_normal((d, m)), rng.standard_normal(m)
        x, dout = rng.standard_normal((n, d)), rng.standard_normal((n, m))
        layer = Affine(W.copy(), b.copy())
        out = _forward_keeping(layer, x, "Affine")
        expect_close(f"Affine.forward(x) for x {x.shape}, W {W.shape}", out, x @ W + b)
        dx = _backward_keeping(layer, dout, "Affine")
        expect_array("dx", dx)
        if dx.shape != x.shape:
            raise CheckFailed(
                f"Affine.backward returned dx of shape {dx.shape} but x has shape {x.shape}; "
                "dx = dout @ W.T"
            )
        expect_close("dx", dx, dout @ W.T, hint="dx = dout @ W.T")
        _check_affine_grads(getattr(layer, "grads", None), W, x, dout)


# ----------------------------------------------------------------------------- task 5.2


def _check_relu(ReLU: Callable, rng: np.random.Generator, shape: tuple[int, int]) -> None:
    x = rng.standard_normal(shape)
    dout = rng.standard_normal(shape)
    layer = ReLU()
    out = _forward_keeping(layer, x, "ReLU")
    expect_close("ReLU.forward(x)", out, np.maximum(x, 0), hint="out = max(0, x)")
    dx = _backward_keeping(layer, dout, "ReLU")
    expect_array("ReLU dx", dx, shape)
    want = dout * (x > 0)
    if np.allclose(dx, dout * (x <= 0)):
        raise CheckFailed(
            "ReLU.backward passes the gradient where x <= 0 and blocks it where x > 0: "
            "the mask has the wrong sign; the gradient flows only where x > 0"
        )
    if np.allclose(dx, dout):
        raise CheckFailed("ReLU.backward returned dout unchanged; set it to 0 where x <= 0")
    expect_close("ReLU dx", dx, want, hint="dx = dout where x > 0, else 0")


def _check_sigmoid(Sigmoid: Callable, rng: np.random.Generator, shape: tuple[int, int]) -> None:
    x = rng.standard_normal(shape) * 3
    x[0, 0] = 800.0  # large inputs must not overflow to nan
    dout = rng.standard_normal(shape)
    layer = Sigmoid()
    with np.errstate(over="ignore"):
        out = _forward_keeping(layer, x, "Sigmoid")
    want_out = ref.Sigmoid().forward(x)
    expect_close("Sigmoid.forward(x)", out, want_out, hint="out = 1 / (1 + exp(-x))")
    dx = _backward_keeping(layer, dout, "Sigmoid")
    expect_array("Sigmoid dx", dx, shape)
    expect_finite("Sigmoid dx", dx)
    with np.errstate(over="ignore"):
        from_x = dout * x * (1 - x)
    if np.allclose(dx, from_x):
        raise CheckFailed(
            "Sigmoid.backward used the input x; the derivative is out·(1 − out) with the "
            "output out you cached in forward"
        )
    expect_close("Sigmoid dx", dx, dout * want_out * (1 - want_out), hint="dx = dout·out·(1−out)")


@checker("5.2", uses=("ReLU", "Sigmoid"))
def check_activation_layers(ReLU: Callable, Sigmoid: Callable) -> None:
    """Task 5.2: ReLU (mask cached) and Sigmoid (out cached) forward and backward."""
    for seed, (n, d, _) in zip(SEEDS, SHAPES, strict=True):
        rng = np.random.default_rng(seed)
        _check_relu(ReLU, rng, (n, d + 2))
        _check_sigmoid(Sigmoid, rng, (n, d + 2))


# ----------------------------------------------------------------------------- task 5.3


@checker("5.3", uses=("SoftmaxWithLoss",))
def check_softmax_with_loss(SoftmaxWithLoss: Callable) -> None:
    """Task 5.3: forward(x, t) mean cross-entropy; backward(dout=1) = (y − t) / N."""
    for seed, (n, _, k) in zip(SEEDS, SHAPES, strict=True):
        rng = np.random.default_rng(seed)
        k = k + 2
        x = rng.standard_normal((n, k)) * 3
        x[0] += 1000.0  # softmax must not overflow
        t = np.eye(k)[rng.integers(0, k, n)]
        reference = ref.SoftmaxCrossEntropy()
        want_loss = reference.forward(x, t)
        want_dx = reference.backward()
        layer = SoftmaxWithLoss()
        with np.errstate(all="ignore"):
            loss = _forward_keeping(layer, x, "SoftmaxWithLoss", t)
        if loss is None or not np.isfinite(float(np.asarray(loss).sum())):
            raise CheckFailed(
                f"forward returned {loss} for scores around 1000; subtract each row's maximum "
                "before np.exp (softmax does not change) and return the mean loss"
            )
        if np.ndim(loss) != 0:
            raise CheckFailed(
                f"forward should return one number (the mean loss) but returned shape "
                f"{np.shape(loss)}; average over the batch"
            )
        if n > 1 and np.isclose(float(loss), want_loss * n):
            raise CheckFailed("the loss is the sum over the batch; return the mean (divide by N)")
        expect_close("loss", np.asarray(float(loss)), np.asarray(want_loss), rtol=1e-4)
        dx = layer.backward()
        dx = expect_array("dx", dx, x.shape)
        if n > 1 and np.allclose(dx, want_dx * n):
            raise CheckFailed(
                "dx is N times too large: the loss is a mean over the batch, so divide "
                "(y − t) by the batch size N"
            )
        expect_close("dx", dx, want_dx, hint="dx = (y − t) / N with y = softmax(x)")


# ----------------------------------------------------------------------------- task 5.4


class _Recorder:
    """Wraps a dlcourse layer and records the order of forward/backward calls."""

    def __init__(self, name: str, layer: ref.Layer, log: list[str]) -> None:
        self.name, self.layer, self.log = name, layer, log
        self.params, self.grads = layer.params, layer.grads

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.log.append(f"forward {self.name}")
        return self.layer.forward(x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.log.append(f"backward {self.name}")
        if self.log.count(f"forward {self.name}") == 0:
            raise CheckFailed(f"backward of {self.name} was called before its forward")
        return self.layer.backward(dout)


def _network(rng: np.random.Generator, d: int, h: int, k: int) -> list[ref.Layer]:
    return [
        ref.Affine(rng.standard_normal((d, h)), rng.standard_normal(h) * 0.1),
        ref.ReLU(),
        ref.Affine(rng.standard_normal((h, k)), rng.standard_normal(k) * 0.1),
    ]


@checker("5.4", uses=("backprop",))
def check_backprop(backprop: Callable) -> None:
    """Task 5.4: forward through the layers in order, loss, backward in reverse order."""
    for seed, (n, d, k) in zip(SEEDS, SHAPES, strict=True):
        rng = np.random.default_rng(seed)
        x, t = rng.standard_normal((n, d)), np.eye(k + 1)[rng.integers(0, k + 1, n)]
        want_layers = _network(np.random.default_rng(seed + 10), d, 4, k + 1)
        reference = ref.SoftmaxCrossEntropy()
        out = x
        for layer in want_layers:
            out = layer.forward(out)
        want_loss = reference.forward(out, t)
        grad = reference.backward()
        for layer in reversed(want_layers):
            grad = layer.backward(grad)

        log: list[str] = []
        names = ["affine1", "relu1", "affine2"]
        mine = _network(np.random.default_rng(seed + 10), d, 4, k + 1)
        wrapped = [_Recorder(nm, layer, log) for nm, layer in zip(names, mine, strict=True)]
        loss = backprop(wrapped, ref.SoftmaxCrossEntropy(), x.copy(), t)
        backward_order = [e.split()[1] for e in log if e.startswith("backward")]
        is_prefix = backward_order == names[::-1][: len(backward_order)]
        if not is_prefix:
            raise CheckFailed(
                f"backward visited the layers as {backward_order}; it must go in reverse "
                f"order, {names[::-1]}: each layer needs the gradient of the layer after it"
            )
        if len(backward_order) < len(names):
            raise CheckFailed(
                f"backward was called on {backward_order or 'no layer'}; call it on every "
                "layer, starting with the loss layer's backward()"
            )
        if loss is None:
            raise CheckFailed("backprop returned None; return the loss value")
        expect_close("loss", np.asarray(float(loss)), np.asarray(want_loss), rtol=1e-6)
        for nm, got, want in zip(names, mine, want_layers, strict=True):
            for key in want.params:
                expect_close(
                    f"{nm}.grads[{key!r}]",
                    got.grads.get(key),
                    want.grads[key],
                    hint="start the backward pass with dout = loss_layer.backward()",
                )
