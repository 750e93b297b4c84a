# %% [markdown]
# # 11 · Automatic differentiation
#
# After this lesson you can build the machine that writes `backward()` for you: a small reverse-mode automatic differentiation on numpy arrays, checked against every gradient the course derived by hand, and you know what PyTorch, TensorFlow and Theano add on top of it.
#
# **Goals**
#
# - Draw the computational graph of an expression and apply the chain rule node by node, in reverse.
# - Build a `Tensor` that records the operation that made it, and a `backward()` that visits the graph in reverse topological order and adds up gradients.
# - See why the gradient of a broadcast input is a sum (the bias gradient of lesson 04, seen from the graph).
# - Measure why frameworks use reverse mode: one backward pass against one pass per parameter.
# - Train the MLP of lesson 04 and the CNN of lesson 07 on gradients nobody wrote by hand, and check that they match the hand-written layers to rounding.
#
# **You need:** lessons 04 and 05 (the MLP, layers with `forward`/`backward`, gradient checks) and 06–07 (im2col, convolution and pooling). Lessons 08–10 help but are not required.
#
# **Time:** about 75 minutes, of which about a minute is computation.

# %%
import inspect
import time

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from IPython.display import Markdown, display

from dlcourse import autograd as ag
from dlcourse.autograd import Tensor
from dlcourse.config import seed_everything, sized
from dlcourse.convnets import simple_convnet
from dlcourse.data import load_mnist
from dlcourse.gradients import numerical_gradient, relative_error
from dlcourse.models import mlp
from dlcourse.optimizers import SGD
from dlcourse.training import train

rng = seed_everything(0)
sns.set_theme(style="white", palette="colorblind")
colors = sns.color_palette("colorblind")
repeats = sized(20, 3)  # timed repetitions of each gradient (section 5)
numeric_rows = sized(100, 2)  # rows of the output layer's W differentiated numerically (section 5)
mlp_epochs = sized(10, 1)  # epochs of the MLP trained by autograd (section 6)
mlp_train_size = sized(None, 1000)  # its training digits (None: all of them)
cnn_epochs = sized(3, 1)  # epochs of the CNN trained by autograd (section 6)
cnn_train_size = sized(4000, 200)  # training digits of the CNN (section 6)
cnn_test_size = sized(1000, 200)  # test digits it is evaluated on (section 6)

# %% [markdown]
# ## 1. A computational graph, and the chain rule in reverse
#
# Every backward pass in this course applied the chain rule by hand: lesson 04 derived $\partial L/\partial W$ for each layer on paper, lesson 05 gave every layer a `backward` that turns `dout` into `dx`, lesson 07 did it for convolution and pooling. Look at what these have in common. A computation is a chain (more generally a graph) of small operations, and each operation only needs to know **its own local derivative**:
#
# $$\frac{\partial L}{\partial \text{input}} = \frac{\partial L}{\partial \text{output}} \cdot \frac{\partial\, \text{output}}{\partial\, \text{input}}.$$
#
# If every operation records which inputs it was computed from, the program itself can walk the graph backwards and apply these rules, one node at a time. That is **automatic differentiation**. It is neither symbolic differentiation (no formula is ever simplified) nor the numerical gradient (no step $h$, no rounding trade-off): it gives the exact derivative of the program, to floating-point rounding.
#
# `dlcourse.autograd` is such a machine, written for this lesson in a few hundred lines of numpy. A `Tensor` wraps an array; every operation on tensors returns a new tensor that remembers its `op`, its `inputs` and a `backward_rule`. Here is logistic regression on one sample, $L = -\log \sigma(w x + b)$ for a sample with label 1:

# %%
x = Tensor(2.0, name="x")
w = Tensor(-0.5, requires_grad=True, name="w")
b = Tensor(0.3, requires_grad=True, name="b")
a = w * x
s = a + b
y = ag.sigmoid(s)
loss = -ag.log(y)
for t, label in [(a, "a"), (s, "s"), (y, "y"), (loss.inputs[0], "ℓ"), (loss, "L")]:
    t.name = label
print(loss)
print("inputs of L:", loss.inputs)
print("inputs of s:", s.inputs)


# %% [markdown]
# The tensor `L` knows it came from `neg`, which came from `log` (we call its output $\ell$), and so on down to the leaves $w$, $x$, $b$ (tensors made directly from data, with no operation behind them). Drawing those links gives the **computational graph**. The small function below lays the nodes out by depth (a node is drawn one column to the right of its deepest input) and writes each node's value; after a backward pass it adds the gradient.


