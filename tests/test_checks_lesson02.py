"""The assignment 02 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

from dlcourse.checks import check

# ----------------------------------------------------------------------------- references
# The model answers of solutions/02_softmax.ipynb, loaded from the notebook.

ANSWERS = model_answers("02_softmax")
log_softmax = ANSWERS["log_softmax"]
softmax = ANSWERS["softmax"]
cross_entropy_from_scores = ANSWERS["cross_entropy_from_scores"]
softmax_cross_entropy_gradient = ANSWERS["softmax_cross_entropy_gradient"]
train_step = ANSWERS["train_step"]


def as_one_hot(t, num_classes):
    return t if t.ndim == 2 else np.eye(num_classes)[t]


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [
        ("2.1", log_softmax),
        ("2.2", cross_entropy_from_scores),
        ("2.3", softmax_cross_entropy_gradient),
        ("2.4", train_step),
    ],
)
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", ["2.1", "2.2", "2.3", "2.4"])
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


def test_package_log_softmax_and_cross_entropy_earn_nothing():  # issue 11 §5
    from dlcourse.functions import log_softmax as package_log_softmax
    from dlcourse.layers import SoftmaxCrossEntropy

    for task, func in (("2.1", package_log_softmax), ("2.2", SoftmaxCrossEntropy().forward)):
        result = check(task, func, verbose=False)
        assert not result.passed and "from the dlcourse package" in result.message


# ----------------------------------------------------------------------------- 2.1


def test_naive_log_softmax_overflow_is_named():
    def wrong(x):
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

    message = failed("2.1", wrong)
    assert message.startswith("log_softmax([1010, 1000, 990]) returned")
    assert "subtract the row maximum before exp()" in message


def test_log_of_softmax_is_named():
    def wrong(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return np.log(e / e.sum(axis=-1, keepdims=True))

    message = failed("2.1", wrong)
    assert "class 800 below the others returned -inf" in message
    assert "that is np.log(softmax(x))" in message


def test_global_maximum_is_named():
    def wrong(x):  # the textbook one-sample version, applied to a batch
        shifted = x - np.max(x)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    message = failed("2.1", wrong)
    assert "rows are near 0, +1000 and -1000 returned" in message
    assert "not the maximum of the whole batch" in message


def test_sum_over_columns_is_named():
    def wrong(x):
        shifted = x - x.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=0, keepdims=True))

    assert "the sum of exp runs down the columns" in failed("2.1", wrong)


def test_probabilities_instead_of_logs_are_named():
    assert "returned probabilities" in failed("2.1", softmax)


def test_missing_log_sum_exp_term_is_named():
    def wrong(x):
        return x - x.max(axis=-1, keepdims=True)

    assert "subtract log Σ exp(x − max) as well" in failed("2.1", wrong)


def test_log_softmax_that_changes_its_input_is_caught():
    def wrong(x):
        x -= x.max(axis=-1, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))

    assert "changed `x` in place" in failed("2.1", wrong)


# ----------------------------------------------------------------------------- 2.2


def guarded_cross_entropy(a, t):
    """Lesson 02's loss: probabilities first, then log max(y, 1e-7)."""
    y = softmax(a)
    t = as_one_hot(t, a.shape[1])
    return float(-np.sum(t * np.log(np.maximum(y, 1e-7))) / a.shape[0])


def test_guarded_loss_is_named_as_capped():
    message = failed("2.2", guarded_cross_entropy)
    assert "800 below the others" in message
    assert "lesson 02's guarded loss" in message and "caps the cost of a sample" in message


def test_guard_added_to_the_probability_is_named():
    def wrong(a, t):
        y = softmax(a)[np.arange(a.shape[0]), as_one_hot(t, a.shape[1]).argmax(axis=1)]
        return float(-np.log(y + 1e-7).mean())

    assert "that is lesson 02's guarded log of the probabilities" in failed("2.2", wrong)


def test_log_of_softmax_in_the_loss_is_named():
    def wrong(a, t):
        with np.errstate(divide="ignore"):
            logp = np.log(softmax(a))
        return float(-np.sum(as_one_hot(t, a.shape[1]) * logp) / a.shape[0])

    message = failed("2.2", wrong)
    assert "returned inf" in message
    assert "what np.log(softmax(a)) gives" in message


def test_summed_loss_is_named():
    def wrong(a, t):
        return cross_entropy_from_scores(a, t) * a.shape[0]

    assert "divide by the number of samples N" in failed("2.2", wrong)


def test_negative_loss_is_named():
    def wrong(a, t):
        return -cross_entropy_from_scores(a, t)

    assert "the loss must be positive" in failed("2.2", wrong)


def test_mean_over_all_entries_is_named():
    def wrong(a, t):
        return float(-np.mean(as_one_hot(t, a.shape[1]) * log_softmax(a)))

    assert "averaged over all N·K entries" in failed("2.2", wrong)


def test_labels_indexed_as_a_column_block_are_named():
    def wrong(a, t):
        logp = log_softmax(a)
        if t.ndim == 1:
            return float(-logp[:, t].mean())
        return float(-np.sum(t * logp) / a.shape[0])

    message = failed("2.2", wrong)
    assert "integer labels" in message
    assert "logp[:, t] picks the column t[j] for every row" in message


def test_labels_block_returned_as_an_array_is_named():
    def wrong(a, t):
        logp = log_softmax(a)
        if t.ndim == 1:
            return -logp[:, t]
        return float(-np.sum(t * logp) / a.shape[0])

    assert "an N×N block" in failed("2.2", wrong)


