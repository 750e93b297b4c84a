"""Checkers for assignment 11 · Automatic differentiation.

The learner writes backward rules and the graph walk of an autograd engine as plain
functions of numpy arrays and plain data (dicts, lists, strings). Every checker compares
with float64 references written here, draws its cases from ``case_rng`` and names the
typical mistakes the lesson warns about: ``.T`` on a batch of matrices, a shared matrix
whose gradient is not summed over the batch, a reduced axis not put back before
broadcasting, the dropped factor 2 or ``n − 1`` of a variance, a node visited before all
of its users, recursion on a deep graph, the diagonal-only softmax derivative.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dlcourse.checks import checker
from dlcourse.checks.tools import CheckFailed, call, case_rng, expect_array, expect_close


def _call_explaining(func: Callable, what: str, hint: str, *args: Any) -> Any:
    """call(func, *args), turning a crash of the learner's code into a CheckFailed with a hint.

    NotImplementedError (an untouched exercise) passes through unchanged.
    """
    try:
        return call(func, *args)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as err:
        raise CheckFailed(f"{what}: your code raised {type(err).__name__}: {err}; {hint}") from None


def _pair(name: str, got: Any) -> tuple[Any, Any]:
    if not isinstance(got, tuple | list) or len(got) != 2:
        raise CheckFailed(f"{name} should return a pair (da, db) but returned {type(got).__name__}")
    return got[0], got[1]


# ----------------------------------------------------------------------------- task 11.1


def _swap(m: np.ndarray) -> np.ndarray:
    return np.swapaxes(m, -1, -2)


def _sum_to(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum the leading batch axis away when the input had none (the only broadcast here)."""
    return grad.sum(axis=0) if grad.ndim > len(shape) else grad


