"""Claims of lesson 05 about Sequential models: backprop through the whole chain is right,
parameters are shared with the layers, prediction is batched, files round-trip."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from dlcourse.functions import cross_entropy, softmax
from dlcourse.gradients import gradient_check
from dlcourse.layers import Affine, BatchNorm, Dropout, Flatten, MSELoss, ReLU, Sigmoid, Tanh
from dlcourse.models import (
    Model,
    Sequential,
    evaluation,
    mlp,
    model_metadata,
    quantize_int8,
    softmax_regression,
)


def three_layer_model(rng: np.random.Generator, **kwargs) -> Sequential:
    """7 → 6 → 5 → 4 with tanh and sigmoid (smooth, so no kinks)."""
    return Sequential(
        [
            Affine(rng.standard_normal((7, 6)), rng.standard_normal(6) * 0.1),
            Tanh(),
            Affine(rng.standard_normal((6, 5)), rng.standard_normal(5) * 0.1),
            Sigmoid(),
            Affine(rng.standard_normal((5, 4)), rng.standard_normal(4) * 0.1),
        ],
        **kwargs,
    )


def test_layers_are_named_by_kind_and_count():
    model = mlp((4, 3, 3, 2), rng=0)
    assert list(model.layers) == ["affine1", "relu1", "affine2", "relu2", "affine3"]
    assert list(model.params) == [
        "affine1.W",
        "affine1.b",
        "affine2.W",
        "affine2.b",
        "affine3.W",
        "affine3.b",
    ]


def test_params_are_the_layers_own_arrays():
    model = mlp((4, 3, 2), rng=0)
    model.params["affine1.W"] -= 1.0  # what an optimizer does
    assert model.params["affine1.W"] is model.layers["affine1"].W
    x = np.ones((1, 4), np.float32)
    np.testing.assert_allclose(model.layers["affine1"].forward(x), x @ model.layers["affine1"].W)


@pytest.mark.parametrize("seed", [0, 1])
def test_three_layer_model_passes_gradient_check(seed):
    rng = np.random.default_rng(seed)
    model = three_layer_model(rng)
    x, t = rng.standard_normal((5, 7)), rng.integers(0, 4, 5)
    result = gradient_check(model, x, t)
    assert result.passed(1e-6), str(result)
    assert set(result.errors) == set(model.params)


@pytest.mark.parametrize("penalty", ["l2", "l1"])
def test_gradient_includes_the_weight_penalty(penalty):
    rng = np.random.default_rng(3)
    model = three_layer_model(rng, weight_decay=0.1, penalty=penalty)
    x, t = rng.standard_normal((5, 7)), np.eye(4)[rng.integers(0, 4, 5)]
    result = gradient_check(model, x, t)
    assert result.passed(1e-6), str(result)
    plain = three_layer_model(np.random.default_rng(3))
    assert model.loss(x, t) > plain.loss(x, t)


def test_relu_batchnorm_dropout_mlp_passes_gradient_check():
    rng = np.random.default_rng(4)
    model = mlp((6, 5, 4, 3), batch_norm=True, dropout=0.2, rng=rng, dtype=np.float64)
    x, t = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    assert gradient_check(model, x, t).passed(1e-6)


def test_image_model_with_flatten_passes_gradient_check():
    rng = np.random.default_rng(5)
    model = Sequential(
        [
            BatchNorm(np.ones(2), np.zeros(2)),
            Flatten(),
            Affine(rng.standard_normal((18, 3)), np.zeros(3)),
        ]
    )
    x, t = rng.standard_normal((4, 2, 3, 3)), rng.integers(0, 3, 4)
    assert gradient_check(model, x, t).passed(1e-6)


def test_loss_is_softmax_cross_entropy_of_the_scores():
    rng = np.random.default_rng(6)
    model = mlp((5, 4, 3), rng=rng)
    x, t = rng.standard_normal((6, 5)).astype(np.float32), rng.integers(0, 3, 6)
    assert model.loss(x, t) == pytest.approx(cross_entropy(softmax(model.forward(x)), t), rel=1e-6)


def test_mse_loss_model_trains_a_regression_gradient():
    rng = np.random.default_rng(7)
    model = Sequential([Affine(rng.standard_normal((3, 1)), np.zeros(1))], loss=MSELoss())
    x, t = rng.standard_normal((5, 3)), rng.standard_normal((5, 1))
    assert gradient_check(model, x, t).passed(1e-6)


def test_float32_model_stays_float32():
    rng = np.random.default_rng(8)
    model = mlp((6, 5, 3), batch_norm=True, dropout=0.1, weight_decay=0.01, rng=rng)
    x, t = rng.standard_normal((4, 6)).astype(np.float32), rng.integers(0, 3, 4)
    _, grads = model.loss_and_gradient(x, t)
    assert all(p.dtype == np.float32 for p in model.params.values())
    assert all(g.dtype == np.float32 for g in grads.values())
    assert model.predict(x).dtype == np.float32


def test_astype_gives_float64_end_to_end():
    rng = np.random.default_rng(9)
    model = mlp((6, 5, 3), batch_norm=True, rng=rng).astype(np.float64)
    assert all(p.dtype == np.float64 for p in model.params.values())
    assert model.layers["batchnorm1"].running_var.dtype == np.float64
    assert model.forward(rng.standard_normal((2, 6))).dtype == np.float64


def test_predict_in_batches_equals_one_batch_and_restores_mode():
    rng = np.random.default_rng(10)
    model = mlp((6, 5, 3), batch_norm=True, dropout=0.5, rng=rng, dtype=np.float64)
    model.forward(rng.standard_normal((20, 6)))  # give BatchNorm some running stats
    x = rng.standard_normal((23, 6))
    batched = model.predict(x, batch_size=5)
    model.eval()
    whole = model.forward(x)
    model.train()
    np.testing.assert_allclose(batched, whole)
    assert model.training and all(layer.training for layer in model.layers.values())


def test_accuracy_uses_eval_mode():
    model = Sequential([Dropout(0.9, rng=0)])
    x = np.eye(3)
    assert model.accuracy(x, np.array([0, 1, 2])) == 1.0


def test_train_and_eval_set_every_layer():
    model = mlp((4, 3, 2), dropout=0.5, rng=0)
    assert model.eval() is model
    assert not any(layer.training for layer in model.layers.values())
    model.train()
    assert all(layer.training for layer in model.layers.values())


def test_summary_lists_shapes_and_parameter_counts():
    model = mlp((784, 100, 10), rng=0)
    text = model.summary((784,))
    lines = text.splitlines()
    assert lines[0].split() == ["name", "layer", "output", "shape", "parameters"]
    assert any(line.split() == ["affine1", "Affine", "(100,)", "78,500"] for line in lines)
    assert any(line.split() == ["relu1", "ReLU", "(100,)", "0"] for line in lines)
    assert lines[-1].split() == ["total", "79,510"]
    assert model.num_params == 79_510


def test_summary_reports_a_missing_flatten():
    model = mlp((784, 10), rng=0)
    with pytest.raises(ValueError, match="did you forget a Flatten"):
        model.summary((1, 28, 28))


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(11)
    model = mlp((6, 5, 3), batch_norm=True, rng=rng)
    model.forward(rng.standard_normal((10, 6)).astype(np.float32))
    path = model.save(tmp_path / "model", epoch=3, val_acc=0.5)
    assert path.name == "model.npz"
    other = mlp((6, 5, 3), batch_norm=True, rng=99)
    W = other.params["affine1.W"]
    meta = other.load(path)
    assert meta == {"epoch": 3, "val_acc": 0.5}
    assert other.params["affine1.W"] is W  # loaded in place
    for name, value in model.params.items():
        np.testing.assert_array_equal(other.params[name], value)
    np.testing.assert_array_equal(
        other.layers["batchnorm1"].running_mean, model.layers["batchnorm1"].running_mean
    )
    x = rng.standard_normal((4, 6)).astype(np.float32)
    np.testing.assert_array_equal(other.predict(x), model.predict(x))


def test_load_refuses_a_different_hidden_size(tmp_path):
    path = mlp((6, 5, 3), rng=0).save(tmp_path / "a.npz")
    with pytest.raises(
        ValueError, match=r"affine1\.W has shape \(6, 5\) in the file but \(6, 4\) in the model"
    ):
        mlp((6, 4, 3), rng=0).load(path)


def test_load_refuses_different_layers(tmp_path):
    path = mlp((6, 5, 3), rng=0).save(tmp_path / "a.npz")
    with pytest.raises(ValueError, match="layer 2 is relu1 in the file but sigmoid1 in the model"):
        mlp((6, 5, 3), activation="sigmoid", rng=0).load(path)
    longer = Sequential([*mlp((6, 5, 3), rng=0).layers.values(), ReLU()])
    with pytest.raises(ValueError, match="the file has 3 layers but the model has 4"):
        longer.load(path)


def test_saved_file_needs_no_pickle(tmp_path):
    path = mlp((6, 5, 3), rng=0).save(tmp_path / "a.npz", note="hi")
    with np.load(path, allow_pickle=False) as data:
        assert "affine1.W" in data and "__architecture__" in data


def test_quantized_file_is_small_and_close_to_the_weights(tmp_path):
    model = mlp((784, 30, 10), rng=1)
    plain = model.save(tmp_path / "plain.npz")
    small = model.save(tmp_path / "small.npz", quantize=True, note="int8")
    assert small.stat().st_size < plain.stat().st_size / 2
    with zipfile.ZipFile(small) as archive:
        names = set(archive.namelist())
    # the 784×30 weights are int8 with one scale per unit; the small arrays stay float32
    assert {"int8:affine1.W.npy", "scale:affine1.W.npy", "affine2.W.npy"} <= names
    other = mlp((784, 30, 10), rng=2)
    assert other.load(small) == {"note": "int8"} == model_metadata(small)
    W = model.params["affine1.W"]
    step = np.abs(W).max(axis=0) / 127  # per output unit
    assert np.all(np.abs(other.params["affine1.W"] - W) <= step / 2 + 1e-7)
    np.testing.assert_array_equal(other.params["affine2.W"], model.params["affine2.W"])


def test_quantize_int8_keeps_one_scale_per_output_unit():
    W = np.array([[1.0, -0.5], [-2.0, 0.25]])
    q, scale = quantize_int8(W)
    np.testing.assert_allclose(scale, [[2 / 127, 0.5 / 127]], rtol=1e-6)
    np.testing.assert_array_equal(q, [[64, -127], [-127, 64]])
    filters = np.zeros((3, 1, 2, 2))
    filters[1] = 5.0
    q, scale = quantize_int8(filters)
    assert scale.shape == (3, 1, 1, 1) and scale[0, 0, 0, 0] == 1  # all-zero filter: scale 1
    assert q[1].max() == 127


def test_a_modified_model_file_is_refused(tmp_path):
    path = mlp((6, 5, 3), rng=0).save(tmp_path / "a.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = dict(npz)
    arrays["affine1.b"] = arrays["affine1.b"] + 1
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(ValueError, match=r"tampered\.npz was modified or is damaged"):
        mlp((6, 5, 3), rng=0).load(tmp_path / "tampered.npz")


def test_a_file_that_is_not_a_model_file_is_refused(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    np.savez(tmp_path / "other.npz", x=np.zeros(3))
    for name in ("junk.npz", "other.npz"):
        with pytest.raises(ValueError, match=rf"expected a model file .* but {name} is not one"):
            mlp((6, 5, 3), rng=0).load(tmp_path / name)


def test_sequential_satisfies_the_model_contract():
    assert isinstance(mlp((4, 3, 2), rng=0), Model)
    assert not isinstance(ReLU(), Model)


def test_evaluation_switches_to_eval_mode_and_restores_the_mode():
    model = mlp((4, 3, 2), dropout=0.5, rng=0)
    with evaluation(model):
        assert not model.training and not model.layers["dropout1"].training
    assert model.training and model.layers["dropout1"].training
    model.eval()
    with evaluation(model):
        pass
    assert not model.training
    model.train()
    with pytest.raises(RuntimeError), evaluation(model):
        raise RuntimeError("inside")
    assert model.training


def test_mlp_uses_the_requested_initialisation():
    model = mlp((2000, 500, 10), init="he", output_init="xavier", rng=0)
    assert model.params["affine1.W"].std() == pytest.approx(np.sqrt(2 / 2000), rel=0.02)
    assert model.params["affine2.W"].std() == pytest.approx(np.sqrt(1 / 500), rel=0.05)
    assert model.params["affine1.W"].dtype == np.float32


def test_mlp_rejects_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        mlp(activation="relu6")


def test_softmax_regression_is_one_affine_layer():
    model = softmax_regression(rng=0)
    assert list(model.params) == ["affine1.W", "affine1.b"]
    assert model.params["affine1.W"].shape == (784, 10)


def test_sgd_steps_on_model_params_reduce_the_loss():
    rng = np.random.default_rng(12)
    model = mlp((5, 8, 3), rng=rng)
    x, t = rng.standard_normal((30, 5)).astype(np.float32), rng.integers(0, 3, 30)
    first = model.loss(x, t)
    for _ in range(50):
        _, grads = model.loss_and_gradient(x, t)
        for name, p in model.params.items():
            p -= 0.1 * grads[name]
    assert model.loss(x, t) < 0.8 * first


def test_relu_layer_is_used_by_default():
    assert isinstance(mlp((3, 2, 2), rng=0).layers["relu1"], ReLU)


def test_training_backward_skips_dx_but_gives_the_same_grads():
    rng = np.random.default_rng(13)
    model = mlp((6, 5, 3), rng=rng, dtype=np.float64)
    x, t = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
    model.loss(x, t)
    dx = model.backward()
    full = {k: g.copy() for k, g in model.grads.items()}
    model.loss(x, t)
    assert model.backward(need_dx=False) is None
    assert dx.shape == x.shape
    for name, g in model.grads.items():
        np.testing.assert_array_equal(g, full[name])
