# %% [markdown]
# # 08 · Regularization
#
# After this lesson you can tell when a network memorises its training digits instead of learning them, and measure, on one task and with honest error bars, what each remedy against it is worth.
#
# **Goals**
#
# - Make a network overfit on purpose and watch the gap between training and validation accuracy open up.
# - Use three splits honestly: train on one, make every choice on the second, evaluate the third once.
# - Write the L2 and L1 penalties and their gradients, see weight decay as L2 for plain SGD, and see L1's sparse weights.
# - Use early stopping, input noise, shifted and rotated digits, inverted dropout and batch normalisation, and avoid the classic mistake of each.
# - Compare every remedy on the same task, over several seeds, and draw the conclusion from the table.
#
# **You need:** lesson 04 (training an MLP, `train`) and lesson 05 (layers, `Sequential`).
#
# **Time:** about 90 minutes, of which about 5 minutes is training.

# %%
import time
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Markdown, display

from dlcourse.augmentation import gaussian_noise, random_rotations, random_shifts
from dlcourse.config import quick_mode, seed_everything, sized
from dlcourse.data import load_mnist, stratified_split
from dlcourse.layers import BatchNorm, Dropout
from dlcourse.models import Sequential, mlp
from dlcourse.optimizers import SGD
from dlcourse.plots import show_digits
from dlcourse.training import EarlyStopping, History, restore, snapshot, train

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")
epochs = sized(60, 3)  # every training run of this lesson
seeds = (0, 1, 2)  # the comparison of section 8 repeats every remedy with these seeds
sweep = sized(4, 2)  # how many values of each setting we try on the validation split

# %% [markdown]
# ## 1. Three splits, used honestly
#
# Lessons 04 and 07 trained on one set of digits and measured on another, the *test* set, and sometimes compared settings by their test accuracy. That was fine to see what a network can do, but it has a catch: **a set you choose on is no longer unseen.** Try twenty learning rates, keep the one with the best test accuracy, and that accuracy is the best of twenty noisy measurements: it overstates what the chosen network will do on new digits. The more you choose, the more it overstates.
#
# So this lesson uses three splits:
#
# - **training** digits: the optimizer sees them;
# - **validation** digits: every choice is made on them (penalty strength, dropout rate, when to stop, which remedy wins);
# - **test** digits: evaluated **once**, at the very end, for the one configuration the validation split chose. That number is the honest estimate you report.
#
# We carve both the training and the validation split out of the offline training digits, stratified (each digit keeps its share), and keep the test digits untouched. To make overfitting easy to see we train on only 1,000 digits.

# %%
data = load_mnist()  # flat digits (N, 784), pixels in [0, 1], integer labels
rest, val_idx = stratified_split(data.t_train, 1000, rng=0)
_, small_idx = stratified_split(data.t_train[rest], 1000, rng=1)
train_idx = rest[small_idx]
x_tr, t_tr = data.x_train[train_idx], data.t_train[train_idx]
x_val, t_val = data.x_train[val_idx], data.t_train[val_idx]
x_test, t_test = data.x_test, data.t_test  # not touched until section 9

# %%
# NBVAL_CHECK_OUTPUT
for name, labels in [("training", t_tr), ("validation", t_val), ("test", t_test)]:
    print(f"{name:<10} {len(labels):>5} digits, per class: {np.bincount(labels, minlength=10)}")
print("training and validation share no digit:", len(np.intersect1d(train_idx, val_idx)) == 0)

# %% [markdown]
# ## 2. Overfitting on purpose
#
# A network with far more weights than it has training digits can simply memorise them. Ours has two hidden layers of 400 ReLU units, about 478,000 weights for 1,000 digits, and we train it for many epochs with plain SGD (learning rate 0.1, batches of 50). `run` trains one such network with a given remedy and seed; every experiment of the lesson calls it, so you can re-run any of them with other values.

# %%
SIZES = sized((784, 400, 400, 10), (784, 100, 10))  # a smaller network for the quick tests
LR, BATCH = 0.1, 50


@dataclass
class Run:
    """A trained network, its per-epoch history and the seconds training took."""

    model: Sequential
    history: History
    seconds: float


def make_model(seed, dropout=0.0, batch_norm=False, weight_decay=0.0, penalty="l2"):
    """The lesson's MLP (SIZES), with the remedies that live inside the network."""
    net = mlp(SIZES, dropout=dropout, batch_norm=batch_norm, rng=seed)
    return Sequential(net.layers.values(), weight_decay=weight_decay, penalty=penalty)


def run(seed, augment=None, patience=None, **network):
    """Train make_model(seed, **network) on the 1,000 training digits for `epochs` epochs.

    augment: a train(augment=...) hook; patience: early stopping on the validation
    accuracy with the best weights restored (None: train all epochs).
    """
    model = make_model(seed, **network)
    callbacks = [EarlyStopping("val_acc", patience=patience)] if patience else []
    start = time.perf_counter()
    history = train(
        model,
        SGD(lr=LR),
        x_tr,
        t_tr,
        epochs=epochs,
        batch_size=BATCH,
        x_val=x_val,
        t_val=t_val,
        rng=seed,
        augment=augment,
        callbacks=callbacks,
        progress=False,
    )
    return Run(model, history, time.perf_counter() - start)


print(make_model(0).summary((784,)))

