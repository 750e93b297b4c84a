"""Grading a folder of submitted notebooks against the instructor's solutions.

For each ``*.ipynb`` under the submissions folder, :func:`grade_submission`

1. tells which assignment it is: the notebook metadata the generator writes
   (``dlcourse.assignment``), else the assignment name in the file name, else the
   task ids of its cells;
2. copies it alone into a fresh temporary folder (with the support files that sit
   next to the solutions, if any) and executes it there with
   :func:`dlcourse.assign.runner.run_notebook`;
3. then, in that same kernel, calls every task's checker itself and runs the hidden
   tests taken from the *solutions* notebook (:mod:`dlcourse.assign.inkernel`);
   what the notebook printed earns nothing;
4. lists prose tasks as ``manual``, with the learner's answer for the instructor.

A submission that cannot be read, crashes, loops or floods its output is reported
as such in its rows, and grading goes on with the next one.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import secrets
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from dlcourse.assign.build import ANSWER_PLACEHOLDER
from dlcourse.assign.inkernel import MIME
from dlcourse.assign.notebooks import (
    BEGIN_SOLUTION,
    Assignment,
    Task,
    dlcourse_meta,
    find_assignments,
)
from dlcourse.assign.runner import Limits, Run, run_notebook

CSV_COLUMNS = ("submission", "task", "points", "max_points", "passed", "message", "notebook")


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
    return assignment.notebook.cells[task.cell].source.split(BEGIN_SOLUTION, 1)[0]


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


def _grader_code(assignment: Assignment, token: str) -> str:
    tasks = [{"task": t.task, "hidden": t.hidden} for t in assignment.tasks if not t.manual]
    return (
        "import dlcourse.assign.inkernel as _dlcourse_grader\n"
        f"_dlcourse_grader.report({token!r}, {json.dumps(tasks)!r}, globals())"
    )


def _results(run: Run, token: str) -> dict[str, dict]:
    for output in run.final_outputs:
        payload = output.get("data", {}).get(MIME)
        if isinstance(payload, dict) and payload.get("token") == token:
            return {r["task"]: r for r in payload["results"]}
    return {}


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
    path: Path, name: str, assignments: list[Assignment], limits: Limits, support: list[Path]
) -> SubmissionGrade:
    """Grade one submitted notebook (see the module docstring)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as err:
        return SubmissionGrade(name, "", [], f"not a readable notebook: {type(err).__name__}")
    assignment = match_assignment(Path(name), nb, assignments)
    if assignment is None:
        known = ", ".join(a.name for a in assignments)
        return SubmissionGrade(name, "", [], f"not one of the assignments ({known})")
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="dlcourse-grade-", ignore_cleanup_errors=True) as tmp:
        work, home = Path(tmp) / "work", Path(tmp) / "home"
        work.mkdir()
        home.mkdir()
        for file in support:
            shutil.copy2(file, work / file.name)
        shutil.copy2(path, work / f"{assignment.name}.ipynb")
        run = run_notebook(nb, work, home, limits, _grader_code(assignment, token))
    results = _results(run, token)
    grade = SubmissionGrade(name, assignment.name, [], _notebook_status(run), run)
    for task in assignment.tasks:
        if task.manual:
            answer = manual_answer(nb, assignment, task)
            grade.rows.append(Row(name, task.task, None, task.points, None, answer))
            continue
        result = results.get(task.task)
        if result is None:
            reason = "; ".join(run.problems) or "the checkers did not report"
            result = {"passed": False, "message": f"not graded: {reason}"}
        passed = bool(result["passed"])
        points = task.points if passed else 0
        grade.rows.append(Row(name, task.task, points, task.points, passed, result["message"]))
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
) -> list[SubmissionGrade]:
    """Grade every notebook under ``submissions`` against the notebooks in ``solutions``.

    ``jobs`` > 1 grades that many submissions at once, each from its own worker
    process (one kernel each: mind the memory limit times ``jobs``). The result is in
    the order of :func:`find_submissions` either way.
    """
    assignments = find_assignments(solutions)
    support = support_files(Path(solutions))
    found = find_submissions(Path(submissions))
    if jobs <= 1 or len(found) <= 1:
        grades = []
        for path, name in found:
            if progress:
                progress(f"grading {name} ...")
            grades.append(grade_submission(path, name, assignments, limits, support))
        return grades
    context = multiprocessing.get_context("spawn")  # no fork of a process with zmq threads
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = {
            pool.submit(grade_submission, path, name, assignments, limits, support): name
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
        if not grade.rows:  # unreadable or unknown: one row saying so
            rows.append(dict.fromkeys(CSV_COLUMNS, "") | {"submission": grade.submission})
            rows[-1]["notebook"] = grade.notebook
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
                }
            )
    return rows


def write_csv(grades: list[SubmissionGrade], out: Path | str) -> None:
    """Write the score table (columns :data:`CSV_COLUMNS`, UTF-8) to ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(csv_rows(grades))


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
