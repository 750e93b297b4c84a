"""The assignment 07 checkers pass the reference solutions and catch typical mistakes."""

from __future__ import annotations

import time

import numpy as np
import pytest
from checker_testing import assert_not_implemented, assert_passes, failed, model_answers, stub

from dlcourse.checks import lesson07
from dlcourse.convnets import simple_convnet
from dlcourse.optimizers import Adam

# ----------------------------------------------------------------------------- references
# The model answers of solutions/07_cnn_training.ipynb, loaded from the notebook.

ANSWERS = model_answers("07_cnn_training")
conv_input_gradient = ANSWERS["conv_input_gradient"]
max_pool_backward = ANSWERS["max_pool_backward"]
conv_param_gradients = ANSWERS["conv_param_gradients"]
col2im_batch = ANSWERS["col2im_batch"]


def input_gradient_by_positions(dout, W, x_shape, stride=1, pad=0, add=True):
    """Another correct formulation: a loop over output positions (add=False: the mistake)."""
    n, c, h, w = x_shape
    _, _, fh, fw = W.shape
    dx = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
    for p in range(dout.shape[2]):
        for q in range(dout.shape[3]):
            patch = np.tensordot(dout[:, :, p, q], W, axes=(1, 0))  # (N, C, FH, FW)
            rows = slice(p * stride, p * stride + fh)
            cols = slice(q * stride, q * stride + fw)
            if add:
                dx[:, :, rows, cols] += patch
            else:
                dx[:, :, rows, cols] = patch
    return dx[:, :, pad : pad + h, pad : pad + w]


# ----------------------------------------------------------------------------- pass / stub


@pytest.mark.parametrize(
    ("task", "func"),
    [
        ("7.1", conv_input_gradient),
        ("7.2", max_pool_backward),
        ("7.3", conv_param_gradients),
        ("7.4", col2im_batch),
    ],
)
def test_reference_solution_passes(task, func):
    assert_passes(task, func)


@pytest.mark.parametrize("task", ["7.1", "7.2", "7.3", "7.4", "7.6", "7.7"])
def test_stub_fails_as_not_implemented(task):
    assert_not_implemented(task, stub)


# ----------------------------------------------------------------------------- 7.1


def test_flipped_filter_in_input_gradient_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        return conv_input_gradient(dout, W[:, :, ::-1, ::-1], x_shape, stride, pad)

    assert "the filter is flipped" in failed("7.1", wrong)


def test_overwriting_overlapping_patches_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        return input_gradient_by_positions(dout, W, x_shape, stride, pad, add=False)

    assert "add (+=) instead of assigning (=)" in failed("7.1", wrong)


def test_ignored_stride_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        n, c, h, w = x_shape
        wide = (n, c, h + 2 * stride * dout.shape[2], w + 2 * stride * dout.shape[3])
        return conv_input_gradient(dout, W, wide, 1, pad)[:, :, :h, :w]

    assert "with stride 2 the patch of output position" in failed("7.1", wrong)


def test_padding_left_on_is_named():
    def wrong(dout, W, x_shape, stride=1, pad=0):
        n, c, h, w = x_shape
        return conv_input_gradient(dout, W, (n, c, h + 2 * pad, w + 2 * pad), stride, 0)

    assert "cut the padding off" in failed("7.1", wrong)


def test_input_gradient_by_positions_passes():
    assert_passes("7.1", input_gradient_by_positions)


# ----------------------------------------------------------------------------- 7.2


def route_by_offsets(dout, switches, x_shape, pool_h, pool_w, step, code, add=True):
    """The task's loop over offsets, with a mistake: code(u, v) the switch compared for offset
    (u, v), step the distance between windows, add=False assigning instead of adding."""
    dx = np.zeros(x_shape)
    h_out, w_out = dout.shape[2:]
    for u in range(pool_h):
        for v in range(pool_w):
            rows = slice(u, u + step * (h_out - 1) + 1, step)
            cols = slice(v, v + step * (w_out - 1) + 1, step)
            if add:
                dx[:, :, rows, cols] += dout * (switches == code(u, v))
            else:
                dx[:, :, rows, cols] = dout * (switches == code(u, v))
    return dx


