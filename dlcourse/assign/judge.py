"""The judge: runs the checkers and hidden tests in the grader's process, on proxies.

The judge listens on a local socket. The submission's kernel, once its cells have
run, connects (:func:`dlcourse.assign.kernelside.serve`, with a token it could not
know before) and then, task by task, a child process of the kernel connects and
answers the judge's requests. The checker of a task receives a :class:`Proxy` for
each learner object it uses: calling the proxy, reading an attribute or calling a
method sends a request and turns the data that comes back into the return value, the
arguments' in-place changes, or the learner's exception (same type for builtin
exceptions, :class:`LearnerError` otherwise). A function the checker hands in (a loss
for ``numerical_gradient``, a hidden test's lambda) stays here and is called back by
handle with data. Inputs come from ``case_rng`` seeded with a secret.

A task is scored 0 with a message naming it when its child runs out of time, dies,
or sends data the grader refuses; the other tasks go on.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import inspect
import os
import secrets
import socket
import threading
import time
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from dlcourse.assign import wire

_ERRSTATE = ("ignore", "warn", "raise", "print")


class TaskAborted(BaseException):
    """The task's kernel child stopped answering (time, memory, crash, refused data)."""


class LearnerError(Exception):
    """An exception raised by learner code whose type is not a Python builtin."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class TaskResult:
    """What the judge decided for one task."""

    task: str
    passed: bool
    message: str


def _learner_error(kind: str, message: str, bases: Any) -> LearnerError:
    """A :class:`LearnerError` that is also the builtin classes ``kind`` derives from, so a
    checker's ``except ValueError`` catches numpy's AxisError as it would in the kernel."""
    builtin = [
        cls
        for name in (bases if isinstance(bases, list) else [])[:4]
        if isinstance(cls := getattr(builtins, str(name), None), type)
        and issubclass(cls, Exception)
        and cls is not AssertionError
    ]
    for count in range(len(builtin), 0, -1):
        try:
            mixed = type(
                kind if kind.isidentifier() else "LearnerError",
                (LearnerError, *builtin[:count]),
                {},
            )
            return mixed(kind, message)
        except TypeError:  # builtin layouts that do not mix
            continue
    return LearnerError(kind, message)


def _remote_exception(error: dict) -> BaseException:
    kind, message = str(error.get("type", "Exception")), str(error.get("message", ""))
    cls = getattr(builtins, kind, None)
    if isinstance(cls, type) and issubclass(cls, Exception) and cls is not AssertionError:
        try:
            err: BaseException = cls(message)
        except Exception:
            err = LearnerError(kind, message)
    else:
        err = _learner_error(kind, message, error.get("bases"))
    err.remote_where = str(error.get("where", ""))  # type: ignore[attr-defined]
    err.remote_type = kind  # type: ignore[attr-defined]
    return err


def _write_back(original: Any, new: Any) -> None:
    """Make ``original`` (an argument the judge passed) look like ``new`` (it after the call)."""
    if isinstance(original, np.ndarray) and isinstance(new, np.ndarray):
        if original.shape == new.shape and original.flags.writeable:
            with contextlib.suppress(TypeError, ValueError):
                original[...] = new
    elif isinstance(original, dict) and isinstance(new, dict):
        for key in [k for k in original if k not in new]:
            del original[key]
        for key, value in new.items():
            if key in original and isinstance(original[key], (np.ndarray, dict, list)):
                _write_back(original[key], value)
                if type(original[key]) is not type(value) or (
                    isinstance(value, np.ndarray) and original[key].shape != value.shape
                ):
                    original[key] = value
            else:
                original[key] = value
    elif isinstance(original, list) and isinstance(new, list):
        for i, value in enumerate(new[: len(original)]):
            if isinstance(original[i], (np.ndarray, dict, list)):
                _write_back(original[i], value)
            else:
                original[i] = value
        del original[len(new) :]
        original.extend(new[len(original) :])
    elif isinstance(original, tuple) and isinstance(new, tuple):
        for a, b in zip(original, new, strict=False):
            _write_back(a, b)
    elif isinstance(original, np.random.Generator) and isinstance(new, np.random.Generator):
        original.bit_generator.state = new.bit_generator.state


def _public_attribute(obj: Any, name: str) -> Any:
    """``obj.name`` for the kernel, if it is public and not a way out of the checker's objects.

    The kernel may read the public attributes of objects the checker handed it (a
    recording layer's ``forward``, its data), never ``_private`` or dunder ones
    (``__globals__`` leads to modules), and never a module, a class, a plain function or
    a module's builtin such as ``open`` (bound methods of the checker's objects are fine).
    """
    if name.startswith("_"):
        raise AttributeError(f"{name!r} is not available to your code")
    value = getattr(obj, name)
    owner = getattr(value, "__self__", None)
    module_builtin = isinstance(value, types.BuiltinFunctionType) and (
        owner is None or isinstance(owner, types.ModuleType)
    )
    if (
        isinstance(value, (types.ModuleType, type, types.FunctionType))
        or module_builtin
        or isinstance(owner, (types.ModuleType, type))
    ):
        raise AttributeError(f"{name!r} is not available to your code")
    return value


class Session:
    """One task's connection to its kernel child: requests, replies, handles, callbacks."""

    def __init__(self, sock: socket.socket, task: str, seconds: float) -> None:
        self.sock, self.task = sock, task
        self.deadline = time.monotonic() + seconds
        self.proxies: dict[int, Proxy] = {}
        self.callbacks: list[Any] = []
        self.callback_errors: dict[int, BaseException] = {}
        self.active: list[tuple[tuple, dict]] = []

    # -- encoding
    def handle(self, value: Any) -> dict:
        if isinstance(value, Proxy) and object.__getattribute__(value, "_session") is self:
            return {"$handle": object.__getattribute__(value, "_number")}
        if isinstance(value, Proxy):
            raise wire.WireError("an object of another task's session cannot be sent")
        # Anything else of the checker's (a function, a recording layer) stays here: the
        # kernel gets a handle and asks for calls and attributes (see kernelside._Callback).
        for number, known in enumerate(self.callbacks):
            if known is value:
                return {"$callback": number}
        self.callbacks.append(value)
        return {"$callback": len(self.callbacks) - 1}

    def resolve(self, data: dict) -> Any:
        if "$callback" in data:
            number = data["$callback"]
            if type(number) is not int or not 0 <= number < len(self.callbacks):
                raise wire.WireError(f"unknown callback {number!r}")
            return self.callbacks[number]
        number = data.get("$handle")
        if type(number) is not int or number < 0:
            raise wire.WireError(f"malformed handle {number!r}")
        if number not in self.proxies:
            self.proxies[number] = Proxy(self, number, str(data.get("type", "object"))[:100])
        return self.proxies[number]

    def decode(self, data: Any) -> Any:
        try:
            return wire.decode(data, self.resolve)
        except wire.WireError as err:
            raise TaskAborted(f"your code returned a value the grader refuses: {err}") from None

    # -- talking
    def _receive(self) -> dict:
        left = self.deadline - time.monotonic()
        self.sock.settimeout(max(0.1, left + 5))  # the kernel kills the child at the deadline
        try:
            return wire.receive(self.sock)
        except wire.WireError as err:
            raise TaskAborted(f"your code returned a value the grader refuses: {err}") from None
        except (OSError, ConnectionError):
            raise TaskAborted("") from None

    def request(self, message: dict) -> dict:
        """Send ``message`` and return the reply, serving the kernel's callbacks meanwhile."""
        try:
            wire.send(self.sock, message)
        except (OSError, ConnectionError):
            raise TaskAborted("") from None
        while True:
            reply = self._receive()
            if "callback" not in reply:
                return reply
            self._callback(reply)

    def _callback(self, message: dict) -> None:
        function = self.resolve({"$callback": message.get("callback")})
        for frame, now in zip(self.active, self.decode(message.get("sync", [])), strict=False):
            _write_back(frame[0], now[0])
            _write_back(frame[1], now[1])
        try:
            op = message.get("op", "call")
            if op == "getattr":
                value = _public_attribute(function, str(message.get("name")))
            elif op == "setattr":
                raise AttributeError("the objects a checker passes to your code are read-only")
            else:
                args = self.decode(message.get("args"))
                kwargs = self.decode(message.get("kwargs"))
                value = function(*args, **kwargs)
            reply = {"value": wire.encode(value, self.handle)}
        except TaskAborted:
            raise
        except Exception as err:
            number = len(self.callback_errors) + 1
            self.callback_errors[number] = err
            reply = {"error": {"type": type(err).__name__, "message": str(err), "id": number}}
        try:
            wire.send(self.sock, reply)
        except (OSError, ConnectionError):
            raise TaskAborted("") from None

    def value_of(self, reply: dict) -> Any:
        if "error" in reply:
            error = reply["error"] if isinstance(reply["error"], dict) else {}
            number = error.get("callback")
            if type(number) is int and number in self.callback_errors:
                raise self.callback_errors[number]  # a checker's function raised in learner code
            if error.get("type") == "GraderRefused":
                raise TaskAborted(
                    f"your code returned a value the grader refuses: {error['message']}"
                )
            raise _remote_exception(error)
        return self.decode(reply.get("value"))

    def lookup(self, name: str) -> Any:
        return self.value_of(self.request({"op": "lookup", "name": name}))

    def end(self) -> None:
        with contextlib.suppress(OSError, ConnectionError, wire.WireError):
            wire.send(self.sock, {"op": "end"})


