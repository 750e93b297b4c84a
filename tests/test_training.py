"""The training loop learns, records its history, stops on divergence and runs callbacks."""

from __future__ import annotations

import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from dlcourse.data import load_mnist
from dlcourse.layers import Affine, MSELoss
from dlcourse.models import Sequential, mlp
from dlcourse.optimizers import SGD, Adam
from dlcourse.schedules import ReduceOnPlateau, StepDecay
from dlcourse.training import (
    Callback,
    Checkpoint,
    EarlyStopping,
    History,
    LRScheduler,
    evaluate,
    minibatches,
    train,
)


@pytest.fixture(scope="module")
def digits():
    """The offline split: 4,000 training and 1,000 test digits, x (N, 784) float32."""
    return load_mnist(offline=True)


@pytest.fixture(scope="module")
def small(digits):
    """1,000 training and 300 validation digits for the fast tests."""
    return digits.x_train[:1000], digits.t_train[:1000], digits.x_test[:300], digits.t_test[:300]


def small_mlp(seed: int = 0) -> Sequential:
    return mlp((784, 32, 10), rng=seed)


class Recorder(Callback):
    """Keeps a copy of the parameters after every epoch."""

    def __init__(self) -> None:
        self.params: list[dict[str, np.ndarray]] = []

    def on_epoch_end(self, epoch, history, model, optimizer):
        self.params.append({k: v.copy() for k, v in model.params.items()})
        return False


def test_mlp_scores_at_least_85_percent_on_the_held_out_offline_digits(digits):
    model = mlp((784, 100, 10), rng=0)
    start = time.perf_counter()
    history = train(
        model, SGD(lr=0.5), digits.x_train, digits.t_train, epochs=5, rng=0, progress=False
    )
    seconds = time.perf_counter() - start
    assert len(digits.x_train) == 4000 and len(digits.x_test) == 1000
    assert model.accuracy(digits.x_test, digits.t_test) >= 0.85
    assert history.train_loss[-1] < history.train_loss[0]
    assert seconds < 15  # about 1 s on one core


def test_history_has_one_entry_per_epoch(small):
    x, t, x_val, t_val = small
    history = train(
        small_mlp(), SGD(lr=0.1), x, t, epochs=3, x_val=x_val, t_val=t_val, rng=0, progress=False
    )
    assert isinstance(history, History) and len(history) == 3
    assert history.epoch == [1, 2, 3]
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"):
        assert len(history[key]) == 3
    assert history.lr == [0.1, 0.1, 0.1]
    assert history.stopped is None
    assert all(0 <= a <= 1 for a in history.val_acc)


def test_history_table_has_a_row_per_epoch():
    history = History(
        epoch=[1, 2],
        train_loss=[0.5, 0.25],
        train_acc=[0.8, 0.9],
        val_loss=[0.6, 0.4],
        val_acc=[0.75, 0.85],
        lr=[0.1, 0.05],
        seconds=[1.25, 1.0],
    )
    assert history.table().splitlines() == [
        "epoch  train loss  train acc  val loss  val acc    lr  seconds",
        "    1      0.5000     0.8000    0.6000   0.7500   0.1      1.2",
        "    2      0.2500     0.9000    0.4000   0.8500  0.05      1.0",
    ]
    history.val_loss[:] = history.val_acc[:] = [float("nan")] * 2
    assert history.table().splitlines()[0] == "epoch  train loss  train acc    lr  seconds"


def test_validation_entries_are_nan_without_validation_data(small):
    x, t, _, _ = small
    history = train(small_mlp(), SGD(lr=0.1), x, t, epochs=2, rng=0, progress=False)
    assert np.isnan(history.val_loss).all() and not history.has_validation
    assert not np.isnan(history.train_acc).any()


def test_history_figures_match_an_evaluation_of_the_trained_model(small):
    x, t, x_val, t_val = small
    model = small_mlp()
    history = train(
        model, SGD(lr=0.1), x, t, epochs=2, x_val=x_val, t_val=t_val, rng=0, progress=False
    )
    val_loss, val_acc = evaluate(model, x_val, t_val, batch_size=64)
    assert val_loss == pytest.approx(history.val_loss[-1], rel=1e-5)
    assert val_acc == history.val_acc[-1] == model.accuracy(x_val, t_val)
    assert model.eval().loss(x_val, t_val) == pytest.approx(val_loss, rel=1e-5)


def test_training_is_reproducible_with_the_same_seed(small):
    x, t, _, _ = small
    runs = [train(small_mlp(), SGD(lr=0.1), x, t, epochs=2, rng=7, progress=False) for _ in "ab"]
    assert runs[0].train_loss == runs[1].train_loss
    other = train(small_mlp(), SGD(lr=0.1), x, t, epochs=2, rng=8, progress=False)
    assert other.train_loss != runs[0].train_loss


