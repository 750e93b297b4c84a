"""Checkers for assignment 01 · Gradient descent (numerical derivatives, the update rule).

Each checker compares the learner's function with the formula it should implement, on
several functions, points and step sizes (an explicit ``h`` so that lesson 01's central
difference cannot pass for the five-point one), and names the typical mistake when it
recognises one: the central or forward difference, a wrong denominator or sign, a
perturbed copy instead of the array itself, an array left changed after the call, a
path whose rows all alias the same array. Task 1.3's backtracking descent is checked step
by step rather than against one reference path (a borderline comparison may round either
way): each lr is lr0 halved a whole number of times, each row follows from the one
before, the sufficient-decrease condition holds at lr and fails at 2·lr; a fixed lr, a
plain decrease, ‖g‖ for ‖g‖², an lr carried over between steps are named.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
    type_name,
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

SMALLEST_LR = 1e-12  # the task raises ValueError when lr falls below it
# The condition is checked with this relative slack: ‖g‖² as g @ g, np.sum(g**2) or
# np.linalg.norm(g)**2 rounds differently and may tip a borderline comparison either way.
_SLACK = 1e-9


@dataclass(frozen=True)
class _Descent:
    """One problem for descend_backtracking: f, its gradient, x0; lr0/steps None = defaults."""

    name: str
    f: Callable[[np.ndarray], float]
    grad: Callable[[np.ndarray], np.ndarray]
    x0: np.ndarray
    lr0: float | None
    steps: int | None

    @property
    def used_lr0(self) -> float:
        return 1.0 if self.lr0 is None else self.lr0

    @property
    def used_steps(self) -> int:
        return 50 if self.steps is None else self.steps

    @property
    def text(self) -> str:
        x0 = np.round(self.x0, 3).tolist()
        if self.lr0 is None:
            return f"descend_backtracking(f, grad, x0={x0}) (default lr0 and steps) for {self.name}"
        return (
            f"descend_backtracking(f, grad, x0={x0}, lr0={self.lr0:g}, steps={self.steps}) "
            f"for {self.name}"
        )


def _descent_problems() -> list[_Descent]:
    """Quadratics on which lr0 overshoots (1-D, ill-conditioned 2-D, matrix-shaped), a
    Rosenbrock valley, and a problem on which lr0 already works."""
    rng = case_rng(130)
    problems = []
    m = rng.uniform(-1, 1, size=1)
    problems.append(
        _Descent(
            "f(x) = 5·(x − m)², on which lr0 = 1 overshoots",
            lambda x: float(5 * np.sum((x - m) ** 2)),
            lambda x: 10 * (x - m),
            m + rng.choice([-1.0, 1.0]) * rng.uniform(1, 3, size=1),
            1.0,
            20,
        )
    )
    angle = rng.uniform(0.3, 1.2)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    A = rotation @ np.diag([1.0, 40.0]) @ rotation.T  # curvatures 1 and 40: ill-conditioned
    u = rng.normal(size=2)
    problems.append(
        _Descent(
            "the ill-conditioned quadratic f(x) = ½·xᵀAx − uᵀx (curvatures 1 and 40)",
            lambda x: float(0.5 * x @ A @ x - u @ x),
            lambda x: A @ x - u,
            rng.uniform(-2, 2, size=2),
            1.0,
            25,
        )
    )
    problems.append(
        _Descent(
            "the Rosenbrock function f(x) = (1 − x0)² + 10·(x1 − x0²)²",
            lambda x: float((1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2),
            lambda x: np.array(
                [-2 * (1 - x[0]) - 40 * x[0] * (x[1] - x[0] ** 2), 20 * (x[1] - x[0] ** 2)]
            ),
            np.array([-1.0, 1.5]) + rng.uniform(-0.2, 0.2, size=2),
            None,
            None,
        )
    )
    C, T = rng.uniform(0.5, 8.0, size=(2, 3)), rng.normal(size=(2, 3))
    problems.append(
        _Descent(
            "f(W) = Σ C·(W − T)² with W of shape (2, 3)",
            lambda W: float(np.sum(C * (W - T) ** 2)),
            lambda W: 2 * C * (W - T),
            T + rng.normal(size=(2, 3)),
            0.7,
            12,
        )
    )
    center = rng.normal(size=4)
    problems.append(
        _Descent(
            "f(x) = Σ (x − m)², on which lr0 = 0.3 already satisfies the condition",
            lambda x: float(np.sum((x - center) ** 2)),
            lambda x: 2 * (x - center),
            center + rng.normal(size=4),
            0.3,
            8,
        )
    )
    return problems


def _counted(func: Callable, limit: int, text: str) -> Callable:
    """``func``, failing the check once it has been called more than ``limit`` times."""
    calls = 0

    def counted(x: np.ndarray) -> object:
        nonlocal calls
        calls += 1
        if calls > limit:
            raise CheckFailed(
                f"{text}: your loop did not stop (f was called {limit} times). Does lr shrink "
                "at every try, and does the loop end with ValueError once lr < 1e-12?"
            )
        return func(x)

    return counted


def _descend(descend_backtracking: Callable, problem: _Descent, grad_calls: list[int]) -> object:
    """Call the learner's function on ``problem``, stopping it after too many calls of f and
    counting the calls of grad in ``grad_calls[0]`` (one per step)."""
    limit = 100 * (problem.used_steps + 1)  # the model answer needs at most ~45 per step
    f = _counted(problem.f, limit, problem.text)

    def grad(x: np.ndarray) -> np.ndarray:
        grad_calls[0] += 1
        return problem.grad(x)

    keywords = {} if problem.lr0 is None else {"lr0": problem.lr0, "steps": problem.steps}
    return call_keeping(
        descend_backtracking, f, grad, problem.x0, example="x = x - lr * g", **keywords
    )


# The ways of choosing lr that the checker recognises: (name, condition) for "the first of
# start, start/2, … for which condition(f(x − lr·g), f(x), lr, ‖g‖²) holds".
_CONDITIONS: dict[str, Callable[[float, float, float, float], bool]] = {
    "task": lambda new, fx, lr, gg: new <= fx - 0.5 * lr * gg,
    "plain": lambda new, fx, lr, gg: new <= fx,
    "norm": lambda new, fx, lr, gg: new <= fx - 0.5 * lr * np.sqrt(gg),
    "whole": lambda new, fx, lr, gg: new <= fx - lr * gg,
}


def _first_lr(problem: _Descent, x: np.ndarray, start: float, condition: str) -> float:
    """The first of start, start/2, … (down to 1e-12) that satisfies ``condition`` at x."""
    g = np.asarray(problem.grad(x), np.float64)
    fx, gg = problem.f(x), float(np.sum(g * g))
    accept = _CONDITIONS[condition]
    lr = start
    while lr >= SMALLEST_LR:
        if accept(problem.f(x - lr * g), fx, lr, gg):
            return lr
        lr /= 2
    return 0.0


def _lr_pattern(problem: _Descent, path: np.ndarray, lrs: np.ndarray) -> str:
    """The name of the wrong way of choosing lr that explains every one of ``lrs``, or ''."""
    lr0 = problem.used_lr0
    if np.all(lrs == lr0):
        return "fixed"
    patterns: dict[str, Callable[[int], float]] = {
        "plain": lambda k: _first_lr(problem, path[k], lr0, "plain"),
        "norm": lambda k: _first_lr(problem, path[k], lr0, "norm"),
        "whole": lambda k: _first_lr(problem, path[k], lr0, "whole"),
        "halved": lambda k: _first_lr(problem, path[k], lr0 / 2, "task"),
        "carried": lambda k: _first_lr(problem, path[k], lrs[k - 1] if k else lr0, "task"),
    }
    for name, predict in patterns.items():
        if all(predict(k) == lrs[k] for k in range(len(lrs))):
            return name
    return ""


_PATTERN_HINTS = {
    "plain": (
        "The step lowered f, but by less than half of what the slope promised: your test looks "
        "like a plain decrease, f(x − lr·g) ≤ f(x). Ask for the sufficient decrease "
        "f(x − lr·g) ≤ f(x) − ½·lr·‖g‖²"
    ),
    "norm": (
        "Your lrs are those of the test with ‖g‖ instead of ‖g‖²: ask for a decrease of "
        "½·lr·‖g‖², where ‖g‖² is the sum of the squares of all elements of g (np.sum(g ** 2))"
    ),
    "whole": (
        "Your lrs are those of the test f(x − lr·g) ≤ f(x) − lr·‖g‖², without the ½: that asks "
        "for the whole first-order decrease, which only a straight-line f delivers, so lr is "
        "halved too often. Ask for half of it, ½·lr·‖g‖²"
    ),
    "halved": (
        "Your lrs are half the right ones: try lr = lr0 first and halve only while the "
        "condition fails"
    ),
    "carried": (
        "Your lrs never grow back once they have shrunk: start every step again from lr = lr0 "
        "instead of carrying the last step's lr over"
    ),
}


def _lr_failure(problem: _Descent, path: np.ndarray, lrs: np.ndarray, detail: str) -> CheckFailed:
    """The failure for a step whose lr breaks the condition or is not the first that works."""
    pattern = _lr_pattern(problem, path, lrs)
    if pattern == "fixed":
        return CheckFailed(
            f"{problem.text}: every step used lr = lr0 = {problem.used_lr0:g}, which overshoots "
            f"here: {detail}. A fixed lr is what the task replaces: halve lr until the "
            "condition holds"
        )
    if pattern:
        return CheckFailed(f"{problem.text}: {detail}. {_PATTERN_HINTS[pattern]}")
    return CheckFailed(
        f"{problem.text}: {detail}. Take the first of lr0, lr0/2, lr0/4, … for which "
        "f(x − lr·g) ≤ f(x) − ½·lr·‖g‖² holds"
    )


def _path_and_lrs(problem: _Descent, result: object) -> tuple[np.ndarray, np.ndarray]:
    """The learner's (path, lrs) as float arrays of the right shapes, or a failure."""
    text, steps, x0 = problem.text, problem.used_steps, problem.x0
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        shape = f" of shape {result.shape}" if isinstance(result, np.ndarray) else ""
        raise CheckFailed(
            f"{text} should return two arrays, (path, lrs), but returned {type_name(result)}{shape}"
        )
    path, lrs = np.asarray(result[0]), np.asarray(result[1])
    want = (steps + 1, *x0.shape)
    defaults = " (the default steps is 50)" if problem.steps is None else ""
    if path.shape != want:
        hint = ""
        if path.shape == (steps, *x0.shape):
            hint = "; the path has one row too few: start it with x0, then add one point per step"
        elif path.shape == x0.shape:
            hint = "; return every point of the path (x0 first), not only the last one"
        raise CheckFailed(
            f"{text} should return a path of shape {want} (steps + 1 points){defaults} but it "
            f"has shape {path.shape}{hint}"
        )
    if lrs.shape != (steps,):
        hint = "; one lr per step, the one the update used" if lrs.ndim == 1 else ""
        raise CheckFailed(
            f"{text} should return lrs of shape {(steps,)}{defaults} but they have shape "
            f"{lrs.shape}{hint}"
        )
    for name, value in (("path", path), ("lrs", lrs)):
        if not np.issubdtype(value.dtype, np.floating):
            raise CheckFailed(f"{text} returned {name} of dtype {value.dtype}; it must be float")
    return path.astype(np.float64), lrs.astype(np.float64)


