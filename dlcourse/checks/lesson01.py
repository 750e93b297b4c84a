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
    expect_array,
    expect_finite,
    relative_error,
)
from dlcourse.gradients import numerical_gradient as reference_gradient

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
    return (f(x + h) - f(x - h)) / (2 * h)


def _five_point(f: Callable, x: float, h: float) -> float:
    """(f(x − 2h) − 8 f(x − h) + 8 f(x + h) − f(x + 2h)) / (12h): error of order h⁴."""
    return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)


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

_GRAD_SHAPES = ((3, 4), (5,), (2, 3, 2))


def _quadratic_loss(shape: tuple[int, ...], seed: int) -> tuple[np.ndarray, Callable]:
    """A smooth non-symmetric function of an array: sum(A * x**2) + sum(B * x) + x.flat[0]**3."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(0.5, 2.0, shape), rng.normal(size=shape)
    return a, lambda x: float(np.sum(a * x**2) + np.sum(b * x) + x.flat[0] ** 3)


def _first_difference(before: np.ndarray, after: np.ndarray) -> tuple[int, ...] | None:
    changed = np.argwhere(before != after)
    return tuple(int(i) for i in changed[0]) if changed.size else None


def _restored_hint(name: str, before: np.ndarray, after: np.ndarray, where: tuple) -> str:
    return (
        f"{name}[{', '.join(map(str, where))}] was {float(before[where])!r} before the call and "
        f"is {float(after[where])!r} after it. Save the old value and put it back "
        "(old = x[idx]; ...; x[idx] = old): adding and subtracting h does not always "
        "give the same float back"
    )


def _forward_gradient(f: Callable, x: np.ndarray, h: float) -> np.ndarray:
    """What a forward-difference gradient returns: (f(x + h·e_i) − f(x)) / h per element."""
    base = f(x)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        old = x[index]
        x[index] = old + h
        grad[index] = (f(x) - base) / h
        x[index] = old
    return grad


class _Boom(Exception):
    """Raised by a test function to see whether numerical_gradient restores x."""


@checker("1.2", uses=("numerical_gradient",))
def check_numerical_gradient(numerical_gradient: Callable) -> None:
    """Task 1.2: central differences element by element, x perturbed in place and restored."""
    for seed, shape in enumerate(_GRAD_SHAPES):
        x = np.random.default_rng(100 + seed).normal(size=shape)
        # For some of these values x + h - h != x in float64: restoring by subtraction shows.
        before = x.copy()
        _, f = _quadratic_loss(shape, seed)
        text = f"numerical_gradient(f, x) for x of shape {shape}"
        # f reads the array through its argument here; below it reads it from outside.
        got = expect_array(text, numerical_gradient(f, x))
        where = _first_difference(before, x)
        if where is not None:
            raise CheckFailed(f"{text} left x changed: " + _restored_hint("x", before, x, where))
        if got.shape != shape:
            raise CheckFailed(f"{text} should have shape {shape} (like x) but has {got.shape}")
        expect_finite(text, got)
        want = reference_gradient(f, x.copy(), 1e-4)
        if not np.allclose(got, want, rtol=1e-6, atol=1e-9):
            error = relative_error(got, want)
            worst = argmax_index(error)
            hint = ""
            if np.allclose(got, _forward_gradient(f, x.copy(), 1e-4), rtol=1e-6, atol=1e-9):
                hint = (
                    "; the numbers are those of the forward difference (f(x + h) − f(x)) / h, "
                    "off by about h·f''(x)/2. Use the central difference "
                    "(f(x + h) − f(x − h)) / (2h), whose error shrinks like h²"
                )
            elif np.allclose(got, 2 * want, rtol=1e-6):
                hint = "; it is twice too large: divide by 2h"
            elif np.allclose(got, -want, rtol=1e-6):
                hint = "; it has the wrong sign: (f(x + h) − f(x − h)) / (2h)"
            elif len(shape) > 1 and np.allclose(got.flat[: shape[-1]], want.flat[: shape[-1]]):
                hint = (
                    "; only the first row is right: loop over every element (np.ndindex or x.flat)"
                )
            raise CheckFailed(
                f"{text} is off: relative error {error[worst]:.1e} at index {worst} "
                f"(got {got[worst]:.6g}, expected {want[worst]:.6g}){hint}"
            )

    # A network's loss reads its weights from the network, not from its argument:
    # f ignores what it is given, so only perturbing x itself (in place) works.
    W = np.random.default_rng(7).normal(size=(2, 3))
    before = W.copy()
    _, loss = _quadratic_loss(W.shape, 7)
    text = "numerical_gradient(lambda _: loss(W), W)"
    got = expect_array(text, numerical_gradient(lambda _: loss(W), W))
    where = _first_difference(before, W)
    if where is not None:
        raise CheckFailed(f"{text} left W changed: " + _restored_hint("W", before, W, where))
    want = reference_gradient(loss, W.copy(), 1e-4)
    if got.shape == W.shape and not np.any(got) and np.any(want):
        raise CheckFailed(
            f"{text} returned all zeros: a function that reads W from outside (like a "
            "network's loss) never sees a perturbed copy. Change x itself, in place "
            "(x[idx] = old + h), then restore it"
        )
    if got.shape != W.shape or not np.allclose(got, want, rtol=1e-6, atol=1e-9):
        raise CheckFailed(f"{text} is off; expected {np.round(want, 4).tolist()}")

    # If f raises half-way, x must still come back unchanged (try/finally).
    x = np.array([[0.3, -1.2, 2.5], [0.7, 0.1, -0.4]])
    before = x.copy()
    calls = 0

    def fragile(v: np.ndarray) -> float:
        nonlocal calls
        calls += 1
        if calls == 4:
            raise _Boom("f failed on its 4th call")
        return float(np.sum(v**2))

    try:
        numerical_gradient(fragile, x)
    except _Boom:
        pass
    else:
        raise CheckFailed(
            "numerical_gradient swallowed an error raised by f; let it propagate "
            "(use try/finally, not try/except)"
        )
    where = _first_difference(before, x)
    if where is not None:
        raise CheckFailed(
            f"when f raised an error, x was left perturbed at index {where} "
            f"({float(before[where])!r} became {float(x[where])!r}); restore the element in a "
            "finally: block so that x is unchanged even when f fails"
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
