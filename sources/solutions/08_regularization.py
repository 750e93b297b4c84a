# %% [markdown]
# # Assignment 08 · Regularization
#
# In lesson 08 you used weight penalties, dropout, batch normalisation and early stopping from `dlcourse`. Here you write each of them one step further than the lesson did: a penalty that combines L1 and L2 over a whole parameter dict, dropout that switches off whole feature maps of a convolutional layer, the batch-norm gradient of the input (the lesson derived only $\partial L/\partial\gamma$ and $\partial L/\partial\beta$), and an early-stopping rule that keeps copies of the best weights. Then your own pieces train a small network.
#
# **Points:** 10 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 8.1 passed` or a reason you can act on. Run it as often as you like.
#
# **You need:** lesson 08 (and lesson 05's numerical gradient check).
#
# **Time:** about 75 minutes.

# %%
import numpy as np

from dlcourse.checks import check
from dlcourse.config import seed_everything, sized
from dlcourse.data import load_mnist, stratified_split
from dlcourse.gradients import numerical_gradient
from dlcourse.models import mlp
from dlcourse.optimizers import SGD
from dlcourse.training import minibatches

rng = seed_everything(0)
epochs = sized(40, 3)  # epochs of the small training run at the end


# %% [markdown]
# ### Task 8.1 — L1 and L2 penalty of a whole network (2 points)
#
# Write `penalty_and_gradient(params, l1=0.0, l2=0.0)` for a dict of parameter arrays such as `{"W1": (784, 100), "b1": (100,), "W2": ..., "b2": ...}` (or the `"affine1.W"` names of `Sequential`). Return the pair `(value, grads)`:
#
# $$\text{value} = \sum_{W} \Big(\lambda_1 \sum |W| + \frac{\lambda_2}{2} \sum W^2\Big), \qquad \text{grads}[W] = \lambda_1 \operatorname{sign}(W) + \lambda_2 W,$$
#
# where the sums run over the **weights** only: arrays whose name (after the last `.`, if any) starts with `W`. Biases, and batch norm's `gamma` and `beta`, are not penalised; `grads` still has an entry for them, filled with zeros, so that it can be added to the data gradients key by key. `value` is a plain float. Do not change `params`.
#
# *Hint:* section 3 of the lesson gives each penalty and its gradient for one array; `name.rsplit(".", 1)[-1]` is the part after the last dot.
#
# *Checked:* three parameter dicts of random shapes (with plain names, with `Sequential` names, and with `gamma`/`beta`), L1 alone, L2 alone and both together; against a float64 reference.

# %% dlcourse={"points": 2, "task": "8.1"}
def penalty_and_gradient(params, l1=0.0, l2=0.0):
    """Elastic-net penalty of the weights. params: name -> array; returns (float, name -> array)."""
    # Hint: decide per name whether it is a weight; biases get a zero gradient.
    ### BEGIN SOLUTION
    value, grads = 0.0, {}
    for name, p in params.items():
        if name.rsplit(".", 1)[-1].startswith("W"):
            value += l1 * float(np.abs(p).sum()) + l2 / 2 * float((p * p).sum())
            grads[name] = l1 * np.sign(p) + l2 * p
        else:
            grads[name] = np.zeros_like(p)
    return value, grads
    ### END SOLUTION


# %% dlcourse={"check": "8.1"}
check("8.1", penalty_and_gradient)
### BEGIN HIDDEN TESTS
assert penalty_and_gradient({"W": np.array([[1.0, -2.0]]), "b": np.ones(2)}, l1=1.0)[0] == 3.0
### END HIDDEN TESTS

# %% [markdown]
# Your penalty with $\lambda_1 = 0$ is exactly what `Sequential(..., weight_decay=λ)` adds (an L2 penalty, lesson 08 section 3). Compare on an untrained network:

# %%
# NBVAL_CHECK_OUTPUT
net = mlp((784, 30, 10), weight_decay=0.01, rng=0, dtype=np.float64)
value, _ = penalty_and_gradient(net.params, l2=0.01)
print(
    "same penalty as Sequential(weight_decay=0.01):", bool(np.isclose(value, net.penalty_value()))
)


# %% [markdown]
# ### Task 8.2 — dropout of whole feature maps (2 points)
#
# The lesson's dropout zeroes single units. In a convolutional layer neighbouring pixels of a feature map are strongly correlated, so zeroing single pixels hides little; **channel dropout** drops whole feature maps instead. Write the class `ChannelDropout(ratio, seed=0)` for inputs `x: (N, C, H, W)`:
#
# - an attribute `training`, `True` after construction (the caller sets it to `False` for evaluation);
# - `forward(x)` in training mode: for every sample and channel, independently, drop the whole $H \times W$ map with probability `ratio` (all zeros) and multiply the kept maps by $1/(1 - \text{ratio})$ (inverted dropout); a new random mask on every call, drawn from one generator made in `__init__` with `np.random.default_rng(seed)`;
# - `forward(x)` in evaluation mode: return `x` unchanged;
# - `backward(dout)`: the gradient of the last forward pass, using the same mask (in evaluation mode, `dout` itself).
#
# *Hint:* a mask of shape `(N, C, 1, 1)` broadcasts over each map; lesson 08 section 6 shows the per-unit version.
#
# *Checked:* ratios 0.3 and 0.6 on positive inputs of two shapes: whole maps dropped, the share dropped near `ratio`, survivors scaled by $1/(1 - \text{ratio})$, backward with the forward mask, a fresh mask per call, evaluation mode the identity.

