"""The data that crosses between a submission's kernel and the grader's judge.

Only plain values cross, never pickle and never code:

- ``None``, ``bool``, ``int``, ``float``, ``str`` (JSON), ``complex``, tuples, lists and
  dicts (keys and values encoded the same way);
- numpy arrays and numpy scalars of bool, integer, float or complex dtype, as ``.npy``
  bytes (base64) read back with :func:`load_npy`, which checks the header's dtype,
  shape and size *before* reading the data and never unpickles;
- numpy dtypes (by name) and ``np.random.Generator`` (its bit generator's name and
  state, which are plain integers);
- everything else as a *handle*: ``{"$handle": n}`` names an object that stays on the
  side that owns it (a learner's class or layer object in the kernel, a checker's
  function in the judge), and the other side can only ask for calls on it.

The receiving side enforces the limits below; a message or value over them raises
:class:`WireError`. Messages are framed as an 8-byte big-endian length and UTF-8 JSON.
"""

from __future__ import annotations

import base64
import io
import json
import math
import socket
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_MESSAGE_BYTES = 256 * 2**20  # one framed message
MAX_ELEMENTS = 5 * 10**7  # elements of one array
MAX_DEPTH = 32  # nesting of lists, tuples and dicts
MAX_STRING = 100_000  # characters of one string
MAX_ITEMS = 1_000_000  # entries of one list, tuple or dict
DTYPE_KINDS = "biufc"  # bool, signed and unsigned integer, float, complex
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class WireError(ValueError):
    """A value that cannot or may not cross the boundary (the message says why)."""


# ----------------------------------------------------------------------------- arrays


