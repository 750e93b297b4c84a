# %% [markdown]
# # Assignment 03 · XOR
#
# In lesson 03 you trained a 2-2-2 network on XOR with the numerical gradient and with backpropagation. Here you go one step further each time: the two-class loss computed straight from one output score (without overflow, without a guard) and its gradient, the forward pass of a network with any number of layers, and its backward pass, which the self-check compares with a numerical gradient. At the end your own functions train a two-layer and a three-layer network on XOR.
#
# **Points:** 9 (three code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 3.1 passed` or a reason you can act on. Run it as often as you like. Use numpy only, and never change the arrays you are given (compute new ones).
#
# **You need:** lesson 03 (sections 2–5) and lesson 02 (sections 1–6: sigmoid, softmax, overflow, the $\log 0$ guard, the gradient $y - t$).
#
# **Time:** about 75 minutes.

# %%
import itertools

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything, sized
from dlcourse.data import make_xor
from dlcourse.functions import one_hot

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
steps = sized(3000, 1500)  # training steps at the end of the assignment


# %% [markdown]
# ### Task 3.1 — a stable sigmoid and the two-class loss from logits (3 points)
#
# With two classes a network needs only one output score per sample, the **logit** $a$, and $p(\text{class 1}) = \sigma(a)$ (lesson 02, section 1). Write three functions.
#
# **`sigmoid(x)`** $= 1 / (1 + e^{-x})$, element by element for an array of any shape (Task 3.2 uses it). Written as it stands, `1 / (1 + np.exp(-x))` computes $e^{1000}$ for $x = -1000$: numpy warns about an overflow (the answer happens to come out right, but a warning in every training step hides the ones that matter). Avoid it: $e^{-|x|}$ is never larger than 1, and
#
# $$\sigma(x) = \frac{1}{1 + e^{-|x|}} \;\text{ for } x \ge 0, \qquad \sigma(x) = \frac{e^{-|x|}}{1 + e^{-|x|}} \;\text{ for } x < 0.$$
#
# **`binary_cross_entropy(a, t)`** for logits `a: (N,)` and targets `t: (N,)` holding 0.0 or 1.0: the mean over the batch of the two-class cross-entropy, returned as one number,
#
# $$L = \frac{1}{N} \sum_{n=1}^{N} \Big[ -t_n \log \sigma(a_n) - (1 - t_n) \log\big(1 - \sigma(a_n)\big) \Big].$$
#
# Compute it from the logits, **without a probability and without a guard**: for $a = -1000$ and $t = 1$ that sample's loss is exactly 1000, not `inf` (the log of $\sigma(-1000)$, which is 0 in float64) and not lesson 02's cap $-\log 10^{-7} \approx 16.1$<!-- static: -log(1e-7) -->; for $a = 1000$ and $t = 1$ it is 0; and numpy must not warn. First write $-\log \sigma(a)$ and $-\log(1 - \sigma(a))$ as logarithms of $1 + e^{\pm a}$; then this identity keeps every exponent $\le 0$:
#
# $$\log(1 + e^{a}) = \max(a, 0) + \log\big(1 + e^{-|a|}\big) \qquad (\texttt{np.log1p(z)} = \log(1 + z)).$$
#
# **`binary_cross_entropy_grad(a, t)`**: $\partial L / \partial a$, shape `(N,)`. Derive it by hand, as lesson 02 did for the softmax; the result is just as short.
#
# Do not change `a` or `t`.
#
# *Hint:* lesson 02, sections 3 (why `np.exp` overflows) and 5 (the $\log 0$ guard, and what it costs a confidently wrong sample); for the gradient, section 6 (softmax + cross-entropy) with $\sigma'(a) = \sigma(a)\,(1 - \sigma(a))$.
#
# *Checked:* the sigmoid on three shapes and on ±1000 without overflow; the loss and its gradient on batches of 5, 8 and 3 random logits and on one with logits of ±1000 and 0, against float64 references and a numerical gradient, with numpy's warnings turned into errors. The check names a log of a probability, a guard (a loss capped near 16.1<!-- static: -log(1e-7) -->), a sum instead of the mean, swapped targets, a gradient with the wrong sign or without $1/N$, and the sigmoid's own derivative $\sigma(1 - \sigma)$ given as the gradient.


