"""The data boundary between a submission's kernel and the judge refuses what it must."""

from __future__ import annotations

import base64
import io
import json
import pickle
import socket

import numpy as np
import pytest

from dlcourse.assign import wire


def _no_handles(value):
    raise wire.WireError(f"not data: {type(value).__name__}")


def _roundtrip(value):
    return wire.decode(json.loads(json.dumps(wire.encode(value, _no_handles))), _no_handles)


def test_plain_values_arrays_and_containers_cross_unchanged():
    value = {
        "x": np.arange(6.0).reshape(2, 3),
        "f": np.asfortranarray(np.ones((2, 3), np.float32)),
        "i": np.int64(3),
        "b": np.array([True, False]),
        "c": 1 + 2j,
        "z": np.array(2.5),  # 0-d stays 0-d
        3: ("a", None, [1.5, float("nan")]),
    }
    back = _roundtrip(value)
    assert set(back) == set(value)
    assert back["x"].dtype == np.float64 and np.array_equal(back["x"], value["x"])
    assert back["f"].dtype == np.float32 and back["f"].shape == (2, 3)
    assert type(back["i"]) is np.int64 and back["i"] == 3
    assert back["z"].shape == () and back["c"] == 1 + 2j
    assert back[3][:2] == ("a", None) and np.isnan(back[3][2][1])


def test_subclass_crosses_as_a_plain_array_and_a_generator_keeps_its_state():
    back = _roundtrip(np.ma.masked_array([1.0, 2.0]))
    assert type(back) is np.ndarray
    rng = np.random.default_rng(5)
    copy = _roundtrip(rng)
    assert copy.normal() == rng.normal()


def _npy(array: np.ndarray, **kwargs) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return base64.b64encode(buffer.getvalue()).decode()


def test_object_arrays_and_pickles_are_refused():
    with pytest.raises(wire.WireError, match="dtype object"):
        wire.load_npy(_npy(np.array([{"a": 1}], dtype=object), allow_pickle=True))
    record = np.zeros(2, dtype=[("a", "f8"), ("b", "i4")])
    with pytest.raises(wire.WireError, match="not accepted"):
        wire.load_npy(_npy(record))
    with pytest.raises(wire.WireError, match=r"not an \.npy"):
        wire.load_npy(base64.b64encode(pickle.dumps(np.zeros(3))).decode())


def test_huge_shapes_are_refused_before_any_data_is_read():
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)}
    )
    bomb = np.lib.format.magic(1, 0) + header.getvalue()[len(np.lib.format.magic(1, 0)) :]
    with pytest.raises(wire.WireError, match=r"\(1e\+12 elements\) is larger than the grader"):
        wire.load_npy(base64.b64encode(bomb).decode())
    short = _npy(np.zeros(10))[:-8]  # data shorter than the header says
    with pytest.raises(wire.WireError):
        wire.load_npy(short)
    with pytest.raises(wire.WireError, match="larger than the grader accepts"):
        wire.encode(np.broadcast_to(0.0, (10**9,)), _no_handles)


def test_nesting_strings_and_unknown_markers_are_capped():
    deep: list = []
    for _ in range(wire.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(wire.WireError, match="nested"):
        wire.decode(deep, _no_handles)
    with pytest.raises(wire.WireError, match="characters"):
        wire.decode("x" * (wire.MAX_STRING + 1), _no_handles)
    with pytest.raises(wire.WireError, match="unexpected data"):
        wire.decode({"$code": "import os"}, _no_handles)
    with pytest.raises(wire.WireError, match="bit generator"):
        wire.decode({"$generator": ["os.system", {}]}, _no_handles)
    with pytest.raises(wire.WireError, match="dtype"):
        wire.decode({"$dtype": "O"}, _no_handles)


def test_messages_are_size_checked_before_they_are_read():
    a, b = socket.socketpair()
    with a, b:
        a.sendall((2**40).to_bytes(8, "big"))  # claims a terabyte
        with pytest.raises(wire.WireError, match="larger than the grader accepts"):
            wire.receive(b)
        nested = ("[" * 100_000 + "]" * 100_000).encode()
        a.sendall(len(nested).to_bytes(8, "big") + nested)
        with pytest.raises(wire.WireError, match="malformed"):
            wire.receive(b)


def test_a_mirrored_array_is_updated_in_place_on_the_other_side():
    # A learner who keeps a reference to an argument sees the judge's later in-place
    # changes, as in one process: one kernel array per judge array, updated with copyto.
    sent = np.arange(4.0)
    kept: dict[int, np.ndarray] = {}

    def mirrored(number, array):
        if number in kept:
            np.copyto(kept[number], array)
            return kept[number]
        kept[number] = array
        return array

    def roundtrip(value):
        data = wire.encode(value, lambda v: {}, mirror=lambda a: 0 if a is sent else 1)
        return wire.decode(data, lambda d: None, mirrored=mirrored)

    first = roundtrip({"W": sent})["W"]
    sent += 10
    second = roundtrip({"W": sent})["W"]
    assert second is first
    np.testing.assert_array_equal(first, [10.0, 11.0, 12.0, 13.0])
    assert "$mirror" not in str(wire.encode(sent, lambda v: {}))
