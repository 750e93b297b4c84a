"""Checkers for assignment 03 · XOR (the two-class loss from logits, forward and backward
passes of any depth).

Task 3.1 asks for an overflow-safe sigmoid and the binary cross-entropy computed from the
logits, with its gradient; Task 3.2's network is ``x → (affine → sigmoid) × (L − 1) →
affine → softmax``; Task 3.3 backpropagates the mean cross-entropy through that network
for any L. Values are compared with float64 references written here; the gradients also
with a numerical gradient (central differences in float64) of the reference loss, so the
learner's backprop is judged against the definition of a derivative, on non-square
shapes (all sizes of a network differ) and several seeds.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import numpy as np

from dlcourse.checks import checker, raised_message
from dlcourse.checks.tools import (
    CheckFailed,
    call_keeping,
    case_rng,
    copy_params,
    expect_array,
    expect_close,
    expect_finite,
    expect_grads_dict,
    expect_params_unchanged,
    numerical_param_grads,
)
from dlcourse.gradients import numerical_gradient, relative_error

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


def _bce(a: np.ndarray, t: np.ndarray) -> float:
    """Mean binary cross-entropy of logits a: (N,) and 0/1 targets t: (N,), exact in float64."""
    return float(np.mean(np.logaddexp(0.0, a) - a * t))


@contextmanager
def _strict_floats() -> Iterator[None]:
    """Overflow, division by zero and invalid operations raise instead of warning."""
    with warnings.catch_warnings(), np.errstate(over="raise", invalid="raise", divide="raise"):
        warnings.simplefilter("error", RuntimeWarning)
        yield


# ----------------------------------------------------------------------------- task 3.1

_SIGMOID_EXAMPLE = "x = np.clip(x, -500, 500), not x[x < -500] = -500"
_BCE_EXAMPLE = "a = np.abs(a) or a = a * 0.5, not a *= 0.5"
_LOGSUM_HINT = (
    "stay with the logits: write −log σ(a) and −log(1 − σ(a)) as log(1 + e^…), then use "
    "log(1 + e^a) = max(a, 0) + log1p(e^(−|a|)), whose exponent is never positive "
    "(lesson 02, sections 3 and 5)"
)


def _check_sigmoid(sigmoid: Callable) -> None:
    """Values on three shapes, and ±1000 without an overflow warning."""
    for seed, shape in enumerate(((3, 5), (7,), (2, 3, 4))):
        x = case_rng(seed).normal(scale=3.0, size=shape)
        expect_close(
            f"sigmoid(x of shape {shape})",
            call_keeping(sigmoid, x, example=_SIGMOID_EXAMPLE),
            _sigmoid(x),
        )
    big = np.array([[-1000.0, -50.0, 0.0], [50.0, 1000.0, -745.0]])
    with _strict_floats():
        try:
            got = call_keeping(sigmoid, big, example=_SIGMOID_EXAMPLE)
        except (FloatingPointError, RuntimeWarning) as err:
            raise CheckFailed(
                f"sigmoid([-1000, ..., 1000]) overflowed ({err}): np.exp(-x) is exp(1000) for "
                "x = -1000; use exp(-|x|), which is at most 1, and pick the formula by the "
                "sign of x (np.where), or write it with np.tanh"
            ) from None
    expect_close("sigmoid of [[-1000, -50, 0], [50, 1000, -745]]", got, _sigmoid(big), atol=1e-12)


def _bce_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """(logits, 0/1 targets) of several sizes, the last with logits of ±1000 and 0."""
    cases = []
    for salt, n in enumerate((5, 8, 3)):
        rng = case_rng(310 + salt)
        a = rng.normal(scale=4.0, size=n)
        t = (rng.random(n) < 0.5).astype(np.float64)
        t[:2] = (0.0, 1.0)  # both classes in every case
        cases.append((a, t))
    extreme = np.array([-1000.0, 1000.0, -1000.0, 1000.0, 0.0, 0.0, 30.0, -40.0])
    targets = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    order = case_rng(313).permutation(len(extreme))
    cases.append((extreme[order], targets[order]))
    return cases


def _describe(a: np.ndarray) -> str:
    if np.abs(a).max() >= 1000:
        return f"logits of ±1000 and 0 (N = {len(a)})"
    return f"{len(a)} logits"


def _scalar(text: str, value: object) -> float:
    """``value`` as a float, failing when it is not one number."""
    if isinstance(value, np.ndarray) and value.size != 1:
        raise CheckFailed(
            f"{text} should be one number but is an array of shape {value.shape}: the loss "
            "is the mean of the per-sample losses over the batch (np.mean)"
        )
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CheckFailed(f"{text} should be a number but is {value!r}") from None


def _call_strict(func: Callable, text: str, a: np.ndarray, t: np.ndarray, hint: str) -> object:
    """The learner's func(a, t), failing with the reason and ``hint`` when numpy warns."""
    with _strict_floats():
        try:
            return call_keeping(func, a, t, example=_BCE_EXAMPLE)
        except (FloatingPointError, RuntimeWarning) as err:
            if "log" in str(err):
                where = "the log of a probability that is exactly 0"
            else:
                where = "an exponential of a large positive number"
            raise CheckFailed(
                f"{text} made numpy warn ({err}): your code computes {where}. For a = −1000, "
                f"σ(a) is 0 in float64 and e^(−a) overflows; {hint}"
            ) from None


