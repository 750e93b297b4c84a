# %% [markdown]
# # 02 · Softmax and cross-entropy
#
# A classifier has to turn raw scores into probabilities and be told how wrong they are. In this lesson you build both pieces, the softmax and the cross-entropy loss, make them safe against overflow and $\log 0$, derive their famously simple gradient $y - t$, and train your first digit classifier on MNIST with gradient descent.
#
# **Goals**
#
# - Turn scores into probabilities: the sigmoid for two classes, the softmax for $K$.
# - See the naive softmax return `nan` for large scores, and fix it with the max-subtraction trick.
# - Write targets as one-hot rows and compute the cross-entropy loss with a guard against $\log 0$.
# - Derive $\partial L / \partial a = (y - t)/N$ and check it against the numerical gradient of lesson 01.
# - Train softmax regression (784 → 10) on MNIST and plot its training and test curves.
#
# **You need:** lesson 01 (numerical gradients, gradient descent), lesson 00 (MNIST and the notation).
#
# **Time:** 60 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.config import seed_everything, sized
from dlcourse.data import load_mnist
from dlcourse.training import minibatches

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")
epochs = sized(30, 3)  # passes over the training set in section 7


# %% [markdown]
# ## 1. Two classes: the sigmoid
#
# Suppose a model gives one score $a$ (any real number) for "this image is a 1, not a 0". The **sigmoid** squashes it into a probability:
#
# $$\sigma(a) = \frac{1}{1 + e^{-a}}, \qquad p(\text{class 1}) = \sigma(a), \quad p(\text{class 0}) = 1 - \sigma(a).$$
#
# A score of 0 means 50/50; large positive scores approach certainty for class 1, large negative ones for class 0.


# %%
def sigmoid(a):
    return 1 / (1 + np.exp(-a))


scores = np.linspace(-8, 8, 200)
fig, ax = plt.subplots(figsize=(6.5, 3.6))
ax.plot(scores, sigmoid(scores), color=colors[0], label=r"$p(\mathrm{class\ 1}) = \sigma(a)$")
ax.plot(
    scores,
    1 - sigmoid(scores),
    "--",
    color=colors[1],
    label=r"$p(\mathrm{class\ 0}) = 1 - \sigma(a)$",
)
ax.axhline(0.5, color="gray", lw=0.8)
ax.set(
    xlabel="score a", ylabel="probability", title="The sigmoid turns any score into a probability"
)
ax.legend()
plt.show()


# %% [markdown]
# *Figure: the S-shaped sigmoid curve rising from 0 to 1 (solid) and its mirror image $1 - \sigma(a)$ falling from 1 to 0 (dashed); they cross at probability 0.5 where the score is 0. Beyond a score of about ±5 the model is more than 99% sure.*

# %% [markdown]
# ## 2. $K$ classes: the softmax
#
# MNIST has ten classes, so the model gives ten scores $a_1, \dots, a_K$, one per digit. The **softmax** makes them positive with $e^{a_k}$ and divides by their sum, so they add up to 1:
#
# $$y_k = \frac{e^{a_k}}{\sum_{j=1}^{K} e^{a_j}}.$$
#
# The largest score gets the largest probability, and the order never changes. For two classes with scores $(a, 0)$ the softmax is the sigmoid: $\frac{e^a}{e^a + e^0} = \frac{1}{1 + e^{-a}}$.


# %%
# NBVAL_CHECK_OUTPUT
def softmax_naive(a):
    """Softmax of one score vector a: (K,), straight from the formula."""
    e = np.exp(a)
    return e / e.sum()


y = softmax_naive(np.array([2.0, 1.0, 0.1]))
print("probabilities:", np.round(y, 4), " sum:", round(float(y.sum()), 6))
a = np.linspace(-5, 5, 11)
same = np.allclose([softmax_naive(np.array([s, 0.0]))[0] for s in a], sigmoid(a))
print("softmax([a, 0])[0] equals sigmoid(a):", same)

