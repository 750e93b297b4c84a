# %% [markdown]
# # 01 · Gradient descent
#
# Training a network means walking downhill on its loss. In this lesson you learn to measure the slope of any function with two evaluations of it, and to use that slope to walk to the function's minimum: the algorithm that trains every network in this course.
#
# **Goals**
#
# - Compute a derivative numerically, and know why the central difference with $h \approx 10^{-4}$ beats the textbook forward difference.
# - Minimise $J(x) = x^2 + x$ with the update $x \leftarrow x - \eta\, J'(x)$ and reach the minimum at $x = -\tfrac12$.
# - See what the learning rate does: too small, about right, oscillating, diverging, and predict which from a formula.
# - Follow the gradient field of a 2-D function, and take the numerical gradient of a function of a whole matrix (perturb each element in place, then restore it).
#
# **You need:** lesson 00 (the notation), Python functions and loops, numpy arrays. A little calculus helps: what a derivative is.
#
# **Time:** 45 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.config import seed_everything, sized

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")
grid_points = sized(21, 11)  # arrows per axis in the gradient-field plot


# %% [markdown]
# ## 1. The derivative as a limit
#
# The derivative of $f$ at $x$ is the slope of the curve there: how much $f$ changes per unit change of $x$, for a very small change.
#
# $$f'(x) = \lim_{h \to 0} \frac{f(x + h) - f(x)}{h}$$
#
# A computer cannot take a limit, but it can pick a small $h$ and evaluate the fraction: the slope of the straight line (the *secant*) through $(x, f(x))$ and $(x + h, f(x + h))$. This is the **forward difference**. Try it on the function we minimise in this lesson, $J(x) = x^2 + x$, whose exact derivative is $J'(x) = 2x + 1$, so $J'(1) = 3$:


# %%
def J(x):
    return x**2 + x


def forward_diff(f, x, h):
    """Slope of the secant through x and x + h."""
    return (f(x + h) - f(x)) / h


# %%
# NBVAL_CHECK_OUTPUT
for h in [1e-1, 1e-2, 1e-3]:
    print(f"h = {h:<6g}  forward difference at x = 1: {forward_diff(J, 1.0, h):.6f}")
print("exact derivative 2x + 1 at x = 1: 3")


# %% [markdown]
# The error is exactly $h$ here: $\frac{(1+h)^2 + (1+h) - 2}{h} = 3 + h$. Halve $h$ and you halve the error. That is slow: to get 8 correct digits you would need $h = 10^{-8}$, and, as the next section shows, such a small $h$ brings a different problem.

# %% [markdown]
# ## 2. Central differences, and why $h \approx 10^{-4}$
#
# Taylor's theorem says what the forward difference gets wrong:
#
# $$f(x \pm h) = f(x) \pm h f'(x) + \frac{h^2}{2} f''(x) \pm \frac{h^3}{6} f'''(x) + \dots$$
#
# so $\frac{f(x+h) - f(x)}{h} = f'(x) + \frac{h}{2} f''(x) + \dots$: an error proportional to $h$. Subtract the two expansions instead, and the $h^2$ terms cancel:
#
# $$\frac{f(x + h) - f(x - h)}{2h} = f'(x) + \frac{h^2}{6} f'''(x) + \dots$$
#
# This **central difference** costs the same two evaluations of $f$ and its error shrinks like $h^2$: with $h = 10^{-4}$ the factor $h^2/6$ is about $1.7 \times 10^{-9}$, so the error is about $1.7 \times 10^{-9}$ times the size of $f'''$.
#
# Why not make $h$ tiny, then? Because a computer stores about 16 significant digits (float64, machine epsilon $\varepsilon \approx 2.2 \times 10^{-16}$). Each value of $f$ carries a rounding error of about $\varepsilon |f(x)|$, and dividing the difference by $h$ magnifies it to about $\varepsilon |f(x)| / h$. The total error is roughly
#
# $$\underbrace{\tfrac{h^2}{6} |f'''(x)|}_{\text{truncation: wants small } h} + \underbrace{\varepsilon |f(x)| / h}_{\text{rounding: wants large } h},$$
#
# smallest near $h \approx \varepsilon^{1/3} \approx 10^{-5}$. The classic choice $h = 10^{-4}$ sits on the safe side of that optimum: the truncation error is still only $h^2/6 \approx 1.7 \times 10^{-9}$ times $|f'''|$, and the error stays small when $f$ is a long computation with more rounding than one `exp`, such as a network's loss.


