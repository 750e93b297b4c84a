"""Interactive widgets for the notebooks (lesson 06: the feature-map explorer).

``feature_map_explorer(model, images, labels)`` shows what the convolution, ReLU and
pooling layers of a :class:`~dlcourse.models.Sequential` model make of a digit: pick
a digit, a layer and a filter, and see the input, the filter and the feature maps.
The forward pass runs once per digit and is cached, so moving a control only redraws
one small PNG (rendered with matplotlib's Agg backend into an ``ipywidgets.Image``).

``load_pretrained_convnet()`` returns the trained SimpleConvNet shipped with the
package, so lesson 06 can show trained filters before lesson 07 trains its own.
The file is a plain ``.npz`` (never a pickle) written by
``python benchmarks/accuracy.py --model cnn --save dlcourse/_data/simple_convnet_mnist.npz``;
the command, the data and the measured accuracy are stored inside it (see
:func:`pretrained_metadata`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import importlib
import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from importlib import resources
from typing import Any, BinaryIO

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = [
    "PRETRAINED_FACTORIES",
    "PRETRAINED_FILE",
    "FeatureMapExplorer",
    "feature_map_explorer",
    "layer_activations",
    "load_pretrained_convnet",
    "pretrained_metadata",
    "save_pretrained",
]

PRETRAINED_FILE = "simple_convnet_mnist.npz"

# Colours from seaborn's "colorblind" palette (written out to keep the import light).
_HIGHLIGHT = "#de8f05"  # orange: the selected feature map in the grid
_MAP_CMAP = "viridis"  # feature maps: perceptually uniform, colour-blind safe
_FILTER_CMAP = "RdBu_r"  # filters: diverging, red positive, blue negative


# ------------------------------------------------------------------ activations


def _named_layers(model: Any) -> list[tuple[str, Any]]:
    """(name, layer) pairs of a Sequential model, in order.

    ``model.layers`` is an ordered dict name → layer (``conv1``, ``relu1``, ...); a plain
    list of layers is accepted too and named by position.
    """
    layers = getattr(model, "layers", None)
    if layers is None:
        raise TypeError(
            "expected a Sequential model (an object with .layers, e.g. simple_convnet()) "
            f"but got {type(model).__name__}"
        )
    if isinstance(layers, Mapping):
        return [(str(name), layer) for name, layer in layers.items()]
    return [(f"layer{i + 1}", layer) for i, layer in enumerate(layers)]


def _layers_of(model: Any) -> list[Any]:
    return [layer for _, layer in _named_layers(model)]


def _as_image_batch(images: np.ndarray) -> np.ndarray:
    """images: (N, 784), (N, H, W) or (N, C, H, W) -> (N, C, H, W)."""
    x = np.asarray(images)
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1]:
            raise ValueError(
                f"expected flat square images such as (N, 784) but got shape {x.shape}; "
                "pass images of shape (N, C, H, W) (one image: x[None])"
            )
        x = x.reshape(len(x), 1, side, side)
    elif x.ndim == 3:
        x = x[:, None]
    elif x.ndim != 4:
        raise ValueError(
            f"expected images of shape (N, C, H, W), (N, H, W) or (N, 784) but got {x.shape}"
        )
    if len(x) == 0:
        raise ValueError("expected at least one image but got an empty array")
    return x


def layer_activations(model: Any, x: np.ndarray) -> list[np.ndarray]:
    """The output of every layer of ``model`` for a batch, computed in eval mode.

    x: (N, C, H, W) images. returns: one array per layer, e.g. (N, 30, 24, 24) after a
    30-filter 5×5 convolution, ending with the scores (N, 10). Each layer's
    ``training`` flag is set to False for the pass and restored afterwards.
    """
    layers = _layers_of(model)
    flags = [getattr(layer, "training", None) for layer in layers]
    outputs = []
    try:
        for layer in layers:
            if hasattr(layer, "training"):
                layer.training = False
        out = x
        for layer in layers:
            out = layer.forward(out)
            outputs.append(out)
    finally:
        for layer, flag in zip(layers, flags, strict=True):
            if flag is not None:
                layer.training = flag
    return outputs


def _filter_source(layers: list[Any], outputs: list[np.ndarray], index: int) -> int | None:
    """Index of the conv layer whose filters made the channels of layer ``index``.

    Walks back through channel-preserving layers (ReLU, pooling) to the nearest layer
    with 4-D weights W (F, C, FH, FW) and F equal to the channel count; None if none.
    """
    channels = outputs[index].shape[1]
    for k in range(index, -1, -1):
        W = getattr(layers[k], "params", {}).get("W")
        if W is not None and W.ndim == 4 and W.shape[0] == channels:
            return k
        if outputs[k].ndim != 4 or outputs[k].shape[1] != channels:
            return None
    return None


# -------------------------------------------------------------------- rendering


def _mosaic(maps: np.ndarray, columns: int) -> np.ndarray:
    """maps: (C, H, W) -> one (rows·(H+1) - 1, columns·(W+1) - 1) image, NaN between maps."""
    c, h, w = maps.shape
    rows = math.ceil(c / columns)
    grid = np.full((rows * (h + 1) - 1, columns * (w + 1) - 1), np.nan)
    for k in range(c):  # a handful of maps, not pixels
        r, col = divmod(k, columns)
        grid[r * (h + 1) : r * (h + 1) + h, col * (w + 1) : col * (w + 1) + w] = maps[k]
    return grid


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig)
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


# --------------------------------------------------------------------- explorer


class FeatureMapExplorer(widgets.VBox):
    """A widget: choose a digit, a layer and a filter; see the input, filter and maps.

    model: a Sequential model whose first layers map (N, C, H, W) images to
    (N, F, H_out, W_out) feature maps (Conv2D, ReLU, MaxPool2D, ...).
    images: (N, C, H, W), (N, H, W) or flat (N, H·W) digits; labels: (N,) or None.

    Controls: ``digit`` (Dropdown of image indices), ``layer`` (Dropdown of the layers
    with image-shaped output), ``channel`` (IntSlider over that layer's filters).
    The picture is ``image`` (an ``ipywidgets.Image`` holding a PNG) with a text
    description in ``caption``. :meth:`render` returns the PNG bytes for any choice.
    """

    def __init__(
        self,
        model: Any,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        dpi: int = 80,
    ) -> None:
        self.model = model
        self.images = _as_image_batch(images)
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(
                f"got {len(self.images)} images but {len(self.labels)} labels; "
                "pass one label per image"
            )
        self.dpi = dpi
        named = _named_layers(model)
        self._names = [name for name, _ in named]
        self._layers = [layer for _, layer in named]
        self._cache: dict[int, list[np.ndarray]] = {}
        try:
            first = self.activations(0)
        except ValueError as err:
            raise ValueError(
                f"the model cannot process images of shape {self.images.shape[1:]} "
                f"(per sample): {err}"
            ) from err
        self.layer_indices = [i for i, out in enumerate(first) if out.ndim == 4]
        if not self.layer_indices:
            shapes = ", ".join(str(out.shape[1:]) for out in first)
            raise ValueError(
                "feature_map_explorer expected layers with (N, C, H, W) output such as "
                f"Conv2D, ReLU or MaxPool2D, but the layers' outputs have shapes {shapes}"
            )
        self._sources = {i: _filter_source(self._layers, first, i) for i in self.layer_indices}

        self.digit = widgets.Dropdown(
            options=[(self._digit_label(i), i) for i in range(len(self.images))],
            value=0,
            description="digit",
        )
        self.layer = widgets.Dropdown(
            options=[(self._layer_label(i, first[i]), i) for i in self.layer_indices],
            value=self.layer_indices[0],
            description="layer",
        )
        self.channel = widgets.IntSlider(
            value=0,
            min=0,
            max=first[self.layer_indices[0]].shape[1] - 1,
            description="filter",
            continuous_update=True,
        )
        self.image = widgets.Image(format="png")
        self.caption = widgets.HTML()
        self.digit.add_class("dlcourse-digit")
        self.layer.add_class("dlcourse-layer")
        self.channel.add_class("dlcourse-filter")
        self.image.add_class("dlcourse-feature-maps")
        self.caption.add_class("dlcourse-caption")
        super().__init__(
            [widgets.HBox([self.digit, self.layer, self.channel]), self.image, self.caption]
        )
        self.add_class("dlcourse-feature-map-explorer")

        self._quiet = False
        self.digit.observe(self._on_change, names="value")
        self.layer.observe(self._on_layer, names="value")
        self.channel.observe(self._on_change, names="value")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The live widget, plus the current picture as a PNG and its description as text.

        JupyterLab shows the widget; a saved notebook opened where widgets cannot run
        (GitHub, nbviewer, a notebook read before running it) shows the picture.
        """
        bundle = super()._repr_mimebundle_(**kwargs)
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        bundle["text/plain"] = self.describe(self.digit.value, self.layer.value, self.channel.value)
        return bundle

    # -- data
    def activations(self, digit: int) -> list[np.ndarray]:
        """Every layer's output for image ``digit`` (batch of one), cached per digit."""
        if digit not in self._cache:
            self._cache[digit] = layer_activations(self.model, self.images[digit : digit + 1])
        return self._cache[digit]

    def _prediction(self, digit: int) -> int | None:
        scores = self.activations(digit)[-1]
        return int(scores.argmax()) if scores.ndim == 2 else None

    def _about(self, digit: int) -> str:
        """'label 7, predicted 7' (either part only when known)."""
        parts = [] if self.labels is None else [f"label {self.labels[digit]}"]
        predicted = self._prediction(digit)
        if predicted is not None:
            parts.append(f"predicted {predicted}")
        return ", ".join(parts) or "no label"

    def _digit_label(self, i: int) -> str:
        return f"#{i}" if self.labels is None else f"#{i}: a {self.labels[i]}"

    def _layer_label(self, index: int, out: np.ndarray) -> str:
        _, c, h, w = out.shape
        return f"{self._names[index]} ({type(self._layers[index]).__name__}) → {c}×{h}×{w}"

    # -- events
    def _on_layer(self, change: Mapping[str, Any]) -> None:
        channels = self.activations(self.digit.value)[change["new"]].shape[1]
        self._quiet = True
        try:
            self.channel.max = channels - 1  # clamps the value, quietly
        finally:
            self._quiet = False
        self.redraw()

    def _on_change(self, change: Mapping[str, Any]) -> None:
        if not self._quiet:
            self.redraw()

    def redraw(self) -> None:
        """Render the current choice into ``image`` and describe it in ``caption``."""
        digit, index, channel = self.digit.value, self.layer.value, self.channel.value
        self.image.value = self.render(digit, index, channel)
        self.caption.value = html.escape(self.describe(digit, index, channel))

    # -- pictures
    def describe(self, digit: int, index: int, channel: int) -> str:
        """A sentence saying what :meth:`render` shows (the picture's text alternative)."""
        maps = self.activations(digit)[index][0]
        name = f"{self._names[index]} ({type(self._layers[index]).__name__})"
        shown = maps[channel]
        return (
            f"Digit #{digit} ({self._about(digit)}). Layer {name}: feature map "
            f"{channel} of {maps.shape[0]}, {shown.shape[0]}×{shown.shape[1]} pixels, "
            f"values from {shown.min():.2f} to {shown.max():.2f}. The grid shows all "
            f"{maps.shape[0]} maps of this layer on one colour scale; the selected one is "
            "outlined in orange."
        )

    def render(self, digit: int, index: int, channel: int) -> bytes:
        """PNG of the input, the filter and the feature maps for one choice of controls."""
        outputs = self.activations(digit)
        maps = outputs[index][0]  # (C, H, W)
        if not 0 <= channel < maps.shape[0]:
            raise ValueError(f"expected channel in [0, {maps.shape[0]}) but got {channel}")
        lo, hi = float(maps.min()), float(maps.max())
        hi = hi if hi > lo else lo + 1e-6

        fig = Figure(figsize=(9.6, 5.6), dpi=self.dpi, layout="constrained")
        grid = fig.add_gridspec(2, 3, height_ratios=(1, 1.15))
        ax_in, ax_w, ax_map = (fig.add_subplot(grid[0, k]) for k in range(3))
        ax_all = fig.add_subplot(grid[1, :])

        ax_in.imshow(self.images[digit, 0], cmap="gray_r")
        ax_in.set_title(f"#{digit}: {self._about(digit)}")

        source = self._sources[index]
        if source is None:
            ax_w.text(0.5, 0.5, "no filter:\nthis layer has no weights", ha="center", va="center")
        else:
            W = self._layers[source].params["W"]  # (F, C, FH, FW)
            limit = float(np.abs(W).max()) or 1.0
            shown = ax_w.imshow(W[channel, 0], cmap=_FILTER_CMAP, vmin=-limit, vmax=limit)
            fig.colorbar(shown, ax=ax_w, shrink=0.8, label="weight")
            extra = "" if W.shape[1] == 1 else f", input channel 0 of {W.shape[1]}"
            ax_w.set_title(
                f"filter {channel} of {self._names[source]} ({W.shape[2]}×{W.shape[3]}{extra})"
            )

        picture = ax_map.imshow(maps[channel], cmap=_MAP_CMAP, vmin=lo, vmax=hi)
        fig.colorbar(picture, ax=ax_map, shrink=0.8, label="activation")
        name = self._names[index]
        ax_map.set_title(f"map {channel} after {name} ({maps.shape[1]}×{maps.shape[2]})")

        columns = min(maps.shape[0], 10)
        ax_all.imshow(_mosaic(maps, columns), cmap=_MAP_CMAP, vmin=lo, vmax=hi)
        h, w = maps.shape[1:]
        r, col = divmod(channel, columns)
        ax_all.add_patch(
            Rectangle(
                (col * (w + 1) - 0.5, r * (h + 1) - 0.5),  # pixel k spans k ± 0.5
                w,
                h,
                fill=False,
                clip_on=False,
                edgecolor=_HIGHLIGHT,
                linewidth=2.5,
            )
        )
        ax_all.set_title(f"all {maps.shape[0]} maps of {name}, one colour scale")
        for ax in (ax_in, ax_w, ax_map, ax_all):
            ax.set_xticks([])
            ax.set_yticks([])
        return _png(fig)


def feature_map_explorer(
    model: Any, images: np.ndarray, labels: np.ndarray | None = None
) -> FeatureMapExplorer:
    """Build the lesson-06 feature-map explorer; display it by making it a cell's last line.

    model: a Sequential CNN (e.g. ``simple_convnet()``); images: (N, 1, 28, 28) digits
    (or (N, 784)); labels: their (N,) classes, shown next to the model's prediction.
    returns: the widget (an ``ipywidgets.VBox``) with controls ``digit``, ``layer`` and
    ``channel``.
    """
    return FeatureMapExplorer(model, images, labels)


# ------------------------------------------------------------ pretrained network

# Weights with at least this many values are stored as int8 with one float32 scale per
# output unit (4× smaller); small arrays stay float32.
_QUANTIZE_FROM = 4096
# The factories a pretrained file may name: loading never imports anything else.
PRETRAINED_FACTORIES = (
    "dlcourse.convnets:simple_convnet",
    "dlcourse.convnets:single_filter_convnet",
    "dlcourse.convnets:deep_convnet",
    "dlcourse.models:mlp",
    "dlcourse.models:softmax_regression",
)


def _open_pretrained(path: str | os.PathLike | None) -> BinaryIO:
    """Open ``path``, or the file shipped in ``dlcourse/_data`` when path is None."""
    if path is None:
        return resources.files("dlcourse").joinpath("_data", PRETRAINED_FILE).open("rb")
    return open(path, "rb")  # the caller closes it


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of the stored weight arrays."""
    digest = hashlib.sha256()
    for key in sorted(arrays):
        value = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}|{value.dtype.str}|{value.shape}|".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _quantize(value: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 values and float32 scales, one scale per output unit (axis 0 of 4-D, else last)."""
    axis = 0 if value.ndim == 4 else value.ndim - 1
    reduce = tuple(a for a in range(value.ndim) if a != axis)
    scale = np.abs(value).max(axis=reduce, keepdims=True) / 127
    scale[scale == 0] = 1
    return np.round(value / scale).astype(np.int8), scale.astype(np.float32)


def save_pretrained(model: Any, path: str | os.PathLike, meta: Mapping[str, Any]) -> None:
    """Write ``model.params`` compactly to a ``.npz`` with ``meta`` stored as JSON.

    meta must name the factory that rebuilds the architecture, one of
    :data:`PRETRAINED_FACTORIES`, e.g. ``{"factory": "dlcourse.convnets:simple_convnet",
    "factory_kwargs": {}}``, and should record the command and data that produced the
    weights. Large weights (≥ 4096 values) are stored as int8 with one float32 scale per
    output unit (the last axis of an affine W (D, M), the first of a conv W
    (F, C, FH, FW)). A SHA-256 of the stored arrays goes into the metadata, so a
    modified file is refused on loading.
    """
    if meta.get("factory") not in PRETRAINED_FACTORIES:
        raise ValueError(
            f"meta['factory'] must be one of {', '.join(PRETRAINED_FACTORIES)} "
            f"but is {meta.get('factory')!r}"
        )
    arrays: dict[str, np.ndarray] = {}
    for name, value in model.params.items():
        value = np.asarray(value, dtype=np.float32)
        if value.size < _QUANTIZE_FROM:
            arrays[f"float32/{name}"] = value
        else:
            arrays[f"int8/{name}"], arrays[f"scale/{name}"] = _quantize(value)
    stored_meta = {**dict(meta), "sha256": _digest(arrays)}
    arrays["meta"] = np.array(json.dumps(stored_meta, sort_keys=True))
    np.savez_compressed(path, **arrays)


def pretrained_metadata(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The JSON metadata of a pretrained file: command, data, accuracy, factory."""
    with _open_pretrained(path) as f, np.load(f, allow_pickle=False) as npz:
        return json.loads(str(npz["meta"]))


def _read_file(path: str | os.PathLike | None) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(meta, stored arrays) of a pretrained file; ValueError if it is not one."""
    where = "the shipped pretrained file" if path is None else f"{os.fspath(path)!r}"
    try:
        with _open_pretrained(path) as f, np.load(f, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz}
        meta = json.loads(str(arrays.pop("meta")))
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as err:
        # np.load reports a file that is not an .npz as "pickled data" (refused here)
        raise ValueError(
            f"{where} is not a pretrained .npz file written by save_pretrained"
        ) from err
    if _digest(arrays) != meta.get("sha256"):
        raise ValueError(
            f"{where} was modified or is damaged: its weights do not match the SHA-256 "
            "recorded when it was saved"
        )
    return meta, arrays


def _weights(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    weights = {}
    for key, value in arrays.items():
        kind, _, name = key.partition("/")
        if kind == "float32":
            weights[name] = value
        elif kind == "int8":
            weights[name] = value.astype(np.float32) * arrays[f"scale/{name}"]
    return weights


def load_pretrained_convnet(path: str | os.PathLike | None = None) -> Any:
    """The trained SimpleConvNet shipped with dlcourse (or a file from ``save_pretrained``).

    Checks the file's SHA-256, rebuilds the architecture with the factory recorded in
    the file (one of :data:`PRETRAINED_FACTORIES`), then copies the weights into
    ``model.params`` in place. A file whose weights do not match the architecture
    raises ValueError naming the parameter and both shapes.
    """
    meta, arrays = _read_file(path)
    if meta.get("factory") not in PRETRAINED_FACTORIES:
        raise ValueError(f"pretrained file names an unknown factory {meta.get('factory')!r}")
    module_name, _, factory_name = meta["factory"].partition(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    # The seed only chose the initial weights, which are overwritten here.
    kwargs = {k: v for k, v in meta.get("factory_kwargs", {}).items() if k not in ("seed", "rng")}
    model = factory(**kwargs)
    weights, params = _weights(arrays), model.params
    if set(weights) != set(params):
        raise ValueError(
            f"pretrained file has parameters {sorted(weights)} but {meta['factory']} builds "
            f"{sorted(params)}"
        )
    for name, value in weights.items():
        if params[name].shape != value.shape:
            raise ValueError(
                f"pretrained {name} has shape {value.shape} but the model expects "
                f"{params[name].shape}"
            )
        params[name][...] = value
    return model
