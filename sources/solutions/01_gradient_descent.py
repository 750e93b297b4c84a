# %% [markdown]
# # Assignment 01 · Gradient descent
#
# In lesson 01 you measured slopes with central differences and walked downhill with them. Here you take each of them a step further: a more accurate numerical derivative, a numerical gradient of every array of a network's parameters that leaves them exactly as it found them, and a gradient descent that picks its own learning rate at every step, which also tells you when a gradient is wrong.
#
# **Points:** 9 (three code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 1.1 passed` or a reason you can act on. Run it as often as you like.
#
# **You need:** lesson 01.
#
# **Time:** about 50 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")


# %% [markdown]
# ### Task 1.1 — a more accurate difference: five points (2 points)
#
# Lesson 01 (section 2) used the central difference $\frac{f(x + h) - f(x - h)}{2h}$, whose error shrinks like $h^2$. Using two more points, $x \pm 2h$, cancels the $h^2$ term of the error as well and leaves an error that shrinks like $h^4$:
#
# $$f'(x) \approx \frac{f(x - 2h) - 8 f(x - h) + 8 f(x + h) - f(x + 2h)}{12h}.$$
#
# Write `numerical_diff5(f, x, h=1e-3)` that returns this estimate for a function `f` of one number. (Its best `h` is larger than the central difference's $10^{-4}$: the truncation error falls so fast that rounding, about $\varepsilon / h$, dominates sooner.)
#
# *Hint:* lesson 01, section 2, shows how the error of a difference formula is measured against the exact derivative; the bracket around `12 * h` matters.
#
# *Checked:* five functions at different points, each with an explicit `h` (so that the central and the forward difference are told apart from the five-point one), and once with the default `h`.


# %% dlcourse={"points": 2, "task": "1.1"}
def numerical_diff5(f, x, h=1e-3):
    """Five-point derivative of f at the number x (error of order h**4)."""
    # Hint: four evaluations of f, at x - 2h, x - h, x + h and x + 2h.
    ### BEGIN SOLUTION
    return (f(x - 2 * h) - 8 * f(x - h) + 8 * f(x + h) - f(x + 2 * h)) / (12 * h)
    ### END SOLUTION


# %% dlcourse={"check": "1.1"}
check("1.1", numerical_diff5)

# %% [markdown]
# Your function against the exact derivative of $\sin$ at a few points, $\cos x$:

# %%
# NBVAL_CHECK_OUTPUT
points = np.array([-2.0, 0.0, 0.5, 3.0])
estimates = np.array([numerical_diff5(np.sin, p) for p in points])
print("max |error| against cos(x) < 1e-10:", np.abs(estimates - np.cos(points)).max() < 1e-10)


# %% [markdown]
# ### Task 1.2 — numerical gradient of every parameter array (3 points)
#
# Lesson 01 (sections 5 and 6) computed the gradient with respect to one array. A network has several: `params = {"W1": …, "b1": …, "W2": …, "b2": …}`. Write `numerical_gradients(f, params, h=1e-4)` for a function `f(params)` that returns one number, where `params` is a dict of float arrays of any shapes. Return a dict with the same keys whose array `grads[name]`, shaped like `params[name]`, holds the central difference of `f` with respect to each element of `params[name]` alone.
#
# Three rules, each of which the check tests:
#
# 1. **Perturb the arrays themselves, in place** (`x[idx] = old + h` with `x = params[name]`), not copies: a network's loss reads its weights from the network, so `f` may ignore its argument.
# 2. **Restore the saved value** (`x[idx] = old`), not `x[idx] -= h`: after the call every array must be bit-for-bit what it was.
# 3. **Restore it even if `f` raises an error**, and let the error propagate.
#
# *Hint:* lesson 01, sections 5 and 6 (the gradient of an array, and a loss that reads `W` from outside its argument). A `finally:` block runs even when the `try:` block raises.
#
# *Checked:* three dicts of a matrix, vectors and a 3-D array against a reference; a function that reads the arrays from outside; every array compared bit for bit before and after; a function that fails on its 4th call. The check names a forward difference, a wrong sign or factor, and a dict where only some arrays are right.


