"""Checkers for assignment 10 · The deep-network capstone.

10.1 inspects the network the learner's ``build_cnn(seed)`` returns: layer kinds in
order, output shapes, parameter counts, initialisation statistics (pooled over several
seeds) and that the seed is used. 10.2 and 10.3 compare with float64 references written
here. 10.4 trains the learner's ``train_to_threshold`` on digits drawn for the case and
measures accuracy on digits it never saw, and the time it took.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import CheckFailed, call, case_rng

# ----------------------------------------------------------------------------- task 10.1

#: The summary the task gives: (kind, output shape for one digit, parameter count).
CNN_SUMMARY: tuple[tuple[str, tuple[int, ...], int], ...] = (
    ("conv", (8, 28, 28), 80),
    ("batchnorm", (8, 28, 28), 16),
    ("relu", (8, 28, 28), 0),
    ("pool", (8, 14, 14), 0),
    ("conv", (16, 14, 14), 1_168),
    ("batchnorm", (16, 14, 14), 32),
    ("relu", (16, 14, 14), 0),
    ("pool", (16, 7, 7), 0),
    ("flatten", (784,), 0),
    ("affine", (64,), 50_240),
    ("batchnorm", (64,), 128),
    ("relu", (64,), 0),
    ("dropout", (64,), 0),
    ("affine", (10,), 650),
)
CNN_TOTAL = sum(count for _, _, count in CNN_SUMMARY)  # 52,314
CNN_DROPOUT = 0.3
#: Weight arrays and the std of their initialiser: He sqrt(2/fan_in) before a ReLU,
#: Xavier sqrt(1/fan_in) for the output layer.
CNN_INIT = {
    "conv1.W": ("He", math.sqrt(2 / 9)),
    "conv2.W": ("He", math.sqrt(2 / 72)),
    "affine1.W": ("He", math.sqrt(2 / 784)),
    "affine2.W": ("Xavier", math.sqrt(1 / 64)),
}


def _layers_of(model: Any) -> list[tuple[str, Any]]:
    layers = getattr(model, "layers", None)
    if not isinstance(layers, dict):
        raise CheckFailed(
            f"build_cnn should return a dlcourse Sequential (with a .layers dict) but returned "
            f"{type(model).__name__}; end with return Sequential(layers)"
        )
    return list(layers.items())


def _check_structure(model: Any) -> None:
    layers = _layers_of(model)
    kinds = [getattr(layer, "kind", type(layer).__name__) for _, layer in layers]
    want = [kind for kind, _, _ in CNN_SUMMARY]
    for i, (got, expected) in enumerate(zip(kinds, want, strict=False), start=1):
        if got != expected:
            hint = ""
            if expected == "batchnorm":
                hint = "; every conv and the hidden affine are followed by BatchNorm, then ReLU"
            elif expected == "dropout" or got == "dropout":
                hint = "; Dropout comes once, after the hidden affine's ReLU, before the output"
            raise CheckFailed(
                f"layer {i} of your network is {got!r} but the summary has {expected!r} there "
                f"(expected order: {', '.join(want)}){hint}"
            )
    if len(kinds) != len(want):
        raise CheckFailed(
            f"your network has {len(kinds)} layers but the summary lists {len(want)}: "
            f"{', '.join(want)}"
        )
    shape: tuple[int, ...] = (1, 28, 28)
    for (name, layer), (kind, want_shape, want_count) in zip(layers, CNN_SUMMARY, strict=True):
        shape = tuple(layer.output_shape(shape))
        if shape != want_shape:
            hint = ""
            if kind == "conv" and shape[1:] != want_shape[1:]:
                hint = "; a 3×3 convolution keeps the height and width only with pad=1"
            elif kind == "conv":
                hint = "; the number of filters is the first axis of W: (F, C, 3, 3)"
            raise CheckFailed(
                f"{name} gives an output of shape {shape} for one digit but the summary says "
                f"{want_shape}{hint}"
            )
        count = sum(int(np.asarray(p).size) for p in layer.params.values())
        if count != want_count:
            raise CheckFailed(
                f"{name} has {count:,} parameters but the summary says {want_count:,}"
                + ("; γ and β need one entry per channel" if kind == "batchnorm" else "")
            )
    dropout = dict(layers)["dropout1"]
    if not math.isclose(float(getattr(dropout, "ratio", -1)), CNN_DROPOUT):
        raise CheckFailed(
            f"dropout1 drops a fraction {getattr(dropout, 'ratio', None)} of the units but the "
            f"task asks for {CNN_DROPOUT}"
        )


def _check_init(models: Sequence[Any]) -> None:
    for name, (kind, std) in CNN_INIT.items():
        values = np.concatenate([np.ravel(m.params[name]) for m in models]).astype(np.float64)
        got = float(values.std())
        if abs(got / std - 1) > 0.2:
            other = "Xavier" if kind == "He" else "He"
            ratio = got / std
            hint = (
                f"; that is {other}'s std, use {kind} here"
                if abs(ratio - (math.sqrt(0.5) if kind == "He" else math.sqrt(2))) < 0.12
                else ""
            )
            raise CheckFailed(
                f"{name} starts with std {got:.4f} but {kind} initialisation gives "
                f"{std:.4f}{hint} (He before every ReLU, Xavier for the output layer)"
            )
        # five standard errors of the mean: a right answer fails about once in 10⁶ draws
        if abs(float(values.mean())) > 5 * std / math.sqrt(values.size):
            raise CheckFailed(f"{name} should start with mean 0 but has mean {values.mean():.4f}")
    model = models[0]
    for name, value in model.params.items():
        value = np.asarray(value)
        if name.endswith(".b") or name.endswith(".beta"):
            if np.any(value != 0):
                raise CheckFailed(f"{name} should start at 0 but does not")
        if name.endswith(".gamma") and np.any(value != 1):
            raise CheckFailed(
                f"{name} should start at 1 (BatchNorm starts as the identity: γ = 1, β = 0)"
            )


@checker("10.1", uses=("build_cnn",))
def check_build_cnn(build_cnn: Callable) -> None:
    """Task 10.1: the network of the given summary, He/Xavier init, seeded."""
    seeds = [int(s) for s in case_rng(101).integers(0, 10_000, size=4)]
    models = [call(build_cnn, seed) for seed in seeds]
    _check_structure(models[0])
    again = call(build_cnn, seeds[0])
    if not np.array_equal(again.params["conv1.W"], models[0].params["conv1.W"]):
        raise CheckFailed(
            f"build_cnn({seeds[0]}) gave different weights on two calls; draw them from "
            "rng = np.random.default_rng(seed) (or pass rng=seed) so a seed fixes them"
        )
    if np.array_equal(models[0].params["affine1.W"], models[1].params["affine1.W"]):
        raise CheckFailed(
            f"build_cnn({seeds[0]}) and build_cnn({seeds[1]}) gave the same weights; "
            "use the seed argument instead of a fixed one"
        )
    if any(np.asarray(v).dtype != np.float32 for v in models[0].params.values()):
        raise CheckFailed("every parameter should be float32, the course's training dtype")
    _check_init(models)
    x = case_rng(102).random((3, 1, 28, 28), dtype=np.float32)
    scores = np.asarray(models[0].predict(x))
    if scores.shape != (3, 10) or not np.all(np.isfinite(scores)):
        raise CheckFailed(
            f"predict on 3 digits (3, 1, 28, 28) should give finite scores (3, 10) but gave "
            f"shape {scores.shape}"
        )


# ----------------------------------------------------------------------------- task 10.2


def _warmup_cosine(step: int, peak: float, warmup: int, total: int, min_lr: float) -> float:
    """The reference: linear warm-up peak·(step + 1)/warmup, then half a cosine to min_lr."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / (total - warmup))
    return min_lr + (peak - min_lr) * (1 + math.cos(math.pi * progress)) / 2


