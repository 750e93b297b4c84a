"""The assignment 04 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

# ----------------------------------------------------------------------------- references
# The model answers of solutions/04_mlp.ipynb, loaded from the notebook.

ANSWERS = model_answers("04_mlp")
stratified_batches = ANSWERS["stratified_batches"]
input_gradient = ANSWERS["input_gradient"]
adversarial_examples = ANSWERS["adversarial_examples"]


def softmax(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "objects"),
    [
        ("4.1", (stratified_batches,)),
        ("4.2", (input_gradient,)),
        ("4.3", (adversarial_examples, input_gradient)),
    ],
)
def test_reference_solution_passes(task, objects):
    assert_passes(task, *objects)


@pytest.mark.parametrize(
    ("task", "objects"),
    [("4.1", (stub,)), ("4.2", (stub,)), ("4.3", (stub, input_gradient))],
)
def test_stub_fails_as_not_implemented(task, objects):
    assert_not_implemented(task, *objects)


def test_attack_with_an_unwritten_input_gradient_fails_as_not_implemented():
    def uses_stub(x, labels, params, eps):
        return np.clip(x + eps * np.sign(stub(x, labels, params)), 0, 1)

    assert_not_implemented("4.3", uses_stub, stub)


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


def backprop_to_x(rule=None, scale=1.0, last=None, target=None):
    """An input gradient built like the model answer, with one step replaced.

    rule(dz, a1, z, x, params) -> delta1 (default: the ReLU mask); scale multiplies the
    result; last(delta1, params) -> the return value (default: delta1 @ W1.T);
    target(labels, k) -> what y − target subtracts (default: one-hot rows).
    """

    def wrong(x, labels, params):
        a1 = x @ params["W1"] + params["b1"]
        z = np.maximum(a1, 0)
        y = softmax(z @ params["W2"] + params["b2"])
        t = np.eye(y.shape[1])[labels] if target is None else target(labels, y.shape[1])
        dz = (y - t) / len(x) @ params["W2"].T
        delta1 = dz * (a1 > 0) if rule is None else rule(dz, a1, z, x, params)
        result = delta1 @ params["W1"].T if last is None else last(delta1, params)
        return scale * result

    return wrong


def test_input_gradient_as_a_loop_over_samples_passes():
    def variant(x, labels, params):
        grad = np.empty_like(x)
        for n in range(len(x)):
            a1 = x[n] @ params["W1"] + params["b1"]
            scores = np.maximum(a1, 0) @ params["W2"] + params["b2"]
            y = np.exp(scores - scores.max())
            y /= y.sum()
            y[labels[n]] -= 1
            grad[n] = ((y / len(x)) @ params["W2"].T * (a1 > 0)) @ params["W1"].T
        return grad

    assert_passes("4.2", variant)


def test_input_gradient_in_float32_passes():
    def variant(x, labels, params):
        small = {name: value.astype(np.float32) for name, value in params.items()}
        return input_gradient(x.astype(np.float32), labels, small)

    assert_passes("4.2", variant)


def test_stopping_at_delta1_is_named_one_step_short():
    message = failed("4.2", backprop_to_x(last=lambda delta1, params: delta1))
    assert "one step short" in message
    assert "(6, 4)" in message


def test_missing_relu_mask_in_input_gradient_is_named():
    message = failed("4.2", backprop_to_x(rule=lambda dz, a1, z, x, params: dz))
    assert "the ReLU mask is missing" in message


def test_mask_of_x_w1_without_bias_is_named():
    message = failed("4.2", backprop_to_x(rule=lambda dz, a1, z, x, p: dz * (x @ p["W1"] > 0)))
    assert "without the bias" in message


def test_relu_of_the_gradient_is_named():
    message = failed("4.2", backprop_to_x(rule=lambda dz, a1, z, x, params: np.maximum(dz, 0)))
    assert "you applied ReLU to the gradient" in message


def test_gradient_times_the_activation_is_named():
    message = failed("4.2", backprop_to_x(rule=lambda dz, a1, z, x, params: dz * z))
    assert "multiplied by the hidden activation" in message


def test_missing_one_over_n_is_named():
    def wrong(x, labels, params):
        return len(x) * input_gradient(x, labels, params)

    assert "(= N) times too large" in failed("4.2", wrong)


def test_wrong_sign_of_input_gradient_is_named():
    assert "wrong sign" in failed("4.2", backprop_to_x(scale=-1.0))


def test_w1_instead_of_its_transpose_is_named():
    message = failed("4.2", backprop_to_x(last=lambda delta1, params: delta1 @ params["W1"]))
    assert "multiplies by the transpose: delta1 @ W1.T" in message
    assert "line " in message  # the learner's own line


def test_w1_instead_of_its_transpose_with_np_dot_is_named():
    message = failed("4.2", backprop_to_x(last=lambda delta1, p: np.dot(delta1, p["W1"])))
    assert "multiplies by the transpose" in message


def test_labels_used_as_one_hot_are_named():
    message = failed("4.2", backprop_to_x(target=lambda labels, k: labels))
    assert "not one-hot rows" in message
    assert "line " in message


def test_labels_as_a_column_are_named():
    message = failed("4.2", backprop_to_x(target=lambda labels, k: labels[:, None]))
    assert "labels holds class indices, not one-hot rows" in message


def test_naive_softmax_in_input_gradient_is_named():
    def wrong(x, labels, params):
        a1 = x @ params["W1"] + params["b1"]
        scores = np.maximum(a1, 0) @ params["W2"] + params["b2"]
        y = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        delta1 = (y - np.eye(y.shape[1])[labels]) / len(x) @ params["W2"].T * (a1 > 0)
        return delta1 @ params["W1"].T

    assert "subtract each row's maximum" in failed("4.2", wrong)


def test_input_gradient_that_changes_x_is_caught():
    def wrong(x, labels, params):
        grad = input_gradient(x, labels, params)
        x -= grad
        return grad

    assert "changed `x` in place" in failed("4.2", wrong)


def test_a_plain_wrong_input_gradient_reports_the_relative_error():
    # Twice the gradient (N is never 2 here): no named mistake, so the worst element is shown.
    message = failed("4.2", backprop_to_x(scale=2.0))
    assert "relative error" in message


def test_the_checkers_references_agree_with_the_numerical_gradient():
    from dlcourse.checks import lesson04
    from dlcourse.gradients import numerical_gradient

    for seed, (n, d, h, k) in enumerate(lesson04._NET_SHAPES):
        x, labels, params = lesson04._make_net(seed, n, d, h, k)
        loss = partial(lesson04._loss, labels=labels, params=params)
        numerical = numerical_gradient(loss, x.copy(), 1e-6)
        np.testing.assert_allclose(
            lesson04._input_grad(x, labels, params), numerical, rtol=1e-5, atol=1e-9
        )


# ----------------------------------------------------------------------------- 4.3


def attack(step):
    """adversarial_examples with the update x → step(x, gradient, eps) (no clip added)."""

    def wrong(x, labels, params, eps):
        return step(x, input_gradient(x, labels, params), eps)

    return wrong


def test_attack_with_a_loop_and_np_where_passes():
    def variant(x, labels, params, eps):
        grad = input_gradient(x, labels, params)
        out = x.copy()
        for n in range(len(x)):
            out[n] = np.where(grad[n] > 0, x[n] + eps, np.where(grad[n] < 0, x[n] - eps, x[n]))
        return np.minimum(np.maximum(out, 0.0), 1.0)

    assert_passes("4.3", variant, input_gradient)


def test_minus_sign_is_named_as_lowering_the_loss():
    wrong = attack(lambda x, g, eps: np.clip(x - eps * np.sign(g), 0, 1))
    assert "lowers the loss" in failed("4.3", wrong, input_gradient)


def test_missing_clip_is_named():
    wrong = attack(lambda x, g, eps: x + eps * np.sign(g))
    assert "outside the pixel range [0, 1]" in failed("4.3", wrong, input_gradient)


def test_raw_gradient_instead_of_its_sign_is_named():
    wrong = attack(lambda x, g, eps: np.clip(x + eps * g, 0, 1))
    assert "the gradient itself" in failed("4.3", wrong, input_gradient)


def test_sign_of_x_instead_of_the_gradient_is_named():
    wrong = attack(lambda x, g, eps: np.clip(x + eps * np.sign(x), 0, 1))
    assert "you took the sign of x" in failed("4.3", wrong, input_gradient)


def test_attack_that_changes_x_in_place_is_caught():
    def wrong(x, labels, params, eps):
        x += eps * np.sign(input_gradient(x, labels, params))
        np.clip(x, 0, 1, out=x)
        return x

    assert "changed `x` in place" in failed("4.3", wrong, input_gradient)


def test_a_step_larger_than_eps_is_named():
    wrong = attack(lambda x, g, eps: np.clip(x + 2 * eps * np.sign(g), 0, 1))
    assert "more than eps" in failed("4.3", wrong, input_gradient)


def test_a_wrong_input_gradient_is_blamed_on_task_4_2():
    wrong_gradient = backprop_to_x(rule=lambda dz, a1, z, x, params: dz)

    def attack_with_it(x, labels, params, eps):
        return np.clip(x + eps * np.sign(wrong_gradient(x, labels, params)), 0, 1)

    message = failed("4.3", attack_with_it, wrong_gradient)
    assert "make Task 4.2 pass first" in message


def test_a_sign_preserving_input_gradient_mistake_still_passes_4_3():
    # Forgetting 1/N fails Task 4.2 but leaves every sign, so the attack is right.
    def too_large(x, labels, params):
        return len(x) * input_gradient(x, labels, params)

    def attack_with_it(x, labels, params, eps):
        return np.clip(x + eps * np.sign(too_large(x, labels, params)), 0, 1)

    assert_passes("4.3", attack_with_it, too_large)


def test_the_reference_attack_raises_the_loss_in_every_case():
    from dlcourse.checks import lesson04

    cases = zip(lesson04._NET_SHAPES, lesson04._EPS, strict=True)
    for seed, ((n, d, h, k), eps) in enumerate(cases):
        x, labels, params = lesson04._make_net(40 + seed, n, d, h, k, pixels=True)
        x_adv = adversarial_examples(x, labels, params, eps)
        assert lesson04._loss(x_adv, labels, params) > lesson04._loss(x, labels, params)
        assert (x == 0).any() and (x == 1).any()  # pixels at both ends: clipping matters


def test_an_input_gradient_that_raises_is_blamed_on_task_4_2():
    untransposed = backprop_to_x(last=lambda delta1, params: delta1 @ params["W1"])

    def attack_with_it(x, labels, params, eps):
        return np.clip(x + eps * np.sign(untransposed(x, labels, params)), 0, 1)

    message = failed("4.3", attack_with_it, untransposed)
    assert "make Task 4.2 pass first" in message
    assert "line " in message
