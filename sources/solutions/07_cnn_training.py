# %% [markdown]
# # Assignment 07 · CNN backward
#
# Lesson 07 derived how gradients flow back through a convolutional layer. Here you write the pieces yourself, with channels and strides, chain them and compare the result with a numerical gradient; then you train a CNN the way a practitioner does: sanity checks first, then a run against the clock.
#
# **Points:** 15 (six code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks and run the self-check cell after it: it prints `✓ Task 7.1 passed` or a reason you can act on. Loops over filter offsets or output positions are fine here; the point is to see where every gradient goes.
#
# **You need:** lesson 07 (sections 1–6), lesson 02 (section 5) and assignment 06.
#
# **Time:** about 100 minutes, a minute and a half of them training.
#
# Notation, as in the lesson: `x: (N, C, H, W)` the layer's input, `W: (F, C, FH, FW)` the filters, `dout` the gradient of the loss with respect to the layer's output; stride 1 and no padding unless a task says otherwise.

# %%
import time

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.checks import check
from dlcourse.config import seed_everything
from dlcourse.convnets import simple_convnet
from dlcourse.optimizers import Adam

rng = seed_everything(0)


# %% [markdown]
# ### Task 7.1 — the input gradient $\partial L/\partial x$, with channels and stride (3 points)
#
# With $(i, j)$ an output position and $(u, v)$ an offset inside the filter, the forward pass computes
#
# $$\text{out}[n, f, i, j] = \sum_{c, u, v} x_\text{padded}[n, c,\; iS + u,\; jS + v]\, W[f, c, u, v] + b[f].$$
#
# Lesson 07 derived $\partial L/\partial x$ for one channel and stride 1 (and computed it with im2col and col2im). Do it for the general layer: every output position $(i, j)$ of every filter sends $\text{dout}[n, f, i, j] \cdot W[f, c, u, v]$ back to the input pixel it multiplied, and a pixel that sits in several patches collects the sum. Write `conv_input_gradient(dout, W, x_shape, stride=1, pad=0)` for `dout: (N, F, H_out, W_out)`, `W: (F, C, FH, FW)` and the forward input's shape `x_shape = (N, C, H, W)` that returns `dx: (N, C, H, W)`. Accumulate on the padded input, then cut the padding off (its zeros are not inputs). With a stride, some pixels may be in no patch at all: their gradient is 0.
#
# *Hint:* lesson 07, section 2 (the formula for $\partial L/\partial x$ and the count of patches per pixel). Either loop over the output positions, or, as the lesson's im2col does, over the filter offsets with strided slices; sum over the filters `f` with `np.einsum` or `np.tensordot`.
#
# *Checked:* against a numerical gradient (central differences in float64) on four cases with several channels and filters, non-square filters, strides and padding; the check says so when your filter is flipped, overlapping patches overwrite each other, the stride is ignored or the padding is left on.


# %% dlcourse={"points": 3, "task": "7.1"}
def conv_input_gradient(dout, W, x_shape, stride=1, pad=0):
    """dL/dx. dout: (N, F, H_out, W_out), W: (F, C, FH, FW); returns dx of shape x_shape."""
    # Hint: dx_padded[patch of (i, j)] += (dout at (i, j), summed over f with W).
    ### BEGIN SOLUTION
    n, c, h, w = x_shape
    _, _, fh, fw = W.shape
    h_out, w_out = dout.shape[2:]
    dx = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for u in range(fh):
        for v in range(fw):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            cols = slice(v, v + stride * (w_out - 1) + 1, stride)
            dx[:, :, rows, cols] += np.einsum("nfpq,fc->ncpq", dout, W[:, :, u, v])
    return dx[:, :, pad : pad + h, pad : pad + w]
    ### END SOLUTION


# %% dlcourse={"check": "7.1"}
check("7.1", conv_input_gradient)


# %% [markdown]
# ### Task 7.2 — max pooling backward (2 points)
#
# Max pooling passes on the largest value of each window. Nudging any other input of the window does not change the output, so its gradient is 0; nudging the maximum changes the output by the same amount, so it receives the window's `dout` unchanged. Write `max_pool_backward(x, dout, pool_h=2, pool_w=2, stride=2)` for the forward input `x: (N, C, H, W)` and `dout: (N, C, H_out, W_out)` that returns `dx` with the shape of `x`.
#
# Two details:
#
# - **Ties.** When a window holds its maximum twice, give the gradient to the *first* one in row-major order (the one `np.argmax` of the flattened window picks), never to both.
# - **Overlap.** When `stride` is smaller than the pool, windows overlap and one input can be the maximum of two windows: add (`+=`) the gradients.
#
# *Hint:* lesson 07, section 3 (ReLU and max pooling, backward). `np.argmax` of a flattened window picks the first maximum; `np.unravel_index` turns that flat index back into a row and a column.
#
# *Checked:* four cases, with ties, non-square pools and overlapping windows.


