"""The self-check framework: it always returns, and the package's answers do not count.

Where an answer comes from is decided two ways (dlcourse.checks.origin): from the
submitted source (the grader) and from the live object (the self-check). Both are
tested on the same cases, which define what a "thin wrapper" is.
"""

from __future__ import annotations

import functools
import time

import numpy as np
import pytest

import dlcourse.functions
from dlcourse.checks import _registry, check, checker
from dlcourse.checks.origin import object_origin, package_answers, touches_grader

# ----------------------------------------------------------------------------- the source

PACKAGE_ANSWERS = {
    "import": "from dlcourse.functions import softmax",
    "alias": "from dlcourse.functions import relu as softmax",
    "module alias across cells": ["import dlcourse.functions as F", "softmax = F.softmax"],
    "package attribute": ["import dlcourse", "softmax = dlcourse.functions.softmax"],
    "thin wrapper": [
        "import dlcourse.functions as F",
        'def softmax(x):\n    """Mine."""\n    return F.softmax(x)',
    ],
    "wrapper with conversions": [
        "from dlcourse import functions",
        "def softmax(x):\n    y = functions.softmax(np.asarray(x))\n    return y",
    ],
    "lambda": ["from dlcourse.functions import softmax as sm", "softmax = lambda a: sm(a)"],
    "partial": [
        "import functools, dlcourse",
        "softmax = functools.partial(dlcourse.functions.softmax)",
    ],
    "star import": "from dlcourse.functions import *",
    "empty subclass": [
        "from dlcourse.layers import Affine as Base",
        'class softmax(Base):\n    """Mine."""\n    pass',
    ],
    "given cell import wins over nothing": [
        "%matplotlib inline\nfrom dlcourse.functions import softmax"
    ],
}

OWN_ANSWERS = {
    "own code": (
        "def softmax(x):\n    e = np.exp(x - x.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(1, keepdims=True)"
    ),
    "redefined after the import": [
        "from dlcourse.functions import softmax",
        "def softmax(x):\n    return np.exp(x) / np.exp(x).sum()",
    ],
    "uses the package inside more work": [
        "import dlcourse.functions as F",
        "def softmax(x):\n    out = np.empty_like(x)\n    for i, row in enumerate(x):\n"
        "        out[i] = F.softmax(row)\n    return out",
    ],
    "package helper plus own arithmetic": [
        "from dlcourse.functions import relu",
        "def softmax(x):\n    return np.exp(relu(x)) / np.exp(relu(x)).sum()",
    ],
    "subclass with its own method": [
        "from dlcourse.layers import Affine",
        "class softmax(Affine):\n    def forward(self, x):\n        return x @ self.W",
    ],
    "the self-check helper": "from dlcourse.checks import check\nsoftmax = 1",
    "a syntax error": "def softmax(x)\n    return x",
}


def _cells(case: str | list[str]) -> list[str]:
    return [case] if isinstance(case, str) else case


@pytest.mark.parametrize("case", PACKAGE_ANSWERS.values(), ids=PACKAGE_ANSWERS.keys())
def test_source_analysis_finds_package_answers(case):
    found = package_answers(_cells(case), ["softmax", "other"])
    assert list(found) == ["softmax"]
    assert "from the dlcourse package" in found["softmax"]


@pytest.mark.parametrize("case", OWN_ANSWERS.values(), ids=OWN_ANSWERS.keys())
def test_source_analysis_accepts_own_code(case):
    assert package_answers(_cells(case), ["softmax"]) == {}


def test_source_analysis_names_the_cell_and_the_statement():
    found = package_answers(
        ["", "import dlcourse.functions as F\nsoftmax = F.softmax"], ["softmax"]
    )
    assert found["softmax"] == (
        "softmax is dlcourse.functions.softmax from the dlcourse package "
        "(softmax = F.softmax (cell 2, line 2))"
    )


