"""Names to start from, beside each cluster's gallery: the ImageNet classes its photos most often get
(core.cluster_names), offered as a button that makes it the cluster's name through the ordinary
rename (saved in sorting.json); never applied unasked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from core.cluster_names import NameSuggestion, names_unavailable, run_name_suggestions
from core.errors import LatentboardError
from dashboard import cluster_edits
from dashboard.keys import LATENT

if TYPE_CHECKING:
    from core.trained import TrainedRun


def name_suggestions(trained: TrainedRun, clusters: np.ndarray, rows: np.ndarray) -> dict[int, NameSuggestion]:
    """Each cluster's suggestion, under a line saying whose vocabulary it is (or why there are none)."""
    if trained.dataset.kind != "image":
        return {}
    reason = names_unavailable(trained.config)
    if reason:
        st.caption(f"No names to suggest. {reason}")
        return {}
    st.caption(
        "Suggested names use ImageNet's vocabulary: the 1,000 classes the backbone was trained to tell "
        "apart (many dogs and birds, no kingfisher or swallow), so they are a start, not an answer. "
        "A button beside a cluster makes its suggestion the cluster's name; nothing is named unasked."
    )
    try:
        return run_name_suggestions(trained, clusters, rows)
    except LatentboardError as error:  # e.g. the weights gone since training: the clusters still show
        st.caption(f"No names to suggest: {error}")
        return {}


def suggestion_button(
    container: Any, suggestion: NameSuggestion, path: Path, n_rows: int, method: str, k: int, cluster: int, key: str
) -> None:
    """One click: the suggestion becomes the cluster's name (core.sorting's rename, saved with the run)."""
    container.button(
        suggestion.name,
        key=f"{LATENT.suggest}{key}",
        icon=":material/label:",
        help=f"ImageNet's classes for these photos: {suggestion.line()}. Click to name the cluster so.",
        on_click=cluster_edits.edit,
        args=(path, n_rows, method, k, lambda s: s.renamed(cluster, suggestion.name)),
        width="stretch",
    )
