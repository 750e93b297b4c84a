"""The feature-map explorer and the pretrained-network file (lesson 06)."""

from __future__ import annotations

import base64
import time

import numpy as np
import pytest
from matplotlib.axes import Axes

from dlcourse.conv import Conv2D, MaxPool2D
from dlcourse.layers import Affine, Flatten, ReLU
from dlcourse.models import Sequential
from dlcourse.widgets import FeatureMapExplorer, feature_map_explorer, layer_activations

# ------------------------------------------------------------------ a tiny CNN


def TinyCNN(filters: int = 4, seed: int = 0) -> Sequential:
    """conv 5×5 → ReLU → 2×2 max pool → Flatten → affine 10, from the reference layers."""
    rng = np.random.default_rng(seed)
    conv = Conv2D(rng.normal(size=(filters, 1, 5, 5)), np.zeros(filters))
    dense = Affine(rng.normal(size=(filters * 12 * 12, 10)) * 0.01, np.zeros(10))
    return Sequential([conv, ReLU(), MaxPool2D(2), Flatten(), dense])


@pytest.fixture
def digits() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    images = rng.random((6, 1, 28, 28)).astype(np.float32)
    images[:, :, :, :10] = 0  # different digits must differ in more than noise
    images[3, 0, 5:20, 12:16] = 1
    return images, np.arange(6) % 10


# ------------------------------------------------------------------ explorer


def test_changing_the_digit_changes_the_picture(digits):
    explorer = feature_map_explorer(TinyCNN(), *digits)
    before = explorer.image.value
    explorer.digit.value = 3
    after = explorer.image.value
    assert after[:8] == b"\x89PNG\r\n\x1a\n"
    assert after != before
    assert "Digit #3" in explorer.caption.value


def test_changing_the_filter_changes_the_picture_and_caption(digits):
    explorer = feature_map_explorer(TinyCNN(), *digits)
    before = explorer.image.value
    explorer.channel.value = 2
    assert explorer.image.value != before
    assert "feature map 2 of 4" in explorer.caption.value


def test_a_saved_notebook_keeps_the_current_picture_for_static_viewers(digits):
    explorer = feature_map_explorer(TinyCNN(), *digits)
    explorer.digit.value = 3
    bundle = explorer._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle  # JupyterLab: the widget
    assert base64.b64decode(bundle["image/png"]) == explorer.image.value
    assert bundle["text/plain"].startswith("Digit #3")


def test_layer_options_follow_the_model(digits):
    explorer = FeatureMapExplorer(TinyCNN(filters=6), *digits)
    labels = [label for label, _ in explorer.layer.options]
    assert labels == [
        "conv1 (Conv2D) → 6×24×24",
        "relu1 (ReLU) → 6×24×24",
        "pool1 (MaxPool2D) → 6×12×12",
    ]
    assert explorer.channel.max == 5


def test_channel_range_follows_the_chosen_layer(digits):
    explorer = FeatureMapExplorer(TinyCNN(filters=3), *digits)
    explorer.channel.value = 2
    explorer.layer.value = 2  # pool1
    assert explorer.channel.max == 2
    assert "12×12 pixels" in explorer.caption.value


def test_pooling_layer_shows_the_filter_of_the_conv_below(digits):
    explorer = FeatureMapExplorer(TinyCNN(), *digits)
    assert explorer._sources == {0: 0, 1: 0, 2: 0}


def test_forward_pass_runs_once_per_digit(digits, monkeypatch):
    model = TinyCNN()
    calls = []
    original = model.layers["conv1"].forward
    monkeypatch.setattr(
        model.layers["conv1"], "forward", lambda x: calls.append(len(x)) or original(x)
    )
    explorer = FeatureMapExplorer(model, *digits)
    explorer.channel.value = 1
    explorer.channel.value = 2
    explorer.layer.value = 1
    assert calls == [1]
    explorer.digit.value = 4
    explorer.digit.value = 0
    assert calls == [1, 1]


