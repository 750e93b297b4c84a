"""Checkers for assignment 03 · XOR (sigmoid, a forward pass of any depth, backprop by hand).

Task 3.2's network is ``x → (affine → sigmoid) × (L − 1) → affine → softmax``; Task 3.3's
is the two-layer one, with the mean cross-entropy loss. Forward passes are compared with
references written here; the gradients with a numerical gradient (central differences
in float64) of the reference loss, so the learner's backprop is judged against the
definition of a derivative, on non-square shapes (D ≠ H ≠ K) and several seeds.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import (
    CheckFailed,
    call_gradients,
    call_keeping,
    case_rng,
    copy_params,
    expect_array,
    expect_close,
    expect_finite,
    expect_grads_close,
    expect_params_unchanged,
)

PARAM_NAMES = ("W1", "b1", "W2", "b2")

Activation = Callable[[np.ndarray], np.ndarray]  # an element- or row-wise map, same shape

# ----------------------------------------------------------------------------- references


def _sigmoid(x: np.ndarray) -> np.ndarray:
    z = np.exp(-np.abs(x))
    s: np.ndarray = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return s


def _softmax(a: np.ndarray) -> np.ndarray:
    e = np.exp(a - a.max(axis=1, keepdims=True))
    y: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return y


def _forward(
    x: np.ndarray,
    params: dict,
    hidden: Activation = _sigmoid,
    output: Activation = _softmax,
) -> np.ndarray:
    z1 = hidden(x @ params["W1"] + params["b1"])
    return output(z1 @ params["W2"] + params["b2"])


def _loss(x: np.ndarray, t: np.ndarray, params: dict) -> float:
    y = _forward(x, params)
    return float(-np.sum(t * np.log(np.maximum(y, 1e-300))) / len(x))


def _grads_variant(x: np.ndarray, t: np.ndarray, params: dict, variant: str) -> dict:
    """Backprop with one typical mistake, to name it when the learner's grads match it."""
    z1 = _sigmoid(x @ params["W1"] + params["b1"])
    y = _softmax(z1 @ params["W2"] + params["b2"])
    n = 1 if variant == "no_mean" else len(x)
    d2 = (y - t) / n
    dz1 = d2 @ params["W2"].T
    if variant == "no_sigmoid_grad":
        da1 = dz1
    elif variant == "sigmoid_grad_of_output":  # sigmoid_grad(z1): σ applied twice
        da1 = dz1 * _sigmoid(z1) * (1 - _sigmoid(z1))
    else:
        da1 = dz1 * z1 * (1 - z1)
    return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ d2, "b2": d2.sum(axis=0)}


