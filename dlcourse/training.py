"""The training loop, its history and its callbacks (lesson 04 writes it, lesson 10 extends it).

``train`` repeats, for every epoch: shuffle the training set, step the optimizer on
each mini-batch, then measure the model on the training and validation data in
evaluation mode (Dropout off, BatchNorm on its running statistics). Everything it
measured is in the returned :class:`History`, one entry per epoch:

    history = train(model, Adam(lr=0.001), x_train, t_train, epochs=10,
                    x_val=x_val, t_val=t_val, rng=rng)
    history.val_acc[-1]

Callbacks watch the end of every epoch and may stop training: :class:`EarlyStopping`
(with the best weights restored), :class:`Checkpoint` (the best model saved to .npz)
and :class:`LRScheduler` (the learning rate from a schedule).

If the loss becomes NaN or infinite, training stops at once with a message naming
the epoch, the step and the learning rate, instead of filling the history with NaN.
A softmax cross-entropy rarely gets there (its probabilities are clipped), so an
epoch whose mean loss ends far above the starting loss stops training the same way.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dlcourse.config import as_rng, quick_mode
from dlcourse.functions import as_labels
from dlcourse.models import Model, Sequential, evaluation, npz_path
from dlcourse.optimizers import Optimizer

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "History",
    "LRScheduler",
    "evaluate",
    "minibatches",
    "restore",
    "snapshot",
    "train",
]

METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "lr")


# Overflow and invalid values are expected while a run diverges; train() detects the
# resulting NaN/inf loss itself and explains it, so numpy's warnings are silenced.
def _divergence_ok() -> np.errstate:
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


@dataclass
class History:
    """What ``train`` measured, one entry per finished epoch.

    epoch: 1, 2, ... (epochs finished); train_loss: mean mini-batch loss during the
    epoch (training mode, as the optimizer saw it); train_acc: accuracy on the
    training data after the epoch (evaluation mode, on at most ``train_eval_size``
    digits); val_loss, val_acc: on the validation data after the epoch (NaN without
    validation data); lr: the learning rate used in the epoch; seconds: its
    wall-clock time. ``stopped`` says why training ended early (None if it ran all
    its epochs). ``history["val_acc"]`` is ``history.val_acc``.
    """

    epoch: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped: str | None = None

    def __getitem__(self, key: str) -> list:
        if key not in (*METRICS, "epoch", "seconds"):
            raise KeyError(
                f"History has no {key!r}; choose one of: epoch, {', '.join(METRICS)}, seconds"
            )
        values: list[Any] = getattr(self, key)
        return values

    def __len__(self) -> int:
        return len(self.epoch)

    @property
    def has_validation(self) -> bool:
        """Whether validation figures were recorded (not all NaN)."""
        return any(not math.isnan(v) for v in self.val_loss)

    def best(self, monitor: str = "val_loss") -> tuple[int, float]:
        """(epoch, value) of the best entry of ``monitor`` (lowest loss, highest accuracy)."""
        values = np.asarray(self[monitor], dtype=float)
        if values.size == 0 or np.isnan(values).all():
            raise ValueError(f"History has no {monitor} values yet")
        index = int(np.nanargmin(values) if _mode(monitor) == "min" else np.nanargmax(values))
        return self.epoch[index], float(values[index])

    def table(self) -> str:
        """One row per epoch, for ``print(history.table())``; no val columns without them."""
        columns = ["train_loss", "train_acc"]
        columns += ["val_loss", "val_acc"] if self.has_validation else []
        header = ["epoch", *(c.replace("_", " ") for c in columns), "lr", "seconds"]
        rows = []
        for i, epoch in enumerate(self.epoch):
            values = [f"{self[c][i]:.4f}" for c in columns]
            rows.append([f"{epoch}", *values, f"{self.lr[i]:.3g}", f"{self.seconds[i]:.1f}"])
        widths = [max(len(row[j]) for row in [header, *rows]) for j in range(len(header))]
        lines = [
            "  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True))
            for row in [header, *rows]
        ]
        if self.stopped:
            lines.append(self.stopped)
        return "\n".join(lines)

    def as_dict(self) -> dict[str, list]:
        """The per-epoch lists by name (e.g. for a pandas DataFrame or a JSON file)."""
        return {key: list(self[key]) for key in ("epoch", *METRICS, "seconds")}


# ---------------------------------------------------------------------- callbacks


def _mode(monitor: str) -> str:
    """'min' for losses, 'max' for accuracies."""
    if monitor.endswith("loss"):
        return "min"
    if monitor.endswith("acc"):
        return "max"
    raise ValueError(
        f"cannot monitor {monitor!r}; choose one of: train_loss, train_acc, val_loss, val_acc"
    )


class Callback:
    """Hooks into ``train``; override the ones you need.

    ``on_epoch_end`` returns True to stop training (and may set ``history.stopped``).
    Epochs are counted from 0 in the hooks; ``history.epoch`` holds epoch + 1.
    """

    def on_train_begin(self, history: History, model: Model, optimizer: Optimizer) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(
        self, epoch: int, history: History, model: Model, optimizer: Optimizer
    ) -> None:
        """Called before each epoch's first step."""

    def on_epoch_end(
        self, epoch: int, history: History, model: Model, optimizer: Optimizer
    ) -> bool:
        """Called after each epoch's evaluation; return True to stop training."""
        return False

    def on_train_end(self, history: History, model: Model, optimizer: Optimizer) -> None:
        """Called once when training ends (also after a stop, not after NaN)."""


