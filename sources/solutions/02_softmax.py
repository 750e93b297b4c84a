# %% [markdown]
# # Assignment 02 · Softmax and cross-entropy
#
# In lesson 02 you turned scores into probabilities, measured their error and trained softmax regression on MNIST. Here you write those pieces yourself, robust enough for every later lesson: a log-softmax that never overflows nor underflows, a cross-entropy computed exactly from the scores (no guard, no cap), the gradient $y - t$, and one training step. Then your own code trains a digit classifier.
#
# **Points:** 10 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 2.1 passed` or a reason you can act on. Run it as often as you like.
#
# **You need:** lesson 02 (and the numerical gradient of lesson 01).
#
# **Time:** about 60 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything, sized
from dlcourse.data import load_mnist
from dlcourse.gradients import numerical_gradient
from dlcourse.training import minibatches

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")
epochs = sized(20, 3)  # passes over the training set at the end


# %% [markdown]
# ### Task 2.1 — log-softmax that never overflows nor underflows (2 points)
#
# Lesson 02 made the softmax safe against overflow by subtracting each row's maximum. The cross-entropy then takes the *logarithm* of a probability, and a probability like $e^{-800}$ underflows to exactly 0 in float64, whose log is $-\infty$; the lesson patched that with a guard, $\log \max(y, 10^{-7})$. Taking the log of the formula instead gives exact log-probabilities without a guard: with $c_n = \max_j x_{nj}$,
#
# $$\log y_{nk} = (x_{nk} - c_n) - \log \sum_j e^{x_{nj} - c_n}.$$
#
# Write `log_softmax(x)` for scores `x` of shape `(N, K)` (one row per sample) or `(K,)` (one sample) that returns the log-probabilities, of the same shape. It must stay finite for any finite scores: $[1010, 1000, 990]$, rows of very different scales, and a class 800 below the others, whose log-probability is about $-800$, not $-\infty$. Do not change `x`.
#
# *Hint:* lesson 02, sections 3 (overflow and the max-subtraction trick) and 5 (the $\log 0$ guard, and why it is needed). Never compute a probability on the way: stay in logarithms. A single sample has shape `(K,)`, so pick the axis that works for both shapes.
#
# *Checked:* $[1010, 1000, 990]$, batches of shapes (4, 3), (2, 7), a (3, 5) batch with rows near 0, +1000 and −1000, a (2, 4) batch with a class 800 below the others and rows with a spread of 1600; the check names `np.log(softmax(x))`, a shift by the minimum, the mean or the batch's maximum, and a sum over the wrong axis.


# %% dlcourse={"points": 2, "task": "2.1"}
def log_softmax(x):
    """Row-wise log-softmax. x: (N, K) or (K,) scores; returns log-probabilities, same shape."""
    # Hint: shift by each row's maximum, then subtract the log of the shifted row's exp-sum.
    ### BEGIN SOLUTION
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    ### END SOLUTION


# %% dlcourse={"check": "2.1"}
check("2.1", log_softmax)


# %% [markdown]
# The rest of the assignment uses probabilities; they are one `np.exp` away:


# %%
def softmax(x):
    """Row-wise softmax from your log-softmax. x: (N, K) or (K,); returns probabilities."""
    return np.exp(log_softmax(x))


x_far = np.array([[0.0, -800.0, 2.0]])
print("log_softmax:", np.round(log_softmax(x_far), 2).tolist())
print("softmax:    ", np.round(softmax(x_far), 4).tolist())

# %%
# NBVAL_CHECK_OUTPUT
print(np.round(softmax(np.array([1010.0, 1000.0, 990.0])), 4))


# %% [markdown]
# ### Task 2.2 — the exact cross-entropy, straight from the scores (2 points)
#
# Lesson 02 (section 5) computed the loss from probabilities and guarded the log, $\log \max(y, 10^{-7})$, so one sample can cost at most $-\log 10^{-7} \approx 16.1$<!-- static: -log(1e-7) -->. That cap hides how wrong a prediction is: a sample whose true class scores 800 below the best one should cost about 800, not 16.1<!-- static: the same cap -->. With your `log_softmax` the loss needs neither a probability nor a guard:
#
# $$L = -\frac{1}{N} \sum_{n} \sum_{k} t_{nk}\, \log y_{nk} = -\frac{1}{N} \sum_{n} \log y_{n,\, \text{labels}_n}, \qquad \log y = \text{log\_softmax}(a).$$
#
# Write `cross_entropy_from_scores(a, t)` for scores `a: (N, K)` and targets `t` that are either one-hot rows `(N, K)` or integer labels `(N,)`. Return the **mean** over the batch as one float, exact (finite, and about 800 per such sample) for any finite scores. For labels, pick each row's log-probability of the true class with integer indexing, `logp[np.arange(N), t]`, instead of building a one-hot matrix first: that would fill $N \times K$ numbers to use $N$ of them. Do not change `a` or `t`.
#
# *Hint:* lesson 02, sections 4 (one-hot targets and integer labels) and 5 (the cross-entropy, and the guard you no longer need), and your `log_softmax` of Task 2.1. `t.ndim` tells the two kinds of target apart.
#
# *Checked:* batches of shapes (4, 3), (6, 10) and (1, 5), and one of shape (3, 4) whose rows are near 0, +1000 and −1000 and whose first sample's true class is 800 below the others, each with one-hot targets and with labels. The check names the guarded log (the cap), `np.log(softmax(a))` (an infinite loss), a sum instead of a mean, a mean over all $N \cdot K$ entries, labels indexed as `logp[:, t]`, one kind of target only, and one loss per sample instead of their mean.


