"""benchmarks/accuracy.py trains a recipe and ends with a machine-readable line."""

from __future__ import annotations

import gzip
import importlib.util
import re
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from dlcourse.data import load_offline_digits

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy.py"
LAST_LINE = re.compile(
    r"^(?P<model>\w+) accuracy=(?P<acc>[01]\.\d{4}) n=(?P<n>\d+) train_n=(?P<train_n>\d+) "
    r"seconds=\d+\.\d$"
)


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("accuracy_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being created
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


def write_idx(path: Path, array: np.ndarray) -> None:
    """A gzipped IDX file of uint8 values: magic 0x0000 08 ndim, big-endian sizes, data."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def last_line(output: str) -> re.Match:
    line = output.strip().splitlines()[-1]
    match = LAST_LINE.match(line)
    assert match, f"unexpected last line: {line!r}"
    return match


def test_softmax_run_ends_with_the_accuracy_line(script, capsys):
    assert script.main(["--model", "softmax", "--epochs", "1", "--train-size", "500"]) == 0
    out = capsys.readouterr().out
    match = last_line(out)
    assert match["model"] == "softmax" and match["train_n"] == "500" and match["n"] == "1000"
    assert float(match["acc"]) > 0.6  # one epoch on 500 digits is far better than chance
    assert "training on 500 digits for 1 epochs" in out
    assert "epoch   1: train loss" in out


def test_given_idx_test_files_are_used_for_the_evaluation(script, tmp_path, capsys):
    images, labels = load_offline_digits()
    pick = np.arange(0, 5000, 250)  # 20 digits, two of each class
    write_idx(tmp_path / "imgs-idx3-ubyte.gz", images[pick])
    write_idx(tmp_path / "labels-idx1-ubyte.gz", labels[pick])
    argv = ["--model", "softmax", "--epochs", "1", "--train-size", "500"]
    argv += ["--test-images", str(tmp_path / "imgs-idx3-ubyte.gz")]
    argv += ["--test-labels", str(tmp_path / "labels-idx1-ubyte.gz")]
    assert script.main(argv) == 0
    out = capsys.readouterr().out
    assert last_line(out)["n"] == "20"
    assert "from imgs-idx3-ubyte.gz / labels-idx1-ubyte.gz" in out


def test_read_test_files_normalises_like_load_mnist(script, tmp_path):
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    write_idx(tmp_path / "i.gz", images)
    write_idx(tmp_path / "l.gz", np.array([3, 7]))
    x, labels = script.read_test_files(tmp_path / "i.gz", tmp_path / "l.gz", as_images=True)
    assert x.shape == (2, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, 0, 0, :3], np.array([0, 1, 2]) / 255)
    np.testing.assert_array_equal(labels, [3, 7])
    flat, _ = script.read_test_files(tmp_path / "i.gz", tmp_path / "l.gz", as_images=False)
    assert flat.shape == (2, 784)


def test_test_files_that_do_not_fit_are_refused_clearly(script, tmp_path):
    write_idx(tmp_path / "i.gz", np.zeros((3, 28, 28)))
    write_idx(tmp_path / "l.gz", np.array([1, 2]))
    argv = ["--model", "softmax", "--test-images", str(tmp_path / "i.gz")]
    argv += ["--test-labels", str(tmp_path / "l.gz")]
    with pytest.raises(SystemExit, match=r"images \(N, 28, 28\) and labels \(N,\)"):
        script.main(argv)


def test_test_images_without_labels_is_a_usage_error(script, capsys):
    with pytest.raises(SystemExit):
        script.main(["--model", "mlp", "--test-images", "x.gz"])
    assert "--test-images and --test-labels go together" in capsys.readouterr().err


def test_save_writes_a_pretrained_file_that_loads_back(script, tmp_path, capsys):
    from dlcourse.models import model_metadata, softmax_regression

    path = tmp_path / "softmax.npz"
    argv = ["--model", "softmax", "--epochs", "1", "--train-size", "500", "--save", str(path)]
    assert script.main(argv) == 0
    accuracy = float(last_line(capsys.readouterr().out)["acc"])
    meta = model_metadata(path)
    assert meta["factory"] == "softmax_regression" and meta["initial_seed"] == 0
    assert meta["command"] == "python benchmarks/accuracy.py " + " ".join(argv)
    assert meta["test_accuracy"] == accuracy and meta["train_n"] == 500
    model = softmax_regression()
    model.load(path)
    assert model.params["affine1.W"].shape == (784, 10)
    assert abs(meta["stored_test_accuracy"] - accuracy) < 0.02


def test_cnn_recipe_calls_the_factory_with_the_contract_arguments(script):
    recipe = script.RECIPES["cnn"]
    assert recipe.cosine and recipe.shift_pixels == 1
    model = script.build_model(recipe, seed=0)
    assert model.params["conv1.W"].shape == (30, 1, 5, 5)
    assert model.params["affine2.W"].shape == (100, 10)
    again = script.build_model(recipe, seed=0)
    np.testing.assert_array_equal(model.params["conv1.W"], again.params["conv1.W"])


def test_cnn_run_trains_on_shifted_batches_with_a_cosine_schedule(script, capsys, monkeypatch):
    seen = {}
    original = script.train

    def recording(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(script, "train", recording)
    assert script.main(["--model", "cnn", "--epochs", "2", "--train-size", "100"]) == 0
    out = capsys.readouterr().out
    assert seen["augment"].__name__ == "random_shifts(1)"
    (scheduler,) = seen["callbacks"]
    assert [scheduler.schedule(epoch) for epoch in (0, 1)] == [0.001, 0.0005]
    assert "each batch shifted at random by up to 1 pixel(s)" in out
    assert "cosine decay" in out
    match = last_line(out)
    assert match["model"] == "cnn" and match["train_n"] == "100"


# ------------------------------------------------------------- lesson 10's deep recipes

DEEP_LAST_LINE = re.compile(
    r"^(?P<model>deep-(mlp|cnn)) accuracy=(?P<acc>[01]\.\d{4}) n=(?P<n>\d+) "
    r"train_n=(?P<train_n>\d+) seconds=\d+\.\d$"
)


def test_deep_mlp_recipe_is_the_capstone_exercise(script):
    recipe = script.RECIPES["deep-mlp"]
    assert recipe.optimizer == "adam" and recipe.optimizer_kwargs == {"lr": 0.01}
    assert recipe.cosine and recipe.warmup == 3 and recipe.epochs["offline"] == 30
    model = script.build_model(recipe, seed=0)
    kinds = [layer.kind for layer in model.layers.values()]
    assert kinds == ["affine", "batchnorm", "relu", "dropout"] * 4 + ["affine"]
    assert model.params["affine1.W"].shape == (784, 128)
    assert model.params["affine5.W"].shape == (128, 10)


def test_deep_cnn_factory_builds_the_lesson_network(script):
    model = script.build_model(script.RECIPES["deep-cnn"], seed=0)
    assert model.summary((1, 28, 28)).splitlines()[-1].split()[-1] == "218,938"
    kinds = [layer.kind for layer in model.layers.values()]
    assert kinds[:7] == ["conv", "batchnorm", "relu", "conv", "batchnorm", "relu", "pool"]
    assert kinds[-4:] == ["batchnorm", "relu", "dropout", "affine"]
    assert model.params["conv1.W"].shape == (16, 1, 3, 3)
    # He before ReLU, Xavier for the output: std sqrt(2/fan_in) and sqrt(1/fan_in)
    assert abs(model.params["affine1.W"].std() / np.sqrt(2 / 1568) - 1) < 0.05
    assert abs(model.params["affine2.W"].std() / np.sqrt(1 / 128) - 1) < 0.15
    again = script.build_model(script.RECIPES["deep-cnn"], seed=0)
    np.testing.assert_array_equal(model.params["conv3.W"], again.params["conv3.W"])


@pytest.mark.parametrize("name", ["deep-mlp", "deep-cnn"])
def test_deep_runs_warm_up_and_end_with_the_accuracy_line(script, capsys, monkeypatch, name):
    seen = {}
    original = script.train

    def recording(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(script, "train", recording)
    assert script.main(["--model", name, "--epochs", "3", "--train-size", "100"]) == 0
    out = capsys.readouterr().out
    match = DEEP_LAST_LINE.match(out.strip().splitlines()[-1])
    assert match and match["model"] == name and match["train_n"] == "100"
    (scheduler,) = seen["callbacks"]
    peak = script.RECIPES[name].optimizer_kwargs["lr"]
    lrs = [scheduler.schedule(epoch) for epoch in range(3)]
    if name == "deep-mlp":  # 3 warm-up epochs asked, 3 epochs run: 2 of warm-up, then the peak
        assert lrs == pytest.approx([peak / 2, peak, peak])
        assert seen["augment"] is None
    else:
        assert lrs == pytest.approx([peak, peak, peak / 2])
        assert seen["augment"].__name__ == "random_shifts(1)"


def test_deep_recipes_refuse_save(script, tmp_path, capsys):
    argv = ["--model", "deep-cnn", "--save", str(tmp_path / "x.npz")]
    with pytest.raises(SystemExit, match="rebuilds from one of its factories"):
        script.main(argv)
    assert "training on" not in capsys.readouterr().out
