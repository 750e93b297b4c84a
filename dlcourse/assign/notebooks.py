"""Reading an assignment notebook: tasks, points, fences, hidden tests (docs/authoring.md).

The conventions (fixed in ``docs/authoring.md``) are nbgrader's and otter-grader's:

- a task cell carries ``{"dlcourse": {"task": "2.1", "points": 2}}`` in its metadata
  (``"manual": true`` for a prose answer in a markdown cell) and fences the model
  answer between the lines ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
- a self-check cell carries ``{"dlcourse": {"check": "2.1"}}`` and may end with
  instructor-only lines between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``.

:func:`read_assignment` validates all of it and raises :class:`AssignmentError`
naming the notebook and the cell (counted from 1, as JupyterLab shows them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
MARKERS = (BEGIN_SOLUTION, END_SOLUTION, BEGIN_HIDDEN, END_HIDDEN)

_TASK_ID = re.compile(r"^\d+\.\d+$")


class AssignmentError(ValueError):
    """A solutions notebook breaks the authoring conventions (the message says where)."""


@dataclass(frozen=True)
class Task:
    """One graded task of an assignment.

    ``cell`` is the 0-based index of the task cell in the solutions notebook;
    ``hidden`` is the code of the task's hidden tests ("" when there are none).
    """

    task: str
    points: float
    manual: bool
    cell: int
    hidden: str = ""


@dataclass(frozen=True)
class Assignment:
    """A solutions notebook with its tasks, in notebook order."""

    name: str  # the file stem, e.g. "06_cnn_forward"
    path: Path
    notebook: NotebookNode
    tasks: tuple[Task, ...]

    @property
    def max_points(self) -> float:
        return sum(task.points for task in self.tasks)

    @property
    def auto_points(self) -> float:
        return sum(task.points for task in self.tasks if not task.manual)

    def task(self, task_id: str) -> Task:
        return next(task for task in self.tasks if task.task == task_id)


def dlcourse_meta(cell: NotebookNode) -> dict:
    """The ``dlcourse`` entry of a cell's metadata (``{}`` when absent)."""
    meta = cell.get("metadata", {}).get("dlcourse", {})
    return meta if isinstance(meta, dict) else {}


def where(notebook: str, index: int, cell: NotebookNode) -> str:
    """'06_cnn_forward.ipynb, cell 4 (code: "def conv_output_size(...")' for error messages."""
    first = next((line.strip() for line in cell.source.splitlines() if line.strip()), "")
    if len(first) > 40:
        first = first[:37] + "..."
    return f"{notebook}, cell {index + 1} ({cell.cell_type}: {first!r})"


def fences(lines: list[str], begin: str, end: str, place: str) -> list[tuple[int, int]]:
    """(begin, end) line indices of every ``begin``…``end`` fence; unbalanced ones raise."""
    found, start = [], None
    for number, line in enumerate(lines):
        marker = line.strip()
        if marker == begin:
            if start is not None:
                raise AssignmentError(
                    f"{place}: '{begin}' on line {number + 1} comes before the "
                    f"'{end}' of the fence opened on line {start + 1}"
                )
            start = number
        elif marker == end:
            if start is None:
                raise AssignmentError(
                    f"{place}: '{end}' on line {number + 1} has no '{begin}' above it"
                )
            found.append((start, number))
            start = None
    if start is not None:
        raise AssignmentError(f"{place}: '{begin}' on line {start + 1} has no '{end}' below it")
    return found