def _guard_hint(func: Callable) -> str:
    """A hint when one confidently wrong sample costs less than it should (a guard)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = call_keeping(func, np.array([1000.0]), np.array([0.0]), example=_BCE_EXAMPLE)
    got = _scalar("binary_cross_entropy(a, t) for one sample", value)
    if not 1.0 < got < 999.0:
        return ""
    return (
        f"; one sample with a = 1000 and t = 0 costs {got:.4g} instead of 1000: that is "
        f"−log of a probability kept at least {np.exp(-got):.0e}, a guard like lesson 02's. "
        f"Without a guard and without a probability, {_LOGSUM_HINT}"
    )


def _check_bce(func: Callable) -> None:
    for a, t in _bce_cases():
        text = f"binary_cross_entropy(a, t) for {_describe(a)}"
        got = _scalar(text, _call_strict(func, text, a, t, _LOGSUM_HINT))
        want = _bce(a, t)
        if not np.isfinite(got):
            raise CheckFailed(f"{text} returned {got}, expected {want:.6g}; {_LOGSUM_HINT}")
        if np.isclose(got, want, rtol=1e-6, atol=1e-12):
            continue
        n = len(a)
        if np.isclose(got, n * want, rtol=1e-6):
            raise CheckFailed(
                f"{text} returned {got:.6g}, exactly {n} (= N) times the expected {want:.6g}: "
                "that is the sum over the batch; the loss is the mean (divide by N, or np.mean)"
            )
        if np.isclose(got, -want, rtol=1e-6):
            raise CheckFailed(
                f"{text} returned {got:.6g}, the expected {want:.6g} with the wrong sign: the "
                "loss is −t·log σ(a) − (1 − t)·log(1 − σ(a)), never negative"
            )
        if np.isclose(got, _bce(a, 1 - t), rtol=1e-6):
            raise CheckFailed(
                f"{text} returned {got:.6g}, the loss of the swapped targets 1 − t: t = 1 means "
                "class 1, whose probability is σ(a), so t goes with −log σ(a)"
            )
        hint = _guard_hint(func) if np.abs(a).max() >= 1000 else ""
        raise CheckFailed(
            f"{text} returned {got:.6g}, expected {want:.6g} "
            f"(relative error {abs(got - want) / max(abs(want), 1e-12):.1e}){hint}"
        )


def _same(got: np.ndarray, other: np.ndarray) -> bool:
    return bool(np.allclose(got, other, rtol=1e-6, atol=1e-12))


def _check_bce_grad(func: Callable) -> None:
    for a, t in _bce_cases():
        n = len(a)
        text = f"binary_cross_entropy_grad(a, t) for {_describe(a)}"
        got = expect_array(
            text, _call_strict(func, text, a, t, "compute σ(a) with your stable sigmoid")
        )
        if got.shape != a.shape:
            hint = "; one number per logit: ∂L/∂a_n for every n" if got.size == 1 else ""
            raise CheckFailed(f"{text} should have shape {a.shape} but has shape {got.shape}{hint}")
        expect_finite(text, got)
        s = _sigmoid(a)
        want = (s - t) / n
        numerical = numerical_gradient(partial(_bce, t=t), a.copy(), 1e-5)
        if np.allclose(got, numerical, rtol=1e-5, atol=1e-10):
            continue
        close = partial(_same, got)
        if close(-want):
            raise CheckFailed(
                f"{text} has the wrong sign: the gradient is (σ(a) − t)/N, not (t − σ(a))/N; "
                "a step against it must lower the loss"
            )
        if close(n * want):
            raise CheckFailed(
                f"{text} is {n} (= N) times too large: the loss is a mean, so every ∂L/∂a_n "
                "carries a factor 1/N"
            )
        if close(s * (1 - s)) or close(s * (1 - s) / n):
            raise CheckFailed(
                f"{text} returned σ(a)·(1 − σ(a)), the sigmoid's own derivative dσ/da: the "
                "loss takes the log of σ, so differentiate −t·log σ(a) − (1 − t)·log(1 − σ(a)) "
                "with the chain rule (lesson 02, section 6 did it for the softmax)"
            )
        if close(want * s * (1 - s)) or close(n * want * s * (1 - s)):
            raise CheckFailed(
                f"{text} has an extra factor σ(a)·(1 − σ(a)): the log in the loss cancels the "
                "sigmoid's derivative, as for the softmax in lesson 02, section 6"
            )
        expect_close(f"{text} (against the numerical gradient)", got, numerical, rtol=1e-5)


@checker("3.1", uses=("sigmoid", "binary_cross_entropy", "binary_cross_entropy_grad"))
def check_sigmoid_and_bce(
    sigmoid: Callable, binary_cross_entropy: Callable, binary_cross_entropy_grad: Callable
) -> None:
    """Task 3.1: a sigmoid that never overflows; the binary cross-entropy of logits (mean,
    exact and warning-free for ±1000) and its gradient (σ(a) − t)/N."""
    _check_sigmoid(sigmoid)
    _check_bce(binary_cross_entropy)
    _check_bce_grad(binary_cross_entropy_grad)


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
        hidden = "W1" if count == 2 else f"W1…W{count - 1}"
        return (
            "the last layer went through the sigmoid before the softmax: the sigmoid is for "
            f"the hidden layers ({hidden}) only, the output layer W{count} gets the softmax"
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

# (N, sizes D, H1, …, K) with L = 2, 3, 4 and 1 layers, in this order (the lesson's case
# first); within each network all sizes, N included, differ, so a transpose cannot pass.
_BACKPROP_NETS = ((6, (3, 5, 4)), (5, (4, 6, 2, 3)), (8, (3, 7, 5, 2, 4)), (7, (5, 3)))


def _deep_loss(x: np.ndarray, t: np.ndarray, params: dict[str, np.ndarray]) -> float:
    """Mean cross-entropy of Task 3.2's network, without a guard (float64)."""
    y = _deep_forward(x, params)
    return float(-np.sum(t * np.log(y)) / len(x))