def _make_net(
    seed: int, n: int, d: int, h: int, k: int, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Random x (n, d), one-hot t (n, k) and params of a d-h-k net, all float64."""
    rng = case_rng(seed)
    x = rng.normal(size=(n, d))
    t = np.eye(k)[rng.integers(0, k, size=n)]
    params = {
        "W1": rng.normal(scale=scale, size=(d, h)),
        "b1": rng.normal(scale=0.5, size=h),
        "W2": rng.normal(scale=scale, size=(h, k)),
        "b2": rng.normal(scale=0.5, size=k),
    }
    return x, t, params


# ----------------------------------------------------------------------------- task 3.1


@checker("3.1", uses=("sigmoid", "sigmoid_grad"))
def check_sigmoid(sigmoid: Callable, sigmoid_grad: Callable) -> None:
    """Task 3.1: a sigmoid that never overflows, and its derivative s·(1 − s)."""
    for seed, shape in enumerate(((3, 5), (7,), (2, 3, 4))):
        x = case_rng(seed).normal(scale=3.0, size=shape)
        expect_close(
            f"sigmoid(x of shape {shape})",
            call_keeping(sigmoid, x, example="x = np.clip(x, -500, 500), not x[x < -500] = -500"),
            _sigmoid(x),
        )
    big = np.array([[-1000.0, -50.0, 0.0], [50.0, 1000.0, -745.0]])
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error", RuntimeWarning)
        try:
            got = call_keeping(
                sigmoid, big, example="x = np.clip(x, -500, 500), not x[x < -500] = -500"
            )
        except (FloatingPointError, RuntimeWarning) as err:
            raise CheckFailed(
                f"sigmoid([-1000, ..., 1000]) overflowed ({err}): np.exp(-x) is exp(1000) for "
                "x = -1000; use exp(-|x|), which is at most 1, and pick the formula by the "
                "sign of x (np.where), or write it with np.tanh"
            ) from None
    expect_close("sigmoid of [[-1000, -50, 0], [50, 1000, -745]]", got, _sigmoid(big), atol=1e-12)

    for seed, shape in enumerate(((4, 6), (5,))):
        x = case_rng(10 + seed).normal(scale=2.0, size=shape)
        got = expect_array(
            f"sigmoid_grad(x of shape {shape})",
            call_keeping(sigmoid_grad, x, example="s = sigmoid(x); return s * (1 - s)"),
            x.shape,
        )
        s = _sigmoid(x)
        want = s * (1 - s)
        if np.allclose(got, x * (1 - x)):
            raise CheckFailed(
                "sigmoid_grad(x) returned x·(1 − x): that formula holds for the sigmoid's "
                "*output*; compute s = sigmoid(x) first and return s·(1 − s)"
            )
        if np.allclose(got, s * (1 + s)) or np.allclose(got, -want):
            raise CheckFailed(
                "sigmoid_grad has the wrong sign inside: the derivative is s·(1 − s) with "
                "s = sigmoid(x), always positive and at most 0.25"
            )
        expect_close(f"sigmoid_grad(x of shape {shape})", got, want)
    text = "sigmoid_grad of [[-1000, -50, 0], [50, 1000, -745]]"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = call_keeping(sigmoid_grad, big, example="s = sigmoid(x); return s * (1 - s)")
    s = _sigmoid(big)
    expect_close(text, got, s * (1 - s), atol=1e-12, hint="use your stable sigmoid inside")


# ----------------------------------------------------------------------------- task 3.2

# (N, sizes D, H1, …, K): one, two and three hidden layers, no two neighbours equal
_DEEP_NETS = ((6, (3, 5, 4)), (4, (2, 3, 5, 2)), (9, (4, 2, 6, 3, 3)))


def _deep_params(salt: int, sizes: tuple[int, ...], scale: float = 1.0) -> dict[str, np.ndarray]:
    rng = case_rng(salt)
    params = {}
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"W{layer}"] = rng.normal(scale=scale, size=(fan_in, fan_out))
        params[f"b{layer}"] = rng.normal(scale=0.5, size=fan_out)
    return params


def _deep_forward(
    x: np.ndarray,
    params: dict[str, np.ndarray],
    hidden: Activation = _sigmoid,
    output: Activation = _softmax,
    layers: int | None = None,
) -> np.ndarray:
    """Sigmoid hidden layers W1…W(L−1), softmax after WL; ``layers`` stops early (a mistake)."""
    count = len(params) // 2
    z = x
    for layer in range(1, (layers or count) + 1):
        a = z @ params[f"W{layer}"] + params[f"b{layer}"]
        z = hidden(a) if layer < count else output(a)
    return z


def _deep_hint(got: np.ndarray, x: np.ndarray, params: dict) -> str:
    count = len(params) // 2
    if count > 1 and np.allclose(got, _deep_forward(x, params, hidden=lambda a: a), atol=1e-9):
        return (
            "the hidden layers have no sigmoid; without it all layers collapse into one "
            "linear map, which cannot learn XOR"
        )
    if np.allclose(got, _deep_forward(x, params, output=lambda a: a), atol=1e-9):
        return "it returned the scores of the last layer; apply softmax to get probabilities"
    if np.allclose(got, _deep_forward(x, params, output=lambda a: _softmax(_sigmoid(a)))):
        return (
            "the last layer went through the sigmoid before the softmax: the sigmoid is for "
            f"the hidden layers W1…W{count - 1} only, the output layer W{count} gets the softmax"
        )

    def column_softmax(a: np.ndarray) -> np.ndarray:
        e = np.exp(a - a.max(axis=0, keepdims=True))
        y: np.ndarray = e / e.sum(axis=0, keepdims=True)
        return y

    if np.allclose(got, _deep_forward(x, params, output=column_softmax), atol=1e-9):
        return (
            "softmax normalised each column (axis=0); normalise each row (axis=1, "
            "keepdims=True) so every sample's probabilities sum to 1"
        )
    return ""


@checker("3.2", uses=("predict_deep",))
def check_predict_deep(predict_deep: Callable) -> None:
    """Task 3.2: sigmoid hidden layers W1…W(L−1), softmax output after WL, any L."""
    for salt, (n, sizes) in enumerate(_DEEP_NETS):
        params = _deep_params(320 + salt, sizes)
        x = case_rng(325 + salt).normal(size=(n, sizes[0]))
        net = "-".join(map(str, sizes))
        text = f"predict_deep(x of shape {x.shape}, params of a {net} net)"
        before = copy_params(params)
        got = call_keeping(predict_deep, x, params, example="z = sigmoid(z @ W + b), not x @= ...")
        expect_params_unchanged(predict_deep, before, params)
        got = expect_array(text, got)
        k = sizes[-1]
        if got.shape != (n, k):
            hint = ""
            if got.shape in {(n, size) for size in sizes[1:-1]}:
                hint = (
                    f"; that is a hidden layer's output: the net has {len(sizes) - 1} layers "
                    "(W1, W2, …): loop over all of them, len(params) // 2"
                )
            elif got.shape == (k, n):
                hint = "; return one row per sample: (N, K)"
            raise CheckFailed(f"{text} should have shape {(n, k)} but has shape {got.shape}{hint}")
        expect_finite(text, got)
        want = _deep_forward(x, params)
        if np.allclose(got, want, rtol=1e-6, atol=1e-9):
            continue
        hint = _deep_hint(got, x, params)
        if hint:
            raise CheckFailed(f"{text}: {hint}")
        expect_close(text, got, want, rtol=1e-6)
    # Large weights: softmax scores near ±1000 must not overflow.
    params = _deep_params(329, (3, 4, 3))
    params["W2"] = params["W2"] * 400
    params["b2"] = params["b2"] + 1000.0
    x = case_rng(330).normal(size=(5, 3))
    text = "predict_deep with scores of about 1000 (a 3-4-3 net, b2 raised by 1000)"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = expect_array(
            text,
            call_keeping(predict_deep, x, params, example="z = sigmoid(z @ W + b), not x @= ..."),
            (5, 3),
        )
    expect_finite(text, got, "subtract each row's maximum score before np.exp in softmax")
    expect_close(text, got, _deep_forward(x, params), atol=1e-9)


# ----------------------------------------------------------------------------- task 3.3

_NET_SHAPES = ((6, 3, 5, 4), (4, 2, 3, 2), (9, 4, 2, 3))  # (N, D, H, K), D ≠ H ≠ K mostly

_TRANSPOSED_HINTS = {"W1": ", e.g. x.T @ da1", "W2": ", e.g. z1.T @ da2"}


@checker("3.3", uses=("gradients",))
def check_gradients(gradients: Callable) -> None:
    """Task 3.3: backprop grads of the mean cross-entropy match the numerical gradient."""
    for seed, (n, d, h, k) in enumerate(_NET_SHAPES):
        x, t, params = _make_net(20 + seed, n, d, h, k)
        text = f"gradients for a {d}-{h}-{k} net and a batch of {n}"
        got, want = call_gradients(
            gradients, "gradients", text, x, t, params, _loss, 1e-5, _TRANSPOSED_HINTS
        )
        if all(np.allclose(got[p], want[p], rtol=1e-5, atol=1e-9) for p in PARAM_NAMES):
            continue
        if all(np.allclose(got[p], -want[p], rtol=1e-5, atol=1e-9) for p in PARAM_NAMES):
            raise CheckFailed(
                f"{text}: wrong sign of the gradient; the output delta is y − t, not t − y"
            )
        if all(np.allclose(got[p], n * want[p], rtol=1e-5, atol=1e-9) for p in PARAM_NAMES):
            raise CheckFailed(
                f"{text}: every gradient is {n} (= N) times too large; the loss is the mean "
                "over the batch, so divide the output delta (y − t) by N"
            )
        wrong = _grads_variant(x, t, params, "no_sigmoid_grad")
        if np.allclose(got["W1"], wrong["W1"], rtol=1e-5, atol=1e-9):
            raise CheckFailed(
                f"{text}: grads['W1'] is missing the sigmoid's derivative; multiply the "
                "gradient arriving at the hidden layer by z1·(1 − z1)"
            )
        wrong = _grads_variant(x, t, params, "sigmoid_grad_of_output")
        if np.allclose(got["W1"], wrong["W1"], rtol=1e-5, atol=1e-9):
            raise CheckFailed(
                f"{text}: grads['W1'] and grads['b1'] are what sigmoid_grad(z1) gives, with z1 "
                "the hidden layer's *output*: that applies the sigmoid twice. sigmoid_grad "
                "takes the pre-activation a1 = x @ W1 + b1 (or use z1 * (1 - z1) directly)"
            )
        expect_grads_close(text, got, want, PARAM_NAMES, rtol=1e-5, atol=1e-9)