# %%
baseline = run(seed=0)
gap = np.array(baseline.history.train_acc) - np.array(baseline.history.val_acc)

# %%
# NBVAL_IGNORE_OUTPUT
h = baseline.history
print(
    f"after {len(h)} epochs ({baseline.seconds:.1f} s): training accuracy {h.train_acc[-1]:.3f}, "
    f"validation accuracy {h.val_acc[-1]:.3f}"
)
print(
    f"training loss {h.train_loss[-1]:.4f}, validation loss {h.val_loss[-1]:.3f} "
    f"(lowest {min(h.val_loss):.3f}, at epoch {h.best('val_loss')[0]})"
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), layout="constrained")
axes[0].plot(h.epoch, h.train_acc, label="training digits", color=colors[0])
axes[0].plot(h.epoch, h.val_acc, label="validation digits", color=colors[1])
axes[0].set(
    xlabel="epoch", ylabel="accuracy", title="Training accuracy reaches 100%, validation does not"
)
axes[0].legend()
axes[1].plot(h.epoch, 100 * gap, color=colors[3])
axes[1].set(
    xlabel="epoch",
    ylabel="training − validation accuracy (points)",
    title="The gap opens and stays open",
)
plt.show()

# %% [markdown]
# *Figure: left, the accuracy of the wide network on its 1,000 training digits and on the 1,000 validation digits after each epoch; right, the difference between the two in percentage points. Notice that training accuracy climbs to the top early on while validation accuracy levels off far below it (the numbers are printed below the figure): from then on the network only gets more sure of digits it already knows.*

# %%
display(
    Markdown(
        f"After {len(h)} epochs the network classifies **{h.train_acc[-1]:.1%}** of its training "
        "digits "
        f"correctly but only **{h.val_acc[-1]:.1%}** of the validation digits: a gap of "
        f"**{100 * gap[-1]:.1f} points**. Its validation *loss* was lowest at epoch "
        f"{h.best('val_loss')[0]}, at {min(h.val_loss):.2f}, and is {h.val_loss[-1]:.2f} now: "
        "while the validation loss grows and the training loss keeps falling, the network becomes "
        "confidently wrong on the digits it gets wrong. That is **overfitting**: fitting "
        "the accidents of the training digits (this writer's slant, that stray pixel) instead of "
        "what makes a 3 a 3. Everything below tries to close this gap, and each remedy is judged "
        "by "
        "the only thing we care about, accuracy on digits the optimizer has not seen."
    )
)

# %% [markdown]
# ## 3. Weight penalties: L2 and L1
#
# A network that memorises tends to grow some weights large, so that tiny details of the input swing its output. A **penalty** adds the size of the weights to the loss, so the optimizer pays for every weight it grows. With strength $\lambda$ and the weight arrays $W$ of every layer (not the biases):
#
# $$L_{L2} = L + \frac{\lambda}{2}\sum W^2, \qquad \frac{\partial L_{L2}}{\partial W} = \frac{\partial L}{\partial W} + \lambda W,$$
#
# $$L_{L1} = L + \lambda\sum |W|, \qquad \frac{\partial L_{L1}}{\partial W} = \frac{\partial L}{\partial W} + \lambda\,\operatorname{sign}(W).$$
#
# The L2 pull is proportional to the weight: big weights shrink fast, small ones hardly at all. The L1 pull is the same, $\lambda$, for every weight however small, so it drives weights that the data does not need all the way to zero: L1 makes weights **sparse**.
#
# **Weight decay.** Put the L2 gradient into a plain SGD step:
#
# $$W \leftarrow W - \eta\left(\frac{\partial L}{\partial W} + \lambda W\right) = (1 - \eta\lambda)\,W - \eta\,\frac{\partial L}{\partial W}.$$
#
# Each step first shrinks every weight by the factor $1 - \eta\lambda$ ("decays" it), then takes the ordinary step. For plain SGD, L2 penalty and weight decay are the same thing; with an adaptive optimizer such as Adam (lesson 09) they are not, because Adam rescales the penalty's gradient too. `Sequential(..., weight_decay=λ, penalty="l2" or "l1")` adds the penalty to the loss and its gradient to every `W`. Let us check the identity on our network, one step on one batch:

# %%
# NBVAL_CHECK_OUTPUT
lam = 0.01
with_penalty, plain = make_model(0, weight_decay=lam), make_model(0)
W_before = plain.params["affine1.W"].copy()
sum_of_squares = sum(
    float(np.sum(W.astype(np.float64) ** 2)) for k, W in plain.params.items() if k.endswith(".W")
)
print(
    "penalty added to the loss == λ/2 · ΣW² over every W:",
    np.isclose(with_penalty.penalty_value(), lam / 2 * sum_of_squares, rtol=1e-5),
)
SGD(lr=LR).update(
    with_penalty.params, with_penalty.loss_and_gradient(x_tr[:BATCH], t_tr[:BATCH])[1]
)
grads = plain.loss_and_gradient(x_tr[:BATCH], t_tr[:BATCH])[1]
decayed = (1 - LR * lam) * W_before - LR * grads["affine1.W"]
print(
    "SGD step with the L2 penalty == decay, then plain step:",
    np.allclose(with_penalty.params["affine1.W"], decayed, atol=1e-7),
)


