"""Execute notebooks in place, the way they are committed: full mode, offline data.

    python scripts/execute_notebooks.py notebooks/01_gradient_descent.ipynb [...]
    python scripts/execute_notebooks.py --quick notebooks/*.ipynb   # just to try them fast

Lessons are committed executed (learners can read them before running anything).
Runs use the full-mode sizes learners get, on the offline digits so every
machine gets the same figures, with Jupyter/matplotlib config in a scratch dir.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tasks import hermetic_env  # noqa: E402


def execute(path: Path, timeout: int) -> float:
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
        allow_errors=False,
    ).execute()
    nbformat.write(nb, path)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--quick", action="store_true", help="quick mode (do not commit this)")
    parser.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dlcourse-exec-") as tmp:
        env = hermetic_env(Path(tmp))
        env["DLCOURSE_QUICK"] = "1" if args.quick else "0"
        env.pop("DLCOURSE_DATA_DIR")
        os.environ.update(env)
        for path in args.notebooks:
            seconds = execute(path.resolve(), args.timeout)
            print(f"{path}: executed in {seconds:.1f} s ({'quick' if args.quick else 'full'} mode)")


if __name__ == "__main__":
    main()
