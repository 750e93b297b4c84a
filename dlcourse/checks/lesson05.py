"""Checkers for assignment 05 · Functionization (layers with forward and backward).

The learner writes layer *classes* (Dense for inputs of any shape, LeakyReLU, Sigmoid,
SoftmaxWithLoss); each checker builds them on non-square random shapes drawn from
``case_rng``, compares outputs and gradients with float64 references written here, and
names the typical mistake when it recognises one: a transposed dW, a bias gradient
averaged, gradients piling up across calls, a dx left flat, a sigmoid that overflows, an
unguarded log, a backward that ignores dout or overwrites its cache, layers visited in
the wrong order. Task 5.4 runs the learner's loop over ``dlcourse.layers`` layers
wrapped in recorders (the layers are scaffolding there, not the answer).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import (
    CheckFailed,
    case_rng,
    expect_array,
    expect_close,
    expect_finite,
)

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


# Input shapes for Dense: a plain batch (N, D) and batches of images (N, C, H, W).
_DENSE_SHAPES = ((4, 5), (3, 2, 3, 4), (1, 6), (2, 1, 5, 3))


@checker("5.1", uses=("Dense",))
def check_dense(Dense: Callable) -> None:
    """Task 5.1: Dense flattens x: (N, ...) to (N, D); dx comes back in x's shape; the grads
    are overwritten, not accumulated, by every backward call."""
    for salt, x_shape in enumerate(_DENSE_SHAPES):
        rng = case_rng(510 + salt)
        n, d, m = x_shape[0], int(np.prod(x_shape[1:])), 3 + salt
        W, b = rng.standard_normal((d, m)), rng.standard_normal(m)
        layer = Dense(W.copy(), b.copy())
        previous = None
        for _ in range(2):  # a second batch: the grads must be this batch's only
            x, dout = rng.standard_normal(x_shape), rng.standard_normal((n, m))
            flat = x.reshape(n, d)
            text = f"Dense.forward(x) for x of shape {x_shape}, W {W.shape}"
            out = _forward_keeping(layer, x, "Dense")
            out = expect_array(text, out)
            if out.shape != (n, m):
                raise CheckFailed(
                    f"{text} should have shape {(n, m)} but has {out.shape}; flatten each "
                    f"sample first: x.reshape(len(x), -1) has shape {(n, d)}"
                )
            expect_close(text, out, flat @ W + b, hint="out = x.reshape(len(x), -1) @ W + b")
            dx = expect_array("Dense.backward(dout)", _backward_keeping(layer, dout, "Dense"))
            if dx.shape == (n, d) and x.ndim > 2:
                raise CheckFailed(
                    f"Dense.backward returned dx of shape {dx.shape}, the flattened shape; the "
                    f"layer below gave x of shape {x_shape} and needs its gradient in that "
                    "shape: remember x.shape in forward and reshape dx back to it"
                )
            if dx.shape != x_shape:
                raise CheckFailed(
                    f"Dense.backward returned dx of shape {dx.shape} but x has shape {x_shape}"
                )
            expect_close("dx", dx, (dout @ W.T).reshape(x_shape), hint="dx = dout @ W.T, reshaped")
            previous = _check_affine_grads(getattr(layer, "grads", None), W, flat, dout, previous)


def _check_affine_grads(
    grads: Any, W: np.ndarray, x: np.ndarray, dout: np.ndarray, previous: tuple | None
) -> tuple[np.ndarray, np.ndarray]:
    """Check Dense's grads after one backward; ``previous``: the grads of the call before."""
    if not isinstance(grads, dict) or not {"W", "b"} <= set(grads):
        raise CheckFailed(
            "after backward, self.grads should be a dict with keys 'W' and 'b' "
            f"but it is {grads!r:.60}"
        )
    d, m = W.shape
    dW, db = expect_array("grads['W']", grads["W"]), expect_array("grads['b']", grads["b"])
    if dW.shape == (m, d) and d != m:
        raise CheckFailed(
            f"grads['W'] has shape {dW.shape} but W has shape {W.shape}: you computed the "
            "transpose; dW = x.T @ dout has W's shape (D, M)"
        )
    n = x.shape[0]
    if db.shape == dout.shape and n > 1:
        raise CheckFailed(
            f"grads['b'] has shape {db.shape}, one row per sample; b has shape ({m},): "
            "sum dout over the batch axis, dout.sum(axis=0)"
        )
    want_W, want_b = x.T @ dout, dout.sum(axis=0)
    if previous is not None and dW.shape == want_W.shape:
        if np.allclose(dW, want_W + previous[0]) or np.allclose(db, want_b + previous[1]):
            raise CheckFailed(
                "after a second forward and backward, self.grads holds the sum of both "
                "batches' gradients: you accumulated (self.grads['W'] += …). Each backward "
                "stores this batch's gradient: self.grads['W'] = x.T @ dout"
            )
    expect_close("grads['W']", dW, want_W, hint="dW = x.T @ dout, with x flattened to (N, D)")
    if n > 1 and db.shape == want_b.shape and np.allclose(db * n, want_b):
        raise CheckFailed(
            "grads['b'] is the mean of dout over the batch; b is added to every sample, "
            "so its gradient is the sum: dout.sum(axis=0)"
        )
    expect_close("grads['b']", db, want_b, hint="db = dout.sum(axis=0), overwritten each call")
    return want_W, want_b


