"""Layers with forward and backward passes, and the loss layers (lesson 05).

A layer turns an input batch ``x`` into an output with :meth:`Layer.forward`, keeps
what it needs (its *cache*), and turns the upstream gradient ``dout`` into the
gradient with respect to its input with :meth:`Layer.backward`. Gradients of its
parameters go into ``layer.grads`` under the same names as ``layer.params``.

No layer changes its input or ``dout``; every layer keeps the dtype of its input
(float32 stays float32). Conv layers (:mod:`dlcourse.conv`) follow the same interface.
"""

from __future__ import annotations

from math import prod

import numpy as np

from dlcourse.config import as_rng
from dlcourse.functions import cross_entropy, mean_squared_error, one_hot, sigmoid, softmax

__all__ = [
    "ACTIVATIONS",
    "Affine",
    "BatchNorm",
    "Dropout",
    "Flatten",
    "Layer",
    "LeakyReLU",
    "Loss",
    "MSELoss",
    "ReLU",
    "Sigmoid",
    "SoftmaxCrossEntropy",
    "Tanh",
    "cast_layer",
    "make_activation",
]


class Layer:
    """Base class: a differentiable step of a network.

    Attributes:
        params: parameter arrays by name (``{}`` for a layer without parameters).
        grads: gradients with the same names, filled by :meth:`backward`.
        state: non-trained arrays a model must save (e.g. BatchNorm running stats).
        training: Dropout and BatchNorm behave differently when False.
        kind: short lowercase name a model uses to name layers ("affine1", "relu2").
    """

    kind: str = "layer"

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.state: dict[str, np.ndarray] = {}
        self.training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, ...) batch; returns the layer's output batch and caches for backward."""
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: gradient of the loss with respect to the output; returns dx like x."""
        raise NotImplementedError

    def param_backward(self, dout: np.ndarray) -> None:
        """Fill ``grads`` only, for a first layer whose dx nobody needs.

        The default runs :meth:`backward` and drops dx; layers where dx is costly
        (Affine: a whole extra matrix product) skip computing it.
        """
        self.backward(dout)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape (without N) for a per-sample ``input_shape``."""
        return tuple(input_shape)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}={'×'.join(map(str, v.shape))}" for k, v in self.params.items())
        return f"{type(self).__name__}({shapes})"

    def _cached(self, name: str) -> np.ndarray:
        """The cache ``name`` set by forward; a clear error if forward never ran."""
        value: np.ndarray | None = getattr(self, name, None)
        if value is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return value


def cast_layer(layer: Layer, dtype: np.dtype | type) -> Layer:
    """Cast ``layer``'s params and state to ``dtype`` in place and return the layer.

    Attributes that refer to the same array objects (e.g. ``self.W`` next to
    ``self.params["W"]``) are pointed to the new arrays too; gradients are dropped.
    """
    for store in (layer.params, getattr(layer, "state", {})):
        for name, old in list(store.items()):
            new = old.astype(dtype)
            store[name] = new
            for attr, value in list(vars(layer).items()):
                if value is old:
                    setattr(layer, attr, new)
    layer.grads = {}
    return layer


# ------------------------------------------------------------------ affine