class Proxy:
    """A learner object that stays in the kernel; calls and attributes become requests."""

    __slots__ = ("__weakref__", "_number", "_session", "_type")

    def __init__(self, session: Session, number: int, kind: str) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "_type", kind)

    def _target(self) -> dict:
        return {"$handle": object.__getattribute__(self, "_number")}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        message = {
            "op": "call",
            "target": self._target(),
            "args": wire.encode(args, session.handle),
            "kwargs": wire.encode(kwargs, session.handle),
            # the checker's np.errstate (e.g. over="raise" to catch an overflow) applies there
            "errstate": {k: v for k, v in np.geterr().items() if v in _ERRSTATE},
        }
        session.active.append((args, kwargs))
        try:
            reply = session.request(message)
        finally:
            session.active.pop()
        if "args" in reply:
            _write_back(args, session.decode(reply["args"]))
            _write_back(kwargs, session.decode(reply["kwargs"]))
        return session.value_of(reply)

    def __getattr__(self, name: str) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        if name == "__signature__":
            return self._signature(session)
        reply = session.request({"op": "getattr", "target": self._target(), "name": name})
        return session.value_of(reply)

    def __setattr__(self, name: str, value: Any) -> None:
        session: Session = object.__getattribute__(self, "_session")
        message = {
            "op": "setattr",
            "target": self._target(),
            "name": name,
            "value": wire.encode(value, session.handle),
        }
        session.value_of(session.request(message))

    def _signature(self, session: Session) -> inspect.Signature:
        reply = session.request({"op": "signature", "target": self._target()})
        parameters = [
            inspect.Parameter(
                str(name),
                inspect._ParameterKind(int(kind)),
                default=None if has_default else inspect.Parameter.empty,
            )
            for name, kind, has_default in session.value_of(reply)
        ]
        return inspect.Signature(parameters)

    def _dunder(self, name: str, *args: Any) -> Any:
        return self.__getattr__(name)(*args)

    def __len__(self) -> int:
        return self._dunder("__len__")

    def __getitem__(self, key: Any) -> Any:
        return self._dunder("__getitem__", key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._dunder("__setitem__", key, value)

    def __iter__(self) -> Any:
        return self._dunder("__iter__")

    def __next__(self) -> Any:
        return self._dunder("__next__")

    def __repr__(self) -> str:
        return f"<your {object.__getattribute__(self, '_type')} object>"


# ----------------------------------------------------------------------------- the judge


@dataclass
class TaskSpec:
    """What the judge runs for one task: its checker, the hidden tests, a package answer."""

    task: str
    hidden: str = ""
    package_answer: str = ""  # why the answer counts as the package's own (then 0 points)


def _free_names(code: str) -> list[str]:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return sorted(names - set(dir(builtins)))


def _hidden_failure(err: BaseException, tb_line: int | None) -> str:
    line = f" (line {tb_line} of the hidden tests)" if tb_line else ""
    detail = f": {err}" if str(err) else ""
    kind = getattr(err, "remote_type", type(err).__name__)
    return f"a hidden test failed{line}: {kind}{detail}"


def _hidden_line(err: BaseException) -> int | None:
    import traceback

    frames = [
        f for f in traceback.extract_tb(err.__traceback__) if f.filename.startswith("<hidden")
    ]
    return frames[-1].lineno if frames else None


class Judge:
    """Listens for one submission's kernel and judges its tasks (run it in a thread)."""

    def __init__(
        self, tasks: Iterable[TaskSpec], task_seconds: float, folder: str | None = None
    ) -> None:
        self.tasks = list(tasks)
        self.task_seconds = task_seconds
        self.token = secrets.token_hex(16)
        self.seed = secrets.randbits(63)
        self.address: str | tuple[str, int]
        if folder is not None and hasattr(socket, "AF_UNIX") and os.name == "posix":
            # A file in the submission's folder: a sandbox (issue 16) can bind it in.
            self.address = os.path.join(folder, "judge.sock")
            self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.server.bind(self.address)
            self.server.listen()
        else:
            self.server = socket.create_server(("127.0.0.1", 0))
            self.address = tuple(self.server.getsockname()[:2])  # type: ignore[assignment]
        self.server.settimeout(0.2)
        self.results: dict[str, TaskResult] = {}
        self.problems: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="dlcourse-judge", daemon=True)

    def kernel_code(self) -> str:
        """The one line the grader runs in the kernel after the submission's cells."""
        return (
            "import dlcourse.assign.kernelside as _dlcourse_kernelside\n"
            f"_dlcourse_kernelside.serve({self.address!r}, {self.token!r}, globals())"
        )

    def time_needed(self) -> float:
        """Seconds the kernel's serving may take at most."""
        return sum(self.seconds_for(spec.task) + 10 for spec in self.tasks) + 30

    def seconds_for(self, task: str) -> float:
        """The task's time limit: ``--task-timeout``, or its checker's own if that is longer
        (a slow-by-design task, e.g. training within a budget, sets ``seconds=``)."""
        from dlcourse import checks

        try:
            own = checks.registry(task).seconds
        except KeyError:
            own = None
        return self.task_seconds if own is None else max(self.task_seconds, own)

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> dict[str, TaskResult]:
        """Stop waiting (the notebook has finished) and return the results."""
        self.stop.set()
        self.thread.join(timeout=self.time_needed())
        self.server.close()
        return self.results

    # -- connections
    def _accept(self, seconds: float | None) -> tuple[socket.socket, dict] | None:
        """The next connection that shows the token, with its hello message, or None."""
        deadline = None if seconds is None else time.monotonic() + seconds
        while not (deadline is None and self.stop.is_set()):
            if deadline is not None and time.monotonic() > deadline:
                return None
            try:
                sock, _ = self.server.accept()
            except TimeoutError:
                continue
            except OSError:
                return None
            sock.settimeout(10)
            try:
                hello = wire.receive(sock, max_bytes=4096)
            except (OSError, ConnectionError, wire.WireError):
                sock.close()
                continue
            if not secrets.compare_digest(str(hello.get("token", "")), self.token):
                sock.close()
                continue
            return sock, hello
        return None

    def _run(self) -> None:
        try:
            accepted = self._accept(None)
            if accepted is None:
                self.problems.append(
                    "the kernel never connected to the grader after the notebook ran "
                    "(it died, ran out of time, or the code replaced exec or the grader's module)"
                )
                return
            control = accepted[0]
            with contextlib.closing(control):
                for spec in self.tasks:
                    self.results[spec.task] = self._judge(control, spec)
                with contextlib.suppress(OSError, wire.WireError):
                    wire.send(control, {"op": "bye"})
        except Exception as err:  # a bug here must not hang the grader
            self.problems.append(f"the judge failed: {type(err).__name__}: {err}")

    def _judge(self, control: socket.socket, spec: TaskSpec) -> TaskResult:
        if spec.package_answer:
            return TaskResult(spec.task, False, spec.package_answer)
        try:
            seconds = self.seconds_for(spec.task)
            wire.send(control, {"op": "task", "task": spec.task, "seconds": seconds})
        except OSError:
            return TaskResult(spec.task, False, "not graded: the kernel stopped answering")
        accepted = self._accept(30)
        if accepted is None or accepted[1].get("task") != spec.task:
            return TaskResult(spec.task, False, "not graded: the kernel did not answer the grader")
        sock, _ = accepted
        with contextlib.closing(sock):
            session = Session(sock, spec.task, seconds)
            aborted = None
            try:
                result = self._check(session, spec)
            except TaskAborted as stop:
                aborted, result = str(stop), None
            session.end()
        control.settimeout(seconds + 15)
        try:
            status = wire.receive(control, max_bytes=4096)
        except (OSError, ConnectionError, wire.WireError):
            status = {"status": "lost"}
        if result is not None and status.get("status") == "ok":
            return result
        return TaskResult(spec.task, False, _aborted_message(spec.task, aborted, status))

    def _check(self, session: Session, spec: TaskSpec) -> TaskResult:
        from dlcourse import checks
        from dlcourse.checks import tools

        entry = checks.registry(spec.task)
        objects = []
        for name in entry.uses:
            try:
                objects.append(session.lookup(name))
            except NameError:
                return TaskResult(
                    spec.task, False, f"{name} is not defined; did the cell that defines it run?"
                )
        saved = tools._case_seed
        tools._case_seed = self.seed
        try:
            result = checks._run(entry, tuple(objects))
            if result.passed and spec.hidden:
                failure = run_hidden(session, spec)
                if failure:
                    return TaskResult(spec.task, False, failure)
        finally:
            tools._case_seed = saved
        return TaskResult(spec.task, result.passed, result.message)