# %%
def depths(output):
    """Column of every tensor in the graph of ``output``: one right of its deepest input;
    a leaf sits just left of its first user."""
    order = ag.topological_order(output)
    depth = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(p)] for p in node.inputs), default=-1)
    for node in reversed(order):
        for parent in node.inputs:
            if not parent.inputs:
                depth[id(parent)] = max(depth[id(parent)], depth[id(node)] - 1)
    return depth


def draw_graph(output, ax, show_grad=False):
    """The computational graph of ``output``: one box per tensor, arrows from inputs."""
    order = ag.topological_order(output)
    depth = depths(output)
    rows = {}
    position = {}
    for node in order:
        column = depth[id(node)]
        position[id(node)] = (column, -rows.get(column, 0))
        rows[column] = rows.get(column, 0) + 1
    for node in order:
        for parent in node.inputs:
            ax.annotate(
                "",
                xy=position[id(node)],
                xytext=position[id(parent)],
                arrowprops={"arrowstyle": "->", "color": "0.4", "shrinkA": 28, "shrinkB": 28},
            )
    for node in order:
        label = node.name or node.op
        if node.op and node.name:
            label = f"{node.name} = {node.op}"
        text = f"{label}\nvalue {node.data:.3f}"
        if show_grad and node.grad is not None:
            text += f"\ngrad {node.grad:.3f}"
        face = colors[0] if node.requires_grad and not node.op else "white"
        ax.text(
            *position[id(node)],
            text,
            ha="center",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "round", "facecolor": face, "alpha": 0.35, "edgecolor": "0.3"},
        )
    ax.set_xlim(-0.6, max(depth.values()) + 0.6)
    ax.set_ylim(-max(rows.values()) + 0.4, 0.6)
    ax.axis("off")


fig, ax = plt.subplots(figsize=(10, 3))
draw_graph(loss, ax)
ax.set_title("The forward pass leaves a graph behind: L = −log σ(w·x + b)")
plt.show()

# %% [markdown]
# *Figure: the computational graph of $L = -\log\sigma(wx + b)$. Each box is a tensor with its value; arrows run from an operation's inputs to its output. The leaves, tensors with no operation behind them, sit just left of the operation that uses them: the parameters $w$ and $b$ (shaded: they require a gradient) and the data $x$. Reading left to right is the forward pass.*
#
# ### The backward pass, node by node
#
# Backward visits the same nodes right to left. It starts from $\partial L/\partial L = 1$ and, at each node, multiplies the gradient that arrived by the node's local derivative and hands the result to the node's inputs:
#
# | node | operation | local derivative | gradient |
# |---|---|---|---|
# | $L = -\ell$ | neg | $\partial L/\partial \ell = -1$ | $\partial L/\partial \ell = -1$ |
# | $\ell = \log y$ | log | $1/y$ | $\partial L/\partial y = -1/y$ |
# | $y = \sigma(s)$ | sigmoid | $y(1 - y)$ | $\partial L/\partial s = -(1 - y) = y - 1$ |
# | $s = a + b$ | add | 1 for each input | $\partial L/\partial a = \partial L/\partial b = y - 1$ |
# | $a = w x$ | multiply | $x$ for $w$, $w$ for $x$ | $\partial L/\partial w = (y - 1)\,x$ |
#
# That is the whole algorithm. Here it is as code: the loop at the heart of `Tensor.backward`, written out so you can watch it. `ag.topological_order(loss)` lists every tensor after its inputs; reversed, every tensor comes after all the tensors that use it, so its gradient is complete before it is passed on.

# %%
# NBVAL_CHECK_OUTPUT
grads = {id(loss): np.array(1.0)}
for node in reversed(ag.topological_order(loss)):
    g = grads.get(id(node))
    if g is None:
        continue  # the data x: no gradient was asked for
    label = node.name
    print(f"{label:>3}  op={node.op or 'leaf':8}  dL/d{label} = {float(g):+.6f}")
    if node.backward_rule is None:
        continue
    for parent, parent_grad in zip(node.inputs, node.backward_rule(g), strict=True):
        if parent.requires_grad:
            grads[id(parent)] = grads.get(id(parent), 0) + parent_grad

# %% [markdown]
# The gradients agree with the table: with $y = \sigma(-0.7)$, $\partial L/\partial b = y - 1$ and $\partial L/\partial w = (y - 1) \cdot 2$. `loss.backward()` does exactly this, stores each gradient in `.grad`, and is checked against those formulas below. The data $x$ gets no gradient: it was made with `requires_grad=False` (the default), so the walk never computes one for it, the way `Sequential` never computes `dx` of its first layer.

