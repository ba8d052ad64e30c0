"""How many groups are there? An estimate from the rows alone, and the curve behind it.

    count = estimate_group_count(rows, random_state=0)   # GroupCount(estimate=10, candidates=(2, ..., 30), ...)
    count.estimate, count.best_score, count.errors, count.to_dict()

The rows (a photo run's standardised backbone features, or codes) become a k-nearest-neighbour
graph: GRAPH_NEIGHBORS neighbours (PhenoGraph's 30, Levine et al. 2015) in the first PCA_DIMS
principal components, each edge weighted with a self-tuning local scale (Zelnik-Manor & Perona,
"Self-tuning spectral clustering", NIPS 2004; see neighbour_graph). For every candidate k,
spectral clustering of that graph into k groups (Ng, Jordan & Weiss 2002: k-means on the first k
eigenvectors of the normalised Laplacian, rows scaled to unit length) is scored by the partition's
modularity (Newman 2006: the share of edge weight inside the groups less what random edges with
the same degrees would put there), as White & Smyth chose k ("A spectral clustering approach to
finding communities in graphs", SDM 2005). The curve is the mean over SUBSAMPLES subsamples of 80%
of the rows (each with its own graph and k-means seed) with its standard error, and the estimate
is the fewest groups within one standard error of the best: the one-standard-error rule of
Tibshirani, Walther & Hastie's gap statistic (2001). With the error taken over k-means seeds on
all the rows instead, it was tiny and Fashion-MNIST's flat curve (11 to 14) gave 13. No labels are
involved anywhere, and no constant was set to land on a tuning set's number of classes.

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

METHOD = "modularity of spectral clustering on the k-nearest-neighbour graph"
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
    "rule": "one standard error",
}


@dataclass(frozen=True)
class GroupCount:
    """The estimated number of groups, and the score of every candidate it was chosen from."""

    estimate: int
    candidates: tuple[int, ...]
    scores: tuple[float, ...]  # mean modularity per candidate (higher is better); NaN where it could not be computed
    method: str = METHOD
    n: int = 0  # rows the estimate saw
    errors: tuple[float, ...] = ()  # the standard error of each score, over SUBSAMPLES subsamples

    @property
    def best_score(self) -> float:
        return self.scores[self.candidates.index(self.estimate)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: lists, and None for a NaN score."""
        out = asdict(self)
        out["candidates"] = list(self.candidates)
        out["scores"] = [None if not np.isfinite(s) else float(s) for s in self.scores]
        out["errors"] = [None if not np.isfinite(s) else float(s) for s in self.errors]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupCount:
        scores, errors = (
            tuple(float("nan") if s is None else float(s) for s in data.get(f, ())) for f in ("scores", "errors")
        )
        candidates = tuple(int(k) for k in data["candidates"])
        return cls(int(data["estimate"]), candidates, scores, data["method"], data["n"], errors)

    @classmethod
    def from_curve(cls, curve: np.ndarray, n: int) -> GroupCount:
        """From a (len(candidates), 3) array of (k, score, error) rows, e.g. read back from a run's cache."""
        curve = np.asarray(curve, dtype=np.float64)
        candidates = tuple(int(k) for k in curve[:, 0])
        scores, errors = tuple(float(s) for s in curve[:, 1]), tuple(float(s) for s in curve[:, 2])
        return cls(chosen_candidate(candidates, scores, errors), candidates, scores, METHOD, int(n), errors)

    def curve(self) -> np.ndarray:
        """(len(candidates), 3) float64 rows of (k, score, error): what a run's cache stores."""
        return np.column_stack([np.asarray(self.candidates, dtype=np.float64), self.scores, self.errors])


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


def chosen_candidate(candidates: tuple[int, ...], scores: tuple[float, ...], errors: tuple[float, ...]) -> int:
    """The fewest groups whose score is within one standard error of the best score: the one-standard-error
    rule (Tibshirani, Walther & Hastie's gap statistic, 2001). ConfigError when no score is finite."""
    values = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(values).any():
        raise ConfigError(
            "These codes do not fall into separate groups (every point is alike); set the number yourself."
        )
    values = np.where(np.isfinite(values), values, -np.inf)
    best = int(np.argmax(values))
    error = float(errors[best]) if np.isfinite(errors[best]) else 0.0
    return int(candidates[int(np.flatnonzero(values >= values[best] - error)[0])])


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


def modularity_curve(
    rows: np.ndarray, candidates: tuple[int, ...], random_state: int | None = 0, n_neighbors: int = GRAPH_NEIGHBORS
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, standard error) of partition_scores over SUBSAMPLES seeded subsamples of SUBSAMPLE_SHARE of
    the rows, each with its own graph: the error says how much of the curve's shape is the sample's."""
    rng = np.random.default_rng(random_state)
    size = max(int(SUBSAMPLE_SHARE * len(rows)), max(candidates) + 2)
    curves = []
    for _ in range(SUBSAMPLES):
        sample = np.sort(rng.choice(len(rows), size=min(size, len(rows)), replace=False))
        curves.append(
            partition_scores(neighbour_graph(rows[sample], n_neighbors), candidates, int(rng.integers(2**31)))
        )
    values = np.asarray(curves, dtype=np.float64)
    with warnings.catch_warnings():  # a k with no finite score stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        means = np.nanmean(values, axis=0)
        errors = np.nanstd(values, axis=0, ddof=1) / np.sqrt(np.isfinite(values).sum(axis=0))
    return tuple(float(m) for m in means), tuple(float(e) for e in errors)


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
        nothing = tuple(float("nan") for _ in candidates)
        chosen_candidate(candidates, nothing, nothing)  # raises: every row is alike
    scores, errors = modularity_curve(principal_rows(rows), candidates, random_state, n_neighbors)
    return GroupCount(chosen_candidate(candidates, scores, errors), candidates, scores, METHOD, len(rows), errors)