def test_pool_backward_without_any_loop_passes():
    def scatter(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        n, c, i, j = np.indices(dout.shape)
        u, v = np.divmod(switches, pool_w)
        dx = np.zeros(x_shape, dtype=np.float32)  # another dtype, still floats
        np.add.at(dx, (n, c, i * stride + u, j * stride + v), dout)
        return dx

    assert_passes("7.2", scatter)


def test_assigning_where_windows_overlap_is_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        code = lambda u, v: u * pool_w + v  # noqa: E731
        return route_by_offsets(dout, switches, x_shape, pool_h, pool_w, stride, code, add=False)

    message = failed("7.2", wrong)
    assert "the windows overlap" in message and "add (+=)" in message


def test_switches_decoded_with_pool_h_are_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        code = lambda u, v: u * pool_h + v  # noqa: E731
        return route_by_offsets(dout, switches, x_shape, pool_h, pool_w, stride, code)

    assert "numbered u·pool_h + v" in failed("7.2", wrong)


def test_switches_read_column_by_column_are_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        code = lambda u, v: v * pool_h + u  # noqa: E731
        return route_by_offsets(dout, switches, x_shape, pool_h, pool_w, stride, code)

    assert "read column by column" in failed("7.2", wrong)


def test_ignored_pool_stride_is_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        code = lambda u, v: u * pool_w + v  # noqa: E731
        return route_by_offsets(dout, switches, x_shape, pool_h, pool_w, 1, code)

    assert "with stride 2 window (i, j) starts at (i·2, j·2)" in failed("7.2", wrong)


def test_pool_slices_running_on_to_the_border_are_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        dx = np.zeros(x_shape)
        for u in range(pool_h):
            for v in range(pool_w):
                dx[:, :, u::stride, v::stride] += dout * (switches == u * pool_w + v)
        return dx

    message = failed("7.2", wrong)
    assert "your code raised ValueError" in message and "can pick one more" in message


def test_returning_the_pooled_shape_is_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        return sum(dout * (switches == k) for k in range(pool_h * pool_w))

    assert "that is the pooled shape of dout" in failed("7.2", wrong)


def test_changing_dout_in_place_is_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        dx = max_pool_backward(dout, switches, x_shape, pool_h, pool_w, stride)
        dout *= 0
        return dx

    assert "changed `dout` in place" in failed("7.2", wrong)


def test_integer_pool_gradient_is_named():
    def wrong(dout, switches, x_shape, pool_h=2, pool_w=2, stride=2):
        return max_pool_backward(dout, switches, x_shape, pool_h, pool_w, stride).astype(int)

    assert "returned integers" in failed("7.2", wrong)


# ----------------------------------------------------------------------------- 7.3


def param_gradients_by_offsets(x, dout, filter_shape, stride=1, pad=0, step=None, padded=True):
    """The model answer's method with a mistake: step the slices' step (stride ignored when
    1), padded=False forgetting np.pad."""
    step = stride if step is None else step
    _, _, fh, fw = filter_shape
    x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad))) if padded else x
    h_out, w_out = dout.shape[2:]
    dW = np.zeros(filter_shape)
    for u in range(fh):
        for v in range(fw):
            rows = slice(u, u + step * (h_out - 1) + 1, step)
            cols = slice(v, v + step * (w_out - 1) + 1, step)
            dW[:, :, u, v] = np.einsum("nfij,ncij->fc", dout, x_padded[:, :, rows, cols])
    return dW, dout.sum(axis=(0, 2, 3))


def test_param_gradients_with_im2col_pass():
    def with_im2col(x, dout, filter_shape, stride=1, pad=0):
        f, c, fh, fw = filter_shape
        x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        windows = np.lib.stride_tricks.sliding_window_view(x_padded, (fh, fw), axis=(2, 3))
        windows = windows[:, :, ::stride, ::stride]  # (N, C, H_out, W_out, fh, fw)
        cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(-1, c * fh * fw)
        dout_col = dout.transpose(0, 2, 3, 1).reshape(-1, f)
        return (dout_col.T @ cols).reshape(filter_shape), dout_col.sum(axis=0)

    assert_passes("7.3", with_im2col)


