"""One run's evaluation as a typed value, read from and written to the same JSON as ever.

    result = EvaluationResult.from_dict(json.loads(path.read_text()))   # old files load too
    result.clustering["n2d"].acc, result.probes.held_out["codes"]["knn"], result.map.trustworthiness
    result.to_dict()                                                    # the evaluation-<split>.json shape

A section is None while its step has not run (a streamed partial result) or was left out; a
stored file never gains or loses a key by a round trip through this type, except that header
fields an older file lacked come back as None. Keys this type does not know are kept as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.group_count import GroupCount

SCORE_KEYS = ("acc", "nmi", "ari", "silhouette", "n_clusters", "noise", "seconds")
HEADER_KEYS = (
    "run_id",
    "dataset",
    "split",
    "n",
    "n_clusters",
    "latent_dim",
    "has_labels",
    "random_state",
    "n2d_neighbors",
    "sorted_by",
    "checkpoint",
    "epochs_done",
    "seconds",
    "timings",
    "left_out",
    "skipped",
)
SECTION_KEYS = ("clustering", "baselines", "probes", "probes_cv", "probe_protocol", "reconstruction", "trustworthiness")


@dataclass(frozen=True)
class ClusteringScores:
    """One clustering pipeline's (or baseline's) row; `skipped` says why it did not run."""

    acc: float | None = None
    nmi: float | None = None
    ari: float | None = None
    silhouette: float | None = None
    n_clusters: int | None = None
    noise: float | None = None
    seconds: float | None = None
    skipped: str | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ClusteringScores:
        return cls(**{f.name: values.get(f.name) for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        out = {key: getattr(self, key) for key in SCORE_KEYS}
        if self.skipped:
            out["skipped"] = self.skipped
        return out


@dataclass(frozen=True)
class ProbeScores:
    """{representation: {probe: accuracy}}, held out and cross-validated, and how they were fitted."""

    held_out: dict[str, dict[str, float | None]]
    cross_validated: dict[str, dict[str, float | None]]
    protocol: str | None = None


@dataclass(frozen=True)
class ReconstructionQuality:
    mse: float | None = None
    psnr: float | None = None  # images only
    ssim: float | None = None  # images only


@dataclass(frozen=True)
class MapQuality:
    trustworthiness: float | None = None  # None with too few rows to tell


def _scores(rows: Any) -> dict[str, ClusteringScores] | None:
    if not isinstance(rows, Mapping):
        return None
    return {
        str(name): ClusteringScores.from_dict(row if isinstance(row, Mapping) else {}) for name, row in rows.items()
    }


@dataclass(frozen=True)
class EvaluationResult:
    """Every number of one evaluation; see core.evaluation.run_evaluation for how each is made."""

    split: str
    n: int
    n_clusters: int
    run_id: str | None = None
    dataset: str | None = None
    latent_dim: int | None = None
    has_labels: bool | None = None
    random_state: int | None = None
    n2d_neighbors: int | None = None
    sorted_by: str | None = None  # the clustering (a key of `clustering`) the run sorts by by default
    checkpoint: str | None = None  # core.run_cache.checkpoint_fingerprint of the weights scored
    epochs_done: int | None = None
    seconds: float | None = None
    timings: dict[str, float] = field(default_factory=dict)
    left_out: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    clustering: dict[str, ClusteringScores] | None = None
    baselines: dict[str, ClusteringScores] | None = None
    probes: ProbeScores | None = None
    reconstruction: ReconstructionQuality | None = None
    map: MapQuality | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labelled(self) -> bool:
        """Whether the data had labels (older files without the key did)."""
        return self.has_labels is not False

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> EvaluationResult:
        """From an evaluation-<split>.json dict, or a partial result of evaluation_steps."""
        probes = None
        if "probes" in values or "probes_cv" in values:
            probes = ProbeScores(
                dict(values.get("probes") or {}), dict(values.get("probes_cv") or {}), values.get("probe_protocol")
            )
        rec = values.get("reconstruction")
        return cls(
            **{key: values.get(key) for key in HEADER_KEYS if key not in ("timings", "left_out", "skipped")},
            timings=dict(values.get("timings") or {}),
            left_out=tuple(values.get("left_out") or ()),
            skipped=dict(values.get("skipped") or {}),
            clustering=_scores(values.get("clustering")),
            baselines=_scores(values.get("baselines")),
            probes=probes,
            reconstruction=None
            if not isinstance(rec, Mapping)
            else ReconstructionQuality(rec.get("mse"), rec.get("psnr"), rec.get("ssim")),
            map=MapQuality(values["trustworthiness"]) if "trustworthiness" in values else None,
            extra={k: v for k, v in values.items() if k not in HEADER_KEYS and k not in SECTION_KEYS},
        )

    def to_dict(self) -> dict[str, Any]:
        """The plain JSON-ready dict evaluation-<split>.json holds."""
        out: dict[str, Any] = {}
        for key, rows in (("clustering", self.clustering), ("baselines", self.baselines)):
            if rows is not None:
                out[key] = {name: scores.to_dict() for name, scores in rows.items()}
        if self.reconstruction is not None:
            out["reconstruction"] = {
                "mse": self.reconstruction.mse,
                "psnr": self.reconstruction.psnr,
                "ssim": self.reconstruction.ssim,
            }
        if self.map is not None:
            out["trustworthiness"] = self.map.trustworthiness
        if self.probes is not None:
            out.update(
                probes=self.probes.held_out, probes_cv=self.probes.cross_validated, probe_protocol=self.probes.protocol
            )
        # sorted_by came later: an older result without it is written back as it was read.
        out.update({key: getattr(self, key) for key in HEADER_KEYS if key != "sorted_by" or self.sorted_by})
        out.update(timings=dict(self.timings), left_out=list(self.left_out), skipped=dict(self.skipped))
        return {**out, **self.extra}

    @property
    def group_count(self) -> GroupCount | None:
        """The estimated number of groups (core.group_count) when the evaluation made one."""
        from core.group_count import GroupCount

        value = self.extra.get("group_count")
        return GroupCount.from_dict(value) if isinstance(value, Mapping) else None

    def best_clustering(self) -> tuple[str, ClusteringScores] | None:
        """The pipeline with the highest accuracy (None without labels or before any ran)."""
        scored = [(name, s) for name, s in (self.clustering or {}).items() if isinstance(s.acc, (int, float))]
        return max(scored, key=lambda item: item[1].acc, default=None)
