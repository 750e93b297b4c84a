"""A network as an ordered chain of layers, and the factories the lessons use (lesson 05).

:class:`Sequential` runs its layers in order (forward), then its loss layer, and
sends the gradient back through them in reverse order (backward). It names layers
by kind and number (``affine1``, ``relu1``, ``affine2``) and exposes every parameter
as ``"affine1.W"`` → the layer's own array, so an optimizer that updates
``model.params`` in place trains the model.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from typing import IO, Any, Protocol, runtime_checkable

import numpy as np

from dlcourse.config import as_rng
from dlcourse.functions import accuracy as _accuracy
from dlcourse.initializers import get_initializer
from dlcourse.layers import (
    Affine,
    BatchNorm,
    Dropout,
    Layer,
    Loss,
    SoftmaxCrossEntropy,
    cast_layer,
    make_activation,
)

__all__ = [
    "PENALTIES",
    "Model",
    "Sequential",
    "evaluation",
    "mlp",
    "model_metadata",
    "npz_path",
    "quantize_int8",
    "read_model_file",
    "softmax_regression",
    "write_model_file",
]

#: Weight penalties: name → (penalty value, its gradient) for one weight array W.
PENALTIES: dict[str, tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], np.ndarray]]] = {
    "l2": (lambda W: 0.5 * float(np.sum(W * W)), lambda W: W),
    "l1": (lambda W: float(np.sum(np.abs(W))), np.sign),
}

ARCHITECTURE_KEY = "__architecture__"
META_KEY = "__meta__"
#: With ``save(..., quantize=True)``, arrays with at least this many values are stored
#: as int8 with one float32 scale per output unit; smaller ones (biases) stay as they are.
QUANTIZE_FROM = 4096


@runtime_checkable
class Model(Protocol):
    """The model contract: what ``train``, ``evaluate``, ``gradient_check`` and the widgets use.

    :class:`Sequential` satisfies it; so does any class of your own with these members.
    ``layers`` maps names to layers in order; ``params``/``grads`` map
    ``"<layer>.<name>"`` to the layer's own arrays; ``loss_layer`` turns scores into
    the loss; ``training`` is True in training mode (see :func:`evaluation`).
    """

    training: bool

    @property
    def layers(self) -> Mapping[str, Layer]: ...

    @property
    def loss_layer(self) -> Loss: ...

    @property
    def params(self) -> dict[str, np.ndarray]: ...

    @property
    def grads(self) -> dict[str, np.ndarray]: ...

    def forward(self, x: np.ndarray) -> np.ndarray: ...

    def loss(self, x: np.ndarray, t: np.ndarray) -> float: ...

    def backward(self, dout: float = 1.0, need_dx: bool = True) -> np.ndarray | None: ...

    def loss_and_gradient(
        self, x: np.ndarray, t: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]: ...

    def penalty_value(self) -> float: ...

    def train(self) -> object: ...

    def eval(self) -> object: ...


@contextmanager
def evaluation(model: Model) -> Iterator[Model]:
    """Run the ``with`` block in evaluation mode, then restore the mode the model was in.

    ``with evaluation(model): scores = model.forward(x)``: Dropout off, BatchNorm on its
    running statistics; afterwards the model is back in training mode if it was in it.
    """
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        if was_training:
            model.train()


class Sequential:
    """Layers applied in order, followed by a loss layer.

    layers: the layers, first to last; loss: the loss layer (default
    :class:`~dlcourse.layers.SoftmaxCrossEntropy`); weight_decay: strength λ of the
    penalty on every weight array named ``W`` (biases and BatchNorm's gamma/beta are
    not penalised); penalty: ``"l2"`` adds λ/2·ΣW², ``"l1"`` adds λ·Σ|W|.
    """

    def __init__(
        self,
        layers: Iterable[Layer],
        loss: Loss | None = None,
        weight_decay: float = 0.0,
        penalty: str = "l2",
    ) -> None:
        if penalty not in PENALTIES:
            raise ValueError(f"unknown penalty {penalty!r}; choose one of: {', '.join(PENALTIES)}")
        counts: Counter[str] = Counter()
        self.layers: dict[str, Layer] = {}
        for layer in layers:
            counts[layer.kind] += 1
            self.layers[f"{layer.kind}{counts[layer.kind]}"] = layer
        if not self.layers:
            raise ValueError("Sequential needs at least one layer")
        self.loss_layer: Loss = SoftmaxCrossEntropy() if loss is None else loss
        self.weight_decay = float(weight_decay)
        self.penalty = penalty
        self.training = True

    # ------------------------------------------------------------ parameters

    @property
    def params(self) -> dict[str, np.ndarray]:
        """``"affine1.W"`` → the layer's own parameter array (not a copy)."""
        return {
            f"{name}.{key}": value
            for name, layer in self.layers.items()
            for key, value in layer.params.items()
        }

    @property
    def grads(self) -> dict[str, np.ndarray]:
        """``"affine1.W"`` → its gradient from the last backward pass."""
        return {
            f"{name}.{key}": value
            for name, layer in self.layers.items()
            for key, value in layer.grads.items()
        }

    @property
    def num_params(self) -> int:
        """Total number of trainable numbers."""
        return sum(p.size for p in self.params.values())

    def astype(self, dtype: np.dtype | type) -> Sequential:
        """Cast every parameter (and BatchNorm state) to ``dtype`` in place; returns self."""
        for layer in self.layers.values():
            cast_layer(layer, dtype)
        return self

    # ------------------------------------------------------------ modes

    def train(self) -> Sequential:
        """Training mode (dropout active, BatchNorm uses batch statistics); returns self."""
        return self._set_mode(True)

    def eval(self) -> Sequential:
        """Evaluation mode (no dropout, BatchNorm uses running statistics); returns self."""
        return self._set_mode(False)

    def _set_mode(self, training: bool) -> Sequential:
        self.training = training
        for layer in self.layers.values():
            layer.training = training
        return self

    # ------------------------------------------------------------ passes

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, ...) → scores (N, K) in the current mode, in one batch."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def backward(self, dout: float = 1.0, need_dx: bool = True) -> np.ndarray | None:
        """Backpropagate from the loss of the last :meth:`loss` call; returns dx.

        Fills every layer's ``grads`` (without the weight penalty; see
        :meth:`loss_and_gradient`). With ``need_dx=False`` the first layer only
        computes its parameter gradients (training never needs dx) and None is returned.
        """
        grad = self.loss_layer.backward(dout)
        layers = list(self.layers.values())
        for layer in reversed(layers[1:]):
            grad = layer.backward(grad)
        if need_dx:
            return layers[0].backward(grad)
        layers[0].param_backward(grad)
        return None

    def penalty_value(self) -> float:
        """The weight penalty added to the loss (0 when weight_decay is 0)."""
        if not self.weight_decay:
            return 0.0
        value, _ = PENALTIES[self.penalty]
        return self.weight_decay * sum(value(W) for W in self._weights())

    def _weights(self) -> list[np.ndarray]:
        return [layer.params["W"] for layer in self.layers.values() if "W" in layer.params]

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        """Mean loss of the batch plus the weight penalty. t: (N, K) one-hot or (N,) labels."""
        return self.loss_layer.forward(self.forward(x), t) + self.penalty_value()

    def loss_and_gradient(
        self, x: np.ndarray, t: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        """One forward and one backward pass: (loss, grads), grads including the penalty."""
        value = self.loss(x, t)
        self.backward(need_dx=False)
        if self.weight_decay:
            _, derivative = PENALTIES[self.penalty]
            for layer in self.layers.values():
                if "W" in layer.params:
                    layer.grads["W"] = layer.grads["W"] + self.weight_decay * derivative(
                        layer.params["W"]
                    )
        return value, self.grads

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradients of :meth:`loss` by backpropagation, by parameter name."""
        return self.loss_and_gradient(x, t)[1]

    def predict(self, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
        """Scores (N, K) in evaluation mode, ``batch_size`` samples at a time.

        The mode the model was in is restored afterwards (:func:`evaluation`).
        """
        with evaluation(self):
            outputs = [
                self.forward(x[i : i + batch_size]) for i in range(0, max(len(x), 1), batch_size)
            ]
        return np.concatenate(outputs, axis=0)

    def accuracy(self, x: np.ndarray, t: np.ndarray, batch_size: int = 1000) -> float:
        """Fraction of samples whose top score is the target class (evaluation mode)."""
        return _accuracy(self.predict(x, batch_size), t)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    # ------------------------------------------------------------ description

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={layer!r}" for name, layer in self.layers.items())
        return f"Sequential({inner}, loss={self.loss_layer!r})"

    def summary(self, input_shape: tuple[int, ...]) -> str:
        """A table of layers, per-sample output shapes and parameter counts.

        input_shape: the shape of one sample, e.g. (784,) or (1, 28, 28).
        """
        rows = [("input", "", str(tuple(input_shape)), "")]
        shape = tuple(input_shape)
        for name, layer in self.layers.items():
            shape = tuple(layer.output_shape(shape))
            count = sum(p.size for p in layer.params.values())
            rows.append((name, type(layer).__name__, str(shape), f"{count:,}"))
        header = ("name", "layer", "output shape", "parameters")
        total = ("total", "", "", f"{self.num_params:,}")
        widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(4)]

        def line(row: tuple[str, ...]) -> str:
            cells = [row[i].ljust(widths[i]) for i in range(3)] + [row[3].rjust(widths[3])]
            return "  ".join(cells).rstrip()

        rule = "-" * len(line(tuple(w * "-" for w in widths)))
        return "\n".join([line(header), rule, *map(line, rows), rule, line(total)])

    # ------------------------------------------------------------ saving

    def architecture(self) -> list[dict[str, Any]]:
        """Layer names, kinds and parameter/state shapes: what a saved file must match."""
        return [
            {
                "name": name,
                "kind": layer.kind,
                "params": {k: list(v.shape) for k, v in layer.params.items()},
                "state": {k: list(v.shape) for k, v in getattr(layer, "state", {}).items()},
            }
            for name, layer in self.layers.items()
        ]

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self.params)
        for name, layer in self.layers.items():
            for key, value in getattr(layer, "state", {}).items():
                arrays[f"{name}.{key}"] = value
        return arrays

    def save(self, path: str | os.PathLike[str], quantize: bool = False, **meta: Any) -> Path:
        """Write every parameter, BatchNorm state, the architecture and ``meta`` to ``path``.

        The file is a plain ``.npz`` (no pickles; ".npz" is appended to a path without
        it) in the one model format of :func:`write_model_file`; meta must be
        JSON-serialisable (e.g. ``epoch=3, val_acc=0.97``). ``quantize=True`` stores
        large weights as int8 (4× smaller, for shipping). Returns the path written.
        """
        architecture = np.array([json.dumps(entry) for entry in self.architecture()])
        return write_model_file(path, self._arrays(), architecture, meta, quantize)

    def load(self, path: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
        """Read parameters saved by :meth:`save` into this model (in place); returns meta.

        Raises ValueError when the file is not a model file, was modified after saving
        (its SHA-256 differs), or was saved from a model of another architecture (naming
        the first difference).
        """
        meta, architecture, arrays = read_model_file(path)
        saved = [json.loads(str(s)) for s in architecture]
        difference = _first_difference(saved, self.architecture())
        if difference:
            raise ValueError(f"cannot load {_name(path)} into this model: {difference}")
        for key, target in self._arrays().items():
            target[...] = arrays[key]
        return meta


# ------------------------------------------------------------------ the model file


def npz_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as a Path ending in ".npz" (appended when missing), as ``np.savez`` writes."""
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def _name(path: str | os.PathLike[str] | IO[bytes]) -> str:
    return Path(path).name if isinstance(path, str | os.PathLike) else "the model file"


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of the stored arrays."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def quantize_int8(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales, one scale per output unit.

    value: a conv W (F, C, FH, FW) (one scale per filter, axis 0) or an affine W (D, M)
    (one per output, the last axis). returns (q, scale) with ``value ≈ q · scale``.
    """
    axis = 0 if value.ndim == 4 else value.ndim - 1
    reduce = tuple(a for a in range(value.ndim) if a != axis)
    scale = np.abs(value).max(axis=reduce, keepdims=True) / 127
    scale[scale == 0] = 1
    return np.round(value / scale).astype(np.int8), scale.astype(np.float32)


def write_model_file(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    architecture: np.ndarray,
    meta: Mapping[str, Any],
    quantize: bool = False,
) -> Path:
    """Write the one model format: a compressed ``.npz`` of plain arrays, no pickles.

    arrays: ``"conv1.W"`` → values; architecture: one JSON string per layer. With
    ``quantize``, arrays of at least :data:`QUANTIZE_FROM` values are stored as
    ``"int8:<name>"`` and ``"scale:<name>"`` (see :func:`quantize_int8`). The SHA-256 of
    every stored array goes into the metadata (``"sha256"``), so a modified or damaged
    file is refused on loading.
    """
    stored: dict[str, np.ndarray] = {ARCHITECTURE_KEY: architecture}
    for name, value in arrays.items():
        if quantize and value.size >= QUANTIZE_FROM:
            stored[f"int8:{name}"], stored[f"scale:{name}"] = quantize_int8(value)
        else:
            stored[name] = np.asarray(value)
    full_meta = {**dict(meta), "sha256": _digest(stored)}
    stored[META_KEY] = np.array(json.dumps(full_meta, sort_keys=True))
    path = npz_path(path)
    np.savez_compressed(path, **stored)  # type: ignore[arg-type]  # numpy's stub reads **kwds as allow_pickle
    return path


def read_model_file(
    path: str | os.PathLike[str] | IO[bytes],
) -> tuple[dict[str, Any], np.ndarray, dict[str, np.ndarray]]:
    """(meta, architecture, arrays) of a file written by :func:`write_model_file`.

    path: a path (".npz" appended when the file does not exist without it) or an open
    binary file. Quantised arrays come back as float32 (``q · scale``); meta is what was
    saved, without the digest. Raises ValueError if the file is not a model file or its
    SHA-256 does not match.
    """
    if isinstance(path, str | os.PathLike) and not Path(path).exists():
        path = npz_path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            stored = {key: npz[key] for key in npz}
        meta = json.loads(str(stored.pop(META_KEY)))
        architecture = stored[ARCHITECTURE_KEY]
    except (EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        # np.load reports a file that is not an .npz as "pickled data" (refused here)
        raise ValueError(
            f"expected a model file written by Sequential.save but {_name(path)} is not one"
        ) from err
    if _digest(stored) != meta.pop("sha256", None):
        raise ValueError(
            f"{_name(path)} was modified or is damaged: its arrays do not match the SHA-256 "
            "recorded when it was saved"
        )
    arrays: dict[str, np.ndarray] = {}
    for key, value in stored.items():
        kind, _, name = key.partition(":")
        if kind == "int8":
            arrays[name] = value.astype(np.float32) * stored[f"scale:{name}"]
        elif kind != "scale" and key != ARCHITECTURE_KEY:
            arrays[key] = value
    return meta, architecture, arrays


def model_metadata(path: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
    """The JSON metadata of a model file (after checking its SHA-256)."""
    return read_model_file(path)[0]


def _first_difference(saved: list[dict[str, Any]], current: list[dict[str, Any]]) -> str:
    """A sentence describing the first way two architectures differ ('' if they match)."""
    for i, (a, b) in enumerate(zip(saved, current, strict=False), start=1):
        if a["name"] != b["name"]:
            return f"layer {i} is {a['name']} in the file but {b['name']} in the model"
        for group in ("params", "state"):
            if a[group] != b[group]:
                for key in sorted(set(a[group]) | set(b[group])):
                    sa, sb = a[group].get(key), b[group].get(key)
                    if sa != sb:
                        return (
                            f"{a['name']}.{key} has shape {_shape(sa)} in the file "
                            f"but {_shape(sb)} in the model"
                        )
    if len(saved) != len(current):
        return f"the file has {len(saved)} layers but the model has {len(current)}"
    return ""


def _shape(shape: list[int] | None) -> str:
    return "(missing)" if shape is None else str(tuple(shape))


# ------------------------------------------------------------------ factories


def _init(name_or_fn: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    return get_initializer(name_or_fn) if isinstance(name_or_fn, str) else name_or_fn


def softmax_regression(
    input_size: int = 784,
    classes: int = 10,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
) -> Sequential:
    """One Affine layer followed by softmax cross-entropy (lesson 02), weights N(0, 0.01²)."""
    W = get_initializer("normal")(input_size, classes, rng=as_rng(rng), dtype=dtype)
    return Sequential([Affine(W, np.zeros(classes, dtype=dtype))])


def mlp(
    sizes: Iterable[int] = (784, 100, 10),
    activation: str = "relu",
    init: str | Callable[..., np.ndarray] = "he",
    output_init: str | Callable[..., np.ndarray] = "xavier",
    batch_norm: bool = False,
    dropout: float = 0.0,
    weight_decay: float = 0.0,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
) -> Sequential:
    """A multilayer perceptron: (Affine → [BatchNorm] → activation → [Dropout]) per hidden
    layer, then an output Affine, with softmax cross-entropy.

    sizes: (input, hidden..., classes), e.g. (784, 100, 10). Hidden weights use ``init``
    and the output layer ``output_init`` (names from :mod:`dlcourse.initializers`).
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"mlp expected sizes (input, ..., classes) but got {tuple(sizes)}")
    rng = as_rng(rng)
    layers: list[Layer] = []
    for fan_in, fan_out in pairwise(sizes[:-1]):
        W = _init(init)(fan_in, fan_out, rng=rng, dtype=dtype)
        layers.append(Affine(W, np.zeros(fan_out, dtype=dtype)))
        if batch_norm:
            layers.append(BatchNorm(np.ones(fan_out, dtype=dtype), np.zeros(fan_out, dtype=dtype)))
        layers.append(make_activation(activation))
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
    W = _init(output_init)(sizes[-2], sizes[-1], rng=rng, dtype=dtype)
    layers.append(Affine(W, np.zeros(sizes[-1], dtype=dtype)))
    return Sequential(layers, weight_decay=weight_decay)
