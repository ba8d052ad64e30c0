"""Uploaded files kept on disk so a run's config can rebuild its dataset later (no Streamlit here).

An upload lands in `<data dir>/uploads/<sha256 prefix>/<name>`: the same bytes always map to the
same path, so uploading a file twice reuses it and a run's DataSpec.path stays valid.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from core.errors import DataError
from core.paths import default_data_dir

# Which source reads which upload, by file suffix.
UPLOAD_SOURCES = {
    ".zip": "folder",
    ".csv": "table",
    ".parquet": "table",
    ".pq": "table",
    ".npz": "npz",
}


def source_for(name: str) -> str:
    """The data source that reads an uploaded file, from its suffix."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SOURCES:
        known = ", ".join(sorted(UPLOAD_SOURCES))
        raise DataError(f"Cannot read {name!r}: upload one of {known} (a zip of an image folder, a table, or arrays).")
    return UPLOAD_SOURCES[suffix]


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
    return path