def test_redraw_time_is_printed_not_asserted(digits, capsys):
    explorer = FeatureMapExplorer(TinyCNN(filters=30), *digits)
    start = time.perf_counter()
    for channel in range(5):
        explorer.channel.value = channel
    per_redraw = (time.perf_counter() - start) / 5
    with capsys.disabled():
        print(f"\nfeature-map explorer: {per_redraw * 1e3:.0f} ms per redraw (30 filters)")
    assert explorer.image.value


def test_flat_digits_are_reshaped_to_images(digits):
    images, labels = digits
    explorer = FeatureMapExplorer(TinyCNN(), images.reshape(len(images), 784), labels)
    assert explorer.images.shape == (6, 1, 28, 28)


def test_activations_are_computed_in_eval_mode_and_the_mode_is_restored(digits):
    model = TinyCNN()
    seen = []
    conv = model.layers["conv1"]
    original = conv.forward
    conv.forward = lambda x: seen.append(conv.training) or original(x)
    outputs = layer_activations(model, digits[0][:2])
    assert seen == [False]
    assert conv.training is True and model.training is True
    shapes = [out.shape for out in outputs]
    assert shapes == [(2, 4, 24, 24)] * 2 + [(2, 4, 12, 12), (2, 576), (2, 10)]
    model.eval()
    layer_activations(model, digits[0][:2])
    assert model.training is False and conv.training is False


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((3, 99)), r"flat square images .* but got shape \(3, 99\)"),
        (np.zeros((3, 100)), r"cannot process images of shape \(1, 10, 10\) \(per sample\)"),
        (np.zeros((28, 28)), r"flat square images .* but got shape \(28, 28\)"),
        (np.zeros((1, 1, 1, 28, 28)), r"\(N, C, H, W\), \(N, H, W\) or \(N, H·W\) but got"),
        (np.zeros((0, 1, 28, 28)), "at least one image"),
    ],
)
def test_images_of_the_wrong_shape_are_refused_clearly(images, message):
    with pytest.raises(ValueError, match=message):
        feature_map_explorer(TinyCNN(), images)


def test_labels_must_match_the_images(digits):
    with pytest.raises(ValueError, match="got 6 images but 2 labels"):
        feature_map_explorer(TinyCNN(), digits[0], np.array([1, 2]))


def test_a_model_without_layers_is_refused(digits):
    with pytest.raises(
        TypeError, match=r"expected a model such as simple_convnet\(\).* but got ndarray"
    ):
        feature_map_explorer(np.zeros(3), digits[0])


def test_a_model_without_image_layers_is_refused(digits):
    model = TinyCNN()
    model.layers = {"flatten1": Flatten(), "affine1": Affine(np.zeros((784, 10)), np.zeros(10))}
    with pytest.raises(ValueError, match=r"layers with \(N, C, H, W\) output .* \(784,\), \(10,\)"):
        feature_map_explorer(model, digits[0])


def test_render_refuses_a_channel_out_of_range(digits):
    explorer = FeatureMapExplorer(TinyCNN(), *digits)
    with pytest.raises(ValueError, match=r"expected channel in \[0, 4\) but got 4"):
        explorer.render(0, 0, 4)


def test_maps_and_filters_use_a_diverging_colour_map_centred_on_zero(digits, monkeypatch):
    calls = []
    original = Axes.imshow

    def recording(ax, data, **kwargs):
        calls.append(kwargs)
        return original(ax, data, **kwargs)

    explorer = FeatureMapExplorer(TinyCNN(), *digits)
    monkeypatch.setattr(Axes, "imshow", recording)
    explorer.render(0, 0, 1)
    signed = [kw for kw in calls if kw.get("cmap") != "gray_r"]
    assert len(signed) == 3  # the filter, the selected map, the grid of maps
    for kw in signed:
        assert kw["cmap"] == "RdBu_r" and kw["vmin"] == -kw["vmax"] > -np.inf
