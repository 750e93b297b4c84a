"""Sealing a submission off: each kernel runs in a bubblewrap sandbox (Linux).

What the learner's code sees inside the sandbox (:meth:`Sandbox.command`):

- the system's ``/usr`` (read-only), the base interpreter's prefix (read-only), and a
  **private venv** made once per grading run (:func:`prepare`): a copy of the grader's
  site-packages (hard links where possible) without the editable install that points
  into the course, and a copy of the ``dlcourse`` package **without** ``checks/``,
  ``assign/`` (bar the two kernel-side files) or anything else of the grader's; the
  exercises' ``from dlcourse.checks import check`` finds a stub that does nothing;
- the submission's own temporary folder (read-write: its working folder, its HOME, the
  judge's Unix socket, the kernel's connection file and ipc sockets), at the same path;
- the shared data cache, read-only;
- its own ``/proc`` (it sees only its own processes), ``/dev``, an empty ``/tmp``; no
  network (``--unshare-net``), its own pid namespace with ``--die-with-parent`` (killing
  the sandbox kills every process the submission started), ``--new-session`` (no
  terminal injection), and, when the grader runs as root, a real unprivileged uid/gid of
  the submission's own (:func:`user_for`) with no capabilities and ``no_new_privs`` (so
  the code cannot raise its own limits, and is not root outside either: as root no user
  namespace is made, see :meth:`Sandbox.command`).

Nothing of the course checkout, the solutions, the other submissions or the output path
is mounted. The grader talks to the kernel over ipc (Unix sockets in the submission's
folder), and the judge over ``judge.sock`` there too.

:func:`probe` runs a tiny sandbox first and says what failed when it cannot start
(containers and some distributions refuse user namespaces).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dlcourse

BWRAP = "bwrap"
NOBODY = 65534
# As root, each submission's kernel runs as a uid of its own in this range (no files on the
# system belong to it), so that one submission's fork bomb does not use up the process
# limit of another graded at the same time (--jobs).
FIRST_UID, UIDS = 200_000, 100_000
INSIDE = "/sandbox"  # where the private venv and tools appear inside
REQUIRE_ENV = "DLCOURSE_REQUIRE_SANDBOX"

# The kernel side needs only these two files of the grader's package.
KERNEL_SIDE = ("kernelside.py", "wire.py")

CHECKS_STUB = '''"""Self-checks do not run while a submission is graded (the grader judges).