# %%
def numerical_diff(f, x, h=1e-4):
    """Central difference: the slope of the secant through x - h and x + h."""
    return (f(x + h) - f(x - h)) / (2 * h)


def difference_errors(f, df, x, hs):
    """Absolute errors of the forward and central differences of f at x, one per step h."""
    forward = np.array([abs(forward_diff(f, x, h) - df(x)) for h in hs])
    central = np.array([abs(numerical_diff(f, x, h) - df(x)) for h in hs])
    return forward, central


# %% [markdown]
# Measure both errors for $f(x) = e^x$ at $x = 1$ (where $f' = e$ exactly) for step sizes from $10^{-1}$ down to $10^{-13}$. Where is each method most accurate?

# %%
hs = np.logspace(-1, -13, 61)
forward_err, central_err = difference_errors(np.exp, np.exp, 1.0, hs)
floor = 1e-17  # an exact 0 cannot be drawn on a log axis

fig, ax = plt.subplots(figsize=(7, 4.2))
ax.loglog(hs, forward_err + floor, "o-", ms=3, color=colors[0], label="forward difference")
ax.loglog(hs, central_err + floor, "s-", ms=3, color=colors[1], label="central difference")
ax.loglog(hs, np.e / 2 * hs, ":", color=colors[0], label=r"truncation $\frac{h}{2}f''$")
ax.loglog(hs, np.e / 6 * hs**2, ":", color=colors[1], label=r"truncation $\frac{h^2}{6}f'''$")
ax.loglog(hs, 2.2e-16 * np.e / hs, "--", color="gray", label=r"rounding $\varepsilon f / h$")
ax.axvline(1e-4, color=colors[2], lw=1, label="h = 1e-4")
ax.set(
    xlabel="step h",
    ylabel="absolute error of the derivative",
    ylim=(1e-13, 1),
    title="Central differences are far more accurate, until rounding takes over",
)
ax.invert_xaxis()
ax.legend(fontsize=8, loc="lower left")
plt.show()

# %% [markdown]
# *Figure: log–log plot of the error of the numerical derivative of $e^x$ at $x = 1$ against the step $h$, decreasing from left to right. The forward difference (blue) falls along a line of slope 1, the central difference (orange) along a steeper line of slope 2, until both hit the rising dashed rounding line: below $h \approx 10^{-8}$ (forward) and $10^{-5}$ (central) a smaller step only adds noise. At $h = 10^{-4}$ (green) the central error is about $10^{-9}$, the forward one about $10^{-4}$.*

# %%
print("best h, forward:", f"{hs[forward_err.argmin()]:.0e}", " error", f"{forward_err.min():.0e}")
print("best h, central:", f"{hs[central_err.argmin()]:.0e}", " error", f"{central_err.min():.0e}")

# %%
# NBVAL_CHECK_OUTPUT
error_central = abs(numerical_diff(np.exp, 1.0) - np.e)
error_forward = abs(forward_diff(np.exp, 1.0, 1e-4) - np.e)
print("central difference, h = 1e-4, error < 1e-8:", error_central < 1e-8)
print("forward difference, h = 1e-4, error > 1e-5:", error_forward > 1e-5)


