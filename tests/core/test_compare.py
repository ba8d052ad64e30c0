"""The Compare page's core (core.compare): movers against references (identical views move nobody; a
view that swaps two clusters' halves puts the swapped rows first), links' views, and the refusal
of runs on different data."""

from __future__ import annotations

import numpy as np
import pytest

from core.compare import MOVER_NEIGHBOURS, RunData, View, check_same_rows, movers, parse_view
from core.config import DataSpec
from core.errors import ConfigError
from tests.core.test_map_trust import two_clusters


def test_identical_views_have_no_movers():
    points = two_clusters(150, dims=5)
    found = movers(points, points.copy())
    assert found.k == MOVER_NEIGHBOURS
    np.testing.assert_array_equal(found.kept, 1.0)
    assert len(found.order) == 0


def test_swapping_two_clusters_halves_puts_the_swapped_rows_first():
    n = 200
    first = two_clusters(n, dims=4)
    rng = np.random.default_rng(5)
    a, b = rng.choice(n, n // 4, replace=False), n + rng.choice(n, n // 4, replace=False)
    second = first.copy()
    second[a], second[b] = first[b], first[a]  # a quarter of each cluster now sits in the other
    found = movers(first, second)
    swapped = set(np.concatenate([a, b]).tolist())
    assert set(found.order[: len(swapped)].tolist()) == swapped  # every swapped row ranks above every other
    assert found.kept[list(swapped)].max() < found.kept[np.setdiff1d(np.arange(2 * n), list(swapped))].min()


def test_views_of_different_rows_or_too_few_refuse():
    points = two_clusters(20)
    with pytest.raises(ConfigError, match="same rows"):
        movers(points, points[:10])
    with pytest.raises(ConfigError, match="more rows than neighbours"):
        movers(points[:8], points[:8])


def test_links_views_read_back_and_bad_ones_are_refused():
    for text in ("codes", "raw", "epoch:5", "run:20260101-120000-abc"):
        assert parse_view(text).text == text
    assert parse_view("epoch:12") == View("epoch", epoch=12)
    for bad in ("pixels", "epoch:", "epoch:x", "run:", "run:../etc"):
        with pytest.raises(ValueError, match="not codes, raw"):
            parse_view(bad)


def test_runs_on_different_data_are_refused_with_the_reason():
    def data(spec: DataSpec, n: int, files: tuple[str, ...] = ()) -> RunData:
        return RunData("b", spec, n, files)

    digits = RunData("a", DataSpec("digits"), 1797)
    check_same_rows(digits, data(DataSpec("digits", image_size=16), 1797))  # the same rows, smaller: fine
    with pytest.raises(ConfigError, match=r"Run b cannot be compared with a: they were trained on different data"):
        check_same_rows(digits, data(DataSpec("mnist"), 70000))
    with pytest.raises(ConfigError, match=r"digits \(300 rows\) against digits \(1,797 rows\); their max_samples"):
        check_same_rows(digits, data(DataSpec("digits", max_samples=300), 300))
    folder = RunData("a", DataSpec("folder", "/p/one"), 2, ("x.jpg", "y.jpg"))
    with pytest.raises(ConfigError, match="folder at /p/two .* their path differ"):
        check_same_rows(folder, data(DataSpec("folder", "/p/two"), 2, ("x.jpg", "y.jpg")))
    with pytest.raises(ConfigError, match="their files differ"):
        check_same_rows(folder, data(DataSpec("folder", "/p/one"), 2, ("x.jpg", "z.jpg")))
