"""Checkers for assignment 04 · MLP on MNIST (stratified mini-batches, the gradient with
respect to the input image, adversarial examples).

The network is ``x (N, D) → affine W1, b1 → ReLU → affine W2, b2 → softmax`` with the
mean cross-entropy J over integer labels ``(N,)``. The learner's ∂J/∂x is compared with a
numerical gradient (central differences in float64) of a loss written here, on networks
whose sizes N, D, H and K all differ, so a weight used untransposed or a gradient one layer
short cannot pass; the adversarial examples ``clip(x + eps·sign(∂J/∂x), 0, 1)`` with an
input gradient written here. The batches are checked for cover, sizes, the class counts
per batch and their randomness.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import partial

import numpy as np

from dlcourse.checks import checker, raised_message
from dlcourse.checks.tools import (
    CheckFailed,
    call,
    call_keeping,
    case_rng,
    expect_close,
    expect_finite,
    type_name,
)
from dlcourse.gradients import numerical_gradient

# ----------------------------------------------------------------------------- references


def _log_softmax(a: np.ndarray) -> np.ndarray:
    shifted = a - a.max(axis=1, keepdims=True)
    log_y: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return log_y


def _loss(x: np.ndarray, labels: np.ndarray, params: dict) -> float:
    """Mean cross-entropy of softmax(relu(x W1 + b1) W2 + b2) for integer labels (N,)."""
    z = np.maximum(x @ params["W1"] + params["b1"], 0)
    log_y = _log_softmax(z @ params["W2"] + params["b2"])
    return float(-np.mean(log_y[np.arange(len(x)), labels]))


def _input_grad(x: np.ndarray, labels: np.ndarray, params: dict, variant: str = "") -> np.ndarray:
    """∂J/∂x (N, D) by backpropagation; ``variant`` names a typical mistake to reproduce it.

    "" is the right answer. Mistakes: "no_mask" (no ReLU mask), "mask_without_b1" (the mask
    of x W1 instead of a1 = x W1 + b1), "relu_of_grad" (ReLU applied to the gradient),
    "times_z" (the gradient times z = max(a1, 0) instead of the 0/1 mask), "labels_column"
    (y − labels[:, None]: the labels used as if they were the targets).
    """
    a1 = x @ params["W1"] + params["b1"]
    z = np.maximum(a1, 0)
    y = np.exp(_log_softmax(z @ params["W2"] + params["b2"]))
    n, k = y.shape
    t = labels[:, None] if variant == "labels_column" else np.eye(k)[labels]
    delta2 = (y - t) / n
    dz = delta2 @ params["W2"].T
    delta1 = {
        "no_mask": dz,
        "mask_without_b1": dz * (x @ params["W1"] > 0),
        "relu_of_grad": np.maximum(dz, 0),
        "times_z": dz * z,
    }.get(variant, dz * (a1 > 0))
    grad: np.ndarray = delta1 @ params["W1"].T
    return grad


def _make_net(
    seed: int, n: int, d: int, hidden: int, k: int, pixels: bool = False
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Random x (n, d), integer labels (n,) and float64 params of a d-hidden-k ReLU net.

    pixels: x in [0, 1] like the digits, about a quarter of it exactly 0 and a quarter 1
    (so that clipping matters); else standard normal. Drawn from the checker's case
    generator; a draw with a ReLU input within 1e-4 of its kink at 0 (where the one-sided
    slopes differ and the numerical gradient, step 1e-6, would straddle it), a sample
    whose hidden units are all off, or no unit off at all is replaced by the next one.
    """
    for attempt in range(100):
        rng = case_rng(1000 * seed + attempt)
        x = rng.normal(size=(n, d))
        if pixels:
            x = np.clip(x * 0.6 + 0.5, 0, 1)
            x[0, 0], x[-1, -1] = 0.0, 1.0  # at least one pixel at each end
        labels = rng.integers(0, k, size=n)
        params = {
            "W1": rng.normal(size=(d, hidden)) / np.sqrt(d),
            "b1": rng.normal(scale=0.3, size=hidden),
            "W2": rng.normal(size=(hidden, k)) / np.sqrt(hidden),
            "b2": rng.normal(scale=0.3, size=k),
        }
        a1 = x @ params["W1"] + params["b1"]
        # Every sample has an active hidden unit (else its gradient is 0 and any answer
        # fits), some unit is off (else a missing mask goes unnoticed), none near the kink.
        if (a1 > 0).any(axis=1).all() and (a1 < 0).any() and np.abs(a1).min() > 1e-4:
            return x, labels, params
    raise RuntimeError("no suitable network in 100 draws")


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

_NET_SHAPES = ((6, 5, 4, 3), (10, 3, 7, 4), (4, 8, 2, 5))  # (N, D, H, K), all different

