# %% [markdown]
# # Assignment 07 · CNN backward
#
# Lesson 07 derived how gradients flow back through a convolutional layer. Here you write each piece yourself, then chain your pieces and compare the result with a numerical gradient.
#
# **Points:** 10 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks and run the self-check cell after it: it prints `✓ Task 7.1 passed` or a reason you can act on. Loops over filter offsets or output positions are fine here; the point is to see where every gradient goes.
#
# **You need:** lesson 07 (sections 1–4) and assignment 06.
#
# **Time:** about 75 minutes.
#
# Notation, as in the lesson: `x: (N, C, H, W)` the layer's input, `W: (F, C, FH, FW)` the filters, `dout` the gradient of the loss with respect to the layer's output; stride 1 and no padding unless a task says otherwise.

# %%
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlcourse.checks import check
from dlcourse.config import seed_everything

rng = seed_everything(0)


# %% [markdown]
# ### Task 7.1 — the filter gradient $\partial L/\partial W$ (3 points)
#
# The forward pass computes $\text{out}[n, f, a, b] = \sum_{c, i, j} x[n, c, a + i, b + j]\, W[f, c, i, j] + b[f]$. Every weight $W[f, c, i, j]$ touches every output position $(a, b)$ of its filter, in every sample, so its gradient collects them all:
#
# $$\frac{\partial L}{\partial W[f, c, i, j]} = \sum_{n} \sum_{a, b} \text{dout}[n, f, a, b]\; x[n, c, a + i, b + j].$$
#
# Read it as "the input, correlated with the upstream gradient": slide `dout` over `x` the way the forward pass slid `W`. Write `filter_gradient(x, dout)` for `x: (N, C, H, W)` and `dout: (N, F, H_out, W_out)` that returns `dW: (F, C, FH, FW)` with $FH = H - H_\text{out} + 1$ and $FW = W - W_\text{out} + 1$. Sum over the batch (do not average: the mean is already inside `dout`).
#
# *Hint:* loop over the filter offsets `(i, j)`; `window = x[:, :, i : i + h_out, j : j + w_out]` has the same spatial shape as `dout`, and `np.tensordot(dout, window, axes=([0, 2, 3], [0, 2, 3]))` sums over the sample and position axes, leaving `(F, C)`.
#
# *Checked:* against a numerical gradient (central differences in float64) on three non-square cases; the check says so when your gradient is flipped, transposed, averaged or has its axes swapped.


# %% dlcourse={"points": 3, "task": "7.1"}
def filter_gradient(x, dout):
    """dL/dW. x: (N, C, H, W), dout: (N, F, H_out, W_out); returns dW: (F, C, FH, FW)."""
    # Hint: one tensordot per filter offset (i, j), summing over N, H_out and W_out.
    ### BEGIN SOLUTION
    h_out, w_out = dout.shape[2:]
    fh, fw = x.shape[2] - h_out + 1, x.shape[3] - w_out + 1
    dW = np.zeros((dout.shape[1], x.shape[1], fh, fw))
    for i in range(fh):
        for j in range(fw):
            window = x[:, :, i : i + h_out, j : j + w_out]
            dW[:, :, i, j] = np.tensordot(dout, window, axes=([0, 2, 3], [0, 2, 3]))
    return dW
    ### END SOLUTION


# %% dlcourse={"check": "7.1"}
check("7.1", filter_gradient)


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
# *Hint:* loop over the output positions `(a, b)`; for the window `x[:, :, a*stride : a*stride + pool_h, b*stride : b*stride + pool_w]`, `window.reshape(n, c, -1).argmax(axis=2)` gives the flat index of each maximum, `np.unravel_index(..., (pool_h, pool_w))` its row and column, and `n_idx, c_idx = np.indices((n, c))` lets you index all samples and channels at once.
#
# *Checked:* four cases, with ties, non-square pools and overlapping windows.


# %% dlcourse={"points": 2, "task": "7.2"}
def max_pool_backward(x, dout, pool_h=2, pool_w=2, stride=2):
    """Route dout to each window's first maximum. x: (N, C, H, W); returns dx: (N, C, H, W)."""
    # Hint: argmax of each flattened window, unravel it, then dx[...] += dout[:, :, a, b].
    ### BEGIN SOLUTION
    dx = np.zeros_like(x)
    n, c, h_out, w_out = dout.shape
    n_idx, c_idx = np.indices((n, c))
    for a in range(h_out):
        for b in range(w_out):
            window = x[:, :, a * stride : a * stride + pool_h, b * stride : b * stride + pool_w]
            first = window.reshape(n, c, -1).argmax(axis=2)  # (N, C) flat index of the maximum
            i, j = np.unravel_index(first, (pool_h, pool_w))
            dx[n_idx, c_idx, a * stride + i, b * stride + j] += dout[:, :, a, b]
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
# - $db[f] = \sum_{n, a, b} dz[n, f, a, b]$: one bias per filter is added at every position of every sample, so its gradient sums over all of them. (The source's first CNN kept a separate bias for each of the 576 pixels of its feature map; a conv layer shares one per filter.)
#
# *Hint:* `z > 0` is a boolean mask you can multiply with; `dz.sum(axis=(0, 2, 3))` sums everything but the filter axis.
#
# *Checked:* two shapes, with some `z` exactly 0.