# ----------------------------------------------------------------------------- task 5.2


def _check_leaky_relu(LeakyReLU: Callable, rng: np.random.Generator, shape: tuple) -> None:
    alpha = float(rng.choice([0.01, 0.1, 0.3]))
    x = rng.standard_normal(shape)
    x.flat[::3] = 0.0  # exact zeros: either slope is accepted there
    x.flat[1] = -abs(x.flat[1]) - 0.1  # at least one negative input
    dout = rng.standard_normal(shape)
    layer = LeakyReLU(alpha)
    name = f"LeakyReLU({alpha})"
    out = _forward_keeping(layer, x, name)
    want_out = np.where(x > 0, x, alpha * x)
    if np.allclose(np.asarray(out), np.maximum(x, 0)):
        raise CheckFailed(
            f"{name}.forward returned max(x, 0), a plain ReLU: negative inputs are multiplied "
            "by alpha, not set to 0"
        )
    expect_close(f"{name}.forward(x)", out, want_out, hint="x where x > 0, alpha·x elsewhere")
    dx = expect_array(f"{name} dx", _backward_keeping(layer, dout, name), shape)
    at_zero = x == 0
    slope = np.where(x > 0, 1.0, alpha)
    if np.allclose(dx[~at_zero], (dout * (x > 0))[~at_zero]):
        raise CheckFailed(
            f"{name}.backward blocks the gradient where x < 0, like ReLU; LeakyReLU's slope "
            "there is alpha: dx = dout · alpha where x < 0"
        )
    if np.allclose(dx[~at_zero], (dout * np.where(x > 0, alpha, 1.0))[~at_zero]):
        raise CheckFailed(
            f"{name}.backward swapped the slopes: 1 where x > 0 and alpha where x < 0"
        )
    expect_close(
        f"{name} dx away from x = 0", dx[~at_zero], (dout * slope)[~at_zero], hint="dout · slope"
    )
    either = np.isclose(dx[at_zero], dout[at_zero]) | np.isclose(dx[at_zero], alpha * dout[at_zero])
    if not either.all():
        raise CheckFailed(
            f"{name} dx at x = 0 is neither dout (slope 1) nor alpha·dout (slope alpha); "
            "either convention is fine there, but it must be one of the two slopes"
        )


