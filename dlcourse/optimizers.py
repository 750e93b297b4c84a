"""Optimizers: how a gradient becomes a step (lesson 04 introduces SGD, lesson 09 the rest).

Every optimizer has one method, ``update(params, grads)``, which changes the arrays of
``params`` **in place** (a model's ``params`` dict holds the layers' own arrays, so the
model learns) and keeps their dtype: float32 weights stay float32. Per-parameter state
(velocities, squared-gradient averages) is kept by parameter name, so one optimizer
serves one model. The learning rate ``lr`` is a plain attribute that a schedule may
change between steps.

    opt = Adam(lr=0.001)
    loss, grads = model.loss_and_gradient(x_batch, t_batch)
    opt.update(model.params, grads)

The steps are computed with in-place numpy operations into one scratch buffer per
parameter, so an update allocates nothing after the first step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from dlcourse.config import positive

__all__ = [
    "OPTIMIZERS",
    "SGD",
    "AdaGrad",
    "Adam",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSprop",
    "get_optimizer",
]


class Optimizer:
    """Base class: checks ``params``/``grads`` and calls ``_step`` once per parameter.

    Subclasses implement ``_step(name, param, grad)`` and keep their per-parameter
    arrays in ``self.state[name]``. ``grad`` must never be modified.
    """

    name = "optimizer"

    def __init__(self, lr: float) -> None:
        self.lr = positive("lr", lr)
        self.state: dict[str, dict[str, np.ndarray]] = {}
        self.steps = 0  # number of update() calls so far

    def update(self, params: Mapping[str, np.ndarray], grads: Mapping[str, np.ndarray]) -> None:
        """Take one step: ``params[name]`` is changed in place using ``grads[name]``.

        params, grads: dicts name → array with the same keys and matching shapes.
        """
        missing = [name for name in params if name not in grads]
        if missing:
            raise KeyError(
                f"{type(self).__name__}.update got no gradient for {missing}; grads has "
                f"{sorted(grads)} (run a backward pass first)"
            )
        for name, param in params.items():
            grad = grads[name]
            if grad.shape != param.shape:
                raise ValueError(
                    f"{type(self).__name__}.update: gradient of {name!r} has shape "
                    f"{grad.shape} but the parameter has shape {param.shape}"
                )
            if not isinstance(param, np.ndarray) or not param.flags.writeable:
                raise TypeError(
                    f"expected parameter {name!r} to be a writeable numpy array but got "
                    f"{type(param).__name__}"
                )
            self._step(name, param, grad)
        self.steps += 1

    def _step(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        raise NotImplementedError

    def _buffers(self, name: str, param: np.ndarray, *keys: str) -> list[np.ndarray]:
        """Zero-initialised arrays like ``param`` stored under ``state[name]``, made once."""
        state = self.state.get(name)
        if state is None or state[keys[0]].shape != param.shape:
            state = {key: np.zeros_like(param) for key in keys}
            self.state[name] = state
        return [state[key] for key in keys]

    def reset(self) -> None:
        """Forget all per-parameter state (velocities, averages, step counts)."""
        self.state.clear()
        self.steps = 0

    def _hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value:g}" for key, value in self._hyperparameters().items())
        return f"{type(self).__name__}({args})"


def _fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0 <= value < 1:
        raise ValueError(f"expected {name} to be in [0, 1) but got {value}")
    return value


class SGD(Optimizer):
    """Plain gradient descent: W ← W − lr·∂L/∂W."""

    name = "sgd"

    def __init__(self, lr: float = 0.01) -> None:
        super().__init__(lr)

    def _step(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        (scratch,) = self._buffers(name, param, "scratch")
        np.multiply(grad, self.lr, out=scratch, casting="unsafe")
        param -= scratch


class Momentum(Optimizer):
    """SGD with a velocity: v ← momentum·v − lr·g;  W ← W + v.

    The velocity accumulates gradients that keep their sign and cancels those that
    oscillate, like a ball rolling downhill.
    """

    name = "momentum"

    def __init__(self, lr: float = 0.01, momentum: float = 0.9) -> None:
        super().__init__(lr)
        self.momentum = _fraction("momentum", momentum)

    def _velocity(self, name: str, param: np.ndarray, grad: np.ndarray) -> tuple[np.ndarray, ...]:
        v, scratch = self._buffers(name, param, "v", "scratch")
        np.multiply(grad, self.lr, out=scratch, casting="unsafe")
        v *= self.momentum
        v -= scratch  # v = momentum·v − lr·g
        return v, scratch

    def _step(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        v, _ = self._velocity(name, param, grad)
        param += v

    def _hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "momentum": self.momentum}


class Nesterov(Momentum):
    """Nesterov momentum: the step looks ahead along the new velocity.

    v ← momentum·v − lr·g;  W ← W + momentum·v − lr·g
    (the usual rewriting of "take the gradient at W + momentum·v" in terms of the
    current weights; it damps the overshoot of plain momentum).
    """

    name = "nesterov"

    def _step(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        v, scratch = self._velocity(name, param, grad)  # scratch holds lr·g
        param -= scratch
        np.multiply(v, self.momentum, out=scratch)
        param += scratch


class AdaGrad(Optimizer):
    """Per-weight learning rates that shrink with the gradients seen so far.

    h ← h + g²;  W ← W − lr·g / (√h + eps). Steps get smaller over time, so AdaGrad
    can stop learning too early on long runs (RMSprop fixes that).
    """

    name = "adagrad"

    def __init__(self, lr: float = 0.01, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.eps = positive("eps", eps)

    def _accumulate(self, h: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> None:
        np.multiply(grad, grad, out=scratch, casting="unsafe")
        h += scratch

    def _step(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        h, scratch = self._buffers(name, param, "h", "scratch")
        self._accumulate(h, grad, scratch)
        np.sqrt(h, out=scratch)
        scratch += self.eps
        np.divide(grad, scratch, out=scratch, casting="unsafe")
        scratch *= self.lr
        param -= scratch

    def _hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "eps": self.eps}


class RMSprop(AdaGrad):
    """AdaGrad with a moving average instead of a sum, so old gradients are forgotten.

    h ← decay·h + (1 − decay)·g²;  W ← W − lr·g / (√h + eps).
    """

    name = "rmsprop"

    def __init__(self, lr: float = 0.01, decay: float = 0.99, eps: float = 1e-8) -> None:
        super().__init__(lr, eps)
        self.decay = _fraction("decay", decay)

    def _accumulate(self, h: np.ndarray, grad: np.ndarray, scratch: np.ndarray) -> None:
        np.multiply(grad, grad, out=scratch, casting="unsafe")
        scratch *= 1 - self.decay
        h *= self.decay
        h += scratch

    def _hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "decay": self.decay, "eps": self.eps}


class Adam(Optimizer):
    """Momentum and RMSprop together, with bias correction (Kingma & Ba, 2015).

    m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²;  step t = 1, 2, ...
    m̂ = m / (1 − β1ᵗ);  v̂ = v / (1 − β2ᵗ);  W ← W − lr·m̂ / (√v̂ + eps).
    m and v start at zero, so early on both are biased towards zero; v more strongly
    (β2 > β1), so without the correction the first steps are too long, about
    (1 − β1)/√(1 − β2) ≈ 3.2 × lr at step 1 with the defaults (lesson 09, section 4).
    """

    name = "adam"

    def __init__(
        self, lr: float = 0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        super().__init__(lr)
        self.beta1 = _fraction("beta1", beta1)
        self.beta2 = _fraction("beta2", beta2)
        self.eps = positive("eps", eps)
        self.t: dict[str, int] = {}  # steps taken per parameter

    def _step(self, name: str, param: np.ndarray, grad: np.ndarray) -> None:
        if name not in self.state or self.state[name]["m"].shape != param.shape:
            self.t[name] = 0  # new (or resized) parameter: start its bias correction over
        m, v, scratch = self._buffers(name, param, "m", "v", "scratch")
        t = self.t[name] = self.t[name] + 1
        m *= self.beta1
        np.multiply(grad, 1 - self.beta1, out=scratch, casting="unsafe")
        m += scratch  # m = β1·m + (1 − β1)·g
        np.multiply(grad, grad, out=scratch, casting="unsafe")
        scratch *= 1 - self.beta2
        v *= self.beta2
        v += scratch  # v = β2·v + (1 − β2)·g²
        np.sqrt(v, out=scratch)
        scratch *= 1 / math.sqrt(1 - self.beta2**t)  # √v̂
        scratch += self.eps
        np.divide(m, scratch, out=scratch)
        scratch *= self.lr / (1 - self.beta1**t)  # lr·m̂ / (√v̂ + eps)
        param -= scratch

    def reset(self) -> None:
        super().reset()
        self.t.clear()

    def _hyperparameters(self) -> dict[str, float]:
        return {"lr": self.lr, "beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.name: cls for cls in (SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam)
}


def get_optimizer(name: str, **kwargs: float) -> Optimizer:
    """An optimizer by name (case-insensitive), e.g. ``get_optimizer("adam", lr=0.001)``."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[key](**kwargs)