# %% dlcourse={"points": 3, "task": "1.2"}
def numerical_gradients(f, params, h=1e-4):
    """Central-difference gradients of f(params) for every array of the dict params."""
    # Hint: save, perturb, evaluate, restore the saved value, even when f raises.
    ### BEGIN SOLUTION
    grads = {}
    for name, x in params.items():
        grad = np.zeros_like(x, dtype=np.float64)
        for idx in np.ndindex(x.shape):
            old = x[idx]
            try:
                x[idx] = old + h
                f_plus = f(params)
                x[idx] = old - h
                f_minus = f(params)
            finally:
                x[idx] = old
            grad[idx] = (f_plus - f_minus) / (2 * h)
        grads[name] = grad
    return grads
    ### END SOLUTION


# %% dlcourse={"check": "1.2"}
check("1.2", numerical_gradients)

# %% [markdown]
# Use it on the weights of a tiny linear model the way lesson 05 will: the loss below reads `W` and `b` from outside and ignores its argument, and the exact gradients of $L = \frac{1}{2}\lVert xW + b - t \rVert^2 / N$ are $x^\top r / N$ and $\sum_n r_n / N$ with $r = xW + b - t$.

# %%
# NBVAL_CHECK_OUTPUT
x = rng.normal(size=(6, 4))
t = rng.normal(size=(6, 3))
params = {"W": rng.normal(size=(4, 3)), "b": rng.normal(size=3)}
W_saved = params["W"].copy()


def loss(_):
    return 0.5 * np.sum((x @ params["W"] + params["b"] - t) ** 2) / len(x)


grads = numerical_gradients(loss, params)
residual = x @ params["W"] + params["b"] - t
exact = {"W": x.T @ residual / len(x), "b": residual.sum(axis=0) / len(x)}
print("gradient shapes:", {name: g.shape for name, g in grads.items()})
for name in grads:
    error = (np.abs(grads[name] - exact[name]) / np.abs(exact[name])).max()
    print(f"{name}: max relative error < 1e-6:", error < 1e-6)
print("W exactly restored:", np.array_equal(params["W"], W_saved))


# %% [markdown]
# ### Task 1.3 — gradient descent that picks its own step (3 points)
#
# Lesson 01 (section 4) showed that a fixed learning rate is a gamble: too small and descent crawls, too large and it overshoots and diverges, and the steepest direction sets the limit. **Backtracking** lets every step choose its own: try a large `lr`, and halve it until the step decreases $f$ *enough*. With $g = \text{grad}(x)$ and $\lVert g \rVert^2$ the sum of the squares of all elements of $g$, "enough" is the **sufficient-decrease** (Armijo) condition
#
# $$f(x - \text{lr} \cdot g) \le f(x) - \tfrac12\, \text{lr}\, \lVert g \rVert^2 .$$
#
# Why $\tfrac12\, \text{lr}\, \lVert g \rVert^2$? To first order, the step $-\text{lr} \cdot g$ lowers $f$ by $\text{lr}\, \lVert g \rVert^2$ (the slope along $g$ times the length of the step), all that a straight-line $f$ could give. Asking for half of that accepts every step that keeps at least half of this promise and rejects the steps that overshoot into the far side of a valley, where $f$ falls by less or even rises.
#
# Write `descend_backtracking(f, grad, x0, lr0=1.0, steps=50)` for a function `f` that returns one number and its gradient `grad`, which returns an array shaped like `x`. At each of the `steps` steps:
#
# 1. start from `lr = lr0` (every step, not only the first);
# 2. halve `lr` until the condition above holds; if `lr` falls below $10^{-12}$ first, raise `ValueError` saying that $-g$ does not point downhill (the gradient is probably wrong: no step of a right one fails that long);
# 3. update $x \leftarrow x - \text{lr} \cdot g$.
#
# Return `(path, lrs)`: `path`, a float array of shape `(steps + 1, *x0.shape)` whose row 0 is `x0` and row $k$ the point after $k$ steps, and `lrs`, a float array of shape `(steps,)` with the learning rate each step used. `x0` may have any shape (a vector, a matrix); do not change it.
#
# *Hint:* lesson 01, sections 3 (the update rule) and 4 (what a learning rate that is too large does to $f$). Mind that `x -= …` changes an array in place, and with it every row of the path that is that same array.
#
# *Checked:* a 1-D and an ill-conditioned 2-D quadratic on which `lr0` overshoots, a Rosenbrock function with the default `lr0` and `steps`, a matrix-shaped `x0`, a problem on which `lr0` already works, and a wrong gradient that must raise `ValueError`. Your path is not compared bit for bit with a reference (a borderline comparison may round either way); each step is checked: `lr` is `lr0` halved a whole number of times, the row follows from the one before, the condition holds at `lr` and fails at `2·lr` (unless `lr` is `lr0`).


