"""A sha256 inside every file a run's results are rebuilt from, so bit rot and bad copies are noticed.

    data = sealed_safetensors(tensors, metadata)      # safetensors bytes carrying their own checksum
    atomic_write_bytes(path, data)
    verify(path)                                       # Verdict.SOUND / UNSEALED / MISMATCH

Safetensors carries no checksum of its own, and a flipped bit in a weight stays a finite number
that no value check can see. The checksum lives inside the file it protects, so the one atomic
rename that writes the file writes its checksum too, and no crash can leave the two disagreeing
(a sidecar file could): in a safetensors file as the metadata entry "sha256", over the header
without that entry and then every tensor byte; in a JSON object as its key "sha256", over the
canonical encoding of the other keys. A file without one was written before checksums (UNSEALED):
it still opens, and the caller says so once.

Verifying reads the whole file; the verdict is kept per (path, size, mtime, inode) in a bounded
cache, so each file is hashed once per process until it changes.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

from safetensors.torch import save as safetensors_save

KEY = "sha256"
_METADATA = "__metadata__"
_CHUNK = 1 << 20


class Verdict(enum.Enum):
    SOUND = "sound"  # the checksum matches
    UNSEALED = "unsealed"  # no checksum: written before they existed (or by hand)
    MISMATCH = "mismatch"  # changed after it was written


# --------------------------------------------------------------------------- safetensors


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True).encode()


def sealed_safetensors(tensors: dict[str, Any], metadata: dict[str, str] | None = None) -> bytes:
    """safetensors' own bytes for `tensors`, with the sha256 of header and tensor bytes in its metadata."""
    data = safetensors_save(tensors, metadata=metadata)
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header.setdefault(_METADATA, {}).pop(KEY, None)
    digest = hashlib.sha256(_canonical(header))
    body = memoryview(data)[8 + length :]
    digest.update(body)
    header[_METADATA][KEY] = digest.hexdigest()
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # tensor data stays 8-byte aligned, as safetensors itself writes it
    return struct.pack("<Q", len(text)) + text + body


def _safetensors_verdict(path: Path) -> Verdict:
    with open(path, "rb") as f:
        try:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length))
            recorded = header.get(_METADATA, {}).pop(KEY, None)
        except (struct.error, ValueError, AttributeError):
            return Verdict.MISMATCH  # not even its header can be read (the readers name this first)
        if recorded is None:
            return Verdict.UNSEALED
        digest = hashlib.sha256(_canonical(header))
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return Verdict.SOUND if digest.hexdigest() == recorded else Verdict.MISMATCH


# --------------------------------------------------------------------------- JSON


def sealed_json(obj: dict[str, Any]) -> bytes:
    """`obj` as indented JSON text, with the sha256 of its canonical encoding under KEY."""
    plain = {k: v for k, v in obj.items() if k != KEY}
    sealed = {KEY: hashlib.sha256(_canonical(plain)).hexdigest(), **plain}
    return (json.dumps(sealed, indent=2, allow_nan=True) + "\n").encode("utf-8")


def opened_json(obj: Any) -> tuple[Any, Verdict]:
    """A JSON value read back from `sealed_json`'s text: the value without its checksum, and the verdict."""
    if not isinstance(obj, dict) or KEY not in obj:
        return obj, Verdict.UNSEALED
    plain = {k: v for k, v in obj.items() if k != KEY}
    matches = obj[KEY] == hashlib.sha256(_canonical(plain)).hexdigest()
    return plain, Verdict.SOUND if matches else Verdict.MISMATCH


# --------------------------------------------------------------------------- verifying, cached


@functools.lru_cache(maxsize=4096)
def _cached_verdict(path: str, size: int, mtime_ns: int, inode: int) -> Verdict:
    if path.endswith(".json"):
        with open(path, encoding="utf-8") as f:
            try:
                return opened_json(json.load(f))[1]
            except ValueError:
                return Verdict.MISMATCH
    return _safetensors_verdict(Path(path))


def verify(path: str | os.PathLike) -> Verdict:
    """Whether the file at `path` (a .safetensors or .json file) matches the checksum written into it.

    OSError (e.g. FileNotFoundError) as reading it raises. Hashed once per process while the file's
    size, modification time and inode stay the same.
    """
    stat = os.stat(path)
    return _cached_verdict(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns, stat.st_ino)