# %% [markdown]
# ## 3. Overflow, and the max-subtraction trick
#
# $e^{a}$ grows fast: in float64 $e^{710}$ is already larger than the largest representable number and becomes `inf` (in float32 this happens at $e^{89}$). Scores of a thousand are not unusual for an untrained or badly scaled network. The naive softmax then computes $\infty / \infty$, which is `nan`. (The next cell silences numpy's overflow warning so that you see the result itself.)

# %%
# NBVAL_CHECK_OUTPUT
big = np.array([1010.0, 1000.0, 990.0])
with np.errstate(over="ignore", invalid="ignore"):
    print("naive softmax([1010, 1000, 990]):", softmax_naive(big))
    print("np.exp(1010.0):", np.exp(1010.0), "   np.exp(np.float32(89)):", np.exp(np.float32(89)))


# %% [markdown]
# The fix: multiply the numerator and the denominator by the same constant $e^{-c}$. Nothing changes mathematically:
#
# $$\frac{e^{a_k}}{\sum_j e^{a_j}} = \frac{e^{-c}\, e^{a_k}}{e^{-c} \sum_j e^{a_j}} = \frac{e^{a_k - c}}{\sum_j e^{a_j - c}},$$
#
# but with $c = \max_j a_j$ the largest exponent is $e^0 = 1$: no overflow, and the denominator is at least 1, so no division by zero either. Very negative differences underflow to 0, which is harmless: those probabilities really are negligible.
#
# For a batch of samples, one row per sample, each row needs **its own** maximum: `a.max(axis=-1, keepdims=True)` has shape $(N, 1)$ and broadcasts over the $K$ columns. A single maximum of the whole batch is not enough when rows have different scales: a row far below the batch maximum underflows to all zeros, and $0/0$ is `nan` again.


