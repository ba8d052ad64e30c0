"""A run's latent codes, its file -> cluster table (CSV or Parquet) or its photos sorted (zip), to download.

No Streamlit here.

The download buttons call these only when clicked, outside the script run, so they use core
directly; core's on-disk cache makes the codes and clusters cheap after the first time.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from core.sorting import Sorting
    from core.trained import TrainedRun


def codes_frame(trained: TrainedRun) -> pd.DataFrame:
    """Every row's code with its split, label and k-means cluster (k = number of classes, else 10)."""
    from core.evaluation import run_clusters
    from core.run_cache import run_codes

    ds = trained.dataset
    rows = trained.splits.get("all")
    z = np.asarray(run_codes(trained, "all"))
    split_of = np.empty(len(ds), dtype=object)
    for name in ("train", "val", "test"):
        split_of[trained.splits.get(name)] = name
    frame = pd.DataFrame(z, columns=[f"z{i}" for i in range(z.shape[1])])
    frame.insert(0, "row", rows)
    frame.insert(1, "split", split_of[rows])
    if ds.has_labels:
        frame.insert(2, "label", ds.label_names(ds.y[rows]))
    frame.insert(frame.columns.get_loc("z0"), "cluster", run_clusters(trained, "all", "kmeans", random_state=0))
    return frame


def codes_csv(trained: TrainedRun) -> bytes:
    return codes_frame(trained).to_csv(index=False).encode("utf-8")


def codes_parquet(trained: TrainedRun) -> bytes:
    buffer = io.BytesIO()
    codes_frame(trained).to_parquet(buffer, index=False)
    return buffer.getvalue()


def clusters_table(
    trained: TrainedRun, method: str, n_clusters: int | None, suffix: str, sorting: Sorting | None = None
) -> bytes:
    """core.export's file -> cluster table of every row (the CLI's `latentboard export`), as bytes;
    with a core.sorting.Sorting, the edited clusters and their names."""
    from core.export import cluster_assignments, table_bytes

    return table_bytes(cluster_assignments(trained, method, n_clusters, random_state=0, sorting=sorting), suffix)


def sorted_photos_zip(
    trained: TrainedRun, method: str, n_clusters: int | None, sorting: Sorting | None = None, duplicates: bool = False
) -> bytes:
    """The photos sorted: a zip with one folder per cluster of the original files (`export --sorted-folders`),
    the edited clusters under their names when given a sorting; with `duplicates`, every near-duplicate
    but the one kept in _duplicates/ (`export --duplicates`)."""
    from core.duplicates import run_duplicates
    from core.export import cluster_assignments, set_aside_duplicates, sorted_zip_bytes

    frame = cluster_assignments(trained, method, n_clusters, random_state=0, sorting=sorting)
    return sorted_zip_bytes(set_aside_duplicates(frame, run_duplicates(trained)) if duplicates else frame)
