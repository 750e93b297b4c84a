"""Checkers for assignment 08 · Regularization.

Task 8.1 is the L1 + L2 penalty of a parameter dict and its gradient, task 8.2 inverted
dropout of whole channels, task 8.3 the batch-norm gradient of x, task 8.4 an
early-stopping rule that keeps copies of the best weights. Every test input comes from
:func:`~dlcourse.checks.tools.case_rng`; every reference is float64 code written here.
The messages name the mistakes lesson 08 warns about: penalised biases, a lost ½, sign
versus value in L1, survivors not scaled or scaled at inference, single values dropped
instead of channels, μ and σ² treated as constants, ties counted as improvements and
weights stored by reference.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import (
    CheckFailed,
    call,
    case_rng,
    copy_params,
    expect_array,
    expect_close,
    expect_finite,
    expect_params_unchanged,
)

# ----------------------------------------------------------------------------- task 8.1


def _penalised(name: str) -> bool:
    """Weights are penalised, biases (and BatchNorm's gamma, beta) are not."""
    return name.rsplit(".", 1)[-1].startswith("W")


def _reference_penalty(
    params: dict[str, np.ndarray], l1: float, l2: float
) -> tuple[float, dict[str, np.ndarray]]:
    value = sum(
        l1 * np.abs(p).sum() + l2 / 2 * (p**2).sum() for n, p in params.items() if _penalised(n)
    )
    grads = {
        n: (l1 * np.sign(p) + l2 * p) if _penalised(n) else np.zeros_like(p)
        for n, p in params.items()
    }
    return float(value), grads


def _penalty_cases() -> list[tuple[dict[str, np.ndarray], float, float]]:
    rng = case_rng(801)
    cases = []
    for names, l1, l2 in [
        (("W1", "b1", "W2", "b2"), 0.0, float(rng.uniform(0.05, 0.5))),
        (("affine1.W", "affine1.b", "affine2.W", "affine2.b"), float(rng.uniform(0.05, 0.5)), 0.0),
        (("W1", "b1", "gamma1", "beta1", "W2", "b2"), *rng.uniform(0.05, 0.5, size=2)),
    ]:
        params = {}
        for k, name in enumerate(names):
            shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6))) if "W" in name else (3 + k,)
            params[name] = rng.normal(size=shape)
        cases.append((params, float(l1), float(l2)))
    return cases


def _describe_penalty_value(
    got: float, want: float, params: dict[str, np.ndarray], l1: float, l2: float
) -> str:
    with_biases = sum(l1 * np.abs(p).sum() + l2 / 2 * (p**2).sum() for p in params.values())
    if np.isclose(got, with_biases):
        return "you penalised the biases too; only the weights W are penalised, not b (or γ, β)"
    no_half = _reference_penalty(params, l1, 2 * l2)[0]
    if l2 and np.isclose(got, no_half):
        return "the L2 term is λ2/2 · ΣW² (with the ½), you computed λ2 · ΣW²"
    if l1 and np.isclose(got, _reference_penalty(params, 0.0, 2 * l1)[0]):
        return "the L1 term is λ1 · Σ|W|, the sum of absolute values, not of squares"
    return f"expected {want:.6g}, got {got:.6g}"


