"""The grading sandbox: its private venv, its bwrap flags, the probe, and when grading is refused.

The escapes themselves are graded in tests/test_assign_sealed.py. Without bubblewrap the
tests that start a sandbox are skipped, unless ``DLCOURSE_REQUIRE_SANDBOX=1`` (CI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
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
    namespaces = ("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts")
    if not box.as_root:
        namespaces = ("--unshare-all", "--unshare-pid")
    for flag in (*namespaces, "--die-with-parent", "--new-session"):
        assert flag in argv
    assert argv[argv.index("--bind") + 1 : argv.index("--bind") + 3] == [str(tmp_path)] * 2
    assert argv.count("--bind") == 1  # the submission's folder is the only writable one
    course = str(Path(dlcourse.__file__).parents[1])
    assert not [a for a in argv if a.startswith(course)]
    assert "--clearenv" in argv and argv[-2:] == ["python", "-V"]
    if box.as_root:
        # no user namespace (its uid would be root outside): the wrapper becomes nobody
        assert "--unshare-all" not in argv and "--unshare-user" not in argv
        assert argv[-6:-2] == [box.python, box.limits_script, "--user=65534", "--"]
    else:
        assert argv[-3] == "--"


def test_sandbox_user_is_given_the_folder(box, tmp_path):
    (tmp_path / "home" / "tmp").mkdir(parents=True)
    box.hand_over(tmp_path)
    owners = {p.stat().st_uid for p in [tmp_path, *tmp_path.rglob("*")]}
    assert owners == ({65534} if box.as_root else {os.getuid()})


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


@pytest.mark.skipif(not HAVE_BWRAP and not sandbox.required(), reason="no bubblewrap")
def test_as_root_the_sandbox_is_nobody_outside_too(box, tmp_path):
    """uid 65534 in no user namespace of its own: 65534 for the kernel too, no capability,
    no setuid programs (a user namespace would have mapped it to root outside)."""
    if not box.as_root:
        pytest.skip("grading as root only")
    code = (
        "import os; status = open('/proc/self/status').read().split()\n"
        "print(open('/proc/self/uid_map').read().split()[:2], os.getuid(), os.getgid(),\n"
        "      status[status.index('CapEff:') + 1], status[status.index('NoNewPrivs:') + 1])"
    )
    box.hand_over(tmp_path)
    argv = box.command(
        tmp_path, tmp_path, box.env(tmp_path / "home", "t"), [box.python, "-c", code]
    )
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["['0',", "'0']", "65534", "65534", "0000000000000000", "1"], (
        done.stderr
    )


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
        # Popen may return (vfork) before the kernel has set up the new program's
        # environment, when /proc/PID/environ still reads empty: allow it a moment.
        deadline = time.monotonic() + 5
        while not sandbox.tagged_processes(marker) and time.monotonic() < deadline:
            time.sleep(0.01)
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


def _run_cells(box, tmp_path, sealed_off: bool, cells: list[str], final: str, **limits):
    if sealed_off and not HAVE_BWRAP and not sandbox.required():
        pytest.skip("no bubblewrap")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    folder = tmp_path / "submission"
    (folder / "work").mkdir(parents=True)
    (folder / "home").mkdir()
    run = run_notebook(
        nb,
        folder / "work",
        folder / "home",
        Limits(60, 60, 1024, **limits),
        final,
        sandbox=box if sealed_off else None,
        marker=MARKER,
    )
    assert run.final_ran, run.problems
    return run.final_outputs[0]["text"]


MARKER = "limits-test-" + os.urandom(4).hex()


@pytest.mark.parametrize("sealed_off", [False, True])
def test_a_file_beyond_the_file_limit_cannot_be_written(box, tmp_path, sealed_off):
    write = """
try:
    with open("big.bin", "wb") as file:
        file.write(bytes(2 * 1024 * 1024))
    outcome = "written"
except OSError as err:
    outcome = err.strerror
"""
    assert _run_cells(box, tmp_path, sealed_off, [write], "print(outcome)", file_mb=1) == (
        "File too large\n"
    )


@pytest.mark.skipif(os.name != "posix", reason="fork")
def test_a_fork_bomb_stops_at_the_sandboxes_process_limit(box, tmp_path):
    """In the sandbox the kernel is a user of its own (nobody as root; not root's user in
    a user namespace otherwise), so RLIMIT_NPROC counts only its processes."""
    bomb = """
import os, time
children, outcome = [], "no limit"
try:
    for _ in range(300):
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        children.append(pid)
except OSError as err:
    outcome = type(err).__name__
finally:
    for pid in children:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
"""
    final = "print(outcome, len(children) < 100, os.getuid())"
    text = _run_cells(box, tmp_path, True, [bomb], final, processes=100)
    outcome, stopped_early, uid = text.split()
    assert (outcome, stopped_early) == ("BlockingIOError", "True")
    if box.as_root:  # a uid of its own: another submission graded at once keeps its quota
        assert int(uid) == sandbox.user_for(MARKER)


def test_each_submission_gets_its_own_uid_as_root():
    uids = {sandbox.user_for(os.urandom(8).hex()) for _ in range(50)}
    assert len(uids) == 50
    assert all(sandbox.FIRST_UID <= uid < sandbox.FIRST_UID + sandbox.UIDS for uid in uids)
    assert sandbox.user_for("same") == sandbox.user_for("same")