def test_training_leaves_its_data_alone(small):
    x, t, x_val, t_val = small
    copies = [a.copy() for a in small]
    train(small_mlp(), Adam(), x, t, epochs=1, x_val=x_val, t_val=t_val, rng=0, progress=False)
    for before, after in zip(copies, small, strict=True):
        np.testing.assert_array_equal(before, after)


def test_nan_loss_stops_training_with_a_message_naming_epoch_step_and_lr(capsys):
    # A linear regression with an MSE loss: a huge step makes the loss overflow to inf.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 5)).astype(np.float32)
    t = (x @ rng.standard_normal((5, 1))).astype(np.float32)
    W, b = np.zeros((5, 1), np.float32), np.zeros(1, np.float32)
    model = Sequential([Affine(W, b)], loss=MSELoss())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning may escape
        history = train(model, SGD(lr=1e6), x, t, epochs=5, batch_size=20, rng=0, progress=False)
    assert history.stopped is not None
    assert "epoch 1, step" in history.stopped
    assert "became inf" in history.stopped or "became nan" in history.stopped
    assert "The learning rate 1e+06 is probably too high" in history.stopped
    assert len(history) == 0  # the epoch never finished
    assert history.stopped in capsys.readouterr().out


def test_exploding_cross_entropy_stops_after_the_first_epoch(small, capsys):
    x, t, _, _ = small
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history = train(small_mlp(), SGD(lr=1e6), x, t, epochs=5, rng=0, progress=False)
    assert len(history) == 1
    assert history.stopped.startswith("training stopped at the end of epoch 1")
    assert "lr=1e+06" in history.stopped and "too high" in history.stopped
    assert "too high" in capsys.readouterr().out


def test_a_good_learning_rate_is_not_mistaken_for_divergence(small):
    x, t, _, _ = small
    history = train(small_mlp(), SGD(lr=1.0), x, t, epochs=3, rng=0, progress=False)
    assert history.stopped is None and len(history) == 3


def wrong_labels(t: np.ndarray) -> np.ndarray:
    """Validation labels shifted by one class: the better the model, the worse it does."""
    return (t + 1) % 10


def train_against_wrong_labels(model, small, epochs: int, callbacks: list):
    """Train ``model`` with SGD(lr=0.2) on ``small``, validating on :func:`wrong_labels`."""
    x, t, x_val, t_val = small
    return train(
        model,
        SGD(lr=0.2),
        x,
        t,
        epochs=epochs,
        x_val=x_val,
        t_val=wrong_labels(t_val),
        rng=0,
        callbacks=callbacks,
        progress=False,
    )


def test_early_stopping_stops_and_restores_the_best_weights(small):
    _, _, x_val, t_val = small
    model, recorder = small_mlp(), Recorder()
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    history = train_against_wrong_labels(model, small, 20, [recorder, stopper])
    best_epoch, best_loss = history.best("val_loss")
    assert len(history) == best_epoch + 2 < 20  # two epochs without improvement, then stop
    assert "val_loss did not improve for 2 epochs" in history.stopped
    assert f"restored the weights of epoch {best_epoch}" in history.stopped
    for name, value in model.params.items():
        np.testing.assert_array_equal(value, recorder.params[best_epoch - 1][name])
    assert evaluate(model, x_val, wrong_labels(t_val))[0] == pytest.approx(best_loss, rel=1e-6)


def test_early_stopping_restores_the_best_weights_even_without_stopping(small):
    model, recorder = small_mlp(), Recorder()
    history = train_against_wrong_labels(model, small, 3, [recorder, EarlyStopping(patience=10)])
    best_epoch, _ = history.best("val_loss")
    assert history.stopped is None and best_epoch < 3
    np.testing.assert_array_equal(
        model.params["affine1.W"], recorder.params[best_epoch - 1]["affine1.W"]
    )


def test_early_stopping_also_restores_batchnorm_running_statistics(small):
    _, _, x_val, t_val = small
    model = mlp((784, 32, 10), batch_norm=True, dropout=0.2, rng=0)
    history = train_against_wrong_labels(model, small, 4, [EarlyStopping(patience=10)])
    best_epoch, best_loss = history.best("val_loss")
    assert best_epoch < 4
    # The same loss as at the best epoch needs its weights AND its running mean/variance.
    assert evaluate(model, x_val, wrong_labels(t_val))[0] == pytest.approx(best_loss, rel=1e-6)


def test_monitoring_validation_without_validation_data_is_an_error(small):
    x, t, _, _ = small
    with pytest.raises(ValueError, match="monitors 'val_loss' but train\\(\\) got no validation"):
        train(small_mlp(), SGD(), x, t, epochs=1, callbacks=[EarlyStopping()], progress=False)


