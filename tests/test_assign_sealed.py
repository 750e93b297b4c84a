"""Submissions that reach outside themselves, graded in a throwaway copy of the course.

Each escape of issue 16 is a submission of the fixture assignment 99 whose ``square``
is right **only if its escape worked** (``ESCAPED``), so a point for task 99.1 is an
escape; its ``row_sums`` is right, so 99.2's point shows it was graded at all. The
attacker knows every absolute path (they are written into its code). The grader runs
as a subprocess from the course copy (``PYTHONPATH`` at the copy, like an editable
install), two submissions at a time, with the sandbox required; afterwards the course
copy, the other submissions and the output are checked untouched, and no process of
the run is left.

Without bubblewrap the module is skipped, unless ``DLCOURSE_REQUIRE_SANDBOX=1`` (CI),
where it fails.
"""

from __future__ import annotations

import csv
import hashlib
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import nbformat
import pytest

import dlcourse
from dlcourse.assign import sandbox

FIXTURES = Path(__file__).parent / "fixtures" / "assignment"
DAEMON_WORD = "sealed-escape-daemon"

PROLOGUE = """\
import glob, os, sys
COURSE, SUBMISSIONS, OUT = {course!r}, {submissions!r}, {out!r}
ESCAPED = []
def _pids():
    return [p for p in os.listdir("/proc") if p.isdigit()]
"""

ESCAPES = {
    # read the solutions (hidden tests, model answers) through the package or /proc
    "read_solutions": """
places = [os.path.dirname(os.path.dirname(dlcourse.__file__)), COURSE]
for pid in _pids():
    try:
        places.append(os.readlink(f"/proc/{pid}/cwd"))
        places += open(f"/proc/{pid}/cmdline").read().split("\\0")
    except OSError:
        pass
for place in places:
    for pattern in ("*.ipynb", "solutions/*.ipynb", "*/solutions/*.ipynb", "../solutions/*.ipynb"):
        for path in glob.glob(os.path.join(place, pattern)):
            if os.path.abspath(path).startswith(os.getcwd()):
                continue  # its own notebook (which holds these words)
            try:
                if "BEGIN SOLUTION" in open(path).read():
                    ESCAPED.append(path)
            except (OSError, UnicodeError):
                pass
""",
    # change the checkers the grader loads (its package, the assignment's checker file)
    "tamper_checkers": """
targets = glob.glob(os.path.join(os.path.dirname(dlcourse.__file__), "checks", "*.py"))
targets += glob.glob(os.path.join(COURSE, "dlcourse", "checks", "*.py"))
targets += glob.glob(os.path.join(COURSE, "solutions", "*.py"))
for target in targets:
    try:
        with open(target, "a") as f:
            f.write("\\nraise SystemExit('tampered')\\n")
        ESCAPED.append(target)
    except OSError:
        pass
""",
    # find the submissions and the output (known, or through /proc) and overwrite them
    "overwrite_others": """
paths = glob.glob(os.path.join(SUBMISSIONS, "*.ipynb")) + [OUT]
for pid in _pids():
    try:
        args = open(f"/proc/{pid}/cmdline").read().split("\\0")
    except OSError:
        continue
    for arg in args:
        if arg.endswith(".csv") or os.path.isdir(arg):
            paths += [arg] + glob.glob(os.path.join(arg, "*.ipynb"))
for path in paths:
    if os.path.abspath(path).startswith(os.getcwd()):
        continue  # its own working folder is its own
    try:
        with open(path, "w") as f:
            f.write("{}")
        ESCAPED.append(path)
    except OSError:
        pass
""",
    # leave a process behind that rewrites the output after the grader is done
    "leave_process": """
import subprocess
code = (
    "import time\\n"
    f"# {DAEMON}\\n"
    "for _ in range(60):\\n"
    "    time.sleep(0.25)\\n"
    "    try:\\n"
    f"        open({OUT!r}, 'w').write('rewritten by a submission')\\n"
    "    except OSError:\\n"
    "        pass\\n"
)
subprocess.Popen([sys.executable, "-c", code], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
if os.fork() == 0:  # and a double fork, detached
    os.setsid()
    if os.fork() == 0:
        exec(code)
    os._exit(0)
""",
    # raise its own memory limit (possible as root with capabilities)
    "raise_memory_limit": """
import resource
try:
    resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    ESCAPED.append("RLIMIT_AS")
except (ValueError, OSError):
    pass
""",
    # the network and the host's files
    "network_and_host": """
import socket
for address in [("1.1.1.1", 53), ("127.0.0.1", 22), ("127.0.0.1", 8888)]:
    try:
        socket.create_connection(address, timeout=1).close()
        ESCAPED.append(str(address))
    except OSError:
        pass
for path in [COURSE, SUBMISSIONS, os.path.dirname(OUT), "/work", "/home", "/etc/passwd"]:
    if os.path.exists(path):
        ESCAPED.append(path)
""",
}

