"""dlcourse.data: IDX files, the download path against a local HTTP server, splits, batches."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dlcourse import data

# ------------------------------------------------------------------------ IDX files


def idx_bytes(array: np.ndarray) -> bytes:
    """``array`` (uint8 or int32) in the IDX format: magic, big-endian sizes, values."""
    code = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C}[array.dtype]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> Path:
    content = idx_bytes(array)
    path.write_bytes(gzip.compress(content, mtime=0) if gz else content)
    return path


@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "plain"])
def test_read_idx_returns_stored_dtype_and_shape(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    got = data.read_idx(write_idx(tmp_path / "images.idx", images, gz))
    assert got.dtype == np.uint8 and got.shape == (7, 28, 28)
    np.testing.assert_array_equal(got, images)


def test_read_idx_gives_native_byte_order(tmp_path):
    values = np.array([[1, -2, 70000]], dtype=np.int32)
    got = data.read_idx(write_idx(tmp_path / "ints.idx.gz", values))
    assert got.dtype == np.dtype(np.int32)  # native, not '>i4'
    assert got.dtype.byteorder in "=|<" or got.dtype.isnative
    np.testing.assert_array_equal(got, values)


def test_read_idx_rejects_a_file_that_is_not_idx(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello, not an IDX file")
    with pytest.raises(ValueError, match=r"notes\.txt: not an IDX file"):
        data.read_idx(path)


def test_read_idx_rejects_an_unknown_type_code(tmp_path):
    path = tmp_path / "odd.idx"
    path.write_bytes(bytes([0, 0, 0x42, 1]) + np.array([3], ">u4").tobytes() + b"abc")
    with pytest.raises(ValueError, match=r"odd\.idx: wrong magic number.*0x42"):
        data.read_idx(path)


def test_read_idx_rejects_a_file_shorter_than_its_header_says(tmp_path):
    content = idx_bytes(np.zeros((10, 4, 4), np.uint8))
    path = tmp_path / "short.idx.gz"
    path.write_bytes(gzip.compress(content[:-20]))
    with pytest.raises(ValueError, match=r"short\.idx\.gz: file too short.*\(10, 4, 4\)"):
        data.read_idx(path)


def test_read_idx_rejects_a_broken_gzip_stream(tmp_path):
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((50, 9), np.uint8)))[:30])
    with pytest.raises(ValueError, match=r"broken\.gz: not a readable gzip file"):
        data.read_idx(path)


# --------------------------------------------------------- a local set of mirrors


def fake_mnist_files(n_train: int = 60, n_test: int = 20) -> dict[str, bytes]:
    """Small gzipped IDX files with the four MNIST names (digits are random pixels)."""
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": (np.arange(n_train) % 10).astype(np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": (np.arange(n_test) % 10).astype(np.uint8),
    }
    return {name: gzip.compress(idx_bytes(a), mtime=0) for name, a in arrays.items()}


class Mirrors:
    """URLs of a local HTTP server whose path prefix picks how it misbehaves.

    good/     serves the files
    corrupt/  serves each file with one byte changed
    truncated/  announces the full Content-Length, sends half, closes
    hang/     accepts the request and never answers
    dead      a port nobody listens on (connection refused)
    """

    def __init__(self, files: dict[str, bytes], port: int, dead_port: int) -> None:
        self.files = files
        self.base = f"http://127.0.0.1:{port}/"
        self.dead = f"http://127.0.0.1:{dead_port}/mnist/"
        self.requests: list[str] = []

    def url(self, behaviour: str) -> str:
        return f"{self.base}{behaviour}/"

    @property
    def sha256(self) -> dict[str, str]:
        return {name: hashlib.sha256(body).hexdigest() for name, body in self.files.items()}


def _handler(mirrors: Mirrors, release: threading.Event) -> type:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep the test output clean
            pass

        def do_GET(self) -> None:
            mirrors.requests.append(self.path)
            behaviour, _, name = self.path.strip("/").partition("/")
            if behaviour == "hang":
                release.wait(30)
                return
            body = mirrors.files.get(name)
            if body is None:
                self.send_error(404)
                return
            if behaviour == "corrupt":
                body = body[:-1] + bytes([body[-1] ^ 0xFF])
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2] if behaviour == "truncated" else body)

    return Handler


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mirrors(monkeypatch) -> Iterator[Mirrors]:
    """A local server for the four files, started and stopped by the test."""
    files = fake_mnist_files()
    release = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), None)
    local = Mirrors(files, server.server_address[1], _free_port())
    server.RequestHandlerClass = _handler(local, release)
    server.daemon_threads = True
    # A short poll interval: shutdown() waits for the next poll (0.5 s by default).
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    monkeypatch.setattr(data, "MNIST_SHA256", local.sha256)
    monkeypatch.setattr(data, "_failed_mirrors", set())
    try:
        yield local
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


def cache_files(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


NAME = "t10k-labels-idx1-ubyte.gz"


def test_fetch_downloads_and_verifies(mirrors, tmp_path):
    path = data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("good")])
    assert path == tmp_path / NAME
    assert path.read_bytes() == mirrors.files[NAME]
    assert cache_files(tmp_path) == [NAME]
    if os.name == "posix":  # readable by everyone, as a plain open() would make it
        assert path.stat().st_mode & 0o777 == 0o644


def test_fetch_uses_the_cache_the_second_time(mirrors, tmp_path):
    data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("good")])
    data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("good")])
    assert len(mirrors.requests) == 1


def test_fetch_moves_on_from_a_dead_mirror(mirrors, tmp_path):
    path = data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.dead, mirrors.url("good")])
    assert path.read_bytes() == mirrors.files[NAME]
    assert mirrors.dead in data._failed_mirrors


def test_a_corrupted_download_is_a_checksum_error_and_leaves_the_cache_clean(mirrors, tmp_path):
    with pytest.raises(OSError, match="checksum mismatch") as err:
        data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("corrupt")])
    assert "expected SHA-256" in str(err.value)
    assert cache_files(tmp_path) == []


def test_a_truncated_transfer_fails_cleanly(mirrors, tmp_path):
    with pytest.raises(OSError, match="truncated transfer"):
        data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("truncated")])
    assert cache_files(tmp_path) == []


def test_a_truncated_transfer_moves_on_to_the_next_mirror(mirrors, tmp_path):
    urls = [mirrors.url("truncated"), mirrors.url("good")]
    path = data.fetch(NAME, mirrors.sha256[NAME], tmp_path, urls)
    assert path.read_bytes() == mirrors.files[NAME]
    assert cache_files(tmp_path) == [NAME]


def test_a_mirror_that_never_answers_times_out_then_the_next_is_used(mirrors, tmp_path):
    start = time.perf_counter()
    urls = [mirrors.url("hang"), mirrors.url("good")]
    path = data.fetch(NAME, mirrors.sha256[NAME], tmp_path, urls, timeout=0.5)
    assert time.perf_counter() - start < 5
    assert path.read_bytes() == mirrors.files[NAME]
    assert mirrors.url("hang") in data._failed_mirrors


def test_the_timeout_is_capped_at_ten_seconds(mirrors, tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(data, "_download", lambda url, target, sha, timeout: seen.append(timeout))
    data.fetch(NAME, "0" * 64, tmp_path, [mirrors.url("good")], timeout=60)
    assert seen == [data.MAX_TIMEOUT] and data.MAX_TIMEOUT <= 10


def test_a_failed_mirror_is_not_asked_again_in_the_same_process(mirrors, tmp_path):
    with pytest.raises(OSError):
        data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("corrupt")])
    with pytest.raises(OSError, match="failed earlier in this session"):
        data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("corrupt")])
    assert len(mirrors.requests) == 1


def test_a_corrupted_file_in_the_cache_is_detected_and_replaced(mirrors, tmp_path, capsys):
    (tmp_path / NAME).write_bytes(b"half a file")
    path = data.fetch(NAME, mirrors.sha256[NAME], tmp_path, [mirrors.url("good")])
    assert path.read_bytes() == mirrors.files[NAME]
    assert "corrupted" in capsys.readouterr().out


def test_load_mnist_downloads_the_full_set(mirrors, tmp_path, capsys):
    mnist = data.load_mnist(cache_dir=tmp_path, mirrors=[mirrors.url("good")], offline=False)
    assert mnist.source == "full"
    assert mnist.x_train.shape == (60, 784) and mnist.x_test.shape == (20, 784)
    assert mnist.x_train.dtype == np.float32 and 0 <= mnist.x_train.min() <= 1
    assert capsys.readouterr().out.strip() == mnist.notice
    assert "full set, 60 training and 20 test digits" in mnist.notice


def test_load_mnist_uses_the_cache_dir_from_the_environment(mirrors, tmp_path, monkeypatch):
    monkeypatch.setenv(data.CACHE_ENV, str(tmp_path / "from-env"))
    data.load_mnist(mirrors=[mirrors.url("good")], offline=False)
    assert len(cache_files(tmp_path / "from-env")) == 4


def test_load_mnist_falls_back_to_the_offline_digits_when_no_mirror_answers(
    mirrors, tmp_path, capsys
):
    mnist = data.load_mnist(cache_dir=tmp_path, mirrors=[mirrors.dead], offline=False)
    assert mnist.source == "offline"
    assert "no MNIST mirror could be reached" in mnist.notice
    captured = capsys.readouterr()
    assert captured.out.strip() == mnist.notice
    assert "falling back to the offline digits" in captured.err
    assert cache_files(tmp_path) == []


def test_offline_mode_never_touches_the_network(mirrors, tmp_path, monkeypatch):
    monkeypatch.setenv("DLCOURSE_OFFLINE", "1")
    mnist = data.load_mnist(cache_dir=tmp_path, mirrors=[mirrors.url("good")])
    assert mnist.source == "offline" and mirrors.requests == []
    assert "DLCOURSE_OFFLINE=1 is set" in mnist.notice
    assert "offline=True" in data.load_mnist(offline=True).notice


# ------------------------------------------------------------------ offline digits


@pytest.fixture(scope="module")
def offline() -> data.MNIST:
    return data.load_mnist(offline=True)


def test_offline_digits_are_real_and_split_4000_1000(offline):
    assert offline.x_train.shape == (4000, 784) and offline.x_test.shape == (1000, 784)
    assert np.bincount(offline.t_test, minlength=10).tolist() == [100] * 10
    assert np.bincount(offline.t_train, minlength=10).tolist() == [400] * 10
    assert 0.0 == offline.x_train.min() and offline.x_train.max() == 1.0


def test_offline_split_is_the_same_every_time(offline):
    again = data.load_mnist(offline=True)
    np.testing.assert_array_equal(again.t_train, offline.t_train)
    np.testing.assert_array_equal(again.x_test, offline.x_test)


def test_offline_training_digits_are_not_sorted_by_class(offline):
    assert (np.diff(offline.t_train[:100]) != 0).sum() > 50


def test_load_mnist_options_shape_scale_and_labels():
    mnist = data.load_mnist(
        normalize=False, flatten=False, one_hot_labels=True, dtype=np.float64, offline=True
    )
    assert mnist.x_train.shape == (4000, 1, 28, 28) and mnist.x_train.dtype == np.float64
    assert mnist.x_train.max() == 255.0
    assert mnist.t_train.shape == (4000, 10) and (mnist.t_train.sum(axis=1) == 1).all()
    (x_train, _), (x_test, _) = mnist  # unpacks like the book's loader
    assert x_train is mnist.x_train and x_test is mnist.x_test


def test_load_mnist_refuses_an_integer_dtype():
    with pytest.raises(ValueError, match=r"expected a float dtype.*got int32"):
        data.load_mnist(dtype=np.int32, offline=True)


# --------------------------------------------------------- splits, batches, XOR


def test_stratified_split_keeps_class_shares_and_is_seeded():
    labels = np.repeat(np.arange(4), [50, 30, 15, 5])
    train, test = data.stratified_split(labels, 0.2, rng=3)
    assert np.bincount(labels[test]).tolist() == [10, 6, 3, 1]
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == 100
    again = data.stratified_split(labels, 0.2, rng=3)
    np.testing.assert_array_equal(test, again[1])
    assert not np.array_equal(test, data.stratified_split(labels, 0.2, rng=4)[1])


def test_stratified_split_refuses_an_empty_part():
    with pytest.raises(ValueError, match="non-empty"):
        data.stratified_split(np.arange(10) % 2, 10)


def test_train_val_split_accepts_one_hot_targets():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    t = np.eye(2, dtype=np.float32)[np.arange(20) % 2]
    (x_tr, _), (x_val, t_val) = data.train_val_split(x, t, 0.2)
    assert x_tr.shape == (16, 2) and x_val.shape == (4, 2)
    assert t_val.sum(axis=0).tolist() == [2, 2]


def test_xor_dataset():
    x, labels = data.make_xor()
    assert x.shape == (4, 2)
    np.testing.assert_array_equal(labels, np.logical_xor(x[:, 0], x[:, 1]).astype(int))
