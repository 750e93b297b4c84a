# %% [markdown]
# # 03 · XOR: a hidden layer and backpropagation
#
# By the end of this lesson you will have trained a small two-layer network to compute XOR twice, once with the numerical gradient of lesson 01 and once with gradients you derived by hand with the chain rule, and you will have shown that the two gradients agree to better than one part in a million.
#
# **Goals**
#
# - See, in a plot and in a three-line proof, why no straight line separates the four XOR points.
# - Build a 2-H-2 network: a sigmoid hidden layer and a softmax output, with the cross-entropy loss.
# - Train it with the numerical gradient (slow, obviously right), then derive backpropagation and train it again (fast).
# - Compare the two gradients (maximum relative error below $10^{-6}$) and their cost.
# - Read the learned decision boundary, and explain why a training loss can oscillate.
#
# **You need:** lesson 01 (the numerical gradient and the update rule $w \leftarrow w - \eta\, \partial J / \partial w$) and lesson 02 (sigmoid, softmax, one-hot targets, cross-entropy and its gradient $y - t$).
#
# **Time:** about 75 minutes.

# %%
import time

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Markdown, display

from dlcourse.config import seed_everything, sized
from dlcourse.data import make_xor
from dlcourse.functions import one_hot, sigmoid, softmax

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")

steps = sized(3000, 1500)  # gradient-descent steps of one training run
seeds = sized(20, 4)  # random starts per hidden size in section 8

# %% [markdown]
# `sigmoid`, `softmax` and `one_hot` are the functions you wrote in lesson 02, imported from the course package (they never overflow). Everything new in this lesson is written out below.

# %% [markdown]
# ## 1. Four points no line can separate
#
# XOR ("exclusive or") of two bits is 1 when exactly one of them is 1. As a classification problem it has four samples with two inputs each and two classes:

# %%
# NBVAL_CHECK_OUTPUT
x, labels = make_xor()  # x: (4, 2) inputs, labels: (4,) classes 0 or 1
t = one_hot(labels, 2, dtype=np.float64)  # t: (4, 2) one-hot targets
print(" x1  x2 | XOR | t")
for (x1, x2), label, row in zip(x, labels, t):
    print(f"{x1:3.0f} {x2:3.0f} | {label:3d} | {row}")


# %% [markdown]
# A single neuron, as in lesson 02, computes $w_1 x_1 + w_2 x_2 + b$ and says "class 1" when that is positive. The points where it is exactly zero form a straight line, so a single neuron can only split the plane into two half-planes. Look at the points: the two class-1 points sit on one diagonal, the two class-0 points on the other.


# %%
def plot_xor_points(ax, x, labels):
    # Class 0 as circles, class 1 as crosses, each with its own colour.
    for label, marker in ((0, "o"), (1, "X")):
        chosen = x[labels == label]
        ax.scatter(*chosen.T, s=180, marker=marker, color=colors[label], label=f"class {label}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), aspect="equal")


fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
plot_xor_points(ax, x, labels)
line = np.linspace(-0.5, 1.5, 2)
ax.plot(line, 1.5 - line, "--", color="gray", label="a try: $x_1 + x_2 = 1.5$")
ax.plot(line, 0.5 - line, ":", color="gray", label="another: $x_1 + x_2 = 0.5$")
ax.set_title("Every straight line leaves a point on the wrong side")
ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=9)
plt.show()


# %% [markdown]
# *Figure: the four XOR inputs in the plane: circles (class 0) at (0, 0) and (1, 1), crosses (class 1) at (0, 1) and (1, 0). Two dashed trial lines each cut off one corner, so each gets three of the four points right. Notice that the classes sit on crossing diagonals: any line that puts both crosses on one side also takes in a circle.*
#
# **Proof that no line works.** Suppose $w_1 x_1 + w_2 x_2 + b$ were positive exactly for the crosses. Then
#
# $$\underbrace{w_2 + b > 0}_{(0,1)}, \qquad \underbrace{w_1 + b > 0}_{(1,0)}, \qquad \underbrace{b \le 0}_{(0,0)}, \qquad \underbrace{w_1 + w_2 + b \le 0}_{(1,1)}.$$
#
# Adding the first two gives $w_1 + w_2 + 2b > 0$; adding the last two gives $w_1 + w_2 + 2b \le 0$. Both cannot hold. Swapping the classes only flips every sign, so no line separates XOR either way round.
#
# A quick experiment agrees: draw many random lines (random $w_1, w_2, b$) and keep the best one.


