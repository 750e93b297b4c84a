# %% [markdown]
# # Assignment 07 · CNN backward
#
# Lesson 07 derived how gradients flow back through a convolutional layer. Here you write the pieces yourself, with channels and strides, chain them and compare the result with a numerical gradient; then you train a CNN the way a practitioner does: sanity checks first, then a run against the clock.
#
# **Points:** 17 (six code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks and run the self-check cell after it: it prints `✓ Task 7.1 passed` or a reason you can act on. Each task says which loops it allows: Task 7.1 may loop over output positions, Tasks 7.2 and 7.3 loop over the offsets inside a window or filter only, and Task 7.4 has no Python loop at all; the point is to see where every gradient goes, for a whole batch at once.
#
# **You need:** lesson 07 (sections 1–6), lesson 02 (section 5) and assignment 06.
#
# **Time:** about 120 minutes, a minute and a half of them training.
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
# ## Max pooling remembers where its maxima were
#
# Max pooling's backward pass needs to know, for every window, *which* input was the maximum. A layer does not search the window again: its forward pass writes that position down, in an integer array called the **switches**, shaped like the pooled output `(N, C, H_out, W_out)`. For the window at output position $(i, j)$, the switch is the offset of its maximum inside the window, counted row by row: offset $(u, v)$ of a `pool_h × pool_w` window has the number `u * pool_w + v`. When a window holds its maximum twice, the switch names the *first* one in that order (the one `np.argmax` of the flattened window picks). The pooling function below (given, you need not write it) returns the pooled values and the switches; here it pools lesson 07's 4×4 example, whose bottom-left window holds its maximum, 2, twice.


# %%
def pool_with_switches(x, pool_h=2, pool_w=2, stride=2):
    """Max pooling of x: (N, C, H, W) that also returns its switches.

    Returns out and switches, both (N, C, H_out, W_out): switches[n, c, i, j] = u * pool_w + v,
    the offset (u, v) of the first maximum of window (i, j), counted row by row.
    """
    windows = sliding_window_view(x, (pool_h, pool_w), axis=(2, 3))  # every window position
    windows = windows[:, :, ::stride, ::stride]  # (N, C, H_out, W_out, pool_h, pool_w)
    flat = windows.reshape(*windows.shape[:4], pool_h * pool_w)  # one row per window
    switches = flat.argmax(axis=-1)  # the first maximum of each window, as u * pool_w + v
    return flat.max(axis=-1), switches


# %%
# NBVAL_CHECK_OUTPUT
small = np.array([[1, 3, 0, 2], [4, 2, 1, 1], [0, 1, 5, 6], [2, 2, 7, 0]], dtype=float)
small_out, small_switches = pool_with_switches(small[None, None])
print("input:\n", small)
print("pooled:\n", small_out[0, 0])
print("switches (u * 2 + v of each window's first maximum):\n", small_switches[0, 0])


# %% [markdown]
# ### Task 7.2 — max pooling backward from the switches (3 points)
#
# Each window's `dout` goes to the input at its switch, and every other input of the window gets 0 (lesson 07, section 3, says why). Write `max_pool_backward(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2)` for `dout: (N, C, H_out, W_out)`, the forward pass's `switches` of the same shape and the forward input's shape `x_shape = (N, C, H, W)`, that returns `dx` of shape `x_shape`.
#
# Loop **only over the `pool_h · pool_w` offsets** $(u, v)$ of the window, never over windows or positions. For one offset, the input pixels at offset $(u, v)$ of every window, $x[:, :, iS + u, jS + v]$ for all $(i, j)$, form one strided slice of shape `(N, C, H_out, W_out)`, the same shape as `dout`; the windows whose switch is `u * pool_w + v` send their `dout` there, the others send 0.
#
# - **Overlap.** With `stride` smaller than the pool, windows overlap, and one input can be the maximum of two windows: it collects both gradients. Add (`+=`), never assign.
# - **Gaps.** With `stride` larger than the pool, some inputs are in no window: their gradient is 0.
# - Do not change `dout` or `switches`.
#
# *Hint:* lesson 07, section 3 (max pooling, backward), and the strided slices of assignment 06's Task 6.2 (offset $(u, v)$ of every window, in one slice). Which number does the switch give for offset $(u, v)$ of a `pool_h × pool_w` window?
#
# *Checked:* against the check's own routing, with switches it computes from its own inputs, on five cases: ties, overlapping windows, non-square pools and a stride larger than the pool; the check names `=` instead of `+=`, switches decoded with the wrong width or column by column, a stride that is ignored and a result of the pooled shape.