# %% [markdown]
# How strong should the penalty be? Too weak and nothing changes, too strong and the network cannot fit even the training digits. This is a choice, so we make it **on the validation split**: train once per strength (seed 0) and keep the strength with the best validation accuracy.

# %%
def at_edge(best, values):
    """A warning when the chosen value is the smallest or largest one tried."""
    if best in (values[0], values[-1]):
        return " (the edge of the values tried: a wider range might do better)"
    return ""


def pick_on_validation(values, **options_for):
    """Train one run (seed 0) per value; return (best value, {value: run}).

    options_for: one keyword whose value maps a setting to run()'s keywords,
    e.g. l2=lambda lam: {"weight_decay": lam}.
    """
    ((_, options),) = options_for.items()
    runs = {value: run(0, **options(value)) for value in values}
    best = max(values, key=lambda value: runs[value].model.accuracy(x_val, t_val))
    return best, runs


l2_values = [1e-3, 3e-3, 1e-2, 3e-2][-sweep:]
l1_values = [1e-6, 1e-5, 1e-4, 1e-3][-sweep:]
best_l2, l2_runs = pick_on_validation(l2_values, l2=lambda lam: {"weight_decay": lam})
best_l1, l1_runs = pick_on_validation(
    l1_values, l1=lambda lam: {"weight_decay": lam, "penalty": "l1"}
)

# %%
baseline_val = baseline.model.accuracy(x_val, t_val)
fig, ax = plt.subplots(figsize=(7, 3.8), layout="constrained")
for (name, runs), color in zip([("L2", l2_runs), ("L1", l1_runs)], colors, strict=False):
    values = list(runs)
    ax.plot(
        values,
        [runs[v].model.accuracy(x_val, t_val) for v in values],
        "o-",
        color=color,
        label=name,
    )
ax.axhline(baseline_val, color="gray", ls="--", label="no penalty")
ax.set_xscale("log")
ax.set(
    xlabel="penalty strength λ",
    ylabel="validation accuracy",
    title="Validation accuracy against the penalty strength (seed 0)",
)
ax.legend()
plt.show()

# %% [markdown]
# *Figure: validation accuracy after training with an L2 penalty (one curve) and an L1 penalty (the other) for each strength λ on a logarithmic axis, with the unpenalised network as a dashed line. Notice where each curve peaks: that strength is the one we keep. L1 needs a much smaller λ than L2, because its pull does not fade as a weight shrinks. One seed per point: differences of a few tenths of a point are within the run-to-run noise measured in section 8.*

# %%
display(
    Markdown(
        f"Chosen on the validation split: **L2 with λ = {best_l2:g}** "
        f"({l2_runs[best_l2].model.accuracy(x_val, t_val):.1%}){at_edge(best_l2, l2_values)} and "
        f"**L1 with λ = {best_l1:g}** ({l1_runs[best_l1].model.accuracy(x_val, t_val):.1%})"
        f"{at_edge(best_l1, l1_values)}, against {baseline_val:.1%} without a penalty. One seed "
        "per "
        "point, so differences of a few tenths of a point may be noise."
    )
)

# %% [markdown]
# What did the penalties do to the weights? The histograms of the first layer's 313,600 weights, and the share of them that ended up near zero ($|W| < 10^{-3}$). Besides the chosen strengths we show the strongest L1 penalty tried, where the effect is easiest to see:

# %%
first_layer = {
    "no penalty": baseline.model.params["affine1.W"],
    f"L2, λ = {best_l2:g}": l2_runs[best_l2].model.params["affine1.W"],
    f"L1, λ = {best_l1:g}": l1_runs[best_l1].model.params["affine1.W"],
    f"L1, λ = {l1_values[-1]:g} (strongest)": l1_runs[l1_values[-1]].model.params["affine1.W"],
}
near_zero = {name: float(np.mean(np.abs(W) < 1e-3)) for name, W in first_layer.items()}

# %%
# NBVAL_IGNORE_OUTPUT
for name, W in first_layer.items():
    print(
        f"{name:<28} share |W| < 0.001: {near_zero[name]:6.1%}   largest |W|: {np.abs(W).max():.3f}"
    )

# %%
fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
bins = np.linspace(-0.25, 0.25, 101)
styles = [(colors[0], "-"), (colors[1], "-"), (colors[2], "--"), (colors[4], "-")]
for (name, W), (color, line) in zip(first_layer.items(), styles, strict=False):
    ax.hist(W.ravel(), bins=bins, histtype="step", lw=1.6, color=color, ls=line, label=name)
ax.set_yscale("log")
ax.set(
    xlabel="weight value (first layer)",
    ylabel="number of weights (log scale)",
    title="L1 piles the weights up at zero, L2 trims the tails",
)
ax.legend()
plt.show()

