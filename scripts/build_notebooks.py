"""Build the course's notebooks from their text sources, execute them, regenerate exercises.

Every lesson and assignment is written as a jupytext "percent" script in ``sources/``
(``sources/notebooks/NN_name.py`` → ``notebooks/NN_name.ipynb``,
``sources/solutions/NN_name.py`` → ``solutions/NN_name.ipynb``); the exercises are
generated from the solutions by ``python -m dlcourse.assign build``. The notebooks are
committed executed, in full mode on the offline digits, so a learner can read them
before running anything.

    python scripts/build_notebooks.py                    # all: build, execute, exercises
    python scripts/build_notebooks.py sources/notebooks/08_regularization.py
    python scripts/build_notebooks.py --quick 08         # try fast (never commit quick runs)
    python scripts/build_notebooks.py --no-execute 08    # cells only, no outputs
    python scripts/build_notebooks.py --check            # fail if a notebook ≠ its source
    python scripts/build_notebooks.py --update-sources 08  # after editing a notebook in Lab
    python scripts/build_notebooks.py --keep-outputs 08  # a change no output can see

``--keep-outputs`` copies the source's cells into the executed notebook and keeps every
cell's outputs, without running anything: only for a change that cannot alter any output
(a typo in prose, an import moved to another module). It refuses when the cells do not
line up one to one.

A name may be a path to a source or a notebook, or a prefix such as ``08`` (it then
selects the lesson and the assignment of that number).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ROOT / "sources"
FOLDERS = ("notebooks", "solutions")
# Cell metadata kept in the sources: the assignment tool's task/check keys and nbclient's tags.
CELL_METADATA = "dlcourse,tags,-all"
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {
    "codemirror_mode": {"name": "ipython", "version": 3},
    "file_extension": ".py",
    "mimetype": "text/x-python",
    "name": "python",
    "nbconvert_exporter": "python",
    "pygments_lexer": "ipython3",
}


def notebook_for(source: Path) -> Path:
    """``sources/<folder>/NN_name.py`` → ``<folder>/NN_name.ipynb``."""
    folder = source.resolve().parent.name
    return ROOT / folder / f"{source.stem}.ipynb"


def source_for(notebook: Path) -> Path:
    """``<folder>/NN_name.ipynb`` → ``sources/<folder>/NN_name.py``."""
    return SOURCES / notebook.resolve().parent.name / f"{notebook.stem}.py"


def all_sources() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (SOURCES / folder).glob("*.py"))


def read_source(source: Path) -> nbformat.NotebookNode:
    """The notebook a source describes, with no outputs."""
    nb = jupytext.read(source, fmt="py:percent")
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)}
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("dlcourse", "tags")}
    return nb


def _cell_key(cell: nbformat.NotebookNode) -> tuple:
    metadata = {k: v for k, v in cell.metadata.items() if k in ("dlcourse", "tags")}
    return (cell.cell_type, cell.source.strip(), repr(sorted(metadata.items())))


def differences(notebook: Path) -> list[str]:
    """Where ``notebook`` and its source disagree (cell types, sources, task metadata)."""
    source = source_for(notebook)
    if not source.exists():
        return [f"{notebook.relative_to(ROOT)} has no source {source.relative_to(ROOT)}"]
    want = [_cell_key(c) for c in read_source(source).cells]
    got = [_cell_key(c) for c in nbformat.read(notebook, as_version=4).cells]
    name = notebook.relative_to(ROOT)
    if len(want) != len(got):
        return [f"{name}: {len(got)} cells, but its source has {len(want)}"]
    return [
        f"{name}: cell {i} differs from its source ({w[1][:60]!r}…)"
        for i, (w, g) in enumerate(zip(want, got, strict=True))
        if w != g
    ]


def write_notebook(source: Path) -> Path:
    path = notebook_for(source)
    nbformat.write(read_source(source), path)
    return path


def keep_outputs(source: Path) -> Path:
    """Write ``source``'s cells into its executed notebook, keeping the outputs."""
    path = notebook_for(source)
    fresh, old = read_source(source), nbformat.read(path, as_version=4)
    kinds = [c.cell_type for c in fresh.cells], [c.cell_type for c in old.cells]
    if kinds[0] != kinds[1]:
        sys.exit(
            f"{path.relative_to(ROOT)}: the source's cells do not line up with the notebook's "
            f"({len(kinds[0])} vs {len(kinds[1])} cells); rebuild and execute it instead"
        )
    for new, cell in zip(fresh.cells, old.cells, strict=True):
        cell.source, cell.metadata = new.source, new.metadata
    nbformat.write(old, path)
    return path


