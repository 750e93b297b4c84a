"""Learning-rate schedules: a learning rate that changes with the epoch (lesson 09).

A schedule is a callable ``schedule(epoch) -> lr`` with epochs counted from 0, so
``[schedule(e) for e in range(30)]`` is the learning rate of each of 30 epochs.
``dlcourse.training.LRScheduler(schedule)`` sets ``optimizer.lr`` from it at the start
of every epoch. ``ReduceOnPlateau`` is different: it watches a metric and lowers the
rate when the metric stops improving, through ``step(metric) -> lr``.
"""

from __future__ import annotations

import math

from dlcourse.config import positive

__all__ = [
    "ExponentialDecay",
    "InverseDecay",
    "ReduceOnPlateau",
    "Schedule",
    "StepDecay",
    "WarmupCosine",
]


def _check_epoch(epoch: int) -> int:
    if epoch < 0:
        raise ValueError(f"epochs count from 0, got epoch {epoch}")
    return int(epoch)


class Schedule:
    """Base class: ``schedule(epoch)`` gives the learning rate of that epoch (from 0)."""

    def __call__(self, epoch: int) -> float:
        raise NotImplementedError

    def values(self, epochs: int) -> list[float]:
        """The learning rate of each epoch 0 … epochs − 1 (handy for plotting)."""
        return [self(epoch) for epoch in range(epochs)]

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in vars(self).items())
        return f"{type(self).__name__}({args})"


class StepDecay(Schedule):
    """Multiply the rate by ``drop`` every ``every`` epochs: lr·drop^⌊epoch / every⌋."""

    def __init__(self, lr: float, drop: float = 0.5, every: int = 10) -> None:
        self.lr = positive("lr", lr)
        self.drop = positive("drop", drop)
        if every < 1:
            raise ValueError(f"expected every to be at least 1 epoch but got {every}")
        self.every = int(every)

    def __call__(self, epoch: int) -> float:
        return self.lr * self.drop ** (_check_epoch(epoch) // self.every)


class InverseDecay(Schedule):
    """The source's A / (1 + k·t): fast decay at first, then slower and slower."""

    def __init__(self, lr: float, k: float) -> None:
        self.lr = positive("lr", lr)
        if k < 0:
            raise ValueError(f"expected k to be non-negative but got {k}")
        self.k = float(k)

    def __call__(self, epoch: int) -> float:
        return self.lr / (1 + self.k * _check_epoch(epoch))


class ExponentialDecay(Schedule):
    """lr·rateᵉᵖᵒᶜʰ: the same fraction is lost every epoch (rate in (0, 1])."""

    def __init__(self, lr: float, rate: float) -> None:
        self.lr = positive("lr", lr)
        if not 0 < rate <= 1:
            raise ValueError(f"expected rate to be in (0, 1] but got {rate}")
        self.rate = float(rate)

    def __call__(self, epoch: int) -> float:
        return self.lr * self.rate ** _check_epoch(epoch)


class WarmupCosine(Schedule):
    """Linear warm-up to ``peak_lr``, then half a cosine down to ``min_lr``.

    Epoch e < warmup gets peak_lr·(e + 1)/warmup (so no epoch is wasted at lr 0 and
    epoch warmup − 1 reaches the peak); then, with p = (e − warmup)/(total − warmup),
    lr = min_lr + (peak_lr − min_lr)·(1 + cos πp)/2, which starts at the peak and
    reaches min_lr at epoch ``total`` (later epochs stay at min_lr). The capstone uses
    ``WarmupCosine(0.01, warmup=3, total=30)``.
    """

    def __init__(self, peak_lr: float, warmup: int, total: int, min_lr: float = 0.0) -> None:
        self.peak_lr = positive("peak_lr", peak_lr)
        if not 0 <= warmup < total:
            raise ValueError(
                f"need 0 <= warmup < total epochs, got warmup={warmup} and total={total}"
            )
        if not 0 <= min_lr <= peak_lr:
            raise ValueError(f"expected min_lr to be in [0, peak_lr={peak_lr}] but got {min_lr}")
        self.warmup = int(warmup)
        self.total = int(total)
        self.min_lr = float(min_lr)

    def __call__(self, epoch: int) -> float:
        epoch = _check_epoch(epoch)
        if epoch < self.warmup:
            return self.peak_lr * (epoch + 1) / self.warmup
        progress = min(1.0, (epoch - self.warmup) / (self.total - self.warmup))
        cosine = (1 + math.cos(math.pi * progress)) / 2
        return self.min_lr + (self.peak_lr - self.min_lr) * cosine


class ReduceOnPlateau(Schedule):
    """Lower the rate when a monitored metric stops improving.

    Call ``step(metric)`` once per epoch with a value to minimise (e.g. the validation
    loss; use ``mode="max"`` for an accuracy). After ``patience`` epochs in a row
    without an improvement of more than ``min_delta`` on the best value, the rate is
    multiplied by ``factor`` (never below ``min_lr``) and the count starts again.
    ``schedule(epoch)`` returns the current rate, so it also works as a schedule.
    """

    def __init__(
        self,
        lr: float,
        factor: float = 0.5,
        patience: int = 3,
        min_lr: float = 1e-6,
        mode: str = "min",
        min_delta: float = 0.0,
    ) -> None:
        self.lr = positive("lr", lr)
        if not 0 < factor < 1:
            raise ValueError(f"expected factor to be in (0, 1) but got {factor}")
        if patience < 0:
            raise ValueError(f"expected patience to be non-negative but got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"expected mode to be 'min' or 'max' but got {mode!r}")
        self.factor = float(factor)
        self.patience = int(patience)
        self.min_lr = float(min_lr)
        self.mode = mode
        self.min_delta = float(min_delta)
        self.best = math.inf if mode == "min" else -math.inf
        self.bad_epochs = 0

    def _improved(self, metric: float) -> bool:
        if self.mode == "min":
            return metric < self.best - self.min_delta
        return metric > self.best + self.min_delta

    def step(self, metric: float) -> float:
        """Record this epoch's metric and return the (possibly lowered) learning rate."""
        metric = float(metric)
        if self._improved(metric):
            self.best = metric
            self.bad_epochs = 0
            return self.lr
        self.bad_epochs += 1  # no improvement (a NaN never improves)
        if self.bad_epochs >= self.patience:
            self.lr = max(self.min_lr, self.lr * self.factor)
            self.bad_epochs = 0
        return self.lr

    def __call__(self, epoch: int) -> float:
        _check_epoch(epoch)
        return self.lr