# %% [markdown]
# *Figure: histograms of the first layer's weights after training without a penalty, with the chosen L2 penalty, with the chosen L1 penalty and with the strongest L1 penalty tried, on a logarithmic count axis. Notice the thinner tails of the L2 network, whose large weights were pulled in while the small ones were left almost alone, and the spike at zero that a strong L1 penalty builds: the sparsity printed above. (If both L1 entries have the same λ, they are the same network and their lines coincide.)*
#
# Many of the zeroed weights belong to border pixels, which are 0 in almost every digit: the data never asks for those weights, so under L1 the penalty alone moves them, straight to zero.
#
# ## 4. Early stopping
#
# The validation curve of section 2 shows a simpler remedy: the network was at its best on unseen digits at some epoch, then only memorised. **Early stopping** watches the validation accuracy after every epoch and keeps a copy of the best weights. When it has not improved for `patience` epochs, training stops and the best copy is put back ("restore the best weights"): without that last step you would keep the worse, later weights. Patience is needed because the validation curve is noisy: stopping at the first dip would stop far too early.
#
# `dlcourse.training.EarlyStopping` does exactly this; the assignment has you write it. With the same seed, the run below follows the baseline's path exactly until it stops.

# %%
patience = sized(10, 2)
stopped = run(0, patience=patience)
hs = stopped.history
best_epoch, best_val = hs.best("val_acc")

# %%
# NBVAL_IGNORE_OUTPUT
print(hs.stopped or f"ran all {len(hs)} epochs")
print(
    f"validation accuracy of the restored weights: {stopped.model.accuracy(x_val, t_val):.3f} "
    f"(epoch {best_epoch}); the baseline's after epoch {len(h)}: {baseline_val:.3f}"
)

# %%
# NBVAL_CHECK_OUTPUT
print(
    "early stopping restored the weights of its best epoch:",
    bool(np.isclose(stopped.model.accuracy(x_val, t_val), best_val)),
)

# %%
display(
    Markdown(
        f"Early stopping with a patience of {patience} epochs picked **epoch {best_epoch}** "
        f"(validation accuracy {best_val:.1%}) and stopped after epoch {len(hs)}, saving "
        f"{len(h) - len(hs)} of the {len(h)} epochs. What the test accuracy would have been at "
        "the last epoch, "
        "compared with the restored weights, is shown in section 9, after every choice is made."
    )
)


# %% [markdown]
# ## 5. Noise injection and data augmentation
#
# The other way to stop a network from memorising its training digits is to never show it the same digit twice. Two ways to do that for every mini-batch, on the fly (`train(augment=...)`, as in lesson 07):
#
# - **Gaussian input noise**: add independent $\mathcal{N}(0, \sigma^2)$ noise to every pixel. The network cannot rely on any single pixel's exact value.
# - **Data augmentation**: transform each digit in a way that keeps its class. A digit shifted by a pixel or two, or turned by a few degrees, is still the same digit. (Not by 180°: a turned 6 is a 9.)
#
# `random_shifts`, `random_rotations` and `gaussian_noise` from `dlcourse.augmentation` each return an `augment(x, rng)` function. The shifts and rotations work on images $(N, 1, 28, 28)$ and our MLP reads flat rows $(N, 784)$, so `on_images` reshapes around them:

# %%
def on_images(*augments):
    """One train(augment=...) hook for flat (N, 784) digits from image augmentations, in order."""

    def augment(x, rng):
        images = x.reshape(-1, 1, 28, 28)
        for step in augments:
            images = step(images, rng)
        return images.reshape(len(x), -1)

    return augment


shift_and_turn = on_images(random_shifts(2), random_rotations(15))
examples = x_tr[:6]
shown = np.concatenate(
    [
        examples,
        on_images(random_shifts(2))(examples, np.random.default_rng(1)),
        on_images(random_rotations(15))(examples, np.random.default_rng(2)),
        gaussian_noise(0.3)(examples, np.random.default_rng(3)),
    ]
)
fig = show_digits(
    shown.clip(0, 1),
    np.tile(t_tr[:6], 4),
    ncols=6,
    title="Rows: original, shifted ≤ 2 pixels, turned ≤ 15°, noise σ = 0.3",
)
plt.show()

# %% [markdown]
# *Figure: six training digits (top row), the same digits each shifted by up to two pixels in each direction (second row), each turned by its own random angle of at most 15° (third row), and with Gaussian noise of standard deviation 0.3 added to every pixel (bottom row, shown clipped to [0, 1]). Notice that every version is still plainly the same digit to you: that is the condition an augmentation must meet.*
#
# We keep the shifts (≤ 2 pixels) and rotations (≤ 15°) at these common sizes, and choose the noise level σ on the validation split, like the penalties:

# %%
noise_values = [0.1, 0.2, 0.3, 0.5][-sweep:]
best_noise, noise_runs = pick_on_validation(
    noise_values, noise=lambda s: {"augment": gaussian_noise(s)}
)
augmented = run(0, augment=shift_and_turn)

# %%
fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
curves = {
    "no remedy": baseline,
    f"noise σ = {best_noise:g}": noise_runs[best_noise],
    "shifts + rotations": augmented,
}
for (name, r), color in zip(curves.items(), colors, strict=False):
    diff = 100 * (np.array(r.history.train_acc) - np.array(r.history.val_acc))
    ax.plot(r.history.epoch, diff, color=color, label=name)
ax.set(
    xlabel="epoch",
    ylabel="training − validation accuracy (points)",
    title="Transformed digits keep the gap smaller (seed 0)",
)
ax.legend()
plt.show()

# %% [markdown]
# *Figure: the gap between training and validation accuracy after each epoch, for the plain network, with the chosen input noise, and with shifted and rotated digits. Training accuracy is measured on the untransformed training digits. Notice how much lower the gap of the shifted and rotated digits stays: the network keeps meeting new versions of its digits, so it cannot memorise them.*