def test_param_gradients_with_keywords_in_another_order_pass():
    def reordered(x, dout, filter_shape, pad=0, stride=1):
        return conv_param_gradients(x, dout, filter_shape, stride=stride, pad=pad)

    assert_passes("7.3", reordered)


def test_forgotten_padding_is_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        return param_gradients_by_offsets(x, dout, filter_shape, stride, pad, padded=False)

    message = failed("7.3", wrong)
    assert "did you pad x first" in message and "your code raised ValueError" in message


def test_conv_slices_running_on_to_the_border_are_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        x_padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        dW = np.zeros(filter_shape)
        for u in range(filter_shape[2]):
            for v in range(filter_shape[3]):
                window = x_padded[:, :, u::stride, v::stride]
                dW[:, :, u, v] = np.einsum("nfij,ncij->fc", dout, window)
        return dW, dout.sum(axis=(0, 2, 3))

    message = failed("7.3", wrong)
    assert "your code raised ValueError" in message and "can pick one more" in message


def test_ignored_conv_stride_is_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        return param_gradients_by_offsets(x, dout, filter_shape, stride, pad, step=1)

    assert "the patches were taken one pixel apart" in failed("7.3", wrong)


def test_flipped_filter_gradient_is_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        dW, db = conv_param_gradients(x, dout, filter_shape, stride, pad)
        return dW[:, :, ::-1, ::-1], db

    assert "the filter is flipped" in failed("7.3", wrong)


def test_filter_gradient_divided_by_n_is_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        dW, db = conv_param_gradients(x, dout, filter_shape, stride, pad)
        return dW / len(x), db

    assert "divided by N" in failed("7.3", wrong)


def test_channel_and_filter_axes_swapped_are_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        dW, db = conv_param_gradients(x, dout, filter_shape, stride, pad)
        return dW.transpose(1, 0, 2, 3), db

    assert "channels and filters swapped" in failed("7.3", wrong)


def test_bias_gradient_over_the_wrong_axes_is_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        dW, _ = conv_param_gradients(x, dout, filter_shape, stride, pad)
        return dW, dout.sum(axis=0)  # (F, H_out, W_out): one bias per feature-map pixel

    assert "sums dout over the samples and both spatial axes" in failed("7.3", wrong)


def test_bias_gradient_as_mean_is_named():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        dW, _ = conv_param_gradients(x, dout, filter_shape, stride, pad)
        return dW, dout.mean(axis=(0, 2, 3))

    assert "that is a mean" in failed("7.3", wrong)


def test_param_gradients_that_are_not_a_pair_say_what_came_back():
    def wrong(x, dout, filter_shape, stride=1, pad=0):
        return conv_param_gradients(x, dout, filter_shape, stride, pad)[0]

    assert "should return a pair (dW, db) but returned ndarray" in failed("7.3", wrong)


# ----------------------------------------------------------------------------- 7.4


def col2im_indices(x_shape, fh, fw, stride, pad):
    """The model answer's index arrays, broadcasting to (N, H_out, W_out, C, fh, fw)."""
    n, c, h, w = x_shape
    h_out = (h + 2 * pad - fh) // stride + 1
    w_out = (w + 2 * pad - fw) // stride + 1
    samples = np.arange(n).reshape(n, 1, 1, 1, 1, 1)
    channels = np.arange(c).reshape(c, 1, 1)
    rows = np.arange(h_out).reshape(h_out, 1, 1, 1, 1) * stride + np.arange(fh).reshape(fh, 1)
    cols = np.arange(w_out).reshape(w_out, 1, 1, 1) * stride + np.arange(fw)
    return (n, h_out, w_out, c), (samples, channels, rows, cols)


