"""Checkers for assignment 01 · Gradient descent (numerical derivatives, the update rule).

Each checker compares the learner's function with the formula it should implement, on
several functions, points and step sizes (an explicit ``h`` so that lesson 01's central
difference cannot pass for the five-point one), and names the typical mistake when it
recognises one: the central or forward difference, a wrong denominator or sign, a
perturbed copy instead of the array itself, an array left changed after the call, a
path whose rows all alias the same array.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import (
    CheckFailed,
    argmax_index,
    call_keeping,
    case_rng,
    expect_array,
    expect_finite,
    relative_error,
)

# ----------------------------------------------------------------------------- task 1.1

# (name, f, x, h): smooth functions with derivatives of every size and sign
_DIFF_CASES: tuple[tuple[str, Callable[[float], float], float, float], ...] = (
    ("x**2 + x", lambda x: x**2 + x, 2.0, 1e-2),
    ("exp(x)", np.exp, 1.0, 1e-2),
    ("sin(x)", np.sin, -0.7, 1e-3),
    ("x**3 - 2*x", lambda x: x**3 - 2 * x, -1.5, 1e-2),
    ("1 / (1 + exp(-x))", lambda x: 1 / (1 + np.exp(-x)), 0.3, 1e-1),
)


def _central(f: Callable, x: float, h: float) -> float:
    slope: float = (f(x + h) - f(x - h)) / (2 * h)
    return slope


def _five_point(f: Callable, x: float, h: float) -> float:
    """(f(x − 2h) − 8 f(x − h) + 8 f(x + h) − f(x + 2h)) / (12h): error of order h⁴."""
    slope: float = (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)
    return slope


def _same(got: float, want: float, rtol: float = 1e-9) -> bool:
    return bool(np.isclose(got, want, rtol=rtol, atol=1e-12))


def _diff_mistake(got: float, f: Callable, x: float, h: float) -> str:
    """Name the typical mistake that explains ``got``, or ''."""
    five = _five_point(f, x, h)
    if _same(got, _central(f, x, h)):
        return (
            "; that is lesson 01's central difference (f(x + h) − f(x − h)) / (2h), whose "
            "error shrinks like h². The task asks for the five-point formula, which also uses "
            "f(x ± 2h) and whose error shrinks like h⁴"
        )
    if _same(got, (f(x + h) - f(x)) / h):
        return (
            "; that is the forward difference (f(x + h) − f(x)) / h, whose error shrinks "
            "only like h. Use the five-point formula of the task"
        )
    if _same(got, _central(f, x, 2 * h)):
        return "; that is the central difference with step 2h: the formula needs f(x ± h) too"
    if _same(got, 2 * five):
        return "; it is twice too large: divide by 12h"
    if _same(got, 0.5 * five):
        return "; it is half the derivative: divide by 12h, not 24h"
    if _same(got, -five):
        return "; it has the wrong sign: +8 f(x + h) and −8 f(x − h)"
    if _same(got, _five_point(f, x, 1e-3), rtol=1e-7):
        return "; it looks like the h argument was ignored (the value is that of h = 1e-3)"
    return ""


@checker("1.1", uses=("numerical_diff5",))
def check_numerical_diff5(numerical_diff5: Callable) -> None:
    """Task 1.1: five-point difference, h = 1e-3 by default; error shrinking like h⁴."""
    for name, f, x, h in _DIFF_CASES:
        text = f"numerical_diff5(f, {x}, h={h}) for f(x) = {name}"
        got = numerical_diff5(f, x, h=h)
        if isinstance(got, np.ndarray) and got.ndim > 0:
            raise CheckFailed(f"{text} should return a number but returned an array {got!r}")
        try:
            got = float(got)
        except (TypeError, ValueError):
            raise CheckFailed(f"{text} should return a number but returned {got!r}") from None
        want = _five_point(f, x, h)
        if not np.isfinite(got):
            raise CheckFailed(f"{text} returned {got}; expected {want:.8g}")
        if not _same(got, want):
            raise CheckFailed(
                f"{text} returned {got:.8g}; expected {want:.8g}" + _diff_mistake(got, f, x, h)
            )
    f, x = _DIFF_CASES[1][1], 1.0
    got = float(numerical_diff5(f, x))
    want = _five_point(f, x, 1e-3)
    if not _same(got, want, rtol=1e-7):
        hint = (
            "; with a tiny default h such as 1e-50, x + h == x in floating point and the "
            "differences are 0 or rounding noise divided by a tiny h"
            if got == 0 or abs(got) > 1e3 * abs(want)
            else ""
        )
        raise CheckFailed(
            f"numerical_diff5(exp, 1.0) with the default h returned {got:.10g}; expected "
            f"{want:.10g} (the five-point formula with h = 1e-3){hint}"
        )


# ----------------------------------------------------------------------------- task 1.2

# Parameter dicts of a few arrays each: a matrix, a vector, a 3-D array
_GRAD_CASES: tuple[dict[str, tuple[int, ...]], ...] = (
    {"W": (3, 4), "b": (4,)},
    {"W1": (2, 3), "b1": (3,), "W2": (3, 2, 2)},
    {"v": (5,)},
)


def _dict_loss(shapes: dict[str, tuple[int, ...]], salt: int) -> Callable:
    """A smooth, non-symmetric f(params): Σ (A·p² + B·p) per array, a cube and a coupling term."""
    rng = case_rng(salt)
    coef = {name: (rng.uniform(0.5, 2.0, s), rng.normal(size=s)) for name, s in shapes.items()}
    names = list(shapes)

    def f(params: dict) -> float:
        total = sum(float(np.sum(a * params[k] ** 2 + b * params[k])) for k, (a, b) in coef.items())
        first, last = params[names[0]].flat[0], params[names[-1]].flat[-1]
        return total + float(first) ** 3 + float(first * last)

    return f


def _reference_grads(f: Callable, params: dict, h: float, forward: bool = False) -> dict:
    """Central (or forward) differences of f(params) for every element, on a private copy."""
    mine = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    grads = {}
    for name, array in mine.items():
        grad = np.zeros_like(array)
        base = f(mine) if forward else 0.0
        for index in np.ndindex(array.shape):
            old = array[index]
            array[index] = old + h
            plus = f(mine)
            array[index] = old - h
            minus = base if forward else f(mine)
            array[index] = old
            grad[index] = (plus - minus) / (h if forward else 2 * h)
        grads[name] = grad
    return grads


def _changed(before: dict, after: dict) -> tuple[str, tuple[int, ...]] | None:
    for name, old in before.items():
        changed = np.argwhere(old != after[name])
        if changed.size:
            return name, tuple(int(i) for i in changed[0])
    return None


def _restored_hint(name: str, where: tuple, before: dict, after: dict) -> str:
    return (
        f"params[{name!r}][{', '.join(map(str, where))}] was {float(before[name][where])!r} "
        f"before the call and is {float(after[name][where])!r} after it. Save the old value and "
        "put it back (old = x[idx]; ...; x[idx] = old): adding and subtracting h does not "
        "always give the same float back"
    )


def _grads_hint(got: dict, want: dict, f: Callable, params: dict) -> str:
    """Name the typical mistake behind a wrong gradient dict."""

    def all_close(other: dict) -> bool:
        return all(np.allclose(got[k], other[k], rtol=1e-6, atol=1e-9) for k in want)

    if all_close(_reference_grads(f, params, 1e-4, forward=True)):
        return (
            "; the numbers are those of the forward difference (f(x + h) − f(x)) / h, off by "
            "about h·f''/2. Use the central difference (f(x + h) − f(x − h)) / (2h)"
        )
    if all_close({k: 2 * v for k, v in want.items()}):
        return "; it is twice too large: divide by 2h"
    if all_close({k: -v for k, v in want.items()}):
        return "; it has the wrong sign: (f(x + h) − f(x − h)) / (2h)"
    right = [k for k in want if np.allclose(got[k], want[k], rtol=1e-6, atol=1e-9)]
    if right and len(right) < len(want):
        return f"; only {', '.join(map(repr, right))} is right: do every array of the dict"
    return ""


class _Boom(Exception):
    """Raised by a test function to see whether numerical_gradients restores params."""


@checker("1.2", uses=("numerical_gradients",))
def check_numerical_gradients(numerical_gradients: Callable) -> None:
    """Task 1.2: central differences for every element of every array of a dict, each
    perturbed in place and restored exactly, even when f raises."""
    for salt, shapes in enumerate(_GRAD_CASES):
        rng = case_rng(120 + salt)
        params = {name: rng.normal(size=shape) for name, shape in shapes.items()}
        before = {k: v.copy() for k, v in params.items()}
        f = _dict_loss(shapes, 125 + salt)
        text = f"numerical_gradients(f, params) for params {dict(shapes)}"
        got = numerical_gradients(f, params)
        moved = _changed(before, params)
        if moved is not None:
            raise CheckFailed(
                f"{text} left params changed: " + _restored_hint(*moved, before, params)
            )
        if not isinstance(got, dict) or set(got) != set(shapes):
            raise CheckFailed(
                f"{text} should return a dict with the keys of params, {sorted(shapes)}, but "
                f"returned {type(got).__name__} {got!r:.60}"
            )
        for name, shape in shapes.items():
            value = expect_array(f"grads[{name!r}]", got[name])
            if value.shape != shape:
                raise CheckFailed(
                    f"{text}: grads[{name!r}] should have shape {shape} (like params[{name!r}]) "
                    f"but has {value.shape}"
                )
            expect_finite(f"grads[{name!r}]", value)
        want = _reference_grads(f, before, 1e-4)
        for name in shapes:
            if not np.allclose(got[name], want[name], rtol=1e-6, atol=1e-9):
                error = relative_error(got[name], want[name])
                worst = argmax_index(error)
                raise CheckFailed(
                    f"{text}: grads[{name!r}] is off: relative error {error[worst]:.1e} at index "
                    f"{worst} (got {got[name][worst]:.6g}, expected {want[name][worst]:.6g})"
                    + _grads_hint(got, want, f, before)
                )
    _check_reads_from_outside(numerical_gradients)
    _check_restores_on_error(numerical_gradients)


def _check_reads_from_outside(numerical_gradients: Callable) -> None:
    """A network's loss reads its weights from the network, not from its argument."""
    shapes = {"W": (2, 3), "b": (3,)}
    params = {name: case_rng(130).normal(size=shape) for name, shape in shapes.items()}
    loss = _dict_loss(shapes, 131)
    text = "numerical_gradients(lambda _: loss(params), params)"
    got = numerical_gradients(lambda _: loss(params), params)
    want = _reference_grads(loss, params, 1e-4)
    if isinstance(got, dict) and all(
        isinstance(got.get(k), np.ndarray) and not np.any(got[k]) for k in want
    ):
        raise CheckFailed(
            f"{text} returned all zeros: a function that reads the arrays from outside (like a "
            "network's loss) never sees a perturbed copy. Change each array itself, in place "
            "(x[idx] = old + h), then restore it"
        )
    if not isinstance(got, dict) or not all(
        np.allclose(got.get(k, np.nan), want[k], rtol=1e-6, atol=1e-9) for k in want
    ):
        raise CheckFailed(
            f"{text} is off; expected { {k: np.round(v, 4).tolist() for k, v in want.items()} }"
        )


