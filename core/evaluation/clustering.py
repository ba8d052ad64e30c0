"""How well clusters of the codes match the labels the model never saw, and honest baselines.

Accuracy uses the best one-to-one matching of clusters to labels (the Hungarian method), as in
the deep-clustering literature; NMI and ARI need no matching. Every method runs through
core.clusterers.clusterer; the ones on N2D's manifold share one UMAP here.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn import metrics

from core.clusterers import N2D_NEIGHBORS, OnManifold, clusterer
from core.errors import TrainingDiverged
from core.methods import CLUSTER_METHODS
from core.registry import lookup

SILHOUETTE_MAX = 5000  # silhouette is O(N^2): score a seeded sample of at most this many points


def _matching(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(labels, clusters, matched label index per matched cluster, contingency) ignoring noise (-1)."""
    labels = np.unique(y_true)
    clusters = np.unique(y_pred[y_pred >= 0])
    counts = np.zeros((len(clusters), len(labels)), dtype=np.int64)
    keep = y_pred >= 0
    ci = np.searchsorted(clusters, y_pred[keep])
    li = np.searchsorted(labels, y_true[keep])
    np.add.at(counts, (ci, li), 1)
    return labels, clusters, counts, keep


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Fraction of points whose cluster maps to their label under the best one-to-one matching.

    Works for any number of clusters: with more clusters than labels the extra clusters count as
    wrong, with fewer the unmatched labels do. Noise points (cluster -1, HDBSCAN) are always wrong.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y_true.shape} vs {y_pred.shape}.")
    if len(y_true) == 0:
        return float("nan")
    _, _, counts, _ = _matching(y_true, y_pred)
    if counts.size == 0:
        return 0.0
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return float(counts[rows, cols].sum() / len(y_true))


