"""What a user takes home from a run: which file (or row) landed in which cluster.

Sorting a folder of photos ends in the photos sorted: one folder per cluster holding the original
files, or a table of file name -> cluster as CSV or Parquet (by the file's suffix).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import zipfile
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


def cluster_folder_names(clusters: np.ndarray, names: dict[int, str] | None = None) -> dict[int, str]:
    """A folder name per cluster: the user's name for it when given (made safe), else cluster-07; noise is 'noise'."""
    names = names or {}
    width = max(2, len(str(int(clusters.max(initial=0)))))
    out = {}
    for cluster in sorted(set(int(c) for c in clusters)):
        given = re.sub(r"[^\w.\- ]+", "_", names.get(cluster, "")).strip(" ._")
        out[cluster] = given or ("noise" if cluster < 0 else f"cluster-{cluster:0{width}d}")
    taken: dict[str, int] = {}
    for cluster, name in out.items():  # two clusters the user gave one name stay apart
        taken[name] = taken.get(name, 0) + 1
        if taken[name] > 1:
            out[cluster] = f"{name}-{taken[name]}"
    return out


def sorted_layout(frame: pd.DataFrame, names: dict[int, str] | None = None) -> list[tuple[str, str]]:
    """(original path, 'folder/file name') for every row: each file once, same names renamed, never overwritten."""
    if "path" not in frame:
        raise ConfigError("Only datasets read from image files can be sorted into folders; export the table "
                          "(--out clusters.csv) instead.")
    folders = cluster_folder_names(frame["cluster"].to_numpy(), names)
    used: set[str] = set()
    layout = []
    for path, cluster in zip(frame["path"], frame["cluster"]):
        stem, suffix = Path(path).stem, Path(path).suffix
        target, n = f"{folders[int(cluster)]}/{stem}{suffix}", 1
        while target.lower() in used:  # case-insensitive: the zip may be opened on macOS or Windows
            n += 1
            target = f"{folders[int(cluster)]}/{stem}-{n}{suffix}"
        used.add(target.lower())
        layout.append((str(path), target))
    return layout


def write_sorted_folders(frame: pd.DataFrame, out: str | Path, names: dict[int, str] | None = None) -> Path:
    """One folder per cluster under `out`, holding each original file byte for byte, plus clusters.csv.

    Built in a staging folder and renamed into place, so an interrupted export leaves no half tree.
    """
    out = Path(out).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"{out} already exists and is not an empty folder; choose a new folder to sort into.")
    if not out.parent.is_dir():
        raise ConfigError(f"Cannot write {out}: the folder {out.parent} does not exist.")
    layout = sorted_layout(frame, names)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for source, target in layout:
            (staging / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, staging / target)
        table = frame.drop(columns=["path"]).assign(sorted_as=[target for _, target in layout])
        (staging / "clusters.csv").write_bytes(table_bytes(table, ".csv"))
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def sorted_zip_bytes(frame: pd.DataFrame, names: dict[int, str] | None = None) -> bytes:
    """The same tree as write_sorted_folders, as one zip in memory (for a download button)."""
    layout = sorted_layout(frame, names)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # photos are compressed already
        for source, target in layout:
            archive.write(source, target)
        table = frame.drop(columns=["path"]).assign(sorted_as=[target for _, target in layout])
        archive.writestr("clusters.csv", table_bytes(table, ".csv"))
    return buffer.getvalue()
