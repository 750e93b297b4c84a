"""Building blocks for checkers: each raises :class:`CheckFailed` with a specific reason."""

from __future__ import annotations

import traceback
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import TracebackType
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.gradients import numerical_gradient, relative_error


class CheckFailed(AssertionError):
    """A learner's answer is wrong; the message says how, in words a beginner can act on."""


def call(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``func`` on copies of ``args`` and fail if it changed them in place."""
    copies = [np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args]
    result = func(*copies, **kwargs)
    for i, (original, copy) in enumerate(zip(args, copies, strict=True)):
        if isinstance(original, np.ndarray) and not np.array_equal(original, copy, equal_nan=True):
            name = getattr(func, "__name__", "your function")
            raise CheckFailed(
                f"{name} changed its argument {i + 1} in place; work on a copy "
                "(e.g. x = x - x.max(...) instead of x -= ...)"
            )
    return result


def expect_array(name: str, value: object, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """Fail unless ``value`` is a numpy array (of ``shape`` when given)."""
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{name} should be a numpy array but is {type(value).__name__}")
    if shape is not None and value.shape != tuple(shape):
        raise CheckFailed(f"{name} should have shape {tuple(shape)} but has shape {value.shape}")
    return value


def expect_dtype(name: str, value: np.ndarray, kind: str = "f") -> None:
    """Fail unless ``value``'s dtype is of ``kind`` ('f' float, 'i' integer, 'b' bool)."""
    if value.dtype.kind != kind:
        wanted = {"f": "a float", "i": "an integer", "b": "a bool"}.get(kind, kind)
        raise CheckFailed(f"{name} should have {wanted} dtype but has dtype {value.dtype}")


def expect_finite(name: str, value: np.ndarray, hint: str = "") -> None:
    """Fail when ``value`` holds NaN or inf, naming the first bad index."""
    bad = ~np.isfinite(value)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        kind = "nan" if np.isnan(value[where]) else "inf"
        raise CheckFailed(
            f"{name} contains {kind} at index {where}" + (f"; {hint}" if hint else "")
        )


def argmax_index(values: np.ndarray) -> tuple[int, ...]:
    """The index of the largest element of ``values`` as a tuple of ints, e.g. ``(2, 0)``."""
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(values)), values.shape))


def expect_close(
    name: str, got: object, want: np.ndarray, rtol: float = 1e-5, atol: float = 1e-8, hint: str = ""
) -> None:
    """Fail unless ``got`` matches ``want`` in shape and value, reporting the worst element."""
    want = np.asarray(want)
    got = expect_array(name, got, want.shape)
    expect_finite(name, got, hint)
    if np.allclose(got, want, rtol=rtol, atol=atol):
        return
    error = relative_error(got, want)
    where = argmax_index(error)
    raise CheckFailed(
        f"{name} is off: relative error {error[where]:.1e} at index {where} "
        f"(got {got[where]:.6g}, expected {want[where]:.6g})" + (f"; {hint}" if hint else "")
    )


# ----------------------------------------------------------------------------- parameter dicts