# %% [markdown]
# ## 3. Walking downhill: the update rule
#
# The derivative says which way is uphill: where $J'(x) > 0$, $J$ grows to the right, so the minimum lies to the left, and the other way round. Gradient descent takes a step against the derivative, proportional to it:
#
# $$x \leftarrow x - \eta\, J'(x)$$
#
# The **learning rate** $\eta$ (`lr` in code) scales the step. Near the minimum the slope is flat, so the steps shrink by themselves. For $J(x) = x^2 + x$ the minimum is where $J'(x) = 2x + 1 = 0$, at $x = -\tfrac12$, with $J(-\tfrac12) = -\tfrac14$. Let gradient descent find it with nothing but numerical derivatives:


# %%
def descend(dJ, x0, lr, steps):
    """Gradient descent from x0: `steps` updates x <- x - lr * dJ(x); returns all points visited."""
    xs = [x0]
    for _ in range(steps):
        xs.append(xs[-1] - lr * dJ(xs[-1]))
    return np.array(xs)


def dJ(x):
    return numerical_diff(J, x)


# %%
# NBVAL_CHECK_OUTPUT
xs = descend(dJ, x0=2.0, lr=0.1, steps=100)
print("first steps:", np.round(xs[:5], 4))
print(f"x after 100 steps: {xs[-1]:.4f}")
print(f"J(x) there:        {J(xs[-1]):.4f}")

# %%
grid = np.linspace(-2.5, 2.5, 200)
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.plot(grid, J(grid), color=colors[0], label=r"$J(x) = x^2 + x$")
ax.plot(xs[:15], J(xs[:15]), "o-", color=colors[1], ms=5, label="first 15 steps, lr = 0.1")
ax.plot(-0.5, -0.25, "*", color=colors[2], ms=14, label="minimum (−0.5, −0.25)")
ax.set(xlabel="x", ylabel="J(x)", title="The steps shrink as the slope flattens")
ax.legend()
plt.show()


# %% [markdown]
# *Figure: the parabola $J(x) = x^2 + x$ with the first 15 points of gradient descent from $x = 2$. The first steps are long (the curve is steep there), later steps bunch up just right of the minimum at $(-0.5, -0.25)$, marked with a star.*

# %% [markdown]
# ## 4. The learning rate: too small, right, too large
#
# For this $J$ the update can be solved exactly. Write $e_k = x_k + \tfrac12$ for the distance to the minimum after $k$ steps. Then
#
# $$e_{k+1} = x_k - \eta (2x_k + 1) + \tfrac12 = (1 - 2\eta)\, e_k, \qquad e_k = (1 - 2\eta)^k e_0 .$$
#
# Every step multiplies the distance by $1 - 2\eta$. So:
#
# | learning rate | factor $1 - 2\eta$ | behaviour |
# |---|---|---|
# | $0 < \eta < 0.5$ | between 0 and 1 | creeps toward the minimum from one side (slowly if $\eta$ is small) |
# | $\eta = 0.5$ | 0 | lands on the minimum in one step |
# | $0.5 < \eta < 1$ | between −1 and 0 | overshoots: jumps from side to side, still converging |
# | $\eta > 1$ | below −1 | overshoots further every time: **diverges** |
#
# The bound $\eta < 1$ is $2 / J''$: a steeper (more curved) function needs a smaller learning rate. A network's loss has many directions with different curvatures, and the steepest one sets the limit, which is why a learning rate is found by trying. The experiment below tries four:


# %%
def compare_learning_rates(lrs, x0=2.0, steps=20):
    """Run gradient descent on J once per learning rate; print and return the paths."""
    paths = {lr: descend(dJ, x0, lr, steps) for lr in lrs}
    for lr, xs in paths.items():
        factor = 1 - 2 * lr
        print(
            f"lr = {lr:<5}  factor 1 - 2·lr = {factor:+.2f}   x after {steps} steps = {xs[-1]:9.4f}"
        )
    return paths


# %%
# NBVAL_CHECK_OUTPUT
paths = compare_learning_rates([0.02, 0.3, 0.9, 1.05])

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
left.plot(grid, J(grid), color="gray", lw=1, label=r"$J(x)$")
for color, (lr, xs) in zip(colors, paths.items()):
    shown = xs[:8]
    left.plot(shown, J(shown), "o-", color=color, ms=4, lw=1, label=f"lr = {lr}")
    right.semilogy(np.abs(xs + 0.5), "o-", color=color, ms=3, label=f"lr = {lr}")
