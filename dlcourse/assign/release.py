"""The student bundle: lessons, freshly generated exercises and the package, no solutions.

``python -m dlcourse.assign release OUT/ [--through NN]`` writes::

    OUT/notebooks/     the lessons up to lesson NN (all without --through), as committed
    OUT/exercises/     the exercises up to NN, generated from solutions/ now
    OUT/dlcourse/      the package with the self-checks of the released lessons only,
                       without the instructor tools (dlcourse/assign) and without caches
    OUT/README.md      written for this bundle: its lessons, its exercises, its commands
    OUT/pyproject.toml, LICENSE, environment.yml, tests/sanitize.cfg (the README's
                       test command needs it)

and then scans the whole bundle against every model answer of every assignment,
released or not (:func:`find_leaks`, :func:`find_overlaps`): a solution marker
anywhere, or a line of a model answer in a released exercise, stops the release with
the file and line named; a model answer's line in a released lesson or in the package
is reported per week (:func:`overlap_report`), so the instructor sees what a week's
bundle reveals.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import nbformat

from dlcourse.assign.build import make_exercise, notebook_bytes
from dlcourse.assign.notebooks import (
    BEGIN_HIDDEN,
    BEGIN_SOLUTION,
    END_HIDDEN,
    END_SOLUTION,
    MARKERS,
    Assignment,
    AssignmentError,
    fences,
    find_assignments,
)

TOP_LEVEL_FILES = (
    "pyproject.toml",
    "LICENSE",
    "environment.yml",
    # The README's test command executes the lessons with nbval, which needs this file.
    "tests/sanitize.cfg",
)
# Instructor-only parts of the package, and files that are never handed out.
EXCLUDED_PACKAGE_PARTS = ("assign",)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints", "*.egg-info")
# Lines this short ("return out", "else:") also occur in honest code: not evidence of a leak.
MIN_LEAK_LINE = 16


def answer_lines(assignment: Assignment) -> dict[str, int]:
    """Lines only found inside the model answers and hidden tests of ``assignment`` → cell.

    Lines that also occur outside the fences (given code, like a loop header the
    learner is shown) are not evidence of a leak, and neither are blank lines,
    comments, or lines shorter than :data:`MIN_LEAK_LINE` characters.
    """
    fenced: dict[str, int] = {}
    given: set[str] = set()
    for index, cell in enumerate(assignment.notebook.cells):
        source = cell.source.splitlines()
        place = f"{assignment.path.name}, cell {index + 1}"
        inside: set[int] = set()
        for begin, end in (BEGIN_SOLUTION, END_SOLUTION), (BEGIN_HIDDEN, END_HIDDEN):
            for start, stop in fences(source, begin, end, place):
                inside.update(range(start, stop + 1))
        for number, line in enumerate(source):
            text = line.strip()
            if number not in inside:
                given.add(text)
            elif len(text) >= MIN_LEAK_LINE and not text.startswith("#"):
                fenced.setdefault(text, index + 1)
    return {line: cell for line, cell in fenced.items() if line not in given}


def find_leaks(bundle: Path, solutions: Path) -> list[str]:
    """Solution markers in any file, and model-answer lines (of any assignment, released or
    not) in the bundle's exercises.

    Lessons may show the techniques an assignment asks for (that is how they teach):
    they are scanned for markers only.
    """
    leaks = []
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary data (the shipped digits)
        for marker in MARKERS:
            if marker in text:
                leaks.append(f"{path.relative_to(bundle).as_posix()} contains '{marker}'")
    answers: dict[str, tuple[str, int]] = {}  # every assignment's answers, released or not
    for assignment in find_assignments(solutions):
        for line, cell in answer_lines(assignment).items():
            answers.setdefault(line, (assignment.path.name, cell))
    for exercise in sorted((bundle / "exercises").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(exercise, as_version=4).cells):
            for line in cell.source.splitlines():
                if line.strip() in answers:
                    name, answer_cell = answers[line.strip()]
                    source = "" if name == exercise.name else f" of {name}"
                    leaks.append(
                        f"exercises/{exercise.name}, cell {index + 1} has a line of the model "
                        f"answer in cell {answer_cell}{source}: {line.strip()!r}"
                    )
    return leaks


def lesson_number(path: Path) -> int | None:
    """The lesson a notebook belongs to, from its name: ``02_softmax.ipynb`` → 2."""
    match = re.match(r"(\d+)_", path.name)
    return int(match.group(1)) if match else None


def _released(path: Path, through: int | None) -> bool:
    number = lesson_number(path)
    return through is None or (number is not None and number <= through)


def _later_checks(name: str, through: int | None) -> bool:
    """True for a checker module of a lesson after ``through`` (its references are answers)."""
    match = re.fullmatch(r"lesson(\d+)\.py", name)
    return through is not None and match is not None and int(match.group(1)) > through


def release(
    out: Path | str,
    root: Path | str = ".",
    solutions: Path | str | None = None,
    force: bool = False,
    through: int | None = None,
) -> list[Path]:
    """Write the student bundle to ``out`` and return its files; raise on any leak.

    through: the last lesson to include (lessons and exercises 00…through); None: all.
    """
    root, out = Path(root).resolve(), Path(out).resolve()
    solutions = Path(solutions) if solutions is not None else root / "solutions"
    if out == root or out in root.parents or out in {root / "notebooks", root / "dlcourse"}:
        raise AssignmentError(f"refusing to write the bundle over the course itself ({out})")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise AssignmentError(f"{out} exists and is not empty; choose another or use --force")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "notebooks").mkdir()
    lessons = sorted(p for p in (root / "notebooks").glob("*.ipynb") if _released(p, through))
    for lesson in lessons:
        shutil.copy2(lesson, out / "notebooks" / lesson.name)
    (out / "exercises").mkdir()
    exercises = [a for a in find_assignments(solutions) if _released(a.path, through)]
    for assignment in exercises:
        target = out / "exercises" / assignment.path.name
        target.write_bytes(notebook_bytes(make_exercise(assignment)))
    excluded = shutil.ignore_patterns(*EXCLUDED_PACKAGE_PARTS)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = set(_IGNORE(folder, names))
        if Path(folder).resolve() == (root / "dlcourse").resolve():
            skip |= set(excluded(folder, names))
        if Path(folder).resolve() == (root / "dlcourse" / "checks").resolve():
            skip |= {name for name in names if _later_checks(name, through)}
        return skip

    shutil.copytree(root / "dlcourse", out / "dlcourse", ignore=ignore)
    for name in TOP_LEVEL_FILES:
        if (root / name).is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, out / name)
    (out / "README.md").write_text(
        bundle_readme([p.name for p in lessons], [a.path.name for a in exercises], through),
        encoding="utf-8",
    )
    leaks = find_leaks(out, solutions)
    if leaks:
        shutil.rmtree(out)
        raise AssignmentError("the bundle would leak solutions:\n  " + "\n  ".join(leaks))
    return sorted(p for p in out.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------- README


def bundle_readme(lessons: list[str], exercises: list[str], through: int | None) -> str:
    """The bundle's README: only its own files, and only commands that work in it."""
    numbers = [n for n in (lesson_number(Path(name)) for name in lessons) if n is not None]
    span = f"lessons {min(numbers):02d}–{max(numbers):02d}" if numbers else "no lessons yet"
    by_number = {lesson_number(Path(name)): name for name in exercises}
    rows = [
        f"| `notebooks/{name}` | "
        + (f"`exercises/{by_number[n]}`" if (n := lesson_number(Path(name))) in by_number else "–")
        + " |"
        for name in lessons
    ]
    later = (
        ""
        if through is None
        else (
            f"\nThis is the part of the course handed out so far ({span}); "
            "later lessons follow in later bundles.\n"
        )
    )
    return "\n".join(
        [
            f"# dlcourse: deep learning from scratch in numpy ({span})",
            later,
            "Each lesson is a Jupyter notebook; each assignment is an exercise notebook whose "
            "self-check cells tell you, after every task, whether your code is right "
            "(`✓ Task 2.1 passed`) or what to fix.",
            "",
            "| lesson | assignment |",
            "|---|---|",
            *rows,
            "",
            "## Set up",
            "",
            "With Python 3.10 or newer, in this folder:",
            "",
            "```",
            "python -m pip install -e .",
            "python -m jupyter lab",
            "```",
            "",
            "(or, with conda: `conda env create -f environment.yml`, then "
            "`conda activate dlcourse` and `python -m jupyter lab`). Start with "
            f"`notebooks/{lessons[0]}`."
            if lessons
            else "",
            "",
            "## Check that the lessons run",
            "",
            "```",
            'python -m pip install -e ".[test]"',
            "python -m pytest notebooks",
            "```",
            "",
            "The package `dlcourse/` holds the code the lessons build and the self-checks. "
            "The licence is in `LICENSE`.",
            "",
        ]
    )


