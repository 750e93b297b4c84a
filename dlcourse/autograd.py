"""Reverse-mode automatic differentiation on numpy arrays (lesson 11).

For ten lessons every layer had a hand-written ``backward``. Here the machine writes it:
a :class:`Tensor` wraps an array and remembers the operation that made it and that
operation's inputs, so every computation leaves behind a *graph*. Each operation knows
one small rule, its local chain rule: given the gradient of the final result with
respect to its output (``dout``), the gradients with respect to its inputs.
:meth:`Tensor.backward` visits the graph from the result back to the inputs, in reverse
topological order (a node only after every node that used it), applies each rule once
and adds up the gradients arriving at each node. One backward pass gives the gradient
with respect to every input at about the cost of one forward pass; that is *reverse
mode*, what Theano's ``T.grad``, TensorFlow's ``GradientTape`` and PyTorch's autograd do.

    W = Tensor(rng.normal(size=(784, 100)), requires_grad=True)
    b = Tensor(np.zeros(100), requires_grad=True)
    loss = cross_entropy(relu(Tensor(x) @ W + b) @ V + c, labels)
    loss.backward()          # fills W.grad, b.grad, V.grad, c.grad

Operations: ``+ - * / @``, ``-x``, :meth:`Tensor.sum`, :meth:`Tensor.mean`,
:meth:`Tensor.max`, :meth:`Tensor.reshape`, :meth:`Tensor.transpose`, and the functions
:func:`exp`, :func:`log`, :func:`relu`, :func:`sigmoid`, :func:`tanh`,
:func:`log_softmax`, :func:`cross_entropy`, :func:`im2col`, :func:`conv2d` and
:func:`max_pool2d`. Elementwise operations broadcast like numpy; their backward sums
the gradient back to each input's shape (:func:`unbroadcast`). A new operation is one
call to :meth:`Tensor.from_op` with its forward result and its backward rule.

:func:`loss_and_gradient` runs a :class:`dlcourse.models.Sequential` (Affine,
activations, Flatten, Conv2D, MaxPool2D, softmax cross-entropy) through these
operations, so its gradients can be compared with the layers' hand-written ones, and
:class:`AutogradSequential` is such a model that trains with them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from dlcourse import conv as _conv
from dlcourse.functions import sigmoid as _sigmoid
from dlcourse.models import Sequential

__all__ = [
    "AutogradSequential",
    "Tensor",
    "as_tensor",
    "conv2d",
    "cross_entropy",
    "exp",
    "im2col",
    "log",
    "log_softmax",
    "loss_and_gradient",
    "max_pool2d",
    "relu",
    "sigmoid",
    "tanh",
    "topological_order",
    "unbroadcast",
]

#: A backward rule: dout (shaped like the output) -> one gradient per input, shaped like it.
Backward = Callable[[np.ndarray], Sequence[np.ndarray | None]]
Axis = int | tuple[int, ...] | None


class Tensor:
    """An array that remembers how it was computed.

    data: the numpy array; grad: the gradient of the last :meth:`backward`'s result
    with respect to this tensor (same shape as data; None until a backward pass reached
    it; *added to* by every later backward pass, so reset it with :meth:`zero_grad`);
    requires_grad: whether gradients flow to it (True for parameters, False for data);
    op: the operation that made it ("" for a leaf); inputs: the tensors it was made
    from; backward_rule: dout -> the gradients of its inputs (None for a leaf or when no
    input needs a gradient); name: a label for pictures.
    """

    __array_ufunc__ = None  # ndarray + Tensor calls Tensor.__radd__, not numpy's add

    def __init__(
        self,
        data: np.ndarray | float,
        requires_grad: bool = False,
        name: str = "",
    ) -> None:
        self.data = np.asarray(data)
        if self.data.dtype.kind != "f":
            self.data = self.data.astype(np.float64)
        self.requires_grad = bool(requires_grad)
        self.grad: np.ndarray | None = None
        self.name = name
        self.op = ""
        self.inputs: tuple[Tensor, ...] = ()
        self.backward_rule: Backward | None = None

    @classmethod
    def from_op(
        cls, data: np.ndarray, inputs: Sequence[Tensor], backward: Backward, op: str
    ) -> Tensor:
        """The result of operation ``op`` on ``inputs``, with its backward rule.

        backward(dout) returns one gradient per input, each shaped like that input's
        data (None for an input that needs none). It is only called when some input
        requires a gradient; the result requires one exactly then.
        """
        out = cls(data)
        out.inputs = tuple(inputs)
        out.op = op
        out.requires_grad = any(t.requires_grad for t in out.inputs)
        out.backward_rule = backward if out.requires_grad else None
        return out

    # ------------------------------------------------------------ description

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    def __repr__(self) -> str:
        made = f", op={self.op!r}" if self.op else ""
        grad = ", requires_grad=True" if self.requires_grad else ""
        label = f", name={self.name!r}" if self.name else ""
        return f"Tensor(shape={self.shape}{made}{grad}{label})"

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        return float(self.data)

    def detach(self) -> Tensor:
        """The same values as a new leaf: no gradient flows back through it."""
        return Tensor(self.data)

    def zero_grad(self) -> None:
        """Forget the gradient (the next backward pass starts from zero)."""
        self.grad = None

    # ------------------------------------------------------------ backward

    def backward(self, dout: np.ndarray | None = None) -> None:
        """Fill ``.grad`` of every tensor this one depends on that requires a gradient.

        dout: the gradient to start from, shaped like this tensor; None means 1 and is
        only allowed for a one-element result (a loss). Gradients are added to what
        ``.grad`` already holds, as in PyTorch.
        """
        if dout is None:
            if self.data.size != 1:
                raise ValueError(
                    f"backward() without dout needs a one-element result (a loss) but this "
                    f"tensor has shape {self.shape}; pass dout shaped like it"
                )
            dout = np.ones_like(self.data)
        dout = np.asarray(dout, dtype=self.dtype)
        if dout.shape != self.shape:
            raise ValueError(f"backward expected dout of shape {self.shape} but got {dout.shape}")
        grads: dict[int, np.ndarray] = {id(self): dout}
        for node in reversed(topological_order(self)):
            g = grads.pop(id(node), None)
            if g is None or not node.requires_grad:
                continue
            node.grad = g.copy() if node.grad is None else node.grad + g  # never shared
            if node.backward_rule is None:
                continue  # a leaf
            for parent, pg in zip(node.inputs, node.backward_rule(g), strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                _check_grad_shape(node.op, parent, pg)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    # ------------------------------------------------------------ arithmetic

    def __add__(self, other: Tensor | np.ndarray | float) -> Tensor:
        a, b = self, as_tensor(other, self.dtype)
        return Tensor.from_op(
            a.data + b.data,
            (a, b),
            lambda dout: (unbroadcast(dout, a.shape), unbroadcast(dout, b.shape)),
            "+",
        )

    def __radd__(self, other: np.ndarray | float) -> Tensor:
        return as_tensor(other, self.dtype) + self

    def __neg__(self) -> Tensor:
        return Tensor.from_op(-self.data, (self,), lambda dout: (-dout,), "neg")

    def __sub__(self, other: Tensor | np.ndarray | float) -> Tensor:
        return self + (-as_tensor(other, self.dtype))

    def __rsub__(self, other: np.ndarray | float) -> Tensor:
        return as_tensor(other, self.dtype) + (-self)

    def __mul__(self, other: Tensor | np.ndarray | float) -> Tensor:
        a, b = self, as_tensor(other, self.dtype)
        return Tensor.from_op(
            a.data * b.data,
            (a, b),
            lambda dout: (unbroadcast(dout * b.data, a.shape), unbroadcast(dout * a.data, b.shape)),
            "*",
        )

    def __rmul__(self, other: np.ndarray | float) -> Tensor:
        return as_tensor(other, self.dtype) * self

    def __truediv__(self, other: Tensor | np.ndarray | float) -> Tensor:
        a, b = self, as_tensor(other, self.dtype)
        return Tensor.from_op(
            a.data / b.data,
            (a, b),
            lambda dout: (
                unbroadcast(dout / b.data, a.shape),
                unbroadcast(-dout * a.data / (b.data * b.data), b.shape),
            ),
            "/",
        )

    def __rtruediv__(self, other: np.ndarray | float) -> Tensor:
        return as_tensor(other, self.dtype) / self

    def __matmul__(self, other: Tensor | np.ndarray) -> Tensor:
        """Matrix product of two 2-D tensors: a (N, K) @ b (K, M) -> (N, M).

        Backward: da = dout @ bᵀ (N, K), db = aᵀ @ dout (K, M), as Affine's dx and dW;
        each only when that input requires a gradient (a product is the costly part).
        """
        a, b = self, as_tensor(other, self.dtype)
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0]:
            raise ValueError(
                f"@ expected 2-D tensors (N, K) @ (K, M) but got {a.shape} @ {b.shape}"
            )

        def backward(dout: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
            da = dout @ b.data.T if a.requires_grad else None  # skipped for the data
            db = a.data.T @ dout if b.requires_grad else None
            return da, db

        return Tensor.from_op(a.data @ b.data, (a, b), backward, "@")

    def __rmatmul__(self, other: np.ndarray) -> Tensor:
        return as_tensor(other, self.dtype) @ self

    @property
    def T(self) -> Tensor:
        """The transpose of a 2-D tensor (all axes reversed)."""
        return self.transpose()

    # ------------------------------------------------------------ reductions and shapes

    def sum(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Sum over ``axis`` (None: all). Backward: dout copied back over the summed axes."""
        shape = self.shape

        def backward(dout: np.ndarray) -> tuple[np.ndarray]:
            if not keepdims:
                dout = np.expand_dims(dout, _axes(axis, len(shape)))
            return (np.broadcast_to(dout, shape).copy(),)

        return Tensor.from_op(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward, "sum")

    def mean(self, axis: Axis = None, keepdims: bool = False) -> Tensor:
        """Mean over ``axis`` (None: all): the sum divided by the number of summed entries."""
        count = int(np.prod([self.shape[i] for i in _axes(axis, self.ndim)]))
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    def max(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Largest entry along ``axis`` (None: of all entries).

        Backward: dout goes to the *first* largest entry of each slice (ties: one winner,
        as :class:`dlcourse.conv.MaxPool2D` does); the others get 0.
        """
        x = self.data
        flat = x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1)
        winner = flat.argmax(axis=-1)
        out = np.take_along_axis(flat, winner[..., None], -1)[..., 0]
        if keepdims:
            out = np.expand_dims(out, _axes(axis, x.ndim))

        def backward(dout: np.ndarray) -> tuple[np.ndarray]:
            dflat = np.zeros_like(flat)
            d = dout.reshape(winner.shape)
            np.put_along_axis(dflat, winner[..., None], d[..., None], -1)
            dx = dflat.reshape(x.shape) if axis is None else np.moveaxis(dflat, -1, axis)
            return (dx,)

        return Tensor.from_op(out, (self,), backward, "max")

    def reshape(self, *shape: int) -> Tensor:
        """The same entries in another shape (one -1 allowed); backward reshapes dout back."""
        new, old = shape, self.shape
        return Tensor.from_op(
            self.data.reshape(new), (self,), lambda dout: (dout.reshape(old),), "reshape"
        )

    def transpose(self, *axes: int) -> Tensor:
        """Axes permuted (none given: reversed); backward applies the inverse permutation."""
        order = tuple(axes) if axes else tuple(reversed(range(self.ndim)))
        inverse = tuple(np.argsort(order))
        return Tensor.from_op(
            self.data.transpose(order),
            (self,),
            lambda dout: (dout.transpose(inverse),),
            "transpose",
        )


# ---------------------------------------------------------------------- helpers


def as_tensor(value: Tensor | np.ndarray | float, dtype: np.dtype | None = None) -> Tensor:
    """``value`` itself if it is a Tensor, else a constant leaf (no gradient) around it.

    A Python number becomes an array of ``dtype`` (the other operand's), so that
    ``float32_tensor * 0.5`` stays float32; arrays keep their own dtype.
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, int | float) and dtype is not None:
        return Tensor(np.asarray(value, dtype=dtype))
    return Tensor(value)


def _axes(axis: Axis, ndim: int) -> tuple[int, ...]:
    """``axis`` as a tuple of non-negative axes of an ``ndim``-dimensional array."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes)


def unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` back to ``shape``, undoing numpy broadcasting.

    When an input of ``shape`` was broadcast to grad.shape (axes added in front, axes
    of length 1 stretched), each of its entries was used many times, so its gradient is
    the *sum* of the gradients of all its copies: e.g. a bias b (M,) added to every row
    of (N, M) gets db = Σ_n dout[n].
    """
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    summed = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    out: np.ndarray = grad.sum(axis=summed, keepdims=True).reshape(shape)
    return out


def _check_grad_shape(op: str, parent: Tensor, grad: np.ndarray) -> None:
    if grad.shape != parent.shape:
        raise ValueError(
            f"the backward rule of {op!r} returned a gradient of shape {grad.shape} for an "
            f"input of shape {parent.shape}; every gradient must have its input's shape"
        )


def topological_order(output: Tensor) -> list[Tensor]:
    """Every tensor ``output`` depends on, each after all of its inputs; output last.

    A depth-first search: a tensor is appended once all its inputs have been. It uses an
    explicit stack instead of recursion, so a graph thousands of operations deep
    (Python's recursion limit is about 1,000) works too. Backward walks the list in reverse.
    """
    order: list[Tensor] = []
    done: set[int] = set()
    stack: list[tuple[Tensor, bool]] = [(output, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in done:
            continue
        done.add(id(node))
        stack.append((node, True))  # comes back here after its inputs
        stack.extend((parent, False) for parent in node.inputs if id(parent) not in done)
    return order


# ---------------------------------------------------------------------- elementwise functions


def exp(x: Tensor) -> Tensor:
    """e^x elementwise; backward: dout · e^x (the output itself)."""
    out = np.exp(x.data)
    return Tensor.from_op(out, (x,), lambda dout: (dout * out,), "exp")


def log(x: Tensor) -> Tensor:
    """Natural logarithm elementwise (x > 0); backward: dout / x."""
    return Tensor.from_op(np.log(x.data), (x,), lambda dout: (dout / x.data,), "log")


def relu(x: Tensor) -> Tensor:
    """max(0, x) elementwise; backward: dout where x > 0, else 0 (as the ReLU layer)."""
    mask = x.data > 0
    return Tensor.from_op(np.maximum(x.data, 0), (x,), lambda dout: (dout * mask,), "relu")


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + e^−x) elementwise, without overflow; backward: dout · out · (1 − out)."""
    out = _sigmoid(x.data)
    return Tensor.from_op(out, (x,), lambda dout: (dout * out * (1 - out),), "sigmoid")


def tanh(x: Tensor) -> Tensor:
    """tanh elementwise; backward: dout · (1 − out²)."""
    out = np.tanh(x.data)
    return Tensor.from_op(out, (x,), lambda dout: (dout * (1 - out * out),), "tanh")


# ---------------------------------------------------------------------- losses


def log_softmax(x: Tensor) -> Tensor:
    """log(softmax(x)) along the last axis, built from the operations above.

    x: (N, K) -> (N, K) = s − log Σ_k e^{s_k} with s = x − max(x). The maximum is
    *detached*: subtracting any constant leaves log-softmax unchanged, so no gradient
    needs to flow through it, and it keeps every exponent ≤ 0 (no overflow).
    """
    shifted: Tensor = x - x.data.max(axis=-1, keepdims=True)
    return shifted - log(exp(shifted).sum(axis=-1, keepdims=True))


def cross_entropy(scores: Tensor, t: np.ndarray) -> Tensor:
    """Mean cross-entropy of softmax(scores) against targets, as one-element tensor.

    scores: (N, K); t: (N, K) one-hot rows or (N,) integer labels. Its gradient with
    respect to the scores comes out as (softmax(scores) − t) / N without anyone writing
    it. (The SoftmaxCrossEntropy layer clips probabilities at 1e-7 before the log; this
    one needs no guard, since log-softmax never takes the log of 0.)
    """
    t = np.asarray(t)
    if t.ndim == 1:
        t = np.eye(scores.shape[1], dtype=scores.dtype)[t]
    if t.shape != scores.shape:
        raise ValueError(
            f"cross_entropy expected targets of shape {scores.shape} or ({scores.shape[0]},) "
            f"for scores of shape {scores.shape} but got {t.shape}"
        )
    return -(log_softmax(scores) * t).sum() * (1.0 / scores.shape[0])


# ---------------------------------------------------------------------- convolution


def im2col(x: Tensor, fh: int, fw: int, stride: int = 1, pad: int = 0) -> Tensor:
    """Patches as rows (:func:`dlcourse.conv.im2col`): (N, C, H, W) -> (N·H_out·W_out, C·fh·fw).

    Backward is its adjoint, :func:`dlcourse.conv.col2im`: each row's gradient is added
    back onto the pixels of its patch (a pixel in several patches collects from each).
    It only runs when x needs a gradient: for the data fed to a first layer, it never does.
    """
    n, c, height, width = x.shape
    shape = (n, c, height, width)
    return Tensor.from_op(
        _conv.im2col(x.data, fh, fw, stride, pad),
        (x,),
        lambda dout: (_conv.col2im(dout, shape, fh, fw, stride, pad),),
        "im2col",
    )


def conv2d(x: Tensor, W: Tensor, b: Tensor, stride: int = 1, pad: int = 0) -> Tensor:
    """Convolution as lesson 06 computes it, from operations with known gradients.

    x: (N, C, H, W), W: (F, C, FH, FW), b: (F,) -> (N, F, H_out, W_out):
    im2col(x) (N·H_out·W_out, C·FH·FW) @ W.reshape(F, −1)ᵀ + b, then rows back into images.
    """
    n, f, (_, _, fh, fw) = x.shape[0], W.shape[0], W.shape
    h_out = _conv.conv_output_size(x.shape[2], fh, stride, pad)
    w_out = _conv.conv_output_size(x.shape[3], fw, stride, pad)
    out = im2col(x, fh, fw, stride, pad) @ W.reshape(f, -1).T + b
    return out.reshape(n, h_out, w_out, f).transpose(0, 3, 1, 2)


def max_pool2d(x: Tensor, size: int = 2, stride: int | None = None) -> Tensor:
    """Max pooling through im2col: each window a row, then the maximum of each row.

    x: (N, C, H, W) -> (N, C, H_out, W_out). Each channel is pooled as a one-channel
    image, so the rows are (N·C·H_out·W_out, size²) windows.
    """
    n, c, height, width = x.shape
    stride = size if stride is None else stride
    h_out = _conv.conv_output_size(height, size, stride)
    w_out = _conv.conv_output_size(width, size, stride)
    windows = im2col(x.reshape(n * c, 1, height, width), size, size, stride)
    return windows.max(axis=1).reshape(n, c, h_out, w_out)


# ---------------------------------------------------------------------- whole networks


def _apply(layer: Any, x: Tensor, params: dict[str, Tensor], name: str) -> Tensor:
    """One layer of a Sequential as autograd operations, its parameters taken from params."""
    kind = layer.kind
    if kind == "affine":
        return x @ params[f"{name}.W"] + params[f"{name}.b"]
    if kind == "conv":
        return conv2d(x, params[f"{name}.W"], params[f"{name}.b"], layer.stride, layer.pad)
    if kind == "pool":
        if layer.pool_h != layer.pool_w:
            raise ValueError(f"{name}: only square pooling windows are supported")
        return max_pool2d(x, layer.pool_h, layer.stride)
    if kind == "flatten":
        return x.reshape(x.shape[0], -1)
    activations = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}
    if kind in activations:
        return activations[kind](x)
    raise ValueError(
        f"autograd cannot run layer {name} ({type(layer).__name__}); it supports Affine, "
        "Conv2D, MaxPool2D, Flatten, ReLU, Sigmoid and Tanh"
    )


def loss_and_gradient(
    model: Sequential, x: np.ndarray, t: np.ndarray
) -> tuple[float, dict[str, np.ndarray]]:
    """The loss of ``model`` on (x, t) and its gradients, by autograd instead of the layers.

    The parameters are wrapped as tensors around the model's own arrays; the forward pass
    runs through the operations of this module and one ``backward()`` fills every
    gradient. Returns (loss, grads) with the names of ``model.params`` ("affine1.W", …),
    like ``model.loss_and_gradient``. Only softmax cross-entropy and no weight penalty.
    """
    if model.loss_layer.kind != "softmax_ce" or model.weight_decay:
        raise ValueError("autograd.loss_and_gradient supports softmax cross-entropy only")
    params = {name: Tensor(p, requires_grad=True, name=name) for name, p in model.params.items()}
    out = Tensor(x)
    for name, layer in model.layers.items():
        out = _apply(layer, out, params, name)
    loss = cross_entropy(out, t)
    loss.backward()
    return loss.item(), {name: p.grad for name, p in params.items()}  # type: ignore[misc]


class AutogradSequential(Sequential):
    """A :class:`~dlcourse.models.Sequential` whose training gradients come from autograd.

    Same layers, same forward pass for predictions; ``loss_and_gradient`` (what
    :func:`dlcourse.training.train` calls) uses :func:`loss_and_gradient` instead of the
    layers' hand-written backward.
    """

    def __init__(self, layers: Iterable[Any]) -> None:
        super().__init__(layers)

    def loss_and_gradient(
        self, x: np.ndarray, t: np.ndarray
    ) -> tuple[float, dict[str, np.ndarray]]:
        return loss_and_gradient(self, x, t)
