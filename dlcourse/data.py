"""MNIST, the XOR toy set, splits and mini-batches (lessons 00, 03 and 04).

``load_mnist`` gives the full MNIST set (60,000 + 10,000 digits) when it can be
downloaded and verified, and otherwise 5,000 real MNIST digits shipped inside the
package, split 4,000 / 1,000. It always prints one line saying which data you got.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from dlcourse.config import as_rng, offline_mode
from dlcourse.functions import one_hot

CACHE_ENV = "DLCOURSE_DATA_DIR"

MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

MNIST_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

MAX_TIMEOUT = 10.0
OFFLINE_TEST_SIZE = 1000
OFFLINE_SPLIT_SEED = 0

# Mirrors that failed once are not asked again in the same Python process.
_failed_mirrors: set[str] = set()

# IDX type codes (third byte of the magic number) to numpy dtypes, big-endian on disk.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class ChecksumError(OSError):
    """A downloaded file's SHA-256 did not match the published one."""


# --------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (plain or gzipped) into an array of its stored dtype and shape.

    The header is two zero bytes, a type code, the number of dimensions ``ndim``,
    then ``ndim`` big-endian uint32 sizes. Values come back in native byte order,
    e.g. ``t10k-images-idx3-ubyte.gz`` gives uint8 of shape (10000, 28, 28).
    """
    path = Path(path)
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as f:
            content = f.read()
    except (OSError, EOFError) as err:
        raise ValueError(f"{path.name}: not a readable gzip file ({err})") from err

    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        head = content[:4].hex(" ") or "nothing"
        raise ValueError(
            f"{path.name}: not an IDX file (expected the magic number to start with two "
            f"zero bytes, got {head})"
        )
    type_code, ndim = content[2], content[3]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise ValueError(
            f"{path.name}: wrong magic number, unknown IDX type code 0x{type_code:02X} "
            f"(expected one of {known})"
        )
    header_size = 4 + 4 * ndim
    if len(content) < header_size:
        raise ValueError(
            f"{path.name}: file too short, header says {ndim} dimensions "
            f"({header_size} header bytes) but the file has {len(content)} bytes"
        )
    shape = tuple(int(n) for n in np.frombuffer(content, ">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) < expected:
        raise ValueError(
            f"{path.name}: file too short, header says shape {shape} of {dtype.newbyteorder('=')} "
            f"({expected} bytes in all) but the file has {len(content)} bytes"
        )
    values = np.frombuffer(content, dtype, count=int(np.prod(shape)), offset=header_size)
    array: np.ndarray = values.astype(dtype.newbyteorder("=")).reshape(shape)
    return array


# ---------------------------------------------------------------------- download


def default_cache_dir() -> Path:
    """Where downloads are kept: ``$DLCOURSE_DATA_DIR``, else the per-user cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "dlcourse" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "dlcourse"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dlcourse"


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(total: int | None, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="B", unit_scale=True, leave=False)


def _download(url: str, target: Path, sha256: str, timeout: float) -> None:
    """Stream ``url`` into ``target`` through a temporary file; rename only when verified."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        received = 0
        with urllib.request.urlopen(url, timeout=timeout) as response, os.fdopen(fd, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with _progress(total, target.name) as bar:
                for chunk in iter(lambda: response.read(1 << 16), b""):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise OSError(f"truncated transfer of {url}: got {received} of {total} bytes")
        if digest.hexdigest() != sha256:
            raise ChecksumError(
                f"checksum mismatch for {url}: expected SHA-256 {sha256}, got {digest.hexdigest()}"
            )
        # mkstemp made it 0600; a cache is for every user (the grading sandbox's too)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def fetch(
    name: str,
    sha256: str,
    cache_dir: Path,
    mirrors: Sequence[str] = MIRRORS,
    timeout: float = MAX_TIMEOUT,
) -> Path:
    """Return the cached, verified file ``name``, downloading it from the first mirror that works.

    A cached file whose checksum is wrong is deleted and fetched again. Every mirror
    that fails is remembered for the rest of the process. Raises ``OSError`` listing
    each mirror's failure when none succeeds.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / name
    if target.exists():
        if sha256_of(target) == sha256:
            return target
        print(f"dlcourse: cached {name} is corrupted (checksum mismatch); downloading it again")
        target.unlink()
    failures = []
    for mirror in mirrors:
        if mirror in _failed_mirrors:
            failures.append(f"{mirror}: failed earlier in this session")
            continue
        try:
            _download(mirror + name, target, sha256, min(timeout, MAX_TIMEOUT))
            return target
        except (OSError, http.client.HTTPException) as err:
            _failed_mirrors.add(mirror)
            failures.append(f"{mirror}: {err}")
    raise OSError(f"could not download {name}:\n  " + "\n  ".join(failures))