# %%
# NBVAL_CHECK_OUTPUT
loss.backward()
y_value = 1 / (1 + np.exp(0.7))
print("dL/dw:", round(float(w.grad), 6), " formula (y - 1)·x:", round((y_value - 1) * 2, 6))
print("dL/db:", round(float(b.grad), 6), " formula y - 1:    ", round(y_value - 1, 6))
print("x.grad:", x.grad)

# %%
fig, ax = plt.subplots(figsize=(10, 3))
draw_graph(loss, ax, show_grad=True)
ax.set_title("Backward fills in dL/d(node) from right to left")
plt.show()

# %% [markdown]
# *Figure: the same graph after `loss.backward()`; every node that depends on a parameter now shows its gradient $\partial L/\partial(\text{node})$ as well as its value. The gradient of $s$ reaches both $a$ and $b$ unchanged (addition passes gradients through), and $x$, the data, has none.*
#
# ## 2. Inside an operation
#
# An operation is a forward computation plus its backward rule. `Tensor.from_op(data, inputs, backward_rule, op)` makes the output tensor and remembers the rest; the rule receives `dout` (shaped like the output) and returns one gradient per input (shaped like that input). Here are three operations of `dlcourse.autograd`, printed from the module itself:

# %%
print(inspect.getsource(ag.relu))
print(inspect.getsource(ag.tanh))
print(inspect.getsource(Tensor.__matmul__))

# %% [markdown]
# The rules are the ones you wrote in lesson 05: ReLU's mask, the activation's derivative from its own output, and for a matrix product `dout @ b.T` and `a.T @ dout`, Affine's `dx` and `dW`. The difference is where they live: each rule belongs to one small operation, and `backward()` chains them, so a network is never written twice (once forward, once backward).
#
# The rule is a **closure**: it uses the arrays of the forward pass (`mask`, `out`, `a.data`) that it captured when the operation ran. That is the autograd version of a layer's cache, and it is why a framework's memory grows with every operation of the forward pass until backward has run.
#
# A tensor used twice (say $a \cdot a + a$) receives a gradient along each use, and `backward` adds them; this is why it sorts the graph first, so that a node is processed only when all its users have sent their share:

# %%
# NBVAL_CHECK_OUTPUT
v = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
(v * v + v).sum().backward()
print("d(v·v + v)/dv =", v.grad, "  (2v + 1 =", 2 * v.data + 1, ")")

# %% [markdown]
# ## 3. Broadcasting's gradient: why `db` is a sum
#
# In lesson 04 the bias gradient of a layer $a = xW + b$ was $\partial L/\partial b = \sum_n \partial L/\partial a_n$, a sum over the batch. From the graph's side, the reason is broadcasting. `x @ W` has shape $(N, M)$ and `b` has shape $(M,)$; numpy stretches `b` to $(N, M)$, i.e. **uses every bias N times**, once per sample. A value used several times collects the gradient of every use, just like $v$ above. So the backward rule of `+` must sum `dout` over every axis along which its input was stretched, and return a gradient of the input's own shape. `dlcourse.autograd.unbroadcast` does that for any broadcast:

# %%
print(inspect.getsource(ag.unbroadcast))

# %%
# NBVAL_CHECK_OUTPUT
x_batch = rng.normal(size=(4, 3))
W = Tensor(rng.normal(size=(3, 2)), requires_grad=True)
b = Tensor(np.zeros(2), requires_grad=True)
out = Tensor(x_batch) @ W + b
dout = rng.normal(size=(4, 2))
out.backward(dout)
print("b.grad:          ", np.round(b.grad, 6), " shape", b.grad.shape)
print("dout.sum(axis=0):", np.round(dout.sum(axis=0), 6))
print("W.grad equals x.T @ dout:", np.allclose(W.grad, x_batch.T @ dout))

# %% [markdown]
# The same rule covers every other broadcast in the course: the per-channel bias of a convolution (shape $(F,)$ against $(N, F, H, W)$: summed over samples and positions, as lesson 07 derived), BatchNorm's $\gamma$ and $\beta$ (lesson 08), and a column `(N, 1)` stretched across the classes, which is summed over the class axis but keeps its `1`:

# %%
# NBVAL_CHECK_OUTPUT
column = Tensor(np.array([[1.0], [2.0]]), requires_grad=True)
(column * np.ones((2, 3))).sum().backward()
print("column.grad:", column.grad.tolist(), " shape", column.grad.shape)


# %% [markdown]
# ## 4. Checking every operation
#
# A backward rule is easy to get wrong, and the check is the one of lesson 05: compare with central differences in float64. For each operation we take $L = \sum \text{op}(\text{inputs}) \cdot g$ with a fixed random $g$ (so that `dout` $= g$), on small random inputs, several with broadcasting. The course's tests (`tests/test_autograd.py`) run the same check on every operation and more shapes.


# %%
def max_error_against_numerical(op, *arrays):
    """Largest relative error of autograd's gradients of sum(op · g) against central differences."""
    tensors = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = op(*tensors)
    g = rng.normal(size=out.shape)
    (out * g).sum().backward()
    worst = 0.0
    for tensor, array in zip(tensors, arrays, strict=True):
        numeric = numerical_gradient(
            lambda _: float(np.sum(op(*[Tensor(a) for a in arrays]).data * g)), array, h=1e-5
        )
        worst = max(worst, relative_error(tensor.grad, numeric).max())
    return worst


def normal(*shape):
    return rng.normal(size=shape)


operations = {
    "a + b, b (4,) broadcast": (lambda a, b: a + b, normal(3, 4), normal(4)),
    "a * b, b (3, 1) broadcast": (lambda a, b: a * b, normal(3, 4), normal(3, 1)),
    "a / b": (lambda a, b: a / b, normal(3, 4), rng.uniform(0.5, 2, (3, 4))),
    "a @ b": (lambda a, b: a @ b, normal(3, 5), normal(5, 2)),
    "sum(axis=0)": (lambda a: a.sum(axis=0), normal(3, 4)),
    "mean(axis=1, keepdims)": (lambda a: a.mean(axis=1, keepdims=True), normal(3, 4)),
    "max(axis=1)": (lambda a: a.max(axis=1), normal(3, 4)),
    "reshape, transpose": (lambda a: a.reshape(4, 3).T, normal(2, 6)),
    "exp": (ag.exp, normal(3, 4)),
    "log": (ag.log, rng.uniform(0.5, 2, (3, 4))),
    "relu": (ag.relu, normal(3, 4)),
    "sigmoid": (ag.sigmoid, normal(3, 4)),
    "tanh": (ag.tanh, normal(3, 4)),
    "log_softmax": (ag.log_softmax, normal(3, 5)),
    "cross_entropy": (lambda s: ag.cross_entropy(s, np.array([0, 4, 2])), normal(3, 5)),
    "conv2d (pad 1, stride 2)": (
        lambda x, W, b: ag.conv2d(x, W, b, stride=2, pad=1),
        normal(2, 2, 5, 5),
        normal(3, 2, 3, 3),
        normal(3),
    ),
    "max_pool2d": (ag.max_pool2d, rng.permutation(96).reshape(2, 3, 4, 4) / 10),
}
errors = {
    name: max_error_against_numerical(op, *arrays) for name, (op, *arrays) in operations.items()
}
for name, error in errors.items():
    print(f"{name:28} max relative error {error:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print("every operation within 1e-7 of the numerical gradient:", max(errors.values()) < 1e-7)

# %% [markdown]
# ## 5. Why reverse mode: the cost, measured
#
# There are two ways to run the chain rule through a graph.
#
# - **Forward mode** carries derivatives *with* the forward pass: alongside each value, its derivative with respect to **one chosen input**. One pass gives $\partial(\text{everything})/\partial w_i$ for a single $w_i$, so the full gradient of a network needs one pass per parameter, like the numerical gradient (which also needs one pair of loss evaluations per parameter, and is only approximate).
# - **Reverse mode** (what we built) first runs the forward pass, then one backward pass that carries $\partial L/\partial(\text{node})$ from the **one output** back to all inputs at once. One forward and one backward pass give the gradient with respect to every parameter.
#
# A network has one loss and tens of thousands of parameters, so reverse mode wins by a factor of about the number of parameters. (Forward mode wins in the opposite case: few inputs, many outputs. Frameworks offer it too, e.g. `torch.func.jvp`.) The backpropagation you derived by hand in lessons 03–07 *is* reverse mode, written out layer by layer.
#
# Here is what that means in seconds, on the MLP of lesson 04 (784 → 100 → 10, ReLU) with a batch of 100 digits, in float64: the hand-written backward (`model.loss_and_gradient`), autograd (`ag.loss_and_gradient`, the same network as tensors) and the numerical gradient. A full numerical gradient would need two loss evaluations for each of the network's parameters, far too long to wait for; so we time one loss evaluation and multiply by two evaluations per parameter (and run the real thing on a few of the output layer's parameters). Forward mode comes right after. The two exact methods are timed in turns, and each gets its best time, the one least disturbed by whatever else the computer was doing.

# %%
# NBVAL_IGNORE_OUTPUT
data = load_mnist()
x_mnist, labels_mnist = data.x_train[:100].astype(np.float64), data.t_train[:100]
model = mlp((784, 100, 10), rng=0, dtype=np.float64)


def best_seconds(funcs, repeats):
    """Shortest wall-clock time of each function over ``repeats`` rounds, run in turns.

    The functions take turns within every round, so a busy moment of the machine hits
    all of them alike; the shortest time is the least disturbed one.
    """
    for func in funcs.values():
        func()  # warm-up
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, func in funcs.items():
            start = time.perf_counter()
            func()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) for name, t in times.items()}