# %%
# NBVAL_CHECK_OUTPUT
def best_random_line(x, labels, n_lines, rng):
    # Number of points the best of n_lines random lines w1*x1 + w2*x2 + b > 0 gets right.
    w = rng.normal(size=(n_lines, 2))  # one line per row
    b = rng.normal(size=(n_lines, 1))
    predicted = (w @ x.T + b > 0).astype(int)  # (n_lines, 4)
    return int((predicted == labels).sum(axis=1).max())


print(f"best of 100,000 random lines: {best_random_line(x, labels, 100_000, rng)} of 4 points")


# %% [markdown]
# Three out of four, never four. To solve XOR a network has to *bend* the input space first, and that is what a hidden layer does.

# %% [markdown]
# ## 2. A network with a hidden layer
#
# The network has two layers of weights. For a batch $x$ of $N$ samples:
#
# $$a_1 = x W_1 + b_1, \qquad z_1 = \sigma(a_1), \qquad a_2 = z_1 W_2 + b_2, \qquad y = \operatorname{softmax}(a_2),$$
#
# and the loss is the mean cross-entropy of lesson 02,
#
# $$J = -\frac{1}{N} \sum_{n=1}^{N} \sum_{k=1}^{K} t_{nk} \log y_{nk}.$$
#
# With $D = 2$ inputs, $H$ hidden units and $K = 2$ classes the shapes are:
#
# | array | shape | for XOR with $H = 2$ |
# |---|---|---|
# | $x$ | $(N, D)$ | $(4, 2)$ |
# | $W_1$, $b_1$ | $(D, H)$, $(H,)$ | $(2, 2)$, $(2,)$ |
# | $a_1$, $z_1$ | $(N, H)$ | $(4, 2)$ |
# | $W_2$, $b_2$ | $(H, K)$, $(K,)$ | $(2, 2)$, $(2,)$ |
# | $a_2$, $y$ | $(N, K)$ | $(4, 2)$ |
#
# The smallest network that can learn XOR has $H = 2$: the 2-2-2 network. We keep the parameters in a dict, so one loop can update all of them. The weights start as small random numbers (random, so that the two hidden units start different; if they started equal, they would stay equal forever), the biases at zero.


# %%
def init_params(hidden, rng, scale=1.0):
    # Parameters of a 2-hidden-2 network: random weights, zero biases.
    return {
        "W1": rng.normal(scale=scale, size=(2, hidden)),
        "b1": np.zeros(hidden),
        "W2": rng.normal(scale=scale, size=(hidden, 2)),
        "b2": np.zeros(2),
    }


def predict(x, params):
    # x: (N, D) -> y: (N, K) class probabilities.
    z1 = sigmoid(x @ params["W1"] + params["b1"])
    return softmax(z1 @ params["W2"] + params["b2"])


def loss(x, t, params):
    # Mean cross-entropy of the predictions; 1e-7 guards against log(0).
    y = predict(x, params)
    return float(-np.sum(t * np.log(np.maximum(y, 1e-7))) / len(x))


params = init_params(hidden=2, rng=np.random.default_rng(0))
print("untrained probabilities of class 1:", predict(x, params)[:, 1].round(3))
print(f"untrained loss: {loss(x, t, params):.4f} (log 2 = {np.log(2):.4f} means no idea)")


# %% [markdown]
# Untrained, the network gives every input a probability close to one half (printed above), and the loss is close to $\log 2$, the loss of a fair coin.

