# %% [markdown]
# # Assignment 05 · Functionization
#
# In lesson 05 you rebuilt the MNIST network as layer objects, each with a `forward` and a `backward` method. Here you write such layers yourself, a step further than the lesson's (images as input, more activations, either kind of target), and the loop that runs them over micro-batches, so you can see that backpropagation is nothing more than each layer passing a gradient to the one before it.
#
# **Points:** 10 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 5.1 passed` or a reason you can act on.
#
# **You need:** lesson 05 (sections 3–5).
#
# **Time:** about 45 minutes.

# %%
import numpy as np

from dlcourse.checks import check
from dlcourse.config import seed_everything
from dlcourse.data import load_mnist

rng = seed_everything(0)


# %% [markdown]
# ### Task 5.1 — a fully connected layer for images (3 points)
#
# Lesson 05's `Affine` takes a batch of flat vectors `x: (N, D)`. A convolutional network hands its fully connected layer feature maps `x: (N, C, H, W)` instead. Write the class `Dense`, the same layer for inputs of **any** shape `(N, ...)`: `forward(x)` flattens every sample to a row (`D` = the product of the trailing sizes, e.g. $C \cdot H \cdot W$) and returns `x_flat @ W + b` of shape `(N, M)`; `backward(dout)` stores `self.grads["W"]` (shape `(D, M)`) and `self.grads["b"]` (shape `(M,)`) and returns `dx` **in the shape `x` had**, so the layer below receives a gradient it can use:
#
# $$\frac{\partial L}{\partial x_\text{flat}} = \text{dout}\, W^\top,\qquad \frac{\partial L}{\partial W} = x_\text{flat}^\top\, \text{dout},\qquad \frac{\partial L}{\partial b} = \sum_n \text{dout}_n.$$
#
# Every call of `backward` stores the gradient of *that* batch: a training step reads `grads` right after one backward call.
#
# *Hint:* lesson 05, section 3 (the `Affine` layer and its table of caches): what extra thing must this layer cache so that `backward` can undo the flattening?
#
# *Checked:* flat batches and batches of images from several seeds with non-square `W`; `dx` in the input's shape; two forward/backward calls in a row (gradients that pile up across calls are named), and that neither `x` nor `dout` is changed.


# %% dlcourse={"points": 3, "task": "5.1"}
class Dense:
    """Fully connected layer for x: (N, ...). W: (D, M), b: (M,); returns (N, M).

    D is the number of values per sample (e.g. C·H·W). Caches the flattened x: (N, D) and
    the input's shape, so that backward returns dx in that shape.
    """

    def __init__(self, W, b):
        self.params = {"W": W, "b": b}
        self.grads = {}
        self.x = None
        self.x_shape = None

    def forward(self, x):
        ### BEGIN SOLUTION
        self.x_shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.params["W"] + self.params["b"]
        ### END SOLUTION

    def backward(self, dout):
        # Hint: every gradient has the shape of the thing it is the gradient of.
        ### BEGIN SOLUTION
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return (dout @ self.params["W"].T).reshape(self.x_shape)
        ### END SOLUTION


# %% dlcourse={"check": "5.1"}
check("5.1", Dense)


# %% [markdown]
# ### Task 5.2 — LeakyReLU and Sigmoid layers (2 points)
#
# Lesson 05 wrote `ReLU`. Write two more activation layers in the same form:
#
# - `LeakyReLU(alpha)`: $\text{out} = x$ where $x > 0$ and $\alpha x$ elsewhere, so negative inputs keep a small slope $\alpha$ instead of a gradient of exactly 0. Its backward multiplies `dout` by the slope, 1 or $\alpha$. At exactly $x = 0$ the derivative does not exist: either slope is accepted there.
# - `Sigmoid()`: caches its output `self.out`; its backward uses $\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$, computed from `self.out`. It must not overflow: for $x = -800$, `np.exp(-x)` is `inf` and numpy warns.
#
# *Hint:* lesson 05, section 3 (ReLU's mask) for the first; lesson 03, section 2 for the sigmoid and its derivative. Never write into `dout`: the caller may still need it.
#
# *Checked:* three seeds, several values of `alpha`, inputs of exactly 0, that `dout` is untouched, and sigmoid inputs of ±800 with numpy set to raise on overflow.


