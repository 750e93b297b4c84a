"""The feature-map explorer and the pretrained-network file (lesson 06)."""

from __future__ import annotations

import base64
import json
import time
import zipfile

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse import widgets
from dlcourse.widgets import (
    FeatureMapExplorer,
    feature_map_explorer,
    layer_activations,
    load_pretrained_convnet,
    pretrained_metadata,
    save_pretrained,
)

# ------------------------------------------------------------------ a tiny CNN
# Duck-typed like dlcourse.models.Sequential (an ordered dict of layers with forward,
# params and training), so these tests need nothing but the widget module.


class TinyConv:
    kind = "conv"

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.params = {"W": W, "b": b}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        W, b = self.params["W"], self.params["b"]
        windows = sliding_window_view(x, W.shape[2:], axis=(2, 3))
        return np.einsum("ncabij,fcij->nfab", windows, W) + b[None, :, None, None]


class TinyReLU:
    kind = "relu"

    def __init__(self) -> None:
        self.params: dict = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)


class TinyPool:
    kind = "pool"

    def __init__(self) -> None:
        self.params: dict = {}

    def forward(self, x: np.ndarray) -> np.ndarray:
        n, c, h, w = x.shape
        return x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))


class TinyDense:
    kind = "affine"

    def __init__(self, W: np.ndarray) -> None:
        self.params = {"W": W}
        self.training = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.reshape(len(x), -1) @ self.params["W"]


class TinyCNN:
    def __init__(self, filters: int = 4, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        conv = TinyConv(rng.normal(size=(filters, 1, 5, 5)), np.zeros(filters))
        dense = TinyDense(rng.normal(size=(filters * 12 * 12, 10)) * 0.01)
        self.layers = {
            "conv1": conv,
            "relu1": TinyReLU(),
            "pool1": TinyPool(),
            "affine1": dense,
        }

    @property
    def params(self) -> dict:
        return {
            f"{name}.{key}": value
            for name, layer in self.layers.items()
            for key, value in layer.params.items()
        }


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
        "conv1 (TinyConv) → 6×24×24",
        "relu1 (TinyReLU) → 6×24×24",
        "pool1 (TinyPool) → 6×12×12",
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
    assert conv.training is True
    assert [out.shape for out in outputs] == [(2, 4, 24, 24)] * 2 + [(2, 4, 12, 12), (2, 10)]


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((3, 99)), r"flat square images such as \(N, 784\) but got shape \(3, 99\)"),
        (np.zeros((3, 100)), r"cannot process images of shape \(1, 10, 10\) \(per sample\)"),
        (np.zeros((28, 28)), r"but got shape \(28, 28\); .*one image: x\[None\]"),
        (np.zeros((1, 1, 1, 28, 28)), r"\(N, C, H, W\), \(N, H, W\) or \(N, 784\) but got"),
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
    with pytest.raises(TypeError, match=r"expected a Sequential model .* but got ndarray"):
        feature_map_explorer(np.zeros(3), digits[0])


def test_a_model_without_image_layers_is_refused(digits):
    model = TinyCNN()
    model.layers = {"affine1": TinyDense(np.zeros((784, 10)))}
    with pytest.raises(ValueError, match=r"layers with \(N, C, H, W\) output .* \(10,\)"):
        feature_map_explorer(model, digits[0])


def test_render_refuses_a_channel_out_of_range(digits):
    explorer = FeatureMapExplorer(TinyCNN(), *digits)
    with pytest.raises(ValueError, match=r"expected channel in \[0, 4\) but got 4"):
        explorer.render(0, 0, 4)


# ------------------------------------------------------------------ pretrained file

META = {"factory": "dlcourse.convnets:simple_convnet", "factory_kwargs": {}, "command": "test"}


def test_saved_file_is_small_and_refuses_unknown_factories(tmp_path):
    model = TinyCNN(filters=30)
    path = tmp_path / "tiny.npz"
    save_pretrained(model, path, META)
    meta = pretrained_metadata(path)
    assert meta["command"] == "test" and len(meta["sha256"]) == 64
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
    # the 4,320×10 affine weights are int8 with per-unit scales, the small conv stays float32
    assert {"int8/affine1.W.npy", "scale/affine1.W.npy", "float32/conv1.W.npy"} <= names
    with pytest.raises(ValueError, match=r"must be one of .* but is 'os:system'"):
        save_pretrained(model, tmp_path / "bad.npz", {"factory": "os:system"})


def test_a_modified_file_is_refused(tmp_path):
    path = tmp_path / "tiny.npz"
    save_pretrained(TinyCNN(), path, META)
    with np.load(path, allow_pickle=False) as npz:
        arrays = dict(npz)
    arrays["float32/conv1.b"] = arrays["float32/conv1.b"] + 1
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ValueError, match="was modified or is damaged"):
        load_pretrained_convnet(tmp_path / "tampered.npz")


def test_a_file_naming_another_factory_is_refused(tmp_path):
    path = tmp_path / "tiny.npz"
    save_pretrained(TinyCNN(), path, META)
    with np.load(path, allow_pickle=False) as npz:
        arrays = dict(npz)
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "factory": "subprocess:run"}))
    np.savez(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ValueError, match="unknown factory 'subprocess:run'"):
        load_pretrained_convnet(tmp_path / "evil.npz")


def test_a_file_that_is_not_npz_is_refused(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"is not a pretrained \.npz file"):
        load_pretrained_convnet(path)


def test_pretrained_round_trip_restores_the_weights(tmp_path):
    convnets = pytest.importorskip("dlcourse.convnets")
    model = convnets.simple_convnet(rng=3)
    path = tmp_path / "cnn.npz"
    save_pretrained(model, path, META)
    loaded = load_pretrained_convnet(path)
    assert set(loaded.params) == set(model.params)
    for name, value in model.params.items():
        scale = np.abs(value).max()
        # int8 rounding: at most half a step of max|w|/127 per unit
        assert np.abs(loaded.params[name] - value).max() <= scale / 127 / 2 + 1e-6, name


def test_a_file_for_another_architecture_is_refused(tmp_path):
    pytest.importorskip("dlcourse.convnets")
    path = tmp_path / "tiny.npz"
    save_pretrained(TinyCNN(), path, META)  # TinyCNN's params are not SimpleConvNet's
    with pytest.raises(ValueError, match="pretrained file has parameters"):
        load_pretrained_convnet(path)


def test_shipped_network_loads_and_records_how_it_was_made():
    if not (widgets.resources.files("dlcourse") / "_data" / widgets.PRETRAINED_FILE).is_file():
        pytest.skip("the pretrained file has not been generated yet")
    meta = pretrained_metadata()
    assert meta["command"].startswith("python benchmarks/accuracy.py --model cnn --save")
    assert meta["data_source"] in {"offline", "full"}
    model = load_pretrained_convnet()
    assert model.params["conv1.W"].shape == (30, 1, 5, 5)
