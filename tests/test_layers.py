"""Claims of lesson 05 about layers: backward matches the numerical gradient, shapes are
checked with helpful errors, nothing is mutated and float32 stays float32."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.functions import cross_entropy, softmax
from dlcourse.gradients import gradient_check
from dlcourse.layers import (
    ACTIVATIONS,
    Affine,
    BatchNorm,
    Dropout,
    Flatten,
    Layer,
    LeakyReLU,
    MSELoss,
    ReLU,
    Sigmoid,
    SoftmaxCrossEntropy,
    Tanh,
    make_activation,
)


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Random values with |x| >= 0.1, so no ReLU kink is within the finite-difference step."""
    x = rng.uniform(0.1, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    return x


def make_layers(rng: np.random.Generator) -> dict[str, tuple[Layer, np.ndarray]]:
    """Every layer with an input that suits it (non-square shapes)."""
    return {
        "affine": (
            Affine(rng.standard_normal((5, 3)), rng.standard_normal(3)),
            rng.standard_normal((4, 5)),
        ),
        "sigmoid": (Sigmoid(), rng.standard_normal((4, 3))),
        "relu": (ReLU(), away_from_zero(rng, (4, 3))),
        "leaky_relu": (LeakyReLU(0.1), away_from_zero(rng, (4, 3))),
        "tanh": (Tanh(), rng.standard_normal((4, 3))),
        "dropout": (Dropout(0.3, rng=1), rng.standard_normal((4, 6))),
        "batchnorm_2d": (
            BatchNorm(rng.uniform(0.5, 1.5, 3), rng.standard_normal(3)),
            rng.standard_normal((5, 3)) * 2 + 1,
        ),
        "batchnorm_4d": (
            BatchNorm(rng.uniform(0.5, 1.5, 2), rng.standard_normal(2)),
            rng.standard_normal((3, 2, 4, 5)),
        ),
        "flatten": (Flatten(), rng.standard_normal((2, 3, 4, 2))),
    }


LAYER_NAMES = list(make_layers(np.random.default_rng(0)))


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_layer_backward_matches_numerical_gradient(name):
    layer, x = make_layers(np.random.default_rng(1))[name]
    result = gradient_check(layer, x)
    assert result.passed(1e-6), str(result)
    assert "dx" in result.errors and set(layer.params) <= set(result.errors)


def test_batchnorm_backward_in_eval_mode_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    bn = BatchNorm(rng.uniform(0.5, 1.5, 3), rng.standard_normal(3))
    bn.forward(rng.standard_normal((8, 3)))
    bn.training = False
    result = gradient_check(bn, rng.standard_normal((4, 3)))
    assert result.passed(1e-6), str(result)


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_no_layer_mutates_its_input_or_dout(name):
    layer, x = make_layers(np.random.default_rng(3))[name]
    x = x.astype(np.float32)
    x_before = x.copy()
    out = layer.forward(x)
    dout = np.random.default_rng(4).standard_normal(out.shape).astype(np.float32)
    dout_before = dout.copy()
    layer.backward(dout)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(dout, dout_before)


@pytest.mark.parametrize("name", LAYER_NAMES)
def test_float32_stays_float32(name):
    layer, x = make_layers(np.random.default_rng(5))[name]
    for key, value in layer.params.items():
        layer.params[key] = value.astype(np.float32)
    for key, value in layer.state.items():
        layer.state[key] = value.astype(np.float32)
    out = layer.forward(x.astype(np.float32))
    assert out.dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in layer.grads.values())


def test_affine_forward_and_backward_give_known_values():
    W = np.array([[1.0, 2.0, 0.0], [0.0, 1.0, -1.0]])
    b = np.array([0.5, 0.0, 1.0])
    layer = Affine(W, b)
    out = layer.forward(np.array([[1.0, 2.0]]))
    np.testing.assert_allclose(out, [[1.5, 4.0, -1.0]])
    dx = layer.backward(np.array([[1.0, 0.0, 1.0]]))
    np.testing.assert_allclose(dx, [[1.0, -1.0]])
    np.testing.assert_allclose(layer.grads["W"], [[1.0, 0.0, 1.0], [2.0, 0.0, 2.0]])
    np.testing.assert_allclose(layer.grads["b"], [1.0, 0.0, 1.0])


