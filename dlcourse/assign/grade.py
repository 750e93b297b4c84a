"""Grading a folder of submitted notebooks against the instructor's solutions.

For each ``*.ipynb`` under the submissions folder, :func:`grade_submission`

1. tells which assignment it is: the notebook metadata the generator writes
   (``dlcourse.assignment``), else the assignment name in the file name, else the
   task ids of its cells;
2. puts back the given (read-only) cells of the generated exercise where the
   submission edited them, and flags that (:func:`restore_given_cells`); self-check
   cells are not run (the judge runs the checks);
3. reads the submitted source for answers taken from the ``dlcourse`` package
   (:func:`dlcourse.checks.origin.package_answers`): such a task scores 0;
4. executes the notebook alone in a fresh temporary folder (with the support files
   that sit next to the solutions) with :func:`dlcourse.assign.runner.run_notebook`,
   its kernel sealed off in a bubblewrap sandbox (:mod:`dlcourse.assign.sandbox`);
   every process it started is gone before its result is made;
5. then judges every task in *this* process (:mod:`dlcourse.assign.judge`): the
   checkers and the hidden tests taken from the *solutions* notebook call the learner's
   objects through the kernel, one task at a time, each in its own process with its
   own time limit, on inputs drawn from a secret seed; what the notebook printed or
   patched earns nothing;
6. lists prose tasks as ``manual``, with the learner's answer for the instructor.

A submission that cannot be read, crashes, loops or floods its output is reported
as such in its rows, and grading goes on with the next one.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from dlcourse.assign.build import ANSWER_PLACEHOLDER, make_exercise
from dlcourse.assign.gradebook import write_csv_atomic
from dlcourse.assign.judge import Judge, TaskResult, TaskSpec, run_judge
from dlcourse.assign.notebooks import (
    BEGIN_SOLUTION,
    Assignment,
    Task,
    dlcourse_meta,
    find_assignments,
)
from dlcourse.assign.runner import Limits, Run, run_notebook
from dlcourse.assign.sandbox import Sandbox, reap, sealed
from dlcourse.checks import registry
from dlcourse.checks.origin import package_answers, touches_grader

MAX_NOTEBOOK_MB = 50  # a bigger submission file is not read

CSV_COLUMNS = (
    "submission",
    "task",
    "points",
    "max_points",
    "passed",
    "message",
    "notebook",
    "assignment",
)


@dataclass(frozen=True)
class Row:
    """One line of the score table."""

    submission: str
    task: str
    points: float | None  # None for a manual task (graded by hand)
    max_points: float
    passed: bool | None  # None for a manual task
    message: str


@dataclass
class SubmissionGrade:
    """All rows of one submission and what happened to the notebook."""

    submission: str
    assignment: str
    rows: list[Row] = field(default_factory=list)
    notebook: str = "ok"  # "ok", or the errors and problems of the run
    run: Run | None = field(default=None, repr=False)  # details, for tests and tools

    @property
    def points(self) -> float:
        return sum(row.points or 0 for row in self.rows)

    @property
    def auto_max(self) -> float:
        return sum(row.max_points for row in self.rows if row.passed is not None)


# ------------------------------------------------------------------ which assignment


def _task_ids(nb: NotebookNode) -> set[str]:
    return {str(dlcourse_meta(c)["task"]) for c in nb.cells if "task" in dlcourse_meta(c)}


def match_assignment(
    path: Path, nb: NotebookNode, assignments: list[Assignment]
) -> Assignment | None:
    """The assignment ``nb`` answers (metadata, then file name, then task ids) or None."""
    by_name = {a.name: a for a in assignments}
    named = nb.metadata.get("dlcourse", {}).get("assignment")
    if named in by_name:
        return by_name[named]
    text = "/".join(path.with_suffix("").parts)
    in_name = [a for a in assignments if a.name in text]
    if in_name:
        return max(in_name, key=lambda a: len(a.name))
    ids = _task_ids(nb)
    overlap = [(len(ids & {t.task for t in a.tasks}), a.name, a) for a in assignments]
    best = max(overlap, default=(0, "", None))
    return best[2] if best[0] else None


# ------------------------------------------------------------------ manual answers


def _question(assignment: Assignment, task: Task) -> str:
    """The text above the solution fence of a manual task: the question the learner read."""
    question: str = assignment.notebook.cells[task.cell].source.split(BEGIN_SOLUTION, 1)[0]
    return question


def manual_answer(nb: NotebookNode, assignment: Assignment, task: Task) -> str:
    """The learner's prose answer to ``task`` (the task cell's text minus the question)."""
    cells = [c for c in nb.cells if dlcourse_meta(c).get("task") == task.task]
    if not cells:
        return "the task cell is missing from the submission"
    text, question = cells[0].source, _question(assignment, task)
    if question.strip() and text.startswith(question):
        text = text[len(question) :]
    text = " ".join(text.split())
    if not text or text == ANSWER_PLACEHOLDER:
        return "no answer"
    return text if len(text) <= 1000 else text[:997] + "..."


# ------------------------------------------------------------------ grading


def given_cells(assignment: Assignment) -> dict[str, NotebookNode]:
    """The exercise's code cells that are not task cells, by cell id: the given code."""
    exercise = make_exercise(assignment)
    return {
        cell.id: cell
        for cell in exercise.cells
        if cell.cell_type == "code" and "task" not in dlcourse_meta(cell)
    }


