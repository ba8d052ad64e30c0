"""What a user takes home from a run: which file (or row) landed in which cluster.

Sorting a folder of photos ends in a table of file name -> cluster, written as CSV or Parquet
(by the file's suffix), atomically.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.atomic import atomic_write_bytes
from core.errors import ConfigError
from core.evaluation.run_evaluation import run_clusters

if TYPE_CHECKING:
    from core.experiment import TrainedRun

TABLE_FORMATS = (".csv", ".parquet")


def cluster_assignments(trained: "TrainedRun", method: str = "n2d", n_clusters: int | None = None,
                        random_state: int | None = 0) -> pd.DataFrame:
    """One row per dataset row: row, file (folder datasets), cluster, and label when there are labels.

    The clusters are those of every row ('all' split), the very labels the dashboard shows.
    """
    rows = np.asarray(trained.splits.get("all"))
    clusters = run_clusters(trained, "all", method, n_clusters, random_state)
    dataset = trained.dataset
    table = {"row": rows}
    if dataset.files:
        table["file"] = dataset.file_names(rows)
        table["path"] = [dataset.files[i] for i in rows.tolist()]
    table["cluster"] = clusters.astype(np.int64)
    if dataset.y is not None:
        table["label"] = dataset.label_names(dataset.y.numpy()[rows])
    return pd.DataFrame(table)


def table_bytes(frame: pd.DataFrame, suffix: str) -> bytes:
    """The table as CSV or Parquet bytes (for a download button or a file)."""
    suffix = suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ConfigError(f"Cannot write a {suffix or 'suffix-less'} table; name the file .csv or .parquet.")
    if suffix == ".csv":
        return frame.to_csv(index=False).encode("utf-8")
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def write_assignments(frame: pd.DataFrame, path: str | Path) -> Path:
    path = Path(path).expanduser()
    data = table_bytes(frame, path.suffix)
    if not path.parent.is_dir():
        raise ConfigError(f"Cannot write {path}: the folder {path.parent} does not exist.")
    atomic_write_bytes(path, data)
    return path
