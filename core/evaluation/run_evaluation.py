"""Every number for one trained run, as an EvaluationResult, stored next to the run as JSON.

    result = evaluate_run(trained, split="test")    # also written to <run>/evaluation-test.json
    for event in evaluation_steps(trained, "test"):  # the same, step by step: progress + partial result
        print(event.line())
    load_evaluation(run, "test")                     # the stored result, or None

Steps (STEPS): encode, N2D (the headline), the other clusterings, reconstruction, the map, then
the baselines and probes, which a caller may leave out (`skip`).

Protocol: clusterings and baselines run on the evaluated split only. Probes fit on the train split
and are scored on the evaluated split; when the evaluated split contains the training rows
(train / all), probe accuracies are cross-validated on it instead, and `probe_protocol` says so.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from core.clusterers import N2D_NEIGHBORS, clusterer
from core.config import check_seed
from core.errors import ConfigError, TrainingDiverged
from core.evaluation.alongside import Alongside, worth_a_process
from core.evaluation.clustering import (
    clustering_baselines,
    fit_pca,
    labelled_clusterings,
    pca_features,
    pca_sample,
    raw_reduction,
    run_methods,
    sorted_by,
    timed_manifold,
    too_few_rows,
)
from core.evaluation.probes import cv_skip_reason, probe_cv_scores, probe_scores, probe_skip_reason
from core.evaluation.progress import EvalProgress, StepClock, expected_seconds
from core.evaluation.reconstruction import streamed_reconstruction_quality
from core.evaluation.result import EvaluationResult
from core.group_count import RECIPE, GroupCount, candidate_counts, estimate_group_count
from core.methods import CLUSTER_METHODS
from core.registry import lookup
from core.run_cache import cached_array, checkpoint_fingerprint, run_codes, run_projection, stored_array
from core.sort_choice import HEAD_CANDIDATES, SortChoice, modularity_scores, sort_candidates
from core.sort_choice import RECIPE as SORT_RECIPE

if TYPE_CHECKING:
    from core.runs import Run
    from core.trained import TrainedRun

SPLITS = ("test", "val", "train", "all")
TRUSTWORTHINESS_MAX = 2000
TRUSTWORTHINESS_NEIGHBORS = 5
DEFAULT_CLUSTERS = 10  # for unlabelled data


def default_n_clusters(dataset: Any) -> int:
    """The number of classes when the dataset has labels, else 10."""
    if dataset.y is None:
        return DEFAULT_CLUSTERS
    return max(len(dataset.classes), len(np.unique(dataset.y.numpy()))) or DEFAULT_CLUSTERS


def cluster_count(n_clusters: int | None, dataset: Any, random_state: int | None = 0) -> int:
    """`n_clusters`, or the dataset's default when None; ConfigError for 0 or less (never quietly the default).

    Also checks `random_state`, which every caller passes on to the clusterings.
    """
    if random_state is not None:
        check_seed(random_state, "The seed (--seed)")
    if n_clusters is None:
        return default_n_clusters(dataset)
    if isinstance(n_clusters, bool) or int(n_clusters) != n_clusters or n_clusters < 1:
        raise ConfigError(
            f"The number of clusters (--clusters) must be at least 1 (got {n_clusters}); "
            "leave it out for the number of classes."
        )
    return int(n_clusters)


def split_index(trained: TrainedRun, split: str) -> np.ndarray:
    if split not in SPLITS:
        raise ConfigError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
    index = np.asarray(trained.splits.get(split))
    if len(index) == 0:
        raise ConfigError(
            f"Run {trained.run.id} has an empty {split} split; evaluate another split (e.g. --split all)."
        )
    return index


def flat_inputs(trained: TrainedRun, index: np.ndarray) -> np.ndarray:
    """The raw pixels (or table values) of rows, flattened: the no-model baseline's input."""
    return trained.dataset.x[torch.as_tensor(index)].reshape(len(index), -1).numpy().astype(np.float32, copy=False)


