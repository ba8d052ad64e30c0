"""TURTLEClusterer (core.heads): the largest-margin labelling of frozen rows, the scikit-learn way.

Well-separated 32-d Gaussian blobs (tests.core.data_fixtures); the real bilevel loop runs, only with
fewer outer steps and a small batch.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from core.errors import ConfigError, TrainingDiverged
from core.evaluation.clustering import cluster_accuracy
from core.heads import TURTLEClusterer
from tests.core.data_fixtures import blobs as data_blobs

SMALL = dict(outer_steps=40, inner_steps=5, outer_lr=5e-2, batch_size=200)


def blobs(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return data_blobs(n, centers=4, dims=32, seed=seed)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    return blobs()


@pytest.fixture(scope="module")
def fitted(data) -> TURTLEClusterer:
    return TURTLEClusterer(n_clusters=4, random_state=0, **SMALL).fit(data[0])


class TestClustering:
    def test_finds_the_blobs(self, data, fitted):
        x, y = data
        assert fitted.labels_.shape == (len(x),) and fitted.labels_.dtype == np.int64
        assert cluster_accuracy(y, fitted.labels_) > 0.97
        assert fitted.n_clusters_ == 4 and set(fitted.labels_) == set(range(4))
        assert len(fitted.loss_curve_) == SMALL["outer_steps"] and np.isfinite(fitted.entropy_)

    def test_predict_places_new_rows_of_the_same_blobs(self, data, fitted):
        assert (fitted.predict(data[0]) == fitted.labels_).mean() > 0.99
        fresh, y_fresh = blobs(n=40)  # same centres (same seed), new noise
        assert cluster_accuracy(y_fresh, fitted.predict(fresh + 0.01)) > 0.95

    def test_same_seed_same_labels(self, data, fitted):
        again = TURTLEClusterer(n_clusters=4, random_state=0, **SMALL).fit_predict(data[0])
        np.testing.assert_array_equal(again, fitted.labels_)

    def test_two_spaces(self, data):
        x, y = data
        two = np.hstack([x, x[:, ::-1] * 10.0])  # the second space: the same blobs at another scale
        labels = TURTLEClusterer(n_clusters=4, spaces=(32, 32), **SMALL).fit_predict(two)
        assert cluster_accuracy(y, labels) > 0.97

    def test_progress_reports_every_outer_step(self, data):
        calls: list[tuple[int, int]] = []
        TURTLEClusterer(n_clusters=4, **{**SMALL, "outer_steps": 7}, progress=lambda d, t: calls.append((d, t))).fit(
            data[0]
        )
        assert calls == [(d, 7) for d in range(1, 8)]

    def test_clone_keeps_parameters(self):
        head = TURTLEClusterer(n_clusters=7, random_state=3, gamma=5.0, spaces=(3, 4))
        copy = clone(head)
        assert copy.get_params() == head.get_params() and not hasattr(copy, "labels_")


class TestRefusals:
    def test_five_rows(self, data):
        with pytest.raises(ConfigError, match="at least 10 rows"):
            TURTLEClusterer(n_clusters=2, **SMALL).fit(data[0][:5])

    def test_more_groups_than_rows(self, data):
        with pytest.raises(ConfigError, match="cannot make 20 groups of 12 rows"):
            TURTLEClusterer(n_clusters=20, **SMALL).fit(data[0][:12])

    @pytest.mark.parametrize(
        "bad",
        [dict(n_clusters=1), dict(outer_steps=0), dict(inner_lr=0.0), dict(gamma=float("nan")), dict(spaces=(10, 10))],
    )
    def test_bad_settings(self, data, bad):
        with pytest.raises(ConfigError, match="TURTLE"):
            TURTLEClusterer(**{**SMALL, **bad}).fit(data[0])

    def test_nan_input(self, data):
        x = data[0].copy()
        x[3, 7] = np.nan
        with pytest.raises(ConfigError, match="NaN or infinite"):
            TURTLEClusterer(n_clusters=4, **SMALL).fit(x)

    def test_predict_before_fit_is_refused(self, data):
        with pytest.raises(ConfigError, match="after fit"):
            TURTLEClusterer().predict(data[0])

    def test_diverging_training_raises_and_leaves_no_labels(self, data, fitted):
        head = clone(fitted).set_params(outer_lr=1e30, inner_lr=1e30, outer_steps=30)
        head.labels_ = np.zeros(3)  # a stale fit must not survive a failed one
        with pytest.raises(TrainingDiverged, match="Lower the learning rates"):
            head.fit(data[0])
        assert not hasattr(head, "labels_")