# %%
display(
    Markdown(
        f"Chosen on the validation split: σ = {best_noise:g}{at_edge(best_noise, noise_values)}. "
        "After the last epoch the gap is "
        + ", ".join(
            f"**{100 * (r.history.train_acc[-1] - r.history.val_acc[-1]):.1f} points** {name}"
            for name, r in [
                ("without a remedy", baseline),
                (f"with noise σ = {best_noise:g}", noise_runs[best_noise]),
                ("with shifts and rotations", augmented),
            ]
        )
        + ". A smaller gap is only good news if validation accuracy went *up*; section 8 "
        "compares that, over three seeds."
    )
)

# %% [markdown]
# ## 6. Dropout
#
# **Dropout** switches off a random share $p$ of a layer's units at every training step: each unit's output is multiplied by a mask value that is 0 with probability $p$. No unit can rely on a particular partner being there, so the network learns redundant, spread-out features; each step trains a different random sub-network, and the full network behaves like an average of them.
#
# At inference we want the whole network and no randomness. But then each unit receives more input than during training, where only a share $1 - p$ of its inputs were on. **Inverted dropout** fixes this at training time: the surviving units are scaled by $1/(1 - p)$, so the expected output equals the input,
#
# $$\text{out} = x \odot m, \quad m_i = \begin{cases} 0 & \text{with probability } p \\ \tfrac{1}{1 - p} & \text{otherwise,} \end{cases} \qquad \mathbb{E}[\text{out}_i] = x_i,$$
#
# and inference is simply the identity. The backward pass multiplies `dout` by the same mask. Here is `dlcourse.layers.Dropout` with $p = 0.5$ on a row of ones:

# %%
# NBVAL_CHECK_OUTPUT
drop = Dropout(0.5, rng=0)
ones = np.ones((1, 10))
print("training mode: ", drop.forward(ones)[0])
print("backward (same mask):", drop.backward(ones)[0])
drop.training = False
print("inference mode:", drop.forward(ones)[0])
drop.training = True
many = drop.forward(np.ones((2000, 500)))
print("training mode, mean output over 1,000,000 units ≈ 1:", bool(abs(many.mean() - 1) < 0.005))

# %% [markdown]
# We choose the rate $p$ on the validation split (dropout after each hidden layer, `mlp(..., dropout=p)`):

# %%
dropout_values = [0.35, 0.5, 0.65, 0.8][-sweep:]
best_dropout, dropout_runs = pick_on_validation(dropout_values, dropout=lambda p: {"dropout": p})
dropped = dropout_runs[best_dropout].model

# %% [markdown]
# **The classic mistake: evaluating in training mode.** `model.accuracy` and `train` switch the network to evaluation mode for you; a hand-written evaluation loop that calls `model.forward` forgets it easily, and then every prediction is made by a random half-network:

# %%
dropped.train()
train_mode_acc = float(np.mean(dropped.forward(x_val).argmax(axis=1) == t_val))
train_mode_again = float(np.mean(dropped.forward(x_val).argmax(axis=1) == t_val))
dropped.eval()
eval_mode_acc = float(np.mean(dropped.forward(x_val).argmax(axis=1) == t_val))

# %%
# NBVAL_IGNORE_OUTPUT
print(
    f"dropout p = {best_dropout}: validation accuracy in evaluation mode {eval_mode_acc:.3f}, "
    f"in training mode {train_mode_acc:.3f}, and again {train_mode_again:.3f}"
)

# %%
display(
    Markdown(
        "Chosen on the validation split: p = "
        f"{best_dropout:g}{at_edge(best_dropout, dropout_values)}. "
        f"Evaluated in training mode, that network scores **{train_mode_acc:.1%}** and then "
        f"**{train_mode_again:.1%}** on the same digits (every call draws new masks), against "
        f"**{eval_mode_acc:.1%}** in evaluation mode. The answer is lower, and not even "
        "reproducible: if your validation accuracy changes when you evaluate twice, look for a "
        "network left in training mode."
    )
)

# %% [markdown]
# ## 7. Batch normalization
#
# **Batch normalisation** standardises each unit over the mini-batch, then lets the network choose the scale and offset it wants. For a batch of $N$ values $x_{n}$ of one unit (one column of $x: (N, D)$):
#
# $$\mu = \frac{1}{N}\sum_n x_n, \qquad \sigma^2 = \frac{1}{N}\sum_n (x_n - \mu)^2, \qquad \hat{x}_n = \frac{x_n - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y_n = \gamma\,\hat{x}_n + \beta.$$
#
# $\gamma$ and $\beta$, one of each per unit, are learned like weights ($\gamma = 1, \beta = 0$ at the start); $\epsilon = 10^{-5}$ keeps the division safe. Each layer then sees inputs of a steady scale however the layers below change, which lets SGD take larger useful steps: training gets **faster**. The batch statistics also add a little noise (a digit's output depends on its batch-mates), a mild regulariser.
#
# **At inference** there may be no batch, or a batch of one. So during training the layer also keeps **running statistics**, averages of the batch means and variances, $\mu_{\text{run}} \leftarrow m\,\mu_{\text{run}} + (1 - m)\,\mu$ (and the same for $\sigma^2$, with momentum $m = 0.9$), and uses them in evaluation mode. The two gradients of the learned parameters follow from $y_n = \gamma \hat{x}_n + \beta$ at once:
#
# $$\frac{\partial L}{\partial \beta} = \sum_n \text{dout}_n, \qquad \frac{\partial L}{\partial \gamma} = \sum_n \text{dout}_n\,\hat{x}_n.$$
#
# (The gradient of $x$ is longer, because $\mu$ and $\sigma^2$ depend on every $x_n$; it is Task 8.3 of the assignment.) The forward pass in numpy, compared with `dlcourse.layers.BatchNorm`:

# %%
# NBVAL_CHECK_OUTPUT
x_small = np.random.default_rng(0).normal(3.0, 2.0, size=(6, 4))  # N=6 samples, D=4 units
gamma, beta, eps = np.array([1.0, 2.0, 0.5, 1.0]), np.array([0.0, -1.0, 0.0, 3.0]), 1e-5
mu, var = x_small.mean(axis=0), x_small.var(axis=0)
x_hat = (x_small - mu) / np.sqrt(var + eps)
y_small = gamma * x_hat + beta
bn = BatchNorm(gamma.copy(), beta.copy())
print(
    "x̂ has mean 0 and standard deviation 1 per unit:",
    np.allclose(x_hat.mean(axis=0), 0),
    np.allclose(x_hat.std(axis=0), 1, atol=1e-5),
)
print("BatchNorm (training mode) gives the same y:", np.allclose(bn.forward(x_small), y_small))
print(
    "its running mean moved 10% of the way to the batch mean:",
    np.allclose(bn.running_mean, 0.1 * mu),
)
dout_small = np.random.default_rng(1).normal(size=(6, 4))
bn.backward(dout_small)
print(
    "dγ = Σ dout·x̂ and dβ = Σ dout:",
    np.allclose(bn.grads["gamma"], (dout_small * x_hat).sum(axis=0)),
    np.allclose(bn.grads["beta"], dout_small.sum(axis=0)),
)

# %% [markdown]
# Now the same network with a `BatchNorm` after each hidden affine layer (`mlp(..., batch_norm=True)`), seed 0, against the plain one. Faster training shows in the training loss:

# %%
normed = run(0, batch_norm=True)


def epochs_to(history, accuracy=0.99):
    """The first epoch whose training accuracy reached `accuracy` (None if none did)."""
    return next(
        (e for e, a in zip(history.epoch, history.train_acc, strict=True) if a >= accuracy), None
    )


fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
for (name, r), color in zip(
    [("no remedy", baseline), ("batch normalisation", normed)], colors, strict=False
):
    ax.plot(r.history.epoch, r.history.train_loss, color=color, label=f"{name}: training loss")
    ax.plot(
        r.history.epoch, r.history.val_loss, color=color, ls="--", label=f"{name}: validation loss"
    )
ax.set_yscale("log")
ax.set(
    xlabel="epoch",
    ylabel="cross-entropy loss (log scale)",
    title="Batch normalisation drives the training loss down faster",
)
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# *Figure: the training loss (solid) and validation loss (dashed) per epoch, on a logarithmic axis, for the plain network and the one with batch normalisation, same seed and learning rate. Notice how much faster the solid line of the batch-normalised network falls in the first epochs; then compare the two dashed lines, the loss on digits the network does not train on.*

# %%
display(
    Markdown(
        f"With batch normalisation the network reached 99% training accuracy after **epoch "
        f"{epochs_to(normed.history)}**, without it after epoch {epochs_to(baseline.history)}; "
        "after "
        f"the last epoch its validation accuracy is **{normed.model.accuracy(x_val, t_val):.1%}** "
        f"against {baseline_val:.1%} and its gap "
        f"{100 * (normed.history.train_acc[-1] - normed.history.val_acc[-1]):.1f} points against "
        f"{100 * gap[-1]:.1f}. One seed each: section 8 repeats it."
    )
)

# %% [markdown]
# **The classic mistake: batch statistics at inference.** Suppose you classify one digit at a time with the network still in training mode. Then $\mu$ is the digit's own value and $\sigma^2 = 0$, so $\hat{x} = 0$ and every unit outputs $\beta$, whatever the digit: every digit gets the same answer. (And every such call also drags the running statistics toward this single digit, so we save and restore them around the experiment.)

# %%
saved = snapshot(normed.model)
normed.model.train()
one_at_a_time = np.array([normed.model.forward(x_val[i : i + 1]).argmax() for i in range(200)])
restore(normed.model, saved)
normed.model.eval()
running_stats = normed.model.forward(x_val[:200]).argmax(axis=1)

# %%
# NBVAL_CHECK_OUTPUT
print(
    "batch of one, batch statistics: different answers among 200 digits:",
    len(np.unique(one_at_a_time)),
)
print(
    "running statistics (evaluation mode), accuracy on the same digits > 0.5:",
    bool(np.mean(running_stats == t_val[:200]) > 0.5),
)

# %%
display(
    Markdown(
        f"One digit at a time with batch statistics, the network gave the same answer to all 200 "
        f"digits, so it scores **{np.mean(one_at_a_time == t_val[:200]):.1%}** (the share of that "
        "one class); with its running statistics it scores "
        f"**{np.mean(running_stats == t_val[:200]):.1%}** "
        "on the same digits. `model.eval()` (done for you by `model.accuracy`, `model.predict` and "
        "`train`) is what switches to the running statistics."
    )
)