# %% dlcourse={"points": 2, "task": "2.2"}
def cross_entropy_from_scores(a, t):
    """Mean cross-entropy of softmax(a). a: (N, K) scores; t: (N, K) one-hot or (N,) labels."""
    # Hint: log-probabilities from Task 2.1; then, per sample, the one of the true class.
    ### BEGIN SOLUTION
    logp = log_softmax(a)
    n = a.shape[0]
    if t.ndim == 1:
        return float(-logp[np.arange(n), t].sum() / n)
    return float(-np.sum(t * logp) / n)
    ### END SOLUTION


# %% dlcourse={"check": "2.2"}
check("2.2", cross_entropy_from_scores)
### BEGIN HIDDEN TESTS
assert abs(cross_entropy_from_scores(np.array([[0.0, 0.0]]), np.array([0])) - np.log(2)) < 1e-12
assert cross_entropy_from_scores(np.array([[0.0, 800.0]]), np.array([[1.0, 0.0]])) == 800.0
### END HIDDEN TESTS

# %% [markdown]
# A confidently wrong sample: its true class (0) scores 800 below class 1. Lesson 02's guarded loss against yours:

# %%
# NBVAL_CHECK_OUTPUT
a_wrong = np.array([[0.0, 800.0, 2.0]])
guarded = -np.log(np.maximum(softmax(a_wrong)[0, 0], 1e-7))
print("guarded, lesson 02:", round(float(guarded), 2))
print("exact, from scores:", round(cross_entropy_from_scores(a_wrong, np.array([0])), 2))


# %% [markdown]
# ### Task 2.3 — the gradient of softmax + cross-entropy (2 points)
#
# Write `softmax_cross_entropy_gradient(a, t)`: the gradient of the loss $L$ = `cross_entropy_from_scores(a, t)` of Task 2.2 with respect to the scores `a: (N, K)`, where `t` is one-hot `(N, K)` or labels `(N,)`:
#
# $$\frac{\partial L}{\partial a} = \frac{\text{softmax}(a) - t}{N} \qquad (N, K).$$
#
# *Hint:* lesson 02, section 6 (why the gradient is $y - t$); the loss is a *mean* over the batch.
#
# *Checked:* against the formula on batches of shapes (4, 3), (7, 10) and (5, 4), the last with scores around ±1000; the check names a wrong sign or a missing $1/N$.


# %% dlcourse={"points": 2, "task": "2.3"}
def softmax_cross_entropy_gradient(a, t):
    """dL/da for the mean cross-entropy of softmax(a). a: (N, K); returns (N, K)."""
    # Hint: prediction minus target, divided by the batch size.
    ### BEGIN SOLUTION
    if t.ndim == 1:
        t = np.eye(a.shape[1])[t]
    return (softmax(a) - t) / a.shape[0]
    ### END SOLUTION


# %% dlcourse={"check": "2.3"}
check("2.3", softmax_cross_entropy_gradient)

# %% [markdown]
# Your gradient against a numerical one: `dlcourse.gradients.numerical_gradient(f, x)` computes the central differences of lesson 01 (Task 1.2), in float64, each score perturbed in place and restored:

# %%
# NBVAL_CHECK_OUTPUT
a = rng.normal(size=(5, 4))
labels = np.array([0, 3, 3, 1, 2])
mine = softmax_cross_entropy_gradient(a, labels)
numerical = numerical_gradient(lambda s: cross_entropy_from_scores(s, labels), a)
print("max relative error < 1e-6:", (np.abs(mine - numerical) / np.abs(numerical)).max() < 1e-6)


# %% [markdown]
# ### Task 2.4 — one training step of softmax regression (3 points)
#
# Softmax regression computes scores $a = xW + b$ from images `x: (N, D)`, weights `W: (D, K)` and bias `b: (K,)`. Write `train_step(params, x, t, lr)` where `params` is a dict with the arrays `"W"` and `"b"`. It must
#
# 1. compute the loss of the current parameters from the scores, `cross_entropy_from_scores(a, t)` (Task 2.2);
# 2. compute the gradients $\frac{\partial L}{\partial W} = x^\top \frac{\partial L}{\partial a}$ and $\frac{\partial L}{\partial b} = \sum_n \frac{\partial L}{\partial a_n}$;
# 3. update `params["W"]` and `params["b"]` by gradient descent with learning rate `lr`;
# 4. return the loss of step 1 (before the update).
#
# *Hint:* lesson 02, section 7 (softmax regression): $\partial L/\partial W$ and $\partial L/\partial b$ follow from $\partial L/\partial a$ by the chain rule through $a = xW + b$.
#
# *Checked:* two problems with non-square shapes, one-hot targets and labels; `x` and `t` must be unchanged.