def _check_sigmoid(Sigmoid: Callable, rng: np.random.Generator, shape: tuple) -> None:
    x = rng.standard_normal(shape) * 3
    x.flat[0], x.flat[-1] = 800.0, -800.0  # exp(800) overflows without protection
    dout = rng.standard_normal(shape)
    layer = Sigmoid()
    try:
        with np.errstate(over="raise", invalid="raise"):
            out = _forward_keeping(layer, x, "Sigmoid")
    except FloatingPointError as err:
        raise CheckFailed(
            f"Sigmoid.forward on an input of -800 overflowed ({err}): exp(800) is inf (and "
            "numpy warns). Clip the input first, np.clip(x, -500, 500), or use "
            "exp(-|x|) so that exp never sees a large positive number"
        ) from None
    want_out = 0.5 * (1 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow
    expect_close("Sigmoid.forward(x)", out, want_out, hint="out = 1 / (1 + exp(-x))")
    dx = _backward_keeping(layer, dout, "Sigmoid")
    expect_array("Sigmoid dx", dx, shape)
    expect_finite("Sigmoid dx", dx)
    with np.errstate(over="ignore", invalid="ignore"):
        from_x = dout * x * (1 - x)
    if np.allclose(dx, from_x):
        raise CheckFailed(
            "Sigmoid.backward used the input x; the derivative is out·(1 − out) with the "
            "output out you cached in forward"
        )
    expect_close("Sigmoid dx", dx, dout * want_out * (1 - want_out), hint="dx = dout·out·(1−out)")


@checker("5.2", uses=("LeakyReLU", "Sigmoid"))
def check_activation_layers(LeakyReLU: Callable, Sigmoid: Callable) -> None:
    """Task 5.2: LeakyReLU(alpha) and an overflow-safe Sigmoid, forward and backward."""
    for salt, shape in enumerate(((4, 7), (2, 3, 5), (1, 4))):
        rng = case_rng(520 + salt)
        _check_leaky_relu(LeakyReLU, rng, shape)
        _check_sigmoid(Sigmoid, rng, shape)


# ----------------------------------------------------------------------------- task 5.3


def _softmax_ce(x: np.ndarray, t1: np.ndarray) -> tuple[float, np.ndarray, float]:
    """float64 references: the loss guarded with 1e-7, softmax y, and the exact loss."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    y = np.exp(log_y)
    n = len(x)
    guarded = float(-(t1 * np.log(y + 1e-7)).sum() / n)
    return guarded, y, float(-(t1 * log_y).sum() / n)


def _loss_value(loss: object, text: str) -> float:
    """The learner's loss as a float, or a message saying what came back instead."""
    if isinstance(loss, np.ndarray) and loss.size != 1:
        raise CheckFailed(
            f"{text} should return one number (the mean loss) but returned an array of shape "
            f"{loss.shape}; sum over the classes and average over the batch"
        )
    try:
        return float(loss)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CheckFailed(
            f"{text} should return one number (the mean loss, a float) but returned "
            f"{type(loss).__name__} {loss!r:.60}"
        ) from None


@checker("5.3", uses=("SoftmaxWithLoss",))
def check_softmax_with_loss(SoftmaxWithLoss: Callable) -> None:
    """Task 5.3: forward(x, t) mean cross-entropy for one-hot or label targets, log(0)
    guarded; backward(dout) = dout·(y − t)/N, the same on every call."""
    for salt, (n, k, labels_form) in enumerate(((4, 5, False), (7, 3, True), (1, 4, False))):
        rng = case_rng(530 + salt)
        x = rng.standard_normal((n, k)) * 3
        x[0] += 1000.0  # softmax must not overflow
        labels = rng.integers(0, k, n)
        t1 = np.eye(k)[labels]
        t = labels if labels_form else t1
        form = "integer labels t" if labels_form else "one-hot t"
        want_loss, y, exact_loss = _softmax_ce(x, t1)
        layer = SoftmaxWithLoss()
        text = f"forward(x, t) for x of shape {x.shape} (a row near 1000) and {form}"
        with np.errstate(all="ignore"):
            loss = _loss_value(_forward_keeping(layer, x, "SoftmaxWithLoss", t), text)
        if not np.isfinite(loss):
            raise CheckFailed(
                f"{text} returned {loss}; subtract each row's maximum before np.exp (softmax "
                "does not change) and return the mean loss"
            )
        if n > 1 and np.isclose(loss, want_loss * n):
            raise CheckFailed("the loss is the sum over the batch; return the mean (divide by N)")
        if not np.isclose(loss, exact_loss, rtol=1e-4):  # exact, or guarded with 1e-7
            expect_close(text, np.asarray(loss), np.asarray(want_loss), rtol=1e-4)
        dout = float(rng.choice([0.5, 2.0, 3.0]))
        want_dx = dout * (y - t1) / n
        dx = expect_array(f"backward(dout={dout})", layer.backward(dout), x.shape)
        if n > 1 and np.allclose(dx, want_dx * n):
            raise CheckFailed(
                "dx is N times too large: the loss is a mean over the batch, so divide "
                "(y − t) by the batch size N"
            )
        if np.allclose(dx, want_dx / dout):
            raise CheckFailed(
                f"backward(dout={dout}) returned (y − t)/N, as if dout were 1: it ignored dout. "
                "The upstream gradient scales the result: dx = dout · (y − t) / N"
            )
        expect_close(f"backward(dout={dout})", dx, want_dx, hint="dx = dout·(y − t)/N")
        again = expect_array("a second backward", layer.backward(dout), x.shape)
        if not np.allclose(again, want_dx):
            raise CheckFailed(
                f"a second call of backward(dout={dout}) returned something else than the "
                "first: backward changed the cached self.y in place (e.g. self.y -= t). "
                "Compute a new array, (self.y - self.t) / N, and leave the cache as it is"
            )
    _check_log_guard(SoftmaxWithLoss)


def _check_log_guard(SoftmaxWithLoss: Callable) -> None:
    """A prediction that is certain and wrong: softmax gives exactly 0 for the true class."""
    x = np.array([[0.0, -1000.0, 3.0], [1.0, 2.0, 0.5]])
    t = np.eye(3)[[1, 0]]
    guarded, _, exact = _softmax_ce(x, t)
    text = "forward(x, t) where the true class of sample 0 gets probability exactly 0"
    with np.errstate(all="ignore"):
        loss = _loss_value(SoftmaxWithLoss().forward(x.copy(), t.copy()), text)
    if not np.isfinite(loss):
        raise CheckFailed(
            f"{text} returned {loss}: log(0) is -inf. Guard the log, np.log(y + 1e-7), so a "
            "certain but wrong prediction costs a large, finite loss"
        )
    if not (np.isclose(loss, guarded, rtol=1e-3) or np.isclose(loss, exact, rtol=1e-3)):
        raise CheckFailed(f"{text} returned {loss:.6g}; expected about {guarded:.6g}")


# ----------------------------------------------------------------------------- task 5.4

# (N, D, H, K, micro_batch): micro-batches that divide N, that do not, and one of N
_ACCUMULATE_CASES = ((10, 4, 5, 3, 4), (9, 3, 6, 4, 3), (7, 5, 3, 4, 7), (8, 2, 4, 3, 3))


Grads = list[dict[str, np.ndarray]]  # one dict per layer: {"W": …, "b": …} or {}


def _reference(
    params: dict[str, np.ndarray], x: np.ndarray, t1: np.ndarray, alpha: float
) -> tuple[float, Grads]:
    """Mean loss and grads [dW1/db1, {}, dW2/db2] of Dense → LeakyReLU → Dense → softmax-CE."""
    n = len(x)
    a1 = x @ params["W1"] + params["b1"]
    h = np.where(a1 > 0, a1, alpha * a1)
    scores = h @ params["W2"] + params["b2"]
    guarded, y, _ = _softmax_ce(scores, t1)
    d2 = (y - t1) / n
    dh = d2 @ params["W2"].T
    d1 = dh * np.where(a1 > 0, 1.0, alpha)
    grads: Grads = [
        {"W": x.T @ d1, "b": d1.sum(axis=0)},
        {},
        {"W": h.T @ d2, "b": d2.sum(axis=0)},
    ]
    return guarded, grads


def _micro(x: np.ndarray, t1: np.ndarray, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x[i : i + size], t1[i : i + size]) for i in range(0, len(x), size)]


