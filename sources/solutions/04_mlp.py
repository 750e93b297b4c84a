# %% [markdown]
# # Assignment 04 · MLP on MNIST
#
# In lesson 04 you trained a 784-100-10 network on handwritten digits with mini-batches, and backpropagation gave you the gradients of the loss with respect to the weights. Here you write a sampler that puts every class into every mini-batch, then turn backpropagation around: the gradient with respect to the *input image*. It tells you which way to nudge each pixel to make the network more wrong, and you use it to build adversarial examples, digits that a person still reads at a glance and the trained network misreads.
#
# **Points:** 10 (three code tasks, two written answers).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 4.1 passed` or a reason you can act on. Use numpy only, vectorised (no loops over samples), and never change the arrays you are given.
#
# **You need:** lesson 04 (sections 2 to 4), lesson 02 (section 3, a softmax that does not overflow; sections 4 and 6, one-hot targets and $y - t$) and assignment 03.
#
# **Time:** about 75 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything, sized
from dlcourse.data import load_mnist
from dlcourse.models import mlp
from dlcourse.optimizers import SGD
from dlcourse.training import train

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
epochs = sized(20, 5)  # training epochs of the network you attack at the end


# %% [markdown]
# ### Task 4.1 — mini-batches with every class in each (2 points)
#
# Lesson 04 cut one shuffled permutation into consecutive batches. With few samples of a class, such a batch may hold none of them, and the gradient steps swing from batch to batch. Write `stratified_batches(labels, batch_size, rng)` for integer labels `(N,)` that returns one epoch of mini-batches as a list of integer index arrays such that
#
# - every index $0, \ldots, N-1$ appears exactly once,
# - there are $B = \lceil N / \text{batch\_size} \rceil$ batches, none larger than `batch_size`, whose sizes differ by at most 1,
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
# ### Task 4.2 — the gradient with respect to the input image (3 points)
#
# Lesson 04 derived the gradients of the loss with respect to the weights, because those are what training changes. Now keep the weights fixed and ask the other question: how does the loss change when a *pixel* changes? Write `input_gradient(x, labels, params)` for lesson 04's ReLU network,
#
# $$a_1 = x W_1 + b_1, \qquad z = \max(0,\, a_1), \qquad y = \operatorname{softmax}(z W_2 + b_2), \qquad J = -\frac{1}{N} \sum_{n} \log y_{n,\,\text{labels}_n},$$
#
# with `x: (N, D)`, integer `labels: (N,)` (not one-hot), and `params` holding `"W1": (D, H)`, `"b1": (H,)`, `"W2": (H, K)`, `"b2": (K,)`. Return $\partial J / \partial x$, shape $(N, D)$, like `x`: element $(n, d)$ says how fast the mean loss grows with pixel $d$ of image $n$. The softmax must not overflow: scores over 1000 occur.
#
# *Hint:* lesson 04, section 3 (forward, backward and the chain rule). Its backward pass stops at $\delta_1 = \partial J / \partial a_1$, because that is all $\partial J / \partial W_1$ needs; read its step "Into the hidden layer" again with the first layer in mind.
#
# *Checked:* against a numerical gradient in float64 on three networks whose sizes $N$, $D$, $H$, $K$ all differ, and on one with scores over 1000 (no nan or inf). It names a gradient one step short, a missing or misplaced ReLU mask, a missing $1/N$, a wrong sign, $W_1$ where its transpose belongs and labels used as if they were one-hot rows, and otherwise reports the worst element's relative error.

# %% dlcourse={"points": 3, "task": "4.2"}
def input_gradient(x, labels, params):
    """dJ/dx of the mean cross-entropy. x: (N, D), labels: (N,) integers; returns (N, D)."""
    # Hint: forward pass first (keep a1); then back through the output layer, the ReLU, W1.
    ### BEGIN SOLUTION
    a1 = x @ params["W1"] + params["b1"]
    z = np.maximum(a1, 0)
    a2 = z @ params["W2"] + params["b2"]
    e = np.exp(a2 - a2.max(axis=1, keepdims=True))
    y = e / e.sum(axis=1, keepdims=True)
    t = np.eye(y.shape[1])[labels]
    delta2 = (y - t) / len(x)
    delta1 = (delta2 @ params["W2"].T) * (a1 > 0)
    return delta1 @ params["W1"].T
    ### END SOLUTION


