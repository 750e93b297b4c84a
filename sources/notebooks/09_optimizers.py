# %% [markdown]
# # 09 · Optimizers, learning-rate schedules and initialization
#
# After this lesson you can pick an optimizer, a learning-rate schedule and a weight initialization for a network, and explain from measurements why a bad choice trains slowly or not at all.
#
# **Goals**
#
# - Write the update rules of SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam, and watch them race on three 2-D functions where plain SGD struggles.
# - See why Adam needs its bias correction, and know the conventions that differ between libraries (where the learning rate and $\varepsilon$ sit, what "patience" counts, what batch-norm "momentum" means).
# - Compare the six optimizers on MNIST over several seeds, and five learning-rate schedules.
# - Measure what std 1, std 0.01, Xavier and He initialization do to the activations and gradients of a deep network, and why all-zero weights never learn.
#
# **You need:** lesson 04 (mini-batch training, the learning rate) and lesson 05 (layers, `Sequential`, the `dlcourse` package).
#
# **Time:** about 90 minutes, of which about 2 minutes are computing.

# %%
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Markdown, display

from dlcourse.config import seed_everything, sized
from dlcourse.data import load_mnist, train_val_split
from dlcourse.init_explorer import init_explorer
from dlcourse.initializers import get_initializer, normal
from dlcourse.models import mlp
from dlcourse.optimizers import get_optimizer
from dlcourse.schedules import (
    ExponentialDecay,
    InverseDecay,
    ReduceOnPlateau,
    StepDecay,
    WarmupCosine,
)
from dlcourse.training import LRScheduler, train

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")
max_steps = sized(20_000, 1_000)  # step budget of each 2-D race (section 3)
epochs = sized(12, 1)  # MNIST epochs per optimizer and seed (section 6)
schedule_epochs = sized(20, 2)  # MNIST epochs per schedule and seed (section 7)
seeds = sized((0, 1, 2), (0,))  # every MNIST comparison is repeated with these seeds
quick_digits = sized(None, 1000)  # quick mode trains on the first 1,000 digits only
init_batch = sized(1000, 300)  # random inputs sent through the networks of section 8
kde_points = sized(3000, 500)  # values per layer in the KDE plots

# %% [markdown]
# ## 1. Three functions where plain gradient descent struggles
#
# Lesson 01 walked downhill on a round bowl. Real loss surfaces are rarely round. Three small 2-D functions show the typical trouble, each with its minimum $w^*$ and a start $w_0$ shared by all optimizers:
#
# | function | formula | minimum | start | the trouble |
# |---|---|---|---|---|
# | elongated bowl | $f(x, y) = \frac{x^2}{20} + y^2$ | $(0, 0)$ | $(-7, 2)$ | steep across, flat along: a learning rate small enough for $y$ crawls along $x$ |
# | saddle | $f(x, y) = x^2 + \frac{y^4}{4} - \frac{y^2}{2}$ | $(0, \pm 1)$ | $(1.5, 10^{-3})$ | starts next to a saddle point at $(0, 0)$, where the gradient almost vanishes |
# | Rosenbrock | $f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2$ | $(1, 1)$ | $(-1.5, 2)$ | a long, curved, nearly flat valley with steep walls |
#
# Each function comes with its gradient, written by hand.


# %%
def bowl(w):
    return w[0] ** 2 / 20 + w[1] ** 2


def bowl_grad(w):
    return np.array([w[0] / 10, 2 * w[1]])


def saddle(w):
    return w[0] ** 2 + w[1] ** 4 / 4 - w[1] ** 2 / 2


def saddle_grad(w):
    return np.array([2 * w[0], w[1] ** 3 - w[1]])


def rosenbrock(w):
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def rosenbrock_grad(w):
    return np.array([-2 * (1 - w[0]) - 400 * w[0] * (w[1] - w[0] ** 2), 200 * (w[1] - w[0] ** 2)])


# name: (f, gradient, start, minimum, plot window (x_lo, x_hi, y_lo, y_hi))
problems = {
    "elongated bowl": (bowl, bowl_grad, (-7.0, 2.0), (0.0, 0.0), (-8, 8, -3, 3)),
    "saddle": (saddle, saddle_grad, (1.5, 1e-3), (0.0, 1.0), (-2, 2, -1.5, 1.5)),
    "Rosenbrock": (rosenbrock, rosenbrock_grad, (-1.5, 2.0), (1.0, 1.0), (-2, 2, -1, 3)),
}

# %% [markdown]
# ## 2. Six update rules
#
# Every optimizer turns the gradient $g = \nabla_W L$ of the current step into a change of the weights $W$. They differ in what they remember between steps. With learning rate $\eta$:
#
# **SGD** remembers nothing: $\quad W \leftarrow W - \eta\, g$.
#
# **Momentum** keeps a velocity $v$ (zero at first) that adds up past gradients, decayed by the momentum coefficient $\mu$ (typically 0.9). Gradients that keep their sign build up speed; gradients that flip sign cancel:
#
# $$v \leftarrow \mu\, v - \eta\, g, \qquad W \leftarrow W + v.$$
#
# **Nesterov** momentum takes the gradient where the velocity is about to carry the weights. Rewritten in terms of the current weights, it becomes one extra look-ahead term:
#
# $$v \leftarrow \mu\, v - \eta\, g, \qquad W \leftarrow W + \mu\, v - \eta\, g.$$
#
# **AdaGrad** gives every weight its own learning rate, divided by the root of the sum $h$ of all its squared gradients so far ($\odot$ and the division are element by element; $\varepsilon$ avoids $0/0$):
#
# $$h \leftarrow h + g \odot g, \qquad W \leftarrow W - \eta\, \frac{g}{\sqrt{h} + \varepsilon}.$$
#
# A weight with large gradients takes smaller steps, a weight with small gradients larger ones. But $h$ only grows, so the steps shrink for ever.
#
# **RMSprop** replaces the sum by a moving average with decay $\rho$ (typically 0.99), so old gradients are forgotten and the steps stop shrinking:
#
# $$h \leftarrow \rho\, h + (1 - \rho)\, g \odot g, \qquad W \leftarrow W - \eta\, \frac{g}{\sqrt{h} + \varepsilon}.$$
#
# **Adam** keeps both: a moving average $m$ of the gradients (the momentum, decay $\beta_1 = 0.9$) and a moving average $v$ of their squares (RMSprop's $h$, decay $\beta_2 = 0.999$). Both start at zero, so at step $t = 1, 2, \dots$ they are divided by $1 - \beta^t$ ("bias correction", section 4):
#
# $$m \leftarrow \beta_1 m + (1 - \beta_1)\, g, \quad v \leftarrow \beta_2 v + (1 - \beta_2)\, g \odot g, \quad \hat m = \frac{m}{1 - \beta_1^t}, \quad \hat v = \frac{v}{1 - \beta_2^t}, \quad W \leftarrow W - \eta\, \frac{\hat m}{\sqrt{\hat v} + \varepsilon}.$$
#
# (Adam's $v$ is not Momentum's velocity $v$: the letter follows the Adam paper in its formula, and the meaning is always said next to it.) In code, each rule is a function of the weights, the gradient, a dict `state` that it keeps between calls, and the learning rate; it returns the new weights:


# %%
def sgd_step(w, g, state, lr):
    return w - lr * g


def momentum_step(w, g, state, lr, mu=0.9):
    state["v"] = mu * state.get("v", 0.0) - lr * g
    return w + state["v"]


def nesterov_step(w, g, state, lr, mu=0.9):
    state["v"] = mu * state.get("v", 0.0) - lr * g
    return w + mu * state["v"] - lr * g


def adagrad_step(w, g, state, lr, eps=1e-8):
    state["h"] = state.get("h", 0.0) + g * g
    return w - lr * g / (np.sqrt(state["h"]) + eps)


def rmsprop_step(w, g, state, lr, rho=0.99, eps=1e-8):
    state["h"] = rho * state.get("h", 0.0) + (1 - rho) * g * g
    return w - lr * g / (np.sqrt(state["h"]) + eps)


def adam_step(w, g, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    t = state["t"] = state.get("t", 0) + 1
    state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
    state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g * g
    m_hat = state["m"] / (1 - beta1**t)
    v_hat = state["v"] / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps)


steps = {
    "SGD": sgd_step,
    "Momentum": momentum_step,
    "Nesterov": nesterov_step,
    "AdaGrad": adagrad_step,
    "RMSprop": rmsprop_step,
    "Adam": adam_step,
}


# %% [markdown]
# `dlcourse.optimizers` (used from section 6 on) implements the same six rules, in place on a network's arrays; the small functions above are for reading. `run` walks from the start until the weights are within a tolerance of the minimum (distance below $10^{-3}$), the step budget is used up, or the walk diverges.


# %%
def run(step, grad, start, minimum, lr, budget=max_steps, tol=1e-3):
    """Walk from ``start``; returns (path (S + 1, 2), steps to reach ``tol`` or None)."""
    w, state, path = np.array(start), {}, [np.array(start)]
    for k in range(1, budget + 1):
        w = step(w, grad(w), state, lr)
        path.append(w)
        if not np.all(np.abs(w) < 1e6):  # diverged (or NaN)
            return np.array(path), None
        if np.linalg.norm(w - minimum) < tol:
            return np.array(path), k
    return np.array(path), None


# %% [markdown]
# ## 3. The race
#
# A fair race gives every optimizer its own best learning rate. For each function and each optimizer, `race` tries the learning rates $10^{-3}, 3 \cdot 10^{-3}, \dots, 1$ and keeps the one that reaches the tolerance in the fewest steps. The table counts those steps ("—": no learning rate of the grid got there within the budget).

# %%
learning_rates = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def race(grad, start, minimum):
    """{optimizer: (best lr or None, steps or None, path)} over the learning-rate grid."""
    results = {}
    for name, step in steps.items():
        best = None
        for lr in learning_rates:
            path, reached = run(step, grad, start, minimum, lr)
            if best is None or (reached is not None and (best[1] is None or reached < best[1])):
                best = (lr, reached, path)
        results[name] = best
    return results


races = {
    name: race(grad, start, minimum) for name, (_, grad, start, minimum, _) in problems.items()
}

print(f"steps to reach distance < 1e-3 of the minimum (budget {max_steps:,} steps), at the best lr")
print(f"{'optimizer':<10}" + "".join(f"{name:>24}" for name in problems))
for name in steps:
    cells = []
    for problem in problems:
        lr, reached, _ = races[problem][name]
        cells.append("—" if reached is None else f"{reached:,} (lr {lr:g})")
    print(f"{name:<10}" + "".join(f"{cell:>24}" for cell in cells))


# %%
def plot_race(ax, problem):
    f, _, start, minimum, (x_lo, x_hi, y_lo, y_hi) = problems[problem]
    xs, ys = np.meshgrid(np.linspace(x_lo, x_hi, 200), np.linspace(y_lo, y_hi, 200))
    zs = f(np.stack([xs, ys]))
    levels = np.quantile(zs, np.linspace(0.002, 0.9, 14))
    ax.contour(xs, ys, zs, levels=np.unique(levels), colors="0.75", linewidths=0.8)
    for color, (name, (_, reached, path)) in zip(colors, races[problem].items(), strict=False):
        shown = path[:400]  # the first 400 steps
        label = name if reached is None else f"{name} ({reached:,})"
        ax.plot(shown[:, 0], shown[:, 1], ".-", color=color, ms=2, lw=1, label=label)
    ax.plot(*start, "ko", ms=5)
    ax.plot(*minimum, "k*", ms=12)
    ax.set(xlim=(x_lo, x_hi), ylim=(y_lo, y_hi), xlabel="$x$", ylabel="$y$", title=problem)
    ax.legend(fontsize=8, loc="lower right", title="steps to tolerance", title_fontsize=8)


