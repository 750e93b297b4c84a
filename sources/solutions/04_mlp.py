# %% [markdown]
# # Assignment 04 · MLP on MNIST
#
# In lesson 04 you trained a 784-100-10 network on handwritten digits with mini-batches. Here you write its pieces for a ReLU hidden layer: the mini-batch sampler, the forward pass with the loss, the backward pass, and the learning-rate conversion between a summed and a mean loss. At the end your functions train the network on MNIST.
#
# **Points:** 10 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 4.1 passed` or a reason you can act on. Use numpy only, vectorised (no loops over samples), and never change the arrays you are given.
#
# **You need:** lesson 04 (sections 2–4 and 7) and assignment 03.
#
# **Time:** about 75 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything, sized
from dlcourse.data import load_mnist
from dlcourse.functions import one_hot

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
epochs = sized(15, 6)  # training epochs at the end of the assignment


# %% [markdown]
# ### Task 4.1 — mini-batches with every class in each (2 points)
#
# Lesson 04 cut one shuffled permutation into consecutive batches. With few samples of a class, such a batch may hold none of them, and the gradient steps swing from batch to batch. Write `stratified_batches(labels, batch_size, rng)` for integer labels `(N,)` that returns one epoch of mini-batches as a list of integer index arrays such that
#
# - every index $0, \ldots, N-1$ appears exactly once,
# - there are $B = \lceil N / 	ext{batch\_size} 
ceil$ batches, none larger than `batch_size`, whose sizes differ by at most 1,
# - every class is spread as evenly as possible: the number of samples of a class in two batches differs by at most 1,
# - the order is random and drawn from `rng` (a `np.random.Generator`): same seed, same batches; next call, new batches.
#
# *Hint:* lesson 04, section 2 (mini-batches). Think of dealing cards: if the samples are lined up class by class (each class shuffled), handing them out to the $B$ batches in turn gives every batch its share of every class.
#
# *Checked:* four label sets, balanced and unbalanced, with batch sizes that do not divide $N$; each index exactly once, the batch sizes, the class counts per batch, and that the order comes from `rng`. It names a plain shuffle (lesson 04's sampler), repeated or missing indices and an order that ignores `rng`.


# %% dlcourse={"points": 2, "task": "4.1"}
def stratified_batches(labels, batch_size, rng):
    """One epoch of batches with every class spread evenly. labels: (N,); returns index arrays."""
    ### BEGIN SOLUTION
    n_batches = -(-len(labels) // batch_size)  # ceil
    order = rng.permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]  # class by class, shuffled within
    return [order[start::n_batches] for start in range(n_batches)]
    ### END SOLUTION


# %% dlcourse={"check": "4.1"}
check("4.1", stratified_batches)

# %% [markdown]
# ### Task 4.2 — forward pass and loss (2 points)
#
# Write `mlp_loss(x, t, params)` for the ReLU network: `x: (N, D)`, one-hot `t: (N, K)`, `params` with `"W1": (D, H)`, `"b1": (H,)`, `"W2": (H, K)`, `"b2": (K,)`. Return the mean cross-entropy as a float:
#
# $$h = \max(0,\, x W_1 + b_1), \qquad y = \operatorname{softmax}(h W_2 + b_2), \qquad J = -\frac{1}{N} \sum_{n,k} t_{nk} \log y_{nk}.$$
#
# *Hint:* lesson 04, section 3, and lesson 02, sections 3 and 5 (a softmax that does not overflow, a log that is never $\log 0$).
#
# *Checked:* three networks whose sizes all differ, and one with scores of several hundred (no nan or inf); it names a summed instead of a mean loss, a sigmoid instead of a ReLU, a missing ReLU and a per-sample array instead of one number.


