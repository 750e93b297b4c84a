"""The student bundle: lessons, freshly generated exercises and the package, no solutions.

``python -m dlcourse.assign release OUT/`` writes::

    OUT/notebooks/     the lessons, as committed (executed, so they read well offline)
    OUT/exercises/     generated from solutions/ now (never a stale copy)
    OUT/dlcourse/      the package with its self-checks, without the instructor tools
                       (dlcourse/assign) and without caches
    OUT/README.md, pyproject.toml, LICENSE, environment.yml, tasks.py, CHANGELOG.md,
    OUT/tests/sanitize.cfg (so the README's test command can execute the lessons)

and then scans the whole bundle (:func:`find_leaks`): no file may contain a
solution or hidden-test marker, and no exercise or lesson may contain a line of a
model answer. A leak stops the release with the file and line named.
"""

from __future__ import annotations

import shutil
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
    "README.md",
    "pyproject.toml",
    "LICENSE",
    "environment.yml",
    "tasks.py",
    "CHANGELOG.md",
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
    """Solution markers in any file, and model-answer lines in the bundle's exercises.

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
    for assignment in find_assignments(solutions):
        exercise = bundle / "exercises" / assignment.path.name
        if not exercise.exists():
            continue
        answers = answer_lines(assignment)
        for index, cell in enumerate(nbformat.read(exercise, as_version=4).cells):
            for line in cell.source.splitlines():
                if line.strip() in answers:
                    leaks.append(
                        f"exercises/{exercise.name}, cell {index + 1} has a line of the model "
                        f"answer in cell {answers[line.strip()]}: {line.strip()!r}"
                    )
    return leaks


def release(
    out: Path | str,
    root: Path | str = ".",
    solutions: Path | str | None = None,
    force: bool = False,
) -> list[Path]:
    """Write the student bundle to ``out`` and return its files; raise on any leak."""
    root, out = Path(root).resolve(), Path(out).resolve()
    solutions = Path(solutions) if solutions is not None else root / "solutions"
    if out == root or out in root.parents or out in {root / "notebooks", root / "dlcourse"}:
        raise AssignmentError(f"refusing to write the bundle over the course itself ({out})")
    if out.exists() and any(out.iterdir()):
        if not force:
            raise AssignmentError(f"{out} exists and is not empty; choose another or use --force")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if (root / "notebooks").is_dir():
        shutil.copytree(root / "notebooks", out / "notebooks", ignore=_IGNORE)
    (out / "exercises").mkdir()
    for assignment in find_assignments(solutions):
        target = out / "exercises" / assignment.path.name
        target.write_bytes(notebook_bytes(make_exercise(assignment)))
    excluded = shutil.ignore_patterns(*EXCLUDED_PACKAGE_PARTS)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skip = set(_IGNORE(folder, names))
        if Path(folder).resolve() == (root / "dlcourse").resolve():
            skip |= set(excluded(folder, names))
        return skip

    shutil.copytree(root / "dlcourse", out / "dlcourse", ignore=ignore)
    for name in TOP_LEVEL_FILES:
        if (root / name).is_file():
            (out / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, out / name)
    leaks = find_leaks(out, solutions)
    if leaks:
        shutil.rmtree(out)
        raise AssignmentError("the bundle would leak solutions:\n  " + "\n  ".join(leaks))
    return sorted(p for p in out.rglob("*") if p.is_file())