def dump_npy(array: np.ndarray) -> str:
    """``array`` (dtype kind in :data:`DTYPE_KINDS`) as base64 ``.npy`` bytes."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)  # np.save copes with any layout
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def load_npy(text: str, max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    """The array in base64 ``.npy`` ``text``, a plain ndarray; refuse anything unexpected.

    The header is read first: an object, structured or sub-array dtype, a shape of
    more than ``max_elements`` elements, or data of the wrong length raises
    :class:`WireError` before any data is read.
    """
    if not isinstance(text, str):
        raise WireError("an array must be given as base64 text")
    raw = base64.b64decode(text.encode("ascii"), validate=True)
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            header = np.lib.format.read_array_header_1_0(stream, max_header_size=10_000)
        elif version == (2, 0):
            header = np.lib.format.read_array_header_2_0(stream, max_header_size=10_000)
        else:
            raise WireError(f"unsupported .npy version {version}")
    except WireError:
        raise
    except Exception as err:  # a malformed header
        raise WireError(f"not an .npy array: {err}") from None
    shape, fortran, dtype = header
    if dtype.kind not in DTYPE_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"arrays of dtype {dtype} are not accepted (only bool/int/float/complex)")
    count = math.prod(shape)
    if count > max_elements:
        raise WireError(
            f"an array of shape {tuple(shape)} ({count:.3g} elements) is larger than the "
            f"grader accepts ({max_elements:.3g} elements)"
        )
    data = raw[stream.tell() :]
    if len(data) != count * dtype.itemsize:
        raise WireError(f"the .npy data has {len(data)} bytes, expected {count * dtype.itemsize}")
    flat = np.frombuffer(data, dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if fortran else "C").copy()


# ----------------------------------------------------------------------------- values


def _check_array(value: np.ndarray) -> None:
    if value.dtype.kind not in DTYPE_KINDS or value.dtype.fields is not None:
        raise WireError(f"arrays of dtype {value.dtype} cannot be sent")
    if value.size > MAX_ELEMENTS:
        raise WireError(
            f"an array of shape {value.shape} ({value.size:.3g} elements) is larger than the "
            f"grader accepts ({MAX_ELEMENTS:.3g} elements)"
        )


def encode(
    value: Any,
    handle: Callable[[Any], dict],
    depth: int = 0,
    mirror: Callable[[np.ndarray], int] | None = None,
) -> Any:
    """``value`` as JSON-ready data; objects that are not data become ``handle(value)``.

    With ``mirror``, each array also carries ``mirror(array)``, a number that names that
    array object on this side: the other side then keeps one array per number and
    updates it in place, so a learner who stores a reference to an argument (instead of a
    copy) sees later in-place changes, exactly as in one process.
    """
    if depth > MAX_DEPTH:
        raise WireError(f"a value nested more than {MAX_DEPTH} levels deep cannot be sent")
    if value is None or type(value) in (bool, int, float):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 1 << 256:
            raise WireError("an integer of more than 256 bits cannot be sent")
        return value
    if type(value) is str:
        if len(value) > MAX_STRING:
            raise WireError(f"a string of {len(value)} characters is longer than {MAX_STRING}")
        return value
    if type(value) is complex:
        return {"$complex": [value.real, value.imag]}
    if type(value) in (list, tuple):
        if len(value) > MAX_ITEMS:
            raise WireError(f"a sequence of {len(value)} items is longer than {MAX_ITEMS}")
        items = [encode(v, handle, depth + 1, mirror) for v in value]
        return items if type(value) is list else {"$tuple": items}
    if type(value) is dict:
        if len(value) > MAX_ITEMS:
            raise WireError(f"a dict of {len(value)} entries is larger than {MAX_ITEMS}")
        pairs = [
            [encode(k, handle, depth + 1, mirror), encode(v, handle, depth + 1, mirror)]
            for k, v in value.items()
        ]
        return {"$dict": pairs}
    if isinstance(value, np.ndarray) and value.dtype.kind in DTYPE_KINDS and not value.dtype.fields:
        array = np.asarray(value)  # an ndarray subclass crosses as a plain array
        _check_array(array)
        if mirror is not None:
            return {"$array": dump_npy(array), "$mirror": mirror(value)}
        return {"$array": dump_npy(array)}
    if isinstance(value, np.generic) and value.dtype.kind in DTYPE_KINDS:
        return {"$scalar": dump_npy(np.asarray(value))}
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        dtype = np.dtype(value)
        if dtype.kind not in DTYPE_KINDS:
            raise WireError(f"dtype {dtype} cannot be sent")
        return {"$dtype": dtype.str, "type": not isinstance(value, np.dtype)}
    if isinstance(value, np.random.Generator):
        bit = value.bit_generator
        return {"$generator": [type(bit).__name__, encode(bit.state, handle, depth + 1)]}
    return handle(value)


def decode(
    data: Any,
    resolve: Callable[[dict], Any],
    depth: int = 0,
    mirrored: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> Any:
    """The value :func:`encode` wrote; ``resolve`` turns a handle dict into an object.

    With ``mirrored``, an array sent with a mirror number becomes ``mirrored(number,
    array)`` (the array kept for that number, updated in place).
    """
    if depth > MAX_DEPTH:
        raise WireError(f"a value nested more than {MAX_DEPTH} levels deep")
    if data is None or type(data) in (bool, int, float):
        if type(data) is int and abs(data) >= 1 << 256:
            raise WireError("an integer of more than 256 bits")
        return data
    if type(data) is str:
        if len(data) > MAX_STRING:
            raise WireError(f"a string of {len(data)} characters (more than {MAX_STRING})")
        return data
    if type(data) is list:
        if len(data) > MAX_ITEMS:
            raise WireError(f"a list of {len(data)} items (more than {MAX_ITEMS})")
        return [decode(v, resolve, depth + 1, mirrored) for v in data]
    if type(data) is not dict or len(data) == 0:
        raise WireError(f"unexpected data of type {type(data).__name__}")
    if "$array" in data:
        array = load_npy(data["$array"])
        number = data.get("$mirror")
        if mirrored is not None and type(number) is int:
            return mirrored(number, array)
        return array
    if "$scalar" in data:
        array = load_npy(data["$scalar"], max_elements=1)
        if array.shape != ():
            raise WireError("a numpy scalar must have shape ()")
        return array[()]
    if "$tuple" in data:
        return tuple(decode(data["$tuple"], resolve, depth, mirrored))
    if "$dict" in data:
        pairs = data["$dict"]
        if type(pairs) is not list or len(pairs) > MAX_ITEMS:
            raise WireError("a malformed dict")
        out = {}
        for pair in pairs:
            if type(pair) is not list or len(pair) != 2:
                raise WireError("a malformed dict entry")
            key = decode(pair[0], resolve, depth + 1, mirrored)
            try:
                hash(key)
            except TypeError:
                raise WireError(f"a dict key of type {type(key).__name__}") from None
            out[key] = decode(pair[1], resolve, depth + 1, mirrored)
        return out
    if "$complex" in data:
        re, im = data["$complex"]
        if type(re) not in (int, float) or type(im) not in (int, float):
            raise WireError("a malformed complex number")
        return complex(re, im)
    if "$dtype" in data:
        try:
            dtype = np.dtype(str(data["$dtype"]))
        except TypeError as err:
            raise WireError(f"unknown dtype: {err}") from None
        if dtype.kind not in DTYPE_KINDS or dtype.fields is not None:
            raise WireError(f"dtype {dtype} is not accepted")
        return dtype.type if data.get("type") else dtype
    if "$generator" in data:
        name, state = data["$generator"]
        if name not in BIT_GENERATORS:
            raise WireError(f"unknown bit generator {name!r}")
        generator = np.random.Generator(getattr(np.random, name)())
        try:
            generator.bit_generator.state = decode(state, resolve, depth + 1)
        except (TypeError, ValueError, KeyError) as err:
            raise WireError(f"a malformed generator state: {err}") from None
        return generator
    if "$handle" in data or "$callback" in data:
        return resolve(data)
    raise WireError(f"unexpected data with keys {sorted(data)[:3]}")


# ----------------------------------------------------------------------------- framing


def send(sock: socket.socket, message: dict) -> None:
    """Send one JSON message (8-byte length, then the bytes)."""
    data = json.dumps(message, separators=(",", ":")).encode("utf-8")
    if len(data) > MAX_MESSAGE_BYTES:
        raise WireError(f"a message of {len(data) / 2**20:.0f} MiB is larger than the limit")
    sock.sendall(len(data).to_bytes(8, "big") + data)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    chunks, left = [], count
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise ConnectionError("the other side closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket, max_bytes: int = MAX_MESSAGE_BYTES) -> dict:
    """One message from ``sock``; its size is checked before it is read."""
    size = int.from_bytes(_read_exactly(sock, 8), "big")
    if size > max_bytes:
        raise WireError(
            f"a message of {size / 2**20:.0f} MiB is larger than the grader accepts "
            f"({max_bytes / 2**20:.0f} MiB)"
        )
    raw = _read_exactly(sock, size)
    try:
        message = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as err:
        raise WireError(f"a malformed message: {type(err).__name__}") from None
    if type(message) is not dict:
        raise WireError("a message must be a JSON object")
    return message
