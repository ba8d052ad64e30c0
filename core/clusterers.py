"""Clustering codes the scikit-learn way: estimators with fit / predict / fit_predict, one per method name.

    labels = clusterer("kmeans", n_clusters=10, random_state=0).fit_predict(z)   # (N,) int64
    labels = clusterer("n2d", 10, random_state=0).fit_predict(z)                 # UMAP manifold + GMM
    Pipeline([("scale", StandardScaler()), ("cluster", clusterer("gmm", 3))]).fit(z).predict(z)

`clusterer(name, ...)` is the one way in: the CLI, the pages, evaluation and export all build
their estimator through it, from the method's entry in core.methods. The estimators follow
scikit-learn's contract, so `clone`, `get_params` and pipelines work: `__init__` only stores its
arguments, `fit` checks them and the input (ConfigError with the reason), caps the number of
clusters at the number of rows and numbers clusters 0..k-1; HDBSCAN marks noise -1 and chooses
how many clusters there are itself. A method on N2D's manifold is `OnManifold(clusterer)`: UMAP
of the codes, then that clusterer on the UMAP. There is one Gaussian-mixture recipe: the map's
"gmm" fits it 3 times, N2D 10 times, and keeps the most likely fit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin, clone

from core.cuml_backend import try_cuml
from core.errors import ConfigError
from core.methods import CLUSTER_METHODS
from core.registry import lookup, resolve

HDBSCAN_FIT_MAX = 20_000  # HDBSCAN fits at most this many rows; the others take their nearest one's label
AGGLOMERATIVE_FIT_MAX = 5000  # ward linkage is O(N^2) memory: fit on a sample, assign the rest
GMM_INITS = 3  # fits of the map's "gmm"; the most likely one wins
N2D_NEIGHBORS = 20
# UMAP's own choice above 10k points; on 10k mnist codes 500 (its default below) gave the same ACC/NMI in 5x the time
N2D_EPOCHS = 200
N2D_GMM_INITS = 10  # best of 10 GMM fits by likelihood: one fit often merges 4/9 and splits another digit


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


class Clusterer(ClusterMixin, BaseEstimator):
    """Base of the estimators: `fit(X)` checks the parameters and `X`, then sets `labels_` and
    `n_clusters_` (the count after capping at the rows). Those that can place new rows add `predict`."""

    min_rows: ClassVar[int] = 1  # the fewest rows it can cluster (ClusterMethod.min_rows reads it)

    def __init__(self, n_clusters: int = 10, random_state: int | None = 0):
        self.n_clusters = n_clusters
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: None = None) -> Clusterer:
        self._check_params()
        z = check_codes(X)
        self.n_clusters_ = min(check_n_clusters(self.n_clusters), len(z))
        self.labels_ = np.asarray(self._fit(z, self.n_clusters_), dtype=np.int64)
        return self

    def _check_params(self) -> None:
        """ConfigError for a parameter the subclass cannot work with (n_clusters is checked in fit)."""

    def _placed(self, X: np.ndarray, place) -> np.ndarray:
        """`place(X)` as int64 labels, once fitted: the shared part of every `predict`."""
        if not hasattr(self, "labels_"):
            raise ConfigError(f"{type(self).__name__} places new rows only after fit().")
        return np.asarray(place(check_codes(X)), dtype=np.int64)

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        raise NotImplementedError


class KMeansClusterer(Clusterer):
    """k-means, best of 10 seeded starts."""

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        from sklearn.cluster import KMeans

        self.model_ = KMeans(n_clusters=n_clusters, n_init=10, random_state=self.random_state).fit(z)
        return self.model_.labels_

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._placed(X, lambda z: self.model_.predict(z))


class GaussianMixtureClusterer(Clusterer):
    """The most likely of `n_init` full-covariance Gaussian mixtures.

    A cluster squeezed into fewer dimensions than the codes have (a few dozen points in 32-d)
    has a singular covariance and the fit fails; then it is refitted with a ridge on the
    covariances sized to the data (1e-3, then 1e-1 of the mean variance) instead of failing.
    """

    min_rows = 2

    def __init__(self, n_clusters: int = 10, random_state: int | None = 0, n_init: int = GMM_INITS):
        super().__init__(n_clusters, random_state)
        self.n_init = n_init

    def _check_params(self) -> None:
        if int(self.n_init) < 1:
            raise ConfigError(f"A Gaussian mixture needs at least 1 fit (got n_init={self.n_init}).")

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        from sklearn.mixture import GaussianMixture

        z = np.asarray(z, dtype=np.float64)
        scale = float(np.mean(np.var(z, axis=0))) or 1.0
        for reg_covar in (1e-5, 1e-3 * scale, 1e-1 * scale):
            gmm = GaussianMixture(
                n_components=n_clusters,
                covariance_type="full",
                reg_covar=reg_covar,
                n_init=int(self.n_init),
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

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._placed(X, lambda z: self.model_.predict(np.asarray(z, dtype=np.float64)))


class N2DMixture(GaussianMixtureClusterer):
    """N2D's last step: the best of N2D_GMM_INITS Gaussian-mixture fits by likelihood (no labels involved).

    On mnist-5k codes one fit often merged 4/9 and split another digit; the best of 10 raised
    ACC by several points and made it far less seed-dependent.
    """

    def __init__(self, n_clusters: int = 10, random_state: int | None = 0, n_init: int = N2D_GMM_INITS):
        super().__init__(n_clusters, random_state, n_init)


class HDBSCANClusterer(Clusterer):
    """HDBSCAN: chooses its own number of clusters (`n_clusters` is ignored) and marks noise -1.

    No `predict`: it labels only the rows it was fitted on (scikit-learn's HDBSCAN has none either).
    Above HDBSCAN_FIT_MAX rows it fits a seeded sample and every other row takes the label of its
    nearest sampled row (noise included), or noise when it lies farther from every sampled row than
    99% of them lie from their nearest other: its minimum cluster size grows with the rows, and so
    does each row's neighbourhood, so on 100,000 codes the whole fit ran past ten minutes.
    """

    min_rows = hdbscan_min_cluster_size(0)

    def _fit(self, z: np.ndarray, n_clusters: int) -> np.ndarray:
        from sklearn.cluster import HDBSCAN
        from sklearn.neighbors import NearestNeighbors

        on_gpu = try_cuml("cluster", "HDBSCAN", z, "fit_predict", min_cluster_size=hdbscan_min_cluster_size(len(z)))
        if on_gpu is not None:
            return on_gpu
        if len(z) <= HDBSCAN_FIT_MAX:
            return HDBSCAN(min_cluster_size=hdbscan_min_cluster_size(len(z)), copy=True).fit_predict(z)
        sample = np.sort(np.random.default_rng(self.random_state).choice(len(z), HDBSCAN_FIT_MAX, replace=False))
        fitted = HDBSCAN(min_cluster_size=hdbscan_min_cluster_size(HDBSCAN_FIT_MAX), copy=True).fit_predict(z[sample])
        index = NearestNeighbors(n_neighbors=2).fit(z[sample])
        spacing = np.quantile(index.kneighbors()[0][:, 0], 0.99)  # how far apart sampled rows are, nearly all
        distance, nearest = index.kneighbors(z, n_neighbors=1)
        labels = np.where(distance[:, 0] <= spacing, fitted[nearest[:, 0]], -1)  # far from all of them: noise
        labels[sample] = fitted
        return labels


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

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self._placed(X, lambda z: nearest_centroid(z, self.centroids_))


def umap_manifold(
    codes: np.ndarray,
    n_clusters: int,
    random_state: int | None = 0,
    n_neighbors: int = N2D_NEIGHBORS,
    dims: int | None = None,
) -> np.ndarray:
    """N2D's manifold: UMAP of the codes to `dims` (default: n_clusters) dimensions with min_dist=0.

    min_dist=0 packs similar points tightly, which is what a clusterer wants (a map for the eye
    uses a larger value). With too few points for a neighbour graph, the codes themselves, or their
    first `dims` principal components when they are wider (a full-covariance mixture on a dozen
    1,280-d backbone features would take many minutes and learn nothing).
    """
    from core.projections import umap_project

    codes = np.asarray(codes, dtype=np.float32)
    check_n_clusters(n_clusters)
    dims = int(dims or max(2, min(int(n_clusters), len(codes))))
    if len(codes) <= dims + 2:
        if codes.shape[1] <= dims:
            return codes
        from sklearn.decomposition import PCA

        return PCA(min(dims, len(codes)), random_state=random_state).fit_transform(codes).astype(np.float32)
    return umap_project(codes, dims, random_state, n_neighbors=n_neighbors, min_dist=0.0, n_epochs=N2D_EPOCHS)


class OnManifold(ClusterMixin, BaseEstimator):
    """N2D's recipe around any clusterer: UMAP the codes (`umap_manifold`), then `clusterer` on the UMAP.

    (McConville et al., 2019, "N2D: (Not Too) Deep Clustering via Clustering the Local Manifold of
    an Autoencoded Embedding".) The UMAP takes its dimensions and seed from the clusterer's
    `n_clusters` and `random_state`, so one number and one seed set both, as N2D does. `fit` sets
    `embedding_` (the manifold), `clusterer_` (the clusterer fitted on it) and `labels_`. No
    `predict`: the UMAP of new rows is not kept.
    """

    def __init__(self, clusterer: Clusterer | None = None, n_neighbors: int = N2D_NEIGHBORS, dims: int | None = None):
        self.clusterer = clusterer
        self.n_neighbors = n_neighbors
        self.dims = dims

    def manifold(self, X: np.ndarray) -> np.ndarray:
        """The UMAP this estimator's clusterer would be fitted on (what several methods may share)."""
        inner = self._checked_clusterer()
        return umap_manifold(check_codes(X), inner.n_clusters, inner.random_state, self.n_neighbors, self.dims)

    def fit(self, X: np.ndarray, y: None = None) -> OnManifold:
        return self.fit_embedded(self.manifold(X))

    def fit_embedded(self, embedding: np.ndarray) -> OnManifold:
        """`fit` given the manifold already computed (`manifold(X)`), e.g. one UMAP shared by several methods."""
        self.embedding_ = embedding
        self.clusterer_ = clone(self._checked_clusterer()).fit(embedding)
        self.labels_ = self.clusterer_.labels_
        self.n_clusters_ = self.clusterer_.n_clusters_
        return self

    def _checked_clusterer(self) -> Clusterer:
        if not isinstance(self.clusterer, Clusterer):
            raise ConfigError(f"OnManifold needs a clusterer from core.clusterers (got {self.clusterer!r}).")
        return self.clusterer


def clusterer(
    method: str,
    n_clusters: int = 10,
    random_state: int | None = 0,
    n_neighbors: int = N2D_NEIGHBORS,
    progress: Callable[[int, int], None] | None = None,
    **params: Any,
) -> Clusterer | OnManifold:
    """The unfitted estimator of a method named in core.methods.CLUSTER_METHODS; ConfigError naming
    the valid ones for any other name. `n_neighbors` shapes the UMAP of the methods on N2D's manifold;
    `progress(done, total)` hears the training steps of a trained head (the others take no time
    worth reporting); `params` go to the estimator itself (e.g. TEMI's min_steps)."""
    entry = lookup(CLUSTER_METHODS, method, "clustering method")
    if entry.trained_head:
        params["progress"] = progress
    estimator = resolve(entry.build)(n_clusters=n_clusters, random_state=random_state, **params)
    return OnManifold(estimator, n_neighbors=n_neighbors) if entry.on_manifold else estimator