fig, axes = plt.subplots(1, 3, figsize=(16, 5))
for ax, problem in zip(axes, problems, strict=True):
    plot_race(ax, problem)
fig.suptitle("No optimizer is the fastest on all three functions")
plt.tight_layout()
plt.show()

# %% [markdown]
# *Figure: the paths of the six optimizers (first 400 steps, each at its best learning rate) on the contour lines of the elongated bowl, the saddle and the Rosenbrock function, from the same start (black dot) to the minimum (star). The legend gives the steps each needed to get within 0.001 of the minimum.*
#
# Read the paths with the table. On the bowl, SGD's best learning rate is limited by the steep $y$ direction, so it creeps along the flat $x$ direction; momentum accumulates speed along $x$, and the adaptive methods rescale each coordinate. Near the saddle, the gradient along $y$ starts at about $10^{-3}$: SGD can only grow $y$ by the factor $1 + \eta$ per step, while AdaGrad, RMSprop and Adam divide by the gradient's own size, so their first steps along $y$ are full-sized whatever the gradient. In Rosenbrock's curved valley every method needs many steps. The table says which optimizer won where; none of them is the best everywhere, which is why the choice is a hyperparameter.
#
# ## 4. Adam's bias correction
#
# $m$ and $v$ start at zero. After the first step, $m = (1 - \beta_1)\, g = 0.1\, g$ and $v = (1 - \beta_2)\, g^2 = 0.001\, g^2$: both far too small as estimates of the gradient and its square. Dividing by $1 - \beta^t$ undoes exactly that: for a constant gradient, $\hat m = g$ and $\hat v = g^2$ from the very first step, so every step has length $\eta$.
#
# What happens without it? The two errors do not cancel: the uncorrected step is $\eta\,(1 - \beta_1^t)/\sqrt{1 - \beta_2^t}$, and because $v$ forgets more slowly than $m$ ($\beta_2 > \beta_1$), the first steps come out *larger* than $\eta$. Correcting only $m$ makes it worse. Here are the first steps for a constant gradient, measured with the update above and three variants:


# %%
def adam_step_lengths(correct_m, correct_v, n_steps, g=0.5, lr=1.0, beta1=0.9, beta2=0.999):
    """|W change| / lr of each of the first n_steps of Adam for a constant gradient g."""
    m = v = 0.0
    lengths = []
    for t in range(1, n_steps + 1):
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1**t) if correct_m else m
        v_hat = v / (1 - beta2**t) if correct_v else v
        lengths.append(abs(lr * m_hat / (np.sqrt(v_hat) + 1e-8)) / lr)
    return np.array(lengths)


variants = {
    "both corrected (Adam)": (True, True),
    "no correction": (False, False),
    "only m corrected": (True, False),
    "only v corrected": (False, True),
}
lengths = {name: adam_step_lengths(*flags, n_steps=5000) for name, flags in variants.items()}

# %%
# NBVAL_CHECK_OUTPUT
print("step length / lr for a constant gradient, steps 1 to 5")
for name, values in lengths.items():
    print(f"{name:<22}", "  ".join(f"{x:7.3f}" for x in values[:5]))

# %%
fig, ax = plt.subplots(figsize=(8, 4))
for color, (name, values) in zip(colors, lengths.items(), strict=False):
    ax.plot(np.arange(1, len(values) + 1), values, color=color, label=name)
ax.set(xscale="log", yscale="log", xlabel="step $t$", ylabel="step length / learning rate")
ax.set_title("Without bias correction, Adam's first steps are too long for thousands of steps")
ax.legend()
plt.show()

# %% [markdown]
# *Figure: Adam's step length, in units of the learning rate, for a constant gradient over 5,000 steps on log–log axes. The corrected step is 1 from the start. Without correction the first step is $(1 - \beta_1)/\sqrt{1 - \beta_2} \approx 3.2$ times the rate, the next ones longer still, and they come back to 1 only after a few thousand steps (the memory of $\beta_2 = 0.999$); correcting only $m$ starts at $1/\sqrt{1 - \beta_2} \approx 32$ times the rate; correcting only $v$ starts at $1 - \beta_1 = 0.1$ times the rate.*
#
# The correction matters only early, but early is when the weights are furthest from anything sensible and a too-long step can throw training off. `dlcourse.optimizers.Adam` corrects both, as the paper does.
#
# ## 5. Conventions that differ between libraries
#
# The formulas above are the textbook ones, and `dlcourse` implements exactly them. Other libraries write some of them differently. The results agree as long as nothing changes during training, but not always, so here is what to expect when you move on to PyTorch. (PyTorch's behaviour below is what its documentation states for `torch.optim.SGD`, `Adam`, `RMSprop`, `Adagrad`, `lr_scheduler.ReduceLROnPlateau` and `nn.BatchNorm1d`.)
#
# | what | `dlcourse` | PyTorch (documented default) |
# |---|---|---|
# | momentum: where $\eta$ sits | inside the velocity: $v \leftarrow \mu v - \eta g$, $W \leftarrow W + v$ | outside: $b \leftarrow \mu b + g$, $W \leftarrow W - \eta\, b$ (`momentum=0` unless set) |
# | $\varepsilon$ in Adam, RMSprop, AdaGrad | outside the root: $\sqrt{\hat v} + \varepsilon$, $\varepsilon = 10^{-8}$ | outside the root too; AdaGrad's default $\varepsilon = 10^{-10}$ |
# | RMSprop decay | $\rho = 0.99$ (`decay`) | `alpha=0.99` |
# | reduce-on-plateau | `patience` $p$ bad epochs in a row lower the rate (on the $p$-th); improvement is any decrease (`min_delta=0`); `factor=0.5`, `patience=3` | more than `patience` bad epochs lower it (on the $(p+1)$-th); improvement must beat the best by a relative `threshold=1e-4`; `factor=0.1`, `patience=10` |
# | batch-norm running averages | `momentum=0.9` is the weight of the *old* value: running ← 0.9·running + 0.1·batch | `momentum=0.1` is the weight of the *new* value: running ← 0.9·running + 0.1·batch; the running variance uses the unbiased ($N-1$) batch variance, `dlcourse` the biased one |
#
# Keras, for comparison, counts patience like `dlcourse` and gives batch norm a momentum of 0.99 meaning the weight of the old value.
#
# **The learning rate inside or outside the velocity** gives identical steps while $\eta$ is constant ($v_\text{dlcourse} = -\eta\, b_\text{PyTorch}$). When a schedule changes $\eta$, they differ: inside, the velocity still carries steps made with the old rate; outside, the new rate rescales the whole velocity at once. A constant gradient $g = 1$ with $\mu = 0.9$ and $\eta$ dropping from 0.1 to 0.01 after step 30:

# %%
# NBVAL_CHECK_OUTPUT
mu, v, b = 0.9, 0.0, 0.0
print("step    lr   dlcourse step (lr inside)   PyTorch step (lr outside)")
for t in range(1, 36):
    lr = 0.1 if t <= 30 else 0.01
    v = mu * v - lr * 1.0  # dlcourse: W ← W + v
    b = mu * b + 1.0  # PyTorch:  W ← W − lr·b
    if t >= 28:
        print(f"{t:>4}  {lr:4.2f}  {v:26.4f}  {-lr * b:26.4f}")

# %% [markdown]
# With the rate inside, the steps fade from about $-1$ towards $-0.1$ over a few tens of steps (the velocity's memory); with the rate outside they drop to $-0.1$ at once. Neither is wrong, but a learning rate copied from one library to the other gives a different run once a schedule is involved.
#
# **$\varepsilon$ inside or outside the root** matters only when gradients are tiny. For $g = 10^{-9}$ (so $\hat v = 10^{-18}$), Adam's step is:

# %%
# NBVAL_CHECK_OUTPUT
g_tiny, eps = 1e-9, 1e-8
outside = g_tiny / (np.sqrt(g_tiny**2) + eps)
inside = g_tiny / np.sqrt(g_tiny**2 + eps)
print(f"step / lr with eps outside the root: {outside:.4f}")
print(f"step / lr with eps inside the root:  {inside:.1e}")

# %% [markdown]
# **Patience** is easiest to see on a made-up sequence of validation losses. Both rules below use patience 2 and no threshold; `ReduceOnPlateau` is `dlcourse`'s, the other counts as PyTorch's documentation describes (it lowers the rate when the number of bad epochs *exceeds* the patience):

# %%
# NBVAL_CHECK_OUTPUT
val_losses = [1.0, 0.8, 0.7, 0.7, 0.71, 0.69, 0.7, 0.7, 0.7, 0.7]
ours = ReduceOnPlateau(lr=0.1, factor=0.5, patience=2)
best, bad, lr_torch = float("inf"), 0, 0.1
print("epoch  val loss  lr after (dlcourse)  lr after (PyTorch rule)")
for epoch, loss in enumerate(val_losses):
    lr_ours = ours.step(loss)
    if loss < best:
        best, bad = loss, 0
    else:
        bad += 1
    if bad > 2:  # PyTorch: more than `patience` bad epochs
        lr_torch, bad = lr_torch * 0.5, 0
    print(f"{epoch:>5}  {loss:8.2f}  {lr_ours:19.3f}  {lr_torch:23.3f}")

# %% [markdown]
# `dlcourse` lowers the rate on the second epoch in a row without improvement (epochs 4, 7 and 9), PyTorch's rule only on the third (epoch 8); the improvement at epoch 5 resets both counts. With the same number, PyTorch waits one epoch longer.
#
# ## 6. The same optimizers on MNIST
#
# Now `dlcourse.optimizers` on a real network: an MLP 784–100–100–10 with ReLU and He initialization, trained on MNIST for the same number of epochs by each optimizer. For a fair comparison, every optimizer starts from the **same weights** and sees the **same mini-batches** (the seed fixes both), and the whole comparison is repeated with three seeds. Each optimizer gets a learning rate from its usual range (adaptive methods take much smaller ones: their steps are already normalised to about $\eta$ per weight).

# %%
data = load_mnist()
(x_train, t_train), (x_val, t_val) = train_val_split(data.x_train, data.t_train, 0.2, rng=0)
x_train, t_train = x_train[:quick_digits], t_train[:quick_digits]
print("training:", x_train.shape, " validation:", x_val.shape)

optimizer_settings = {
    "sgd": {"lr": 0.1},
    "momentum": {"lr": 0.01, "momentum": 0.9},
    "nesterov": {"lr": 0.01, "momentum": 0.9},
    "adagrad": {"lr": 0.01},
    "rmsprop": {"lr": 0.001},
    "adam": {"lr": 0.001},
}


def train_mnist(optimizer, seed, n_epochs, callbacks=()):
    """Train a fresh 784-100-100-10 ReLU MLP (He init, weights from ``seed``) on MNIST."""
    model = mlp((784, 100, 100, 10), activation="relu", init="he", rng=seed)
    return train(
        model,
        optimizer,
        x_train,
        t_train,
        epochs=n_epochs,
        x_val=x_val,
        t_val=t_val,
        rng=seed,  # the same mini-batches for every optimizer with this seed
        callbacks=callbacks,
        progress=False,
    )


histories = {
    name: [train_mnist(get_optimizer(name, **kwargs), seed, epochs) for seed in seeds]
    for name, kwargs in optimizer_settings.items()
}


# %%
def mean_std(values):
    return f"{np.mean(values):.4f} ± {np.std(values):.4f}"


def summary_table(runs, title):
    """Final training loss and validation accuracy, mean ± std over the seeds."""
    n_epochs = len(next(iter(runs.values()))[0])
    print(f"{title} (mean ± std over {len(seeds)} seeds, after {n_epochs} epochs)")
    print(f"{'':<20}{'train loss':>18}{'val accuracy':>18}")
    for name, runs_of_name in runs.items():
        loss = [h.train_loss[-1] for h in runs_of_name]
        acc = [h.val_acc[-1] for h in runs_of_name]
        print(f"{name:<20}{mean_std(loss):>18}{mean_std(acc):>18}")


