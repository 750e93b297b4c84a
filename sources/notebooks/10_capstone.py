# %% [markdown]
# # 10 · The deep network: everything together
#
# After this lesson you can assemble a deep network from the course's parts, train it with a schedule, validation, checkpoints and early stopping, and make one honest final test of the model you chose.
#
# **Goals**
#
# - Build the source's capstone exercise, a deep MLP with four hidden layers (ReLU, batch norm, dropout, He and Xavier initialisation), and read its summary table.
# - Train it with Adam and 3 epochs of warm-up then a cosine decay, validating after every epoch, keeping the best model in a checkpoint and stopping early when validation stops improving.
# - Build a deep convolutional network from the same parts and make it the course's best digit reader.
# - Choose on validation only, then evaluate the chosen checkpoint on the test set once: confusion matrix, misclassified digits, reloading from `.npz`.
# - See the whole course in one table, and what a framework such as PyTorch would add.
#
# **You need:** lesson 07 (convolutional networks), lesson 08 (dropout, batch normalisation, early stopping, augmentation) and lesson 09 (Adam, learning-rate schedules, He and Xavier initialisation).
#
# **Time:** about 60 minutes, of which about 5 minutes is training (full mode, on a laptop CPU).

# %%
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Markdown, display

from dlcourse.augmentation import random_shifts
from dlcourse.config import as_rng, seed_everything, sized
from dlcourse.convnets import simple_convnet
from dlcourse.data import load_mnist, train_val_split
from dlcourse.fastconv import FastConv2D, FastMaxPool2D
from dlcourse.initializers import he, xavier
from dlcourse.layers import Affine, BatchNorm, Dropout, Flatten, ReLU
from dlcourse.models import Sequential, mlp, softmax_regression
from dlcourse.optimizers import SGD, Adam
from dlcourse.plots import plot_history, show_misclassified
from dlcourse.schedules import WarmupCosine
from dlcourse.training import Checkpoint, EarlyStopping, LRScheduler, train

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
mlp_epochs = sized(30, 2)  # the source's 30 epochs for the deep MLP (section 2)
cnn_epochs = sized(30, 2)  # deep CNN (section 3)
n_train = sized(None, 300)  # quick mode trains on the first 300 training digits only
n_check = sized(None, 200)  # ... and validates and tests on 200 digits each
checkpoints = Path(tempfile.mkdtemp(prefix="dlcourse-10-"))  # a scratch folder

# %% [markdown]
# The digits, split three ways. The **test** part is locked away until section 4: every choice (which epoch, which model) is made on the **validation** part, a tenth of the training digits set aside with a seeded, stratified split.

# %%
data = load_mnist(flatten=False)
(x_train, labels_train), (x_val, labels_val) = train_val_split(
    data.x_train, data.t_train, val_fraction=0.1, rng=0
)
x_train, labels_train = x_train[:n_train], labels_train[:n_train]
x_val, labels_val = x_val[:n_check], labels_val[:n_check]
x_test, labels_test = data.x_test[:n_check], data.t_test[:n_check]


def flat(x: np.ndarray) -> np.ndarray:
    """(N, 1, 28, 28) images as (N, 784) rows, for the fully connected networks."""
    return x.reshape(len(x), -1)


print(f"train {x_train.shape}, validation {x_val.shape}, test {x_test.shape} (locked away)")