best = best_seconds(
    {
        "hand": lambda: model.loss_and_gradient(x_mnist, labels_mnist),
        "autograd": lambda: ag.loss_and_gradient(model, x_mnist, labels_mnist),
        "loss": lambda: model.loss(x_mnist, labels_mnist),
    },
    repeats,
)
t_hand, t_auto = best["hand"], best["autograd"]
t_numeric = 2 * best["loss"] * model.num_params  # two loss evaluations per parameter

# The numerical gradient itself, on the output layer's bias and the first rows of its
# weights (numerical_gradient perturbs these views, the model's own arrays, in place).
part = [model.params["affine2.W"][:numeric_rows], model.params["affine2.b"]]
start = time.perf_counter()
numeric_part = [
    numerical_gradient(lambda _: model.loss(x_mnist, labels_mnist), p, h=1e-5) for p in part
]
t_numeric_part = time.perf_counter() - start
n_part = sum(p.size for p in part)

print(f"parameters of the MLP: {model.num_params:,}")
print(f"hand-written backward:  {t_hand * 1e3:8.2f} ms per gradient (best of {repeats})")
print(f"autograd:               {t_auto * 1e3:8.2f} ms per gradient (best of {repeats})")
print(f"one loss evaluation:    {best['loss'] * 1e3:8.2f} ms (best of {repeats})")
print(
    f"numerical gradient:     {t_numeric:8.1f} s per gradient "
    f"(2 loss evaluations × {model.num_params:,} parameters)"
)
print(f"  (run on {n_part:,} of the parameters it took {t_numeric_part:.2f} s)")

# %% [markdown]
# Forward mode is not only an idea. For this MLP it fits in a few lines: next to every value of the forward pass, carry its derivative along one chosen direction $d$ of the parameters (a *tangent*), using the rules you know, e.g. $\dot a_1 = x\,\dot W_1 + \dot b_1$ and $\dot h = \dot a_1 \cdot [a_1 > 0]$. At the end, $\dot L = \sum_i \frac{\partial L}{\partial w_i} d_i$: one number per pass. Choosing $d$ = one parameter at a time gives the gradient one entry per pass.


# %%
# NBVAL_IGNORE_OUTPUT
def forward_mode(model, x, labels, tangent):
    """Loss of a 2-layer ReLU MLP and its derivative along ``tangent`` (a dict like params)."""
    p, d = model.params, tangent
    a1 = x @ p["affine1.W"] + p["affine1.b"]
    da1 = x @ d["affine1.W"] + d["affine1.b"]
    h, dh = np.maximum(a1, 0), da1 * (a1 > 0)
    scores = h @ p["affine2.W"] + p["affine2.b"]
    dscores = dh @ p["affine2.W"] + h @ d["affine2.W"] + d["affine2.b"]
    y = np.exp(scores - scores.max(axis=1, keepdims=True))
    y /= y.sum(axis=1, keepdims=True)
    t = np.eye(scores.shape[1])[labels]
    loss = -np.sum(t * np.log(y)) / len(x)
    return loss, np.sum((y - t) / len(x) * dscores)  # dL = Σ ∂L/∂scores · dscores


direction = {name: rng.normal(size=q.shape) for name, q in model.params.items()}
_, along = forward_mode(model, x_mnist, labels_mnist, direction)
_, grads_auto = ag.loss_and_gradient(model, x_mnist, labels_mnist)
from_reverse = sum(np.sum(grads_auto[name] * direction[name]) for name in direction)
print(f"forward mode along a random direction: {along:.10f}")
print(f"reverse mode's gradient · direction:   {from_reverse:.10f}")

