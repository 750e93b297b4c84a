"""The student bundle holds lessons, exercises and the package, and no solution."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from dlcourse.assign.notebooks import MARKERS, AssignmentError, find_assignments
from dlcourse.assign.release import (
    answer_lines,
    find_leaks,
    find_overlaps,
    overlap_report,
    release,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "assignment" / "solutions"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "bundle"
    release(out, root=ROOT)
    return out


def test_bundle_has_lessons_exercises_package_and_project_files(bundle):
    for name in (
        "README.md",
        "pyproject.toml",
        "LICENSE",
        "tests/sanitize.cfg",  # the README's test command needs it for nbval
        "dlcourse/checks/__init__.py",
    ):
        assert (bundle / name).is_file(), name
    lessons = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert sorted(p.name for p in (bundle / "notebooks").glob("*.ipynb")) == lessons
    solutions = sorted(p.name for p in (ROOT / "solutions").glob("*.ipynb"))
    assert sorted(p.name for p in (bundle / "exercises").glob("*.ipynb")) == solutions


def test_bundle_has_no_solutions_folder_no_instructor_tools_and_no_caches(bundle):
    assert not (bundle / "solutions").exists()
    assert not (bundle / "dlcourse" / "assign").exists()
    assert not list(bundle.rglob("__pycache__"))


def test_no_file_in_the_bundle_contains_a_solution_marker(bundle):
    for path in bundle.rglob("*"):
        if path.is_file() and path.suffix in {".py", ".ipynb", ".md", ".toml", ".yml"}:
            text = path.read_text(encoding="utf-8")
            assert not [m for m in MARKERS if m in text], path


def test_no_exercise_in_the_bundle_contains_a_line_of_a_model_answer(bundle):
    for assignment in find_assignments(ROOT / "solutions"):
        answers = answer_lines(assignment)
        exercise = nbformat.read(bundle / "exercises" / assignment.path.name, as_version=4)
        lines = {line.strip() for cell in exercise.cells for line in cell.source.splitlines()}
        assert not lines & set(answers), assignment.name


def test_answer_lines_skip_given_code_and_short_lines():
    answers = answer_lines(find_assignments(FIXTURE)[0])
    assert "return x.sum(axis=1)" in answers  # model answer of 99.2 (cell 7)
    assert answers["return x.sum(axis=1)"] == 7
    assert "assert square(np.array([1e3]))[0] == 1e6" in answers  # hidden test
    assert "return x * x" not in answers  # too short to be evidence


def _course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    (root / "notebooks").mkdir(parents=True)
    shutil.copytree(FIXTURE, root / "solutions")
    shutil.copytree(ROOT / "dlcourse", root / "dlcourse", ignore=shutil.ignore_patterns("*.pyc"))
    (root / "README.md").write_text("# course\n", encoding="utf-8")
    return root


def test_release_refuses_a_bundle_that_would_leak_a_solution(tmp_path):
    root = _course(tmp_path)
    leaky = nbformat.read(root / "solutions" / "99_fixture.ipynb", as_version=4)
    nbformat.write(leaky, root / "notebooks" / "99_lesson.ipynb")  # a lesson with the markers
    with pytest.raises(AssignmentError, match=r"notebooks/99_lesson\.ipynb contains '### BEGIN"):
        release(tmp_path / "out", root=root)
    assert not (tmp_path / "out").exists()


def test_leak_scan_finds_a_model_answer_pasted_into_an_exercise(tmp_path):
    root = _course(tmp_path)
    out = tmp_path / "out"
    release(out, root=root)
    exercise = out / "exercises" / "99_fixture.ipynb"
    nb = nbformat.read(exercise, as_version=4)
    nb.cells[-1].source += "\n\n    return x.sum(axis=1)"
    nbformat.write(nb, exercise)
    leaks = find_leaks(out, root / "solutions")
    assert leaks == [
        "exercises/99_fixture.ipynb, cell 10 has a line of the model answer in cell 7: "
        "'return x.sum(axis=1)'"
    ]


def test_release_will_not_overwrite_a_folder_or_the_course(tmp_path):
    root = _course(tmp_path)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(AssignmentError, match="not empty"):
        release(tmp_path / "busy", root=root)
    with pytest.raises(AssignmentError, match="over the course itself"):
        release(root, root=root, force=True)
    assert (tmp_path / "busy" / "keep.txt").exists() and (root / "README.md").exists()


# ----------------------------------------------------------------------------- one week at a time


@pytest.fixture(scope="module")
def week2(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("release") / "week2"
    release(out, root=ROOT, through=2)
    return out


def test_release_through_a_lesson_holds_only_the_lessons_and_exercises_up_to_it(week2):
    assert sorted(p.name for p in (week2 / "notebooks").iterdir()) == [
        "00_start_here.ipynb",
        "01_gradient_descent.ipynb",
        "02_softmax.ipynb",
    ]
    assert sorted(p.name for p in (week2 / "exercises").iterdir()) == [
        "01_gradient_descent.ipynb",
        "02_softmax.ipynb",
    ]


def test_release_through_a_lesson_leaves_out_the_later_checkers(week2):
    # A checker's float64 references are the answers of its lesson's tasks.
    checks = sorted(p.name for p in (week2 / "dlcourse" / "checks").glob("lesson*.py"))
    assert checks == ["lesson01.py", "lesson02.py"]


def test_bundle_readme_names_only_files_in_the_bundle(week2):
    readme = (week2 / "README.md").read_text(encoding="utf-8")
    paths = re.findall(r"`([\w./-]+\.(?:ipynb|yml|toml|py|cfg))`", readme)
    assert "notebooks/02_softmax.ipynb" in paths and "exercises/01_gradient_descent.ipynb" in paths
    assert [p for p in paths if not (week2 / p).is_file()] == []
    assert "03_xor" not in readme and "tasks.py" not in readme and "solutions/" not in readme
    for name in ("LICENSE", "environment.yml", "pyproject.toml", "tests/sanitize.cfg"):
        assert (week2 / name).is_file(), name  # the README's commands use these


def test_overlaps_with_released_lessons_and_the_package_are_reported_per_week(tmp_path):
    root = _course(tmp_path)
    lesson = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("def total(x):\n    return x.sum(axis=1)\n")]
    )
    nbformat.write(lesson, root / "notebooks" / "98_lesson.ipynb")
    (root / "dlcourse" / "extra.py").write_text("def f(x):\n    return x.sum(axis=1)\n")
    out = tmp_path / "out"
    release(out, root=root)  # overlaps are reported, not refused: lessons teach techniques
    overlaps = find_overlaps(out, root / "solutions")
    places = {o.where for o in overlaps if o.line == "return x.sum(axis=1)"}
    assert places == {"notebooks/98_lesson.ipynb, cell 1", "dlcourse/extra.py, line 2"}
    assert {o.week for o in overlaps} == {"99_fixture.ipynb"}
    assert {o.task for o in overlaps if o.line == "return x.sum(axis=1)"} == {"Task 99.2"}
    report = overlap_report(overlaps)
    assert "99_fixture.ipynb (" in report and "Task 99.2: 'return x.sum(axis=1)'" in report


def test_an_unreleased_weeks_answer_in_a_released_lesson_is_reported(tmp_path):
    root = _course(tmp_path)  # lesson 01 shows the answer to the (unreleased) week 99
    lesson = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("y = x.sum(axis=1)\n")])
    lesson.cells[0].source = "return x.sum(axis=1)"
    nbformat.write(lesson, root / "notebooks" / "01_lesson.ipynb")
    out = tmp_path / "out"
    release(out, root=root, through=1)
    assert not list((out / "exercises").iterdir())  # week 99 is not handed out yet
    assert [o.where for o in find_overlaps(out, root / "solutions")] == [
        "notebooks/01_lesson.ipynb, cell 1"
    ]


def test_release_command_takes_through_and_prints_the_report(tmp_path, capsys):
    from dlcourse.assign.__main__ import main

    root = _course(tmp_path)
    assert main(["release", str(tmp_path / "out"), "--root", str(root), "--through", "0"]) == 0
    printed = capsys.readouterr().out
    assert "lessons up to 00" in printed and "model-answer line" in printed


def test_an_answer_given_away_by_another_weeks_exercise_is_a_leak(tmp_path):
    root = _course(tmp_path)
    out = tmp_path / "out"
    release(out, root=root)
    given = nbformat.v4.new_code_cell("def total(x):\n    return x.sum(axis=1)\n")
    nbformat.write(nbformat.v4.new_notebook(cells=[given]), out / "exercises" / "100_later.ipynb")
    assert find_leaks(out, root / "solutions") == [
        "exercises/100_later.ipynb, cell 1 has a line of the model answer in cell 7 of "
        "99_fixture.ipynb: 'return x.sum(axis=1)'"
    ]
