"""The exercise generator: stubs, placeholders, hidden tests, determinism, --check, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from dlcourse.assign.__main__ import main
from dlcourse.assign.build import (
    POINTS_BEGIN,
    POINTS_END,
    build,
    make_exercise,
    notebook_bytes,
    points_table,
)
from dlcourse.assign.notebooks import MARKERS, AssignmentError, read_assignment

FIXTURE = Path(__file__).parent / "fixtures" / "assignment" / "solutions"


@pytest.fixture()
def course(tmp_path: Path) -> Path:
    """A copy of the fixture solutions in tmp_path/solutions (exercises/ not built yet)."""
    shutil.copytree(FIXTURE, tmp_path / "solutions")
    return tmp_path


def _exercise(course: Path) -> nbformat.NotebookNode:
    build(course / "solutions", course / "exercises")
    return nbformat.read(course / "exercises" / "99_fixture.ipynb", as_version=4)


def _cell(nb, **meta) -> nbformat.NotebookNode:
    ((key, value),) = meta.items()
    return next(c for c in nb.cells if c.metadata.get("dlcourse", {}).get(key) == value)


def test_code_fence_becomes_a_stub_that_keeps_signature_docstring_and_hint(course):
    source = _cell(_exercise(course), task="99.1").source
    assert source == (
        "def square(x):\n"
        '    """Elementwise square. x: any shape; returns the same shape."""\n'
        "    # Hint: multiply x by itself.\n"
        '    raise NotImplementedError("Task 99.1: write your code here")'
    )


def test_stub_raises_not_implemented_error_naming_the_task(course):
    namespace: dict = {}
    exec(_cell(_exercise(course), task="99.2").source, namespace)
    with pytest.raises(NotImplementedError, match=r"Task 99\.2: write your code here"):
        namespace["row_sums"](None)


def test_prose_answer_becomes_placeholder_and_question_stays(course):
    source = _cell(_exercise(course), task="99.3").source
    assert source.endswith("Why does squaring never give a negative number?\n\n_Your answer here._")
    assert "same sign" not in source


def test_hidden_tests_are_removed_and_the_self_check_stays(course):
    assert _cell(_exercise(course), check="99.1").source == 'check("99.1", square)'


def test_no_marker_and_no_output_is_left_in_the_exercise(course, tmp_path):
    solution = nbformat.read(course / "solutions" / "99_fixture.ipynb", as_version=4)
    for cell in solution.cells:  # give the source outputs, as an executed solution has
        if cell.cell_type == "code":
            cell.outputs = [v4.new_output("stream", name="stdout", text="secret 42\n")]
            cell.execution_count = 7
    nbformat.write(solution, course / "solutions" / "99_fixture.ipynb")
    exercise = _exercise(course)
    raw = (course / "exercises" / "99_fixture.ipynb").read_text(encoding="utf-8")
    assert not any(marker in raw for marker in MARKERS)
    assert "secret 42" not in raw
    for cell in exercise.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_task_metadata_and_assignment_name_are_kept(course):
    exercise = _exercise(course)
    assert _cell(exercise, task="99.1").metadata["dlcourse"] == {"task": "99.1", "points": 2}
    assert _cell(exercise, task="99.3").metadata["dlcourse"]["manual"] is True
    assert exercise.metadata["dlcourse"]["assignment"] == "99_fixture"


def test_build_is_byte_identical_on_rerun(course):
    build(course / "solutions", course / "exercises")
    first = (course / "exercises" / "99_fixture.ipynb").read_bytes()
    results, _ = build(course / "solutions", course / "exercises")
    assert not results[0].changed
    assert (course / "exercises" / "99_fixture.ipynb").read_bytes() == first
    assert first == notebook_bytes(make_exercise(read_assignment(FIXTURE / "99_fixture.ipynb")))
    assert first.endswith(b"}\n") and b'\n "cells": [' in first  # nbformat's layout


def test_check_fails_when_exercises_are_stale_and_passes_after_build(course, capsys):
    args = ["--solutions", str(course / "solutions"), "--exercises", str(course / "exercises")]
    assert main(["build", "--check", *args]) == 1  # missing
    assert main(["build", *args]) == 0
    assert main(["build", "--check", *args]) == 0
    solution = course / "solutions" / "99_fixture.ipynb"
    nb = nbformat.read(solution, as_version=4)
    nb.cells[0].source += "\n\nOne more sentence."
    nbformat.write(nb, solution)
    assert main(["build", "--check", *args]) == 1  # the solution changed
    assert "stale:" in capsys.readouterr().out


def test_check_reports_an_exercise_without_a_solution(course):
    args = ["--solutions", str(course / "solutions"), "--exercises", str(course / "exercises")]
    main(["build", *args])
    shutil.copy(course / "exercises" / "99_fixture.ipynb", course / "exercises" / "98_old.ipynb")
    assert main(["build", "--check", *args]) == 1
    main(["build", *args])
    assert not (course / "exercises" / "98_old.ipynb").exists()


def _broken(course: Path, edit) -> Path:
    path = course / "solutions" / "99_fixture.ipynb"
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)
    return path


def test_begin_without_end_names_notebook_and_cell(course):
    def edit(nb):
        cell = _cell(nb, task="99.2")
        cell.source = cell.source.replace("    ### END SOLUTION", "")

    path = _broken(course, edit)
    with pytest.raises(AssignmentError, match=r"99_fixture\.ipynb, cell 7 .*has no '### END"):
        read_assignment(path)


def test_solution_fence_without_task_metadata_is_an_error(course):
    path = _broken(course, lambda nb: _cell(nb, task="99.2").metadata.pop("dlcourse"))
    with pytest.raises(AssignmentError, match=r"99_fixture\.ipynb, cell 7 .*no task metadata"):
        read_assignment(path)


def test_duplicate_task_id_is_an_error(course):
    def edit(nb):
        _cell(nb, task="99.2").metadata["dlcourse"]["task"] = "99.1"
        _cell(nb, check="99.2").metadata["dlcourse"]["check"] = "99.1"

    with pytest.raises(AssignmentError, match=r"cell 7 .*task 99\.1 is already defined in cell 4"):
        read_assignment(_broken(course, edit))


def test_task_without_points_is_an_error(course):
    path = _broken(course, lambda nb: _cell(nb, task="99.1").metadata["dlcourse"].pop("points"))
    with pytest.raises(AssignmentError, match=r"cell 4 .*positive number of points"):
        read_assignment(path)


def test_hidden_tests_outside_a_self_check_cell_are_an_error(course):
    def edit(nb):
        nb.cells[1].source += "\n### BEGIN HIDDEN TESTS\nassert True\n### END HIDDEN TESTS"

    with pytest.raises(AssignmentError, match=r"cell 2 .*belong in a self-check cell"):
        read_assignment(_broken(course, edit))


def test_cli_reports_a_malformed_notebook_without_a_traceback(course, capsys):
    _broken(course, lambda nb: _cell(nb, task="99.2").metadata.pop("dlcourse"))
    args = ["--solutions", str(course / "solutions"), "--exercises", str(course / "exercises")]
    assert main(["build", *args]) == 2
    assert "error: 99_fixture.ipynb, cell 7" in capsys.readouterr().err


def test_points_table_lists_tasks_and_totals():
    table = points_table([read_assignment(FIXTURE / "99_fixture.ipynb")])
    assert "| 99_fixture | 99.1 (2), 99.2 (1), 99.3 (1, written) | 3 | 1 | 4 |" in table


def test_points_option_rewrites_only_the_marked_section_of_a_document(course, tmp_path):
    doc = tmp_path / "guide.md"
    doc.write_text(f"# Guide\n\n{POINTS_BEGIN}\nold table\n{POINTS_END}\n\nAfter.\n")
    args = ["build", "--points", "--docs", str(doc), "--solutions", str(course / "solutions")]
    assert main([*args, "--check"]) == 1
    assert main(args) == 0
    text = doc.read_text()
    assert "old table" not in text and "| 99_fixture |" in text and text.endswith("\n\nAfter.\n")
    assert main([*args, "--check"]) == 0