# %% [markdown]
# ## 1. The recipe, and where each part came from
#
# The source's closing exercise asks for one network that uses everything: four fully connected hidden layers with ReLU; batch normalisation and dropout; He initialisation for the ReLU layers and Xavier for the softmax output; Adam; 30 epochs whose learning rate climbs for 3 epochs to a peak of 0.01 and then decays along a cosine; the validation figures after every epoch. We add what the source set up around it: a checkpoint of the best model, early stopping and a fixed seed.
#
# | part | what it does | lesson |
# |---|---|---|
# | `Affine`, `ReLU`, `SoftmaxCrossEntropy` | the layers and the loss | 04, 05 |
# | He init $\mathcal N(0, 2/\text{fan}_\text{in})$, Xavier $\mathcal N(0, 1/\text{fan}_\text{in})$ | signals neither vanish nor explode at the start | 09 |
# | `BatchNorm` ($\gamma$, $\beta$, running statistics) | each layer sees inputs of a stable scale | 08 |
# | `Dropout` (inverted) | a random part of the units is silenced at each step, so none can be relied on alone | 08 |
# | `Adam` ($m$, $v$, bias correction) | a step size per parameter | 09 |
# | `WarmupCosine` | small steps while Adam's estimates settle, then a smooth decay | 09 |
# | `Checkpoint`, `EarlyStopping` | keep the best epoch, stop when validation stops improving | 08, 10 |
# | `FastConv2D`, `FastMaxPool2D`, `random_shifts` | the convolutional parts (lesson 07's fast layers, the same numbers as `Conv2D` and `MaxPool2D`) and augmentation (section 3) | 06, 07, 08 |
#
# ## 2. The deep MLP, exactly as the exercise states it
#
# Four hidden layers of 128 units (the exercise leaves the width free; 128 is the source's choice), each **Affine → BatchNorm → ReLU → Dropout(0.2)**, then the output Affine. `mlp(...)` assembles it; `summary` lists every layer with the shape of its output for one digit and its number of parameters.

# %%
deep_mlp = mlp(
    (784, 128, 128, 128, 128, 10),
    activation="relu",
    init="he",
    output_init="xavier",
    batch_norm=True,
    dropout=0.2,
    rng=rng,
)
print(deep_mlp.summary((784,)))

# %% [markdown]
# Read the parameter column: the first Affine has $784 \cdot 128$ weights and $128$ biases, $100{,}480$ numbers; each BatchNorm has one $\gamma$ and one $\beta$ per unit, $2 \cdot 128 = 256$; ReLU and Dropout have none. Batch norm's running mean and variance are not in the count: they are not trained by the optimizer, but they are saved with the model.
#
# The schedule: epoch $e$ (from 0) of the warm-up gets $\text{lr}_\text{peak}\,(e + 1)/3$, then, with $p = (e - 3)/(30 - 3)$, $\text{lr} = \text{lr}_\text{peak}\,(1 + \cos \pi p)/2$. (The source's version gives epoch 0 a learning rate of exactly 0, a wasted epoch; ours starts at a third of the peak.) Three callbacks run after every epoch: the scheduler, a checkpoint that saves the model to `.npz` whenever the validation loss improves, and early stopping, which ends training after 5 epochs without improvement and puts the best weights back.

# %%
# NBVAL_IGNORE_OUTPUT
mlp_checkpoint = Checkpoint(checkpoints / "deep_mlp.npz", monitor="val_loss")
mlp_stopping = EarlyStopping(monitor="val_loss", patience=5)
start = time.perf_counter()
mlp_history = train(
    deep_mlp,
    Adam(lr=0.01),
    flat(x_train),
    labels_train,
    epochs=mlp_epochs,
    batch_size=100,
    x_val=flat(x_val),
    t_val=labels_val,
    rng=rng,
    callbacks=[
        LRScheduler(WarmupCosine(0.01, warmup=min(3, mlp_epochs - 1), total=mlp_epochs)),
        mlp_checkpoint,
        mlp_stopping,
    ],
)
mlp_seconds = time.perf_counter() - start
print(mlp_history.table())

# %%
fig = plot_history(mlp_history, metrics=("loss", "acc", "lr"))
fig.suptitle("Deep MLP: training and validation per epoch, and the learning rate it used")
plt.show()

# %% [markdown]
# *Figure: three panels over the epochs of the deep MLP. Left, the mean loss on the training digits (solid) and on the validation digits (dashed); middle, the accuracies; right, the learning rate each epoch actually used, read back from the training history: a climb over the warm-up epochs, then half a cosine down towards zero. The dotted vertical line marks the best validation epoch. Notice how much the validation curves jump from epoch to epoch: on the offline digits the validation part holds 400 digits, each a quarter of a point, which is why the checkpoint and early stopping watch the smoother validation loss rather than the accuracy.*

# %%
mlp_best_epoch, mlp_best_loss = mlp_history.best("val_loss")
mlp_val_acc = mlp_history.val_acc[mlp_history.epoch.index(mlp_best_epoch)]
if mlp_history.stopped:
    decision = f"Early stopping ended training: *{mlp_history.stopped}*."
else:
    decision = (
        f"Early stopping never fired: the validation loss improved at least once in every "
        f"5 epochs, so training ran all {len(mlp_history)} epochs."
    )
