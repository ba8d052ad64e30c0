"""The clustering estimators on data the test builds: fit / predict / fit_predict, one validation."""

from __future__ import annotations

import numpy as np
import pytest

import core.clusterers as clusterers
from core.clusterers import CLUSTERERS, GaussianMixtureClusterer, KMeansClusterer, cluster, clusterer
from core.errors import ConfigError
from core.evaluation import cluster_accuracy
from tests.core.data_fixtures import blobs


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
        monkeypatch.setattr(clusterers, "AGGLOMERATIVE_FIT_MAX", 100)
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


class TestEstimators:
    def test_registry_names_the_estimators(self):
        assert set(CLUSTERERS) == {"kmeans", "gmm", "hdbscan", "agglomerative"}
        assert type(clusterer("gmm")) is GaussianMixtureClusterer and type(clusterer("kmeans")) is KMeansClusterer

    @pytest.mark.parametrize("method", ["kmeans", "gmm", "agglomerative"])
    def test_fit_predict_is_fit_then_labels_and_predict_places_new_rows(self, method):
        x, _ = blobs(300)
        labels = clusterer(method, 3, random_state=0).fit_predict(x)
        np.testing.assert_array_equal(labels, cluster(x, method, 3, random_state=0))
        fitted = clusterer(method, 3, random_state=0).fit(x)
        np.testing.assert_array_equal(fitted.labels_, labels)
        # Rows near the fitted ones land in the same clusters.
        np.testing.assert_array_equal(fitted.predict(x[:20] + 0.01), labels[:20])

    def test_hdbscan_cannot_place_new_rows(self):
        x, _ = blobs(300)
        fitted = clusterer("hdbscan").fit(x)
        with pytest.raises(ConfigError, match="only the rows it was fitted on"):
            fitted.predict(x[:5])

    def test_predict_before_fit_and_bad_parameters_are_refused_in_one_place(self):
        with pytest.raises(ConfigError, match="after fit"):
            KMeansClusterer(3).predict(np.zeros((4, 2), np.float32))
        with pytest.raises(ConfigError, match="at least 1"):
            GaussianMixtureClusterer(0)
        with pytest.raises(ConfigError, match="n_init"):
            GaussianMixtureClusterer(3, n_init=0)
        with pytest.raises(ConfigError, match="non-empty"):
            KMeansClusterer(3).fit(np.zeros((0, 2), np.float32))
        with pytest.raises(ConfigError, match="kmeans, gmm"):
            clusterer("spectral")

    def test_the_clusters_are_capped_at_the_rows(self):
        fitted = KMeansClusterer(10).fit(np.arange(8, dtype=np.float32).reshape(4, 2))
        assert fitted.n_clusters_ == 4 and fitted.n_clusters == 10

    def test_one_gmm_recipe_more_fits_never_lower_the_likelihood(self):
        x, _ = blobs(300)
        few = GaussianMixtureClusterer(3, 0, n_init=1).fit(x)
        many = GaussianMixtureClusterer(3, 0, n_init=5).fit(x)
        assert many.model_.lower_bound_ >= few.model_.lower_bound_ - 1e-9
        assert GaussianMixtureClusterer(3).n_init == clusterers.GMM_INITS

    def test_a_singular_mixture_is_refitted_with_a_ridge(self):
        x = np.zeros((30, 4), np.float32)
        x[:15, 0] = 1.0  # every cluster lies on a point: a covariance of zeros
        labels = GaussianMixtureClusterer(2, 0).fit_predict(x)
        assert set(labels.tolist()) == {0, 1}