def _combine(parts: list[Grads], weights: list[float]) -> Grads:
    """Σ weights[m] · parts[m], layer by layer and key by key."""
    return [
        {
            key: sum(
                (w * part[layer][key] for part, w in zip(parts, weights, strict=True)),
                start=np.zeros_like(value),
            )
            for key, value in g.items()
        }
        for layer, g in enumerate(parts[0])
    ]


def _accumulation_hint(
    got: list[dict[str, Any]],
    x: np.ndarray,
    t1: np.ndarray,
    params: dict[str, np.ndarray],
    alpha: float,
    size: int,
) -> str:
    """What wrong way of combining the micro-batches the learner's grads match."""
    parts = [_reference(params, xm, tm, alpha)[1] for xm, tm in _micro(x, t1, size)]
    count = len(parts)
    variants = {
        "summed": (
            [1.0] * count,
            "you added the micro-batches' gradients: each is the gradient "
            "of a *mean* over its micro-batch, so weight it by its share, len(micro) / N",
        ),
        "averaged": (
            [1.0 / count] * count,
            "you averaged the micro-batches' gradients with equal "
            "weights; the last micro-batch is smaller, so weight each by len(micro) / N",
        ),
        "last": (
            [0.0] * (count - 1) + [1.0],
            "these are the gradients of the last micro-batch "
            "only: every backward overwrites layer.grads, so add each micro-batch's share "
            "into arrays of your own before the next forward",
        ),
    }
    for weights, hint in variants.values():
        want = _combine(parts, weights)
        if all(
            np.allclose(np.asarray(got[i][key]), want[i][key], rtol=1e-6, atol=1e-10)
            for i in (0, 2)
            for key in ("W", "b")
        ):
            return hint
    return ""