def copy_params(params: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A copy of a dict of parameter arrays, e.g. ``{"W1": (D, H), "b1": (H,), ...}``."""
    return {name: np.array(value, copy=True) for name, value in params.items()}


def expect_params_unchanged(
    func: Callable, before: Mapping[str, np.ndarray], after: Mapping[str, np.ndarray]
) -> None:
    """Fail when the learner's ``func`` changed a parameter array in place."""
    for name in before:
        if not np.array_equal(before[name], after[name]):
            raise CheckFailed(
                f"{getattr(func, '__name__', 'your function')} changed params[{name!r}] in place; "
                "compute new arrays instead of updating the parameters"
            )


def numerical_param_grads(
    loss: Callable[[dict[str, np.ndarray]], float], params: dict[str, np.ndarray], h: float
) -> dict[str, np.ndarray]:
    """Central differences of ``loss(params)`` for every float64 array in ``params``.

    Each element is perturbed in place and restored, so pass a copy the learner never sees.
    Returns a dict with the keys of ``params``, each gradient shaped like its parameter.
    """
    return {
        name: numerical_gradient(lambda _: loss(params), value, h) for name, value in params.items()
    }


def expect_grads_dict(
    func_name: str,
    text: str,
    got: object,
    params: Mapping[str, np.ndarray],
    names: Sequence[str],
    transposed_hints: Mapping[str, str],
) -> None:
    """Fail unless ``got`` is a dict with one finite array per name, shaped like ``params``.

    func_name: the learner's function (for the messages); text: what was called, e.g.
    "gradients for a 3-5-4 net and a batch of 6"; transposed_hints: name → the end of
    the hint shown when that gradient comes back transposed.
    """
    if not isinstance(got, dict):
        raise CheckFailed(
            f"{func_name} should return a dict with keys {list(names)} "
            f"but returned {type(got).__name__}"
        )
    missing = [name for name in names if name not in got]
    if missing:
        raise CheckFailed(
            f"the dict returned by {func_name} has no {', '.join(map(repr, missing))}; "
            f"it needs one array per parameter: {list(names)}"
        )
    for name in names:
        shape = params[name].shape
        value = expect_array(f"grads[{name!r}]", got[name])
        if value.shape != shape:
            hint = ""
            if value.shape == shape[::-1]:
                hint = f"; it is transposed: dJ/d{name} has the shape of {name}" + (
                    transposed_hints.get(name, "")
                )
            elif value.ndim == 2 and name.startswith("b"):
                hint = "; sum over the batch axis: delta.sum(axis=0)"
            raise CheckFailed(
                f"{text}: grads[{name!r}] should have shape {shape} (like params[{name!r}]) "
                f"but has shape {value.shape}{hint}"
            )
        expect_finite(f"grads[{name!r}]", value)


def call_gradients(
    func: Callable,
    func_name: str,
    text: str,
    x: np.ndarray,
    t: np.ndarray,
    params: dict[str, np.ndarray],
    loss: Callable[[np.ndarray, np.ndarray, dict[str, np.ndarray]], float],
    h: float,
    transposed_hints: Mapping[str, str],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Call the learner's ``func(x, t, params)`` and return its grads and the numerical ones.

    func_name: the name the assignment gives ``func`` (for the messages); text: what was
    called, e.g. "gradients for a 3-5-4 net and a batch of 6".

    Fails when ``func`` changed ``params`` in place or did not return a dict of finite
    arrays shaped like ``params`` (see :func:`expect_grads_dict`). The numerical
    gradient is of ``loss(x, t, params)`` by central differences with step ``h``.
    """
    before = copy_params(params)
    got = call(func, x, t, params)
    expect_params_unchanged(func, before, params)
    expect_grads_dict(func_name, text, got, params, tuple(params), transposed_hints)
    return got, numerical_param_grads(partial(loss, x, t), copy_params(params), h)


def expect_grads_close(
    text: str,
    got: Mapping[str, np.ndarray],
    want: Mapping[str, np.ndarray],
    names: Sequence[str],
    rtol: float,
    atol: float,
) -> None:
    """Fail at the first gradient in ``names`` that differs from the numerical ``want``."""
    for name in names:
        expect_close(
            f"{text}: grads[{name!r}] (against the numerical gradient)",
            got[name],
            want[name],
            rtol=rtol,
            atol=atol,
        )


# The seed every checker's test inputs derive from. Self-checks use this fixed value, so
# a learner sees the same cases on every run; the grader replaces it with a secret one,
# so a table of the self-checks' answers earns nothing.
_case_seed: int = 20_240_601


def batch_windows(x: np.ndarray, fh: int, fw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Every (fh, fw) window of a batch x: (N, C, H, W), zero-padded by ``pad`` and moved
    ``stride`` pixels at a time: a view (N, C, H_out, W_out, fh, fw). The convolution and
    pooling references of the checkers are built on it (not on the package they check)."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    view: np.ndarray = sliding_window_view(x, (fh, fw), axis=(2, 3))[:, :, ::stride, ::stride]
    return view


def cross_correlate(x: np.ndarray, W: np.ndarray, stride: int = 1, pad: int = 0) -> np.ndarray:
    """Reference convolution layer without bias, in float64: x (N, C, H, W) cross-correlated
    with filters W (F, C, FH, FW), with stride and zero padding -> (N, F, H_out, W_out)."""
    _, _, fh, fw = W.shape
    patches = batch_windows(np.asarray(x, np.float64), fh, fw, stride, pad)
    out: np.ndarray = np.einsum("ncpqij,fcij->nfpq", patches, np.asarray(W, np.float64))
    return out


def case_rng(salt: int) -> np.random.Generator:
    """The generator a checker draws test inputs from; ``salt`` tells the cases apart."""
    return np.random.default_rng([_case_seed, salt])


# ----------------------------------------------------------------------------- reporting


def _is_library_file(filename: str) -> bool:
    """True for code that is not the learner's: numpy, dlcourse, the stdlib, site-packages."""
    import os
    import sysconfig

    path = os.path.normcase(os.path.abspath(filename)) if not filename.startswith("<") else ""
    if not path:
        return False  # "<ipython-input-…>", "<string>": a notebook cell or exec'd learner code
    package_dir = os.path.normcase(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    roots = {
        package_dir,
        *(
            os.path.normcase(os.path.abspath(p))
            for key in ("stdlib", "platstdlib", "purelib", "platlib")
            if (p := sysconfig.get_paths().get(key))
        ),
        os.path.normcase(os.path.dirname(os.path.abspath(np.__file__))),
    }
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def learner_frame(tb: TracebackType | None) -> traceback.FrameSummary | None:
    """The innermost frame of traceback ``tb`` that is the learner's code, or None.

    A learner's error surfaces deep inside numpy (``line 41 of _amax``) or inside the
    checker that called their function; the line worth naming is the last one that ran
    in *their* cell or file. Frames from numpy, ``dlcourse`` (checkers included), the
    standard library and installed packages are skipped. Returns a
    :class:`traceback.FrameSummary` (``.lineno``, ``.name``, ``.line``) or None when no
    frame of the learner's is in the traceback.
    """
    frames = traceback.extract_tb(tb)
    for frame in reversed(frames):
        if not _is_library_file(frame.filename):
            return frame
    return None


def describe_raise(err: BaseException) -> str:
    """One line for an exception the learner's code raised, naming their own line.

    ``your code raised ValueError: … (line 4 of softmax: `return e / e.sum(axis=0)`)``;
    without a frame of the learner's in the traceback, the line is left out rather than
    blaming numpy's or the checker's code.
    """
    frame = learner_frame(err.__traceback__)
    text = f"your code raised {type(err).__name__}: {err}"
    if frame is None:
        return text
    line = f": `{frame.line.strip()}`" if frame.line else ""
    return f"{text} (line {frame.lineno} of {frame.name}{line})"


def _parameter_names(func: Callable, count: int) -> list[str]:
    """The names of ``func``'s first ``count`` positional parameters (``arg 1``… if unknown)."""
    import inspect

    try:
        params = [
            p.name
            for p in inspect.signature(func).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i + 1}" for i in range(count)]


def call_keeping(func: Callable, *args: object, example: str = "", **kwargs: object) -> Any:
    """Call the learner's ``func`` on copies of ``args``; fail, naming the parameter, if it
    changed one of them in place.

    ``example`` is the fix in the task's own terms, e.g. ``"x = x - lr * g"``; the
    message reads "descend_backtracking changed `x0` in place; …". Arrays inside a dict
    argument (a ``params`` dict) are compared too.
    """
    copies = [_deep_copy(a) for a in args]
    result = func(*copies, **kwargs)
    names = _parameter_names(func, len(args))
    for name, original, copy in zip(names, args, copies, strict=True):
        changed = _changed_key(original, copy)
        if changed is None:
            continue
        what = f"`{name}`" if changed == "" else f"`{name}[{changed!r}]`"
        fix = f" (e.g. {example})" if example else ""
        raise CheckFailed(
            f"{getattr(func, '__name__', 'your function')} changed {what} in place; "
            f"compute a new array instead{fix}"
        )
    return result


def _deep_copy(value: object) -> object:
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True)
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    return value


def _changed_key(original: object, copy: object) -> str | None:
    """None if unchanged; "" if the array itself changed; the key of a changed dict entry."""
    if isinstance(original, np.ndarray):
        same = (
            isinstance(copy, np.ndarray)
            and copy.shape == original.shape
            and np.array_equal(original, copy, equal_nan=True)
        )
        return None if same else ""
    if isinstance(original, dict) and isinstance(copy, dict):
        for key, value in original.items():
            if key not in copy or _changed_key(value, copy[key]) is not None:
                changed: str = key
                return changed
    return None


def type_name(value: object) -> str:
    """The name of ``value``'s type; in grading, of the learner's object a proxy stands for."""
    if type(value).__name__ == "Proxy":  # dlcourse.assign.judge.Proxy (not imported here)
        try:
            return str(object.__getattribute__(value, "_type"))
        except AttributeError:
            pass
    return type(value).__name__