display(
    Markdown(
        f"The checkpoint file `{mlp_checkpoint.path.name}` was written after epochs "
        f"{', '.join(map(str, mlp_checkpoint.saved_epochs))}; the last of them, epoch "
        f"**{mlp_best_epoch}**, had the lowest validation loss ({mlp_best_loss:.4f}) and a "
        f"validation accuracy of **{mlp_val_acc:.1%}**. {decision} The model now holds the "
        f"weights of epoch {mlp_stopping.restored_epoch}. Training took {mlp_seconds:.0f} s."
    )
)


# %% [markdown]
# ## 3. A deep CNN from the same parts
#
# The MLP sees a digit as 784 unrelated numbers. Lesson 07's SimpleConvNet, one 5×5 convolution and one pooling, already beat it. A deeper convolutional network stacks **small 3×3 convolutions**: two of them in a row see a 5×5 patch with fewer weights ($2 \cdot 9 = 18$ per channel pair instead of $25$) and one more ReLU in between. Padding 1 keeps the height and width, so only the pooling shrinks them: 28 → 14 → 7.
#
# Each convolution is followed by batch norm, over the batch *and* every position of a channel, so one $\gamma$ and one $\beta$ per channel, then ReLU. The fully connected head gets batch norm and dropout as in the MLP. The biases before a batch norm are kept (as everywhere in `dlcourse`), although the normalisation subtracts them right away: they cost 16 or 32 numbers and keep every layer the same.

# %%
def deep_cnn(filters=(16, 32), hidden=128, dropout=0.5, rng=None) -> Sequential:
    """x: (N, 1, 28, 28) -> scores (N, 10).

    For each entry F of ``filters``: (conv 3×3, F filters, padding 1 → BatchNorm → ReLU)
    twice, then 2×2 max pooling. Then Flatten → Affine(hidden) → BatchNorm → ReLU →
    Dropout → Affine(10). He init before every ReLU, Xavier for the output layer.
    """
    rng = as_rng(rng)
    layers, channels, size = [], 1, 28
    for n_filters in filters:
        for _ in range(2):
            W = he(channels * 9, n_filters, rng=rng, shape=(n_filters, channels, 3, 3))
            layers += [FastConv2D(W, np.zeros(n_filters, np.float32), pad=1)]
            layers += [BatchNorm(np.ones(n_filters, np.float32), np.zeros(n_filters, np.float32))]
            layers += [ReLU()]
            channels = n_filters
        layers.append(FastMaxPool2D(2))
        size //= 2
    flat_size = channels * size * size
    layers += [
        Flatten(),
        Affine(he(flat_size, hidden, rng=rng), np.zeros(hidden, np.float32)),
        BatchNorm(np.ones(hidden, np.float32), np.zeros(hidden, np.float32)),
        ReLU(),
        Dropout(dropout, rng=rng),
        Affine(xavier(hidden, 10, rng=rng), np.zeros(10, np.float32)),
    ]
    return Sequential(layers)


cnn = deep_cnn(rng=rng)
print(cnn.summary((1, 28, 28)))

# %% [markdown]
# Most of the parameters sit in the first fully connected layer ($32 \cdot 7 \cdot 7 \cdot 128$ weights), most of the *work* in the convolutions on the 28×28 maps. Training uses Adam with one warm-up epoch to a peak of 0.003 and a cosine decay, and every batch shifted at random by up to one pixel (lesson 08's augmentation); the same checkpoint and early stopping watch the validation loss. This is the longest run of the course: a few minutes on a laptop.

# %%
# NBVAL_IGNORE_OUTPUT
cnn_checkpoint = Checkpoint(checkpoints / "deep_cnn.npz", monitor="val_loss")
cnn_stopping = EarlyStopping(monitor="val_loss", patience=5)
start = time.perf_counter()
cnn_history = train(
    cnn,
    Adam(lr=0.003),
    x_train,
    labels_train,
    epochs=cnn_epochs,
    batch_size=100,
    x_val=x_val,
    t_val=labels_val,
    rng=rng,
    callbacks=[
        LRScheduler(WarmupCosine(0.003, warmup=1, total=cnn_epochs)),
        cnn_checkpoint,
        cnn_stopping,
    ],
    augment=random_shifts(1),
)
cnn_seconds = time.perf_counter() - start
print(cnn_history.table())

