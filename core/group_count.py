"""How many groups are there? An estimate from the codes alone, and the curve behind it.

    count = estimate_group_count(codes, random_state=0)   # GroupCount(estimate=10, candidates=(2, ..., 30), ...)
    count.estimate, count.best_score, count.to_dict()

The score: for every candidate k, k-means on N2D's manifold of the codes (a UMAP to MANIFOLD_DIMS
dimensions with min_dist=0, core.clusterers.umap_manifold), and the silhouette of that clustering
in the manifold; the estimate is the k with the highest silhouette. Lowe et al. (2024) found
silhouette in the UMAP space to track clustering accuracy.

Measured on EfficientNet-Lite0 features, labels hidden (benchmarks/group_count.py): the birds 10
of 10 and 4 species 4 of 4, 6 Fashion-MNIST classes 4, but CIFAR-10 and Fashion-MNIST (10
classes) 2, and 6 CIFAR-10 classes 2: those features split first into animals / vehicles and
clothes / shoes and bags, and every label-free score tried on their manifold (silhouette in the
UMAP or in the features, Davies-Bouldin, agreement across half-samples, HDBSCAN's count, the
mixture's BIC, which kept falling to k=30) said 2 to 6 or 29. That is why the curve is always
shown beside the number. No labels are involved anywhere. One UMAP serves every k, and a caller
that has the manifold already (evaluation's N2D step) passes it in.

Candidates run from 2 to min(MAX_GROUPS, N // MIN_ROWS_PER_GROUP): a group needs a few members
to be told from noise. With fewer than 2 * MIN_ROWS_PER_GROUP rows there is nothing to choose
from, and estimate_group_count raises a ConfigError saying so (callers fall back to a number
the user sets).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from core.clusterers import N2D_NEIGHBORS, check_codes, umap_manifold
from core.errors import ConfigError

METHOD = "silhouette of k-means on N2D's UMAP manifold"
MAX_GROUPS = 30  # the most groups the estimate considers
MIN_ROWS_PER_GROUP = 5  # candidates stop at N // 5: smaller groups are noise more often than groups
MANIFOLD_DIMS = 10  # the UMAP's dimensions, the same for every k (N2D's default for unlabelled data)
SILHOUETTE_SAMPLE = 3000  # silhouette is O(N^2): score a seeded sample of at most this many points
KMEANS_INITS = 3


@dataclass(frozen=True)
class GroupCount:
    """The estimated number of groups, and the score of every candidate it was chosen from."""

    estimate: int
    candidates: tuple[int, ...]
    scores: tuple[float, ...]  # silhouette per candidate (higher is better); NaN where it could not be computed
    method: str = METHOD
    n: int = 0  # rows the estimate saw

    @property
    def best_score(self) -> float:
        return self.scores[self.candidates.index(self.estimate)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: lists, and None for a NaN score."""
        out = asdict(self)
        out["candidates"] = list(self.candidates)
        out["scores"] = [None if not np.isfinite(s) else float(s) for s in self.scores]
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GroupCount:
        scores = tuple(float("nan") if s is None else float(s) for s in data["scores"])
        return cls(int(data["estimate"]), tuple(int(k) for k in data["candidates"]), scores, data["method"], data["n"])

    @classmethod
    def from_curve(cls, curve: np.ndarray, n: int) -> GroupCount:
        """From a (len(candidates), 2) array of (k, score) rows, e.g. read back from a run's cache."""
        curve = np.asarray(curve, dtype=np.float64)
        candidates, scores = tuple(int(k) for k in curve[:, 0]), tuple(float(s) for s in curve[:, 1])
        return cls(best_candidate(candidates, scores), candidates, scores, METHOD, int(n))

    def curve(self) -> np.ndarray:
        """(len(candidates), 2) float64 rows of (k, score): what a run's cache stores."""
        return np.column_stack([np.asarray(self.candidates, dtype=np.float64), np.asarray(self.scores)])


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


def best_candidate(candidates: tuple[int, ...], scores: tuple[float, ...]) -> int:
    """The candidate with the highest finite score (the smaller k on a tie); ConfigError when none is finite."""
    values = np.asarray(scores, dtype=np.float64)
    if not np.isfinite(values).any():
        raise ConfigError(
            "These codes do not fall into separate groups (every point is alike); set the number yourself."
        )
    return int(candidates[int(np.nanargmax(np.where(np.isfinite(values), values, -np.inf)))])


def silhouette_curve(
    embedding: np.ndarray, candidates: tuple[int, ...], random_state: int | None = 0
) -> tuple[float, ...]:
    """Silhouette of seeded k-means with each candidate k, on `embedding` (scored on a seeded sample)."""
    import warnings

    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import silhouette_score

    embedding = np.asarray(embedding, dtype=np.float64)
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(len(embedding), min(len(embedding), SILHOUETTE_SAMPLE), replace=False))
    scores = []
    for k in candidates:
        with warnings.catch_warnings():  # points all alike: fewer distinct clusters than k, scored NaN below
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = KMeans(n_clusters=k, n_init=KMEANS_INITS, random_state=random_state).fit_predict(embedding)
        found = len(np.unique(labels[sample]))
        scores.append(
            float(silhouette_score(embedding[sample], labels[sample])) if 1 < found < len(sample) else float("nan")
        )
    return tuple(scores)


def manifold_neighbors(n: int, n_neighbors: int = N2D_NEIGHBORS) -> int:
    """UMAP's neighbours for `n` rows: N2D's, but at most a quarter of the rows (at least 5).

    With 36 photos of three kinds and 20 neighbours, every neighbourhood spans two kinds and the
    UMAP merges them (estimate 2); with 9 they stay apart (3).
    """
    return int(min(n_neighbors, max(5, n // 4)))


def group_manifold(codes: np.ndarray, random_state: int | None = 0, n_neighbors: int = N2D_NEIGHBORS) -> np.ndarray:
    """The manifold the estimate scores in: N2D's UMAP of the codes at MANIFOLD_DIMS dimensions."""
    codes = check_codes(codes)
    neighbors = manifold_neighbors(len(codes), n_neighbors)
    return umap_manifold(codes, MANIFOLD_DIMS, random_state, neighbors, dims=MANIFOLD_DIMS)


def estimate_group_count(
    codes: np.ndarray,
    random_state: int | None = 0,
    max_groups: int = MAX_GROUPS,
    n_neighbors: int = N2D_NEIGHBORS,
    manifold: np.ndarray | None = None,
) -> GroupCount:
    """How many groups the rows of `codes` fall into, with no labels involved: a GroupCount.

    `manifold`: N2D's UMAP of these codes when the caller has it already (any dimensions);
    otherwise group_manifold computes it. ConfigError when there are too few rows to estimate.
    """
    codes = check_codes(codes)
    candidates = candidate_counts(len(codes), max_groups)
    if manifold is None:
        manifold = group_manifold(codes, random_state, n_neighbors)
    elif len(manifold) != len(codes):
        raise ConfigError(f"The manifold has {len(manifold)} rows and the codes {len(codes)}; they must match.")
    scores = silhouette_curve(manifold, candidates, random_state)
    return GroupCount(best_candidate(candidates, scores), candidates, scores, METHOD, len(codes))