def _check_lr_values(problem: _Descent, lrs: np.ndarray) -> None:
    """Every lr is lr0·2^-m for a whole number m ≥ 0."""
    lr0 = problem.used_lr0
    for k, lr in enumerate(lrs):
        halvings = np.log2(lr0 / lr) if 0 < lr <= lr0 else np.nan
        if np.isfinite(halvings) and abs(halvings - round(halvings)) < 1e-9:
            continue
        default = " (the default lr0 is 1.0)" if problem.lr0 is None else ""
        hint = ""
        if lr > lr0:
            hint = "; every step starts at lr0 and only halves it"
        elif lr0 != 1.0 and 0 < lr < 1 and float(np.log2(lr)).is_integer():
            hint = "; that is 1 halved: start every step from the lr0 passed in, not from 1"
        raise CheckFailed(
            f"{problem.text}: lrs[{k}] = {lr:.6g} is not lr0 halved a whole number of times "
            f"(lr0 = {lr0:g}{default}, then {lr0 / 2:g}, {lr0 / 4:g}, …){hint}"
        )


def _check_steps(problem: _Descent, path: np.ndarray, lrs: np.ndarray) -> None:
    """Each row follows from the one before with the step's lr, which is the first that works."""
    text, f, lr0 = problem.text, problem.f, problem.used_lr0
    for k, lr in enumerate(lrs):
        x = path[k]
        g = np.asarray(problem.grad(x), np.float64)
        step = x - lr * g
        if not np.allclose(path[k + 1], step, rtol=1e-10, atol=1e-12):
            if np.allclose(path[k + 1], x + lr * g, rtol=1e-10, atol=1e-12):
                raise CheckFailed(
                    f"{text}: step {k} walks uphill: subtract the gradient, x = x - lr * g; "
                    "the gradient points to where f grows"
                )
            raise CheckFailed(
                f"{text}: row {k + 1} of the path is {np.round(path[k + 1], 6).tolist()}, but "
                f"row {k} − lrs[{k}]·grad(row {k}) is {np.round(step, 6).tolist()} "
                f"(lrs[{k}] = {lr:g}, the lr your lrs report for step {k})"
            )
        fx, gg = f(x), float(np.sum(g * g))
        bound = fx - 0.5 * lr * gg
        slack = _SLACK * (abs(fx) + 0.5 * lr * gg)
        f_new = f(step)
        if not f_new <= bound + slack:
            detail = (
                f"at step {k} (lr = {lr:g}) f went from {fx:.8g} to {f_new:.8g}, but the "
                f"condition asks for at most f(x) − ½·lr·‖g‖² = {bound:.8g}"
            )
            raise _lr_failure(problem, path, lrs, detail)
        if lr < lr0:
            f_double, bound_double = f(x - 2 * lr * g), fx - lr * gg
            if f_double <= bound_double - _SLACK * (abs(fx) + lr * gg):
                detail = (
                    f"step {k} used lr = {lr:g}, but 2·lr = {2 * lr:g} already satisfies the "
                    f"condition (f(x − 2·lr·g) = {f_double:.8g} ≤ f(x) − lr·‖g‖² = "
                    f"{bound_double:.8g})"
                )
                raise _lr_failure(problem, path, lrs, detail)


