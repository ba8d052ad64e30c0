"""One reading of each run's metrics log, shared by everyone watching it.

    progress = LiveProgress()                 # one per server: JobRegistry.progress
    seen = progress.read(run.metrics_path)    # Seen(events, version)
    seen.version                              # changes only when a new line was logged

A class watching its trainings: every open Train page redraws on a timer, and each used to keep
its own core.metrics_log.MetricsTail, so N pages on one run parsed the same lines N times and
held N copies of them. Here one tail per log serves every page, a log whose (inode, size, mtime)
did not change is not even opened, and `version` (that stamp, when the events last changed) lets
a page skip what did not change: the chart is rebuilt only when a new line arrived, and at most
every CHART_EVERY seconds while the run trains (`charted`). The tails are
few and bounded (least recently read dropped first), so a server that ran for days holds only the
logs watched lately. `live_points` bounds what a live chart draws, however long the run.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from core.metrics_log import MetricsTail
from core.training import Progress

WATCHED_LOGS = 32  # tails kept at once: more than a class watches at a time
LIVE_STEPS = 400  # step points a live chart draws at most (every epoch point is kept)
CHART_EVERY = 3.0  # seconds: a live chart is rebuilt at most this often, the numbers beside it every redraw

Stamp = tuple[int, int, int]  # a log file's (inode, size, mtime in ns)


@dataclass(frozen=True)
class Seen:
    """A run's events so far (shared: do not change them) and the log's version they were read at."""

    events: tuple[Progress, ...]
    version: Stamp | None  # None: nothing logged yet


class _Watched:
    """One log's tail, what it last gave, the file's (inode, size, mtime) at that reading, and what the
    live chart was last drawn from (renewed at most every `chart_every` seconds)."""

    def __init__(self, path: Path, chart_every: float):
        self.tail = MetricsTail(path)
        self.lock = threading.Lock()
        self.seen = self.charted = Seen((), None)
        self.stamp: Stamp | None = None
        self.chart_every = chart_every
        self.charted_at = -math.inf

    def read(self) -> tuple[Seen, Seen]:
        try:
            stat = os.stat(self.tail.path)
            stamp = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        except FileNotFoundError:
            stamp = None
        with self.lock:  # two pages redrawing at once: the second waits for the first's reading, then shares it
            if stamp is None or stamp != self.stamp:  # else nothing logged since: no open, no parse, no copy
                events = tuple(self.tail.read())
                self.stamp = stamp
                if events != self.seen.events:
                    self.seen = Seen(events, stamp)
            now = time.monotonic()
            if self.charted is not self.seen and now - self.charted_at >= self.chart_every:
                self.charted, self.charted_at = self.seen, now
            return self.seen, self.charted


class LiveProgress:
    """Shared tails by log path, at most `limit` of them (the least recently read dropped). Thread-safe."""

    def __init__(self, limit: int = WATCHED_LOGS, chart_every: float = CHART_EVERY):
        self.limit = limit
        self.chart_every = chart_every
        self._watched: OrderedDict[Path, _Watched] = OrderedDict()
        self._lock = threading.Lock()

    def read(self, path: str | os.PathLike) -> Seen:
        """The log's events so far, reading only the lines added since anyone last read it."""
        return self._watch(path).read()[0]

    def charted(self, path: str | os.PathLike) -> Seen:
        """The events a live chart draws: renewed at most every `chart_every` seconds, since building a
        plotly figure costs a fifth of a second of CPU however few its points (its template)."""
        return self._watch(path).read()[1]

    def _watch(self, path: str | os.PathLike) -> _Watched:
        path = Path(path)
        with self._lock:
            watched = self._watched.get(path)
            if watched is None:
                watched = self._watched[path] = _Watched(path, self.chart_every)
                while len(self._watched) > self.limit:
                    self._watched.popitem(last=False)
            self._watched.move_to_end(path)
        return watched

    def __len__(self) -> int:
        with self._lock:
            return len(self._watched)


def live_points(events: tuple[Progress, ...] | list[Progress], limit: int = LIVE_STEPS) -> list[Progress]:
    """Every epoch event and at most `limit` step events, evenly spread (the newest kept): what a live
    chart sends stays bounded however long the run trains."""
    steps = [i for i, e in enumerate(events) if e.kind == "step"]
    if len(steps) <= limit:
        return list(events)
    stride = -(-len(steps) // limit)  # ceiling division
    kept = set(steps[::-1][::stride])
    return [e for i, e in enumerate(events) if e.kind != "step" or i in kept]