class _Monitor:
    """Tracks the best value of one history entry."""

    def __init__(self, monitor: str, min_delta: float = 0.0) -> None:
        self.monitor = monitor
        self.mode = _mode(monitor)
        self.min_delta = float(min_delta)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0

    def check_available(self, has_validation: bool) -> None:
        if self.monitor.startswith("val_") and not has_validation:
            raise ValueError(
                f"{type(self).__name__} monitors {self.monitor!r} but train() got no "
                f"validation data; pass x_val and t_val or monitor a train_ entry"
            )

    def improved(self, history: History) -> bool:
        value = history[self.monitor][-1]
        if self.mode == "min":
            better = bool(value < self.best - self.min_delta)
        else:
            better = bool(value > self.best + self.min_delta)
        if better:
            self.best, self.best_epoch = value, history.epoch[-1]
        return better


def snapshot(model: Model) -> dict[str, np.ndarray]:
    """Copies of the model's parameters and layer state (e.g. BatchNorm running stats)."""
    copies = {f"param:{name}": value.copy() for name, value in model.params.items()}
    for i, layer in enumerate(model.layers.values()):
        for name, value in getattr(layer, "state", {}).items():
            copies[f"state:{i}:{name}"] = np.array(value, copy=True)
    return copies


def restore(model: Model, copies: dict[str, np.ndarray]) -> None:
    """Write a :func:`snapshot` back into the model's own arrays, in place."""
    params = model.params
    layers = list(model.layers.values())
    for key, value in copies.items():
        kind, _, rest = key.partition(":")
        if kind == "param":
            params[rest][...] = value
        else:
            index, _, name = rest.partition(":")
            layers[int(index)].state[name][...] = value


class EarlyStopping(Callback, _Monitor):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    With ``restore_best`` (the default) the model ends with the weights of its best
    epoch, whether training stopped early or ran all its epochs.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        restore_best: bool = True,
        min_delta: float = 0.0,
    ) -> None:
        _Monitor.__init__(self, monitor, min_delta)
        if patience < 1:
            raise ValueError(f"expected patience to be at least 1 epoch but got {patience}")
        self.patience = int(patience)
        self.restore_best = restore_best
        self.best_weights: dict[str, np.ndarray] | None = None
        self.bad_epochs = 0
        self.restored_epoch: int | None = None  # the epoch whose weights the model ended with

    def on_train_begin(self, history: History, model: Model, optimizer: Optimizer) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights, self.bad_epochs, self.restored_epoch = None, 0, None

    def on_epoch_end(
        self, epoch: int, history: History, model: Model, optimizer: Optimizer
    ) -> bool:
        if self.improved(history):
            self.bad_epochs = 0
            if self.restore_best:
                self.best_weights = snapshot(model)
            return False
        self.bad_epochs += 1
        if self.bad_epochs < self.patience:
            return False
        history.stopped = (
            f"early stopping after epoch {history.epoch[-1]}: {self.monitor} did not improve "
            f"for {self.patience} epochs (best {self.best:.4f} at epoch {self.best_epoch})"
        )
        return True

    def on_train_end(self, history: History, model: Model, optimizer: Optimizer) -> None:
        if not self.restore_best or self.best_weights is None:
            return
        restore(model, self.best_weights)
        self.restored_epoch = self.best_epoch
        if history.stopped is not None and self.best_epoch != history.epoch[-1]:
            history.stopped += f"; restored the weights of epoch {self.best_epoch}"


