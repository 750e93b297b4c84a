# %% [markdown]
# # Assignment 06 · CNN forward
#
# In lesson 06 you saw how a convolutional layer turns an image into feature maps. Here you write the pieces yourself: the shapes and parameter counts of a whole network, a convolution with loops, the im2col rearrangement that turns it into a matrix product, and max pooling with the switches its backward pass needs.
#
# **Points:** 11 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 6.1 passed` or a reason you can act on. Run it as often as you like. Each task takes one of lesson 06's steps further: the output-size formula applied to a whole network, the convolution and the pooling looping over the window instead of the image, im2col with no loop at all.
#
# **You need:** lesson 06 (sections 2–7).
#
# **Time:** about 75 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything
from dlcourse.convnets import simple_convnet
from dlcourse.data import load_mnist

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")


# %% [markdown]
# ### Task 6.1 — the shapes and parameter counts of a whole network (2 points)
#
# Before a CNN runs, you can work out on paper what every layer receives and returns, and how many weights it has: that is how you catch a layer that does not fit, or one that holds almost all the parameters. Write `network_shapes(input_shape, layers)` for one image `input_shape = (C, H, W)` (no batch axis) and a list of layer specs, plain tuples:
#
# | spec | output shape for input $(C, H, W)$ or $(D,)$ | parameters |
# | --- | --- | --- |
# | `("conv", filters, fh, fw, stride, pad)` | `(filters, H_out, W_out)` | filters·C·fh·fw + filters |
# | `("pool", ph, pw, stride)` | `(C, H_out, W_out)`, no padding | 0 |
# | `("relu",)` | unchanged | 0 |
# | `("flatten",)` | `(C·H·W,)` | 0 |
# | `("affine", units)` | `(units,)`; needs a flat input `(D,)` | D·units + units |
#
# Return a list with one pair `(shape, n_params)` per layer: `shape` a tuple of ints, `n_params` an int (the input gets no row). Raise `ValueError` with a message that names the layer's index, its spec and why, when a window does not fit ($H + 2P - F$ negative or not divisible by $S$, on either axis), when an affine layer gets an input that is not flat, or when the kind of layer is unknown.
#
# *Hint:* lesson 06, section 3 (output size, padding and stride: when is the number of positions not a whole number?) and section 7 (the whole CNN, whose summary your function can reproduce). Carry the current shape from one layer to the next.
#
# *Checked:* three random CNNs (two convolutions, one with padding and one with stride 2, non-square images, filters and pools, several channels), layer by layer, and five networks whose layer 2 or 3 must raise: a convolution and a pooling that leave pixels out, a filter larger than its input, an affine layer on an unflattened input, an unknown kind. The check names a forgotten bias, input channel or `+ 1`, a missing padding, and a pooling or convolution with the wrong number of channels.


# %% dlcourse={"points": 2, "task": "6.1"}
def network_shapes(input_shape, layers):
    """Output shape and parameter count of every layer, for one image input_shape = (C, H, W).

    layers: specs ("conv", filters, fh, fw, stride, pad), ("pool", ph, pw, stride), ("relu",),
    ("flatten",), ("affine", units). Returns [(shape, n_params), ...], one pair per layer.
    """
    # Hint: check that each window fits before you divide; then carry the shape along.
    ### BEGIN SOLUTION
    shape, table = tuple(input_shape), []

    def positions(size, window, stride, pad, index, spec):
        span = size + 2 * pad - window
        if span < 0 or span % stride != 0:
            raise ValueError(
                f"layer {index} {spec}: a window of {window} with stride {stride} does not fit "
                f"{size} + 2·{pad} pixels ({size} + 2·{pad} − {window} = {span})"
            )
        return span // stride + 1

    for index, spec in enumerate(layers):
        kind, *args = spec
        n_params = 0
        if kind == "conv":
            filters, fh, fw, stride, pad = args
            channels, h, w = shape
            h_out = positions(h, fh, stride, pad, index, spec)
            w_out = positions(w, fw, stride, pad, index, spec)
            shape = (filters, h_out, w_out)
            n_params = filters * channels * fh * fw + filters
        elif kind == "pool":
            ph, pw, stride = args
            channels, h, w = shape
            h_out = positions(h, ph, stride, 0, index, spec)
            shape = (channels, h_out, positions(w, pw, stride, 0, index, spec))
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        elif kind == "affine":
            if len(shape) != 1:
                raise ValueError(
                    f"layer {index} {spec}: an affine layer needs a flat input but gets shape "
                    f"{shape}; put a ('flatten',) layer before it"
                )
            (units,) = args
            n_params = shape[0] * units + units
            shape = (units,)
        elif kind != "relu":
            raise ValueError(f"layer {index} {spec}: unknown kind of layer {kind!r}")
        table.append((shape, n_params))
    return table
    ### END SOLUTION


