"""Self-checks for the assignments (COURSE §6).

Each task of an assignment has one checker, registered under the task's id
(``"2.1"`` is lesson 02, task 1) in the module ``dlcourse.checks.lessonNN``. A
checker receives the learner's objects, raises :class:`CheckFailed` with a reason
a beginner can act on, or returns quietly when everything is right.

In a notebook, a self-check cell calls :func:`check`::

    check("2.1", softmax)  # prints "✓ Task 2.1 passed" or "✗ Task 2.1: …"

The grader calls :func:`run_task` instead, which looks the objects up by name in
the kernel's namespace, so nothing a notebook prints can earn points.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dlcourse.checks.tools import CheckFailed, describe_raise

__all__ = ["CheckFailed", "CheckResult", "Checker", "check", "checker", "registry", "run_task"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one task's checker."""

    task: str
    passed: bool
    message: str

    def __str__(self) -> str:
        return (
            f"✓ Task {self.task} passed" if self.passed else f"✗ Task {self.task}: {self.message}"
        )

    def _ipython_display_(self) -> None:
        # A self-check cell ends with check(...), which has printed the result already, so
        # the notebook shows nothing more; a result that was not printed shows as its str.
        if not getattr(self, "_printed", False):
            print(self)


@dataclass(frozen=True)
class Checker:
    """A registered checker: ``func(*objects)`` with ``objects`` named by ``uses``."""

    task: str
    func: Callable[..., None]
    uses: tuple[str, ...]


_registry: dict[str, Checker] = {}


def checker(
    task: str, uses: tuple[str, ...]
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``func`` as the checker of ``task``; ``uses`` names the learner's objects."""

    def register(func: Callable[..., None]) -> Callable[..., None]:
        _registry[task] = Checker(task, func, tuple(uses))
        return func

    return register


def _lesson_module(task: str) -> str:
    lesson = task.split(".", 1)[0]
    if not lesson.isdigit():
        raise KeyError(f"task ids look like '2.1' (lesson 2, task 1); got {task!r}")
    return f"dlcourse.checks.lesson{int(lesson):02d}"


def registry(task: str) -> Checker:
    """The checker of ``task``, importing its lesson's module on first use."""
    if task not in _registry:
        try:
            importlib.import_module(_lesson_module(task))
        except ModuleNotFoundError:
            pass
    if task not in _registry:
        known = ", ".join(sorted(_registry)) or "none loaded"
        raise KeyError(f"no checker for task {task!r} (known tasks: {known})")
    return _registry[task]


def _run(entry: Checker, objects: tuple) -> CheckResult:
    try:
        entry.func(*objects)
    except CheckFailed as failure:
        return CheckResult(entry.task, False, str(failure))
    except NotImplementedError as err:
        return CheckResult(entry.task, False, f"not implemented yet ({err})")
    except Exception as err:  # the learner's code raised: report it, kindly and briefly
        return CheckResult(entry.task, False, describe_raise(err))  # names the learner's line
    return CheckResult(entry.task, True, "passed")


def check(task: str, *objects: object, verbose: bool = True) -> CheckResult:
    """Run the checker of ``task`` on the learner's ``objects``, print and return the result."""
    entry = registry(task)
    if len(objects) != len(entry.uses):
        raise TypeError(
            f"check({task!r}, …) expected {len(entry.uses)} object(s) "
            f"({', '.join(entry.uses)}) but got {len(objects)}"
        )
    result = _run(entry, objects)
    if verbose:
        print(result)
        object.__setattr__(result, "_printed", True)  # see CheckResult._ipython_display_
    return result


def run_task(task: str, namespace: Mapping[str, object]) -> CheckResult:
    """Run the checker of ``task`` on objects looked up by name in ``namespace`` (for grading)."""
    entry = registry(task)
    missing = [name for name in entry.uses if name not in namespace]
    if missing:
        return CheckResult(
            task, False, f"{', '.join(missing)} is not defined; did the cell that defines it run?"
        )
    return _run(entry, tuple(namespace[name] for name in entry.uses))