def _raised_value_error(problem: _Descent, err: ValueError, step: int) -> CheckFailed:
    """The failure when the learner's function raises ValueError at ``step`` (counted from
    0) on a problem whose gradient is right."""
    stuck = {name for name in ("whole", "norm") if _stuck_step(problem, name) == step}
    if "matmul" in str(err) or "aligned" in str(err):
        hint = (
            "‖g‖² is the sum of the squares of *all* elements of g; for a matrix-shaped x, "
            "g @ g is a matrix product: use np.sum(g ** 2)"
        )
    elif stuck == {"whole", "norm"}:
        hint = (
            "The gradient of this f is right. A test that asks for more than ½·lr·‖g‖² gets "
            "stuck like this: with ‖g‖ instead of ‖g‖² (once ‖g‖ < 1), or without the ½ (a "
            "curved f never delivers the whole first-order decrease). Ask for ½·lr·‖g‖², with "
            "‖g‖² the sum of the squares of all elements of g"
        )
    elif stuck == {"whole"}:
        hint = (
            "The gradient of this f is right. A test f(x − lr·g) ≤ f(x) − lr·‖g‖², without the "
            "½, gets stuck like this: it asks for the whole first-order decrease, which a curved "
            "f never delivers. Ask for half of it, ½·lr·‖g‖²"
        )
    elif stuck == {"norm"}:
        hint = (
            "The gradient of this f is right. A test with ‖g‖ instead of ‖g‖² gets stuck like "
            "this: once ‖g‖ < 1, ½·lr·‖g‖ asks for a larger decrease than any step can give. "
            "Ask for ½·lr·‖g‖², with ‖g‖² the sum of the squares of all elements of g (and "
            "check that the trial point is x − lr·g)"
        )
    else:
        hint = (
            "The gradient of this f is right, so a step that works exists: is the trial point "
            "x − lr·g (minus), and does the test compare f(x − lr·g) with f(x) − ½·lr·‖g‖²?"
        )
    return CheckFailed(f"{problem.text} raised ValueError: {err}. {hint}")