def test_affine_with_mismatched_input_names_both_shapes():
    layer = Affine(np.zeros((784, 100)), np.zeros(100))
    with pytest.raises(ValueError, match=r"784 features \(W is 784×100\).*\(100, 20\)"):
        layer.forward(np.zeros((100, 20)))


def test_affine_with_image_input_suggests_flatten():
    layer = Affine(np.zeros((784, 100)), np.zeros(100))
    with pytest.raises(ValueError, match=r"\(100, 1, 28, 28\); did you forget a Flatten"):
        layer.forward(np.zeros((100, 1, 28, 28)))


def test_affine_rejects_bias_of_wrong_length():
    with pytest.raises(ValueError, match=r"b of shape \(3,\).*\(4,\)"):
        Affine(np.zeros((2, 3)), np.zeros(4))


def test_backward_before_forward_says_so():
    with pytest.raises(RuntimeError, match=r"ReLU\.backward called before forward"):
        ReLU().backward(np.ones((2, 2)))


def test_output_shapes_are_per_sample():
    assert Affine(np.zeros((784, 100)), np.zeros(100)).output_shape((784,)) == (100,)
    assert Flatten().output_shape((1, 28, 28)) == (784,)
    assert ReLU().output_shape((30, 24, 24)) == (30, 24, 24)
    assert BatchNorm(np.ones(30), np.zeros(30)).output_shape((30, 24, 24)) == (30, 24, 24)
    with pytest.raises(ValueError, match="did you forget a Flatten"):
        Affine(np.zeros((784, 100)), np.zeros(100)).output_shape((1, 28, 28))


def test_unknown_activation_lists_valid_names():
    with pytest.raises(
        ValueError,
        match="unknown activation 'relu6'; choose one of: leaky_relu, relu, sigmoid, tanh",
    ):
        make_activation("relu6")


def test_make_activation_passes_options_and_returns_fresh_layers():
    layer = make_activation("leaky_relu", alpha=0.2)
    assert isinstance(layer, LeakyReLU) and layer.alpha == 0.2
    assert make_activation("ReLU") is not make_activation("relu")
    assert set(ACTIVATIONS) == {"sigmoid", "relu", "leaky_relu", "tanh"}


def test_sigmoid_layer_is_finite_for_large_inputs():
    out = Sigmoid().forward(np.array([[-1000.0, 0.0, 1000.0]], dtype=np.float32))
    np.testing.assert_allclose(out, [[0.0, 0.5, 1.0]])


def test_dropout_keeps_the_expectation_in_training():
    x = np.ones((200, 500), dtype=np.float32)
    layer = Dropout(0.4, rng=0)
    out = layer.forward(x)
    assert abs(out.mean() - 1.0) < 0.01
    assert abs((out == 0).mean() - 0.4) < 0.01
    np.testing.assert_allclose(out[out != 0], 1 / 0.6, rtol=1e-6)


def test_dropout_backward_uses_the_same_mask():
    layer = Dropout(0.5, rng=0)
    out = layer.forward(np.ones((10, 10)))
    dx = layer.backward(np.ones((10, 10)))
    np.testing.assert_array_equal(dx, out)


def test_dropout_is_identity_at_eval():
    layer = Dropout(0.5, rng=0)
    layer.training = False
    x = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_array_equal(layer.forward(x), x)
    np.testing.assert_array_equal(layer.backward(x), x)


def test_dropout_rejects_ratio_of_one():
    with pytest.raises(ValueError, match=r"ratio in \[0, 1\) but got 1"):
        Dropout(1.0)


def test_batchnorm_normalises_each_feature_in_training():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 3)) * [1.0, 5.0, 0.1] + [0.0, 10.0, -3.0]
    out = BatchNorm(np.ones(3), np.zeros(3)).forward(x)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-7)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-3)


def test_batchnorm_normalises_each_channel_of_images():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 2, 5, 5)) * np.array([1.0, 4.0])[None, :, None, None] + 3
    out = BatchNorm(np.full(2, 2.0), np.full(2, 1.0)).forward(x)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 1, atol=1e-7)
    np.testing.assert_allclose(out.std(axis=(0, 2, 3)), 2, atol=1e-3)


