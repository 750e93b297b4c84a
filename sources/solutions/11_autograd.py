# %% [markdown]
# # Assignment 11 · Automatic differentiation
#
# In lesson 11 you built reverse-mode automatic differentiation: tensors that remember the operation that made them, a backward pass that visits the graph in reverse and adds up gradients, and backward rules for the operations of the course's networks. Here you write the parts the lesson left out: the backward rule of a *batched* matrix product and of a variance, the order in which an engine like PyTorch's visits the graph, and a new operation, softmax, which you then plug into `dlcourse.autograd` and check numerically.
#
# **Points:** 12 (four code tasks, one written answer).
#
# **How it works.** Write your code between the lines the exercise marks, then run the self-check cell right after it. It prints `✓ Task 11.1 passed` or a reason you can act on. Run it as often as you like.
#
# **You need:** lesson 11 (and the gradient checks of lesson 05).
#
# **Time:** about 75 minutes.

# %%
import numpy as np

from dlcourse import autograd as ag
from dlcourse.autograd import Tensor
from dlcourse.checks import check
from dlcourse.config import seed_everything
from dlcourse.gradients import numerical_gradient, relative_error

rng = seed_everything(0)


# %% [markdown]
# ### Task 11.1 — the backward rule of a batched matrix product (3 points)
#
# The lesson's `@` takes two matrices, $a\,(N, K)$ and $b\,(K, M)$, with $\partial L/\partial a = \text{dout}\; b^\top$ and $\partial L/\partial b = a^\top\, \text{dout}$. numpy's `a @ b` also multiplies **batches** of matrices: with `a` of shape $(B, N, K)$ and `b` of shape $(K, M)$, it computes $B$ products $a_i\, b$, one per matrix $a_i$ of the batch, giving $(B, N, M)$; either side, or both, may be a batch of the same size $B$.
#
# Write `matmul_backward(a, b, dout)` that returns the pair `(da, db)`, shaped like `a` and like `b`, for `out = a @ b` and the upstream gradient `dout` shaped like `out`. Each input is a single matrix (2-D) or a batch (3-D); `dout` is 3-D whenever either input is.
#
# *Hint:* apply the two-matrix rule to each product of the batch; then remember section 3 of the lesson: a matrix that is **shared** by all $B$ products (a 2-D input next to a 3-D one) was used $B$ times.
#
# *Checked:* four shape combinations (two matrices, a batch times a matrix, a matrix times a batch, a batch times a batch), against float64 references; the check names a wrong transpose, a gradient that was not summed over the batch, or averaged.


# %% dlcourse={"points": 3, "task": "11.1"}
def matmul_backward(a, b, dout):
    """Gradients of out = a @ b. a: (N, K) or (B, N, K); b: (K, M) or (B, K, M);
    dout: like out. Returns (da, db) shaped like a and b."""
    # Hint: check the shapes: each gradient has the shape of its own input.
    ### BEGIN SOLUTION
    da = dout @ np.swapaxes(b, -1, -2)
    db = np.swapaxes(a, -1, -2) @ dout
    if da.ndim > a.ndim:
        da = da.sum(axis=0)
    if db.ndim > b.ndim:
        db = db.sum(axis=0)
    return da, db
    ### END SOLUTION


# %% dlcourse={"check": "11.1"}
check("11.1", matmul_backward)

# %% [markdown]
# Your rule against central differences on a batch of 3 products sharing `b` ($L = \sum \text{out} \cdot \text{dout}$ for a fixed random `dout`):

# %%
# NBVAL_CHECK_OUTPUT
a, b = rng.normal(size=(3, 4, 2)), rng.normal(size=(2, 5))
dout = rng.normal(size=(3, 4, 5))
da, db = matmul_backward(a, b, dout)
numeric_db = numerical_gradient(lambda _: float(np.sum((a @ b) * dout)), b)
print("db matches the numerical gradient:", relative_error(db, numeric_db).max() < 1e-7)


# %% [markdown]
# ### Task 11.2 — the backward rule of a variance (3 points)
#
# Batch normalisation (lesson 08) divides by the standard deviation of a batch, so its backward pass goes through a **variance**, a reduction like the lesson's `sum` and `mean`. For $v = $ `x.var(axis=axis)` (the mean of $(x - \bar{x})^2$ along `axis`, dividing by the length $n$ of that axis):
#
# $$\frac{\partial L}{\partial x_i} = \frac{\partial L}{\partial v} \cdot \frac{2\,(x_i - \bar{x})}{n},$$
#
# where $x_i$ runs along `axis` and $\bar{x}$ is the mean of its slice. (The mean depends on $x_i$ too, but its term is $\frac{2}{n}\sum_j (x_j - \bar{x}) \cdot \left(-\frac{1}{n}\right) = 0$.)
#
# Write `variance_backward(x, dout, axis)`: `x` of any shape, `axis` one integer (possibly negative), `dout` of the shape of `x.var(axis=axis)`, i.e. **without** that axis. Return `dx` shaped like `x`.
#
# *Hint:* `dout` has lost the reduced axis, so it does not broadcast against `x` as it should (when the shapes happen to fit, it silently lines up with the wrong axis); section 3 of the lesson shows the `sum` rule putting the axis back before broadcasting.
#
# *Checked:* five cases, including a square $(3, 3)$ input reduced over axis 1 and a 3-D input with a negative axis; the check names a dropped factor 2, a division by $n - 1$, a forgotten mean, a forgotten `dout` and a `dout` broadcast along the wrong axis.