# %% dlcourse={"points": 3, "task": "3.1"}
def sigmoid(x):
    """Logistic function, elementwise, without overflow. x: any shape; returns the same shape."""
    # Hint: np.exp of a number <= 0 never overflows.
    ### BEGIN SOLUTION
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    ### END SOLUTION


def binary_cross_entropy(a, t):
    """Mean two-class cross-entropy of logits. a: (N,) logits, t: (N,) 0/1; returns a float."""
    # Hint: lesson 02, sections 3 and 5; write both terms as log(1 + e^(...)) before coding.
    ### BEGIN SOLUTION
    log_one_plus_exp = np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))  # log(1 + e^a)
    return float(np.mean(log_one_plus_exp - t * a))
    ### END SOLUTION


def binary_cross_entropy_grad(a, t):
    """Gradient of binary_cross_entropy with respect to a. a, t: (N,); returns (N,)."""
    # Hint: lesson 02, section 6 derived the softmax's; do the same for one logit.
    ### BEGIN SOLUTION
    return (sigmoid(a) - t) / len(a)
    ### END SOLUTION


# %% dlcourse={"check": "3.1"}
check("3.1", sigmoid, binary_cross_entropy, binary_cross_entropy_grad)
### BEGIN HIDDEN TESTS
assert sigmoid(np.array([0.0]))[0] == 0.5
assert abs(binary_cross_entropy(np.array([0.0, 0.0]), np.array([0.0, 1.0])) - np.log(2)) < 1e-12
### END HIDDEN TESTS

# %% [markdown]
# For two classes, the softmax of the scores $(0, a)$ for classes 0 and 1 is $(1 - \sigma(a), \sigma(a))$ (lesson 02, section 2), so your loss should equal the softmax cross-entropy of those two scores (computed below with exact log-probabilities). And it stays exact where a guarded one saturates:

# %%
# NBVAL_CHECK_OUTPUT
logits = np.array([-1000.0, -3.0, 0.0, 2.5, 1000.0])
targets = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
scores = np.stack([np.zeros_like(logits), logits], axis=1)  # class 0, class 1
log_y = scores - np.logaddexp(scores[:, :1], scores[:, 1:])
softmax_ce = -np.mean(log_y[np.arange(len(logits)), targets.astype(int)])
same = np.isclose(binary_cross_entropy(logits, targets), softmax_ce)
print("equals the softmax cross-entropy:", same)
for a_n in (-1000.0, 1000.0):
    loss_n = binary_cross_entropy(np.array([a_n]), np.array([1.0]))
    print(f"one sample with a = {a_n:+.0f} and t = 1: loss {loss_n}")

# %% [markdown]
# ### Task 3.2 — the forward pass of a deeper network (2 points)
#
# Lesson 03's network has one hidden layer. Write `softmax(a)` for scores `a: (N, K)` (each row becomes probabilities that sum to 1) and `predict_deep(x, params)` for a network with **any number of layers**: `params` holds `"W1", "b1", "W2", "b2", …, "WL", "bL"` with $W_l: (H_{l-1}, H_l)$, $b_l: (H_l,)$, $H_0 = D$ and $H_L = K$. Every layer but the last applies the sigmoid, the last one the softmax:
#
# $$z_0 = x, \qquad z_l = \sigma(z_{l-1} W_l + b_l) \;\; (l < L), \qquad y = \operatorname{softmax}(z_{L-1} W_L + b_L).$$
#
# Return `y: (N, K)`. With $L = 2$ this is lesson 03's network. Use your `sigmoid` from Task 3.1, and do not change `params`.
#
# *Hint:* lesson 03, section 2 (the network, layer by layer) and lesson 02, section 3 (a softmax that does not overflow). How many layers does a dict of `2L` arrays describe?
#
# *Checked:* networks with one, two and three hidden layers, different sizes and random weights, and one with scores of about ±1000; the check recognises a missing sigmoid, a sigmoid on the output layer, a softmax over the wrong axis, unnormalised scores and a loop that stops early.