# ----------------------------------------------------------------------------- overlaps


@dataclass(frozen=True)
class Overlap:
    """A line of a model answer that a released lesson or the package also contains."""

    week: str  # the assignment whose answer it is, e.g. "01_gradient_descent.ipynb"
    task: str  # "Task 1.2" (or "cell 7" outside a task)
    line: str
    where: str  # "notebooks/02_softmax.ipynb, cell 14" or "dlcourse/gradients.py, line 40"


def _task_of_cells(assignment: Assignment) -> dict[int, str]:
    """Cell number (1-based) → "Task N.M" for the cells of each task."""
    return {task.cell + 1: f"Task {task.task}" for task in assignment.tasks}


def _bundle_lines(bundle: Path) -> dict[str, list[str]]:
    """Every stripped line of the bundle's lessons and package → where it occurs."""
    found: dict[str, list[str]] = {}
    for lesson in sorted((bundle / "notebooks").glob("*.ipynb")):
        for index, cell in enumerate(nbformat.read(lesson, as_version=4).cells):
            for line in cell.source.splitlines():
                place = f"notebooks/{lesson.name}, cell {index + 1}"
                found.setdefault(line.strip(), []).append(place)
    for module in sorted((bundle / "dlcourse").rglob("*.py")):
        lines = module.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            place = f"{module.relative_to(bundle).as_posix()}, line {number}"
            found.setdefault(line.strip(), []).append(place)
    return found


def find_overlaps(bundle: Path, solutions: Path) -> list[Overlap]:
    """Model-answer lines of every assignment (released or not) in the bundle's lessons and
    package; lines shorter than :data:`MIN_LEAK_LINE` and given code are not counted."""
    found = _bundle_lines(bundle)
    overlaps = []
    for assignment in find_assignments(solutions):
        tasks = _task_of_cells(assignment)
        for line, cell in answer_lines(assignment).items():
            for where in dict.fromkeys(found.get(line, [])):  # each place once
                task = tasks.get(cell, f"cell {cell}")
                overlaps.append(Overlap(assignment.path.name, task, line, where))
    return overlaps


def overlap_report(overlaps: list[Overlap]) -> str:
    """The overlaps grouped by week (assignment), one line per answer line and place."""
    if not overlaps:
        return "no model-answer line appears in the bundle's lessons or package"
    lines = ["model-answer lines that the bundle's lessons or package also contain:"]
    for week in sorted({o.week for o in overlaps}):
        mine = [o for o in overlaps if o.week == week]
        lines.append(f"  {week} ({len(mine)}):")
        lines += [f"    {o.task}: {o.line!r} in {o.where}" for o in mine]
    return "\n".join(lines)
