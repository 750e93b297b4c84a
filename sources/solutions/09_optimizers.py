# %% [markdown]
# # Assignment 09 · Optimizers, schedules and initialization
#
# Lesson 09 wrote six update rules, plotted five schedules and measured what initialization does to a deep network. Here you go one step further each time: an optimizer that combines two of the lesson's rules, a schedule composed from two of its schedules, an initializer for an activation the lesson did not cover, and the reduce-on-plateau rule of another library. Then you choose an initializer and justify it with the statistics your code produces.
#
# **Points:** 10 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 9.1 passed` or a reason you can act on. Run it as often as you like.
#
# **You need:** lesson 09.
#
# **Time:** about 75 minutes.

# %%
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from dlcourse.checks import check
from dlcourse.config import seed_everything
from dlcourse.initializers import he, xavier
from dlcourse.schedules import ReduceOnPlateau

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")


# %% [markdown]
# ### Task 9.1 — RMSprop with momentum (3 points)
#
# The source article trains with TensorFlow's `RMSPropOptimizer(learning_rate, decay=0.99, momentum=0.9)`: RMSprop's per-weight scaling *and* a velocity. Write one step of it,
#
# $$h \leftarrow \rho\, h + (1 - \rho)\, g \odot g, \qquad v \leftarrow \mu\, v - \eta\, \frac{g}{\sqrt{h} + \varepsilon}, \qquad W \leftarrow W + v,$$
#
# as `rmsprop_momentum_step(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8)` in the form of the lesson's step functions: `w` and `g` are arrays of the same shape, `state` is a dict you keep `h` and `v` in between calls (empty at the first call, both start at zero), and the function returns the new weights without changing `w` in place. The learning rate sits *inside* the velocity, as in `dlcourse`.
#
# *Hint:* lesson 09, section 2 has `rmsprop_step` and `momentum_step`; you need both memories at once.
#
# *Checked:* 20 steps on arrays of three shapes with random gradients of very different sizes, several `rho`, `mu` and `eps`, and a learning rate that drops after 10 steps (section 5 of the lesson says why that matters), against a float64 reference.


# %% dlcourse={"points": 3, "task": "9.1"}
def rmsprop_momentum_step(w, g, state, lr, rho=0.9, mu=0.9, eps=1e-8):
    """One step of RMSprop with momentum. w, g: arrays of one shape; returns the new w."""
    ### BEGIN SOLUTION
    state["h"] = rho * state.get("h", 0.0) + (1 - rho) * g * g
    state["v"] = mu * state.get("v", 0.0) - lr * g / (np.sqrt(state["h"]) + eps)
    return w + state["v"]
    ### END SOLUTION


# %% dlcourse={"check": "9.1"}
check("9.1", rmsprop_momentum_step)


# %% [markdown]
# Your optimizer on the lesson's elongated bowl $f(x, y) = x^2/20 + y^2$, from the same start, against plain RMSprop (the same rule without the velocity):


# %%
def bowl_grad(w):
    return np.array([w[0] / 10, 2 * w[1]])


def walk(step, lr, n_steps=300, **kwargs):
    w, state, path = np.array([-7.0, 2.0]), {}, [np.array([-7.0, 2.0])]
    for _ in range(n_steps):
        w = step(w, bowl_grad(w), state, lr, **kwargs)
        path.append(w)
    return np.stack(path)  # (n_steps + 1, 2): one row per point of the walk


with_momentum = walk(rmsprop_momentum_step, lr=0.05)
without = walk(rmsprop_momentum_step, lr=0.05, mu=0.0)
xs, ys = np.meshgrid(np.linspace(-8, 8, 200), np.linspace(-3, 3, 200))
fig, ax = plt.subplots(figsize=(9, 4))
ax.contour(xs, ys, xs**2 / 20 + ys**2, levels=12, colors="0.75", linewidths=0.8)
ax.plot(*without.T, ".-", ms=2, color=colors[0], label="RMSprop (mu = 0)")
ax.plot(*with_momentum.T, ".-", ms=2, color=colors[1], label="RMSprop with momentum (mu = 0.9)")
ax.plot(0, 0, "k*", ms=12)
ax.set(xlabel="$x$", ylabel="$y$", title="300 steps on the elongated bowl, lr 0.05")
ax.legend()
plt.show()
print("distance to the minimum after 300 steps:")
print(f"  RMSprop:               {np.linalg.norm(without[-1]):.2e}")
print(f"  RMSprop with momentum: {np.linalg.norm(with_momentum[-1]):.2e}")

