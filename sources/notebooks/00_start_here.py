# %% [markdown]
# # 00 · Start here
#
# This notebook shows you how the course works and checks that your computer is ready: by the end you will have looked at your first handwritten digits and know the notation every later lesson uses.
#
# **Goals**
#
# - Know how lessons, assignments, self-checks and the two run modes fit together.
# - Check your environment: Python and package versions, quick mode on or off.
# - See which MNIST data you have (the full set or the offline subset) and look at it.
# - Learn the notation table shared by all lessons.
#
# **You need:** Python and a little numpy (arrays, shapes, indexing). Nothing else.
#
# **Time:** 15 minutes.

# %% [markdown]
# ## 1. How the course works
#
# The course is a sequence of numbered notebooks in `notebooks/`. Each one teaches one idea with prose, maths and plots, and every piece of code it builds is visible. You will write a gradient descent, a softmax, a backpropagation and finally a convolutional network that reads handwritten digits, all in plain numpy.
#
# | # | lesson | you build |
# |---|---|---|
# | 00 | Start here | your environment, a first look at MNIST |
# | 01 | Gradient descent | numerical derivatives and the update rule |
# | 02 | Softmax and cross-entropy | a stable softmax, the loss, softmax regression on MNIST |
# | 03 | XOR | a two-layer network, backpropagation by hand |
# | 04 | MLP on MNIST | mini-batch training of a hidden-layer network |
# | 05 | Functionization | your code turned into layers and a package |
# | 06 | CNN forward | convolution and pooling, from loops to im2col |
# | 07 | CNN backward and training | the gradients of convolution, a CNN aiming at ≥ 99 % on full MNIST |
# | 08 | Regularization | overfitting made visible, and every remedy measured on one task |
# | 09 | Optimizers and initialization | SGD to Adam, learning-rate schedules, weight initialization |
# | 10 | The deep network | the source's capstone: everything together, the course's best digit reader |
# | 11 | Automatic differentiation | the machine that writes `backward()` for you |
#
# **Assignments.** Every lesson from 01 on has an assignment with the same number in `exercises/`. Each task asks you to write one function, and the cell right after it runs a **self-check** that prints either `✓ Task 2.1 passed` or a specific reason, such as a wrong shape or a NaN for large inputs. Run the self-check as often as you like: it is there to help you, not to grade you. (Your instructor grades with the same checks, run on a fresh copy of your notebook.)
#
# **The package.** Once a lesson has taught an idea in the open, later lessons import it from `dlcourse`, a small numpy package in this repository. Reading its source is part of the course: it is written to be read.
#
# **Two run modes.** Training runs are sized by `sized(full, quick)`. Normally you get the *full* runs, the ones whose outputs are committed with each lesson. The test suite sets `DLCOURSE_QUICK=1` to shrink them so that every notebook runs in seconds; you never need to set it yourself.

# %% [markdown]
# ## 2. Setup
#
# Every lesson starts with a cell like the next one: imports, a seed, and the run sizes. What does seeding guarantee? `seed_everything(0)` fixes the random numbers: the same weights, the same shuffles, the same augmentations on every run. Run a notebook from the top twice **on the same machine with the same library versions** and you get the same numbers. On another machine, or with another numpy or BLAS library, floating-point sums may be added in a different order and differ in the last digits. A healthy training run shrinks such differences, so your accuracies will agree with the committed ones to a digit or so; a run that *diverges* (lesson 04's largest learning rates) amplifies them, and there your numbers can be entirely different. That is why the checks in the lessons compare thresholds ("accuracy ≥ 0.86: True") rather than exact figures.

# %%
import platform

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

import dlcourse
from dlcourse.config import quick_mode, sized
from dlcourse.data import load_mnist

rng = dlcourse.seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
n_digits_shown = sized(32, 16)

# %% [markdown]
# ## 3. Environment check
#
# The next cell prints the versions you are running and whether quick mode is on. If a version is far older than the ones in `pyproject.toml`, re-run the README's setup command.

# %%
# NBVAL_IGNORE_OUTPUT
import ipywidgets