def test_col2im_with_bincount_passes():
    def with_bincount(dcols, x_shape, fh, fw, stride=1, pad=0):
        n, c, h, w = x_shape
        _sizes, index = col2im_indices(x_shape, fh, fw, stride, pad)
        padded_shape = (n, c, h + 2 * pad, w + 2 * pad)
        flat = np.ravel_multi_index(np.broadcast_arrays(*index), padded_shape)
        sums = np.bincount(
            flat.ravel(),
            weights=dcols.reshape(flat.shape).ravel(),
            minlength=int(np.prod(padded_shape)),
        )
        return sums.reshape(padded_shape)[:, :, pad : pad + h, pad : pad + w]

    assert_passes("7.4", with_bincount)


def test_col2im_check_sees_results_only_so_a_loop_passes_too():
    # The task forbids loops; the check cannot see them, and does not pretend to.
    def with_loops(dcols, x_shape, fh, fw, stride=1, pad=0):
        (n, h_out, w_out, c), _ = col2im_indices(x_shape, fh, fw, stride, pad)
        values = dcols.reshape(n, h_out, w_out, c, fh, fw)
        padded = np.zeros((n, c, x_shape[2] + 2 * pad, x_shape[3] + 2 * pad))
        for i in range(h_out):
            for j in range(w_out):
                padded[:, :, i * stride : i * stride + fh, j * stride : j * stride + fw] += values[
                    :, i, j
                ]
        return padded[:, :, pad : pad + x_shape[2], pad : pad + x_shape[3]]

    assert_passes("7.4", with_loops)


def test_fancy_index_plus_equals_is_named():
    def wrong(dcols, x_shape, fh, fw, stride=1, pad=0):
        n, c, h, w = x_shape
        sizes, index = col2im_indices(x_shape, fh, fw, stride, pad)
        padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
        padded[index] += dcols.reshape((*sizes, fh, fw))  # a repeated index adds only once
        return padded[:, :, pad : pad + h, pad : pad + w]

    message = failed("7.4", wrong)
    assert "adds a repeated index only once" in message and "np.add.at" in message


def test_col2im_overwriting_overlaps_is_named():
    def wrong(dcols, x_shape, fh, fw, stride=1, pad=0):
        n, c, h, w = x_shape
        sizes, index = col2im_indices(x_shape, fh, fw, stride, pad)
        padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad))
        padded[index] = dcols.reshape((*sizes, fh, fw))
        return padded[:, :, pad : pad + h, pad : pad + w]

    assert "and `=` overwrites" in failed("7.4", wrong)


def test_col2im_keeping_the_padding_is_named():
    def wrong(dcols, x_shape, fh, fw, stride=1, pad=0):
        n, c, h, w = x_shape
        return col2im_batch(dcols, (n, c, h + 2 * pad, w + 2 * pad), fh, fw, stride, 0)

    assert "cut the padding off" in failed("7.4", wrong)


def test_channel_last_columns_are_named():
    def wrong(dcols, x_shape, fh, fw, stride=1, pad=0):
        (n, h_out, w_out, c), _ = col2im_indices(x_shape, fh, fw, stride, pad)
        values = dcols.reshape(n, h_out, w_out, fh, fw, c).transpose(0, 1, 2, 5, 3, 4)
        return col2im_batch(values.reshape(dcols.shape), x_shape, fh, fw, stride, pad)

    assert "with the channel last" in failed("7.4", wrong)


def test_sample_last_rows_are_named():
    def wrong(dcols, x_shape, fh, fw, stride=1, pad=0):
        (n, h_out, w_out, c), _ = col2im_indices(x_shape, fh, fw, stride, pad)
        values = dcols.reshape(h_out, w_out, n, c * fh * fw).transpose(2, 0, 1, 3)
        return col2im_batch(values.reshape(dcols.shape), x_shape, fh, fw, stride, pad)

    assert "with the sample last" in failed("7.4", wrong)


def test_transposed_dcols_is_named():
    def wrong(dcols, x_shape, fh, fw, stride=1, pad=0):
        return col2im_batch(dcols.T.reshape(dcols.shape), x_shape, fh, fw, stride, pad)

    assert "dcols was read transposed" in failed("7.4", wrong)


