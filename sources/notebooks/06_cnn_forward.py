# %% [markdown]
# # 06 · CNN forward
#
# After this lesson you can compute what a convolutional layer does to an image, first with loops and then with one matrix product, and you can look inside a trained convolutional network (CNN) to see what its filters respond to.
#
# **Goals**
#
# - Slide a filter over an image and predict the size of the feature map: $(H + 2P - F)/S + 1$.
# - Write a convolution with loops, understand the im2col version that `dlcourse` uses, and measure how much faster it is.
# - Handle padding, stride, several input channels and several filters, with a bias and ReLU.
# - Compute max pooling and say what it is for.
# - Explore the feature maps of an untrained and a trained CNN interactively.
#
# **You need:** lesson 04 (MLP on MNIST) and lesson 05 (layers with `forward` and `backward`).
#
# **Time:** about 90 minutes.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Markdown, display

from dlcourse.config import seed_everything, sized
from dlcourse.data import load_mnist

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
timing_batch = sized(100, 20)  # images in the loop-versus-im2col timing (section 5)

# %% [markdown]
# ## 1. Why images need another kind of layer
#
# The network of lesson 04 flattened each 28×28 digit into a row of 784 numbers. Its first layer gives every pixel its own weight for every hidden unit, and it does not know which pixels are neighbours: shuffle the pixels of every image the same way and it would learn just as well. A stroke moved two pixels to the right is, for that layer, a different input that it has to learn again.
#
# A **convolutional layer** keeps the image as an image. It looks at small neighbourhoods, say 5×5 pixels, through a **filter** (also called a kernel): a small grid of weights. It slides the same filter over every position, so a pattern that the filter detects is found wherever it appears, and the layer needs far fewer weights:
#
# | layer | weights and biases |
# |---|---|
# | affine 784 → 100 (lesson 04) | 784 · 100 + 100 = 78,500 |
# | convolution, 30 filters of 5×5 | 30 · 25 + 30 = 780 |
#
# The result of one filter is again an image, the **feature map**: bright where the neighbourhood looks like the filter. This lesson builds that layer, forward only; lesson 07 trains it. The source article of these lessons (see Sources at the end) started exactly here, with one 5×5 filter on MNIST, and its loops took about 5 hours<!-- quoted: 週末のディープラーニング, 社畜エンジニア発掘戦線 --> to train. You will see why, and measure how much faster the same computation can be.
#
# The data comes as images this time: `flatten=False` gives the shape $(N, C, H, W)$ = (samples, channels, height, width), with one channel for grey-level digits.

# %%
data = load_mnist(flatten=False)
x_train, labels_train = data.x_train, data.t_train
x_test, labels_test = data.x_test, data.t_test
print("x_train:", x_train.shape, x_train.dtype)


# %% [markdown]
# ## 2. Convolution by hand
#
# Put the filter $W$ (size $F_H \times F_W$) on the top-left corner of the image $x$, multiply the overlapping numbers pairwise and add them up: that is one output value. Move the filter one pixel to the right and repeat; at the end of a row, go back to the left and one pixel down. With $(i, j)$ for the output position and $(u, v)$ for the offset inside the filter (the notation of lesson 00), the output value at $(i, j)$ is
#
# $$\text{out}[i, j] = \sum_{u=0}^{F_H - 1} \sum_{v=0}^{F_W - 1} x[i + u,\; j + v]\; W[u, v].$$
#
# (Signal processing flips the filter before sliding it and calls only that a convolution; deep-learning libraries do not flip, strictly a *cross-correlation*, and still call it convolution. Since the filter is learned, the difference does not matter: a network would simply learn the flipped filter.)
#
# A small example makes it concrete. The image below is a diagonal line; the first filter is a short diagonal, the second a short anti-diagonal. The first one answers 3 exactly where the line runs through its window: it *matches*. The second answers at most 1 anywhere.


