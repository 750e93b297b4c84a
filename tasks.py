#!/usr/bin/env python3
"""The course's two commands, with nothing but Python >= 3.10 needed to start them.

    python3 tasks.py course   # set up .venv (first time only) and open JupyterLab on the course
    python3 tasks.py test     # set up .venv the same way and run every test (quick, offline)

On Windows, use ``py tasks.py course`` and ``py tasks.py test``. Both commands are
idempotent: the environment is (re)installed only when ``pyproject.toml`` changed or
an extra is missing, so the second run starts at once. Extra arguments after
``test`` go to pytest (e.g. ``python3 tasks.py test tests/test_data.py -x``); after
``course`` they go to JupyterLab (e.g. ``--no-browser``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("DLCOURSE_VENV", ROOT / ".venv"))
STAMP = VENV / "dlcourse-installed.txt"
EXTRAS = {"course": (), "test": ("test", "lint", "browser")}


def venv_python() -> Path:
    scripts = "Scripts" if os.name == "nt" else "bin"
    return VENV / scripts / ("python.exe" if os.name == "nt" else "python")


def _pyproject_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]


def ensure_environment(extras: tuple[str, ...]) -> Path:
    """Create ``.venv`` and install the course (with ``extras``) unless already done.

    The stamp file records the pyproject.toml digest and the extras installed, so a
    second run skips pip entirely.
    """
    if sys.version_info < (3, 10):  # noqa: UP036 - tasks.py runs before any venv exists
        sys.exit(f"dlcourse needs Python 3.10 or newer; this is {sys.version.split()[0]}")
    python = venv_python()
    if not python.exists():
        print(f"Creating a virtual environment in {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest, _, have = (STAMP.read_text().strip() if STAMP.exists() else "").partition(" ")
    installed = set(have.split(",")) - {""}
    if digest == _pyproject_digest() and set(extras) <= installed:
        return python
    wanted = sorted(set(extras) | installed)
    spec = f".[{','.join(wanted)}]" if wanted else "."
    print(f"Installing dlcourse{spec[1:]} and its dependencies (first run only) ...", flush=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", spec],
        cwd=ROOT,
        check=True,
    )
    STAMP.write_text(f"{_pyproject_digest()} {','.join(wanted)}\n")
    return python


def hermetic_env(scratch: Path) -> dict[str, str]:
    """Environment for the tests: quick, offline, and every config/cache dir in ``scratch``."""
    env = dict(os.environ)
    env.update(
        DLCOURSE_QUICK="1",
        DLCOURSE_OFFLINE="1",
        DLCOURSE_DATA_DIR=str(scratch / "data"),
        JUPYTER_CONFIG_DIR=str(scratch / "jupyter-config"),
        JUPYTER_DATA_DIR=str(scratch / "jupyter-data"),
        JUPYTER_RUNTIME_DIR=str(scratch / "jupyter-runtime"),
        IPYTHONDIR=str(scratch / "ipython"),
        MPLCONFIGDIR=str(scratch / "matplotlib"),
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


def run_tests(pytest_args: list[str]) -> int:
    python = ensure_environment(EXTRAS["test"])
    with tempfile.TemporaryDirectory(prefix="dlcourse-test-") as tmp:
        env = hermetic_env(Path(tmp))
        steps = [
            ["-m", "ruff", "check", "."],
            ["-m", "ruff", "format", "--check", "."],
            ["-m", "mypy"],  # dlcourse/, with the settings in pyproject.toml
            ["-m", "pytest", *pytest_args],
        ]
        for step in steps:
            print("$ python " + " ".join(step), flush=True)
            code = subprocess.run([str(python), *step], cwd=ROOT, env=env).returncode
            if code != 0:
                return code
    return 0


def open_course(lab_args: list[str]) -> int:
    python = ensure_environment(EXTRAS["course"])
    command = [
        str(python),
        "-m",
        "jupyter",
        "lab",
        f"--ServerApp.root_dir={ROOT}",  # the whole course: notebooks/, exercises/, dlcourse/
        "--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb",
        *lab_args,
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0 and "--allow-root" not in lab_args:
        command.append("--allow-root")  # containers often run as root
    print("Starting JupyterLab; stop it with Ctrl+C.", flush=True)
    if os.name == "posix":
        # Become JupyterLab: a SIGTERM (a process manager, a closed terminal) then stops
        # the server itself instead of leaving it running as an orphan on the port.
        os.chdir(ROOT)
        os.execv(command[0], command)
    try:
        return subprocess.run(command, cwd=ROOT).returncode
    except KeyboardInterrupt:
        return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"course", "test"}:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    return open_course(rest) if command == "course" else run_tests(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
