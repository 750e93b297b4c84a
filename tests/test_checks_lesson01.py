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
descend_backtracking = ANSWERS["descend_backtracking"]


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [("1.1", numerical_diff5), ("1.2", numerical_gradients), ("1.3", descend_backtracking)],
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


def backtracking(f, grad, x0, lr0=1.0, steps=50, *, accept=None, start=None, cap=None):
    """A backtracking descent with one part swapped: the condition ``accept(new, fx, lr, gg)``,
    the first lr of each step ``start(lr0, last_lr)``, a smallest lr ``cap`` (None: none)."""
    accept = accept or (lambda new, fx, lr, gg: new <= fx - 0.5 * lr * gg)
    start = start or (lambda lr0, last: lr0)
    x = np.array(x0, dtype=np.float64)
    path, lrs, lr = [x], [], lr0
    for _ in range(steps):
        g = grad(x)
        fx, gg = f(x), np.sum(g**2)
        lr = start(lr0, lr)
        while not accept(f(x - lr * g), fx, lr, gg):
            lr /= 2
            if cap is not None and lr < cap:
                raise ValueError("the direction is not downhill")
        x = x - lr * g
        path.append(x)
        lrs.append(lr)
    return np.array(path), np.array(lrs)


def test_fixed_learning_rate_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        path = [np.array(x0, dtype=np.float64)]
        for _ in range(steps):
            path.append(path[-1] - lr0 * grad(path[-1]))
        return np.array(path), np.full(steps, lr0)

    message = failed("1.3", wrong)
    assert "every step used lr = lr0 = 1, which overshoots here" in message
    assert "A fixed lr is what the task replaces" in message


def test_learning_rate_carried_over_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        return backtracking(f, grad, x0, lr0, steps, start=lambda lr0, last: last, cap=1e-12)

    message = failed("1.3", wrong)
    assert "already satisfies the condition" in message
    assert "Your lrs never grow back" in message


def test_plain_decrease_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        plain = lambda new, fx, lr, gg: new <= fx  # noqa: E731
        return backtracking(f, grad, x0, lr0, steps, accept=plain, cap=1e-12)

    message = failed("1.3", wrong)
    assert "the condition asks for at most f(x) − ½·lr·‖g‖²" in message
    assert "plain decrease" in message


def test_norm_instead_of_squared_norm_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        norm = lambda new, fx, lr, gg: new <= fx - 0.5 * lr * np.sqrt(gg)  # noqa: E731
        return backtracking(f, grad, x0, lr0, steps, accept=norm, cap=1e-12)

    message = failed("1.3", wrong)  # it gets stuck near the minimum, where ‖g‖ < 1
    assert "raised ValueError: the direction is not downhill" in message
    assert "‖g‖ instead of ‖g‖²" in message and "gets stuck like this" in message


def test_condition_without_the_half_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        whole = lambda new, fx, lr, gg: new <= fx - lr * gg  # noqa: E731
        return backtracking(f, grad, x0, lr0, steps, accept=whole, cap=1e-12)

    assert "without the ½" in failed("1.3", wrong)


def test_halving_before_the_first_try_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        return backtracking(f, grad, x0, lr0, steps, start=lambda lr0, last: lr0 / 2, cap=1e-12)

    assert "try lr = lr0 first" in failed("1.3", wrong)


def test_ignored_lr0_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        return backtracking(f, grad, x0, 1.0, steps, cap=1e-12)

    message = failed("1.3", wrong)
    assert "is not lr0 halved a whole number of times (lr0 = 0.7" in message
    assert "start every step from the lr0 passed in, not from 1" in message


def test_lrs_with_one_entry_too_many_are_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        path, lrs = descend_backtracking(f, grad, x0, lr0, steps)
        return path, np.concatenate([[lr0], lrs])

    assert "should return lrs of shape (20,)" in failed("1.3", wrong)


def test_aliased_path_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        x = np.array(x0, dtype=np.float64)
        path, lrs = [x], []
        for _ in range(steps):
            g = grad(x)
            lr = lr0
            while f(x - lr * g) > f(x) - 0.5 * lr * np.sum(g**2):
                lr /= 2
            x -= lr * g
            path.append(x)
            lrs.append(lr)
        return np.array(path), np.array(lrs)

    assert "every row of the path equals the last one" in failed("1.3", wrong)


