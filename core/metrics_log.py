"""A run's metrics.jsonl read back: whole, or as it grows, without reading it all again each time.

    tail = MetricsTail(run.metrics_path)
    events = tail.read()      # every event so far; later calls parse only the lines added since

The trainer appends one JSON line per event (Run.append_metrics), and a live chart polls the log
every second: reading it whole costs the whole log on every poll, so a long run's chart gets
slower as it trains. MetricsTail keeps a byte offset and parses only the complete lines added
since; a last line still being written waits for its newline. A resume rewrites the log shorter
(Run.truncate_metrics, an atomic replace): a file that is a new one, or shorter than the offset,
is read again from the start.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from core.training import Progress


def parse_events(data: bytes) -> list[Progress]:
    """The events of the JSON lines in `data`, oldest first; a torn or damaged line is skipped."""
    events = []
    for line in data.splitlines():
        if not line.strip():
            continue
        try:
            events.append(Progress.from_dict(json.loads(line)))
        except (ValueError, TypeError, AttributeError):
            continue  # a torn last line after a crash
    return events


def read_events(path: Path) -> list[Progress]:
    """Every event of the log at `path`; none when there is no log yet."""
    try:
        return parse_events(Path(path).read_bytes())
    except FileNotFoundError:
        return []


class MetricsTail:
    """The events of one metrics log, kept up to date by reading only what was appended."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.offset = 0  # bytes of complete lines already parsed
        self._events: list[Progress] = []
        self._file: tuple[int, int] | None = None  # (device, inode): an atomic rewrite makes a new file

    def _restart(self, file: tuple[int, int] | None) -> None:
        self.offset, self._events, self._file = 0, [], file

    def read(self) -> list[Progress]:
        """Every event logged so far, oldest first (a new list: the caller may keep it)."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            self._restart(None)
            return []
        with f:
            stat = os.fstat(f.fileno())
            file = (stat.st_dev, stat.st_ino)
            if file != self._file or stat.st_size < self.offset:
                self._restart(file)
            f.seek(self.offset)
            added = f.read()
        end = added.rfind(b"\n") + 1  # up to the last complete line
        if end:
            self._events.extend(parse_events(added[:end]))
            self.offset += end
        return list(self._events)