class Affine(Layer):
    """Fully connected layer ``out = x @ W + b``.

    W: (D, M), b: (M,); x: (N, D); returns (N, M). Caches x.
    Backward: dx = dout @ W.T, dW = x.T @ dout, db = Σ_n dout.
    """

    kind = "affine"

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        super().__init__()
        W, b = np.asarray(W), np.asarray(b)
        if W.ndim != 2:
            raise ValueError(f"Affine expected W of shape (D, M) but got shape {W.shape}")
        if b.shape != (W.shape[1],):
            raise ValueError(
                f"Affine expected b of shape ({W.shape[1]},) to match W {W.shape} "
                f"but got b of shape {b.shape}"
            )
        self.params = {"W": W, "b": b}
        self.x: np.ndarray | None = None

    @property
    def W(self) -> np.ndarray:
        return self.params["W"]

    @W.setter
    def W(self, value: np.ndarray) -> None:
        self.params["W"] = value

    @property
    def b(self) -> np.ndarray:
        return self.params["b"]

    @b.setter
    def b(self, value: np.ndarray) -> None:
        self.params["b"] = value

    def _check_input(self, shape: tuple[int, ...], what: str) -> None:
        d, m = self.W.shape
        if len(shape) == 2 and shape[1] == d:
            return
        hint = "; did you forget a Flatten layer?" if len(shape) > 2 else ""
        raise ValueError(
            f"Affine expected input with {d} features (W is {d}×{m}) "
            f"but got {what} of shape {shape}{hint}"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self._check_input(x.shape, "x")
        self.x = x
        out: np.ndarray = x @ self.W
        out += self.b
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        self.param_backward(dout)
        dx: np.ndarray = dout @ self.W.T
        return dx

    def param_backward(self, dout: np.ndarray) -> None:
        x = self._cached("x")
        self.grads["W"] = x.T @ dout
        self.grads["b"] = dout.sum(axis=0)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self._check_input((1, *input_shape), "a sample")
        return (self.W.shape[1],)


# ------------------------------------------------------------------ activations


class Sigmoid(Layer):
    """Elementwise logistic function. Caches out; dx = dout · out · (1 − out)."""

    kind = "sigmoid"

    def __init__(self) -> None:
        super().__init__()
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached("out")
        dx: np.ndarray = dout * out * (1 - out)
        return dx


class ReLU(Layer):
    """Elementwise max(0, x). Caches ``mask`` (True where x > 0); dx = dout where x > 0."""

    kind = "relu"

    def __init__(self) -> None:
        super().__init__()
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.mask = x > 0
        out: np.ndarray = np.maximum(x, 0)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dx: np.ndarray = dout * self._cached("mask")
        return dx


class LeakyReLU(Layer):
    """x where x > 0, alpha·x elsewhere. Caches ``mask``; dx = dout or alpha·dout."""

    kind = "leaky_relu"

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        self.alpha = float(alpha)
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.mask = x > 0
        return np.where(self.mask, x, self.alpha * x)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return np.where(self._cached("mask"), dout, self.alpha * dout)


class Tanh(Layer):
    """Elementwise tanh. Caches out; dx = dout · (1 − out²)."""

    kind = "tanh"

    def __init__(self) -> None:
        super().__init__()
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        out = self._cached("out")
        dx: np.ndarray = dout * (1 - out * out)
        return dx


ACTIVATIONS: dict[str, type[Layer]] = {
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "tanh": Tanh,
}


def make_activation(name: str, **kwargs: float) -> Layer:
    """A new activation layer by name, e.g. ``make_activation("leaky_relu", alpha=0.1)``."""
    key = str(name).lower()
    if key not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; choose one of: {', '.join(sorted(ACTIVATIONS))}"
        )
    return ACTIVATIONS[key](**kwargs)


# ------------------------------------------------------------------ regularisation