def _check_restores_on_error(numerical_gradients: Callable) -> None:
    """If f raises half-way, every array must still come back unchanged (try/finally)."""
    params = {"W": np.array([[0.3, -1.2, 2.5], [0.7, 0.1, -0.4]]), "b": np.array([0.2, -0.3])}
    before = {k: v.copy() for k, v in params.items()}
    calls = 0

    def fragile(p: dict) -> float:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise _Boom("f failed on its 4th call")
        return float(np.sum(p["W"] ** 2) + np.sum(p["b"] ** 2))

    try:
        numerical_gradients(fragile, params)
    except _Boom:
        pass
    else:
        raise CheckFailed(
            "numerical_gradients swallowed an error raised by f; let it propagate "
            "(use try/finally, not try/except)"
        )
    moved = _changed(before, params)
    if moved is not None:
        name, where = moved
        raise CheckFailed(
            f"when f raised an error, params[{name!r}] was left perturbed at index {where} "
            f"({float(before[name][where])!r} became {float(params[name][where])!r}); restore "
            "the element in a finally: block so that params is unchanged even when f fails"
        )


# ----------------------------------------------------------------------------- task 1.3

# (name, grad, x0, lr, steps)
_GD_CASES = (
    ("J(x) = x**2 + x", lambda x: 2 * x + 1, np.array(2.0), 0.1, 30),
    ("f(x) = x0**2 + 4*x1**2", lambda x: np.array([2, 8]) * x, np.array([-3.0, 2.0]), 0.05, 25),
    ("f(x) = sum(x**2)", lambda x: 2 * x, np.array([[1.0, -2.0, 0.5], [3.0, 0.0, -1.0]]), 0.3, 8),
    ("J(x) = x**2 + x", lambda x: 2 * x + 1, np.array(0.25), 1.1, 6),  # diverges, on purpose
)


