"""The assignment 11 checkers pass the reference solutions, fail the stubs and name the
typical mistakes of lesson 11; other correct formulations pass."""

from __future__ import annotations

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

# ----------------------------------------------------------------------------- references
# The model answers of solutions/11_autograd.ipynb, loaded from the notebook.

ANSWERS = model_answers("11_autograd")
matmul_backward = ANSWERS["matmul_backward"]
variance_backward = ANSWERS["variance_backward"]
backward_order = ANSWERS["backward_order"]
softmax_backward = ANSWERS["softmax_backward"]


REFERENCES = {
    "11.1": matmul_backward,
    "11.2": variance_backward,
    "11.3": backward_order,
    "11.4": softmax_backward,
}


@pytest.mark.parametrize("task", sorted(REFERENCES))
def test_reference_solution_passes(task):
    assert_passes(task, REFERENCES[task])


@pytest.mark.parametrize("task", sorted(REFERENCES))
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


# ----------------------------------------------------------------------------- 11.1


def test_matmul_with_dot_T_on_a_batch_is_named():
    def wrong(a, b, dout):
        da, db = dout @ b.T, a.T @ dout
        return (da.sum(axis=0) if da.ndim > a.ndim else da), (
            db.sum(axis=0) if db.ndim > b.ndim else db
        )

    assert ".T reverses *all* axes" in failed("11.1", wrong)


def test_matmul_shared_gradient_not_summed_is_named():
    def wrong(a, b, dout):
        return dout @ np.swapaxes(b, -1, -2), np.swapaxes(a, -1, -2) @ dout

    assert "its gradient is the sum over the batch axis" in failed("11.1", wrong)


def test_matmul_shared_gradient_averaged_is_named():
    def wrong(a, b, dout):
        da = dout @ np.swapaxes(b, -1, -2)
        db = np.swapaxes(a, -1, -2) @ dout
        return (da.mean(axis=0) if da.ndim > a.ndim else da), (
            db.mean(axis=0) if db.ndim > b.ndim else db
        )

    assert "is the mean over the batch" in failed("11.1", wrong)


def test_matmul_swapped_pair_is_named():
    def wrong(a, b, dout):
        return matmul_backward(a, b, dout)[::-1]

    assert "you returned (db, da)" in failed("11.1", wrong)


def test_matmul_wrong_order_of_factors_is_named():
    def wrong(a, b, dout):
        da, db = matmul_backward(a, b, dout)
        return da, db * 1.5

    assert "db is off" in failed("11.1", wrong)


def test_matmul_einsum_variant_passes():
    def einsum(a, b, dout):
        da = np.einsum("...nm,...km->...nk", dout, b)
        db = np.einsum("...nk,...nm->...km", a, dout)
        while da.ndim > a.ndim:
            da = da.sum(axis=0)
        while db.ndim > b.ndim:
            db = db.sum(axis=0)
        return [da, db]

    assert_passes("11.1", einsum)


def test_matmul_with_autograd_unbroadcast_passes():
    from dlcourse.autograd import unbroadcast

    def variant(a, b, dout):
        return (
            unbroadcast(dout @ np.swapaxes(b, -1, -2), a.shape),
            unbroadcast(np.swapaxes(a, -1, -2) @ dout, b.shape),
        )

    assert_passes("11.1", variant)


# ----------------------------------------------------------------------------- 11.2


def test_variance_without_the_factor_two_is_named():
    assert "you dropped the 2" in failed("11.2", lambda x, d, ax: variance_backward(x, d, ax) / 2)


def test_variance_with_n_minus_one_is_named():
    def wrong(x, dout, axis):
        n = x.shape[axis]
        return variance_backward(x, dout, axis) * n / (n - 1)

    assert "not by n − 1" in failed("11.2", wrong)


def test_variance_without_the_mean_is_named():
    def wrong(x, dout, axis):
        return np.expand_dims(dout, axis) * 2 * x / x.shape[axis]

    assert "subtract the mean" in failed("11.2", wrong)


def test_variance_without_dout_is_named():
    def wrong(x, dout, axis):
        return 2 * (x - x.mean(axis=axis, keepdims=True)) / x.shape[axis]

    assert "multiply by dout" in failed("11.2", wrong)


def test_variance_with_dout_not_expanded_is_named():
    def wrong(x, dout, axis):
        return dout * 2 * (x - x.mean(axis=axis, keepdims=True)) / x.shape[axis]

    assert "np.expand_dims(dout, axis)" in failed("11.2", wrong)


def test_variance_misaligned_only_on_a_square_input_is_named():
    def wrong(x, dout, axis):  # right for every non-square case, wrong on (3, 3), axis 1
        if x.shape[0] == x.shape[-1] == 3 and x.ndim == 2:
            return dout * 2 * (x - x.mean(axis=axis, keepdims=True)) / x.shape[axis]
        return variance_backward(x, dout, axis)

    assert "broadcast along the wrong axis" in failed("11.2", wrong)


def test_variance_divided_by_size_is_named():
    def wrong(x, dout, axis):
        return variance_backward(x, dout, axis) * x.shape[axis] / x.size

    assert "not x.size" in failed("11.2", wrong)