t_tangent = best_seconds(
    {"forward": lambda: forward_mode(model, x_mnist, labels_mnist, direction)}, repeats
)["forward"]
t_forward = t_tangent * model.num_params  # one pass per parameter for the whole gradient
print(f"one forward-mode pass:  {t_tangent * 1e3:8.2f} ms (best of {repeats})")
print(
    f"forward-mode gradient:  {t_forward:8.1f} s per gradient "
    f"(one pass × {model.num_params:,} parameters)"
)

# %%
# NBVAL_CHECK_OUTPUT
print("forward and reverse mode agree:", abs(along - from_reverse) < 1e-9 * abs(from_reverse))

# %%
# NBVAL_IGNORE_OUTPUT
display(
    Markdown(
        f"Autograd takes **{t_auto / t_hand:.1f}×** the time of the hand-written backward "
        f"({t_hand * 1e3:.2f} ms → {t_auto * 1e3:.2f} ms). The arithmetic is the same; the "
        f"difference is the bookkeeping: a Python object per operation, built as the forward "
        f"pass runs, and a stored gradient for every intermediate tensor. "
        f"Forward mode would take about **{t_forward:,.0f} s** for the whole gradient, "
        f"**{t_forward / t_auto:,.0f}×** the time of autograd, because it needs one pass per "
        f"parameter and the MLP has {model.num_params:,} parameters; the numerical gradient, "
        f"two loss evaluations per parameter, about **{t_numeric:,.0f} s**."
    )
)

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
names = [
    "hand-written backward",
    "autograd (reverse mode)",
    "forward mode\n(scaled)",
    "numerical gradient\n(scaled)",
]
ax.barh(names, [t_hand, t_auto, t_forward, t_numeric], color=colors[:4])
ax.set_xscale("log")
ax.invert_yaxis()
ax.set(
    xlabel="seconds per gradient (log scale)",
    title="One backward pass beats one pass per parameter",
)
plt.show()

# %% [markdown]
# *Figure: time for one gradient of the 784-100-10 MLP on a batch of 100 digits, on a logarithmic axis. Autograd and the hand-written layers are close; forward mode and the numerical gradient, which need a pass (or two) per parameter, are orders of magnitude slower. The two scaled bars are one measured pass times the number of passes needed.*
#
# The numerical gradient we timed is still the referee: on the output layer it agrees with autograd to the accuracy of central differences.

# %%
# NBVAL_CHECK_OUTPUT
_, auto_grads = ag.loss_and_gradient(model, x_mnist, labels_mnist)
worst = max(
    relative_error(auto_grads["affine2.W"][:numeric_rows], numeric_part[0]).max(),
    relative_error(auto_grads["affine2.b"], numeric_part[1]).max(),
)
print("output-layer gradient within 1e-6 of the numerical one:", worst < 1e-6)


# %% [markdown]
# ## 6. The networks of lessons 04 and 07, differentiated by the machine
#
# `ag.loss_and_gradient(model, x, t)` runs any `Sequential` made of Affine, ReLU/sigmoid/tanh, Flatten, Conv2D and MaxPool2D layers through autograd's operations, with the model's own arrays as parameter tensors, and returns the gradients under the model's parameter names. Convolution and pooling are not new primitives: `ag.conv2d` is lesson 06's im2col, a matrix product and a reshape, and `ag.max_pool2d` is im2col of each channel followed by `max` over each row, so the only new backward rule is im2col's (its adjoint, col2im):

# %%
print(inspect.getsource(ag.conv2d))
print(inspect.getsource(ag.max_pool2d))


# %% [markdown]
# First the gradients themselves, against the hand-written layers, for the MLP and for SimpleConvNet (lesson 07's network: 30 filters 5×5, pooling, 100 hidden units), on a batch of digits. In float64 they agree to rounding; in float32 (what training uses) to float32's rounding.


# %%
def largest_difference(model, x, labels):
    """Largest relative difference between autograd's and the layers' gradients, over all params."""
    _, hand = model.loss_and_gradient(x, labels)
    hand = {name: g.copy() for name, g in hand.items()}
    _, auto = ag.loss_and_gradient(model, x, labels)
    return max(np.abs(auto[n] - hand[n]).max() / np.abs(hand[n]).max() for n in hand)


