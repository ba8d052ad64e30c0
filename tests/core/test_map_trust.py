"""Map trust (core.map_trust) against references: an exact map scores 1 everywhere; a map that swaps
two clusters' halves scores the swapped points low; too few points or mismatched rows refuse."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.decomposition import PCA

from core.errors import ConfigError
from core.map_trust import TRUST_NEIGHBOURS, map_trust


def two_clusters(n: int = 200, dims: int = 2, seed: int = 0) -> np.ndarray:
    """Two well-separated Gaussian clusters of n points each: rows [0, n) and [n, 2n)."""
    rng = np.random.default_rng(seed)
    centre = np.zeros(dims)
    centre[0] = 40.0
    return np.concatenate([rng.normal(size=(n, dims)), rng.normal(size=(n, dims)) + centre]).astype(np.float32)


def test_a_map_that_is_exact_scores_every_point_one():
    points = np.random.default_rng(1).normal(size=(300, 2))
    trust = map_trust(points, PCA(n_components=2).fit_transform(points))  # a rotation: every distance kept
    assert trust.k == TRUST_NEIGHBOURS and trust.scores.shape == (300,)
    np.testing.assert_array_equal(trust.scores, 1.0)
    assert trust.trustworthiness == pytest.approx(1.0)
    torn = trust.torn(17)
    assert len(torn.in_code) == TRUST_NEIGHBOURS and 17 not in torn.in_code and len(torn.placed_far) == 0


def test_swapping_two_clusters_halves_scores_the_swapped_points_low():
    n = 200
    codes = two_clusters(n)
    exact = PCA(n_components=2).fit_transform(codes)  # exact, as in the test above
    rng = np.random.default_rng(2)
    a, b = rng.choice(n, n // 2, replace=False), n + rng.choice(n, n // 2, replace=False)
    swapped_map = exact.copy()
    swapped_map[a], swapped_map[b] = exact[b], exact[a]  # half of each cluster drawn in the other's place
    trust = map_trust(codes, swapped_map)
    swapped = np.zeros(2 * n, dtype=bool)
    swapped[np.concatenate([a, b])] = True
    assert trust.scores[swapped].mean() < 0.15, trust.scores[swapped].mean()
    assert trust.scores[~swapped].mean() > 0.4  # the rest keep the half of their neighbours that stayed
    assert trust.trustworthiness < map_trust(codes, exact).trustworthiness
    torn = trust.torn(int(a[0]))  # a swapped point: its neighbours in the code are its own cluster's...
    assert (torn.in_code < n).all() and len(torn.placed_far) >= TRUST_NEIGHBOURS - 2  # ...nearly all drawn far
    assert set(torn.placed_far) <= set(torn.in_code)


def test_more_neighbours_than_points_refuses_clearly():
    points = np.random.default_rng(3).normal(size=(8, 2))
    with pytest.raises(ConfigError, match="needs at least 11 points; this map has 8"):
        map_trust(points, points)
    with pytest.raises(ConfigError, match="at least 1 neighbour"):
        map_trust(points, points, k=0)
    with pytest.raises(ConfigError, match="same rows"):
        map_trust(points, points[:5])
    with pytest.raises(ConfigError, match="not on this map"):
        map_trust(points, points, k=3).torn(8)


def test_ten_thousand_points_are_quick():
    codes = np.random.default_rng(4).normal(size=(10_000, 32)).astype(np.float32)
    started = time.perf_counter()
    trust = map_trust(codes, codes[:, :2])
    assert trust.scores.shape == (10_000,) and ((trust.scores >= 0) & (trust.scores <= 1)).all()
    assert time.perf_counter() - started < 30  # a few seconds on 2 busy cores; a bound, not a benchmark
