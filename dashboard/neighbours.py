"""Nearest neighbours of a point in the latent code (or, for feature runs, in the backbone's features).

A scikit-learn NearestNeighbors index over a split's vectors, built once per run version and
reused for every click; queries ask for k + 1 and drop the point itself. numpy and scikit-learn
only, no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

SPACES = {"code": "latent code", "features": "backbone features"}


@dataclass(frozen=True)
class Index:
    """The indexed vectors and scikit-learn's exact Euclidean index over them."""

    vectors: np.ndarray
    nn: NearestNeighbors


def build_index(vectors: np.ndarray) -> Index:
    """An exact Euclidean index (a KD / ball tree, or brute force where the dimension is high)."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    return Index(vectors, NearestNeighbors(metric="euclidean").fit(vectors))


@dataclass(frozen=True)
class Neighbours:
    """The k nearest positions to `query` (positions in the indexed vectors), nearest first."""

    query: int
    positions: np.ndarray
    distances: np.ndarray


def nearest(index: Index, position: int, k: int) -> Neighbours:
    """The k nearest other points to the indexed point at `position` (exact duplicates included)."""
    n = len(index.vectors)
    if not 0 <= position < n:
        raise IndexError(f"position {position} is outside the {n} indexed points")
    k = max(0, min(int(k), n - 1))
    distances, positions = index.nn.kneighbors(index.vectors[position : position + 1], n_neighbors=min(k + 1, n))
    distances, positions = distances[0], positions[0]
    keep = positions != position
    if keep.all():  # ties at distance 0 can push the point itself out of the first k + 1
        keep[-1] = False
    return Neighbours(int(position), positions[keep][:k].astype(np.int64), distances[keep][:k].astype(np.float64))
