"""Uploaded files kept on disk so a run's config can rebuild its dataset later (no Streamlit here).

An upload lands in `<data dir>/uploads/<sha256 prefix>/<name>`: the same bytes always map to the
same path, so uploading a file twice reuses it and a run's DataSpec.path stays valid.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

from core.errors import DataError
from core.limits import current_limits
from core.paths import default_data_dir


def save_upload(name: str, data: bytes, root: Path | None = None) -> Path:
    """Write the bytes under the data dir (content-addressed) and return the path."""
    if not data:
        raise DataError(f"The uploaded file {name!r} is empty.")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload"
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = (root or default_data_dir()) / "uploads" / digest
    path = folder / safe
    if not path.exists() or path.stat().st_size != len(data):
        folder.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
    else:
        os.utime(folder)  # used again: the budget removes others first
    prune_uploads(
        folder.parent, current_limits().max_upload_cache_bytes, keep={folder, *_folders_in_use(folder.parent)}
    )
    return path


def _folders_in_use(uploads: Path) -> set[Path]:
    """Upload folders some run's dataset reads: pruning them would leave that run unable to rebuild its data."""
    from core.runs import RunStore

    used = set()
    for run_id in RunStore().ids():
        try:
            data_path = RunStore().open(run_id).config.data.path
        except Exception:  # a damaged run says so on its own page; it keeps nothing alive here
            continue
        if data_path and Path(data_path).parent.parent == uploads:
            used.add(Path(data_path).parent)
    return used


def prune_uploads(uploads: Path, budget: int, keep: set[Path]) -> list[Path]:
    """Remove the least recently used upload folders, except `keep`, until the rest fit in `budget` bytes.

    Anyone who reaches the dashboard can upload; without a budget they could fill the disk.
    """
    folders = [
        (f.stat().st_mtime, f, sum(p.stat().st_size for p in f.rglob("*") if p.is_file()))
        for f in uploads.iterdir()
        if f.is_dir()
    ]
    total = sum(size for _, _, size in folders)
    removed = []
    for _, folder, size in sorted(folders):
        if total <= budget:
            break
        if folder in keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
        removed.append(folder)
    return removed
