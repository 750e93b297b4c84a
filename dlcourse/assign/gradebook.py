"""What an instructor gets back from grading: a gradebook, feedback files, manual scores.

Everything here is made from the per-task score table (the rows of
:func:`dlcourse.assign.grade.csv_rows`, or the ``scores.csv`` a previous run wrote) and
a CSV of manual scores, so prose scores entered later are merged **without regrading**::

    python -m dlcourse.assign grade submissions/ --out grading/scores.csv
    # fill in grading/manual.csv (one row per prose answer), then
    python -m dlcourse.assign merge grading/scores.csv

Files written next to ``scores.csv`` (each written once, atomically, at the end):

- ``gradebook.csv``: one row per student and assignment: ``student`` (from the
  submission's folder, sanitised), ``assignment``, ``total``, ``max``, one column per
  task (its points; empty while a manual task is not scored), ``flags`` and the
  ``submission`` file counted;
- ``manual.csv``: every prose answer with an empty ``points`` cell to fill in (kept as
  it is when it exists; rows for new answers are added);
- ``feedback/<student>_<assignment>.html``: each task's points and message, the prose
  answers, escaped (nothing the learner wrote can run in the browser).

Cells that would start a spreadsheet formula (``= + - @``, tab, carriage return) get a
leading apostrophe in every CSV, and lose it again when a CSV is read back.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
COPY_SUFFIX = re.compile(r"-Copy\d+$")  # what JupyterLab's "Duplicate" appends
MANUAL_COLUMNS = ("student", "assignment", "task", "max_points", "points", "answer")


class ManualScoreError(ValueError):
    """A manual score the instructor entered cannot be used (the message says why)."""


# ------------------------------------------------------------------ CSV cells


def safe_cell(value: object) -> str:
    """``value`` as text that no spreadsheet reads as a formula (apostrophe in front)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def unsafe_cell(text: str) -> str:
    """Undo :func:`safe_cell` on a cell read back from one of our CSV files."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_START) else text


def write_csv_atomic(path: Path, columns: Iterable[str], rows: Iterable[Mapping]) -> None:
    """Write a CSV (every cell made safe) to a temporary file, then move it into place."""
    buffer = io.StringIO()
    columns = list(columns)
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: safe_cell(row.get(key, "")) for key in columns})
    write_text_atomic(path, buffer.getvalue())


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` in one step (a reader sees the old file or the new one)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_csv(path: Path) -> list[dict[str, str]]:
    """The rows of one of our CSV files, with :func:`safe_cell`'s apostrophes removed."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        return [{k: unsafe_cell(v or "") for k, v in row.items()} for row in csv.DictReader(f)]


# ------------------------------------------------------------------ who and what


def sanitise_id(text: str) -> str:
    """A student id safe for a file name and a spreadsheet: letters, digits, ``._-``."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")
    return text[:64] or "unknown"


def student_of(submission: str, assignment: str) -> str:
    """The student a submission belongs to: its first folder (``alice/06_cnn.ipynb``),
    else the file name without the assignment's name and JupyterLab's ``-Copy1``."""
    parts = submission.split("/")
    if len(parts) > 1:
        return sanitise_id(parts[0])
    stem = COPY_SUFFIX.sub("", Path(parts[0]).stem)
    if assignment:
        stem = stem.replace(assignment, "")
    return sanitise_id(stem.strip(" _-.") or Path(parts[0]).stem)


def is_copy(submission: str) -> bool:
    """Whether the file name is a JupyterLab duplicate (``name-Copy1.ipynb``)."""
    return bool(COPY_SUFFIX.search(Path(submission).stem))


FLAG_PATTERNS = (
    ("unreadable", ("not a readable notebook", "not read:")),
    ("unmatched", ("not one of the assignments",)),
    ("kernel died", ("kernel died",)),
    ("time limit", ("did not finish within", "used its")),
    ("given cells edited", ("given cell(s)",)),
    ("reaches for the grader", ("reaches for the grader",)),
    ("processes killed", ("left running were killed",)),
)


def flags_of(notebook: str) -> list[str]:
    """Short flags for the gradebook from the notebook status the grader wrote."""
    return [flag for flag, words in FLAG_PATTERNS if any(w in notebook for w in words)]


# ------------------------------------------------------------------ the gradebook


@dataclass
class Entry:
    """One student's submission of one assignment, with its tasks' points."""

    student: str
    assignment: str
    submission: str
    notebook: str
    tasks: dict[str, dict[str, str]] = field(default_factory=dict)  # task -> its row
    flags: list[str] = field(default_factory=list)


def manual_scores(path: Path | None) -> dict[tuple[str, str, str], float]:
    """(student, assignment, task) -> points from the instructor's manual CSV (empty:
    not scored yet). A score that is not a number or exceeds the task's points is refused."""
    if path is None or not Path(path).exists():
        return {}
    scores = {}
    for number, row in enumerate(read_csv(path), start=2):
        text = row.get("points", "").strip()
        if not text:
            continue
        key = (row.get("student", ""), row.get("assignment", ""), row.get("task", ""))
        try:
            points = float(text)
        except ValueError:
            raise ManualScoreError(
                f"{path}, line {number}: expected a number of points, got {text!r}"
            ) from None
        top = row.get("max_points", "")
        if points < 0 or (top and points > float(top)):
            raise ManualScoreError(
                f"{path}, line {number}: expected 0 to {top or 'the task points'} points "
                f"for task {key[2]}, got {text}"
            )
        scores[key] = points
    return scores


