"""Interactive widgets for the notebooks (lesson 06: the feature-map explorer).

``feature_map_explorer(model, images, labels)`` shows what the convolution, ReLU and
pooling layers of a :class:`~dlcourse.models.Sequential` model make of a digit: pick
a digit, a layer and a filter, and see the input, the filter and the feature maps.
The forward pass runs once per digit and is cached, so moving a control only redraws
one small PNG (rendered with matplotlib's Agg backend into an ``ipywidgets.Image``).

This module is UI only: the trained network lesson 06 shows comes from
:func:`dlcourse.convnets.load_pretrained_convnet`, saved in the one model format of
:meth:`dlcourse.models.Sequential.save`.

Feature maps and filters are signed (a convolution's output is negative where the
patch looks like the filter's opposite), so both are drawn with a diverging colour
map centred on zero, red positive and blue negative, like the lesson's own figures.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from dlcourse.conv import as_image_batch
from dlcourse.layers import Layer
from dlcourse.models import Model, evaluation

__all__ = ["FeatureMapExplorer", "feature_map_explorer", "layer_activations"]

# Colours from seaborn's "colorblind" palette (written out to keep the import light).
_HIGHLIGHT = "#de8f05"  # orange: the selected feature map in the grid
_SIGNED_CMAP = "RdBu_r"  # filters and maps: diverging, red positive, blue negative


# ------------------------------------------------------------------ activations


def layer_activations(model: Model, x: np.ndarray) -> list[np.ndarray]:
    """The output of every layer of ``model`` for a batch, computed in evaluation mode.

    x: (N, C, H, W) images. returns: one array per layer, e.g. (N, 30, 24, 24) after a
    30-filter 5×5 convolution, ending with the scores (N, 10). The model's mode is
    restored afterwards (:func:`dlcourse.models.evaluation`).
    """
    outputs = []
    with evaluation(model):
        out = x
        for layer in model.layers.values():
            out = layer.forward(out)
            outputs.append(out)
    return outputs


def _filter_source(layers: list[Layer], outputs: list[np.ndarray], index: int) -> int | None:
    """Index of the conv layer whose filters made the channels of layer ``index``.

    Walks back through channel-preserving layers (ReLU, pooling) to the nearest layer
    with 4-D weights W (F, C, FH, FW) and F equal to the channel count; None if none.
    """
    channels = outputs[index].shape[1]
    for k in range(index, -1, -1):
        W = layers[k].params.get("W")
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
        model: Model,
        images: np.ndarray,
        labels: np.ndarray | None = None,
        dpi: int = 80,
    ) -> None:
        if not isinstance(model, Model):
            raise TypeError(
                "expected a model such as simple_convnet() (with layers, params, forward, "
                f"train and eval: see dlcourse.models.Model) but got {type(model).__name__}"
            )
        self.model = model
        self.images = as_image_batch(images)
        if len(self.images) == 0:
            raise ValueError("expected at least one image but got an empty array")
        self.labels = None if labels is None else np.asarray(labels).reshape(-1)
        if self.labels is not None and len(self.labels) != len(self.images):
            raise ValueError(
                f"got {len(self.images)} images but {len(self.labels)} labels; "
                "pass one label per image"
            )
        self.dpi = dpi
        self._names = list(model.layers)
        self._layers = list(model.layers.values())
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
        # Controls wrap onto a new line in a narrow notebook (1024 px with the file browser
        # open) and the dropdowns are as wide as their longest option, so no text is cut.
        for dropdown in (self.digit, self.layer):
            dropdown.layout = widgets.Layout(
                width="max-content", max_width="100%", margin="2px 16px 2px 0"
            )
            dropdown.style.description_width = "initial"
        self.channel.layout = widgets.Layout(width="320px", max_width="100%", margin="2px 0")
        self.channel.style.description_width = "initial"
        controls = widgets.HBox(
            [self.digit, self.layer, self.channel],
            layout=widgets.Layout(flex_flow="row wrap"),
        )
        super().__init__([controls, self.image, self.caption])
        self.add_class("dlcourse-feature-map-explorer")

        self._quiet = False
        self.digit.observe(self._on_change, names="value")
        self.layer.observe(self._on_layer, names="value")
        self.channel.observe(self._on_change, names="value")
        self.redraw()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live widget, plus the current picture as a PNG and its description as text.

        JupyterLab shows the widget; a saved notebook opened where widgets cannot run
        (GitHub, nbviewer, a notebook read before running it) shows the picture.
        """
        bundle: dict[str, Any] = super()._repr_mimebundle_(**kwargs)
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
        # Signed maps on one scale centred on zero: white is 0, red positive, blue negative.
        limit = float(np.abs(maps).max()) or 1.0

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
            w_limit = float(np.abs(W).max()) or 1.0
            shown = ax_w.imshow(W[channel, 0], cmap=_SIGNED_CMAP, vmin=-w_limit, vmax=w_limit)
            fig.colorbar(shown, ax=ax_w, shrink=0.8, label="weight")
            extra = "" if W.shape[1] == 1 else f", input channel 0 of {W.shape[1]}"
            ax_w.set_title(
                f"filter {channel} of {self._names[source]} ({W.shape[2]}×{W.shape[3]}{extra})"
            )

        picture = ax_map.imshow(maps[channel], cmap=_SIGNED_CMAP, vmin=-limit, vmax=limit)
        fig.colorbar(picture, ax=ax_map, shrink=0.8, label="activation")
        name = self._names[index]
        ax_map.set_title(f"map {channel} after {name} ({maps.shape[1]}×{maps.shape[2]})")

        columns = min(maps.shape[0], 10)
        ax_all.imshow(_mosaic(maps, columns), cmap=_SIGNED_CMAP, vmin=-limit, vmax=limit)
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
    model: Model, images: np.ndarray, labels: np.ndarray | None = None
) -> FeatureMapExplorer:
    """Build the lesson-06 feature-map explorer; display it by making it a cell's last line.

    model: a Sequential CNN (e.g. ``simple_convnet()``); images: (N, 1, 28, 28) digits
    (or (N, 784)); labels: their (N,) classes, shown next to the model's prediction.
    returns: the widget (an ``ipywidgets.VBox``) with controls ``digit``, ``layer`` and
    ``channel``.
    """
    return FeatureMapExplorer(model, images, labels)