def confusion(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, cluster_order): counts of label (row, sorted label values) per cluster (column).

    Columns are ordered so the cluster matched to the i-th label comes i-th (a good clustering
    reads as a diagonal); unmatched clusters follow by size, and noise (-1) comes last.
    """
    y, pred = np.asarray(y), np.asarray(pred)
    labels, clusters, counts, _ = _matching(y, pred)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    by_label = dict(zip(cols.tolist(), rows.tolist()))
    order = [by_label[i] for i in range(len(labels)) if i in by_label]
    rest = sorted(set(range(len(clusters))) - set(order), key=lambda c: -counts[c].sum())
    cluster_order = [int(clusters[c]) for c in order + rest]
    if np.any(pred < 0):
        cluster_order.append(-1)
    matrix = np.zeros((len(labels), len(cluster_order)), dtype=np.int64)
    li = np.searchsorted(labels, y)
    column = {c: j for j, c in enumerate(cluster_order)}
    np.add.at(matrix, (li, np.array([column[int(p)] for p in pred], dtype=np.int64)), 1)
    return matrix, np.asarray(cluster_order, dtype=np.int64)


def majority_labels(y: np.ndarray, pred: np.ndarray) -> dict[int, int]:
    """For every cluster, the label most of its points carry (noise excluded)."""
    out = {}
    for c in np.unique(pred[pred >= 0]):
        values, counts = np.unique(y[pred == c], return_counts=True)
        out[int(c)] = int(values[np.argmax(counts)])
    return out


def silhouette(
    features: np.ndarray, pred: np.ndarray, random_state: int | None = 0, max_samples: int = SILHOUETTE_MAX
) -> float | None:
    """Silhouette of the non-noise points on a seeded sample; None with fewer than 2 clusters."""
    features, pred = np.asarray(features), np.asarray(pred)
    keep = pred >= 0
    features, pred = features[keep], pred[keep]
    n_clusters = len(np.unique(pred))
    if n_clusters < 2 or n_clusters >= len(pred):
        return None
    if len(pred) > max_samples:
        rng = np.random.default_rng(random_state)
        index = rng.choice(len(pred), max_samples, replace=False)
        features, pred = features[index], pred[index]
        if len(np.unique(pred)) < 2:
            return None
    return float(metrics.silhouette_score(features, pred))


def clustering_scores(
    features: np.ndarray, y: np.ndarray | None, pred: np.ndarray, random_state: int | None = 0
) -> dict[str, Any]:
    """{"acc", "nmi", "ari", "silhouette", "n_clusters", "noise"}: acc/nmi/ari are None without labels.

    `silhouette` is measured in `features` (the space the clustering started from).
    """
    pred = np.asarray(pred)
    scores: dict[str, Any] = {"acc": None, "nmi": None, "ari": None}
    if y is not None:
        y = np.asarray(y)
        scores["acc"] = cluster_accuracy(y, pred)
        scores["nmi"] = float(metrics.normalized_mutual_info_score(y, pred))
        scores["ari"] = float(metrics.adjusted_rand_score(y, pred))
    scores["silhouette"] = silhouette(features, pred, random_state)
    scores["n_clusters"] = int(len(np.unique(pred[pred >= 0])))
    scores["noise"] = float(np.mean(pred < 0)) if len(pred) else 0.0
    return scores


# --------------------------------------------------------------------------- every method by name


def sorted_by(config: Any) -> str:
    """The clustering a run sorts by until its choice is made, and whose rows (the standardised backbone
    features for a run trained on them, the codes otherwise) the group count and the choice read.

    A photo run then chooses among core.sort_choice's candidates without labels
    (core.evaluation.run_evaluation.run_sorted_by): that choice is what `evaluate --json` names as
    "sorted_by", the Latent space page switches to and `export` uses. A run on pixels keeps N2D on its
    codes. A reconstruction autoencoder on features keeps less of what tells photos apart than the
    features themselves (birds: N2D 0.973 on the codes, 0.981-0.985 on the features), so the default
    reads the features; the codes stay for the maps, the reconstructions and compact storage.
    """
    return "n2d-features" if config.features.backbone else "n2d"


def quick_methods() -> tuple[str, ...]:
    """The methods that cluster whatever rows they are given in seconds: all but trained heads (TEMI)
    and those that read a run's backbone features instead of its codes (on other rows, they repeat N2D)."""
    return tuple(name for name, entry in CLUSTER_METHODS.items() if entry.reads == "codes" and not entry.trained_head)


def run_methods(config: Any, heads: bool = False, rows: int | None = None) -> tuple[str, ...]:
    """The clustering methods that apply to a run, in CLUSTER_METHODS order: those reading the
    backbone's features only for a run trained on them; trained heads (TEMI) only with `heads`, or
    where the run may sort by one on `rows` rows (core.sort_choice.sort_candidates)."""
    from core.sort_choice import sort_candidates

    candidates = sort_candidates(config, rows)
    return tuple(
        name
        for name, entry in CLUSTER_METHODS.items()
        if (entry.reads != "features" or config.features.backbone)
        and (heads or not entry.trained_head or name in candidates)
    )


def too_few_rows(method: str, n_rows: int) -> str | None:
    """Why `method` cannot run on `n_rows` rows, or None when it can."""
    need = lookup(CLUSTER_METHODS, method, "clustering method").min_rows
    return f"needs at least {need} rows, the split has {n_rows}" if n_rows < need else None


def _skipped(reason: str) -> dict[str, Any]:
    """The scores row of a method that did not run, saying why."""
    return {
        "acc": None,
        "nmi": None,
        "ari": None,
        "silhouette": None,
        "n_clusters": None,
        "noise": None,
        "seconds": 0.0,
        "skipped": reason,
    }


def _timed_scores(
    features: np.ndarray, y: np.ndarray | None, method: str, n_clusters: int, random_state: int | None
) -> dict[str, Any]:
    """Scores and seconds of `method` on `features`, or the row saying why it was skipped."""
    reason = too_few_rows(method, len(features))
    if reason:
        return _skipped(reason)
    began = time.perf_counter()
    pred = clusterer(method, n_clusters, random_state).fit_predict(features)
    seconds = time.perf_counter() - began
    return {**clustering_scores(features, y, pred, random_state), "seconds": seconds}