# %%
fig = plot_history(cnn_history, metrics=("loss", "acc", "lr"))
fig.suptitle("Deep CNN: training and validation per epoch, and the learning rate it used")
plt.show()

# %% [markdown]
# *Figure: the same three panels for the deep CNN: losses, accuracies (training solid, validation dashed, best validation epoch dotted) and the learning rate per epoch, one warm-up epoch then half a cosine. Notice how close to 1 the validation accuracy climbs, and that the validation loss keeps improving while the learning rate decays.*

# %%
cnn_best_epoch, cnn_best_loss = cnn_history.best("val_loss")
cnn_val_acc = cnn_history.val_acc[cnn_history.epoch.index(cnn_best_epoch)]
display(
    Markdown(
        f"Best validation loss {cnn_best_loss:.4f} at epoch **{cnn_best_epoch}** "
        f"(validation accuracy **{cnn_val_acc:.1%}**), saved to `{cnn_checkpoint.path.name}`; "
        + (cnn_history.stopped or f"training ran all {len(cnn_history)} epochs")
        + f". Training and the per-epoch validation took {cnn_seconds:.0f} s."
    )
)

# %% [markdown]
# ## 4. Choose on validation, then test once
#
# Every decision so far used the validation digits: the epoch of each checkpoint, and now the model. The test digits answer one question, once, at the end: *how well does the model we chose read digits it has never influenced?* Looking at the test set earlier and going back to change something would turn it into a second validation set, and its figure would be optimistic.

# %%
candidates = {"deep MLP": mlp_val_acc, "deep CNN": cnn_val_acc}
chosen = max(candidates, key=candidates.get)
print("validation accuracy at the checkpointed epoch:")
for name, acc in candidates.items():
    print(f"  {name:8s} {acc:.4f}")
print(f"chosen: {chosen}")

# %% [markdown]
# The chosen checkpoint is read back from its `.npz` file into a freshly built network of the same architecture (its random weights are all overwritten), and that reloaded model must give exactly the predictions of the one still in memory:

# %%
if chosen == "deep CNN":
    final, final_x, path, in_memory = deep_cnn(rng=123), x_test, cnn_checkpoint.path, cnn
else:
    final = mlp((784, 128, 128, 128, 128, 10), batch_norm=True, dropout=0.2, rng=123)
    final_x, path, in_memory = flat(x_test), mlp_checkpoint.path, deep_mlp
meta = final.load(path)
print(f"loaded {path.name}: saved after epoch {meta['epoch']}, val_loss {meta['value']:.4f}")

# %%
# NBVAL_CHECK_OUTPUT
predicted = final.predict(final_x).argmax(axis=1)
same = np.array_equal(predicted, in_memory.predict(final_x).argmax(axis=1))
print("reloaded model predicts exactly as the one in memory:", same)

# %%
test_acc = float(np.mean(predicted == labels_test))
display(
    Markdown(
        f"**The one test evaluation:** the {chosen} reads **{test_acc:.1%}** of the "
        f"{len(labels_test):,} test digits correctly ({np.sum(predicted != labels_test)} "
        f"mistakes)."
    )
)

# %% [markdown]
# Where are the mistakes? The **confusion matrix** counts, for every true digit (row) and every predicted digit (column), how many test digits fell there; the diagonal holds the correct answers.

# %%
confusion = np.zeros((10, 10), dtype=int)
np.add.at(confusion, (labels_test, predicted), 1)
off_diagonal = confusion - np.diag(np.diag(confusion))
true_digit, predicted_digit = np.unravel_index(off_diagonal.argmax(), off_diagonal.shape)

fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
sns.heatmap(confusion, annot=True, fmt="d", cmap="Blues", cbar_kws={"label": "test digits"}, ax=ax)
ax.set_xlabel("predicted digit")
ax.set_ylabel("true digit")
ax.set_title(
    f"Almost everything on the diagonal; most common mistake: "
    f"{true_digit} read as {predicted_digit} ({off_diagonal.max()}×)"
)
plt.show()

# %% [markdown]
# *Figure: a 10×10 table of counts, true digit down the side, predicted digit along the top, darker blue for larger counts; the diagonal holds the correctly read digits (the offline test part has a hundred of each class). Every count off the diagonal is a mistake, and the title names the most frequent one.*