def _matmul_reference(
    a: np.ndarray, b: np.ndarray, dout: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return _sum_to(dout @ _swap(b), a.shape), _sum_to(_swap(a) @ dout, b.shape)


MATMUL_SHAPES = (
    ((4, 3), (3, 5)),  # one product, as in the lesson
    ((2, 4, 3), (3, 5)),  # a batch of a, b shared
    ((4, 3), (3, 3, 5)),  # a shared, a batch of b
    ((3, 2, 4), (3, 4, 6)),  # a batch of both
)
TRANSPOSE_HINT = (
    "on a batch of matrices .T reverses *all* axes; transpose only the last two with "
    "np.swapaxes(m, -1, -2) (or m.transpose(0, 2, 1))"
)


@checker("11.1", uses=("matmul_backward",))
def check_matmul_backward(matmul_backward: Callable) -> None:
    """Task 11.1: da = dout @ bᵀ, db = aᵀ @ dout, summed over the batch for a shared input."""
    rng = case_rng(1101)
    for a_shape, b_shape in MATMUL_SHAPES:
        a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
        dout = rng.standard_normal(np.matmul(a, b).shape)
        text = f"a {a_shape} @ b {b_shape}"
        got = _call_explaining(matmul_backward, text, TRANSPOSE_HINT, a, b, dout)
        da, db = _pair("matmul_backward", got)
        want_da, want_db = _matmul_reference(a, b, dout)
        expect_array(f"{text}: da", da)
        expect_array(f"{text}: db", db)
        if da.shape == b.shape and db.shape == a.shape and a.shape != b.shape:
            raise CheckFailed(f"{text}: you returned (db, da); return da (shaped like a) first")
        for name, got_grad, want, shared, batch in (
            ("da", da, want_da, a, b),
            ("db", db, want_db, b, a),
        ):
            full = np.broadcast_shapes(shared.shape[:-2], batch.shape[:-2])
            if got_grad.shape == (*full, *shared.shape[-2:]) and got_grad.shape != shared.shape:
                raise CheckFailed(
                    f"{text}: {name} has shape {got_grad.shape}, one matrix per sample, but "
                    f"{name[1]} has shape {shared.shape}: the same {name[1]} was used by every "
                    f"product of the batch, so its gradient is the sum over the batch axis"
                )
            if got_grad.shape == want.shape and full and shared.ndim == 2:
                if np.allclose(got_grad * full[0], want):
                    raise CheckFailed(
                        f"{text}: {name} is the mean over the batch; a shared matrix collects "
                        "the gradient of every use, so sum over the batch axis, do not average"
                    )
            hint = f"{name} = " + ("dout @ bᵀ" if name == "da" else "aᵀ @ dout")
            expect_close(f"{text}: {name}", got_grad, want, hint=hint)


# ----------------------------------------------------------------------------- task 11.2


def _variance_reference(x: np.ndarray, dout: np.ndarray, axis: int) -> np.ndarray:
    n = x.shape[axis]
    dx: np.ndarray = np.expand_dims(dout, axis) * 2 * (x - x.mean(axis=axis, keepdims=True)) / n
    return dx


VARIANCE_CASES = (((4, 3), 0), ((4, 3), 1), ((3, 3), 1), ((2, 3, 4), -1), ((2, 5, 3), 1))
AXIS_HINT = (
    "dout has the reduced shape, without the axis you averaged over; put the axis back "
    "with np.expand_dims(dout, axis) before it broadcasts against x"
)


@checker("11.2", uses=("variance_backward",))
def check_variance_backward(variance_backward: Callable) -> None:
    """Task 11.2: the gradient of x.var(axis=axis) is dout (axis restored) · 2(x − mean) / n."""
    rng = case_rng(1102)
    for shape, axis in VARIANCE_CASES:
        x = rng.standard_normal(shape) * 2 + 1
        dout = rng.standard_normal(np.var(x, axis=axis).shape)
        text = f"x {shape}, axis={axis}"
        dx = _call_explaining(variance_backward, text, AXIS_HINT, x, dout, axis)
        dx = expect_array(f"{text}: dx", dx)
        if dx.shape != x.shape:
            raise CheckFailed(
                f"{text}: dx should have x's shape {x.shape} but has {dx.shape}; {AXIS_HINT}"
            )
        want = _variance_reference(x, dout, axis)
        n = x.shape[axis]
        centred = x - x.mean(axis=axis, keepdims=True)
        d = np.expand_dims(dout, axis)
        mistakes = [
            (want / 2, "you dropped the 2: the derivative of (x − mean)² is 2(x − mean)"),
            (want * n / (n - 1), "x.var() divides by n (ddof=0), not by n − 1"),
            (want * n / x.size, f"divide by the length of the averaged axis ({n}), not x.size"),
            (d * 2 * x / n, "subtract the mean: the variance is the mean of (x − mean)²"),
            (2 * centred / n, "multiply by dout: the chain rule passes the upstream gradient on"),
        ]
        try:  # dout broadcast as it is: silently misaligned when the shapes happen to fit
            misaligned = dout * 2 * centred / n
            mistakes.append((misaligned, f"dout was broadcast along the wrong axis: {AXIS_HINT}"))
        except ValueError:
            pass
        for wrong, message in mistakes:
            if wrong.shape == x.shape and np.allclose(dx, wrong) and not np.allclose(dx, want):
                raise CheckFailed(f"{text}: {message}")
        expect_close(f"{text}: dx", dx, want, hint="dx = dout (axis restored) · 2(x − mean) / n")


# ----------------------------------------------------------------------------- task 11.3

Graph = dict[str, list[str]]


def _reachable(inputs: Graph, output: str) -> set[str]:
    seen, stack = {output}, [output]
    while stack:
        for parent in inputs[stack.pop()]:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _chain(length: int) -> Graph:
    graph: Graph = {"n0": []}
    for i in range(1, length + 1):
        graph[f"n{i}"] = [f"n{i - 1}"]
    return graph


def _random_graph(rng: np.random.Generator, size: int) -> Graph:
    """A random DAG of ``size`` nodes: v3 may use any of v0..v2; v_last is the output."""
    graph: Graph = {}
    for i in range(size):
        k = int(rng.integers(0, min(i, 3) + 1))
        parents = rng.choice(i, size=k, replace=False) if k else np.empty(0, dtype=int)
        graph[f"v{i}"] = [f"v{int(p)}" for p in parents]
    graph[f"v{size - 1}"].append(f"v{size - 2}")
    return graph


def _graphs() -> list[tuple[str, Graph, str]]:
    rng = case_rng(1103)
    lesson = {
        "w": [], "x": [], "b": [], "a": ["w", "x"], "s": ["a", "b"],
        "y": ["s"], "l": ["y"], "L": ["l"],
    }  # fmt: skip
    shortcut = {"x": [], "h1": ["x"], "h2": ["h1"], "h3": ["h2"], "out": ["h3", "x"]}
    reused = {"a": [], "b": [], "sq": ["a", "a"], "out": ["sq", "a", "b"]}
    unused = {"p": [], "q": ["p"], "spare": ["p"], "lone": [], "out": ["q"]}
    return [
        ("the lesson's graph of L = −log σ(w·x + b)", lesson, "L"),
        ("a graph where out uses x directly and through h1 → h2 → h3", shortcut, "out"),
        ("a graph where sq = a·a uses a twice", reused, "out"),
        ("a graph with nodes the output does not depend on ('spare', 'lone')", unused, "out"),
        ("a random graph of 40 nodes", _random_graph(rng, 40), "v39"),
        ("a chain of 3,000 operations", _chain(3000), "n3000"),
    ]


def _check_order(order: Any, inputs: Graph, output: str, text: str) -> None:
    if not isinstance(order, list | tuple):
        raise CheckFailed(f"{text}: backward_order should return a list but returned {order!r:.60}")
    order = list(order)
    needed = _reachable(inputs, output)
    for node in order:
        if node not in inputs:
            raise CheckFailed(f"{text}: {node!r} is not a node of the graph")
    repeated = sorted({n for n in order if order.count(n) > 1}) if len(order) < 200 else []
    if len(set(order)) != len(order):
        name = repeated[0] if repeated else "a node"
        raise CheckFailed(
            f"{text}: {name!r} appears more than once; each node is visited once, after all "
            "of its users have sent their gradient (remember which nodes you have seen)"
        )
    extra = sorted(set(order) - needed)
    if extra:
        raise CheckFailed(
            f"{text}: {extra[0]!r} is in your order but the output does not depend on it; "
            "only the nodes you reach from the output by following inputs belong in it"
        )
    missing = sorted(needed - set(order))
    if missing:
        raise CheckFailed(
            f"{text}: {missing[0]!r} is missing; every node the output depends on must be "
            "visited (count only the users that are themselves reached from the output)"
        )
    if order[0] != output:
        if order[-1] == output:
            raise CheckFailed(
                f"{text}: your order starts with the inputs and ends with the output: that is "
                "the forward order; backward needs its reverse, the output first"
            )
        raise CheckFailed(f"{text}: the order should start with the output {output!r}")
    position = {node: i for i, node in enumerate(order)}
    for user in order:
        for parent in inputs[user]:
            if position[parent] < position[user]:
                raise CheckFailed(
                    f"{text}: {parent!r} comes before {user!r}, which uses it; a node may only "
                    "be visited when every node that uses it has been, since its gradient is "
                    "the sum of what they send (count each node's users first)"
                )


@checker("11.3", uses=("backward_order",))
def check_backward_order(backward_order: Callable) -> None:
    """Task 11.3: every needed node once, the output first, each node after all of its users."""
    for text, inputs, output in _graphs():
        copy = {node: list(parents) for node, parents in inputs.items()}
        try:
            order = backward_order(copy, output)
        except RecursionError:
            raise CheckFailed(
                f"{text}: RecursionError: Python stops recursion about 1,000 calls deep; keep "
                "the nodes still to visit in a list (a queue or a stack) instead of recursing"
            ) from None
        if copy != inputs:
            raise CheckFailed(
                "backward_order changed the graph it was given; work on your own data"
            )
        _check_order(order, inputs, output, text)


# ----------------------------------------------------------------------------- task 11.4


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    y: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return y


def _softmax_backward_reference(y: np.ndarray, dout: np.ndarray) -> np.ndarray:
    dx: np.ndarray = y * (dout - (dout * y).sum(axis=-1, keepdims=True))
    return dx


SOFTMAX_SHAPES = ((4, 5), (1, 6), (5, 5), (3, 2))


@checker("11.4", uses=("softmax_backward",))
def check_softmax_backward(softmax_backward: Callable) -> None:
    """Task 11.4: dx = y · (dout − Σ_k dout_k y_k), row by row."""
    rng = case_rng(1104)
    for shape in SOFTMAX_SHAPES:
        y = _softmax(rng.standard_normal(shape) * 2)
        dout = rng.standard_normal(shape)
        text = f"y {shape}"
        dx = _call_explaining(
            softmax_backward, text, "sum over each row: (dout * y).sum(axis=-1, keepdims=True)",
            y, dout,
        )  # fmt: skip
        dx = expect_array(f"{text}: dx", dx, shape)
        want = _softmax_backward_reference(y, dout)
        row_sum = (dout * y).sum(axis=-1, keepdims=True)
        mistakes = [
            (
                dout * y * (1 - y),
                "that is only the diagonal of the Jacobian, ∂y_k/∂x_k = y_k(1 − y_k); every "
                "y_j depends on every x_k (∂y_j/∂x_k = −y_j y_k for j ≠ k), so subtract the "
                "row sum Σ_j dout_j y_j",
            ),
            (dout - row_sum, "multiply by y: dx = y · (dout − Σ_j dout_j y_j)"),
            (y * (row_sum - dout), "the sign is flipped: dx = y · (dout − Σ_j dout_j y_j)"),
            (
                dout - y * dout.sum(axis=-1, keepdims=True),
                "that is the backward rule of log-softmax, not of softmax",
            ),
            (
                y * (dout - (dout * y).sum(axis=0, keepdims=True)),
                "the sum runs over the batch (axis 0); it should run over each row's classes: "
                "(dout * y).sum(axis=-1, keepdims=True)",
            ),
        ]
        for wrong, message in mistakes:
            if np.allclose(dx, wrong) and not np.allclose(dx, want):
                raise CheckFailed(f"{text}: {message}")
        expect_close(f"{text}: dx", dx, want, hint="dx = y · (dout − Σ_j dout_j y_j) per row")