# %% [markdown]
# ## 3. Training with the numerical gradient
#
# Lesson 01 computed the gradient of any function by nudging one number at a time:
#
# $$\frac{\partial J}{\partial w} \approx \frac{J(w + h) - J(w - h)}{2h}.$$
#
# Applied to every element of every parameter array, it needs two evaluations of the loss per parameter. The function below is lesson 01's `numerical_gradient(f, x, h=1e-4)` in the same form (it calls `f(x)` with the perturbed array), with the `try ... finally` guard of assignment task 1.2, so your own answer to that task works here too. It perturbs the array *in place* (so `loss`, which reads the parameters from the dict, sees the change) and restores each element afterwards, even if the loss raises an error. As lesson 01 promised, the loss ignores its argument: `f = lambda _: loss(x, t, params)`.


# %%
def numerical_gradient(f, x, h=1e-4):
    # Central-difference gradient of f at the array x (each element changed, then restored).
    grad = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        saved = x[index]
        try:
            x[index] = saved + h
            f_plus = f(x)
            x[index] = saved - h
            f_minus = f(x)
        finally:
            x[index] = saved
        grad[index] = (f_plus - f_minus) / (2 * h)
    return grad


def numerical_gradients(x, t, params):
    # dJ/dp for every parameter array p, by central differences.
    f = lambda _: loss(x, t, params)  # noqa: E731 - reads the parameters from the dict
    return {name: numerical_gradient(f, p) for name, p in params.items()}


# %% [markdown]
# Training is the update rule of lesson 01 applied to every parameter, with the gradient from any function we pass in. Each step uses all four samples (full-batch gradient descent).


# %%
def train(gradient_fn, hidden=2, lr=2.0, steps=steps, seed=0):
    # Full-batch gradient descent on XOR; returns the parameters and the loss after each step.
    params = init_params(hidden, np.random.default_rng(seed))
    losses = np.empty(steps)
    for step in range(steps):
        grads = gradient_fn(x, t, params)
        for name in params:
            params[name] -= lr * grads[name]
        losses[step] = loss(x, t, params)
    return params, losses


# %%
# NBVAL_IGNORE_OUTPUT
start = time.perf_counter()
params_numerical, losses_numerical = train(numerical_gradients)
seconds_numerical = time.perf_counter() - start
print(f"{steps} steps with the numerical gradient: {seconds_numerical:.2f} s")
print(f"final loss: {losses_numerical[-1]:.5f}")


# %% [markdown]
# It works, and for twelve parameters it is quick enough. But every step evaluated the loss $2 \times 12 = 24$ times. A network for handwritten digits (lesson 04) has about 80,000 parameters: 160,000 forward passes for a single step. We need the gradient in one go.

# %% [markdown]
# ## 4. Backpropagation by hand
#
# The chain rule gives all gradients from one forward pass and one backward pass. Work backwards from the loss, one equation of the forward pass at a time. Call $\delta_2 = \partial J / \partial a_2$ the error at the output scores.
#
# **Softmax and cross-entropy.** Lesson 02 showed that for the mean loss
#
# $$\delta_2 = \frac{\partial J}{\partial a_2} = \frac{y - t}{N} \qquad (N, K).$$
#
# **Second layer** $a_2 = z_1 W_2 + b_2$. Element by element, $a_{2,nk} = \sum_j z_{1,nj} W_{2,jk} + b_{2,k}$, so $W_{2,jk}$ touches every sample's score $a_{2,nk}$ with slope $z_{1,nj}$:
#
# $$\frac{\partial J}{\partial W_{2,jk}} = \sum_n z_{1,nj}\, \delta_{2,nk} \;\Longrightarrow\; \frac{\partial J}{\partial W_2} = z_1^\top \delta_2 \quad (H, K), \qquad \frac{\partial J}{\partial b_2} = \sum_n \delta_{2,n} \quad (K,).$$
#
# The same sum, read for $z_{1,nj}$ instead of $W_{2,jk}$, passes the error down to the hidden layer:
#
# $$\frac{\partial J}{\partial z_1} = \delta_2 W_2^\top \qquad (N, H).$$
#
# **Sigmoid** $z_1 = \sigma(a_1)$ works element by element, and $\sigma'(a) = \sigma(a)\,(1 - \sigma(a))$, which we already have as $z_1$:
#
# $$\delta_1 = \frac{\partial J}{\partial a_1} = \frac{\partial J}{\partial z_1} \odot z_1 \odot (1 - z_1) \qquad (N, H),$$
#
# where $\odot$ is the element-wise product (`*` in numpy).
#
# **First layer** $a_1 = x W_1 + b_1$, the same pattern as the second:
#
# $$\frac{\partial J}{\partial W_1} = x^\top \delta_1 \quad (D, H), \qquad \frac{\partial J}{\partial b_1} = \sum_n \delta_{1,n} \quad (H,).$$
#
# A useful check while deriving: every gradient has the shape of the thing it is the gradient of, and there is only one way to multiply the available arrays to get that shape. $\partial J/\partial W_1$ must be $(D, H)$ from $x$ $(N, D)$ and $\delta_1$ $(N, H)$: it can only be $x^\top \delta_1$.