# %% [markdown]
# *Figure: 300 steps of RMSprop without and with momentum (your function) on the contour lines of the elongated bowl, from $(-7, 2)$ to the minimum (star).*
#
# ### Task 9.2 — warm-up, then step decay (2 points)
#
# Compose two of the lesson's schedules: a **linear warm-up** over the first `warmup` epochs, then **step decay** that starts counting when the warm-up ends. For epochs counted from 0:
#
# $$\eta(e) = \begin{cases} \eta_\text{peak} \cdot \dfrac{e + 1}{\text{warmup}} & e < \text{warmup} \\[2mm] \eta_\text{peak} \cdot \text{drop}^{\lfloor (e - \text{warmup}) / \text{every} \rfloor} & e \ge \text{warmup} \end{cases}$$
#
# Write `warmup_step_decay(epoch, peak_lr, warmup, drop, every)` returning that number. With `warmup=0` there is no warm-up. Because it is a function of the epoch, `dlcourse.training.LRScheduler(partial(warmup_step_decay, peak_lr=0.1, warmup=3, drop=0.5, every=5))` could use it in training.
#
# *Hint:* the warm-up part is the first branch of the lesson's `WarmupCosine`; `//` is the floor division.
#
# *Checked:* epochs 0–29 for five settings, including `warmup=0`; the check names a warm-up that starts at 0, a decay counted from epoch 0 and a rate that goes above the peak.


