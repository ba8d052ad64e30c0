"""A tour of a run's map: views the author chose, in an order, with a sentence each, for a stakeholder.

Each step keeps what the Latent space page showed (projection, colouring, clusterer and its number of
clusters, the selected dataset rows, the zoom if known) and the author's caption. The tour is the
author's work, so it lives in the run folder itself (tour.json, beside sorting.json), written
atomically with its checksum inside; the HTML report (core.report) walks it with Next / Back.

Like sorting.json, a file that is damaged, from another version, another run or out of range for the
run's data is reported and dropped (`read_tour` returns the problem instead of raising): the page
opens with an empty tour and a notice, and the next step added starts a new one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import atomic_write_bytes
from core.checksums import Verdict, opened_json, sealed_json
from core.errors import ConfigError
from core.methods import CLUSTER_METHODS, MAP_METHODS

TOUR_FILE = "tour.json"
VERSION = 1
SPLITS = ("all", "train", "val", "test")
COLOURS = ("label", "cluster", "error", "trust")
MAX_STEPS = 50
MAX_CAPTION = 500  # characters: a sentence or two, not an essay
MAX_CLUSTERS = 9999
MAX_SELECTED = 100_000
PARAMS = {"n_neighbors": (2, 500), "min_dist": (0.0, 1.0)}  # UMAP's finer settings, as the page offers them


def clean_caption(text: str) -> str:
    """A caption as kept: ends trimmed, at most MAX_CAPTION characters (line breaks stay)."""
    return str(text).strip()[:MAX_CAPTION]


@dataclass(frozen=True)
class Step:
    """One view of the map and what the author says about it."""

    caption: str
    split: str = "test"
    method: str = "umap"
    dims: int = 2
    colour: str = "cluster"
    clusterer: str = "n2d"
    n_clusters: int = 10
    params: Mapping[str, float] = field(default_factory=dict)
    rows: tuple[int, ...] = ()  # dataset rows selected on the map (highlighted in the report)
    x_range: tuple[float, float] | None = None  # the zoom, when known
    y_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["params"] = dict(self.params)
        out["rows"] = list(self.rows)
        out["x_range"] = None if self.x_range is None else list(self.x_range)
        out["y_range"] = None if self.y_range is None else list(self.y_range)
        return out


@dataclass(frozen=True)
class Tour:
    """The steps of one run's tour, in the order they are shown."""

    run: str
    n_rows: int
    steps: tuple[Step, ...] = ()

    def _with(self, steps: list[Step]) -> Tour:
        return dataclasses.replace(self, steps=tuple(steps))

    def added(self, step: Step) -> Tour:
        if len(self.steps) >= MAX_STEPS:
            raise ConfigError(f"A tour holds at most {MAX_STEPS} steps; delete one before adding another.")
        return self._with([*self.steps, dataclasses.replace(step, caption=clean_caption(step.caption))])

    def moved(self, index: int, by: int) -> Tour:
        """Step `index` moved `by` places (-1: up, 1: down); at an end it stays."""
        to = index + by
        if not (0 <= index < len(self.steps) and 0 <= to < len(self.steps)):
            return self
        steps = list(self.steps)
        steps[index], steps[to] = steps[to], steps[index]
        return self._with(steps)

    def recaptioned(self, index: int, caption: str) -> Tour:
        steps = list(self.steps)
        steps[index] = dataclasses.replace(steps[index], caption=clean_caption(caption))
        return self._with(steps)

    def removed(self, index: int) -> Tour:
        return self._with([s for i, s in enumerate(self.steps) if i != index])

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "run": self.run,
            "n_rows": self.n_rows,
            "steps": [s.to_dict() for s in self.steps],
        }


def selected_rows(rows: np.ndarray | list[int]) -> tuple[int, ...]:
    """Dataset rows as a step keeps them: sorted, each once, at most MAX_SELECTED."""
    return tuple(sorted({int(r) for r in np.asarray(rows, dtype=np.int64).tolist()}))[:MAX_SELECTED]


# --------------------------------------------------------------------------- on disk


def tour_path(run_path: str | Path) -> Path:
    return Path(run_path) / TOUR_FILE


def save_tour(run_path: str | Path, tour: Tour) -> Path:
    path = tour_path(run_path)
    atomic_write_bytes(path, sealed_json(tour.to_dict()))
    return path


