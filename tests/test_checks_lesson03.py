"""The assignment 03 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

# ----------------------------------------------------------------------------- references
# The model answers of solutions/03_xor.ipynb, loaded from the notebook.

ANSWERS = model_answers("03_xor")
sigmoid = ANSWERS["sigmoid"]
binary_cross_entropy = ANSWERS["binary_cross_entropy"]
binary_cross_entropy_grad = ANSWERS["binary_cross_entropy_grad"]
softmax = ANSWERS["softmax"]
predict_deep = ANSWERS["predict_deep"]
gradients_deep = ANSWERS["gradients_deep"]
BCE = (binary_cross_entropy, binary_cross_entropy_grad)


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
    [("3.1", (sigmoid, *BCE)), ("3.2", (predict_deep,)), ("3.3", (gradients_deep,))],
)
def test_reference_solution_passes(task, funcs):
    assert_passes(task, *funcs)


@pytest.mark.parametrize(("task", "count"), [("3.1", 3), ("3.2", 1), ("3.3", 1)])
def test_stub_fails_as_not_implemented(task, count):
    assert_not_implemented(task, *([stub] * count))


def test_stub_loss_after_a_finished_sigmoid_fails_as_not_implemented():
    assert_not_implemented("3.1", sigmoid, stub, stub)
    assert_not_implemented("3.1", sigmoid, binary_cross_entropy, stub)


# ----------------------------------------------------------------------------- 3.1: sigmoid


def test_tanh_sigmoid_is_accepted():
    def tanh_sigmoid(x):
        return 0.5 * (1 + np.tanh(x / 2))

    assert_passes("3.1", tanh_sigmoid, *BCE)


def test_naive_sigmoid_overflow_is_named():
    def naive(x):
        return 1 / (1 + np.exp(-x))

    message = failed("3.1", naive, *BCE)
    assert "overflowed" in message
    assert "exp(-|x|)" in message


def test_sigmoid_that_changes_its_input_is_caught():
    def wrong(x):
        x *= 1.0
        np.negative(x, out=x)
        return sigmoid(-x)

    assert "changed `x` in place" in failed("3.1", wrong, *BCE)


# ----------------------------------------------------------------------------- 3.1: the loss


def log_of_probability(a, t):
    """The definition as written: the log of sigmoid's output (log 0 for a = ±1000)."""
    s = sigmoid(a)
    return float(np.mean(-t * np.log(s) - (1 - t) * np.log(1 - s)))


def test_log_of_the_probability_is_named():
    message = failed("3.1", sigmoid, log_of_probability, binary_cross_entropy_grad)
    assert "made numpy warn" in message
    assert "the log of a probability that is exactly 0" in message
    assert "log1p" in message


def test_naive_softplus_overflow_is_named():
    def wrong(a, t):
        return float(np.mean(np.log(1 + np.exp(a)) - t * a))

    message = failed("3.1", sigmoid, wrong, binary_cross_entropy_grad)
    assert "an exponential of a large positive number" in message


@pytest.mark.parametrize(("eps", "shown"), [(1e-7, "16.12"), (1e-12, "27.63")])
def test_guarded_log_is_named_with_its_cap(eps, shown):
    def guarded(a, t):
        s = sigmoid(a)
        return float(
            np.mean(-t * np.log(np.maximum(s, eps)) - (1 - t) * np.log(np.maximum(1 - s, eps)))
        )

    message = failed("3.1", sigmoid, guarded, binary_cross_entropy_grad)
    assert f"costs {shown} instead of 1000" in message
    assert f"at least {eps:.0e}" in message
    assert "a guard like lesson 02's" in message


def test_sum_instead_of_mean_is_named():
    def summed(a, t):
        return binary_cross_entropy(a, t) * len(a)

    assert "that is the sum over the batch" in failed("3.1", sigmoid, summed, *BCE[1:])