@checker("8.1", uses=("penalty_and_gradient",))
def check_penalty_and_gradient(penalty_and_gradient: Callable[..., Any]) -> None:
    """Task 8.1: value λ1·Σ|W| + λ2/2·ΣW² over the W arrays, gradient for every parameter."""
    for params, l1, l2 in _penalty_cases():
        text = f"penalty_and_gradient(params with {list(params)}, l1={l1:.3g}, l2={l2:.3g})"
        before = copy_params(params)
        result = call(penalty_and_gradient, params, l1=l1, l2=l2)
        expect_params_unchanged(penalty_and_gradient, before, params)
        if not isinstance(result, tuple) or len(result) != 2:
            raise CheckFailed(f"{text} should return a tuple (value, grads), got {result!r:.80}")
        value, grads = result
        want_value, want_grads = _reference_penalty(params, l1, l2)
        if not np.isscalar(value) and np.ndim(value) != 0:
            raise CheckFailed(
                f"{text}: the value should be one number, got shape {np.shape(value)}"
            )
        if not np.isfinite(float(value)) or not np.isclose(float(value), want_value, rtol=1e-6):
            reason = _describe_penalty_value(float(value), want_value, params, l1, l2)
            raise CheckFailed(f"{text}: the penalty value is wrong: {reason}")
        if not isinstance(grads, dict) or set(grads) != set(params):
            keys = sorted(grads) if isinstance(grads, dict) else type(grads).__name__
            raise CheckFailed(
                f"{text}: grads should be a dict with one array per parameter {sorted(params)} "
                f"(zeros for the biases), got {keys}"
            )
        for name, want in want_grads.items():
            got = expect_array(f"grads[{name!r}]", grads[name], want.shape)
            expect_finite(f"grads[{name!r}]", got)
            if np.allclose(got, want, rtol=1e-6, atol=1e-12):
                continue
            p = params[name]
            if not _penalised(name):
                kind = "a bias" if name.rsplit(".", 1)[-1].startswith("b") else "not a weight W"
                hint = f"{name} is {kind}, so it is not penalised: its penalty gradient is 0"
            elif l2 and np.allclose(got, l1 * np.sign(p) + 2 * l2 * p):
                hint = "the gradient of λ2/2 · ΣW² is λ2·W, not 2·λ2·W (the ½ cancels the 2)"
            elif l1 and np.allclose(got, l1 * np.abs(p) + l2 * p):
                hint = "the gradient of λ1·|W| is λ1·sign(W), not λ1·|W|"
            elif l1 and np.allclose(got, l1 * p + l2 * p):
                hint = "the gradient of λ1·|W| is λ1·sign(W): the same size for every weight"
            else:
                hint = "dW = λ1·sign(W) + λ2·W"
            expect_close(f"{text}: grads[{name!r}]", got, want, rtol=1e-6, hint=hint)


# ----------------------------------------------------------------------------- task 8.2


def _maps_state(out: np.ndarray, x: np.ndarray, ratio: float) -> str:
    """'ok', or the name of the mistake seen in a training-mode forward output."""
    zero = out == 0
    whole = zero.all(axis=(2, 3)) | ~zero.any(axis=(2, 3))
    if not whole.all():
        return "partial"
    kept = ~zero.all(axis=(2, 3))
    if not kept.any():
        return "all dropped"
    factor = out[kept] / x[kept]
    if np.allclose(factor, 1 / (1 - ratio)):
        return "ok"
    if np.allclose(factor, 1):
        return "unscaled"
    if np.allclose(factor, 1 - ratio):
        return "scaled down"
    if np.allclose(factor, 1 / ratio):
        return "keep probability"
    return "other scale"


_FORWARD_HINTS = {
    "partial": "some channels are only partly zero: drop whole channels, with one mask value "
    "per (sample, channel), a mask of shape (N, C, 1, 1)",
    "all dropped": "every channel was dropped",
    "unscaled": "the kept channels are not scaled: inverted dropout multiplies them by "
    "1/(1 − ratio) at training time, so the expected output equals x",
    "scaled down": "the kept channels are multiplied by (1 − ratio); inverted dropout divides "
    "by it: multiply by 1/(1 − ratio)",
    "keep probability": "the kept channels are scaled by 1/ratio: ratio is the probability of "
    "*dropping* a channel, so keep it with probability 1 − ratio and scale by 1/(1 − ratio)",
    "other scale": "the kept channels should be x · 1/(1 − ratio)",
}


