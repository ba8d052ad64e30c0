"""How many groups are there? An estimate from the rows alone, and the curve behind it.

    count = estimate_group_count(rows, random_state=0)   # GroupCount(estimate=10, candidates=(2, ..., 30), ...)
    count.estimate, count.found, count.scores, count.errors, count.to_dict()

The rows (a photo run's standardised backbone features, or codes) become a k-nearest-neighbour
graph: GRAPH_NEIGHBORS neighbours (PhenoGraph's 30, Levine et al. 2015) in the first PCA_DIMS
principal components, each edge weighted with a self-tuning local scale (Zelnik-Manor & Perona,
"Self-tuning spectral clustering", NIPS 2004; see neighbour_graph). The number of groups is the
number of communities in the partition of that graph with the highest modularity (Newman 2006: the
share of edge weight inside the groups less what random edges with the same degrees would put
there), as the Leiden algorithm finds it with no number given (Traag, Waltman & van Eck, "From
Louvain to Leiden", Sci. Rep. 2019; the `leidenalg` package, its authors', as scanpy uses it):
the median over SUBSAMPLES subsamples of 80% of the rows, each with its own graph and seed.

The evidence beside it is a curve: for every candidate k, spectral clustering of the same graphs
into k groups (Ng, Jordan & Weiss 2002: k-means on the first k eigenvectors of the normalised
Laplacian, rows scaled to unit length) scored by modularity, as White & Smyth chose k (SDM 2005),
mean and standard error over the subsamples. The estimate used to be read off that curve (the
fewest groups within one standard error of its best). Where classes blur the curve is flat over
several k and that rule took the flat stretch's low end: 7 for CIFAR-10 on EfficientNet-Lite2
features, 6 on Lite0 at 96 px with cosine rows. Leiden optimises the same score over all partitions
and finds better ones than spectral clustering into any fixed k (CIFAR-10, Lite2: 0.63 against at
most 0.615), with 9 or 10 communities; on the tuning sets, labels hidden: birds 10, CIFAR-10 9 on
either backbone, Fashion-MNIST 11 (benchmarks/group_count.py). No labels are involved anywhere,
and no constant was set to land on a tuning set's number of classes.

Why not the silhouette of k-means on N2D's UMAP manifold, which this module used before: on Lite0
features it peaks at the coarsest split (CIFAR-10 and Fashion-MNIST: 2, animals / vehicles and
clothes / shoes and bags), because silhouette rewards separation between groups, and the top of a
hierarchy is always the most separated. Modularity rewards each group keeping its own neighbours,
so finer groups that are real count too. Also tried on the same cached Lite0 features: the
largest eigenvalue gap of the same graph (birds 10, 4 of 4, 6 of 6, Fashion-MNIST 12, but CIFAR-10
2: its spectrum has no gap), the Louvain community count (close, but it gives no curve), and, last
session, the mixture's BIC, agreement across half-samples, Davies-Bouldin and HDBSCAN's count.

Candidates run from 2 to min(MAX_GROUPS, N // MIN_ROWS_PER_GROUP): a group needs a few members
to be told from noise. With fewer than 2 * MIN_ROWS_PER_GROUP rows there is nothing to choose
from, and estimate_group_count raises a ConfigError saying so (callers fall back to a number
the user sets).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from core.clusterers import check_codes
from core.errors import ConfigError

METHOD = "communities of the k-nearest-neighbour graph's highest-modularity partition (Leiden)"
SCORE_NAME = "modularity"  # the curve's axis
MAX_GROUPS = 30  # the most groups the estimate considers
MIN_ROWS_PER_GROUP = 5  # candidates stop at N // 5: smaller groups are noise more often than groups
GRAPH_NEIGHBORS = 30  # each row's neighbours in the graph (PhenoGraph's default, Levine et al. 2015)
PCA_DIMS = 50  # neighbours are found in this many principal components (scanpy's default)
PCA_FIT_ROWS = 20_000  # the components are fitted on at most this many rows; every row is projected
SUBSAMPLES = 5  # the curve is the mean over this many subsamples, their spread its standard error
SUBSAMPLE_SHARE = 0.8  # of the rows, drawn without replacement
RECIPE = {  # what a cached estimate was computed with: a change here recomputes it
    "method": METHOD,
    "max_groups": MAX_GROUPS,
    "neighbors": GRAPH_NEIGHBORS,
    "pca": PCA_DIMS,
    "subsamples": (SUBSAMPLES, SUBSAMPLE_SHARE),
    "scale": "farthest neighbour",
    "rule": "median of Leiden's communities",
}


CURVE_ROW, FOUND_ROW = 0.0, 1.0  # the first column of GroupCount.to_array: which kind of row it is


@dataclass(frozen=True)
class GroupCount:
    """The estimated number of groups, the partitions it was read from, and the curve beside it."""

    estimate: int
    candidates: tuple[int, ...]
    scores: tuple[float, ...]  # mean modularity per candidate (higher is better); NaN where it could not be computed
    method: str = METHOD
    n: int = 0  # rows the estimate saw
    errors: tuple[float, ...] = ()  # the standard error of each score, over SUBSAMPLES subsamples
    found: tuple[tuple[int, float], ...] = ()  # (groups, modularity) of Leiden's partition of each subsample

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: lists, and None for a NaN score."""
        out = asdict(self)
        out["candidates"] = list(self.candidates)
        out["scores"] = [None if not np.isfinite(s) else float(s) for s in self.scores]
        out["errors"] = [None if not np.isfinite(s) else float(s) for s in self.errors]
        out["found"] = [[int(k), float(q)] for k, q in self.found]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupCount:
        scores, errors = (
            tuple(float("nan") if s is None else float(s) for s in data.get(f, ())) for f in ("scores", "errors")
        )
        candidates = tuple(int(k) for k in data["candidates"])
        found = tuple((int(k), float(q)) for k, q in data.get("found", ()))
        return cls(int(data["estimate"]), candidates, scores, data["method"], data["n"], errors, found)

    def to_array(self) -> np.ndarray:
        """What a run's cache stores: float64 rows of (CURVE_ROW, k, score, error) for the curve, then
        (FOUND_ROW, groups, modularity, NaN) for each subsample's Leiden partition."""
        curve = [(CURVE_ROW, k, s, e) for k, s, e in zip(self.candidates, self.scores, self.errors)]
        found = [(FOUND_ROW, k, q, float("nan")) for k, q in self.found]
        return np.asarray(curve + found, dtype=np.float64).reshape(-1, 4)

    @classmethod
    def from_array(cls, table: np.ndarray, n: int) -> GroupCount:
        """From to_array's rows, e.g. read back from a run's cache."""
        table = np.asarray(table, dtype=np.float64)
        curve, found = table[table[:, 0] == CURVE_ROW], table[table[:, 0] == FOUND_ROW]
        candidates = tuple(int(k) for k in curve[:, 1])
        partitions = tuple((int(k), float(q)) for k, q in found[:, 1:3])
        scores, errors = tuple(float(s) for s in curve[:, 2]), tuple(float(e) for e in curve[:, 3])
        return cls(chosen_count(candidates, partitions), candidates, scores, METHOD, int(n), errors, partitions)