def test_per_sample_losses_are_named():
    def per_sample(a, t):
        return np.logaddexp(0, a) - t * a

    message = failed("3.1", sigmoid, per_sample, binary_cross_entropy_grad)
    assert "should be one number but is an array of shape (5,)" in message
    assert "np.mean" in message


def test_negative_loss_is_named():
    def negated(a, t):
        return -binary_cross_entropy(a, t)

    assert "with the wrong sign" in failed("3.1", sigmoid, negated, binary_cross_entropy_grad)


def test_swapped_targets_are_named():
    def swapped(a, t):
        return binary_cross_entropy(a, 1 - t)

    assert "swapped targets" in failed("3.1", sigmoid, swapped, binary_cross_entropy_grad)


def test_loss_that_changes_its_input_is_caught():
    def wrong(a, t):
        a *= 0.5  # in place
        return binary_cross_entropy(a, t)

    assert "changed `a` in place" in failed("3.1", sigmoid, wrong, binary_cross_entropy_grad)


def test_loss_variants_are_accepted():
    def by_logaddexp(a, t):
        return np.mean(np.logaddexp(0.0, a) - t * a)  # a numpy float, not a Python float

    def two_terms(a, t):
        def softplus(v):  # log(1 + e^v)
            return np.maximum(v, 0) + np.log(1 + np.exp(-np.abs(v)))

        return sum(t * softplus(-a) + (1 - t) * softplus(a)) / len(a)

    def loop(a, t):
        total = 0.0
        for a_n, t_n in zip(a, t, strict=True):
            total += max(a_n, 0.0) + np.log1p(np.exp(-abs(a_n))) - t_n * a_n
        return total / len(a)

    for variant in (by_logaddexp, two_terms, loop):
        assert_passes("3.1", sigmoid, variant, binary_cross_entropy_grad)


# ----------------------------------------------------------------------------- 3.1: gradient


def test_bce_gradient_with_wrong_sign_is_named():
    def wrong(a, t):
        return (t - sigmoid(a)) / len(a)

    assert "(t − σ(a))/N" in failed("3.1", sigmoid, binary_cross_entropy, wrong)


def test_bce_gradient_without_mean_is_named():
    def wrong(a, t):
        return sigmoid(a) - t

    assert "(= N) times too large" in failed("3.1", sigmoid, binary_cross_entropy, wrong)


@pytest.mark.parametrize("per_n", [False, True])
def test_sigmoid_derivative_as_gradient_is_named(per_n):
    def wrong(a, t):
        s = sigmoid(a)
        return s * (1 - s) / (len(a) if per_n else 1)

    message = failed("3.1", sigmoid, binary_cross_entropy, wrong)
    assert "the sigmoid's own derivative" in message


def test_gradient_with_an_extra_sigmoid_derivative_is_named():
    def wrong(a, t):
        s = sigmoid(a)
        return (s - t) * s * (1 - s) / len(a)

    assert "extra factor σ(a)·(1 − σ(a))" in failed("3.1", sigmoid, binary_cross_entropy, wrong)


def test_gradient_with_an_overflowing_sigmoid_is_named():
    def wrong(a, t):
        return (1 / (1 + np.exp(-a)) - t) / len(a)

    message = failed("3.1", sigmoid, binary_cross_entropy, wrong)
    assert "binary_cross_entropy_grad" in message
    assert "an exponential of a large positive number" in message
    assert "your stable sigmoid" in message


def test_scalar_gradient_is_named():
    def wrong(a, t):
        return float(np.mean(sigmoid(a) - t))

    message = failed("3.1", sigmoid, binary_cross_entropy, wrong)
    assert "should be a numpy array" in message


def test_gradient_off_in_one_place_is_reported_against_the_numerical_gradient():
    def wrong(a, t):
        grad = (sigmoid(a) - t) / len(a)
        grad[0] = 0.0
        return grad

    message = failed("3.1", sigmoid, binary_cross_entropy, wrong)
    assert "against the numerical gradient" in message
    assert "at index (0,)" in message