# %% dlcourse={"check": "4.2"}
check("4.2", input_gradient)


# %% [markdown]
# ### Task 4.3 — adversarial examples (2 points)
#
# Training moves the *weights* a small step against the gradient to lower the loss. An attacker moves the *pixels* a small step along the gradient to raise it. Write `adversarial_examples(x, labels, params, eps)` that returns, for images `x: (N, D)` with pixels in $[0, 1]$,
#
# $$x_\text{adv} = \operatorname{clip}\!\big(x + \varepsilon \operatorname{sign}(\partial J / \partial x),\; 0,\; 1\big),$$
#
# using your `input_gradient` from Task 4.2, as a new array (leave `x` as it is).
#
# Why the sign and not the gradient itself? We want a change no one notices, so we give every pixel the same small budget: it may move by at most $\varepsilon$. Under that budget the first-order change of the loss, $\sum_d \frac{\partial J}{\partial x_d}\, \Delta x_d$, is largest when every pixel moves by the full $\varepsilon$ in the direction of its own partial derivative, that is by $\varepsilon \operatorname{sign}(\partial J / \partial x_d)$. Clipping keeps the result a valid image. This is the *fast gradient sign method* of Goodfellow, Shlens and Szegedy, "Explaining and harnessing adversarial examples" (ICLR 2015).
#
# *Hint:* lesson 04, section 4 (training with mini-batches) takes the step for the weights, $W \leftarrow W - \text{lr}\, \partial J / \partial W$; here the step is on $x$, in the other direction, with a fixed size per pixel.
#
# *Checked:* three networks and values of $\varepsilon$, on images with pixels at 0 and at 1: no pixel moves by more than $\varepsilon$, every pixel stays in $[0, 1]$, the loss rises, and the result matches a reference with its own input gradient. It names a step that lowers the loss, a missing clip, the raw gradient instead of its sign, the sign of $x$ instead of the gradient's, a changed `x`, and an `input_gradient` that has not passed Task 4.2 yet.

# %% dlcourse={"points": 2, "task": "4.3"}
def adversarial_examples(x, labels, params, eps):
    """Images moved by eps per pixel to raise the loss. x: (N, D) in [0, 1]; returns (N, D)."""
    ### BEGIN SOLUTION
    return np.clip(x + eps * np.sign(input_gradient(x, labels, params)), 0, 1)
    ### END SOLUTION


# %% dlcourse={"check": "4.3"}
check("4.3", adversarial_examples, input_gradient)

# %% [markdown]
# ### Fooling your own digit reader
#
# The cell below trains lesson 04's 784-100-10 ReLU network on the training digits, with the `dlcourse` package that lesson 05 builds (plain SGD on mini-batches of 100, learning rate 0.5 on the mean loss, as in lesson 04), and takes its weights out as a `params` dict like the one your functions use.

# %%
data = load_mnist()
model = mlp((784, 100, 10), activation="relu", rng=0)
train(model, SGD(lr=0.5), data.x_train, data.t_train, epochs=epochs, rng=0, progress=False)
weights = model.params
params = {"W1": weights["affine1.W"], "b1": weights["affine1.b"]}
params |= {"W2": weights["affine2.W"], "b2": weights["affine2.b"]}


def predict(x, params):
    """The network's digit for each image. x: (N, 784); returns (N,) integers."""
    z = np.maximum(x @ params["W1"] + params["b1"], 0)
    return (z @ params["W2"] + params["b2"]).argmax(axis=1)


# %% [markdown]
# Now every test digit is attacked with your `adversarial_examples`, for a few budgets $\varepsilon$ (a pixel runs from 0, white, to 1, black), and the network reads the attacked digits. $\varepsilon = 0$ is the clean test set.

# %%
x_test, labels_test = data.x_test, data.t_test
eps_values = (0.0, 0.02, 0.05, 0.1, 0.2)


def accuracy_under_attack(eps):
    """Test accuracy on the digits attacked by your adversarial_examples (eps = 0: clean)."""
    x_adv = adversarial_examples(x_test, labels_test, params, eps)
    return float(np.mean(predict(x_adv, params) == labels_test))


