"""The odd ones out: a score per row of how little it fits among the others, and, for labelled
data, the rows whose label disagrees with their neighbours' (possible mislabels).

Both read the representation the run sorts by (core.evaluation.cluster_rows: the standardised
backbone features of a photo run, the codes otherwise), so they work for photos and table rows alike,
from what is cached, with no second pass over the photos.

    odd = outlier_scores(rows_representation)          # one score per row, higher: fits less
    flagged = possible_mislabels(representation, labels)

Scoring: SCORES holds the four ways tried; DEFAULT_SCORE is the one kept. On the bird tuning photos
with 10 upscaled CIFAR-10 photos planted among them (benchmarks/outliers.py, seed 0; EfficientNet-Lite0
features standardised, N2D's 10 clusters, k=20), the planted photos in the top 20 / top 10 / mean rank:
LOF 10 / 9 / 6.0, kNN distance 10 / 8 / 6.9, distance to the cluster's core 10 / 9 / 5.6, kNN
disagreement with the cluster 7 / 5 / 14.7. LOF is kept over the cluster's core, level with it on
these counts, because it needs no clustering: a row's score is the same whichever clustering is on
screen, and a photo the clusterer put in the wrong group is not scored against that group's centre.
Disagreement fails because a foreign photo's neighbours mostly share one cluster, the one it was put in.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.trained import TrainedRun

NEIGHBORS = 20  # LOF's own default, and enough for groups of a few dozen photos
MAX_FOLDS = 5
# cleanlab's find_label_issues keeps its per-class arrays in module globals, even in one process, so two
# dashboard sessions asking at once would read each other's; one call at a time (seconds at most).
_CLEANLAB_GLOBALS = threading.Lock()


def _neighbours(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(distances, indices) of each row's k nearest other rows (Euclidean)."""
    from sklearn.neighbors import NearestNeighbors

    distances, indices = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    return distances[:, 1:], indices[:, 1:]


def local_outlier_factor(x: np.ndarray, clusters: np.ndarray | None = None, k: int = NEIGHBORS) -> np.ndarray:
    """How much sparser a row's neighbourhood is than its neighbours' (sklearn's LOF; about 1 inside a group)."""
    from sklearn.neighbors import LocalOutlierFactor

    with warnings.catch_warnings():  # exact copies (common in photo folders) make sklearn warn; the ranking holds
        warnings.filterwarnings("ignore", "Duplicate values", UserWarning)
        return -LocalOutlierFactor(n_neighbors=k).fit(x).negative_outlier_factor_


def neighbour_distance(x: np.ndarray, clusters: np.ndarray | None = None, k: int = NEIGHBORS) -> np.ndarray:
    """Mean distance to the k nearest rows: far from everything."""
    return _neighbours(x, k)[0].mean(1)


def core_distance(x: np.ndarray, clusters: np.ndarray | None = None, k: int = NEIGHBORS) -> np.ndarray:
    """Distance to the mean of its cluster, over the cluster's median such distance: far from its group's core."""
    clusters = np.zeros(len(x), dtype=np.int64) if clusters is None else np.asarray(clusters)
    scores = np.zeros(len(x))
    for cluster in np.unique(clusters):
        members = clusters == cluster
        distance = np.linalg.norm(x[members] - x[members].mean(0), axis=1)
        scores[members] = distance / (np.median(distance) + 1e-12)
    return scores


def neighbour_disagreement(x: np.ndarray, clusters: np.ndarray | None = None, k: int = NEIGHBORS) -> np.ndarray:
    """The share of its k nearest rows in another cluster, ties broken by the mean distance to them."""
    if clusters is None:
        return neighbour_distance(x, None, k)
    distances, indices = _neighbours(x, k)
    clusters = np.asarray(clusters)
    other = (clusters[indices] != clusters[:, None]).mean(1)
    mean = distances.mean(1)
    return other + mean / (mean.max() + 1e-12) / (k + 1)  # a tie-break smaller than one neighbour's share