_MISTAKES = {
    "no_mask": "the ReLU mask is missing: multiply the gradient arriving at the hidden layer "
    "by (a1 > 0) before going on to x",
    "mask_without_b1": "the mask is taken from x @ W1 without the bias; the ReLU's input is "
    "a1 = x @ W1 + b1, so the mask is (a1 > 0)",
    "relu_of_grad": "you applied ReLU to the gradient (np.maximum(dz, 0)); the mask comes from "
    "the forward pass: dz * (a1 > 0)",
    "times_z": "the numbers match the gradient multiplied by the hidden activation "
    "z = max(a1, 0) itself; the ReLU's derivative is the 0/1 mask (a1 > 0)",
    "labels_column": "the numbers match y − labels[:, None]: labels holds class indices, not "
    "one-hot rows; make t = np.eye(K)[labels] first",
}


def _call_input_gradient(
    input_gradient: Callable, text: str, x: np.ndarray, labels: np.ndarray, params: dict
) -> object:
    """The learner's ∂J/∂x; a shape error from a typical mistake becomes a message naming it."""
    (n, d), hidden = x.shape, params["W1"].shape[1]
    try:
        return call_keeping(input_gradient, x, labels, params, example="a1 = x @ W1 + b1")
    except ValueError as err:
        message = str(err)
        if f"size {d} is different from {hidden}" in message or f"{hidden} (dim 1) != {d}" in (
            message
        ):
            hint = (
                f"a gradient of shape (N, H) = ({n}, {hidden}) times W1 of shape (D, H) = "
                f"({d}, {hidden}) does not fit; the step back through a1 = x W1 + b1 "
                "multiplies by the transpose: delta1 @ W1.T, shape (N, D)"
            )
        elif "broadcast" in message and f"({n},)" in message:
            hint = (
                f"labels holds {n} integer class indices, shape (N,), not one-hot rows; "
                "make t = np.eye(K)[labels] before y − t"
            )
        else:
            raise
        raise CheckFailed(f"{text}: {hint} — {raised_message(err)}") from None


def _expect_input_gradient(
    text: str,
    got: object,
    want: np.ndarray,
    x: np.ndarray,
    labels: np.ndarray,
    params: dict,
    against: str = "the numerical gradient",
) -> None:
    """Fail unless ``got`` is ``want`` (N, D); name the typical mistake the numbers match."""
    (n, d), (hidden, k) = x.shape, params["W2"].shape
    if not isinstance(got, np.ndarray):
        raise CheckFailed(f"{text} should return a numpy array but returned a {type_name(got)}")
    if got.shape != (n, d):
        hint = {
            (n, hidden): "; that is the gradient at the hidden layer's input a1 (delta1), "
            "one step short: carry it back through the first layer, delta1 @ W1.T",
            (n, k): "; that is the gradient of the scores (delta2), two layers short of x",
            (d, n): "; it is transposed: ∂J/∂x has the shape of x",
        }.get(got.shape, "")
        raise CheckFailed(
            f"{text} should return ∂J/∂x of shape (N, D) = {(n, d)}, like x, but returned "
            f"shape {got.shape}{hint}"
        )
    expect_finite(
        text,
        got,
        "subtract each row's maximum score before np.exp (lesson 02, section 3)",
    )

    # Absolute tolerance relative to the largest element: float32 rounds the tiny ones.
    atol = 1e-6 * float(np.abs(want).max())

    def matches(reference: np.ndarray) -> bool:
        return bool(np.allclose(got, reference, rtol=1e-4, atol=atol))

    if matches(want):
        return
    if matches(-want):
        raise CheckFailed(f"{text}: wrong sign of the gradient; the output delta is y − t")
    if matches(n * want):
        raise CheckFailed(
            f"{text}: the gradient is {n} (= N) times too large; the loss is the mean over "
            "the batch, so divide (y − t) by N"
        )
    for variant, hint in _MISTAKES.items():
        if matches(_input_grad(x, labels, params, variant)):
            raise CheckFailed(f"{text}: {hint}")
    expect_close(f"{text} (against {against})", got, want, rtol=1e-4, atol=atol)


@checker("4.2", uses=("input_gradient",))
def check_input_gradient(input_gradient: Callable) -> None:
    """Task 4.2: ∂J/∂x of the ReLU net matches the numerical gradient, also for big scores."""
    for seed, (n, d, hidden, k) in enumerate(_NET_SHAPES):
        x, labels, params = _make_net(20 + seed, n, d, hidden, k)
        text = f"input_gradient for a {d}-{hidden}-{k} ReLU net and a batch of {n}"
        got = _call_input_gradient(input_gradient, text, x, labels, params)
        want = numerical_gradient(partial(_loss, labels=labels, params=params), x.copy(), 1e-6)
        _expect_input_gradient(text, got, want, x, labels, params)
    # A confident net with scores over 1000: np.exp of them overflows without the shift.
    x, labels, params = _make_net(25, 7, 6, 5, 4)
    params["W2"], params["b2"] = params["W2"] * 100, params["b2"] + 1000
    text = "input_gradient with scores over 1000 (W2 scaled by 100, 1000 added to b2)"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = _call_input_gradient(input_gradient, text, x, labels, params)
    want = _input_grad(x, labels, params)
    _expect_input_gradient(text, got, want, x, labels, params, "the checker's backpropagation")


