"""The assignment 09 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

# ----------------------------------------------------------------------------- references
# The model answers of solutions/09_optimizers.ipynb, loaded from the notebook.

ANSWERS = model_answers("09_optimizers")
rmsprop_momentum_step = ANSWERS["rmsprop_momentum_step"]
warmup_step_decay = ANSWERS["warmup_step_decay"]
leaky_he = ANSWERS["leaky_he"]
plateau_rates = ANSWERS["plateau_rates"]


REFERENCES = {
    "9.1": rmsprop_momentum_step,
    "9.2": warmup_step_decay,
    "9.3": leaky_he,
    "9.4": plateau_rates,
}


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(("task", "func"), REFERENCES.items())
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", REFERENCES)
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


# ----------------------------------------------------------------------------- 9.1


def test_adagrad_sum_instead_of_moving_average_is_named():
    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        state["h"] = state.get("h", 0.0) + g * g
        state["v"] = mu * state.get("v", 0.0) - lr * g / (np.sqrt(state["h"]) + eps)
        return w + state["v"]

    assert "that is AdaGrad" in failed("9.1", wrong)


def test_missing_one_minus_rho_is_named():
    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        state["h"] = rho * state.get("h", 0.0) + g * g
        state["v"] = mu * state.get("v", 0.0) - lr * g / (np.sqrt(state["h"]) + eps)
        return w + state["v"]

    assert "weighted by (1 − ρ)" in failed("9.1", wrong)


def test_eps_inside_the_root_is_named():
    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        state["h"] = rho * state.get("h", 0.0) + (1 - rho) * g * g
        state["v"] = mu * state.get("v", 0.0) - lr * g / np.sqrt(state["h"] + eps)
        return w + state["v"]

    assert "ε belongs outside the square root" in failed("9.1", wrong)


def test_learning_rate_outside_the_velocity_is_named():
    """The PyTorch convention: identical while lr is constant, different once it drops."""

    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        state["h"] = rho * state.get("h", 0.0) + (1 - rho) * g * g
        state["v"] = mu * state.get("v", 0.0) + g / (np.sqrt(state["h"]) + eps)
        return w - lr * state["v"]

    message = failed("9.1", wrong)
    assert message.startswith("step 11")
    assert "inside the velocity" in message


def test_plain_rmsprop_without_velocity_is_named():
    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        state["h"] = rho * state.get("h", 0.0) + (1 - rho) * g * g
        return w - lr * g / (np.sqrt(state["h"]) + eps)

    assert "no memory of earlier ones" in failed("9.1", wrong)


def test_uphill_step_is_named():
    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        state["h"] = rho * state.get("h", 0.0) + (1 - rho) * g * g
        state["v"] = mu * state.get("v", 0.0) + lr * g / (np.sqrt(state["h"]) + eps)
        return w + state["v"]

    assert "uphill" in failed("9.1", wrong)


def test_changing_w_in_place_is_named():
    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        state["h"] = rho * state.get("h", 0.0) + (1 - rho) * g * g
        state["v"] = mu * state.get("v", 0.0) - lr * g / (np.sqrt(state["h"]) + eps)
        w += state["v"]
        return w

    assert "changed its argument 1 in place" in failed("9.1", wrong)


def test_forgetting_the_state_gets_the_general_message():
    def wrong(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        h = (1 - rho) * g * g  # a fresh h every call
        return w - lr * g / (np.sqrt(h) + eps)

    assert "keep h and v in state between calls" in failed("9.1", wrong)


def test_rmsprop_momentum_variants_pass():
    """Other correct formulations: arrays kept in state from the start, in-place updates of
    the state's own arrays, float32 weights."""

    def with_arrays(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
        if not state:
            state["h"], state["v"] = np.zeros_like(w), np.zeros_like(w)
        h, v = state["h"], state["v"]
        h *= rho
        h += (1 - rho) * g**2
        v *= mu
        v -= lr * g / (np.sqrt(h) + eps)
        return w + v

    assert_passes("9.1", with_arrays)


# ----------------------------------------------------------------------------- 9.2


def test_warmup_starting_at_zero_is_named():
    def wrong(epoch, peak_lr, warmup, drop, every):
        if epoch < warmup:
            return peak_lr * epoch / warmup
        return peak_lr * drop ** ((epoch - warmup) // every)

    assert "not wasted at lr 0" in failed("9.2", wrong)


def test_decay_counted_from_epoch_zero_is_named():
    def wrong(epoch, peak_lr, warmup, drop, every):
        if epoch < warmup:
            return peak_lr * (epoch + 1) / warmup
        return peak_lr * drop ** (epoch // every)

    assert "from the end of the warm-up" in failed("9.2", wrong)


def test_rate_above_the_peak_is_named():
    def wrong(epoch, peak_lr, warmup, drop, every):
        if epoch <= warmup and warmup > 0:
            return peak_lr * (epoch + 1) / warmup
        return peak_lr * drop ** ((epoch - warmup) // every)

    assert "went above peak_lr" in failed("9.2", wrong)


def test_division_by_zero_without_warmup_is_named():
    def wrong(epoch, peak_lr, warmup, drop, every):
        ramp = peak_lr * (epoch + 1) / warmup
        if epoch < warmup:
            return ramp
        return peak_lr * drop ** ((epoch - warmup) // every)

    assert "with warmup=0 there is no warm-up" in failed("9.2", wrong)


def test_schedule_returning_a_list_is_named():
    def wrong(epoch, peak_lr, warmup, drop, every):
        return [warmup_step_decay(epoch, peak_lr, warmup, drop, every)]

    assert "should return one number" in failed("9.2", wrong)


def test_schedule_variants_pass():
    def with_min(epoch, peak_lr, warmup, drop, every):
        ramp = peak_lr * min(1.0, (epoch + 1) / warmup) if warmup else peak_lr
        steps = max(0, epoch - warmup) // every
        return ramp * drop**steps if epoch >= warmup else ramp

    def with_math(epoch, peak_lr, warmup, drop, every):
        if epoch < warmup:
            return peak_lr * (epoch + 1) / warmup
        return peak_lr * math.pow(drop, math.floor((epoch - warmup) / every))

    assert_passes("9.2", with_min)
    assert_passes("9.2", with_math)


# ----------------------------------------------------------------------------- 9.3


def test_plain_he_is_named():
    def wrong(fan_in, fan_out, alpha, seed):
        return np.random.default_rng(seed).normal(0, np.sqrt(2 / fan_in), (fan_in, fan_out))

    assert "that is He's std" in failed("9.3", wrong)


def test_one_plus_alpha_is_named():
    def wrong(fan_in, fan_out, alpha, seed):
        std = np.sqrt(2 / ((1 + alpha) * fan_in))
        return np.random.default_rng(seed).normal(0, std, (fan_in, fan_out))

    assert "use (1 + α²), not (1 + α)" in failed("9.3", wrong)


def test_fan_out_is_named():
    def wrong(fan_in, fan_out, alpha, seed):
        std = np.sqrt(2 / ((1 + alpha**2) * fan_out))
        return np.random.default_rng(seed).normal(0, std, (fan_in, fan_out))

    assert "not on fan_out" in failed("9.3", wrong)


def test_variance_used_as_std_is_named():
    def wrong(fan_in, fan_out, alpha, seed):
        return np.random.default_rng(seed).normal(
            0, 2 / ((1 + alpha**2) * fan_in), (fan_in, fan_out)
        )

    assert "that is the variance" in failed("9.3", wrong)


def test_transposed_weights_are_named():
    def wrong(fan_in, fan_out, alpha, seed):
        return leaky_he(fan_in, fan_out, alpha, seed).T

    assert "weights are (fan_in, fan_out)" in failed("9.3", wrong)


def test_ignoring_the_seed_is_named():
    def wrong(fan_in, fan_out, alpha, seed):
        std = np.sqrt(2 / ((1 + alpha**2) * fan_in))
        return np.random.default_rng().normal(0, std, (fan_in, fan_out))

    assert "gave different weights" in failed("9.3", wrong)


def test_weights_not_centred_are_named():
    def wrong(fan_in, fan_out, alpha, seed):
        return leaky_he(fan_in, fan_out, alpha, seed) + 0.1

    assert "centred on 0" in failed("9.3", wrong)


def test_uniform_with_the_same_variance_passes():
    def uniform(fan_in, fan_out, alpha, seed):
        limit = np.sqrt(3 * 2 / ((1 + alpha**2) * fan_in))
        return np.random.default_rng(seed).uniform(-limit, limit, (fan_in, fan_out))

    def float32(fan_in, fan_out, alpha, seed):
        return leaky_he(fan_in, fan_out, alpha, seed).astype(np.float32)

    assert_passes("9.3", uniform)
    assert_passes("9.3", float32)


# ----------------------------------------------------------------------------- 9.4


def plateau_with(
    improves=lambda loss, best, threshold: loss < best * (1 - threshold),
    lower_when=lambda bad, patience: bad > patience,
    reset=True,
):
    """A learner's plateau_rates with one knob per typical mistake (defaults: the task's)."""

    def plateau(losses, lr, factor, patience, threshold):
        best, bad, rates = float("inf"), 0, []
        for loss in losses:
            if improves(loss, best, threshold):
                best, bad = loss, 0
            else:
                bad += 1
            if lower_when(bad, patience):
                lr *= factor
                bad = 0 if reset else bad
            rates.append(lr)
        return rates

    return plateau


def test_the_knobs_default_to_a_right_answer():
    assert_passes("9.4", plateau_with())


def test_dlcourse_patience_counting_is_named():
    wrong = plateau_with(lower_when=lambda bad, patience: bad >= patience and bad > 0)
    assert "until they exceed it" in failed("9.4", wrong)


def test_absolute_threshold_is_named():
    wrong = plateau_with(improves=lambda loss, best, threshold: loss < best - threshold)
    assert "the threshold is relative" in failed("9.4", wrong)


def test_non_strict_improvement_is_named():
    wrong = plateau_with(improves=lambda loss, best, threshold: loss <= best * (1 - threshold))
    assert "use <, not <=" in failed("9.4", wrong)


def test_count_not_reset_after_a_reduction_is_named():
    assert "start counting bad epochs from 0 again" in failed("9.4", plateau_with(reset=False))


def test_rates_one_epoch_late_are_named():
    def wrong(losses, lr, factor, patience, threshold):
        return [lr, *plateau_rates(losses, lr, factor, patience, threshold)[:-1]]

    assert "one epoch late" in failed("9.4", wrong)


def test_wrong_length_is_named():
    def wrong(losses, lr, factor, patience, threshold):
        return plateau_rates(losses, lr, factor, patience, threshold)[1:]

    assert "give the rate after every epoch" in failed("9.4", wrong)


def test_plateau_variants_pass():
    def as_array(losses, lr, factor, patience, threshold):
        return np.array(plateau_rates(losses, lr, factor, patience, threshold))

    def with_class(losses, lr, factor, patience, threshold):
        class Plateau:
            def __init__(self):
                self.best, self.bad, self.lr = math.inf, 0, lr

            def step(self, loss):
                better = loss < self.best * (1 - threshold)
                self.best = loss if better else self.best
                self.bad = 0 if better else self.bad + 1
                if self.bad > patience:
                    self.lr, self.bad = self.lr * factor, 0
                return self.lr

        plateau = Plateau()
        return [plateau.step(loss) for loss in losses]

    assert_passes("9.4", as_array)
    assert_passes("9.4", with_class)