left.set(xlabel="x", ylabel="J(x)", xlim=(-2.6, 2.6), ylim=(-0.5, 6), title="First 8 steps")
right.set(xlabel="step k", ylabel="distance to the minimum |x + 0.5|", title="20 steps")
left.legend(fontsize=8)
right.legend(fontsize=8)
fig.suptitle("Each step multiplies the distance to the minimum by |1 − 2·lr|")
fig.tight_layout()
plt.show()


# %% [markdown]
# *Figure: left, the first 8 steps of gradient descent on $J$ for four learning rates; lr = 0.02 (blue) creeps down the right branch, lr = 0.3 (orange) arrives within a few steps, lr = 0.9 (green) zig-zags across the minimum with shrinking jumps, lr = 1.05 (red-orange) zig-zags with growing jumps up the walls. Right, the distance to the minimum on a log scale: straight lines, falling for the first three and rising for lr = 1.05, with slopes $\log|1 - 2\,\text{lr}|$ as the formula predicts.*

# %% [markdown]
# ## 5. Two dimensions: the gradient
#
# A function of several variables has one partial derivative per variable; together they form the **gradient**, the vector pointing uphill most steeply:
#
# $$\nabla f(x) = \left(\frac{\partial f}{\partial x_0}, \frac{\partial f}{\partial x_1}, \dots\right), \qquad x \leftarrow x - \eta\, \nabla f(x).$$
#
# Each partial derivative is a central difference in which only that one coordinate moves. The function below does exactly that for an array `x` of any shape: it visits every element, sets it to `old + h` and `old - h` in place, evaluates `f`, and then **puts the saved value back**.