def update_source(notebook: Path) -> Path:
    """Write ``notebook``'s cells back to its source (after editing it in JupyterLab)."""
    source = source_for(notebook)
    nb = nbformat.read(notebook, as_version=4)
    source.parent.mkdir(parents=True, exist_ok=True)
    text = jupytext.writes(
        _without_outputs(nb),
        fmt={
            "extension": ".py",
            "format_name": "percent",
            "notebook_metadata_filter": "-all",
            "cell_metadata_filter": CELL_METADATA,
        },
    )
    source.write_text(text, encoding="utf-8")
    return source


def _without_outputs(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    copy = nbformat.from_dict(nb)
    copy.metadata = {}
    for cell in copy.cells:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)
    return copy


def select(names: list[str], suffix: str) -> list[Path]:
    """Sources (``suffix=".py"``) or notebooks (``".ipynb"``) named by paths or prefixes."""
    if not names:
        return all_sources() if suffix == ".py" else [notebook_for(s) for s in all_sources()]
    chosen: list[Path] = []
    for name in names:
        path = Path(name)
        if path.suffix in (".py", ".ipynb") and path.exists():
            chosen.append(path.resolve() if path.suffix == suffix else _swap(path.resolve()))
            continue
        matches = [s for s in all_sources() if s.stem.startswith(name)]
        if not matches:
            known = ", ".join(s.stem for s in all_sources())
            sys.exit(f"no source matches {name!r}; expected a path or a prefix of one of: {known}")
        chosen += matches if suffix == ".py" else [notebook_for(s) for s in matches]
    return list(dict.fromkeys(chosen))


def _swap(path: Path) -> Path:
    return notebook_for(path) if path.suffix == ".py" else source_for(path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="sources, notebooks or prefixes (default: all)")
    parser.add_argument(
        "--quick", action="store_true", help="execute in quick mode (do not commit)"
    )
    parser.add_argument("--no-execute", action="store_true", help="write cells only")
    parser.add_argument("--check", action="store_true", help="fail if a notebook ≠ its source")
    parser.add_argument("--update-sources", action="store_true", help="notebook → source")
    parser.add_argument(
        "--keep-outputs", action="store_true", help="source cells → notebook, outputs kept"
    )
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()

    if args.check:
        problems = [p for nb in select(args.names, ".ipynb") for p in differences(nb)]
        print("\n".join(problems) or "every notebook matches its source")
        return 1 if problems else 0
    if args.update_sources:
        for notebook in select(args.names, ".ipynb"):
            print(f"{update_source(notebook).relative_to(ROOT)} ← {notebook.relative_to(ROOT)}")
        return 0

    if args.keep_outputs:
        for source in select(args.names, ".py"):
            print(f"{keep_outputs(source).relative_to(ROOT)} ← {source.relative_to(ROOT)}")
        return 0

    notebooks = [write_notebook(source) for source in select(args.names, ".py")]
    for notebook in notebooks:
        print(f"wrote {notebook.relative_to(ROOT)}", flush=True)
    if not args.no_execute:
        command = [sys.executable, str(ROOT / "scripts" / "execute_notebooks.py")]
        command += ["--quick"] if args.quick else []
        command += ["--timeout", str(args.timeout), *map(str, notebooks)]
        subprocess.run(command, check=True)
    if any(nb.parent.name == "solutions" for nb in notebooks):
        subprocess.run([sys.executable, "-m", "dlcourse.assign", "build"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
