"""The clustering estimators on data the test builds: one entry point, scikit-learn's contract, one validation."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import core.clusterers as clusterers
from core.clusterers import GaussianMixtureClusterer, KMeansClusterer, N2DMixture, OnManifold, clusterer
from core.errors import ConfigError
from core.evaluation import cluster_accuracy
from core.methods import CLUSTER_METHODS
from tests.core.data_fixtures import blobs

ON_CODES = [name for name, m in CLUSTER_METHODS.items() if not m.on_manifold]
# A trained head sized for a test: 40 steps of small heads still find well-separated blobs, in well under a second.
TEMI_FAST = {"min_steps": 40, "epochs": 1, "warmup_epochs": 0, "hidden_dim": 32, "bottleneck_dim": 32}
TURTLE_FAST = {"outer_steps": 40, "inner_steps": 5, "outer_lr": 5e-2}
FAST = {
    name: TURTLE_FAST if m.build.endswith("TURTLEClusterer") else TEMI_FAST
    for name, m in CLUSTER_METHODS.items()
    if m.trained_head
}


def fast(method: str, *args, **kwargs):
    """clusterer(method, ...), a trained head sized to train in a test."""
    return clusterer(method, *args, **kwargs, **FAST.get(method, {}))


class TestCluster:
    @pytest.mark.parametrize("method", ON_CODES)
    def test_blobs_are_found(self, method):
        x, y = blobs()
        labels = fast(method, n_clusters=3, random_state=0).fit_predict(x)
        assert labels.dtype == np.int64 and labels.shape == (300,)
        assert cluster_accuracy(y, labels) >= 0.99

    def test_hdbscan_marks_far_outliers_as_noise(self):
        x, _ = blobs()
        outliers = np.array([[60.0] * 5, [-60.0] * 5], dtype=np.float32)
        labels = clusterer("hdbscan").fit_predict(np.vstack([x, outliers]))
        assert labels[-1] == -1 and labels[-2] == -1

    def test_agglomerative_on_many_points_fits_a_sample(self, monkeypatch):
        monkeypatch.setattr(clusterers, "AGGLOMERATIVE_FIT_MAX", 100)
        x, y = blobs(900)
        labels = clusterer("agglomerative", n_clusters=3).fit_predict(x)
        assert cluster_accuracy(y, labels) >= 0.99

    def test_hdbscan_on_many_points_fits_a_sample_and_far_points_stay_noise(self, monkeypatch):
        monkeypatch.setattr(clusterers, "HDBSCAN_FIT_MAX", 200)
        x, y = blobs(900)
        outliers = np.array([[60.0] * 5, [-60.0] * 5], dtype=np.float32)
        labels = clusterer("hdbscan", random_state=0).fit_predict(np.vstack([x, outliers]))
        assert labels.shape == (902,) and cluster_accuracy(y, labels[:900]) >= 0.99
        assert labels[-1] == -1 and labels[-2] == -1  # their nearest sampled rows are far: noise, as sampled

    def test_bad_inputs_are_refused_in_fit(self):
        x, _ = blobs(20)
        with pytest.raises(ConfigError, match="kmeans, gmm, hdbscan, agglomerative, umap-kmeans"):
            clusterer("spectral")
        zero = clusterer("kmeans", n_clusters=0)  # stored as given: scikit-learn's clone needs that
        with pytest.raises(ConfigError, match="at least 1"):
            zero.fit(x)
        assert len(set(clusterer("kmeans", n_clusters=10).fit_predict(x[:4]).tolist())) <= 4  # k capped at N


class TestEstimators:
    def test_each_name_is_one_estimator(self):
        assert type(clusterer("gmm")) is GaussianMixtureClusterer and type(clusterer("kmeans")) is KMeansClusterer
        n2d = clusterer("n2d", 4, random_state=2, n_neighbors=12)
        assert type(n2d) is OnManifold and type(n2d.clusterer) is N2DMixture and n2d.n_neighbors == 12
        assert n2d.clusterer.get_params() == {"n_clusters": 4, "random_state": 2, "n_init": clusterers.N2D_GMM_INITS}

    @pytest.mark.parametrize("method", list(CLUSTER_METHODS))
    def test_clone_and_get_params_work_on_every_method(self, method):
        estimator = fast(method, 4, random_state=3)
        params = estimator.get_params(deep=False)
        assert set(params) == set(inspect.signature(type(estimator).__init__).parameters) - {"self"}
        assert all(getattr(estimator, name) is value for name, value in params.items())  # stored untouched
        twin = clone(estimator)
        assert type(twin) is type(estimator) and twin is not estimator
        assert repr(twin.get_params()) == repr(estimator.get_params())  # deep: the inner clusterer's too
        z = blobs(60)[0]
        np.testing.assert_array_equal(twin.fit_predict(z), estimator.fit_predict(z))

    def test_set_params_reaches_the_clusterer_on_the_manifold(self):
        estimator = clusterer("umap-kmeans", 4).set_params(clusterer__n_clusters=3)
        assert estimator.clusterer.n_clusters == 3
        x, y = blobs()
        assert cluster_accuracy(y, estimator.fit_predict(x)) >= 0.99 and estimator.embedding_.shape == (300, 3)

    @pytest.mark.parametrize("method", list(CLUSTER_METHODS))
    def test_in_a_pipeline_behind_a_scaler(self, method):
        x, y = blobs()
        pipe = Pipeline([("scale", StandardScaler()), ("cluster", fast(method, 3, random_state=0))])
        labels = pipe.fit_predict(x * 1000.0)
        assert cluster_accuracy(y, labels) >= 0.99
        if hasattr(pipe[-1], "predict"):
            np.testing.assert_array_equal(pipe.predict(x[:20] * 1000.0 + 0.01), labels[:20])

    def test_only_the_methods_that_keep_a_model_place_new_rows(self):
        can = [name for name in CLUSTER_METHODS if hasattr(clusterer(name), "predict")]
        assert can == [
            "kmeans",
            "gmm",
            "agglomerative",
            "temi",
            "temi-features",
            "turtle",
            "turtle-features",
        ]  # HDBSCAN and the UMAP ones label only their rows

    @pytest.mark.parametrize("method", ["kmeans", "gmm", "agglomerative"])
    def test_fit_predict_is_fit_then_labels_and_predict_places_new_rows(self, method):
        x, _ = blobs(300)
        labels = clusterer(method, 3, random_state=0).fit_predict(x)
        fitted = clusterer(method, 3, random_state=0).fit(x)
        np.testing.assert_array_equal(fitted.labels_, labels)
        # Rows near the fitted ones land in the same clusters.
        np.testing.assert_array_equal(fitted.predict(x[:20] + 0.01), labels[:20])

    def test_predict_before_fit_and_bad_parameters_are_refused_in_fit(self):
        with pytest.raises(ConfigError, match="after fit"):
            KMeansClusterer(3).predict(np.zeros((4, 2), np.float32))
        x = blobs(20)[0]
        with pytest.raises(ConfigError, match="at least 1"):
            GaussianMixtureClusterer(0).fit(x)
        with pytest.raises(ConfigError, match="n_init"):
            GaussianMixtureClusterer(3, n_init=0).fit(x)
        with pytest.raises(ConfigError, match="non-empty"):
            KMeansClusterer(3).fit(np.zeros((0, 2), np.float32))
        with pytest.raises(ConfigError, match="at least 1"):
            clusterer("n2d", 0).fit(x)
        with pytest.raises(ConfigError, match="needs a clusterer"):
            OnManifold("kmeans").fit(x)

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


class TestOnManifold:
    def test_n2d_is_seeded_and_shares_its_manifold(self):
        x, y = blobs(300)
        first = clusterer("n2d", 3, random_state=1).fit(x)
        np.testing.assert_array_equal(first.labels_, clusterer("n2d", 3, random_state=1).fit_predict(x))
        assert cluster_accuracy(y, first.labels_) >= 0.99
        other = clusterer("umap-kmeans", 3, random_state=1)
        np.testing.assert_array_equal(other.manifold(x), first.embedding_)  # one UMAP serves every method on it
        np.testing.assert_array_equal(
            other.fit_embedded(first.embedding_).labels_, clusterer("umap-kmeans", 3, 1).fit_predict(x)
        )


class TestTrainedHeads:
    def test_temi_is_a_method_that_reports_its_steps(self):
        steps = []
        x, y = blobs()
        heard = lambda done, total: steps.append((done, total))  # noqa: E731
        labels = fast("temi", 3, random_state=0, progress=heard).fit_predict(x)
        assert cluster_accuracy(y, labels) >= 0.99
        assert steps[-1] == (40, 40) and len(steps) == 40
        assert clusterer("temi").progress is None and CLUSTER_METHODS["temi"].trained_head

    def test_temi_refuses_too_few_rows_and_too_many_groups_clearly(self):
        x, _ = blobs(30)
        with pytest.raises(ConfigError, match="at least 10 rows"):
            fast("temi", 3).fit(x[:5])
        with pytest.raises(ConfigError, match="cannot make 1000 groups of 30 rows"):
            fast("temi", 1000).fit(x)
