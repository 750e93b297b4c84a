"""Plots every lesson needs: training curves, digit grids, decision boundaries (lessons 03–10).

Each function draws with seaborn's colour-blind-safe "colorblind" palette, gives every
axis a label and a title, adds a legend where there is more than one series, and
returns the matplotlib Figure, so a notebook can save it or add to it. Nothing is
shown or saved here: in JupyterLab the returned figure is displayed by the cell.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from dlcourse.conv import as_image_batch
from dlcourse.functions import as_labels

__all__ = [
    "palette",
    "plot_decision_boundary",
    "plot_history",
    "show_digits",
    "show_misclassified",
]

TRAIN_STYLE: dict[str, Any] = {"linestyle": "-", "marker": "o", "markersize": 3}
VAL_STYLE: dict[str, Any] = {"linestyle": "--", "marker": "s", "markersize": 3}


def palette(n: int = 10) -> list[tuple[float, float, float]]:
    """The course's colours: the first ``n`` of seaborn's "colorblind" palette."""
    return list(sns.color_palette("colorblind", n))


def _get(history: Any, key: str) -> np.ndarray:
    """A history entry as a float array, from a History or a dict of lists."""
    return np.asarray(history[key], dtype=float)


# ---------------------------------------------------------------- training curves


def plot_history(
    history: Any,
    ax: Axes | Sequence[Axes] | None = None,
    metrics: Sequence[str] = ("loss", "acc"),
    title: str | None = None,
) -> Figure:
    """Curves per epoch, one panel per metric: "loss", "acc" (training and validation), "lr".

    history: a :class:`dlcourse.training.History` (or a dict with "epoch",
    "train_loss", "val_loss", ... lists). ax: one Axes per metric (default: a new
    figure with the panels side by side). Validation curves are drawn only when
    there are validation figures; the best validation epoch is marked. Each panel's
    title states its finding (best or final value); ``title`` sets the figure's.
    """
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in ("loss", "acc", "lr")]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; choose from: loss, acc, lr")
    epochs = _get(history, "epoch")
    if epochs.size == 0:
        raise ValueError("the history is empty: train for at least one epoch first")
    axes = _axes_for(ax, len(metrics), figsize=(5.5 * len(metrics), 4))
    for axis, metric in zip(axes, metrics, strict=True):
        if metric == "lr":
            _plot_lr(axis, epochs, _get(history, "lr"))
        else:
            _plot_metric(axis, epochs, history, metric)
        axis.set_xlabel("epoch")
        axis.legend()
        axis.grid(alpha=0.3)
    figure: Figure = axes[0].figure
    if title is not None:
        figure.suptitle(title)
    return figure


def _plot_metric(axis: Axes, epochs: np.ndarray, history: Any, metric: str) -> None:
    """Training (solid) and validation (dashed) curves of "loss" or "acc"."""
    colours = palette(2)
    train = _get(history, f"train_{metric}")
    val = _get(history, f"val_{metric}")
    name = "loss" if metric == "loss" else "accuracy"
    axis.plot(epochs, train, color=colours[0], label="training", **TRAIN_STYLE)
    axis.set_ylabel("loss (mean per digit)" if metric == "loss" else "accuracy (fraction correct)")
    if np.isnan(val).all():
        axis.set_title(f"Training {name}: {train[-1]:.4f} after epoch {epochs[-1]:.0f}")
        return
    axis.plot(epochs, val, color=colours[1], label="validation", **VAL_STYLE)
    best = int(np.nanargmin(val) if metric == "loss" else np.nanargmax(val))
    axis.axvline(epochs[best], color="0.5", linestyle=":", label="best validation")
    axis.set_title(f"Best validation {name} {val[best]:.4f} at epoch {epochs[best]:.0f}")


def _plot_lr(axis: Axes, epochs: np.ndarray, lr: np.ndarray) -> None:
    """The learning rate of each epoch (a schedule's shape)."""
    axis.plot(epochs, lr, color=palette(3)[2], label="learning rate", **TRAIN_STYLE)
    axis.set_ylabel("learning rate")
    peak = int(np.argmax(lr))
    axis.set_title(f"Learning rate: peak {lr[peak]:.3g} at epoch {epochs[peak]:.0f}")


def _axes_for(ax: Axes | Sequence[Axes] | None, n: int, figsize: tuple[float, float]) -> list:
    if ax is None:
        _, grid = plt.subplots(1, n, figsize=figsize, layout="constrained", squeeze=False)
        return list(grid[0])
    axes = [ax] if isinstance(ax, Axes) else list(ax)
    if len(axes) != n:
        raise ValueError(f"expected {n} Axes (one per metric) but got {len(axes)}")
    return axes


# ------------------------------------------------------------------------ digits


def _as_images(x: np.ndarray) -> np.ndarray:
    """(N, 784), (N, 28, 28) or (N, 1, 28, 28) → (N, H, W) for imshow."""
    images = as_image_batch(x)
    if images.shape[1] != 1:
        raise ValueError(
            f"expected one-channel digits such as (N, 1, 28, 28) but got shape {images.shape}"
        )
    return images[:, 0]


def show_digits(
    x: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    ncols: int = 10,
    title: str | None = None,
) -> Figure:
    """A grid of digits, each titled with its label (and the prediction, if given).

    x: (N, 784), (N, 28, 28) or (N, 1, 28, 28); labels: (N,) or one-hot (N, 10);
    predicted: (N,) labels or (N, K) scores. With predictions, a digit's title is
    "pred 3 / true 5", drawn in the palette's second colour and bold when wrong.
    """
    images = _as_images(x)
    labels = as_labels(np.asarray(labels))
    if len(labels) != len(images):
        raise ValueError(f"got {len(images)} digits but {len(labels)} labels")
    if predicted is not None:
        predicted = as_labels(np.asarray(predicted))
        if len(predicted) != len(images):
            raise ValueError(f"got {len(images)} digits but {len(predicted)} predictions")
    n = len(images)
    if n == 0:
        raise ValueError("no digits to show")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    figure, axes = plt.subplots(
        nrows, ncols, figsize=(1.2 * ncols, 1.45 * nrows + 0.5), squeeze=False
    )
    colours = palette(4)
    for i, axis in enumerate(axes.flat):
        axis.set_axis_off()
        if i >= n:
            continue
        axis.imshow(images[i], cmap="gray_r")
        if predicted is None:
            axis.set_title(f"{labels[i]}", fontsize=10)
        else:
            wrong = predicted[i] != labels[i]
            axis.set_title(
                f"pred {predicted[i]} / true {labels[i]}",
                fontsize=8,
                color=colours[3] if wrong else "black",
                fontweight="bold" if wrong else "normal",
            )
    if title is None:
        title = f"{n} digits with their labels"
        if predicted is not None:
            title = f"{n} digits: {int(np.sum(predicted != labels))} predicted wrongly"
    figure.suptitle(title)
    figure.tight_layout()
    return figure


def show_misclassified(
    model: Any, x: np.ndarray, t: np.ndarray, n: int = 20, ncols: int = 10
) -> Figure:
    """The first ``n`` digits of (x, t) that ``model`` gets wrong, with both labels.

    model: anything with ``predict(x) -> scores (N, K)``; t: (N,) labels or one-hot.
    The title says how many of all digits are wrong.
    """
    labels = as_labels(np.asarray(t))
    predicted = np.asarray(model.predict(x)).argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    accuracy = 1 - len(wrong) / len(labels)
    if len(wrong) == 0:
        figure, axis = plt.subplots(figsize=(5, 1.5))
        axis.set_axis_off()
        axis.text(0.5, 0.5, "every digit is classified correctly", ha="center", va="center")
        axis.set_title(f"No misclassified digits among {len(labels):,} (accuracy 1.0000)")
        return figure
    shown = wrong[:n]
    title = (
        f"{len(shown)} of {len(wrong):,} misclassified digits out of {len(labels):,} "
        f"(accuracy {accuracy:.4f})"
    )
    return show_digits(
        np.asarray(x)[shown], labels[shown], predicted[shown], ncols=ncols, title=title
    )


# ------------------------------------------------------------ decision boundary


def _as_class_labels(output: np.ndarray) -> np.ndarray:
    """Class labels from a predict function's output: scores, one probability, or labels."""
    output = np.asarray(output)
    if output.ndim == 2 and output.shape[1] > 1:
        labels: np.ndarray = output.argmax(axis=1)
        return labels
    output = output.reshape(len(output))
    if np.issubdtype(output.dtype, np.integer) or np.issubdtype(output.dtype, np.bool_):
        return output.astype(np.int64)
    return (output >= 0.5).astype(np.int64)  # the probability of class 1


def plot_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    labels: np.ndarray,
    ax: Axes | None = None,
    resolution: int = 200,
    margin: float = 0.5,
    title: str = "Decision regions of the classifier",
) -> Figure:
    """The class a 2-D classifier predicts everywhere around the points ``x``.

    predict: (M, 2) → scores (M, K), a probability of class 1 (M,) or (M, 1), or
    labels (M,). x: (N, 2) points; labels: (N,) or one-hot (N, K). The regions are
    shaded in the palette's colours and the points drawn on top with one marker per
    class.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D points (N, 2) but got {x.shape}")
    labels = as_labels(np.asarray(labels)).astype(np.int64)
    (x0_min, x1_min), (x0_max, x1_max) = x.min(axis=0) - margin, x.max(axis=0) + margin
    g0, g1 = np.meshgrid(
        np.linspace(x0_min, x0_max, resolution), np.linspace(x1_min, x1_max, resolution)
    )
    grid = np.column_stack([g0.ravel(), g1.ravel()]).astype(
        x.dtype if x.dtype.kind == "f" else float
    )
    regions = _as_class_labels(predict(grid)).reshape(g0.shape)
    classes = int(max(regions.max(), labels.max())) + 1
    colours = palette(max(classes, 2))
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
    ax.contourf(
        g0,
        g1,
        regions,
        levels=np.arange(classes + 1) - 0.5,
        cmap=ListedColormap(colours[:classes]),
        alpha=0.25,
    )
    markers = "os^vDPX*<>"
    for k in range(classes):
        points = x[labels == k]
        if len(points):
            ax.scatter(
                points[:, 0],
                points[:, 1],
                color=colours[k],
                marker=markers[k % len(markers)],
                edgecolor="black",
                s=60,
                label=f"class {k}",
                zorder=3,
            )
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title)
    ax.legend(loc="best")
    figure = ax.get_figure(root=True)
    assert isinstance(figure, Figure)  # an Axes drawn on always belongs to a Figure
    return figure