print(f"Python      {platform.python_version()}")
print(f"numpy       {np.__version__}")
print(f"matplotlib  {matplotlib.__version__}")
print(f"seaborn     {sns.__version__}")
print(f"ipywidgets  {ipywidgets.__version__}")
print(f"dlcourse    {dlcourse.__version__}")
mode = "on (DLCOURSE_QUICK=1): training runs are shrunk" if quick_mode() else "off: full runs"
print(f"quick mode  {mode}")

# %% [markdown]
# ## 4. Which MNIST data do you have?
#
# MNIST is a collection of 70,000 handwritten digits, 28×28 pixels each, that every lesson uses. `load_mnist()` downloads the full set once (four compressed files, checked against published SHA-256 checksums) and keeps it in a cache folder. Without internet, or when `DLCOURSE_OFFLINE=1` is set, it uses **5,000 real MNIST digits shipped with the course**, split into 4,000 for training and 1,000 for testing. It always prints one line saying which data you got, so a number you see is never silently from the small set.

# %%
data = load_mnist()
x_train, labels_train = data.x_train, data.t_train
print(f"training images: {x_train.shape}, test images: {data.x_test.shape}")

# %% [markdown]
# Whatever data you have, its form is the same: each image is a row of 784 pixel values scaled to $[0, 1]$ and stored as `float32`, and each label is an integer from 0 to 9. The next cell checks exactly that, and its output is the same on every machine.

# %%
# NBVAL_CHECK_OUTPUT
print("pixels per image:", x_train.shape[1])
print("dtype:", x_train.dtype)
print("pixel range within [0, 1]:", bool(x_train.min() >= 0 and x_train.max() <= 1))
print("classes:", np.unique(labels_train).tolist())

# %% [markdown]
# How many digits of each class are there? A classifier trained on a lopsided set learns the lopsidedness, so it is worth a look.

# %%
counts = np.bincount(labels_train, minlength=10)
fig, ax = plt.subplots(figsize=(6, 2.8))
ax.bar(np.arange(10), counts, color=sns.color_palette("colorblind")[0], label="training digits")
ax.set(
    xlabel="digit class",
    ylabel="number of images",
    xticks=range(10),
    title="Every class is about equally common",
)
ax.legend(loc="lower right")
plt.show()


# %% [markdown]
# *Figure: bar chart of how many training images each digit class 0–9 has. The bars are all about the same height (exactly 400 each in the offline subset, between about 5,400 and 6,700 in the full set), so no class dominates.*

# %% [markdown]
# ## 5. A first look at the digits
#
# A 784-pixel row is hard to read; reshaped to 28×28 it is a picture. The grid below shows the first training digits with their labels.


