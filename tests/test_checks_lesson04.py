"""The assignment 04 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

# ----------------------------------------------------------------------------- references
# The model answers of solutions/04_mlp.ipynb, loaded from the notebook.

ANSWERS = model_answers("04_mlp")
stratified_batches = ANSWERS["stratified_batches"]
mlp_loss = ANSWERS["mlp_loss"]
mlp_gradients = ANSWERS["mlp_gradients"]
lr_for_mean_loss = ANSWERS["lr_for_mean_loss"]


def log_softmax(a):
    shifted = a - a.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [
        ("4.1", stratified_batches),
        ("4.2", mlp_loss),
        ("4.3", mlp_gradients),
        ("4.4", lr_for_mean_loss),
    ],
)
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", ["4.1", "4.2", "4.3"])
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


def test_stub_of_lr_conversion_fails_as_not_implemented():
    def stub_lr(lr_sum, batch_size):
        raise NotImplementedError("Task 4.4: write your code here")

    assert failed("4.4", stub_lr).startswith("not implemented yet")


# ----------------------------------------------------------------------------- 4.1


def test_sampling_with_replacement_is_named():
    def wrong(labels, batch_size, rng):
        n = len(labels)
        return [rng.choice(n, batch_size) for _ in range(-(-n // batch_size))]

    assert "draw without replacement" in failed("4.1", wrong)


def test_lessons_plain_shuffle_is_named():
    def wrong(labels, batch_size, rng):  # lesson 04's minibatch_indices
        order = rng.permutation(len(labels))
        return [order[s : s + batch_size] for s in range(0, len(labels), batch_size)]

    assert "that is a plain shuffle (lesson 04's sampler)" in failed("4.1", wrong)


def test_dropped_samples_are_named():
    def wrong(labels, batch_size, rng):
        return [b[:-1] if len(b) > 1 else b for b in stratified_batches(labels, batch_size, rng)]

    assert "never appear" in failed("4.1", wrong)


def test_unshuffled_dealing_is_named():
    def wrong(labels, batch_size, rng):
        n_batches = -(-len(labels) // batch_size)
        order = np.argsort(labels, kind="stable")
        return [order[start::n_batches] for start in range(n_batches)]

    assert "shuffle with rng at every call" in failed("4.1", wrong)


def test_global_random_state_is_named():
    def wrong(labels, batch_size, rng):
        return stratified_batches(labels, batch_size, np.random.default_rng())

    assert "from the rng argument" in failed("4.1", wrong)


def test_a_generator_instead_of_a_list_says_what_came_back():
    def wrong(labels, batch_size, rng):
        return iter(stratified_batches(labels, batch_size, rng))

    assert "should return a non-empty list" in failed("4.1", wrong)


def test_stratified_batches_by_class_loops_pass():
    def variant(labels, batch_size, rng):
        n_batches = -(-len(labels) // batch_size)
        batches = [[] for _ in range(n_batches)]
        turn = 0
        for c in np.unique(labels):
            for i in rng.permutation(np.flatnonzero(labels == c)):
                batches[turn % n_batches].append(i)
                turn += 1
        return [np.array(b) for b in batches]

    assert_passes("4.1", variant)


# ----------------------------------------------------------------------------- 4.2


def test_summed_loss_is_named():
    def wrong(x, t, params):
        return mlp_loss(x, t, params) * len(x)

    assert "returned the *sum* over the batch" in failed("4.2", wrong)


def test_sigmoid_hidden_layer_is_named():
    def wrong(x, t, params):
        h = 1 / (1 + np.exp(-(x @ params["W1"] + params["b1"])))
        return float(-np.sum(t * log_softmax(h @ params["W2"] + params["b2"])) / len(x))

    assert "use ReLU" in failed("4.2", wrong)


def test_naive_softmax_overflow_is_named():
    def wrong(x, t, params):
        a2 = np.maximum(x @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
        y = np.exp(a2) / np.exp(a2).sum(axis=1, keepdims=True)
        return float(-np.sum(t * np.log(y)) / len(x))

    assert "subtract each row's maximum" in failed("4.2", wrong)


def test_loss_per_sample_is_named():
    def wrong(x, t, params):
        a2 = np.maximum(x @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"]
        return -np.sum(t * log_softmax(a2), axis=1)

    assert "should return one number" in failed("4.2", wrong)


# ----------------------------------------------------------------------------- 4.3


def test_transposed_weight_gradient_is_named():
    def wrong(x, t, params):
        grads = mlp_gradients(x, t, params)
        return {**grads, "W1": grads["W1"].T}

    message = failed("4.3", wrong)
    assert "should have shape (5, 4)" in message
    assert "transposed" in message


def test_gradient_without_mean_is_named():
    def wrong(x, t, params):
        return {k: v * len(x) for k, v in mlp_gradients(x, t, params).items()}

    assert "(= N) times too large" in failed("4.3", wrong)


def _with_da1(rule):
    def wrong(x, t, params):
        a1 = x @ params["W1"] + params["b1"]
        h = np.maximum(a1, 0)
        y = np.exp(log_softmax(h @ params["W2"] + params["b2"]))
        da2 = (y - t) / len(x)
        da1 = rule(da2 @ params["W2"].T, a1, h)
        return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": h.T @ da2, "b2": da2.sum(axis=0)}

    return wrong


def test_missing_relu_mask_is_named():
    assert "the ReLU mask is missing" in failed("4.3", _with_da1(lambda dh, a1, h: dh))


def test_relu_applied_to_the_gradient_is_named():
    message = failed("4.3", _with_da1(lambda dh, a1, h: np.maximum(dh, 0)))
    assert "you applied ReLU to the gradient" in message


def test_sigmoid_derivative_in_relu_net_is_named():
    message = failed("4.3", _with_da1(lambda dh, a1, h: dh * h * (1 - h)))
    assert "that is the sigmoid's derivative" in message


def test_mask_of_the_wrong_array_is_reported_with_relative_error():
    # The mask taken from the input x's first columns instead of a1: a plain wrong answer.
    message = failed("4.3", _with_da1(lambda dh, a1, h: dh * (a1 > 0.5)))
    assert "relative error" in message
    assert "at index (" in message


def test_gradient_that_updates_params_is_caught():
    def wrong(x, t, params):
        grads = mlp_gradients(x, t, params)
        params["b2"] -= grads["b2"]
        return grads

    assert "changed params['b2'] in place" in failed("4.3", wrong)


# ----------------------------------------------------------------------------- 4.4


def test_dividing_by_the_batch_size_is_named():
    def wrong(lr_sum, batch_size):
        return lr_sum / batch_size

    assert "divided by the batch size" in failed("4.4", wrong)


def test_unconverted_learning_rate_fails():
    def wrong(lr_sum, batch_size):
        return lr_sum

    assert "lr_for_mean_loss(0.001, 100) should be 0.1 but is 0.001" in failed("4.4", wrong)


def test_gradient_times_the_activation_instead_of_the_mask_is_named():
    def wrong(x, t, params):
        a1 = x @ params["W1"] + params["b1"]
        h = np.maximum(a1, 0)
        y = np.exp(log_softmax(h @ params["W2"] + params["b2"]))
        da2 = (y - t) / len(x)
        da1 = (da2 @ params["W2"].T) * h
        return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": h.T @ da2, "b2": da2.sum(axis=0)}

    assert "multiplied by the hidden activation" in failed("4.3", wrong)