data_images = load_mnist(flatten=False)
x_images, labels_images = data_images.x_train, data_images.t_train
differences = {}
for dtype in (np.float64, np.float32):
    mlp_model = mlp((784, 100, 10), rng=1, dtype=dtype)
    cnn_model = simple_convnet(rng=1, dtype=dtype)
    differences["MLP", dtype.__name__] = largest_difference(
        mlp_model, x_mnist[:50].astype(dtype), labels_mnist[:50]
    )
    differences["CNN", dtype.__name__] = largest_difference(
        cnn_model, x_images[:10].astype(dtype), labels_images[:10]
    )
for (network, dtype_name), difference in differences.items():
    print(f"{network} in {dtype_name}: largest relative difference {difference:.1e}")

# %%
# NBVAL_CHECK_OUTPUT
print(
    "float64, MLP and CNN agree within 1e-10:",
    max(differences["MLP", "float64"], differences["CNN", "float64"]) < 1e-10,
)
print(
    "float32, MLP and CNN agree within 1e-4: ",
    max(differences["MLP", "float32"], differences["CNN", "float32"]) < 1e-4,
)

# %% [markdown]
# The differences are rounding: the two computations add the same numbers in a different order. (Differences are scaled by each gradient array's largest entry, so a tiny gradient entry cannot make them look large.)
#
# ### Training on autograd's gradients
#
# `ag.AutogradSequential` is a `Sequential` whose `loss_and_gradient`, the one method `train` calls for gradients, uses autograd. Below, the MLP of lesson 04 is trained twice from the same initial weights on the same batches (SGD, learning rate 0.1, batches of 100): once with the hand-written backward, once with autograd.

# %%
# NBVAL_IGNORE_OUTPUT
histories = {}
for label, make in [
    ("hand-written", lambda m: m),
    ("autograd", lambda m: ag.AutogradSequential(m.layers.values())),
]:
    net = make(mlp((784, 100, 10), rng=2))
    histories[label] = train(
        net,
        SGD(lr=0.1),
        data.x_train[:mlp_train_size],
        data.t_train[:mlp_train_size],
        epochs=mlp_epochs,
        x_val=data.x_test,
        t_val=data.t_test,
        rng=3,
        progress=False,
    )
    print(
        f"{label:13} test accuracy after {mlp_epochs} epochs: {histories[label].val_acc[-1]:.4f}"
        f"   ({sum(histories[label].seconds):.1f} s)"
    )

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
for (label, history), style, color in zip(histories.items(), ["-", "--"], colors, strict=False):
    ax.plot(history.epoch, history.val_acc, style, marker="o", color=color, label=label)
ax.set(
    xlabel="epoch",
    ylabel="test accuracy",
    title="The same training run, with or without hand-written backward",
)
ax.legend(title="gradients from")
plt.show()

# %% [markdown]
# *Figure: test accuracy after each epoch of the lesson-04 MLP trained on hand-written gradients (solid) and on autograd's (dashed), from the same initial weights and batches. The two curves lie on top of each other: the gradients differ only by float32 rounding, which does not change where training goes.*
#
# And the CNN of lesson 07 (SimpleConvNet), trained on autograd's gradients with Adam as in lesson 07 but for fewer epochs: convolution, pooling and all, not one line of backward written for it.

# %%
# NBVAL_IGNORE_OUTPUT
from dlcourse.optimizers import Adam

cnn = ag.AutogradSequential(simple_convnet(rng=4).layers.values())
start = time.perf_counter()
cnn_history = train(
    cnn,
    Adam(lr=0.001),
    x_images[:cnn_train_size],
    labels_images[:cnn_train_size],
    epochs=cnn_epochs,
    x_val=data_images.x_test[:cnn_test_size],
    t_val=data_images.t_test[:cnn_test_size],
    rng=5,
    progress=False,
)
cnn_seconds = time.perf_counter() - start
print(cnn_history.table())

# %%
# NBVAL_IGNORE_OUTPUT
display(
    Markdown(
        f"Trained on {cnn_train_size:,} digits for {cnn_epochs} epoch(s) with gradients from "
        f"autograd, SimpleConvNet reaches **{cnn_history.val_acc[-1]:.1%}** accuracy on "
        f"{cnn_test_size:,} test digits "
        f"({cnn_seconds:.0f} s in all, evaluation included)."
    )
)

