"""The projections and clustering methods: names, labels, help, the traits callers branch on, and their code.

    MAP_METHODS["umap"].label                                  # "UMAP"
    CLUSTER_METHODS["umap-hdbscan"].chooses_own_cluster_count  # True: no "number of clusters" to ask for
    clusterer("gmm", 10, random_state=0)                       # core.clusterers: its unfitted estimator

Each entry names its code by a dotted path (`build`), imported on first use (core.registry.resolve),
so a page, a link parser or a saved sorting can ask what a method is called, or whether it takes a
number of clusters, without loading scikit-learn or umap. What runs them by name reads these
entries: PROJECTIONS in core.projections, and core.clusterers.clusterer, which builds a method's
estimator (wrapped in N2D's UMAP manifold for an on_manifold one). A new method is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.registry import Entry, registry, resolve

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Projection(Entry):
    """A way to squeeze codes into a 2-D or 3-D map."""

    build: str  # "module:function" making the map: (codes, dims, random_state, **settings) -> float32 (N, dims)
    neighbour_settings: bool = False  # shaped by n_neighbors and min_dist (UMAP's two knobs)
    compiles_on_first_use: bool = False  # numba kernels: the first map of a process is slow

    def run(self, z: np.ndarray, dims: int, random_state: int | None, **settings: Any) -> np.ndarray:
        return resolve(self.build)(z, dims, random_state, **settings)


@dataclass(frozen=True)
class ClusterMethod(Entry):
    """A way to cluster codes: a plain clusterer on the codes, or one on N2D's UMAP manifold of them."""

    build: str  # "module:Class" of the estimator (core.clusterers.Clusterer) that assigns the labels
    summary: str = ""  # its row name in an evaluation table: what runs on what
    on_manifold: bool = False  # its estimator clusters a UMAP of the codes (N2D's manifold) instead of the codes
    chooses_own_cluster_count: bool = False  # ignores n_clusters, and marks the points it cannot place as noise (-1)
    reads: str = "codes"  # the rows it clusters: "codes", or "features" (the backbone's, as the model read them)
    trained_head: bool = False  # trains a network of its own (minutes on a CPU): evaluation runs it only when asked

    @property
    def min_rows(self) -> int:
        """The fewest rows it can cluster: its estimator decides (a Gaussian mixture needs two)."""
        return resolve(self.build).min_rows


MAP_METHODS: dict[str, Projection] = registry(
    Projection(
        "umap",
        "UMAP",
        "Keeps each point's neighbours close and much of the overall layout.",
        "core.projections:umap_project",
        neighbour_settings=True,
        compiles_on_first_use=True,
    ),
    Projection(
        "pca",
        "PCA",
        "A straight linear view along the directions of most variance; instant.",
        "core.projections:pca_project",
    ),
    Projection(
        "tsne",
        "t-SNE",
        "Keeps close neighbours together; distances between clumps mean little.",
        "core.projections:tsne_project",
    ),
)

_OWN_COUNT = "HDBSCAN decides how many clusters there are, and leaves points it cannot place as noise."
_KMEANS, _GMM = "core.clusterers:KMeansClusterer", "core.clusterers:GaussianMixtureClusterer"
_HDBSCAN, _WARD = "core.clusterers:HDBSCANClusterer", "core.clusterers:AgglomerativeClusterer"
CLUSTER_METHODS: dict[str, ClusterMethod] = registry(
    ClusterMethod(
        "kmeans", "k-means", "Round clusters of similar size around k centres.", _KMEANS, summary="k-means on codes"
    ),
    ClusterMethod(
        "gmm", "Gaussian mixture", "k Gaussian blobs, each with its own shape and size.", _GMM, summary="GMM on codes"
    ),
    ClusterMethod(
        "hdbscan",
        "HDBSCAN",
        "Dense regions of any shape. " + _OWN_COUNT,
        _HDBSCAN,
        summary="HDBSCAN on codes",
        chooses_own_cluster_count=True,
    ),
    ClusterMethod(
        "agglomerative",
        "Agglomerative",
        "Ward linkage: merges the closest groups until k are left.",
        _WARD,
        summary="agglomerative (Ward) on codes",
    ),
    ClusterMethod(
        "umap-kmeans",
        "UMAP + k-means",
        "k-means on a UMAP of the codes (N2D's manifold).",
        _KMEANS,
        summary="UMAP of codes + k-means",
        on_manifold=True,
    ),
    ClusterMethod(
        "umap-hdbscan",
        "UMAP + HDBSCAN",
        "HDBSCAN on a UMAP of the codes. " + _OWN_COUNT,
        _HDBSCAN,
        summary="UMAP of codes + HDBSCAN",
        on_manifold=True,
        chooses_own_cluster_count=True,
    ),
    ClusterMethod(
        "umap-agglomerative",
        "UMAP + agglomerative",
        "Ward linkage on a UMAP of the codes.",
        _WARD,
        summary="UMAP of codes + agglomerative",
        on_manifold=True,
    ),
    ClusterMethod(
        "n2d",
        "N2D (UMAP + GMM)",
        "N2D: a Gaussian mixture on a UMAP of the codes; the best here on most data.",
        "core.clusterers:N2DMixture",
        summary="N2D: UMAP of codes + GMM",
        on_manifold=True,
    ),
    ClusterMethod(
        "n2d-features",
        "N2D on backbone features",
        "N2D on the pretrained backbone's features instead of the codes (runs trained on features only); "
        "what photos are sorted by: better than on the codes on the birds tuning sets.",
        "core.clusterers:N2DMixture",
        summary="N2D: UMAP of backbone features + GMM",
        on_manifold=True,
        reads="features",
    ),
    ClusterMethod(
        "temi",
        "TEMI head",
        "TEMI (Adaloglou et al., 2023): clustering heads trained on nearest-neighbour pairs of the codes; "
        "trains a small network, so it takes a minute or more.",
        "core.heads.temi:TEMIClusterer",
        summary="TEMI heads on codes",
        trained_head=True,
    ),
    ClusterMethod(
        "temi-features",
        "TEMI head on backbone features",
        "TEMI heads trained on nearest-neighbour pairs of the pretrained backbone's features, as the paper "
        "trains them (runs trained on features only); a minute or more.",
        "core.heads.temi:TEMIClusterer",
        summary="TEMI heads on backbone features",
        trained_head=True,
        reads="features",
    ),
    ClusterMethod(
        "turtle",
        "TURTLE head",
        "TURTLE (Gadetsky et al., 2024): the grouping whose linear classifiers on the codes separate it with "
        "the widest margin; trains small networks, so it takes a minute or more.",
        "core.heads.turtle:TURTLEClusterer",
        summary="TURTLE on codes",
        trained_head=True,
    ),
    ClusterMethod(
        "turtle-features",
        "TURTLE on backbone features",
        "TURTLE's widest-margin grouping of the pretrained backbone's features (runs trained on features only); "
        "a minute or more.",
        "core.heads.turtle:TURTLEClusterer",
        summary="TURTLE on backbone features",
        trained_head=True,
        reads="features",
    ),
)