def test_variance_through_the_full_chain_rule_passes():
    def chain(x, dout, axis):  # d var = d mean((x - m)²), with the mean's own gradient kept
        n = x.shape[axis]
        d = np.expand_dims(dout, axis)
        centred = x - x.mean(axis=axis, keepdims=True)
        dcentred = d * 2 * centred / n
        return dcentred - dcentred.sum(axis=axis, keepdims=True) / n

    assert_passes("11.2", chain)


# ----------------------------------------------------------------------------- 11.3


def test_breadth_first_order_is_named():
    def bfs(inputs, output):
        order, seen, queue = [], {output}, [output]
        while queue:
            node = queue.pop(0)
            order.append(node)
            for parent in inputs[node]:
                if parent not in seen:
                    seen.add(parent)
                    queue.append(parent)
        return order

    assert "comes before" in failed("11.3", bfs)


def test_forward_order_is_named():
    def forward(inputs, output):
        return backward_order(inputs, output)[::-1]

    assert "that is the forward order" in failed("11.3", forward)


def test_recursion_on_a_deep_graph_is_named():
    def recursive(inputs, output):
        order, done = [], set()

        def visit(node):
            if node in done:
                return
            done.add(node)
            for parent in inputs[node]:
                visit(parent)
            order.append(node)

        visit(output)
        return order[::-1]

    assert "RecursionError" in failed("11.3", recursive)


def test_counting_every_user_in_the_dict_is_named():
    def all_users(inputs, output):
        users = dict.fromkeys(inputs, 0)
        for parents in inputs.values():
            for parent in parents:
                users[parent] += 1
        order, ready = [], [output]
        while ready:
            node = ready.pop()
            order.append(node)
            for parent in inputs[node]:
                users[parent] -= 1
                if users[parent] == 0:
                    ready.append(parent)
        return order

    assert "is missing" in failed("11.3", all_users)


def test_visiting_a_reused_node_twice_is_named():
    def no_seen_set(inputs, output):
        order, stack = [], [output]
        while stack:
            node = stack.pop()
            order.append(node)
            stack.extend(inputs[node])
        return order

    assert "appears more than once" in failed("11.3", no_seen_set)


def test_including_every_node_of_the_dict_is_named():
    def everything(inputs, output):
        order = backward_order(inputs, output)
        return order + [n for n in inputs if n not in order]

    assert "the output does not depend on it" in failed("11.3", everything)


def test_changing_the_graph_is_named():
    def destructive(inputs, output):
        order = backward_order(inputs, output)
        inputs.clear()
        return order

    assert "changed the graph" in failed("11.3", destructive)


def test_reversed_iterative_depth_first_order_passes():
    def dfs(inputs, output):
        order, done, stack = [], set(), [(output, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
            elif node not in done:
                done.add(node)
                stack.append((node, True))
                stack.extend((p, False) for p in inputs[node] if p not in done)
        return order[::-1]

    assert_passes("11.3", dfs)


def test_kahn_with_a_queue_passes():
    from collections import deque

    def kahn(inputs, output):
        order = backward_order(inputs, output)  # find the reachable set and the users
        reachable = set(order)
        users = dict.fromkeys(reachable, 0)
        for node in reachable:
            for parent in inputs[node]:
                users[parent] += 1
        result, queue = [], deque([output])
        while queue:
            node = queue.popleft()
            result.append(node)
            for parent in inputs[node]:
                users[parent] -= 1
                if users[parent] == 0:
                    queue.append(parent)
        return tuple(result)

    assert_passes("11.3", kahn)


# ----------------------------------------------------------------------------- 11.4


def test_diagonal_only_softmax_derivative_is_named():
    assert "only the diagonal of the Jacobian" in failed("11.4", lambda y, d: d * y * (1 - y))


def test_missing_factor_y_is_named():
    def wrong(y, dout):
        return dout - (dout * y).sum(axis=-1, keepdims=True)

    assert "multiply by y" in failed("11.4", wrong)


def test_flipped_sign_is_named():
    assert "the sign is flipped" in failed("11.4", lambda y, d: -softmax_backward(y, d))


def test_sum_over_the_batch_axis_is_named():
    def wrong(y, dout):
        return y * (dout - (dout * y).sum(axis=0, keepdims=True))

    assert "the sum runs over the batch" in failed("11.4", wrong)


def test_log_softmax_rule_is_named():
    def wrong(y, dout):
        return dout - y * dout.sum(axis=-1, keepdims=True)

    assert "backward rule of log-softmax" in failed("11.4", wrong)


def test_sum_without_keepdims_is_named():
    def wrong(y, dout):
        return y * (dout - (dout * y).sum(axis=-1))

    message = failed("11.4", wrong)
    assert "keepdims=True" in message or "is off" in message


def test_changing_dout_in_place_is_named():
    def in_place(y, dout):
        dout -= (dout * y).sum(axis=-1, keepdims=True)
        dout *= y
        return dout

    assert "changed its argument 2 in place" in failed("11.4", in_place)


def test_explicit_jacobian_variant_passes():
    def jacobian(y, dout):
        jac = np.einsum("nj,jk->njk", y, np.eye(y.shape[1])) - np.einsum("nj,nk->njk", y, y)
        return np.einsum("nj,njk->nk", dout, jac)

    assert_passes("11.4", jacobian)