# %% dlcourse={"points": 2, "task": "7.3"}
def bias_relu_backward(dout, z):
    """dout, z: (N, F, H_out, W_out); returns dz: (N, F, H_out, W_out) and db: (F,)."""
    # Hint: mask, then sum over every axis but the filter axis.
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
# In assignment 06 you wrote `im2col_single`, which copies every patch of an image into a row of `cols: (H_out·W_out, fh·fw)` (row `a * W_out + b` for output position `(a, b)`, each patch flattened row by row). Its backward pass, col2im, goes the other way: it adds every row back onto the pixels it was copied from. A pixel that appeared in several patches collects the sum of their gradients. Write `col2im_single(cols, shape, fh, fw, stride=1, pad=0)` that returns an array of `shape = (H, W)`: the padded image is accumulated first, then the padding is cut off (gradients that land on padding zeros are dropped, as those zeros are not inputs).
#
# *Hint:* start from `padded = np.zeros((H + 2*pad, W + 2*pad))`, loop over the output positions, and `+=` each row, reshaped to `(fh, fw)`, onto its patch; return `padded[pad : pad + H, pad : pad + W]`.
#
# *Checked:* three cases with overlapping patches, strides, a non-square filter and padding.


# %% dlcourse={"points": 2, "task": "7.4"}
def col2im_single(cols, shape, fh, fw, stride=1, pad=0):
    """Add rows of cols: (H_out * W_out, fh * fw) back onto an image of shape (H, W)."""
    # Hint: the im2col loops, with padded[patch] += cols[a * w_out + b].reshape(fh, fw).
    ### BEGIN SOLUTION
    h, w = shape
    h_out = (h + 2 * pad - fh) // stride + 1
    w_out = (w + 2 * pad - fw) // stride + 1
    padded = np.zeros((h + 2 * pad, w + 2 * pad))
    for a in range(h_out):
        for b in range(w_out):
            patch = cols[a * w_out + b].reshape(fh, fw)
            padded[a * stride : a * stride + fh, b * stride : b * stride + fw] += patch
    return padded[pad : pad + h, pad : pad + w]
    ### END SOLUTION


# %% dlcourse={"check": "7.4"}
check("7.4", col2im_single)


# %% [markdown]
# ## Putting your pieces together
#
# A tiny single-channel layer, the one the source built first: convolution with one filter, a bias, ReLU and 2×2 max pooling. The scalar $L = \sum \text{pool}(\text{ReLU}(\text{conv}(x, W) + b)) \cdot g$, with a fixed random $g$, stands in for a loss (its `dout` is $g$). Your four functions give $\partial L / \partial W$, $\partial L / \partial b$ and $\partial L / \partial x$; the numerical gradient, computed by nudging every number by $\pm h$, must agree. The forward pass is given.


# %%
def forward(x, W, b):
    """x: (N, 1, H, W), W: (1, 1, FH, FW), b: (1,); returns z (pre-ReLU) and the pooled output."""
    windows = sliding_window_view(x, W.shape[2:], axis=(2, 3))  # (N, 1, H_out, W_out, FH, FW)
    z = np.einsum("ncabij,fcij->nfab", windows, W) + b[None, :, None, None]
    relu = np.maximum(z, 0)
    n, f, h, w = relu.shape
    pooled = relu.reshape(n, f, h // 2, 2, w // 2, 2).max(axis=(3, 5))
    return z, pooled


def numerical_gradient(f, v, h=1e-5):
    """Central differences of the scalar f() with respect to every element of v (in place)."""
    grad = np.zeros_like(v)
    for index in np.ndindex(v.shape):
        saved = v[index]
        v[index] = saved + h
        plus = f()
        v[index] = saved - h
        minus = f()
        v[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad


x = rng.normal(size=(2, 1, 9, 8))
W = rng.normal(size=(1, 1, 4, 3))
b = np.array([0.1])
g = rng.normal(size=(2, 1, 3, 3))


def loss():
    return float(np.sum(forward(x, W, b)[1] * g))


# %%
# NBVAL_CHECK_OUTPUT
z, pooled = forward(x, W, b)
relu = np.maximum(z, 0)
d_relu = max_pool_backward(relu, g)  # (2, 1, 6, 6)
dz, db = bias_relu_backward(d_relu, z)
dW = filter_gradient(x, dz)
dx = np.stack(
    [
        # dcols[r] = dz at position r times the flattened filter; col2im adds them back
        col2im_single(np.outer(dz[n, 0].ravel(), W[0, 0].ravel()), x.shape[2:], 4, 3)
        for n in range(x.shape[0])
    ]
)[:, None]

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
# ## Done
#
# You wrote every gradient of a convolutional layer: the filter gradient as a correlation of the input with `dout`, the bias and ReLU gradients, pooling backward and col2im. Lesson 07 uses the vectorised versions in `dlcourse.conv` to train a CNN on MNIST in minutes; lesson 08 then fights overfitting.
