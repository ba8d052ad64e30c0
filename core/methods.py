"""The projections and clustering methods, described: names, labels, help and the traits callers branch on.

    MAP_METHODS["umap"].label                               # "UMAP"
    CLUSTER_METHODS["umap-hdbscan"].chooses_own_cluster_count  # True: no "number of clusters" to ask for

The code that runs them stays beside its kind: projections and the plain clusterers in
core.projections (PROJECTIONS) and core.clusterers (CLUSTERERS), the pipelines on N2D's UMAP manifold in
core.evaluation.clustering (PIPELINES); tests check those tables hold exactly these names. This
module imports nothing heavy, so a page, a link parser or a saved sorting can ask what a method
is called, or whether it takes a number of clusters, without loading scikit-learn or umap.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.registry import Entry, registry


@dataclass(frozen=True)
class Projection(Entry):
    """A way to squeeze codes into a 2-D or 3-D map."""

    neighbour_settings: bool = False  # shaped by n_neighbors and min_dist (UMAP's two knobs)
    compiles_on_first_use: bool = False  # numba kernels: the first map of a process is slow


@dataclass(frozen=True)
class ClusterMethod(Entry):
    """A way to cluster codes: a plain clusterer on the codes, or one on N2D's UMAP manifold of them."""

    summary: str = ""  # its row name in an evaluation table: what runs on what
    step: str = ""  # the plain clusterer that assigns the labels (itself, for a plain one)
    on_manifold: bool = False  # clusters a UMAP of the codes (N2D's manifold) instead of the codes
    chooses_own_cluster_count: bool = False  # ignores n_clusters, and marks the points it cannot place as noise (-1)


MAP_METHODS: dict[str, Projection] = registry(
    Projection("umap", "UMAP", "Keeps each point's neighbours close and much of the overall layout.",
               neighbour_settings=True, compiles_on_first_use=True),
    Projection("pca", "PCA", "A straight linear view along the directions of most variance; instant."),
    Projection("tsne", "t-SNE", "Keeps close neighbours together; distances between clumps mean little."),
)

_OWN_COUNT = "HDBSCAN decides how many clusters there are, and leaves points it cannot place as noise."
CLUSTER_METHODS: dict[str, ClusterMethod] = registry(
    ClusterMethod("kmeans", "k-means", "Round clusters of similar size around k centres.",
                  summary="k-means on codes", step="kmeans"),
    ClusterMethod("gmm", "Gaussian mixture", "k Gaussian blobs, each with its own shape and size.",
                  summary="GMM on codes", step="gmm"),
    ClusterMethod("hdbscan", "HDBSCAN", "Dense regions of any shape. " + _OWN_COUNT,
                  summary="HDBSCAN on codes", step="hdbscan", chooses_own_cluster_count=True),
    ClusterMethod("agglomerative", "Agglomerative", "Ward linkage: merges the closest groups until k are left.",
                  summary="agglomerative (Ward) on codes", step="agglomerative"),
    ClusterMethod("umap-kmeans", "UMAP + k-means", "k-means on a UMAP of the codes (N2D's manifold).",
                  summary="UMAP of codes + k-means", step="kmeans", on_manifold=True),
    ClusterMethod("umap-hdbscan", "UMAP + HDBSCAN", "HDBSCAN on a UMAP of the codes. " + _OWN_COUNT,
                  summary="UMAP of codes + HDBSCAN", step="hdbscan", on_manifold=True, chooses_own_cluster_count=True),
    ClusterMethod("umap-agglomerative", "UMAP + agglomerative", "Ward linkage on a UMAP of the codes.",
                  summary="UMAP of codes + agglomerative", step="agglomerative", on_manifold=True),
    ClusterMethod("n2d", "N2D (UMAP + GMM)", "N2D: a Gaussian mixture on a UMAP of the codes; the best here on most data.",
                  summary="N2D: UMAP of codes + GMM", step="gmm", on_manifold=True),
)