def test_path_without_x0_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        path, lrs = descend_backtracking(f, grad, x0, lr0, steps)
        return path[1:], lrs

    assert "one row too few" in failed("1.3", wrong)


def test_uphill_step_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        path, lrs = descend_backtracking(f, grad, x0, lr0, steps)
        steps_back = path[:-1] + lrs.reshape(-1, *[1] * (path.ndim - 1)) * np.array(
            [grad(x) for x in path[:-1]]
        )
        return np.concatenate([path[:1], steps_back]), lrs

    assert "walks uphill" in failed("1.3", wrong)


def test_changing_x0_in_place_is_caught():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        path, lrs = descend_backtracking(f, grad, x0, lr0, steps)
        x0 -= lr0 * grad(x0)
        return path, lrs

    message = failed("1.3", wrong)
    assert "changed `x0` in place" in message
    assert "x = x - lr * g" in message


def test_only_the_path_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        return descend_backtracking(f, grad, x0, lr0, steps)[0]

    assert "should return two arrays, (path, lrs), but returned ndarray" in failed("1.3", wrong)


def test_wrong_default_steps_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=100):
        return descend_backtracking(f, grad, x0, lr0, steps)

    assert "(the default steps is 50)" in failed("1.3", wrong)


def test_no_value_error_on_a_wrong_gradient_is_named():
    def wrong(f, grad, x0, lr0=1.0, steps=50):  # stops only when the floats stop changing
        return backtracking(f, grad, x0, lr0, steps)

    message = failed("1.3", wrong)
    assert "instead of raising ValueError" in message
    assert "its smallest lr was" in message


def test_endless_loop_on_a_wrong_gradient_is_stopped():
    def wrong(f, grad, x0, lr0=1.0, steps=50):  # a strict < never holds once lr is 0
        strict = lambda new, fx, lr, gg: new < fx - 0.5 * lr * gg  # noqa: E731
        return backtracking(f, grad, x0, lr0, steps, accept=strict)

    assert "your loop did not stop" in failed("1.3", wrong)


def test_g_at_g_on_a_matrix_is_explained():
    def wrong(f, grad, x0, lr0=1.0, steps=50):
        at = lambda new, fx, lr, gg: new <= fx - 0.5 * lr * gg  # noqa: E731
        x = np.array(x0, dtype=np.float64)
        path, lrs = [x], []
        for _ in range(steps):
            g = grad(x)
            lr = lr0
            while not at(f(x - lr * g), f(x), lr, g @ g):
                lr /= 2
            x = x - lr * g
            path.append(x)
            lrs.append(lr)
        return np.array(path), np.array(lrs)

    assert "g @ g is a matrix product" in failed("1.3", wrong)


@pytest.mark.parametrize(
    "squared_norm",
    [
        lambda g: np.sum(g**2),
        lambda g: np.linalg.norm(g) ** 2,
        lambda g: float(np.vdot(g, g)),
        lambda g: g.ravel() @ g.ravel(),
    ],
)
def test_other_ways_of_writing_the_squared_norm_pass(squared_norm):
    def variant(f, grad, x0, lr0=1.0, steps=50):
        x = np.array(x0, dtype=np.float64)
        path, lrs = [x.copy()], []
        for _ in range(steps):
            g = grad(x)
            lr = lr0
            while f(x) - f(x - lr * g) < lr * squared_norm(g) / 2:  # the other way round
                lr = lr * 0.5
                if lr < 1e-12:
                    raise ValueError("not downhill")
            x = x - lr * g
            path.append(x.copy())
            lrs.append(lr)
        return np.stack(path), lrs  # lrs as a list

    assert_passes("1.3", variant)


def test_preallocated_path_with_halving_count_passes():
    def variant(f, grad, x0, lr0=1.0, steps=50):
        path = np.empty((steps + 1, *np.shape(x0)))
        path[0] = x0
        lrs = np.empty(steps)
        for k in range(steps):
            g = grad(path[k])
            for m in range(40):  # lr0 * 0.5**40 < 1e-12
                lr = lr0 * 0.5**m
                if f(path[k] - lr * g) <= f(path[k]) - 0.5 * lr * np.sum(g * g):
                    break
            else:
                raise ValueError("the direction is not downhill")
            lrs[k] = lr
            path[k + 1] = path[k] - lr * g
        return path, lrs

    assert_passes("1.3", variant)
