"""TEMIClusterer (core.heads): a clustering head trained on frozen rows, the scikit-learn way.

Small heads on 300 rows of well-separated 64-d Gaussian blobs the test builds itself; the real
training loop runs, only sized down (2 heads, a narrow MLP, a few hundred steps).
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from core.errors import ConfigError, TrainingDiverged
from core.evaluation.clustering import cluster_accuracy
from core.heads import TEMIClusterer

SMALL = dict(n_heads=2, hidden_dim=64, bottleneck_dim=32, epochs=1, warmup_epochs=0, min_steps=150)


def blobs(n_per: int = 60, k: int = 5, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, (k, dim))
    y = np.repeat(np.arange(k), n_per)
    x = centres[y] + rng.normal(0.0, 1.0, (len(y), dim))
    order = rng.permutation(len(y))
    return x[order].astype(np.float32), y[order]


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return blobs()


@pytest.fixture(scope="module")
def fitted(data) -> TEMIClusterer:
    return TEMIClusterer(n_clusters=5, random_state=0, **SMALL).fit(data[0])


class TestClustering:
    def test_finds_the_blobs(self, data, fitted):
        x, y = data
        assert fitted.labels_.shape == (len(x),) and fitted.labels_.dtype == np.int64
        assert cluster_accuracy(y, fitted.labels_) > 0.97
        assert fitted.n_clusters_ == 5
        assert set(fitted.labels_) == set(range(fitted.n_clusters_))
        assert 0 <= fitted.best_head_ < 2 and np.isfinite(fitted.loss_)

    def test_predict_places_new_rows_of_the_same_blobs(self, data, fitted):
        x, _ = data
        assert (fitted.predict(x) == fitted.labels_).mean() > 0.99
        fresh, y_fresh = blobs(n_per=10, seed=0)  # same centres (same seed), new noise
        assert cluster_accuracy(y_fresh, fitted.predict(fresh + 0.01)) > 0.95

    def test_same_seed_same_labels(self, data, fitted):
        again = TEMIClusterer(n_clusters=5, random_state=0, **SMALL).fit_predict(data[0])
        np.testing.assert_array_equal(again, fitted.labels_)

    def test_progress_reports_every_step(self, data):
        calls: list[tuple[int, int]] = []
        TEMIClusterer(n_clusters=5, **{**SMALL, "min_steps": 20}, progress=lambda d, t: calls.append((d, t))).fit(
            data[0]
        )
        assert calls and calls[-1][0] == calls[-1][1] == len(calls)
        assert [d for d, _ in calls] == list(range(1, len(calls) + 1))


class TestEstimatorContract:
    def test_get_params_and_clone(self):
        head = TEMIClusterer(n_clusters=7, random_state=3, lr=1e-3, progress=print)
        params = head.get_params()
        assert params["n_clusters"] == 7 and params["lr"] == 1e-3 and params["progress"] is print
        copy = clone(head)
        assert copy is not head and copy.get_params() == params
        assert not hasattr(copy, "labels_")

    def test_init_stores_parameters_untouched(self):
        head = TEMIClusterer(n_clusters=-1, n_heads="many")  # refused in fit, not in __init__
        assert head.n_clusters == -1 and head.n_heads == "many"

    def test_inside_a_pipeline_behind_a_scaler(self, data):
        x, y = data
        pipe = make_pipeline(StandardScaler(), TEMIClusterer(n_clusters=5, random_state=0, **SMALL))
        labels = pipe.fit_predict(x * 100.0 + 5.0)
        assert cluster_accuracy(y, labels) > 0.97
        np.testing.assert_array_equal(pipe.predict(x * 100.0 + 5.0), labels)

    def test_predict_before_fit_is_refused(self, data):
        with pytest.raises(ConfigError, match="after fit"):
            TEMIClusterer().predict(data[0])


class TestRefusals:
    def test_five_rows(self, data):
        with pytest.raises(ConfigError, match="at least 10 rows"):
            TEMIClusterer(n_clusters=2, **SMALL).fit(data[0][:5])

    def test_more_groups_than_rows(self, data):
        with pytest.raises(ConfigError, match="cannot make 20 groups of 12 rows"):
            TEMIClusterer(n_clusters=20, **SMALL).fit(data[0][:12])

    @pytest.mark.parametrize(
        "bad", [dict(n_clusters=1), dict(n_heads=0), dict(lr=0.0), dict(beta=float("nan")), dict(device="tpu9")]
    )
    def test_bad_settings(self, data, bad):
        with pytest.raises(ConfigError, match="TEMI"):
            TEMIClusterer(**{**SMALL, **bad}).fit(data[0])

    def test_infinite_input(self, data):
        x = data[0].copy()
        x[3, 7] = np.inf
        with pytest.raises(ConfigError, match="NaN or infinite"):
            TEMIClusterer(n_clusters=5, **SMALL).fit(x)

    def test_diverging_training_raises_and_leaves_no_labels(self, data, fitted):
        head = clone(fitted).set_params(lr=1e6, min_steps=30)
        head.labels_ = np.zeros(3)  # a stale fit must not survive a failed one
        with pytest.raises(TrainingDiverged, match="Lower the learning rate"):
            head.fit(data[0])
        assert not hasattr(head, "labels_")
