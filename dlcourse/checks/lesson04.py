"""Checkers for assignment 04 · MLP on MNIST (stratified mini-batches, forward + loss,
backprop).

The network is ``x (N, D) → affine W1, b1 → ReLU → affine W2, b2 → softmax`` with the
mean cross-entropy loss. The loss is compared with a reference written here, the
gradients with a numerical gradient (central differences in float64) of that reference,
on shapes where D, H and K all differ, so a transposed gradient cannot pass. The batches
are checked for cover, sizes, the class counts per batch and their randomness.
"""

from __future__ import annotations

import inspect
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
    expect_finite,
    expect_grads_close,
    expect_params_unchanged,
    type_name,
)

PARAM_NAMES = ("W1", "b1", "W2", "b2")

# ----------------------------------------------------------------------------- references


def _log_softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - a.max(axis=1, keepdims=True)
    log_y: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return log_y


def _scores(x: np.ndarray, params: dict) -> np.ndarray:
    h = np.maximum(x @ params["W1"] + params["b1"], 0)
    scores: np.ndarray = h @ params["W2"] + params["b2"]
    return scores


def _loss(x: np.ndarray, t: np.ndarray, params: dict) -> float:
    return float(-np.sum(t * _log_softmax(_scores(x, params))) / len(x))


def _grads_variant(x: np.ndarray, t: np.ndarray, params: dict, variant: str) -> dict:
    """Backprop with one typical mistake in the ReLU step, to name it when it is matched."""
    a1 = x @ params["W1"] + params["b1"]
    h = np.maximum(a1, 0)
    a2 = h @ params["W2"] + params["b2"]
    y = np.exp(_log_softmax(a2))
    d2 = (y - t) / len(x)
    dh = d2 @ params["W2"].T
    da1 = {
        "no_mask": dh,
        "relu_of_grad": np.maximum(dh, 0),
        "sigmoid": dh * h * (1 - h),
        "times_h": dh * h,  # the activation itself instead of its 0/1 mask
    }[variant]
    return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": h.T @ d2, "b2": d2.sum(axis=0)}