def _task_from(meta: dict, index: int, cell: NotebookNode, place: str) -> Task:
    task_id, points = meta.get("task"), meta.get("points")
    if not isinstance(task_id, str) or not _TASK_ID.match(task_id):
        raise AssignmentError(
            f'{place}: task ids are strings like "2.1" (lesson 2, task 1); got {task_id!r}'
        )
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points <= 0:
        raise AssignmentError(
            f"{place}: task {task_id} needs a positive number of points in its metadata "
            f'({{"dlcourse": {{"task": "{task_id}", "points": 2}}}}); got {points!r}'
        )
    manual = bool(meta.get("manual", False))
    if manual != (cell.cell_type == "markdown"):
        kind = "a markdown cell" if manual else "a code cell"
        raise AssignmentError(
            f"{place}: task {task_id} is {'manual' if manual else 'graded by a checker'}, "
            f"so it belongs in {kind} (prose answers: markdown cell with "
            '"manual": true; code: code cell without it)'
        )
    return Task(task_id, points, manual, index)


def _check_cell(meta: dict, cell: NotebookNode, tasks: dict[str, Task], place: str) -> str:
    """Validate a self-check cell and return its hidden-test code."""
    task_id = meta["check"]
    if task_id not in tasks:
        raise AssignmentError(
            f"{place}: self-check for task {task_id!r}, but no task cell above it has that id"
        )
    if tasks[task_id].manual:
        raise AssignmentError(f"{place}: task {task_id} is manual; it has no self-check")
    lines = cell.source.splitlines()
    hidden = fences(lines, BEGIN_HIDDEN, END_HIDDEN, place)
    return "\n".join(
        "\n".join(lines[start + 1 : end]) for start, end in hidden if end > start + 1
    ).strip("\n")


def read_assignment(path: Path | str) -> Assignment:
    """Read and validate a solutions notebook; raise :class:`AssignmentError` if malformed."""
    path = Path(path)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as err:
        raise AssignmentError(f"{path.name}: not a readable notebook ({err})") from err
    return parse_assignment(notebook, path)


def parse_assignment(notebook: NotebookNode, path: Path) -> Assignment:
    """The tasks of an already-read solutions notebook (see :func:`read_assignment`)."""
    tasks: dict[str, Task] = {}
    for index, cell in enumerate(notebook.cells):
        place = where(path.name, index, cell)
        meta = dlcourse_meta(cell)
        lines = cell.source.splitlines()
        solution = fences(lines, BEGIN_SOLUTION, END_SOLUTION, place)
        if "check" in meta:
            hidden = _check_cell(meta, cell, tasks, place)
            task = tasks[meta["check"]]
            if task.hidden and hidden:
                raise AssignmentError(f"{place}: task {task.task} has a second self-check cell")
            tasks[task.task] = Task(task.task, task.points, task.manual, task.cell, hidden)
        elif fences(lines, BEGIN_HIDDEN, END_HIDDEN, place):
            raise AssignmentError(
                f"{place}: hidden tests belong in a self-check cell "
                '(metadata {"dlcourse": {"check": "N.M"}}), where the grader finds them'
            )
        if "task" not in meta:
            if solution:
                raise AssignmentError(
                    f"{place}: has a '{BEGIN_SOLUTION}' fence but no task metadata; add "
                    '{"dlcourse": {"task": "N.M", "points": P}} to the cell\'s metadata'
                )
            continue
        task = _task_from(meta, index, cell, place)
        if task.task in tasks:
            first = tasks[task.task].cell + 1
            raise AssignmentError(f"{place}: task {task.task} is already defined in cell {first}")
        if not solution:
            raise AssignmentError(
                f"{place}: task {task.task} has no '{BEGIN_SOLUTION}' / '{END_SOLUTION}' fence"
            )
        tasks[task.task] = task
    if not tasks:
        raise AssignmentError(f"{path.name}: no task cells (metadata dlcourse.task) found")
    return Assignment(path.stem, path, notebook, tuple(tasks.values()))


def find_assignments(solutions: Path | str) -> list[Assignment]:
    """Every ``*.ipynb`` directly in ``solutions``, read and validated, sorted by name."""
    solutions = Path(solutions)
    if not solutions.is_dir():
        raise AssignmentError(f"solutions folder {solutions} does not exist")
    return [read_assignment(path) for path in sorted(solutions.glob("*.ipynb"))]
