"""encode / project / cluster on data the test builds, and the per-run disk cache."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

import core.embedding as embedding
from core.embedding import CLUSTERERS, PROJECTIONS, cluster, encode, project, run_codes, run_projection, warm_up_umap
from core.errors import ConfigError
from core.evaluation import cluster_accuracy
from core.models import ModelConfig, build_model


def blobs(n=300, centers=3, dims=5, seed=0):
    x, y = make_blobs(n, n_features=dims, centers=centers, cluster_std=0.5, random_state=seed)
    return x.astype(np.float32), y


class TestEncode:
    def test_batched_codes_match_one_pass_and_mode_is_restored(self):
        torch.manual_seed(0)
        model = build_model(ModelConfig("dense", latent_dim=3, width=32), (1, 8, 8))
        x = torch.rand(10, 1, 8, 8)
        model.train()
        z = encode(model, x, batch_size=3)
        assert model.training  # put back as it was
        model.eval()
        with torch.no_grad():
            expected = model.encode(x).numpy()
        assert z.dtype == np.float32 and z.shape == (10, 3)
        np.testing.assert_allclose(z, expected, rtol=1e-5, atol=1e-6)


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
        indices, distances = embedding.exact_neighbours(x, 5)
        assert indices.dtype == np.int32 and distances.dtype == np.float32 and indices.shape == (200, 5)
        np.testing.assert_array_equal(indices[:, 0], np.arange(200))
        full = np.linalg.norm(x[:, None, :] - x[None, :, :], axis=-1)
        np.testing.assert_allclose(distances, np.sort(full, axis=1)[:, :5], atol=1e-4)

    def test_codes_of_many_rows_use_exact_neighbours_and_wide_rows_umaps_own_search(self, monkeypatch):
        assert embedding._exact_pays(np.zeros((5000, 32), np.float32))
        assert not embedding._exact_pays(np.zeros((5000, 784), np.float32))  # raw pixels: as N2D's paper ran it
        assert not embedding._exact_pays(np.zeros((1000, 32), np.float32))  # umap searches exactly itself
        asked = []
        monkeypatch.setattr(embedding, "EXACT_KNN_MIN_ROWS", 100)
        real = embedding.exact_neighbours
        monkeypatch.setattr(embedding, "exact_neighbours", lambda z, k: asked.append(k) or real(z, k))
        x, y = blobs(300, dims=5)
        coords = project(x, "umap", random_state=0)
        assert asked == [15] and coords.shape == (300, 2)
        labels = cluster(coords, "kmeans", 3, random_state=0)
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
        assert embedding._warmed

    def test_registries(self):
        assert set(PROJECTIONS) == {"umap", "pca", "tsne"}
        assert set(CLUSTERERS) == {"kmeans", "gmm", "hdbscan", "agglomerative"}


class TestCluster:
    @pytest.mark.parametrize("method", ["kmeans", "gmm", "hdbscan", "agglomerative"])
    def test_blobs_are_found(self, method):
        x, y = blobs()
        labels = cluster(x, method, n_clusters=3, random_state=0)
        assert labels.dtype == np.int64 and labels.shape == (300,)
        assert cluster_accuracy(y, labels) >= 0.99

    def test_hdbscan_marks_far_outliers_as_noise(self):
        x, _ = blobs()
        outliers = np.array([[60.0] * 5, [-60.0] * 5], dtype=np.float32)
        labels = cluster(np.vstack([x, outliers]), "hdbscan")
        assert labels[-1] == -1 and labels[-2] == -1

    def test_agglomerative_on_many_points_fits_a_sample(self, monkeypatch):
        monkeypatch.setattr(embedding, "AGGLOMERATIVE_FIT_MAX", 100)
        x, y = blobs(900)
        labels = cluster(x, "agglomerative", n_clusters=3)
        assert cluster_accuracy(y, labels) >= 0.99

    def test_bad_inputs(self):
        x, _ = blobs(20)
        with pytest.raises(ConfigError, match="kmeans, gmm, hdbscan, agglomerative"):
            cluster(x, "spectral")
        with pytest.raises(ConfigError, match="at least 1"):
            cluster(x, "kmeans", n_clusters=0)
        assert len(set(cluster(x[:4], "kmeans", n_clusters=10).tolist())) <= 4  # k capped at N


class TestRunCache:
    def test_codes_and_projection_are_cached_per_checkpoint(self, trained, monkeypatch):
        codes = run_codes(trained, "val")
        assert codes.shape == (len(trained.splits.val), trained.config.model.latent_dim)
        xy = run_projection(trained, "val", "pca", dims=2)
        assert xy.shape == (len(codes), 2)
        files = sorted(p.name for p in trained.run.cache_dir.glob("*.npy"))
        assert any(f.startswith("codes-val-") for f in files) and any(f.startswith("pca2d-val-") for f in files)

        # A restart reads the files instead of computing again ...
        def boom(*args, **kwargs):
            raise AssertionError("recomputed")

        monkeypatch.setattr(embedding, "encode", boom)
        monkeypatch.setattr(embedding, "project", boom)
        np.testing.assert_array_equal(run_codes(trained, "val"), codes)
        np.testing.assert_array_equal(run_projection(trained, "val", "pca", dims=2), xy)
        # ... other parameters are other entries ...
        with pytest.raises(AssertionError, match="recomputed"):
            run_projection(trained, "val", "pca", dims=3)
        # ... and a new checkpoint makes every entry stale.
        stat = trained.run.checkpoint_path.stat()
        os.utime(trained.run.checkpoint_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        try:
            with pytest.raises(AssertionError, match="recomputed"):
                run_codes(trained, "val")
        finally:
            os.utime(trained.run.checkpoint_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    def test_split_order_follows_the_splits(self, trained):
        index = trained.splits.get("test")
        np.testing.assert_allclose(run_codes(trained, "test"), encode(trained.model, trained.dataset.x[index]), rtol=1e-5)
