"""The grader on the fixture submissions: each outcome lands in the expected CSV rows.

One grading run (module fixture) executes the sixteen submissions of assignment 99
(today's outcomes and every attack of issue 12) in fresh kernels, from a throwaway
copy of the fixture folder, two at a time, with a 10 s notebook limit, a 3 s limit per task and a
1 GB memory limit; the whole grade table is asserted.
"""

from __future__ import annotations

import csv
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

from dlcourse.assign.__main__ import main
from dlcourse.assign.grade import CSV_COLUMNS, grade_folder, match_assignment, summary, write_csv
from dlcourse.assign.notebooks import find_assignments
from dlcourse.assign.runner import Limits, run_notebook
from dlcourse.assign.sandbox import SandboxUnavailable
from dlcourse.assign.sandbox import required as sandbox_required

FIXTURES = Path(__file__).parent / "fixtures" / "assignment"
SOLUTIONS = FIXTURES / "solutions"
LIMITS = Limits(timeout=10, cell_timeout=10, memory_mb=1024, max_output_mb=1, task_timeout=3)

# submission: (points of 99.1, points of 99.2, the start of each message)
GRADE_TABLE = {
    "correct": ("2", "1", "passed", "passed"),
    "partial": ("2", "0", "passed", "row_sums(x) should have shape (2,) but has shape (3,)"),
    "crash": ("0", "0", "not graded: the kernel died", "not graded: the kernel died"),
    "loop": ("2", "0", "passed", "row_sums is not defined"),
    "syntax": ("0", "1", "square is not defined", "passed"),
    "fake_pass": (
        "0",
        "0",
        "not implemented yet",
        "row_sums(x) should be a numpy array but is int",
    ),
    "hidden": (
        "0",
        "1",
        "a hidden test failed (line 1 of the hidden tests): AssertionError",
        "passed",
    ),
    "attack_forged_server": (
        "0",
        "0",
        "your code raised TypeError: 'bool' object is not callable",
        "your code raised TypeError: 'bool' object is not callable",
    ),
    "attack_fake_runner": ("0", "0", "not graded: ", "not graded: "),
    "attack_package": (
        "0",
        "0",
        "square is dlcourse.functions.relu from the dlcourse package "
        "(from dlcourse.functions import relu as square (cell 4, line 1))",
        "row_sums is dlcourse.functions.softmax from the dlcourse package "
        "(def row_sums(...) only calls dlcourse.functions.softmax",
    ),
    "attack_given_cell": ("2", "0", "passed", "not implemented yet"),
    "task_loop": (
        "0",
        "1",
        "your code for task 99.1 did not finish within 3 s (the limit per task)",
        "passed",
    ),
    "task_memory": ("0", "1", "your code raised MemoryError", "passed"),
    "attack_answer_table": ("0", "1", "square(x) is off", "passed"),
    "attack_huge_return": (
        "0",
        "1",
        "your code returned a value the grader refuses: an array of shape (1000000000,)",
        "passed",
    ),
}


def grade_or_skip(*args, **kwargs):
    """grade_folder, skipped where grading is refused (root without a sandbox), unless
    DLCOURSE_REQUIRE_SANDBOX=1 makes that a failure."""
    try:
        return grade_folder(*args, **kwargs)
    except SandboxUnavailable as err:
        if sandbox_required():
            raise
        pytest.skip(str(err))