# %% [markdown]
# ## 7. What real frameworks add
#
# What you built is, in miniature, what Theano's `T.grad`, TensorFlow's `tf.GradientTape` and PyTorch's autograd do. Theano and TensorFlow 1 built the graph *before* running it (define, then run) and could differentiate it symbolically; PyTorch, like `dlcourse.autograd`, records the graph *while* the forward pass runs (define by run), so ordinary Python loops and `if`s just work. The pieces map one to one:
#
# | `dlcourse.autograd` | PyTorch |
# |---|---|
# | `Tensor(data, requires_grad=True)`, `.grad`, `.backward()` | `torch.tensor(..., requires_grad=True)`, `.grad`, `.backward()` |
# | `Tensor.from_op(data, inputs, backward_rule, op)` | `torch.autograd.Function` with `forward` / `backward` and `ctx.save_for_backward` |
# | `op`, `inputs`, `backward_rule` of a tensor | `tensor.grad_fn` and `grad_fn.next_functions` |
# | `topological_order` + the loop in `backward` | the autograd engine (it counts, for each node, how many gradients it still waits for) |
# | `detach()`, leaves without `requires_grad` | `tensor.detach()`, `with torch.no_grad():` |
# | `unbroadcast` in each rule | the same reduction inside each operation's derivative formula |
# | checking against `numerical_gradient` | `torch.autograd.gradcheck` |
# | `zero_grad()` (gradients add up) | `optimizer.zero_grad()` (gradients add up there too) |
#
# And what they add on top:
#
# - **Kernels.** Each operation is compiled C++/CUDA code (PyTorch's ATen library), and a convolution calls a tuned library (oneDNN on CPUs, cuDNN on NVIDIA GPUs) whose algorithms avoid building the im2col matrix of a whole batch; we built it in full, which is simple and costs memory.
# - **GPUs and other devices.** The same tensor code runs on a GPU (`tensor.to("cuda")`), where thousands of cores do the arithmetic, and moves data between devices only when asked.
# - **Graph compilation.** `torch.compile` captures the graph (TorchDynamo) and generates fused kernels (TorchInductor), so that `relu(x @ W + b)` becomes one pass over memory instead of three; TensorFlow does the same with `tf.function` and XLA, and Theano compiled its whole graph this way.
# - **Memory planning.** The engine frees each saved array as soon as its backward rule has used it, and `torch.utils.checkpoint` trades memory for time by recomputing parts of the forward pass during backward. In-place operations are allowed but checked (a version counter on each tensor detects a saved array that changed).
# - **More derivatives.** Forward mode (`torch.func.jvp`), gradients of gradients (`backward(create_graph=True)`), and per-sample gradients (`torch.func.vmap` with `torch.func.grad`).
#
# None of this changes the mathematics of this lesson: a graph of small operations, each with a local rule, visited once in reverse.
#
# ## Summary
#
# - A `Tensor` that remembers the operation that made it turns every computation into a graph; `backward()` visits it in reverse topological order, applies each operation's local rule to the gradient that arrived, and adds up the gradients of values used more than once.
# - Broadcasting makes one value serve many positions, so its gradient is the sum over them: that is why `db` is a sum over the batch, and why every elementwise rule ends with `unbroadcast`.
# - Every operation agrees with the numerical gradient, and the MLP and SimpleConvNet get the same loss and gradients as the hand-written layers to rounding (section 6 prints the largest differences).
# - Reverse mode gets the whole gradient in one backward pass; forward mode, written out for the MLP in section 5, agrees with it but needs a pass per parameter, like the numerical gradient. The sentence after section 5's timings gives the factors.
# - Frameworks add compiled kernels, GPUs, graph compilation and memory planning on top of the same idea.
#
# The timings and accuracies above come from `python scripts/build_notebooks.py 11` (full mode, offline digits); yours will differ with your machine.
#
# ## Next
#
# This is the last lesson of the course. You have written every piece of a deep-learning framework once by hand and now once by machine; the natural next step is PyTorch itself, whose `torch.autograd` you can now read as a bigger version of `dlcourse.autograd`. The assignment of this lesson, `exercises/11_autograd.ipynb`, has you write the backward rule of a batched matrix product and of the variance, the order in which an engine like PyTorch's visits the graph, and a new operation, softmax, with its backward.
#
# **Sources.** The lesson's starting point is a remark in the Japanese blog post 深層学習ことはじめ その13 (part 13 of an introductory deep-learning series) that tools with automatic differentiation such as Theano and TensorFlow spare you deriving gradients, with Theano's `T.grad(cost, W)` as the example. The rest is our own.