@checker("8.2", uses=("ChannelDropout",))
def check_channel_dropout(ChannelDropout: Callable[..., Any]) -> None:
    """Task 8.2: whole (sample, channel) maps dropped with probability ratio, survivors scaled."""
    rng = case_rng(802)
    for ratio, shape in [(0.3, (40, 25, 3, 4)), (0.6, (30, 40, 2, 5))]:
        x = rng.uniform(0.5, 2.0, size=shape)  # never 0, so a zero means "dropped"
        layer = ChannelDropout(ratio, int(rng.integers(1_000_000)))
        text = f"ChannelDropout({ratio}) on x of shape {shape}"
        out = expect_array(f"{text}: forward(x)", call(layer.forward, x), shape)
        if getattr(layer, "training", None) is not True:
            raise CheckFailed(
                f"{text}: a new layer should start in training mode (training = True)"
            )
        state = _maps_state(out, x, ratio)
        if state != "ok":
            raise CheckFailed(f"{text}: {_FORWARD_HINTS[state]}")
        dropped = float((out == 0).all(axis=(2, 3)).mean())
        if abs(dropped - (1 - ratio)) < 0.07 and abs(ratio - 0.5) > 0.1:
            raise CheckFailed(
                f"{text}: {dropped:.0%} of the channels were dropped, about 1 − ratio: ratio "
                "is the probability of *dropping* a channel, not of keeping it"
            )
        if abs(dropped - ratio) > 0.07:
            raise CheckFailed(
                f"{text}: {dropped:.0%} of the channels were dropped; each should be dropped "
                f"with probability {ratio} (keep it where a uniform draw is >= ratio)"
            )
        mask = out / x
        dout = rng.normal(size=shape)
        dx = expect_array(f"{text}: backward(dout)", call(layer.backward, dout), shape)
        if np.allclose(dx, dout):
            raise CheckFailed(
                f"{text}: backward returned dout unchanged; multiply it by the mask of forward "
                "(zeros and 1/(1 − ratio))"
            )
        expect_close(
            f"{text}: backward(dout)", dx, dout * mask,
            hint="backward must use the same mask as the forward pass before it, not a new one",
        )  # fmt: skip
        again = call(layer.forward, x)
        if np.array_equal(again, out):
            raise CheckFailed(
                f"{text}: two forward calls dropped the same channels; draw a new mask on every "
                "forward call in training mode (from a generator made once in __init__)"
            )
        layer.training = False
        evaluated = expect_array(f"{text}: forward(x) in evaluation mode", call(layer.forward, x))
        if np.allclose(evaluated, x * (1 - ratio)):
            raise CheckFailed(
                f"{text}: you scaled at inference too: inverted dropout scales only at training "
                "time, so evaluation mode returns x unchanged"
            )
        if not np.allclose(evaluated, x):
            raise CheckFailed(
                f"{text}: in evaluation mode (training = False) forward should return x "
                "unchanged: nothing is dropped at inference"
            )
        dx_eval = expect_array(f"{text}: backward in evaluation mode", call(layer.backward, dout))
        expect_close(
            f"{text}: backward(dout) in evaluation mode", dx_eval, dout,
            hint="in evaluation mode forward is the identity, so backward returns dout",
        )  # fmt: skip


# ----------------------------------------------------------------------------- task 8.3


def _reference_bn_backward(
    dout: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu = x.mean(axis=0)
    std = np.sqrt(((x - mu) ** 2).mean(axis=0) + eps)
    x_hat = (x - mu) / std
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
    return dx, dgamma, dbeta


UNBIASED_HINT = "the batch variance is the mean over N (np.var's default), not over N − 1"


def _bn_dx_hint(
    dx: np.ndarray, dout: np.ndarray, x: np.ndarray, gamma: np.ndarray, eps: float
) -> str:
    mu = x.mean(axis=0)
    std = np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - mu) / std
    dx_hat = dout * gamma
    if np.allclose(dx, dx_hat / std):
        return (
            "you treated μ and σ² as constants (dx = dout·γ/σ); both depend on every x_n, "
            "so subtract the mean of dx̂ and x̂ times the mean of dx̂·x̂"
        )
    if np.allclose(dx, (dx_hat - dx_hat.mean(axis=0)) / std):
        return "you kept the path through μ but not through σ²: the variance depends on x too"
    if np.allclose(dx, (dx_hat - x_hat * (dx_hat * x_hat).mean(axis=0)) / std):
        return "you kept the path through σ² but not through μ: the mean depends on x too"
    n = x.shape[0]
    std_unbiased = np.sqrt(x.var(axis=0, ddof=1) + eps)
    if n > 1 and not np.allclose(std_unbiased, std):
        x_hat_u = (x - mu) / std_unbiased
        for scale in (1.0, n / (n - 1)):
            u = dx_hat - dx_hat.mean(axis=0) - scale * x_hat_u * (dx_hat * x_hat_u).mean(axis=0)
            if np.allclose(dx, u / std_unbiased, rtol=1e-4):
                return UNBIASED_HINT
    return "dx = (dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)) / √(σ² + ε) with dx̂ = dout·γ"