# ----------------------------------------------------------------------------- task 4.3

_EPS = (0.1, 0.05, 0.15)


def _expect_adversarial(
    text: str,
    got: object,
    x: np.ndarray,
    labels: np.ndarray,
    params: dict,
    eps: float,
    input_gradient: Callable,
) -> None:
    """Fail unless ``got`` is clip(x + eps·sign(∂J/∂x), 0, 1); name the mistake it matches."""
    if not isinstance(got, np.ndarray) or got.shape != x.shape:
        shape = got.shape if isinstance(got, np.ndarray) else type_name(got)
        raise CheckFailed(f"{text} should return an array shaped like x {x.shape}, not {shape}")
    expect_finite(text, got)
    if got.min() < -1e-6 or got.max() > 1 + 1e-6:
        raise CheckFailed(
            f"{text} has pixels outside the pixel range [0, 1] (from {got.min():.3g} to "
            f"{got.max():.3g}); clip the result: np.clip(x_adv, 0, 1)"
        )
    moved = float(np.abs(got - x).max())
    if moved > eps + 1e-6:
        raise CheckFailed(
            f"{text} moves a pixel by {moved:.3g}, more than eps = {eps}; every pixel moves "
            "by eps at most: x + eps * np.sign(gradient)"
        )
    grad = _input_grad(x, labels, params)
    want = np.clip(x + eps * np.sign(grad), 0, 1)
    # Pixels whose gradient is (nearly) 0 may move either way; rounding decides their sign.
    decisive = np.abs(grad) > 1e-9 * np.abs(grad).max()

    def matches(reference: np.ndarray) -> bool:
        return bool(np.allclose(got[decisive], reference[decisive], rtol=0, atol=1e-6))

    if matches(want):
        return
    yours = np.asarray(call(input_gradient, x, labels, params), dtype=np.float64)
    if yours.shape == x.shape and np.any(np.sign(yours)[decisive] != np.sign(grad)[decisive]):
        raise CheckFailed(
            f"{text} is off, and so is your input_gradient: make Task 4.2 pass first, "
            "since adversarial_examples follows its signs"
        )
    before, after = _loss(x, labels, params), _loss(got, labels, params)
    lowers = (
        f"{text} lowers the loss (from {before:.4g} to {after:.4g}) instead of raising it; "
        "an attack climbs the gradient: x + eps * np.sign(gradient)"
    )
    if matches(np.clip(x - eps * np.sign(grad), 0, 1)):
        raise CheckFailed(f"{lowers}, not x − …")
    if matches(np.clip(x + eps * np.sign(x), 0, 1)):
        raise CheckFailed(
            f"{text}: you took the sign of x, not of the gradient; the pixels move by "
            "eps * np.sign(input_gradient(x, labels, params))"
        )
    if matches(np.clip(x + eps * grad, 0, 1)):
        raise CheckFailed(
            f"{text}: you moved by eps × the gradient itself, which is tiny; take its sign "
            "(np.sign) so that every pixel moves by the full eps"
        )
    if after <= before:
        raise CheckFailed(lowers)
    expect_close(text, got, want, atol=1e-6)


@checker("4.3", uses=("adversarial_examples", "input_gradient"))
def check_adversarial_examples(adversarial_examples: Callable, input_gradient: Callable) -> None:
    """Task 4.3: clip(x + eps·sign(∂J/∂x), 0, 1): within eps of x, in [0, 1], loss rises."""
    for seed, ((n, d, hidden, k), eps) in enumerate(zip(_NET_SHAPES, _EPS, strict=True)):
        x, labels, params = _make_net(40 + seed, n, d, hidden, k, pixels=True)
        text = (
            f"adversarial_examples(x, labels, params, eps={eps}) for a {d}-{hidden}-{k} "
            f"ReLU net and a batch of {n}"
        )
        try:
            call(input_gradient, x, labels, params)
        except (CheckFailed, NotImplementedError):
            raise
        except Exception as err:  # the learner's Task 4.2 raises: say where to start
            raise CheckFailed(
                f"{text}: adversarial_examples needs your input_gradient, which fails on this "
                f"network; make Task 4.2 pass first — {raised_message(err)}"
            ) from None
        got = call_keeping(
            adversarial_examples, x, labels, params, eps, example="x_adv = x + ..., not x += ..."
        )
        _expect_adversarial(text, got, x, labels, params, eps, input_gradient)
