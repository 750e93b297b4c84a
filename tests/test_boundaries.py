"""Defaults, boundary values and bookkeeping the lessons rely on but rarely exercise.

Each test pins one documented fact that no other test happened to check: a default
value, which side of a boundary is allowed, a counter, a seed that must be used.
Mutation testing (docs/authoring.md) showed each of them could change unnoticed.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.functions import leaky_relu, one_hot
from dlcourse.initializers import get_initializer, glorot_normal, glorot_uniform, normal, xavier
from dlcourse.layers import Affine, BatchNorm, Dropout, LeakyReLU, ReLU, SoftmaxCrossEntropy
from dlcourse.optimizers import SGD, AdaGrad, Adam, Momentum, RMSprop
from dlcourse.schedules import (
    ExponentialDecay,
    InverseDecay,
    ReduceOnPlateau,
    StepDecay,
    WarmupCosine,
)

# ----------------------------------------------------------------- functions


def test_documented_defaults_of_leaky_relu_and_one_hot():
    assert leaky_relu(np.array([-1.0]))[0] == pytest.approx(-0.01)
    assert one_hot(np.array([3])).shape == (1, 10)


# ----------------------------------------------------------------- layers


def test_calling_a_layer_is_its_forward_pass():
    layer = Affine(np.arange(6.0).reshape(3, 2), np.array([1.0, -1.0]))
    x = np.ones((4, 3))
    np.testing.assert_array_equal(layer(x), layer.forward(x))
    assert "W=3×2" in repr(layer) and "b=2" in repr(layer)


def test_calling_a_loss_is_its_forward_pass():
    loss = SoftmaxCrossEntropy()
    x, t = np.array([[2.0, 0.0, 0.0]]), np.array([0])
    assert loss(x, t) == loss.forward(x, t)


def test_relu_gradient_at_exactly_zero_is_zero():
    relu = ReLU()
    relu.forward(np.array([[-1.0, 0.0, 0.5]]))
    np.testing.assert_array_equal(relu.backward(np.ones((1, 3))), [[0.0, 0.0, 1.0]])


def test_leaky_relu_layer_slopes_on_both_sides_of_zero():
    layer = LeakyReLU()
    out = layer.forward(np.array([[-2.0, 0.0, 0.5, 3.0]]))
    np.testing.assert_allclose(out, [[-0.02, 0.0, 0.5, 3.0]])
    np.testing.assert_allclose(layer.backward(np.ones((1, 4))), [[0.01, 0.01, 1.0, 1.0]])


def test_dropout_default_ratio_and_ratio_zero():
    assert Dropout().ratio == 0.5
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    np.testing.assert_array_equal(Dropout(0.0, rng=0).forward(x), x)
    with pytest.raises(ValueError):
        Dropout(1.0)


def test_dropout_draws_its_mask_from_the_rng_it_was_given():
    x = np.ones((50, 40), dtype=np.float32)
    a, b = Dropout(0.5, rng=7).forward(x), Dropout(0.5, rng=7).forward(x)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, Dropout(0.5, rng=8).forward(x))


def test_batch_norm_refuses_a_2d_gamma():
    with pytest.raises(ValueError):
        BatchNorm(np.ones((2, 3)), np.zeros((2, 3)))


def test_batch_norm_per_channel_uses_running_statistics_at_inference():
    bn = BatchNorm(np.ones(3), np.zeros(3))  # 3 channels; images 5 × 4 so C ≠ H ≠ W
    x = np.random.default_rng(0).normal(2.0, 3.0, size=(8, 3, 5, 4))
    for _ in range(200):
        bn.forward(x)
    bn.training = False
    out = bn.forward(x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0.0, atol=0.05)


# ----------------------------------------------------------------- optimizers


@pytest.mark.parametrize(
    ("make", "lr"),
    [(SGD, 0.01), (Momentum, 0.01), (AdaGrad, 0.01), (RMSprop, 0.01), (Adam, 0.001)],
)
def test_optimizer_default_learning_rates(make, lr):
    assert make().lr == lr


def test_steps_count_update_calls_and_reset_clears_them():
    opt = SGD(lr=0.1)
    params, grads = {"W": np.ones(3)}, {"W": np.ones(3)}
    assert opt.steps == 0
    opt.update(params, grads)
    opt.update(params, grads)
    assert opt.steps == 2
    opt.reset()
    assert opt.steps == 0


def test_update_refuses_a_read_only_parameter():
    W = np.ones(3)
    W.flags.writeable = False
    with pytest.raises(TypeError, match="writeable"):
        SGD().update({"W": W}, {"W": np.ones(3)})


def test_momentum_zero_is_plain_sgd_and_one_is_refused():
    a, b = {"W": np.ones(3)}, {"W": np.ones(3)}
    grads = {"W": np.array([1.0, -2.0, 0.5])}
    Momentum(lr=0.1, momentum=0.0).update(a, grads)
    SGD(lr=0.1).update(b, grads)
    np.testing.assert_allclose(a["W"], b["W"])
    with pytest.raises(ValueError):
        Momentum(momentum=1.0)


def test_adagrad_first_step_is_lr_times_the_sign():
    W = np.zeros(3)
    AdaGrad(lr=0.1).update({"W": W}, {"W": np.array([4.0, -0.5, 2.0])})
    np.testing.assert_allclose(W, [-0.1, 0.1, -0.1], rtol=1e-6)


def test_adagrad_eps_keeps_a_zero_gradient_finite():
    W = np.ones(2)
    AdaGrad(lr=0.1, eps=1e-8).update({"W": W}, {"W": np.zeros(2)})
    np.testing.assert_array_equal(W, [1.0, 1.0])


def test_rmsprop_passes_its_eps_on():
    assert RMSprop(eps=1e-3).eps == 1e-3
    assert RMSprop(decay=0.0).decay == 0.0


# ----------------------------------------------------------------- schedules


def test_schedule_repr_names_its_settings():
    assert repr(StepDecay(0.1, drop=0.5, every=3)) == "StepDecay(lr=0.1, drop=0.5, every=3)"


def test_schedule_boundaries():
    assert StepDecay(0.1, every=1)(2) == pytest.approx(0.025)
    assert StepDecay(0.1)(10) == pytest.approx(0.05)  # defaults: halve every 10 epochs
    assert InverseDecay(0.1, k=0)(5) == 0.1
    assert ExponentialDecay(0.1, rate=1.0)(7) == 0.1
    with pytest.raises(ValueError):
        ExponentialDecay(0.1, rate=0.0)
    assert WarmupCosine(0.1, warmup=0, total=5, min_lr=0.1)(3) == pytest.approx(0.1)
    with pytest.raises(ValueError):
        StepDecay(0.0)


@pytest.mark.parametrize("factor", [0.0, 1.0])
def test_plateau_factor_must_lie_strictly_between_zero_and_one(factor):
    with pytest.raises(ValueError):
        ReduceOnPlateau(0.1, factor=factor)


def test_plateau_with_patience_zero_lowers_the_rate_on_every_non_improvement():
    schedule = ReduceOnPlateau(1.0, factor=0.5, patience=0)
    assert schedule.step(1.0) == 1.0
    assert schedule.step(1.0) == 0.5


def test_plateau_default_patience_is_three_epochs():
    schedule = ReduceOnPlateau(1.0, factor=0.5)
    rates = [schedule.step(m) for m in (1.0, 1.0, 1.0, 1.0)]
    assert rates == [1.0, 1.0, 1.0, 0.5]


@pytest.mark.parametrize("mode", ["min", "max"])
def test_plateau_counts_a_change_of_exactly_min_delta_as_no_improvement(mode):
    sign = 1 if mode == "max" else -1
    schedule = ReduceOnPlateau(1.0, factor=0.5, patience=1, mode=mode, min_delta=0.25)
    schedule.step(1.0)
    assert schedule.step(1.0 + sign * 0.25) == 0.5  # not more than min_delta better
    assert schedule.step(1.0 + sign * 0.75) == 0.5  # clearly better: the rate stays
    assert schedule.best == 1.0 + sign * 0.75


# ----------------------------------------------------------------- initializers


def test_initializers_accept_fan_one_and_use_their_rng_and_shape():
    assert normal(1, 1, rng=0).shape == (1, 1)
    assert normal(4, 3, rng=0).std() < 0.05  # default std 0.01
    for init in (xavier, glorot_normal, glorot_uniform):
        np.testing.assert_array_equal(init(5, 4, rng=3), init(5, 4, rng=3))
        assert init(5, 4, rng=3, shape=(4, 1, 1, 5)).shape == (4, 1, 1, 5)


def test_unknown_initializer_lists_the_known_ones():
    with pytest.raises(ValueError, match="'he'"):
        get_initializer("kaiming")


# ----------------------------------------------------------------- models

from dlcourse.models import Sequential, mlp, quantize_int8, read_model_file, softmax_regression  # noqa: E402


def test_mlp_uses_its_rng_dtype_dropout_and_weight_decay():
    a, b = mlp((6, 5, 4, 3), rng=0), mlp((6, 5, 4, 3), rng=0)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
    wide = mlp((6, 5, 3), dtype=np.float64, dropout=0.3, weight_decay=0.01, rng=1)
    assert all(p.dtype == np.float64 for p in wide.params.values())
    assert [layer.ratio for layer in wide.layers.values() if isinstance(layer, Dropout)] == [0.3]
    assert wide.weight_decay == 0.01


def test_softmax_regression_uses_its_rng_and_dtype():
    a = softmax_regression(6, 3, rng=2, dtype=np.float64)
    b = softmax_regression(6, 3, rng=2, dtype=np.float64)
    np.testing.assert_array_equal(a.params["affine1.W"], b.params["affine1.W"])
    assert {p.dtype for p in a.params.values()} == {np.dtype(np.float64)}


def test_calling_a_model_gradient_and_eval():
    model = mlp((4, 3, 2), rng=0)
    x, t = (
        np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32),
        np.array([0, 1, 1, 0, 1]),
    )
    np.testing.assert_array_equal(model(x), model.forward(x))
    grads = model.gradient(x, t)
    _, want = model.loss_and_gradient(x, t)
    assert set(grads) == set(model.params)
    for name in grads:
        np.testing.assert_allclose(grads[name], want[name])
    assert model.eval().training is False and model.train().training is True
    assert "affine1=" in repr(model)
    assert model.astype(np.float64).params["affine1.W"].dtype == np.float64


def test_summary_columns_are_aligned():
    lines = mlp((4, 3, 2), rng=0).summary((4,)).splitlines()
    assert lines[0].startswith("name") and not lines[0].startswith(" ")
    assert "(4,)" in "\n".join(lines)
    params = [line.rsplit(maxsplit=1)[-1] for line in lines if line.split()[0].startswith("affine")]
    assert params == ["15", "8"]
    widths = {len(line) for line in lines if line.split()[0].startswith(("affine", "relu"))}
    assert len(widths) == 1, "the parameter column is right-aligned"


def test_saved_float_models_round_trip_exactly_and_quantised_ones_as_float32(tmp_path):
    model = mlp((80, 64, 3), rng=0)  # 80 × 64 = 5,120 weights: enough to be quantised
    exact = model.save(tmp_path / "exact")
    assert exact.name == "exact.npz"
    copy = mlp((80, 64, 3), rng=1)
    copy.load(tmp_path / "exact")  # ".npz" is added when the name has none
    for name in model.params:
        np.testing.assert_array_equal(copy.params[name], model.params[name])
    model.save(tmp_path / "small.npz", quantize=True)
    _, _, arrays = read_model_file(tmp_path / "small.npz")
    assert arrays["affine1.W"].dtype == np.float32
    np.testing.assert_allclose(arrays["affine1.W"], model.params["affine1.W"], atol=0.02)
    np.testing.assert_array_equal(arrays["affine1.b"], model.params["affine1.b"])
    q, scale = quantize_int8(model.params["affine1.W"])
    assert q.dtype == np.int8 and scale.dtype == np.float32


def test_loading_a_missing_model_file_says_so(tmp_path):
    with pytest.raises((FileNotFoundError, ValueError)):
        Sequential.load(mlp((4, 3, 2), rng=0), tmp_path / "nothing-here")


# ----------------------------------------------------------------- gradients

from dlcourse.gradients import gradient_check, numerical_gradient, relative_error  # noqa: E402


def test_numerical_gradient_default_step_is_small():
    x = np.array([0.5, -1.0, 2.0])
    grad = numerical_gradient(lambda v: float((v**3).sum()), x)
    np.testing.assert_allclose(grad, 3 * x**2, rtol=1e-7)  # error h² = 1e-8 at h = 1e-4


def test_relative_error_is_computed_in_float64():
    a = np.array([1.0, 2.0], dtype=np.float32)
    assert relative_error(a, a + np.float32(1e-3)).dtype == np.float64
    assert relative_error(a.astype(np.float64), a).dtype == np.float64


def test_gradient_check_of_a_layer_is_reproducible_with_its_rng():
    layer = Affine(np.ones((3, 2), dtype=np.float32), np.zeros(2, dtype=np.float32))
    x = np.random.default_rng(0).normal(size=(4, 3))
    first, again = gradient_check(layer, x, rng=3), gradient_check(layer, x, rng=3)
    assert first.errors == again.errors


def test_gradient_check_of_a_float32_model_runs_in_float64():
    model = mlp((5, 4, 3), rng=0)  # float32 parameters
    x = np.random.default_rng(1).normal(size=(6, 5)).astype(np.float32)
    assert gradient_check(model, x, np.array([0, 1, 2, 0, 1, 2])).passed(1e-7)
    assert model.params["affine1.W"].dtype == np.float32  # the model itself is untouched


# ----------------------------------------------------------------- layers, before forward

from dlcourse.layers import Flatten, MSELoss, Sigmoid, Tanh  # noqa: E402


@pytest.mark.parametrize(
    "layer",
    [
        Affine(np.ones((3, 2)), np.zeros(2)),
        Sigmoid(),
        ReLU(),
        LeakyReLU(),
        Tanh(),
        BatchNorm(np.ones(3), np.zeros(3)),
        Flatten(),
        Dropout(0.5, rng=0),
    ],
    ids=lambda layer: type(layer).__name__,
)
def test_backward_before_forward_says_so(layer):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones((2, 2)))


@pytest.mark.parametrize("loss", [SoftmaxCrossEntropy(), MSELoss()], ids=["sce", "mse"])
def test_loss_backward_before_forward_says_so(loss):
    with pytest.raises(RuntimeError, match="backward called before forward"):
        loss.backward()