# %% dlcourse={"points": 2, "task": "7.2"}
def max_pool_backward(x, dout, pool_h=2, pool_w=2, stride=2):
    """Route dout to each window's first maximum. x: (N, C, H, W); returns dx: (N, C, H, W)."""
    # Hint: for every output position, find each window's first maximum and add dout there.
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)
    n, c, h_out, w_out = dout.shape
    n_idx, c_idx = np.indices((n, c))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w]
            first = window.reshape(n, c, -1).argmax(axis=2)  # (N, C) flat index of the maximum
            u, v = np.unravel_index(first, (pool_h, pool_w))
            dx[n_idx, c_idx, i * stride + u, j * stride + v] += dout[:, :, i, j]
    return dx
    ### END SOLUTION


# %% dlcourse={"check": "7.2"}
check("7.2", max_pool_backward)


# %% [markdown]
# ### Task 7.3 — bias and ReLU backward (2 points)
#
# After the convolution the layer adds one bias per filter and applies ReLU: $z = \text{conv}(x, W) + b[f]$, $\text{out} = \max(z, 0)$. Write `bias_relu_backward(dout, z)` that takes the gradient `dout` with respect to the ReLU's output and the pre-activation `z` (both `(N, F, H_out, W_out)`) and returns the pair `(dz, db)`:
#
# - $dz = \text{dout} \cdot [z > 0]$: ReLU lets the gradient through where its input was positive. At $z = 0$ exactly, take the gradient as 0 (as `dlcourse`'s `ReLU` does).
# - $db[f] = \sum_{n, p, q} dz[n, f, p, q]$: one bias per filter is added at every position of every sample, so its gradient sums over all of them. (The source's first CNN kept a separate bias for each of the 576 pixels of its feature map; a conv layer shares one per filter.)
#
# *Hint:* lesson 07, section 3 (ReLU backward). Which axes of `dz` does one bias $b[f]$ touch?
#
# *Checked:* two shapes, with some `z` exactly 0.


# %% dlcourse={"points": 2, "task": "7.3"}
def bias_relu_backward(dout, z):
    """dout, z: (N, F, H_out, W_out); returns dz: (N, F, H_out, W_out) and db: (F,)."""
    # Hint: mask first, then sum.
    ### BEGIN SOLUTION
    dz = dout * (z > 0)
    db = dz.sum(axis=(0, 2, 3))
    return dz, db
    ### END SOLUTION


# %% dlcourse={"check": "7.3"}
check("7.3", bias_relu_backward)


# %% [markdown]
# ### Task 7.4 — col2im for one channel (2 points)
#
# In assignment 06 you wrote `im2col_single`, which copies every patch of an image into a row of `cols: (H_out·W_out, fh·fw)` (row `i * W_out + j` for output position `(i, j)`, each patch flattened row by row). Its backward pass, col2im, goes the other way: it adds every row back onto the pixels it was copied from. A pixel that appeared in several patches collects the sum of their gradients. Write `col2im_single(cols, shape, fh, fw, stride=1, pad=0)` that returns an array of `shape = (H, W)`: the padded image is accumulated first, then the padding is cut off (gradients that land on padding zeros are dropped, as those zeros are not inputs).
#
# *Hint:* lesson 07, section 2 (col2im, and how many patches contain each pixel). Your `im2col_single` of assignment 06 visits the patches in the same order.
#
# *Checked:* three cases with overlapping patches, strides, a non-square filter and padding.


# %% dlcourse={"points": 2, "task": "7.4"}
def col2im_single(cols, shape, fh, fw, stride=1, pad=0):
    """Add rows of cols: (H_out * W_out, fh * fw) back onto an image of shape (H, W)."""
    # Hint: accumulate on the padded image, then cut the padding off.
    ### BEGIN SOLUTION
    h, w = shape
    h_out = (h + 2 * pad - fh) // stride + 1
    w_out = (w + 2 * pad - fw) // stride + 1
    padded = np.zeros((h + 2 * pad, w + 2 * pad))
    for i in range(h_out):
        for j in range(w_out):
            patch = cols[i * w_out + j].reshape(fh, fw)
            padded[i * stride : i * stride + fh, j * stride : j * stride + fw] += patch
    return padded[pad : pad + h, pad : pad + w]
    ### END SOLUTION


# %% dlcourse={"check": "7.4"}
check("7.4", col2im_single)