# %% dlcourse={"check": "6.1"}
check("6.1", network_shapes)
### BEGIN HIDDEN TESTS
(conv_shape, conv_count), *_ = network_shapes((1, 28, 28), [("conv", 30, 5, 5, 1, 0)])
assert (tuple(conv_shape), conv_count) == ((30, 24, 24), 780)
*_, (flat_shape, flat_count) = network_shapes((3, 8, 8), [("pool", 2, 2, 2), ("flatten",)])
assert (tuple(flat_shape), flat_count) == ((48,), 0)
### END HIDDEN TESTS

# %% [markdown]
# Now run your function on SimpleConvNet, the network of lesson 06, section 7, and compare it with the summary `dlcourse` prints for the same architecture. The summary's layer names (`FastConv2D`, `FastMaxPool2D`) are the package's faster versions of the same layers; compare the output shapes and the parameter counts, the two things both tables state.

# %%
# NBVAL_CHECK_OUTPUT
simple_layers = [
    ("conv", 30, 5, 5, 1, 0),
    ("relu",),
    ("pool", 2, 2, 2),
    ("flatten",),
    ("affine", 100),
    ("relu",),
    ("affine", 10),
]
yours = network_shapes((1, 28, 28), simple_layers)
model = simple_convnet(rng=0)
print(model.summary((1, 28, 28)))
print()
print(f"{'your spec':<24} {'your shape':<14} {'parameters':>10}   same as the summary")
shape = (1, 28, 28)
for spec, (your_shape, your_count), layer in zip(
    simple_layers, yours, model.layers.values(), strict=True
):
    shape = tuple(layer.output_shape(shape))  # what the summary prints for this layer
    count = sum(p.size for p in layer.params.values())
    same = tuple(your_shape) == shape and your_count == count
    print(f"{spec!s:<24} {tuple(your_shape)!s:<14} {your_count:>10,}   {same}")
your_total = sum(count for _, count in yours)
print(f"{'total':<39} {your_total:>10,}   {your_total == model.num_params}")

# %% [markdown]
# The affine layer after the pooling holds almost all the weights of the network: every one of its 100 units looks at all 4,320 numbers of the flattened maps, while the 30 filters of the convolution share their 5×5 weights across every position of the image.

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
# ### Task 6.4 — max pooling with switches, looping over the window (3 points)
#
# Lesson 06 defines max pooling one output position at a time. Turn it inside out as you did for the convolution in Task 6.2. Write `max_pool_forward(x, pool_h=2, pool_w=2, stride=2)` for a batch of feature maps `x: (N, C, H, W)` (no padding) that returns a pair `(out, switches)`:
#
# - `out: (N, C, H_out, W_out)`, the maximum of every `pool_h × pool_w` window, for every sample and channel separately, with $H_\text{out} = (H - \text{pool\_h}) / \text{stride} + 1$ and likewise $W_\text{out}$; `out` has the dtype of `x` (a float32 batch gives a float32 `out`: a maximum is one of the values, nothing is computed);
# - `switches`, an **int** array of the same shape as `out`: for each window, the row-major offset `u * pool_w + v` of its **first** maximum, the index `np.argmax` of the flattened window would give. The backward pass of assignment 07 routes the gradient through exactly these offsets.
#
# Loop **only over the offsets** $(u, v)$ inside the window, `pool_h · pool_w` steps: for one offset, the values $x[:, :, i \cdot \text{stride} + u,\; j \cdot \text{stride} + v]$ of all windows form one strided slice of shape `(N, C, H_out, W_out)`. Keep a running maximum, starting from the values at offset (0, 0), and where a value is **strictly** larger, take it and record its offset: then, on a tie, the first maximum stays. Raise `ValueError` when the windows do not fit ($H - \text{pool\_h}$ or $W - \text{pool\_w}$ negative or not divisible by the stride), and do not change `x`.
#
# *Hint:* lesson 06, section 6 (max pooling, the formula with $(i, j)$ and $(u, v)$), and your Task 6.2 (one strided slice per offset). A slice of `x` is a view: writing into it writes into `x`.
#
# *Checked:* five batches from different seeds with non-square pools, overlapping windows (stride smaller than the pool), all-negative values, whole-number values with many ties and a float32 batch, and three sizes that must raise. The check names a maximum started at 0, the last maximum kept on a tie, offsets counted as `u * pool_h + v` or kept as pairs (u, v), an output size of `H // stride` (windows that hang over the border), mixed-up samples or channels and a changed `x`.