# %% dlcourse={"points": 3, "task": "1.3"}
def descend_backtracking(f, grad, x0, lr0=1.0, steps=50):
    """Gradient descent whose steps halve lr from lr0 until f(x - lr*g) <= f(x) - lr*|g|^2/2.

    x0: any shape. Returns path: (steps + 1, *x0.shape), row 0 = x0; lrs: (steps,).
    """
    # Hint: x = np.array(x0, dtype=np.float64) gives a float copy to start from.
    ### BEGIN SOLUTION
    x = np.array(x0, dtype=np.float64)
    path, lrs = [x], []
    for _ in range(steps):
        g = grad(x)
        f_x, g_squared = f(x), np.sum(g**2)
        lr = lr0
        while f(x - lr * g) > f_x - 0.5 * lr * g_squared:
            lr /= 2
            if lr < 1e-12:
                raise ValueError(
                    f"no step along -grad(x) decreases f at x = {x}: the direction is not "
                    "downhill, so the gradient is probably wrong"
                )
        x = x - lr * g
        path.append(x)
        lrs.append(lr)
    return np.array(path), np.array(lrs)
    ### END SOLUTION


# %% dlcourse={"check": "1.3"}
check("1.3", descend_backtracking)
### BEGIN HIDDEN TESTS
_path, _lrs = descend_backtracking(lambda v: v @ v, lambda v: 2 * v, np.array([3.0, -4.0]), 0.4, 1)
assert np.allclose(_path, [[3.0, -4.0], [0.6, -0.8]]) and _lrs.tolist() == [0.4]
assert descend_backtracking(lambda v: v @ v, lambda v: 2 * v, np.ones(3))[0].shape == (51, 3)
### END HIDDEN TESTS

# %% [markdown]
# Put your three functions together on the **Rosenbrock function** $f(x) = (1 - x_0)^2 + 10\,(x_1 - x_0^2)^2$, a curved valley whose minimum is at $(1, 1)$, with the numerical gradient of Task 1.2, from $(-1, 1.5)$. First with a fixed learning rate of 0.01 for 2,000 steps, then with backtracking from `lr0 = 1` for far fewer. Both runs count how often they evaluate $f$ (the numerical gradient costs four evaluations in two dimensions):