# %% [markdown]
# ## Putting your pieces together
#
# A small conv layer with two input channels and three filters, a bias per filter, ReLU and 2×2 max pooling. The scalar $L = \sum \text{pool}(\text{ReLU}(\text{conv}(x, W) + b)) \cdot g$, with a fixed random $g$, stands in for a loss (its `dout` is $g$). Your functions give $\partial L / \partial b$ and $\partial L / \partial x$, and lesson 07's filter gradient (section 1) gives $\partial L / \partial W$; the numerical gradient, computed by nudging every number by $\pm h$, must agree. The forward pass is given.


# %%
def forward(x, W, b):
    """x: (N, C, H, W), W: (F, C, FH, FW), b: (F,); returns z (pre-ReLU) and the pooled output."""
    windows = sliding_window_view(x, W.shape[2:], axis=(2, 3))  # (N, C, H_out, W_out, FH, FW)
    z = np.einsum("ncpqij,fcij->nfpq", windows, W) + b[None, :, None, None]
    relu = np.maximum(z, 0)
    n, f, h, w = relu.shape
    pooled = relu.reshape(n, f, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    return z, pooled


def numerical_gradient(f, x, h=1e-4):
    """Central differences of the scalar f(x) for every element of x, perturbed in place."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + h
        plus = f(x)
        x[index] = saved - h
        minus = f(x)
        x[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


x = rng.normal(size=(2, 2, 9, 8))
W = rng.normal(size=(3, 2, 4, 3))
b = np.array([0.1, -0.2, 0.3])
g = rng.normal(size=(2, 3, 3, 3))


def loss(_):
    """L for the current x, W and b (the array numerical_gradient perturbs is one of them)."""
    return float(np.sum(forward(x, W, b)[1] * g))


# %%
# NBVAL_CHECK_OUTPUT
z, pooled = forward(x, W, b)
relu = np.maximum(z, 0)
d_relu = max_pool_backward(relu, g)  # (2, 3, 6, 6)
dz, db = bias_relu_backward(d_relu, z)
windows = sliding_window_view(x, W.shape[2:], axis=(2, 3))  # (N, C, H_out, W_out, FH, FW)
dW = np.einsum("ncpqij,nfpq->fcij", windows, dz)  # lesson 07's filter gradient, section 1
dx = conv_input_gradient(dz, W, x.shape)

errors = {}
for name, analytic, param in (("dW", dW, W), ("db", db, b), ("dx", dx, x)):
    numeric = numerical_gradient(loss, param)
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8)
    errors[name] = np.max(np.abs(analytic - numeric) / scale)
    print(f"{name:<4}{analytic.shape!s:<16} max relative error < 1e-6: {errors[name] < 1e-6}")

# %% [markdown]
# In float64 the relative errors should be $10^{-7}$ or smaller, below the usual bar of $10^{-6}$. If one is large, the self-check of that piece tells you more.

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "7.5"}
# ### Task 7.5 — the backward pass of a layer without parameters (1 point, written)
#
# Max pooling has no weights to learn. In three to five sentences: why does it still need a backward pass, why does exactly one input per window receive the gradient, and what would go wrong if, for a window with two equal maxima, both received the full gradient?
#
# ### BEGIN SOLUTION
# The layers *below* the pooling layer (the convolution and its filters) have parameters, and their gradients can only be computed from the gradient with respect to the pooling layer's input, so the chain rule has to pass through it. Within a window, the output equals the maximum: a small change of any other input does not change the output at all (derivative 0), while a small change of the maximum changes the output one for one (derivative 1), so the window's `dout` goes entirely to the position of the maximum. With a tie, max is not differentiable there, and any consistent choice of one input (for example the first, as `np.argmax` picks) is a valid gradient; giving the full `dout` to both would count it twice, so the input gradient would sum to 2·dout for that window, disagree with the numerical gradient and make the layers below take steps that are too large.
# ### END SOLUTION

# %% [markdown]
# ## Before and during training: what a practitioner checks
#
# A network with a wrong gradient still trains, somewhat, and a bug can hide behind a mediocre accuracy for days. Two checks take seconds and catch most of them *before* a long run: the loss of the untrained network, and whether the network can learn a handful of digits by heart. The last task then trains a real CNN against a clock. In these tasks you may use `dlcourse`: `simple_convnet` (lesson 06, section 7), its `loss`, `loss_and_gradient`, `accuracy` and `predict` methods, and `Adam` (lesson 07, section 6).

# %% [markdown]
# ### Task 7.6 — sanity checks before training (2 points)
#
# Write `sanity_checks(x, labels, seed, max_steps=300)` for a few digits `x: (N, 1, 28, 28)` and their integer labels `(N,)`. It builds `model = simple_convnet(rng=seed)` and
#
# 1. measures the mean cross-entropy of the untrained model on `x` (`model.loss(x, labels)`) and the loss of a network that guesses all ten classes with probability 1/10 each. The two should be close; if the first is far above the second (say by more than 1), the initialisation is broken: raise `ValueError` saying so;
# 2. trains the model on these same digits (the whole set as one batch, `Adam(lr=0.001)`) until it classifies every one of them correctly, at most `max_steps` steps. A network that cannot learn a few digits by heart has a bug: if it does not get there, raise `RuntimeError` saying so.
#
# Return `(model, report)` with `report = {"initial_loss": …, "expected_loss": …, "steps": …}` (the loss before the first step, the loss of uniform guessing, the number of steps taken, an `int`).
#
# *Hint:* lesson 02, section 5 (cross-entropy) tells you the loss of uniform guessing. One training step is `model.loss_and_gradient(x, labels)` followed by `optimizer.update(model.params, model.grads)`.
#
# *Checked:* on 20 digits and a seed the check picks: the initial loss against the check's own untrained `simple_convnet(rng=seed)`, the expected loss, and the accuracy of your returned model on the 20 digits, measured by the check (it must be 100 %<!-- static: the task's goal -->).

# %% dlcourse={"points": 2, "task": "7.6"}
def sanity_checks(x, labels, seed, max_steps=300):
    """Initial loss ≈ ln 10, then overfit x: (N, 1, 28, 28). Returns (model, report)."""
    # Hint: measure before the first update; stop as soon as model.accuracy(x, labels) == 1.
    ### BEGIN SOLUTION
    model = simple_convnet(rng=seed)
    initial_loss = float(model.loss(x, labels))
    expected_loss = float(np.log(10))  # −ln(1/10): every class gets probability 1/10
    if initial_loss > expected_loss + 1:
        raise ValueError(f"initial loss {initial_loss:.2f} is far above ln 10: check the init")
    optimizer = Adam(lr=0.001)
    steps = 0
    while model.accuracy(x, labels) < 1.0:
        if steps == max_steps:
            raise RuntimeError(f"{len(x)} digits not learned by heart in {max_steps} steps")
        model.loss_and_gradient(x, labels)
        optimizer.update(model.params, model.grads)
        steps += 1
    return model, {"initial_loss": initial_loss, "expected_loss": expected_loss, "steps": steps}
    ### END SOLUTION


# %% dlcourse={"check": "7.6"}
check("7.6", sanity_checks)


# %% [markdown]
# ### Task 7.7 — a CNN to the goal within a time budget (3 points)
#
# Write `train_cnn(x_train, labels_train, seconds)` that trains a convolutional network on the digits it is given for **at most `seconds` seconds** of wall-clock time and returns the trained model. The check then measures the model on test digits it never saw.
#
# | run | training digits | `seconds` | goal (test accuracy) |
# |---|---|---|---|
# | your notebook | 4,000 | 90 | ≥ 95 % |
# | the tests' quick run | 1,000 | 6 | ≥ 75 % |
#
# Any CNN and any training loop will do, as long as it watches the clock: read `time.perf_counter()` after every mini-batch and stop when the budget is used up (the check accepts 25 %<!-- static: the check's allowance --> over the budget, plus 2 s<!-- static: the check's allowance -->, for a busy machine). Run the sanity checks of Task 7.6 on your network first.
#
# *Hint:* lesson 07, section 6 (SimpleConvNet, Adam, mini-batches of 100, shuffling every epoch). Within a fixed time, what matters is how many mini-batches you get through.
#
# *Checked:* the time your function takes, and the accuracy of the model it returns on test digits the check picks (a different set each time the grader runs it).

# %% dlcourse={"points": 3, "task": "7.7"}
def train_cnn(x_train, labels_train, seconds):
    """Train a CNN on x_train: (N, 1, 28, 28) for at most `seconds`; returns the model."""
    # Hint: an epoch loop around a mini-batch loop, both stopping when time is up.
    ### BEGIN SOLUTION
    start = time.perf_counter()
    model = simple_convnet(filters=16, rng=0)  # fewer filters: more epochs within the budget
    optimizer = Adam(lr=0.002)
    shuffle = np.random.default_rng(0)
    while time.perf_counter() - start < 0.9 * seconds:
        order = shuffle.permutation(len(x_train))
        for batch in np.array_split(order, max(1, len(order) // 100)):
            model.loss_and_gradient(x_train[batch], labels_train[batch])
            optimizer.update(model.params, model.grads)
            if time.perf_counter() - start > 0.9 * seconds:
                break
    return model
    ### END SOLUTION


# %% dlcourse={"check": "7.7"}
check("7.7", train_cnn)


# %% [markdown]
# ## Done
#
# You wrote the gradients of a convolutional layer: the input gradient with channels and stride, the bias and ReLU gradients, pooling backward and col2im; then the two checks to run before training, and a CNN trained against the clock. Lesson 07 uses the vectorised versions in `dlcourse.conv` to train a CNN on MNIST in minutes; lesson 08 then fights overfitting.
