"""The grader's code inside a submission's kernel: it performs calls and reports data.

After the submission's cells have run, the grader runs one more line in the kernel::

    import dlcourse.assign.kernelside as k

    k.serve(address, token, globals())

:func:`serve` connects to the judge (:mod:`dlcourse.assign.judge`) — a Unix socket
in the submission's temporary folder (Linux, macOS), else a local TCP port — and
waits. For each task the judge names, it forks a child process (Linux, macOS) that connects to the
judge on its own and answers the task's requests — look up a name, call an object,
read or set an attribute — with plain data only (:mod:`dlcourse.assign.wire`): the
return value, the arguments after the call (to show changes made in place), the
exception's type and message as strings, handles for objects that are not data. The
parent kills the child when the task's time is up and tells the judge; a child that
runs out of memory or crashes ends only that task. Where there is no ``fork``
(Windows) the tasks are served in the kernel itself, one after the other.

Nothing here decides anything: the checkers, the hidden tests and the scoring run in
the judge, so replacing this module can only misreport the submission's own answers.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import signal
import socket
import sys
import time
import traceback
import warnings
from typing import Any

import numpy as np

from dlcourse.assign import wire


def _library_roots() -> tuple[str, ...]:
    """Folders whose code is not the learner's: the stdlib, installed packages, numpy, dlcourse."""
    import sysconfig

    import numpy

    paths = sysconfig.get_paths()
    roots = [paths.get(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    roots += [os.path.dirname(numpy.__file__), os.path.dirname(os.path.dirname(wire.__file__))]
    return tuple(os.path.normcase(os.path.abspath(r)) + os.sep for r in roots if r)


_LIBRARY_ROOTS = _library_roots()


class CallbackRaised(Exception):
    """A function the judge handed in (by handle) raised; the judge knows the original."""

    def __init__(self, number: int, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}" if message else kind)
        self.number = number


def _callback_error(number: int, kind: str, message: str) -> CallbackRaised:
    """A :class:`CallbackRaised` that is also the builtin exception type ``kind`` if there
    is one, so that learner code catching ``ValueError`` catches a checker's ValueError."""
    base = getattr(builtins, kind, None)
    if isinstance(base, type) and issubclass(base, Exception) and base is not Exception:
        try:
            cls = type(kind, (CallbackRaised, base), {})
            error: CallbackRaised = cls(number, kind, message)
            return error
        except TypeError:  # a builtin whose layout does not mix (OSError, ...)
            pass
    return CallbackRaised(number, kind, message)


class _Task:
    """The objects of one task's session: handles both ways and the calls in progress."""

    def __init__(self, sock: socket.socket, namespace: dict) -> None:
        self.sock = sock
        self.namespace = namespace
        self.objects: dict[int, Any] = {}
        self.numbers: dict[int, int] = {}
        self.active: list[tuple[tuple, dict]] = []
        self.remotes: dict[int, _Callback] = {}
        # The judge's argument arrays, one kernel array per judge array (see wire.encode).
        self.mirrors: dict[int, np.ndarray] = {}

    # -- handles
    def handle(self, value: Any) -> dict:
        if isinstance(value, _Callback):
            return {"$callback": object.__getattribute__(value, "_number")}
        key = id(value)
        if key not in self.numbers:
            number = len(self.objects)
            self.objects[number] = value
            self.numbers[key] = number
        number = self.numbers[key]
        return {"$handle": number, "type": type(value).__name__, "callable": callable(value)}

    def resolve(self, data: dict) -> Any:
        if "$callback" in data:
            number = int(data["$callback"])
            if number not in self.remotes:
                self.remotes[number] = _Callback(self, number)
            return self.remotes[number]
        handle = data.get("$handle")
        if type(handle) is not int or handle not in self.objects:
            raise wire.WireError(f"unknown handle {handle!r}")
        return self.objects[handle]

    def encode(self, value: Any) -> Any:
        return wire.encode(value, self.handle)

    def decode(self, data: Any) -> Any:
        return wire.decode(data, self.resolve, mirrored=self.mirrored)

    def mirrored(self, number: int, array: np.ndarray) -> np.ndarray:
        """The kernel's array for the judge's array ``number``, updated in place to ``array``."""
        kept = self.mirrors.get(number)
        if kept is not None and kept.shape == array.shape and kept.dtype == array.dtype:
            if kept.flags.writeable:
                np.copyto(kept, array)
                return kept
        self.mirrors[number] = array
        return array

    # -- requests
    def serve(self) -> None:
        """Answer requests until the judge says ``end`` (or the connection closes)."""
        while True:
            request = wire.receive(self.sock)
            if request.get("op") == "end":
                return
            wire.send(self.sock, self.answer(request))

    def wait_for_reply(self) -> dict:
        """Answer the judge's requests until a reply (to our callback) arrives."""
        while True:
            message = wire.receive(self.sock)
            if "op" not in message:
                return message
            if message["op"] == "end":
                raise SystemExit(0)
            wire.send(self.sock, self.answer(message))

    def answer(self, request: dict) -> dict:
        frame: dict = {}
        try:
            return self._answer(request, frame)
        except wire.WireError as err:
            return {"error": {"type": "GraderRefused", "message": str(err), "where": ""}}
        except CallbackRaised as err:
            return {"error": _error(err) | {"callback": err.number}, **self._after(frame)}
        except Exception as err:
            return {"error": _error(err), **self._after(frame)}

    def _after(self, frame: dict) -> dict:
        """The arguments of a failed call as they are now (changes made before raising)."""
        if not frame:
            return {}
        try:
            return {"args": self.encode(frame["args"]), "kwargs": self.encode(frame["kwargs"])}
        except wire.WireError:
            return {}

    def _answer(self, request: dict, frame: dict) -> dict:
        op = request.get("op")
        if op == "lookup":
            name = str(request.get("name"))
            if name not in self.namespace:
                raise NameError(f"name {name!r} is not defined")
            return {"value": self.encode(self.namespace[name])}
        target = self.decode(request.get("target"))
        if op == "getattr":
            return {"value": self.encode(getattr(target, str(request.get("name"))))}
        if op == "setattr":
            setattr(target, str(request.get("name")), self.decode(request.get("value")))
            return {"value": None}
        if op == "signature":
            return {"value": _signature(target)}
        if op == "call":
            args = self.decode(request.get("args", {"$tuple": []}))
            kwargs = self.decode(request.get("kwargs", {"$dict": []}))
            if type(args) is not tuple or type(kwargs) is not dict:
                raise wire.WireError("malformed call")
            frame.update(args=args, kwargs=kwargs)
            self.active.append((args, kwargs))
            try:
                with np.errstate(**_errstate(request.get("errstate"))):  # type: ignore[arg-type]
                    result = target(*args, **kwargs)
            finally:
                self.active.pop()
            return {
                "value": self.encode(result),
                "args": self.encode(args),
                "kwargs": self.encode(kwargs),
            }
        raise wire.WireError(f"unknown request {op!r}")


class _Callback:
    """A judge-side object (a checker's loss, a recording layer, a hidden test's lambda).

    Calling it, reading or setting its attributes sends a request to the judge, which
    performs it there and answers with data (or another such object).
    """

    def __init__(self, task: _Task, number: int) -> None:
        object.__setattr__(self, "_task", task)
        object.__setattr__(self, "_number", number)
        object.__setattr__(self, "__name__", f"given_function_{number}")

    def _ask(self, op: str, **fields: Any) -> Any:
        task: _Task = object.__getattribute__(self, "_task")
        message = {
            "callback": object.__getattribute__(self, "_number"),
            "op": op,
            **fields,
            # the arguments of the calls in progress, as they are now (in-place changes)
            "sync": [task.encode(list(frame)) for frame in task.active],
        }
        wire.send(task.sock, message)
        reply = task.wait_for_reply()
        if "error" in reply:
            error = reply["error"]
            number = error.get("id") if type(error.get("id")) is int else 0
            kind, text = str(error.get("type")), str(error.get("message"))
            if op == "getattr" and kind == "AttributeError":
                raise AttributeError(text)
            raise _callback_error(number, kind, text)
        return task.decode(reply.get("value"))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        task: _Task = object.__getattribute__(self, "_task")
        return self._ask("call", args=task.encode(args), kwargs=task.encode(kwargs))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ask("getattr", name=name)

    def __setattr__(self, name: str, value: Any) -> None:
        task: _Task = object.__getattribute__(self, "_task")
        self._ask("setattr", name=name, value=task.encode(value))


def _errstate(data: Any) -> dict[str, str]:
    """The judge's ``np.errstate`` settings, only the known keys and values."""
    if not isinstance(data, dict):
        return {}
    keys, values = ("divide", "over", "under", "invalid"), ("ignore", "warn", "raise", "print")
    return {k: v for k, v in data.items() if k in keys and v in values}


def _signature(target: Any) -> list:
    import inspect

    parameters = inspect.signature(target).parameters.values()
    return [[p.name, int(p.kind), p.default is not inspect.Parameter.empty] for p in parameters]


def _is_learner_frame(filename: str) -> bool:
    """The rule of the self-checks' messages: a cell ("<...>" or a file outside the roots)."""
    if filename.startswith("<"):
        return True
    return not os.path.normcase(os.path.abspath(filename)).startswith(_LIBRARY_ROOTS)


def _error(err: BaseException) -> dict:
    """Type, message and the learner's innermost line of ``err``, as strings."""
    frames = traceback.extract_tb(err.__traceback__)[1:]  # the first is _answer's call
    mine = [f for f in frames if _is_learner_frame(f.filename)]
    frame = mine[-1] if mine else None  # none: the call itself failed (e.g. its arguments)
    where = ""
    if frame is not None:
        code = f": `{frame.line.strip()}`" if frame.line else ""
        where = f"line {frame.lineno} of {frame.name}{code}"
    message = str(err)
    if len(message) > 2000:
        message = message[:1997] + "..."
    bases = [
        c.__name__
        for c in type(err).__mro__[1:]
        if c.__module__ == "builtins" and issubclass(c, Exception) and c is not Exception
    ]
    return {"type": type(err).__name__, "message": message, "where": where, "bases": bases[:4]}


def _connect(address: str | tuple[str, int], hello: dict) -> socket.socket:
    """Connect to the judge: a Unix socket path, or (host, port) where there is none."""
    if isinstance(address, str):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(60)
        sock.connect(address)
    else:
        host, port = address
        sock = socket.create_connection((str(host), int(port)), timeout=60)
    sock.settimeout(None)
    wire.send(sock, hello)
    return sock


def _serve_task(address: Any, token: str, task: str, namespace: dict) -> None:
    with contextlib.closing(_connect(address, {"token": token, "task": task})) as sock:
        _Task(sock, namespace).serve()


def _child(address: Any, token: str, task: str, namespace: dict) -> None:
    """The forked process of one task: quiet output, serve, and leave without cleanup."""
    code = 0
    try:
        devnull = open(os.devnull, "w")
        sys.stdout = sys.stderr = devnull  # the kernel's streams need threads we lack
        builtins.input = lambda *a: ""
        _serve_task(address, token, task, namespace)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _wait(pid: int, seconds: float) -> dict:
    """Wait for the child ``pid`` at most ``seconds``; kill it then. What happened."""
    deadline = time.monotonic() + seconds
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return {"status": "timeout", "detail": f"{seconds:g} s"}
        time.sleep(0.005)
    if os.WIFSIGNALED(status):
        return {"status": "died", "detail": f"killed by signal {os.WTERMSIG(status)}"}
    code = os.WEXITSTATUS(status)
    return {"status": "ok" if code == 0 else "died", "detail": f"exit code {code}"}


def serve(address: str | tuple[str, int], token: str, namespace: dict) -> None:
    """Serve the judge's tasks (see the module docstring); returns when the judge is done."""
    can_fork = hasattr(os, "fork")
    with contextlib.closing(_connect(address, {"token": token, "control": can_fork})) as ctrl:
        while True:
            try:
                order = wire.receive(ctrl)
            except (ConnectionError, OSError):
                return
            if order.get("op") != "task":
                return
            task, seconds = str(order["task"]), float(order["seconds"])
            if not can_fork:  # Windows: in this process; the judge stops the kernel on timeout
                _serve_task(address, token, task, namespace)
                wire.send(ctrl, {"task": task, "status": "ok", "detail": ""})
                continue
            sys.stdout.flush()
            sys.stderr.flush()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # "multi-threaded process ... fork()"
                pid = os.fork()
            if pid == 0:
                _child(address, token, task, namespace)
            wire.send(ctrl, {"task": task, **_wait(pid, seconds)})
