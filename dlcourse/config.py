"""Reproducibility and speed switches shared by every lesson (taught in lesson 00).

Two environment variables steer the whole course:

- ``DLCOURSE_QUICK=1`` shrinks training runs so that every notebook executes in
  seconds. The test command sets it; learners normally leave it unset and get the
  full runs whose numbers each lesson's summary quotes.
- ``DLCOURSE_OFFLINE=1`` makes :func:`dlcourse.data.load_mnist` skip the network
  and use the 5,000 real MNIST digits shipped with the package.
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np

QUICK_ENV = "DLCOURSE_QUICK"
OFFLINE_ENV = "DLCOURSE_OFFLINE"

T = TypeVar("T")


def _env_flag(name: str) -> bool:
    """True when the environment variable ``name`` is set to a truthy value."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def quick_mode() -> bool:
    """Whether training runs should be shrunk (``DLCOURSE_QUICK=1``)."""
    return _env_flag(QUICK_ENV)


def offline_mode() -> bool:
    """Whether the network must not be used (``DLCOURSE_OFFLINE=1``)."""
    return _env_flag(OFFLINE_ENV)


def sized(full: T, quick: T) -> T:
    """Pick a run size: ``full`` for learners, ``quick`` when quick mode is on.

    Lessons size every training run with it, e.g. ``epochs = sized(20, 2)``, so the
    full run is what a learner sees and the test suite stays fast.
    """
    return quick if quick_mode() else full


def as_rng(rng: np.random.Generator | int | None = None) -> np.random.Generator:
    """A ``numpy.random.Generator`` from a generator (returned as is), a seed, or None.

    ``rng=None`` means the same everywhere in dlcourse: draw a seed from numpy's global
    generator, so ``seed_everything(0)`` at the top of a notebook makes everything that
    was given no ``rng`` reproducible too.
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        rng = int(np.random.randint(2**31 - 1))  # noqa: NPY002 - global state, seeded by seed_everything
    return np.random.default_rng(rng)


def positive(name: str, value: float) -> float:
    """``value`` as a float, after checking it is > 0 (ValueError naming ``name`` if not)."""
    value = float(value)
    if not value > 0:
        raise ValueError(f"expected {name} to be positive but got {value}")
    return value


def seed_everything(seed: int = 0) -> np.random.Generator:
    """Seed Python's and numpy's global generators and return a fresh ``Generator``.

    The course passes the returned generator (``rng``) to everything random, so a
    notebook re-run from the top gives the same numbers.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - legacy global state, seeded for code that uses it
    return np.random.default_rng(seed)