def _stuck_step(problem: _Descent, condition: str) -> int | None:
    """The step at which a descent choosing lr by ``condition`` finds no lr (None: never)."""
    x = np.array(problem.x0, dtype=np.float64)
    for step in range(problem.used_steps):
        lr = _first_lr(problem, x, problem.used_lr0, condition)
        if lr == 0.0:
            return step
        x = x - lr * np.asarray(problem.grad(x), np.float64)
    return None


def _check_wrong_gradient(descend_backtracking: Callable) -> None:
    """A gradient with the wrong sign points uphill: no lr works, so ValueError."""
    rng = case_rng(139)
    center = rng.normal(size=3)
    problem = _Descent(
        "f(x) = Σ (x − m)², with a wrong gradient: −(the true one), which points uphill",
        lambda x: float(np.sum((x - center) ** 2)),
        lambda x: -2 * (x - center),
        center + rng.normal(size=3),
        1.0,
        5,
    )
    try:
        result = _descend(descend_backtracking, problem, [0])
    except ValueError:
        return
    smallest = ""
    if isinstance(result, (tuple, list)) and len(result) == 2:
        lrs = np.asarray(result[1], dtype=np.float64).ravel()
        if lrs.size:
            smallest = f" (its smallest lr was {lrs.min():.1e})"
    raise CheckFailed(
        f"{problem.text}: it returned{smallest} instead of raising ValueError. Along an uphill "
        "direction no lr satisfies the condition: when lr falls below 1e-12, raise ValueError "
        "saying that the direction is not downhill (the gradient is probably wrong)"
    )