def test_code_that_reaches_for_the_grader_is_listed():
    cells = [
        "import sys\nsys.modules['dlcourse.assign.kernelside'] = None",
        "from dlcourse.checks import check\nimport numpy as np",
        "import dlcourse.checks.tools as t\nt._case_seed = 1",
    ]
    found = touches_grader(cells)
    assert {"sys.modules", "dlcourse.assign", "_case_seed", "dlcourse.checks.tools"} <= set(found)
    assert touches_grader(["from dlcourse.checks import check\ncheck('2.1', f)"]) == []


# ----------------------------------------------------------------------------- live objects


def _define(source: str) -> dict:
    namespace = {"np": np, "F": dlcourse.functions, "dlcourse": dlcourse}
    exec(compile(source, "<cell>", "exec"), namespace)  # no source for inspect: see below
    return namespace


def test_objects_of_the_package_and_partials_are_recognised():
    assert object_origin(dlcourse.functions.softmax) == "dlcourse.functions.softmax"
    partial = functools.partial(dlcourse.functions.softmax)
    assert object_origin(partial) == "dlcourse.functions.softmax"
    from dlcourse.layers import Affine

    class Mine(Affine):
        """Adds nothing."""

    class Own(Affine):
        def forward(self, x):
            return x

    assert object_origin(Mine) == "dlcourse.layers.Affine"
    assert object_origin(Own) is None


def thin(x):
    return dlcourse.functions.softmax(x)


def own(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_functions_are_read_from_their_source_in_their_own_globals():
    assert object_origin(thin) == "dlcourse.functions.softmax"
    assert object_origin(own) is None
    assert object_origin(_define("def g(x):\n    return F.softmax(x)")["g"]) is None  # no source


# ----------------------------------------------------------------------------- check() returns


def loops_forever(x):
    while True:
        pass


@pytest.fixture()
def task_99_9():
    """A test-only task with a one-second limit."""

    @checker("99.9", uses=("f",), seconds=1)
    def check_f(f) -> None:
        f(np.zeros(3))

    yield "99.9"
    _registry.pop("99.9")


def test_a_loop_is_stopped_and_named(task_99_9):
    start = time.monotonic()
    result = check(task_99_9, loops_forever, verbose=False)
    assert time.monotonic() - start < 10
    assert str(result).startswith("✗ Task 99.9: your code did not finish within 1 s")


@pytest.mark.parametrize(
    ("objects", "message"),
    [
        ((None,), "f is None; run the cell that defines f, then pass f itself"),
        (([1, 2],), "f should be the function or class you wrote, but a list was passed"),
        ((np.zeros(3),), "but a ndarray was passed; pass f itself, without calling it"),
        ((own, own), "check('99.9', …) takes 1 object(s), f, but got 2: write check('99.9', f)"),
        ((), "takes 1 object(s), f, but got 0"),
        ((lambda: 0,), "your function could not be called the way the task calls it"),
        ((thin,), "f is dlcourse.functions.softmax from the dlcourse package"),
    ],
)
def test_wrong_objects_get_one_line(task_99_9, objects, message):
    result = check(task_99_9, *objects, verbose=False)
    assert not result.passed and message in result.message
    assert "\n" not in result.message


def test_a_type_error_inside_the_learners_code_is_not_blamed_on_the_signature(task_99_9):
    def broken(x):
        return len(5)

    message = check(task_99_9, broken, verbose=False).message
    assert message.startswith("your code raised TypeError: object of type 'int' has no len()")


def test_a_task_that_asks_for_the_package_accepts_answers_made_of_it():
    def softmax_answer(x):
        return dlcourse.functions.softmax(x)

    @checker("99.8", uses=("f",), package_ok=True)
    def check_package_ok(f) -> None:
        f(np.zeros((2, 3)))

    @checker("99.7", uses=("f",))
    def check_own_code(f) -> None:
        f(np.zeros((2, 3)))

    try:
        assert check("99.8", softmax_answer, verbose=False).passed
        assert "from the dlcourse package" in check("99.7", softmax_answer, verbose=False).message
    finally:
        _registry.pop("99.8")
        _registry.pop("99.7")