This stub stands in for ``dlcourse.checks`` inside the grading sandbox, so that the
exercise's ``from dlcourse.checks import check`` still works; it holds no checker.
"""


def check(task, *objects):
    """Do nothing: the grader checks this task outside the notebook."""
    return None


def checker(task, uses=(), seconds=20):
    """Register nothing (an assignment's own checker module imports this)."""
    return lambda function: function


def __getattr__(name):
    return _nothing


def _nothing(*args, **kwargs):
    return None
'''

SUBMODULE_STUB = '''"""Stub of a checks module inside the grading sandbox: it holds nothing."""


def __getattr__(name):
    return _nothing


def _nothing(*args, **kwargs):
    return None
'''

ASSIGN_STUB = '"""Only the kernel side of the grader (kernelside, wire) is in the sandbox."""\n'


class SandboxUnavailable(RuntimeError):
    """No working sandbox here; the message says what failed."""


@dataclass(frozen=True)
class Sandbox:
    """A prepared private venv (``root``) and how to start a kernel sealed inside it."""

    root: Path  # holds venv/ and tools/ (made by :func:`prepare`)
    base_prefix: Path  # the base interpreter's installation (bound read-only)
    python_name: str  # e.g. "python3.11"
    data_dir: Path | None = None  # the shared data cache (bound read-only)
    as_root: bool = False  # the grader is root: drop to nobody with no capabilities

    @property
    def python(self) -> str:
        """The interpreter inside the sandbox (a venv whose site-packages is the copy)."""
        return f"{INSIDE}/venv/bin/python"

    @property
    def limits_script(self) -> str:
        """The memory-limit launch wrapper inside the sandbox (dlcourse/assign/limits.py)."""
        return f"{INSIDE}/tools/limits.py"

    def env(self, home: Path, marker: str) -> dict[str, str]:
        """The kernel's whole environment (nothing of the grader's is passed on)."""
        tmp = home / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{INSIDE}/venv/bin:/usr/bin:/bin",
            "HOME": str(home),
            "USER": "learner",
            "LOGNAME": "learner",
            "LANG": "C.UTF-8",
            "TMPDIR": str(tmp),
            "IPYTHONDIR": str(home / ".ipython"),
            "MPLCONFIGDIR": str(home / ".matplotlib"),
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
            "JUPYTER_DATA_DIR": str(home / ".local" / "share" / "jupyter"),
            "JUPYTER_RUNTIME_DIR": str(home / ".local" / "share" / "jupyter" / "runtime"),
            "MPLBACKEND": "agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "MALLOC_ARENA_MAX": "2",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "DLCOURSE_SANDBOX": marker,
        }
        for key in ("DLCOURSE_QUICK", "DLCOURSE_OFFLINE"):
            if key in os.environ:
                env[key] = os.environ[key]
        if self.data_dir is not None:
            env["DLCOURSE_DATA_DIR"] = f"{INSIDE}/data"
        return env

    def command(
        self,
        folder: Path,
        workdir: Path,
        env: dict[str, str],
        argv: list[str],
        uid: int = NOBODY,
    ) -> list:
        """bwrap arguments that run ``argv`` sealed off, with ``folder`` bound read-write
        (as root: as ``uid``, to whom :meth:`hand_over` gave the folder).

        As root there is no user namespace: in one, the sandbox's uid would map to root
        outside (kernel uid 0, exempt from the process limit and owner of root's files).
        Instead the limits wrapper becomes uid/gid ``uid`` for real before anything of the
        submission runs (see :func:`dlcourse.assign.limits.become`), and the folders on
        the way to every mount are made traversable for it.
        """
        if self.as_root:
            unshare = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
            unshare += ["--unshare-cgroup-try"]
            argv = [self.python, self.limits_script, f"--user={uid}", "--", *argv]
        else:
            unshare = ["--unshare-all", "--unshare-pid"]
        args = [
            BWRAP,
            *unshare,
            "--die-with-parent",
            "--new-session",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/usr",
            "/usr",
        ]
        for name in ("bin", "lib", "lib64", "sbin", "lib32"):
            path = Path("/") / name
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), str(path)]
            elif path.is_dir():
                args += ["--ro-bind", str(path), str(path)]
        for name in ("ld.so.cache", "localtime", "fonts", "ssl/certs"):
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/tmp"]
        mounts = [
            ("--ro-bind", self.base_prefix, Path(self.base_prefix)),
            ("--ro-bind", self.root / "venv", Path(f"{INSIDE}/venv")),
            ("--ro-bind", self.root / "tools", Path(f"{INSIDE}/tools")),
        ]
        if self.data_dir is not None and self.data_dir.is_dir():
            mounts.append(("--ro-bind", self.data_dir, Path(f"{INSIDE}/data")))
        mounts.append(("--bind", folder, Path(folder)))
        made: set[Path] = set()
        for kind, source, target in mounts:
            if self.as_root:
                args += _parent_dirs(target, made)
            args += [kind, str(source), str(target)]
        args += ["--chdir", str(workdir), "--clearenv"]
        for key, value in env.items():
            args += ["--setenv", key, value]
        return [*args, "--", *argv]

    def hand_over(self, folder: Path, uid: int = NOBODY) -> None:
        """As root, give the submission's folder (and all in it) to the sandbox's user."""
        if not self.as_root:
            return
        inside = list(Path(folder).rglob("*")) if Path(folder).is_dir() else []
        for path in [Path(folder), *inside]:
            os.chown(path, uid, uid, follow_symlinks=False)


def user_for(marker: str) -> int:
    """The uid a submission's kernel runs as when grading as root (from its marker)."""
    digest = hashlib.sha256(marker.encode()).digest()
    return FIRST_UID + int.from_bytes(digest[:4], "big") % UIDS


# Mounted before the submission's own: their insides exist, and are not to be created.
_SYSTEM_MOUNTS = tuple(Path(p) for p in ("/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc"))


def _parent_dirs(target: Path, made: set[Path]) -> list[str]:
    """bwrap arguments that create the folders above ``target`` readable by everyone
    (bwrap would make them 0700, closed to the sandbox's unprivileged user)."""
    args: list[str] = []
    for parent in reversed(target.parents):
        inside_system = any(parent == m or m in parent.parents for m in _SYSTEM_MOUNTS)
        if parent in (Path("/"), Path("/tmp")) or inside_system or parent in made:
            continue
        made.add(parent)
        args += ["--perms", "0755", "--dir", str(parent)]
    return args


# ------------------------------------------------------------------ the private venv


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _site_packages() -> Path:
    return Path(sysconfig.get_paths()["purelib"])


def _is_course_hook(name: str) -> bool:
    """Files of the editable install that would import the course checkout."""
    lower = name.lower()
    return lower.startswith(("__editable__", "dlcourse")) or (
        lower.endswith(".pth") and "dlcourse" in lower
    )


def copy_package(target: Path) -> None:
    """Copy the ``dlcourse`` package to ``target`` without the grader and the checkers."""
    source = Path(dlcourse.__file__).parent
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "checks", "assign")
    shutil.copytree(source, target, ignore=ignore)
    (target / "assign").mkdir()
    (target / "assign" / "__init__.py").write_text(ASSIGN_STUB, encoding="utf-8")
    for name in KERNEL_SIDE:
        shutil.copy2(source / "assign" / name, target / "assign" / name)
    (target / "checks").mkdir()
    (target / "checks" / "__init__.py").write_text(CHECKS_STUB, encoding="utf-8")
    for module in (source / "checks").glob("*.py"):
        if module.name != "__init__.py":
            (target / "checks" / module.name).write_text(SUBMODULE_STUB, encoding="utf-8")


def prepare(root: Path, data_dir: Path | None = None) -> Sandbox:
    """Make the private venv under ``root`` (once per grading run) and return the sandbox."""
    root = Path(root)
    base_executable = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    base_prefix = Path(sys.base_prefix).resolve()
    python_name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    venv = root / "venv"
    site = venv / "lib" / python_name / "site-packages"
    (venv / "bin").mkdir(parents=True)
    inside_python = f"{INSIDE}/venv/bin/python"
    (venv / "bin" / "python").symlink_to(base_executable)
    (venv / "bin" / "python3").symlink_to("python")
    (venv / "bin" / python_name).symlink_to("python")
    (venv / "pyvenv.cfg").write_text(
        f"home = {base_executable.parent}\ninclude-system-site-packages = false\n"
        f"version = {sys.version_info.major}.{sys.version_info.minor}."
        f"{sys.version_info.micro}\nexecutable = {base_executable}\n"
        f"command = (dlcourse grading sandbox) {inside_python}\n",
        encoding="utf-8",
    )
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")

    def skip(folder: str, names: list[str]) -> set[str]:
        skipped = set(ignore(folder, names))
        if Path(folder) == _site_packages():
            skipped |= {name for name in names if _is_course_hook(name)}
        return skipped

    shutil.copytree(_site_packages(), site, ignore=skip, copy_function=_link_or_copy)
    copy_package(site / "dlcourse")
    (root / "tools").mkdir()
    limits_file = Path(__file__).with_name("limits.py")
    shutil.copy2(limits_file, root / "tools" / "limits.py")
    for path in (root, venv, root / "tools"):
        path.chmod(0o755)
    return Sandbox(
        root=root,
        base_prefix=base_prefix,
        python_name=python_name,
        data_dir=data_dir,
        as_root=hasattr(os, "geteuid") and os.geteuid() == 0,
    )


# ------------------------------------------------------------------ is there one?


def probe(sandbox: Sandbox, folder: Path) -> None:
    """Start a sandbox that imports numpy, ipykernel and the package copy, and checks that
    it cannot see the course; raise :class:`SandboxUnavailable` saying what failed."""
    if shutil.which(BWRAP) is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        )
    course = Path(dlcourse.__file__).parent
    code = (
        "import os, sys, numpy, ipykernel, dlcourse, dlcourse.assign.kernelside\n"
        f"assert not os.path.exists({str(course)!r}), 'the course is visible'\n"
        "print('sandbox ok', os.getuid())\n"
    )
    home = folder / "home"
    env = sandbox.env(home, "probe")
    sandbox.hand_over(folder)
    argv = sandbox.command(folder, folder, env, [sandbox.python, "-c", code])
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise SandboxUnavailable(f"bwrap could not be started: {err}") from err
    if done.returncode != 0 or "sandbox ok" not in done.stdout:
        said = (done.stderr.strip().splitlines() or ["(nothing)"])[-1]
        raise SandboxUnavailable(f"bwrap failed (exit {done.returncode}): {said}")


def required() -> bool:
    """Whether a missing sandbox must fail (tests, CI: ``DLCOURSE_REQUIRE_SANDBOX=1``)."""
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


# ------------------------------------------------------------------ nothing left behind


def tagged_processes(marker: str) -> list[int]:
    """Processes whose environment carries ``DLCOURSE_SANDBOX=marker`` (Linux /proc)."""
    if not marker or not Path("/proc").is_dir():
        return []
    needle = f"DLCOURSE_SANDBOX={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def reap(marker: str, seconds: float = 10.0) -> list[int]:
    """Kill every process tagged ``marker`` and wait until they are gone; return those
    that had to be killed. Without a sandbox this is best effort (a process that clears
    its environment is not found); in one, killing bwrap already ended them all."""
    killed: list[int] = []
    deadline = time.monotonic() + seconds
    while True:
        left = tagged_processes(marker)
        if not left or time.monotonic() > deadline:
            return killed
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                continue
            if pid not in killed:
                killed.append(pid)
        time.sleep(0.05)


# ------------------------------------------------------------------ for a grading run

WARNING = """
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!! GRADING WITHOUT A SANDBOX: {reason}
!! Each submission's code runs as you, with your files, network and processes in reach:
!! it can read the solutions, change the course, other submissions and the output.
!! Grade only submissions you trust, or install bubblewrap (apt-get install bubblewrap).
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
"""


@contextlib.contextmanager
def sealed(want: bool | None, say: Callable[[str], None]) -> Iterator[Sandbox | None]:
    """The sandbox for one grading run (prepared, probed, removed afterwards), or None.

    ``want``: None = use one if it works, else warn loudly; True = required; False = none.
    Without one, grading as root is refused (the code could do anything), and so is a
    missing sandbox when ``DLCOURSE_REQUIRE_SANDBOX=1`` (tests, CI).
    """
    as_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if want is False:
        reason = "switched off (--no-sandbox)"
    elif shutil.which(BWRAP) is None:  # say so without preparing anything
        reason = "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
        if want or required():
            raise SandboxUnavailable(f"no sandbox: {reason}")
    else:
        with tempfile.TemporaryDirectory(prefix="dlcourse-sandbox-") as tmp:
            try:
                box = prepare(Path(tmp) / "box", _data_dir())
                (Path(tmp) / "probe").mkdir()
                probe(box, Path(tmp) / "probe")
            except (SandboxUnavailable, OSError) as err:
                if want or required():
                    raise SandboxUnavailable(f"no sandbox: {err}") from err
                reason = str(err)
            else:
                say("sandbox: bubblewrap works; every submission runs sealed off")
                yield box
                return
    if as_root:
        raise SandboxUnavailable(
            f"refusing to grade as root without a sandbox ({reason}): the submissions' code "
            "would run as root. Install bubblewrap, or grade as an unprivileged user."
        )
    say(WARNING.format(reason=reason))
    yield None


def _data_dir() -> Path | None:
    from dlcourse.data import default_cache_dir

    path = Path(default_cache_dir())
    return path if path.is_dir() else None