# %% dlcourse={"points": 2, "task": "5.2"}
class LeakyReLU:
    """x where x > 0, alpha·x elsewhere, elementwise. Caches the slope: 1 or alpha."""

    def __init__(self, alpha=0.01):
        self.alpha = alpha
        self.slope = None

    def forward(self, x):
        ### BEGIN SOLUTION
        self.slope = np.where(x > 0, 1.0, self.alpha)
        return x * self.slope
        ### END SOLUTION

    def backward(self, dout):
        ### BEGIN SOLUTION
        return dout * self.slope
        ### END SOLUTION


class Sigmoid:
    """1 / (1 + exp(-x)) elementwise. Caches out."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        ### BEGIN SOLUTION
        self.out = 1 / (1 + np.exp(-np.clip(x, -500, 500)))
        return self.out
        ### END SOLUTION

    def backward(self, dout):
        ### BEGIN SOLUTION
        return dout * self.out * (1 - self.out)
        ### END SOLUTION


# %% dlcourse={"check": "5.2"}
check("5.2", LeakyReLU, Sigmoid)


# %% [markdown]
# ### Task 5.3 — softmax with cross-entropy, for either kind of target (2 points)
#
# Lesson 05's `SoftmaxCrossEntropy` takes integer labels. Write `SoftmaxWithLoss`, whose `forward(x, t)` takes scores `x: (N, K)` and targets `t` that are **either** one-hot `(N, K)` **or** integer labels `(N,)`, caches `self.y = softmax(x)` and the targets, and returns the **mean** cross-entropy over the batch (a float). `backward(dout=1.0)` returns
#
# $$\frac{\partial L}{\partial x} = \text{dout}\cdot\frac{y - t}{N}$$
#
# (with `t` one-hot), and may be called more than once: it must not change what `forward` cached.
#
# *Hint:* lesson 02, sections 3–5 (the max-subtraction trick and the $\log 0$ guard); `t.ndim` tells you which kind of target you got.
#
# *Checked:* three seeds, both kinds of target, a row of scores around 1000, a true class with probability exactly 0, the mean (not the sum), a `dout` other than 1, and two `backward` calls in a row.


# %% dlcourse={"points": 2, "task": "5.3"}
class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy. Caches y and the one-hot t."""

    def __init__(self):
        self.y = None
        self.t = None

    def forward(self, x, t):
        ### BEGIN SOLUTION
        shifted = x - x.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        self.y = e / e.sum(axis=1, keepdims=True)
        self.t = t if t.ndim == 2 else np.eye(x.shape[1])[t]
        return -np.sum(self.t * np.log(self.y + 1e-7)) / x.shape[0]
        ### END SOLUTION

    def backward(self, dout=1.0):
        ### BEGIN SOLUTION
        return dout * (self.y - self.t) / self.y.shape[0]
        ### END SOLUTION


# %% dlcourse={"check": "5.3"}
check("5.3", SoftmaxWithLoss)


# %% [markdown]
# ### Task 5.4 — gradients accumulated over micro-batches (2 points)
#
# Lesson 05's `backward` walks the layers once per batch. When a batch does not fit in memory, practitioners split it into **micro-batches**, run forward and backward on each, and combine the gradients so that the step is the same as for the whole batch. Write `accumulated_gradients(layers, loss_layer, x, t, micro_batch)` that
#
# - cuts `x` and `t` into consecutive pieces of `micro_batch` samples (the last piece may be smaller),
# - for each piece, sends it forward through `layers` and `loss_layer`, then backward in reverse order, starting from `loss_layer.backward()`,
# - combines the pieces so that the result equals the gradient and the loss of the **whole** batch: each piece's loss is a mean over its own samples, so it counts with weight $\frac{\text{len(piece)}}{N}$,
# - returns `(loss, grads)`: the whole batch's mean loss and a list with one dict per layer, with the keys of that layer's `grads` (an empty dict for a layer without parameters, such as `LeakyReLU`).
#
# Your `Dense.backward` overwrites `self.grads` on every call (Task 5.1), so add each piece's share into arrays of your own.
#
# *Hint:* lesson 05, section 3 (the network as an ordered container, and its `forward` and `backward` walks); `getattr(layer, "grads", {})` is `{}` for a layer without parameters.
#
# *Checked:* with **your** `Dense`, `LeakyReLU` and `SoftmaxWithLoss` (pass Tasks 5.1–5.3 first), on four networks and micro-batch sizes that divide $N$, that do not, and one of $N$, against the full-batch gradient computed by the check; it names gradients that were summed or averaged with equal weights, and those of the last piece only.


