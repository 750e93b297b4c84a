# %% [markdown]
# # Assignment 06 · CNN forward
#
# In lesson 06 you saw how a convolutional layer turns an image into feature maps. Here you write the pieces yourself: the output-size formula, a convolution with loops, the im2col rearrangement that turns it into a matrix product, and max pooling.
#
# **Points:** 9 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 6.1 passed` or a reason you can act on. Run it as often as you like. Each task takes one of lesson 06's loops a step further: the convolution looping over the filter instead of the image, im2col with no loop at all.
#
# **You need:** lesson 06 (sections 2–6).
#
# **Time:** about 60 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything
from dlcourse.data import load_mnist

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")


# %% [markdown]
# ### Task 6.1 — output size (1 point)
#
# A filter of size $F$ slides over an input of size $H$ padded with $P$ zeros on each side, moving $S$ pixels at a time. It fits
#
# $$H_\text{out} = \frac{H + 2P - F}{S} + 1$$
#
# times. Write `conv_output_size(size, filter_size, stride=1, pad=0)` that returns $H_\text{out}$ as an `int`, and raises `ValueError` (with a message that says why) when the filter does not fit: when $H + 2P - F$ is negative or not divisible by $S$.
#
# *Hint:* lesson 06, section 3 (output size, padding and stride): when is the number of positions not a whole number?
#
# *Checked:* six sizes (with and without padding and stride) and three that must raise.


# %% dlcourse={"points": 1, "task": "6.1"}
def conv_output_size(size, filter_size, stride=1, pad=0):
    """Number of positions of a filter along one axis; ValueError if it does not fit evenly."""
    # Hint: make sure the filter fits before you divide.
    ### BEGIN SOLUTION
    span = size + 2 * pad - filter_size
    if span < 0:
        raise ValueError(f"a filter of {filter_size} does not fit in {size} + 2·{pad} pixels")
    if span % stride != 0:
        raise ValueError(f"{size} + 2·{pad} − {filter_size} = {span} is not divisible by {stride}")
    return span // stride + 1
    ### END SOLUTION


# %% dlcourse={"check": "6.1"}
check("6.1", conv_output_size)
### BEGIN HIDDEN TESTS
assert conv_output_size(28, 5) == 24
assert conv_output_size(28, 5, stride=1, pad=2) == 28
### END HIDDEN TESTS

# %% [markdown]
# ### Task 6.2 — a convolution that loops over the filter, not the image (3 points)
#
# Lesson 06's `conv_forward_loop` visits every sample, filter and output position: four nested loops, with a 5×5 patch product at the bottom. Turn it inside out. Write `conv2d_offsets(x, W, stride=1, pad=0)` for a batch `x: (N, C, H, W)` and filters `W: (F, C, FH, FW)` (no bias) that returns `out: (N, F, H_out, W_out)`,
#
# $$\text{out}[n, f, i, j] = \sum_{c=0}^{C-1} \sum_{u=0}^{FH-1} \sum_{v=0}^{FW-1} x_\text{padded}[n, c,\; iS + u,\; jS + v]\; W[f, c, u, v],$$
#
# with $(i, j)$ the output position and $(u, v)$ the offset inside the filter, by looping **only over the filter offsets** $(u, v)$: for one offset, the input values it multiplies, $x_\text{padded}[:, :, iS + u, jS + v]$ for all $i, j$, form one strided slice of shape `(N, C, H_out, W_out)`, and all samples, channels, filters and positions are handled by one array operation. A 5×5 filter then takes 25 steps whatever the size of the batch. Pad with zeros, return a **float** array even when `x` holds integer pixels, and do not change `x`.
#
# *Hint:* lesson 06, section 4 (the formula for channels and filters) and section 3 (what stride and padding do to the positions). Slicing with a step, `a[start : stop : step]`, picks every `step`-th element.
#
# *Checked:* four batches from different seeds with non-square filters, several channels and filters, strides and paddings, and images of integer pixels; the check names a flipped or transposed filter, a result of integer dtype and an unsummed channel axis.


# %% dlcourse={"points": 3, "task": "6.2"}
def conv2d_offsets(x, W, stride=1, pad=0):
    """Cross-correlate x: (N, C, H, W) with W: (F, C, FH, FW); returns (N, F, H_out, W_out)."""
    # Hint: pad first; then one loop over the filter offsets (u, v).
    ### BEGIN SOLUTION
    n, _, h, w = x.shape
    f, _, fh, fw = W.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out = (h + 2 * pad - fh) // stride + 1
    w_out = (w + 2 * pad - fw) // stride + 1
    out = np.zeros((n, f, h_out, w_out))
    for u in range(fh):
        for v in range(fw):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            cols = slice(v, v + stride * (w_out - 1) + 1, stride)
            window = padded[:, :, rows, cols]  # (N, C, H_out, W_out), offset (u, v)
            out += np.einsum("ncpq,fc->nfpq", window, W[:, :, u, v])
    return out
    ### END SOLUTION