# %% [markdown]
# ## 8. Every remedy on the same task
#
# One run of each remedy says little: on 1,000 validation digits, two runs that differ only in their seed (the initial weights, the order of the batches, the dropout masks) differ by some tenths of a point. So we train every remedy with the three seeds, with the settings chosen above, and report the mean and standard deviation of the validation accuracy, the training accuracy, the gap and the time one run took. We add one combination, shifted and rotated digits with dropout. The seed-0 runs trained above are reused.

# %%
remedies = {
    "no remedy": {},
    f"L2 penalty, λ = {best_l2:g}": {"weight_decay": best_l2},
    f"L1 penalty, λ = {best_l1:g}": {"weight_decay": best_l1, "penalty": "l1"},
    f"early stopping, patience {patience}": {"patience": patience},
    f"input noise, σ = {best_noise:g}": {"augment": gaussian_noise(best_noise)},
    "shifts + rotations": {"augment": shift_and_turn},
    f"dropout, p = {best_dropout:g}": {"dropout": best_dropout},
    "batch normalisation": {"batch_norm": True},
    f"shifts + rotations + dropout {best_dropout:g}": {
        "augment": shift_and_turn,
        "dropout": best_dropout,
    },
}
trained = {
    ("no remedy", 0): baseline,
    (f"L2 penalty, λ = {best_l2:g}", 0): l2_runs[best_l2],
    (f"L1 penalty, λ = {best_l1:g}", 0): l1_runs[best_l1],
    (f"early stopping, patience {patience}", 0): stopped,
    (f"input noise, σ = {best_noise:g}", 0): noise_runs[best_noise],
    ("shifts + rotations", 0): augmented,
    (f"dropout, p = {best_dropout:g}", 0): dropout_runs[best_dropout],
    ("batch normalisation", 0): normed,
}
for name, options in remedies.items():
    for seed in seeds:
        if (name, seed) not in trained:
            trained[name, seed] = run(seed, **options)


def summarise(name):
    """Mean/std over the seeds of one remedy's validation accuracy, and its means."""
    runs = [trained[name, seed] for seed in seeds]
    val = np.array([r.model.accuracy(x_val, t_val) for r in runs])
    train_acc = np.array([r.model.accuracy(x_tr, t_tr) for r in runs])
    seconds = np.array([r.seconds for r in runs])
    return {
        "val": val.mean(),
        "std": val.std(ddof=1),
        "train": train_acc.mean(),
        "gap": (train_acc - val).mean(),
        "seconds": seconds.mean(),
    }


table = {name: summarise(name) for name in remedies}
ranked = sorted(table, key=lambda name: -table[name]["val"])
selected = ranked[0]

# %%
# NBVAL_IGNORE_OUTPUT
print(f"{'remedy':<36} {'validation accuracy':>20} {'training':>9} {'gap':>6} {'s / run':>8}")
for name in ranked:
    row = table[name]
    print(
        f"{name:<36} {row['val']:>12.2%} ± {row['std']:.2%} {row['train']:>9.1%} "
        f"{100 * row['gap']:>6.1f} {row['seconds']:>8.1f}"
    )
print(f"(mean ± standard deviation over seeds {seeds}; gap in points; validation: 1,000 digits;")
print(" s / run: wall-clock seconds of one training run, which depend on the machine and its load)")

# %%
fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
positions = np.arange(len(ranked))[::-1]
means = np.array([table[name]["val"] for name in ranked])
stds = np.array([table[name]["std"] for name in ranked])
for pos, name in zip(positions, ranked, strict=True):
    values = [trained[name, seed].model.accuracy(x_val, t_val) for seed in seeds]
    ax.scatter(values, [pos] * len(values), color=colors[0], alpha=0.5, s=18)
ax.errorbar(means, positions, xerr=stds, fmt="o", color=colors[1], capsize=4, label="mean ± std")
ax.axvline(table["no remedy"]["val"], color="gray", ls="--", label="no remedy (mean)")
ax.set_yticks(positions, ranked)
ax.set(xlabel="validation accuracy (1,000 digits)", title=f"Best on validation: {selected}")
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %% [markdown]
# *Figure: the validation accuracy of every remedy, one faint dot per seed and the mean with a bar of ± one standard deviation, best at the top, with the unregularised network's mean as a dashed line. Notice which bars clear the dashed line by more than their own width: only those are improvements this experiment can tell apart from seed-to-seed noise.*