# %% dlcourse={"points": 2, "task": "8.2"}
class ChannelDropout:
    """Inverted dropout of whole channels. x: (N, C, H, W); mask cached: (N, C, 1, 1)."""

    def __init__(self, ratio, seed=0):
        self.ratio = ratio
        self.training = True
        self.rng = np.random.default_rng(seed)
        self.mask = None

    def forward(self, x):
        # Hint: one uniform draw per (sample, channel); keep where it is >= ratio.
        ### BEGIN SOLUTION
        if not self.training:
            self.mask = None
            return x
        keep = self.rng.random((x.shape[0], x.shape[1], 1, 1)) >= self.ratio
        self.mask = keep / (1 - self.ratio)
        return x * self.mask
        ### END SOLUTION

    def backward(self, dout):
        ### BEGIN SOLUTION
        return dout if self.mask is None else dout * self.mask
        ### END SOLUTION


# %% dlcourse={"check": "8.2"}
check("8.2", ChannelDropout)

# %% [markdown]
# The expected output of inverted dropout equals its input. Averaged over many calls, your layer's output should come close to `x`:

# %%
# NBVAL_CHECK_OUTPUT
layer = ChannelDropout(0.5, seed=1)
x_maps = np.ones((200, 8, 4, 4))
mean_out = np.mean([layer.forward(x_maps).mean() for _ in range(50)])
print("mean output ≈ 1 (within 0.02):", bool(abs(mean_out - 1) < 0.02))


# %% [markdown]
# ### Task 8.3 — the batch-norm gradient of the input (3 points)
#
# Lesson 08 section 7 normalised a batch $x: (N, D)$ in training mode, $\hat{x} = (x - \mu)/\sqrt{\sigma^2 + \epsilon}$, $y = \gamma \hat{x} + \beta$ (with $\sigma^2$ the mean over the $N$ samples, as `x.var(axis=0)`), and derived $\partial L/\partial\gamma = \sum_n \text{dout}_n \hat{x}_n$ and $\partial L/\partial\beta = \sum_n \text{dout}_n$. Write `batchnorm_backward(dout, x, gamma, eps=1e-5)` that returns `(dx, dgamma, dbeta)`, shapes `(N, D)`, `(D,)`, `(D,)`.
#
# For `dx`, remember that $\mu$ and $\sigma^2$ are computed from the same batch, so every $x_n$ changes every $\hat{x}_m$. With $\text{d}\hat{x} = \text{dout} \cdot \gamma$, the chain rule through $\hat{x}$, $\sigma^2$ and $\mu$ collapses to
#
# $$\frac{\partial L}{\partial x_n} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}\Big(\text{d}\hat{x}_n - \overline{\text{d}\hat{x}} - \hat{x}_n\,\overline{\text{d}\hat{x} \cdot \hat{x}}\Big),$$
#
# where a bar is the mean over the batch (per unit). Derive it if you like (it takes a page); the check compares your result with the numerical gradient, so a different but correct formulation passes too.
#
# *Hint:* recompute $\mu$, $\sigma^2$ and $\hat{x}$ from `x` first; every mean is `.mean(axis=0)`.
#
# *Checked:* batches of shapes (5, 3), (8, 7) and (2, 4) with random $\gamma$, offsets and scales; messages name a $\mu$ or $\sigma^2$ treated as constant, a mean instead of a sum for `dbeta`, and $x$ instead of $\hat{x}$ in `dgamma`.

# %% dlcourse={"points": 3, "task": "8.3"}
def batchnorm_backward(dout, x, gamma, eps=1e-5):
    """Training-mode batch norm, backward. dout, x: (N, D); gamma: (D,); returns dx, dgamma, "
    "dbeta."""
    # Hint: dx_hat = dout * gamma.
    ### BEGIN SOLUTION
    mu = x.mean(axis=0)
    std = np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - mu) / std
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
    ### END SOLUTION


# %% dlcourse={"check": "8.3"}
check("8.3", batchnorm_backward)

# %% [markdown]
# Your `dx` against central differences of the loss $L = \sum y \cdot g$ (so that $\text{dout} = g$), as in lesson 05:

# %%
# NBVAL_CHECK_OUTPUT
gen = np.random.default_rng(5)
x_bn, gamma_bn, g = gen.normal(2.0, 3.0, (6, 4)), gen.uniform(0.5, 2, 4), gen.normal(size=(6, 4))


def bn_loss(x):
    x_hat = (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5)
    return float(np.sum((gamma_bn * x_hat) * g))