# %% dlcourse={"points": 2, "task": "3.2"}
def softmax(a):
    """Row-wise softmax. a: (N, K) scores; returns (N, K) probabilities."""
    # Hint: shift each row by its maximum first.
    ### BEGIN SOLUTION
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
    ### END SOLUTION


def predict_deep(x, params):
    """L-layer net. x: (N, D); params W1, b1, …, WL, bL; returns y: (N, K)."""
    ### BEGIN SOLUTION
    layers = len(params) // 2
    z = x
    for layer in range(1, layers):
        z = sigmoid(z @ params[f"W{layer}"] + params[f"b{layer}"])
    return softmax(z @ params[f"W{layers}"] + params[f"b{layers}"])
    ### END SOLUTION


# %% dlcourse={"check": "3.2"}
check("3.2", predict_deep)


# %% [markdown]
# ### Task 3.3 — backpropagation through any depth (3 points)
#
# Write `gradients_deep(x, t, params)` for the network of Task 3.2 (`params` holds `W1, b1, …, WL, bL`; sigmoid hidden layers, softmax output) and one-hot targets `t: (N, K)`. Return a dict with the same keys as `params`, holding the gradients of the mean cross-entropy
#
# $$J = -\frac{1}{N} \sum_{n} \sum_{k} t_{nk} \log y_{nk}$$
#
# with respect to each parameter, for **any** number of layers $L \ge 1$ ($L = 1$ is softmax regression, no hidden layer). Do not change `params`.
#
# Lesson 03, section 4 derived the two-layer case ($z_0 = x$):
#
# $$\delta_2 = \frac{y - t}{N}, \quad \frac{\partial J}{\partial W_2} = z_1^\top \delta_2, \quad \frac{\partial J}{\partial b_2} = \sum_n \delta_2, \quad \delta_1 = (\delta_2 W_2^\top) \odot z_1 \odot (1 - z_1), \quad \frac{\partial J}{\partial W_1} = z_0^\top \delta_1, \quad \frac{\partial J}{\partial b_1} = \sum_n \delta_1.$$
#
# Every layer $l$ is the same pair of steps, $a_l = z_{l-1} W_l + b_l$ then a function of $a_l$: find the general rule that takes you from $\delta_l = \partial J / \partial a_l$ to the gradients of layer $l$ and to $\delta_{l-1}$, and write it as one loop from layer $L$ down to layer 1.
#
# *Hint:* lesson 03, section 4 (backpropagation by hand: which array each step needs). Keep every $z_l$ of the forward pass in a list, $z_0 = x$ first; each gradient has the shape of its parameter.
#
# *Checked:* against a numerical gradient (central differences in float64) on networks with 2, 3, 4 and 1 layers (in this order), all sizes of a network different, so a transposed matrix cannot pass; the check names a wrong sign, a missing $1/N$, a forgotten sigmoid derivative or one taken at the wrong layer, a loop that misses the first layer, code that handles only two layers and a changed `params`; otherwise it says which layers are wrong and where the error starts.


# %% dlcourse={"points": 3, "task": "3.3"}
def gradients_deep(x, t, params):
    """Mean cross-entropy gradients of an L-layer net. x: (N, D), t: (N, K); a dict like params."""
    # Hint: forward pass keeping z_0 = x, z_1, ..., z_(L-1) in a list; then delta_L, then loop down.
    ### BEGIN SOLUTION
    layers = len(params) // 2
    zs = [x]
    for layer in range(1, layers):
        zs.append(sigmoid(zs[-1] @ params[f"W{layer}"] + params[f"b{layer}"]))
    y = softmax(zs[-1] @ params[f"W{layers}"] + params[f"b{layers}"])
    delta = (y - t) / len(x)  # dJ/da_L: (N, K)
    grads = {}
    for layer in range(layers, 0, -1):
        z_in = zs[layer - 1]  # the input of this layer: (N, H_(l-1))
        grads[f"W{layer}"] = z_in.T @ delta
        grads[f"b{layer}"] = delta.sum(axis=0)
        if layer > 1:
            delta = (delta @ params[f"W{layer}"].T) * z_in * (1 - z_in)
    return grads
    ### END SOLUTION


# %% dlcourse={"check": "3.3"}
check("3.3", gradients_deep)