def entries(rows: Iterable[Mapping[str, str]]) -> list[Entry]:
    """Group per-task rows into one entry per submission (unreadable ones included)."""
    found: dict[str, Entry] = {}
    for row in rows:
        name = row["submission"]
        entry = found.get(name)
        if entry is None:
            assignment = row.get("assignment", "")
            entry = found[name] = Entry(
                student_of(name, assignment), assignment, name, row.get("notebook", "")
            )
            entry.flags = flags_of(entry.notebook)
        if row.get("task") and row.get("passed") != "not graded":
            entry.tasks[row["task"]] = dict(row)
    return list(found.values())


def _counted(group: list[Entry]) -> Entry:
    """Of one student's submissions of one assignment, the one to count: not a
    JupyterLab copy if there is one, then the shortest name."""
    return min(group, key=lambda e: (is_copy(e.submission), len(e.submission), e.submission))


def gradebook(
    rows: Iterable[Mapping[str, str]], manual: Mapping[tuple[str, str, str], float]
) -> tuple[list[str], list[dict[str, str]], list[str]]:
    """The gradebook's columns, its rows, and the problems to tell the instructor loudly."""
    groups: dict[tuple[str, str], list[Entry]] = {}
    for entry in entries(rows):
        key = (entry.student, entry.assignment or f"?{entry.submission}")
        groups.setdefault(key, []).append(entry)
    task_ids = sorted(
        {t for group in groups.values() for e in group for t in e.tasks},
        key=lambda t: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", t)],
    )
    columns = ["student", "assignment", "total", "max", *task_ids, "flags", "submission"]
    book, alarms = [], []
    for (student, _), group in sorted(groups.items()):
        counted = _counted(group)
        flags = list(counted.flags)
        others = [e.submission for e in group if e is not counted]
        if others:
            flags.append("duplicate")
            alarms.append(
                f"DUPLICATE: {student} handed in {len(group)} notebooks for "
                f"{counted.assignment or 'the same assignment'}; counted {counted.submission}, "
                f"not {', '.join(others)}"
            )
        if "unreadable" in flags or "unmatched" in flags:
            alarms.append(f"{flags[0].upper()}: {counted.submission}: {counted.notebook}")
        row = {
            "student": student,
            "assignment": counted.assignment or "?",
            "flags": "; ".join(flags),
            "submission": counted.submission,
        }
        total = top = 0.0
        pending = 0
        for task, task_row in counted.tasks.items():
            top += float(task_row.get("max_points") or 0)
            if task_row.get("passed") == "manual":
                score = manual.get((student, counted.assignment, task))
                if score is None:
                    pending += 1
                    row[task] = ""
                    continue
            else:
                score = float(task_row.get("points") or 0)
            total += score
            row[task] = f"{score:g}"
        if pending:
            row["flags"] = "; ".join([*flags, f"{pending} manual task(s) to score"])
        row["total"] = f"{total:g}" if counted.tasks else ""
        row["max"] = f"{top:g}" if counted.tasks else ""
        book.append(row)
    return columns, book, alarms


