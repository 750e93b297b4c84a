"""Elementwise activations, softmax, losses and metrics (lessons 02-05).

Every function is vectorised, keeps the dtype of its input (float32 stays float32)
and never changes its arguments. Targets ``t`` may be one-hot rows (N, K) or integer
class labels (N,) wherever a loss or metric takes them.
"""

from __future__ import annotations

import numpy as np

#: Smallest probability the cross-entropy takes the log of (the "log(0) guard").
LOG_EPS = 1e-7


# ------------------------------------------------------------------- activations


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function 1 / (1 + exp(-x)), elementwise, without overflow.

    ``exp(-x)`` overflows for x < -709 (float64) or x < -88 (float32), so each side
    is written with ``exp(-|x|)``, which always lies in (0, 1]:
    x >= 0: 1 / (1 + e^-|x|);  x < 0: e^-|x| / (1 + e^-|x|).
    """
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    result: np.ndarray = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return result


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit max(0, x), elementwise."""
    result: np.ndarray = np.maximum(x, 0)
    return result


def leaky_relu(x: np.ndarray, alpha: float = 0.01) -> np.ndarray:
    """x for x > 0, alpha·x otherwise, elementwise."""
    x = np.asarray(x)
    return np.where(x > 0, x, alpha * x)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent, elementwise (numpy's, which never overflows)."""
    result: np.ndarray = np.tanh(x)
    return result


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, stable for any finite input (e.g. ±1000).

    x: (..., K) scores; returns (..., K) probabilities, each row summing to 1.
    Subtracting the row maximum leaves the result unchanged but makes the largest
    exponent exp(0) = 1, so nothing overflows.
    """
    x = np.asarray(x)
    if x.dtype.kind != "f":
        x = x.astype(np.float64)  # integer scores: exp() needs a float array to write into
    y: np.ndarray = x - x.max(axis=-1, keepdims=True)
    np.exp(y, out=y)
    y /= y.sum(axis=-1, keepdims=True)
    return y


def log_softmax(x: np.ndarray) -> np.ndarray:
    """log(softmax(x)) along the last axis, computed without taking log of 0.

    x: (..., K); returns (..., K) = x - max - log(sum(exp(x - max))).
    """
    x = np.asarray(x)
    shifted = x - x.max(axis=-1, keepdims=True)
    logp: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return logp


# ------------------------------------------------------------------ targets


def one_hot(
    labels: np.ndarray, classes: int = 10, dtype: np.dtype | type = np.float32
) -> np.ndarray:
    """Integer class labels to one-hot rows.

    labels: (N,) integers in ``[0, classes)``; returns: (N, classes).
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"one_hot expected a 1-D array of integer labels but got shape {labels.shape} "
            f"and dtype {labels.dtype}"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"one_hot expected labels in [0, {classes}) but got values from "
            f"{labels.min()} to {labels.max()}"
        )
    t = np.zeros((labels.shape[0], classes), dtype=dtype)
    t[np.arange(labels.shape[0]), labels] = 1
    return t


def as_labels(t: np.ndarray) -> np.ndarray:
    """Integer labels (N,) from one-hot rows (N, K) or from labels (N,) (returned as is)."""
    t = np.asarray(t)
    return t.argmax(axis=-1) if t.ndim == 2 else t


def check_targets(y: np.ndarray, t: np.ndarray, name: str = "loss") -> None:
    """Raise ValueError unless ``t`` fits scores ``y`` (N, K): one-hot (N, K) or labels (N,)."""
    if y.ndim != 2:
        raise ValueError(f"{name} expected scores of shape (N, K) but got shape {y.shape}")
    if t.shape == y.shape:
        return
    if t.ndim == 1 and t.shape[0] == y.shape[0] and np.issubdtype(t.dtype, np.integer):
        return
    raise ValueError(
        f"{name} expected targets of shape {y.shape} (one-hot) or ({y.shape[0]},) "
        f"(integer labels) for scores of shape {y.shape}, but got t of shape {t.shape} "
        f"and dtype {t.dtype}"
    )


# ------------------------------------------------------------------ losses


def cross_entropy(y: np.ndarray, t: np.ndarray) -> float:
    """Mean cross-entropy of probabilities ``y`` against targets ``t``.

    y: (N, K) probabilities (e.g. softmax output); t: (N, K) one-hot or (N,) labels.
    returns: -(1/N) Σ_n Σ_k t_nk log y_nk. Probabilities below ``LOG_EPS`` are
    raised to it first, so a confident wrong answer costs -log(1e-7) ≈ 16, not inf.
    A single sample (K,) with (K,) or scalar target is treated as a batch of one.
    """
    y = np.asarray(y)
    t = np.asarray(t)
    if y.ndim == 1:
        y, t = y[None], (t[None] if t.ndim == 1 else t.reshape(1))
    check_targets(y, t, "cross_entropy")
    n = y.shape[0]
    if t.ndim == 1:
        picked = y[np.arange(n), t]
        return float(-np.log(np.maximum(picked, LOG_EPS)).sum() / n)
    return float(-(t * np.log(np.maximum(y, LOG_EPS))).sum() / n)


def mean_squared_error(y: np.ndarray, t: np.ndarray) -> float:
    """Half the squared error, summed over outputs and averaged over the batch.

    y: (N, K) outputs; t: (N, K) targets (or (N,) labels, taken as one-hot).
    returns: (1/N) Σ_n ½ ||y_n - t_n||², whose gradient with respect to y is (y - t) / N.
    """
    y = np.asarray(y)
    t = np.asarray(t)
    if y.ndim == 1:
        y, t = y[None], t[None]
    if t.ndim == 1 and y.ndim == 2 and np.issubdtype(t.dtype, np.integer):
        check_targets(y, t, "mean_squared_error")
        t = one_hot(t, y.shape[1], y.dtype)
    elif t.ndim == 1 and y.shape == (t.shape[0], 1):
        t = t[:, None]  # one regression target per sample
    if t.shape != y.shape:
        raise ValueError(
            f"mean_squared_error expected targets of shape {y.shape} but got {t.shape}"
        )
    return float(0.5 * np.square(y - t).sum() / y.shape[0])


# ------------------------------------------------------------------ metrics


def accuracy(y: np.ndarray, t: np.ndarray) -> float:
    """Fraction of rows whose largest score is the true class.

    y: (N, K) scores or probabilities; t: (N, K) one-hot or (N,) labels.
    """
    y = np.asarray(y)
    t = np.asarray(t)
    check_targets(y, t, "accuracy")
    if y.shape[0] == 0:
        return float("nan")
    return float(np.mean(y.argmax(axis=1) == as_labels(t)))
