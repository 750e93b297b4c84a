"""dlcourse.augmentation: shifted digits, drawn per batch."""

from __future__ import annotations

import numpy as np
import pytest

from dlcourse.augmentation import (
    gaussian_noise,
    random_rotations,
    random_shifts,
    rotate_images,
    shift_images,
)
from dlcourse.models import softmax_regression
from dlcourse.optimizers import SGD
from dlcourse.training import train


def test_shift_moves_pixels_and_fills_the_border_with_zeros():
    x = np.arange(1, 13, dtype=np.float32).reshape(1, 1, 3, 4)
    down_right = shift_images(x, 1, 1)[0, 0]
    np.testing.assert_array_equal(down_right[1:, 1:], x[0, 0, :-1, :-1])
    assert (down_right[0] == 0).all() and (down_right[:, 0] == 0).all()
    up_left = shift_images(x, -1, -2)[0, 0]
    np.testing.assert_array_equal(up_left[:-1, :-2], x[0, 0, 1:, 2:])
    np.testing.assert_array_equal(shift_images(x, 0, 0), x)


def test_shift_keeps_dtype_and_leaves_its_input_alone():
    x = np.random.default_rng(0).random((2, 3, 5, 5), dtype=np.float32)
    before = x.copy()
    out = shift_images(x, 2, -1)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_array_equal(x, before)


def test_shift_refuses_flat_images_and_shifts_out_of_view():
    with pytest.raises(ValueError, match=r"expected x of shape \(N, C, H, W\) but got \(4, 784\)"):
        shift_images(np.zeros((4, 784)), 1, 0)
    with pytest.raises(ValueError, match="out of view"):
        shift_images(np.zeros((1, 1, 3, 3)), 3, 0)


def test_random_shifts_move_each_image_by_its_own_small_offset():
    rng = np.random.default_rng(0)
    x = np.zeros((200, 1, 7, 7), np.float32)
    x[:, 0, 3, 3] = 1.0  # one bright pixel in the middle of every image
    out = random_shifts(1)(x, rng)
    where = out[:, 0].reshape(200, -1).argmax(axis=1)  # flat index of the bright pixel
    positions = np.stack(np.unravel_index(where, (7, 7)), axis=1) - 3
    assert np.abs(positions).max() == 1  # never more than one pixel
    assert len({tuple(p) for p in positions}) == 9  # all nine offsets occur
    assert out.sum() == 200  # every image still holds its pixel


def test_random_shifts_are_reproducible_with_the_same_generator():
    x = np.random.default_rng(1).random((50, 1, 8, 8))
    a = random_shifts(2)(x, np.random.default_rng(5))
    b = random_shifts(2)(x, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def test_random_shifts_refuse_a_zero_shift():
    with pytest.raises(ValueError, match="expected max_pixels to be at least 1 but got 0"):
        random_shifts(0)


def test_train_applies_the_augmentation_to_every_training_batch():
    seen = []

    def recording(x, rng):
        seen.append(len(x))
        return x

    x = np.random.default_rng(2).random((30, 1, 2, 2)).astype(np.float32).reshape(30, 4)
    labels = np.arange(30) % 2
    model = softmax_regression(input_size=4, classes=2, rng=0)
    train(model, SGD(lr=0.1), x, labels, epochs=2, batch_size=10, augment=recording)
    assert seen == [10, 10, 10] * 2


# ------------------------------------------------------------------ rotations and noise (lesson 08)


def test_rotating_by_90_degrees_turns_the_image_counter_clockwise():
    x = np.random.default_rng(3).random((2, 3, 5, 5))
    turned = rotate_images(x, 90.0)
    np.testing.assert_allclose(turned, np.rot90(x, k=1, axes=(2, 3)), atol=1e-12)
    np.testing.assert_allclose(rotate_images(x, 0.0), x, atol=1e-12)


def test_each_image_gets_its_own_angle_and_keeps_its_dtype():
    x = np.random.default_rng(4).random((3, 1, 6, 6), dtype=np.float32)
    before = x.copy()
    out = rotate_images(x, np.array([0.0, 90.0, -90.0]))
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out[0], x[0], atol=1e-6)
    np.testing.assert_allclose(out[1, 0], np.rot90(x[1, 0], k=1), atol=1e-6)
    np.testing.assert_allclose(out[2, 0], np.rot90(x[2, 0], k=-1), atol=1e-6)
    np.testing.assert_array_equal(x, before)


def test_a_small_rotation_keeps_a_centred_digit_and_fills_corners_with_zeros():
    x = np.ones((1, 1, 9, 9))
    out = rotate_images(x, 30.0)[0, 0]
    assert out[4, 4] == pytest.approx(1.0)
    assert out[0, 0] == 0.0 and out[8, 8] == 0.0
    assert 0.0 <= out.min() and out.max() <= 1.0 + 1e-12


def test_rotate_refuses_flat_images():
    with pytest.raises(ValueError, match=r"expected x of shape \(N, C, H, W\) but got \(4, 784\)"):
        rotate_images(np.zeros((4, 784)), 10.0)


def test_random_rotations_stay_within_the_angle_and_are_reproducible():
    x = np.random.default_rng(5).random((6, 1, 7, 7))
    augment = random_rotations(10)
    out = augment(x, np.random.default_rng(0))
    angles = np.random.default_rng(0).uniform(-10, 10, size=6)
    np.testing.assert_allclose(out, rotate_images(x, angles))
    np.testing.assert_array_equal(out, augment(x, np.random.default_rng(0)))
    with pytest.raises(ValueError, match="max_degrees"):
        random_rotations(0)


def test_gaussian_noise_has_the_asked_spread_and_keeps_float32():
    x = np.full((200, 784), 0.5, dtype=np.float32)
    noisy = gaussian_noise(0.3)(x, np.random.default_rng(0))
    assert noisy.dtype == np.float32 and noisy.shape == x.shape
    noise = noisy - x
    assert abs(noise.mean()) < 0.01 and noise.std() == pytest.approx(0.3, rel=0.02)
    np.testing.assert_array_equal(x, 0.5)
    with pytest.raises(ValueError, match="sigma must be positive"):
        gaussian_noise(0)


def test_train_accepts_the_new_augmentations_as_hooks():
    x = np.random.default_rng(6).random((20, 16)).astype(np.float32)
    labels = np.arange(20) % 2
    rotate = random_rotations(15)

    def rotate_flat(xb, rng):
        return rotate(xb.reshape(-1, 1, 4, 4), rng).reshape(len(xb), -1)

    for augment in (rotate_flat, gaussian_noise(0.1)):
        model = softmax_regression(input_size=16, classes=2, rng=0)
        history = train(model, SGD(lr=0.1), x, labels, epochs=1, batch_size=10, augment=augment)
        assert len(history) == 1