# %% [markdown]
# ### Your network learns XOR
#
# With the tasks done, the cell below trains two networks on the four XOR points with your `gradients_deep` and `predict_deep`, by full-batch gradient descent with learning rate 2: lesson 03's 2-2-2 network from the same start as there, and a deeper 2-3-3-2 network (three layers).


# %%
def init_params(sizes, seed):
    """Random normal weights and zero biases for a net with layer sizes (D, H1, ..., K)."""
    init = np.random.default_rng(seed)
    params = {}
    for layer, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes), start=1):
        params[f"W{layer}"] = init.normal(size=(fan_in, fan_out))
        params[f"b{layer}"] = np.zeros(fan_out)
    return params


def train_xor(sizes, lr=2.0, seed=0):
    """Full-batch gradient descent on XOR; returns the parameters and the loss per step."""
    params = init_params(sizes, seed)
    losses = []
    for _step in range(steps):
        grads = gradients_deep(x, t, params)
        for name in params:
            params[name] -= lr * grads[name]
        y = predict_deep(x, params)
        losses.append(-np.sum(t * np.log(np.maximum(y, 1e-7))) / len(x))
    return params, losses


x, labels = make_xor()
t = one_hot(labels, 2, dtype=np.float64)
trained = {}  # layer sizes -> (params, losses)
for sizes in [(2, 2, 2), (2, 3, 3, 2)]:
    trained[sizes] = train_xor(sizes)

fig, ax = plt.subplots(figsize=(6, 3.4))
for sizes, (_params, losses) in trained.items():
    ax.plot(losses, label="-".join(map(str, sizes)) + " net, lr = 2")
ax.set(
    xlabel="gradient-descent step",
    ylabel="loss (log scale)",
    yscale="log",
    title="Your backprop trains both networks on XOR",
)
ax.legend()
plt.show()

# %% [markdown]
# *Figure: the training loss of both networks on a logarithmic scale against the step number. If your gradients are right the 2-2-2 curve looks like lesson 03's: a plateau near $\log 2$, a sharp drop, then a slow decline towards zero; the deeper network's curve drops at its own time and may jump up for a moment first: a step too large for the slope at that point, the oscillation of lesson 03, section 9.*

# %%
# NBVAL_CHECK_OUTPUT
for sizes, (params, _losses) in trained.items():
    predicted = predict_deep(x, params).argmax(axis=1)
    right = bool((predicted == labels).all())
    net = "-".join(map(str, sizes))
    print(f"{net}: predicted classes {predicted.tolist()}, all four right: {right}")

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "3.4"}
# ### Task 3.4 — why a single neuron cannot learn XOR (1 point, written)
#
# In three to five sentences: why can no single neuron $\text{step}(w_1 x_1 + w_2 x_2 + b)$ compute XOR, and what does the hidden layer of your network do that makes the problem solvable for its output neuron? Refer to the four points and to what you saw in lesson 03's hidden-space plot.
#
# ### BEGIN SOLUTION
# A single neuron says "class 1" exactly on one side of the straight line $w_1 x_1 + w_2 x_2 + b = 0$. For XOR the two class-1 points (0, 1) and (1, 0) lie on one diagonal and the class-0 points (0, 0) and (1, 1) on the other, and the inequalities cannot all hold: the two class-1 points need $w_1 + b > 0$ and $w_2 + b > 0$, which add up to $w_1 + w_2 + 2b > 0$, while the class-0 points need $b \le 0$ and $w_1 + w_2 + b \le 0$, which add up to $w_1 + w_2 + 2b \le 0$. The hidden layer maps each input to new coordinates $z_1 = \sigma(x W_1 + b_1)$, non-linearly; in lesson 03's trained network one hidden unit behaves like OR and the other like AND, so both class-1 points land at the same corner (OR on, AND off) while the class-0 points land elsewhere. In those new coordinates the classes *are* separable by a line, which is all the output neuron can draw.
# ### END SOLUTION

# %% [markdown]
# ## Done
#
# You wrote a numerically safe sigmoid, the two-class cross-entropy from logits with its gradient, and the forward and backward passes of a network of any depth, checked against the definition of the derivative. Lesson 04 uses exactly these formulas on 784 inputs and 10 classes, trained on mini-batches of handwritten digits.
