"""The assignment 01 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

# ----------------------------------------------------------------------------- references
# The model answers of solutions/01_gradient_descent.ipynb, loaded from the notebook.

ANSWERS = model_answers("01_gradient_descent")
numerical_diff5 = ANSWERS["numerical_diff5"]
numerical_gradients = ANSWERS["numerical_gradients"]
gradient_descent = ANSWERS["gradient_descent"]


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [("1.1", numerical_diff5), ("1.2", numerical_gradients), ("1.3", gradient_descent)],
)
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", ["1.1", "1.2", "1.3"])
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


# ----------------------------------------------------------------------------- 1.1


def test_lessons_central_difference_is_named():
    def wrong(f, x, h=1e-3):
        return (f(x + h) - f(x - h)) / (2 * h)

    assert "lesson 01's central difference" in failed("1.1", wrong)


def test_forward_difference_is_named():
    def wrong(f, x, h=1e-3):
        return (f(x + h) - f(x)) / h

    assert "forward difference" in failed("1.1", wrong)


def test_wrong_denominator_is_named():
    def wrong(f, x, h=1e-3):
        return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (6 * h)

    assert "twice too large" in failed("1.1", wrong)


def test_swapped_signs_are_named():
    def wrong(f, x, h=1e-3):
        return (f(x + 2 * h) - 8 * f(x + h) + 8 * f(x - h) - f(x - 2 * h)) / (12 * h)

    assert "wrong sign" in failed("1.1", wrong)


def test_ignored_h_argument_is_named():
    def wrong(f, x, h=1e-3):
        return numerical_diff5(f, x)

    assert "h argument was ignored" in failed("1.1", wrong)


def test_tiny_default_h_is_explained():
    def wrong(f, x, h=1e-50):
        return numerical_diff5(f, x, h)

    message = failed("1.1", wrong)
    assert "with the default h returned" in message
    assert "x + h == x" in message


def test_array_result_is_rejected():
    def wrong(f, x, h=1e-3):
        return np.array([numerical_diff5(f, x, h)] * 2)

    assert "should return a number" in failed("1.1", wrong)


def test_five_point_formula_written_as_two_central_differences_passes():
    def variant(f, x, h=1e-3):
        d1 = (f(x + h) - f(x - h)) / (2 * h)
        d2 = (f(x + 2 * h) - f(x - 2 * h)) / (4 * h)
        return (4 * d1 - d2) / 3  # Richardson extrapolation: the same formula

    assert_passes("1.1", variant)


# ----------------------------------------------------------------------------- 1.2


def test_restoring_by_subtraction_is_caught():
    def wrong(f, params, h=1e-4):
        grads = {}
        for name, x in params.items():
            grad = np.zeros_like(x)
            for idx in np.ndindex(x.shape):
                x[idx] += h
                f_plus = f(params)
                x[idx] -= 2 * h
                f_minus = f(params)
                x[idx] += h
                grad[idx] = (f_plus - f_minus) / (2 * h)
            grads[name] = grad
        return grads

    message = failed("1.2", wrong)
    assert "left params changed" in message
    assert "Save the old value" in message


def test_perturbing_a_copy_is_caught():
    def wrong(f, params, h=1e-4):
        copies = {k: v.copy() for k, v in params.items()}
        return numerical_gradients(lambda _: f(copies), copies, h)

    assert "returned all zeros" in failed("1.2", wrong)


def test_missing_try_finally_is_caught():
    def wrong(f, params, h=1e-4):
        grads = {}
        for name, x in params.items():
            grad = np.zeros_like(x)
            for idx in np.ndindex(x.shape):
                old = x[idx]
                x[idx] = old + h
                f_plus = f(params)
                x[idx] = old - h
                f_minus = f(params)
                x[idx] = old
                grad[idx] = (f_plus - f_minus) / (2 * h)
            grads[name] = grad
        return grads

    message = failed("1.2", wrong)
    assert "when f raised an error, params['W'] was left perturbed at index (0, 1)" in message
    assert "finally" in message


def test_swallowed_error_is_caught():
    def wrong(f, params, h=1e-4):
        try:
            return numerical_gradients(f, params, h)
        except Exception:
            return {k: np.zeros_like(v) for k, v in params.items()}

    assert "swallowed an error" in failed("1.2", wrong)


def test_first_array_only_is_named():
    def wrong(f, params, h=1e-4):
        full = numerical_gradients(f, params, h)
        first = next(iter(params))
        return {k: (v if k == first else np.zeros_like(v)) for k, v in full.items()}

    assert "only 'W' is right: do every array of the dict" in failed("1.2", wrong)


def test_wrong_sign_gradient_is_named():
    def wrong(f, params, h=1e-4):
        return {k: -v for k, v in numerical_gradients(f, params, h).items()}

    assert "wrong sign" in failed("1.2", wrong)


def test_forward_difference_gradient_is_named():
    def wrong(f, params, h=1e-4):
        grads = {}
        for name, x in params.items():
            grad = np.zeros_like(x)
            base = f(params)
            for idx in np.ndindex(x.shape):
                old = x[idx]
                try:
                    x[idx] = old + h
                    grad[idx] = (f(params) - base) / h
                finally:
                    x[idx] = old
            grads[name] = grad
        return grads

    assert "forward difference" in failed("1.2", wrong)


def test_a_list_instead_of_a_dict_says_what_came_back():
    def wrong(f, params, h=1e-4):
        return list(numerical_gradients(f, params, h).values())

    message = failed("1.2", wrong)
    assert "should return a dict with the keys of params" in message and "returned list" in message


def test_gradients_through_lesson_01s_function_pass():
    def variant(f, params, h=1e-4):  # lesson 01's one-array form, once per array
        def one_array(x):
            grad = np.zeros_like(x)
            for idx in np.ndindex(x.shape):
                old = x[idx]
                try:
                    x[idx] = old + h
                    plus = f(params)
                    x[idx] = old - h
                    minus = f(params)
                finally:
                    x[idx] = old
                grad[idx] = (plus - minus) / (2 * h)
            return grad

        return {name: one_array(x) for name, x in params.items()}

    assert_passes("1.2", variant)


# ----------------------------------------------------------------------------- 1.3


def test_path_without_start_is_named():
    def wrong(grad, x0, lr, steps):
        return gradient_descent(grad, x0, lr, steps)[1:]

    assert "one row too few" in failed("1.3", wrong)


def test_aliased_path_is_named():
    def wrong(grad, x0, lr, steps):
        x = np.array(x0, dtype=np.float64)
        path = [x]
        for _ in range(steps):
            x -= lr * grad(x)
            path.append(x)
        return np.array(path)

    assert "every point of the path equals the last one" in failed("1.3", wrong)


def test_gradient_ascent_is_named():
    def wrong(grad, x0, lr, steps):
        return gradient_descent(lambda v: -grad(v), x0, lr, steps)

    assert "walks uphill" in failed("1.3", wrong)


def test_changing_x0_in_place_is_caught():
    def wrong(grad, x0, lr, steps):
        path = [x0.copy()]
        for _ in range(steps):
            x0 -= lr * grad(x0)
            path.append(x0.copy())
        return np.array(path)

    message = failed("1.3", wrong)
    assert "changed `x0` in place" in message
    assert "x = x - lr * grad(x)" in message  # an example from gradient descent, not softmax


def test_only_last_point_is_named():
    def wrong(grad, x0, lr, steps):
        return gradient_descent(grad, x0, lr, steps)[-1]

    assert "return every point of the path" in failed("1.3", wrong)


def test_wrong_learning_rate_use_names_the_point():
    def wrong(grad, x0, lr, steps):
        return gradient_descent(grad, x0, lr / 2, steps)

    assert "point 1 of the path" in failed("1.3", wrong)