Score = Callable[[np.ndarray, "np.ndarray | None", int], np.ndarray]
SCORES: dict[str, Score] = {
    "lof": local_outlier_factor,
    "knn-distance": neighbour_distance,
    "core-distance": core_distance,
    "knn-disagreement": neighbour_disagreement,
}
DEFAULT_SCORE = "lof"


def outlier_scores(
    x: np.ndarray, clusters: np.ndarray | None = None, method: str = DEFAULT_SCORE, k: int = NEIGHBORS
) -> np.ndarray:
    """One score per row of `x` (higher: fits its group less); ConfigError with fewer than 3 rows."""
    if method not in SCORES:
        raise ConfigError(f"Unknown outlier score {method!r}; choose one of {', '.join(SCORES)}.")
    x = np.asarray(x, dtype=np.float32)
    if len(x) < 3:
        raise ConfigError(f"Finding the odd ones out needs at least 3 rows; there are {len(x)}.")
    return SCORES[method](x, clusters, neighbours_for(len(x), k)).astype(np.float64)


def neighbours_for(n_rows: int, k: int = NEIGHBORS) -> int:
    """`k`, but at most a quarter of the rows: with k near the number of rows every row's neighbourhood
    is all the data, and LOF scores every row about 1 (on 20 photos, k=19 lost a planted one that k=5 found)."""
    return max(1, min(k, (n_rows - 1) // 4))


@dataclass(frozen=True)
class OddOnes:
    """Every row, most odd first: `rows` are dataset rows, `scores` theirs (higher: fits less)."""

    rows: np.ndarray
    scores: np.ndarray

    @classmethod
    def ranked(cls, rows: np.ndarray, scores: np.ndarray) -> OddOnes:
        order = np.lexsort((np.asarray(rows), -np.asarray(scores)))  # highest first; ties by row, stable
        return cls(np.asarray(rows)[order], np.asarray(scores)[order])

    def within(self, rows: np.ndarray) -> OddOnes:
        """The same ranking kept to `rows` (a cluster's members, a split)."""
        keep = np.isin(self.rows, rows)
        return OddOnes(self.rows[keep], self.scores[keep])


@dataclass(frozen=True)
class Mislabels:
    """Rows whose label their neighbours disagree with, most doubtful first: the label given, the one
    a classifier that never saw the row predicts from the rest, and how well the given label fits (0-1)."""

    rows: np.ndarray
    given: np.ndarray
    suggested: np.ndarray
    quality: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def mislabel_skip_reason(labels: np.ndarray) -> str | None:
    """Why labels cannot be checked against their neighbours (too few classes or rows per class), or None."""
    _, counts = np.unique(np.asarray(labels), return_counts=True)
    if len(counts) < 2:
        return "the data has a single label, so no row can disagree with it"
    if counts.min() < 2:
        return "a label has a single row; each needs two or more to be checked against the others"
    return None


def out_of_fold_probabilities(x: np.ndarray, labels: np.ndarray, random_state: int | None = 0) -> np.ndarray:
    """(rows, classes) probabilities of each row's label from its nearest labelled rows, in a fold that
    never saw the row (seeded k-fold cross_val_predict): the neighbours' vote, weighted by nearness.

    A k-nearest-neighbours vote, not a logistic regression: on the birds with 20 labels flipped
    (benchmarks/outliers.py, seed 0) it found 18 of them and flagged one row more (a planted foreign
    photo), where a logistic regression on 64 principal components found all 20 but flagged 13 rows
    more, 9 of them good birds, and took 5 to 15 times longer (8-30 s against 2 s, three runs on a loaded machine).
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    folds = min(MAX_FOLDS, int(np.unique(labels, return_counts=True)[1].min()))
    k = neighbours_for(len(x) - -(-len(x) // folds), MISLABEL_NEIGHBORS)  # of the rows a training fold holds
    cv = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    return cross_val_predict(KNeighborsClassifier(k, weights="distance"), x, labels, cv=cv, method="predict_proba")


MISLABEL_NEIGHBORS = 10


def possible_mislabels(
    x: np.ndarray, labels: np.ndarray, rows: np.ndarray | None = None, random_state: int | None = 0
) -> Mislabels:
    """cleanlab's find_label_issues on out-of-fold probabilities: rows whose given label is unlikely
    given everything else. `rows`: the dataset rows of `x` (default 0..n-1). ConfigError when the
    labels cannot be checked (mislabel_skip_reason)."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    labels = np.asarray(labels)
    reason = mislabel_skip_reason(labels)
    if reason:
        raise ConfigError(f"Possible mislabels are not looked for: {reason}.")
    classes, codes = np.unique(labels, return_inverse=True)
    probabilities = out_of_fold_probabilities(np.asarray(x, dtype=np.float32), codes, random_state)
    # n_jobs=1: by default it forks a multiprocessing.Pool, and a fork of the dashboard's server (threads,
    # OpenMP pools) can hang for good; one run in CI did, 180 s and more. The result is the same.
    with _CLEANLAB_GLOBALS, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flagged = find_label_issues(codes, probabilities, return_indices_ranked_by="self_confidence", n_jobs=1)
    quality = get_label_quality_scores(codes, probabilities)
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    return Mislabels(
        rows=rows[flagged],
        given=classes[codes[flagged]],
        suggested=classes[probabilities[flagged].argmax(1)],
        quality=quality[flagged],
    )


# --------------------------------------------------------------------------- a run's


def run_representation(trained: TrainedRun) -> tuple[np.ndarray, np.ndarray]:
    """(dataset rows, the representation the run sorts by) of every row ('all' split)."""
    from core.evaluation.clustering import sorted_by
    from core.evaluation.run_evaluation import cluster_rows

    return np.asarray(trained.splits.get("all")), cluster_rows(trained, "all", sorted_by(trained.config))


def run_outliers(trained: TrainedRun) -> OddOnes:
    """Every row of the run, most odd first (DEFAULT_SCORE on its representation), cached in the run."""
    from core.run_cache import cached_array

    rows, x = run_representation(trained)
    scores = cached_array(
        trained, "outliers-all", lambda: outlier_scores(x), method=DEFAULT_SCORE, k=NEIGHBORS, n=len(rows)
    )
    return OddOnes.ranked(rows, scores)


def run_mislabels(trained: TrainedRun, random_state: int | None = 0) -> Mislabels:
    """possible_mislabels of the run's labelled rows, cached in the run; ConfigError without labels
    or with too few rows per label (the message says which)."""
    from core.run_cache import cached_array

    if trained.dataset.y is None:
        raise ConfigError("Possible mislabels are looked for in labelled data; this run's data has no labels.")
    rows, x = run_representation(trained)
    labels = trained.dataset.y.numpy()[rows]

    def compute() -> np.ndarray:
        found = possible_mislabels(x, labels, rows, random_state)
        return np.column_stack([found.rows, found.given, found.suggested, found.quality]).reshape(-1, 4)

    table = cached_array(
        trained, "mislabels-all", compute, k=MISLABEL_NEIGHBORS, folds=MAX_FOLDS, seed=random_state, n=len(rows)
    )
    whole = table[:, :3].astype(np.int64)
    return Mislabels(rows=whole[:, 0], given=whole[:, 1], suggested=whole[:, 2], quality=table[:, 3])


def row_names(dataset: Any, rows: np.ndarray) -> list[str]:
    """Rows as a person finds them: files named as in the dataset, table rows as 'row 12' (0-based, as in exports)."""
    if dataset.files:
        return dataset.file_names(rows)
    return [f"row {r}" for r in np.asarray(rows).tolist()]
