"""Every lesson and assignment notebook is built from its text source in sources/.

The sources (jupytext percent scripts) are what authors edit and reviewers read;
``python scripts/build_notebooks.py`` writes and executes the notebooks from them. A
notebook whose cells differ from its source, or one without a source, fails here.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import build_notebooks  # noqa: E402

NOTEBOOKS = sorted(
    p for folder in ("notebooks", "solutions") for p in (ROOT / folder).glob("*.ipynb")
)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_matches_its_source(notebook):
    assert build_notebooks.differences(notebook) == [], (
        "edit sources/ and run `python scripts/build_notebooks.py NAME` "
        "(or, after editing the notebook, `--update-sources NAME`)"
    )


def test_every_source_has_its_notebook():
    missing = [
        str(s.relative_to(ROOT))
        for s in build_notebooks.all_sources()
        if not build_notebooks.notebook_for(s).exists()
    ]
    assert not missing, f"sources without a notebook (run scripts/build_notebooks.py): {missing}"


def test_a_changed_source_is_noticed(tmp_path, monkeypatch):
    source = tmp_path / "sources" / "notebooks" / "99_demo.py"
    source.parent.mkdir(parents=True)
    source.write_text("# %% [markdown]\n# # 99 · Demo\n\n# %%\nx = 1\n", encoding="utf-8")
    notebook = tmp_path / "notebooks" / "99_demo.ipynb"
    notebook.parent.mkdir()
    monkeypatch.setattr(build_notebooks, "ROOT", tmp_path)
    monkeypatch.setattr(build_notebooks, "SOURCES", tmp_path / "sources")
    build_notebooks.write_notebook(source)
    assert build_notebooks.differences(notebook) == []
    source.write_text(source.read_text().replace("x = 1", "x = 2"), encoding="utf-8")
    assert build_notebooks.differences(notebook) == [
        "notebooks/99_demo.ipynb: cell 1 differs from its source ('x = 2'…)"
    ]


SOURCES = sorted(build_notebooks.all_sources())


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_source_has_no_control_characters(source):
    # A LaTeX command written in a normal (not raw) Python string loses its backslash
    # letter to an escape: "\text" becomes a TAB and "ext", "\frac" a form feed and "rac".
    found = [
        f"line {number}: {ch!r} before {line.split(ch, 1)[1][:20]!r}"
        for number, line in enumerate(source.read_text(encoding="utf-8").split("\n"), start=1)
        for ch in sorted(set(line))
        if (ord(ch) < 32 and ch != "\n") or ord(ch) == 127
    ]
    assert not found, f"control characters (write the LaTeX backslash as it is): {found}"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_markdown_line_is_a_comment(source):
    # "\rceil" or "\nabla" escaped into a line break leaves a line without "# " behind
    # (e.g. "ceil$ batches"), which jupytext still puts into the Markdown cell.
    in_markdown, stray = False, []
    for number, line in enumerate(source.read_text(encoding="utf-8").split("\n"), start=1):
        if line.startswith("# %%"):
            in_markdown = "[markdown]" in line
        elif in_markdown and line.strip() and not line.startswith("#"):
            stray.append(f"line {number}: {line[:30]!r}")
    assert not stray, f"Markdown lines that do not start with '# ' (a lost backslash?): {stray}"