def _deep_backprop(
    x: np.ndarray, t: np.ndarray, params: dict[str, np.ndarray], mistake: str = ""
) -> dict[str, np.ndarray]:
    """Backprop through Task 3.2's network, or with one typical ``mistake``, to name it.

    mistake: "no_sigmoid_grad" (δ_{l−1} = δ_l W_lᵀ), "sigmoid_twice" (σ'(z_{l−1}) instead
    of σ'(a_{l−1})), "grad_above" (the sigmoid's derivative taken at z_l, before multiplying
    by W_lᵀ) or "" (the right one).
    """
    count = len(params) // 2
    zs = [x]  # z_0 = x, z_1, …, z_{L−1}
    for layer in range(1, count):
        zs.append(_sigmoid(zs[-1] @ params[f"W{layer}"] + params[f"b{layer}"]))
    y = _softmax(zs[-1] @ params[f"W{count}"] + params[f"b{count}"])
    delta = (y - t) / len(x)
    grads = {}
    for layer in range(count, 0, -1):
        z_in = zs[layer - 1]
        grads[f"W{layer}"] = z_in.T @ delta
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer == 1:
            break
        weights = params[f"W{layer}"]
        if mistake == "no_sigmoid_grad":
            delta = delta @ weights.T
        elif mistake == "sigmoid_twice":  # sigmoid_grad(z) with z already σ(a)
            delta = (delta @ weights.T) * _sigmoid(z_in) * (1 - _sigmoid(z_in))
        elif mistake == "grad_above":
            z_out = y if layer == count else zs[layer]
            delta = (delta * z_out * (1 - z_out)) @ weights.T
        else:
            delta = (delta @ weights.T) * z_in * (1 - z_in)
    return grads