def restore_given_cells(nb: NotebookNode, given: dict[str, NotebookNode]) -> list[str]:
    """Put the original source back into every given cell ``nb`` edited; say what was done.

    Cells are matched by id (which JupyterLab keeps). The learner's own cells, added
    anywhere, stay as they are. Self-check cells are emptied and not compared: the judge
    runs the checks, so running them in the kernel would only cost time. Deleted given cells
    are reported, not put back (where would they go?).
    """
    edited, seen = [], set()
    for index, cell in enumerate(nb.cells):
        original = given.get(cell.get("id", ""))
        if original is None:
            continue
        seen.add(original.id)
        is_check = "check" in dlcourse_meta(original)  # not run: its text does not matter
        if not is_check and (
            cell.cell_type != "code" or cell.source.strip() != original.source.strip()
        ):
            edited.append(str(index + 1))
        cell.cell_type, cell.metadata = "code", original.metadata
        cell.source = "" if "check" in dlcourse_meta(original) else original.source
        cell.setdefault("outputs", [])
        cell.setdefault("execution_count", None)
    notes = []
    if edited:
        notes.append(
            f"given cell(s) {', '.join(edited)} edited; graded with the original code instead"
        )
    missing = [
        cell_id
        for cell_id, cell in given.items()
        if cell_id not in seen and cell.source.strip() and "check" not in dlcourse_meta(cell)
    ]
    if missing:
        notes.append(f"{len(missing)} given cell(s) deleted: {', '.join(missing[:5])}")
    return notes


def load_checker_modules(support: list[Path]) -> None:
    """Import the ``*.py`` support files (an assignment's own checkers) into the judge."""
    for path in support:
        if path.suffix != ".py" or not path.stem.isidentifier():
            continue
        known = sys.modules.get(path.stem)
        if known is not None and getattr(known, "__file__", None) == str(path):
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            continue
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)


def task_specs(assignment: Assignment, nb: NotebookNode) -> list[TaskSpec]:
    """What the judge runs for each checked task, with any answer taken from the package."""
    # every cell, so that the messages count cells as JupyterLab does (markdown parses empty)
    cells = [cell.source if cell.cell_type == "code" else "" for cell in nb.cells]
    specs = []
    for task in assignment.tasks:
        if task.manual:
            continue
        try:
            entry = registry(task.task)
            uses = () if entry.package_ok else entry.uses
        except KeyError:
            uses = ()
        found = package_answers(cells, uses)
        message = ""
        if found:
            message = (
                "; ".join(found.values())
                + ". The task asks you to write it yourself, so it earns no points here"
                " (you may use the package where a task says so)"
            )
        specs.append(TaskSpec(task.task, task.hidden, message))
    return specs


