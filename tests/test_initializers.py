"""Claims of lesson 09 about weight initialisation scales."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.initializers import (
    INITIALIZERS,
    as_rng,
    get_initializer,
    glorot_normal,
    glorot_uniform,
    he,
    normal,
    xavier,
)


@pytest.mark.parametrize(
    ("init", "expected_std"),
    [
        (xavier, np.sqrt(1 / 400)),
        (he, np.sqrt(2 / 400)),
        (glorot_normal, np.sqrt(2 / (400 + 300))),
        (glorot_uniform, np.sqrt(6 / (400 + 300)) / np.sqrt(3)),
    ],
)
def test_initializers_have_their_documented_scale(init, expected_std):
    W = init(400, 300, rng=0)
    assert W.shape == (400, 300) and W.dtype == np.float32
    assert W.std() == pytest.approx(expected_std, rel=0.02)
    assert abs(W.mean()) < 0.01 * expected_std * 10


def test_normal_uses_the_given_std():
    assert normal(300, 200, std=0.01, rng=1).std() == pytest.approx(0.01, rel=0.02)


def test_glorot_uniform_stays_within_its_limit():
    W = glorot_uniform(50, 70, rng=0)
    assert np.abs(W).max() <= np.sqrt(6 / 120)


def test_shape_argument_gives_a_filter_bank():
    W = he(3 * 5 * 5, 30, rng=0, shape=(30, 3, 5, 5))
    assert W.shape == (30, 3, 5, 5)
    assert W.std() == pytest.approx(np.sqrt(2 / 75), rel=0.05)


def test_same_seed_same_weights_and_float64_on_request():
    np.testing.assert_array_equal(he(5, 4, rng=7), he(5, 4, rng=7))
    assert he(5, 4, rng=7, dtype=np.float64).dtype == np.float64


def test_as_rng_accepts_generator_seed_or_none():
    g = np.random.default_rng(0)
    assert as_rng(g) is g
    assert as_rng(3).random() == np.random.default_rng(3).random()
    np.random.seed(0)  # noqa: NPY002 - None draws from the seeded global state
    a = as_rng(None).random()
    np.random.seed(0)  # noqa: NPY002
    assert as_rng(None).random() == a


def test_get_initializer_by_name_and_unknown_names_are_listed():
    assert get_initializer("He") is he
    assert set(INITIALIZERS) == {"normal", "xavier", "he", "glorot_normal", "glorot_uniform"}
    with pytest.raises(ValueError, match="unknown initializer 'kaiming'; valid names are"):
        get_initializer("kaiming")


def test_non_positive_fan_in_is_refused():
    with pytest.raises(ValueError, match="to be positive but got 0 and 3"):
        he(0, 3)