def test_gradient_in_float32_and_by_loop_is_accepted():
    def float32(a, t):
        return ((sigmoid(a) - t) / len(a)).astype(np.float32)

    def loop(a, t):
        grad = np.empty_like(a)
        for n in range(len(a)):
            grad[n] = (sigmoid(a[n : n + 1])[0] - t[n]) / len(a)
        return grad

    for variant in (float32, loop):
        assert_passes("3.1", sigmoid, binary_cross_entropy, variant)


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


def backprop(mistake=""):
    """gradients_deep with one typical mistake (the model answer's loop, changed in one place)."""

    def grads_of(x, t, params):
        layers = len(params) // 2
        zs = [x]
        for layer in range(1, layers):
            zs.append(sigmoid(zs[-1] @ params[f"W{layer}"] + params[f"b{layer}"]))
        y = softmax(zs[-1] @ params[f"W{layers}"] + params[f"b{layers}"])
        delta = (y - t) / len(x)
        grads = {}
        last = 2 if mistake == "skip_first" else 1
        for layer in range(layers, last - 1, -1):
            z_in = zs[layer - 1]
            z_out = y if layer == layers else zs[layer]
            grads[f"W{layer}"] = (z_out if mistake == "output_as_input" else z_in).T @ delta
            grads[f"b{layer}"] = delta.sum(axis=0)
            if layer == 1:
                break
            back = delta @ params[f"W{layer}"].T
            if mistake == "no_sigmoid_grad":
                delta = back
            elif mistake == "grad_above":
                delta = (delta * z_out * (1 - z_out)) @ params[f"W{layer}"].T
            elif mistake == "sigmoid_twice":
                delta = back * sigmoid(z_in) * (1 - sigmoid(z_in))
            else:
                delta = back * z_in * (1 - z_in)
        return grads

    return grads_of


def test_gradient_without_mean_is_named():
    def wrong(x, t, params):
        return {k: v * len(x) for k, v in gradients_deep(x, t, params).items()}

    assert "(= N) times too large" in failed("3.3", wrong)


def test_wrong_sign_of_gradient_is_named():
    def wrong(x, t, params):
        return {k: -v for k, v in gradients_deep(x, t, params).items()}

    assert "wrong sign" in failed("3.3", wrong)


def test_missing_sigmoid_derivative_is_named():
    assert "miss the sigmoid's derivative" in failed("3.3", backprop("no_sigmoid_grad"))


def test_sigmoid_derivative_at_the_layer_above_is_named():
    assert "taken at the wrong layer" in failed("3.3", backprop("grad_above"))


def test_layer_output_instead_of_input_is_named():
    message = failed("3.3", backprop("output_as_input"))
    assert "grads['W1'] should have shape (3, 5)" in message
    assert "a square matrix of the layer's output size" in message
    assert "with x the input of layer 1, not its output z1" in message


def test_loop_that_skips_the_first_layer_is_named():
    message = failed("3.3", backprop("skip_first"))
    assert "no 'W1', 'b1'" in message
    assert "stops before layer 1" in message


def test_first_layer_left_at_zero_is_named():
    def wrong(x, t, params):
        grads = backprop("skip_first")(x, t, params)
        return {**grads, "W1": np.zeros_like(params["W1"]), "b1": np.zeros_like(params["b1"])}

    assert "your loop never reaches layer 1" in failed("3.3", wrong)


def test_two_layer_code_is_named():
    def lesson(x, t, params):  # lesson 03, section 4, with the names W1, b1, W2, b2 fixed
        z1 = sigmoid(x @ params["W1"] + params["b1"])
        y = softmax(z1 @ params["W2"] + params["b2"])
        delta2 = (y - t) / len(x)
        delta1 = (delta2 @ params["W2"].T) * z1 * (1 - z1)
        return {
            "W1": x.T @ delta1,
            "b1": delta1.sum(axis=0),
            "W2": z1.T @ delta2,
            "b2": delta2.sum(axis=0),
        }

    message = failed("3.3", lesson)
    assert "right for the two-layer net but not for a 3-layer one" in message
    assert "your code raised ValueError" in message
    assert "len(params) // 2" in message