@checker("8.3", uses=("batchnorm_backward",))
def check_batchnorm_backward(batchnorm_backward: Callable[..., Any]) -> None:
    """Task 8.3: dx, dgamma, dbeta of training-mode batch normalisation for x: (N, D)."""
    rng = case_rng(803)
    eps = 1e-5
    for n, d in [(5, 3), (8, 7), (2, 4)]:
        x = rng.normal(
            loc=rng.uniform(-3, 3, size=d), scale=rng.uniform(0.5, 3, size=d), size=(n, d)
        )
        gamma = rng.uniform(0.5, 2.0, size=d)
        dout = rng.normal(size=(n, d))
        text = f"batchnorm_backward for x of shape {(n, d)}"
        result = call(batchnorm_backward, dout, x, gamma, eps=eps)
        if not isinstance(result, tuple) or len(result) != 3:
            raise CheckFailed(
                f"{text} should return a tuple (dx, dgamma, dbeta), got {result!r:.80}"
            )
        dx, dgamma, dbeta = result
        want_dx, want_dgamma, want_dbeta = _reference_bn_backward(dout, x, gamma, eps)
        expect_array(f"{text}: dbeta", dbeta)
        if np.shape(dbeta) == (d,) and np.allclose(dbeta * n, want_dbeta):
            raise CheckFailed(
                f"{text}: dbeta is the mean of dout over the batch; β is added to every "
                "sample, so its gradient is the sum: dout.sum(axis=0)"
            )
        expect_close(f"{text}: dbeta", dbeta, want_dbeta, hint="dbeta = dout.sum(axis=0)")
        expect_array(f"{text}: dgamma", dgamma)
        if np.shape(dgamma) == (d,) and np.allclose(dgamma, (dout * x).sum(axis=0)):
            raise CheckFailed(
                f"{text}: dgamma used x; γ multiplies the normalised x̂, so dgamma = Σ dout·x̂"
            )
        x_hat_unbiased = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0, ddof=1) + eps)
        if np.shape(dgamma) == (d,) and np.allclose(dgamma, (dout * x_hat_unbiased).sum(axis=0)):
            raise CheckFailed(f"{text}: dgamma is off because σ² is: {UNBIASED_HINT}")
        expect_close(
            f"{text}: dgamma", dgamma, want_dgamma, hint="dgamma = (dout * x_hat).sum(axis=0)"
        )
        dx = expect_array(f"{text}: dx", dx, (n, d))
        expect_finite(f"{text}: dx", dx)
        if not np.allclose(dx, want_dx, rtol=1e-5, atol=1e-8):
            expect_close(
                f"{text}: dx (against the numerical gradient)", dx, want_dx,
                hint=_bn_dx_hint(dx, dout, x, gamma, eps),
            )  # fmt: skip


# ----------------------------------------------------------------------------- task 8.4


def _reference_stop_epoch(accuracies: list[float], patience: int) -> tuple[int, int]:
    """(epoch it stops at, best epoch), epochs counted from 1; improvement means strictly higher."""
    best, best_epoch, bad = -np.inf, 0, 0
    for epoch, acc in enumerate(accuracies, start=1):
        if acc > best:
            best, best_epoch, bad = acc, epoch, 0
        else:
            bad += 1
            if bad >= patience:
                return epoch, best_epoch
    return len(accuracies), best_epoch


def _accuracy_sequences(rng: np.random.Generator) -> list[tuple[list[float], int]]:
    """Validation accuracies with plateaus, exact ties and a late improvement."""
    rise = list(np.round(np.linspace(0.80, 0.90, 5) + rng.uniform(0, 0.004, 5), 4))
    tie_then_drop = [*rise, rise[-1], rise[-1] - 0.01, rise[-1] - 0.02, rise[-1]]
    late = [*rise, rise[-1] - 0.01, rise[-1] + 0.01, rise[-1] - 0.02, rise[-1], rise[-1] - 0.03]
    late += [rise[-1] - 0.01, rise[-1] - 0.01, rise[-1] - 0.04, rise[-1] - 0.05]
    return [(tie_then_drop, 3), (late, 3), (late, 2), (late, 1)]


