"""Executing one notebook for grading: a fresh kernel, its own folders, time and memory limits.

:func:`run_notebook` runs every code cell of a notebook in order (a cell that raises
does not stop the others, so later tasks still earn their points), then one more
piece of code — the grader's — in the same kernel, and reports what happened:

- **time**: each cell may run ``cell_timeout`` seconds and the notebook ``timeout``
  seconds in all (nbclient's clock, on every OS). A cell over its limit is
  interrupted (KeyboardInterrupt); cells left when the notebook's time is up are
  skipped. The grader's own code then gets ``cell_timeout`` seconds of its own. A
  kernel that ignores the interrupt is killed when the grader's code times out.
- **memory**: on Linux the kernel starts under ``RLIMIT_AS`` (see
  :mod:`dlcourse.assign.limits`), so a huge allocation raises ``MemoryError``; a file
  larger than ``file_mb`` cannot be written; in the sandbox, ``processes`` bounds the
  processes and threads (a fork bomb).
- **output**: a cell's output beyond ``max_output_mb`` is dropped as it arrives.
- **place**: the kernel's working directory is the given folder, and HOME, the
  temporary folder and the Jupyter, IPython and matplotlib folders point into it.

None of this is a security sandbox: the code runs with the grader's user rights.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode, v4

from dlcourse.assign import limits as limits_module
from dlcourse.assign.sandbox import Sandbox, user_for
from dlcourse.data import default_cache_dir


@dataclass(frozen=True)
class Limits:
    """What a submission may use: seconds per notebook and per cell, memory, output."""

    timeout: float = 600.0
    cell_timeout: float = 600.0
    memory_mb: int = 4096  # 0: no limit
    max_output_mb: float = 5.0
    task_timeout: float = 60.0  # seconds for one task's checks and hidden tests
    file_mb: int = 1024  # the largest file the kernel may write; 0: no limit
    processes: int = 256  # processes and threads, in the sandbox only; 0: no limit


@dataclass
class CellError:
    """A cell that raised: 1-based cell number, exception name and message."""

    cell: int
    ename: str
    evalue: str

    def __str__(self) -> str:
        evalue = self.evalue if len(self.evalue) <= 120 else self.evalue[:117] + "..."
        return f"cell {self.cell} raised {self.ename}" + (f": {evalue}" if evalue else "")


@dataclass
class Run:
    """The outcome of :func:`run_notebook`."""

    errors: list[CellError] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # time/memory/output/kernel trouble
    final_outputs: list[dict] = field(default_factory=list)  # outputs of the grader's code
    final_ran: bool = False


class _GradingClient(NotebookClient):
    """nbclient that keeps at most ``max_output_bytes`` of output per cell."""

    max_output_bytes = 1 << 20

    def reset_cell_state(self) -> None:
        self.output_bytes = 0
        self.output_truncated = False
        self.timed_out = False

    async def _async_handle_timeout(self, timeout: int, cell: Any = None) -> Any:
        self.timed_out = True
        return await super()._async_handle_timeout(timeout, cell)

    def output(
        self, outs: list[Any], msg: dict[str, Any], display_id: str | None, cell_index: int
    ) -> Any:
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(
            len(v) if isinstance(v, str) else len(json.dumps(v))
            for v in content.get("data", {}).values()
        )
        self.output_bytes += size
        if self.output_bytes > self.max_output_bytes:
            if not self.output_truncated:
                self.output_truncated = True
                outs.append(v4.new_output("stream", name="stderr", text="[output truncated]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)


def _kernel_manager(
    limits: Limits, sandbox: Sandbox | None = None, home: Path | None = None, marker: str = ""
) -> AsyncKernelManager:
    """A kernel manager whose kernel starts through the limits wrapper (in ``sandbox``)."""
    if sandbox is not None and home is not None:
        return _sandboxed_kernel_manager(limits, sandbox, home, marker)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if os.name == "posix":
        # The wrapper sets the limits and exec()s the kernel in the same process. It runs
        # as a script: it needs only the standard library, not dlcourse. (Windows has no
        # rlimits, and its exec() starts a new process, which the manager would see die.)
        # No process limit here: outside a sandbox it would count all of the user's.
        script = str(Path(limits_module.__file__))
        argv = [sys.executable, script, *_limit_options(limits, processes=False), "--", *argv]
    km = AsyncKernelManager(kernel_name="python3")
    km._kernel_spec = KernelSpec(  # an in-memory spec: nothing installed anywhere
        argv=argv, display_name="dlcourse grader", language="python", env={}
    )
    return km


class _HandingOverKernelManager(AsyncKernelManager):
    """A kernel manager that gives the connection file it writes (0600, the grader's) to
    the sandbox's user, who must read it."""

    sandbox: Sandbox | None = None
    uid: int = 0

    def write_connection_file(self, **kwargs: Any) -> None:
        super().write_connection_file(**kwargs)
        if self.sandbox is not None:
            self.sandbox.hand_over(Path(self.connection_file), self.uid)


def _limit_options(limits: Limits, processes: bool) -> list[str]:
    """The limits wrapper's options for ``limits`` (the process limit only if asked)."""
    options = [f"--memory-mb={limits.memory_mb}", f"--file-mb={limits.file_mb}"]
    return [*options, f"--processes={limits.processes}"] if processes else options


def _sandboxed_kernel_manager(
    limits: Limits, sandbox: Sandbox, home: Path, marker: str
) -> AsyncKernelManager:
    """The kernel inside bubblewrap; the grader reaches it over ipc sockets in the folder
    (the sandbox has no network), and interrupts it with a message (a signal would reach
    only bwrap). ``home``'s parent is the submission's folder, bound into the sandbox."""
    folder = home.parent
    inner = [sandbox.python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    options = _limit_options(limits, processes=True)
    inner = [sandbox.python, sandbox.limits_script, *options, "--", *inner]
    env = sandbox.env(home, marker)
    uid = user_for(marker)
    sandbox.hand_over(folder, uid)
    argv = sandbox.command(folder, folder / "work", env, inner, uid)
    km = _HandingOverKernelManager(
        kernel_name="python3", transport="ipc", connection_file=str(folder / "kernel.json")
    )
    km.sandbox, km.uid = sandbox, uid
    km._kernel_spec = KernelSpec(
        argv=argv,
        display_name="dlcourse grader (sandbox)",
        language="python",
        env={},
        interrupt_mode="message",
    )
    return km


def kernel_env(home: Path, marker: str = "") -> dict[str, str]:
    """The kernel's environment: ours, with HOME and every config/temp folder inside ``home``
    (and ``DLCOURSE_SANDBOX=marker``, by which leftover processes are found)."""
    env = dict(os.environ)
    env.update(
        DLCOURSE_SANDBOX=marker,
        HOME=str(home),
        USERPROFILE=str(home),
        TMPDIR=str(home / "tmp"),
        TEMP=str(home / "tmp"),
        TMP=str(home / "tmp"),
        IPYTHONDIR=str(home / ".ipython"),
        MPLCONFIGDIR=str(home / ".matplotlib"),
        JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
        JUPYTER_DATA_DIR=str(home / ".local" / "share" / "jupyter"),
        MPLBACKEND="agg",
        PYTHONDONTWRITEBYTECODE="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        # Shared, read-mostly: MNIST downloaded once for all submissions.
        DLCOURSE_DATA_DIR=str(default_cache_dir()),
    )
    env.setdefault("MALLOC_ARENA_MAX", "2")  # keeps virtual memory (RLIMIT_AS) near real use
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    for key in ("JUPYTER_PATH", "PYTHONSTARTUP"):
        env.pop(key, None)
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    return env


def _seconds(value: float) -> str:
    return f"{value:.3g} s"


def _execute(
    client: _GradingClient, cell: NotebookNode, index: int, timeout: float, limit: str
) -> str | None:
    """Run one cell within ``timeout`` seconds (``limit`` names them); a problem or None."""
    client.timeout = max(1, round(timeout))
    client.reset_cell_state()
    try:
        client.execute_cell(cell, index)
    except CellTimeoutError:
        client.timed_out = True
    if client.timed_out:
        return f"cell {index + 1} did not finish within {limit}; interrupted"
    if client.output_truncated:
        mb = client.output_bytes / 1e6
        cap = client.max_output_bytes / 1e6
        return f"cell {index + 1} printed {mb:.1f} MB (more than {cap:g} MB); output dropped"
    return None


def _error_of(cell: NotebookNode, index: int) -> CellError | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" and output.get("ename") != "KeyboardInterrupt":
            # IPython names cells like "1919612535.py": keep only the line number.
            evalue = re.sub(r"\(\d+\.py, line (\d+)\)", r"(line \1)", output.get("evalue", ""))
            return CellError(index + 1, output.get("ename", ""), evalue)
    return None


def run_notebook(
    nb: NotebookNode,
    workdir: Path,
    home: Path,
    limits: Limits,
    final: str,
    final_timeout: float | None = None,
    sandbox: Sandbox | None = None,
    marker: str = "",
) -> Run:
    """Execute ``nb``'s code cells in ``workdir``, then ``final``; ``nb`` gets the outputs.

    ``final`` may run ``final_timeout`` seconds (default: the limit per cell). With a
    ``sandbox``, the kernel runs sealed off in it (``workdir`` and ``home`` must sit in one
    folder, which is the only one it can write); ``marker`` tags its processes.
    """
    final_timeout = final_timeout or limits.cell_timeout
    run = Run()
    client = _GradingClient(
        nb,
        km=_kernel_manager(limits, sandbox, home, marker),
        allow_errors=True,
        interrupt_on_timeout=True,
        error_on_timeout={"ename": "TimeoutError", "evalue": "time limit", "traceback": []},
        record_timing=False,
        startup_timeout=120,
        iopub_timeout=3,  # after a reply, or after an interrupt, wait this long for output
        shutdown_kernel="immediate",
    )
    client.max_output_bytes = int(limits.max_output_mb * 1e6)
    current = 0
    try:
        with (
            open(home / "kernel.log", "wb") as log,
            # cleanup_kc: shut the kernel down on leaving, though we made its manager
            # (nbclient keeps kernels it does not own alive: they piled up until exit)
            client.setup_kernel(
                env=kernel_env(home, marker),
                cwd=str(workdir),
                stdout=log,
                stderr=log,
                cleanup_kc=True,
            ),
        ):
            deadline = time.monotonic() + limits.timeout  # from a started kernel on
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    run.problems.append(
                        f"the notebook used its {_seconds(limits.timeout)}; "
                        f"cells from {index + 1} on were not run"
                    )
                    break
                current = index + 1
                if remaining < limits.cell_timeout:
                    timeout, limit = remaining, f"the notebook's {_seconds(limits.timeout)}"
                else:
                    timeout = limits.cell_timeout
                    limit = f"{_seconds(timeout)} (the limit per cell)"
                problem = _execute(client, cell, index, timeout, limit)
                error = _error_of(cell, index)
                if "raises-exception" in cell.metadata.get("tags", []):
                    error = None  # the author marked this cell as raising on purpose
                if problem:
                    run.problems.append(problem)
                    if client.timed_out and timeout == remaining:
                        deadline = time.monotonic()  # the notebook's time is up (not rounding)
                if error:
                    run.errors.append(error)
            current = 0
            grader = v4.new_code_cell(final)
            nb.cells.append(grader)  # nbclient stores each executed cell back into nb
            try:
                problem = _execute(client, grader, len(nb.cells) - 1, final_timeout, "")
            finally:
                nb.cells.pop()
            if client.timed_out:
                run.problems.append(
                    f"the grader's session did not finish within {final_timeout:g} s"
                )
            elif problem:
                run.problems.append(f"the grader's session: {problem}")
            else:
                run.final_ran = True
                run.final_outputs = list(grader.outputs)
    except DeadKernelError:
        run.problems.append(
            "the kernel died (out of memory, or the code ended the Python process)"
            + (f" in cell {current}" if current else " while the grader's session ran")
        )
    except Exception as err:  # a kernel that would not start, a broken client...
        run.problems.append(f"the notebook could not be run: {type(err).__name__}: {err}")
    if any("kernel" in problem.lower() for problem in run.problems):
        last = _last_log_line(home / "kernel.log")
        if last:
            run.problems.append(f"the kernel's last words: {last}")
    return run


def _last_log_line(path: Path) -> str:
    """The last line of the kernel's stderr that is not ipykernel's usual chatter."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in lines if line.strip() and "[IPKernelApp]" not in line]
    return lines[-1][:300] if lines else ""