def manual_rows(
    rows: Iterable[Mapping[str, str]], existing: list[dict[str, str]]
) -> list[dict[str, str]]:
    """The manual-score sheet: the instructor's existing rows, then any new prose answers."""
    seen = {(r.get("student"), r.get("assignment"), r.get("task")) for r in existing}
    sheet = list(existing)
    for entry in entries(rows):
        for task, task_row in entry.tasks.items():
            key = (entry.student, entry.assignment, task)
            if task_row.get("passed") == "manual" and key not in seen:
                seen.add(key)
                sheet.append(
                    {
                        "student": entry.student,
                        "assignment": entry.assignment,
                        "task": task,
                        "max_points": task_row.get("max_points", ""),
                        "points": "",
                        "answer": task_row.get("message", ""),
                    }
                )
    return sheet


# ------------------------------------------------------------------ feedback


def feedback_html(entry: Entry, manual: Mapping[tuple[str, str, str], float]) -> str:
    """A student's feedback page: every task's points and message, escaped."""
    e = html.escape
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Feedback: {e(entry.assignment)} ({e(entry.student)})</title>",
        "<style>body{font-family:sans-serif;max-width:50em;margin:2em auto}"
        "td,th{border-bottom:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}"
        "</style></head><body>",
        f"<h1>{e(entry.assignment)}: feedback for {e(entry.student)}</h1>",
        f"<p>Notebook: {e(entry.submission)}. Status: {e(entry.notebook or 'ok')}.</p>",
        "<table><tr><th>Task</th><th>Points</th><th>Message</th></tr>",
    ]
    prose = []
    for task, row in entry.tasks.items():
        top = row.get("max_points", "")
        if row.get("passed") == "manual":
            score = manual.get((entry.student, entry.assignment, task))
            points = "not scored yet" if score is None else f"{score:g}"
            message = "prose answer, scored by your instructor (below)"
            prose.append((task, row.get("message", "")))
        else:
            points, message = row.get("points", ""), row.get("message", "")
        lines.append(
            f"<tr><td>{e(task)}</td><td>{e(points)} / {e(top)}</td><td>{e(message)}</td></tr>"
        )
    lines.append("</table>")
    for task, answer in prose:
        lines += [
            f"<h2>Your answer to task {e(task)}</h2>",
            f"<blockquote>{e(answer)}</blockquote>",
        ]
    lines.append("</body></html>")
    return "\n".join(lines) + "\n"


def write_feedback(folder: Path, rows: Sequence[Mapping[str, str]], manual: Mapping) -> list[Path]:
    """Write one feedback file per graded submission into ``folder`` (replaced whole)."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    written = []
    for entry in entries(rows):
        if not entry.tasks:
            continue
        name = f"{entry.student}_{sanitise_id(entry.assignment)}"
        if is_copy(entry.submission):
            name += "_" + sanitise_id(Path(entry.submission).stem)
        path = staging / f"{name}.html"
        path.write_text(feedback_html(entry, manual), encoding="utf-8")
        written.append(folder / path.name)
    old = folder.with_name(f".{folder.name}.old")
    if folder.exists():
        shutil.rmtree(old, ignore_errors=True)
        folder.rename(old)
    staging.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return written


# ------------------------------------------------------------------ one report


def write_report(scores: Path, rows: Sequence[Mapping[str, str]]) -> list[str]:
    """Gradebook, manual sheet and feedback next to ``scores`` (the per-task CSV, already
    written), merging the manual scores found there; return the loud problems."""
    folder = Path(scores).parent
    manual_path = folder / "manual.csv"
    manual = manual_scores(manual_path)
    existing = read_csv(manual_path) if manual_path.exists() else []
    columns, book, alarms = gradebook(rows, manual)
    write_feedback(folder / "feedback", list(rows), manual)
    write_csv_atomic(manual_path, MANUAL_COLUMNS, manual_rows(rows, existing))
    write_csv_atomic(folder / "gradebook.csv", columns, book)
    return alarms
