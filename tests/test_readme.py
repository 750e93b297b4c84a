"""The README stays true: its Python example runs and the files it links exist."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_python_examples_run(tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
    assert blocks, "the README should show how the package is used"
    for i, block in enumerate(blocks):
        script = tmp_path / f"readme_example_{i}.py"
        script.write_text(block, encoding="utf-8")
        runpy.run_path(str(script), run_name="__main__")
    assert "test accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("link", sorted(set(re.findall(r"\]\(((?!https?://)[^)#]+)\)", README))))
def test_readme_links_point_to_files_in_the_repository(link):
    assert (ROOT / link).exists(), f"README links to {link}, which does not exist"


def test_readme_names_every_dlcourse_module():
    modules = {p.stem for p in (ROOT / "dlcourse").glob("*.py") if not p.stem.startswith("_")} | {
        p.name for p in (ROOT / "dlcourse").iterdir() if (p / "__init__.py").exists()
    }
    missing = sorted(m for m in modules if f"`dlcourse.{m}`" not in README)
    assert not missing, f"the README's API table does not mention: {missing}"
