"""Checkers for assignment 09 · Optimizers, schedules and initialization.

9.1 RMSprop with momentum, 9.2 warm-up followed by step decay, 9.3 an initializer for
LeakyReLU, 9.4 reduce-on-plateau counted as PyTorch documents it. Every checker compares
with a float64 reference written here, on inputs drawn from ``case_rng``, and recognises
the typical mistakes by recomputing them and comparing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import CheckFailed, call, case_rng, expect_array, expect_finite

# ----------------------------------------------------------------------------- 9.1


def _rmsprop_momentum_path(
    w0: np.ndarray,
    grads: list[np.ndarray],
    lrs: list[float],
    rho: float,
    mu: float,
    eps: float,
    variant: str = "right",
) -> list[np.ndarray]:
    """Weights after each step of RMSprop with momentum (float64), or a typical mistake.

    right: h ← ρh + (1 − ρ)g²; v ← μv − lr·g/(√h + ε); W ← W + v.
    """
    w = w0.astype(np.float64)
    h, v = np.zeros_like(w), np.zeros_like(w)
    path = []
    for g, lr in zip(grads, lrs, strict=True):
        if variant == "sum":
            h = h + g * g
        elif variant == "no_one_minus_rho":
            h = rho * h + g * g
        else:
            h = rho * h + (1 - rho) * g * g
        if variant == "eps_inside":
            scaled = g / np.sqrt(h + eps)
        else:
            scaled = g / (np.sqrt(h) + eps)
        if variant == "lr_outside":
            v = mu * v + scaled
            w = w - lr * v
        elif variant == "no_momentum":
            w = w - lr * scaled
        elif variant == "uphill":
            v = mu * v + lr * scaled
            w = w + v
        else:
            v = mu * v - lr * scaled
            w = w + v
        path.append(w)
    return path


_RMSPROP_MISTAKES = {
    "sum": "h adds up every g² (that is AdaGrad); RMSprop keeps a moving average "
    "h ← ρ·h + (1 − ρ)·g²",
    "no_one_minus_rho": "the new g² must be weighted by (1 − ρ): h ← ρ·h + (1 − ρ)·g²",
    "eps_inside": "ε belongs outside the square root: g / (√h + ε), not g / √(h + ε)",
    "lr_outside": "your steps changed at once when lr dropped: the learning rate must sit "
    "inside the velocity, v ← μ·v − lr·g/(√h + ε), as in dlcourse (lesson 09, section 5)",
    "no_momentum": "your steps have no memory of earlier ones: keep a velocity "
    "v ← μ·v − lr·g/(√h + ε) in state and add it to w",
    "uphill": "your weights move along +g, uphill: the velocity takes −lr·g/(√h + ε)",
}


@checker("9.1", uses=("rmsprop_momentum_step",))
def check_rmsprop_momentum(rmsprop_momentum_step: Callable) -> None:
    cases = [((3, 4), 0.9, 0.8, 1e-8), ((6,), 0.99, 0.9, 0.1), ((2, 5), 0.8, 0.5, 1e-3)]
    for salt, (shape, rho, mu, eps) in enumerate(cases):
        gen = case_rng(910 + salt)
        w0 = gen.normal(size=shape)
        grads = [gen.normal(size=shape) * gen.choice([0.01, 1.0, 5.0]) for _ in range(20)]
        lrs = [0.05] * 10 + [0.005] * 10  # the rate drops after 10 steps, as a schedule would
        want = _rmsprop_momentum_path(w0, grads, lrs, rho, mu, eps)
        state: dict = {}
        w = w0.copy()
        got_path = []
        for step, (g, lr) in enumerate(zip(grads, lrs, strict=True), start=1):
            got = call(rmsprop_momentum_step, w, g, state, lr, rho=rho, mu=mu, eps=eps)
            what = f"the new w at step {step} (shape {shape}, rho={rho}, mu={mu}, eps={eps})"
            got = expect_array(what, got, shape)
            expect_finite(what, got)
            got_path.append(np.asarray(got, dtype=np.float64))
            w = np.array(got, dtype=np.float64)
        wrong_steps = [
            k
            for k, (a, b) in enumerate(zip(got_path, want, strict=True))
            if not np.allclose(a, b, rtol=1e-6, atol=1e-9)
        ]
        if not wrong_steps:
            continue
        first = wrong_steps[0]
        where = (
            f"step {first + 1} (w of shape {shape}, rho={rho}, mu={mu}, eps={eps}, lr={lrs[first]})"
        )
        for variant, reason in _RMSPROP_MISTAKES.items():
            wrong = _rmsprop_momentum_path(w0, grads, lrs, rho, mu, eps, variant)
            if all(
                np.allclose(a, b, rtol=1e-6, atol=1e-9)
                for a, b in zip(got_path, wrong, strict=True)
            ):
                raise CheckFailed(f"{where}: {reason}")
        error = float(np.abs(got_path[first] - want[first]).max())
        raise CheckFailed(
            f"{where}: w is off by up to {error:.3g} from h ← ρh + (1 − ρ)g², "
            "v ← μv − lr·g/(√h + ε), w ← w + v; keep h and v in state between calls"
        )


# ----------------------------------------------------------------------------- 9.2


def _warmup_step_decay(
    epoch: int, peak_lr: float, warmup: int, drop: float, every: int, variant: str = "right"
) -> float:
    if epoch < warmup or (variant == "warmup_inclusive" and epoch == warmup):
        if variant == "warmup_from_zero":
            return peak_lr * epoch / warmup
        return peak_lr * (epoch + 1) / warmup
    done = epoch if variant == "decay_from_zero" else epoch - warmup
    return peak_lr * drop ** (done // every)


_SCHEDULE_MISTAKES = {
    "warmup_from_zero": "epoch 0 should already train: warm-up gives peak_lr·(epoch + 1)/warmup, "
    "so the first epoch is not wasted at lr 0 and epoch warmup − 1 reaches the peak",
    "decay_from_zero": "count the decay steps from the end of the warm-up: "
    "peak_lr·drop^⌊(epoch − warmup)/every⌋, not ⌊epoch/every⌋",
    "warmup_inclusive": "at epoch == warmup the warm-up is over (use epoch < warmup); "
    "your rate went above peak_lr",
}


@checker("9.2", uses=("warmup_step_decay",))
def check_warmup_step_decay(warmup_step_decay: Callable) -> None:
    gen = case_rng(920)
    settings = [(0.1, 3, 0.5, 5), (0.05, 0, 0.5, 4)]  # the second: no warm-up at all
    for _ in range(3):
        settings.append(
            (
                float(np.round(gen.uniform(0.01, 0.5), 3)),
                int(gen.integers(1, 6)),
                float(np.round(gen.uniform(0.2, 0.9), 2)),
                int(gen.integers(1, 7)),
            )
        )
    for peak_lr, warmup, drop, every in settings:
        args = f"peak_lr={peak_lr}, warmup={warmup}, drop={drop}, every={every}"
        got = []
        for epoch in range(30):
            try:
                value = warmup_step_decay(epoch, peak_lr, warmup, drop, every)
            except ZeroDivisionError as err:
                raise CheckFailed(
                    f"warmup_step_decay({epoch}, {args}) divided by zero: with warmup=0 there "
                    "is no warm-up, start the step decay at epoch 0"
                ) from err
            if not isinstance(value, (int, float, np.floating, np.integer)) or np.ndim(value):
                raise CheckFailed(
                    f"warmup_step_decay({epoch}, {args}) should return one number (the learning "
                    f"rate of that epoch) but returned {type(value).__name__}"
                )
            got.append(float(value))
        want = [_warmup_step_decay(e, peak_lr, warmup, drop, every) for e in range(30)]
        if np.allclose(got, want, rtol=1e-9, atol=1e-12):
            continue
        first = next(e for e in range(30) if not math.isclose(got[e], want[e], rel_tol=1e-9))
        for variant, reason in _SCHEDULE_MISTAKES.items():
            if warmup == 0 and variant != "decay_from_zero":
                continue
            wrong = [
                _warmup_step_decay(e, peak_lr, warmup, drop, every, variant) for e in range(30)
            ]
            if np.allclose(got, wrong, rtol=1e-9, atol=1e-12):
                raise CheckFailed(f"with {args}, epoch {first}: {reason}")
        raise CheckFailed(
            f"warmup_step_decay({first}, {args}) returned {got[first]:.6g}, expected "
            f"{want[first]:.6g} (warm-up: peak_lr·(epoch + 1)/warmup for epoch < warmup; "
            "then peak_lr·drop^⌊(epoch − warmup)/every⌋)"
        )


# ----------------------------------------------------------------------------- 9.3


def _leaky_he_std(fan_in: int, alpha: float) -> float:
    return math.sqrt(2 / ((1 + alpha**2) * fan_in))


@checker("9.3", uses=("leaky_he",))
def check_leaky_he(leaky_he: Callable) -> None:
    gen = case_rng(930)
    cases = [
        (int(gen.integers(300, 600)), int(gen.integers(200, 300)), 0.5),
        (int(gen.integers(150, 250)), int(gen.integers(600, 800)), 1.0),
        (int(gen.integers(400, 700)), int(gen.integers(250, 400)), 0.2),
        (int(gen.integers(300, 400)), int(gen.integers(400, 500)), 0.0),  # never square
    ]
    for fan_in, fan_out, alpha in cases:
        seed = int(gen.integers(0, 2**31 - 1))
        call_text = f"leaky_he({fan_in}, {fan_out}, alpha={alpha}, seed={seed})"
        W = call(leaky_he, fan_in, fan_out, alpha, seed)
        W = expect_array(call_text, W)
        if W.shape == (fan_out, fan_in):
            raise CheckFailed(
                f"{call_text} has shape {W.shape}; weights are (fan_in, fan_out) = "
                f"{(fan_in, fan_out)} so that x @ W works"
            )
        expect_array(call_text, W, (fan_in, fan_out))
        expect_finite(call_text, W)
        again = call(leaky_he, fan_in, fan_out, alpha, seed)
        if not np.array_equal(np.asarray(again), W):
            raise CheckFailed(
                f"two calls of {call_text} gave different weights: draw them from "
                "np.random.default_rng(seed), so a seed gives the same network every time"
            )
        want = _leaky_he_std(fan_in, alpha)
        std, mean = float(np.std(W)), float(np.mean(W))
        if abs(mean) > 0.05 * want:
            raise CheckFailed(
                f"{call_text} has mean {mean:.3g}; initial weights must be centred on 0"
            )
        if abs(std / want - 1) < 0.015:
            continue
        hints = [
            (
                _leaky_he_std(fan_in, 0.0),
                "that is He's std √(2/fan_in): LeakyReLU keeps α² of "
                "the negative half's variance, so divide by (1 + α²) as well",
            ),
            (
                math.sqrt(2 / ((1 + alpha) * fan_in)),
                "use (1 + α²), not (1 + α): the "
                "negative half is scaled by α, so its variance by α²",
            ),
            (
                _leaky_he_std(fan_out, alpha),
                "the std depends on fan_in (the inputs each unit adds up), not on fan_out",
            ),
            (want**2, "that is the variance: the std is its square root"),
            (
                math.sqrt(1 / fan_in),
                "that is Xavier's √(1/fan_in), made for tanh; "
                "LeakyReLU needs the factor 2/(1 + α²)",
            ),
        ]
        for wrong, reason in hints:
            if abs(std / wrong - 1) < 0.015 and abs(wrong / want - 1) > 0.03:
                raise CheckFailed(f"{call_text} has std {std:.4g}, expected {want:.4g}: {reason}")
        raise CheckFailed(
            f"{call_text} has std {std:.4g}, expected √(2 / ((1 + α²)·fan_in)) = {want:.4g}"
        )


# ----------------------------------------------------------------------------- 9.4


def _plateau_rates(
    losses: list[float],
    lr: float,
    factor: float,
    patience: int,
    threshold: float,
    variant: str = "right",
) -> list[float]:
    """The rate after each epoch under PyTorch's documented rule (mode 'min', 'rel')."""
    best, bad, rates = math.inf, 0, []
    for loss in losses:
        if variant == "absolute":
            improved = loss < best - threshold
        elif variant == "non_strict":
            improved = loss <= best * (1 - threshold)
        else:
            improved = loss < best * (1 - threshold)
        if improved:
            best, bad = loss, 0
        else:
            bad += 1
        limit_hit = (
            (not improved and bad >= patience) if variant == "at_patience" else bad > patience
        )
        if limit_hit:
            lr *= factor
            if variant != "no_reset":
                bad = 0
        rates.append(lr)
    return rates


