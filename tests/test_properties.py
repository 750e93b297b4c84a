"""Properties of the package's functions on varied inputs (hypothesis).

The example-based tests elsewhere check the lessons' claims on a few hand-picked
arrays; these draw many shapes and values, so that a wrong axis, a wrong sign or a
wrong branch point cannot hide behind a convenient example (mutation testing found
such gaps: see docs/authoring.md, "Mutation testing").
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays

from dlcourse.functions import (
    accuracy,
    as_labels,
    cross_entropy,
    leaky_relu,
    log_softmax,
    mean_squared_error,
    one_hot,
    sigmoid,
    softmax,
)

settings.register_profile("dlcourse", max_examples=60, deadline=None, derandomize=True)
settings.load_profile("dlcourse")

finite = st.floats(-50, 50, allow_nan=False, width=64)
# Batches of scores whose rows differ: at least two rows and two classes.
batches = arrays(
    np.float64, array_shapes(min_dims=2, max_dims=3, min_side=2, max_side=6), elements=finite
)


def _reference_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@given(arrays(np.float64, array_shapes(max_dims=3), elements=st.floats(-30, 30, width=64)))
def test_sigmoid_is_the_logistic_function_on_both_sides_of_zero(x):
    np.testing.assert_allclose(sigmoid(x), 1 / (1 + np.exp(-x)), rtol=1e-12, atol=1e-300)


def test_sigmoid_of_values_between_zero_and_one_is_above_one_half():
    # The branch point is 0: inputs in (0, 1) take the 1 / (1 + e^-x) side.
    np.testing.assert_allclose(
        sigmoid(np.array([0.25, 0.5, 0.75])), 1 / (1 + np.exp(-np.array([0.25, 0.5, 0.75])))
    )


@given(arrays(np.float64, array_shapes(max_dims=2), elements=finite), st.floats(0.001, 0.5))
def test_leaky_relu_is_x_above_zero_and_alpha_x_below(x, alpha):
    np.testing.assert_array_equal(leaky_relu(x, alpha), np.where(x > 0, x, alpha * x))


def test_leaky_relu_passes_values_between_zero_and_one_unchanged():
    np.testing.assert_array_equal(leaky_relu(np.array([0.5, 0.25])), [0.5, 0.25])


@given(batches)
def test_log_softmax_is_the_log_of_softmax_row_by_row(x):
    np.testing.assert_allclose(log_softmax(x), np.log(_reference_softmax(x)), atol=1e-9)


@given(batches)
def test_softmax_rows_are_independent_probability_vectors(x):
    y = softmax(x)
    np.testing.assert_allclose(y.sum(axis=-1), 1.0)
    np.testing.assert_allclose(y, _reference_softmax(x), rtol=1e-10, atol=1e-300)


def test_softmax_of_integer_scores_is_float64():
    y = softmax(np.array([[1, 2, 3], [3, 2, 1]]))
    assert y.dtype == np.float64
    np.testing.assert_allclose(y, _reference_softmax(np.array([[1.0, 2, 3], [3, 2, 1]])))


@given(st.integers(2, 8), st.integers(1, 8), st.randoms(use_true_random=False))
def test_one_hot_and_as_labels_are_inverse(k, n, random):
    labels = np.array([random.randrange(k) for _ in range(n)])
    t = one_hot(labels, k)
    assert t.shape == (n, k) and t.dtype == np.float32
    np.testing.assert_array_equal(as_labels(t), labels)


def test_as_labels_takes_the_class_axis_of_one_hot_rows():
    t = np.eye(4)[[3, 0, 2]]  # 3 samples, 4 classes: axis 0 and axis -1 differ
    np.testing.assert_array_equal(as_labels(t), [3, 0, 2])


@pytest.mark.parametrize("labels", [np.array([[0, 1]]), np.array([0.0, 1.0]), np.array([[0.5]])])
def test_one_hot_refuses_anything_but_a_1d_integer_array(labels):
    with pytest.raises(ValueError, match="1-D array of integer labels"):
        one_hot(labels, 3)


@given(st.integers(2, 6), st.randoms(use_true_random=False))
def test_cross_entropy_of_one_sample_equals_a_batch_of_one(k, random):
    y = _reference_softmax(np.array([random.uniform(-3, 3) for _ in range(k)]))
    label = random.randrange(k)
    want = -np.log(y[label])
    assert cross_entropy(y, np.eye(k)[label]) == pytest.approx(want)
    assert cross_entropy(y, np.int64(label)) == pytest.approx(want)
    assert cross_entropy(y, label) == pytest.approx(want)


@given(st.integers(1, 6), st.integers(2, 5), st.randoms(use_true_random=False))
def test_mean_squared_error_of_labels_is_against_their_one_hot_rows(n, k, random):
    y = np.array([[random.uniform(-2, 2) for _ in range(k)] for _ in range(n)])
    labels = np.array([random.randrange(k) for _ in range(n)])
    want = 0.5 * np.square(y - np.eye(k)[labels]).sum() / n
    assert mean_squared_error(y, labels) == pytest.approx(want)
    assert mean_squared_error(y.astype(np.float32), labels) == pytest.approx(want, rel=1e-5)


def test_mean_squared_error_of_one_sample_is_a_batch_of_one():
    assert mean_squared_error(np.array([1.0, 3.0]), np.array([0.0, 1.0])) == pytest.approx(2.5)


def test_mean_squared_error_with_one_output_per_sample_takes_float_targets():
    y = np.array([[1.0], [2.0], [4.0]])
    assert mean_squared_error(y, np.array([0.0, 2.0, 2.0])) == pytest.approx((1 + 0 + 4) / 2 / 3)


def test_mean_squared_error_refuses_float_targets_of_the_wrong_length():
    with pytest.raises(ValueError, match="expected targets of shape"):
        mean_squared_error(np.zeros((3, 2)), np.zeros(3))
    with pytest.raises(ValueError, match="expected targets of shape"):
        mean_squared_error(np.zeros((3, 1)), np.zeros(2))


def test_accuracy_of_one_sample_and_of_no_samples():
    assert accuracy(np.array([[0.1, 0.9]]), np.array([1])) == 1.0
    assert accuracy(np.array([[0.9, 0.1]]), np.array([1])) == 0.0
    assert np.isnan(accuracy(np.zeros((0, 3)), np.zeros(0, dtype=int)))
    assert accuracy(np.zeros((2, 0 + 1)), np.array([0, 0])) == 1.0
