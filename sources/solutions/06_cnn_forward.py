# %% [markdown]
# # Assignment 06 · CNN forward
#
# In lesson 06 you saw how a convolutional layer turns an image into feature maps. Here you write the pieces yourself: the output-size formula, a convolution with loops, the im2col rearrangement that turns it into a matrix product, and max pooling.
#
# **Points:** 9 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 6.1 passed` or a reason you can act on. Run it as often as you like. Loops over pixels are fine in this assignment: the point is to see every multiplication. (Lesson 06 shows the fast version.)
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
# *Hint:* compute `span = size + 2 * pad - filter_size` first; `span % stride` tells you whether the division is exact.
#
# *Checked:* six sizes (with and without padding and stride) and three that must raise.


# %% dlcourse={"points": 1, "task": "6.1"}
def conv_output_size(size, filter_size, stride=1, pad=0):
    """Number of positions of a filter along one axis; ValueError if it does not fit evenly."""
    # Hint: span = size + 2 * pad - filter_size; then check span < 0 and span % stride.
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
# ### Task 6.2 — convolution with loops (3 points)
#
# Write `conv2d_naive(image, filt, stride=1, pad=0)` for one 2-D image `image: (H, W)` and one filter `filt: (FH, FW)` (neither needs to be square). Pad the image with `pad` zeros on every side, then for each output position $(i, j)$ take the patch whose top-left corner is at $(iS, jS)$ and compute
#
# $$\text{out}[i, j] = \sum_{a=0}^{FH-1} \sum_{b=0}^{FW-1} x_\text{padded}[iS + a,\; jS + b]\; \text{filt}[a, b].$$
#
# This is what deep-learning libraries call a convolution (strictly, a cross-correlation: the filter is *not* flipped). Return a float array of shape `(H_out, W_out)`, and do not change `image`.
#
# *Hint:* `np.pad(image, pad)` pads with zeros; a patch is `padded[i*stride : i*stride + FH, j*stride : j*stride + FW]`, and `np.sum(patch * filt)` is one output value.
#
# *Checked:* five image/filter pairs from different seeds, non-square, with strides and paddings; the check says so when the filter is flipped or transposed.


# %% dlcourse={"points": 3, "task": "6.2"}
def conv2d_naive(image, filt, stride=1, pad=0):
    """Slide filt over image. image: (H, W), filt: (FH, FW); returns (H_out, W_out)."""
    # Hint: pad first, then two loops over the output positions (i, j).
    ### BEGIN SOLUTION
    fh, fw = filt.shape
    padded = np.pad(image, pad)
    h_out = (image.shape[0] + 2 * pad - fh) // stride + 1
    w_out = (image.shape[1] + 2 * pad - fw) // stride + 1
    out = np.zeros((h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[i * stride : i * stride + fh, j * stride : j * stride + fw]
            out[i, j] = np.sum(patch * filt)
    return out
    ### END SOLUTION


# %% dlcourse={"check": "6.2"}
check("6.2", conv2d_naive)

# %% [markdown]
# Now use your function on a real digit. In MNIST a pixel value of 1 is ink and 0 is paper. The filter below has negative left columns and positive right columns, so it responds where the pixel values rise from left to right: it marks the left edge of every stroke with positive values and the right edge with negative ones.

# %%
data = load_mnist(flatten=False)
digit = data.x_train[0, 0]  # (28, 28)
edge_filter = np.array([[-1.0, -1.0, 0.0, 1.0, 1.0]] * 5) / 10  # (5, 5), vertical edges

feature_map = conv2d_naive(digit, edge_filter)
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
# ### Task 6.3 — im2col for one channel (2 points)
#
# im2col copies every patch into a row of a matrix, so that the whole convolution becomes one matrix product. Write `im2col_single(image, fh, fw, stride=1, pad=0)` for `image: (H, W)` that returns `cols: (H_out·W_out, fh·fw)`:
#
# - row `i * W_out + j` holds the patch at output position $(i, j)$ (the loop over `i` outside, over `j` inside),
# - flattened row by row (`patch.ravel()`), so that `cols @ filt.ravel()` gives the feature map, flattened.
#
# *Hint:* it is your loop from Task 6.2, with `cols[i * w_out + j] = patch.ravel()` instead of the sum.
#
# *Checked:* three images with non-square filters, strides and padding; the check tells you when the matrix is transposed or its rows or columns are in another order.


# %% dlcourse={"points": 2, "task": "6.3"}
def im2col_single(image, fh, fw, stride=1, pad=0):
    """Patches of image as rows. image: (H, W); returns cols: (H_out * W_out, fh * fw)."""
    # Hint: same loops as conv2d_naive; store patch.ravel() in row i * w_out + j.
    ### BEGIN SOLUTION
    padded = np.pad(image, pad)
    h_out = (image.shape[0] + 2 * pad - fh) // stride + 1
    w_out = (image.shape[1] + 2 * pad - fw) // stride + 1
    cols = np.zeros((h_out * w_out, fh * fw))
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[i * stride : i * stride + fh, j * stride : j * stride + fw]
            cols[i * w_out + j] = patch.ravel()
    return cols
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
# *Hint:* loop over the output positions only; `window = x[:, :, i*stride : i*stride + pool_h, j*stride : j*stride + pool_w]` holds that window for all samples and channels at once, and `window.max(axis=(2, 3))` is its maximum.
#
# *Checked:* three batches with non-square pools, overlapping windows (stride smaller than the pool), and all-negative values.


# %% dlcourse={"points": 2, "task": "6.4"}
def max_pool_forward(x, pool_h=2, pool_w=2, stride=2):
    """Max over each window. x: (N, C, H, W); returns (N, C, H_out, W_out)."""
    # Hint: two loops over the output positions; max over axes 2 and 3 of each window.
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
activated = np.maximum(conv2d_naive(digit, edge_filter), 0)[None, None]  # (1, 1, 24, 24)
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
# Your loop in Task 6.2 and the im2col product in Task 6.3 do the same multiplications. In three to five sentences: why is the im2col version (as `dlcourse` does it, for a batch and many filters) hundreds of times faster in numpy, and what does it cost in exchange? Use numbers for a 100-image batch of 28×28 digits and 5×5 filters.
#
# ### BEGIN SOLUTION
# The loop runs one tiny numpy operation per output pixel, per filter and per image, and each call costs microseconds of Python and numpy overhead while the arithmetic (25 multiply-adds) takes nanoseconds: for 100 images and 30 filters that is 100 × 30 × 576 ≈ 1.7 million calls. im2col moves all the work into two calls: one copy that builds a (100·576) × 25 matrix of patches, and one matrix product with the (25 × 30) filter matrix, which BLAS runs with cache-friendly blocking, vectorised instructions and several cores. The price is memory: every pixel is copied into up to 25 rows, so the patch matrix of 57,600 × 25 values is 25 times larger than the batch itself (5.8 MB in float32 here, much more for big images and filters), and a backward pass needs col2im to add the copies back.
# ### END SOLUTION

# %% [markdown]
# ## Done
#
# You wrote a convolution, the im2col trick and max pooling. Lesson 07 runs them backwards: how the gradient flows through a filter and a pooling window, and then a whole CNN is trained on MNIST.