# %% dlcourse={"points": 2, "task": "5.4"}
def accumulated_gradients(layers, loss_layer, x, t, micro_batch):
    """The whole batch's mean loss and grads, from micro-batches. Returns (loss, grads list)."""
    ### BEGIN SOLUTION
    n = len(x)
    loss = 0.0
    grads = [{} for _ in layers]
    for start in range(0, n, micro_batch):
        piece_x, piece_t = x[start : start + micro_batch], t[start : start + micro_batch]
        share = len(piece_x) / n
        out = piece_x
        for layer in layers:
            out = layer.forward(out)
        loss += share * loss_layer.forward(out, piece_t)
        dout = loss_layer.backward()
        for layer in reversed(layers):
            dout = layer.backward(dout)
        for total, layer in zip(grads, layers):
            for name, value in getattr(layer, "grads", {}).items():
                total[name] = total.get(name, 0) + share * value
    return loss, grads
    ### END SOLUTION


# %% dlcourse={"check": "5.4"}
check("5.4", accumulated_gradients, Dense, LeakyReLU, SoftmaxWithLoss)


# %% [markdown]
# ### Your layers on real digits
#
# With all four tasks done, your own classes train a 784-100-10 network on a few hundred MNIST digits, fed as images (your `Dense` flattens them) with integer labels. Each step takes a batch of 100 digits in micro-batches of 25, then a plain gradient-descent update of every parameter.

# %%
# NBVAL_CHECK_OUTPUT
mnist = load_mnist(flatten=False)
x, t = mnist.x_train[:500], mnist.t_train[:500]  # images (500, 1, 28, 28), labels (500,)
net = [
    Dense(rng.normal(0, np.sqrt(2 / 784), (784, 100)), np.zeros(100)),
    LeakyReLU(0.01),
    Dense(rng.normal(0, np.sqrt(1 / 100), (100, 10)), np.zeros(10)),
]
loss_layer = SoftmaxWithLoss()
losses = []
for _ in range(60):
    batch = rng.choice(len(x), 100, replace=False)
    loss, grads = accumulated_gradients(net, loss_layer, x[batch], t[batch], 25)
    losses.append(loss)
    for layer, layer_grads in zip(net, grads):
        for name, grad in layer_grads.items():
            layer.params[name] -= 0.1 * grad
print("loss decreased by more than half:", losses[-1] < 0.5 * losses[0])

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "5.5"}
# ### Task 5.5 — why check gradients numerically? (1 point)
#
# `dlcourse.gradients.gradient_check` compares your backward pass with central differences $(f(x+h) - f(x-h)) / 2h$, in float64, with inputs kept away from $x = 0$ for ReLU. In three or four sentences: why is the numerical gradient a good *check* but a bad way to *train*, and why do float64 and staying away from the ReLU kink matter?
#
# ### BEGIN SOLUTION
# The numerical gradient needs two forward passes per parameter (about 160,000 for the 784-100-10 network) where backpropagation needs one forward and one backward pass for all of them, so it is far too slow to train with; but it only uses the forward pass, which is simple and hard to get wrong, so it is an independent check of the backward code. Its error has two parts: the truncation error of the difference, about $h^2$, and rounding, about $\varepsilon\,|f|/h$. In float32 ($\varepsilon \approx 10^{-7}$) rounding alone is around $10^{-2}$ for $h = 10^{-5}$, far above the $10^{-6}$ we want to detect, while float64 ($\varepsilon \approx 10^{-16}$) leaves both parts tiny. ReLU has no derivative at 0: if an input lies within $h$ of 0, $x+h$ and $x-h$ fall on different sides and the difference gives a slope between 0 and 1 that no backward pass would produce, so a correct layer would fail the check.
# ### END SOLUTION
