"""Clustering codes the scikit-learn way: estimators with fit / predict / fit_predict.

    labels = KMeansClusterer(n_clusters=10, random_state=0).fit_predict(z)   # (N,) int64
    labels = cluster(z, "kmeans", n_clusters=10)                             # the same, by name

Every estimator checks its parameters and input in one place (`Clusterer`), caps the number of
clusters at the number of rows, and numbers clusters 0..k-1; HDBSCAN marks noise -1 and chooses
how many clusters there are itself. There is one Gaussian-mixture recipe: the map's "gmm" fits
it 3 times, N2D 10 times (core.evaluation.clustering), and keeps the most likely fit. Which
estimator a method name means is said by its entry in core.methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np

from core.cuml_backend import try_cuml
from core.errors import ConfigError
from core.methods import CLUSTER_METHODS, ClusterMethod
from core.registry import lookup

AGGLOMERATIVE_FIT_MAX = 5000  # ward linkage is O(N^2) memory: fit on a sample, assign the rest
GMM_INITS = 3  # fits of the map's "gmm"; the most likely one wins


def check_n_clusters(n_clusters: int) -> int:
    """`n_clusters` as an int; ConfigError below 1."""
    if int(n_clusters) < 1:
        raise ConfigError(f"The number of clusters must be at least 1 (got {n_clusters}).")
    return int(n_clusters)


def check_codes(z: np.ndarray) -> np.ndarray:
    """`z` as float32 (N, D); ConfigError when it is empty or not two-dimensional."""
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or len(z) == 0:
        raise ConfigError(f"Clustering needs a non-empty (N, D) array (got shape {z.shape}).")
    return z


def hdbscan_min_cluster_size(n: int) -> int:
    """About 1% of the points, at least 5: small enough to find ten digits in a few thousand."""
    return int(max(5, min(n // 100, 1000)))


def nearest_centroid(z: np.ndarray, centroids: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Index of the closest centroid for every row of `z` (batched to keep memory flat)."""
    out = np.empty(len(z), dtype=np.int64)
    c2 = (centroids.astype(np.float64) ** 2).sum(axis=1)
    for start in range(0, len(z), batch_size):
        block = z[start : start + batch_size].astype(np.float64)
        out[start : start + batch_size] = np.argmin(c2[None, :] - 2.0 * block @ centroids.T, axis=1)
    return out


