# %% [markdown]
# # Assignment 01 · Gradient descent
#
# In lesson 01 you measured slopes with central differences and walked downhill with them. Here you take each of them a step further: a more accurate numerical derivative, a numerical gradient of every array of a network's parameters that leaves them exactly as it found them, and a gradient descent that records its path.
#
# **Points:** 8 (three code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 1.1 passed` or a reason you can act on. Run it as often as you like.
#
# **You need:** lesson 01.
#
# **Time:** about 40 minutes.

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
# ### Task 1.3 — gradient descent with its path (2 points)
#
# Write `gradient_descent(grad, x0, lr, steps)`: start at `x0` (a number or an array), apply the update
#
# $$x \leftarrow x - \text{lr} \cdot \text{grad}(x)$$
#
# `steps` times, and return the whole path as one float array of shape `(steps + 1, *x0.shape)`: row 0 is `x0`, row $k$ the point after $k$ steps. Do not change `x0`.
#
# *Hint:* lesson 01, section 3 (the update rule). Mind that `x -= …` changes an array in place, and with it every point of the path that is that same array.
#
# *Checked:* a 1-D, a 2-D and a matrix-shaped problem, one of them diverging on purpose; `x0` must be unchanged.


# %% dlcourse={"points": 2, "task": "1.3"}
def gradient_descent(grad, x0, lr, steps):
    """Gradient descent from x0; returns the path, shape (steps + 1, *x0.shape)."""
    # Hint: x = np.array(x0, dtype=np.float64) gives a float copy to start from.
    ### BEGIN SOLUTION
    x = np.array(x0, dtype=np.float64)
    path = [x]
    for _ in range(steps):
        x = x - lr * grad(x)
        path.append(x)
    return np.array(path)
    ### END SOLUTION


# %% dlcourse={"check": "1.3"}
check("1.3", gradient_descent)
### BEGIN HIDDEN TESTS
assert gradient_descent(lambda v: 2 * v + 1, np.array(1.0), 0.5, 1)[-1] == -0.5
### END HIDDEN TESTS

# %% [markdown]
# Put your three functions together on the **Rosenbrock function** $f(x) = (1 - x_0)^2 + 10\,(x_1 - x_0^2)^2$, a curved valley whose minimum is at $(1, 1)$. Gradient descent with the numerical gradient, from $(-1, 1.5)$:


# %%
# NBVAL_CHECK_OUTPUT
def rosenbrock(x):
    return (1 - x[0]) ** 2 + 10 * (x[1] - x[0] ** 2) ** 2


def rosenbrock_gradient(x):
    return numerical_gradients(lambda p: rosenbrock(p["x"]), {"x": x})["x"]


path = gradient_descent(rosenbrock_gradient, np.array([-1.0, 1.5]), lr=0.01, steps=2000)
print("end point, rounded:", np.round(path[-1], 2) + 0.0)
print("within 0.01 of the minimum (1, 1):", bool(np.abs(path[-1] - 1).max() < 0.01))

# %% [markdown]
# Where did the 2,000 steps go? The path over the function's contour lines:

# %%
path = gradient_descent(rosenbrock_gradient, np.array([-1.0, 1.5]), lr=0.01, steps=2000)
a, b = np.meshgrid(np.linspace(-1.5, 1.5, 200), np.linspace(-0.5, 2.0, 200))
fig, ax = plt.subplots(figsize=(7, 5))
ax.contour(a, b, rosenbrock([a, b]), levels=np.logspace(-1.5, 2, 14), colors="lightgray")
ax.plot(path[:, 0], path[:, 1], ".-", ms=2, lw=1, color=colors[0], label="descent path, lr = 0.01")
ax.plot(*path[0], "o", color=colors[1], label="start (−1, 1.5)")
ax.plot(1, 1, "*", ms=14, color=colors[2], label="minimum (1, 1)")
ax.set(xlabel="$x_0$", ylabel="$x_1$", title="Fast down into the valley, slow along its floor")
ax.legend(loc="upper right")
plt.show()

# %% [markdown]
# *Figure: contour lines of the Rosenbrock function, a banana-shaped valley, with the 2,000-step descent path from $(-1, 1.5)$. The path drops quickly to the valley floor, then follows the curved floor in many small steps to the minimum at $(1, 1)$ (star): where the valley is flat, the gradient is small and so are the steps.*

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
# You can now differentiate any function numerically, for any shape of input, without disturbing it, and walk downhill with the result. Lesson 02 gives gradient descent its first real job: training a classifier of handwritten digits with the softmax and the cross-entropy loss.
