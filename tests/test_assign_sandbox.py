"""The grading sandbox: its private venv, its bwrap flags, the probe, and when grading is refused.

The escapes themselves are graded in tests/test_assign_sealed.py. Without bubblewrap the
tests that start a sandbox are skipped, unless ``DLCOURSE_REQUIRE_SANDBOX=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

import dlcourse
from dlcourse.assign import sandbox
from dlcourse.assign.runner import Limits, run_notebook
from dlcourse.assign.sandbox import SandboxUnavailable, prepare, probe, sealed

HAVE_BWRAP = shutil.which("bwrap") is not None


@pytest.fixture(scope="module")
def box(tmp_path_factory) -> sandbox.Sandbox:
    return prepare(tmp_path_factory.mktemp("sandbox") / "box")


def test_private_venv_has_no_course_hook_no_checkers_no_grader(box):
    site = next((box.root / "venv" / "lib").glob("python*/site-packages"))
    assert not [p for p in site.iterdir() if p.name.startswith("__editable__")]
    assert not list(site.glob("dlcourse-*.dist-info"))
    package = site / "dlcourse"
    assert sorted(p.name for p in (package / "assign").iterdir()) == [
        "__init__.py",
        "kernelside.py",
        "wire.py",
    ]
    stub = (package / "checks" / "__init__.py").read_text(encoding="utf-8")
    assert "def check(" in stub and "@checker" not in stub and "registry" not in stub
    real = Path(dlcourse.__file__).parent
    assert (package / "layers.py").read_bytes() == (real / "layers.py").read_bytes()
    assert (box.root / "venv" / "pyvenv.cfg").read_text().count("home = ") == 1


def test_command_seals_off(box, tmp_path):
    argv = box.command(tmp_path, tmp_path, {"A": "1"}, ["python", "-V"])
    for flag in ("--unshare-all", "--unshare-pid", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert argv[argv.index("--bind") + 1 : argv.index("--bind") + 3] == [str(tmp_path)] * 2
    assert argv.count("--bind") == 1  # the submission's folder is the only writable one
    course = str(Path(dlcourse.__file__).parents[1])
    assert not [a for a in argv if a.startswith(course)]
    if os.geteuid() == 0:
        assert argv[argv.index("--uid") + 1] == "65534" and "--cap-drop" in argv
    assert argv[-3:] == ["--", "python", "-V"] and "--clearenv" in argv


@pytest.mark.skipif(not HAVE_BWRAP and not sandbox.required(), reason="no bubblewrap")
def test_probe_passes_and_the_sandbox_sees_nothing_of_the_course(box, tmp_path):
    probe(box, tmp_path)
    code = "import os, dlcourse; print(dlcourse.__file__, os.path.exists('/work'), os.getuid())"
    argv = box.command(
        tmp_path, tmp_path, box.env(tmp_path / "home", "t"), [box.python, "-c", code]
    )
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.split()
    assert out[0].startswith("/sandbox/venv/") and out[1] == "False"
    if os.geteuid() == 0:
        assert out[2] == "65534"


def test_probe_says_what_failed(box, tmp_path, monkeypatch):
    monkeypatch.setattr(sandbox, "BWRAP", "no-such-bwrap")
    with pytest.raises(SandboxUnavailable, match=r"bubblewrap \(bwrap\) is not installed"):
        probe(box, tmp_path)


def _no_bwrap(monkeypatch) -> None:
    monkeypatch.setattr(sandbox, "BWRAP", "no-such-bwrap")
    monkeypatch.delenv(sandbox.REQUIRE_ENV, raising=False)


def test_as_root_without_a_sandbox_grading_is_refused(monkeypatch):
    _no_bwrap(monkeypatch)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    for want in (None, False):
        with pytest.raises(SandboxUnavailable, match="refusing to grade as root"):
            with sealed(want, print):
                pass


def test_not_root_without_a_sandbox_grades_with_a_loud_warning(monkeypatch):
    _no_bwrap(monkeypatch)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    said = []
    with sealed(None, said.append) as box:
        assert box is None
    assert "GRADING WITHOUT A SANDBOX: bubblewrap (bwrap) is not installed" in said[0]


def test_a_required_sandbox_that_is_missing_fails(monkeypatch):
    _no_bwrap(monkeypatch)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(SandboxUnavailable, match="no sandbox"):
        with sealed(True, print):
            pass
    monkeypatch.setenv(sandbox.REQUIRE_ENV, "1")
    with pytest.raises(SandboxUnavailable, match="no sandbox"):
        with sealed(None, print):
            pass


def test_reap_kills_tagged_processes():
    marker = "reap-test-" + os.urandom(4).hex()
    env = dict(os.environ, DLCOURSE_SANDBOX=marker)
    child = subprocess.Popen(["sleep", "30"], env=env)
    try:
        assert sandbox.tagged_processes(marker) == [child.pid]
        assert sandbox.reap(marker) == [child.pid]
        assert child.wait(timeout=5) == -9
    finally:
        child.kill()


@pytest.mark.parametrize("sealed_off", [False, True])
def test_kernel_is_shut_down_when_its_notebook_is_done(box, tmp_path, sealed_off):
    """No reaping here: run_notebook itself leaves no kernel (nbclient kept kernels it
    did not own alive until the grader exited)."""
    if sealed_off and not HAVE_BWRAP and not sandbox.required():
        pytest.skip("no bubblewrap")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    folder = tmp_path / "submission"
    (folder / "work").mkdir(parents=True)
    (folder / "home").mkdir()
    marker = "shutdown-test-" + os.urandom(4).hex()
    run = run_notebook(
        nb,
        folder / "work",
        folder / "home",
        Limits(30, 30, 1024),
        "print(x)",
        sandbox=box if sealed_off else None,
        marker=marker,
    )
    assert run.final_ran and run.final_outputs[0]["text"] == "1\n", run.problems
    assert sandbox.tagged_processes(marker) == []
