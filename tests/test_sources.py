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