dx_yours = batchnorm_backward(g, x_bn, gamma_bn)[0]
dx_numeric = numerical_gradient(bn_loss, x_bn.copy(), h=1e-5)
print("dx matches the numerical gradient:", np.allclose(dx_yours, dx_numeric, rtol=1e-5, atol=1e-7))
print("each column of dx sums to 0:", np.allclose(dx_yours.sum(axis=0), 0))


# %% [markdown]
# The second line is no accident: shifting every sample of a unit by the same amount changes nothing after normalisation, so the gradient along that direction, the column sum, is 0.
#
# ### Task 8.4 — early stopping that restores the best weights (2 points)
#
# Write the class `EarlyStopper(patience)` with a method `update(val_acc, params)`, called once after every epoch with that epoch's validation accuracy and the model's parameter dict. It returns `True` when training should stop, else `False`, and keeps
#
# - `best_epoch`: the epoch of the best validation accuracy so far, counting the calls from 1;
# - `best_params`: **copies** of the parameters at that epoch (the optimizer keeps changing the arrays in `params` in place, so the arrays themselves would not stay the best ones).
#
# Only a strictly higher accuracy counts as an improvement. Stop when `patience` epochs in a row have brought no improvement.
#
# *Hint:* count the epochs without improvement and reset the count when the accuracy improves (lesson 08 section 4).
#
# *Checked:* four sequences of accuracies, with exact ties, dips and a late improvement, for patience 1, 2 and 3; the parameters change in place between calls, as during training.

# %% dlcourse={"points": 2, "task": "8.4"}
class EarlyStopper:
    """Stop after `patience` epochs without a better validation accuracy; keep the best weights."""

    def __init__(self, patience):
        self.patience = patience
        self.best_acc = -np.inf
        self.best_epoch = None
        self.best_params = None
        self.epoch = 0
        self.bad_epochs = 0

    def update(self, val_acc, params):
        # Hint: {name: value.copy() for name, value in params.items()}
        ### BEGIN SOLUTION
        self.epoch += 1
        if val_acc > self.best_acc:
            self.best_acc, self.best_epoch, self.bad_epochs = val_acc, self.epoch, 0
            self.best_params = {name: value.copy() for name, value in params.items()}
            return False
        self.bad_epochs += 1
        return self.bad_epochs >= self.patience
        ### END SOLUTION


# %% dlcourse={"check": "8.4"}
check("8.4", EarlyStopper)

# %% [markdown]
# ### Your pieces, training a network
#
# A small MLP on 1,000 training digits, validated on 1,000 others, as in the lesson; its loop adds your L2 gradient to the data gradient, and your `EarlyStopper` decides when to stop and which weights to keep.

# %%
data = load_mnist()
rest, val_idx = stratified_split(data.t_train, 1000, rng=0)
_, small_idx = stratified_split(data.t_train[rest], 1000, rng=1)
x_tr, t_tr = data.x_train[rest[small_idx]], data.t_train[rest[small_idx]]
x_val, t_val = data.x_train[val_idx], data.t_train[val_idx]

model = mlp((784, 200, 10), rng=0)
optimizer, stopper = SGD(lr=0.1), EarlyStopper(patience=5)
last_epoch = epochs
for epoch in range(1, epochs + 1):
    for xb, tb in minibatches(x_tr, t_tr, 50, rng):
        _, grads = model.loss_and_gradient(xb, tb)
        _, extra = penalty_and_gradient(model.params, l2=1e-3)
        optimizer.update(model.params, {k: grads[k] + extra[k] for k in grads})
    if stopper.update(model.accuracy(x_val, t_val), model.params):
        last_epoch = epoch
        break
for name, value in stopper.best_params.items():
    model.params[name][...] = value

# %%
# NBVAL_IGNORE_OUTPUT
print(
    f"stopped after epoch {last_epoch}; restored epoch {stopper.best_epoch}, "
    f"validation accuracy {model.accuracy(x_val, t_val):.3f}"
)

# %%
# NBVAL_CHECK_OUTPUT
print(
    "restored weights give the best validation accuracy seen:",
    bool(np.isclose(model.accuracy(x_val, t_val), stopper.best_acc)),
)

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "8.5"}
# ### Task 8.5 — why the test set is evaluated once (1 point)
#
# A colleague trains the lesson's network with 30 combinations of penalty strength and dropout rate, evaluates each on the test digits, and reports the best test accuracy as "what our model achieves". Explain in three or four sentences why that figure is too optimistic, and what they should have done instead. What number would you report?
#
# ### BEGIN SOLUTION
# Every test accuracy is a noisy measurement (on 1,000 digits, a few tenths of a point from run to run); taking the best of 30 picks the one whose noise happened to be most favourable, so the maximum overstates how the chosen network will do on new digits. Choosing on the test set makes it part of training: it is no longer unseen. They should have chosen the combination on a separate validation split (ideally averaging a few seeds per setting), then evaluated only that one configuration on the test digits, once. That single test accuracy is the number to report; the validation accuracies only rank the settings.
# ### END SOLUTION
