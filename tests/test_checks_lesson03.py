"""The assignment 03 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

from dlcourse.checks import check

# ----------------------------------------------------------------------------- references
# The model answers of solutions/03_xor.ipynb, loaded from the notebook.

ANSWERS = model_answers("03_xor")
sigmoid = ANSWERS["sigmoid"]
sigmoid_grad = ANSWERS["sigmoid_grad"]
softmax = ANSWERS["softmax"]
predict_deep = ANSWERS["predict_deep"]
gradients = ANSWERS["gradients"]


def deep(hidden=sigmoid, output=softmax, stop=0):
    """predict_deep with one typical mistake: another hidden or output function, or a loop
    that stops ``stop`` layers early."""

    def forward(x, params):
        layers = len(params) // 2
        z = x
        for layer in range(1, layers + 1 - stop):
            a = z @ params[f"W{layer}"] + params[f"b{layer}"]
            z = hidden(a) if layer < layers else output(a)
        return z

    return forward


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "funcs"),
    [("3.1", (sigmoid, sigmoid_grad)), ("3.2", (predict_deep,)), ("3.3", (gradients,))],
)
def test_reference_solution_passes(task, funcs):
    assert_passes(task, *funcs)


@pytest.mark.parametrize(("task", "count"), [("3.1", 2), ("3.2", 1), ("3.3", 1)])
def test_stub_fails_as_not_implemented(task, count):
    assert_not_implemented(task, *([stub] * count))


def test_tanh_sigmoid_is_accepted():
    def tanh_sigmoid(x):
        return 0.5 * (1 + np.tanh(x / 2))

    assert check("3.1", tanh_sigmoid, sigmoid_grad, verbose=False).passed


# ----------------------------------------------------------------------------- 3.1


def test_naive_sigmoid_overflow_is_named():
    def naive(x):
        return 1 / (1 + np.exp(-x))

    message = failed("3.1", naive, sigmoid_grad)
    assert "overflowed" in message
    assert "exp(-|x|)" in message


def test_sigmoid_grad_of_the_input_is_named():
    def wrong(x):
        return x * (1 - x)

    assert "holds for the sigmoid's *output*" in failed("3.1", sigmoid, wrong)


def test_sigmoid_grad_with_wrong_sign_is_named():
    def wrong(x):
        s = sigmoid(x)
        return s * (1 + s)

    assert "wrong sign inside" in failed("3.1", sigmoid, wrong)


def test_sigmoid_that_changes_its_input_is_caught():
    def wrong(x):
        x *= 1.0
        np.negative(x, out=x)
        return sigmoid(-x)

    assert "changed `x` in place" in failed("3.1", wrong, sigmoid_grad)


# ----------------------------------------------------------------------------- 3.2


def test_missing_hidden_sigmoid_is_named():
    assert "the hidden layers have no sigmoid" in failed("3.2", deep(hidden=lambda a: a))


def test_softmax_over_columns_is_named():
    def column_softmax(a):
        e = np.exp(a - a.max(axis=0))
        return e / e.sum(axis=0)

    assert "normalised each column" in failed("3.2", deep(output=column_softmax))


def test_naive_softmax_nan_is_named():
    def naive(a):
        e = np.exp(a)
        return e / e.sum(axis=1, keepdims=True)

    message = failed("3.2", deep(output=naive))
    assert "contains nan" in message
    assert "subtract each row's maximum" in message


def test_scores_instead_of_probabilities_are_named():
    assert "apply softmax" in failed("3.2", deep(output=lambda a: a))


def test_sigmoid_on_the_output_layer_is_named():
    assert "went through the sigmoid" in failed("3.2", deep(output=lambda a: softmax(sigmoid(a))))


def test_loop_that_stops_a_layer_early_is_named():
    assert "loop over all of them" in failed("3.2", deep(stop=1))


def test_lessons_two_layer_predict_is_reported():
    def lesson(x, params):
        z1 = sigmoid(x @ params["W1"] + params["b1"])
        return softmax(z1 @ params["W2"] + params["b2"])

    assert "should have shape" in failed("3.2", lesson)


def test_recursive_predict_deep_passes():
    def variant(x, params, layer=1):
        a = x @ params[f"W{layer}"] + params[f"b{layer}"]
        if f"W{layer + 1}" not in params:
            return softmax(a)
        return variant(sigmoid(a), params, layer + 1)

    assert_passes("3.2", variant)


# ----------------------------------------------------------------------------- 3.3


def test_gradient_without_mean_is_named():
    def wrong(x, t, params):
        return {k: v * len(x) for k, v in gradients(x, t, params).items()}

    assert "(= N) times too large" in failed("3.3", wrong)


def test_wrong_sign_of_gradient_is_named():
    def wrong(x, t, params):
        return {k: -v for k, v in gradients(x, t, params).items()}

    assert "wrong sign of the gradient" in failed("3.3", wrong)


def test_transposed_weight_gradient_is_named():
    def wrong(x, t, params):
        grads = gradients(x, t, params)
        return {**grads, "W2": grads["W2"].T}

    message = failed("3.3", wrong)
    assert "should have shape (5, 4)" in message
    assert "transposed" in message


def test_missing_sigmoid_derivative_is_named():
    def wrong(x, t, params):
        z1 = sigmoid(x @ params["W1"] + params["b1"])
        y = softmax(z1 @ params["W2"] + params["b2"])
        da2 = (y - t) / len(x)
        da1 = da2 @ params["W2"].T
        return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ da2, "b2": da2.sum(axis=0)}

    assert "missing the sigmoid's derivative" in failed("3.3", wrong)


def test_bias_gradient_not_summed_is_reported_with_relative_error():
    def wrong(x, t, params):
        grads = gradients(x, t, params)
        return {**grads, "b2": grads["b2"] / len(x)}

    message = failed("3.3", wrong)
    assert "grads['b2']" in message
    assert "relative error" in message
    assert "at index (" in message


def test_gradient_that_updates_params_is_caught():
    def wrong(x, t, params):
        grads = gradients(x, t, params)
        params["W1"] -= 0.1 * grads["W1"]
        return grads

    assert "changed params['W1'] in place" in failed("3.3", wrong)


def test_missing_key_is_named():
    def wrong(x, t, params):
        grads = gradients(x, t, params)
        del grads["b1"]
        return grads

    assert "has no 'b1'" in failed("3.3", wrong)


def test_sigmoid_grad_of_the_output_is_named():
    def wrong(x, t, params):
        z1 = sigmoid(x @ params["W1"] + params["b1"])
        y = softmax(z1 @ params["W2"] + params["b2"])
        da2 = (y - t) / len(x)
        da1 = (da2 @ params["W2"].T) * sigmoid_grad(z1)  # z1 is already the sigmoid's output
        return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ da2, "b2": da2.sum(axis=0)}

    assert "sigmoid_grad(z1)" in failed("3.3", wrong)


def test_sigmoid_grad_of_the_pre_activation_passes():
    def variant(x, t, params):
        a1 = x @ params["W1"] + params["b1"]
        z1 = sigmoid(a1)
        y = softmax(z1 @ params["W2"] + params["b2"])
        da2 = (y - t) / len(x)
        da1 = (da2 @ params["W2"].T) * sigmoid_grad(a1)
        return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ da2, "b2": da2.sum(axis=0)}

    assert_passes("3.3", variant)