class Checkpoint(Callback, _Monitor):
    """Save the model to ``path`` (via ``model.save``) whenever ``monitor`` improves.

    ".npz" is appended to a path without it (``checkpoint.path`` is the file written).
    The file records the epoch and the monitored value; ``model.load(path)`` brings the
    best model back.
    """

    def __init__(self, path: str | os.PathLike, monitor: str = "val_acc") -> None:
        _Monitor.__init__(self, monitor)
        self.path = npz_path(path)
        self.saved_epochs: list[int] = []

    def on_train_begin(self, history: History, model: Model, optimizer: Optimizer) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(
        self, epoch: int, history: History, model: Model, optimizer: Optimizer
    ) -> bool:
        if not isinstance(model, Sequential):
            raise TypeError(
                f"Checkpoint writes files with Sequential.save: expected a Sequential model "
                f"but got {type(model).__name__}"
            )
        if self.improved(history):
            model.save(self.path, epoch=history.epoch[-1], monitor=self.monitor, value=self.best)
            self.saved_epochs.append(history.epoch[-1])
        return False


class LRScheduler(Callback):
    """Set ``optimizer.lr = schedule(epoch)`` at the start of every epoch (from 0).

    A schedule with a ``step(metric)`` method (``ReduceOnPlateau``) is also told the
    value of ``monitor`` after every epoch.
    """

    def __init__(self, schedule: Callable[[int], float], monitor: str = "val_loss") -> None:
        self.schedule = schedule
        self.monitor = monitor
        _mode(monitor)

    def on_epoch_begin(
        self, epoch: int, history: History, model: Model, optimizer: Optimizer
    ) -> None:
        optimizer.lr = float(self.schedule(epoch))

    def on_epoch_end(
        self, epoch: int, history: History, model: Model, optimizer: Optimizer
    ) -> bool:
        step = getattr(self.schedule, "step", None)
        if step is not None:
            step(history[self.monitor][-1])
        return False


# ------------------------------------------------------------------ batches