def _reference_path(grad: Callable, x0: np.ndarray, lr: float, steps: int) -> np.ndarray:
    x = np.array(x0, dtype=np.float64)
    path = [x]
    for _ in range(steps):
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)


@checker("1.3", uses=("gradient_descent",))
def check_gradient_descent(gradient_descent: Callable) -> None:
    """Task 1.3: x ← x − lr·grad(x), ``steps`` times; the path (steps + 1, *x0.shape)."""
    for name, grad, x0, lr, steps in _GD_CASES:
        text = f"gradient_descent(grad, x0={x0.tolist()}, lr={lr}, steps={steps}) for {name}"
        got = call_keeping(
            gradient_descent,
            grad,
            x0,
            lr,
            steps,
            example="x = x - lr * grad(x), starting from x = np.array(x0, dtype=float)",
        )
        want = _reference_path(grad, x0, lr, steps)
        got = np.asarray(got)
        if got.shape != want.shape:
            hint = ""
            if got.shape == (steps, *x0.shape):
                hint = (
                    "; the path has one row too few: start it with x0, then add one point per step"
                )
            elif got.shape == x0.shape:
                hint = "; return every point of the path (x0 first), not only the last one"
            raise CheckFailed(
                f"{text} should return a path of shape {want.shape} (steps + 1 points) but "
                f"got shape {got.shape}{hint}"
            )
        if not np.issubdtype(got.dtype, np.floating):
            raise CheckFailed(f"{text} returned dtype {got.dtype}; the points must be floats")
        if np.allclose(got, want, rtol=1e-10, atol=1e-12):
            continue
        if steps > 1 and np.allclose(got, want[-1], rtol=1e-10) and not np.allclose(x0, want[-1]):
            raise CheckFailed(
                f"{text}: every point of the path equals the last one. You stored the same "
                "array each time and then changed it in place (x -= ...); write "
                "x = x - lr * grad(x) so that each step makes a new array"
            )
        if np.allclose(
            got, _reference_path(lambda v, grad=grad: -grad(v), x0, lr, steps), rtol=1e-10
        ):
            raise CheckFailed(
                f"{text} walks uphill: subtract the gradient (x = x - lr * grad(x)); "
                "the gradient points to where f grows"
            )
        step_error = np.argwhere(~np.isclose(got, want, rtol=1e-10, atol=1e-12))[0]
        k = int(step_error[0])
        raise CheckFailed(
            f"{text}: point {k} of the path is {np.round(got[k], 6).tolist()}, expected "
            f"{np.round(want[k], 6).tolist()} (point 0 is x0, point k is x after k steps)"
        )