def test_adjoint_identity_is_a_check_of_its_own(monkeypatch):
    monkeypatch.setattr(lesson07, "_COL2IM_CASES", ())  # only the identity is checked

    def wrong(dcols, x_shape, fh, fw, stride=1, pad=0):
        return col2im_batch(dcols[::-1], x_shape, fh, fw, stride, pad)  # rows in reverse

    assert "is not the transpose of im2col" in failed("7.4", wrong)


# ----------------------------------------------------------------------------- 7.6 and 7.7


def sanity_checks(x, labels, seed, max_steps=300, report_after=False, expected=None):
    model = simple_convnet(rng=seed)
    initial_loss = float(model.loss(x, labels))
    optimizer = Adam(lr=0.001)
    steps = 0
    while model.accuracy(x, labels) < 1.0 and steps < max_steps:
        model.loss_and_gradient(x, labels)
        optimizer.update(model.params, model.grads)
        steps += 1
    if report_after:
        initial_loss = float(model.loss(x, labels))  # the mistake: measured after training
    expected_loss = float(np.log(10)) if expected is None else expected
    return model, {"initial_loss": initial_loss, "expected_loss": expected_loss, "steps": steps}


def train_cnn(x_train, labels_train, seconds, stop_on_time=True, lr=0.002):
    start = time.perf_counter()
    model = simple_convnet(filters=16, rng=0)
    optimizer = Adam(lr=lr)
    shuffle = np.random.default_rng(0)
    while time.perf_counter() - start < 0.9 * seconds or not stop_on_time:
        order = shuffle.permutation(len(x_train))
        for batch in np.array_split(order, max(1, len(order) // 100)):
            model.loss_and_gradient(x_train[batch], labels_train[batch])
            optimizer.update(model.params, model.grads)
            if stop_on_time and time.perf_counter() - start > 0.9 * seconds:
                break
        if not stop_on_time and time.perf_counter() - start > 2 * seconds:
            break  # the mistake: an epoch count that ignores the budget
    return model


def test_sanity_checks_model_answer_passes():
    assert_passes("7.6", sanity_checks)


def test_initial_loss_measured_after_training_is_named():
    def wrong(x, labels, seed, max_steps=300):
        return sanity_checks(x, labels, seed, max_steps, report_after=True)

    assert "the loss *after* training" in failed("7.6", wrong)


def test_expected_loss_with_log10_is_named():
    def wrong(x, labels, seed, max_steps=300):
        return sanity_checks(x, labels, seed, max_steps, expected=1.0)

    assert "natural log" in failed("7.6", wrong)


def test_stopping_before_the_digits_are_learned_is_named():
    def wrong(x, labels, seed, max_steps=300):
        return sanity_checks(x, labels, seed, max_steps=1)

    assert "learns 20 digits by heart" in failed("7.6", wrong)


def test_report_that_is_not_a_pair_says_what_came_back():
    def wrong(x, labels, seed, max_steps=300):
        return {"initial_loss": 2.3, "expected_loss": 2.3, "steps": 1}

    message = failed("7.6", wrong)
    assert "should return a pair (model, report)" in message and "returned dict" in message


def test_train_cnn_model_answer_passes():
    assert_passes("7.7", train_cnn)


def test_training_that_ignores_the_clock_is_named(monkeypatch):
    monkeypatch.setattr(lesson07, "_budget", lambda: (100, 0.2, 0.0, 100))  # 0.2 s, no goal

    def wrong(x_train, labels_train, seconds):
        time.sleep(2.5)  # stands for epochs run without looking at the clock
        return simple_convnet(rng=0)

    assert "check the clock" in failed("7.7", wrong)


def test_a_network_that_does_not_learn_misses_the_goal():
    def wrong(x_train, labels_train, seconds):
        return train_cnn(x_train, labels_train, seconds / 8, lr=1e-6)

    assert "the goal is" in failed("7.7", wrong)