# %%
def conv2d_loop(image, W):
    """Slide W over image, no padding, stride 1. image: (H, W_img), W: (FH, FW)."""
    fh, fw = W.shape
    h_out, w_out = image.shape[0] - fh + 1, image.shape[1] - fw + 1
    out = np.zeros((h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            patch = image[i : i + fh, j : j + fw]
            out[i, j] = np.sum(patch * W)  # multiply pairwise, add up
    return out


# %%
# NBVAL_CHECK_OUTPUT
line = np.eye(5)  # a diagonal line in a 5×5 image
diagonal, anti_diagonal = np.eye(3), np.fliplr(np.eye(3))
print("diagonal filter:\n", conv2d_loop(line, diagonal))
print("anti-diagonal filter:\n", conv2d_loop(line, anti_diagonal))

# %% [markdown]
# Now a real digit and a 5×5 filter. In MNIST a pixel is 1 where there is ink and 0 on paper. The filter below has negative weights in its top rows and positive weights in its bottom rows, so it responds positively where paper lies above ink, at the top edge of a horizontal stroke, and negatively at the bottom edge, where ink lies above paper. A 5×5 filter fits $28 - 5 + 1 = 24$ times along each axis, so the feature map is 24×24.

# %%
# NBVAL_CHECK_OUTPUT
sample = int(np.flatnonzero(labels_train == 7)[0])  # the first 7: it has a horizontal bar
digit = x_train[sample, 0]  # (28, 28): channel 0 of that sample
top_edge = np.array([[-1.0] * 5, [-1.0] * 5, [0.0] * 5, [1.0] * 5, [1.0] * 5]) / 10
feature_map = conv2d_loop(digit, top_edge)
print(f"image {digit.shape} * filter {top_edge.shape} -> feature map {feature_map.shape}")


# %%
def show_maps(pictures, titles, suptitle, cmap="RdBu_r", symmetric=True, width=3.0):
    """Show 2-D arrays side by side with one colour bar; symmetric maps centre 0 on white."""
    fig, axes = plt.subplots(
        1, len(pictures), figsize=(width * len(pictures) + 1, width + 0.6), layout="constrained"
    )
    limit = max(np.abs(p).max() for p in pictures) if symmetric else None
    for ax, picture, title in zip(np.atleast_1d(axes), pictures, titles):
        shown = ax.imshow(
            picture,
            cmap=cmap,
            vmin=-limit if symmetric else None,
            vmax=limit if symmetric else None,
        )
        ax.set(title=title, xlabel="column", ylabel="row")
    fig.colorbar(shown, ax=axes, label="value", shrink=0.85)
    fig.suptitle(suptitle)
    plt.show()


show_maps(
    [digit, top_edge, feature_map],
    [f"input, label {labels_train[sample]} (28×28)", "filter (5×5)", "feature map (24×24)"],
    "The top-edge filter is positive (red) on top of horizontal strokes, negative (blue) below",
)


# %% [markdown]
# *Figure: left, a training 7 (ink is 1, red; paper is 0, white); middle, the 5×5 filter, blue rows on top and red rows below; right, its 24×24 feature map. Notice that the map is red along the upper edge of the horizontal bar and blue along its lower edge, weak along the steep stroke and zero on empty paper, and 4 pixels smaller than the image on each axis.*

# %% [markdown]
# ## 3. Output size, padding and stride
#
# Two more settings change where the filter goes:
#
# - **Padding** $P$ adds $P$ rows and columns of zeros around the image before sliding. Without it every layer shrinks the image by $F - 1$ pixels and the border pixels are seen by fewer windows; with $P = (F - 1)/2$ the output keeps the input's size.
# - **Stride** $S$ moves the filter $S$ pixels at a time instead of one, which shrinks the output about $S$ times on each axis.
#
# Along one axis, the padded input has $H + 2P$ pixels; the filter's top-left corner can sit at $0, S, 2S, \dots$ as long as the filter still fits, which gives
#
# $$H_\text{out} = \frac{H + 2P - F}{S} + 1, \qquad W_\text{out} = \frac{W + 2P - F_W}{S} + 1.$$
#
# When the division is not exact, the last pixels would be left out; most libraries silently drop them, and `dlcourse` refuses (with an error saying so) because it is usually a mistake. The table lists a few settings for a 28-pixel-wide digit.


# %%
# NBVAL_CHECK_OUTPUT
def output_size_table(size, settings):
    """Print (H + 2P − F) / S + 1 for each (F, S, P), or why the filter does not fit."""
    print(f"{'F':>3} {'S':>3} {'P':>3}   output size for H = {size}")
    for filter_size, stride, pad in settings:
        span = size + 2 * pad - filter_size
        result = span // stride + 1 if span % stride == 0 else f"({span}/{stride} + 1 is not whole)"
        print(f"{filter_size:>3} {stride:>3} {pad:>3}   {result}")


output_size_table(28, [(5, 1, 0), (5, 1, 2), (3, 1, 1), (5, 2, 0), (4, 2, 1), (2, 2, 0)])


# %% [markdown]
# The last row, a 2×2 window moved 2 pixels at a time, is the max pooling of section 6. Let us extend the loop with padding and stride and look at the "same" padding of a 5×5 filter, $P = 2$:


# %%
def conv2d_loop(image, W, stride=1, pad=0):
    """Slide W over image. image: (H, W_img), W: (FH, FW) -> (H_out, W_out)."""
    fh, fw = W.shape
    padded = np.pad(image, pad)  # pad zeros on every side
    h_out = (image.shape[0] + 2 * pad - fh) // stride + 1
    w_out = (image.shape[1] + 2 * pad - fw) // stride + 1
    out = np.zeros((h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            patch = padded[i * stride : i * stride + fh, j * stride : j * stride + fw]
            out[i, j] = np.sum(patch * W)
    return out


# %%
# NBVAL_CHECK_OUTPUT
same = conv2d_loop(digit, top_edge, pad=2)
strided = conv2d_loop(digit, top_edge[:4, :4], stride=2, pad=1)
print("pad 2:", same.shape, "  4×4 filter, stride 2, pad 1:", strided.shape)

# %%
show_maps(
    [np.pad(digit, 2), same, strided],
    ["input padded by 2 (32×32)", "pad 2, stride 1 (28×28)", "4×4 filter, pad 1, stride 2 (14×14)"],
    "Padding keeps the size; a stride of 2 halves it",
)


# %% [markdown]
# *Figure: left, the digit with a 2-pixel frame of zeros; middle, the top-edge feature map with that padding, as large as the original digit; right, a 4×4 corner of the same filter moved 2 pixels at a time over the digit padded by 1, giving a coarser 14×14 map. Notice that all three show the same strokes: stride changes the resolution, not what is detected.*

# %% [markdown]
# ## 4. Channels, several filters, bias and ReLU
#
# A real layer works on a batch of images with several **channels** (red, green and blue for a photo; after the first layer, one channel per filter of the layer below) and applies several **filters** at once. Each filter spans all input channels, and each has one bias:
#
# | array | shape |
# |---|---|
# | input `x` | $(N, C, H, W)$ |
# | filters `W` | $(F, C, F_H, F_W)$ |
# | biases `b` | $(F,)$ |
# | output | $(N, F, H_\text{out}, W_\text{out})$ |
#
# $$\text{out}[n, f, i, j] = b[f] + \sum_{c=0}^{C-1} \sum_{u=0}^{F_H-1} \sum_{v=0}^{F_W-1} x[n, c,\; iS + u,\; jS + v]\; W[f, c, u, v]$$
#
# The bias is added to every position of the map, so a filter with a negative bias only passes strong matches: after the ReLU, $\max(z, 0)$, weak responses become exactly 0. (The source's first CNN kept a separate bias for each of the 576 pixels of its map. Sharing one per filter is what lets a filter detect its pattern equally everywhere, and it saves 575 weights.)
#
# The loop below is the whole forward pass of a convolutional layer, written the slow way: four nested loops, over samples, filters and output positions. It is what the source's network did for each training step, with one filter.


# %%
def conv_forward_loop(x, W, b, stride=1, pad=0):
    """Loops. x: (N, C, H, W), W: (F, C, FH, FW), b: (F,) -> (N, F, H_out, W_out)."""
    n_samples, _, height, width = x.shape
    n_filters, _, fh, fw = W.shape
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out = (height + 2 * pad - fh) // stride + 1
    w_out = (width + 2 * pad - fw) // stride + 1
    out = np.zeros((n_samples, n_filters, h_out, w_out), dtype=x.dtype)
    for n in range(n_samples):
        for f in range(n_filters):
            for i in range(h_out):
                for j in range(w_out):
                    patch = padded[n, :, i * stride : i * stride + fh, j * stride : j * stride + fw]
                    out[n, f, i, j] = np.sum(patch * W[f]) + b[f]
    return out


# %% [markdown]
# Four hand-made 5×5 filters: the top edge of a stroke, the left edge of a stroke, and lines along both diagonals (positive on a band around the diagonal, negative far from it). With a bias of $-0.2$ and a ReLU, each map keeps only the places where its pattern is clearly present.

# %%
# NBVAL_CHECK_OUTPUT
rows, cols = np.indices((5, 5))
distance = np.abs(rows - cols)  # distance from the main diagonal
diagonal_line = np.where(distance <= 1, 1.0, np.where(distance >= 3, -1.0, 0.0)) / 8
hand_filters = np.stack([top_edge, top_edge.T, diagonal_line, np.fliplr(diagonal_line)])
hand_filters = hand_filters[:, None].astype(np.float32)  # (F, C, FH, FW) = (4, 1, 5, 5)
hand_bias = np.full(4, -0.2, dtype=np.float32)
filter_names = ["top edge", "left edge", "line \\", "line /"]

z = conv_forward_loop(x_train[sample : sample + 1], hand_filters, hand_bias, pad=2)
activated = np.maximum(z, 0)
print("filters:", hand_filters.shape, " output:", activated.shape)

# %%
print(f"share of the map's values that ReLU set to 0: {np.mean(activated == 0):.0%}")
fig, axes = plt.subplots(2, 4, figsize=(10, 5.4), layout="constrained")
limit = np.abs(hand_filters).max()
for k in range(4):
    filt_img = axes[0, k].imshow(hand_filters[k, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[0, k].set_title(f"filter: {filter_names[k]}")
    map_img = axes[1, k].imshow(activated[0, k], cmap="Reds", vmin=0, vmax=activated.max())
    axes[1, k].set_title("ReLU(conv + b)")
for ax in axes.flat:
    ax.set(xticks=[], yticks=[])
fig.colorbar(filt_img, ax=axes[0], label="weight", shrink=0.8)
fig.colorbar(map_img, ax=axes[1], label="activation", shrink=0.8)
fig.suptitle("Each filter lights up where its pattern is in the digit")
plt.show()


# %% [markdown]
# *Figure: top row, four 5×5 filters (red positive, blue negative weights); bottom row, the feature maps of the same digit after adding the bias −0.2 and applying ReLU, dark red where the response is strong, white where it is zero. Notice that the bar of the 7 lights up the top-edge map, its slanted stroke the left-edge map and the "/" line map, and hardly the "\\" line map: four filters give four different views of one image.*

# %% [markdown]
# ## 5. im2col: a convolution as one matrix product
#
# The loop is correct but slow: each `np.sum(patch * W)` does 25 multiplications and costs a few microseconds of Python overhead, millions of times per epoch. The trick every CPU deep-learning library uses is to **rearrange the input so that the whole convolution becomes one matrix product**, which numpy hands to an optimised BLAS routine. The rearrangement is called **im2col** ("image to columns"):
#
# 1. For each sample and each output position $(n, i, j)$, copy the patch under the filter, all $C$ channels of it, into one row of a matrix. The matrix `cols` has $N \cdot H_\text{out} \cdot W_\text{out}$ rows and $C \cdot F_H \cdot F_W$ columns.
# 2. Reshape the filters into a matrix `W_col` of shape $(F,\; C \cdot F_H \cdot F_W)$: one row per filter, flattened in the same order as the patches.
# 3. Then every output value is a row of `cols` times a row of `W_col`: `out = cols @ W_col.T + b` gives $(N \cdot H_\text{out} \cdot W_\text{out},\; F)$ in one call.
# 4. Reshape it to $(N, H_\text{out}, W_\text{out}, F)$ and move the filter axis forward: $(N, F, H_\text{out}, W_\text{out})$.
#
# Here is step 1 on a tiny 4×4 image (the numbers 0 to 15) with a 3×3 filter: 2×2 output positions, so 4 rows of 9 numbers.


# %%
def im2col(x, fh, fw, stride=1, pad=0):
    """Patches as rows. x: (N, C, H, W) -> cols: (N * H_out * W_out, C * fh * fw).

    Loops only over the fh * fw offsets inside the filter: offset (u, v) of every patch is
    one strided slice of the padded input, copied for all samples and positions at once.
    """
    n_samples, channels, height, width = x.shape
    h_out = (height + 2 * pad - fh) // stride + 1
    w_out = (width + 2 * pad - fw) // stride + 1
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    patches = np.empty((n_samples, channels, fh, fw, h_out, w_out), dtype=x.dtype)
    for u in range(fh):
        for v in range(fw):
            patches[:, :, u, v] = padded[
                :, :, u : u + stride * h_out : stride, v : v + stride * w_out : stride
            ]
    # (N, C, fh, fw, H_out, W_out) -> (N, H_out, W_out, C, fh, fw) -> one patch per row
    return patches.transpose(0, 4, 5, 1, 2, 3).reshape(n_samples * h_out * w_out, -1)


# %%
# NBVAL_CHECK_OUTPUT
tiny = np.arange(16.0).reshape(1, 1, 4, 4)
print("image:\n", tiny[0, 0])
print("cols (one patch per row):\n", im2col(tiny, 3, 3))


# %% [markdown]
# Row 0 is the top-left 3×3 patch read row by row (0, 1, 2, 4, 5, 6, 8, 9, 10), row 1 the patch one step to the right, rows 2 and 3 the two patches one step down. Steps 2 to 4 finish the layer:


# %%
def conv_forward_im2col(x, W, b, stride=1, pad=0):
    """One matrix product. x: (N, C, H, W), W: (F, C, FH, FW) -> (N, F, H_out, W_out)."""
    n_samples, _, height, width = x.shape
    n_filters, _, fh, fw = W.shape
    h_out = (height + 2 * pad - fh) // stride + 1
    w_out = (width + 2 * pad - fw) // stride + 1
    cols = im2col(x, fh, fw, stride, pad)  # step 1: (N * H_out * W_out, C * FH * FW)
    W_col = W.reshape(n_filters, -1)  # step 2: (F, C * FH * FW)
    out = cols @ W_col.T + b  # step 3: (N * H_out * W_out, F)
    return out.reshape(n_samples, h_out, w_out, n_filters).transpose(0, 3, 1, 2)  # step 4


# %%
# NBVAL_CHECK_OUTPUT
by_loop = conv_forward_loop(x_train[:3], hand_filters, hand_bias, pad=2)
by_matrix = conv_forward_im2col(x_train[:3], hand_filters, hand_bias, pad=2)
print("im2col equals the loop:", np.allclose(by_loop, by_matrix, atol=1e-6))

# %% [markdown]
# `dlcourse` implements exactly this in `dlcourse.conv`: the function `im2col`, and the layer `Conv2D(W, b, stride, pad)` whose `forward` does steps 1 to 4, in the same order and with the same transpose at the end, and keeps `x` and `cols` for the backward pass of lesson 07 (run `Conv2D??` in a cell to read it: each method fits on one screen). The networks of `dlcourse.convnets` use a faster layer with the same numbers, `dlcourse.fastconv.FastConv2D`; lesson 07 explains where its speed comes from. Let us check that `Conv2D` gives the same numbers as the loop, then time both on the same batch of digits with one 5×5 filter, the network the source trained.

# %%
# NBVAL_CHECK_OUTPUT
from dlcourse.conv import Conv2D, MaxPool2D
from dlcourse.conv import im2col as dl_im2col

print("dlcourse im2col matches ours:", np.array_equal(dl_im2col(tiny, 3, 3), im2col(tiny, 3, 3)))

W_one = (rng.standard_normal((1, 1, 5, 5)) * 0.1).astype(np.float32)  # one 5×5 filter
b_one = np.zeros(1, dtype=np.float32)
batch = x_train[:timing_batch]
conv_layer = Conv2D(W_one, b_one)
difference = np.max(np.abs(conv_layer.forward(batch) - conv_forward_loop(batch, W_one, b_one)))
print("max abs difference < 1e-5:", bool(difference < 1e-5))


# %%
# NBVAL_IGNORE_OUTPUT
def seconds(func, repeat):
    """Best wall-clock time of func() over `repeat` runs."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


loop_s = seconds(lambda: conv_forward_loop(batch, W_one, b_one), repeat=1)
vec_s = seconds(lambda: conv_layer.forward(batch), repeat=20)
print(f"{len(batch)} digits, one 5×5 filter:")
print(f"  loops (conv_forward_loop): {loop_s * 1e3:9.2f} ms")
print(f"  im2col (Conv2D.forward)  : {vec_s * 1e3:9.2f} ms")
print(f"  speed-up                 : {loop_s / vec_s:9.0f}×")

# %% [markdown]
# %%
# NBVAL_IGNORE_OUTPUT
display(
    Markdown(
        f"In this run the loop took **{loop_s * 1e3:,.0f} ms** for {len(batch)} digits and "
        f"`Conv2D.forward` **{vec_s * 1e3:.2f} ms**: **{loop_s / vec_s:,.0f}×** faster, "
        "for the same arithmetic."
    )
)

# %% [markdown]
# Your numbers will differ with the machine and its load, and the loop's time grows with the batch; the ratio is the point. The source ran its loops for 3,000 training steps, each with a forward and a backward pass over 100 digits, and waited 18,282 s<!-- quoted: 週末のディープラーニング, 社畜エンジニア発掘戦線 -->, about 5 hours<!-- quoted: 週末のディープラーニング -->. Lesson 07 trains the same network with im2col and times it.
#
# The price of im2col is memory: each pixel is copied into up to $F_H F_W$ rows. How much bigger than the batch is `cols`? Not quite $F_H F_W$ times: a 5×5 filter has only $24 \times 24 = 576$ positions on a 28×28 digit, so the factor is $25 \cdot 576 / 784$. The next cell reads the shapes.

# %%
# NBVAL_CHECK_OUTPUT
digit = batch[:1]  # (1, 1, 28, 28): the ratio is the same for any number of digits
digit_cols = dl_im2col(digit, 5, 5)  # the `cols` of a 5×5 filter on it
print(f"one digit {digit.shape}: {digit.size:,} numbers")
print(f"its cols {digit_cols.shape}: {digit_cols.size:,} numbers")
print(f"cols / batch = {digit_cols.size / digit.size:.1f}")

# %% [markdown]
# That is why `dlcourse` predicts and evaluates in batches.

# %% [markdown]
# ## 6. Max pooling
#
# A **max-pooling** layer shrinks each feature map by keeping the largest value of every small window, usually 2×2 windows moved 2 pixels at a time:
#
# $$\text{out}[n, c, i, j] = \max_{0 \le u < 2,\; 0 \le v < 2} \; x[n, c,\; 2i + u,\; 2j + v].$$
#
# It has no weights. It works on every channel separately, keeps the strongest response of each neighbourhood and forgets exactly where in the window it was, which makes the network tolerant to shifts of a pixel or so; and it cuts the values the next layer must handle by 4. A tiny example:

# %%
# NBVAL_CHECK_OUTPUT
small = np.array([[1, 3, 0, 2], [4, 2, 1, 1], [0, 1, 5, 6], [2, 2, 7, 0]], dtype=float)
pooled_small = MaxPool2D(pool_h=2, pool_w=2, stride=2).forward(small[None, None])
print("input:\n", small)
print("2×2 max pool:\n", pooled_small[0, 0])

# %%
pool = MaxPool2D(pool_h=2, pool_w=2, stride=2)
pooled = pool.forward(activated)  # (1, 4, 28, 28) -> (1, 4, 14, 14)

fig, axes = plt.subplots(2, 4, figsize=(10, 5.4), layout="constrained")
for k in range(4):
    axes[0, k].imshow(activated[0, k], cmap="Reds", vmin=0, vmax=activated.max())
    axes[0, k].set_title(f"{filter_names[k]} (28×28)")
    shown = axes[1, k].imshow(pooled[0, k], cmap="Reds", vmin=0, vmax=activated.max())
    axes[1, k].set_title("after max pool (14×14)")
for ax in axes.flat:
    ax.set(xticks=[], yticks=[])
fig.colorbar(shown, ax=axes, label="activation", shrink=0.8)
fig.suptitle("Max pooling keeps each strong response at a quarter of the pixels")
plt.show()

# %% [markdown]
# *Figure: top row, the four ReLU feature maps of section 4 (28×28); bottom row, the same maps after 2×2 max pooling (14×14). Notice that every stroke a filter found is still there, a little blockier: pooling keeps what was detected and roughly where, and drops the exact pixel.*

# %% [markdown]
# ## 7. A whole CNN, forward
#
# Stack the pieces and end with the layers of lesson 05. The network the rest of the course calls **SimpleConvNet** is
#
# $$\text{conv } 30 \times 5 \times 5 \;\to\; \text{ReLU} \;\to\; \text{max pool } 2 \times 2 \;\to\; \text{affine } 100 \;\to\; \text{ReLU} \;\to\; \text{affine } 10 \;\to\; \text{softmax}.$$
#
# `dlcourse.convnets.simple_convnet` builds it as a `Sequential` model with random (He-initialised) weights. Its summary shows how the shapes flow: 30 maps of 24×24, pooled to 12×12, flattened to 4,320 numbers for the affine layer.

# %%
from dlcourse.convnets import simple_convnet

untrained = simple_convnet(rng=0)
print(untrained.summary((1, 28, 28)))

# %%
# NBVAL_CHECK_OUTPUT
scores = untrained.predict(x_test[:5])
probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
probabilities /= probabilities.sum(axis=1, keepdims=True)
print("scores shape:", scores.shape)
print("each row of probabilities sums to 1:", bool(np.allclose(probabilities.sum(axis=1), 1)))

# %%
# NBVAL_IGNORE_OUTPUT
print("labels:     ", labels_test[:5])
print("predictions:", scores.argmax(axis=1))
print("untrained accuracy on the test digits:", f"{untrained.accuracy(x_test, labels_test):.3f}")

# %% [markdown]
# Untrained, the network guesses: its accuracy (printed above) is near chance, one class in ten. Lesson 07 computes the gradients and trains it.

# %% [markdown]
# ## 8. Inside a CNN: the feature-map explorer
#
# The explorer below shows, for a digit you pick, the filters of the first layer and the feature maps they produce, after the convolution, after ReLU and after pooling. Use the controls to change the digit, the filter and the layer.
#
# First the untrained network: its 30 filters are random noise, and their maps are blurred copies of the digit, all much alike.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcourse.widgets import feature_map_explorer

explorer_digits = x_test[: sized(50, 20)]
explorer_labels = labels_test[: sized(50, 20)]
feature_map_explorer(untrained, explorer_digits, explorer_labels)

# %% [markdown]
# Now the same architecture after training. `dlcourse` ships one trained SimpleConvNet as a small `.npz` file (weights only, no pickle), so you can look at it before lesson 07 trains your own. Its filters started as small random numbers, $N(0, 0.01^2)$ as in the source, so what you see in them now is what training put there.
#
# How much did they change? The file records the seed of the network's initial weights, so we can rebuild them and compare each trained filter $w$ with the filter $w_0$ it started from by their **cosine similarity** $\frac{w \cdot w_0}{\lVert w \rVert \, \lVert w_0 \rVert}$ (both flattened to 25 numbers): 1 means the filter still points the way it started, 0 means the two patterns are unrelated.

# %%
# NBVAL_CHECK_OUTPUT
from dlcourse.convnets import filter_cosines, load_pretrained_convnet, pretrained_metadata

trained = load_pretrained_convnet()
trained_accuracy = trained.accuracy(x_test, labels_test)
shipped = pretrained_metadata()  # the command, data and seed that made the file
initial = simple_convnet(**{**shipped["factory_kwargs"], "rng": shipped["initial_seed"]})
cosines = filter_cosines(trained.params["conv1.W"], initial.params["conv1.W"])  # (30,)
print("shipped network, test accuracy >= 0.975:", bool(trained_accuracy >= 0.975))
print("median cosine similarity to the initial filters < 0.9:", bool(np.median(cosines) < 0.9))

# %%
# NBVAL_IGNORE_OUTPUT
print(f"shipped network, test accuracy: {trained_accuracy:.3f} ({data.source} test digits)")
print(f"median cosine similarity of a trained filter to its initial one: {np.median(cosines):.2f}")
print(f"made by: {shipped['command']}")
feature_map_explorer(trained, explorer_digits, explorer_labels)

# %% [markdown]
# Things to try: pick a digit and step through the filters. Trained filters look like small strokes and edges at different angles, and each lights up a different part of the digit; after pooling, the maps are coarse but still recognisably the digit's strokes. Compare a 1 and a 7, or a 3 and an 8: which filters tell them apart?

# %% [markdown]
# ## Summary
#
# - A convolutional layer slides small filters over the image; each filter gives a feature map, bright where the neighbourhood looks like the filter. With $F \times F$ filters, padding $P$ and stride $S$, the map has $(H + 2P - F)/S + 1$ pixels per axis: 24×24 for a 5×5 filter on a 28×28 digit.
# - A layer maps $(N, C, H, W)$ to $(N, F, H_\text{out}, W_\text{out})$ with filters $(F, C, F_H, F_W)$ and one bias per filter; ReLU then zeroes the weak responses.
# - The loop version is easy to read and very slow. im2col copies the patches into a matrix so that the layer is one matrix product; section 5 measures how much faster it is on the same batch, at the cost of memory (for a 5×5 filter on 28×28 digits `cols` holds $25 \cdot 576 / 784$ times the numbers of the batch).
# - Max pooling keeps the largest value of each 2×2 window: a quarter of the values, tolerance to small shifts, no weights.
# - SimpleConvNet stacks conv 30×5×5, ReLU, pooling and two affine layers. Untrained it guesses; the shipped trained copy reaches the accuracy printed in section 8 on the 1,000 offline test digits (20 epochs of Adam on randomly shifted digits, the recipe lesson 07 explains). It was trained on the 4,000 offline digits with `python benchmarks/accuracy.py --model cnn-pretrained --save dlcourse/_data/simple_convnet_mnist.npz` (its filters starting at $N(0, 0.01^2)$), because the full MNIST set could not be downloaded there; its accuracy on the full test set was not measured.
#
# Reproduce the committed outputs with `python scripts/build_notebooks.py sources/notebooks/06_cnn_forward.py` (full mode, offline digits).
#
# ## Next
#
# Lesson 07 computes the gradients of convolution and pooling, checks them numerically, trains the source's one-filter network in a small fraction of its 5 hours<!-- quoted: 週末のディープラーニング, 社畜エンジニア発掘戦線 -->, and then trains SimpleConvNet on MNIST. The assignment of this lesson, `exercises/06_cnn_forward.ipynb`, has you work out the shapes and parameter counts of a whole network, and write the convolution, im2col and max pooling (with the switches its backward pass needs) yourself.

# %% [markdown]
# **Sources.** The one-filter CNN on MNIST, written with loops, and its 3,000 training steps that took 18,282 s<!-- quoted: 週末のディープラーニング --> come from 「週末のディープラーニング」 on the blog 社畜エンジニア発掘戦線 (shachicode.hatenablog.com). The im2col formulation, the timings and the explorer are this course's own.