# %% dlcourse={"check": "6.2"}
check("6.2", conv2d_offsets)

# %% [markdown]
# Now use your function on a real digit. In MNIST a pixel value of 1 is ink and 0 is paper. The filter below has negative left columns and positive right columns, so it responds where the pixel values rise from left to right: it marks the left edge of every stroke with positive values and the right edge with negative ones.

# %%
data = load_mnist(flatten=False)
digit = data.x_train[0, 0]  # (28, 28)
edge_filter = np.array([[-1.0, -1.0, 0.0, 1.0, 1.0]] * 5) / 10  # (5, 5), vertical edges

feature_map = conv2d_offsets(digit[None, None], edge_filter[None, None])[0, 0]
print(f"{digit.shape} image * {edge_filter.shape} filter -> {feature_map.shape} feature map")

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), layout="constrained")
axes[0].imshow(digit, cmap="gray_r")
axes[0].set(title=f"input (label {data.t_train[0]})", xlabel="column", ylabel="row")
limit = np.abs(feature_map).max()
shown = axes[1].imshow(feature_map, cmap="RdBu_r", vmin=-limit, vmax=limit)
axes[1].set(title="feature map of the edge filter", xlabel="column", ylabel="row")
fig.colorbar(shown, ax=axes[1], label="filter response")
fig.suptitle("A 5×5 vertical-edge filter marks left (red) and right (blue) stroke edges")
plt.show()


# %% [markdown]
# *Figure: left, the first training digit (28×28); right, its 24×24 feature map under the vertical-edge filter, red where a stroke begins (paper to ink, reading from left to right), blue where it ends, white where the image is flat. Notice that the map is 4 pixels smaller on each axis than the image.*

# %% [markdown]
# ### Task 6.3 — im2col for one channel, without a loop (2 points)
#
# im2col copies every patch into a row of a matrix, so that the whole convolution becomes one matrix product. Lesson 06's `im2col` still loops over the filter offsets. Write `im2col_single(image, fh, fw, stride=1, pad=0)` for one channel, `image: (H, W)`, with **no Python loop at all**, returning `cols: (H_out·W_out, fh·fw)`:
#
# - row `i * W_out + j` holds the patch at output position $(i, j)$ (the loop over `i` outside, over `j` inside, if there were loops),
# - flattened row by row (`patch.ravel()`), so that `cols @ filt.ravel()` gives the feature map, flattened.
#
# Pixel $(u, v)$ of the patch at $(i, j)$ is `padded[i*stride + u, j*stride + v]`. Build one integer array of row indices and one of column indices whose shapes broadcast to `(H_out, W_out, fh, fw)`; indexing `padded` with both picks every patch at once.
#
# *Hint:* lesson 06, section 5 (what each row of `cols` holds, and the printed 4×4 example). Integer arrays used as indices broadcast against each other like any arrays: an index array of shape `(H_out, 1, 1, 1)` and one of shape `(1, W_out, 1, 1)` pick a `(H_out, W_out, 1, 1)` block.
#
# *Checked:* three images with non-square filters, strides and padding; the check tells you when the matrix is transposed or its rows or columns are in another order.


# %% dlcourse={"points": 2, "task": "6.3"}
def im2col_single(image, fh, fw, stride=1, pad=0):
    """Patches of image as rows. image: (H, W); returns cols: (H_out * W_out, fh * fw)."""
    # Hint: one row-index array and one column-index array that broadcast to every patch.
    ### BEGIN SOLUTION
    padded = np.pad(image, pad)
    h_out = (image.shape[0] + 2 * pad - fh) // stride + 1
    w_out = (image.shape[1] + 2 * pad - fw) // stride + 1
    rows = np.arange(h_out)[:, None, None, None] * stride + np.arange(fh)[None, None, :, None]
    cols = np.arange(w_out)[None, :, None, None] * stride + np.arange(fw)[None, None, None, :]
    return padded[rows, cols].reshape(h_out * w_out, fh * fw)  # (H_out, W_out, fh, fw) first
    ### END SOLUTION


# %% dlcourse={"check": "6.3"}
check("6.3", im2col_single)

