"""Claims of lessons 02-05 about activations, softmax, losses and metrics."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from dlcourse.functions import (
    LOG_EPS,
    accuracy,
    as_labels,
    cross_entropy,
    leaky_relu,
    log_softmax,
    mean_squared_error,
    one_hot,
    relu,
    sigmoid,
    softmax,
    tanh,
)


def test_sigmoid_has_no_overflow_warning_for_large_inputs():
    x = np.array([-1000.0, -100.0, 0.0, 100.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = sigmoid(x)
        y32 = sigmoid(x.astype(np.float32))
    np.testing.assert_allclose(y, [0.0, 1 / (1 + np.exp(100)), 0.5, 1 / (1 + np.exp(-100)), 1.0])
    assert y32.dtype == np.float32 and np.all(np.isfinite(y32))


def test_sigmoid_matches_the_textbook_formula():
    x = np.linspace(-5, 5, 11)
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12)


def test_relu_leaky_relu_and_tanh_values():
    x = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(relu(x), [0.0, 0.0, 3.0])
    np.testing.assert_allclose(leaky_relu(x, alpha=0.1), [-0.2, 0.0, 3.0])
    np.testing.assert_allclose(tanh(x), np.tanh(x))


def test_activations_keep_float32():
    x = np.linspace(-3, 3, 7, dtype=np.float32)
    for f in (sigmoid, relu, leaky_relu, tanh, softmax, log_softmax):
        assert f(x).dtype == np.float32, f.__name__


def test_softmax_is_stable_for_large_inputs():
    x = np.array([[1000.0, 1000.0, -1000.0], [-1000.0, -1000.0, -1000.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = softmax(x)
    np.testing.assert_allclose(y, [[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3]])


def test_softmax_works_on_the_last_axis_of_any_batch_shape():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 4))
    y = softmax(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0)
    np.testing.assert_allclose(y[1, 2], softmax(x[1, 2]))
    np.testing.assert_allclose(softmax(np.array([1, 2, 3])), softmax(np.array([1.0, 2.0, 3.0])))


def test_softmax_does_not_mutate_its_input():
    x = np.array([[1.0, 2.0, 3.0]])
    softmax(x)
    np.testing.assert_array_equal(x, [[1.0, 2.0, 3.0]])


def test_log_softmax_is_finite_where_softmax_underflows():
    x = np.array([[0.0, -2000.0]])
    np.testing.assert_allclose(log_softmax(x), [[0.0, -2000.0]])


def test_cross_entropy_accepts_one_hot_or_labels():
    y = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert cross_entropy(y, np.array([0, 2])) == pytest.approx(expected)
    assert cross_entropy(y, np.eye(3)[[0, 2]]) == pytest.approx(expected)


def test_cross_entropy_of_a_certain_wrong_answer_is_finite():
    y = np.array([[1.0, 0.0]])
    assert cross_entropy(y, np.array([1])) == pytest.approx(-np.log(LOG_EPS))


def test_cross_entropy_rejects_targets_of_the_wrong_shape():
    with pytest.raises(ValueError, match=r"targets of shape \(2, 3\).*t of shape \(3,\)"):
        cross_entropy(np.full((2, 3), 1 / 3), np.array([0, 1, 2]))


def test_mean_squared_error_is_half_the_squared_error_averaged_over_the_batch():
    y = np.array([[1.0, 0.0], [0.0, 0.0]])
    t = np.array([[0.0, 0.0], [0.0, 2.0]])
    assert mean_squared_error(y, t) == pytest.approx(0.5 * (1 + 4) / 2)
    assert mean_squared_error(y, np.array([0, 1])) == pytest.approx(0.5 * (0 + 1) / 2)


def test_one_hot_and_back():
    labels = np.array([2, 0, 1])
    t = one_hot(labels, 3)
    np.testing.assert_array_equal(t, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert t.dtype == np.float32
    np.testing.assert_array_equal(as_labels(t), labels)
    np.testing.assert_array_equal(as_labels(labels), labels)


def test_one_hot_rejects_out_of_range_labels():
    with pytest.raises(ValueError, match=r"labels in \[0, 3\) but got values from 0 to 3"):
        one_hot(np.array([0, 3]), 3)


def test_accuracy_counts_top_scores():
    y = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    assert accuracy(y, np.array([1, 0, 0, 0])) == 0.75
    assert accuracy(y, np.eye(2)[[1, 0, 0, 0]]) == 0.75