# %%
def backprop_gradients(x, t, params):
    # Forward pass (keeping z1), then the chain rule backwards; one array per parameter.
    z1 = sigmoid(x @ params["W1"] + params["b1"])  # (N, H)
    y = softmax(z1 @ params["W2"] + params["b2"])  # (N, K)
    delta2 = (y - t) / len(x)  # (N, K)
    grads = {"W2": z1.T @ delta2, "b2": delta2.sum(axis=0)}
    delta1 = (delta2 @ params["W2"].T) * z1 * (1 - z1)  # (N, H)
    grads["W1"] = x.T @ delta1
    grads["b1"] = delta1.sum(axis=0)
    return grads


# %% [markdown]
# ## 5. Do the two gradients agree?
#
# A hand-derived gradient is only trustworthy once it has been checked against the definition. We compare the two at the random starting point, element by element, with the relative error
#
# $$\text{error} = \frac{|g_\text{backprop} - g_\text{numerical}|}{\max(|g_\text{backprop}|,\, |g_\text{numerical}|,\, 10^{-8})}.$$
#
# In float64 with $h = 10^{-4}$ a correct gradient gives errors around $10^{-8}$ or smaller; a mistake (a missing $1/N$, a forgotten sigmoid derivative, a transposed matrix) gives errors near 1.


# %%
def relative_error(a, b):
    return np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-8)


def compare_gradients(x, t, params):
    # Largest relative error between backprop and numerical gradient, per parameter.
    by_backprop = backprop_gradients(x, t, params)
    by_numbers = numerical_gradients(x, t, params)
    return {name: relative_error(by_backprop[name], by_numbers[name]).max() for name in params}