class Clusterer:
    """Base of the estimators: `fit(z)` sets `labels_` (and `n_clusters_`, the count after capping
    at the rows), `predict(z)` places new rows, `fit_predict(z)` is `fit(z).labels_`."""

    min_rows: ClassVar[int] = 1  # the fewest rows it can cluster (ClusterMethod.min_rows reads it)

    def __init__(self, n_clusters: int = 10, random_state: int | None = 0):
        self.n_clusters = check_n_clusters(n_clusters)
        self.random_state = random_state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_clusters={self.n_clusters}, random_state={self.random_state})"

    def fit(self, z: np.ndarray) -> Clusterer:
        z = check_codes(z)
        self.n_clusters_ = min(self.n_clusters, len(z))
        self.labels_ = np.asarray(self._fit(z, self.n_clusters_), dtype=np.int64)
        return self

    def fit_predict(self, z: np.ndarray) -> np.ndarray:
        return self.fit(z).labels_

    def predict(self, z: np.ndarray) -> np.ndarray:
        if not hasattr(self, "labels_"):
            raise ConfigError(f"{type(self).__name__} places new rows only after fit().")
        return np.asarray(self._predict(check_codes(z)), dtype=np.int64)

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        raise NotImplementedError

    def _predict(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class KMeansClusterer(Clusterer):
    """k-means, best of 10 seeded starts."""

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        from sklearn.cluster import KMeans

        self.model_ = KMeans(n_clusters=n_clusters, n_init=10, random_state=self.random_state).fit(z)
        return self.model_.labels_

    def _predict(self, z: np.ndarray) -> np.ndarray:
        return self.model_.predict(z)


class GaussianMixtureClusterer(Clusterer):
    """The most likely of `n_init` full-covariance Gaussian mixtures.

    A cluster squeezed into fewer dimensions than the codes have (a few dozen points in 32-d)
    has a singular covariance and the fit fails; then it is refitted with a ridge on the
    covariances sized to the data (1e-3, then 1e-1 of the mean variance) instead of failing.
    """

    min_rows = 2

    def __init__(self, n_clusters: int = 10, random_state: int | None = 0, n_init: int = GMM_INITS):
        super().__init__(n_clusters, random_state)
        if int(n_init) < 1:
            raise ConfigError(f"A Gaussian mixture needs at least 1 fit (got n_init={n_init}).")
        self.n_init = int(n_init)

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        from sklearn.mixture import GaussianMixture

        z = np.asarray(z, dtype=np.float64)
        scale = float(np.mean(np.var(z, axis=0))) or 1.0
        for reg_covar in (1e-5, 1e-3 * scale, 1e-1 * scale):
            gmm = GaussianMixture(
                n_components=n_clusters,
                covariance_type="full",
                reg_covar=reg_covar,
                n_init=self.n_init,
                random_state=self.random_state,
            )
            try:
                self.model_ = gmm.fit(z)
                return self.model_.predict(z)
            except ValueError:
                continue
        raise ConfigError(
            f"A {n_clusters}-component Gaussian mixture cannot be fitted to these {len(z)} points, "
            "even with regularised covariances; choose fewer clusters or another method."
        )

    def _predict(self, z: np.ndarray) -> np.ndarray:
        return self.model_.predict(np.asarray(z, dtype=np.float64))


class HDBSCANClusterer(Clusterer):
    """HDBSCAN: chooses its own number of clusters (`n_clusters` is ignored) and marks noise -1."""

    min_rows = hdbscan_min_cluster_size(0)

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        from sklearn.cluster import HDBSCAN

        on_gpu = try_cuml("cluster", "HDBSCAN", z, "fit_predict", min_cluster_size=hdbscan_min_cluster_size(len(z)))
        if on_gpu is not None:
            return on_gpu
        return HDBSCAN(min_cluster_size=hdbscan_min_cluster_size(len(z)), copy=True).fit_predict(z)

    def _predict(self, z: np.ndarray) -> np.ndarray:
        raise ConfigError("HDBSCAN labels only the rows it was fitted on; fit it again with the new rows.")


class AgglomerativeClusterer(Clusterer):
    """Ward linkage; above AGGLOMERATIVE_FIT_MAX rows it fits a seeded sample and gives every other
    row the cluster of the nearest sample-cluster centroid (the sample keeps its own)."""

    min_rows = 2

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering

        n = len(z)
        if n <= AGGLOMERATIVE_FIT_MAX:
            labels = AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(z)
            self.centroids_ = np.stack([z[labels == c].mean(axis=0) for c in range(n_clusters)])
            return labels
        # Ward on 70k points would need a 70k x 70k distance matrix.
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(n, AGGLOMERATIVE_FIT_MAX, replace=False))
        fitted = AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(z[sample])
        self.centroids_ = np.stack([z[sample][fitted == c].mean(axis=0) for c in range(n_clusters)])
        labels = nearest_centroid(z, self.centroids_)
        labels[sample] = fitted
        return labels

    def _predict(self, z: np.ndarray) -> np.ndarray:
        return nearest_centroid(z, self.centroids_)


# The methods that cluster the codes themselves: core.methods' entries not on N2D's manifold.
ON_CODES: dict[str, ClusterMethod] = {name: m for name, m in CLUSTER_METHODS.items() if not m.on_manifold}


def _labels_from(method: ClusterMethod) -> Callable[[np.ndarray, int, int | None], np.ndarray]:
    return lambda z, n_clusters, random_state: method.estimator(n_clusters, random_state).fit_predict(z)


# name -> (codes, n_clusters, random_state) -> labels: the methods a page or the CLI offers by name.
CLUSTERERS: dict[str, Callable[[np.ndarray, int, int | None], np.ndarray]] = {
    name: _labels_from(method) for name, method in ON_CODES.items()
}


def clusterer(method: str, n_clusters: int = 10, random_state: int | None = 0) -> Clusterer:
    """An unfitted estimator of a method named in CLUSTERERS."""
    return lookup(ON_CODES, method, "clustering method").estimator(n_clusters, random_state)


def cluster(z: np.ndarray, method: str = "kmeans", n_clusters: int = 10, random_state: int | None = 0) -> np.ndarray:
    """Cluster labels, int64 (N,), numbered 0..k-1; HDBSCAN marks noise -1 and ignores `n_clusters`."""
    return clusterer(method, n_clusters, random_state).fit_predict(z)