# %% dlcourse={"points": 3, "task": "7.2"}
def max_pool_backward(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
    """Route dout: (N, C, H_out, W_out) to each window's switch; returns dx of shape x_shape."""
    # Hint: one strided slice of dx per offset (u, v); which windows have their maximum there?
    ### BEGIN SOLUTION
    dx = np.zeros(x_shape)
    h_out, w_out = dout.shape[2:]
    for u in range(pool_h):
        for v in range(pool_w):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            cols = slice(v, v + stride * (w_out - 1) + 1, stride)
            dx[:, :, rows, cols] += dout * (switches == u * pool_w + v)
    return dx
    ### END SOLUTION


# %% dlcourse={"check": "7.2"}
check("7.2", max_pool_backward)
### BEGIN HIDDEN TESTS
# lesson 07's example: dout 1, 2, 3, 4 lands on the 4, the 2 of the top right, the first 2, the 7
switches_2x2 = np.array([[[[2, 1], [2, 2]]]])  # the first maxima of its four windows
routed = max_pool_backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]), switches_2x2, (1, 1, 4, 4))
assert routed[0, 0, 1, 0] == 1 and routed[0, 0, 0, 3] == 2
assert routed[0, 0, 3, 0] == 3 and routed[0, 0, 3, 1] == 0 and routed[0, 0, 3, 2] == 4
assert routed.sum() == 10
### END HIDDEN TESTS


# %% [markdown]
# ### Task 7.3 — the filter and bias gradients, with channels, stride and padding (3 points)
#
# Task 7.1 gave the conv layer's input gradient; this task gives the other two. Lesson 07 derived the filter gradient for stride 1 and no padding (section 1, `filter_gradient`, and section 2 in im2col form). With a stride $S$ and zero padding, the weight $W[f, c, u, v]$ multiplies the padded input at $(iS + u,\; jS + v)$ in output position $(i, j)$, so
#
# $$\frac{\partial L}{\partial W[f, c, u, v]} = \sum_{n, i, j} \text{dout}[n, f, i, j]\; x_\text{padded}[n, c,\; iS + u,\; jS + v], \qquad \frac{\partial L}{\partial b[f]} = \sum_{n, i, j} \text{dout}[n, f, i, j].$$
#
# Write `conv_param_gradients(x, dout, filter_shape, stride=1, pad=0)` for the forward input `x: (N, C, H, W)`, `dout: (N, F, H_out, W_out)` and `filter_shape = (F, C, FH, FW)`, returning the pair `(dW, db)` with `dW: (F, C, FH, FW)` and `db: (F,)`. Loop over the filter offsets $(u, v)$ only, with one strided slice of the padded input per offset (as in Task 7.1), or build im2col's matrix; no loop over samples or positions. `dout` is already the gradient of the whole batch's loss: sum over the samples, do not average. Do not change `x` or `dout`.
#
# *Hint:* lesson 07, section 1 (the filter gradient is the input correlated with `dout`, and the bias gradient), and Task 6.2 of assignment 06 (which input values offset $(u, v)$ touches, with stride and padding). For one offset, `np.einsum` or `np.tensordot` sums over $n, i, j$ at once.
#
# *Checked:* against a numerical gradient (central differences in float64 of the check's own forward pass) on four cases with several channels and filters, non-square filters, strides and padding; the check names a flipped filter, an ignored stride or padding, `dW` divided by $N$, channel and filter axes swapped, and `db` summed over the wrong axes or averaged.


