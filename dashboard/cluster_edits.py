"""The clusters as the person has edited them, for the Latent space page: which saved sorting
(core.sorting) applies to the clustering on screen, the edited clusters, their display names, and
the edits themselves (load or start a sorting, change it, save it). No Streamlit here.

Edits name dataset rows and the clusters of every row, so they show (and can be made) only on the
split 'all rows', with the clusterer and number of clusters they started from. Named examples
(core.spread) belong to no clustering: they survive a new start of the edits and their undoing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.figures import cluster_names
from core.methods import CLUSTER_METHODS
from core.registry import label_of
from core.sorting import SPLIT, Sorting, clear_sorting, read_sorting, save_sorting, start

NEW = -2  # the "a new cluster" choice of the move target


@dataclass(frozen=True)
class Grouping:
    """What the page shows: the (edited) cluster of each row on screen, and whether edits can be made."""

    clusters: np.ndarray
    sorting: Sorting | None  # the saved sorting, when it applies to the clusters shown
    editable: bool
    note: str | None = None  # why the saved edits are not shown, or what was wrong with them
    other: Sorting | None = None  # a saved sorting of another clustering (offer to switch to it)

    @property
    def names(self) -> dict[int, str]:
        return dict(self.sorting.names) if self.sorting else {}

    @property
    def revision(self) -> str:
        """Changes with every saved edit: part of the edit widgets' keys, so after an edit each is a
        new widget showing the saved state (a browser keeps a widget's old value while its key stays)."""
        if self.sorting is None:
            return "0"
        return hashlib.sha1(json.dumps(self.sorting.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def grouping(
    run_path: str | Path, n_rows: int, rows: np.ndarray, clusters: np.ndarray, split: str, method: str, n_clusters: int
) -> Grouping:
    """The clusters on screen with the run's saved edits applied, where they belong to them."""
    clusters = np.asarray(clusters, dtype=np.int64)
    saved, problem = read_sorting(run_path, n_rows)
    if problem:
        return Grouping(
            clusters,
            None,
            split == SPLIT,
            f"The saved cluster edits are left out: {problem}. Your next edit starts them over.",
        )
    if saved is None or not (saved.edited or saved.matches(method, n_clusters)):  # only keepers or examples
        return Grouping(clusters, None, split == SPLIT)
    if not saved.matches(method, n_clusters):
        return Grouping(
            clusters,
            None,
            False,
            f"This run's cluster edits start from {method_title(saved.method)} with "
            f"{saved.n_clusters} clusters; choose those above to see and edit them, or undo them to edit "
            "this clustering.",
            other=saved,
        )
    if split != SPLIT:
        return Grouping(
            clusters,
            None,
            False,
            "Cluster edits belong to the clusters of every row: pick the split 'all rows' to see and edit them.",
            other=saved,
        )
    return Grouping(saved.apply(clusters, rows), saved, True)


def method_title(method: str) -> str:
    """A clustering method as people read it (core.methods' label)."""
    return label_of(CLUSTER_METHODS, method)


def display_names(clusters: np.ndarray, names: dict[int, str]) -> list[str]:
    """Each row's cluster as the page names it: the person's name for it, else 'cluster 3' (or 'noise')."""
    clusters = np.asarray(clusters)
    return [names.get(int(c)) or plain for c, plain in zip(clusters.tolist(), cluster_names(clusters))]


def title(cluster: int, names: dict[int, str]) -> str:
    return display_names(np.asarray([cluster]), names)[0]


def edit(
    run_path: str | Path, n_rows: int, method: str, n_clusters: int, change: Callable[[Sorting], Sorting]
) -> Sorting:
    """Apply one change to the run's sorting (a new one, if none or a damaged one was saved) and save it."""
    saved, _ = read_sorting(run_path, n_rows)
    if saved is None or not saved.matches(method, n_clusters):  # keepers, named examples stay
        kept = {"keepers": saved.keepers, "examples": saved.examples} if saved else {}
        saved = dataclasses.replace(start(method, n_clusters, n_rows), **kept)
    changed = change(saved)
    save_sorting(run_path, changed)
    return changed


def edit_examples(
    run_path: str | Path, n_rows: int, method: str, n_clusters: int, change: Callable[[Sorting], Sorting]
) -> Sorting:
    """Change the named examples, keeping whatever clustering and edits the saved sorting has (a new
    one on the clustering shown, if none or a damaged one was saved)."""
    saved, _ = read_sorting(run_path, n_rows)
    changed = change(saved or start(method, n_clusters, n_rows))
    save_sorting(run_path, changed)
    return changed


def spreading(run_path: str | Path, n_rows: int) -> Sorting | None:
    """The saved sorting when its named examples decide the groups (two or more named), else None."""
    saved, _ = read_sorting(run_path, n_rows)
    return saved if saved is not None and saved.spreads else None


def undo_all(run_path: str | Path, n_rows: int) -> bool:
    """Every merge, move and cluster name undone; the named examples stay. True if there was a sorting."""
    saved, _ = read_sorting(run_path, n_rows)
    if saved is None or not saved.examples:
        return clear_sorting(run_path)
    save_sorting(run_path, dataclasses.replace(start(saved.method, saved.n_clusters, n_rows), examples=saved.examples))
    return True
