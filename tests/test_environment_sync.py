"""environment.yml (conda-forge) must list the same packages and lower bounds as pyproject.toml."""

from __future__ import annotations

import re
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest brings tomli
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# PyPI name -> conda-forge name, for every dependency the conda route installs.
# A new dependency must be added here, so its conda-forge name is checked by a person.
PYPI_TO_CONDA_FORGE = {
    "numpy": "numpy",
    "matplotlib": "matplotlib",
    "seaborn": "seaborn",
    "ipywidgets": "ipywidgets",
    "jupyterlab": "jupyterlab",
    "ipykernel": "ipykernel",
    "nbformat": "nbformat",
    "nbclient": "nbclient",
    "tqdm": "tqdm",
    "ipython": "ipython",
    "jupyter_client": "jupyter_client",
    "jupytext": "jupytext",
    "hypothesis": "hypothesis",
    "mypy": "mypy",
    "pytest": "pytest",
    "nbval": "nbval",
    "ruff": "ruff",
    "playwright": "playwright",
}
# Extras the conda environment mirrors; "bench" (PyTorch) stays optional everywhere.
MIRRORED_EXTRAS = ("test", "lint", "browser")
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(>=\s*[0-9][0-9A-Za-z.]*)?\s*$")


def parse(requirement: str) -> tuple[str, str]:
    match = REQUIREMENT.match(requirement)
    assert match, f"cannot parse requirement {requirement!r}: use 'name>=version'"
    return match.group(1).lower(), (match.group(2) or "").replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in MIRRORED_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    return dict(parse(r) for r in requirements)


def conda_requirements() -> dict[str, str]:
    """Top-level conda packages of environment.yml (the pip: section is skipped)."""
    found = {}
    section = None
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if re.match(r"^[a-z]", line):
            section = line.split(":", 1)[0]
        match = re.match(r"^  - ([^\s:#]+)\s*$", line)
        if section == "dependencies" and match and match.group(1) != "pip":
            name, bound = parse(match.group(1))
            found[name] = bound
    return found


def test_every_pypi_dependency_has_a_conda_forge_name():
    unmapped = sorted(set(pyproject_requirements()) - set(PYPI_TO_CONDA_FORGE))
    assert not unmapped, f"add these to PYPI_TO_CONDA_FORGE: {unmapped}"


def test_environment_yml_matches_pyproject():
    expected = {PYPI_TO_CONDA_FORGE[n]: b for n, b in pyproject_requirements().items()}
    actual = conda_requirements()
    python_bound = actual.pop("python", None)
    assert python_bound == ">=3.10", f"environment.yml should pin python>=3.10, has {python_bound}"
    missing = {n: b for n, b in expected.items() if n not in actual}
    extra = {n: b for n, b in actual.items() if n not in expected}
    differing = {
        n: (expected[n], actual[n])
        for n in expected.keys() & actual.keys()
        if expected[n] != actual[n]
    }
    assert not missing, f"in pyproject.toml but not environment.yml: {missing}"
    assert not extra, f"in environment.yml but not pyproject.toml: {extra}"
    assert not differing, f"lower bounds differ (pyproject, environment.yml): {differing}"


def test_pytorch_is_never_part_of_the_test_environment():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for group in ("dependencies",):
        assert not any(r.startswith("torch") for r in project[group])
    for extra in MIRRORED_EXTRAS:
        assert not any(r.startswith("torch") for r in project["optional-dependencies"][extra])
    assert "torch" not in conda_requirements() and "pytorch" not in conda_requirements()