# %%
def softmax(a):
    """Row-wise softmax, stable for any finite scores. a: (N, K) or (K,); returns the same shape."""
    e = np.exp(a - a.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_global_max(a):
    """A wrong batch version: subtracts the maximum of the whole batch, not of each row."""
    e = np.exp(a - a.max())
    return e / e.sum(axis=-1, keepdims=True)


# %%
# NBVAL_CHECK_OUTPUT
print("stable softmax([1010, 1000, 990]):", np.round(softmax(big), 4))
print("          to 5 significant digits:", [f"{p:.5g}" for p in softmax(big)])
batch = np.array([[1010.0, 1000.0, 990.0], [2.0, 1.0, 0.1]])  # rows of very different scale
print("row-wise maximum:\n", np.round(softmax(batch), 4))
with np.errstate(invalid="ignore"):
    print("one maximum for the whole batch:\n", np.round(softmax_global_max(batch), 4))


# %% [markdown]
# ## 4. One-hot targets
#
# To compare ten probabilities with the right answer, write the answer as ten numbers too: a **one-hot** row with a 1 at the true class and 0 elsewhere. The integer class labels (`labels`, shape $(N,)$) become targets `t` of shape $(N, K)$. Indexing with two arrays sets exactly one element per row:


# %%
# NBVAL_CHECK_OUTPUT
def one_hot(labels, num_classes=10):
    """Integer labels (N,) -> one-hot rows (N, num_classes)."""
    t = np.zeros((len(labels), num_classes))
    t[np.arange(len(labels)), labels] = 1
    return t


print(one_hot(np.array([3, 0, 9])).astype(int))


# %% [markdown]
# ## 5. Cross-entropy, and the $\log 0$ guard
#
# How wrong is a prediction $y$ for target $t$? The **cross-entropy** is minus the log of the probability given to the true class:
#
# $$L = -\frac{1}{N} \sum_{n=1}^{N} \sum_{k=1}^{K} t_{nk} \log y_{nk} = -\frac{1}{N} \sum_{n=1}^{N} \log y_{n,\, \text{labels}_n}.$$
#
# A confident right answer ($y = 0.99$) costs $-\log 0.99 \approx 0.01$; a confident wrong one costs a lot, and a probability of exactly 0 for the true class costs $-\log 0 = \infty$. That happens in practice (float32 rounds $e^{-104}$ to 0) and one `inf` ruins the whole average. The guard: raise each probability to at least a tiny $\epsilon$ before the log, here $10^{-7}$, so the worst possible cost is $-\log 10^{-7} \approx 16.1$. We average over the batch (the **mean** loss), so the loss, and the size of a good learning rate, do not depend on the batch size.


# %%
# NBVAL_CHECK_OUTPUT
def cross_entropy(y, t, eps=1e-7):
    """Mean cross-entropy. y: (N, K) probabilities; t: (N, K) one-hot or (N,) integer labels."""
    if t.ndim == 1:
        t = one_hot(t, y.shape[1])
    return -np.sum(t * np.log(np.maximum(y, eps))) / y.shape[0]


y = np.array([[0.7, 0.2, 0.1], [1.0, 0.0, 0.0]])
labels = np.array([0, 1])  # the second sample is confidently wrong
print("loss of sample 0 alone:", round(cross_entropy(y[:1], labels[:1]), 4))
with np.errstate(divide="ignore", invalid="ignore"):
    print("without the guard:", -np.sum(one_hot(labels, 3) * np.log(y)) / 2)
print("with the guard:   ", round(cross_entropy(y, labels), 4))
print("labels and one-hot agree:", cross_entropy(y, labels) == cross_entropy(y, one_hot(labels, 3)))


# %% [markdown]
# (Without the guard the result is `nan` rather than `inf`: the zeros of $t$ multiply $\log 0 = -\infty$, and $0 \cdot \infty$ is undefined.)

# %% [markdown]
# ## 6. The gradient of softmax + cross-entropy is $y - t$
#
# Gradient descent needs $\partial L / \partial a$, the gradient of the loss with respect to the scores. For one sample, $L = -\sum_k t_k \log y_k$ with $y = \text{softmax}(a)$, that is $y_k = e^{a_k} / S$ with $S = \sum_i e^{a_i}$.
#
# **The softmax's derivative.** Every $y_k$ depends on every score $a_j$, through the sum $S$, and $\partial S / \partial a_j = e^{a_j}$. The quotient rule gives two cases. For $j = k$ the score appears on top and in $S$:
#
# $$\frac{\partial y_k}{\partial a_k} = \frac{e^{a_k} S - e^{a_k} e^{a_k}}{S^2} = y_k - y_k^2 = y_k (1 - y_k).$$
#
# For $j \neq k$ it appears only in $S$:
#
# $$\frac{\partial y_k}{\partial a_j} = -\frac{e^{a_k} e^{a_j}}{S^2} = -y_k\, y_j.$$
#
# Both cases in one formula, the softmax **Jacobian** (the $K \times K$ matrix of all these derivatives):
#
# $$\frac{\partial y_k}{\partial a_j} = y_k(\delta_{kj} - y_j) \qquad (\delta_{kj} = 1 \text{ if } k = j, \text{ else } 0),$$
#
# so by the chain rule, using $\sum_k t_k = 1$:
#
# $$\frac{\partial L}{\partial a_j} = -\sum_k \frac{t_k}{y_k}\, y_k (\delta_{kj} - y_j) = -t_j + y_j \sum_k t_k = y_j - t_j.$$
#
# Prediction minus target: each score is pushed down by how much probability it wrongly got, and the true class's score up by how much it lacked. The mean over a batch of $N$ adds a factor $1/N$: $\;\frac{\partial L}{\partial a} = \frac{y - t}{N}$, of shape $(N, K)$ like the scores. Is that right? Lesson 01's numerical gradient can tell, in float64 (copied here, it perturbs each score in place and restores it):


# %%
# NBVAL_CHECK_OUTPUT
def numerical_gradient(f, x, h=1e-4):
    """Central-difference gradient of f at x (any shape), as in lesson 01."""
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        try:
            x[idx] = old + h
            f_plus = f(x)
            x[idx] = old - h
            f_minus = f(x)
        finally:
            x[idx] = old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


a = rng.normal(size=(4, 3))  # scores of 4 samples, 3 classes
t = one_hot(np.array([2, 0, 1, 2]), 3)
grad_formula = (softmax(a) - t) / len(a)
grad_numerical = numerical_gradient(lambda s: cross_entropy(softmax(s), t), a)
relative_error = np.abs(grad_formula - grad_numerical) / np.abs(grad_formula).clip(1e-8)
print("max relative error < 1e-6:", relative_error.max() < 1e-6)

# %% [markdown]
# ## 7. Softmax regression on MNIST
#
# The simplest digit classifier connects each of the 784 pixels directly to each of the 10 scores: $a = xW + b$ with $W$ of shape $(784, 10)$ and $b$ of shape $(10,)$, then $y = \text{softmax}(a)$. Since $a_{nk} = \sum_d x_{nd} W_{dk} + b_k$, the chain rule turns $\partial L / \partial a = (y - t)/N$ into
#
# $$\frac{\partial L}{\partial W} = x^\top \frac{y - t}{N} \quad (784 \times 10), \qquad \frac{\partial L}{\partial b} = \sum_{n} \frac{(y - t)_{n}}{N} \quad (10,).$$
#
# Training uses **mini-batches**: each epoch shuffles the training set and takes a gradient step on every batch of 100 images. The learning rate is 0.5 for our mean loss (a loss summed over the batch of 100 would need 0.005 for the same step). First the data; the loader prints which set you have:

# %%
data = load_mnist()
x_train, labels_train = data.x_train, data.t_train  # (N, 784) float32 in [0, 1], (N,) ints
x_test, labels_test = data.x_test, data.t_test
t_train = one_hot(labels_train).astype(np.float32)
print(f"training: {x_train.shape}, test: {x_test.shape}")


# %%
def evaluate(W, b, x, labels):
    """Mean cross-entropy and accuracy of softmax regression on (x, labels)."""
    y = softmax(x @ W + b)
    return cross_entropy(y, labels), np.mean(y.argmax(axis=1) == labels)


def train_softmax_regression(lr=0.5, epochs=30, batch_size=100, rng=None):
    """Mini-batch gradient descent on softmax regression; returns W, b and per-epoch history."""
    W = (0.01 * rng.normal(size=(784, 10))).astype(np.float32)
    b = np.zeros(10, dtype=np.float32)
    history = {"train_loss": [], "test_loss": [], "train_acc": [], "test_acc": []}
    for _ in range(epochs):
        for x, t in minibatches(x_train, t_train, batch_size, rng):
            y = softmax(x @ W + b)
            da = (y - t) / len(x)  # dL/da, (batch, 10)
            W -= lr * (x.T @ da)
            b -= lr * da.sum(axis=0)
        for split, x, labels in (("train", x_train, labels_train), ("test", x_test, labels_test)):
            loss, acc = evaluate(W, b, x, labels)
            history[f"{split}_loss"].append(loss)
            history[f"{split}_acc"].append(acc)
    return W, b, history


# %%
# NBVAL_IGNORE_OUTPUT
W, b, history = train_softmax_regression(lr=0.5, epochs=epochs, rng=rng)
print(
    f"after {epochs} epochs: train accuracy {history['train_acc'][-1]:.4f}, "
    f"test accuracy {history['test_acc'][-1]:.4f}"
)

# %%
# NBVAL_CHECK_OUTPUT
print("test accuracy >= 0.86:", history["test_acc"][-1] >= 0.86)

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
epoch_axis = np.arange(1, epochs + 1)
for split, color in (("train", colors[0]), ("test", colors[1])):
    left.plot(epoch_axis, history[f"{split}_loss"], "o-", ms=3, color=color, label=f"{split}")
    right.plot(epoch_axis, history[f"{split}_acc"], "o-", ms=3, color=color, label=f"{split}")
left.set(xlabel="epoch", ylabel="mean cross-entropy", title="Loss")
right.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
left.legend()
right.legend()
fig.suptitle(
    "Softmax regression learns fast, then test accuracy levels off while training improves"
)
fig.tight_layout()
plt.show()

# %% [markdown]
# *Figure: loss (left) and accuracy (right) of softmax regression per epoch, on the training digits (blue) and the held-out test digits (orange). Both losses drop steeply in the first epochs. Afterwards the training loss keeps creeping down and training accuracy keeps rising, while test accuracy levels off on the offline digits: with 7,850 parameters and only 4,000 training images the model starts to memorise. On the full 60,000-image set the two curves stay closer, and the source article (see Sources) reports about 92 %<!-- quoted: 週末のディープラーニング, 社畜エンジニア発掘戦線 --> test accuracy for this model.*

# %% [markdown]
# What has it learned? Each column $W_{:,k}$ holds one weight per pixel for class $k$: the score of digit $k$ is the sum of the pixels weighted by this template. Drawn as 28×28 images:

# %%
limit = np.abs(W).max()
fig, axes = plt.subplots(2, 5, figsize=(10, 4.6), layout="constrained")
for k, ax in enumerate(axes.flat):
    shown = ax.imshow(W[:, k].reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(f"class {k}")
    ax.set_xticks([])
    ax.set_yticks([])
fig.colorbar(shown, ax=axes, label="weight (red: ink here raises the score)", shrink=0.8)
fig.suptitle("Each class's weights form a blurry template of its digit")
plt.show()

# %% [markdown]
# *Figure: ten 28×28 weight images, one per digit class, red where ink raises that class's score and blue where ink lowers it. Several show their digit: a red ring with a blue centre for 0, a vertical red stroke for 1, a blue bar across the middle of 2, where a 2 has no ink. One template per class is all this model can learn, which is why its accuracy levels off and why lesson 04 adds a hidden layer.*

# %% [markdown]
# ## Summary
#
# - The **sigmoid** gives two-class probabilities; the **softmax** generalises it to $K$ classes ($\text{softmax}([a, 0])_0 = \sigma(a)$).
# - The naive softmax returned `nan` for scores $[1010, 1000, 990]$; subtracting **each row's** maximum gave $[0.99995, 4.5 \times 10^{-5}, 2.1 \times 10^{-9}]$. One maximum for a whole batch is not enough.
# - **Cross-entropy** $-\frac1N \sum t \log y$ takes one-hot targets or integer labels; the guard $\max(y, 10^{-7})$ turns a certain wrong answer from `inf`/`nan` into a cost of 16.1.
# - The gradient of softmax + mean cross-entropy is $(y - t)/N$; it matched the numerical gradient to a relative error below $10^{-6}$.
# - **Softmax regression** (784 → 10, lr 0.5, batches of 100, 30 epochs) passes the course's bar of at least 86 % on the 1,000 offline test digits; section 7 prints its training and test accuracy (the committed run: full mode on the offline data, `python scripts/build_notebooks.py sources/notebooks/02_softmax.py`; quick mode runs fewer epochs). The full MNIST set could not be downloaded where this notebook was executed, so the full-set figure was not measured here; the source article reports about 92 %<!-- quoted: 週末のディープラーニング, 社畜エンジニア発掘戦線 --> for this model trained long enough, and that is what to expect with the full set.
#
# ## Next
#
# One template per class cannot capture the many ways to write a digit. Lesson 03 adds a hidden layer on the smallest problem a straight line cannot solve, XOR, and derives backpropagation by hand; lesson 04 then brings the hidden layer back to MNIST.

# %% [markdown]
# **Sources.** Softmax regression on MNIST as the first classifier, and its accuracy on the full set quoted above, follow 「週末のディープラーニング」 on the blog 社畜エンジニア発掘戦線 (shachicode.hatenablog.com). The stable softmax, the Jacobian derivation and the experiments are this course's own.
