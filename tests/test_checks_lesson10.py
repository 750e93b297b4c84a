"""The checkers of assignment 10 pass the model answers and name the typical mistakes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, stub

import dlcourse.checks.lesson10 as lesson10
from dlcourse.conv import Conv2D, MaxPool2D
from dlcourse.initializers import he, xavier
from dlcourse.layers import Affine, BatchNorm, Dropout, Flatten, ReLU
from dlcourse.models import Sequential, mlp
from dlcourse.optimizers import Adam
from dlcourse.schedules import WarmupCosine
from dlcourse.training import LRScheduler, train

# ----------------------------------------------------------------------------- task 10.1


def make_build_cnn(
    pad=1,
    hidden_init=he,
    output_init=xavier,
    batch_norm_after_conv=True,
    gamma=1.0,
    dropout=0.3,
    fixed_seed=None,
    dropout_before_relu=False,
):
    """A build_cnn with one knob per typical mistake (the defaults are the model answer)."""

    def build_cnn(seed):
        rng = np.random.default_rng(seed if fixed_seed is None else fixed_seed)
        size = 28 if pad == 1 else 24 // 2 - 2

        def conv(c, f):
            W = hidden_init(c * 9, f, rng=rng, shape=(f, c, 3, 3))
            return Conv2D(W, np.zeros(f, np.float32), pad=pad)

        def bn(d):
            return BatchNorm(np.full(d, gamma, np.float32), np.zeros(d, np.float32))

        stage1 = [conv(1, 8), bn(8), ReLU()] if batch_norm_after_conv else [conv(1, 8), ReLU()]
        stage2 = [conv(8, 16), bn(16), ReLU()] if batch_norm_after_conv else [conv(8, 16), ReLU()]
        flat = 16 * 7 * 7 if pad == 1 else 16 * (size // 2) ** 2
        head = [bn(64), ReLU(), Dropout(dropout, rng=rng)]
        if dropout_before_relu:
            head = [bn(64), Dropout(dropout, rng=rng), ReLU()]
        return Sequential(
            [
                *stage1,
                MaxPool2D(2),
                *stage2,
                MaxPool2D(2),
                Flatten(),
                Affine(hidden_init(flat, 64, rng=rng), np.zeros(64, np.float32)),
                *head,
                Affine(output_init(64, 10, rng=rng), np.zeros(10, np.float32)),
            ]
        )

    return build_cnn


def test_10_1_passes_the_model_answer_and_fails_the_stub():
    assert_passes("10.1", make_build_cnn())
    assert_not_implemented("10.1", stub)


def test_10_1_accepts_rng_seed_passed_to_the_initialisers():
    """Variant: the seed handed straight to he()/xavier() as rng=seed is fine."""

    def build_cnn(seed):
        rng = np.random.default_rng(seed)
        return make_build_cnn()(int(rng.integers(1_000_000)))

    assert_passes("10.1", build_cnn)


def test_10_1_names_a_missing_padding():
    message = failed("10.1", make_build_cnn(pad=0))
    assert "conv1" in message and "pad=1" in message


def test_10_1_names_xavier_where_he_belongs_and_he_on_the_output():
    message = failed("10.1", make_build_cnn(hidden_init=xavier))
    assert "conv" in message and "Xavier's std, use He" in message
    message = failed("10.1", make_build_cnn(output_init=he))
    assert "affine2.W" in message and "He's std, use Xavier" in message


def test_10_1_names_a_missing_batch_norm_and_a_misplaced_dropout():
    message = failed("10.1", make_build_cnn(batch_norm_after_conv=False))
    assert "layer 2" in message and "'batchnorm'" in message
    message = failed("10.1", make_build_cnn(dropout_before_relu=True))
    assert "layer 12" in message and "Dropout comes once" in message


def test_10_1_names_gamma_zero_the_wrong_ratio_and_an_ignored_seed():
    assert "should start at 1" in failed("10.1", make_build_cnn(gamma=0.0))
    assert "asks for 0.3" in failed("10.1", make_build_cnn(dropout=0.5))
    assert "use the seed argument" in failed("10.1", make_build_cnn(fixed_seed=0))


def test_10_1_names_weights_that_do_not_start_at_mean_0():
    def shifted(seed):
        model = make_build_cnn()(seed)
        model.params["conv1.W"] += np.sqrt(2 / 9)  # He's std, added to every weight
        return model

    assert "conv1.W should start with mean 0" in failed("10.1", shifted)


def test_10_1_refuses_something_that_is_not_a_network():
    assert "Sequential" in failed(
        "10.1", lambda seed: [Conv2D(np.zeros((8, 1, 3, 3)), np.zeros(8))]
    )


# ----------------------------------------------------------------------------- task 10.2


def schedule(step, peak_lr, warmup_steps, total_steps, min_lr=0.0):
    if step < warmup_steps:
        return peak_lr * (step + 1) / warmup_steps
    p = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
    return min_lr + (peak_lr - min_lr) * (1 + math.cos(math.pi * p)) / 2


def test_10_2_passes_the_model_answer_and_fails_the_stub():
    assert_passes("10.2", schedule)
    assert_not_implemented("10.2", stub)


def test_10_2_accepts_numpy_floats_and_a_clamped_step():
    """Variant: np.cos and clamping the step instead of the progress."""

    def variant(step, peak_lr, warmup_steps, total_steps, min_lr=0.0):
        if step < warmup_steps:
            return np.float64(peak_lr * (step + 1) / warmup_steps)
        step = min(step, total_steps)
        p = (step - warmup_steps) / (total_steps - warmup_steps)
        return min_lr + 0.5 * (peak_lr - min_lr) * (1 + np.cos(np.pi * p))

    assert_passes("10.2", variant)


def test_10_2_names_a_warm_up_from_zero():
    def from_zero(step, peak_lr, warmup_steps, total_steps, min_lr=0.0):
        if step < warmup_steps:
            return peak_lr * step / warmup_steps
        return schedule(step, peak_lr, warmup_steps, total_steps, min_lr)

    assert "wasted step" in failed("10.2", from_zero)


def test_10_2_names_progress_measured_from_step_zero():
    def over_total(step, peak_lr, warmup_steps, total_steps, min_lr=0.0):
        if step < warmup_steps:
            return peak_lr * (step + 1) / warmup_steps
        p = min(1.0, step / total_steps)
        return min_lr + (peak_lr - min_lr) * (1 + math.cos(math.pi * p)) / 2

    assert "p = (step − warmup_steps)" in failed("10.2", over_total)


def test_10_2_names_a_forgotten_min_lr_and_a_missing_half():
    def no_floor(step, peak_lr, warmup_steps, total_steps, min_lr=0.0):
        return schedule(step, peak_lr, warmup_steps, total_steps, 0.0)

    assert "ends at 0 instead of min_lr" in failed("10.2", no_floor)

    def no_half(step, peak_lr, warmup_steps, total_steps, min_lr=0.0):
        if step < warmup_steps:
            return peak_lr * (step + 1) / warmup_steps
        p = min(1.0, (step - warmup_steps) / (total_steps - warmup_steps))
        return min_lr + (peak_lr - min_lr) * (1 + math.cos(math.pi * p))

    assert "(1 + cos πp) / 2" in failed("10.2", no_half)


def test_10_2_names_a_cosine_that_turns_back_up():
    def unclipped(step, peak_lr, warmup_steps, total_steps, min_lr=0.0):
        if step < warmup_steps:
            return peak_lr * (step + 1) / warmup_steps
        p = (step - warmup_steps) / (total_steps - warmup_steps)
        return min_lr + (peak_lr - min_lr) * (1 + math.cos(math.pi * p)) / 2

    assert "rises again" in failed("10.2", unclipped)


# ----------------------------------------------------------------------------- task 10.3


def stopping(
    values,
    patience,
    min_delta=0.0,
    mode="max",
    ties=False,
    from_zero=False,
    late=False,
    ignore_mode=False,
    ignore_delta=False,
):
    """The model answer, with one knob per typical mistake."""
    sign = 1 if mode == "max" or ignore_mode else -1
    delta = 0.0 if ignore_delta else min_delta
    best, best_epoch, bad = -math.inf, None, 0
    for epoch, value in enumerate(values, start=0 if from_zero else 1):
        better = sign * value >= best + delta if ties else sign * value > best + delta
        if better:
            best, best_epoch, bad = sign * value, epoch, 0
        else:
            bad += 1
            if bad > patience if late else bad >= patience:
                return best_epoch, epoch
    return best_epoch, None


def test_10_3_passes_the_model_answer_and_fails_the_stub():
    assert_passes("10.3", stopping)
    assert_not_implemented("10.3", stub)
    assert stopping([0.80, 0.85, 0.85, 0.84], patience=2) == (2, 4)  # the task's example


def test_10_3_accepts_a_list_and_numpy_values():
    def as_list(values, patience, min_delta=0.0, mode="max"):
        best_epoch, stop = stopping(np.asarray(values), patience, min_delta, mode)
        return [np.int64(best_epoch), stop]

    assert_passes("10.3", as_list)


@pytest.mark.parametrize(
    ("mistake", "words"),
    [
        ({"ties": True}, "an equal value is not an improvement"),
        ({"from_zero": True}, "epochs count from 1"),
        ({"late": True}, "not one later"),
        ({"ignore_mode": True}, "with mode='min' a smaller value is the improvement"),
        ({"ignore_delta": True}, "by more than min_delta"),
    ],
)
def test_10_3_names_each_typical_mistake(mistake, words):
    def wrong(values, patience, min_delta=0.0, mode="max"):
        return stopping(values, patience, min_delta, mode, **mistake)

    assert words in failed("10.3", wrong)


def test_10_3_names_the_last_epoch_returned_as_the_best():
    def last(values, patience, min_delta=0.0, mode="max"):
        _, stop = stopping(values, patience, min_delta, mode)
        return (stop or len(values)), stop

    assert "not the last one trained" in failed("10.3", last)


# ----------------------------------------------------------------------------- task 10.4


def train_to_threshold(x_train, labels_train, x_val, labels_val):
    model = mlp((784, 128, 64, 10), batch_norm=True, dropout=0.1, rng=0)
    train(
        model,
        Adam(lr=0.005),
        x_train,
        labels_train,
        epochs=10,
        batch_size=50,
        rng=0,
        callbacks=[LRScheduler(WarmupCosine(0.005, warmup=1, total=10))],
        progress=False,
    )
    return model


def test_10_4_passes_the_model_answer_and_fails_the_stub():
    assert_passes("10.4", train_to_threshold)
    assert_not_implemented("10.4", stub)


def test_10_4_names_a_diverged_run_and_too_little_training():
    def diverged(x_train, labels_train, x_val, labels_val):
        model = mlp((784, 64, 10), rng=0)
        train(
            model,
            Adam(lr=5.0),
            x_train,
            labels_train,
            epochs=2,
            rng=0,
            progress=False,
            diverge_factor=None,
        )
        return model

    assert "check the learning rate" in failed("10.4", diverged)

    def untrained(x_train, labels_train, x_val, labels_val):
        model = mlp((784, 64, 10), rng=0)
        train(
            model,
            Adam(lr=0.001),
            x_train[:100],
            labels_train[:100],
            epochs=1,
            rng=0,
            progress=False,
        )
        return model

    message = failed("10.4", untrained)
    assert "below the 90% asked" in message


def test_10_4_names_a_run_over_budget(monkeypatch):
    monkeypatch.setattr(lesson10, "BUDGET_SECONDS", 0.0)
    assert "more than the 0 s the check allows" in failed("10.4", train_to_threshold)


def test_10_4_names_a_missing_model_and_wrong_scores():
    assert "returned NoneType" in failed("10.4", lambda *args: None)

    class ImagesOnly:
        def predict(self, x):
            return np.zeros((len(x), 1, 10))

    assert "reshape inside" in failed("10.4", lambda *args: ImagesOnly())
