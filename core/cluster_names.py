"""Names to start from: for each cluster, a name made of the ImageNet classes its photos most often
get ("goldfinch, house finch"), for a person to take or leave; never applied on its own.

The classes come from the run's backbone applied to its cached features (core.features.imagenet),
so they cost no pass over the photos. The vocabulary is ImageNet's 1,000 classes: good at dog
breeds and birds, blind to whatever it never had a class for, which is why it stays a suggestion.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import DataError
from core.features.backbones import get_backbone
from core.features.imagenet import imagenet_classes, imagenet_top_classes

if TYPE_CHECKING:
    from core.trained import TrainedRun

MOST_CLASSES = 2  # classes in a suggested name
MIN_SHARE = 0.15  # of a cluster's photos, for a class after the first to join its name


@dataclass(frozen=True)
class NameSuggestion:
    """The ImageNet classes a cluster's photos most often get, with their share of its photos, commonest first."""

    classes: tuple[tuple[str, float], ...]

    @property
    def name(self) -> str:
        """What the cluster is called when the person takes the suggestion."""
        return ", ".join(name for name, _ in self.classes)

    def line(self) -> str:
        """'mostly goldfinch (62%), house finch (20%)'."""
        return "mostly " + ", ".join(f"{name} ({share:.0%})" for name, share in self.classes)


def suggest_names(
    classes: np.ndarray, clusters: np.ndarray, most: int = MOST_CLASSES, min_share: float = MIN_SHARE
) -> dict[int, NameSuggestion]:
    """A suggestion for each cluster (noise, -1, aside) from each row's ImageNet class (`classes[i]`
    is the class index of the row in cluster `clusters[i]`): its commonest class, then up to `most`
    in all that each hold at least `min_share` of its rows."""
    vocabulary = imagenet_classes()
    classes, clusters = np.asarray(classes), np.asarray(clusters)
    out: dict[int, NameSuggestion] = {}
    for cluster in np.unique(clusters):
        if cluster < 0:
            continue
        counts = Counter(classes[clusters == cluster].tolist()).most_common(most)
        total = int((clusters == cluster).sum())
        kept = [(vocabulary[c], n / total) for i, (c, n) in enumerate(counts) if i == 0 or n / total >= min_share]
        out[int(cluster)] = NameSuggestion(tuple(kept))
    return out


def names_unavailable(config: Any) -> str | None:
    """Why a run's clusters get no suggested names (no backbone, or one without ImageNet's classes), or None."""
    backbone = config.features.backbone
    if backbone is None:
        return (
            "Suggested names come from an ImageNet backbone's classes; this run learned from its inputs "
            "directly, without a pretrained backbone."
        )
    if get_backbone(backbone).classifier is None:
        return (
            f"Suggested names come from an ImageNet classifier's classes; {get_backbone(backbone).label} was "
            "trained without ImageNet's labels, so it has none to offer."
        )
    return None


def run_top_classes(trained: TrainedRun) -> np.ndarray:
    """The ImageNet class of every dataset row (in the 'all' split's order), from the cached features."""
    from core.evaluation.run_evaluation import backbone_features
    from core.run_cache import cached_array

    reason = names_unavailable(trained.config)
    if reason:
        raise DataError(reason)
    rows = np.asarray(trained.splits.get("all"))
    backbone = trained.config.features.backbone

    def compute() -> np.ndarray:
        return imagenet_top_classes(backbone_features(trained, rows), backbone, allow_download=False)

    return cached_array(trained, "imagenet-classes-all", compute, backbone=backbone, n=len(rows))


def run_name_suggestions(trained: TrainedRun, clusters: np.ndarray, rows: np.ndarray) -> dict[int, NameSuggestion]:
    """suggest_names for the clusters of dataset `rows` (clusters[i] is row rows[i]'s, as edited or not)."""
    every = np.asarray(trained.splits.get("all"))
    position = np.full(int(every.max(initial=-1)) + 1, -1, dtype=np.int64)
    position[every] = np.arange(len(every))
    return suggest_names(run_top_classes(trained)[position[np.asarray(rows)]], clusters)
