"""Which clustering a photo run sorts by, chosen from the rows alone: the candidate whose groups keep
their own neighbours best.

    choice = choose_sorting(("n2d-features", "n2d", "umap-kmeans"), [labels_a, labels_b, labels_c], features)
    choice.method, choice.scores

Each candidate partition is scored by its modularity (Newman 2006) on the k-nearest-neighbour graph
of the rows the run is sorted on (a photo run's standardised backbone features): the graph and the
score core.group_count already uses to say how many groups there are, so the number of groups and
the partition answer one question. No labels are involved.

Why choose at all: no one clustering stage wins on every kind of picture. Measured on the tuning
sets (`train --preset best-quality`, `evaluate --split all`, 10 groups, seed 0; modularity on the
30-NN graph of the standardised Lite0 features):

    set             n2d-features      n2d (codes)       umap-kmeans (codes)   chosen
    birds           0.985 (Q 0.811)   0.974 (Q 0.808)   0.971 (Q 0.807)       n2d-features
    Fashion-MNIST   0.699 (Q 0.753)   0.654 (Q 0.753)   0.744 (Q 0.763)       umap-kmeans
    CIFAR-10        see the README (benchmarks/clustering.py)

The Gaussian mixture of N2D fits the birds' tight species; on Fashion-MNIST's broad, touching
kinds it gives one mixture component to two of them, and k-means on the same UMAP manifold keeps
the ten apart. Runs trained on pixels keep N2D on their codes (the digits path, measured there).

TEMI heads on the features (core.heads.temi) join the candidates on HEAD_ROWS rows. On the 10,000
CIFAR-10 tuning thumbnails (Lite2 features) they scored ACC 0.553 with the highest modularity (Q
0.592; UMAP + k-means on the codes 0.528, Q 0.589) in 15 s; on Fashion-MNIST 0.657 (Q 0.752, not
chosen); on the 588 birds 0.978 (Q 0.8105 against N2D on the features' 0.8110, not chosen) for 12 s
of training. Each time, of all six stages scored (TURTLE and TEMI on the codes too), the highest
modularity was the most accurate. Below HEAD_ROWS a group has too few neighbours to distil from
(the birds' head did not win) and its 1,500 steps cost more than the three others together;
above, the head has not been measured, and a 100,000-photo evaluation already peaks near 4 GB.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.group_count import GRAPH_NEIGHBORS, PCA_DIMS, modularity, neighbour_graph, principal_rows

PHOTO_CANDIDATES = ("n2d-features", "n2d", "umap-kmeans")  # the first is the default until chosen
HEAD_CANDIDATES = ("temi-features",)  # trained heads, candidates on HEAD_ROWS rows
HEAD_ROWS = range(1_000, 25_001)
RECIPE = {"score": "modularity", "neighbors": GRAPH_NEIGHBORS, "pca": PCA_DIMS}  # a change recomputes


def sort_candidates(config: Any, rows: int | None = None) -> tuple[str, ...]:
    """The clusterings a run may sort by on `rows` rows, its default first: for a run on a backbone's
    features three, and a TEMI head where `rows` lies in HEAD_ROWS; N2D on the codes alone otherwise."""
    if not config.features.backbone:
        return ("n2d",)
    return PHOTO_CANDIDATES + (HEAD_CANDIDATES if rows is not None and rows in HEAD_ROWS else ())


@dataclass(frozen=True)
class SortChoice:
    """The clustering chosen (`method`), and each candidate's modularity (NaN: it could not be scored)."""

    method: str
    candidates: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "score": "modularity on the 30-nearest-neighbour graph of the rows sorted on",
            "scores": {m: (None if np.isnan(s) else round(float(s), 4)) for m, s in zip(self.candidates, self.scores)},
        }

    def line(self) -> str:
        """What export and evaluate say about it."""
        from core.methods import CLUSTER_METHODS

        label = CLUSTER_METHODS[self.method].label
        return f"sorted by {label}: {self.reason()}" if self.scores else f"sorted by {label}"

    def reason(self) -> str:
        """Why this one, with every candidate's score (the page's caption, the end of `line`)."""
        from core.methods import CLUSTER_METHODS

        scored = ", ".join(
            f"{CLUSTER_METHODS[m].label} {s:.3f}" for m, s in zip(self.candidates, self.scores) if not np.isnan(s)
        )
        return f"of the candidates, its groups keep their neighbours best (modularity: {scored})"

    @classmethod
    def from_scores(cls, candidates: Sequence[str], scores: Sequence[float]) -> SortChoice:
        """The highest score wins; a tie, or no score at all, keeps the earlier candidate (the default first)."""
        scores = tuple(float(s) for s in scores)
        valid = [i for i, s in enumerate(scores) if not np.isnan(s)]
        best = max(valid, key=lambda i: (scores[i], -i)) if valid else 0
        return cls(candidates[best], tuple(candidates), scores)


def modularity_scores(partitions: Sequence[np.ndarray], rows: np.ndarray) -> np.ndarray:
    """Each partition's modularity on the neighbour graph of `rows` (NaN for one with noise or one group)."""
    graph = neighbour_graph(principal_rows(rows))
    out = []
    for labels in partitions:
        labels = np.asarray(labels)
        if len(labels) != rows.shape[0]:
            raise ValueError(f"a partition of {len(labels)} rows for {rows.shape[0]} rows")
        scorable = labels.min() >= 0 and len(np.unique(labels)) > 1
        out.append(modularity(graph, np.unique(labels, return_inverse=True)[1]) if scorable else np.nan)
    return np.asarray(out, dtype=np.float64)


def choose_sorting(candidates: Sequence[str], partitions: Sequence[np.ndarray], rows: np.ndarray) -> SortChoice:
    """The candidate whose partition of `rows` has the highest modularity (see the module's docstring)."""
    return SortChoice.from_scores(candidates, modularity_scores(partitions, rows))