def read_tour(run_path: str | Path, run_id: str, n_rows: int) -> tuple[Tour, str | None]:
    """(the saved tour, None); an empty tour without a file; or (an empty tour, what is wrong with the file).

    Never raises for a bad file: a damaged tour is worth a notice, not a page that will not open.
    """
    empty = Tour(run=run_id, n_rows=int(n_rows))
    path = tour_path(run_path)
    try:
        obj, verdict = opened_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return empty, None
    except (OSError, ValueError) as exc:
        return empty, f"{path} could not be read ({' '.join(str(exc).split())}); the tour was dropped"
    if verdict is Verdict.MISMATCH:
        return empty, f"{path} is damaged: it does not match its checksum (it changed on disk after it was saved)"
    problem = tour_problem(obj, run_id, n_rows)
    if problem:
        return empty, f"{path} is damaged: {problem}"
    return from_dict(obj), None


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def tour_problem(obj: Any, run_id: str, n_rows: int) -> str | None:
    """The first thing wrong with a tour.json read back (types, version, another run, rows out of range), or None."""
    if not isinstance(obj, Mapping):
        return f"it holds a {type(obj).__name__}, not an object"
    if obj.get("version") != VERSION:
        return f"its version is {obj.get('version')!r}, not {VERSION}"
    if obj.get("run") != run_id:
        return f"it is the tour of run {obj.get('run')!r}, not of run {run_id!r} (copied from another run?)"
    if obj.get("n_rows") != n_rows:
        return f"it was made for {obj.get('n_rows')!r} rows, but the run's data has {n_rows} (did the data change?)"
    steps = obj.get("steps")
    if not isinstance(steps, list) or len(steps) > MAX_STEPS:
        return f"its steps should be a list of at most {MAX_STEPS}"
    for i, step in enumerate(steps, 1):
        problem = step_problem(step, n_rows)
        if problem:
            return f"step {i} {problem}"
    return None


_CHOICES = {"split": SPLITS, "method": tuple(MAP_METHODS), "colour": COLOURS, "clusterer": tuple(CLUSTER_METHODS)}


def step_problem(step: Any, n_rows: int) -> str | None:
    """What is wrong with one step of a tour read back, or None."""
    fields = {f.name for f in dataclasses.fields(Step)}
    if not isinstance(step, Mapping) or set(step) != fields:
        return f"should be an object of exactly {', '.join(sorted(fields))}"
    if not (isinstance(step["caption"], str) and len(step["caption"]) <= MAX_CAPTION):
        return f"has a caption that is not text of at most {MAX_CAPTION} characters"
    for name, choices in _CHOICES.items():
        if step[name] not in choices:
            return f"has {name} {step[name]!r}, not one of {', '.join(choices)}"
    if step["dims"] not in (2, 3) or isinstance(step["dims"], bool):
        return f"has dims {step['dims']!r}, not 2 or 3"
    if not _whole(step["n_clusters"], 1, MAX_CLUSTERS):
        return f"has {step['n_clusters']!r} clusters, not a whole number from 1 to {MAX_CLUSTERS}"
    params = step["params"]
    if not isinstance(params, Mapping) or not set(params) <= set(PARAMS):
        return f"has map settings {params!r}; only {', '.join(PARAMS)} are known"
    for name, value in params.items():
        low, high = PARAMS[name]
        if not (_number(value) and low <= value <= high):
            return f"has {name} {value!r}, not a number from {low} to {high}"
    rows = step["rows"]
    if not (isinstance(rows, list) and len(rows) <= MAX_SELECTED and all(_whole(r, 0, 2**62) for r in rows)):
        return "selects rows that are not a list of row numbers"
    if rows and max(rows) >= n_rows:
        return f"selects row {max(rows)}, but the run's data has {n_rows} rows (a tour of another run's data?)"
    for name in ("x_range", "y_range"):
        span = step[name]
        if span is not None and not (
            isinstance(span, list) and len(span) == 2 and all(map(_number, span)) and span[0] < span[1]
        ):
            return f"has {name} {span!r}, not null or [low, high] with low below high"
    return None


def from_dict(obj: Mapping[str, Any]) -> Tour:
    """A Tour from a dict that passed `tour_problem`."""
    steps = tuple(
        Step(
            **{
                **s,
                "params": dict(s["params"]),
                "rows": selected_rows(s["rows"]),
                "x_range": None if s["x_range"] is None else tuple(s["x_range"]),
                "y_range": None if s["y_range"] is None else tuple(s["y_range"]),
            }
        )
        for s in obj["steps"]
    )
    return Tour(run=obj["run"], n_rows=obj["n_rows"], steps=steps)
