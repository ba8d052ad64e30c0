"""How far to trust a map (UMAP, t-SNE, PCA of the codes), point by point.

A map squeezes many dimensions into two or three, so some neighbours in the code end up far apart on
the map. A point's trust is the share of its k nearest neighbours in the code that are also among its
k nearest on the map: 1 where the map kept its neighbourhood, near 0 where it tore it apart. Beside
it, the whole map's trustworthiness (scikit-learn's, as the evaluation reports it).

Arrays in, arrays out; scikit-learn's exact NearestNeighbors (a second or two on 10,000 rows).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from core.errors import ConfigError
from core.evaluation.run_evaluation import trustworthiness_of_map

TRUST_NEIGHBOURS = 10  # k: how many of each point's nearest neighbours are compared


@dataclass(frozen=True)
class TornNeighbours:
    """A clicked point's k nearest neighbours in the code (nearest first), and those of them the map
    placed far away (not among the point's k nearest on the map)."""

    query: int
    in_code: np.ndarray
    placed_far: np.ndarray


@dataclass(frozen=True)
class MapTrust:
    """Per point, the share of its k code neighbours kept on the map; the map's trustworthiness
    (None with too few points to tell); and both neighbour lists, so a click needs no new search."""

    scores: np.ndarray
    trustworthiness: float | None
    k: int
    code_neighbours: np.ndarray  # (n, k) positions, nearest first
    map_neighbours: np.ndarray  # (n, k)

    def torn(self, position: int) -> TornNeighbours:
        n = len(self.scores)
        if not 0 <= position < n:
            raise ConfigError(f"Point {position} is not on this map ({n:,} points).")
        in_code = self.code_neighbours[position]
        far = in_code[~np.isin(in_code, self.map_neighbours[position])]
        return TornNeighbours(int(position), in_code.astype(np.int64), far.astype(np.int64))


def nearest_positions(vectors: np.ndarray, k: int) -> np.ndarray:
    """(n, k): each point's k nearest other points, nearest first (the point itself left out)."""
    vectors = np.asarray(vectors, dtype=np.float32).reshape(len(vectors), -1)
    return NearestNeighbors(n_neighbors=k).fit(vectors).kneighbors(return_distance=False)


def kept_share(code_neighbours: np.ndarray, map_neighbours: np.ndarray) -> np.ndarray:
    """Per row, the share of the code's neighbours that are among the map's."""
    kept = (code_neighbours[:, :, None] == map_neighbours[:, None, :]).any(axis=2)
    return kept.mean(axis=1)


def map_trust(
    codes: np.ndarray, coords: np.ndarray, k: int = TRUST_NEIGHBOURS, random_state: int | None = 0
) -> MapTrust:
    """The map `coords` of `codes` (same rows, same order), judged point by point and as a whole."""
    n = len(codes)
    if len(coords) != n:
        raise ConfigError(f"The map has {len(coords):,} points but there are {n:,} codes; they must be the same rows.")
    if k < 1:
        raise ConfigError(f"Map trust needs at least 1 neighbour per point (k={k}).")
    if k >= n:
        raise ConfigError(
            f"Map trust compares each point's {k} nearest neighbours, so it needs at least {k + 1} points; "
            f"this map has {n}. Choose a larger split, or colour by something else."
        )
    code_neighbours = nearest_positions(codes, k)
    map_neighbours = nearest_positions(coords, k)
    overall = trustworthiness_of_map(np.asarray(codes).reshape(n, -1), np.asarray(coords), random_state, n_neighbors=k)
    return MapTrust(kept_share(code_neighbours, map_neighbours), overall, k, code_neighbours, map_neighbours)
