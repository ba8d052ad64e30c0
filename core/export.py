"""What a user takes home from a run: which file (or row) landed in which cluster.

Sorting a folder of photos ends in the photos sorted: one folder per cluster holding the original
files, or a table of file name -> cluster as CSV or Parquet (by the file's suffix). Asked to
(`set_aside_duplicates`), every near-duplicate but the one kept goes to `_duplicates/` instead of its
cluster's folder, copied like the rest (nothing is ever deleted), and the table names the photo
each is a duplicate of.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.atomic import atomic_write_bytes
from core.duplicates import DuplicateGroup, duplicate_rows
from core.errors import ConfigError
from core.evaluation.run_evaluation import DEFAULT_CLUSTERS, run_clusters, run_group_count
from core.methods import CLUSTER_METHODS
from core.spread import spread_run

if TYPE_CHECKING:
    from core.group_count import GroupCount
    from core.sorting import Sorting
    from core.trained import TrainedRun

TABLE_FORMATS = (".csv", ".parquet")
DUPLICATES_FOLDER = "_duplicates"  # no cluster's folder can be called this: cluster_folder_names strips the _


def cluster_assignments(
    trained: TrainedRun,
    method: str = "n2d",
    n_clusters: int | None = None,
    random_state: int | None = 0,
    sorting: Sorting | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """One row per dataset row: row, file (folder datasets), cluster, and label when there are labels.

    The clusters are those of every row ('all' split), the very labels the dashboard shows. With a
    sorting (core.sorting: the user's merges and moves), the edited clusters, and a cluster_name
    column holding each cluster's folder name. `progress(done, total)` hears a trained head's steps.
    A sorting that names examples of two or more groups (core.spread) decides instead of any
    clustering: cluster is the group's number, cluster_name its name, and a confidence column.
    """
    rows = np.asarray(trained.splits.get("all"))
    confidence, names = None, dict(sorting.names) if sorting is not None else {}
    if sorting is not None and sorting.spreads:
        spread = spread_run(trained, sorting.examples, sorting.seed)
        rows, clusters, confidence = spread.rows, spread.group, spread.confidence
        names = dict(enumerate(spread.groups))
    else:
        clusters = run_clusters(trained, "all", method, n_clusters, random_state, progress=progress)
        if sorting is not None:
            clusters = sorting.apply(clusters, rows)
    dataset = trained.dataset
    table = {"row": rows}
    if dataset.files:
        table["file"] = dataset.file_names(rows)
        table["path"] = [dataset.files[i] for i in rows.tolist()]
    table["cluster"] = clusters.astype(np.int64)
    if sorting is not None:
        folders = cluster_folder_names(clusters, names)
        table["cluster_name"] = [folders[int(c)] for c in clusters]
    if confidence is not None:
        table["confidence"] = np.round(confidence.astype(np.float64), 4)
    if dataset.y is not None:
        table["label"] = dataset.label_names(dataset.y.numpy()[rows])
    return pd.DataFrame(table)


def set_aside_duplicates(frame: pd.DataFrame, groups: Iterable[DuplicateGroup]) -> pd.DataFrame:
    """The table with a duplicate_of column: for each near-duplicate not kept, the kept one's file
    (its row, for data without files), else empty; sorted_layout puts those rows in _duplicates/."""
    keeper_of = duplicate_rows(groups)
    named = dict(zip(frame["row"].tolist(), frame["file"].tolist())) if "file" in frame else None
    kept = [keeper_of.get(int(row)) for row in frame["row"]]
    column = [None if k is None else (named[k] if named else k) for k in kept]
    return frame.assign(duplicate_of=pd.array(column, dtype="string" if named else "Int64"))


def export_cluster_count(
    trained: TrainedRun, method: str = "n2d", n_clusters: int | None = None, random_state: int | None = 0
) -> tuple[int | None, GroupCount | None, str]:
    """(number of clusters to export, the estimate behind it or None, a line saying where the number came from).

    The number given wins. Data without labels gets the estimated number of groups of every row
    (core.group_count, cached in the run); labelled data its number of classes (None: the
    clusterers' default). A method that finds its own count (HDBSCAN) needs none. With too few
    rows to estimate, the fallback is DEFAULT_CLUSTERS (capped at the rows), and the line says why.
    """
    if n_clusters is not None:
        return n_clusters, None, f"{n_clusters} clusters, as asked"
    if CLUSTER_METHODS[method].chooses_own_cluster_count:
        return None, None, f"{CLUSTER_METHODS[method].label} finds the number of clusters itself"
    if trained.dataset.y is not None:
        return None, None, "as many clusters as the data has classes; --clusters sets another number"
    try:
        count = run_group_count(trained, "all", random_state)
    except ConfigError as error:
        return DEFAULT_CLUSTERS, None, f"{DEFAULT_CLUSTERS} clusters (no estimate: {error})"
    return (
        count.estimate,
        count,
        f"{count.estimate} clusters, the estimated number of groups ({count.method}, of "
        f"k={count.candidates[0]}..{count.candidates[-1]}); --clusters sets another number",
    )


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


WINDOWS_DEVICES = {"con", "prn", "aux", "nul", *(f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10))}
MAX_FOLDER_NAME = 100  # characters; file systems allow 255 bytes, and a folder of photos needs no more


def cluster_folder_names(clusters: np.ndarray, names: dict[int, str] | None = None) -> dict[int, str]:
    """A folder name per cluster: the user's name for it when given (made safe), else cluster-07; noise is 'noise'.

    Safe: no path separators or '..', nothing Windows refuses (CON, nul.txt, ...), not clusters.csv
    beside it; unique even on case-blind file systems (macOS, Windows), so no cluster spills into another.
    """
    names = names or {}
    width = max(2, len(str(int(np.asarray(clusters).max(initial=0)))))
    given, wanted = set(), {}
    for cluster in sorted(set(int(c) for c in np.asarray(clusters))):
        name = re.sub(r"[^\w.\- ]+", "_", names.get(cluster, ""))[:MAX_FOLDER_NAME].strip(" ._")
        if name.split(".")[0].lower() in WINDOWS_DEVICES:
            name = f"{name}_"
        if name:
            given.add(cluster)
        wanted[cluster] = name or ("noise" if cluster < 0 else f"cluster-{cluster:0{width}d}")
    # Numbered names first, so a user's 'cluster-03' for another cluster never takes cluster 3's folder.
    out, used = {}, {"clusters.csv"}
    for cluster in sorted(wanted, key=lambda c: (c in given, c)):
        name, n = wanted[cluster], 1
        while name.lower() in used:  # two clusters the user gave one name stay apart
            n += 1
            name = f"{wanted[cluster]}-{n}"
        used.add(name.lower())
        out[cluster] = name
    return dict(sorted(out.items()))


def sorted_layout(frame: pd.DataFrame, names: dict[int, str] | None = None) -> list[tuple[str, str]]:
    """(original path, 'folder/file name') for every row: each file once, same names renamed, never overwritten."""
    if "path" not in frame:
        raise ConfigError(
            "Only datasets read from image files can be sorted into folders; export the table "
            "(--out clusters.csv) instead."
        )
    if "cluster_name" in frame:  # an edited sorting names its folders already
        folder_of = frame["cluster_name"].tolist()
    else:
        folders = cluster_folder_names(frame["cluster"].to_numpy(), names)
        folder_of = [folders[int(c)] for c in frame["cluster"]]
    if "duplicate_of" in frame:
        folder_of = [DUPLICATES_FOLDER if pd.notna(d) else f for f, d in zip(folder_of, frame["duplicate_of"])]
    used: set[str] = set()
    layout = []
    for path, folder in zip(frame["path"], folder_of):
        stem, suffix = Path(path).stem, Path(path).suffix
        target, n = f"{folder}/{stem}{suffix}", 1
        while target.lower() in used:  # case-insensitive: the zip may be opened on macOS or Windows
            n += 1
            target = f"{folder}/{stem}-{n}{suffix}"
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
