"""Checkers for assignment 02 · Softmax and cross-entropy (and one softmax-regression step).

The checkers compare the learner's functions with float64 references written here, on
non-square batches from several seeds, with scores large enough to overflow ``exp``
(±1000) and rows whose scales differ by hundreds (so a maximum taken over the whole
batch instead of each row shows up), and name the typical mistake when they recognise
one: no max subtraction, the wrong axis, a sum instead of a mean, a gradient with the
wrong sign or without the 1/N. Task 2.2's exact cross-entropy from the scores is checked
on a sample whose true class scores 800 below the others, where lesson 02's guarded loss
is capped near 16.1 and np.log(softmax(a)) is infinite.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import (
    CheckFailed,
    argmax_index,
    call,
    call_keeping,
    case_rng,
    expect_array,
    relative_error,
)

# ----------------------------------------------------------------------------- references


def _softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64. a: (..., K)."""
    a = np.asarray(a, np.float64)
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    y: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return y


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    encoded: np.ndarray = np.eye(k)[labels]
    return encoded


def _cross_entropy(y: np.ndarray, t: np.ndarray, eps: float = 1e-7) -> float:
    """Mean over the batch of −Σ_k t_k log y_k. y: (N, K); t: (N, K) one-hot or (N,) labels."""
    y = np.asarray(y, np.float64)
    if t.ndim == 1:
        t = _one_hot(t, y.shape[1])
    return float(-(t * np.log(np.maximum(y, eps))).sum() / y.shape[0])


def _scalar(name: str, value: object) -> float:
    """``value`` as a float, failing when it is not a single number."""
    if isinstance(value, np.ndarray) and value.size != 1:
        raise CheckFailed(
            f"{name} should return one number but returned an array of shape "
            f"{value.shape}; sum over classes and average over samples"
        )
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CheckFailed(f"{name} should return a number but returned {value!r}") from None


def _worst(got: np.ndarray, want: np.ndarray) -> str:
    error = relative_error(got, want)
    where = argmax_index(error)
    return (
        f"relative error {error[where]:.0e} at index {where} "
        f"(got {got[where]:.6g}, expected {want[where]:.6g})"
    )


def _close(got: np.ndarray, want: np.ndarray, rtol: float = 1e-6) -> bool:
    return got.shape == want.shape and bool(np.allclose(got, want, rtol=rtol, atol=1e-10))


# ----------------------------------------------------------------------------- task 2.1


