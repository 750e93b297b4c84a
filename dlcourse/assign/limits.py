"""Kernel launch wrapper: apply resource limits, then become the kernel.

The grader starts each kernel as::

    python -m dlcourse.assign.limits --memory-mb 4096 --file-mb 1024 \\
        -- python -m ipykernel_launcher -f ...

On Linux the address-space limit (``RLIMIT_AS``) makes an allocation beyond it fail
with ``MemoryError`` inside the learner's cell. The file-size limit (``RLIMIT_FSIZE``)
makes a write beyond it fail with ``OSError: [Errno 27] File too large`` (Python ignores
the SIGXFSZ signal that would otherwise end the process). In the grading sandbox the
process limit (``RLIMIT_NPROC``, ``--processes``) stops a fork bomb: there the kernel
runs as a user of its own (a uid of the submission's when grading as root; in its own
user namespace otherwise, where Linux 5.14 and later count only the sandbox's
processes). macOS accepts but does not enforce ``RLIMIT_AS``, and Windows has no
``resource`` module: there only the grader's time limits apply (see
docs/instructors.md).
"""

from __future__ import annotations

import argparse
import os
import sys


def apply_memory_limit(memory_mb: int) -> bool:
    """Limit this process's address space to ``memory_mb`` MiB; False where unsupported."""
    return _set_limit("RLIMIT_AS", memory_mb * 1024 * 1024) and sys.platform.startswith("linux")


def apply_file_limit(file_mb: int) -> bool:
    """Limit the size of any file this process writes to ``file_mb`` MiB."""
    return _set_limit("RLIMIT_FSIZE", file_mb * 1024 * 1024)


def apply_process_limit(processes: int) -> bool:
    """Limit the processes (and threads) its user may have to ``processes``."""
    return _set_limit("RLIMIT_NPROC", processes)


def become(uid: int) -> None:
    """Drop root for good: no new privileges (setuid files stop working), no extra groups,
    then gid and uid ``uid`` (which also clears every capability). The grading sandbox
    runs this first when the grader is root."""
    import ctypes

    pr_set_no_new_privs = 38
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise OSError(f"expected to run as uid {uid} but runs as {os.geteuid()}")


def _set_limit(name: str, limit: int) -> bool:
    """Set soft and hard limit ``name`` (never above the current hard limit); False where
    the platform has no such limit."""
    try:
        import resource
    except ImportError:  # Windows
        return False
    kind = getattr(resource, name, None)
    if kind is None:
        return False
    try:
        _, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        # soft and hard: learner code cannot raise it again (unless it runs as root,
        # which the grading sandbox prevents: see dlcourse/assign/sandbox.py)
        resource.setrlimit(kind, (limit, limit))
    except (ValueError, OSError):
        return False
    return True


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, default=0, help="0: no limit")
    parser.add_argument("--file-mb", type=int, default=0, help="largest file; 0: no limit")
    parser.add_argument("--processes", type=int, default=0, help="0: no limit")
    parser.add_argument("--user", type=int, default=None, help="become this uid/gid (as root)")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the kernel command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no kernel command given after --")
    if args.user is not None:
        become(args.user)
    if args.memory_mb > 0:
        apply_memory_limit(args.memory_mb)
    if args.file_mb > 0:
        apply_file_limit(args.file_mb)
    if args.processes > 0:
        apply_process_limit(args.processes)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