@checker("1.3", uses=("descend_backtracking",))
def check_descend_backtracking(descend_backtracking: Callable) -> None:
    """Task 1.3: each step halves lr from lr0 until f(x − lr·g) ≤ f(x) − ½·lr·‖g‖², then
    x ← x − lr·g; returns (path (steps + 1, *x0.shape), lrs (steps,)); ValueError uphill."""
    for problem in _descent_problems():
        grad_calls = [0]
        try:
            result = _descend(descend_backtracking, problem, grad_calls)
        except ValueError as err:
            raise _raised_value_error(problem, err, grad_calls[0] - 1) from None
        path, lrs = _path_and_lrs(problem, result)
        steps, x0 = problem.used_steps, problem.x0
        if steps > 1 and np.all(path == path[-1]) and not np.array_equal(path[-1], x0):
            raise CheckFailed(
                f"{problem.text}: every row of the path equals the last one. You stored the "
                "same array each time and then changed it in place (x -= ...); write "
                "x = x - lr * g so that each step makes a new array"
            )
        if not np.array_equal(path[0], x0):
            raise CheckFailed(
                f"{problem.text}: row 0 of the path is {np.round(path[0], 6).tolist()}; it "
                f"should be x0 = {np.round(x0, 6).tolist()}"
            )
        _check_lr_values(problem, lrs)
        _check_steps(problem, path, lrs)
    _check_wrong_gradient(descend_backtracking)