# %% [markdown]
# With the patches as rows, the convolution is a single matrix–vector product. Several filters would make it a matrix–matrix product: one column per filter.

# %%
# NBVAL_CHECK_OUTPUT
cols = im2col_single(digit, 5, 5)
as_product = (cols @ edge_filter.ravel()).reshape(24, 24)
print("cols shape:", cols.shape)
print("im2col product equals the loop:", np.allclose(as_product, feature_map))


# %% [markdown]
# ### Task 6.4 — max pooling forward (2 points)
#
# Write `max_pool_forward(x, pool_h=2, pool_w=2, stride=2)` for a batch of feature maps `x: (N, C, H, W)`. Each output value is the maximum of one `pool_h × pool_w` window, taken separately for every sample and every channel; the windows move `stride` pixels at a time, with no padding. Return `(N, C, H_out, W_out)` with $H_\text{out} = (H - \text{pool\_h}) / \text{stride} + 1$ and likewise $W_\text{out}$.
#
# *Hint:* lesson 06, section 6 (max pooling); handle all samples and channels of one window at once.
#
# *Checked:* three batches with non-square pools, overlapping windows (stride smaller than the pool), and all-negative values.


# %% dlcourse={"points": 2, "task": "6.4"}
def max_pool_forward(x, pool_h=2, pool_w=2, stride=2):
    """Max over each window. x: (N, C, H, W); returns (N, C, H_out, W_out)."""
    # Hint: one window per output position, for all samples and channels at once.
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    h_out = (h - pool_h) // stride + 1
    w_out = (w - pool_w) // stride + 1
    out = np.zeros((n, c, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, i * stride : i * stride + pool_h, j * stride : j * stride + pool_w]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out
    ### END SOLUTION


# %% dlcourse={"check": "6.4"}
check("6.4", max_pool_forward)

# %% [markdown]
# Pool the feature map of Task 6.2 after a ReLU, as a CNN layer would:

# %%
conv_out = conv2d_offsets(digit[None, None], edge_filter[None, None])  # (1, 1, 24, 24)
activated = np.maximum(conv_out, 0)
pooled = max_pool_forward(activated)
print(f"{activated.shape} -> {pooled.shape}")

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), layout="constrained")
for ax, picture, title in zip(
    axes, (activated[0, 0], pooled[0, 0]), ("after ReLU (24×24)", "after 2×2 max pool (12×12)")
):
    shown = ax.imshow(picture, cmap="Reds", vmin=0)
    ax.set(title=title, xlabel="column", ylabel="row")
fig.colorbar(shown, ax=axes, label="filter response")
fig.suptitle("Pooling keeps the strong responses at a quarter of the size")
plt.show()

# %% [markdown]
# *Figure: left, the positive part of the edge feature map (24×24); right, the same after 2×2 max pooling (12×12). Notice that every left stroke edge is still visible, only coarser: pooling keeps where a feature was found, roughly, and drops exactly where.*

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "6.5"}
# ### Task 6.5 — why im2col is fast (1 point, written)
#
# A loop over output positions (lesson 06's `conv_forward_loop`) and the im2col product do the same multiplications. In three to five sentences: why is the im2col version (as `dlcourse` does it, for a batch and many filters) hundreds of times faster in numpy, and what does it cost in exchange? Use numbers for a 100-image batch of 28×28 digits and 5×5 filters.
#
# ### BEGIN SOLUTION
# The loop runs one tiny numpy operation per output pixel, per filter and per image, and each call costs microseconds of Python and numpy overhead while the arithmetic (25 multiply-adds) takes nanoseconds: for 100 images and 30 filters that is 100 × 30 × 576 ≈ 1.7 million calls. im2col moves all the work into two calls: one copy that builds a (100·576) × 25 matrix of patches, and one matrix product with the (25 × 30) filter matrix, which BLAS runs with cache-friendly blocking, vectorised instructions and several cores. The price is memory: every pixel is copied into up to 25 rows, so the patch matrix of 57,600 × 25 = 1,440,000 values is about 18.4 times<!-- static: 1,440,000 / 78,400, from the shapes --> larger than the batch itself of 100 × 784 = 78,400 values (5.8 MB<!-- static: 1,440,000 float32 values --> in float32 here, much more for big images and filters; not 25 times, because a 5×5 filter fits only 24 × 24 positions of a 28×28 image), and a backward pass needs col2im to add the copies back.
# ### END SOLUTION

# %% [markdown]
# ## Done
#
# You wrote a convolution, the im2col trick and max pooling. Lesson 07 runs them backwards: how the gradient flows through a filter and a pooling window, and then a whole CNN is trained on MNIST.