def _log_softmax(a: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax in float64: a − max − log Σ exp(a − max). a: (..., K)."""
    a = np.asarray(a, np.float64)
    shifted = a - a.max(axis=-1, keepdims=True)
    log_y: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return log_y


def _log_softmax_cases() -> list[tuple[str, np.ndarray]]:
    rng = case_rng(20)
    mixed = rng.normal(size=(3, 5))
    mixed[1] += 1000.0  # one row of huge scores...
    mixed[2] -= 1000.0  # ...and one of hugely negative ones, in the same batch
    tiny = rng.normal(size=(2, 4))
    tiny[:, 1] -= 800.0  # exp(−800) underflows to 0: its log must still be about −800
    return [
        ("log_softmax([1010, 1000, 990])", np.array([1010.0, 1000.0, 990.0])),
        ("log_softmax of a (4, 3) batch", rng.normal(size=(4, 3))),
        ("log_softmax of a (2, 7) batch", 3 * rng.normal(size=(2, 7))),
        ("log_softmax of a (3, 5) batch whose rows are near 0, +1000 and -1000", mixed),
        ("log_softmax of a (2, 4) batch with a class 800 below the others", tiny),
        # A wide spread within one row: only the row maximum keeps every exponent <= 0.
        ("log_softmax of a (3, 4) batch with a spread of up to 1660 within a row", _wide_rows()),
    ]


def _wide_rows() -> np.ndarray:
    """Rows whose scores span far more than exp's range (709): max − min and max − mean both
    overflow, so shifting by the row minimum or mean gives inf."""
    rng = case_rng(21)
    rows = rng.normal(size=(3, 4))
    rows[0, :2] = (800.0, -800.0)
    rows[1, 1:3] = (-900.0, 760.0)
    rows[2, 3] = -720.0  # max − min overflows here, max − mean does not: tells the two apart
    return rows


def _shift_hint(a: np.ndarray, got: np.ndarray) -> str | None:
    """Which wrong shift the learner's non-finite pattern matches: the row minimum or mean."""
    if a.ndim != 2:
        return None
    with np.errstate(all="ignore"):
        for what, shift in (
            ("minimum", a.min(axis=-1, keepdims=True)),
            ("mean", a.mean(axis=-1, keepdims=True)),
        ):
            shifted = a - shift
            theirs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            if np.array_equal(np.isfinite(got), np.isfinite(theirs)):
                return (
                    f"it looks like you subtracted each row's {what}: the largest score minus "
                    f"the {what} can still be above 709, where exp() overflows. Subtract the row "
                    "maximum (x.max(axis=-1, keepdims=True)): then every exponent is ≤ 0 and "
                    "the largest term is exactly 1"
                )
    return None


def _nonfinite_hint(a: np.ndarray, got: np.ndarray) -> str:
    """Name the mistake behind a nan or inf in the learner's log-softmax."""
    with np.errstate(all="ignore"):
        naive_log = np.log(_softmax(a))
    if np.isneginf(got).any() and np.array_equal(np.isneginf(got), np.isneginf(naive_log)):
        return (
            "that is np.log(softmax(x)): a probability like exp(−800) underflows to 0 and its "
            "log is −inf. Never take the log of a probability here: compute "
            "(x − max) − log Σ exp(x − max) directly"
        )
    shift = _shift_hint(a, got)
    if shift:
        return shift
    if a.ndim == 2 and np.array_equal(np.isfinite(got), np.isfinite(_global_shift(a))):
        return (
            "subtract each row's own maximum before exp() (x.max(axis=-1, keepdims=True)), "
            "not the maximum of the whole batch"
        )
    return "subtract the row maximum before exp()"


def _global_shift(a: np.ndarray) -> np.ndarray:
    """What a log-softmax that subtracts the maximum of the whole batch returns."""
    with np.errstate(all="ignore"):
        shifted = a - a.max()
        log_y: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        return log_y


@checker("2.1", uses=("log_softmax",))
def check_log_softmax(log_softmax: Callable) -> None:
    """Task 2.1: row-wise log-softmax, finite for any finite scores, (N, K) or (K,)."""
    for text, a in _log_softmax_cases():
        want = _log_softmax(a)
        with np.errstate(all="ignore"):  # the learner's overflow is reported in words below
            got = call_keeping(
                log_softmax, a, example="shifted = x - x.max(axis=-1, keepdims=True)"
            )
        got = expect_array(text, got)
        if got.shape != want.shape:
            raise CheckFailed(f"{text} should have shape {want.shape} but has shape {got.shape}")
        bad = ~np.isfinite(got)
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            kind = "nan" if np.isnan(got[where]) else str(got[where])
            at = f" at index {where}" if a.ndim > 1 else ""
            raise CheckFailed(f"{text} returned {kind}{at} — {_nonfinite_hint(a, got)}")
        if _close(got, want):
            continue
        if _close(got, np.exp(want)):
            raise CheckFailed(
                f"{text} returned probabilities (each row sums to 1); return their logarithms, "
                "log y = (x − max) − log Σ exp(x − max)"
            )
        with np.errstate(all="ignore"):
            shifted = a - a.max(axis=-1, keepdims=True)
            per_column = shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        if a.ndim == 2 and a.shape[0] > 1 and _close(got, per_column):
            raise CheckFailed(
                f"{text}: the sum of exp runs down the columns (axis=0); sum over each row, "
                "np.exp(shifted).sum(axis=-1, keepdims=True)"
            )
        if _close(got, a - a.max(axis=-1, keepdims=True)):
            raise CheckFailed(
                f"{text} returned x − max only; subtract log Σ exp(x − max) as well, so that "
                "the probabilities exp(log y) sum to 1"
            )
        raise CheckFailed(f"{text} is off: {_worst(got, want)}")


# ----------------------------------------------------------------------------- task 2.2


def _ce_from_scores(a: np.ndarray, t: np.ndarray) -> float:
    """Mean cross-entropy of softmax(a) from log-probabilities, no guard. a: (N, K);
    t: (N, K) one-hot or (N,) labels."""
    logp = _log_softmax(a)
    n = a.shape[0]
    if t.ndim == 1:
        return float(-logp[np.arange(n), t].sum() / n)
    return float(-np.sum(t * logp) / n)


def _ce_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(setting, scores a, targets t): each batch with one-hot targets and with labels."""
    rng = case_rng(22)
    batches = []
    for n, k, scale in ((4, 3, 1.0), (6, 10, 3.0), (1, 5, 1.0)):
        batches.append((f"scores a of shape {(n, k)}", scale * rng.normal(size=(n, k))))
    far = rng.normal(size=(3, 4))
    far[1] += 1000.0
    far[2] -= 1000.0
    labels_far = rng.integers(0, 4, size=3)
    far[0, labels_far[0]] -= 800.0  # sample 0: its true class scores about 800 below the others
    batches.append(
        (
            "scores a of shape (3, 4) whose rows are near 0, +1000 and -1000, with the true "
            "class of sample 0 about 800 below the others",
            far,
        )
    )
    cases = []
    for setting, a in batches:
        n, k = a.shape
        labels = np.asarray(labels_far if a is far else rng.integers(0, k, size=n))
        cases.append((f"{setting} and one-hot t of shape {(n, k)}", a, _one_hot(labels, k)))
        cases.append((f"{setting} and integer labels t of shape {(n,)}", a, labels))
    return cases


def _ce_from_scores_hint(got: float, a: np.ndarray, t: np.ndarray, want: float) -> str:
    """Name the typical mistake that explains the learner's value ``got``, or ''."""
    n, k = a.shape
    labels = t if t.ndim == 1 else t.argmax(axis=1)
    y = _softmax(a)
    logp = _log_softmax(a)

    def same(value: float) -> bool:
        return bool(np.isclose(got, value, rtol=1e-6, atol=1e-9))

    capped = [
        _cross_entropy(y, labels, eps=1e-7),
        float(-np.log(y[np.arange(n), labels] + 1e-7).sum() / n),
    ]
    if any(same(value) for value in capped):
        worst = float(np.max(-logp[np.arange(n), labels]))
        if worst > 16.2:
            return (
                "; that is lesson 02's guarded loss, log max(y, 1e-7): it caps the cost of a "
                f"sample at −log 1e-7 ≈ 16.1, where the exact cost here is up to {worst:.0f}. "
                "Compute the log-probabilities with your log_softmax and never take the log of "
                "a probability"
            )
        return (
            "; that is lesson 02's guarded log of the probabilities, log(y + 1e-7) or "
            "log max(y, 1e-7): the guard shifts the costs a little here, and caps them at "
            "−log 1e-7 ≈ 16.1 where a sample is confidently wrong. Compute the "
            "log-probabilities with your log_softmax and never take the log of a probability"
        )
    if same(-want):
        return "; the loss must be positive: −Σ t·log y (the log of a probability is negative)"
    if n > 1 and same(want * n):
        return "; that is the sum over the batch: divide by the number of samples N"
    if same(want / k):
        return "; you averaged over all N·K entries: sum over the classes, average over samples"
    if t.ndim == 1 and n > 1:
        block = logp[:, labels]  # (N, N): every row at every sample's label
        if same(float(-block.mean())) or same(float(-block.sum() / n)):
            return (
                "; logp[:, t] picks the column t[j] for every row, an N×N block; pick one "
                "element per row: logp[np.arange(N), t]"
            )
    if t.ndim == 1:
        return (
            "; t holds integer labels here: the loss is −mean over n of logp[n, t[n]], "
            "e.g. logp[np.arange(N), t]"
        )
    return ""


@checker("2.2", uses=("cross_entropy_from_scores",))
def check_cross_entropy_from_scores(cross_entropy_from_scores: Callable) -> None:
    """Task 2.2: the mean cross-entropy from the scores through log-probabilities, exact (no
    guard, no cap), one-hot or label targets."""
    for setting, a, t in _ce_cases():
        text = f"cross_entropy_from_scores(a, t) for {setting}"
        n = a.shape[0]
        try:
            with np.errstate(all="ignore"):  # the learner's overflow is reported in words below
                value = call_keeping(cross_entropy_from_scores, a, t, example="logp = a - ...")
        except (ValueError, IndexError) as err:
            kind = (
                "integer labels (N,): pick logp[np.arange(N), t]"
                if t.ndim == 1
                else "one-hot rows (N, K): −Σ t·logp / N"
            )
            raise CheckFailed(
                f"{text} raised {type(err).__name__}: {err}. t may hold one-hot rows (N, K) or "
                f"integer labels (N,), and t.ndim tells them apart; here it holds {kind}"
            ) from None
        if isinstance(value, np.ndarray) and value.shape in ((n,), (n, n)) and n > 1:
            hint = (
                "one loss per sample: return their mean, one number"
                if value.shape == (n,)
                else "an N×N block (logp[:, t] picks column t[j] for every row): pick one "
                "element per row, logp[np.arange(N), t], and return their mean"
            )
            raise CheckFailed(f"{text} returned an array of shape {value.shape}, {hint}")
        got = _scalar(text, value)
        want = _ce_from_scores(a, t)
        if not np.isfinite(got):
            raise CheckFailed(
                f"{text} returned {got}; expected {want:.6g} — that is what np.log(softmax(a)) "
                "gives: exp(−800) underflows to 0 and log(0) is −inf. Use your log_softmax of "
                "Task 2.1, which never takes the log of a probability"
            )
        if np.isclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        hint = _ce_from_scores_hint(got, a, t, want)
        raise CheckFailed(f"{text} returned {got:.10g}; expected {want:.10g}{hint}")


# ----------------------------------------------------------------------------- task 2.3


def _grad_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    cases = []
    for seed, (n, k, scale) in enumerate(((4, 3, 1.0), (7, 10, 3.0), (5, 4, 1000.0))):
        rng = case_rng(230 + seed)
        a = scale * rng.normal(size=(n, k))
        labels = rng.integers(0, k, size=n)
        cases.append(
            (f"scores a of shape {(n, k)} (scale {scale:g}), one-hot t", a, _one_hot(labels, k))
        )
        cases.append((f"scores a of shape {(n, k)} (scale {scale:g}), integer labels t", a, labels))
    return cases


@checker("2.3", uses=("softmax_cross_entropy_gradient",))
def check_softmax_cross_entropy_gradient(softmax_cross_entropy_gradient: Callable) -> None:
    """Task 2.3: dL/da = (softmax(a) − t) / N for L the mean cross-entropy of softmax(a)."""
    for setting, a, t in _grad_cases():
        text = f"softmax_cross_entropy_gradient(a, t) for {setting}"
        with np.errstate(all="ignore"):
            got = call_keeping(
                softmax_cross_entropy_gradient, a, t, example="return (y - t) / n, not y -= t"
            )
        got = expect_array(text, got)
        n, k = a.shape
        t1 = t if t.ndim == 2 else _one_hot(t, k)
        y = _softmax(a)
        want = (y - t1) / n
        if got.shape != want.shape:
            hint = "; the gradient has one entry per score: shape (N, K) like a"
            raise CheckFailed(f"{text} should have shape {want.shape} but has {got.shape}{hint}")
        if not np.isfinite(got).all():
            raise CheckFailed(
                f"{text} contains nan or inf — compute softmax(a) stably (subtract each row's "
                "maximum before exp())"
            )
        if _close(got, want):
            continue
        hint = ""
        if _close(got, -want):
            hint = "; wrong sign of the gradient: it is y − t (predicted minus target)"
        elif n > 1 and _close(got, want * n):
            hint = (
                "; it is N times too large: the loss is the mean over the batch, "
                "so divide y − t by N"
            )
        elif _close(got, (a - t1) / n):
            hint = "; use the probabilities y = softmax(a), not the raw scores a"
        elif k != n and _close(got, (y - t1) / k):
            hint = (
                f"; the numbers are exactly (y − t) / {k}: you divided by K, the number of "
                f"classes, but the loss is a mean over the N = {n} samples, so divide by N"
            )
        raise CheckFailed(f"{text} is off: {_worst(got, want)}{hint}")


# ----------------------------------------------------------------------------- task 2.4


def _reference_step(params: dict, x: np.ndarray, t: np.ndarray, lr: float) -> tuple[dict, float]:
    W, b = params["W"], params["b"]
    y = _softmax(x @ W + b)
    loss = _ce_from_scores(x @ W + b, t)
    t1 = t if t.ndim == 2 else _one_hot(t, W.shape[1])
    da = (y - t1) / len(x)
    return {"W": W - lr * x.T @ da, "b": b - lr * da.sum(axis=0)}, loss


@checker("2.4", uses=("train_step",))
def check_train_step(train_step: Callable) -> None:
    """Task 2.4: one gradient-descent step of softmax regression; returns the loss before it."""
    for seed, (n, d, k, labels_form) in enumerate(((5, 6, 4, False), (8, 3, 5, True))):
        rng = case_rng(240 + seed)
        x = rng.normal(size=(n, d))
        labels = rng.integers(0, k, size=n)
        t = labels if labels_form else _one_hot(labels, k)
        params = {"W": rng.normal(size=(d, k)), "b": rng.normal(size=k)}
        start = {name: value.copy() for name, value in params.items()}
        lr = 0.5
        want, want_loss = _reference_step(start, x, t, lr)
        target = "integer labels" if labels_form else "one-hot targets"
        text = f"train_step(params, x, t, lr={lr}) with x of shape {(n, d)}, W {(d, k)}, {target}"
        loss = call(train_step, params, x, t, lr)
        if loss is None:
            raise CheckFailed(f"{text} returned None; return the loss (a float)")
        loss = _scalar(text, loss)
        for name in ("W", "b"):
            if name not in params:
                raise CheckFailed(f"{text} removed params[{name!r}]")
            got = np.asarray(params[name])
            if got.shape != want[name].shape:
                raise CheckFailed(
                    f"after {text}, params[{name!r}] has shape {got.shape} but should keep its "
                    f"shape {want[name].shape}"
                    + ("; sum dL/da over the batch axis for the bias" if name == "b" else "")
                )
        if np.array_equal(params["W"], start["W"]) and np.array_equal(params["b"], start["b"]):
            raise CheckFailed(
                f"{text} did not change params; update them: params['W'] -= lr * grad_W "
                "(likewise b)"
            )
        step = {name: start[name] - want[name] for name in ("W", "b")}  # = lr * gradient
        for name in ("W", "b"):
            got = np.asarray(params[name], np.float64)
            if _close(got, want[name]):
                continue
            hint = ""
            if _close(got, start[name] + step[name]):
                hint = "; you moved uphill: subtract lr * gradient"
            elif _close(got, start[name] - n * step[name]):
                hint = "; the step is N times too large: divide y − t by the batch size N"
            elif name == "b" and n > 1 and _close(got, start[name] - step[name] / n):
                hint = (
                    f"; params['b'] moved exactly 1/{n} of the right step: you took the mean of "
                    "dL/da over the batch for the bias, but dL/da = (y − t) / N already holds "
                    "the 1/N, so sum it: db = da.sum(axis=0)"
                )
            elif _close(got, start[name] - step[name] / lr):
                hint = "; the learning rate is missing: multiply the gradient by lr"
            raise CheckFailed(
                f"after {text}, params[{name!r}] is off: {_worst(got, want[name])}{hint}"
            )
        if not np.isclose(loss, want_loss, rtol=1e-5):
            after = _ce_from_scores(x @ want["W"] + want["b"], t)
            hint = (
                "; that is the loss after the update: return the loss of the forward pass "
                "the gradient came from"
                if np.isclose(loss, after, rtol=1e-5)
                else ""
            )
            raise CheckFailed(f"{text} returned loss {loss:.6g}; expected {want_loss:.6g}{hint}")
