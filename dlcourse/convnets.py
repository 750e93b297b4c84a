"""Ready-made convolutional networks for MNIST-sized images (lessons 06 and 07).

Each factory returns a :class:`dlcourse.models.Sequential` with fresh weights: He
initialisation for the layers followed by ReLU, Xavier (N(0, 1/fan_in)) for the output
layer, zero biases. When training, ``Sequential`` asks its first layer for parameter
gradients only (``param_backward``), so the first Conv2D skips the gradient of the
data, the most expensive col2im of the network.

``rng`` accepts a generator, an int seed or None (``simple_convnet(rng=0)``).

:func:`load_pretrained_convnet` returns the trained SimpleConvNet shipped with the
package (``dlcourse/_data/simple_convnet_mnist.npz``), so lesson 06 can show trained
filters before lesson 07 trains its own. The file is in the one model format of
:meth:`Sequential.save` (int8-quantised, with a SHA-256 check) and was written by::

    DLCOURSE_OFFLINE=1 python benchmarks/accuracy.py --model cnn-pretrained \
        --save dlcourse/_data/simple_convnet_mnist.npz

with ``DLCOURSE_OFFLINE=1`` (the 4,000 offline training digits). The command, the data,
the accuracy and the seed of the initial weights (``initial_seed``: the untrained
network is ``simple_convnet(**factory_kwargs)`` with ``rng=initial_seed``) are stored in
the file; see
:func:`pretrained_metadata`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from importlib import resources
from math import prod
from typing import Any

import numpy as np

from dlcourse.config import as_rng
from dlcourse.fastconv import FastConv2D, FastMaxPool2D
from dlcourse.initializers import he, xavier
from dlcourse.layers import Affine, Flatten, Layer, ReLU
from dlcourse.models import Sequential, read_model_file

__all__ = [
    "FACTORIES",
    "PRETRAINED_FILE",
    "deep_convnet",
    "filter_cosines",
    "load_pretrained_convnet",
    "pretrained_metadata",
    "simple_convnet",
    "single_filter_convnet",
]

#: The shipped trained network, in ``dlcourse/_data``.
PRETRAINED_FILE = "simple_convnet_mnist.npz"


def _conv(
    channels: int,
    filters: int,
    size: int,
    rng: np.random.Generator,
    dtype: np.dtype | type,
    pad: int = 0,
) -> FastConv2D:
    """FastConv2D with He-initialised W (filters, channels, size, size) and zero biases."""
    W = he(
        channels * size * size, filters, rng=rng, dtype=dtype, shape=(filters, channels, size, size)
    )
    return FastConv2D(W, np.zeros(filters, dtype=dtype), pad=pad)


def _affine(
    inputs: int,
    outputs: int,
    rng: np.random.Generator,
    dtype: np.dtype | type,
    init: Callable[..., np.ndarray] = he,
) -> Affine:
    return Affine(init(inputs, outputs, rng=rng, dtype=dtype), np.zeros(outputs, dtype=dtype))


def _check_input_shape(input_shape: Sequence[int]) -> tuple[int, int, int]:
    if len(input_shape) != 3:
        raise ValueError(
            f"expected input_shape (C, H, W), e.g. (1, 28, 28), but got {tuple(input_shape)}"
        )
    return tuple(int(s) for s in input_shape)  # type: ignore[return-value]


def _sequential(layers: list[Layer], input_shape: tuple[int, int, int]) -> Sequential:
    """The layers in a Sequential, after checking that the shapes fit together."""
    shape: tuple[int, ...] = input_shape
    for layer in layers:
        shape = layer.output_shape(shape)  # raises ValueError naming the layer if it misfits
    return Sequential(layers)


def simple_convnet(
    input_shape: Sequence[int] = (1, 28, 28),
    filters: int = 30,
    filter_size: int = 5,
    hidden: int = 100,
    classes: int = 10,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
    filter_std: float | None = None,
) -> Sequential:
    """SimpleConvNet: conv → ReLU → 2×2 max pool → Flatten → affine → ReLU → affine.

    With the defaults: conv 30×5×5 on (1, 28, 28) gives (30, 24, 24), pooling
    (30, 12, 12), flattened 4,320 → 100 → 10 scores. x: (N, 1, 28, 28) -> (N, 10).
    filter_std: standard deviation of the conv filters' initial N(0, std²) values
    (None: He, √(2 / (C·FH·FW)); the source used 0.01 for every layer). Small initial
    filters make what training adds dominate them: the shipped network uses 0.01.
    """
    rng, (c, h, w) = as_rng(rng), _check_input_shape(input_shape)
    conv = _conv(c, filters, filter_size, rng, dtype)
    if filter_std is not None:  # same draws as He, rescaled: the rng stream is unchanged
        conv.W = (conv.W * (filter_std / np.sqrt(2 / (c * filter_size**2)))).astype(dtype)
    pool = FastMaxPool2D(2)
    flat = prod(pool.output_shape(conv.output_shape((c, h, w))))
    layers = [
        conv,
        ReLU(),
        pool,
        Flatten(),
        _affine(flat, hidden, rng, dtype),
        ReLU(),
        _affine(hidden, classes, rng, dtype, init=xavier),
    ]
    return _sequential(layers, (c, h, w))


def single_filter_convnet(
    input_shape: Sequence[int] = (1, 28, 28),
    filter_size: int = 5,
    classes: int = 10,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
) -> Sequential:
    """The source's first CNN: one 5×5 filter → ReLU → Flatten → affine 576 → 10.

    x: (N, 1, 28, 28) -> (N, 10). Unlike the source, the filter has one bias (not one
    per feature-map pixel), as every conv layer does.
    """
    rng, (c, h, w) = as_rng(rng), _check_input_shape(input_shape)
    conv = _conv(c, 1, filter_size, rng, dtype)
    flat = prod(conv.output_shape((c, h, w)))
    layers = [conv, ReLU(), Flatten(), _affine(flat, classes, rng, dtype, init=xavier)]
    return _sequential(layers, (c, h, w))


def deep_convnet(
    input_shape: Sequence[int] = (1, 28, 28),
    filters: Sequence[int] = (16, 32),
    hidden: int = 100,
    classes: int = 10,
    rng: np.random.Generator | int | None = None,
    dtype: np.dtype | type = np.float32,
) -> Sequential:
    """Two pairs of 3×3 convolutions ("same" padding), each pair followed by 2×2 pooling.

    (conv 3×3 → ReLU → conv 3×3 → ReLU → max pool) for each entry of ``filters``, then
    Flatten → affine ``hidden`` → ReLU → affine ``classes``. With the defaults:
    (1, 28, 28) → (16, 14, 14) → (32, 7, 7) → 1,568 → 100 → 10.
    """
    rng, shape = as_rng(rng), _check_input_shape(input_shape)
    layers: list[Layer] = []
    channels, current = shape[0], tuple[int, ...](shape)
    for n_filters in filters:
        for _ in range(2):
            conv = _conv(channels, n_filters, 3, rng, dtype, pad=1)
            layers += [conv, ReLU()]
            channels = n_filters
        layers.append(FastMaxPool2D(2))
        for layer in layers[-5:]:
            current = layer.output_shape(current)
    layers += [
        Flatten(),
        _affine(prod(current), hidden, rng, dtype),
        ReLU(),
        _affine(hidden, classes, rng, dtype, init=xavier),
    ]
    return _sequential(layers, shape)


#: The factories a model file may name in its metadata (``"factory"``), by name.
FACTORIES: dict[str, Callable[..., Sequential]] = {
    "simple_convnet": simple_convnet,
    "single_filter_convnet": single_filter_convnet,
    "deep_convnet": deep_convnet,
}


def filter_cosines(W: np.ndarray, W0: np.ndarray) -> np.ndarray:
    """Cosine similarity of each filter with its own initial one. W, W0: (F, C, FH, FW) -> (F,).

    1 means the filter kept its initial direction (it did not learn a new pattern, only
    perhaps its length); values well below 1 mean training reshaped it.
    """
    a = W.reshape(len(W), -1).astype(np.float64)
    b = W0.reshape(len(W0), -1).astype(np.float64)
    cosines: np.ndarray = np.sum(a * b, axis=1) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    )
    return cosines


def _read_pretrained(path: str | os.PathLike[str] | None) -> tuple[dict[str, Any], Sequential]:
    """(meta, the model the file's factory builds, untrained) for a file or the shipped one."""
    if path is None:
        with resources.files("dlcourse").joinpath("_data", PRETRAINED_FILE).open("rb") as f:
            meta = read_model_file(f)[0]
    else:
        meta = read_model_file(path)[0]
    factory = FACTORIES.get(meta.get("factory", ""))
    if factory is None:
        raise ValueError(
            f"expected the file's factory to be one of {', '.join(FACTORIES)} but got "
            f"{meta.get('factory')!r}"
        )
    return meta, factory(**meta.get("factory_kwargs", {}))


def pretrained_metadata(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The metadata of the shipped network (or of ``path``): command, data, accuracy, seed."""
    return _read_pretrained(path)[0]


def load_pretrained_convnet(path: str | os.PathLike[str] | None = None) -> Sequential:
    """The trained SimpleConvNet shipped with dlcourse, or the network saved at ``path``.

    Builds the architecture with the factory the file names (one of :data:`FACTORIES`,
    never an import), then :meth:`Sequential.load` checks the SHA-256 and the
    architecture and copies the weights in. x: (N, 1, 28, 28) -> scores (N, 10).
    """
    _, model = _read_pretrained(path)
    if path is None:
        with resources.files("dlcourse").joinpath("_data", PRETRAINED_FILE).open("rb") as f:
            model.load(f)
    else:
        model.load(path)
    return model
