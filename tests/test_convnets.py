"""The CNN factories: architectures, initialisation, gradients and a short training run."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.convnets import deep_convnet, simple_convnet, single_filter_convnet
from dlcourse.data import load_mnist
from dlcourse.fastconv import FastConv2D
from dlcourse.gradients import gradient_check
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