summary_table(histories, "optimizers on MNIST")

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.5))
for color, (name, runs) in zip(colors, histories.items(), strict=False):
    epoch = np.array(runs[0].epoch)
    loss = np.mean([h.train_loss for h in runs], axis=0)
    acc = np.mean([h.val_acc for h in runs], axis=0)
    ax_loss.plot(epoch, loss, "o-", color=color, label=name)
    ax_acc.plot(epoch, acc, "o-", color=color, label=name)
ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss (mean over seeds, log scale)")
ax_acc.set(xlabel="epoch", ylabel="validation accuracy (mean over seeds)")
ax_loss.set_title("Training loss per epoch")
ax_acc.set_title("Validation accuracy per epoch")
ax_acc.legend()
fig.suptitle("The adaptive methods lower the loss fastest; all six end close in accuracy")
plt.tight_layout()
plt.show()

# %% [markdown]
# *Figure: training loss (left, log scale) and validation accuracy (right) per epoch of the six optimizers on MNIST, each curve the mean over three seeds with the same weights and mini-batches for every optimizer.*

# %%
final_acc = {name: np.mean([h.val_acc[-1] for h in runs]) for name, runs in histories.items()}
final_loss = {name: np.mean([h.train_loss[-1] for h in runs]) for name, runs in histories.items()}
best_acc = max(final_acc, key=final_acc.get)
best_loss = min(final_loss, key=final_loss.get)
spread = max(final_acc.values()) - min(final_acc.values())
winners = (
    f"**{best_loss}** reached both the lowest training loss ({final_loss[best_loss]:.3f}) "
    f"and the best validation accuracy ({final_acc[best_acc]:.1%})"
    if best_loss == best_acc
    else f"**{best_loss}** reached the lowest training loss ({final_loss[best_loss]:.3f}) "
    f"and **{best_acc}** the best validation accuracy ({final_acc[best_acc]:.1%})"
)
display(
    Markdown(
        f"In this run, {winners}; the six final accuracies lie within **{spread:.1%}** of "
        "each other. Compare the differences with the ± columns of the table: a difference "
        "smaller than the spread between seeds is not a result."
    )
)

# %% [markdown]
# ## 7. Learning-rate schedules
#
# A constant learning rate is a compromise: large enough to make progress early, small enough to settle at the end. A **schedule** changes $\eta$ with the epoch $e$ (counted from 0). With a starting rate $A$:
#
# | schedule | $\eta(e)$ | `dlcourse.schedules` |
# |---|---|---|
# | step decay | $A \cdot d^{\lfloor e / s \rfloor}$: multiply by $d$ every $s$ epochs | `StepDecay(A, drop=d, every=s)` |
# | inverse decay | $A / (1 + k e)$ | `InverseDecay(A, k)` |
# | exponential decay | $A \cdot r^{e}$ (the same fraction lost every epoch; $r = e^{-k}$ gives $A e^{-ke}$) | `ExponentialDecay(A, rate=r)` |
# | warm-up + cosine | linear rise to the peak over $w$ epochs, then half a cosine down to a minimum at epoch $T$ | `WarmupCosine(A, warmup=w, total=T)` |
# | reduce on plateau | lower by a factor when the validation loss stops improving (section 5) | `ReduceOnPlateau(A, factor, patience)` |
#
# The first four depend only on the epoch and can be plotted in advance. Reduce-on-plateau depends on the run; below it follows a made-up validation loss that improves, stalls, improves once more and stalls again.

# %%
plot_epochs = 30
schedules = {
    "step decay (×0.5 every 8)": StepDecay(0.1, drop=0.5, every=8),
    "inverse decay A/(1+0.2e)": InverseDecay(0.1, k=0.2),
    "exponential decay (×0.9)": ExponentialDecay(0.1, rate=0.9),
    "warm-up 3 + cosine to 30": WarmupCosine(0.1, warmup=3, total=30),
}
made_up_loss = [max(0.3, 1 - 0.1 * e) for e in range(15)] + [0.25] * (plot_epochs - 15)
plateau = ReduceOnPlateau(0.1, factor=0.5, patience=3)
plateau_lrs = []
for loss in made_up_loss:
    plateau_lrs.append(plateau(len(plateau_lrs)))  # the rate used in this epoch
    plateau.step(loss)

fig, ax = plt.subplots(figsize=(9, 4.5))
for color, (name, schedule) in zip(colors, schedules.items(), strict=False):
    ax.plot(range(plot_epochs), schedule.values(plot_epochs), "o-", ms=3, color=color, label=name)
ax.plot(range(plot_epochs), plateau_lrs, "o-", ms=3, color=colors[4], label="reduce on plateau")
ax.set(xlabel="epoch (from 0)", ylabel="learning rate $\\eta$")
ax.set_title("Five ways to lower the learning rate over 30 epochs")
ax.legend()
plt.show()

# %% [markdown]
# *Figure: the learning rate of each epoch for step decay, inverse decay, exponential decay and warm-up + cosine, all starting from 0.1, and reduce-on-plateau (patience 3, factor 0.5) driven by a made-up validation loss that stops improving at epoch 7, improves once more at epoch 15 and then stalls again.*
#
# Three of them in training, against a constant rate: SGD with momentum on the same network, same seeds and same batches as in section 6, with a constant rate of 0.05, step decay, warm-up + cosine, and reduce-on-plateau watching the validation loss.

