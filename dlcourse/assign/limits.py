"""Kernel launch wrapper: apply resource limits, then become the kernel.

The grader starts each kernel as::

    python -m dlcourse.assign.limits --memory-mb 4096 -- python -m ipykernel_launcher -f ...

On Linux the address-space limit (``RLIMIT_AS``) makes an allocation beyond it fail
with ``MemoryError`` inside the learner's cell. macOS accepts but does not enforce
``RLIMIT_AS``, and Windows has no ``resource`` module: there only the grader's time
limits apply (see docs/instructors.md).
"""

from __future__ import annotations

import argparse
import os
import sys


def apply_memory_limit(memory_mb: int) -> bool:
    """Limit this process's address space to ``memory_mb`` MiB; False where unsupported."""
    try:
        import resource
    except ImportError:  # Windows
        return False
    limit = memory_mb * 1024 * 1024
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        # soft and hard: learner code cannot raise it again (unless it runs as root,
        # which the grading sandbox prevents: see dlcourse/assign/sandbox.py)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        return False
    return sys.platform.startswith("linux")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-mb", type=int, default=0, help="0: no limit")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the kernel command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no kernel command given after --")
    if args.memory_mb > 0:
        apply_memory_limit(args.memory_mb)
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
