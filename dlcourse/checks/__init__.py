"""Self-checks for the assignments (docs/authoring.md, "An assignment").

Each task of an assignment has one checker, registered under the task's id
(``"2.1"`` is lesson 02, task 1) in the module ``dlcourse.checks.lessonNN``. A
checker receives the learner's objects, raises :class:`CheckFailed` with a reason
a beginner can act on, or returns quietly when everything is right.

In a notebook, a self-check cell calls :func:`check`::

    check("2.1", softmax)  # prints "✓ Task 2.1 passed" or "✗ Task 2.1: …"

The grader runs the same checkers in its own process, on proxies of the learner's
objects (:mod:`dlcourse.assign.judge`), so nothing a notebook prints or patches can
earn points.

A self-check always returns:

- it stops after ``seconds`` (default :data:`DEFAULT_SECONDS`, at least ten times what
  the model answer needs; a slow-by-design task registers its own) and says so. A timer
  thread calls ``_thread.interrupt_main()``, which works on Linux, macOS and Windows
  alike (no ``SIGALRM`` needed): a Python-level loop is stopped within the limit; one
  long numpy call cannot be interrupted from a thread, so the check stops when that
  call returns; code that swallows ``KeyboardInterrupt`` cannot be stopped in-kernel
  (the grader's per-task process can: it is killed);
- passing None, a list, a result instead of the function, the wrong number of objects,
  or a function whose parameters do not fit gives a one-line message;
- an object defined in the ``dlcourse`` package, or a thin wrapper of one, gets a
  friendly message and fails (:mod:`dlcourse.checks.origin`).
"""

from __future__ import annotations

import _thread
import importlib
import re
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dlcourse.checks.tools import CheckFailed

DEFAULT_SECONDS = 20.0  # a self-check's time limit; model answers need well under 2 s
_BINDING = re.compile(r"positional argument|keyword argument|takes \d+|missing \d+ required")

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
    seconds: float | None = None  # its own time limit; None: DEFAULT_SECONDS in self-checks
    package_ok: bool = False  # the task asks the learner to use dlcourse's parts

    @property
    def limit(self) -> float:
        """The self-check's time limit in seconds."""
        return DEFAULT_SECONDS if self.seconds is None else self.seconds


_registry: dict[str, Checker] = {}


def checker(
    task: str, uses: tuple[str, ...], seconds: float | None = None, package_ok: bool = False
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``func`` as the checker of ``task``; ``uses`` names the learner's objects.

    ``seconds``: the task's time limit, at least ten times what the checker needs on the
    model answer; give it only for a task that is slow by design (the default is
    :data:`DEFAULT_SECONDS` in a self-check and ``--task-timeout`` in grading).
    ``package_ok``: the task asks the learner to assemble ``dlcourse``'s parts (e.g. build
    and train a model), so an answer made of package calls is not "the package's answer".
    """

    def register(func: Callable[..., None]) -> Callable[..., None]:
        limit = None if seconds is None else float(seconds)
        _registry[task] = Checker(task, func, tuple(uses), limit, package_ok)
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


def raised_message(err: Exception, checker_module: str = "") -> str:
    """'your code raised ValueError: … (line 3 of softmax)' for an exception from learner code.

    In the judge the exception comes from the kernel (type name and the learner's line as
    strings); in a self-check it is the real one. Either way the line named is the innermost
    one of the learner's code (not numpy's, not the checker's), with its code.
    """
    kind = getattr(err, "remote_type", type(err).__name__)
    where = getattr(err, "remote_where", None)
    if (
        isinstance(err, TypeError)
        and _BINDING.search(str(err))
        and _at_the_call(err, where, checker_module)
    ):
        return (
            f"your function could not be called the way the task calls it ({err}); "
            "compare its parameters with the signature the task gives"
        )
    if where is None:  # the innermost frame of the learner's code, as the kernel side does
        from dlcourse.assign.kernelside import _is_learner_frame

        frames = traceback.extract_tb(err.__traceback__)
        mine = [f for f in frames if _is_learner_frame(f.filename)]
        frame = mine[-1] if mine else None
        code = f": `{frame.line.strip()}`" if frame is not None and frame.line else ""
        where = f"line {frame.lineno} of {frame.name}{code}" if frame is not None else ""
    return f"your code raised {kind}: {err}" + (f" ({where})" if where else "")


def _at_the_call(err: Exception, where: str | None, checker_module: str) -> bool:
    """True when ``err`` arose calling the learner's object, not inside the learner's code:
    its innermost frame is the checker's (or a checker helper's), which made the call."""
    if where is not None:  # from the kernel: "" when no frame of the learner's code ran
        return where == ""
    tb = err.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    module = tb.tb_frame.f_globals.get("__name__", "") if tb is not None else ""
    return module == checker_module or module.startswith("dlcourse.checks")


def _run(entry: Checker, objects: tuple) -> CheckResult:
    try:
        entry.func(*objects)
    except CheckFailed as failure:
        return CheckResult(entry.task, False, str(failure))
    except NotImplementedError as err:
        return CheckResult(entry.task, False, f"not implemented yet ({err})")
    except Exception as err:  # the learner's code raised: report it, kindly and briefly
        return CheckResult(entry.task, False, raised_message(err, entry.func.__module__))
    return CheckResult(entry.task, True, "passed")


def _object_problem(entry: Checker, objects: tuple) -> str:
    """One line on what is wrong with the objects handed to ``check`` ("" when nothing)."""
    from dlcourse.checks.origin import object_origin

    names = ", ".join(entry.uses)
    if len(objects) != len(entry.uses):
        return (
            f"check({entry.task!r}, …) takes {len(entry.uses)} object(s), {names}, "
            f"but got {len(objects)}: write check({entry.task!r}, {names})"
        )
    for name, obj in zip(entry.uses, objects, strict=True):
        if obj is None:
            return f"{name} is None; run the cell that defines {name}, then pass {name} itself"
        if not callable(obj):
            return (
                f"{name} should be the function or class you wrote, but a "
                f"{type(obj).__name__} was passed; pass {name} itself, without calling it"
            )
        origin = None if entry.package_ok else object_origin(obj)
        if origin:
            return (
                f"{name} is {origin} from the dlcourse package, not your own code; the task "
                "asks you to write it yourself (you may use the package where a task says so)"
            )
    return ""


def _run_limited(entry: Checker, objects: tuple) -> CheckResult:
    """:func:`_run`, stopped after ``entry.limit`` seconds (see the module docstring)."""
    if entry.limit <= 0 or threading.current_thread() is not threading.main_thread():
        return _run(entry, objects)
    fired = threading.Event()

    def stop() -> None:
        fired.set()
        _thread.interrupt_main()

    timer = threading.Timer(entry.limit, stop)
    timer.daemon = True
    try:
        try:
            timer.start()
            return _run(entry, objects)
        finally:
            timer.cancel()
    except KeyboardInterrupt:
        if not fired.is_set():
            raise  # the learner pressed stop
        return CheckResult(
            entry.task,
            False,
            f"your code did not finish within {entry.limit:g} s, so the check stopped it; "
            "does a loop never end? (the model answer needs a small fraction of that)",
        )


def check(task: str, *objects: object, verbose: bool = True) -> CheckResult:
    """Run the checker of ``task`` on the learner's ``objects``, print and return the result.

    Always returns (see the module docstring): a wrong object, a loop or a package
    object gives a failed result with a one-line message.
    """
    entry = registry(task)
    problem = _object_problem(entry, objects)
    result = CheckResult(task, False, problem) if problem else _run_limited(entry, objects)
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
