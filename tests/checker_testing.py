"""The harness every ``tests/test_checks_lessonNN.py`` shares.

Each lesson's checker tests run the reference solutions (they must pass), a stub that
raises ``NotImplementedError`` like an untouched exercise (it must fail as "not
implemented yet") and wrong answers (their messages must name the mistake).
"""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path
from typing import Any

from dlcourse.assign.judge import judge_locally
from dlcourse.assign.notebooks import dlcourse_meta, read_assignment
from dlcourse.checks import CheckResult, check

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"


def model_answers(stem: str) -> dict[str, Any]:
    """The namespace of ``solutions/<stem>.ipynb``'s model answers, so that the checker
    tests use the solution's own code instead of a copy: its task cells, and the imports,
    functions and classes of its other cells (nothing else runs, nothing trains)."""
    assignment = read_assignment(SOLUTIONS / f"{stem}.ipynb")
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for cell in assignment.notebook.cells:
        if cell.cell_type != "code" or "check" in dlcourse_meta(cell):
            continue
        code = cell.source if "task" in dlcourse_meta(cell) else _definitions(cell.source)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"<{stem}>", "exec"), namespace)
    return namespace


def _definitions(source: str) -> ast.Module:
    """The imports, functions and classes of a cell, without its other statements."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        body = []
    kinds = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    return ast.Module(body=[node for node in body if isinstance(node, kinds)], type_ignores=[])


def _words(message: str) -> str:
    return re.sub(r"\d+(\.\d+)?", "#", message)


def _both_ways(task: str, *objects: object) -> CheckResult:
    """The self-check's result, after asserting that the grader's judge decides the same.

    The judge runs the same checker on proxies of ``objects`` served over a socket, as in
    grading (dlcourse.assign.judge.local_session): one definition of each check.
    """
    result = check(task, *objects, verbose=False)
    judged = judge_locally(task, *objects)
    # Same verdict, same words; measured numbers (seconds, an accuracy after a time
    # budget) may differ between two runs.
    assert (judged.passed, _words(judged.message)) == (result.passed, _words(result.message)), (
        f"the judge disagrees with the self-check on task {task}:\n"
        f"  self-check: {result}\n  judge:      {judged}"
    )
    return result


def stub(*args, **kwargs):
    """An untouched exercise: any call raises NotImplementedError."""
    raise NotImplementedError("write your code here")


class Stub:
    """An untouched layer exercise: it constructs, but forward and backward raise."""

    def __init__(self, *args):
        pass

    def forward(self, *args):
        raise NotImplementedError("write your code here")

    def backward(self, *args):
        raise NotImplementedError("write your code here")


def failed(task: str, *objects: object) -> str:
    """The message of ``task``'s checker on ``objects``, asserting that the check failed."""
    result = _both_ways(task, *objects)
    assert not result.passed
    return result.message


def assert_passes(task: str, *objects: object) -> None:
    """Assert that ``task``'s checker accepts ``objects`` and says so in the usual words."""
    result = _both_ways(task, *objects)
    assert result.passed, result.message
    assert str(result) == f"✓ Task {task} passed"


def assert_not_implemented(task: str, *objects: object) -> None:
    """Assert that ``task``'s checker reports ``objects`` as not implemented yet."""
    assert failed(task, *objects).startswith("not implemented yet")