# %% dlcourse={"points": 3, "task": "11.2"}
def variance_backward(x, dout, axis):
    """Gradient of x.var(axis=axis). x: any shape; dout: x's shape without axis.

    Returns dx shaped like x."""
    # Hint: the mean keeps its axis with keepdims=True.
    ### BEGIN SOLUTION
    n = x.shape[axis]
    centred = x - x.mean(axis=axis, keepdims=True)
    return np.expand_dims(dout, axis) * 2 * centred / n
    ### END SOLUTION


# %% dlcourse={"check": "11.2"}
check("11.2", variance_backward)

# %% [markdown]
# The same gradient from `dlcourse.autograd`, which knows nothing about variances: it only chains `mean`, `-`, `*` and `mean` again.

# %%
# NBVAL_CHECK_OUTPUT
x = rng.normal(size=(4, 3))
dout = rng.normal(size=3)
xt = Tensor(x, requires_grad=True)
centred = xt - xt.mean(axis=0, keepdims=True)
(centred * centred).mean(axis=0).backward(dout)
print("your rule equals autograd's:", np.allclose(variance_backward(x, dout, 0), xt.grad))


# %% [markdown]
# ### Task 11.3 — the order of the backward pass, as an engine counts it (2 points)
#
# `ag.topological_order` sorts the graph by a depth-first search, and `backward` walks the result in reverse. PyTorch's engine does not sort first: it **counts**, for every node, how many nodes use it, and visits a node as soon as all of its users have sent their gradient (its count has dropped to zero). Write that walk.
#
# The graph comes as plain data: `inputs` is a dict from each node's name to the list of the names it was computed from (a leaf has `[]`; a node that uses one input twice, like `a * a`, lists it twice), and `output` is the name of the result. Write `backward_order(inputs, output)` returning a list of names:
#
# - the output first, and every node the output depends on exactly once (and no other node);
# - each node only after **every** node that uses it.
#
# It must not change `inputs`, and must work on a graph thousands of operations deep (a recursive function would hit Python's recursion limit of about 1,000 calls).
#
# *Hint:* first collect the nodes reachable from the output (following inputs, with a list of nodes still to visit), counting for each how many times it is used by them; then repeatedly take a node whose count is zero and decrease the counts of its inputs.
#
# *Checked:* the lesson's graph, a graph where the output uses `x` directly and through three other nodes, a node used twice, a graph with nodes the output does not depend on, a random graph of 40 nodes and a chain of 3,000 operations. Any order that satisfies the two rules passes.


# %% dlcourse={"points": 2, "task": "11.3"}
def backward_order(inputs, output):
    """Names of the nodes output depends on, output first, each after all of its users.

    inputs: dict name -> list of input names; output: a name. Returns a list of names.
    """
    # Hint: users[name] = how many times name is an input of a node reachable from output.
    ### BEGIN SOLUTION
    users = {output: 0}
    to_visit = [output]
    while to_visit:
        node = to_visit.pop()
        for parent in inputs[node]:
            if parent not in users:
                users[parent] = 0
                to_visit.append(parent)
            users[parent] += 1
    order = []
    ready = [output]
    while ready:
        node = ready.pop()
        order.append(node)
        for parent in inputs[node]:
            users[parent] -= 1
            if users[parent] == 0:
                ready.append(parent)
    return order
    ### END SOLUTION


# %% dlcourse={"check": "11.3"}
check("11.3", backward_order)


# %% [markdown]
# Your order on the graph of an expression built with `dlcourse.autograd`, $L = \sum (a \cdot a + a \cdot b)$: the small helper turns the tensors' `inputs` into the plain dict your function takes.


# %%
# NBVAL_CHECK_OUTPUT
def as_plain_graph(output):
    """{name: [input names]} of the graph of a Tensor (nodes named by op and position)."""
    nodes = ag.topological_order(output)
    names = {id(t): t.name or f"{t.op}#{i}" for i, t in enumerate(nodes)}
    return {names[id(t)]: [names[id(p)] for p in t.inputs] for t in nodes}, names[id(output)]