print("   eps   test accuracy")
for eps in eps_values:
    print(f"{eps:6.2f}   {accuracy_under_attack(eps):.3f}")

# %%
# NBVAL_CHECK_OUTPUT
accuracies = [accuracy_under_attack(eps) for eps in eps_values]
print("clean test accuracy >= 0.88:", accuracies[0] >= 0.88)
print("accuracy at eps = 0.1 below half the clean one:", accuracies[3] < accuracies[0] / 2)
print("a larger eps never helps:", bool(np.all(np.diff(accuracies) <= 0)))

# %% [markdown]
# What does such an attack look like? The figure shows the first test digit that the network reads correctly but misreads after an attack with $\varepsilon = 0.1$: the digit, the change the attack made (red: darker, blue: lighter), and the attacked digit, with the network's answer above each.

# %%
eps = 0.1
x_adv = adversarial_examples(x_test, labels_test, params, eps)
clean, attacked = predict(x_test, params), predict(x_adv, params)
n = int(np.flatnonzero((clean == labels_test) & (attacked != labels_test))[0])
change = x_adv[n] - x_test[n]

fig, axes = plt.subplots(1, 3, figsize=(9, 3.4), layout="constrained")
axes[0].imshow(x_test[n].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
axes[0].set_title(f"digit {labels_test[n]}: read as {clean[n]}")
shown = axes[1].imshow(change.reshape(28, 28), cmap="RdBu_r", vmin=-eps, vmax=eps)
axes[1].set_title(f"change, every pixel within ±{eps:g}")
fig.colorbar(shown, ax=axes[1], shrink=0.8, label="pixel change")
axes[2].imshow(x_adv[n].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
axes[2].set_title(f"attacked: read as {attacked[n]}")
for ax in axes:
    ax.set(xticks=[], yticks=[])
plt.show()

# %% [markdown]
# *Figure: a test digit (left), the change made by the fast gradient sign method (middle; red pixels got darker, blue ones lighter, each by at most $\varepsilon$; white ones stayed, mostly background pixels at 0 that the attack would have made lighter, which clipping stops) and the attacked digit (right), with the network's reading above each. The change covers the whole image, background included, as a faint speckle; the digit is still plain to a person, yet the network's answer changes.*

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "4.4"}
# ### Task 4.4 — why so small a change fools the network (1 point, written)
#
# In the printed accuracies above, a change of at most $\varepsilon$ per pixel, which a person barely sees, turns many right answers of the network wrong. In three to five sentences: why can so small a change per pixel move the network's answer so much? Consider how much one pre-activation of the first layer, $a = \sum_{d=1}^{D} x_d w_d + b$, can change when every pixel moves by $\pm\varepsilon$, and how that depends on the number of pixels $D = 784$. Then name one thing that would make the network harder to fool.
#
# ### BEGIN SOLUTION
# The network is close to linear in its input: between ReLU switches each pre-activation is a weighted sum $a = \sum_d x_d w_d + b$. Moving every pixel by $\varepsilon$ with the sign of its weight changes $a$ by $\varepsilon \sum_d |w_d|$: each pixel contributes only a tiny amount, but all $D = 784$ contributions point the same way, so the change grows with the number of pixels (about $\varepsilon D$ times the typical $|w_d|$), while a person judges the image by the largest change of any one pixel, which stays $\varepsilon$. The attack does this for every unit at once through the gradient, so the changes add up through the layers to the scores and overturn the answer, as the printed accuracies above show. To make the network harder to fool, train it on adversarial examples as well (adversarial training: add $x_\text{adv}$ with the correct labels to every mini-batch); other measures are keeping the weights small (a weight penalty shrinks $\sum_d |w_d|$) or checking inputs for such speckle noise, though none of them removes the effect entirely.
# ### END SOLUTION

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
# You wrote a mini-batch sampler that spreads every class over every batch, took backpropagation one step further than lesson 04 to the gradient with respect to the input image, and used it to build adversarial examples that fool the digit reader you trained, with a change of at most $\varepsilon$ per pixel. Lesson 05 turns lesson 04's functions into layer objects and the `dlcourse` package; lesson 08 returns to what makes a network generalise.
