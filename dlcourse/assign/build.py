"""The exercise generator: ``solutions/NN_name.ipynb`` → ``exercises/NN_name.ipynb``.

For every solutions notebook the generator writes a student version in which

- code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` becomes
  ``raise NotImplementedError("Task 2.1: write your code here")`` at the fence's
  indent (the signature, docstring and hint comments above the fence stay);
- prose answers fenced the same way in markdown become ``_Your answer here._``;
- ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` blocks disappear;
- every output and execution count is cleared, task ids and points stay in the
  cell metadata, and the notebook metadata names the assignment (the grader uses it).

The output is a pure function of the input: rebuilding gives byte-identical files,
which is what ``build --check`` (and the test suite) compares.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from dlcourse.assign.notebooks import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    Assignment,
    dlcourse_meta,
    fences,
    find_assignments,
    where,
)

ANSWER_PLACEHOLDER = "_Your answer here._"
# Editor and execution bookkeeping that has no place in a handed-out notebook.
_VOLATILE_CELL_META = ("execution", "ExecuteTime", "collapsed", "scrolled")
_VOLATILE_NOTEBOOK_META = ("widgets", "toc", "varInspector")


def stub_line(task: str, indent: str) -> str:
    """The line that replaces a solution fence in code."""
    return f'{indent}raise NotImplementedError("Task {task}: write your code here")'


def _replace_fences(
    lines: list[str],
    place: str,
    begin: str,
    end: str,
    make: Callable[[str], str | None],
) -> list[str]:
    """``lines`` with every begin…end fence replaced by ``make(begin_line)`` (or dropped)."""
    out: list[str] = []
    last = 0
    for start, stop in fences(lines, begin, end, place):
        out.extend(lines[last:start])
        replacement = make(lines[start])
        if replacement is not None:
            out.append(replacement)
        last = stop + 1
    out.extend(lines[last:])
    return out


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def exercise_cell(cell: NotebookNode, place: str) -> NotebookNode:
    """The student version of one cell (a new object; ``cell`` is not changed)."""
    cell = copy.deepcopy(cell)
    # read_assignment has checked that a cell with a solution fence has a task id
    task = str(dlcourse_meta(cell).get("task"))
    lines = cell.source.splitlines()
    if cell.cell_type == "code":
        lines = _replace_fences(
            lines, place, BEGIN_SOLUTION, END_SOLUTION, lambda b: stub_line(task, _indent_of(b))
        )
        lines = _replace_fences(lines, place, BEGIN_HIDDEN, END_HIDDEN, lambda b: None)
        while lines and not lines[-1].strip():
            lines.pop()
        cell.outputs = []
        cell.execution_count = None
    elif cell.cell_type == "markdown":
        lines = _replace_fences(
            lines, place, BEGIN_SOLUTION, END_SOLUTION, lambda b: ANSWER_PLACEHOLDER
        )
    cell.source = "\n".join(lines)
    for key in _VOLATILE_CELL_META:
        cell.metadata.pop(key, None)
    return cell


def _stable_id(name: str, index: int) -> str:
    return hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:8]


def make_exercise(assignment: Assignment) -> NotebookNode:
    """The student version of a validated solutions notebook."""
    source = assignment.notebook
    exercise = copy.deepcopy(source)
    exercise.cells = [
        exercise_cell(cell, where(assignment.path.name, index, cell))
        for index, cell in enumerate(source.cells)
    ]
    exercise.nbformat, exercise.nbformat_minor = 4, max(5, source.get("nbformat_minor", 5))
    for index, cell in enumerate(exercise.cells):
        if not cell.get("id"):
            cell["id"] = _stable_id(assignment.name, index)
    for key in _VOLATILE_NOTEBOOK_META:
        exercise.metadata.pop(key, None)
    exercise.metadata["dlcourse"] = {"assignment": assignment.name, "generated": True}
    return exercise


def notebook_bytes(notebook: NotebookNode) -> bytes:
    """The notebook serialised the way nbformat writes it (sorted keys, indent 1, final newline)."""
    text: str = nbformat.writes(notebook, version=4)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


@dataclass(frozen=True)
class BuildResult:
    """What :func:`build` did for one assignment."""

    assignment: Assignment
    target: Path
    changed: bool  # the exercise on disk differs from (or lacks) the generated one


def build(
    solutions: Path | str, exercises: Path | str, check: bool = False
) -> tuple[list[BuildResult], list[Path]]:
    """Generate every exercise; with ``check`` only compare and write nothing.

    Returns the result per assignment and the orphans: exercises without a solution.

    Exercises whose solution no longer exists are reported as changed (stale) by
    ``check`` and removed otherwise, so ``exercises/`` mirrors ``solutions/`` exactly.
    """
    exercises = Path(exercises)
    results = []
    for assignment in find_assignments(solutions):
        target = exercises / assignment.path.name
        wanted = notebook_bytes(make_exercise(assignment))
        changed = not target.exists() or target.read_bytes() != wanted
        if changed and not check:
            exercises.mkdir(parents=True, exist_ok=True)
            target.write_bytes(wanted)
        results.append(BuildResult(assignment, target, changed))
    names = {result.target.name for result in results}
    orphans = sorted(p for p in exercises.glob("*.ipynb") if p.name not in names)
    for orphan in orphans:
        if not check:
            orphan.unlink()
    return results, orphans


def points_table(assignments: list[Assignment]) -> str:
    """A Markdown table: assignment, tasks (with points), auto-graded and manual points."""
    rows = [
        "| assignment | tasks (points) | checked automatically | graded by hand | total |",
        "|---|---|---:|---:|---:|",
    ]
    for a in assignments:
        tasks = ", ".join(
            f"{t.task} ({_fmt(t.points)}{', written' if t.manual else ''})" for t in a.tasks
        )
        manual = a.max_points - a.auto_points
        rows.append(
            f"| {a.name} | {tasks} | {_fmt(a.auto_points)} | {_fmt(manual)} | "
            f"{_fmt(a.max_points)} |"
        )
    return "\n".join(rows)


POINTS_BEGIN = "<!-- points table: generated by `python -m dlcourse.assign build --points` -->"
POINTS_END = "<!-- end of points table -->"


def update_points_section(text: str, table: str) -> str:
    """``text`` with the table between :data:`POINTS_BEGIN` and :data:`POINTS_END` replaced."""
    if POINTS_BEGIN not in text or POINTS_END not in text:
        raise ValueError(f"the document has no '{POINTS_BEGIN}' … '{POINTS_END}' section")
    head, rest = text.split(POINTS_BEGIN, 1)
    _, tail = rest.split(POINTS_END, 1)
    return f"{head}{POINTS_BEGIN}\n{table}\n{POINTS_END}{tail}"


def _fmt(points: float) -> str:
    return f"{points:g}"