# %% dlcourse={"points": 2, "task": "4.2"}
def mlp_loss(x, t, params):
    """Mean cross-entropy of the ReLU net. x: (N, D), t: (N, K) one-hot; returns a float."""
    ### BEGIN SOLUTION
    h = np.maximum(x @ params["W1"] + params["b1"], 0)
    a2 = h @ params["W2"] + params["b2"]
    e = np.exp(a2 - a2.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    return float(-np.sum(t * np.log(np.maximum(y, 1e-7))) / len(x))
    ### END SOLUTION


# %% dlcourse={"check": "4.2"}
check("4.2", mlp_loss)


# %% [markdown]
# ### Task 4.3 — backward pass (3 points)
#
# Write `mlp_gradients(x, t, params)` that returns a dict with the gradients of `mlp_loss` with respect to `"W1"`, `"b1"`, `"W2"`, `"b2"`, each of the same shape as its parameter. Redo the forward pass inside (keep $a_1 = xW_1 + b_1$, $h$ and $y$), then:
#
# $$\delta_2 = \frac{y - t}{N}, \quad \frac{\partial J}{\partial W_2} = h^\top \delta_2, \quad \frac{\partial J}{\partial b_2} = \sum_n \delta_2, \quad \delta_1 = (\delta_2 W_2^\top) \odot [a_1 > 0], \quad \frac{\partial J}{\partial W_1} = x^\top \delta_1, \quad \frac{\partial J}{\partial b_1} = \sum_n \delta_1.$$
#
# *Hint:* lesson 04, section 3 (forward, backward and the chain rule): what is the derivative of $\max(a, 0)$ with respect to $a$?
#
# *Checked:* against a numerical gradient in float64 on three networks whose sizes all differ; it names a transposed $\partial J/\partial W$, a missing $1/N$, a wrong sign, a missing mask, a ReLU applied to the gradient and a sigmoid derivative, and otherwise reports the worst element's relative error.


# %% dlcourse={"points": 3, "task": "4.3"}
def mlp_gradients(x, t, params):
    """Gradients of mlp_loss. x: (N, D), t: (N, K) one-hot; returns a dict like params."""
    # Hint: recompute the forward pass; keep what backward needs.
    ### BEGIN SOLUTION
    a1 = x @ params["W1"] + params["b1"]
    h = np.maximum(a1, 0)
    a2 = h @ params["W2"] + params["b2"]
    e = np.exp(a2 - a2.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    delta2 = (y - t) / len(x)
    delta1 = (delta2 @ params["W2"].T) * (a1 > 0)
    return {
        "W1": x.T @ delta1,
        "b1": delta1.sum(axis=0),
        "W2": h.T @ delta2,
        "b2": delta2.sum(axis=0),
    }
    ### END SOLUTION


# %% dlcourse={"check": "4.3"}
check("4.3", mlp_gradients)


# %% [markdown]
# ### Task 4.4 — a summed-loss learning rate on a mean loss (1 point)
#
# A book trains with a loss summed over each batch and a learning rate `lr_sum`. You use the mean loss. Write `lr_for_mean_loss(lr_sum, batch_size)` that returns the learning rate that makes exactly the same updates with the mean loss.
#
# *Hint:* how do the two gradients compare? (Lesson 04, section 7.)
#
# *Checked:* five pairs of learning rate and batch size; it names the conversion done the wrong way round.


# %% dlcourse={"points": 1, "task": "4.4"}
def lr_for_mean_loss(lr_sum, batch_size):
    """Learning rate for the mean loss that gives the same steps as lr_sum on the summed loss."""
    ### BEGIN SOLUTION
    return lr_sum * batch_size
    ### END SOLUTION


# %% dlcourse={"check": "4.4"}
check("4.4", lr_for_mean_loss)

# %% [markdown]
# ### Your network reads digits
#
# The cell below trains a 784-100-10 ReLU network on the training digits with your three functions, using the blog post's learning rate of 0.005 on a summed loss, converted by your `lr_for_mean_loss`, and measures the test accuracy after every epoch.

# %%
data = load_mnist()
x_train, t_train = data.x_train, one_hot(data.t_train)
labels_train = data.t_train
x_test, t_test = data.x_test, one_hot(data.t_test)

init = np.random.default_rng(0)
params = {
    "W1": (init.normal(size=(784, 100)) / np.sqrt(784)).astype(np.float32),
    "b1": np.zeros(100, dtype=np.float32),
    "W2": (init.normal(size=(100, 10)) / np.sqrt(100)).astype(np.float32),
    "b2": np.zeros(10, dtype=np.float32),
}
lr = lr_for_mean_loss(0.005, 100)
train_losses, test_accuracies = [], []
for _ in range(epochs):
    for batch in stratified_batches(labels_train, 100, init):
        grads = mlp_gradients(x_train[batch], t_train[batch], params)
        for name in params:
            params[name] -= lr * grads[name]
    train_losses.append(mlp_loss(x_train, t_train, params))
    h = np.maximum(x_test @ params["W1"] + params["b1"], 0)
    predicted = (h @ params["W2"] + params["b2"]).argmax(axis=1)
    test_accuracies.append(float(np.mean(predicted == data.t_test)))

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(np.arange(1, epochs + 1), test_accuracies, "-o", label="test accuracy")
ax.set(xlabel="epoch", ylabel="test accuracy", title=f"Your MLP on MNIST (lr = {lr:g})")
ax.legend()
plt.show()

# %% [markdown]
# *Figure: test accuracy of your ReLU network after each epoch. With correct functions it is high after the first epoch already and then climbs slowly, with small ups and downs (the printed history above has the exact values).*

# %%
# NBVAL_CHECK_OUTPUT
print("test loss < 0.5:", mlp_loss(x_test, t_test, params) < 0.5)  # your Task 4.2
print("test accuracy >= 0.90:", test_accuracies[-1] >= 0.90)

# %% [markdown] dlcourse={"manual": true, "points": 2, "task": "4.5"}
# ### Task 4.5 — training and test accuracy (2 points, written)
#
# In lesson 04 the training accuracy of the ReLU network kept climbing, nearly to every training digit, while the test accuracy stopped rising (see the lesson's printed figures). In three to five sentences: why does the test accuracy stop rising while the training accuracy keeps going, why is the gap larger on the 4,000 offline digits than it would be on the full 60,000, and what would you change to close it (name two things)?
#
# ### BEGIN SOLUTION
# Gradient descent only ever lowers the loss on the training digits, so once the network has learned the patterns that hold for digits in general it continues by fitting the peculiarities of the particular training images (memorising), which does not help on new digits: training accuracy keeps rising, test accuracy flattens. With 4,000 training digits there is much less variety to learn from and far fewer examples per peculiarity, so a network with 79,510 parameters can memorise them quickly and the gap between the two accuracies is larger; with 60,000 digits memorising is harder and the general patterns are learned better. To close the gap: train on more data (the full set, or more variety through data augmentation such as small shifts and rotations), and regularise, for example with an L2 penalty on the weights, dropout, or early stopping at the epoch where a validation accuracy peaks (lesson 08).
# ### END SOLUTION

# %% [markdown]
# ## Done
#
# You wrote the mini-batch sampler, the forward pass with the loss, the backward pass with the ReLU mask, and the learning-rate conversion, and trained a digit reader with them. Lesson 05 turns these functions into layer objects and the `dlcourse` package.