def run_hidden(session: Session, spec: TaskSpec) -> str:
    """Run ``spec``'s hidden tests here, the learner's names bound to proxies; "" or why not.

    The hidden tests are the instructor's code from the solutions notebook. Every free
    name they use that the kernel defines becomes a proxy; ``np`` is numpy. Functions
    they pass (lambdas, ``np.sin``) stay here and are called back with data.
    """
    namespace: dict[str, Any] = {"np": np, "__name__": "__hidden__"}
    for name in _free_names(spec.hidden):
        if name in namespace:
            continue
        try:
            namespace[name] = session.lookup(name)
        except NameError:
            pass
    try:
        exec(compile(spec.hidden, f"<hidden tests {spec.task}>", "exec"), namespace)
    except Exception as err:
        return _hidden_failure(err, _hidden_line(err))
    return ""


def _aborted_message(task: str, aborted: str | None, status: dict) -> str:
    kind = status.get("status")
    if aborted:  # the judge refused data
        return aborted
    if kind == "timeout":
        return (
            f"your code for task {task} did not finish within {status.get('detail')} "
            "(the limit per task); does it loop forever?"
        )
    if kind == "died":
        return (
            f"the process running your code for task {task} ended ({status.get('detail')}): "
            "out of memory, or the code ended the Python process"
        )
    return f"not graded: the kernel stopped answering during task {task}"


