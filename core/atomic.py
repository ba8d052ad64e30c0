"""Atomic file writes: a reader sees the old file or the new one, never half of either.

Its own module, at the bottom of core, because run folders (core.runs), data caches (core.data),
split files (core.trained), projection caches (core.run_cache) and reports all write this way,
and none of them should have to import another of them to do so.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from core.errors import DiskError

TEMP_SUFFIX = ".tmp"  # atomic writes go to ".<name>.<random>.tmp" beside the file, then rename

# OSErrors that are the user's to fix (space, permissions), not bugs: what to say about each.
_DISK_PROBLEMS = {
    errno.ENOSPC: "the disk is full; free some space there",
    errno.EDQUOT: "your disk quota is used up; free some space there",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
}
_ELSEWHERE = "or choose another folder (for runs: --runs-dir or LATENTBOARD_RUNS_DIR)"


def disk_error(exc: OSError, path: str | os.PathLike) -> DiskError | None:
    """The user-facing DiskError for a full disk or a folder we may not write, else None (a bug)."""
    problem = _DISK_PROBLEMS.get(exc.errno)
    if problem is None:
        return None
    return DiskError(f"Cannot write {path}: {problem}, {_ELSEWHERE}.")


@contextlib.contextmanager
def writing(path: str | os.PathLike) -> Iterator[None]:
    """Turn a full disk or a refused write inside the block into a DiskError naming `path`."""
    try:
        yield
    except OSError as exc:
        mapped = disk_error(exc, path)
        if mapped is None:
            raise
        raise mapped from exc


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` so readers see the old file or the new one, never a mix."""
    path = Path(path)
    with writing(path):
        _write_and_replace(path, data)
    fsync_dir(path.parent)


def _write_and_replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):  # mkstemp makes 0600; a run folder is for anyone who may read it
                os.fchmod(f.fileno(), 0o644)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, allow_nan=True) + "\n").encode("utf-8"))


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` itself durable; not possible (nor needed) on Windows."""
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def remove_temporaries(folder: str | os.PathLike) -> list[str]:
    """Delete the `.<name>.<random>.tmp` files killed atomic writes left in `folder`; their names.

    Only safe while nobody else can be writing in `folder` (a run's: while holding its lock).
    """
    removed = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and entry.name.endswith(TEMP_SUFFIX) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(entry.name)
    return sorted(removed)