def _schedule_cases() -> list[tuple[float, int, int, float]]:
    rng = case_rng(201)
    cases = []
    for min_share in (0.0, 0.1, 0.05):
        warmup = int(rng.integers(3, 12))
        total = warmup + int(rng.integers(20, 60))
        peak = float(rng.choice([0.01, 0.003, 0.1])) * float(rng.uniform(0.8, 1.25))
        cases.append((peak, warmup, total, min_share * peak))
    return cases


def _describe_schedule(
    got: list[float], peak: float, warmup: int, total: int, min_lr: float
) -> str:
    """A sentence naming the typical mistake behind a wrong curve, or ''."""
    if math.isclose(got[0], 0.0, abs_tol=1e-12) and peak > 0:
        return (
            "step 0 got a learning rate of 0, a wasted step; warm up with "
            "peak_lr · (step + 1) / warmup_steps so the last warm-up step reaches the peak"
        )
    if not math.isclose(got[warmup], peak, rel_tol=1e-6):
        if math.isclose(got[warmup], 2 * peak, rel_tol=1e-6):
            return "the decay starts at 2·peak_lr: the cosine term is (1 + cos πp) / 2"
        return (
            f"the decay should start at the peak ({peak:.6g}) at step warmup_steps = {warmup} "
            f"but starts at {got[warmup]:.6g}; measure progress p = (step − warmup_steps) / "
            "(total_steps − warmup_steps), so p = 0 there"
        )
    end = got[total]
    if math.isclose(end, 0.0, abs_tol=1e-12) and min_lr > 0:
        return f"the schedule ends at 0 instead of min_lr = {min_lr:.6g}; decay from peak to min_lr"
    if not math.isclose(end, min_lr, rel_tol=1e-6, abs_tol=1e-12):
        return (
            f"at step total_steps = {total} the rate should have reached min_lr = {min_lr:.6g} "
            f"but is {end:.6g}; the cosine runs over total_steps − warmup_steps steps"
        )
    if any(value > min_lr * (1 + 1e-9) + 1e-12 for value in got[total + 1 :]):
        return (
            "after total_steps the rate rises again (the cosine turned back up); "
            "keep it at min_lr: clip the progress p at 1"
        )
    return ""


