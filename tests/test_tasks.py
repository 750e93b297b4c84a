"""tasks.py course hands its process over to JupyterLab, so a SIGTERM stops the server."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tasks():
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(os.name != "posix", reason="exec replaces the process on POSIX only")
def test_course_execs_jupyterlab_instead_of_running_it_as_a_child(tasks, monkeypatch):
    calls = []
    monkeypatch.setattr(tasks, "ensure_environment", lambda extras: Path("/venv/bin/python"))
    monkeypatch.setattr(tasks.os, "chdir", lambda path: calls.append(("chdir", path)))

    def execv(path: str, argv: list[str]) -> None:
        calls.append(("execv", argv))
        raise SystemExit(0)  # the real execv never returns

    monkeypatch.setattr(tasks.os, "execv", execv)
    monkeypatch.setattr(tasks.subprocess, "run", lambda *a, **k: pytest.fail("ran a child"))
    with pytest.raises(SystemExit):
        tasks.open_course(["--no-browser"])
    assert calls[0] == ("chdir", tasks.ROOT)
    kind, argv = calls[1]
    assert kind == "execv" and argv[:4] == ["/venv/bin/python", "-m", "jupyter", "lab"]
    assert "--no-browser" in argv
