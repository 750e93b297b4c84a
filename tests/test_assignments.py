"""Course-wide: every assignment's exercise is current, its solution earns full points
when graded, and its exercise, executed, fails its checks cleanly (only the stubs'
NotImplementedError, nothing unrelated).

Run in quick mode (``DLCOURSE_QUICK=1``, as the test command sets it): each
notebook executes in seconds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dlcourse.assign.__main__ import main
from dlcourse.assign.build import build, make_exercise, notebook_bytes
from dlcourse.assign.grade import SubmissionGrade, grade_submission, support_files
from dlcourse.assign.notebooks import Assignment, read_assignment
from dlcourse.assign.runner import Limits
from dlcourse.assign.sandbox import SandboxUnavailable, sealed
from dlcourse.assign.sandbox import required as sandbox_required

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
NAMES = sorted(p.name for p in SOLUTIONS.glob("*.ipynb"))
LIMITS = Limits(timeout=300, cell_timeout=120, memory_mb=4096, max_output_mb=1)
REBUILD = "exercises/ is stale: run `python -m dlcourse.assign build` and commit exercises/"


@pytest.fixture(scope="module")
def box():
    """The grading sandbox where there is one (so every notebook is shown to run sealed
    off); None where grading without one is allowed (not root); skipped where refused."""
    try:
        with sealed(None, lambda _: None) as prepared:
            yield prepared
    except SandboxUnavailable as err:
        if sandbox_required():
            raise
        pytest.skip(str(err))


def _grade(path: Path, assignment: Assignment, box) -> SubmissionGrade:
    return grade_submission(path, path.name, [assignment], LIMITS, support_files(SOLUTIONS), box)


def test_every_exercise_has_a_solution():
    _, orphans = build(SOLUTIONS, EXERCISES, check=True)
    assert not orphans, f"exercises without a solutions notebook: {orphans}; {REBUILD}"


@pytest.mark.parametrize("name", NAMES)
def test_exercise_is_up_to_date(name):
    wanted = notebook_bytes(make_exercise(read_assignment(SOLUTIONS / name)))
    target = EXERCISES / name
    assert target.exists(), f"exercises/{name} is missing; {REBUILD}"
    assert target.read_bytes() == wanted, f"exercises/{name} differs; {REBUILD}"


@pytest.mark.parametrize("name", NAMES)
def test_solution_earns_every_point_when_graded(name, box):
    assignment = read_assignment(SOLUTIONS / name)
    grade = _grade(SOLUTIONS / name, assignment, box)
    assert grade.notebook == "ok", f"the solution notebook did not run cleanly: {grade.notebook}"
    failed = [f"{r.task}: {r.message}" for r in grade.rows if r.passed is False]
    assert not failed, f"checks failed on the solution: {failed}"
    assert grade.points == assignment.auto_points


@pytest.mark.parametrize("name", NAMES)
def test_exercise_fails_its_checks_cleanly(name, tmp_path, box):
    assignment = read_assignment(SOLUTIONS / name)
    exercise = tmp_path / name
    exercise.write_bytes(notebook_bytes(make_exercise(assignment)))
    grade = _grade(exercise, assignment, box)
    assert grade.run is not None and not grade.run.problems, grade.notebook
    unrelated = [str(e) for e in grade.run.errors if e.ename != "NotImplementedError"]
    assert not unrelated, (
        f"exercises/{name} raises errors other than the stubs' NotImplementedError: {unrelated}"
        " (cells after a task may only fail because they call the learner's stub: keep the"
        " call and the code that uses its result in the same cell)"
    )
    for row in grade.rows:
        if row.passed is not None:
            assert row.passed is False and row.points == 0, f"{row.task} passes on the stub"
            assert row.message.startswith("not implemented yet"), f"{row.task}: {row.message}"


@pytest.mark.parametrize("name", NAMES)
def test_solution_notebook_is_well_formed(name):
    # BEGIN without END, a fence without task metadata, a duplicate id... raise here,
    # naming the notebook and the cell.
    assert read_assignment(SOLUTIONS / name).tasks


def test_instructor_guide_points_table_is_current():
    args = ["build", "--points", "--check", "--docs", str(ROOT / "docs" / "instructors.md")]
    args += ["--solutions", str(SOLUTIONS), "--exercises", str(EXERCISES)]
    assert main(args) == 0, (
        "docs/instructors.md lists other points than solutions/: run "
        "`python -m dlcourse.assign build --points --docs docs/instructors.md`"
    )
