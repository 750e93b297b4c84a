"""Every lesson and assignment follows the house layout and is committed executed and clean.

nbval checks what the notebooks compute; this checks what a learner reads before running
anything: the title, goals, prerequisites and time at the top, a caption for every
figure, a summary and what comes next, outputs from a real run with no errors, warnings
or paths of the machine that ran them.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ASSIGNMENTS = sorted((ROOT / "solutions").glob("[0-9][0-9]_*.ipynb"))
LOCAL_PATH = re.compile(r"(/work/|/tmp/|/home/|/root/|/Users/|[A-Z]:\\\\Users)")


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        parts.append(str(output.get("text", "")))
        parts.extend(str(v) for k, v in output.get("data", {}).items() if k.startswith("text/"))
        parts.extend(output.get("traceback", []))
    return "\n".join(parts)


def test_there_are_lessons_and_assignments():
    assert len(LESSONS) >= 8 and len(ASSIGNMENTS) >= 7


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_starts_with_title_goals_prerequisites_and_time(path):
    top = read(path).cells[0]
    number = path.name[:2]
    assert top.cell_type == "markdown"
    assert top.source.startswith(f"# {number} · "), f"{path.name}: title '# {number} · …'"
    for heading in ("**Goals**", "**You need:**", "**Time:**"):
        assert heading in top.source, f"{path.name}: the first cell should give {heading}"


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name)
def test_lesson_ends_with_summary_and_next(path):
    headings = [
        line.strip()
        for cell in read(path).cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]
    assert "## Summary" in headings and "## Next" in headings
    assert headings.index("## Summary") < headings.index("## Next")


@pytest.mark.parametrize("path", ASSIGNMENTS, ids=lambda p: p.name)
def test_assignment_starts_with_title_points_prerequisites_and_time(path):
    top = read(path).cells[0]
    assert top.source.startswith(f"# Assignment {path.name[:2]} · ")
    for heading in ("**Points:**", "**You need:**", "**Time:**"):
        assert heading in top.source, f"{path.name}: the first cell should give {heading}"


@pytest.mark.parametrize("path", LESSONS + ASSIGNMENTS, ids=lambda p: p.parent.name + "/" + p.name)
def test_every_figure_has_a_caption(path):
    cells = read(path).cells
    for i, cell in enumerate(cells):
        has_image = any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))
        is_widget = any(
            "application/vnd.jupyter.widget-view+json" in o.get("data", {})
            for o in cell.get("outputs", [])
        )
        if cell.cell_type != "code" or not has_image or is_widget:
            continue
        after = cells[i + 1] if i + 1 < len(cells) else None
        assert after is not None and after.cell_type == "markdown", f"cell {i + 1}"
        assert after.source.startswith("*Figure"), (
            f"{path.name}: the figure of cell {i + 1} needs a caption cell after it "
            "('*Figure: …*'), which is also its alt text"
        )


@pytest.mark.parametrize("path", LESSONS + ASSIGNMENTS, ids=lambda p: p.parent.name + "/" + p.name)
def test_committed_executed_without_surprises(path):
    for i, cell in enumerate(read(path).cells):
        if cell.cell_type != "code":
            continue
        where = f"{path.name}, cell {i + 1}"
        assert cell.execution_count is not None, f"{where} was not executed before committing"
        text = outputs_text(cell)
        assert not LOCAL_PATH.search(text), f"{where} shows a local path: {LOCAL_PATH.search(text)}"
        assert "Warning" not in text, f"{where} shows a warning"
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            assert "raises-exception" in cell.metadata.get("tags", []), (
                f"{where} raised {errors[0].get('ename')}; a cell that fails on purpose "
                "carries the raises-exception tag"
            )