def compare_clusterings(
    features: np.ndarray,
    y: np.ndarray | None,
    n_clusters: int,
    random_state: int | None = 0,
    methods: tuple[str, ...] | None = None,
) -> dict[str, dict[str, Any]]:
    """{method: scores + seconds} for every method of core.methods (or `methods`) on `features`
    (trained heads and the methods that read a run's backbone features only when named)."""
    return labelled_clusterings(features, y, n_clusters, random_state, methods)[0]


def timed_manifold(
    features: np.ndarray, n_clusters: int, random_state: int | None = 0, n2d_neighbors: int = N2D_NEIGHBORS
) -> tuple[np.ndarray, float]:
    """(N2D's manifold of `features`, the seconds it took): what labelled_clusterings shares."""
    began = time.perf_counter()
    manifold = clusterer("n2d", n_clusters, random_state, n2d_neighbors).manifold(features)
    return manifold, time.perf_counter() - began


def labelled_clusterings(
    features: np.ndarray,
    y: np.ndarray | None,
    n_clusters: int,
    random_state: int | None = 0,
    methods: tuple[str, ...] | None = None,
    n2d_neighbors: int = N2D_NEIGHBORS,
    manifold: tuple[np.ndarray, float] | None = None,
    tolerate: Collection[str] = (),
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """compare_clusterings, plus the labels each method gave: ({method: scores}, {method: labels}).

    The methods on N2D's manifold share one UMAP; each one's `seconds` includes it, so a row
    says what that method costs on its own. Pass `manifold` (timed_manifold's pair) to reuse
    one computed earlier, e.g. for N2D alone first. A method that cannot run on so few rows is
    skipped: its row says why under "skipped", and it gives no labels. So is a trained head in
    `tolerate` (one nobody asked for: a sort candidate) whose training diverged; any other raises.
    """
    features = np.asarray(features, dtype=np.float32)
    scores, labels = {}, {}
    embedded, manifold_seconds = manifold if manifold is not None else (None, 0.0)
    for method in methods or quick_methods():
        estimator = clusterer(method, n_clusters, random_state, n2d_neighbors)
        reason = too_few_rows(method, len(features))
        if reason:
            scores[method] = _skipped(reason)
            continue
        shared = isinstance(estimator, OnManifold)
        if shared and embedded is None:
            embedded, manifold_seconds = timed_manifold(features, n_clusters, random_state, n2d_neighbors)
        began = time.perf_counter()
        try:
            pred = (estimator.fit_embedded(embedded) if shared else estimator.fit(features)).labels_
        except TrainingDiverged as error:
            if method not in tolerate:
                raise
            scores[method] = _skipped(str(error))
            continue
        seconds = time.perf_counter() - began + (manifold_seconds if shared else 0.0)
        scores[method] = {**clustering_scores(features, y, pred, random_state), "seconds": seconds}
        labels[method] = pred
    return scores, labels


def pca_features(
    train: np.ndarray, others: list[np.ndarray], n_components: int, random_state: int | None = 0
) -> list[np.ndarray]:
    """PCA fitted on `train`, applied to `train` and each of `others` (same number of dims as asked)."""
    pca = fit_pca(train, n_components, random_state)
    return [pca.transform(a).astype(np.float32) for a in [train, *others]]


# Raw inputs wider than this are reduced by PCA before neighbours, clustering and probes, as the
# field does (scanpy's pp.pca, 50 components, before pp.neighbors): a 96 px RGB photo is 27,648
# values, and UMAP, k-means and a random forest on them took most of a 19-minute evaluation of
# 5,902 photos. MNIST's 784 values stay as they are (N2D's paper ran UMAP on them).
RAW_MAX_DIMS = 1024
RAW_COMPONENTS = 50
PCA_FIT_MAX = 5000  # the PCA is fitted on a seeded sample of at most this many rows, then applied to all


def fit_pca(train: np.ndarray, n_components: int, random_state: int | None = 0) -> Any:
    """A seeded PCA of `train`: randomized (Halko et al.) on wide inputs, where the exact SVD costs minutes."""
    from sklearn.decomposition import PCA

    k = max(1, min(int(n_components), train.shape[1], len(train)))
    solver = "randomized" if train.shape[1] > RAW_MAX_DIMS else "auto"
    return PCA(n_components=k, svd_solver=solver, random_state=random_state).fit(train)


def raw_reduction(values: int) -> int | None:
    """How many PCA components raw inputs of `values` values a row are reduced to (None: kept as they are)."""
    return RAW_COMPONENTS if values > RAW_MAX_DIMS else None


def pca_sample(n_rows: int, random_state: int | None = 0) -> np.ndarray:
    """Sorted indices of the rows a raw-input PCA is fitted on: a seeded sample of at most PCA_FIT_MAX."""
    if n_rows <= PCA_FIT_MAX:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(random_state).choice(n_rows, PCA_FIT_MAX, replace=False))


