"""Seeded, stratified row selection: train / val / test splits and `max_samples` subsamples.

Stratifying keeps every class's share the same in each part, so a small test set still holds
every digit. scikit-learn refuses to stratify when a class has fewer than two rows, or when a
part is smaller than the number of classes; then we fall back to a plain seeded shuffle instead
of failing, because a tiny or lopsided dataset should still train.
"""

from __future__ import annotations

import numpy as np
import torch

from core.data.dataset import Dataset, Splits
from core.errors import ConfigError, DataError

MIN_TRAIN_ROWS = 2  # one row is no distribution to learn, and batch statistics need two


def _split_off(index: np.ndarray, labels: np.ndarray | None, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split `index` into (rest, part) with `len(part) == size`, stratified when possible."""
    if size <= 0:
        return index, index[:0]
    if size >= len(index):
        return index[:0], index
    from sklearn.model_selection import train_test_split  # on first use: importing it takes ~0.7 s

    stratify = None if labels is None else labels[index]
    try:
        rest, part = train_test_split(index, test_size=size, stratify=stratify, random_state=seed)
    except ValueError:  # a class too small to stratify: a plain seeded shuffle still works
        rest, part = train_test_split(index, test_size=size, stratify=None, random_state=seed)
    return rest, part


def _as_numpy_labels(y: torch.Tensor | np.ndarray | None) -> np.ndarray | None:
    if y is None:
        return None
    return y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)


def sample_rows(y: torch.Tensor | np.ndarray | None, n_rows: int, size: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of `size` rows out of `n_rows`, stratified by `y` when given."""
    index = np.arange(n_rows)
    _, picked = _split_off(index, _as_numpy_labels(y), min(size, n_rows), seed)
    return np.sort(picked)


def split_sizes(n: int, val_fraction: float = 0.1, test_fraction: float = 0.2) -> tuple[int, int, int]:
    """Rows of (train, val, test) that make_splits gives `n` rows, so a page can say so before it runs.

    Val and test get at least one row each when asked for, but never leave train empty.
    """
    n_val = max(1, round(val_fraction * n)) if val_fraction > 0 else 0
    n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
    while n - n_val - n_test < min(n, 1):
        if n_test >= n_val:
            n_test -= 1
        else:
            n_val -= 1
    return n - n_val - n_test, n_val, n_test


def min_rows(val_fraction: float = 0.1, test_fraction: float = 0.2) -> int:
    """The fewest rows that still leave MIN_TRAIN_ROWS for training beside the val and test rows."""
    n = MIN_TRAIN_ROWS
    while split_sizes(n, val_fraction, test_fraction)[0] < MIN_TRAIN_ROWS:
        n += 1
    return n


def check_enough_rows(n_rows: int, val_fraction: float = 0.1, test_fraction: float = 0.2) -> None:
    """DataError naming the minimum when `n_rows` cannot be split into train / val / test."""
    need = min_rows(val_fraction, test_fraction)
    if n_rows < need:
        raise DataError(
            f"The dataset has {n_rows} row{'s' if n_rows != 1 else ''}; training needs at least {need} "
            f"({MIN_TRAIN_ROWS} to train on, the rest for validation and test at fractions "
            f"{val_fraction} and {test_fraction}). Use more data, and no --max-samples below {need}."
        )


def make_splits(dataset: Dataset, val_fraction: float = 0.1, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """Disjoint train / val / test row indices covering every row of `dataset`.

    Seeded and stratified by label when the dataset has labels. `val_fraction=0` gives an
    empty validation part; tiny datasets get at least one training row.
    """
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ConfigError(
            f"Validation and test fractions must each be in [0, 1) and sum to less than 1 "
            f"(got val={val_fraction}, test={test_fraction})."
        )
    labels = _as_numpy_labels(dataset.y)
    n = len(dataset)
    _, n_val, n_test = split_sizes(n, val_fraction, test_fraction)
    rest, test = _split_off(np.arange(n), labels, n_test, seed)
    train, val = _split_off(rest, labels, n_val, seed + 1)
    return Splits(
        train=np.sort(train).astype(np.int64),
        val=np.sort(val).astype(np.int64),
        test=np.sort(test).astype(np.int64),
    )
