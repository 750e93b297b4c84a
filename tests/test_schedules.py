"""Learning-rate schedules give the right rate at chosen epochs."""

from __future__ import annotations

import math

import pytest

from dlcourse.schedules import (
    ExponentialDecay,
    InverseDecay,
    ReduceOnPlateau,
    StepDecay,
    WarmupCosine,
)


def test_step_decay_halves_the_rate_every_ten_epochs():
    schedule = StepDecay(0.1, drop=0.5, every=10)
    assert [schedule(e) for e in (0, 9, 10, 19, 20, 35)] == pytest.approx(
        [0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]
    )


def test_inverse_decay_is_a_over_one_plus_k_t():
    schedule = InverseDecay(0.5, k=0.1)
    assert [schedule(e) for e in (0, 1, 10, 30)] == pytest.approx([0.5, 0.5 / 1.1, 0.25, 0.125])


def test_exponential_decay_loses_the_same_fraction_each_epoch():
    schedule = ExponentialDecay(0.1, rate=0.9)
    assert schedule(0) == pytest.approx(0.1)
    assert schedule(3) == pytest.approx(0.1 * 0.729)
    assert schedule(10) / schedule(9) == pytest.approx(0.9)


def test_warmup_cosine_matches_the_capstone_recipe():
    schedule = WarmupCosine(0.01, warmup=3, total=30)
    rates = schedule.values(30)
    assert rates[:3] == pytest.approx([0.01 / 3, 0.02 / 3, 0.01])  # linear warm-up
    assert rates[3] == pytest.approx(0.01)  # the cosine starts at the peak
    assert rates[3 + 27 // 2] == pytest.approx(0.005 * (1 + math.cos(math.pi * 13 / 27)))
    assert rates[3:] == sorted(rates[3:], reverse=True)  # then only goes down
    assert schedule(30) == pytest.approx(0.0) and schedule(50) == pytest.approx(0.0)


def test_warmup_cosine_ends_at_min_lr():
    schedule = WarmupCosine(1.0, warmup=0, total=10, min_lr=0.1)
    assert schedule(0) == pytest.approx(1.0)
    assert schedule(5) == pytest.approx(0.55)
    assert schedule(10) == pytest.approx(0.1)


def test_reduce_on_plateau_reduces_after_patience_epochs_without_improvement():
    schedule = ReduceOnPlateau(0.1, factor=0.5, patience=3)
    rates = [schedule.step(loss) for loss in [1.0, 0.9, 0.95, 0.91, 0.92]]
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05])
    assert schedule(5) == pytest.approx(0.05)  # usable as a schedule too


def test_reduce_on_plateau_waits_again_after_an_improvement_or_a_reduction():
    schedule = ReduceOnPlateau(1.0, factor=0.1, patience=2, min_lr=0.005)
    rates = [schedule.step(m) for m in [5, 6, 4, 6, 6, 6, 6, 6, 6]]
    assert rates == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.01, 0.01, 0.005])


def test_reduce_on_plateau_in_max_mode_watches_an_accuracy():
    schedule = ReduceOnPlateau(0.1, patience=1, mode="max")
    assert schedule.step(0.90) == pytest.approx(0.1)
    assert schedule.step(0.95) == pytest.approx(0.1)
    assert schedule.step(0.94) == pytest.approx(0.05)


def test_reduce_on_plateau_counts_nan_as_no_improvement():
    schedule = ReduceOnPlateau(0.1, patience=1)
    schedule.step(1.0)
    assert schedule.step(float("nan")) == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: StepDecay(0.1, every=0), "expected every to be at least 1"),
        (lambda: ExponentialDecay(0.1, rate=1.5), r"expected rate to be in \(0, 1\]"),
        (lambda: WarmupCosine(0.1, warmup=10, total=10), "warmup < total"),
        (lambda: ReduceOnPlateau(0.1, mode="best"), "expected mode to be 'min' or 'max'"),
        (lambda: InverseDecay(-1, k=0.1), "expected lr to be positive"),
    ],
)
def test_invalid_schedule_arguments_are_rejected(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_negative_epochs_are_rejected():
    with pytest.raises(ValueError, match="epochs count from 0, got epoch -1"):
        StepDecay(0.1)(-1)