def raw_pca(fit: np.ndarray, random_state: int | None = 0) -> Any:
    """The PCA that reduces wide raw inputs (fitted on a pca_sample of `fit`), or None for narrow ones."""
    components = raw_reduction(fit.shape[1])
    if components is None:
        return None
    return fit_pca(fit[pca_sample(len(fit), random_state)], components, random_state)


def reduce_raw(
    fit: np.ndarray, others: list[np.ndarray], random_state: int | None = 0
) -> tuple[list[np.ndarray], int | None]:
    """([fit, *others] as the raw baselines and probes read them, the PCA components or None).

    Narrow inputs come back as they are; wide ones as RAW_COMPONENTS PCA components (raw_pca).
    """
    pca = raw_pca(fit, random_state)
    if pca is None:
        return [fit, *others], None
    return [pca.transform(a).astype(np.float32) for a in [fit, *others]], int(pca.n_components_)


def clustering_baselines(
    raw: np.ndarray,
    y: np.ndarray | None,
    n_clusters: int,
    n_components: int,
    random_state: int | None = 0,
    pca_fit: np.ndarray | None = None,
    features: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """What the codes must beat, without any autoencoder.

    kmeans_raw: k-means on the flattened inputs; kmeans_pca: k-means on a PCA with as many dims
    as the codes (fitted on `pca_fit`, e.g. the train rows, else on `raw`); umap_gmm_raw: the N2D
    recipe applied to the raw inputs. Inputs wider than RAW_MAX_DIMS are first reduced to
    RAW_COMPONENTS by PCA (reduce_raw), so the "raw" rows read PCA-50 of them. With `features`
    (a pretrained backbone's, for a run that trained on them) also kmeans_features and
    umap_gmm_features: the autoencoder earns its place only where its codes beat the features it
    was given, or match them far smaller.
    """
    raw = np.asarray(raw, dtype=np.float32).reshape(len(raw), -1)
    fit = raw if pca_fit is None else np.asarray(pca_fit, dtype=np.float32).reshape(len(pca_fit), -1)
    began = time.perf_counter()
    (fit, raw), _ = reduce_raw(fit, [raw], random_state)  # a no-op on narrow inputs, or on ones reduced already
    _, pca = pca_features(fit, [raw], n_components, random_state)
    pca_seconds = time.perf_counter() - began
    out = {
        "kmeans_raw": _timed_scores(raw, y, "kmeans", n_clusters, random_state),
        "kmeans_pca": _timed_scores(pca, y, "kmeans", n_clusters, random_state),
        "umap_gmm_raw": _timed_scores(raw, y, "n2d", n_clusters, random_state),
    }
    out["kmeans_pca"]["seconds"] += pca_seconds
    if features is not None:
        features = np.asarray(features, dtype=np.float32)
        out["kmeans_features"] = _timed_scores(features, y, "kmeans", n_clusters, random_state)
        out["umap_gmm_features"] = _timed_scores(features, y, "n2d", n_clusters, random_state)
    return out