# %%
base = table["no remedy"]
noise_level = np.sqrt(base["std"] ** 2 + table[selected]["std"] ** 2)
clear = [
    n
    for n in ranked
    if n != "no remedy"
    and table[n]["val"] - base["val"] > 2 * np.sqrt(base["std"] ** 2 + table[n]["std"] ** 2)
]
unclear = [n for n in ranked if n != "no remedy" and n not in clear]
smallest_gap = min(table, key=lambda name: table[name]["gap"])
display(
    Markdown(
        "**What the table says.** The best mean validation accuracy is "
        f"**{table[selected]['val']:.1%}**, "
        f"for **{selected}**, {100 * (table[selected]['val'] - base['val']):.1f} points above "
        "the unregularised "
        f"network's {base['val']:.1%} (the seed-to-seed spread of the difference is about "
        f"{100 * noise_level:.1f} points). Counting as an improvement only a mean that beats the "
        "baseline by more "
        f"than twice that spread, the clear improvements are: {'; '.join(clear) or 'none'}. "
        f"Within the noise of three seeds, on this task: {'; '.join(unclear) or 'none'}. "
        f"The gap column is {100 * base['gap']:.1f} points without a remedy and "
        f"{100 * table[selected]['gap']:.1f} with the selected one; it is smallest, "
        f"{100 * table[smallest_gap]['gap']:.1f} points, for {smallest_gap}. "
        f"The cost: a run of the selected configuration took {table[selected]['seconds']:.1f} s "
        "against "
        f"{base['seconds']:.1f} s."
    )
)

# %% [markdown]
# A word of caution about reading more into it: these are 1,000 digits, one network size, one optimizer and a few settings per remedy, chosen with one seed. A remedy that did little here may matter elsewhere (batch normalisation matters most in deep networks, dropout in large ones), and the ranking would change with more data. The method is what carries over: choose on the validation split, repeat over seeds, and let the table, not lore, decide.
#
# ## 9. The test split, once
#
# Every choice is made. The rule, fixed before looking: the configuration with the best mean validation accuracy, and its seed-0 network, is evaluated on the test digits.

# %%
# NBVAL_IGNORE_OUTPUT
final_model = trained[selected, 0].model
test_acc = final_model.accuracy(x_test, t_test)
print(f"selected: {selected}; test accuracy (seed 0, {len(t_test):,} test digits): {test_acc:.4f}")

# %%
# NBVAL_CHECK_OUTPUT
print("the selected configuration, test accuracy >= 0.80:", bool(test_acc >= 0.80))

# %% [markdown]
# For teaching only, and after the choice, three more test figures that the lesson promised. They could not influence any choice above, and in a real project you would not compute them: the number to report is the one just printed.

# %%
display(
    Markdown(
        f"- The selected network: validation {final_model.accuracy(x_val, t_val):.1%}, test "
        f"**{test_acc:.1%}**.\n"
        f"- Early stopping (seed 0) restored epoch {best_epoch}: test accuracy "
        f"**{stopped.model.accuracy(x_test, t_test):.1%}**; at the last epoch ({len(h)}), the "
        "same run "
        f"(the baseline) has **{baseline.model.accuracy(x_test, t_test):.1%}**.\n"
        f"- The unregularised network: training {baseline.model.accuracy(x_tr, t_tr):.1%}, "
        f"validation {baseline_val:.1%}, test {baseline.model.accuracy(x_test, t_test):.1%}: the "
        "test "
        "digits fall behind the training digits just as the validation digits do."
    )
)

# %% [markdown]
# ## Summary
#
# - **Overfitting** is a network fitting the accidents of its training data; it shows as a gap between training and validation accuracy that opens over the epochs.
# - **Three splits**: train on one, choose everything on the validation split, evaluate the test split once at the end; a set you choose on gives an optimistic figure.
# - **L2** adds $\frac{\lambda}{2}\sum W^2$ (gradient $\lambda W$), which for plain SGD is weight decay $W \leftarrow (1 - \eta\lambda)W - \eta\,\partial L/\partial W$; **L1** adds $\lambda\sum|W|$ (gradient $\lambda\operatorname{sign} W$) and makes weights sparse.
# - **Early stopping** keeps the weights of the best validation epoch and stops after `patience` epochs without improvement.
# - **Noise and augmentation** show the network new versions of its digits every batch; **inverted dropout** zeroes units with probability $p$ and scales the rest by $1/(1 - p)$ at training time only; **batch normalisation** standardises with the batch's statistics in training and the running statistics at inference. Evaluating in training mode is the classic mistake of both.

# %%
display(
    Markdown(
        f"- This run ({'quick' if quick_mode() else 'full'} mode, {data.source} digits): without "
        f"a remedy {base['train']:.1%} training and "
        f"{base['val']:.1%} ± {base['std']:.1%} validation accuracy; the table selected "
        f"**{selected}** at "
        f"{table[selected]['val']:.1%} ± {table[selected]['std']:.1%}, and its seed-0 network "
        "scored "
        f"**{test_acc:.1%}** on the test digits, evaluated once."
    )
)

# %% [markdown]
# **Sources.** The list of remedies (penalties, early stopping, noise injection, augmentation, dropout) follows the article 深層学習ことはじめ その13 (a Japanese introduction to deep learning in several parts); the account of batch normalisation and of early stopping with restored weights follows 【自前AI講座】ディープラーニング基礎と実装 on slash-z. Both use Keras or Theano; the code and the experiments here are our own.
#
# ## Next
#
# Every network of this lesson was trained with plain SGD and one learning rate. Lesson 09 looks at the optimizer itself (momentum, AdaGrad, RMSprop and Adam, whose running averages work much like batch normalisation's running statistics) and at how the weights are initialised. With Adam, remember section 3: weight decay and an L2 penalty are no longer the same thing. The assignment of this lesson, `exercises/08_regularization.ipynb`, has you write the penalties' gradient, dropout for feature maps, the batch-norm gradient of $x$ and early stopping yourself.