# %% dlcourse={"points": 3, "task": "2.4"}
def train_step(params, x, t, lr):
    """One gradient-descent step of softmax regression; returns the loss before the step."""
    # Hint: reuse your functions from Tasks 2.1-2.3.
    ### BEGIN SOLUTION
    a = x @ params["W"] + params["b"]
    loss = cross_entropy_from_scores(a, t)
    da = softmax_cross_entropy_gradient(a, t)
    params["W"] -= lr * (x.T @ da)
    params["b"] -= lr * da.sum(axis=0)
    return loss
    ### END SOLUTION


# %% dlcourse={"check": "2.4"}
check("2.4", train_step)

# %% [markdown]
# Your `train_step` now trains a digit classifier: 784 pixels → 10 classes, batches of 100, learning rate 0.5, on the MNIST data `load_mnist()` gives you (it prints which set that is).

# %%
# NBVAL_IGNORE_OUTPUT
data = load_mnist()
params = {
    "W": (0.01 * rng.normal(size=(784, 10))).astype(np.float32),
    "b": np.zeros(10, dtype=np.float32),
}
losses, test_accuracy = [], []
for _ in range(epochs):
    for x, labels in minibatches(data.x_train, data.t_train, 100, rng):
        losses.append(train_step(params, x, labels, lr=0.5))
    scores = data.x_test @ params["W"] + params["b"]
    test_accuracy.append(np.mean(scores.argmax(axis=1) == data.t_test))
print(f"test accuracy after {epochs} epochs: {test_accuracy[-1]:.4f}")

# %%
# NBVAL_CHECK_OUTPUT
scores = data.x_test @ params["W"] + params["b"]
print("test accuracy >= 0.86:", np.mean(scores.argmax(axis=1) == data.t_test) >= 0.86)

# %%
fig, ax = plt.subplots(figsize=(7, 4))
steps_per_epoch = max(len(losses) // epochs, 1)
ax.plot(
    np.arange(len(losses)) / steps_per_epoch,
    losses,
    color=colors[0],
    lw=0.6,
    alpha=0.7,
    label="training loss of each mini-batch",
)
ax.plot(
    np.arange(1, len(test_accuracy) + 1),
    1 - np.array(test_accuracy),
    "o-",
    color=colors[1],
    label="test error rate (1 − accuracy)",
)
ax.set(
    xlabel="epoch",
    ylabel="loss / error rate",
    ylim=(0, 2.4),
    title="Your training step drives the loss down from the first epoch",
)
ax.legend()
plt.show()

# %% [markdown]
# *Figure: the mean cross-entropy of every mini-batch during training (blue, noisy because every batch holds different digits) and the test error rate after each epoch (orange). The loss falls from about 2.3 (a uniform guess over ten classes, $\log 10$) to around 0.2–0.4 within the first epoch and then declines slowly; the test error levels off after a few epochs (read its value off the curve above).*

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "2.5"}
# ### Task 2.5 — one maximum per row (1 point, written)
#
# A common textbook softmax for a single sample is `c = np.max(x); e = np.exp(x - c); return e / np.sum(e)`. In three to five sentences: why does subtracting a constant not change the result, why does it prevent overflow, and what goes wrong when this version is used on a batch `(N, K)` in which one sample has scores near 1000 and another near 0? (Even after fixing the final sum to `axis=-1`.)
#
# ### BEGIN SOLUTION
# Subtracting $c$ multiplies numerator and denominator by the same factor $e^{-c}$, which cancels, so the probabilities are unchanged. With $c$ the maximum, the largest exponent is $e^0 = 1$, so nothing overflows, and the denominator is at least 1, so it cannot be 0. On a batch, `np.max(x)` is the maximum of *all* scores, about 1000: for the sample whose scores are near 0 every exponent becomes about $e^{-1000}$, which underflows to exactly 0 in floating point, and that row computes $0/0 = $ `nan`. Each row needs its own maximum, `x.max(axis=-1, keepdims=True)`, so that every row has one exponent equal to 1.
# ### END SOLUTION

# %% [markdown]
# ## Done
#
# You have a log-softmax that stays finite, a stable softmax built on it, a cross-entropy that is exact straight from the scores, the gradient $y - t$ and a training step: a complete, if shallow, classifier. Lesson 03 puts a hidden layer in front of the softmax and derives its gradients by backpropagation.