def test_one_hot_only_loss_explains_labels():
    def wrong(a, t):
        return float(-np.sum(t * log_softmax(a)) / a.shape[0])

    message = failed("2.2", wrong)
    assert "raised ValueError" in message
    assert "here it holds integer labels (N,): pick logp[np.arange(N), t]" in message


def test_labels_only_loss_explains_one_hot_rows():
    def wrong(a, t):
        return float(-log_softmax(a)[np.arange(a.shape[0]), t].mean())

    message = failed("2.2", wrong)
    assert "raised IndexError" in message
    assert "here it holds one-hot rows (N, K)" in message


def test_loss_per_sample_is_named():
    def wrong(a, t):
        return -np.sum(as_one_hot(t, a.shape[1]) * log_softmax(a), axis=1)

    assert "one loss per sample: return their mean" in failed("2.2", wrong)


def test_one_hot_from_np_eye_passes():
    def variant(a, t):
        if t.ndim == 1:
            t = np.eye(a.shape[1])[t]
        return float(-(t * log_softmax(a)).sum(axis=1).mean())

    assert_passes("2.2", variant)


def test_take_along_axis_passes():
    def variant(a, t):
        labels = t if t.ndim == 1 else t.argmax(axis=1)
        picked = np.take_along_axis(log_softmax(a), labels[:, None], axis=1)
        return -picked.mean()  # a numpy float, not a Python float

    assert_passes("2.2", variant)


def test_logsumexp_written_out_passes():
    def variant(a, t):
        labels = t if t.ndim == 1 else np.argmax(t, axis=1)
        n = len(a)
        top = a.max(axis=1)
        log_norm = top + np.log(np.exp(a - top[:, None]).sum(axis=1))
        return float(np.mean(log_norm - a[np.arange(n), labels]))

    assert_passes("2.2", variant)


# ----------------------------------------------------------------------------- 2.3


def test_gradient_with_wrong_sign_is_named():
    def wrong(a, t):
        return -softmax_cross_entropy_gradient(a, t)

    assert "wrong sign of the gradient" in failed("2.3", wrong)


def test_gradient_without_mean_is_named():
    def wrong(a, t):
        return softmax(a) - as_one_hot(t, a.shape[1])

    assert "N times too large" in failed("2.3", wrong)


def test_gradient_of_raw_scores_is_named():
    def wrong(a, t):
        return (a - as_one_hot(t, a.shape[1])) / a.shape[0]

    assert "use the probabilities y = softmax(a)" in failed("2.3", wrong)


def test_gradient_with_unstable_softmax_is_named():
    def wrong(a, t):
        e = np.exp(a)
        return (e / e.sum(axis=1, keepdims=True) - as_one_hot(t, a.shape[1])) / a.shape[0]

    assert "contains nan or inf" in failed("2.3", wrong)


def test_gradient_error_names_the_worst_element():
    def wrong(a, t):
        grad = softmax_cross_entropy_gradient(a, t)
        grad[1, 2] *= 1.03
        return grad

    assert "relative error 3e-02 at index (1, 2)" in failed("2.3", wrong)


# ----------------------------------------------------------------------------- 2.4


def test_uphill_step_is_named():
    def wrong(params, x, t, lr):
        return train_step(params, x, t, -lr)

    assert "you moved uphill" in failed("2.4", wrong)


def test_loss_after_the_update_is_named():
    def wrong(params, x, t, lr):
        train_step(params, x, t, lr)
        return cross_entropy_from_scores(x @ params["W"] + params["b"], t)

    assert "that is the loss after the update" in failed("2.4", wrong)


def test_unsummed_bias_gradient_is_named():
    def wrong(params, x, t, lr):
        a = x @ params["W"] + params["b"]
        loss = cross_entropy_from_scores(a, t)
        da = softmax_cross_entropy_gradient(a, t)
        params["W"] = params["W"] - lr * x.T @ da
        params["b"] = params["b"] - lr * da
        return loss

    message = failed("2.4", wrong)
    assert "params['b'] has shape (5, 4)" in message
    assert "sum dL/da over the batch axis" in message


def test_step_without_update_is_named():
    def wrong(params, x, t, lr):
        return cross_entropy_from_scores(x @ params["W"] + params["b"], t)

    assert "did not change params" in failed("2.4", wrong)


def test_step_without_mean_is_named():
    def wrong(params, x, t, lr):
        return train_step(params, x, t, lr * x.shape[0])

    assert "N times too large" in failed("2.4", wrong)


# ----------------------------------------------------------------------------- issue 11 §2, §3


@pytest.mark.parametrize("shift", ["min", "mean"])
def test_subtracting_the_row_minimum_or_mean_is_named(shift):
    def wrong(x):
        shifted = x - getattr(x, shift)(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    message = failed("2.1", wrong)
    assert f"subtracted each row's {'minimum' if shift == 'min' else 'mean'}" in message
    assert "Subtract the row maximum" in message


def test_log_softmax_written_with_logaddexp_passes():
    def variant(x):  # another correct formulation
        return x - np.logaddexp.reduce(x, axis=-1, keepdims=True)

    assert_passes("2.1", variant)


def test_gradient_divided_by_classes_is_named():
    def wrong(a, t):
        return (softmax(a) - as_one_hot(t, a.shape[1])) / a.shape[1]

    assert "you divided by K" in failed("2.3", wrong)


def test_bias_gradient_as_a_mean_is_named():
    def wrong(params, x, t, lr):
        a = x @ params["W"] + params["b"]
        loss = cross_entropy_from_scores(a, t)
        da = softmax_cross_entropy_gradient(a, t)
        params["W"] -= lr * x.T @ da
        params["b"] -= lr * da.mean(axis=0)
        return loss

    assert "you took the mean of dL/da over the batch for the bias" in failed("2.4", wrong)
