"""The assignment 08 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import (
    Stub,
    assert_not_implemented,
    assert_passes,
    failed,
    model_answers,
    stub,
)

# ----------------------------------------------------------------------------- references
# The model answers of solutions/08_regularization.ipynb, loaded from the notebook.

ANSWERS = model_answers("08_regularization")
penalty_and_gradient = ANSWERS["penalty_and_gradient"]
ChannelDropout = ANSWERS["ChannelDropout"]
batchnorm_backward = ANSWERS["batchnorm_backward"]
EarlyStopper = ANSWERS["EarlyStopper"]


def is_weight(name):
    return name.rsplit(".", 1)[-1].startswith("W")


class StubStopper:
    def __init__(self, patience):
        pass

    def update(self, val_acc, params):
        raise NotImplementedError("Task 8.4: write your code here")


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "objects"),
    [
        ("8.1", (penalty_and_gradient,)),
        ("8.2", (ChannelDropout,)),
        ("8.3", (batchnorm_backward,)),
        ("8.4", (EarlyStopper,)),
    ],
)
def test_reference_solution_passes(task, objects):
    assert_passes(task, *objects)


@pytest.mark.parametrize(
    ("task", "objects"),
    [("8.1", (stub,)), ("8.2", (Stub,)), ("8.3", (stub,)), ("8.4", (StubStopper,))],
)
def test_stub_fails_as_not_implemented(task, objects):
    assert_not_implemented(task, *objects)


# ----------------------------------------------------------------------------- 8.1 variants


def test_penalty_written_with_comprehensions_passes():
    def compact(params, l1=0.0, l2=0.0):
        weights = {n: p for n, p in params.items() if is_weight(n)}
        value = sum(l1 * np.abs(W).sum() + 0.5 * l2 * np.sum(W**2) for W in weights.values())
        grads = {n: l1 * np.sign(p) + l2 * p if n in weights else 0 * p for n, p in params.items()}
        return np.float64(value), grads

    assert_passes("8.1", compact)


# ----------------------------------------------------------------------------- 8.1 mistakes


def test_penalised_biases_are_named():
    def biases_too(params, l1=0.0, l2=0.0):
        value = sum(l1 * np.abs(p).sum() + l2 / 2 * (p * p).sum() for p in params.values())
        return float(value), {n: l1 * np.sign(p) + l2 * p for n, p in params.items()}

    assert "you penalised the biases too" in failed("8.1", biases_too)


def test_missing_half_in_the_l2_value_is_named():
    def no_half(params, l1=0.0, l2=0.0):
        value, grads = penalty_and_gradient(params, l1, l2)
        extra = sum(l2 / 2 * (p * p).sum() for n, p in params.items() if is_weight(n))
        return value + float(extra), grads

    assert "with the ½" in failed("8.1", no_half)


def test_l2_gradient_twice_too_large_is_named():
    def double(params, l1=0.0, l2=0.0):
        value, grads = penalty_and_gradient(params, l1, l2)
        return value, {n: g + l2 * params[n] if is_weight(n) else g for n, g in grads.items()}

    assert "is λ2·W, not 2·λ2·W" in failed("8.1", double)


def test_l1_gradient_from_the_value_instead_of_the_sign_is_named():
    def abs_gradient(params, l1=0.0, l2=0.0):
        value, _ = penalty_and_gradient(params, l1, l2)
        return value, {
            n: (l1 * np.abs(p) + l2 * p) if is_weight(n) else np.zeros_like(p)
            for n, p in params.items()
        }

    assert "λ1·sign(W), not λ1·|W|" in failed("8.1", abs_gradient)


def test_gradients_only_for_the_weights_are_named():
    def weights_only(params, l1=0.0, l2=0.0):
        value, grads = penalty_and_gradient(params, l1, l2)
        return value, {n: g for n, g in grads.items() if is_weight(n)}

    assert "zeros for the biases" in failed("8.1", weights_only)


def test_gamma_counted_as_a_weight_is_named():
    def gamma_too(params, l1=0.0, l2=0.0):
        value, grads = penalty_and_gradient(params, l1, l2)
        for n, p in params.items():
            if n.startswith("gamma"):
                grads[n] = l1 * np.sign(p) + l2 * p
        return value, grads

    assert "gamma1 is not a weight W, so it is not penalised" in failed("8.1", gamma_too)


def test_penalty_changing_params_in_place_is_named():
    def in_place(params, l1=0.0, l2=0.0):
        value, grads = penalty_and_gradient(params, l1, l2)
        for n, p in params.items():
            p -= grads[n]
        return value, grads

    assert "in place" in failed("8.1", in_place)


# ----------------------------------------------------------------------------- 8.2 mistakes


def test_dropout_without_scaling_is_named():
    class Unscaled(ChannelDropout):
        def forward(self, x):
            out = super().forward(x)
            if self.mask is not None:
                self.mask = (self.mask > 0).astype(float)
                out = x * self.mask
            return out

    assert "inverted dropout multiplies them by 1/(1 − ratio)" in failed("8.2", Unscaled)


def test_scaling_at_inference_is_named():
    class ScaledAtInference(ChannelDropout):
        def forward(self, x):
            return super().forward(x) if self.training else x * (1 - self.ratio)

    assert "you scaled at inference too" in failed("8.2", ScaledAtInference)


def test_dropping_single_values_is_named():
    class PerUnit(ChannelDropout):
        def forward(self, x):
            if not self.training:
                self.mask = None
                return x
            self.mask = (self.rng.random(x.shape) >= self.ratio) / (1 - self.ratio)
            return x * self.mask

    assert "drop whole channels" in failed("8.2", PerUnit)


def test_ratio_used_as_keep_probability_is_named():
    class Keep(ChannelDropout):
        def forward(self, x):
            if not self.training:
                return x
            keep = self.rng.random((x.shape[0], x.shape[1], 1, 1)) < self.ratio
            self.mask = keep / self.ratio
            return x * self.mask

    assert "probability of *dropping*" in failed("8.2", Keep)


def test_dropout_active_in_evaluation_mode_is_named():
    class AlwaysOn(ChannelDropout):
        def forward(self, x):
            keep = self.rng.random((x.shape[0], x.shape[1], 1, 1)) >= self.ratio
            self.mask = keep / (1 - self.ratio)
            return x * self.mask

    assert "nothing is dropped at inference" in failed("8.2", AlwaysOn)


def test_backward_with_a_new_mask_is_named():
    class NewMask(ChannelDropout):
        def backward(self, dout):
            keep = self.rng.random((dout.shape[0], dout.shape[1], 1, 1)) >= self.ratio
            return dout * keep / (1 - self.ratio)

    assert "same mask as the forward pass" in failed("8.2", NewMask)


def test_the_same_mask_every_call_is_named():
    class Frozen(ChannelDropout):
        def forward(self, x):
            self.rng = np.random.default_rng(0)
            return super().forward(x)

    assert "draw a new mask on every forward call" in failed("8.2", Frozen)


# ----------------------------------------------------------------------------- 8.3 variants


def test_batchnorm_backward_by_the_long_chain_rule_passes():
    def step_by_step(dout, x, gamma, eps=1e-5):
        n = x.shape[0]
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc**2).mean(axis=0)
        inv = 1 / np.sqrt(var + eps)
        x_hat = xc * inv
        dx_hat = dout * gamma
        dvar = np.sum(dx_hat * xc, axis=0) * -0.5 * inv**3
        dmu = -np.sum(dx_hat * inv, axis=0) + dvar * -2 * xc.mean(axis=0)
        dx = dx_hat * inv + dvar * 2 * xc / n + dmu / n
        return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)

    assert_passes("8.3", step_by_step)


# ----------------------------------------------------------------------------- 8.3 mistakes


def test_mean_and_variance_treated_as_constants_is_named():
    def constants(dout, x, gamma, eps=1e-5):
        _, dgamma, dbeta = batchnorm_backward(dout, x, gamma, eps)
        return dout * gamma / np.sqrt(x.var(axis=0) + eps), dgamma, dbeta

    assert "you treated μ and σ² as constants" in failed("8.3", constants)


def test_missing_variance_path_is_named():
    def no_variance(dout, x, gamma, eps=1e-5):
        _, dgamma, dbeta = batchnorm_backward(dout, x, gamma, eps)
        dx_hat = dout * gamma
        return (dx_hat - dx_hat.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps), dgamma, dbeta

    assert "the variance depends on x too" in failed("8.3", no_variance)


def test_averaged_dbeta_is_named():
    def mean_beta(dout, x, gamma, eps=1e-5):
        dx, dgamma, _ = batchnorm_backward(dout, x, gamma, eps)
        return dx, dgamma, dout.mean(axis=0)

    assert "its gradient is the sum" in failed("8.3", mean_beta)


def test_dgamma_from_x_instead_of_x_hat_is_named():
    def raw_x(dout, x, gamma, eps=1e-5):
        dx, _, dbeta = batchnorm_backward(dout, x, gamma, eps)
        return dx, (dout * x).sum(axis=0), dbeta

    assert "dgamma = Σ dout·x̂" in failed("8.3", raw_x)


def test_unbiased_variance_is_named():
    def unbiased(dout, x, gamma, eps=1e-5):
        std = np.sqrt(x.var(axis=0, ddof=1) + eps)
        x_hat = (x - x.mean(axis=0)) / std
        dx_hat = dout * gamma
        dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
        return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)

    assert "not over N − 1" in failed("8.3", unbiased)


# ----------------------------------------------------------------------------- 8.4 mistakes


def test_best_weights_kept_by_reference_are_named():
    class ByReference(EarlyStopper):
        def update(self, val_acc, params):
            stop = super().update(val_acc, params)
            if self.best_epoch == self.epoch:
                self.best_params = params
            return stop

    assert "store copies" in failed("8.4", ByReference)


def test_ties_counted_as_improvements_are_named():
    class Ties(EarlyStopper):
        def update(self, val_acc, params):
            if val_acc == self.best_acc:
                self.best_acc -= 1e-12  # make the tie look like an improvement
            return super().update(val_acc, params)

    assert "(use >, not >=)" in failed("8.4", Ties)


def test_patience_off_by_one_is_named():
    class OneLate(EarlyStopper):
        def update(self, val_acc, params):
            super().update(val_acc, params)
            return self.bad_epochs > self.patience

    message = failed("8.4", OneLate)
    assert "expected epoch" in message and "as soon as the count of such epochs reaches" in message


def test_count_not_reset_after_an_improvement_is_named():
    class NoReset(EarlyStopper):
        def update(self, val_acc, params):
            bad = self.bad_epochs
            stop = super().update(val_acc, params)
            if self.best_epoch == self.epoch:
                self.bad_epochs = bad
                return self.bad_epochs >= self.patience
            return stop

    assert "reset that count to 0 whenever the accuracy improves" in failed("8.4", NoReset)


def test_best_epoch_counted_from_zero_is_named():
    class FromZero(EarlyStopper):
        def update(self, val_acc, params):
            stop = super().update(val_acc, params)
            if self.best_epoch == self.epoch:
                self.best_epoch -= 1
            return stop

    assert "epochs count from 1" in failed("8.4", FromZero)