# %% dlcourse={"points": 2, "task": "9.2"}
def warmup_step_decay(epoch, peak_lr, warmup, drop, every):
    """Learning rate of ``epoch`` (from 0): linear warm-up, then step decay."""
    ### BEGIN SOLUTION
    if epoch < warmup:
        return peak_lr * (epoch + 1) / warmup
    return peak_lr * drop ** ((epoch - warmup) // every)
    ### END SOLUTION


# %% dlcourse={"check": "9.2"}
check("9.2", warmup_step_decay)

# %%
fig, ax = plt.subplots(figsize=(8, 3.5))
epochs = np.arange(30)
for color, (warmup, every) in zip(colors, [(0, 5), (3, 5), (5, 8)], strict=False):
    rates = [warmup_step_decay(e, 0.1, warmup, 0.5, every) for e in epochs]
    ax.step(
        epochs, rates, where="post", color=color, label=f"warm-up {warmup}, halve every {every}"
    )
ax.set(xlabel="epoch (from 0)", ylabel="learning rate $\\eta$")
ax.set_title("Warm-up, then step decay from a peak of 0.1")
ax.legend()
plt.show()

# %% [markdown]
# *Figure: the learning rate per epoch of your composed schedule for three settings, each starting its step decay when its warm-up ends.*
#
# ### Task 9.3 — an initializer for LeakyReLU (2 points)
#
# LeakyReLU passes positive inputs unchanged and multiplies negative ones by a small slope $\alpha$: $\text{leaky}(z) = \max(z, \alpha z)$. The lesson derived He's $\mathcal N(0, 2/n_\text{in})$ for ReLU, which zeroes the negative half. LeakyReLU keeps that half, scaled by $\alpha$, so the second moment it passes on is $\frac{1 + \alpha^2}{2}$ of its input's instead of $\frac12$. Keeping it at the same scale from layer to layer therefore needs
#
# $$W \sim \mathcal N\!\left(0,\; \frac{2}{(1 + \alpha^2)\, n_\text{in}}\right).$$
#
# Write `leaky_he(fan_in, fan_out, alpha, seed)` returning such a `(fan_in, fan_out)` array, drawn from `np.random.default_rng(seed)` so that the same seed gives the same weights. ($\alpha = 0$ gives He, $\alpha = 1$ a linear layer's $1/n_\text{in}$.)
#
# *Hint:* lesson 09, section 8 has the table of initializers; `rng.normal(0, std, size)` draws the array.
#
# *Checked:* shape, mean and std on four layer sizes with $\alpha$ = 0, 0.2, 0.5 and 1, and that a seed reproduces its weights; the check names He's std without $\alpha$, $(1+\alpha)$ for $(1+\alpha^2)$, fan-out for fan-in and a variance used as a std.


# %% dlcourse={"points": 2, "task": "9.3"}
def leaky_he(fan_in, fan_out, alpha, seed):
    """Weights (fan_in, fan_out) ~ N(0, 2 / ((1 + alpha²)·fan_in)) for LeakyReLU(alpha) layers."""
    ### BEGIN SOLUTION
    std = np.sqrt(2 / ((1 + alpha**2) * fan_in))
    return np.random.default_rng(seed).normal(0.0, std, size=(fan_in, fan_out))
    ### END SOLUTION


# %% dlcourse={"check": "9.3"}
check("9.3", leaky_he)


# %% [markdown]
# The statistics your initializer produces: ten LeakyReLU layers ($\alpha = 0.2$) of 300 units, a batch of 500 inputs $\mathcal N(0, 1)$, and the std of each layer's output for Xavier, He and yours. You will need this table for Task 9.5.


# %%
def leaky_stds(draw, alpha=0.2, depth=10, width=300, batch=500, seed=0):
    """Std of each layer's output for h ← leaky(h W), W = draw(width, width, seed)."""
    gen = np.random.default_rng(seed)
    h = gen.standard_normal((batch, width))
    stds = []
    for layer in range(depth):
        z = h @ draw(width, width, seed + layer + 1)
        h = np.maximum(z, alpha * z)
        stds.append(h.std())
    return stds


draws = {
    "xavier": lambda n_in, n_out, seed: xavier(n_in, n_out, rng=seed, dtype=np.float64),
    "he": lambda n_in, n_out, seed: he(n_in, n_out, rng=seed, dtype=np.float64),
    "leaky_he (yours)": lambda n_in, n_out, seed: leaky_he(n_in, n_out, 0.2, seed),
}
leaky_table = {name: leaky_stds(draw) for name, draw in draws.items()}
print("std of each LeakyReLU(0.2) layer's output, layers 1 … 10")
for name, stds in leaky_table.items():
    print(f"{name:<17}", " ".join(f"{s:6.3f}" for s in stds))
for name, stds in leaky_table.items():
    print(f"{name:<17} layer 10 / layer 1 = {stds[-1] / stds[0]:.3f}")


# %% [markdown]
# ### Task 9.4 — reduce-on-plateau, counted as PyTorch counts (2 points)
#
# Section 5 of the lesson showed that `dlcourse` and PyTorch count "patience" differently, and that PyTorch's reduce-on-plateau also has a relative threshold. Write `plateau_rates(losses, lr, factor, patience, threshold)` that replays PyTorch's documented rule (mode `"min"`, threshold mode `"rel"`, no cooldown, no minimum rate) over a list of validation losses and returns the learning rate **after** each epoch, one per loss:
#
# 1. An epoch *improves* when `loss < best * (1 - threshold)`; then `best = loss` and the count of bad epochs goes back to 0. Otherwise the count goes up by one. (The first epoch always improves: `best` starts at infinity.)
# 2. When the count **exceeds** `patience`, multiply `lr` by `factor` and reset the count to 0.
#
# *Hint:* the lesson's patience cell has the loop without the threshold.
#
# *Checked:* four made-up loss curves with plateaus and exactly repeated values, patience 0 to 3, thresholds 0 to 0.05; the check names the `dlcourse` way of counting patience, an absolute threshold, `<=` for `<`, a count that is not reset, and rates one epoch late.


# %% dlcourse={"points": 2, "task": "9.4"}
def plateau_rates(losses, lr, factor, patience, threshold):
    """The learning rate after each epoch under PyTorch's reduce-on-plateau rule."""
    ### BEGIN SOLUTION
    best, bad, rates = float("inf"), 0, []
    for loss in losses:
        if loss < best * (1 - threshold):
            best, bad = loss, 0
        else:
            bad += 1
        if bad > patience:
            lr, bad = lr * factor, 0
        rates.append(lr)
    return rates
    ### END SOLUTION


# %% dlcourse={"check": "9.4"}
check("9.4", plateau_rates)

# %% [markdown]
# Your rule and `dlcourse.schedules.ReduceOnPlateau` with the same numbers (factor 0.5, patience 2, no threshold) on the same losses:

# %%
# NBVAL_CHECK_OUTPUT
val_losses = [0.9, 0.7, 0.6, 0.6, 0.61, 0.6, 0.55, 0.56, 0.56, 0.57, 0.55, 0.56]
ours = ReduceOnPlateau(lr=0.1, factor=0.5, patience=2)
dlcourse_rates = [ours.step(loss) for loss in val_losses]
torch_rates = plateau_rates(val_losses, 0.1, 0.5, 2, 0.0)
print("epoch  loss   dlcourse  PyTorch rule")
for epoch, (loss, a, b) in enumerate(zip(val_losses, dlcourse_rates, torch_rates, strict=True)):
    print(f"{epoch:>5}  {loss:4.2f}  {a:8.4f}  {b:12.4f}")

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "9.5"}
# ### Task 9.5 — choose an initializer and justify it (1 point)
#
# You are to train a ten-layer network of LeakyReLU units with $\alpha = 0.2$. Which of Xavier, He and your `leaky_he` do you choose, and what in the table printed after Task 9.3 justifies the choice? Say what would happen to the activations and gradients of a much deeper network with each of the other two.
#
# ### BEGIN SOLUTION
# `leaky_he`. In the table, its layer-10/layer-1 ratio of output stds is the one closest to 1: the signal keeps its scale through all ten layers. With Xavier the std shrinks at every layer (each layer keeps only $(1+\alpha^2)/2 \approx 0.52$ of the second moment), so in a much deeper network the activations, and with them the weight gradients, would shrink geometrically towards zero: the collapse of lesson 09. He's factor 2 ignores the $\alpha^2$ that LeakyReLU passes on, so the std grows by about $\sqrt{1.04}$ per layer: harmless over ten layers (He is a reasonable second choice for small $\alpha$), but it compounds, and a very deep network would see its activations and gradients grow layer by layer.
# ### END SOLUTION