def raw_inputs(
    trained: TrainedRun, index: np.ndarray, train_index: np.ndarray, random_state: int | None = 0
) -> tuple[np.ndarray, np.ndarray, int | None]:
    """(the split's raw inputs, the train split's, the PCA components they were reduced to or None).

    Wide inputs (photos) come as clustering.raw_pca's components, the PCA fitted on (a sample of)
    the train rows and applied a chunk at a time, so no copy of every flattened photo is ever held.
    """
    components = raw_reduction(int(np.prod(trained.dataset.input_shape)))
    if components is None:
        raw = flat_inputs(trained, index)
        return raw, flat_inputs(trained, train_index) if len(train_index) else raw, None
    fit_index = train_index if len(train_index) else index  # the same rows clustering.raw_pca would sample
    pca = fit_pca(flat_inputs(trained, fit_index[pca_sample(len(fit_index), random_state)]), components, random_state)

    def reduced(rows: np.ndarray) -> np.ndarray:
        chunks = [rows[i : i + RAW_CHUNK] for i in range(0, len(rows), RAW_CHUNK)]
        return np.concatenate([pca.transform(flat_inputs(trained, c)).astype(np.float32) for c in chunks])

    raw = reduced(index)
    return raw, reduced(train_index) if len(train_index) else raw, int(pca.n_components_)


RAW_CHUNK = 1000  # rows flattened at a time while reducing wide raw inputs


def backbone_features(trained: TrainedRun, index: np.ndarray) -> np.ndarray | None:
    """A feature run's backbone features as the backbone gave them (from the cache), else None.

    Not the standardised copy the model read: k-means on the raw features scored 0.97 on birds
    and 0.84 standardised, and a baseline should get its best shot.
    """
    backbone = trained.config.features.backbone
    if backbone is None:
        return None
    from core.features import dataset_features

    features = dataset_features(trained.dataset, backbone, input_size=trained.config.features.input_size)
    return features[torch.as_tensor(index)].numpy().astype(np.float32, copy=False)


def cluster_rows(trained: TrainedRun, split: str, method: str) -> np.ndarray:
    """The rows `method` clusters: the split's codes, or for a method that reads features (n2d-features)
    the backbone's features standardised as the model read them; ConfigError for a run without them."""
    if lookup(CLUSTER_METHODS, method, "clustering method").reads != "features":
        return run_codes(trained, split)
    if trained.config.features.backbone is None:
        raise ConfigError(
            f"Run {trained.run.id} was trained on its inputs, not on a backbone's features, so {method} "
            f"has nothing to cluster; choose one of {', '.join(run_methods(trained.config, heads=True))}."
        )
    return trained.inputs[torch.as_tensor(split_index(trained, split))].numpy().astype(np.float32, copy=False)