ANSWER = '''def square(x):
    """Right only if the escape worked."""
    return x * x if ESCAPED else x
'''


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _escape_notebook(attack: str, paths: dict[str, str]) -> nbformat.NotebookNode:
    nb = nbformat.read(FIXTURES / "submissions" / "correct.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("dlcourse", {}).get("task") == "99.1")
    code = "import dlcourse\n" + PROLOGUE.format(**paths) + ESCAPES[attack]
    code = code.replace("{DAEMON}", DAEMON_WORD)
    cell.source = code + "\n\n" + ANSWER
    return nb


def _run_processes(token: str) -> list[str]:
    """Command lines of live processes of this run (by the token in their environment)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (
                token.encode() in (entry / "environ").read_bytes()
                or DAEMON_WORD.encode() in (entry / "cmdline").read_bytes()
            ):
                line = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
                parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                found.append(line + (" (inside)" if _is_bwrap(parent) else ""))
        except OSError:
            continue
    return found


def _is_bwrap(pid: str) -> bool:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"bwrap")
    except OSError:
        return False


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the escapes, a classmate and a blank one in a copy of the course."""
    if shutil.which("bwrap") is None and not sandbox.required():
        pytest.skip("bubblewrap is not installed (DLCOURSE_REQUIRE_SANDBOX=1 makes this fail)")
    root = tmp_path_factory.mktemp("course-copy")
    course = root / "course"
    shutil.copytree(
        Path(dlcourse.__file__).parent,
        course / "dlcourse",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    shutil.copytree(FIXTURES / "solutions", course / "solutions")
    submissions, out = course / "submissions", course / "grading" / "scores.csv"
    submissions.mkdir()
    paths = {"course": str(course), "submissions": str(submissions), "out": str(out)}
    for attack in ESCAPES:
        nbformat.write(_escape_notebook(attack, paths), submissions / f"a_{attack}.ipynb")
    shutil.copy(FIXTURES / "submissions" / "correct.ipynb", submissions / "m_classmate.ipynb")
    shutil.copy(FIXTURES / "submissions" / "fake_pass.ipynb", submissions / "z_blank.ipynb")
    course_before = _digest(course / "dlcourse") | _digest(course / "solutions")
    submissions_before = _digest(submissions)

    token = uuid.uuid4().hex
    env = dict(os.environ, PYTHONPATH=str(course), DLCOURSE_TEST_RUN=token)
    command = [sys.executable, "-m", "dlcourse.assign", "grade", str(submissions)]
    command += ["--solutions", str(course / "solutions"), "--out", str(out), "--sandbox"]
    command += ["--timeout", "20", "--task-timeout", "3", "--memory-mb", "1024", "--jobs", "2"]
    peak, stop = [0], threading.Event()

    def watch() -> None:  # live sandboxes (bwrap carries the run's token) at any moment
        while not stop.is_set():
            live = [
                c for c in _run_processes(token) if c.startswith("bwrap") and "(inside)" not in c
            ]
            peak[0] = max(peak[0], len(live))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.monotonic()
    done = subprocess.run(command, cwd=course, env=env, capture_output=True, text=True)
    seconds = time.monotonic() - start
    stop.set()
    watcher.join()
    if done.returncode == 2 and "no sandbox" in done.stderr and not sandbox.required():
        pytest.skip(f"no sandbox here: {done.stderr.strip()}")
    assert done.returncode in (0, 1), done.stdout + done.stderr
    written = out.read_bytes()
    time.sleep(2)  # a process left behind would rewrite the output now
    with out.open(newline="", encoding="utf-8") as f:
        rows = {(r["submission"], r["task"]): r for r in csv.DictReader(f)}
    return {
        "rows": rows,
        "stdout": done.stdout,
        "seconds": seconds,
        "peak": peak[0],
        "left": _run_processes(token),
        "course": (course_before, _digest(course / "dlcourse") | _digest(course / "solutions")),
        "submissions": (submissions_before, _digest(submissions)),
        "out": (written, out.read_bytes()),
        "folder": out.parent,
    }


@pytest.mark.parametrize("attack", sorted(ESCAPES))
def test_escape_fails_and_the_submission_is_still_graded(graded, attack):
    rows = graded["rows"]
    square, row_sums = rows[f"a_{attack}.ipynb", "99.1"], rows[f"a_{attack}.ipynb", "99.2"]
    assert (square["points"], square["message"][:16]) == ("0", "square(x) is off"), square
    assert (row_sums["points"], row_sums["passed"]) == ("1", "true"), row_sums


def test_course_checkout_and_other_submissions_untouched(graded):
    before, after = graded["course"]
    assert after == before
    before, after = graded["submissions"]
    assert after == before


def test_classmate_and_later_blank_submission_graded_by_the_real_checkers(graded):
    rows = graded["rows"]
    assert [rows["m_classmate.ipynb", t]["points"] for t in ("99.1", "99.2")] == ["2", "1"]
    assert [rows["z_blank.ipynb", t]["points"] for t in ("99.1", "99.2")] == ["0", "0"]


def test_nothing_left_behind(graded):
    assert graded["left"] == []
    written, later = graded["out"]
    assert later == written and b"rewritten" not in later
    assert 1 <= graded["peak"] <= 2, "at most --jobs kernels (sandboxes) at once"
    assert "sandbox: bubblewrap works" in graded["stdout"]
    print(f"graded {len(graded['rows'])} rows in {graded['seconds']:.1f} s")


def test_instructor_report_written(graded):
    folder = graded["folder"]
    assert (folder / "gradebook.csv").exists() and (folder / "manual.csv").exists()
    pages = sorted(p.name for p in (folder / "feedback").iterdir())
    assert "m_classmate_99_fixture.html" in pages


@pytest.mark.parametrize("attack", sorted(set(ESCAPES) - {"leave_process"}))
def test_each_escape_works_without_the_sandbox(tmp_path, attack):
    """The fixtures are real: run bare in a scratch copy, each one reaches outside."""
    course = tmp_path / "course"
    shutil.copytree(
        Path(dlcourse.__file__).parent, course / "dlcourse", ignore=shutil.ignore_patterns("*.pyc")
    )
    shutil.copytree(FIXTURES / "solutions", course / "solutions")
    (course / "submissions").mkdir()
    shutil.copy(FIXTURES / "submissions" / "correct.ipynb", course / "submissions")
    (course / "solutions" / "99_fixture.ipynb").write_text("### BEGIN SOLUTION", encoding="utf-8")
    paths = {
        "course": str(course),
        "submissions": str(course / "submissions"),
        "out": str(course / "grading" / "scores.csv"),
    }
    (course / "grading").mkdir()
    code = "import dlcourse\n" + PROLOGUE.format(**paths) + ESCAPES[attack] + "print(ESCAPED)"
    work = tmp_path / "work"
    work.mkdir()
    env = dict(os.environ, PYTHONPATH=str(course))
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=work, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() not in ("", "[]"), f"{attack} did not reach outside: {done.stdout}"