def _run_stopper(
    EarlyStopper: Callable[..., Any],
    accuracies: list[float],
    patience: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    stopper = EarlyStopper(patience)
    params = {"W1": rng.normal(size=(4, 3)), "b1": rng.normal(size=3)}
    history, stopped_at = [], None
    for epoch, acc in enumerate(accuracies, start=1):
        # the "optimizer": a new step changes the arrays in place before each evaluation
        params["W1"] += rng.normal(size=(4, 3))
        params["b1"] += rng.normal(size=3)
        history.append({k: v.copy() for k, v in params.items()})
        if stopper.update(float(acc), params):
            stopped_at = epoch
            break
    return {"stopper": stopper, "stopped_at": stopped_at, "history": history, "params": params}


@checker("8.4", uses=("EarlyStopper",))
def check_early_stopper(EarlyStopper: Callable[..., Any]) -> None:
    """Task 8.4: stop after `patience` epochs without a strictly better accuracy, keep copies."""
    rng = case_rng(804)
    for accuracies, patience in _accuracy_sequences(rng):
        want_stop, want_best = _reference_stop_epoch(accuracies, patience)
        got = _run_stopper(EarlyStopper, accuracies, patience, rng)
        shown = ", ".join(f"{a:.3f}" for a in accuracies[: max(want_stop, got["stopped_at"] or 0)])
        text = f"EarlyStopper({patience}) fed the accuracies {shown}"
        stopped_at = got["stopped_at"]
        if stopped_at != want_stop:
            after = "never stopped" if stopped_at is None else f"stopped at epoch {stopped_at}"
            ties = any(b == a for a, b in pairwise(accuracies))
            hint = f"stop once {patience} epoch(s) in a row brought no improvement"
            if stopped_at is None or stopped_at > want_stop:
                hint += ": stop as soon as the count of such epochs reaches patience" + (
                    "; and an equal accuracy is not an improvement (use >, not >=)" if ties else ""
                )
            else:
                hint += ": reset that count to 0 whenever the accuracy improves"
            raise CheckFailed(f"{text}: {after}, expected epoch {want_stop}; {hint}")
        stopper = got["stopper"]
        best_epoch = getattr(stopper, "best_epoch", None)
        if best_epoch != want_best:
            hint = " (epochs count from 1)" if best_epoch == want_best - 1 else ""
            if (
                best_epoch is not None
                and best_epoch > want_best
                and accuracies[best_epoch - 1] == accuracies[want_best - 1]
            ):
                hint = (
                    "; an equal accuracy is not an improvement: keep the first best epoch "
                    "(>, not >=)"
                )
            raise CheckFailed(f"{text}: best_epoch is {best_epoch}, expected {want_best}{hint}")
        best = getattr(stopper, "best_params", None)
        if not isinstance(best, dict) or set(best) != {"W1", "b1"}:
            raise CheckFailed(f"{text}: best_params should be a dict with the keys of params")
        for name in ("W1", "b1"):
            # Stored by reference, the "best" weights follow every later step in place;
            # compared by value, so that the grader (which sees values only) agrees.
            stored, latest = np.asarray(best[name]), got["params"][name]
            wanted = got["history"][want_best - 1][name]
            if (
                stored.shape == latest.shape
                and np.array_equal(stored, latest)
                and not np.array_equal(stored, wanted)
            ):
                raise CheckFailed(
                    f"{text}: best_params[{name!r}] is the very array the optimizer keeps "
                    "changing in place; store copies: {k: v.copy() for k, v in params.items()}"
                )
            expect_close(
                f"{text}: best_params[{name!r}]", best[name], got["history"][want_best - 1][name],
                hint=f"keep a copy of the weights of the best epoch ({want_best})",
            )  # fmt: skip