start_params = init_params(hidden=2, rng=np.random.default_rng(0))
errors = compare_gradients(x, t, start_params)
for name, error in errors.items():
    print(f"{name}: max relative error {error:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("max relative error < 1e-6:", max(errors.values()) < 1e-6)
bigger = init_params(hidden=7, rng=np.random.default_rng(1))  # non-square W1 (2, 7), W2 (7, 2)
print("also for a 2-7-2 net:", max(compare_gradients(x, t, bigger).values()) < 1e-6)


# %% [markdown]
# They agree. What did that cost? The numerical gradient evaluates the loss twice per parameter, so its cost grows with the number of parameters; backprop costs about two forward passes whatever the size.


# %%
# NBVAL_IGNORE_OUTPUT
def seconds_per_call(func, *args, repeat=20):
    # Best of 5 timings of `repeat` calls: the minimum is least disturbed by other programs.
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            func(*args)
        best = min(best, (time.perf_counter() - start) / repeat)
    return best


print(" hidden  params  numerical (ms)  backprop (ms)  ratio")
for hidden in (2, 10, 50):
    p = init_params(hidden, np.random.default_rng(0))
    n_params = sum(v.size for v in p.values())
    slow = seconds_per_call(numerical_gradients, x, t, p)
    fast = seconds_per_call(backprop_gradients, x, t, p)
    print(f"{hidden:7d} {n_params:7d} {slow * 1e3:15.2f} {fast * 1e3:14.3f} {slow / fast:6.0f}x")

# %% [markdown]
# ## 6. Training with backpropagation
#
# Same network, same start, same learning rate; only the gradient function changes.

# %%
# NBVAL_IGNORE_OUTPUT
start = time.perf_counter()
params_backprop, losses_backprop = train(backprop_gradients)
seconds_backprop = time.perf_counter() - start
print(
    f"{steps} steps with backprop: {seconds_backprop:.2f} s "
    f"({seconds_numerical / seconds_backprop:.0f}x faster than with the numerical gradient)"
)
print(f"final loss: {losses_backprop[-1]:.5f}")

# %%
# NBVAL_CHECK_OUTPUT
gap = np.abs(losses_backprop - losses_numerical).max()
print("the two loss curves differ by less than 1e-6 at every step:", gap < 1e-6)

# %%
fig, ax = plt.subplots(figsize=(6.4, 3.6))
ax.plot(losses_numerical, lw=4, alpha=0.5, color=colors[0], label="numerical gradient")
ax.plot(losses_backprop, "--", lw=1.5, color=colors[1], label="backpropagation")
ax.set(
    xlabel="gradient-descent step",
    ylabel="loss J (mean cross-entropy, log scale)",
    yscale="log",
    title="Both gradients take exactly the same path",
)
ax.legend()
plt.show()

# %% [markdown]
# *Figure: training loss of the 2-2-2 network on XOR against the step number, on a logarithmic scale, once with the numerical gradient (thick, pale) and once with backpropagation (dashed). The two curves lie on top of each other: a plateau near log 2 ≈ 0.69 for the first 150 or so steps while the hidden units sort themselves out, then a fast drop, then a steady decline towards zero.*

# %% [markdown]
# ## 7. Are all four cases right?

# %%
y = predict(x, params_backprop)
print(" x1  x2 | P(class 1) | predicted | target")
for (x1, x2), p1, guess, label in zip(x, y[:, 1], y.argmax(axis=1), labels):
    print(f"{x1:3.0f} {x2:3.0f} | {p1:10.4f} | {guess:9d} | {label:6d}")

# %%
# NBVAL_CHECK_OUTPUT
print("predicted classes:", y.argmax(axis=1).tolist())
print("all four cases right:", bool((y.argmax(axis=1) == labels).all()))


# %% [markdown]
# ## 8. What did the hidden layer learn?
#
# The output layer on its own is still a single neuron that draws a straight line, but it draws it in the space of the hidden activations $z_1$, not in the input space. The left plot shows the network's probability of class 1 over the whole input plane (its decision boundary is the 0.5 contour); the right plot shows where the hidden layer sends the four points, and the output layer's line there.


# %%
def plot_decision_boundary(ax, params):
    # Probability of class 1 over the input plane, with the 0.5 contour and the points.
    grid = np.linspace(-0.5, 1.5, 201)
    g1, g2 = np.meshgrid(grid, grid)
    points = np.column_stack([g1.ravel(), g2.ravel()])
    p1 = predict(points, params)[:, 1].reshape(g1.shape)
    shade = ax.contourf(g1, g2, p1, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(g1, g2, p1, levels=[0.5], colors="black", linewidths=2)
    plot_xor_points(ax, x, labels)
    return shade


def plot_hidden_space(ax, params):
    # The four points after the hidden layer, and the output layer's straight boundary.
    z1 = sigmoid(x @ params["W1"] + params["b1"])
    for label, marker in ((0, "o"), (1, "X")):
        chosen = z1[labels == label]
        ax.scatter(*chosen.T, s=180, marker=marker, color=colors[label], label=f"class {label}")
    # The boundary: a2[class 1] = a2[class 0], i.e. z1 @ w + c = 0.
    w = params["W2"][:, 1] - params["W2"][:, 0]
    c = params["b2"][1] - params["b2"][0]
    u = np.linspace(-0.1, 1.1, 2)
    ax.plot(u, -(c + w[0] * u) / w[1], "k-", lw=2, label="output boundary")
    ax.set(
        xlim=(-0.1, 1.1),
        ylim=(-0.1, 1.1),
        aspect="equal",
        xlabel="hidden unit 1 (first column of $z_1$)",
        ylabel="hidden unit 2 (second column of $z_1$)",
    )


fig, axes = plt.subplots(1, 2, figsize=(10, 4.4), layout="constrained")
shade = plot_decision_boundary(axes[0], params_backprop)
axes[0].set_title("Input space: a straight diagonal band for class 1")
fig.colorbar(shade, ax=axes[0], label="P(class 1)")
plot_hidden_space(axes[1], params_backprop)
axes[1].set_title("Hidden space: now one line separates them")
axes[0].legend(loc="upper right", fontsize=8, framealpha=0.9)
axes[1].legend(loc="upper left", fontsize=8, framealpha=0.9)
fig.suptitle("The hidden layer bends the plane so that a straight line suffices")
plt.show()


# %% [markdown]
# *Figure: left, the trained network's probability of class 1 over the input plane (red high, blue low), with the 0.5 decision boundary in black: a diagonal band through the two crosses, with both circles outside it. Right, the same four points after the hidden layer: each hidden unit has become a soft "is at least one input on?" or "are both inputs on?" detector, the two crosses land at the same corner, and a single straight line (black) separates them from the circles.*
#
# Does the 2-2-2 network always succeed? Training starts from random weights, so try several starts. The experiment counts, for each hidden size, how many starts end with all four cases right.


# %%
# NBVAL_IGNORE_OUTPUT
def stuck_starts(hidden, seeds):
    # The seeds (of range(seeds)) whose training run does not get all four XOR cases right.
    stuck = []
    for seed in range(seeds):
        params, _ = train(backprop_gradients, hidden=hidden, seed=seed)
        if not (predict(x, params).argmax(axis=1) == labels).all():
            stuck.append(seed)
    return stuck


stuck = {hidden: stuck_starts(hidden, seeds) for hidden in (2, 3, 4)}
print("hidden units | starts that learn XOR | stuck seeds")
for hidden, failed in stuck.items():
    print(f"{hidden:12d} | {seeds - len(failed):9d} of {seeds:<8d} | {failed}")


# %% [markdown]
# Some starts with two hidden units end without solving XOR. Are they caught in a *local minimum*, a dip that every small step leaves uphill? Lesson 01's rule says how to find out: keep walking and watch. The next cell takes the first stuck start, trains it again, this time for `10 * steps` steps, and prints at a few checkpoints the loss, the length of the gradient (all twelve partial derivatives as one vector), the largest weight and the network's probability of class 1 for the four inputs, in the order (0, 0), (0, 1), (1, 0), (1, 1).

# %%
# NBVAL_IGNORE_OUTPUT
def follow(seed, checkpoints, hidden=2, lr=2.0):
    # Train from `seed` and record loss, gradient length, largest |weight| and P(class 1).
    params = init_params(hidden, np.random.default_rng(seed))
    rows = []
    for step in range(1, max(checkpoints) + 1):
        grads = backprop_gradients(x, t, params)
        for name in params:
            params[name] -= lr * grads[name]
        if step in checkpoints:
            grads = backprop_gradients(x, t, params)
            gradient_length = np.sqrt(sum(np.sum(g**2) for g in grads.values()))
            largest = max(np.abs(p).max() for p in params.values())
            p1 = predict(x, params)[:, 1]  # P(class 1) for the four inputs
            rows.append((step, loss(x, t, params), gradient_length, largest, p1))
    return rows


plateau = np.log(2) / 2
stuck_seed = (stuck[2] or [None])[0]
trail = follow(stuck_seed, checkpoints=(steps, 3 * steps, 10 * steps)) if stuck[2] else []
print(f"seed {stuck_seed}; ln(2)/2 = {plateau:.6f}")
print("   step |     loss | loss - ln(2)/2 | gradient length | largest |w| | P(class 1)")
for step, value, length, largest, p1 in trail:
    numbers = f"{step:7d} | {value:.6f} | {value - plateau:14.2e} | {length:15.2e}"
    print(f"{numbers} | {largest:11.2f} |", p1.round(3))

# %%
# NBVAL_IGNORE_OUTPUT
if trail:
    (s0, l0, g0, w0, p0), (s1, l1, g1, w1, p1) = trail[0], trail[-1]
    undecided = int(np.sum(np.abs(p1 - 0.5) < 0.01))
    display(
        Markdown(
            f"From step {s0:,} to step {s1:,} the loss of seed {stuck_seed} kept falling, from "
            f"{l0:.5f} to {l1:.5f}, ever closer to ln 2 / 2 = {plateau:.5f}; the gradient shrank "
            f"{g0 / g1:.0f}-fold while the largest weight grew from {w0:.1f} to {w1:.1f}. "
            f"{undecided} of the four cases sit at P(class 1) = 0.5, undecided rather than wrong."
        )
    )
else:
    display(Markdown("Every start learned XOR in this run, so there is no stuck start to follow."))

# %% [markdown]
# So it is not a local minimum: no step makes the loss worse, and the loss keeps going down, just ever more slowly. What the stuck network has done is solve the cases it could with two sigmoid units and give up on the other two: for those it says one half, a coin toss. Each undecided case costs $\ln 2$, the others cost almost nothing, so the mean loss tends to
#
# $$J \to \frac{1}{4}\left(0 + 0 + \ln 2 + \ln 2\right) = \frac{\ln 2}{2}.$$
#
# To get the solved cases ever more certain, the weights have to keep growing, and the sigmoids saturate as they do, which is why the gradient fades: the network is sliding onto a **plateau** that it only reaches with infinite weights. Gradient descent cannot leave it in any useful time, because the gradient that would have to turn it round is vanishingly small. One or two extra hidden units give the network more ways down (the table above counts the starts that get stuck with three and four). Bigger networks are easier to train, a lesson that holds far beyond XOR.

# %% [markdown]
# ## 9. Why does the loss oscillate?
#
# The source article of this lesson (see Sources below) trained the same 2-2-2 network and saw its loss curve jump up and down violently for the first few thousand steps before settling. Two different things can cause that, and it is worth telling them apart.
#
# 1. **The step is too big.** Full-batch gradient descent with a learning rate that overshoots the valley (lesson 01) jumps from one side to the other, and the loss rises and falls in turn.
# 2. **Each step sees one sample.** The post updated on *one randomly chosen case* per step and recorded that case's loss. A step that helps $(0, 1)$ can hurt $(1, 1)$, and the recorded number jumps between the four cases' losses even when the network as a whole is improving.
#
# The experiments below show both: the left panel varies the learning rate of full-batch training; the right panel trains on one random case per step and records both the loss of that case and the loss on all four.


# %%
def train_one_case_per_step(lr=0.5, steps=4 * steps, seed=0):
    # Stochastic gradient descent on one random XOR case per step (4x the steps, so it
    # sees as many samples as full-batch training).
    rng = np.random.default_rng(seed)
    params = init_params(2, rng)
    case_losses, full_losses = np.empty(steps), np.empty(steps)
    for step in range(steps):
        i = rng.integers(4, size=1)  # a batch of one
        grads = backprop_gradients(x[i], t[i], params)
        for name in params:
            params[name] -= lr * grads[name]
        case_losses[step] = loss(x[i], t[i], params)
        full_losses[step] = loss(x, t, params)
    return case_losses, full_losses


fig, axes = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
for lr, color in ((2.0, colors[0]), (6.0, colors[1]), (10.0, colors[3])):
    _, losses = train(backprop_gradients, lr=lr)
    axes[0].plot(losses, color=color, lw=1, label=f"lr = {lr:g}")
axes[0].set(
    xlabel="step",
    ylabel="loss on all four cases (log scale)",
    yscale="log",
    title="Full batch: too large a step bounces",
)
case_losses, full_losses = train_one_case_per_step()
axes[1].plot(case_losses, ".", ms=2, color=colors[2], label="loss of the case used in the step")
axes[1].plot(full_losses, color="black", lw=1.5, label="loss on all four cases")
axes[1].set(xlabel="step (one case each)", ylabel="loss", title="One case per step: a noisy record")
for ax in axes:
    ax.legend()
plt.show()

# %% [markdown]
# *Figure: left, full-batch training loss (log scale) for learning rates 2, 6 and 10, all from the same start. With lr = 2 the loss falls smoothly after a plateau; with lr = 6 it bounces up and down for a few hundred steps, then finds the valley and falls even faster; with lr = 10 every step overshoots and the loss zig-zags for the whole run without ever learning XOR. Right, training on one random case per step with lr = 0.5: while the network is still searching, the loss of the case used in each step (dots) is scattered between 0 and about 1.7, far more widely than the loss on all four cases (black line); once the network has found the solution, after a couple of thousand steps, both fall to near zero. The same network can look chaotic or calm depending on what is measured.*
#
# So the oscillation in the post had both causes: the loss of a single random case is a noisy measurement by nature, and a learning rate that is large compared with the curvature of the loss makes the steps overshoot. The cure for the first is to average over a *mini-batch* of samples (lesson 04); the cure for the second is a smaller learning rate, or the adaptive optimizers of lesson 09.

# %% [markdown]
# ## Summary
#
# - No straight line separates XOR (three of four points at best), so a single neuron cannot learn it; one hidden layer of two sigmoid units can.
# - The numerical gradient needs two loss evaluations per parameter; backpropagation gets every gradient from one forward and one backward pass: $\delta_2 = (y - t)/N$, $\partial J/\partial W_2 = z_1^\top \delta_2$, $\delta_1 = \delta_2 W_2^\top \odot z_1 \odot (1 - z_1)$, $\partial J/\partial W_1 = x^\top \delta_1$, and the biases sum the deltas over the batch.
# - Measured in this notebook (full mode, `python scripts/build_notebooks.py sources/notebooks/03_xor.py`): the two gradients agree to far better than the $10^{-6}$ checked (the per-parameter errors are printed in section 5), both training runs follow the same loss curve, and the trained network gets all four cases right. The cost table of section 5 shows how much cheaper one backprop gradient is than a numerical one, and how the gap grows with the number of parameters; section 6 prints the speed-up of a whole training run (timings vary with the machine and its load).
# - Some random starts of the 2-2-2 network do not solve XOR (the table of section 8 counts them): they are not in a local minimum but on a plateau, with two cases undecided at one half, the loss creeping down towards $\ln 2 / 2$, the gradient fading and the weights growing. More hidden units make it rarer.
# - An oscillating loss means either a step that is too large or a loss measured on too few samples.

# %% [markdown]
# ## Next
#
# Lesson 04 scales this network up from 4 points to thousands of handwritten digits: 784 inputs, 100 hidden units and 10 classes, trained on random mini-batches. You will compare sigmoid and ReLU hidden units, study how accuracy depends on the number of iterations and the learning rate, and derive the same gradients for the bigger network.

# %% [markdown]
# **Sources.** This lesson follows the XOR example of 「ニューラルネットワークの基礎を整理しよう(3)ーPythonによるニューラルネットワークの実装」 (Qiita, 2021): a 2-2-2 sigmoid network trained by gradient descent, whose loss curve oscillated in the early steps. The plateau analysis, the backpropagation derivation and the experiments are this course's own.