# %% dlcourse={"points": 3, "task": "6.4"}
def max_pool_forward(x, pool_h=2, pool_w=2, stride=2):
    """Max over each window, with the offset of its first maximum.

    x: (N, C, H, W); returns out: (N, C, H_out, W_out) of x's dtype and
    switches: (N, C, H_out, W_out) ints, the offset u * pool_w + v of each window's first maximum.
    """
    # Hint: one strided slice per offset (u, v); update where a value is strictly larger.
    ### BEGIN SOLUTION
    n, c, h, w = x.shape
    if h < pool_h or w < pool_w or (h - pool_h) % stride or (w - pool_w) % stride:
        raise ValueError(
            f"{pool_h}×{pool_w} windows with stride {stride} do not fit a {h}×{w} map: "
            "(H − pool_h) and (W − pool_w) must be multiples of the stride"
        )
    h_out = (h - pool_h) // stride + 1
    w_out = (w - pool_w) // stride + 1
    out = x[:, :, : stride * (h_out - 1) + 1 : stride, : stride * (w_out - 1) + 1 : stride].copy()
    switches = np.zeros((n, c, h_out, w_out), dtype=int)
    for u in range(pool_h):
        for v in range(pool_w):
            rows = slice(u, u + stride * (h_out - 1) + 1, stride)
            cols = slice(v, v + stride * (w_out - 1) + 1, stride)
            values = x[:, :, rows, cols]  # (N, C, H_out, W_out): offset (u, v) of every window
            larger = values > out
            out[larger] = values[larger]
            switches[larger] = u * pool_w + v
    return out, switches
    ### END SOLUTION


# %% dlcourse={"check": "6.4"}
check("6.4", max_pool_forward)
### BEGIN HIDDEN TESTS
tied = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
assert max_pool_forward(tied)[1][0, 0, 0, 0] == 1
### END HIDDEN TESTS

# %% [markdown]
# Pool the feature map of Task 6.2 after a ReLU, as a CNN layer would, and count where in their windows the maxima were: the switches are what the backward pass needs.

# %%
conv_out = conv2d_offsets(digit[None, None], edge_filter[None, None])  # (1, 1, 24, 24)
activated = np.maximum(conv_out, 0)
pooled, switches = max_pool_forward(activated)
print(f"{activated.shape} -> {pooled.shape}")
responding = pooled > 0  # windows that hold some response; the others are all zeros
offsets, counts = np.unique(switches[responding], return_counts=True)
print(f"windows with a response: {responding.sum()} of {responding.size}")
where = dict(zip(offsets.tolist(), counts.tolist(), strict=True))
print("where their maximum sits (offset u * 2 + v: count):", where)

fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.6), layout="constrained")
for ax, picture, title in zip(
    axes,
    (activated[0, 0], pooled[0, 0]),
    ("after ReLU (24×24)", "after 2×2 max pool (12×12)"),
    strict=True,
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
# You worked out the shapes of a whole network, wrote a convolution, the im2col trick and max pooling with its switches. Lesson 07 runs them backwards: how the gradient flows through a filter and a pooling window, and then a whole CNN is trained on MNIST.