# %%
schedule_runs = {
    "constant": lambda: None,
    "step decay": lambda: StepDecay(0.05, drop=0.5, every=max(1, schedule_epochs // 4)),
    "warm-up + cosine": lambda: WarmupCosine(
        0.05, warmup=max(1, schedule_epochs // 7), total=schedule_epochs
    ),
    "reduce on plateau": lambda: ReduceOnPlateau(0.05, factor=0.5, patience=2),
}
schedule_histories = {}
for name, make_schedule in schedule_runs.items():
    runs = []
    for seed in seeds:
        schedule = make_schedule()
        callbacks = [] if schedule is None else [LRScheduler(schedule, monitor="val_loss")]
        optimizer = get_optimizer("momentum", lr=0.05, momentum=0.9)
        runs.append(train_mnist(optimizer, seed, schedule_epochs, callbacks))
    schedule_histories[name] = runs
summary_table(schedule_histories, "schedules, SGD with momentum on MNIST")

# %%
fig, (ax_lr, ax_acc) = plt.subplots(1, 2, figsize=(13, 4.5))
for color, (name, runs) in zip(colors, schedule_histories.items(), strict=False):
    epoch = np.array(runs[0].epoch)
    ax_lr.plot(epoch, runs[0].lr, "o-", ms=3, color=color, label=name)
    acc = np.mean([h.val_acc for h in runs], axis=0)
    ax_acc.plot(epoch, acc, "o-", ms=3, color=color, label=name)
ax_lr.set(xlabel="epoch", ylabel="learning rate (seed 0)", title="The rate each schedule used")
ax_acc.set(xlabel="epoch", ylabel="validation accuracy (mean over seeds)")
ax_acc.set_title("Validation accuracy per epoch")
ax_acc.legend()
fig.suptitle("Schedules change the way there; compare the end points with the seeds' spread")
plt.tight_layout()
plt.show()

# %% [markdown]
# *Figure: left, the learning rate each schedule gave SGD with momentum in each epoch (seed 0); right, the validation accuracy per epoch, mean over three seeds.*
#
# ## 8. Weight initialization
#
# Before the first step, the weights must be random (section 8.4 shows why), but how large? Lesson 04 used a fixed standard deviation of 0.01. The alternatives scale the std with the layer's **fan-in** $n_\text{in}$, the number of inputs of one unit (784 for the first layer of an MNIST MLP):
#
# | name | distribution | meant for | `dlcourse.initializers` |
# |---|---|---|---|
# | fixed std | $\mathcal N(0, \sigma^2)$, e.g. $\sigma = 1$ or $0.01$ | — | `normal(n_in, n_out, std=σ)` |
# | Xavier (as the source defines it) | $\mathcal N(0, 1/n_\text{in})$ | sigmoid, tanh | `xavier` |
# | He (Kaiming) | $\mathcal N(0, 2/n_\text{in})$ | ReLU | `he` |
# | Glorot normal (Glorot & Bengio, 2010) | $\mathcal N\big(0, 2/(n_\text{in} + n_\text{out})\big)$ | sigmoid, tanh | `glorot_normal` |
# | Glorot uniform (Glorot & Bengio, 2010) | $\mathcal U(-a, a)$, $a = \sqrt{6/(n_\text{in} + n_\text{out})}$ | sigmoid, tanh | `glorot_uniform` |
#
# Many texts call all of the last three "Xavier"; this course keeps the names apart: **Xavier** is the fan-in form the source uses, **Glorot** the paper's fan-in + fan-out average (Keras's default `glorot_uniform`). For a square layer ($n_\text{in} = n_\text{out}$) the three have the same variance.
#
# Why $1/n_\text{in}$? A unit adds up $n_\text{in}$ products $x_i W_i$. With independent zero-mean inputs of variance 1 and weights of variance $\sigma^2$, the sum has variance $n_\text{in}\, \sigma^2$. To pass the signal on with variance 1, $\sigma^2 = 1/n_\text{in}$. ReLU zeroes half of its inputs and so halves the second moment; He's factor 2 puts it back.
#
# ### 8.1 What the initializers draw
#
# For the first layer of an MNIST MLP (784 → 100), the five draws look like this (std 1 would be off the plot: it is 28 times wider than Xavier):

# %%
initializers = {
    "std 0.01": partial(normal, std=0.01),
    "xavier": get_initializer("xavier"),
    "he": get_initializer("he"),
    "glorot_normal": get_initializer("glorot_normal"),
    "glorot_uniform": get_initializer("glorot_uniform"),
}
draws = {name: init(784, 100, rng=rng).ravel() for name, init in initializers.items()}
for name, W in draws.items():
    print(f"{name:<15} std {W.std():.4f}")

fig, ax = plt.subplots(figsize=(9, 4))
for color, (name, W) in zip(colors, draws.items(), strict=False):
    sns.kdeplot(W[:20_000], ax=ax, color=color, label=name, bw_adjust=0.8)
ax.set(xlabel="weight value", ylabel="density", xlim=(-0.2, 0.2))
ax.set_title("He draws the widest weights, std 0.01 the narrowest")
ax.legend()
plt.show()

# %% [markdown]
# *Figure: kernel density estimates (seaborn) of the weights each initializer draws for a 784 → 100 layer. Glorot's forms sit between Xavier and He because they average fan-in 784 and fan-out 100; Glorot uniform has flat tops and hard edges.*
#
# ### 8.2 Activations layer by layer
#
# Send a batch of 1,000 random inputs ($\mathcal N(0, 1)$, 100 features) through a stack of 100-unit layers, each $h \leftarrow \text{act}(h W)$ with fresh weights from an initializer, and look at what comes out of every layer:

# %%
activation_functions = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
}


def layer_outputs(activation, init, depth=5, width=100, batch=init_batch, seed=0):
    """The output (batch, width) of each of ``depth`` layers h ← act(h W), W from ``init``."""
    gen = np.random.default_rng(seed)
    h = gen.standard_normal((batch, width))
    outputs = []
    for _ in range(depth):
        W = init(width, width, rng=gen, dtype=np.float64)
        h = activation_functions[activation](h @ W)
        outputs.append(h)
    return outputs


std_1 = partial(normal, std=1.0)
cases = {
    "sigmoid, std 1: saturated": ("sigmoid", std_1),
    "tanh, std 0.01: collapsed": ("tanh", initializers["std 0.01"]),
    "tanh, Xavier: healthy": ("tanh", initializers["xavier"]),
    "ReLU, std 0.01: collapsed": ("relu", initializers["std 0.01"]),
    "ReLU, He: healthy": ("relu", initializers["he"]),
}
case_outputs = {case: layer_outputs(act, init) for case, (act, init) in cases.items()}

fig, axes = plt.subplots(len(cases), 5, figsize=(15, 2.2 * len(cases)), sharey="row")
for row, (case, outputs) in enumerate(case_outputs.items()):
    for layer, h in enumerate(outputs):
        ax = axes[row, layer]
        values = h.ravel()
        lo, hi = (0, 1) if case.startswith("sigmoid") else (values.min(), values.max())
        ax.hist(values, bins=40, range=(lo, hi + 1e-12), color=colors[row])
        ax.set_title(f"layer {layer + 1}: std {values.std():.2g}", fontsize=9)
        ax.set_yticks([])
        ax.locator_params(axis="x", nbins=3)
    axes[row, 0].set_ylabel(case.replace(": ", "\n"), fontsize=9)
for ax in axes[-1]:
    ax.set_xlabel("activation value")
fig.suptitle("Too large saturates, too small collapses, the fan-in scale keeps the signal alive")
plt.tight_layout()
plt.show()

# %% [markdown]
# *Figure: histograms of the activations of each of five 100-unit layers (columns) for five combinations of activation and initialization (rows); each panel's title gives the std. Each panel has its own x range: for the collapsed rows the range shrinks layer by layer.*
#
# The rows show the three failure modes and the cure:
#
# - **Saturation** (sigmoid, std 1): the sums $hW$ are large, so the sigmoid outputs pile up at 0 and 1, where its slope is almost 0. Gradients cannot pass through such units.
# - **Collapse** (std 0.01): each layer multiplies the spread by about $0.01 \cdot \sqrt{100} = 0.1$, so after a few layers every unit outputs about the same value and the layers above receive no information (with ReLU and tanh, all outputs shrink to 0).
# - **Healthy** (Xavier for tanh, He for ReLU): the spread stays of the same order from layer to layer.
#
# The same activations as KDE curves (seaborn), ten layers deep, one curve per layer, for the three healthy-looking choices of each activation:

# %%
kde_cases = {
    "sigmoid, Xavier": ("sigmoid", initializers["xavier"]),
    "tanh, Xavier": ("tanh", initializers["xavier"]),
    "ReLU, He": ("relu", initializers["he"]),
}
fig, axes = plt.subplots(1, 3, figsize=(15, 4))
layer_colors = sns.color_palette("viridis", 10)
for ax, (case, (act, init)) in zip(axes, kde_cases.items(), strict=True):
    outputs = layer_outputs(act, init, depth=10)
    for layer, h in enumerate(outputs):
        sample = h.ravel()[:kde_points]
        sns.kdeplot(sample, ax=ax, color=layer_colors[layer], label=f"layer {layer + 1}", cut=0)
    ax.set(xlabel="activation value", ylabel="density", title=case)
axes[-1].legend(fontsize=8, ncols=2)
fig.suptitle("Ten layers deep: sigmoid drifts and narrows, tanh narrows slowly, ReLU + He holds")
plt.tight_layout()
plt.show()

# %% [markdown]
# *Figure: KDE curves (seaborn) of the activations of each of ten layers (dark = layer 1, yellow = layer 10) for sigmoid and tanh with Xavier initialization and ReLU with He initialization. ReLU's outputs are never negative; its many exact zeros are cut off at 0.*

# %%
print("std of the activations, layer 1 … 10")
for case, (act, init) in {**cases, **kde_cases}.items():
    stds = [h.std() for h in layer_outputs(act, init, depth=10)]
    print(f"{case:<28}", " ".join(f"{s:8.2g}" for s in stds))

# %% [markdown]
# ### 8.3 Gradients layer by layer: vanishing gradients
#
# The backward pass multiplies by the same weights (transposed) and by the activation's slope at every layer. A sigmoid's slope is at most 0.25, so going down a sigmoid network, the gradient loses a factor at every layer. Here is the size of $\nabla_W L$ (mean absolute value) for each layer of a ten-layer `dlcourse` MLP (784 → 9 hidden layers of 100 → 10) on one batch of 500 MNIST digits, before any training:

# %%
grad_cases = {
    "sigmoid, std 0.01": ("sigmoid", partial(normal, std=0.01)),
    "sigmoid, Xavier": ("sigmoid", "xavier"),
    "tanh, Xavier": ("tanh", "xavier"),
    "ReLU, std 0.01": ("relu", partial(normal, std=0.01)),
    "ReLU, He": ("relu", "he"),
}
x_batch, t_batch = x_train[:500], t_train[:500]
grad_sizes = {}
for case, (act, init) in grad_cases.items():
    deep = mlp((784, *[100] * 9, 10), activation=act, init=init, rng=0)
    grads = deep.gradient(x_batch, t_batch)
    grad_sizes[case] = [np.abs(grads[f"affine{k}.W"]).mean() for k in range(1, 11)]

fig, ax = plt.subplots(figsize=(9, 4.5))
for color, (case, sizes) in zip(colors, grad_sizes.items(), strict=False):
    ax.plot(range(1, 11), sizes, "o-", color=color, label=case)
ax.set(yscale="log", xlabel="layer (1 = first, 10 = output)")
ax.set(ylabel="mean |∂L/∂W| of the layer (log scale)")
ax.set_title("With sigmoids or std 0.01, the first layers get vanishingly small gradients")
ax.legend(fontsize=9)
plt.show()

# %% [markdown]
# *Figure: mean absolute weight gradient of each layer of a ten-layer MLP on one MNIST batch, before training, for five choices of activation and initialization, on a log scale. A line that falls towards layer 1 is a vanishing gradient: those layers would learn orders of magnitude more slowly than the output layer. With ReLU and std 0.01 the whole line sits low: every layer's gradient is tiny, because the activations that multiply it have collapsed.*
#
# The table gives the first layer's gradient and its ratio to the output layer's:

# %%
ratios = {case: sizes[0] / sizes[-1] for case, sizes in grad_sizes.items()}
print(f"{'':<20}{'layer 1 mean |dW|':>20}{'layer 1 / output layer':>24}")
for case, sizes in grad_sizes.items():
    print(f"{case:<20}{sizes[0]:>20.1e}{ratios[case]:>24.1e}")

# %% [markdown]
# ### 8.4 All-zero (or all-equal) weights never break the symmetry
#
# Why random at all? If every weight of a layer starts equal, every unit of the layer computes the same output, receives the same gradient and takes the same step, so the units stay identical for ever: a layer of 50 units is as good as one unit. With zeros and ReLU it is worse: every hidden output is $\text{relu}(0) = 0$, whose slope `dlcourse` takes as 0, so no gradient reaches the hidden weights at all.
#
# Four small MLPs (784 → 50 → 10), trained for a few epochs with SGD, show it. "Units unlike unit 1" counts the hidden units whose trained incoming weights (columns of the first weight matrix) differ from those of the first unit by more than 0.1 % of the largest weight; with a random start, all 49 others should.


# %%
def zeros(fan_in, fan_out, rng=None, dtype=np.float32):
    return np.zeros((fan_in, fan_out), dtype=dtype)


def constant(fan_in, fan_out, rng=None, dtype=np.float32):
    return np.full((fan_in, fan_out), 0.01, dtype=dtype)


symmetry_cases = {
    "zeros, sigmoid": ("sigmoid", zeros),
    "all 0.01, sigmoid": ("sigmoid", constant),
    "zeros, ReLU": ("relu", zeros),
    "Xavier, sigmoid": ("sigmoid", "xavier"),
}
print(f"{'initialization':<20}{'units unlike unit 1':>22}{'val accuracy':>15}")
for case, (act, init) in symmetry_cases.items():
    model = mlp((784, 50, 10), activation=act, init=init, output_init=init, rng=0)
    train(
        model,
        get_optimizer("sgd", lr=0.5),
        x_train,
        t_train,
        epochs=sized(5, 2),
        rng=0,
        progress=False,
    )
    W1 = model.params["affine1.W"]
    differs = np.abs(W1 - W1[:, :1]).max(axis=0) > 1e-3 * (np.abs(W1).max() + 1e-12)
    print(f"{case:<20}{differs.sum():>22}{model.accuracy(x_val, t_val):>15.1%}")

# %% [markdown]
# The table says it: with an equal start, every hidden unit is still a copy of the first one after training, and the accuracy stays far below that of the random start.
#
# ## 9. The weight-init explorer
#
# Everything in section 8 in one picture you can steer. Choose the initializer (or "free std" and its slider), the activation, the depth, the width (the fan-in of every layer) and the input batch. The left panel stacks the histogram of each layer's activations (layer 1 at the bottom), the right panel the gradient $\partial L/\partial h$ that arrives at each layer's output when a random gradient is sent down from the top; the tick labels give each layer's std, and the table below repeats them. Things to try:
#
# - `std 0.01` with tanh, then `xavier`: the collapse, then the signal kept.
# - `he` with relu, then `xavier` with relu: without He's factor 2, every ReLU layer halves the variance, and the std shrinks layer by layer.
# - `std 1` with sigmoid: every layer saturated at 0 and 1.
# - Change the width with `std 0.01`: the collapse is slower for wide layers, because the spread scales with $0.01\sqrt{n_\text{in}}$.
#
# A saved copy of the notebook shows the picture of the last settings.

# %%
# NBVAL_IGNORE_OUTPUT
init_explorer(init="std 0.01", activation="tanh", depth=10, width=100)

# %% [markdown]
# ## Summary
#
# - The six optimizers differ in what they remember: nothing (SGD), a velocity (Momentum, Nesterov), the size of past gradients (AdaGrad, RMSprop), or both (Adam). Each has its own useful learning-rate range.
# - Adam's bias correction makes its first steps the size of the learning rate; without it they are too long for thousands of steps.
# - Libraries differ in where the learning rate sits in momentum, how they count patience and what batch-norm "momentum" means: check before copying hyperparameters between them.
# - Schedules lower the rate as training goes on; warm-up avoids too-large first steps.
# - Initialization decides whether a deep network can learn at all: too large saturates, too small collapses, equal weights never break the symmetry. Xavier (sigmoid, tanh) and He (ReLU) keep activations and gradients at the same scale through the layers.
#
# The numbers of this run:

# %%
he_ratio = ratios["ReLU, He"]
sigmoid_ratio = ratios["sigmoid, Xavier"]
display(
    Markdown(
        f"- On MNIST, {winners} (means over {len(seeds)} seeds); all six final accuracies "
        f"lay within **{spread:.1%}** of each other.\n"
        f"- Before training, layer 1 of the ten-layer MLP got **{sigmoid_ratio:.1e}** times "
        f"the output layer's gradient with sigmoid + Xavier, and **{he_ratio:.2g}** times "
        "with ReLU + He."
    )
)

# %% [markdown]
# ## Next
#
# Lesson 10 puts everything together in a deep network, the source's capstone exercise: four hidden ReLU layers with batch normalisation and dropout, He and Xavier initialization, Adam, and 30 epochs of warm-up + cosine decay with early stopping. The assignment of this lesson, `exercises/09_optimizers.ipynb`, has you write the optimizer and schedule pieces the lesson only described.
#
# **Sources.** The update rules of section 2, inverse decay $A/(1 + kt)$ and the warm-up + cosine schedule, and the Xavier and He initializations with their KDE plots follow topics of two of the course's source articles: "深層学習ことはじめ その13" (momentum, adaptive learning rates, AdaGrad, RMSprop) and "【自前AI講座】ディープラーニング基礎と実装" on slash-z.com (Xavier and He initialization, Adam, reduce-on-plateau, warm-up + cosine decay). The Adam update is from Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2015); Glorot's initialization from Glorot & Bengio (2010); He's from He et al. (2015).