def _rates_before(
    losses: list[float], lr: float, factor: float, patience: int, threshold: float
) -> list[float]:
    """The rate in effect *during* each epoch (one epoch late): a typical off-by-one."""
    after = _plateau_rates(losses, lr, factor, patience, threshold)
    return [lr, *after[:-1]]


_PLATEAU_MISTAKES = {
    "at_patience": "you lowered the rate once the bad epochs reached patience; PyTorch waits "
    "until they exceed it (num_bad_epochs > patience), one epoch later, unlike dlcourse",
    "absolute": "the threshold is relative: an epoch improves only if loss < best·(1 − "
    "threshold), not loss < best − threshold",
    "non_strict": "a loss equal to best·(1 − threshold) is not an improvement: use <, not <=",
    "no_reset": "after lowering the rate, start counting bad epochs from 0 again",
}


def _loss_curve(gen: np.random.Generator, n: int) -> list[float]:
    """A made-up validation loss: falls, then wobbles on plateaus, with repeated values."""
    base = 0.3 + 0.7 * np.exp(-np.arange(n) / gen.uniform(3, 8))
    noise = gen.normal(0, 0.01, n) * (np.arange(n) > n // 3)
    curve = np.round(base + noise, 3)
    curve[n // 2 : n // 2 + 3] = curve[: n // 2].min()  # exact repeats of the best so far
    return [float(x) for x in curve]


@checker("9.4", uses=("plateau_rates",))
def check_plateau_rates(plateau_rates: Callable) -> None:
    gen = case_rng(940)
    settings = [(0.1, 0.5, 2, 0.0), (0.05, 0.1, 0, 0.0), (0.1, 0.5, 1, 0.02), (0.01, 0.5, 3, 0.05)]
    for lr, factor, patience, threshold in settings:
        losses = _loss_curve(gen, 30)
        args = f"lr={lr}, factor={factor}, patience={patience}, threshold={threshold}"
        got = call(plateau_rates, losses, lr, factor, patience, threshold)
        try:
            got = [float(x) for x in got]
        except TypeError as err:
            raise CheckFailed(
                f"plateau_rates(losses, {args}) should return a list of learning rates, "
                f"one per epoch, but returned {type(got).__name__}"
            ) from err
        if len(got) != len(losses):
            raise CheckFailed(
                f"plateau_rates(losses, {args}) returned {len(got)} rates for {len(losses)} "
                "epochs; give the rate after every epoch"
            )
        want = _plateau_rates(losses, lr, factor, patience, threshold)
        if np.allclose(got, want, rtol=1e-9):
            continue
        first = next(e for e in range(len(got)) if not math.isclose(got[e], want[e]))
        for variant, reason in _PLATEAU_MISTAKES.items():
            wrong = _plateau_rates(losses, lr, factor, patience, threshold, variant)
            if np.allclose(got, wrong, rtol=1e-9):
                raise CheckFailed(f"with {args}, epoch {first}: {reason}")
        if np.allclose(got, _rates_before(losses, lr, factor, patience, threshold), rtol=1e-9):
            raise CheckFailed(
                f"with {args}: your rates are one epoch late; give the rate after each epoch's "
                "step, so a reduction shows in the epoch that caused it"
            )
        raise CheckFailed(
            f"with {args}, epoch {first} (loss {losses[first]}): expected lr {want[first]:.6g}, "
            f"got {got[first]:.6g}"
        )