# %%
def numerical_gradient(f, x, h=1e-4):
    """Central-difference gradient of f at x, an array of any shape; returns an array like x.

    Each element of x is perturbed in place, f(x) evaluated, and the element restored.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        old = x[idx]
        x[idx] = old + h
        f_plus = f(x)
        x[idx] = old - h
        f_minus = f(x)
        x[idx] = old  # the saved value: old + h - h is not always exactly old
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


# %% [markdown]
# Take the elongated bowl $f(x) = x_0^2 + 4 x_1^2$, four times steeper along $x_1$ than along $x_0$. Its exact gradient is $(2x_0,\ 8x_1)$: at $(1, 1)$ that is $(2, 8)$.


# %%
# NBVAL_CHECK_OUTPUT
def bowl(x):
    return x[0] ** 2 + 4 * x[1] ** 2


print("numerical gradient at (1, 1):", np.round(numerical_gradient(bowl, np.array([1.0, 1.0])), 6))


# %% [markdown]
# The factor $1 - \eta\, f''$ of section 4 now applies per direction: $1 - 2\eta$ along $x_0$ and $1 - 8\eta$ along $x_1$. With $\eta = 0.1$ both shrink (0.8 and 0.2); with $\eta = 0.23$ the steep direction has factor $-0.84$ and zig-zags for a long time, while the flat one (factor 0.54) settles quickly. Where do the two paths go, and how does the gradient field guide them?


# %%
# NBVAL_CHECK_OUTPUT
def bowl_gradient(x):
    return numerical_gradient(bowl, x)


start = np.array([-3.0, 2.0])
bowl_paths = {lr: descend(bowl_gradient, start, lr, steps=60) for lr in (0.1, 0.23)}
for lr, path in bowl_paths.items():
    print(f"lr = {lr}: after 60 steps x = {np.round(path[-1], 3) + 0.0}")

# %%
x0_grid, x1_grid = np.meshgrid(np.linspace(-3.5, 3.5, 200), np.linspace(-2.5, 2.5, 200))
arrows = np.array(
    [
        [numerical_gradient(bowl, np.array([a, b])) for a in np.linspace(-3.5, 3.5, grid_points)]
        for b in np.linspace(-2.5, 2.5, grid_points)
    ]
)  # (grid_points, grid_points, 2)
arrow_x0, arrow_x1 = np.meshgrid(
    np.linspace(-3.5, 3.5, grid_points), np.linspace(-2.5, 2.5, grid_points)
)

fig, ax = plt.subplots(figsize=(8, 5.2))
ax.contour(x0_grid, x1_grid, bowl([x0_grid, x1_grid]), levels=12, colors="lightgray")
ax.quiver(
    arrow_x0,
    arrow_x1,
    -arrows[..., 0],
    -arrows[..., 1],
    color="gray",
    alpha=0.6,
    angles="xy",
    label="−gradient (downhill)",
)
for color, (lr, path) in zip(colors, bowl_paths.items()):
    ax.plot(path[:, 0], path[:, 1], "o-", ms=3, color=color, label=f"descent path, lr = {lr}")
ax.plot(0, 0, "*", ms=14, color=colors[2], label="minimum (0, 0)")
ax.set(
    xlabel="$x_0$",
    ylabel="$x_1$",
    aspect="equal",
    title="Downhill is steepest across the narrow valley, so paths turn first",
)
ax.legend(loc="upper right", fontsize=8)
plt.show()

# %% [markdown]
# *Figure: contour lines of $f(x) = x_0^2 + 4x_1^2$ (ellipses), grey arrows showing the negative gradient at grid points, and two descent paths from $(-3, 2)$. The arrows do not point at the minimum: they point across the ellipses, steeply toward the long axis. With lr = 0.1 (blue) the path first drops almost straight down to the valley floor, then slides along it to the minimum (star). With lr = 0.23 (orange) it bounces from wall to wall across the valley, each bounce $0.84$ of the one before (the factor $1 - 8\eta = -0.84$ above), long after $x_0$ has settled.*

# %% [markdown]
# ## 6. The gradient of a function of a matrix
#
# A network's loss is a function of weight matrices. `numerical_gradient` works for them unchanged, because `np.ndindex(x.shape)` visits every index `(i, j)` of a 2-D array. As an example take a tiny linear model $y = xW$ with inputs $x: (N, D)$, weights $W: (D, M)$, targets $t: (N, M)$ and the loss
#
# $$L(W) = \frac{1}{2N} \sum_{n, m} \left((xW)_{nm} - t_{nm}\right)^2, \qquad \frac{\partial L}{\partial W} = \frac{1}{N} x^\top (xW - t),$$
#
# whose exact gradient you can compare with the numerical one (the formula is derived by the chain rule in lesson 04).

# %%
# NBVAL_CHECK_OUTPUT
N, D, M = 5, 3, 2
x = rng.normal(size=(N, D))
t = rng.normal(size=(N, M))
W = rng.normal(size=(D, M))


def loss(W):
    return 0.5 * np.sum((x @ W - t) ** 2) / N


W_before = W.copy()
grad_numerical = numerical_gradient(loss, W)
grad_exact = x.T @ (x @ W - t) / N
relative_error = np.abs(grad_numerical - grad_exact) / np.maximum(np.abs(grad_exact), 1e-8)
print("gradient shape:", grad_numerical.shape)
print("max relative error < 1e-6:", relative_error.max() < 1e-6)
print("W unchanged after the call:", np.array_equal(W, W_before))


# %% [markdown]
# **Why in place?** In a network, the loss does not take the weights as an argument: it reads them from the network, where they live. The lessons to come write `f = lambda _: net_loss(x, t)` and call `numerical_gradient(f, W)` with the network's own `W`. That only works because `numerical_gradient` changes the very array the network reads. A version that perturbs a copy never affects the loss, and returns a gradient of zeros:


# %%
def numerical_gradient_of_copy(f, x, h=1e-4):
    """A wrong version: perturbs a copy of x, so a function reading the original sees nothing."""
    return numerical_gradient(f, x.copy(), h)


def reads_W(_):
    return loss(W)  # ignores its argument, like a network's loss


print("in place:  ", np.round(numerical_gradient(reads_W, W)[0], 4))
print("on a copy: ", np.round(numerical_gradient_of_copy(reads_W, W)[0], 4) + 0.0)

# %% [markdown]
# **Why restore with the saved value?** Perturbing in place means `x` must be exactly as it was afterwards, or every later computation uses slightly wrong weights. Undoing the steps by arithmetic, `x[idx] += h`, then `x[idx] -= 2 * h`, then `x[idx] += h`, looks equivalent, but every floating-point addition rounds to the nearest representable number:

# %%
# NBVAL_CHECK_OUTPUT
values = rng.normal(size=1000)
round_trip = values + 1e-4  # x[idx] += h
round_trip = round_trip - 2e-4  # x[idx] -= 2 * h
round_trip = round_trip + 1e-4  # x[idx] += h, "back where it was"
print("every value restored exactly:", bool(np.all(round_trip == values)))
print("values changed:", int(np.sum(round_trip != values)), "of", values.size)
print("0.1 + 0.2 == 0.3:", 0.1 + 0.2 == 0.3)

# %% [markdown]
# The difference is at the 17th digit, but it is a real change to the weights, and it accumulates over thousands of gradient checks. Saving `old = x[idx]` and writing it back is exact. One more guard belongs in a robust version: if `f` raises an error half-way, the element is left perturbed. A `try: ... finally: x[idx] = old` block restores it even then; you add it in assignment task 1.2.

# %% [markdown]
# ## Summary
#
# - The **central difference** $\frac{f(x+h) - f(x-h)}{2h}$ has an error proportional to $h^2$; the forward difference only $h$. Below $h \approx 10^{-5}$ rounding errors ($\approx \varepsilon f / h$) take over, so $h = 10^{-4}$ is a safe choice: on $e^x$ it gave an error below $10^{-8}$ against about $10^{-4}$ for the forward difference.
# - **Gradient descent** $x \leftarrow x - \eta \nabla f(x)$ minimised $J(x) = x^2 + x$: from $x = 2$ with lr = 0.1 it reached $x = -0.5000$, $J = -0.2500$ in 100 steps.
# - For $J$, each step multiplies the distance to the minimum by $1 - 2\eta$: lr = 0.02 crept (still at 0.605 after 20 steps), 0.3 converged fast, 0.9 oscillated inward, 1.05 **diverged** (at 16.3 after 20 steps). The curvature sets the largest usable learning rate.
# - On the 2-D bowl $x_0^2 + 4x_1^2$ the steep direction limits the learning rate: lr = 0.23 zig-zags across the valley.
# - `numerical_gradient` works for arrays of any shape, perturbing each element **in place** (so a loss that reads the weights from a network sees the change) and **restoring the saved value** (adding and subtracting $h$ changed many of 1,000 random values in their last digits; the count is printed in section 6). On a 3×2 weight matrix it matched the exact gradient to a relative error below $10^{-6}$.
#
# Nothing here depends on data or random training, so every figure above is the same in quick and full mode (`python scripts/build_notebooks.py sources/notebooks/01_gradient_descent.py`).
#
# ## Next
#
# Lesson 02 gives gradient descent something worth minimising: the cross-entropy loss of a classifier. You will turn scores into probabilities with a softmax that never overflows, derive its remarkably simple gradient $y - t$, and train your first digit classifier on MNIST.

# %% [markdown]
# **Sources.** The gradient-descent update with a learning rate and a `numerical_gradient(f, x)` by central differences with $h = 10^{-4}$ appear in 「ニューラルネットワークの基礎を整理しよう(3)ーPythonによるニューラルネットワークの実装」 (Qiita, 2021), the article lesson 03 follows. The error analysis, the learning-rate experiments and the in-place perturbation study are this course's own.