# %%
fig = show_misclassified(final, final_x, labels_test, n=20)
plt.show()


# %% [markdown]
# *Figure: the test digits the chosen network got wrong (up to 20), each titled with its true label and the prediction. Notice how many of them a person would hesitate over as well.*
#
# ## 5. The course in one table
#
# Every model of the course, trained on the same training digits (3,600 of the offline set; validation and test left out), with its lesson's recipe, and evaluated on the same test digits. The softmax regression and the one-hidden-layer MLP train with SGD at lr 0.5 for 30 epochs (lessons 02 and 04); SimpleConvNet with Adam, a cosine decay and shifted digits for 20 epochs (lesson 07). The two deep networks are the checkpoints of sections 2 and 3. Training time includes each run's per-epoch evaluation, and was measured on the machine that executed this notebook.

# %%
# NBVAL_IGNORE_OUTPUT
def fit(model, optimizer, x, epochs, schedule=None, augment=None) -> float:
    """Train ``model`` on the training digits (x in the model's layout); returns seconds."""
    start = time.perf_counter()
    callbacks = [LRScheduler(schedule)] if schedule is not None else []
    train(
        model,
        optimizer,
        x,
        labels_train,
        epochs=epochs,
        batch_size=100,
        rng=rng,
        callbacks=callbacks,
        augment=augment,
        progress=False,
    )
    return time.perf_counter() - start


baseline_epochs = sized(30, 1)
softmax_model = softmax_regression(rng=rng)
softmax_seconds = fit(softmax_model, SGD(lr=0.5), flat(x_train), baseline_epochs)
mlp1_model = mlp((784, 100, 10), rng=rng)
mlp1_seconds = fit(mlp1_model, SGD(lr=0.5), flat(x_train), baseline_epochs)
simple_epochs = sized(20, 1)
simple_model = simple_convnet(rng=rng)
simple_seconds = fit(
    simple_model,
    Adam(lr=0.001),
    x_train,
    simple_epochs,
    schedule=WarmupCosine(0.001, warmup=0, total=simple_epochs),
    augment=random_shifts(1),
)

rows = [
    ("softmax regression", "02", softmax_model, flat(x_test), softmax_seconds),
    ("MLP 784-100-10", "04", mlp1_model, flat(x_test), mlp1_seconds),
    ("SimpleConvNet", "07", simple_model, x_test, simple_seconds),
    ("deep MLP", "10", deep_mlp, flat(x_test), mlp_seconds),
    ("deep CNN", "10", cnn, x_test, cnn_seconds),
]
course = [
    (name, lesson, model.accuracy(x, labels_test), model.num_params, seconds)
    for name, lesson, model, x, seconds in rows
]
print(f"{'model':20s} {'lesson':>6s} {'test accuracy':>13s} {'parameters':>11s} {'seconds':>8s}")
for name, lesson, acc, params, seconds in course:
    print(f"{name:20s} {lesson:>6s} {acc:13.4f} {params:11,d} {seconds:8.1f}")

# %%
fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
colours = sns.color_palette("colorblind", len(course))
for (name, _, acc, params, _), colour in zip(course, colours, strict=True):
    ax.scatter(params, 100 * (1 - acc), s=80, color=colour, label=name)
ax.set_xscale("log")
ax.set_xlabel("trained parameters (log scale)")
ax.set_ylabel("test error (% of digits)")
best_name = min(course, key=lambda row: 1 - row[2])[0]
ax.set_title(f"Test error against size: the {best_name} makes the fewest mistakes")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %% [markdown]
# *Figure: one dot per model of the table above, its number of trained parameters on a logarithmic horizontal axis and its test error in percent on the vertical axis; lower is better. Notice that parameters alone do not decide: the convolutional networks make fewer mistakes than the MLPs with a comparable number of weights, because they reuse each small filter at every position.*

# %%
if data.source == "offline":
    note = (
        "All figures in this table come from the **offline** digits (real MNIST, but only "
        f"{len(data.x_train):,} training digits). A full-MNIST figure (60,000 training and "
        "10,000 test digits) could not be measured where this notebook was executed, so "
        "none is quoted; with internet, `load_mnist()` downloads the full set and this "
        "notebook measures it."
    )