class Dropout(Layer):
    """Inverted dropout (lesson 10).

    Training: each unit is zeroed with probability ``ratio`` and the survivors are
    scaled by 1 / (1 − ratio), so the expected output equals x. Caches ``mask``
    (already scaled). Evaluation (``training`` False): the identity.
    """

    kind = "dropout"

    def __init__(self, ratio: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        if not 0 <= ratio < 1:
            raise ValueError(f"Dropout expected a ratio in [0, 1) but got {ratio}")
        self.ratio = float(ratio)
        self.rng = as_rng(rng)
        self.mask: np.ndarray | None = None
        self.identity: bool | None = None  # set by forward: True when it passed x through

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.identity = not self.training or self.ratio == 0
        if self.identity:
            self.mask = None
            return x
        keep = self.rng.random(x.shape, dtype=np.float32) >= self.ratio
        self.mask = keep.astype(x.dtype if x.dtype.kind == "f" else np.float32)
        self.mask *= 1 / (1 - self.ratio)
        out: np.ndarray = x * self.mask
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.identity is None:
            raise RuntimeError("Dropout.backward called before forward")
        if self.identity:
            return dout
        dx: np.ndarray = dout * self._cached("mask")
        return dx


class BatchNorm(Layer):
    """Batch normalisation (lesson 10): per feature for (N, D), per channel for (N, C, H, W).

    gamma, beta: (D,) or (C,). Training: normalise with the batch mean and variance
    and update ``running_mean``/``running_var`` (kept in ``state``) as
    momentum·running + (1 − momentum)·batch. Evaluation: normalise with the running
    statistics. Caches the centred input, the standard deviation and x̂.
    """

    kind = "batchnorm"

    def __init__(
        self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9, eps: float = 1e-5
    ) -> None:
        super().__init__()
        gamma, beta = np.asarray(gamma), np.asarray(beta)
        if gamma.ndim != 1 or beta.shape != gamma.shape:
            raise ValueError(
                f"BatchNorm expected gamma and beta of the same shape (D,) but got "
                f"{gamma.shape} and {beta.shape}"
            )
        self.params = {"gamma": gamma, "beta": beta}
        self.state = {
            "running_mean": np.zeros_like(gamma),
            "running_var": np.ones_like(gamma),
        }
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.cache: tuple[np.ndarray, np.ndarray, tuple[int, ...], bool] | None = None

    @property
    def running_mean(self) -> np.ndarray:
        return self.state["running_mean"]

    @property
    def running_var(self) -> np.ndarray:
        return self.state["running_var"]

    def _axes(self, shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Reduction axes and the broadcast shape of per-feature arrays for input ``shape``."""
        d = self.params["gamma"].shape[0]
        if len(shape) in (2, 4) and shape[1] == d:
            if len(shape) == 2:
                return (0,), (d,)
            return (0, 2, 3), (1, d, 1, 1)
        raise ValueError(
            f"BatchNorm expected input of shape (N, {d}) or (N, {d}, H, W) "
            f"(gamma has {d} entries) but got x of shape {shape}"
        )

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        axes, bshape = self._axes(x.shape)
        if self.training:
            mean = x.mean(axis=axes)
            xc = x - mean.reshape(bshape)
            var = (xc * xc).mean(axis=axes)
            m = self.momentum
            self.state["running_mean"] = m * self.running_mean + (1 - m) * mean
            self.state["running_var"] = m * self.running_var + (1 - m) * var
        else:
            xc = x - self.running_mean.reshape(bshape)
            var = self.running_var
        std = np.sqrt(var + self.eps).reshape(bshape)
        xn = xc / std
        self.cache = (xn, std, axes, self.training)
        out: np.ndarray = self.params["gamma"].reshape(bshape) * xn + self.params["beta"].reshape(
            bshape
        )
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        xn, std, axes, training = self._cached("cache")
        bshape = std.shape
        self.grads["beta"] = dout.sum(axis=axes)
        self.grads["gamma"] = (dout * xn).sum(axis=axes)
        dxn = dout * self.params["gamma"].reshape(bshape)
        if not training:
            dx: np.ndarray = dxn / std
            return dx
        # dx = (dxn − mean(dxn) − x̂ · mean(dxn · x̂)) / std, means over the batch axes
        mean_dxn = dxn.mean(axis=axes, keepdims=True)
        mean_dxn_xn = (dxn * xn).mean(axis=axes, keepdims=True)
        dx = (dxn - mean_dxn - xn * mean_dxn_xn) / std
        return dx

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        self._axes((1, *input_shape))
        return tuple(input_shape)


# ------------------------------------------------------------------ reshaping


class Flatten(Layer):
    """(N, d1, d2, ...) → (N, d1·d2·…); backward reshapes dout back. Caches the input shape."""

    kind = "flatten"

    def __init__(self) -> None:
        super().__init__()
        self.input_shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        self.input_shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self._cached("input_shape"))

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (prod(input_shape),)


# ------------------------------------------------------------------ losses


class Loss:
    """Base class of the loss layers: ``forward(x, t) -> float``, ``backward(dout=1.0) -> dx``.

    A loss ends a model's chain (``model.loss``); it is not one of its layers.
    """

    kind: str = "loss"
    y: np.ndarray | None = None  # the forward pass's input (scores), cached for backward
    t: np.ndarray | None = None  # and its targets

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self, dout: float = 1.0) -> np.ndarray:
        raise NotImplementedError

    def __call__(self, x: np.ndarray, t: np.ndarray) -> float:
        return self.forward(x, t)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def _cache(self) -> tuple[np.ndarray, np.ndarray]:
        if self.y is None or self.t is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self.y, self.t


class SoftmaxCrossEntropy(Loss):
    """Softmax followed by the mean cross-entropy (the source's "SoftmaxWithLoss").

    forward: x (N, K) scores, t (N, K) one-hot or (N,) labels → mean loss (float).
    Caches y = softmax(x) and t. backward: dx = dout · (y − t) / N; for integer
    labels it subtracts 1 at [n, t_n] of a copy of y instead of building one-hot rows.
    """

    kind = "softmax_ce"

    def __init__(self) -> None:
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        self.y = softmax(x)
        self.t = np.asarray(t)
        return cross_entropy(self.y, self.t)

    def backward(self, dout: float = 1.0) -> np.ndarray:
        y, t = self._cache()
        n = y.shape[0]
        dx = y.copy()
        if t.ndim == 1:
            dx[np.arange(n), t] -= 1
        else:
            dx -= t
        dx *= float(dout) / n
        return dx


class MSELoss(Loss):
    """Half the squared error, mean over the batch: (1/N) Σ ½‖x − t‖².

    forward: x (N, K) outputs, t (N, K) targets or (N,) labels (taken as one-hot).
    Caches y = x and t. backward: dx = dout · (x − t) / N.
    """

    kind = "mse"

    def __init__(self) -> None:
        self.y: np.ndarray | None = None
        self.t: np.ndarray | None = None

    def forward(self, x: np.ndarray, t: np.ndarray) -> float:
        x, t = np.asarray(x), np.asarray(t)
        loss = mean_squared_error(x, t)
        if t.ndim == 1 and x.ndim == 2:  # the same reading of t as mean_squared_error
            is_labels = np.issubdtype(t.dtype, np.integer)
            t = one_hot(t, x.shape[1], x.dtype) if is_labels else t[:, None]
        self.y, self.t = x, t
        return loss

    def backward(self, dout: float = 1.0) -> np.ndarray:
        y, t = self._cache()
        dx: np.ndarray = y - t
        if dx.dtype != y.dtype:
            dx = dx.astype(y.dtype)
        dx *= float(dout) / y.shape[0]
        return dx