# %%
def show_digits(images, labels, n, columns=8):
    # Reshape flat (N, 784) rows to 28×28 pictures and lay them out in a labelled grid.
    rows = int(np.ceil(n / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3))
    for ax, image, label in zip(axes.flat, images[:n], labels[:n]):
        ax.imshow(image.reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"label {label}", fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    fig.suptitle("The first training digits and their labels")
    fig.tight_layout()
    plt.show()


show_digits(x_train, labels_train, n_digits_shown)

# %% [markdown]
# *Figure: a grid of handwritten digits in black on white, each titled with its true label. Notice how differently people write the same digit (open and closed 4s, slanted 1s): the network has to learn what stays the same.*

# %% [markdown]
# ## 6. Notation
#
# Every lesson uses the same names for the same ideas, in the maths and in the code.
#
# | symbol | code | meaning | typical shape |
# |---|---|---|---|
# | $x$ | `x` | input: a batch of samples | $(N, 784)$ or $(N, C, H, W)$ |
# | $t$ | `t` | target: one-hot rows (integer class labels are `labels`) | $(N, K)$; labels $(N,)$ |
# | $y$ | `y` | network output: class probabilities | $(N, K)$ |
# | $W$, $b$ | `W`, `b` | weights and biases of a layer | $(D, M)$, $(M,)$ |
# | $J$ or $L$ | `loss` | the loss, a single number averaged over the batch | scalar |
# | $\eta$ | `lr` | learning rate | scalar |
# | $\frac{\partial L}{\partial \text{out}}$ | `dout` | gradient flowing back into a layer from above | like the layer's output |
# | $\nabla_W L$ | `grads["W"]` | gradients, a dict keyed like the parameters | like each parameter |
# | $N$, $K$ | `N`, `K` | batch size, number of classes | |
# | $D$, $H$ | `D`, `H` | input features; hidden units (lessons 03–05; indexed by $j$) | |
# | $a$, $z$, $\delta$ | `a`, `z`, `delta` | scores before an activation, the activation's output $z = f(a)$, and $\delta = \partial L / \partial a$, the error at the scores | like the layer's output |
# | $\sigma$, $\odot$ | `sigmoid`, `*` | the sigmoid; the element-wise product | |
# | $h$ | `h` | the step of a numerical derivative, $10^{-4}$ | scalar |
#
# Images and convolutions (lessons 06–07) use these names. A letter never means two things in one formula: in particular $b$ is always a bias, never an index.
#
# | symbol | code | meaning |
# |---|---|---|
# | $n$, $c$, $f$ | `n`, `c`, `f` | sample, input channel, filter (output channel) |
# | $C$, $H$, $W$ | `C`, `H`, `W` | channels, height, width of an image batch $(N, C, H, W)$ (from lesson 06, $H$ is a height) |
# | $F$, $F_H$, $F_W$ | `F`, `fh`, `fw` | number of filters, filter height and width; filters $W$: $(F, C, F_H, F_W)$ |
# | $S$, $P$ | `stride`, `pad` | stride and padding |
# | $H_\text{out}$, $W_\text{out}$ | `h_out`, `w_out` | size of the output map, $(H + 2P - F_H)/S + 1$ |
# | $(i, j)$ | `i`, `j` | an **output position** (row, column of a feature map) |
# | $(u, v)$ | `u`, `v` | an **offset inside the filter**, $0 \le u < F_H$, $0 \le v < F_W$ |
# | $(p, q)$ | `p`, `q` | a **pixel of the input** |
#
# Regularisation, optimizers and the capstone (lessons 08–10) add:
#
# | symbol | code | meaning |
# |---|---|---|
# | $\lambda$ | `weight_decay` | strength of the weight penalty $\frac{\lambda}{2} \lVert W \rVert^2$ (lesson 08) |
# | $\gamma$, $\beta$ | `gamma`, `beta` | scale and shift learned by batch normalisation, one per feature or channel, starting at 1 and 0 (lessons 08, 10) |
# | $m$, $v$ | `m`, `v` | running means of the gradient and of its square in momentum and Adam (lesson 09; not the filter offset $v$ of lessons 06–07, never in one formula) |
# | $\beta_1$, $\beta_2$ | `beta1`, `beta2` | Adam's decay rates of $m$ and $v$ (lesson 09) |
# | $\eta_\text{peak}$ | `peak_lr` | the largest learning rate of a warm-up + cosine schedule (lessons 09, 10) |
# | fan_in | `fan_in` | inputs of one unit ($C F_H F_W$ for a conv): He $N(0, 2/\text{fan\_in})$, Xavier $N(0, 1/\text{fan\_in})$ (lesson 09) |
# | patience | `patience` | epochs without an improvement before early stopping or a lower rate (lessons 08–10) |
# | $\varepsilon$ | `eps` | a small constant that keeps a denominator away from zero (lessons 08, 09; in lesson 01, $\varepsilon$ is the machine epsilon) |

# %% [markdown]
# ## Summary
#
# - Lessons live in `notebooks/`, assignments in `exercises/`, and every task has a self-check that tells you what to fix.
# - `load_mnist()` gives the full MNIST set when it can download it and otherwise 5,000 real digits shipped with the course; it prints which one you got. In CI and on this notebook's committed run it was the offline subset: 4,000 training and 1,000 test digits.
# - Images are rows of 784 `float32` pixels in $[0, 1]$ with integer labels 0–9.
#
# ## Next
#
# Lesson 01 starts with a question every network has to answer: which way is downhill? You will compute derivatives numerically and use them to walk to the minimum of a function, the idea that trains every network in this course.

# %% [markdown]
# **Sources.** Fixing every random seed at the start of a notebook, with one `seed_everything` function, follows 「【自前AI講座】ディープラーニング基礎と実装」 (slash-z.com); what the seed does and does not guarantee is written above. The other source articles are named in the lessons that use them.
