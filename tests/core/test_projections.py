"""project() on data the test builds: shapes, seeds, exact neighbours for UMAP, bad input."""

from __future__ import annotations

import numpy as np
import pytest

import core.projections as projections
from core.clusterers import clusterer
from core.errors import ConfigError
from core.evaluation import cluster_accuracy
from core.projections import PROJECTIONS, project, warm_up_umap
from tests.core.data_fixtures import blobs


class TestProject:
    @pytest.mark.parametrize("method", ["umap", "pca", "tsne"])
    @pytest.mark.parametrize("dims", [2, 3])
    def test_shapes(self, method, dims):
        x, _ = blobs(60)
        y = project(x, method, dims=dims, random_state=0)
        assert y.shape == (60, dims) and y.dtype == np.float32 and np.isfinite(y).all()

    def test_seeded_umap_is_reproducible(self):
        x, _ = blobs(100)
        np.testing.assert_array_equal(project(x, "umap", random_state=3), project(x, "umap", random_state=3))

    def test_exact_neighbours_put_each_row_first_and_agree_with_a_brute_search(self):
        x, _ = blobs(200, dims=6)
        indices, distances = projections.exact_neighbours(x, 5)
        assert indices.dtype == np.int32 and distances.dtype == np.float32 and indices.shape == (200, 5)
        np.testing.assert_array_equal(indices[:, 0], np.arange(200))
        full = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
        np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :5], atol=1e-4)

    def test_codes_of_many_rows_use_exact_neighbours_and_wide_rows_umaps_own_search(self, monkeypatch):
        assert projections._exact_pays(np.zeros((5000, 32), np.float32))
        assert not projections._exact_pays(np.zeros((5000, 784), np.float32))  # raw pixels: as N2D's paper ran it
        assert not projections._exact_pays(np.zeros((1000, 32), np.float32))  # umap searches exactly itself
        asked = []
        monkeypatch.setattr(projections, "EXACT_KNN_MIN_ROWS", 100)
        real = projections.exact_neighbours
        monkeypatch.setattr(projections, "exact_neighbours", lambda z, k: asked.append(k) or real(z, k))
        x, y = blobs(300, dims=5)
        coords = project(x, "umap", random_state=0)
        assert asked == [15] and coords.shape == (300, 2)
        labels = clusterer("kmeans", 3, random_state=0).fit_predict(coords)
        assert cluster_accuracy(y, labels) > 0.95  # the map still separates the blobs

    def test_unknown_method_and_bad_dims(self):
        x, _ = blobs(20)
        with pytest.raises(ConfigError, match="umap, pca, tsne"):
            project(x, "isomap")
        with pytest.raises(ConfigError, match="2 or 3"):
            project(x, "pca", dims=4)

    def test_one_dimensional_codes_still_give_a_map(self):
        assert project(np.arange(10, dtype=np.float32)[:, None], "pca").shape == (10, 2)

    def test_warm_up_runs_once(self):
        warm_up_umap()
        warm_up_umap()
        assert projections._warmed

    def test_registry(self):
        assert set(PROJECTIONS) == {"umap", "pca", "tsne"}