else:
    note = f"All figures in this table come from the full MNIST set ({data.notice})."
display(Markdown(note))

# %% [markdown]
# The benchmark script trains the two deep recipes too, on all 4,000 offline training digits (it has no validation set, so no checkpoint or early stopping), for the course's README figures:
#
# ```
# python benchmarks/accuracy.py --model deep-mlp --seed 0
# python benchmarks/accuracy.py --model deep-cnn --seed 0
# ```
#
# ## 6. Where next: what a framework adds
#
# You have now written, and understood, every part a deep-learning framework gives you. What a framework such as PyTorch adds is mostly *not* new ideas:
#
# - **Automatic differentiation.** You derived every `backward` by hand. A framework records the operations of the forward pass and derives the backward pass itself (`loss.backward()`), for any network you can write down. Lesson 11 builds a small version of this.
# - **GPUs.** The same code runs on a graphics card (`model.to("cuda")`), tens of times faster for convolutions, which makes networks and data sets far larger than ours practical.
# - **Data loaders.** Reading, shuffling, augmenting and batching in background workers while the model trains.
# - **A large library** of tested layers, losses, optimizers and schedules, and pre-trained models.
#
# | `dlcourse` | PyTorch |
# |---|---|
# | `Affine` | `torch.nn.Linear` |
# | `Conv2D`, `MaxPool2D`, `Flatten` | `torch.nn.Conv2d`, `torch.nn.MaxPool2d`, `torch.nn.Flatten` |
# | `BatchNorm` (on (N, D) / (N, C, H, W)) | `torch.nn.BatchNorm1d` / `torch.nn.BatchNorm2d` |
# | `Dropout`, `ReLU` | `torch.nn.Dropout`, `torch.nn.ReLU` |
# | `SoftmaxCrossEntropy` | `torch.nn.CrossEntropyLoss` (takes scores, like ours) |
# | `Sequential`, `model.train()` / `model.eval()` | `torch.nn.Sequential`, `model.train()` / `model.eval()` |
# | `he`, `xavier` | `torch.nn.init.kaiming_normal_`, `torch.nn.init.xavier_normal_` (Glorot's fan-in + fan-out version) |
# | `Adam` | `torch.optim.Adam` |
# | `WarmupCosine` + `LRScheduler` | `torch.optim.lr_scheduler.LinearLR` then `CosineAnnealingLR`, chained by `SequentialLR` |
# | `minibatches`, `random_shifts` | `torch.utils.data.DataLoader`, `torchvision.transforms.RandomAffine(degrees=0, translate=...)` |
# | `backward` of every layer | `loss.backward()` (autograd) |
# | `model.save` / `model.load` (`.npz`) | `torch.save(model.state_dict(), ...)` / `model.load_state_dict(torch.load(...))` |
# | `train`, `Checkpoint`, `EarlyStopping` | a loop you write yourself, or a library on top (PyTorch Lightning, Keras) |
#
# ## Summary
#
# - A deep network is the course's parts, assembled: Affine or 3×3 convolutions, batch norm, ReLU, dropout, pooling; He initialisation before ReLU and Xavier for the output; Adam with warm-up and a cosine decay.
# - Around the training loop: validation after every epoch, a checkpoint of the best epoch, early stopping, and a seed. Every choice is made on validation; the test set is used once, at the end.
# - A saved `.npz` checkpoint, loaded into a fresh network of the same architecture, gives exactly the same predictions.
# - The figures of this run (accuracies, epochs, times) are in the outputs of sections 2–5 and in the table of section 5; they came from `python scripts/build_notebooks.py 10` (full mode, offline digits), and yours may differ slightly.
#
# ## Next
#
# Lesson 11 takes away the last piece you still write by hand: it builds a small automatic differentiation engine on numpy arrays and checks it against every gradient the course derived. The assignment of this lesson, `exercises/10_capstone.ipynb`, has you build a deep network to a given summary, write the schedule and the early-stopping decision yourself, and train a network to a validation threshold within a time budget.
#
# **Sources.** The capstone recipe follows the closing exercise of "【自前AI講座】ディープラーニング基礎と実装" (slash-z.com), whose notebook the article links at https://github.com/KazutoMakino/PythonCourse/blob/main/018_DeepLearning/018_DeepLearning.ipynb. The text and code here are the course's own.