# %% dlcourse={"points": 3, "task": "7.3"}
def conv_param_gradients(x, dout, filter_shape, stride=1, pad=0):
    """dL/dW: (F, C, FH, FW) and dL/db: (F,) from x: (N, C, H, W), dout: (N, F, H_out, W_out)."""
    # Hint: pad x first; then for each offset (u, v), one strided slice, summed over n, i, j.
    ### BEGIN SOLUTION
    _, _, fh, fw = filter_shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out, w_out = dout.shape[2:]
    dW = np.zeros(filter_shape)
    for u in range(fh):
        for v in range(fw):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            cols = slice(v, v + stride * (w_out - 1) + 1, stride)
            dW[:, :, u, v] = np.einsum("nfij,ncij->fc", dout, x_padded[:, :, rows, cols])
    db = dout.sum(axis=(0, 2, 3))
    return dW, db
    ### END SOLUTION


# %% dlcourse={"check": "7.3"}
check("7.3", conv_param_gradients)


# %% [markdown]
# ## A trap of fancy indexing
#
# Task 7.4 adds many values into one array at once, and some of them land on the same pixel. Indexing with integer arrays and `+=` looks like it would add them all, but numpy evaluates `a[index] += values` as `a[index] = a[index] + values`: it reads every selected element once, adds, and writes back; where an index repeats, the later write replaces the earlier one, so **a repeated index adds only once**. `np.add.at(a, index, values)` adds every value, repeated indices included:

# %%
# NBVAL_CHECK_OUTPUT
index = np.array([0, 0, 2])  # element 0 is selected twice
buffered = np.zeros(3)
buffered[index] += 1.0
unbuffered = np.zeros(3)
np.add.at(unbuffered, index, 1.0)
print("a[index] += 1         :", buffered)
print("np.add.at(a, index, 1):", unbuffered)


# %% [markdown]
# ### Task 7.4 — col2im for a batch with channels, without a loop (2 points)
#
# Lesson 07 (section 2) computes $\partial L/\partial x$ as `dcols = dout_col @ W_col` followed by **col2im**, which adds every row of `dcols` back onto the pixels its patch was copied from. Write `col2im_batch(dcols, x_shape, fh, fw, stride=1, pad=0)` for the whole batch, with **no Python loop at all** (no `for`, no comprehension). `dcols: (N·H_out·W_out, C·fh·fw)` has lesson 06's im2col layout:
#
# - row `n * H_out * W_out + i * W_out + j` belongs to the patch of sample $n$ at output position $(i, j)$;
# - column `c * fh * fw + u * fw + v` belongs to channel $c$ and offset $(u, v)$ in the patch: channel first, then the patch row by row.
#
# That value goes to `padded[n, c, i*stride + u, j*stride + v]`. Reshape `dcols` to `(N, H_out, W_out, C, fh, fw)`, build four integer index arrays (sample, channel, row and column) that broadcast to that shape, as Task 6.3 did for one channel, and add all values with `np.add.at` on the zero-padded `(N, C, H + 2·pad, W + 2·pad)` array: patches overlap, so indices repeat, and `padded[index] += values` would add only one of them (the cell above). Then cut the padding off and return `(N, C, H, W)`.
#
# *Hint:* lesson 07, section 2 (col2im, and how many patches contain each pixel), and assignment 06's Task 6.3 (index arrays that broadcast: the row of offset $u$ in the patch at $i$ is `i * stride + u`).
#
# *Checked:* against the check's own col2im (a loop over positions) on four cases with overlapping patches, strides, non-square filters, padding, several samples and channels, then the identity $\langle \text{im2col}(x), \text{dcols} \rangle = \langle x, \text{col2im}(\text{dcols}) \rangle$ (col2im is the transpose of im2col) on a fifth; the check names fancy-index `+=` or `=` where patches overlap, the padding left on, columns or rows in another order, and `dcols` read transposed. It looks at results only: it cannot see whether you wrote a loop.