def _net_text(sizes: tuple[int, ...], n: int) -> str:
    kind = " (softmax regression)" if len(sizes) == 2 else ""
    return f"gradients_deep for a {'-'.join(map(str, sizes))} net{kind} and a batch of {n}"


def _close_grads(got: dict, want: dict, names: list[str], scale: float = 1.0) -> bool:
    return all(np.allclose(got[p], scale * want[p], rtol=1e-5, atol=1e-9) for p in names)


def _names(layers: list[int]) -> str:
    return ", ".join(f"W{layer}, b{layer}" for layer in layers)


def _layer_hint(got: dict, want: dict, count: int) -> str:
    """Which layers are wrong, where the error starts, and what to look at there."""
    right = {p for p in want if np.allclose(got[p], want[p], rtol=1e-5, atol=1e-9)}
    wrong_layers = [
        layer for layer in range(count, 0, -1) if not {f"W{layer}", f"b{layer}"} <= right
    ]
    right_layers = [layer for layer in range(count, 0, -1) if layer not in wrong_layers]
    top = wrong_layers[0]
    z_in = "x" if top == 1 else f"z{top - 1}"
    if f"b{top}" in right:  # δ_top is right, only ∂J/∂W_top is not
        return (
            f"grads['W{top}'] is wrong although grads['b{top}'] is right, so δ{top} is right: "
            f"∂J/∂W{top} = {z_in}ᵀ δ{top}, with {z_in} the input of layer {top}"
        )
    if f"W{top}" in right:
        return (
            f"grads['b{top}'] is wrong although grads['W{top}'] is right: ∂J/∂b{top} = "
            f"Σ_n δ{top}, the sum of δ{top} over the batch axis (axis=0)"
        )
    if top == count:
        return (
            f"the output layer's gradients W{top}, b{top} are already wrong: δ{top} = "
            f"(y − t)/N, ∂J/∂W{top} = {z_in}ᵀ δ{top}, ∂J/∂b{top} = Σ_n δ{top}"
        )
    zero = all(not np.any(got[f"{kind}{top}"]) for kind in "Wb")
    if zero and top == 1 and right_layers:
        return (
            "grads['W1'] and grads['b1'] are all zeros while the other layers are right: "
            "your loop never reaches layer 1 (range(L, 1, -1) stops at layer 2; it must go "
            "down to 1)"
        )
    return (
        f"{_names(wrong_layers)} are wrong while {_names(right_layers)} are right: the error "
        f"starts when going from layer {top + 1} to layer {top}: δ{top} = "
        f"(δ{top + 1} W{top + 1}ᵀ) ⊙ z{top} ⊙ (1 − z{top}), with z{top} the output of "
        f"layer {top} from the forward pass"
    )


def _shape_hint(name: str, shape: tuple[int, ...], sizes: tuple[int, ...]) -> str:
    layer = int(name[1:])
    if name.startswith("W") and shape == (sizes[layer], sizes[layer]):
        z_in = "x" if layer == 1 else f"z{layer - 1}"
        return (
            f"a square matrix of the layer's output size: ∂J/∂W{layer} = {z_in}ᵀ δ{layer}, with "
            f"{z_in} the input of layer {layer}, not its output z{layer}"
        )
    return ""


