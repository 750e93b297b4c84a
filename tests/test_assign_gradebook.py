"""The instructor's report: gradebook, manual scores merged without regrading, feedback.

Made from per-task rows as the grader writes them (no notebook is run here), so these
tests take well under a second.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from dlcourse.assign.__main__ import main
from dlcourse.assign.grade import CSV_COLUMNS
from dlcourse.assign.gradebook import (
    ManualScoreError,
    gradebook,
    manual_scores,
    read_csv,
    safe_cell,
    sanitise_id,
    student_of,
    write_csv_atomic,
    write_report,
)


def _row(submission, task, points, top, passed, message="passed", notebook="ok"):
    return {
        "submission": submission,
        "task": task,
        "points": points,
        "max_points": top,
        "passed": passed,
        "message": message,
        "notebook": notebook,
        "assignment": "06_cnn_forward" if task else "",
    }


ROWS = [
    _row("alice/06_cnn_forward.ipynb", "6.1", "2", "2", "true"),
    _row("alice/06_cnn_forward.ipynb", "6.2", "0", "3", "false", '=HYPERLINK("x") is off'),
    _row("alice/06_cnn_forward.ipynb", "6.3", "", "1", "manual", "<script>alert(1)</script>"),
    _row("bob/06_cnn_forward.ipynb", "6.1", "2", "2", "true"),
    _row("bob/06_cnn_forward.ipynb", "6.2", "3", "3", "true"),
    _row("bob/06_cnn_forward.ipynb", "6.3", "", "1", "manual", "Because the kernel slides."),
    _row("bob/06_cnn_forward-Copy1.ipynb", "6.1", "0", "2", "false"),
    _row("bob/06_cnn_forward-Copy1.ipynb", "6.2", "0", "3", "false"),
    _row("bob/06_cnn_forward-Copy1.ipynb", "6.3", "", "1", "manual", "old answer"),
    _row(
        "carol/notes.ipynb",
        "",
        "0",
        "",
        "not graded",
        "not graded: x",
        "not one of the assignments (06_cnn_forward)",
    ),
    _row("dan/06_cnn_forward.ipynb", "", "0", "", "not graded", "", "not a readable notebook: X"),
]


def test_formula_cells_are_defused_and_read_back():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("1.5") == "1.5" and safe_cell("'quoted") == "'quoted"


def test_csv_written_atomically_and_safe(tmp_path):
    path = tmp_path / "out.csv"
    write_csv_atomic(path, ["a"], [{"a": "=cmd|' /C calc'!A0"}])
    with path.open(newline="", encoding="utf-8") as f:
        assert next(iter(csv.DictReader(f)))["a"].startswith("'=")
    assert read_csv(path) == [{"a": "=cmd|' /C calc'!A0"}]
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left


@pytest.mark.parametrize(
    ("submission", "student"),
    [
        ("alice/06_cnn_forward.ipynb", "alice"),
        ("=evil(1)/06_cnn_forward.ipynb", "evil_1"),
        ("../../etc/06.ipynb", "unknown"),
        ("Zoë Smith/x.ipynb", "Zoe_Smith"),
        ("06_cnn_forward_bob-Copy1.ipynb", "bob"),
        ("06_cnn_forward.ipynb", "06_cnn_forward"),
    ],
)
def test_student_id_from_the_folder_sanitised(submission, student):
    assert student_of(submission, "06_cnn_forward") == student
    assert sanitise_id(student) == student


def test_gradebook_one_row_per_student_with_totals_and_flags():
    columns, book, alarms = gradebook(ROWS, {})
    tasks = ["6.1", "6.2", "6.3"]
    assert columns == ["student", "assignment", "total", "max", *tasks, "flags", "submission"]
    by_student = {row["student"]: row for row in book}
    assert set(by_student) == {"alice", "bob", "carol", "dan"}
    alice, bob = by_student["alice"], by_student["bob"]
    assert (alice["total"], alice["max"], alice["6.1"], alice["6.2"], alice["6.3"]) == (
        "2",
        "6",
        "2",
        "0",
        "",
    )
    assert "1 manual task(s) to score" in alice["flags"]
    assert (bob["total"], bob["submission"]) == ("5", "bob/06_cnn_forward.ipynb")
    assert "duplicate" in bob["flags"]
    assert "unmatched" in by_student["carol"]["flags"]
    assert "unreadable" in by_student["dan"]["flags"]
    assert all(row["flags"] or row["total"] for row in book)  # never a blank row
    loud = "\n".join(alarms)
    assert "DUPLICATE: bob" in loud and "-Copy1" in loud
    assert "UNMATCHED: carol/notes.ipynb" in loud and "UNREADABLE: dan/" in loud


def test_manual_scores_merged_without_regrading(tmp_path, capsys):
    scores = tmp_path / "scores.csv"
    write_csv_atomic(scores, CSV_COLUMNS, ROWS)
    assert main(["merge", str(scores)]) == 1  # loud problems (duplicate, unreadable...)
    sheet = read_csv(tmp_path / "manual.csv")
    assert [(r["student"], r["task"], r["points"]) for r in sheet] == [
        ("alice", "6.3", ""),
        ("bob", "6.3", ""),
    ]
    assert sheet[0]["answer"] == "<script>alert(1)</script>"
    sheet[0]["points"], sheet[1]["points"] = "1", "0.5"
    write_csv_atomic(tmp_path / "manual.csv", list(sheet[0]), sheet)
    assert main(["merge", str(scores)]) == 1
    book = {r["student"]: r for r in read_csv(tmp_path / "gradebook.csv")}
    assert (book["alice"]["total"], book["alice"]["6.3"]) == ("3", "1")
    assert (book["bob"]["total"], book["bob"]["6.3"]) == ("5.5", "0.5")
    assert "manual task" not in book["alice"]["flags"]
    assert len(read_csv(tmp_path / "manual.csv")) == 2  # the instructor's rows kept, not doubled
    assert "DUPLICATE" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("points", "words"), [("lots", "expected a number"), ("4", "expected 0 to 1")]
)
def test_a_wrong_manual_score_is_refused_with_its_line(tmp_path, points, words):
    path = tmp_path / "manual.csv"
    write_csv_atomic(
        path,
        ["student", "assignment", "task", "max_points", "points"],
        [{"student": "a", "assignment": "06", "task": "6.3", "max_points": "1", "points": points}],
    )
    with pytest.raises(ManualScoreError, match=f"line 2: {words}"):
        manual_scores(path)


def test_feedback_files_escape_what_the_learner_wrote(tmp_path):
    scores = tmp_path / "scores.csv"
    write_csv_atomic(scores, CSV_COLUMNS, ROWS)
    write_report(scores, read_csv(scores))
    pages = sorted(p.name for p in (tmp_path / "feedback").iterdir())
    assert pages == [
        "alice_06_cnn_forward.html",
        "bob_06_cnn_forward.html",
        "bob_06_cnn_forward_06_cnn_forward-Copy1.html",
    ]
    alice = (tmp_path / "feedback" / "alice_06_cnn_forward.html").read_text(encoding="utf-8")
    assert "<script>" not in alice and "&lt;script&gt;alert(1)&lt;/script&gt;" in alice
    assert "6.2" in alice and "0 / 3" in alice and "not scored yet" in alice
    write_report(scores, read_csv(scores))  # a second run replaces the folder whole
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == pages
    assert not [p for p in Path(tmp_path).iterdir() if p.name.startswith(".")]