def _syntax_error_submission(folder: Path) -> None:
    """correct.ipynb with the colon of ``def square(x):`` missing (ruff cannot store this)."""
    nb = nbformat.read(FIXTURES / "submissions" / "correct.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("dlcourse", {}).get("task") == "99.1")
    cell.source = cell.source.replace("def square(x):", "def square(x)")
    nbformat.write(nb, folder / "syntax.ipynb")


@pytest.fixture(scope="module")
def scores(tmp_path_factory) -> dict[tuple[str, str], dict[str, str]]:
    folder = tmp_path_factory.mktemp("submissions")
    for path in (FIXTURES / "submissions").glob("*.ipynb"):
        shutil.copy(path, folder / path.name)
    _syntax_error_submission(folder)
    (folder / "not_a_notebook.ipynb").write_text("{ this is not JSON", encoding="utf-8")
    start = time.monotonic()
    grades = grade_or_skip(folder, SOLUTIONS, LIMITS, jobs=2)
    print(f"graded {len(grades)} fixture submissions in {time.monotonic() - start:.1f} s")
    out = tmp_path_factory.mktemp("scores") / "scores.csv"
    write_csv(grades, out)
    with out.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        rows = list(reader)
    scores = {(row["submission"], row["task"]): row for row in rows}
    scores["summary", ""] = {"text": summary(grades)}
    return scores


def _row(scores, submission: str, task: str) -> tuple[str, str, str]:
    row = scores[f"{submission}.ipynb", task]
    return row["points"], row["max_points"], row["passed"]


def test_grade_table_of_the_whole_fixture_folder(scores):
    got = {
        name: (
            scores[f"{name}.ipynb", "99.1"]["points"],
            scores[f"{name}.ipynb", "99.2"]["points"],
            scores[f"{name}.ipynb", "99.1"]["message"][: len(want[2])],
            scores[f"{name}.ipynb", "99.2"]["message"][: len(want[3])],
        )
        for name, want in GRADE_TABLE.items()
    }
    assert got == GRADE_TABLE
    graded = {submission for submission, task in scores if task == "99.1"}
    assert graded == {f"{name}.ipynb" for name in GRADE_TABLE}


def test_attacks_on_the_grader_are_flagged_for_the_instructor(scores):
    assert (
        "the code reaches for the grader (dlcourse.assign"
        in (scores["attack_forged_server.ipynb", "99.1"]["notebook"])
    )
    status = scores["attack_fake_runner.ipynb", "99.1"]["notebook"]
    assert "the kernel never connected to the grader after the notebook ran" in status
    assert "importlib" in status and "builtins" in status


def test_edited_given_cell_is_graded_with_the_original_and_flagged(scores):
    status = scores["attack_given_cell.ipynb", "99.2"]["notebook"]
    assert status.startswith("given cell(s) 9 edited; graded with the original code instead")
    assert scores["correct.ipynb", "99.2"]["notebook"] == "ok"


def test_loop_in_one_task_costs_that_task_only(scores):
    assert scores["task_loop.ipynb", "99.1"]["message"] == (
        "your code for task 99.1 did not finish within 3 s (the limit per task); "
        "does it loop forever?"
    )
    assert scores["task_loop.ipynb", "99.2"]["passed"] == "true"


def test_correct_submission_earns_every_point_and_lists_the_prose_answer(scores):
    assert _row(scores, "correct", "99.1") == ("2", "2", "true")
    assert _row(scores, "correct", "99.2") == ("1", "1", "true")
    assert _row(scores, "correct", "99.3") == ("", "1", "manual")
    assert scores["correct.ipynb", "99.3"]["message"] == "Same signs multiply to +."
    assert scores["correct.ipynb", "99.1"]["notebook"] == "ok"


def test_partially_correct_submission_gets_points_for_the_right_task_only(scores):
    assert _row(scores, "partial", "99.1") == ("2", "2", "true")
    assert _row(scores, "partial", "99.2") == ("0", "1", "false")
    assert "should have shape (2,) but has shape (3,)" in scores["partial.ipynb", "99.2"]["message"]


def test_megabytes_of_output_are_reported_and_grading_goes_on(scores):
    status = scores["partial.ipynb", "99.1"]["notebook"]
    assert "printed 3.0 MB (more than 1 MB); output dropped" in status


def test_crashing_kernel_is_reported_and_earns_nothing(scores):
    assert _row(scores, "crash", "99.1") == ("0", "2", "false")
    assert "the kernel died" in scores["crash.ipynb", "99.1"]["notebook"]
    assert scores["crash.ipynb", "99.1"]["message"].startswith("not graded: the kernel died")


def test_infinite_loop_is_stopped_at_the_time_limit_and_earlier_tasks_count(scores):
    status = scores["loop.ipynb", "99.1"]["notebook"]
    assert "cell 5 did not finish within the notebook's 10 s; interrupted" in status
    assert "cells from 8 on were not run" in status
    assert _row(scores, "loop", "99.1") == ("2", "2", "true")  # defined before the loop
    assert _row(scores, "loop", "99.2") == ("0", "1", "false")  # defined after it
    assert "row_sums is not defined" in scores["loop.ipynb", "99.2"]["message"]


def test_syntax_error_fails_that_task_and_is_named(scores):
    assert _row(scores, "syntax", "99.1") == ("0", "2", "false")
    assert _row(scores, "syntax", "99.2") == ("1", "1", "true")
    assert (
        "cell 4 raised SyntaxError: expected ':' (line 1)"
        in scores["syntax.ipynb", "99.1"]["notebook"]
    )


def test_printed_fake_pass_and_replaced_checker_earn_nothing(scores):
    assert _row(scores, "fake_pass", "99.1") == ("0", "2", "false")
    assert "not implemented yet" in scores["fake_pass.ipynb", "99.1"]["message"]
    assert _row(scores, "fake_pass", "99.2") == ("0", "1", "false")  # real checker restored
    assert "should be a numpy array but is int" in scores["fake_pass.ipynb", "99.2"]["message"]


def test_hidden_test_from_the_solutions_fails_an_answer_the_self_check_passes(scores):
    assert _row(scores, "hidden", "99.1") == ("0", "2", "false")
    message = scores["hidden.ipynb", "99.1"]["message"]
    assert message == "a hidden test failed (line 1 of the hidden tests): AssertionError"
    assert _row(scores, "hidden", "99.2") == ("1", "1", "true")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS is Linux-only")
def test_memory_limit_turns_a_huge_allocation_into_memory_error(scores):
    assert "raised MemoryError" in scores["hidden.ipynb", "99.1"]["notebook"]


def test_unreadable_notebook_gets_one_row_saying_so(scores):
    row = scores["not_a_notebook.ipynb", ""]
    assert row["notebook"].startswith("not a readable notebook")


def test_summary_table_has_a_line_per_submission(scores):
    text = scores["summary", ""]["text"]
    assert "correct.ipynb" in text and "3/3" in text
    assert len(text.splitlines()) == 2 + len(GRADE_TABLE) + 1  # and the unreadable one


def test_submission_is_matched_by_file_name_or_task_ids():
    assignments = find_assignments(SOLUTIONS)
    bare = nbformat.v4.new_notebook()
    assert match_assignment(Path("alice/99_fixture.ipynb"), bare, assignments).name == "99_fixture"
    assert match_assignment(Path("alice.ipynb"), bare, assignments) is None
    cell = nbformat.v4.new_code_cell("x = 1")
    cell.metadata["dlcourse"] = {"task": "99.2", "points": 1}
    bare.cells.append(cell)
    assert match_assignment(Path("alice.ipynb"), bare, assignments).name == "99_fixture"


def test_loop_that_swallows_interrupts_is_killed_and_grading_ends(tmp_path):
    stubborn = (
        "import time\n"
        "while True:\n"
        "    try:\n"
        "        time.sleep(0.1)\n"
        "    except KeyboardInterrupt:\n"
        "        pass"
    )
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in ("x = 1", stubborn, "y = 2")]
    )
    (tmp_path / "work").mkdir()
    (tmp_path / "home").mkdir()
    start = time.monotonic()
    run = run_notebook(nb, tmp_path / "work", tmp_path / "home", Limits(4, 3, 1024), "print(x)")
    assert time.monotonic() - start < 60  # 4 s + 3 s for the checks, plus kernel start/stop
    assert run.problems[:2] == [
        "cell 2 did not finish within 3 s (the limit per cell); interrupted",
        "the notebook used its 4 s; cells from 3 on were not run",
    ]
    assert not run.final_ran and "the grader's session did not finish" in run.problems[2]