@checker("10.2", uses=("warmup_cosine",))
def check_warmup_cosine(warmup_cosine: Callable) -> None:
    """Task 10.2: per-step linear warm-up then half a cosine from peak_lr to min_lr."""
    for peak, warmup, total, min_lr in _schedule_cases():
        steps = range(total + 15)
        got = []
        for step in steps:
            value = call(warmup_cosine, step, peak, warmup, total, min_lr)
            try:
                got.append(float(value))
            except (TypeError, ValueError) as err:
                raise CheckFailed(
                    f"warmup_cosine should return one number but returned {type(value).__name__}"
                ) from err
        want = [_warmup_cosine(step, peak, warmup, total, min_lr) for step in steps]
        if np.allclose(got, want, rtol=1e-6, atol=1e-12):
            continue
        call_text = f"warmup_cosine(step, {peak:.6g}, {warmup}, {total}, {min_lr:.6g})"
        reason = _describe_schedule(got, peak, warmup, total, min_lr)
        if not reason:
            bad = int(np.argmax(np.abs(np.subtract(got, want))))
            reason = f"step {bad} gave {got[bad]:.6g} but the schedule gives {want[bad]:.6g}"
        raise CheckFailed(f"{call_text}: {reason}")


# ----------------------------------------------------------------------------- task 10.3


def _early_stopping(
    values: Sequence[float], patience: int, min_delta: float, mode: str
) -> tuple[int, int | None]:
    """The reference: (best epoch, epoch after which training stops or None), epochs from 1."""
    best, best_epoch, bad = (math.inf if mode == "min" else -math.inf), 0, 0
    for epoch, value in enumerate(values, start=1):
        better = value < best - min_delta if mode == "min" else value > best + min_delta
        if better:
            best, best_epoch, bad = value, epoch, 0
            continue
        bad += 1
        if bad >= patience:
            return best_epoch, epoch
    return best_epoch, None


def _stopping_cases() -> list[tuple[list[float], int, float, str]]:
    """Hand-made curves that tell the typical mistakes apart, then random ones."""
    accuracy = [0.80, 0.85, 0.88, 0.88, 0.87, 0.881, 0.89, 0.885, 0.886, 0.884, 0.889, 0.88]
    loss = [0.90, 0.60, 0.45, 0.46, 0.44, 0.445, 0.449, 0.4405, 0.45, 0.47, 0.48]
    cases = [
        (accuracy, 3, 0.0, "max"),  # a tie at epoch 4 is no improvement
        (accuracy, 2, 0.0, "max"),
        (accuracy, 3, 0.005, "max"),  # 0.881 is not 0.005 better than 0.88
        (loss, 3, 0.0, "min"),
        (loss, 2, 0.001, "min"),
        ([0.5, 0.6, 0.7, 0.8], 2, 0.0, "max"),  # never stops
    ]
    rng = case_rng(301)
    for mode in ("max", "min", "max"):
        steps = rng.normal(0.01, 0.02, size=int(rng.integers(10, 25)))
        curve = np.round(0.5 + np.cumsum(steps if mode == "max" else -steps), 3)
        cases.append(([float(v) for v in curve], int(rng.integers(2, 5)), 0.0, mode))
    return cases


@checker("10.3", uses=("early_stopping",))
def check_early_stopping(early_stopping: Callable) -> None:
    """Task 10.3: the checkpointed epoch and the stopping epoch for a metric curve."""
    for values, patience, min_delta, mode in _stopping_cases():
        want = _early_stopping(values, patience, min_delta, mode)
        got = call(early_stopping, list(values), patience, min_delta, mode)
        text = (
            f"early_stopping({values}, patience={patience}, min_delta={min_delta}, mode={mode!r})"
        )
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"{text} should return a pair (best_epoch, stop_epoch); got {got!r}")
        got = (got[0], got[1])
        if got == want:
            continue
        hint = _stopping_hint(got, want, values, patience, min_delta, mode)
        raise CheckFailed(f"{text} returned {got} but expected {want}; {hint}")


