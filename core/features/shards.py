"""The features cache while it is being computed: a folder of shards, so a killed extraction resumes.

    <data>/features/<backbone>-<key>/shard-00000.safetensors   rows 0 .. 1023
                                     shard-00001.safetensors   rows 1024 .. 2047 ...

Every shard is written atomically with its checksum (core.checksums) and records the first row
and the row count it holds. A new extraction with the same key keeps the longest run of sound
shards from row 0 and computes only the rows after it; a damaged or foreign shard, and all after
it, are computed again, never trusted. When every row is done, core.features.cache assembles the
one cache file every later step reads (the format caches had before shards, so those still open
unchanged) and removes the folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from safetensors import safe_open

from core.atomic import atomic_write_bytes
from core.checksums import Verdict, sealed_safetensors, verify
from core.features.extract import Progress

SHARD_ROWS = 1024  # about 5 MB of EfficientNet-Lite0 features and half a minute of work on 2 cores


def read_sealed_features(path: Path) -> tuple[torch.Tensor | None, dict[str, str], str]:
    """(the "features" tensor of a sound cache file or shard, its metadata, ""), or (None, {}, what is wrong)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            features, metadata = f.get_tensor("features"), dict(f.metadata() or {})
        verdict = verify(path)
    except Exception as exc:  # safetensors raises its own types on a torn or foreign file
        return None, {}, f"cannot be read ({type(exc).__name__})"
    if verdict is Verdict.MISMATCH:
        return None, {}, "does not match its checksum (it changed on disk after it was written)"
    if verdict is Verdict.UNSEALED:
        return None, {}, "was written before latentboard kept checksums and cannot be verified"
    return features, metadata, ""


class ShardFolder:
    """The shards of one features cache key: which are finished, and writing the rest as they come."""

    def __init__(self, folder: Path, backbone_name: str, total: int, shard_rows: int = SHARD_ROWS) -> None:
        if shard_rows < 1:
            raise ValueError(f"shard_rows must be at least 1 (got {shard_rows})")
        self.folder, self.backbone_name, self.total, self.shard_rows = folder, backbone_name, total, shard_rows

    def path(self, index: int) -> Path:
        return self.folder / f"shard-{index:05d}.safetensors"

    def finished(self, on_note: Callable[[str], None]) -> list[torch.Tensor]:
        """The features of the sound shards in order from row 0, up to the first missing or damaged one."""
        blocks: list[torch.Tensor] = []
        done = 0
        while done < self.total and self.path(len(blocks)).is_file():
            path = self.path(len(blocks))
            features, metadata, problem = read_sealed_features(path)
            if features is not None and metadata.get("start") != str(done):
                problem = f"starts at row {metadata.get('start')}, not {done}"
            elif features is not None and not 0 < len(features) <= self.total - done:
                problem = f"holds {len(features)} rows, more than the {self.total - done} left"
            if problem:
                on_note(f"The features shard {path} {problem}; computing it and the rows after it again.")
                break
            blocks.append(features)
            done += len(features)
        return blocks

    def write_as_computed(
        self, blocks: Iterator[torch.Tensor], first_index: int, done: int, progress: Progress | None
    ) -> list[torch.Tensor]:
        """Write `blocks` (the rows from row `done` on) as shards numbered from `first_index`, each once full."""
        written: list[torch.Tensor] = []
        pending: list[torch.Tensor] = []
        pending_rows = 0
        for block in blocks:
            pending.append(block)
            pending_rows += len(block)
            while pending_rows >= self.shard_rows or (pending_rows and done + pending_rows >= self.total):
                rows = torch.cat(pending)
                shard, rest = rows[: self.shard_rows], rows[self.shard_rows :]
                self._write(first_index + len(written), done, shard)
                written.append(shard)
                done += len(shard)
                pending, pending_rows = ([rest] if len(rest) else []), len(rest)
            if progress is not None:
                progress(done + pending_rows, self.total)
        return written

    def _write(self, index: int, start: int, shard: torch.Tensor) -> None:
        metadata = {"backbone": self.backbone_name, "start": str(start), "rows": str(len(shard))}
        self.folder.mkdir(parents=True, exist_ok=True)  # again: a twin job may have assembled and removed it
        atomic_write_bytes(self.path(index), sealed_safetensors({"features": shard.contiguous()}, metadata=metadata))

    def remove(self) -> None:
        """Drop the shards once the assembled cache file holds every row."""
        shutil.rmtree(self.folder, ignore_errors=True)