def minibatches(
    x: np.ndarray,
    t: np.ndarray,
    batch_size: int,
    rng: np.random.Generator | int | None = None,
    shuffle: bool = True,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of mini-batches: every sample exactly once, in a fresh random order.

    x: (N, ...), t: (N, ...). Yields (x_batch, t_batch) of ``batch_size`` samples
    (the last batch may be smaller). Pass the same ``rng`` every epoch for a
    different, reproducible order each time (a seed or None: see
    :func:`dlcourse.config.as_rng`).
    """
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} samples but t has {len(t)}")
    if batch_size < 1:
        raise ValueError(f"expected batch_size to be at least 1 but got {batch_size}")
    order = as_rng(rng).permutation(len(x)) if shuffle else np.arange(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start : start + batch_size]
        yield x[idx], t[idx]


# ------------------------------------------------------------------ evaluation


def evaluate(
    model: Model, x: np.ndarray, t: np.ndarray, batch_size: int = 1000
) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` on x (N, ...), t (N,) or (N, K), in eval mode.

    One forward pass per batch of ``batch_size`` samples, so memory stays small; the
    loss includes the model's weight penalty, like ``model.loss``. The model's mode
    (training or evaluation) is restored afterwards.
    """
    if len(x) != len(t):
        raise ValueError(f"x has {len(x)} samples but t has {len(t)}")
    if len(x) == 0:
        raise ValueError("cannot evaluate on 0 samples")
    with evaluation(model):
        loss_sum, correct = 0.0, 0
        for start in range(0, len(x), batch_size):
            xb, tb = x[start : start + batch_size], t[start : start + batch_size]
            scores = model.forward(xb)
            loss_sum += float(model.loss_layer.forward(scores, tb)) * len(xb)
            correct += int(np.count_nonzero(scores.argmax(axis=1) == as_labels(tb)))
        penalty = float(model.penalty_value())
    return loss_sum / len(x) + penalty, correct / len(x)


# ------------------------------------------------------------------------ train


def train(
    model: Model,
    optimizer: Optimizer,
    x_train: np.ndarray,
    t_train: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 100,
    x_val: np.ndarray | None = None,
    t_val: np.ndarray | None = None,
    rng: np.random.Generator | int | None = None,
    callbacks: Sequence[Callback] = (),
    progress: bool | None = None,
    train_eval_size: int | None = 10_000,
    diverge_factor: float | None = 3.0,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
) -> History:
    """Train ``model`` with ``optimizer`` on mini-batches for ``epochs`` epochs.

    x_train: (N, ...) inputs; t_train: (N,) labels or (N, K) one-hot targets.
    x_val, t_val: validation data, measured after every epoch (optional).
    rng: shuffles the batches (a Generator, a seed or None).
    callbacks: e.g. ``[EarlyStopping(), LRScheduler(WarmupCosine(0.01, 3, 30))]``.
    progress: a ``tqdm`` bar over all steps; None means on, except in quick mode.
    train_eval_size: measure training accuracy on the first this many training
        samples (None: all), to keep the per-epoch evaluation cheap on 60,000 digits.
    diverge_factor: stop when an epoch's mean training loss is more than this many
        times (and more than 1.0 above) the loss of the first step (None: never).
    augment: ``augment(x_batch, rng) -> x_batch``, applied to every training batch
        (e.g. ``dlcourse.augmentation.random_shifts(1)``); evaluation sees the data as is.
    returns: the :class:`History`. A NaN/inf loss, or a loss that grew by
    ``diverge_factor``, stops training with a message in ``history.stopped`` (and
    printed); the model is left as it was at that point.
    """
    _check_data(x_train, t_train, "train")
    has_val = x_val is not None or t_val is not None
    if has_val:
        if x_val is None or t_val is None:
            raise ValueError("pass both x_val and t_val (or neither)")
        _check_data(x_val, t_val, "validation")
    if epochs < 0:
        raise ValueError(f"expected epochs to be non-negative but got {epochs}")
    if batch_size < 1:
        raise ValueError(f"expected batch_size to be at least 1 but got {batch_size}")
    for callback in callbacks:
        if isinstance(callback, _Monitor):
            callback.check_available(has_val)
    rng = as_rng(rng)
    history = History()
    steps_per_epoch = math.ceil(len(x_train) / batch_size)
    bar = _progress_bar(progress, epochs * steps_per_epoch)
    n_eval = len(x_train) if train_eval_size is None else min(train_eval_size, len(x_train))
    initial_loss = math.nan

    for callback in callbacks:
        callback.on_train_begin(history, model, optimizer)
    try:
        for epoch in range(epochs):
            for callback in callbacks:
                callback.on_epoch_begin(epoch, history, model, optimizer)
            start = time.perf_counter()
            lr = float(optimizer.lr)
            model.train()
            batches = minibatches(x_train, t_train, batch_size, rng)
            if augment is not None:
                batches = ((augment(xb, rng), tb) for xb, tb in batches)
            mean_loss, first_loss = _run_epoch(model, optimizer, batches, epoch, history, bar)
            if history.stopped is not None:
                return history  # diverged: message already printed, no callbacks
            initial_loss = first_loss if epoch == 0 else initial_loss
            train_acc, val_loss, val_acc = _measure(
                model, x_train[:n_eval], t_train[:n_eval], x_val, t_val
            )
            _record(history, epoch + 1, mean_loss, train_acc, val_loss, val_acc, lr, start)
            if has_val and not math.isfinite(val_loss):
                _diverged(history, epoch, None, val_loss, lr, what="validation loss")
                return history
            if _exploded(mean_loss, initial_loss, diverge_factor):
                _diverged(history, epoch, None, mean_loss, lr, initial=initial_loss)
                return history
            _describe(bar, history, epochs)
            stop = False
            for callback in callbacks:
                stop = bool(callback.on_epoch_end(epoch, history, model, optimizer)) or stop
            if stop:
                break
        for callback in callbacks:
            callback.on_train_end(history, model, optimizer)
    finally:
        if bar is not None:
            bar.close()
    return history


def _measure(
    model: Model,
    x_train: np.ndarray,
    t_train: np.ndarray,
    x_val: np.ndarray | None,
    t_val: np.ndarray | None,
) -> tuple[float, float, float]:
    """(train accuracy, val loss, val accuracy) in evaluation mode; NaN without val data."""
    with _divergence_ok():
        _, train_acc = evaluate(model, x_train, t_train)
        if x_val is None or t_val is None:
            return train_acc, math.nan, math.nan
        return (train_acc, *evaluate(model, x_val, t_val))


def _check_data(x: np.ndarray, t: np.ndarray, what: str) -> None:
    if len(x) != len(t):
        raise ValueError(f"{what} data: x has {len(x)} samples but t has {len(t)}")
    if len(x) == 0:
        raise ValueError(f"{what} data is empty")


def _run_epoch(
    model: Model,
    optimizer: Optimizer,
    batches: Iterator[tuple[np.ndarray, np.ndarray]],
    epoch: int,
    history: History,
    bar: Any,
) -> tuple[float, float]:
    """Step through one epoch; returns (mean batch loss weighted by batch size, first loss)."""
    loss_sum, seen, first_loss = 0.0, 0, math.nan
    for step, (xb, tb) in enumerate(batches, start=1):
        with _divergence_ok():
            loss, grads = model.loss_and_gradient(xb, tb)
            if not math.isfinite(loss):
                _diverged(history, epoch, step, loss, optimizer.lr)
                return math.nan, first_loss
            optimizer.update(model.params, grads)
        first_loss = float(loss) if step == 1 else first_loss
        loss_sum += float(loss) * len(xb)
        seen += len(xb)
        if bar is not None:
            bar.update(1)
    return loss_sum / seen, first_loss


def _exploded(mean_loss: float, initial_loss: float, factor: float | None) -> bool:
    """Whether an epoch's mean loss grew far above the loss before training started.

    A softmax cross-entropy never becomes NaN (probabilities are clipped at 1e-7), so a
    too-large learning rate shows up as a loss stuck far above where it started.
    """
    if factor is None:
        return False
    return mean_loss > factor * initial_loss and mean_loss - initial_loss > 1.0


def _diverged(
    history: History,
    epoch: int,
    step: int | None,
    loss: float,
    lr: float,
    what: str = "loss",
    initial: float | None = None,
) -> None:
    """Store and print why training diverged, naming epoch, step, lr and the likely cause."""
    if initial is None:
        where = f"epoch {epoch + 1}" + (f", step {step}" if step is not None else "")
        happened = f"the {what} became {loss}"
    else:
        where = f"the end of epoch {epoch + 1}"
        happened = f"the mean training loss grew to {loss:.4g} from {initial:.4g} at the first step"
    history.stopped = (
        f"training stopped at {where}: {happened} (lr={lr:g}). The learning rate {lr:g} "
        f"is probably too high; try a smaller one, e.g. {lr / 10:g}."
    )
    print(history.stopped)


def _record(
    history: History,
    epoch: int,
    train_loss: float,
    train_acc: float,
    val_loss: float,
    val_acc: float,
    lr: float,
    start: float,
) -> None:
    history.epoch.append(epoch)
    history.train_loss.append(float(train_loss))
    history.train_acc.append(float(train_acc))
    history.val_loss.append(float(val_loss))
    history.val_acc.append(float(val_acc))
    history.lr.append(lr)
    history.seconds.append(time.perf_counter() - start)


def _progress_bar(progress: bool | None, total: int) -> Any:
    """A tqdm.auto bar (a widget in JupyterLab, text in a terminal), or None."""
    if progress is None:
        progress = not quick_mode()
    if not progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="batch", desc="training", leave=True, dynamic_ncols=True)


def _describe(bar: Any, history: History, epochs: int) -> None:
    if bar is None:
        return
    bar.set_description(f"epoch {history.epoch[-1]}/{epochs}", refresh=False)
    postfix = {"loss": f"{history.train_loss[-1]:.4f}"}
    if not math.isnan(history.val_acc[-1]):
        postfix["val_acc"] = f"{history.val_acc[-1]:.4f}"
    bar.set_postfix(postfix, refresh=True)
