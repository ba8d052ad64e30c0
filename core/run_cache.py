"""What a trained run computes once and keeps in its cache folder: codes, maps, cluster labels.

Every entry is keyed by the checkpoint's fingerprint and the parameters, so a server restart
reads the file instead of recomputing, and new weights make every older entry stale. The
fingerprint is computed here and nowhere else; a stored evaluation names the weights it scored
with the same string.

    codes = run_codes(trained, "test")
    xy = run_projection(trained, "test", "umap", dims=2)
    labels = cached_array(trained, "clusters-kmeans-test", compute, n_clusters=10)
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.atomic import atomic_write_bytes
from core.encoding import encode
from core.projections import check_projection, project

if TYPE_CHECKING:
    from core.runs import Run
    from core.trained import TrainedRun


def checkpoint_fingerprint(run: Run) -> str:
    """ "<size>-<mtime in ns>" of the run's checkpoint: changes whenever it is rewritten.

    OSError when the run has no checkpoint yet.
    """
    stat = Path(run.checkpoint_path).stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _cache_key(trained: TrainedRun, **params: Any) -> str:
    text = json.dumps({"checkpoint": checkpoint_fingerprint(trained.run), **params}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _cache_path(trained: TrainedRun, stem: str, **params: Any) -> Path:
    return trained.run.cache_dir / f"{stem}-{_cache_key(trained, stem=stem, **params)}.npy"


def stored_array(trained: TrainedRun, stem: str, **params: Any) -> np.ndarray | None:
    """What cached_array stored for (checkpoint, stem, params), or None when it has not (or the file is damaged):
    lets a page show a result that is ready without waiting for one that is not."""
    return _read(_cache_path(trained, stem, **params))


def _read(path: Path) -> np.ndarray | None:
    if not path.exists():
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):  # damaged: cached_array computes it again and replaces it
        return None


def cached_array(trained: TrainedRun, stem: str, compute: Callable[[], np.ndarray], **params: Any) -> np.ndarray:
    """`compute()` once per (checkpoint, stem, params); later calls read `<cache>/<stem>-<key>.npy`.

    Results of an older checkpoint with the same stem are removed when a new one is written.
    """
    folder = trained.run.cache_dir
    path = _cache_path(trained, stem, **params)
    stored = _read(path)
    if stored is not None:
        return stored
    values = np.asarray(compute())
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
    for old in folder.glob(f"{stem}-*.npy"):
        if old != path and len(old.stem) == len(stem) + 17:  # same stem + "-" + 16-char key
            old.unlink(missing_ok=True)
    return values


def run_codes(trained: TrainedRun, split: str = "all") -> np.ndarray:
    """Codes of a run's split (rows in `trained.splits.get(split)` order), cached on disk."""
    index = trained.splits.get(split)
    return cached_array(
        trained,
        f"codes-{split}",
        lambda: encode(trained.model, trained.inputs[torch.as_tensor(index)]),
        n=len(index),
    )


def run_projection(
    trained: TrainedRun,
    split: str = "all",
    method: str = "umap",
    dims: int = 2,
    random_state: int | None = 0,
    **params: Any,
) -> np.ndarray:
    """`project(run_codes(trained, split), ...)`, cached on disk per checkpoint and parameters."""
    check_projection(method, dims)
    return cached_array(
        trained,
        f"{method}{dims}d-{split}",
        lambda: project(run_codes(trained, split), method, dims, random_state, **params),
        random_state=random_state,
        **params,
    )
