"""A folder's images decoded once, in batches, into a uint8 .npy in the data cache: bounded memory.

The folder is read a batch at a time (decoded on a few threads, Pillow releases the GIL) and each
batch is appended to the file, so memory holds one batch, never the folder; the finished file is
renamed into place (a crash leaves no half cache) beside a small JSON of what reading found (files
skipped and why, how many were cropped, whether all were gray). The key is every file's path, size
and modification time and the side: a changed, added or removed photo reads the folder again, an
unchanged folder (the second command on the same photos) decodes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.atomic import TEMP_SUFFIX, atomic_write_json, fsync_dir, writing
from core.data.image_rows import as_float
from core.paths import default_data_dir

PIXELS_DIR = "pixels"
BATCH = 256  # images decoded, then written, at a time
_FORMAT = 1  # bump when what is stored changes: older caches are then read again from the files
_HEADER_BYTES = 128  # a fixed-size .npy header, rewritten with the final row count at the end

Decode = Callable[[Path], "tuple[np.ndarray, bool] | str"]  # uint8 (S, S, 3) and square?, or why not


@dataclass(frozen=True)
class DecodedFolder:
    """What reading a folder found: the .npy of the readable files' pixels and the rest."""

    path: Path
    read: list[int]  # indices into the files, of the rows stored
    skipped: list[tuple[int, str]]  # (index into the files, why it could not be read)
    cropped: int  # how many were not square
    all_gray: bool  # every stored image has three equal channels
    ranges: dict[str, tuple[float, float]]  # (min, max) of all rows as ImageRows gives them, per channels mode;
    # empty in a cache from before they were kept: ImageRows then reads the rows to find them


def cache_key(files: Sequence[Path], side: int) -> str:
    sha = hashlib.sha256(json.dumps([_FORMAT, side]).encode())
    for file in files:
        try:
            stat = os.stat(file)
            sha.update(f"{file}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        except OSError:  # vanished since it was listed: reading will skip it, and say so
            sha.update(f"{file}\0missing\n".encode())
    return sha.hexdigest()[:20]


def decoded_folder(
    files: Sequence[Path], side: int, decode: Decode, stop_at_unreadable: Callable[[int, str], None] | None = None
) -> DecodedFolder:
    """The folder's decoded pixels from the cache, or decoded now, a batch at a time, and cached.

    `stop_at_unreadable(index, why)` is called on the first unreadable file (in file order), cached
    or not, and may raise to stop loading.
    """
    folder = default_data_dir() / PIXELS_DIR
    key = cache_key(files, side)
    found = _cached(folder / f"{key}.npy", side)
    if found is None:
        found = _decode_all(files, side, decode, folder / f"{key}.npy", stop_at_unreadable)
    elif found.skipped and stop_at_unreadable is not None:
        stop_at_unreadable(*found.skipped[0])
    return found


def _cached(path: Path, side: int) -> DecodedFolder | None:
    """The cache at `path` when it and its JSON are whole and agree, else None (read it again)."""
    try:
        meta = json.loads(path.with_suffix(".json").read_text())
        stored = np.load(path, mmap_mode="r")
        rows = stored.shape
        del stored
        if meta.get("format") != _FORMAT or rows != (len(meta["read"]), side, side, 3):
            return None
        return DecodedFolder(
            path,
            list(meta["read"]),
            [tuple(s) for s in meta["skipped"]],
            int(meta["cropped"]),
            bool(meta["all_gray"]),
            {mode: (float(lo), float(hi)) for mode, (lo, hi) in meta.get("ranges", {}).items()},
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _header(rows: int, side: int) -> bytes:
    """A .npy (version 1.0) header of a fixed length, so it can be written before the count is known."""
    text = f"{{'descr': '|u1', 'fortran_order': False, 'shape': ({rows}, {side}, {side}, 3), }}"
    body = text.encode().ljust(_HEADER_BYTES - 10 - 1) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body


ABANDONED_AFTER_S = 600  # a writer alive appends a batch every few seconds


def _remove_abandoned(path: Path) -> None:
    """Half-written copies of `path` left by a killed process (untouched for minutes): gigabytes at 100,000 photos."""
    for temp in path.parent.glob(f".{path.name}.*{TEMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            if time.time() - temp.stat().st_mtime > ABANDONED_AFTER_S:
                temp.unlink()


def _decode_all(
    files: Sequence[Path],
    side: int,
    decode: Decode,
    path: Path,
    stop_at_unreadable: Callable[[int, str], None] | None,
) -> DecodedFolder:
    read: list[int] = []
    skipped: list[tuple[int, str]] = []
    cropped, all_gray = 0, True
    ranges = {mode: (np.inf, -np.inf) for mode in ("rgb", "gray", "luma")}
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_abandoned(path)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with writing(path), os.fdopen(handle, "wb") as out, ThreadPoolExecutor(min(8, os.cpu_count() or 1)) as pool:
            os.fchmod(out.fileno(), 0o644)  # as core.atomic's writes: mkstemp makes 0600
            out.write(_header(0, side))
            for start in range(0, len(files), BATCH):
                for i, result in enumerate(pool.map(decode, files[start : start + BATCH]), start):
                    if isinstance(result, str):
                        if stop_at_unreadable is not None:
                            stop_at_unreadable(i, result)
                        skipped.append((i, result))
                        continue
                    pixels, square = result
                    out.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
                    all_gray = all_gray and bool((pixels[..., 0] == pixels[..., 1]).all())
                    all_gray = all_gray and bool((pixels[..., 1] == pixels[..., 2]).all())
                    read.append(i)
                    cropped += not square
                    for mode, (lo, hi) in ranges.items():
                        values = as_float(pixels[None], mode)
                        ranges[mode] = (min(lo, float(values.min())), max(hi, float(values.max())))
            out.seek(0)
            out.write(_header(len(read), side))
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    meta = {
        "format": _FORMAT,
        "read": read,
        "skipped": skipped,
        "cropped": cropped,
        "all_gray": all_gray,
        "ranges": ranges,
    }
    atomic_write_json(path.with_suffix(".json"), meta)
    return DecodedFolder(path, read, skipped, cropped, all_gray, ranges)