def _make_net(
    seed: int, n: int, d: int, hidden: int, k: int
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Random x (n, d), one-hot t (n, k) and float64 params of a d-hidden-k ReLU net.

    Drawn from the checker's case generator; a draw with a ReLU input within 1e-4 of its
    kink at 0 (where the one-sided slopes differ and the numerical gradient, step 1e-6,
    would straddle it) is replaced by the next one.
    """
    for attempt in range(100):
        rng = case_rng(1000 * seed + attempt)
        x = rng.normal(size=(n, d))
        t = np.eye(k)[rng.integers(0, k, size=n)]
        params = {
            "W1": rng.normal(size=(d, hidden)) / np.sqrt(d),
            "b1": rng.normal(scale=0.3, size=hidden),
            "W2": rng.normal(size=(hidden, k)) / np.sqrt(hidden),
            "b2": rng.normal(scale=0.3, size=k),
        }
        if np.abs(x @ params["W1"] + params["b1"]).min() > 1e-4:
            return x, t, params
    raise RuntimeError("no network without a ReLU input near 0 in 100 draws")


# ----------------------------------------------------------------------------- task 4.1

# (n, classes, batch_size, class shares): balanced and unbalanced label sets
_BATCH_CASES = (
    (100, 4, 10, None),
    (103, 3, 25, (0.6, 0.3, 0.1)),
    (47, 5, 8, None),
    (60, 2, 7, (0.8, 0.2)),
)


def _labels(salt: int, n: int, classes: int, shares: tuple[float, ...] | None) -> np.ndarray:
    rng = case_rng(salt)
    return rng.choice(classes, size=n, p=shares)


def _as_batches(result: object, text: str) -> list[np.ndarray]:
    if not isinstance(result, (list, tuple)) or not result:
        raise CheckFailed(
            f"{text} should return a non-empty list of index arrays but returned a "
            f"{type_name(result)}"
        )
    batches = [np.asarray(b) for b in result]
    for i, batch in enumerate(batches):
        if batch.ndim != 1 or not np.issubdtype(batch.dtype, np.integer):
            raise CheckFailed(
                f"{text}: batch {i} should be a 1-D array of integer indices but has "
                f"shape {batch.shape} and dtype {batch.dtype}"
            )
    return batches


def _check_cover(batches: list[np.ndarray], n: int, batch_size: int, text: str) -> None:
    """Every index once; ceil(n / batch_size) batches whose sizes differ by at most 1."""
    everything = np.concatenate(batches)
    if everything.min() < 0 or everything.max() >= n:
        raise CheckFailed(f"{text} returned index {everything.max()}; indices go from 0 to {n - 1}")
    counts = np.bincount(everything, minlength=n)
    if counts.max() > 1:
        twice = int(np.argmax(counts))
        raise CheckFailed(
            f"{text}: index {twice} appears {counts[twice]} times in one epoch; every sample "
            "is used exactly once (draw without replacement)"
        )
    if counts.min() == 0:
        missing = np.flatnonzero(counts == 0)
        raise CheckFailed(
            f"{text}: {len(missing)} of the {n} indices never appear (e.g. {missing[0]}); "
            "every sample must be used exactly once per epoch"
        )
    sizes = [len(b) for b in batches]
    wanted = -(-n // batch_size)
    if len(batches) != wanted or max(sizes) > batch_size or max(sizes) - min(sizes) > 1:
        raise CheckFailed(
            f"{text} gave {len(batches)} batches of sizes {sorted(set(sizes))}; expected "
            f"{wanted} = ceil({n} / {batch_size}) batches of at most {batch_size}, whose sizes "
            "differ by at most 1"
        )


def _check_balance(batches: list[np.ndarray], labels: np.ndarray, text: str) -> None:
    """Each class is spread over the batches as evenly as possible: counts differ by ≤ 1."""
    for c in np.unique(labels):
        per_batch = np.array([np.sum(labels[b] == c) for b in batches])
        if per_batch.max() - per_batch.min() > 1:
            raise CheckFailed(
                f"{text}: class {c} has {per_batch.min()} samples in one batch and "
                f"{per_batch.max()} in another; that is a plain shuffle (lesson 04's sampler). "
                "Deal each class's samples out over the batches in turn, so every batch gets "
                "its share of every class (the counts of a class may differ by at most 1)"
            )


@checker("4.1", uses=("stratified_batches",))
def check_stratified_batches(stratified_batches: Callable) -> None:
    """Task 4.1: one epoch of batches, every index once, every class spread evenly, random."""
    for salt, (n, classes, batch_size, shares) in enumerate(_BATCH_CASES):
        labels = _labels(410 + salt, n, classes, shares)
        text = f"stratified_batches(labels of {n} samples in {classes} classes, {batch_size}, rng)"
        result = call_keeping(
            stratified_batches,
            labels,
            batch_size,
            np.random.default_rng(salt),
            example="order = rng.permutation(len(labels))",
        )
        batches = _as_batches(result, text)
        _check_cover(batches, n, batch_size, text)
        _check_balance(batches, labels, text)
    labels = _labels(415, 100, 4, None)

    def epoch(rng: np.random.Generator) -> np.ndarray:
        return np.concatenate([np.asarray(b) for b in stratified_batches(labels, 10, rng)])

    if not np.array_equal(epoch(np.random.default_rng(0)), epoch(np.random.default_rng(0))):
        raise CheckFailed(
            "two calls with generators seeded alike gave different batches; draw the random "
            "order from the rng argument (rng.permutation), not from np.random"
        )
    rng = np.random.default_rng(1)
    one, two = epoch(rng), epoch(rng)
    if np.array_equal(one, two):
        raise CheckFailed(
            "two epochs with the same rng came out in the same order; shuffle with rng at "
            "every call, so the batches differ from epoch to epoch"
        )


# ----------------------------------------------------------------------------- task 4.2

_NET_SHAPES = ((6, 5, 4, 3), (10, 3, 7, 4), (4, 6, 2, 5))  # (N, D, H, K), D ≠ H ≠ K


@checker("4.2", uses=("mlp_loss",))
def check_mlp_loss(mlp_loss: Callable) -> None:
    """Task 4.2: mean cross-entropy of softmax(relu(x W1 + b1) W2 + b2), stable for big scores."""
    for seed, (n, d, h, k) in enumerate(_NET_SHAPES):
        x, t, params = _make_net(seed, n, d, h, k)
        text = f"mlp_loss for a {d}-{h}-{k} ReLU net and a batch of {n}"
        before = copy_params(params)
        got = call_keeping(mlp_loss, x, t, params, example="a = x @ W1 + b1, not x @= ...")
        expect_params_unchanged(mlp_loss, before, params)
        if isinstance(got, np.ndarray) and got.size != 1:
            raise CheckFailed(
                f"{text} should return one number (the mean over the batch) but returned an "
                f"array of shape {got.shape}"
            )
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise CheckFailed(f"{text} should return a float but returned {got!r}") from None
        want = _loss(x, t, params)
        if np.isclose(got, want, rtol=1e-6):
            continue
        if np.isclose(got, want * n, rtol=1e-6):
            raise CheckFailed(
                f"{text} returned the *sum* over the batch ({got:.6g}, {n} times the mean "
                f"{want:.6g}); divide by N so the loss does not grow with the batch size"
            )
        if np.isclose(got, -want, rtol=1e-6):
            raise CheckFailed(f"{text} has the wrong sign: the loss is −Σ t·log y / N, positive")
        sig = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
        if np.isclose(got, -np.sum(t * _log_softmax(sig @ params["W2"] + params["b2"])) / n):
            raise CheckFailed(
                f"{text}: use ReLU (np.maximum(a, 0)) in the hidden layer, not sigmoid"
            )
        no_relu = (x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]
        if np.isclose(got, -np.sum(t * _log_softmax(no_relu)) / n, rtol=1e-6):
            raise CheckFailed(f"{text}: the hidden layer has no ReLU; apply np.maximum(a1, 0)")
        raise CheckFailed(f"{text} should be {want:.6g} but is {got:.6g}")
    # A confident net: scores of several hundred must not give nan or inf.
    x, t, params = _make_net(5, 6, 5, 4, 3)
    params["W2"] = params["W2"] * 500
    text = "mlp_loss with scores of several hundred (W2 scaled by 500)"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = call_keeping(mlp_loss, x, t, params, example="a = x @ W1 + b1, not x @= ...")
    got = np.asarray(got, dtype=np.float64).reshape(-1)
    expect_finite(
        text,
        got,
        "subtract each row's maximum score before np.exp, and guard log(0) with "
        "np.log(y + 1e-7) or np.maximum(y, 1e-7)",
    )
    # Without a guard the loss is exact; a log(0) guard (e.g. 1e-7) caps each sample's loss.
    exact = _loss(x, t, params)
    y = np.exp(_log_softmax(_scores(x, params)))
    guarded = float(-np.sum(t * np.log(np.maximum(y, 1e-7))) / len(x))
    if not guarded * (1 - 1e-3) <= got[0] <= exact * (1 + 1e-3):
        raise CheckFailed(
            f"{text} should be {exact:.6g} (or {guarded:.6g} with a 1e-7 guard inside the log) "
            f"but is {got[0]:.6g}"
        )


# ----------------------------------------------------------------------------- task 4.3

_TRANSPOSED_HINTS = {"W1": ": x.T @ da1", "W2": ": h.T @ da2"}


@checker("4.3", uses=("mlp_gradients",))
def check_mlp_gradients(mlp_gradients: Callable) -> None:
    """Task 4.3: dJ/dW1, dJ/db1, dJ/dW2, dJ/db2 of the ReLU net match the numerical gradient."""
    for seed, (n, d, h, k) in enumerate(_NET_SHAPES):
        x, t, params = _make_net(30 + seed, n, d, h, k)
        text = f"mlp_gradients for a {d}-{h}-{k} ReLU net and a batch of {n}"
        got, want = call_gradients(
            mlp_gradients, "mlp_gradients", text, x, t, params, _loss, 1e-6, _TRANSPOSED_HINTS
        )

        def matches(
            reference: dict[str, np.ndarray],
            names: tuple[str, ...] = PARAM_NAMES,
            got: dict[str, np.ndarray] = got,
        ) -> bool:
            return all(np.allclose(got[p], reference[p], rtol=1e-4, atol=1e-7) for p in names)

        if matches(want):
            continue
        if matches({p: -want[p] for p in PARAM_NAMES}):
            raise CheckFailed(f"{text}: wrong sign of the gradient; the output delta is y − t")
        if matches({p: n * want[p] for p in PARAM_NAMES}):
            raise CheckFailed(
                f"{text}: every gradient is {n} (= N) times too large; the loss is the mean over "
                "the batch, so divide (y − t) by N"
            )
        first_layer = ("W1", "b1")
        hints = {
            "no_mask": "the ReLU mask is missing: multiply the gradient arriving at the hidden "
            "layer by (a1 > 0)",
            "relu_of_grad": "you applied ReLU to the gradient (np.maximum(dh, 0)); the mask "
            "comes from the forward pass: dh * (a1 > 0)",
            "sigmoid": "that is the sigmoid's derivative h·(1 − h); the ReLU's derivative is "
            "1 where a1 > 0 and 0 elsewhere",
            "times_h": "the numbers match dh * h, the gradient multiplied by the hidden "
            "activation h = max(a1, 0) itself; the ReLU's derivative is the 0/1 mask "
            "(a1 > 0), so multiply by that: dh * (a1 > 0)",
        }
        for variant, hint in hints.items():
            if matches(_grads_variant(x, t, params, variant), first_layer):
                raise CheckFailed(f"{text}: grads['W1'] and grads['b1'] are off; {hint}")
        expect_grads_close(text, got, want, PARAM_NAMES, rtol=1e-4, atol=1e-7)


# ----------------------------------------------------------------------------- task 4.4

_LR_CASES = ((0.001, 100), (0.01, 100), (0.005, 32), (0.02, 1), (1e-4, 250))


@checker("4.4", uses=("lr_for_mean_loss",))
def check_lr_for_mean_loss(lr_for_mean_loss: Callable) -> None:
    """Task 4.4: a learning rate for a summed loss, converted for the mean loss (× batch size)."""
    if len(inspect.signature(lr_for_mean_loss).parameters) != 2:
        raise CheckFailed("lr_for_mean_loss should take two arguments: (lr_sum, batch_size)")
    for lr_sum, batch_size in _LR_CASES:
        text = f"lr_for_mean_loss({lr_sum:g}, {batch_size})"
        got = lr_for_mean_loss(lr_sum, batch_size)
        want = lr_sum * batch_size
        try:
            value = float(got)
        except (TypeError, ValueError):
            raise CheckFailed(f"{text} should return a number but returned {got!r}") from None
        if np.isclose(value, want, rtol=1e-9):
            continue
        if batch_size > 1 and np.isclose(value, lr_sum / batch_size, rtol=1e-9):
            raise CheckFailed(
                f"{text} returned {value:g}, the lr divided by the batch size; the summed loss's "
                "gradient is batch_size times *larger* than the mean loss's, so the mean loss "
                f"needs a batch_size times larger learning rate: {want:g}"
            )
        raise CheckFailed(f"{text} should be {want:g} but is {value:g}")