def _notebook_status(run: Run) -> str:
    parts = list(run.problems)
    parts += [str(error) for error in run.errors[:3]]
    if len(run.errors) > 3:
        parts.append(f"{len(run.errors) - 3} more cells raised")
    return "; ".join(parts) or "ok"


def support_files(solutions: Path) -> list[Path]:
    """Files next to the solutions that every submission gets a copy of (not notebooks)."""
    return sorted(
        p
        for p in solutions.iterdir()
        if p.is_file() and p.suffix != ".ipynb" and not p.name.startswith((".", "_"))
    )


def grade_submission(
    path: Path,
    name: str,
    assignments: list[Assignment],
    limits: Limits,
    support: list[Path],
    sandbox: Sandbox | None = None,
) -> SubmissionGrade:
    """Grade one submitted notebook (see the module docstring), its kernel in ``sandbox``.

    Every process the submission started is gone before this returns.
    """
    try:
        if path.stat().st_size > MAX_NOTEBOOK_MB * 2**20:
            size = path.stat().st_size / 2**20
            return SubmissionGrade(name, "", [], f"not read: {size:.0f} MB (> {MAX_NOTEBOOK_MB})")
        nb = nbformat.read(path, as_version=4)
    except Exception as err:
        return SubmissionGrade(name, "", [], f"not a readable notebook: {type(err).__name__}")
    assignment = match_assignment(Path(name), nb, assignments)
    if assignment is None:
        known = ", ".join(a.name for a in assignments)
        return SubmissionGrade(name, "", [], f"not one of the assignments ({known})")
    load_checker_modules(support)
    notes = restore_given_cells(nb, given_cells(assignment))
    touched = touches_grader(c.source for c in nb.cells if c.cell_type == "code")
    if touched:
        notes.append(f"the code reaches for the grader ({', '.join(touched)}): look at it")
    specs = task_specs(assignment, nb)
    with tempfile.TemporaryDirectory(prefix="dlcourse-grade-", ignore_cleanup_errors=True) as tmp:
        work, home = Path(tmp) / "work", Path(tmp) / "home"
        work.mkdir()
        home.mkdir()
        for file in support:
            shutil.copy2(file, work / file.name)
        nbformat.write(nb, work / f"{assignment.name}.ipynb")

        marker = secrets.token_hex(8)

        def execute(judge: Judge) -> Run:
            return run_notebook(
                nb,
                work,
                home,
                limits,
                judge.kernel_code(),
                final_timeout=judge.time_needed(),
                sandbox=sandbox,
                marker=marker,
            )

        try:
            results, run, problems = run_judge(specs, limits.task_timeout, execute, tmp)
        finally:
            left = reap(marker)
    if left:
        problems.append(f"{len(left)} process(es) the notebook left running were killed")
    run.problems[:0] = notes
    run.problems += problems
    grade = SubmissionGrade(name, assignment.name, [], _notebook_status(run), run)
    for task in assignment.tasks:
        if task.manual:
            answer = manual_answer(nb, assignment, task)
            grade.rows.append(Row(name, task.task, None, task.points, None, answer))
            continue
        result = results.get(task.task)
        if result is None:
            reason = "; ".join(p for p in run.problems if p not in notes) or (
                "the kernel did not answer the grader"
            )
            result = TaskResult(task.task, False, f"not graded: {reason}")
        points = task.points if result.passed else 0
        grade.rows.append(Row(name, task.task, points, task.points, result.passed, result.message))
    return grade