def run_judge(
    tasks: Iterable[TaskSpec],
    task_seconds: float,
    run: Callable[[Judge], Any],
    folder: str | None = None,
):
    """Start a judge (its socket in ``folder``), call ``run(judge)`` (which runs the kernel);
    return (results, run's value, the judge's problems)."""
    judge = Judge(tasks, task_seconds, folder)
    judge.start()
    try:
        value = run(judge)
    finally:
        results = judge.finish()
    return results, value, judge.problems


@contextlib.contextmanager
def local_session(namespace: dict, seconds: float = 600.0):
    """A :class:`Session` whose "kernel" is a thread of this process serving ``namespace``.

    The same requests and data as in grading cross a socket pair, without a notebook,
    fork or limits: for tests that run a checker both ways (``check`` on the objects,
    and the judge on proxies of them) and for instructors trying a checker.
    """
    from dlcourse.assign.kernelside import _Task

    judge_end, kernel_end = socket.socketpair()
    kernel = threading.Thread(
        target=lambda: _serve_quietly(_Task(kernel_end, namespace)), daemon=True
    )
    kernel.start()
    session = Session(judge_end, "local", seconds)
    try:
        yield session
    finally:
        session.end()
        kernel.join(timeout=10)
        judge_end.close()
        kernel_end.close()


def _serve_quietly(task: Any) -> None:
    with contextlib.suppress(OSError, ConnectionError, wire.WireError, SystemExit):
        task.serve()


def judge_locally(task: str, *objects: Any):
    """The :class:`~dlcourse.checks.CheckResult` of ``task``'s checker run on proxies of
    ``objects`` (see :func:`local_session`), as the judge would decide it."""
    from dlcourse import checks

    entry = checks.registry(task)
    namespace = {f"object_{i}": obj for i, obj in enumerate(objects)}
    with local_session(namespace) as session:
        proxies = tuple(session.lookup(name) for name in namespace)
        try:
            return checks._run(entry, proxies)
        except TaskAborted as stop:
            return checks.CheckResult(task, False, str(stop) or "the kernel stopped answering")