a = Tensor(np.ones(3), requires_grad=True, name="a")
b = Tensor(np.ones(3), requires_grad=True, name="b")
graph, out_name = as_plain_graph((a * a + a * b).sum())
print(graph)
print(backward_order(graph, out_name))


# %% [markdown]
# ### Task 11.4 — a new operation: softmax and its backward rule (3 points)
#
# The lesson's networks never needed softmax as an operation of its own (`cross_entropy` works with log-softmax), but attention layers and many other models do. For one row, $y_j = e^{x_j} / \sum_k e^{x_k}$ depends on **every** $x_k$:
#
# $$\frac{\partial y_j}{\partial x_k} = y_j\,(\delta_{jk} - y_k), \qquad\text{so}\qquad \frac{\partial L}{\partial x_k} = \sum_j \text{dout}_j\, y_j\,(\delta_{jk} - y_k) = y_k \Big(\text{dout}_k - \sum_j \text{dout}_j\, y_j\Big).$$
#
# Write `softmax_backward(y, dout)` for a batch: `y` the softmax output $(N, K)$ (each row sums to 1) and `dout` the upstream gradient $(N, K)$; return `dx` $(N, K)$, without building the $K \times K$ Jacobian.
#
# *Hint:* the sum $\sum_j \text{dout}_j y_j$ is one number per row; keep it as a column so that it broadcasts (compare section 3 of the lesson).
#
# *Checked:* batches of shapes (4, 5), (1, 6), (5, 5) and (3, 2) against float64 references; the check names the diagonal-only derivative $y(1 - y)$, a missing factor $y$, a flipped sign, a sum over the wrong axis and log-softmax's rule.


# %% dlcourse={"points": 3, "task": "11.4"}
def softmax_backward(y, dout):
    """dL/dx of y = softmax(x) row by row. y, dout: (N, K); returns dx: (N, K)."""
    # Hint: the sum over j is one number per row, kept as a column (N, 1).
    ### BEGIN SOLUTION
    return y * (dout - (dout * y).sum(axis=-1, keepdims=True))
    ### END SOLUTION


# %% dlcourse={"check": "11.4"}
check("11.4", softmax_backward)


# %% [markdown]
# Now plug it into `dlcourse.autograd`. A new operation is its forward result plus its backward rule: `Tensor.from_op(data, inputs, backward_rule, op)`. Your softmax joins the others, and its gradient inside a bigger expression is checked against central differences like every operation of the lesson:


# %%
# NBVAL_CHECK_OUTPUT
def softmax(x):
    """Softmax of a Tensor along the last axis, as a new autograd operation."""
    e = np.exp(x.data - x.data.max(axis=-1, keepdims=True))
    y = e / e.sum(axis=-1, keepdims=True)
    return Tensor.from_op(y, (x,), lambda dout: (softmax_backward(y, dout),), "softmax")


scores = rng.normal(size=(3, 4))
weights = rng.normal(size=(3, 4))


def loss_of(s):
    """L = Σ softmax(s)² · weights, a loss in which softmax is one step of several."""
    y = softmax(s)
    return ((y * y) * weights).sum()


s = Tensor(scores.copy(), requires_grad=True)
loss_of(s).backward()
numeric = numerical_gradient(lambda v: loss_of(Tensor(v)).item(), scores.copy())
print(
    "softmax inside autograd matches the numerical gradient:",
    relative_error(s.grad, numeric).max() < 1e-7,
)

# %% [markdown] dlcourse={"manual": true, "points": 1, "task": "11.5"}
# ### Task 11.5 — forward or reverse mode? (1 point, written)
#
# A simulation computes 1,000 outputs (say, the temperature at 1,000 points) from 3 inputs (three material constants), and you need every derivative of every output with respect to every input. Training a network needs the derivatives of 1 output (the loss) with respect to 100,000 parameters. In three to five sentences: which mode of automatic differentiation suits each case, and roughly how many passes through the computation does each mode need in each case?
#
# ### BEGIN SOLUTION
# Forward mode carries the derivatives with respect to one input along the forward pass, so one pass gives the derivatives of all outputs with respect to that input; reverse mode carries the derivatives of one output back from the end, so one backward pass gives that output's derivatives with respect to all inputs. For the simulation, forward mode needs 3 passes (one per input) and reverse mode 1,000 (one per output), so forward mode wins. For the network it is the other way round: reverse mode needs one forward and one backward pass for the single loss, while forward mode would need 100,000 passes, one per parameter, like the numerical gradient. That is why every deep-learning framework is built around reverse mode.
# ### END SOLUTION

# %% [markdown]
# ## Done
#
# You have written the backward rules of a batched product and of a variance, the dependency-counting walk of a real autograd engine, and a new operation that works inside `dlcourse.autograd` like the built-in ones. With that, every gradient in this course has been derived twice: once by you, by hand, and once by a machine you understand.