def _stopping_hint(
    got: tuple[Any, Any],
    want: tuple[int, int | None],
    values: Sequence[float],
    patience: int,
    min_delta: float,
    mode: str,
) -> str:
    """Name the typical mistake that gives ``got`` instead of ``want``."""
    if got[0] is not None and want[0] is not None and got[0] == want[0] - 1:
        return "epochs count from 1 (values[0] is epoch 1)"
    if mode == "min" and got == _early_stopping(values, patience, min_delta, "max"):
        return "with mode='min' a smaller value is the improvement (a loss)"
    if min_delta and got == _early_stopping(values, patience, 0.0, mode):
        return "an improvement must beat the best by more than min_delta"
    if got[1] is not None and want[1] is not None and got[1] == want[1] + 1:
        return "stop as soon as patience epochs in a row brought no improvement, not one later"
    last_trained = want[1] if want[1] is not None else len(values)
    if got[0] == last_trained and want[0] != last_trained:
        return "the best epoch is the one with the best value, not the last one trained"
    ties = _early_stopping_ties(values, patience, min_delta, mode)
    if got == ties:
        return "an equal value is not an improvement: it must be strictly better"
    return "count epochs without improvement since the best one and stop at patience"


def _early_stopping_ties(
    values: Sequence[float], patience: int, min_delta: float, mode: str
) -> tuple[int, int | None]:
    """The result when ties count as improvements (the >= mistake)."""
    best, best_epoch, bad = (math.inf if mode == "min" else -math.inf), 0, 0
    for epoch, value in enumerate(values, start=1):
        better = value <= best - min_delta if mode == "min" else value >= best + min_delta
        if better:
            best, best_epoch, bad = value, epoch, 0
            continue
        bad += 1
        if bad >= patience:
            return best_epoch, epoch
    return best_epoch, None


# ----------------------------------------------------------------------------- task 10.4

THRESHOLD = 0.90  # accuracy on digits the learner's function never sees
BUDGET_SECONDS = 30.0  # the task asks for 15 s; the check allows twice that
TRAIN_N, VAL_N, HELD_OUT_N = 1_500, 300, 500


def _threshold_data() -> tuple[np.ndarray, ...]:
    """Disjoint train / validation / held-out digits from the shipped set, drawn per case."""
    from dlcourse.data import load_offline_digits

    images, labels = load_offline_digits()
    order = case_rng(401).permutation(len(labels))
    x = images[order].reshape(len(order), 784).astype(np.float32) / 255
    t = labels[order].astype(np.int64)
    a, b, c = TRAIN_N, TRAIN_N + VAL_N, TRAIN_N + VAL_N + HELD_OUT_N
    return x[:a], t[:a], x[a:b], t[a:b], x[b:c], t[b:c]


@checker("10.4", uses=("train_to_threshold",), seconds=60, package_ok=True)
def check_train_to_threshold(train_to_threshold: Callable) -> None:
    """Task 10.4: a model trained on 1,500 digits reads ≥ 90% of 500 unseen ones, in time."""
    x_train, t_train, x_val, t_val, x_held, t_held = _threshold_data()
    start = time.perf_counter()
    model = call(train_to_threshold, x_train, t_train, x_val, t_val)
    seconds = time.perf_counter() - start
    if not hasattr(model, "predict"):
        raise CheckFailed(
            f"train_to_threshold should return the trained model (with predict) but returned "
            f"{type(model).__name__}"
        )
    scores = np.asarray(model.predict(x_held.copy()))
    if scores.shape != (HELD_OUT_N, 10):
        raise CheckFailed(
            f"model.predict on {HELD_OUT_N} flat digits ({HELD_OUT_N}, 784) should give scores "
            f"({HELD_OUT_N}, 10) but gave shape {scores.shape}; reshape inside if your model "
            "wants images"
        )
    accuracy = float(np.mean(scores.argmax(axis=1) == t_held))
    if not accuracy >= THRESHOLD:
        hint = (
            "training diverged or did not start: check the learning rate (Adam: about 0.001-0.01)"
            if accuracy < 0.5
            else "train longer, or use the lesson's deep-MLP parts (batch norm, Adam, a schedule)"
        )
        raise CheckFailed(
            f"your model reads {accuracy:.1%} of {HELD_OUT_N} digits it never saw, below the "
            f"{THRESHOLD:.0%} asked; {hint}"
        )
    if seconds > BUDGET_SECONDS:
        raise CheckFailed(
            f"training took {seconds:.0f} s, more than the {BUDGET_SECONDS:.0f} s the check allows "
            f"(the task asks for 15 s): fewer epochs or a smaller network"
        )
