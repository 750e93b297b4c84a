"""The student bundle holds lessons, exercises and the package, and no solution."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from dlcourse.assign.notebooks import MARKERS, AssignmentError, find_assignments
from dlcourse.assign.release import answer_lines, find_leaks, release

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
