"""The CNN factories: architectures, initialisation, gradients and a short training run."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.conv import Conv2D, MaxPool2D
from dlcourse.convnets import (
    deep_convnet,
    filter_cosines,
    load_pretrained_convnet,
    pretrained_metadata,
    simple_convnet,
    single_filter_convnet,
)
from dlcourse.data import load_mnist
from dlcourse.fastconv import FastConv2D
from dlcourse.gradients import gradient_check
from dlcourse.layers import Affine, Flatten, ReLU
from dlcourse.models import Sequential
from dlcourse.optimizers import Adam


def kinds_and_shapes(model, input_shape):
    shapes, shape = [], tuple(input_shape)
    for layer in model.layers.values():
        shape = layer.output_shape(shape)
        shapes.append((layer.kind, shape))
    return shapes


def test_simple_convnet_has_the_lessons_architecture():
    model = simple_convnet(rng=0)
    assert list(model.layers) == [
        "conv1",
        "relu1",
        "pool1",
        "flatten1",
        "affine1",
        "relu2",
        "affine2",
    ]
    assert kinds_and_shapes(model, (1, 28, 28))[:4] == [
        ("conv", (30, 24, 24)),
        ("relu", (30, 24, 24)),
        ("pool", (30, 12, 12)),
        ("flatten", (4320,)),
    ]
    assert {name: p.shape for name, p in model.params.items()} == {
        "conv1.W": (30, 1, 5, 5),
        "conv1.b": (30,),
        "affine1.W": (4320, 100),
        "affine1.b": (100,),
        "affine2.W": (100, 10),
        "affine2.b": (10,),
    }


def test_single_filter_convnet_is_the_sources_one_filter_network():
    model = single_filter_convnet(rng=0)
    assert [layer.kind for layer in model.layers.values()] == ["conv", "relu", "flatten", "affine"]
    assert model.params["conv1.W"].shape == (1, 1, 5, 5)
    assert model.params["affine1.W"].shape == (576, 10)
    assert model.num_params == 25 + 1 + 576 * 10 + 10


def test_deep_convnet_pools_after_each_pair_of_3x3_convolutions():
    model = deep_convnet(rng=0)
    flow = kinds_and_shapes(model, (1, 28, 28))
    assert [kind for kind, _ in flow[:10]] == ["conv", "relu", "conv", "relu", "pool"] * 2
    assert [flow[i][1] for i in (0, 2, 4, 5, 7, 9)] == [
        (16, 28, 28),  # conv1
        (16, 28, 28),  # conv2
        (16, 14, 14),  # pool1
        (32, 14, 14),  # conv3
        (32, 14, 14),  # conv4
        (32, 7, 7),  # pool2
    ]
    assert all(layer.pad == 1 for layer in model.layers.values() if layer.kind == "conv")


@pytest.mark.parametrize("factory", [simple_convnet, single_filter_convnet, deep_convnet])
def test_factories_are_reproducible_from_an_int_seed_or_a_generator(factory):
    a, b, c = factory(rng=3), factory(rng=np.random.default_rng(3)), factory(rng=4)
    for name, value in a.params.items():
        np.testing.assert_array_equal(value, b.params[name])
    assert not np.array_equal(a.params["conv1.W"], c.params["conv1.W"])
    with pytest.raises(TypeError, match="seed"):
        factory(seed=1)  # the contract's name is rng


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_factories_build_the_requested_dtype(dtype):
    model = simple_convnet(rng=0, dtype=dtype)
    assert {p.dtype for p in model.params.values()} == {np.dtype(dtype)}
    x = np.random.default_rng(0).random((3, 1, 28, 28)).astype(dtype)
    assert model.forward(x).dtype == dtype


def test_conv_filters_use_he_initialisation_and_the_output_layer_xavier():
    model = simple_convnet(filters=400, rng=0)  # 400·25 weights: a tight estimate
    assert model.params["conv1.W"].std() == pytest.approx(np.sqrt(2 / 25), rel=0.05)
    assert model.params["affine2.W"].std() == pytest.approx(np.sqrt(1 / 100), rel=0.1)
    assert not model.params["conv1.b"].any()


def test_factories_reject_an_input_too_small_for_the_network():
    with pytest.raises(ValueError, match=r"5×5 window .* on a 3×3 input"):
        simple_convnet(input_shape=(1, 3, 3), rng=0)
    with pytest.raises(ValueError, match=r"expected input_shape \(C, H, W\)"):
        simple_convnet(input_shape=(784,), rng=0)


@pytest.mark.parametrize(
    "build",
    [
        lambda: (simple_convnet((2, 8, 8), 3, 3, hidden=6, classes=4, rng=1), (2, 8, 8)),
        lambda: (single_filter_convnet((1, 7, 7), filter_size=3, classes=3, rng=1), (1, 7, 7)),
        lambda: (deep_convnet((1, 8, 8), filters=(2, 3), hidden=5, classes=3, rng=1), (1, 8, 8)),
    ],
)
def test_convnet_gradients_match_numerical_gradients(build):
    model, input_shape = build()
    rng = np.random.default_rng(2)
    for name, value in model.params.items():  # nonzero biases: no pre-activation exactly 0
        if name.endswith(".b"):
            value += rng.uniform(0.05, 0.2, value.shape).astype(value.dtype)
    x = rng.standard_normal((3, *input_shape))
    labels = rng.integers(0, 3, 3)
    result = gradient_check(model, x, labels)
    assert result.passed(1e-6), str(result)


@pytest.mark.parametrize("factory", [simple_convnet, deep_convnet])
def test_a_training_step_never_computes_the_gradient_of_the_data(monkeypatch, factory):
    computed_dx = []
    original = FastConv2D.backward

    def recording(layer, dout):
        computed_dx.append(layer)
        return original(layer, dout)

    monkeypatch.setattr(FastConv2D, "backward", recording)
    model = factory(rng=0)
    x = np.random.default_rng(0).random((4, 1, 28, 28)).astype(np.float32)
    model.loss_and_gradient(x, np.arange(4))
    convs = [layer for layer in model.layers.values() if isinstance(layer, FastConv2D)]
    assert computed_dx == convs[:0:-1]  # every conv but the first, last to second
    assert all(set(conv.grads) == {"W", "b"} for conv in convs)


def test_simple_convnet_learns_the_offline_digits_quickly():
    data = load_mnist(flatten=False, offline=True)
    model = simple_convnet(filters=8, hidden=32, rng=0)
    optimizer, rng = Adam(lr=0.002), np.random.default_rng(0)
    x, labels = data.x_train[:1000], data.t_train[:1000]
    for _ in range(2):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 50):
            batch = order[start : start + 50]
            _, grads = model.loss_and_gradient(x[batch], labels[batch])
            optimizer.update(model.params, grads)
    assert model.accuracy(data.x_test[:500], data.t_test[:500]) >= 0.85


# ------------------------------------------------------------ saved and shipped networks


def test_weights_saved_from_fast_layers_load_into_reference_layers_and_back(tmp_path):
    fast = simple_convnet(filters=3, hidden=8, rng=0)
    fast.params["conv1.b"][...] = [0.1, -0.2, 0.3]
    zeros = {name: np.zeros_like(value) for name, value in fast.params.items()}
    reference = Sequential(
        [
            Conv2D(zeros["conv1.W"], zeros["conv1.b"]),
            ReLU(),
            MaxPool2D(2),
            Flatten(),
            Affine(zeros["affine1.W"], zeros["affine1.b"]),
            ReLU(),
            Affine(zeros["affine2.W"], zeros["affine2.b"]),
        ]
    )
    reference.load(fast.save(tmp_path / "fast.npz"))
    x = np.random.default_rng(1).random((4, 1, 28, 28)).astype(np.float32)
    np.testing.assert_allclose(reference.predict(x), fast.predict(x), rtol=1e-5, atol=1e-6)
    again = simple_convnet(filters=3, hidden=8, rng=5)
    again.load(reference.save(tmp_path / "reference.npz"))
    for name, value in fast.params.items():
        np.testing.assert_array_equal(again.params[name], value)


def test_pretrained_file_names_its_factory_and_loads_back(tmp_path):
    model = simple_convnet(filters=4, hidden=8, rng=3)
    kwargs = {"filters": 4, "hidden": 8}
    path = model.save(
        tmp_path / "cnn", quantize=True, factory="simple_convnet", factory_kwargs=kwargs
    )
    loaded = load_pretrained_convnet(path)
    assert pretrained_metadata(path)["factory_kwargs"] == kwargs
    for name, value in model.params.items():
        step = np.abs(value).max() / 127  # int8 rounding: at most half a step
        assert np.abs(loaded.params[name] - value).max() <= step / 2 + 1e-6, name


def test_a_file_naming_another_factory_is_refused(tmp_path):
    path = simple_convnet(rng=0).save(tmp_path / "evil.npz", factory="subprocess:run")
    with pytest.raises(ValueError, match=r"factory to be one of .* but got 'subprocess:run'"):
        load_pretrained_convnet(path)


def test_shipped_network_loads_and_records_how_it_was_made():
    meta = pretrained_metadata()
    assert meta["command"].startswith("python benchmarks/accuracy.py --model cnn-pretrained --save")
    assert meta["data_source"] == "offline" and meta["stored_test_accuracy"] >= 0.975
    model = load_pretrained_convnet()
    assert model.params["conv1.W"].shape == (30, 1, 5, 5)
    initial = simple_convnet(**{**meta["factory_kwargs"], "rng": meta["initial_seed"]})
    cosine = filter_cosines(model.params["conv1.W"], initial.params["conv1.W"])
    assert np.median(cosine) < 0.9  # the filters have learned (issue 9 §3)


def test_filter_cosines_compare_each_filter_with_its_own_initial_one():
    W0 = np.array([[[[1.0, 0.0]]], [[[0.0, 2.0]]]])  # (2, 1, 1, 2)
    W = np.array([[[[3.0, 0.0]]], [[[1.0, 1.0]]]])
    np.testing.assert_allclose(filter_cosines(W, W0), [1.0, np.sqrt(0.5)])