def candidate_counts(n: int, max_groups: int = MAX_GROUPS) -> tuple[int, ...]:
    """2 .. min(max_groups, n // MIN_ROWS_PER_GROUP); ConfigError when that leaves nothing to choose from."""
    top = min(int(max_groups), int(n) // MIN_ROWS_PER_GROUP)
    if top < 2:
        raise ConfigError(
            f"Estimating the number of groups needs at least {2 * MIN_ROWS_PER_GROUP} rows "
            f"({MIN_ROWS_PER_GROUP} per group, 2 groups at the least); there are {n}. "
            "Set the number of clusters yourself."
        )
    return tuple(range(2, top + 1))


def chosen_count(candidates: tuple[int, ...], found: tuple[tuple[int, float], ...]) -> int:
    """The median number of groups of the subsamples' Leiden partitions, within the candidates' range."""
    if not found:
        raise ConfigError(
            "These codes do not fall into separate groups (every point is alike); set the number yourself."
        )
    median = int(np.median([k for k, _ in found]))  # SUBSAMPLES is odd: one of them
    return int(np.clip(median, candidates[0], candidates[-1]))


def graph_neighbors(n: int, n_neighbors: int = GRAPH_NEIGHBORS) -> int:
    """The graph's neighbours for `n` rows: GRAPH_NEIGHBORS, but at most a quarter of the rows (at least 2).

    With 36 photos of three kinds and 15 neighbours, every neighbourhood spans two kinds and the
    graph merges them; with 9 they stay apart.
    """
    return int(min(n_neighbors, max(2, n // 4), n - 1))


def principal_rows(rows: np.ndarray, fit_rows: int = PCA_FIT_ROWS) -> np.ndarray:
    """The rows centred and reduced to their first PCA_DIMS principal components (all of them when fewer).

    The components are fitted on at most `fit_rows` rows (a seeded sample; all of them up to that
    many) and every row is projected a block at a time: at 100,000 photos a float64 copy of the
    1,280-d features is 1 GB, and the whole-table fit took three of them.
    """
    from sklearn.decomposition import PCA

    dims = min(PCA_DIMS, rows.shape[0] - 1, rows.shape[1])
    if dims >= rows.shape[1]:
        rows = np.asarray(rows, dtype=np.float64)
        return rows - rows.mean(axis=0)
    if len(rows) <= fit_rows:
        rows = np.asarray(rows, dtype=np.float64)
        return PCA(dims, random_state=0).fit_transform(rows - rows.mean(axis=0))
    fit = rows[np.sort(np.random.default_rng(0).choice(len(rows), fit_rows, replace=False))]
    pca = PCA(dims, random_state=0).fit(np.asarray(fit, dtype=np.float64))
    out = np.empty((len(rows), dims), dtype=np.float64)
    for start in range(0, len(rows), fit_rows):
        out[start : start + fit_rows] = pca.transform(np.asarray(rows[start : start + fit_rows], dtype=np.float64))
    return out


def neighbour_graph(rows: np.ndarray, n_neighbors: int = GRAPH_NEIGHBORS) -> sp.coo_matrix:
    """The symmetric k-nearest-neighbour graph of `rows`, edges weighted exp(-d^2 / (s_i s_j)) with s_i the
    distance to row i's farthest graph neighbour: dense and sparse regions get edges of like weight.

    Zelnik-Manor & Perona took s_i at the 7th neighbour; with 30 neighbours that leaves the far 23
    nearly weightless, the graph acts as a 7-NN graph, and in a few dimensions each compact group
    splits in two (3 blobs in an autoencoder's 3-d codes: 6 groups; at the 30th neighbour: 3)."""
    from sklearn.neighbors import NearestNeighbors

    n, k = len(rows), graph_neighbors(len(rows), n_neighbors)
    distances, index = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(rows).kneighbors()  # not itself
    scale = np.maximum(distances[:, -1], np.finfo(np.float64).tiny)  # the row's farthest graph neighbour
    weights = np.exp(-(distances**2) / (scale[:, None] * scale[index]))
    graph = sp.csr_matrix((weights.ravel(), (np.repeat(np.arange(n), k), index.ravel())), shape=(n, n))
    return graph.maximum(graph.T).tocoo()


def modularity(graph: sp.coo_matrix, labels: np.ndarray) -> float:
    """Newman's modularity of a partition of a weighted graph: sum over groups of (weight inside) / (total)
    less (degree of the group / total)^2."""
    total = graph.data.sum()
    degree = np.bincount(graph.row, graph.data, graph.shape[0])
    groups = int(labels.max()) + 1
    inside = labels[graph.row] == labels[graph.col]
    within = np.bincount(labels[graph.row][inside], graph.data[inside], groups)
    return float(np.sum(within / total - (np.bincount(labels, degree, groups) / total) ** 2))


def partition_scores(graph: sp.coo_matrix, candidates: tuple[int, ...], seed: int) -> list[float]:
    """Modularity of spectral clustering of `graph` into each candidate k (NaN where k-means found one group).

    One spectral embedding serves every k: its first k eigenvectors, rows scaled to unit length."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.manifold import spectral_embedding

    with warnings.catch_warnings():  # "graph is not fully connected": groups far apart, which is fine here
        warnings.simplefilter("ignore", UserWarning)
        vectors = spectral_embedding(
            graph.tocsr(),
            n_components=max(candidates),
            drop_first=False,
            eigen_solver="lobpcg",  # 25 times faster than ARPACK's shift-invert on 10,000 rows
            random_state=seed,
        )
    scores = []
    for k in candidates:
        embedded = vectors[:, :k] / np.maximum(np.linalg.norm(vectors[:, :k], axis=1, keepdims=True), 1e-12)
        with warnings.catch_warnings():  # points all alike: fewer distinct clusters than k
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(embedded)
        scores.append(modularity(graph, labels) if len(np.unique(labels)) > 1 else float("nan"))
    return scores


def leiden_partition(graph: sp.coo_matrix, seed: int) -> tuple[int, float]:
    """(groups, modularity) of the Leiden algorithm's highest-modularity partition of `graph`, in the package's
    two iterations (run until nothing improved, it found the same counts on the tuning sets in twice the
    time: 3.2 s against 1.9 at 8,000 rows). Communities of fewer than MIN_ROWS_PER_GROUP rows (a few
    stray rows the graph leaves apart) are not counted as groups."""
    import igraph
    import leidenalg

    upper = graph.row < graph.col  # the graph is symmetric: each edge once
    edges = np.column_stack([graph.row[upper], graph.col[upper]]).tolist()
    network = igraph.Graph(n=graph.shape[0], edges=edges, edge_attrs={"weight": graph.data[upper].tolist()})
    found = leidenalg.find_partition(network, leidenalg.ModularityVertexPartition, weights="weight", seed=seed)
    labels = np.asarray(found.membership, dtype=np.int64)
    groups = int((np.bincount(labels) >= MIN_ROWS_PER_GROUP).sum())
    return max(groups, 1), modularity(graph, labels)


def curve_and_partitions(
    rows: np.ndarray, candidates: tuple[int, ...], random_state: int | None = 0, n_neighbors: int = GRAPH_NEIGHBORS
) -> tuple[tuple[float, ...], tuple[float, ...], tuple[tuple[int, float], ...]]:
    """(mean, standard error) of partition_scores over SUBSAMPLES seeded subsamples of SUBSAMPLE_SHARE of
    the rows, each with its own graph (the error says how much of the curve's shape is the sample's),
    and the leiden_partition of each of those graphs."""
    rng = np.random.default_rng(random_state)
    size = max(int(SUBSAMPLE_SHARE * len(rows)), max(candidates) + 2)
    curves, found = [], []
    for _ in range(SUBSAMPLES):
        sample = np.sort(rng.choice(len(rows), size=min(size, len(rows)), replace=False))
        graph, seed = neighbour_graph(rows[sample], n_neighbors), int(rng.integers(2**31))
        curves.append(partition_scores(graph, candidates, seed))
        found.append(leiden_partition(graph, seed))
    values = np.asarray(curves, dtype=np.float64)
    with warnings.catch_warnings():  # a k with no finite score stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(values, axis=0)
        errors = np.nanstd(values, axis=0, ddof=1) / np.sqrt(np.isfinite(values).sum(axis=0))
    return tuple(float(m) for m in means), tuple(float(e) for e in errors), tuple(found)


def estimate_group_count(
    rows: np.ndarray,
    random_state: int | None = 0,
    max_groups: int = MAX_GROUPS,
    n_neighbors: int = GRAPH_NEIGHBORS,
) -> GroupCount:
    """How many groups `rows` (codes or features, one row a sample) fall into, with no labels involved:
    a GroupCount. ConfigError when there are too few rows to estimate, or every row is alike."""
    rows = check_codes(rows)
    candidates = candidate_counts(len(rows), max_groups)
    if not np.isfinite(rows).all():
        raise ConfigError(
            f"{int((~np.isfinite(rows)).any(axis=1).sum())} of the {len(rows)} rows hold missing or infinite "
            "values, so the groups cannot be counted; set the number of clusters yourself."
        )
    if not np.ptp(rows, axis=0).any():
        chosen_count(candidates, ())  # raises: every row is alike
    scores, errors, found = curve_and_partitions(principal_rows(rows), candidates, random_state, n_neighbors)
    return GroupCount(chosen_count(candidates, found), candidates, scores, METHOD, len(rows), errors, found)