def test_batchnorm_running_stats_follow_the_momentum_rule():
    rng = np.random.default_rng(0)
    bn = BatchNorm(np.ones(2), np.zeros(2), momentum=0.9)
    x1, x2 = rng.standard_normal((10, 2)) + 5, rng.standard_normal((10, 2)) - 1
    bn.forward(x1)
    bn.forward(x2)
    expected_mean = 0.9 * (0.1 * x1.mean(0)) + 0.1 * x2.mean(0)
    expected_var = 0.9 * (0.9 + 0.1 * x1.var(0)) + 0.1 * x2.var(0)
    np.testing.assert_allclose(bn.running_mean, expected_mean)
    np.testing.assert_allclose(bn.running_var, expected_var)


def test_batchnorm_uses_running_stats_at_eval_and_leaves_them_alone():
    rng = np.random.default_rng(0)
    bn = BatchNorm(np.full(3, 2.0), np.full(3, 0.5), momentum=0.0)
    bn.forward(rng.standard_normal((50, 3)) * 3 + 7)
    mean, var = bn.running_mean.copy(), bn.running_var.copy()
    bn.training = False
    x = rng.standard_normal((4, 3))
    out = bn.forward(x)
    np.testing.assert_allclose(out, 2.0 * (x - mean) / np.sqrt(var + 1e-5) + 0.5)
    np.testing.assert_array_equal(bn.running_mean, mean)
    np.testing.assert_array_equal(bn.running_var, var)
    # a single sample works at eval (it would be normalised to 0 in training)
    assert np.all(bn.forward(x[:1]) != 0.5)


def test_batchnorm_rejects_wrong_feature_count():
    with pytest.raises(ValueError, match=r"\(N, 3\) or \(N, 3, H, W\).*\(4, 5\)"):
        BatchNorm(np.ones(3), np.zeros(3)).forward(np.zeros((4, 5)))


def test_flatten_round_trip():
    x = np.arange(24.0).reshape(2, 3, 4)
    layer = Flatten()
    out = layer.forward(x)
    assert out.shape == (2, 12)
    assert layer.backward(out).shape == (2, 3, 4)


# ------------------------------------------------------------------ losses


@pytest.mark.parametrize("labels", [True, False])
def test_softmax_cross_entropy_gradient_is_y_minus_t_over_n(labels):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4))
    t_int = np.array([0, 3, 1, 3, 2])
    t = t_int if labels else np.eye(4)[t_int]
    loss = SoftmaxCrossEntropy()
    value = loss.forward(x, t)
    assert value == pytest.approx(cross_entropy(softmax(x), t_int))
    dx = loss.backward()
    np.testing.assert_allclose(dx, (softmax(x) - np.eye(4)[t_int]) / 5)
    np.testing.assert_allclose(loss.backward(2.0), 2 * dx)


def numeric_loss_gradient(loss, x, t, h=1e-5):
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        grad[idx] = (loss.forward(xp, t) - loss.forward(xm, t)) / (2 * h)
    return grad


@pytest.mark.parametrize("loss_class", [SoftmaxCrossEntropy, MSELoss])
def test_loss_backward_matches_numerical_gradient(loss_class):
    rng = np.random.default_rng(1)
    x, t = rng.standard_normal((3, 4)), np.array([2, 0, 3])
    loss = loss_class()
    numeric = numeric_loss_gradient(loss, x, t)
    loss.forward(x, t)
    np.testing.assert_allclose(loss.backward(), numeric, rtol=1e-6, atol=1e-9)


def test_softmax_cross_entropy_is_finite_for_huge_scores():
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], dtype=np.float32)
    loss = SoftmaxCrossEntropy()
    assert loss.forward(x, np.array([0, 1])) == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.isfinite(loss.backward()))


def test_losses_do_not_mutate_and_keep_float32():
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    x_before = x.copy()
    for loss, t in [
        (SoftmaxCrossEntropy(), np.eye(4)[[1, 2, 3]]),
        (MSELoss(), np.array([1, 2, 3])),
    ]:
        loss.forward(x, t)
        dx = loss.backward()
        assert dx.dtype == np.float32
        np.testing.assert_array_equal(x, x_before)


def test_mse_loss_value_and_gradient():
    loss = MSELoss()
    x, t = np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]])
    assert loss.forward(x, t) == pytest.approx(0.5 * (1 + 4 + 4) / 2)
    np.testing.assert_allclose(loss.backward(), [[0.5, 1.0], [0.0, -1.0]])
