"""dlcourse.autograd: every operation against the numerical gradient, whole networks
against the hand-written layers of lessons 05 and 07."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from dlcourse import autograd as ag
from dlcourse.convnets import simple_convnet
from dlcourse.gradients import numerical_gradient, relative_error
from dlcourse.models import mlp

Op = Callable[..., ag.Tensor]


def check_against_numerical(op: Op, *arrays: np.ndarray, tol: float = 1e-7) -> None:
    """op(*tensors) -> Tensor; backward of Σ op · dout matches central differences."""
    arrays = tuple(np.array(a, dtype=np.float64) for a in arrays)
    tensors = [ag.Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = op(*tensors)
    dout = np.random.default_rng(99).standard_normal(out.shape)
    (out * dout).sum().backward()
    for i, (tensor, array) in enumerate(zip(tensors, arrays, strict=True)):

        def f(_: np.ndarray, i: int = i) -> float:
            leaves = [ag.Tensor(a) for a in arrays]
            return float(np.sum(op(*leaves).data * dout))

        numeric = numerical_gradient(f, array, h=1e-5)
        assert tensor.grad is not None, f"input {i} got no gradient"
        assert tensor.grad.shape == array.shape
        assert relative_error(tensor.grad, numeric).max() < tol, f"input {i}"


rng = np.random.default_rng(0)


def normal(*shape: int) -> np.ndarray:
    return rng.standard_normal(shape)


WEIGHTS = normal(4, 2, 3)  # a fixed array to multiply by, so the loss mixes the entries


def positive(*shape: int) -> np.ndarray:
    return rng.uniform(0.5, 2.0, shape)


@pytest.mark.parametrize(
    ("name", "op", "shapes"),
    [
        ("add", lambda a, b: a + b, [(3, 4), (3, 4)]),
        ("add broadcast row", lambda a, b: a + b, [(3, 4), (4,)]),
        ("add broadcast column", lambda a, b: a + b, [(3, 4), (3, 1)]),
        ("add broadcast both", lambda a, b: a + b, [(3, 1), (1, 4)]),
        ("add broadcast 3-D", lambda a, b: a + b, [(2, 3, 4), (3, 1)]),
        ("sub broadcast", lambda a, b: a - b, [(2, 5), (5,)]),
        ("mul broadcast", lambda a, b: a * b, [(4, 3), (1, 3)]),
        ("mul scalar tensor", lambda a, b: a * b, [(4, 3), ()]),
        ("neg", lambda a: -a, [(3, 2)]),
        ("matmul", lambda a, b: a @ b, [(3, 5), (5, 2)]),
        ("sum all", lambda a: a.sum(), [(3, 4)]),
        ("sum axis 0", lambda a: a.sum(axis=0), [(3, 4)]),
        ("sum axis -1 keepdims", lambda a: a.sum(axis=-1, keepdims=True), [(2, 3, 4)]),
        ("sum two axes", lambda a: a.sum(axis=(0, 2)), [(2, 3, 4)]),
        ("mean axis 1", lambda a: a.mean(axis=1), [(3, 5)]),
        ("mean all", lambda a: a.mean(), [(3, 5)]),
        ("max axis 1", lambda a: a.max(axis=1), [(4, 6)]),
        ("max axis 0 keepdims", lambda a: a.max(axis=0, keepdims=True), [(5, 3)]),
        ("max all", lambda a: a.max(), [(3, 4)]),
        ("reshape", lambda a: a.reshape(4, 3) * np.arange(12.0).reshape(4, 3), [(2, 6)]),
        ("transpose", lambda a: a.transpose(2, 0, 1) * WEIGHTS, [(2, 3, 4)]),
        ("T", lambda a: a.T @ a, [(3, 2)]),
        ("exp", ag.exp, [(3, 4)]),
        ("relu", ag.relu, [(3, 4)]),
        ("sigmoid", ag.sigmoid, [(3, 4)]),
        ("tanh", ag.tanh, [(3, 4)]),
        ("log_softmax", ag.log_softmax, [(3, 5)]),
        ("radd rmul rsub", lambda a: 2.0 - (3.0 * a + 1.0), [(2, 3)]),
        ("ndarray on the left", lambda a: np.ones((2, 3)) * a + np.ones(3), [(2, 3)]),
        ("reused input", lambda a: a * a + a, [(3, 3)]),
    ],
)
def test_operation_matches_numerical_gradient(name, op, shapes):
    check_against_numerical(op, *[normal(*s) for s in shapes])


def test_log_and_division_match_numerical_gradient():
    check_against_numerical(ag.log, positive(3, 4))
    check_against_numerical(lambda a, b: a / b, normal(3, 4), positive(4))
    check_against_numerical(lambda a: 1.0 / a, positive(2, 3))


def test_cross_entropy_matches_numerical_gradient_for_labels_and_one_hot():
    labels = np.array([2, 0, 3, 3])
    check_against_numerical(lambda s: ag.cross_entropy(s, labels), normal(4, 5))
    check_against_numerical(lambda s: ag.cross_entropy(s, np.eye(5)[labels]), normal(4, 5))


def test_cross_entropy_gradient_is_softmax_minus_target_over_n():
    scores = ag.Tensor(normal(6, 4) * 300, requires_grad=True)  # large: log-softmax is stable
    labels = np.array([0, 1, 2, 3, 1, 0])
    ag.cross_entropy(scores, labels).backward()
    s = scores.data - scores.data.max(axis=1, keepdims=True)
    y = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scores.grad, (y - np.eye(4)[labels]) / 6, atol=1e-15)


@pytest.mark.parametrize(("stride", "pad"), [(1, 0), (1, 1), (2, 1)])
def test_conv2d_and_im2col_match_numerical_gradient(stride, pad):
    check_against_numerical(
        lambda x, W, b: ag.conv2d(x, W, b, stride, pad),
        normal(2, 2, 5, 5),
        normal(3, 2, 3, 3),
        normal(3),
    )


def test_max_pool2d_matches_numerical_gradient():
    x = rng.permutation(2 * 3 * 4 * 6).reshape(2, 3, 4, 6) / 10.0  # distinct: no ties
    check_against_numerical(ag.max_pool2d, x)


def test_overlapping_max_pool2d_matches_numerical_gradient():
    x = rng.permutation(2 * 2 * 5 * 5).reshape(2, 2, 5, 5) / 10.0
    check_against_numerical(lambda t: ag.max_pool2d(t, size=3, stride=1), x)


def test_max_pool2d_matches_the_layer():
    from dlcourse.conv import MaxPool2D

    x = rng.permutation(2 * 3 * 4 * 4).reshape(2, 3, 4, 4) / 10.0
    dout = normal(2, 3, 2, 2)
    layer = MaxPool2D(2)
    out = layer.forward(x)
    tensor = ag.Tensor(x, requires_grad=True)
    result = ag.max_pool2d(tensor)
    result.backward(dout)
    np.testing.assert_array_equal(result.data, out)
    np.testing.assert_array_equal(tensor.grad, layer.backward(dout))


def test_max_sends_the_gradient_to_the_first_of_tied_maxima():
    x = ag.Tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]), requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_array_equal(x.grad, [[0, 1, 0], [1, 0, 0]])


def test_bias_gradient_is_the_sum_over_the_batch():
    x, dout = normal(5, 3), normal(5, 3)
    b = ag.Tensor(np.zeros(3), requires_grad=True)
    (ag.Tensor(x) + b).backward(dout)
    np.testing.assert_allclose(b.grad, dout.sum(axis=0))


def test_unbroadcast_sums_added_and_stretched_axes():
    grad = np.ones((2, 3, 4))
    assert ag.unbroadcast(grad, (4,)).tolist() == [6.0] * 4
    assert ag.unbroadcast(grad, (3, 1)).shape == (3, 1)
    assert ag.unbroadcast(grad, (3, 1))[0, 0] == 8.0
    assert ag.unbroadcast(grad, ()).item() == 24.0


def test_gradients_accumulate_over_backward_calls_until_zero_grad():
    w = ag.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (w * 3.0).sum().backward()
    (w * 3.0).sum().backward()
    np.testing.assert_array_equal(w.grad, [6.0, 6.0])
    w.zero_grad()
    assert w.grad is None


def test_no_gradient_for_data_and_detached_tensors():
    x = ag.Tensor(normal(2, 3))
    w = ag.Tensor(normal(3, 2), requires_grad=True)
    out = (x @ w).detach() * w.sum()
    out.sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad, np.full((3, 2), (x.data @ w.data).sum()))


def test_a_graph_deeper_than_the_recursion_limit_works():
    w = ag.Tensor(np.array(1.0), requires_grad=True)
    y = w
    for _ in range(5000):
        y = y * 1.0001
    y.backward()
    assert w.grad == pytest.approx(1.0001**5000)


def test_topological_order_puts_every_tensor_after_its_inputs_once():
    a = ag.Tensor(np.ones(2), requires_grad=True)
    b = a * 2.0
    c = ag.exp(b) + b * a
    order = ag.topological_order(c)
    position = {id(t): i for i, t in enumerate(order)}
    assert len(position) == len(order)
    for t in order:
        assert all(position[id(p)] < position[id(t)] for p in t.inputs)
    assert order[-1] is c


def test_float32_stays_float32():
    x = ag.Tensor(normal(4, 3).astype(np.float32))
    w = ag.Tensor(normal(3, 2).astype(np.float32), requires_grad=True)
    loss = ag.cross_entropy(ag.sigmoid(x @ w * 0.5 + 1.0), np.array([0, 1, 1, 0]))
    loss.backward()
    assert loss.dtype == np.float32 and w.grad.dtype == np.float32


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match=r"\(N, K\) @ \(K, M\)"):
        ag.Tensor(np.ones((2, 3))) @ ag.Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="one-element result"):
        ag.Tensor(np.ones(3), requires_grad=True).backward()
    with pytest.raises(ValueError, match="targets of shape"):
        ag.cross_entropy(ag.Tensor(np.ones((2, 3))), np.ones((2, 4)))


def test_a_new_operation_from_its_backward_rule():
    def square(x: ag.Tensor) -> ag.Tensor:
        return ag.Tensor.from_op(x.data**2, (x,), lambda dout: (2 * x.data * dout,), "square")

    check_against_numerical(square, normal(3, 2))
    bad = ag.Tensor.from_op(
        np.ones(3), (ag.Tensor(np.ones(2), requires_grad=True),), lambda dout: (dout,), "bad"
    )
    with pytest.raises(ValueError, match="must have its input's shape"):
        bad.sum().backward()


# ----------------------------------------------------------------------------- whole networks


def assert_same_loss_and_gradients(model, x, labels):
    want_loss, want = model.loss_and_gradient(x, labels)
    want = {name: g.copy() for name, g in want.items()}
    loss, grads = ag.loss_and_gradient(model, x, labels)
    assert abs(loss - want_loss) <= 1e-10 * abs(want_loss)
    assert grads.keys() == want.keys()
    for name in want:
        scale = np.abs(want[name]).max()
        assert np.abs(grads[name] - want[name]).max() <= 1e-10 * scale, name


def test_lesson05_mlp_gives_the_layers_loss_and_gradients():
    model = mlp((12, 7, 6, 5), rng=1, dtype=np.float64)
    x, labels = normal(8, 12), rng.integers(0, 5, 8)
    assert_same_loss_and_gradients(model, x, labels)
    sigmoid_model = mlp((12, 7, 5), activation="sigmoid", rng=2, dtype=np.float64)
    assert_same_loss_and_gradients(sigmoid_model, x, np.eye(5)[labels])


def test_simple_convnet_gives_the_layers_loss_and_gradients():
    model = simple_convnet(
        (2, 10, 10), filters=3, filter_size=3, hidden=6, classes=4, rng=3, dtype=np.float64
    )
    x, labels = normal(5, 2, 10, 10), rng.integers(0, 4, 5)
    assert_same_loss_and_gradients(model, x, labels)


def test_autograd_sequential_trains_like_the_hand_written_model():
    from dlcourse.optimizers import SGD

    hand = mlp((12, 7, 5), rng=4, dtype=np.float64)
    auto = ag.AutogradSequential(mlp((12, 7, 5), rng=4, dtype=np.float64).layers.values())
    x, labels = normal(20, 12), rng.integers(0, 5, 20)
    for model in (hand, auto):
        opt = SGD(lr=0.1)
        for _ in range(5):
            opt.update(model.params, model.loss_and_gradient(x, labels)[1])
    for name, p in hand.params.items():
        np.testing.assert_allclose(auto.params[name], p, rtol=1e-12, atol=1e-14)


def test_unsupported_layer_is_named():
    model = mlp((6, 4, 3), dropout=0.5, rng=0, dtype=np.float64)
    with pytest.raises(ValueError, match="dropout1"):
        ag.loss_and_gradient(model, normal(2, 6), np.array([0, 1]))


def test_autograd_sequential_runs_in_the_training_loop():
    from dlcourse.optimizers import SGD
    from dlcourse.training import train

    model = ag.AutogradSequential(mlp((12, 8, 3), rng=5).layers.values())
    x = normal(60, 12).astype(np.float32)
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    history = train(model, SGD(lr=0.5), x, labels, epochs=15, rng=0, progress=False)
    assert history.train_loss[-1] < history.train_loss[0]
    assert model.params["affine1.W"].dtype == np.float32


def test_gradients_are_not_shared_between_tensors():
    a = ag.Tensor(np.ones(3), requires_grad=True)
    b = ag.Tensor(np.ones(3), requires_grad=True)
    out = a + b
    dout = np.arange(3.0)
    out.backward(dout)
    a.grad += 100  # changing one gradient in place leaves the others alone
    np.testing.assert_array_equal(b.grad, dout)
    np.testing.assert_array_equal(out.grad, dout)