def test_error_below_a_right_layer_names_the_layers():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        return {**grads, "W1": 1.5 * grads["W1"], "b1": 1.5 * grads["b1"]}

    message = failed("3.3", wrong)
    assert "W1, b1 are wrong while W2, b2 are right" in message
    assert "from layer 2 to layer 1" in message
    assert "against the numerical gradient" in message


def test_sigmoid_applied_twice_is_named():
    """sigmoid_grad(z) with z already the sigmoid's output, as in lesson 03's old Task 3.3."""
    assert "applies the sigmoid twice" in failed("3.3", backprop("sigmoid_twice"))


def test_error_only_in_a_deeper_net_names_its_layers():
    def wrong(x, t, params):  # right for L <= 2, wrong below layer 3 otherwise
        grads = gradients_deep(x, t, params)
        if len(params) // 2 >= 3:
            grads = {**grads, **{k: 2.0 * grads[k] for k in ("W2", "b2", "W1", "b1")}}
        return grads

    message = failed("3.3", wrong)
    assert "for a 4-6-2-3 net" in message
    assert "W2, b2, W1, b1 are wrong while W3, b3 are right" in message
    assert "from layer 3 to layer 2" in message


def test_transposed_weight_gradient_is_named():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        return {**grads, "W2": grads["W2"].T}

    message = failed("3.3", wrong)
    assert "should have shape (5, 4)" in message
    assert "transposed" in message


def test_weight_gradient_wrong_while_bias_right_is_named():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        return {**grads, "W2": 0.5 * grads["W2"]}

    assert "grads['W2'] is wrong although grads['b2'] is right" in failed("3.3", wrong)


def test_bias_gradient_as_mean_is_named():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        return {**grads, "b2": grads["b2"] / len(x)}

    message = failed("3.3", wrong)
    assert "grads['b2'] is wrong although grads['W2'] is right" in message
    assert "axis=0" in message


def test_wrong_output_delta_is_named():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        layers = len(params) // 2
        return {
            k: v * (2.0 if k in (f"W{layers}", f"b{layers}") else 1.0) for k, v in grads.items()
        }

    assert "the output layer's gradients" in failed("3.3", wrong)


def test_gradient_that_updates_params_is_caught():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        params["W1"] -= 0.1 * grads["W1"]
        return grads

    assert "changed `params['W1']` in place" in failed("3.3", wrong)


def test_gradient_that_replaces_params_entries_is_caught():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        params.update(grads)  # the dict now holds gradients instead of weights
        return grads

    assert "changed `params['W1']` in place" in failed("3.3", wrong)


def test_missing_key_is_named():
    def wrong(x, t, params):
        grads = gradients_deep(x, t, params)
        del grads["b2"]
        return grads

    assert "has no 'b2'" in failed("3.3", wrong)


def test_recursive_and_float32_gradients_pass():
    def recursive(x, t, params, layer=1):
        """Forward down to the output, gradients on the way back up."""
        a = x @ params[f"W{layer}"] + params[f"b{layer}"]
        if f"W{layer + 1}" not in params:
            delta, grads = (softmax(a) - t) / len(x), {}
        else:
            z = sigmoid(a)
            grads, dz = recursive(z, t, params, layer + 1)
            delta = dz * z * (1 - z)
        grads[f"W{layer}"], grads[f"b{layer}"] = x.T @ delta, delta.sum(axis=0)
        return (grads, delta @ params[f"W{layer}"].T) if layer > 1 else grads

    def float32(x, t, params):
        return {k: v.astype(np.float32) for k, v in gradients_deep(x, t, params).items()}

    for variant in (recursive, float32):
        assert_passes("3.3", variant)