# %%
def rosenbrock(x):
    return (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2


def counted(f):
    """f, counting its calls in counted_f.calls."""

    def counted_f(x):
        counted_f.calls += 1
        return f(x)

    counted_f.calls = 0
    return counted_f


def fixed_lr_descent(grad, x0, lr, steps):
    """Lesson 01's gradient descent with a fixed lr; returns the path (steps + 1, *x0.shape)."""
    path = [np.array(x0, dtype=np.float64)]
    for _ in range(steps):
        path.append(path[-1] - lr * grad(path[-1]))
    return np.array(path)


def numerical_gradient_of(f):
    """The gradient of f(x) by your numerical_gradients of Task 1.2."""

    def grad(x):
        return numerical_gradients(lambda p: f(p["x"]), {"x": x})["x"]

    return grad


def compare_descents(x0, fixed_steps=2000, backtracking_steps=400, lr=0.01):
    """Run both descents on the Rosenbrock function; print a table and return the two paths."""
    runs = {}
    for name in ("fixed", "backtracking"):
        f = counted(rosenbrock)
        grad = numerical_gradient_of(f)
        if name == "fixed":
            path, lrs = fixed_lr_descent(grad, x0, lr, fixed_steps), None
        else:
            path, lrs = descend_backtracking(f, grad, x0, lr0=1.0, steps=backtracking_steps)
        distance = np.abs(path - 1).max(axis=1)  # to the minimum (1, 1), largest coordinate
        near = np.flatnonzero(distance < 0.01)
        runs[name] = path, lrs
        print(
            f"{name:>12}: {len(path) - 1:5d} steps, {f.calls:6d} evaluations of f, "
            f"within 0.01 of (1, 1) after {near[0] if near.size else '-':>5} steps, "
            f"end point {np.round(path[-1], 4)}"
        )
    return runs


# %%
# NBVAL_CHECK_OUTPUT
start = np.array([-1.0, 1.5])
fixed_end = fixed_lr_descent(numerical_gradient_of(rosenbrock), start, lr=0.01, steps=2000)[-1]
bt_path, _ = descend_backtracking(rosenbrock, numerical_gradient_of(rosenbrock), start, steps=400)
for name, end in (("fixed lr, 2000 steps", fixed_end), ("backtracking, 400 steps", bt_path[-1])):
    print(f"{name}: within 0.01 of the minimum (1, 1):", bool(np.abs(end - 1).max() < 0.01))

# %% [markdown]
# Both get there. How many steps did each need to come within 0.01 of the minimum, what did a step cost, where did the steps go, and which learning rates did backtracking choose? The table and the figure below answer in turn:

# %%
# NBVAL_IGNORE_OUTPUT
runs = compare_descents(start)
(fixed_path, _), (bt_path, bt_lrs) = runs["fixed"], runs["backtracking"]
a, b = np.meshgrid(np.linspace(-1.5, 1.5, 200), np.linspace(-0.5, 2.0, 200))
fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6), width_ratios=(1.3, 1))
left.contour(a, b, rosenbrock([a, b]), levels=np.logspace(-1.5, 2, 14), colors="lightgray")
left.plot(*fixed_path.T, ".-", ms=2, lw=1, color=colors[0], label="fixed lr = 0.01")
left.plot(*bt_path.T, ".-", ms=3, lw=1, color=colors[3], label="backtracking from lr0 = 1")
left.plot(*fixed_path[0], "o", color=colors[1], label="start (−1, 1.5)")
left.plot(1, 1, "*", ms=14, color=colors[2], label="minimum (1, 1)")
left.set(
    xlabel="$x_0$",
    ylabel="$x_1$",
    title="Both reach the valley floor; backtracking in longer steps",
)
left.legend(loc="upper right", fontsize=8)
right.semilogy(
    np.arange(1, len(bt_lrs) + 1), bt_lrs, ".", ms=3, color=colors[3], label="backtracking"
)
right.axhline(0.01, color=colors[0], lw=1.5, label="fixed lr = 0.01")
right.set(
    xlabel="step k",
    ylabel="learning rate of step k",
    title="Backtracking picks every step's lr afresh",
)
right.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# *Figure: left, contour lines of the Rosenbrock function, a banana-shaped valley, with the fixed-lr path (blue) and the backtracking path (red-orange) from $(-1, 1.5)$; both drop to the valley floor and follow it to the minimum at $(1, 1)$ (star), backtracking in fewer, longer steps. Right, the learning rate of every backtracking step on a log scale: each is $2^{-m}$, chosen afresh at every step, never one value for the whole run; most lie above the fixed 0.01 (blue line), some below it.*

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "1.4"}
# ### Task 1.4 — why $h \approx 10^{-4}$? (1 point, written)
#
# In three to five sentences: what goes wrong with the central difference when $h = 10^{-1}$, and what when $h = 10^{-12}$? Why is $h = 10^{-4}$ a good choice in float64, and why would it be a poor one if `f` computed in float32 (machine epsilon $\approx 1.2 \times 10^{-7}$)? Use the two error terms from lesson 01, section 2.
#
# ### BEGIN SOLUTION
# The central difference has a truncation error of about $\frac{h^2}{6}|f'''|$ and a rounding error of about $\varepsilon |f| / h$. With $h = 10^{-1}$ the truncation error is about $10^{-3}$ relative: the secant is too long to follow the curve. With $h = 10^{-12}$ the truncation is negligible but the two values of $f$ agree in almost all their 16 digits, so their difference keeps only a few correct digits and dividing by $2h$ blows the rounding error up to about $10^{-4}$. At $h = 10^{-4}$ both terms are below about $10^{-8}$ (their sum is smallest near $\varepsilon^{1/3} \approx 10^{-5}$), with room to spare for functions that round more than one `exp`. In float32, $\varepsilon / h \approx 10^{-3}$ at $h = 10^{-4}$, so gradient checks must run in float64 (or use $h \approx 10^{-2}$, at the cost of more truncation).
# ### END SOLUTION

# %% [markdown]
# ## Done
#
# You can now differentiate any function numerically, for any shape of input, without disturbing it, and walk downhill with the result in steps that choose their own length. Lesson 02 gives gradient descent its first real job: training a classifier of handwritten digits with the softmax and the cross-entropy loss.