@checker("5.4", uses=("accumulated_gradients", "Dense", "LeakyReLU", "SoftmaxWithLoss"))
def check_accumulated_gradients(
    accumulated_gradients: Callable, Dense: Callable, LeakyReLU: Callable, SoftmaxWithLoss: Callable
) -> None:
    """Task 5.4: micro-batches whose weighted gradients equal the full batch's, with the
    learner's own layers (Tasks 5.1–5.3)."""
    for salt, (n, d, h, k, size) in enumerate(_ACCUMULATE_CASES):
        rng = case_rng(540 + salt)
        params = {
            "W1": rng.standard_normal((d, h)),
            "b1": rng.standard_normal(h) * 0.1,
            "W2": rng.standard_normal((h, k)),
            "b2": rng.standard_normal(k) * 0.1,
        }
        alpha = 0.1
        x, labels = rng.standard_normal((n, d)), rng.integers(0, k, n)
        t1 = np.eye(k)[labels]
        t = labels if salt % 2 else t1
        layers = [
            Dense(params["W1"].copy(), params["b1"].copy()),
            LeakyReLU(alpha),
            Dense(params["W2"].copy(), params["b2"].copy()),
        ]
        text = (
            f"accumulated_gradients(a {d}-{h}-{k} net of your layers, x of shape {x.shape}, "
            f"micro_batch={size})"
        )
        result = accumulated_gradients(layers, SoftmaxWithLoss(), x.copy(), t.copy(), size)
        if not isinstance(result, tuple) or len(result) != 2 or not isinstance(result[1], list):
            raise CheckFailed(
                f"{text} should return a pair (loss, grads) with grads a list of one dict per "
                f"layer, but returned {type(result).__name__} {result!r:.80}"
            )
        loss, grads = _loss_value(result[0], text), result[1]
        if len(grads) != 3 or not all(isinstance(g, dict) for g in grads):
            raise CheckFailed(
                f"{text}: grads should hold one dict per layer (3 here; {{}} for LeakyReLU) but "
                f"is {grads!r:.80}"
            )
        want_loss, want = _reference(params, x, t1, alpha)
        if not all({"W", "b"} <= set(grads[i]) for i in (0, 2)):
            raise CheckFailed(f"{text}: the dicts of the Dense layers need keys 'W' and 'b'")
        close = all(
            np.allclose(np.asarray(grads[i][key]), want[i][key], rtol=1e-6, atol=1e-10)
            for i in (0, 2)
            for key in ("W", "b")
        )
        if not close:
            hint = _accumulation_hint(grads, x, t1, params, alpha, size)
            if not hint:
                hint = "pass Tasks 5.1–5.3 first: this check runs your own layers"
            raise CheckFailed(f"{text}: the gradients differ from the full batch's; {hint}")
        if not np.isclose(loss, want_loss, rtol=1e-5):
            raise CheckFailed(
                f"{text} returned the loss {loss:.6g}; the full batch's mean loss is "
                f"{want_loss:.6g}: weight each micro-batch's mean loss by len(micro) / N too"
            )