# %% dlcourse={"points": 2, "task": "7.4"}
def col2im_batch(dcols, x_shape, fh, fw, stride=1, pad=0):
    """Add dcols: (N * H_out * W_out, C * fh * fw) back onto patches; returns (N, C, H, W)."""
    # Hint: four index arrays that broadcast to (N, H_out, W_out, C, fh, fw), then np.add.at.
    ### BEGIN SOLUTION
    n, c, h, w = x_shape
    h_out = (h + 2 * pad - fh) // stride + 1
    w_out = (w + 2 * pad - fw) // stride + 1
    values = dcols.reshape(n, h_out, w_out, c, fh, fw)
    samples = np.arange(n).reshape(n, 1, 1, 1, 1, 1)
    channels = np.arange(c).reshape(c, 1, 1)  # axes of (N, H_out, W_out, C, fh, fw), from the right
    rows = np.arange(h_out).reshape(h_out, 1, 1, 1, 1) * stride + np.arange(fh).reshape(fh, 1)
    cols = np.arange(w_out).reshape(w_out, 1, 1, 1) * stride + np.arange(fw)
    padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    np.add.at(padded, (samples, channels, rows, cols), values)
    return padded[:, :, pad : pad + h, pad : pad + w]
    ### END SOLUTION


# %% dlcourse={"check": "7.4"}
check("7.4", col2im_batch)
### BEGIN HIDDEN TESTS
# rows of ones count the patches that contain each pixel: 1 in the corners, 9 in the centre
counts = col2im_batch(np.ones((9, 9)), (1, 1, 5, 5), 3, 3)[0, 0]
assert counts[0, 0] == 1 and counts[2, 2] == 9 and counts.sum() == 81
### END HIDDEN TESTS


# %% [markdown]
# ## Putting your pieces together
#
# A small conv layer with two input channels and three filters, a bias per filter, ReLU and 2×2 max pooling. The scalar $L = \sum \text{pool}(\text{ReLU}(\text{conv}(x, W) + b)) \cdot g$, with a fixed random $g$, stands in for a loss (its `dout` is $g$). Your functions give every gradient: pooling backward from the switches (7.2), ReLU's mask (lesson 07, section 3), $\partial L / \partial W$ and $\partial L / \partial b$ (7.3), and $\partial L / \partial x$ twice, with offsets (7.1) and in the lesson's matrix form with your col2im (7.4). The numerical gradient, computed by nudging every number by $\pm h$, must agree. The forward pass is given.


# %%
def forward(x, W, b):
    """x: (N, C, H, W), W: (F, C, FH, FW), b: (F,); returns z (pre-ReLU), pooled, switches."""
    windows = sliding_window_view(x, W.shape[2:], axis=(2, 3))  # (N, C, H_out, W_out, FH, FW)
    z = np.einsum("ncpqij,fcij->nfpq", windows, W) + b[None, :, None, None]
    pooled, switches = pool_with_switches(np.maximum(z, 0))
    return z, pooled, switches


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
z, pooled, switches = forward(x, W, b)
d_relu = max_pool_backward(g, switches, z.shape)  # (2, 3, 6, 6)
dz = d_relu * (z > 0)  # ReLU backward: the mask of the forward input
dW, db = conv_param_gradients(x, dz, W.shape)
dx = conv_input_gradient(dz, W, x.shape)
dz_col = dz.transpose(0, 2, 3, 1).reshape(-1, W.shape[0])  # (N·H_out·W_out, F)
dx_col2im = col2im_batch(dz_col @ W.reshape(W.shape[0], -1), x.shape, *W.shape[2:])

errors = {}
for name, analytic, param in (
    ("dW", dW, W),
    ("db", db, b),
    ("dx", dx, x),
    ("dx (col2im)", dx_col2im, x),
):
    numeric = numerical_gradient(loss, param)
    scale = np.maximum(np.abs(analytic) + np.abs(numeric), 1e-8)
    errors[name] = np.max(np.abs(analytic - numeric) / scale)
    print(f"{name:<12}{analytic.shape!s:<16} max relative error < 1e-6: {errors[name] < 1e-6}")

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
# You wrote every gradient of a convolutional layer with channels, stride and padding: the input gradient, the filter and bias gradients, max pooling backward from its switches and a loop-free col2im for a whole batch; then the two checks to run before training, and a CNN trained against the clock. Lesson 07 uses the vectorised versions in `dlcourse.conv` to train a CNN on MNIST in minutes; lesson 08 then fights overfitting.