# ------------------------------------------------------------------------- MNIST


@dataclass
class MNIST:
    """Images and targets for training and testing, plus where they came from.

    Unpacks like the book's loader: ``(x_train, t_train), (x_test, t_test) = load_mnist()``.
    """

    x_train: np.ndarray
    t_train: np.ndarray
    x_test: np.ndarray
    t_test: np.ndarray
    source: str  # "full" or "offline"
    notice: str

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        yield self.x_train, self.t_train
        yield self.x_test, self.t_test


def load_offline_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 real MNIST digits shipped with dlcourse: uint8 (5000, 28, 28), labels (5000,)."""
    with resources.files("dlcourse").joinpath("_data/mnist_5k.npz").open("rb") as f:
        with np.load(f, allow_pickle=False) as npz:
            return npz["images"], npz["labels"].astype(np.int64)


def _download_full(cache_dir: Path, mirrors: Sequence[str], timeout: float) -> dict[str, Path]:
    return {
        name: fetch(name, sha, cache_dir, mirrors, timeout) for name, sha in MNIST_SHA256.items()
    }


def _prepare(
    images: np.ndarray,
    labels: np.ndarray,
    normalize: bool,
    flatten: bool,
    one_hot_labels: bool,
    dtype: np.dtype,
) -> tuple[np.ndarray, np.ndarray]:
    x = images.astype(dtype)
    if normalize:
        x /= 255
    x = x.reshape(len(x), -1) if flatten else x.reshape(len(x), 1, 28, 28)
    labels = labels.astype(np.int64)
    t = one_hot(labels, 10, dtype) if one_hot_labels else labels
    return x, t


def load_mnist(
    normalize: bool = True,
    flatten: bool = True,
    one_hot_labels: bool = False,
    dtype: np.dtype | type = np.float32,
    cache_dir: str | os.PathLike | None = None,
    mirrors: Sequence[str] = MIRRORS,
    timeout: float = MAX_TIMEOUT,
    offline: bool | None = None,
) -> MNIST:
    """MNIST digits ready for training, and a one-line notice of which data they are.

    normalize: pixels scaled to [0, 1] (else 0..255).
    flatten: x of shape (N, 784); else (N, 1, 28, 28).
    one_hot_labels: t of shape (N, 10); else integer labels (N,).
    dtype: float type of x (and of one-hot t); float32 by default.
    cache_dir: where downloads are kept (default: ``$DLCOURSE_DATA_DIR`` or the
        per-user cache folder, see :func:`default_cache_dir`).
    offline: skip the network; defaults to ``DLCOURSE_OFFLINE=1``.

    Without the full set (offline, or no mirror answered), the 5,000 shipped digits
    are split 4,000 train / 1,000 test, stratified and seeded: the same split in
    every lesson, test and benchmark.
    """
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"load_mnist expected a float dtype such as float32, got {dtype}")
    reason = "load_mnist(offline=True) was asked" if offline else "DLCOURSE_OFFLINE=1 is set"
    offline = offline_mode() if offline is None else offline
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()

    def prepare(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return _prepare(images, labels, normalize, flatten, one_hot_labels, dtype)

    if not offline:
        try:
            paths = _download_full(cache, mirrors, timeout)
        except OSError as err:
            reason = "no MNIST mirror could be reached"
            first_line = str(err).splitlines()[0]
            print(f"dlcourse: {first_line}; falling back to the offline digits", file=sys.stderr)
        else:
            train = prepare(
                read_idx(paths["train-images-idx3-ubyte.gz"]),
                read_idx(paths["train-labels-idx1-ubyte.gz"]),
            )
            test = prepare(
                read_idx(paths["t10k-images-idx3-ubyte.gz"]),
                read_idx(paths["t10k-labels-idx1-ubyte.gz"]),
            )
            notice = f"MNIST: full set, {len(train[0]):,} training and {len(test[0]):,} test digits"
            print(notice)
            return MNIST(*train, *test, source="full", notice=notice)

    images, labels = load_offline_digits()
    train_idx, test_idx = stratified_split(labels, OFFLINE_TEST_SIZE, rng=OFFLINE_SPLIT_SEED)
    # The shipped file is sorted by class; shuffle (seeded) so it looks like the real set.
    order = np.random.default_rng(OFFLINE_SPLIT_SEED)
    train_idx, test_idx = order.permutation(train_idx), order.permutation(test_idx)
    train = prepare(images[train_idx], labels[train_idx])
    test = prepare(images[test_idx], labels[test_idx])
    notice = (
        f"MNIST: offline subset, {len(train_idx):,} training and {len(test_idx):,} test digits "
        f"(real MNIST shipped with dlcourse; {reason})"
    )
    print(notice)
    return MNIST(*train, *test, source="offline", notice=notice)


# ------------------------------------------------------------ splits and batches


def stratified_split(
    labels: np.ndarray, test_size: int | float, rng: np.random.Generator | int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a random split that keeps each class's share in both parts.

    labels: (N,) integer classes. test_size: a count, or a fraction in (0, 1).
    rng: a Generator, a seed, or None (see :func:`dlcourse.config.as_rng`).
    returns: (train_idx, test_idx), each sorted.
    """
    labels = np.asarray(labels)
    n = len(labels)
    n_test = round(test_size * n) if isinstance(test_size, float) else int(test_size)
    if not 0 < n_test < n:
        raise ValueError(
            f"expected a test_size that leaves both parts non-empty but got {test_size} of {n}"
        )
    rng = as_rng(rng)
    classes, counts = np.unique(labels, return_counts=True)
    # Largest-remainder rounding so the per-class test counts add up to n_test exactly.
    quotas = counts * n_test / n
    per_class = np.floor(quotas).astype(int)
    leftover = n_test - per_class.sum()
    per_class[np.argsort(-(quotas - per_class), kind="stable")[:leftover]] += 1
    test_idx = np.concatenate(
        [
            rng.permutation(np.flatnonzero(labels == c))[:k]
            for c, k in zip(classes, per_class, strict=True)
        ]
    )
    test_mask = np.zeros(n, dtype=bool)
    test_mask[test_idx] = True
    return np.flatnonzero(~test_mask), np.flatnonzero(test_mask)


def train_val_split(
    x: np.ndarray,
    t: np.ndarray,
    val_fraction: float = 0.1,
    rng: np.random.Generator | int | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Random, stratified split of (x, t) into training and validation parts.

    x: (N, ...); t: (N,) labels or (N, K) one-hot; rng: a Generator, a seed or None.
    returns ((x_tr, t_tr), (x_val, t_val)).
    """
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} samples but t has {len(t)}")
    labels = t.argmax(axis=1) if t.ndim == 2 else t
    train_idx, val_idx = stratified_split(labels, val_fraction, rng)
    return (x[train_idx], t[train_idx]), (x[val_idx], t[val_idx])


def make_xor(dtype: np.dtype | type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The four XOR points: x (4, 2) of 0/1 inputs and labels (4,) = x0 XOR x1."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=dtype)
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    return x, labels