def test_checkpoint_writes_a_loadable_npz_of_the_best_epoch(small, tmp_path):
    x, t, x_val, t_val = small
    path = tmp_path / "best.npz"
    checkpoint = Checkpoint(path, monitor="val_acc")
    history = train(
        small_mlp(),
        SGD(lr=0.1),
        x,
        t,
        epochs=3,
        x_val=x_val,
        t_val=t_val,
        rng=0,
        callbacks=[checkpoint],
        progress=False,
    )
    best_epoch, best_acc = history.best("val_acc")
    assert checkpoint.path == path and path.exists()
    assert checkpoint.saved_epochs[-1] == best_epoch
    fresh = small_mlp(seed=123)
    meta = fresh.load(path)
    assert meta["epoch"] == best_epoch and meta["monitor"] == "val_acc"
    assert meta["value"] == pytest.approx(best_acc)
    assert fresh.accuracy(x_val, t_val) == best_acc


def test_checkpoint_adds_the_npz_suffix_like_model_save(tmp_path):
    assert Checkpoint(tmp_path / "best").path == tmp_path / "best.npz"


def test_lr_scheduler_sets_the_rate_of_every_epoch(small):
    x, t, _, _ = small
    optimizer = SGD(lr=1.0)
    schedule = StepDecay(0.2, drop=0.5, every=2)
    history = train(
        small_mlp(),
        optimizer,
        x,
        t,
        epochs=5,
        rng=0,
        callbacks=[LRScheduler(schedule, monitor="train_loss")],
        progress=False,
    )
    assert history.lr == pytest.approx([0.2, 0.2, 0.1, 0.1, 0.05])
    assert optimizer.lr == pytest.approx(0.05)


def test_reduce_on_plateau_lowers_the_rate_when_validation_gets_worse(small):
    plateau = LRScheduler(ReduceOnPlateau(0.2, factor=0.5, patience=1))
    history = train_against_wrong_labels(small_mlp(), small, 5, [plateau])
    assert history.lr[0] == pytest.approx(0.2)
    assert history.lr[-1] < 0.2


def test_progress_bar_is_off_in_quick_mode_and_on_when_asked(small, monkeypatch, capsys):
    x, t, _, _ = small
    monkeypatch.setenv("DLCOURSE_QUICK", "1")
    train(small_mlp(), SGD(), x[:200], t[:200], epochs=1, rng=0)
    assert capsys.readouterr().err == ""
    train(small_mlp(), SGD(), x[:200], t[:200], epochs=1, rng=0, progress=True)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "2/2" in err and "loss=" in err


def test_train_eval_size_limits_the_training_evaluation(small, monkeypatch):
    x, t, _, _ = small
    sizes = []
    real = evaluate

    def spy(model, xs, ts, batch_size=1000):
        sizes.append(len(xs))
        return real(model, xs, ts, batch_size)

    monkeypatch.setattr("dlcourse.training.evaluate", spy)
    train(small_mlp(), SGD(), x, t, epochs=1, rng=0, progress=False, train_eval_size=250)
    assert sizes == [250]


def test_mismatched_data_is_reported(small):
    x, t, x_val, _ = small
    with pytest.raises(ValueError, match="train data: x has 1000 samples but t has 999"):
        train(small_mlp(), SGD(), x, t[:-1], epochs=1, progress=False)
    with pytest.raises(ValueError, match="pass both x_val and t_val"):
        train(small_mlp(), SGD(), x, t, epochs=1, x_val=x_val, progress=False)


def test_history_lookup_of_an_unknown_entry_lists_the_valid_ones():
    with pytest.raises(KeyError, match="History has no 'accuracy'; choose one of: epoch, train"):
        History()["accuracy"]


# ------------------------------------------------------------------ batches


def test_minibatches_cover_every_sample_once_in_a_new_order_each_epoch():
    x = np.arange(23)[:, None]
    t = np.arange(23)
    rng = np.random.default_rng(0)
    epochs = [list(minibatches(x, t, 5, rng)) for _ in range(2)]
    for batches in epochs:
        assert [len(b[0]) for b in batches] == [5, 5, 5, 5, 3]
        seen = np.concatenate([b[1] for b in batches])
        assert sorted(seen.tolist()) == list(range(23))
        np.testing.assert_array_equal(np.concatenate([b[0][:, 0] for b in batches]), seen)
    first, second = (np.concatenate([b[1] for b in e]) for e in epochs)
    assert not np.array_equal(first, second)


def test_minibatches_reject_mismatched_lengths_and_bad_batch_size():
    with pytest.raises(ValueError, match="x has 3 samples but t has 2"):
        next(minibatches(np.zeros(3), np.zeros(2), 1))
    with pytest.raises(ValueError, match="expected batch_size to be at least 1 but got 0"):
        next(minibatches(np.zeros(3), np.zeros(3), 0))


def test_importing_training_does_not_import_the_downloader():
    code = "import sys, dlcourse.training; print('dlcourse.data' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
