"""Items a second and time left for a long count (the backbone's features), for the CLI and the Train page.

The rate is counted from the first report, not from zero: a resumed extraction starts at the rows
its shards already hold, and those took no time in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Throughput:
    """Feed it (done, total) as work goes; it says how fast and how long is left."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.first: tuple[float, int] | None = None
        self.latest: tuple[float, int, int] = (0.0, 0, 0)

    def update(self, done: int, total: int) -> None:
        now = self.clock()
        if self.first is None:
            self.first = (now, done)
        self.latest = (now, done, total)

    @property
    def resumed_from(self) -> int:
        return 0 if self.first is None else self.first[1]

    @property
    def per_second(self) -> float | None:
        """Items a second since the first report; None until some were done in measurable time."""
        if self.first is None:
            return None
        seconds, items = self.latest[0] - self.first[0], self.latest[1] - self.first[1]
        return items / seconds if seconds > 0 and items > 0 else None

    @property
    def seconds_left(self) -> float | None:
        rate = self.per_second
        return None if rate is None else (self.latest[2] - self.latest[1]) / rate

    def summary(self, unit: str = "photos") -> str:
        """'1,024 of 10,000 photos, 35.2 photos/s, about 4 min 16 s left' (rate and time once known)."""
        _, done, total = self.latest
        text = f"{done:,} of {total:,} {unit}"
        rate, left = self.per_second, self.seconds_left
        if rate is not None and left is not None:
            text += f", {rate:,.1f} {unit}/s, about {_duration(left)} left"
        return text


def _duration(seconds: float) -> str:
    minutes, secs = divmod(max(0, round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes or hours) + [f"{secs} s"] * (not hours)
    return " ".join(parts)
