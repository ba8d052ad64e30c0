"""What every clustering head checks before it trains: the rows, and whether they can hold the groups asked for."""

from __future__ import annotations

import numpy as np

from core.errors import ConfigError


def checked_rows(X, head: str) -> np.ndarray:
    """X as float32 (N, D); ConfigError naming `head` for anything else, NaN and infinities included."""
    try:
        X = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ConfigError(f"{head} needs a numeric (N, D) array ({error}).") from None
    if X.ndim != 2 or X.shape[1] == 0:
        raise ConfigError(f"{head} needs a two-dimensional (N, D) array of rows (got shape {X.shape}).")
    if not np.isfinite(X).all():
        bad = int((~np.isfinite(X)).any(axis=1).sum())
        raise ConfigError(f"{head}: {bad} of {len(X)} rows hold NaN or infinite values; clean or drop them first.")
    return X


def check_room(n_rows: int, n_clusters: int, head: str, min_rows: int) -> None:
    """ConfigError when `n_rows` are too few to learn from, or to make `n_clusters` groups of."""
    if n_rows < min_rows:
        raise ConfigError(f"A {head} clustering head needs at least {min_rows} rows to learn from (got {n_rows}).")
    if n_clusters > n_rows:
        raise ConfigError(
            f"{head} cannot make {n_clusters} groups of {n_rows} rows: ask for at most {n_rows} groups, or add rows."
        )