def test_grade_command_writes_the_csv_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "scores.csv"
    args = ["grade", str(FIXTURES / "submissions" / "correct.ipynb"), "--out", str(out)]
    status = main([*args, "--solutions", str(SOLUTIONS), "--timeout", "30"])
    printed, said = capsys.readouterr()
    if status == 2 and "sandbox" in said and not sandbox_required():
        pytest.skip(said.strip())
    assert status == 0, said
    assert "correct.ipynb  99_fixture  3/3     1       ok" in printed
    assert out.read_text(encoding="utf-8").splitlines()[:2] == [
        ",".join(CSV_COLUMNS),
        "correct.ipynb,99.1,2,2,true,passed,ok,99_fixture",
    ]
    assert (tmp_path / "gradebook.csv").read_text(encoding="utf-8").splitlines()[1] == (
        "correct,99_fixture,3,4,2,1,,1 manual task(s) to score,correct.ipynb"
    )


def test_grading_one_at_a_time_gives_the_rows_of_the_parallel_run(scores, tmp_path):
    for name in ("correct.ipynb", "partial.ipynb"):
        shutil.copy(FIXTURES / "submissions" / name, tmp_path / name)
    grades = grade_or_skip(tmp_path, SOLUTIONS, LIMITS, jobs=1)  # the module fixture: jobs=2
    assert [g.submission for g in grades] == ["correct.ipynb", "partial.ipynb"]
    for grade in grades:
        for row in grade.rows:
            want = scores[grade.submission, row.task]
            assert (row.passed, row.message) == (
                {"true": True, "false": False, "manual": None}[want["passed"]],
                want["message"],
            )
