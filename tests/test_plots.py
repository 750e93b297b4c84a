"""The plotting helpers return labelled figures in the colour-blind palette (Agg backend)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure

from dlcourse.data import make_xor
from dlcourse.plots import (
    palette,
    plot_decision_boundary,
    plot_history,
    show_digits,
    show_misclassified,
)
from dlcourse.training import History


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def history_with_validation() -> History:
    history = History()
    for epoch, (tl, vl, ta, va) in enumerate(
        [(1.0, 1.1, 0.6, 0.55), (0.5, 0.7, 0.8, 0.75), (0.3, 0.8, 0.9, 0.74)], start=1
    ):
        history.epoch.append(epoch)
        history.train_loss.append(tl)
        history.val_loss.append(vl)
        history.train_acc.append(ta)
        history.val_acc.append(va)
        history.lr.append(0.1)
        history.seconds.append(0.01)
    return history


def test_plot_history_draws_labelled_training_and_validation_curves():
    figure = plot_history(history_with_validation(), title="MLP on MNIST")
    assert isinstance(figure, Figure)
    loss_ax, acc_ax = figure.axes
    assert loss_ax.get_xlabel() == "epoch" and loss_ax.get_ylabel().startswith("loss")
    assert acc_ax.get_ylabel().startswith("accuracy")
    assert loss_ax.get_title() == "Best validation loss 0.7000 at epoch 2"
    assert acc_ax.get_title() == "Best validation accuracy 0.7500 at epoch 2"
    labels = [text.get_text() for text in loss_ax.get_legend().get_texts()]
    assert labels == ["training", "validation", "best validation"]
    train_line, val_line = loss_ax.get_lines()[:2]
    np.testing.assert_allclose(val_line.get_ydata(), [1.1, 0.7, 0.8])
    assert to_rgb(train_line.get_color()) == pytest.approx(palette()[0])
    assert to_rgb(val_line.get_color()) == pytest.approx(palette()[1])
    assert figure.get_suptitle() == "MLP on MNIST"


def test_plot_history_without_validation_shows_only_training():
    history = history_with_validation()
    history.val_loss[:] = [float("nan")] * 3
    history.val_acc[:] = [float("nan")] * 3
    figure = plot_history(history, metrics=["loss"])
    (axis,) = figure.axes
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["training"]
    assert axis.get_title() == "Training loss: 0.3000 after epoch 3"


def test_plot_history_can_show_the_learning_rate_schedule():
    history = history_with_validation()
    history.lr[:] = [0.005, 0.01, 0.002]
    figure = plot_history(history, metrics=("loss", "lr"))
    lr_ax = figure.axes[1]
    assert lr_ax.get_ylabel() == "learning rate"
    assert lr_ax.get_title() == "Learning rate: peak 0.01 at epoch 2"
    np.testing.assert_allclose(lr_ax.get_lines()[0].get_ydata(), [0.005, 0.01, 0.002])
    with pytest.raises(ValueError, match="unknown metric 'accuracy'; choose from: loss, acc, lr"):
        plot_history(history, metrics=["accuracy"])


def test_plot_history_accepts_a_dict_and_given_axes():
    figure, axes = plt.subplots(1, 2)
    result = plot_history(history_with_validation().as_dict(), ax=axes)
    assert result is figure and all(a.get_lines() for a in axes)
    with pytest.raises(ValueError, match="expected 2 Axes"):
        plot_history(history_with_validation(), ax=axes[0])
    with pytest.raises(ValueError, match="history is empty"):
        plot_history(History())


def test_show_digits_titles_each_digit_and_marks_wrong_predictions():
    rng = np.random.default_rng(0)
    x = rng.random((12, 784)).astype(np.float32)
    labels = np.arange(12) % 10
    predicted = labels.copy()
    predicted[[2, 5]] = 0
    figure = show_digits(x, labels, predicted, ncols=5)
    shown = [a for a in figure.axes if a.images]
    assert len(figure.axes) == 15 and len(shown) == 12
    assert shown[2].get_title() == "pred 0 / true 2"
    assert to_rgb(shown[2].title.get_color()) == pytest.approx(palette(4)[3])
    assert shown[3].title.get_color() == "black"
    assert shown[0].images[0].get_array().shape == (28, 28)
    assert figure.get_suptitle() == "12 digits: 2 predicted wrongly"


def test_show_digits_accepts_image_batches_and_rejects_other_shapes():
    x = np.zeros((3, 1, 28, 28), np.float32)
    figure = show_digits(x, np.eye(10)[[1, 2, 3]])
    assert [a.get_title() for a in figure.axes] == ["1", "2", "3"]
    with pytest.raises(ValueError, match=r"expected flat square images .* got shape \(3, 783\)"):
        show_digits(np.zeros((3, 783)), [1, 2, 3])
    with pytest.raises(ValueError, match="got 3 digits but 2 labels"):
        show_digits(x, [1, 2])


class FixedModel:
    """Predicts the class stored for each digit (its first pixel, as an int)."""

    def predict(self, x):
        return np.eye(10)[x[:, 0].astype(int)]


def test_show_misclassified_shows_only_the_wrong_digits():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7])
    x = np.zeros((8, 784), np.float32)
    x[:, 0] = [0, 1, 9, 3, 9, 5, 9, 7]  # digits 2, 4 and 6 are predicted as 9
    figure = show_misclassified(FixedModel(), x, labels, n=2)
    titles = [a.get_title() for a in figure.axes if a.images]
    assert titles == ["pred 9 / true 2", "pred 9 / true 4"]
    assert figure.get_suptitle() == "2 of 3 misclassified digits out of 8 (accuracy 0.6250)"


def test_show_misclassified_says_so_when_nothing_is_wrong():
    x = np.zeros((4, 784), np.float32)
    x[:, 0] = [0, 1, 2, 3]
    figure = show_misclassified(FixedModel(), x, np.array([0, 1, 2, 3]))
    assert figure.axes[0].get_title() == "No misclassified digits among 4 (accuracy 1.0000)"


def test_decision_boundary_shades_the_predicted_regions_of_xor():
    x, labels = make_xor()

    def xor_predict(points):  # a perfect XOR classifier
        return ((points[:, 0] > 0.5) != (points[:, 1] > 0.5)).astype(np.int64)

    figure = plot_decision_boundary(xor_predict, x, labels, resolution=50)
    (axis,) = figure.axes
    assert axis.get_xlabel() == "$x_1$" and axis.get_ylabel() == "$x_2$"
    assert axis.get_title() == "Decision regions of the classifier"
    assert [t.get_text() for t in axis.get_legend().get_texts()] == ["class 0", "class 1"]
    assert len(axis.collections) >= 3  # the filled regions and one scatter per class


def test_decision_boundary_reads_scores_and_probabilities_alike():
    x, labels = make_xor()
    seen = []

    def probability(points):
        seen.append(points.shape)
        return 1 / (1 + np.exp(-(points[:, :1] - 0.5) * 10))  # (M, 1) probability

    figure, axis = plt.subplots()
    assert plot_decision_boundary(probability, x, labels, ax=axis, resolution=30) is figure
    assert seen == [(900, 2)]
    with pytest.raises(ValueError, match=r"needs 2-D points \(N, 2\) but got \(4, 3\)"):
        plot_decision_boundary(probability, np.zeros((4, 3)), labels)
