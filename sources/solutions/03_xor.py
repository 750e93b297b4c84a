# %% [markdown]
# # Assignment 03 · XOR
#
# In lesson 03 you trained a 2-2-2 network on XOR with the numerical gradient and with backpropagation. Here you write its pieces yourself: a sigmoid that never overflows and its derivative, the forward pass, and the backward pass, which the self-check compares with a numerical gradient. At the end your own functions train the network.
#
# **Points:** 8 (three code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 3.1 passed` or a reason you can act on. Run it as often as you like. Use numpy only, and never change the arrays you are given (compute new ones).
#
# **You need:** lesson 03 (sections 2–5) and lesson 02 (softmax).
#
# **Time:** about 60 minutes.

# %%
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
# ### Task 3.1 — a stable sigmoid and its derivative (2 points)
#
# Write `sigmoid(x)` $= 1 / (1 + e^{-x})$ element by element for an array of any shape, and `sigmoid_grad(x)` $= \sigma'(x) = \sigma(x)\,(1 - \sigma(x))$.
#
# Written as it stands, `1 / (1 + np.exp(-x))` computes $e^{1000}$ for $x = -1000$: numpy warns about an overflow (the answer happens to come out right, but a warning in every training step hides the ones that matter). Avoid it: $e^{-|x|}$ is never larger than 1, and
#
# $$\sigma(x) = \frac{1}{1 + e^{-|x|}} \;\text{ for } x \ge 0, \qquad \sigma(x) = \frac{e^{-|x|}}{1 + e^{-|x|}} \;\text{ for } x < 0.$$
#
# *Hint:* lesson 02, sections 1 and 3 (the sigmoid, and why `np.exp` overflows): for negative inputs, rewrite $\sigma(x)$ so that `np.exp` only ever sees numbers $\le 0$.
#
# *Checked:* values on arrays of three shapes; no overflow warning for inputs of ±1000; the derivative against $\sigma(1 - \sigma)$ (it names the mix-up with $x(1 - x)$); arguments not changed.


# %% dlcourse={"points": 2, "task": "3.1"}
def sigmoid(x):
    """Logistic function, elementwise, without overflow. x: any shape; returns the same shape."""
    # Hint: np.exp of a number <= 0 never overflows.
    ### BEGIN SOLUTION
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    ### END SOLUTION


def sigmoid_grad(x):
    """Derivative of the sigmoid at x, elementwise. x: any shape; returns the same shape."""
    ### BEGIN SOLUTION
    s = sigmoid(x)
    return s * (1 - s)
    ### END SOLUTION


# %% dlcourse={"check": "3.1"}
check("3.1", sigmoid, sigmoid_grad)
### BEGIN HIDDEN TESTS
assert sigmoid(np.array([0.0]))[0] == 0.5
assert abs(sigmoid_grad(np.array([0.0]))[0] - 0.25) < 1e-12
### END HIDDEN TESTS

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
# ### Task 3.3 — backpropagation (3 points)
#
# Write `gradients(x, t, params)` that returns a dict with the same keys as `params`, holding the gradients of the mean cross-entropy
#
# $$J = -\frac{1}{N} \sum_{n} \sum_{k} t_{nk} \log y_{nk}$$
#
# with respect to each parameter, for one-hot targets `t: (N, K)`. Do the forward pass again inside the function (you need $z_1$ and $y$), then go backwards as derived in lesson 03, section 4:
#
# $$\delta_2 = \frac{y - t}{N}, \quad \frac{\partial J}{\partial W_2} = z_1^\top \delta_2, \quad \frac{\partial J}{\partial b_2} = \sum_n \delta_2, \quad \delta_1 = (\delta_2 W_2^\top) \odot z_1 \odot (1 - z_1), \quad \frac{\partial J}{\partial W_1} = x^\top \delta_1, \quad \frac{\partial J}{\partial b_1} = \sum_n \delta_1.$$
#
# *Hint:* lesson 03, section 4 (backpropagation by hand). Each gradient has the shape of its parameter; if a shape does not fit, a transpose is in the wrong place.
#
# *Checked:* against a numerical gradient (central differences in float64) on three networks whose sizes all differ, so a transposed matrix cannot pass; the check names a missing $1/N$, a wrong sign and a forgotten sigmoid derivative, and otherwise reports the worst element's relative error.


# %% dlcourse={"points": 3, "task": "3.3"}
def gradients(x, t, params):
    """Gradients of the mean cross-entropy. x: (N, D), t: (N, K); returns a dict like params."""
    # Hint: forward pass first (z1, y), then delta2, then the second layer, then delta1.
    ### BEGIN SOLUTION
    z1 = sigmoid(x @ params["W1"] + params["b1"])
    y = softmax(z1 @ params["W2"] + params["b2"])
    delta2 = (y - t) / len(x)
    delta1 = (delta2 @ params["W2"].T) * z1 * (1 - z1)
    return {
        "W1": x.T @ delta1,
        "b1": delta1.sum(axis=0),
        "W2": z1.T @ delta2,
        "b2": delta2.sum(axis=0),
    }
    ### END SOLUTION


# %% dlcourse={"check": "3.3"}
check("3.3", gradients)

# %% [markdown]
# ### Your network learns XOR
#
# With the three tasks done, the cell below trains a 2-2-2 network on the four XOR points with your `gradients`, by full-batch gradient descent (learning rate 2, from the same start as lesson 03), and prints its answers.

# %%
x, labels = make_xor()
t = one_hot(labels, 2, dtype=np.float64)

init = np.random.default_rng(0)
params = {
    "W1": init.normal(size=(2, 2)),
    "b1": np.zeros(2),
    "W2": init.normal(size=(2, 2)),
    "b2": np.zeros(2),
}
losses = []
for _step in range(steps):
    grads = gradients(x, t, params)
    for name in params:
        params[name] -= 2.0 * grads[name]
    y = predict_deep(x, params)
    losses.append(-np.sum(t * np.log(np.maximum(y, 1e-7))) / len(x))

fig, ax = plt.subplots(figsize=(6, 3.4))
ax.plot(losses, label="your backprop, lr = 2")
ax.set(
    xlabel="gradient-descent step",
    ylabel="loss (log scale)",
    yscale="log",
    title="Your network learns XOR",
)
ax.legend()
plt.show()

# %% [markdown]
# *Figure: the training loss of your 2-2-2 network on a logarithmic scale against the step number. If your gradients are right it looks like lesson 03's: a plateau near 0.69, a sharp drop after a few hundred steps, then a slow decline towards zero.*

# %%
# NBVAL_CHECK_OUTPUT
print("predicted classes:", predict_deep(x, params).argmax(axis=1).tolist())
print("all four cases right:", bool((predict_deep(x, params).argmax(axis=1) == labels).all()))

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
# You wrote a numerically safe sigmoid, a two-layer forward pass and its backward pass, checked against the definition of the derivative. Lesson 04 uses exactly these formulas on 784 inputs and 10 classes, trained on mini-batches of handwritten digits.