def _call_deep(
    gradients_deep: Callable,
    text: str,
    x: np.ndarray,
    t: np.ndarray,
    params: dict[str, np.ndarray],
    sizes: tuple[int, ...],
    two_layers_passed: bool,
) -> dict[str, np.ndarray]:
    """The learner's grads, checked for keys and shapes (params handed over as copies)."""
    count = len(sizes) - 1
    try:
        got = call_keeping(gradients_deep, x, t, params, example="W = W - ..., not W -= ...")
    except (KeyError, ValueError, IndexError) as err:
        if not two_layers_passed:
            raise
        raise CheckFailed(
            f"gradients_deep is right for the two-layer net but not for a {count}-layer one "
            f"({text}): {raised_message(err, __name__)}. Does it handle any number of "
            "layers? L = len(params) // 2; keep every z_l of the forward pass in a list and "
            "loop backwards over l = L, …, 1"
        ) from None
    names = list(params)
    if isinstance(got, dict):
        missing = [p for p in names if p not in got]
        if missing and set(missing) == {"W1", "b1"}:
            raise CheckFailed(
                f"{text}: the dict has no 'W1', 'b1' while it has the other layers: your loop "
                "stops before layer 1 (range(L, 1, -1) stops at 2; the first layer needs "
                "its gradients too)"
            )
        for name in names:
            value = got.get(name)
            if isinstance(value, np.ndarray) and value.shape != params[name].shape:
                hint = _shape_hint(name, value.shape, sizes)
                if hint:
                    raise CheckFailed(
                        f"{text}: grads[{name!r}] should have shape {params[name].shape} "
                        f"(like params[{name!r}]) but has shape {value.shape}, {hint}"
                    )
    transposed = {
        f"W{layer}": f", e.g. {'x' if layer == 1 else f'z{layer - 1}'}.T @ delta{layer}"
        for layer in range(1, count + 1)
    }
    expect_grads_dict("gradients_deep", text, got, params, names, transposed)
    return dict(got)


def _deep_net(salt: int, n: int, sizes: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, dict]:
    rng = case_rng(salt)
    x = rng.normal(size=(n, sizes[0]))
    t = np.eye(sizes[-1])[rng.integers(0, sizes[-1], size=n)]
    return x, t, _deep_params(salt + 1, sizes)


@checker("3.3", uses=("gradients_deep",))
def check_gradients_deep(gradients_deep: Callable) -> None:
    """Task 3.3: backprop through L = 1…4 layers matches the numerical gradient."""
    two_layers_passed = False
    for salt, (n, sizes) in enumerate(_BACKPROP_NETS):
        x, t, params = _deep_net(340 + 2 * salt, n, sizes)
        count = len(sizes) - 1
        text = _net_text(sizes, n)
        got = _call_deep(gradients_deep, text, x, t, params, sizes, two_layers_passed)
        want = numerical_param_grads(partial(_deep_loss, x, t), copy_params(params), 1e-5)
        names = list(params)
        if _close_grads(got, want, names):
            two_layers_passed = two_layers_passed or count == 2
            continue
        if _close_grads(got, want, names, -1.0):
            raise CheckFailed(
                f"{text}: every gradient has the wrong sign; the output delta is (y − t)/N, "
                "not (t − y)/N"
            )
        if _close_grads(got, want, names, float(n)):
            raise CheckFailed(
                f"{text}: every gradient is {n} (= N) times too large; the loss is the mean "
                "over the batch, so divide the output delta (y − t) by N"
            )
        if count > 1:
            hidden = [p for p in names if p not in (f"W{count}", f"b{count}")]
            if _close_grads(got, _deep_backprop(x, t, params, "no_sigmoid_grad"), hidden):
                raise CheckFailed(
                    f"{text}: the gradients below the output layer miss the sigmoid's "
                    "derivative; going down from layer l to l − 1, multiply δ_l W_lᵀ by "
                    "z_{l−1} ⊙ (1 − z_{l−1})"
                )
            if _close_grads(got, _deep_backprop(x, t, params, "sigmoid_twice"), hidden):
                raise CheckFailed(
                    f"{text}: the gradients below the output layer use σ(z)·(1 − σ(z)) with z "
                    "a hidden layer's *output*: that applies the sigmoid twice. z_{l−1} already "
                    "is σ(a_{l−1}), so its derivative is z_{l−1} ⊙ (1 − z_{l−1})"
                )
            if _close_grads(got, _deep_backprop(x, t, params, "grad_above"), hidden):
                raise CheckFailed(
                    f"{text}: the sigmoid's derivative is taken at the wrong layer: going from "
                    "layer l to l − 1, first multiply by W_lᵀ, then by z_{l−1} ⊙ (1 − z_{l−1}), "
                    "the derivative at the output z_{l−1} of layer l − 1 (not z_l)"
                )
        top_wrong = next(p for p in reversed(names) if not _close_grads(got, want, [p]))
        error = relative_error(got[top_wrong], want[top_wrong])
        where = tuple(int(i) for i in np.unravel_index(int(np.argmax(error)), error.shape))
        raise CheckFailed(
            f"{text}: {_layer_hint(got, want, count)} (grads[{top_wrong!r}] has relative error "
            f"{error[where]:.1e} at index {where} against the numerical gradient)"
        )
