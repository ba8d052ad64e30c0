"""Where an evaluation stands: one small immutable event per step started or finished, with an ETA.

An evaluation of 10k images takes minutes; a person waiting wants to know which step runs, how
many are left and roughly how long. `StepClock` turns the steps' expected costs into that
estimate: before anything has run it trusts the expected seconds (an earlier evaluation's
measured timings of the same rows, else a per-row guess); once steps have finished, it scales
the rest by how fast this machine really was on them.

    clock = StepClock(["encode", "n2d", ...], expected_seconds(["encode", ...], n_rows, earlier))
    clock.event("n2d", finished=False, result=partial)   # -> EvalProgress, eta in seconds
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.evaluation.result import EvaluationResult

# Seconds per 1,000 rows on 2 CPU cores, a guess from mnist-10k (195 s for all, of which about
# 90 s the N2D UMAP). Only the ratios matter once a step has finished and calibrated the clock.
SECONDS_PER_1K_ROWS = {
    "encode": 0.1,
    "n2d": 8.0,
    "groups": 2.0,
    "clusterings": 2.0,
    "reconstruction": 0.2,
    "map": 2.0,
    "baselines": 5.0,
    "probes": 2.5,
}
STEP_OVERHEAD = {"n2d": 1.0, "clusterings": 0.5, "map": 1.0, "baselines": 1.5, "probes": 1.5}  # any size pays these
MIN_STEP_SECONDS = 0.2
CALIBRATE_AFTER = 0.1  # trust measured speed once steps worth this share of the plan have run

STEP_LABELS = {
    "encode": "Encoding the rows",
    "n2d": "N2D: UMAP of the codes + GMM",
    "groups": "How many groups (modularity of spectral clusterings of the neighbour graph)",
    "clusterings": "Other clusterings of the codes",
    "reconstruction": "Reconstruction quality",
    "map": "2-D map and its trustworthiness",
    "baselines": "Baselines on the raw inputs",
    "probes": "Probes (small classifiers on each representation)",
}


@dataclass(frozen=True)
class EvalProgress:
    """One step started (`finished` False) or ended (True); `done` on the last event, whose
    `result` is the whole evaluation. `result` is always a plain dict of what is known so far."""

    step: str
    index: int  # 1-based position of `step` among the `total` steps
    total: int
    finished: bool
    elapsed: float  # seconds since the evaluation began
    eta: float | None  # seconds left, as estimated when the event was made
    result: Mapping[str, Any] = field(repr=False)
    done: bool = False
    made_at: float = field(default_factory=time.monotonic, repr=False)

    @property
    def evaluation(self) -> EvaluationResult:
        """`result` as a typed EvaluationResult (its sections None until their steps have run)."""
        return EvaluationResult.from_dict(self.result)

    @property
    def label(self) -> str:
        return STEP_LABELS.get(self.step, self.step)

    @property
    def fraction(self) -> float:
        """Steps finished over steps planned, 0..1."""
        return min(1.0, (self.index - (0 if self.finished else 1)) / max(self.total, 1))

    def since(self, now: float | None = None) -> float:
        """Seconds since the event was made: a page redrawn later counts on from it."""
        return 0.0 if self.done else max(0.0, (time.monotonic() if now is None else now) - self.made_at)

    def remaining(self, now: float | None = None) -> float | None:
        """The ETA counted down since the event was made (never below zero)."""
        return None if self.eta is None else max(0.0, self.eta - self.since(now))

    def line(self, now: float | None = None) -> str:
        """'[2/7] N2D: UMAP of the codes + GMM · 3 s elapsed · about 40 s left', for a terminal or a bar."""
        if self.done:
            return f"Evaluated {self.total} steps in {format_duration(self.elapsed)}"
        head = f"[{self.index}/{self.total}] {self.label}" + (" done" if self.finished else "")
        left = self.remaining(now)
        tail = "" if left is None else f" · about {format_duration(left)} left"
        return f"{head} · {format_duration(self.elapsed + self.since(now))} elapsed{tail}"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60:02d} s"


def expected_seconds(steps: Sequence[str], n_rows: int, earlier: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Expected seconds per step: an earlier evaluation's measured `timings` when it covered the
    same number of rows and every step, else a guess: a fixed start-up (UMAP, forests) plus per row."""
    timings = (earlier or {}).get("timings") or {}
    if (earlier or {}).get("n") == n_rows and all(isinstance(timings.get(s), (int, float)) for s in steps):
        return {s: max(float(timings[s]), 0.0) for s in steps}
    return {
        s: max(STEP_OVERHEAD.get(s, 0.0) + SECONDS_PER_1K_ROWS.get(s, 1.0) * n_rows / 1000, MIN_STEP_SECONDS)
        for s in steps
    }


class StepClock:
    """Times the steps of one evaluation and estimates what is left."""

    def __init__(self, steps: Sequence[str], expected: Mapping[str, float]):
        self.steps = list(steps)
        self.expected = {s: float(expected.get(s, MIN_STEP_SECONDS)) for s in self.steps}
        self.began = time.perf_counter()
        self.took: dict[str, float] = {}
        self._step_began: float | None = None

    def start(self, step: str) -> None:
        self._step_began = time.perf_counter()

    def finish(self, step: str) -> float:
        seconds = time.perf_counter() - (self._step_began if self._step_began is not None else self.began)
        self.took[step] = seconds
        return seconds

    def rate(self) -> float:
        """Measured over expected seconds of the finished steps (1 until enough has run to tell)."""
        planned = sum(self.expected.values()) or 1.0
        done_expected = sum(self.expected[s] for s in self.took)
        if done_expected / planned < CALIBRATE_AFTER or done_expected <= 0:
            return 1.0
        return sum(self.took.values()) / done_expected

    def eta(self, step: str | None, finished: bool) -> float:
        """Seconds left: the unfinished steps' expected cost times the measured rate."""
        rate = self.rate()
        left = sum(self.expected[s] for s in self.steps if s not in self.took)
        if step is not None and not finished and self._step_began is not None:
            running = time.perf_counter() - self._step_began
            left -= min(self.expected[step], running / rate)
        return max(0.0, left * rate)

    def event(self, step: str, finished: bool, result: Mapping[str, Any], done: bool = False) -> EvalProgress:
        index = self.steps.index(step) + 1 if step in self.steps else len(self.steps)
        return EvalProgress(
            step=step,
            index=index,
            total=len(self.steps),
            finished=finished,
            elapsed=time.perf_counter() - self.began,
            eta=0.0 if done else self.eta(step, finished),
            result=result,
            done=done,
        )