def find_submissions(folder: Path) -> list[tuple[Path, str]]:
    """(path, name relative to ``folder``) of every notebook under it, sorted."""
    folder = Path(folder)
    if folder.is_file():
        return [(folder, folder.name)]
    paths = sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return [(p, p.relative_to(folder).as_posix()) for p in paths]


def grade_folder(
    submissions: Path | str,
    solutions: Path | str,
    limits: Limits = Limits(),  # noqa: B008 - a frozen dataclass
    progress: Callable[[str], None] | None = None,
    jobs: int = 1,
    sandbox: bool | None = None,
) -> list[SubmissionGrade]:
    """Grade every notebook under ``submissions`` against the notebooks in ``solutions``.

    ``jobs`` > 1 grades that many submissions at once, each from its own worker
    process (one kernel each: mind the memory limit times ``jobs``). The result is in
    the order of :func:`find_submissions` either way. ``sandbox``: None uses one where it
    works (else warns loudly), True requires one, False grades without (never as root);
    see :func:`dlcourse.assign.sandbox.sealed`.
    """
    assignments = find_assignments(solutions)
    support = support_files(Path(solutions))
    found = find_submissions(Path(submissions))
    with sealed(sandbox, progress or print) as box:
        if jobs <= 1 or len(found) <= 1:
            grades = []
            for path, name in found:
                if progress:
                    progress(f"grading {name} ...")
                grades.append(grade_submission(path, name, assignments, limits, support, box))
            return grades
        context = multiprocessing.get_context("spawn")  # no fork of a process with zmq threads
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = {
                pool.submit(grade_submission, path, name, assignments, limits, support, box): name
                for path, name in found
            }
            for future in as_completed(futures):
                if progress:
                    progress(f"graded {futures[future]}")
            by_name = {futures[future]: future.result() for future in futures}
        return [by_name[name] for _, name in found]


# ------------------------------------------------------------------ reporting


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def csv_rows(grades: list[SubmissionGrade]) -> list[dict[str, str]]:
    """The score table as dicts keyed by :data:`CSV_COLUMNS`."""
    rows = []
    for grade in grades:
        if not grade.rows:  # unreadable or unknown: one row saying so, never a blank one
            rows.append(
                dict.fromkeys(CSV_COLUMNS, "")
                | {
                    "submission": grade.submission,
                    "points": "0",
                    "passed": "not graded",
                    "message": f"not graded: {grade.notebook}",
                    "notebook": grade.notebook,
                    "assignment": grade.assignment,
                }
            )
            continue
        for row in grade.rows:
            passed = "manual" if row.passed is None else str(row.passed).lower()
            rows.append(
                {
                    "submission": row.submission,
                    "task": row.task,
                    "points": _fmt(row.points),
                    "max_points": _fmt(row.max_points),
                    "passed": passed,
                    "message": row.message,
                    "notebook": grade.notebook,
                    "assignment": grade.assignment,
                }
            )
    return rows


def write_csv(grades: list[SubmissionGrade], out: Path | str) -> None:
    """Write the score table (columns :data:`CSV_COLUMNS`, UTF-8) to ``out`` in one step;
    no cell can start a spreadsheet formula (see :mod:`dlcourse.assign.gradebook`)."""
    write_csv_atomic(Path(out), CSV_COLUMNS, csv_rows(grades))


def summary(grades: list[SubmissionGrade]) -> str:
    """A plain-text table: submission, assignment, points, manual tasks, notebook status."""
    header = ("submission", "assignment", "points", "manual", "notebook")
    lines = [header]
    for g in grades:
        manual = sum(1 for r in g.rows if r.passed is None)
        score = f"{g.points:g}/{g.auto_max:g}" if g.rows else "-"
        status = g.notebook if len(g.notebook) <= 60 else g.notebook[:57] + "..."
        lines.append((g.submission, g.assignment or "?", score, str(manual), status))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(text)


def print_summary(grades: list[SubmissionGrade]) -> None:
    print(summary(grades))