def trustworthiness_of_map(
    codes: np.ndarray,
    embedding: np.ndarray,
    random_state: int | None = 0,
    max_samples: int = TRUSTWORTHINESS_MAX,
    n_neighbors: int = TRUSTWORTHINESS_NEIGHBORS,
) -> float | None:
    """How well the map keeps neighbours of the codes (sklearn's trustworthiness, k=5 unless told), on a sample."""
    from sklearn.manifold import trustworthiness

    n = len(codes)
    k = min(n_neighbors, n // 2 - 1)
    if k < 1:
        return None
    if n > max_samples:
        index = np.sort(np.random.default_rng(random_state).choice(n, max_samples, replace=False))
        codes, embedding = codes[index], embedding[index]
    return float(trustworthiness(codes, embedding, n_neighbors=k))


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN / inf to None, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


STEPS = ("encode", "n2d", "groups", "clusterings", "reconstruction", "map", "baselines", "probes")  # headline first
OPTIONAL_STEPS = ("baselines", "probes")  # what a caller may leave out (`skip`)


def evaluate_run(
    trained: TrainedRun,
    split: str = "test",
    random_state: int | None = 0,
    n_clusters: int | None = None,
    save: bool = True,
    n2d_neighbors: int = N2D_NEIGHBORS,
    skip: Collection[str] = (),
    on_progress: Callable[[EvalProgress], None] | None = None,
    heads: bool = False,
) -> EvaluationResult:
    """Clusterings of the codes, baselines, probes, reconstruction quality and map trustworthiness.

    Returns an EvaluationResult and, with `save`, writes its dict to `evaluation-<split>.json` in
    the run folder: split, n, n_clusters, seconds, clustering {method: {acc, nmi, ari, silhouette,
    seconds, ...}}, baselines {kmeans_raw | kmeans_pca | umap_gmm_raw: {...}}, probes {codes | raw
    | pca: {knn, logistic, random_forest}}, probes_cv (same shape), probe_protocol, raw_pca (the
    PCA components wide raw inputs were reduced to for baselines and probes, else None), reconstruction
    {mse, psnr, ssim}, trustworthiness, left_out (the steps of `skip`). Without labels acc / nmi /
    ari and the probes are None. `on_progress` gets every event of evaluation_steps, partial
    results included. `sorted_by` names the clustering the run sorts by by default. Trained heads
    (TEMI) take minutes on a CPU, each, so they are scored only with `heads`.
    """
    result: dict[str, Any] = {}
    for event in evaluation_steps(trained, split, random_state, n_clusters, save, n2d_neighbors, skip, heads):
        if on_progress is not None:
            on_progress(event)
        result = dict(event.result)
    return EvaluationResult.from_dict(result)


def evaluation_steps(
    trained: TrainedRun,
    split: str = "test",
    random_state: int | None = 0,
    n_clusters: int | None = None,
    save: bool = True,
    n2d_neighbors: int = N2D_NEIGHBORS,
    skip: Collection[str] = (),
    heads: bool = False,
) -> Iterator[EvalProgress]:
    """evaluate_run as a stream: an EvalProgress when each step starts and ends, in STEPS order (N2D,
    the headline, right after encoding), each carrying the result so far; the last has `done`.

    Every step draws its randomness from `random_state` alone, so the numbers do not depend on
    the order, on what was skipped, or on whether anyone listens.
    """
    unknown = sorted(set(skip) - set(OPTIONAL_STEPS))
    if unknown:
        raise ConfigError(
            f"Cannot leave out {', '.join(map(repr, unknown))}; the steps one may skip are {', '.join(OPTIONAL_STEPS)}."
        )
    index = split_index(trained, split)
    state = _Evaluation(
        trained,
        split,
        index,
        cluster_count(n_clusters, trained.dataset, random_state),
        random_state,
        n2d_neighbors,
        run_methods(trained.config, heads, len(index)),
        tolerate=() if heads else HEAD_CANDIDATES,  # a head nobody asked for must not fail the evaluation
    )
    steps = [name for name in STEPS if name not in skip]
    earlier = trained.run.read_json(f"evaluation-{split}.json")
    clock = StepClock(steps, expected_seconds(steps, len(index), earlier if isinstance(earlier, dict) else None))
    partial: dict[str, Any] = {}
    with ExitStack() as alongside:
        alongside.callback(state.close)
        for name in steps:
            clock.start(name)
            yield clock.event(name, False, _clean(partial))
            partial.update(getattr(state, name)())
            state.timings[name] = clock.finish(name)
            partial = state.summary(partial, clock, [s for s in STEPS if s in skip])
            yield clock.event(name, True, _clean(partial))
            if name == "encode" and "baselines" in steps and worth_a_process(len(index)):
                state.start_baselines_alongside()  # the other core: from here on this process keeps to one fewer
                alongside.enter_context(threadpool_limits(max(1, (os.cpu_count() or 2) - 1)))
    result = EvaluationResult.from_dict(_clean(partial)).to_dict()
    if save:
        trained.run.write_json(f"evaluation-{split}.json", result)
    yield clock.event(steps[-1], True, result, done=True)


class _Evaluation:
    """The state one evaluation's steps share; each step method returns the result keys it adds."""

    def __init__(
        self,
        trained: TrainedRun,
        split: str,
        index: np.ndarray,
        n_clusters: int,
        random_state: int | None,
        n2d_neighbors: int,
        methods: tuple[str, ...] = (),
        tolerate: tuple[str, ...] = (),
    ):
        self.trained, self.split, self.index, self.n_clusters = trained, split, index, n_clusters
        self.random_state, self.n2d_neighbors = random_state, n2d_neighbors
        self.methods = methods or run_methods(trained.config)  # what the clusterings step scores
        self.tolerate = tolerate  # heads whose diverged training is a skipped row, not a failed evaluation
        y_all = None if trained.dataset.y is None else trained.dataset.y.numpy()
        self.y_all, self.y = y_all, None if y_all is None else y_all[index]
        self.train_index = np.asarray(trained.splits.train)
        self.timings: dict[str, float] = {}
        self.codes = np.empty((len(index), 0), dtype=np.float32)
        self.manifold: tuple[np.ndarray, float] | None = None
        self.scores: dict[str, Any] = {}  # clustering method -> scores
        self.baseline_scores: dict[str, Any] = {}
        self._raw: tuple[np.ndarray, np.ndarray] | None = None
        self.raw_components: int | None = None  # PCA components wide raw inputs were reduced to
        self._alongside: Alongside | None = None
        self.sorted_by = sorted_by(trained.config)  # the default until the clusterings step chooses

    def raw(self) -> tuple[np.ndarray, np.ndarray]:
        """(the split's raw inputs, the train split's), flattened, PCA-reduced when wide: the no-model
        baselines' and probes' input (raw_inputs)."""
        if self._raw is None:
            raw, raw_train, self.raw_components = raw_inputs(
                self.trained, self.index, self.train_index, self.random_state
            )
            self._raw = raw, raw_train
        return self._raw

    def _cluster(self, methods: tuple[str, ...], rows: np.ndarray | None = None) -> dict[str, Any]:
        """Score `methods` on the codes, or on `rows` (the features) with a UMAP of their own."""
        if not methods:
            return {}
        scores, labels = labelled_clusterings(
            self.codes if rows is None else rows,
            self.y,
            self.n_clusters,
            self.random_state,
            methods,
            self.n2d_neighbors,
            manifold=self.manifold if rows is None else None,
            tolerate=self.tolerate,
        )
        for method, pred in labels.items():  # the dashboard's run_clusters() then shows these very labels
            _cache_clusters(
                self.trained,
                method,
                self.split,
                self.n_clusters,
                self.random_state,
                self.n2d_neighbors,
                lambda p=pred: p,
            )
        self.scores.update(scores)
        return {"clustering": {m: self.scores[m] for m in CLUSTER_METHODS if m in self.scores}}

    def encode(self) -> dict[str, Any]:
        self.codes = run_codes(self.trained, self.split)
        return {"latent_dim": int(self.codes.shape[1])}

    def n2d(self) -> dict[str, Any]:
        if not too_few_rows("n2d", len(self.codes)):  # N2D's manifold, shared with the other UMAP pipelines
            self.manifold = timed_manifold(self.codes, self.n_clusters, self.random_state, self.n2d_neighbors)
        return self._cluster(("n2d",))

    def groups(self) -> dict[str, Any]:
        """The estimated number of groups (no labels involved), beside the n_clusters scored."""
        try:
            count = run_group_count(self.trained, self.split, self.random_state)
        except ConfigError as error:  # too few rows: the reason instead of a number
            return {"group_count": None, "group_count_skipped": str(error)}
        return {"group_count": count.to_dict()}

    def clusterings(self) -> dict[str, Any]:
        on_codes = tuple(m for m in self.methods if m != "n2d" and CLUSTER_METHODS[m].reads == "codes")
        on_features = tuple(m for m in self.methods if CLUSTER_METHODS[m].reads == "features")
        out = self._cluster(on_codes)
        if on_features:
            out = self._cluster(on_features, cluster_rows(self.trained, self.split, on_features[0]))
        if len(sort_candidates(self.trained.config, len(self.index))) > 1:  # labels cached now: a quick choice
            choice = run_sorted_by(self.trained, self.split, self.n_clusters, self.random_state, self.n2d_neighbors)
            self.sorted_by = choice.method
            out["sort_choice"] = choice.to_dict()
        return out

    def reconstruction(self) -> dict[str, Any]:
        trained = self.trained
        kind = "table" if trained.config.features.backbone else trained.dataset.kind  # features: like a table's values
        return {"reconstruction": streamed_reconstruction_quality(trained.model, trained.inputs, self.index, kind)}

    def map(self) -> dict[str, Any]:
        embedding = run_projection(self.trained, self.split, "umap", 2, self.random_state)
        return {"trustworthiness": trustworthiness_of_map(self.codes, embedding, self.random_state)}

    def _baseline_inputs(self) -> tuple[tuple, dict]:
        raw, raw_train = self.raw()
        return (
            (raw, self.y, self.n_clusters, self.codes.shape[1], self.random_state),
            {"pca_fit": raw_train, "features": backbone_features(self.trained, self.index)},
        )

    def start_baselines_alongside(self) -> None:
        """The baselines need nothing from the model: start them in a second process now (alongside.py)."""
        args, kwargs = self._baseline_inputs()
        self._alongside = Alongside(clustering_baselines, *args, **kwargs)

    def baselines(self) -> dict[str, Any]:
        if self._alongside is not None:
            self.baseline_scores = self._alongside.result()
        else:
            args, kwargs = self._baseline_inputs()
            self.baseline_scores = clustering_baselines(*args, **kwargs)
        return {"baselines": self.baseline_scores, "raw_pca": self.raw_components}

    def close(self) -> None:
        """Stop a second process whose results nobody will read (the caller stopped listening)."""
        if self._alongside is not None:
            self._alongside.close()

    def probes(self) -> dict[str, Any]:
        raw, raw_train = self.raw()
        probes, probes_cv, protocol = _probes(
            self.trained,
            self.split,
            self.codes,
            raw,
            raw_train,
            self.y,
            self.y_all,
            self.train_index,
            self.random_state,
        )
        return {"probes": probes, "probes_cv": probes_cv, "probe_protocol": protocol, "raw_pca": self.raw_components}

    def summary(self, partial: dict[str, Any], clock: StepClock, left_out: list[str]) -> dict[str, Any]:
        """The header every partial result carries, then what the steps so far added."""
        trained = self.trained
        head = {
            "run_id": trained.run.id,
            "dataset": trained.dataset.name,
            "split": self.split,
            "n": int(len(self.index)),
            "n_clusters": self.n_clusters,
            "latent_dim": int(self.codes.shape[1]),
            "has_labels": self.y is not None,
            "random_state": self.random_state,
            "n2d_neighbors": self.n2d_neighbors,
            "sorted_by": self.sorted_by,
            "checkpoint": checkpoint_fingerprint(trained.run),
            "epochs_done": int(trained.run.info().get("epochs_done") or 0),
            "seconds": time.perf_counter() - clock.began,
            "timings": dict(self.timings),
        }
        skipped = _skipped(
            self.scores,
            self.baseline_scores,
            self.y,
            self.y_all,
            self.train_index,
            self.index,
            self.split,
            probed="probes_cv" in partial,
        )
        return {**partial, **head, "left_out": left_out, "skipped": skipped}


def _probes(
    trained: TrainedRun,
    split: str,
    codes: np.ndarray,
    raw: np.ndarray,
    raw_train: np.ndarray,
    y: np.ndarray | None,
    y_all: np.ndarray | None,
    train_index: np.ndarray,
    random_state: int | None,
) -> tuple[dict, dict, str]:
    feature_sets = ("codes", "raw", "pca") + (("features",) if trained.config.features.backbone else ())
    index = split_index(trained, split)
    if y is None:
        empty = {name: {"knn": None, "logistic": None, "random_forest": None} for name in feature_sets}
        return empty, empty, "no labels: probes need labels"
    dims = codes.shape[1]
    if split in ("val", "test") and len(train_index):
        codes_train = run_codes(trained, "train")
        y_train = y_all[train_index]
        pca_train, pca_eval = pca_features(raw_train, [raw], dims, random_state)
        train_sets = {
            "codes": codes_train,
            "raw": raw_train,
            "pca": pca_train,
            "features": backbone_features(trained, train_index),
        }
        eval_sets = {"codes": codes, "raw": raw, "pca": pca_eval, "features": backbone_features(trained, index)}
        probes = {
            name: probe_scores(train_sets[name], y_train, eval_sets[name], y, random_state) for name in feature_sets
        }
        probes_cv = {name: probe_cv_scores(train_sets[name], y_train, random_state) for name in feature_sets}
        return (
            probes,
            probes_cv,
            f"fit on train ({len(train_index)} rows), scored on {split}; probes_cv: cross-validated on train",
        )
    # The split holds the training rows: a held-out score is impossible, so cross-validate on it.
    (pca_eval,) = pca_features(raw, [], dims, random_state)
    sets = {"codes": codes, "raw": raw, "pca": pca_eval, "features": backbone_features(trained, index)}
    probes_cv = {name: probe_cv_scores(sets[name], y, random_state) for name in feature_sets}
    return probes_cv, probes_cv, f"cross-validated on {split} (it contains the training rows)"


def _skipped(
    clustering: dict,
    baselines: dict,
    y: np.ndarray | None,
    y_all: np.ndarray | None,
    train_index: np.ndarray,
    index: np.ndarray,
    split: str,
    probed: bool = True,
) -> dict[str, str]:
    """{what: why} for every method that could not run on so few rows (tiny datasets); the probes'
    reasons only once they ran (`probed`)."""
    out = {
        f"{group}.{name}": row["skipped"]
        for group, rows in (("clustering", clustering), ("baselines", baselines))
        for name, row in rows.items()
        if row.get("skipped")
    }
    if y is None or not probed:
        return out
    held_out = split in ("val", "test") and len(train_index)
    fit_on = y_all[train_index] if held_out else y
    for name, reason in (
        ("probes", probe_skip_reason(fit_on) if held_out else cv_skip_reason(y)),
        ("probes_cv", cv_skip_reason(fit_on)),
    ):
        if reason:
            out[name] = reason
    return out


def load_evaluation(run: Run, split: str = "test") -> EvaluationResult | None:
    """The stored evaluation of `split`, or None if there is none or the checkpoint changed since."""
    if split not in SPLITS:
        raise ConfigError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
    result = run.read_json(f"evaluation-{split}.json")
    if not isinstance(result, dict):
        return None
    try:
        fingerprint = checkpoint_fingerprint(run)
    except OSError:
        return None
    if result.get("checkpoint") != fingerprint:
        return None  # numbers of older weights
    return EvaluationResult.from_dict(result)


def run_clusters(
    trained: TrainedRun,
    split: str = "all",
    method: str = "n2d",
    n_clusters: int | None = None,
    random_state: int | None = 0,
    n2d_neighbors: int = N2D_NEIGHBORS,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Cluster labels of a split's codes (or features: cluster_rows) with any pipeline (kmeans, ...,
    umap-hdbscan, ..., n2d, n2d-features, temi). `progress(done, total)` hears a trained head's steps.

    Cached in the run folder; evaluate_run stores the labels it scored, so these are the same ones.
    """
    lookup(CLUSTER_METHODS, method, "clustering method")  # ConfigError naming the valid ones
    index = split_index(trained, split)
    k = cluster_count(n_clusters, trained.dataset, random_state)
    reason = too_few_rows(method, len(index))
    if reason:
        raise ConfigError(f"Clustering method {method} {reason}; pick kmeans, or a larger split.")

    def compute() -> np.ndarray:
        rows = cluster_rows(trained, split, method)
        return clusterer(method, k, random_state, n2d_neighbors, progress=progress).fit_predict(rows)

    return _cache_clusters(trained, method, split, k, random_state, n2d_neighbors, compute)


def run_sorted_by(
    trained: TrainedRun,
    split: str = "all",
    n_clusters: int | None = None,
    random_state: int | None = 0,
    n2d_neighbors: int = N2D_NEIGHBORS,
) -> SortChoice:
    """The clustering the run sorts by at `n_clusters` (None: the dataset's default), chosen without labels
    (core.sort_choice): cached in the run folder with the candidates' labels, which run_clusters then reads.

    A run with one candidate (trained on pixels), or a split too small for the candidates, keeps the default.
    """
    candidates, k, rows = _choice_to_make(trained, split, n_clusters, random_state)
    if len(candidates) == 1:
        return SortChoice(candidates[0])

    def compute() -> np.ndarray:
        partitions = _candidate_labels(trained, split, candidates, k, random_state, n2d_neighbors, rows)
        return modularity_scores(partitions, cluster_rows(trained, split, sorted_by(trained.config)))

    key = _sort_choice_key(candidates, k, random_state, n2d_neighbors)
    return SortChoice.from_scores(candidates, cached_array(trained, f"sortedby-{split}", compute, **key))


def stored_sorted_by(
    trained: TrainedRun, split: str = "all", n_clusters: int | None = None, random_state: int | None = 0
) -> SortChoice | None:
    """run_sorted_by's choice when it needs no work (one candidate, or already chosen), else None: a page
    can open on the default and switch once the choice is made."""
    candidates, k, _ = _choice_to_make(trained, split, n_clusters, random_state)
    if len(candidates) == 1:
        return SortChoice(candidates[0])
    key = _sort_choice_key(candidates, k, random_state, N2D_NEIGHBORS)
    scores = stored_array(trained, f"sortedby-{split}", **key)
    return None if scores is None else SortChoice.from_scores(candidates, scores)


def _sort_choice_key(candidates: tuple[str, ...], k: int, random_state: int | None, n2d_neighbors: int) -> dict:
    return {
        "candidates": candidates,
        "n_clusters": k,
        "random_state": random_state,
        "n_neighbors": n2d_neighbors,
        **SORT_RECIPE,
    }


def sort_candidates_of(
    trained: TrainedRun, split: str = "all", n_clusters: int | None = None, random_state: int | None = 0
) -> tuple[str, ...]:
    """The clusterings run_sorted_by chooses among for this split (the default alone: nothing to choose)."""
    return _choice_to_make(trained, split, n_clusters, random_state)[0]


def _choice_to_make(
    trained: TrainedRun, split: str, n_clusters: int | None, random_state: int | None
) -> tuple[tuple[str, ...], int, int]:
    """(the candidates, the number of clusters, the split's rows); the default alone as the only candidate
    where there is nothing to choose: a run on pixels, or too few rows for a candidate."""
    rows = len(split_index(trained, split))
    candidates = sort_candidates(trained.config, rows)
    k = cluster_count(n_clusters, trained.dataset, random_state)
    if rows <= max(k, 3) or any(too_few_rows(method, rows) for method in candidates):
        candidates = candidates[:1]
    return candidates, k, rows


def _candidate_labels(
    trained: TrainedRun,
    split: str,
    candidates: tuple[str, ...],
    k: int,
    random_state: int | None,
    n2d_neighbors: int,
    rows: int,
) -> list[np.ndarray]:
    """Each candidate's labels (cached as run_clusters caches them); the candidates on the codes share one
    UMAP manifold when none of them is cached yet, as an evaluation shares it."""
    from core.clusterers import umap_manifold

    manifolds: dict[str, np.ndarray] = {}
    out = []
    for method in candidates:

        def compute(method: str = method) -> np.ndarray:
            estimator = clusterer(method, k, random_state, n2d_neighbors)
            values = cluster_rows(trained, split, method)
            if not CLUSTER_METHODS[method].on_manifold:
                return estimator.fit_predict(values)
            reads = CLUSTER_METHODS[method].reads
            if reads not in manifolds:
                manifolds[reads] = umap_manifold(values, k, random_state, n2d_neighbors)
            return estimator.fit_embedded(manifolds[reads]).labels_

        try:
            out.append(_cache_clusters(trained, method, split, k, random_state, n2d_neighbors, compute))
        except TrainingDiverged:
            if method not in HEAD_CANDIDATES:
                raise
            # A head nobody asked for diverged: no labels kept, and all noise scores NaN, so it is never chosen.
            out.append(np.full(rows, -1))
    return out


def run_group_count(trained: TrainedRun, split: str = "all", random_state: int | None = 0) -> GroupCount:
    """core.group_count.estimate_group_count of the rows the run sorts by (cluster_rows of sorted_by:
    the backbone's features for a photo run, the codes otherwise), cached in the run folder (its curve).

    ConfigError when the split has too few rows to estimate.
    """
    index, key = _group_count_key(trained, split, random_state)

    def compute() -> np.ndarray:
        return estimate_group_count(cluster_rows(trained, split, sorted_by(trained.config)), random_state).to_array()

    return GroupCount.from_array(cached_array(trained, f"groups-{split}", compute, **key), len(index))


def stored_group_count(trained: TrainedRun, split: str = "all", random_state: int | None = 0) -> GroupCount | None:
    """run_group_count's estimate when the run folder holds it already, else None: never computes, so a page
    can draw first and count after. ConfigError, at once, when the split has too few rows to estimate."""
    index, key = _group_count_key(trained, split, random_state)
    curve = stored_array(trained, f"groups-{split}", **key)
    return None if curve is None else GroupCount.from_array(curve, len(index))


def _group_count_key(trained: TrainedRun, split: str, random_state: int | None) -> tuple[np.ndarray, dict[str, Any]]:
    """The split's rows and what the estimate's cache entry is keyed by (a new recipe recomputes)."""
    index = split_index(trained, split)
    if random_state is not None:
        check_seed(random_state, "The seed (--seed)")
    candidate_counts(len(index))  # too few rows: say so before any work
    return index, {"random_state": random_state, "n": len(index), "rows": sorted_by(trained.config), **RECIPE}


def _cache_clusters(
    trained: TrainedRun,
    method: str,
    split: str,
    n_clusters: int,
    random_state: int | None,
    n2d_neighbors: int,
    compute: Any,
) -> np.ndarray:
    params: dict[str, Any] = {"n_clusters": n_clusters, "random_state": random_state}
    if CLUSTER_METHODS[method].on_manifold:
        params["n_neighbors"] = n2d_neighbors
    return cached_array(trained, f"clusters-{method}-{split}", compute, **params)
