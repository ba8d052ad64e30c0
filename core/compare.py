"""Two views of the same rows, compared: which view each side shows, whether two runs read the same
rows, and the "movers", the rows whose neighbourhoods changed most from one view to the other.

A view is the followed run's codes, another run's codes (on the same data), the codes one epoch of
the run's training replay saved (core.snapshots), or the raw inputs (pixels or table values, wide
ones reduced by PCA as the evaluation's baselines are). A row's movement is how few of its k nearest
neighbours in one view's representation are also among its k nearest in the other's: maps are
drawn for the eye, but the movers are measured in the representations themselves.

numpy and scikit-learn (core.map_trust's exact neighbour search); no Streamlit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import ConfigError
from core.map_trust import kept_share, nearest_positions

MOVER_NEIGHBOURS = 10  # k: each row's nearest neighbours compared between the two views
CODES, RAW, EPOCH, RUN = "codes", "raw", "epoch", "run"
_VIEW = re.compile(r"^(codes|raw|epoch:\d{1,6}|run:[A-Za-z0-9_.\-]{1,200})$")
ROWS_DECIDED_BY = ("source", "max_samples", "seed", "missing", "bad_files")  # DataSpec fields that pick the rows
OWN_FILES = ("folder", "table", "npz")  # sources whose `path` is the user's data, not a download cache


@dataclass(frozen=True)
class View:
    """One side of the comparison: `kind` is codes (the followed run's), raw, epoch (of the followed
    run's replay) or run (another run's codes); `epoch` or `run_id` says which."""

    kind: str
    epoch: int | None = None
    run_id: str | None = None

    @property
    def text(self) -> str:
        """As a link carries it: codes, raw, epoch:5, run:<id>."""
        if self.kind == EPOCH:
            return f"{EPOCH}:{self.epoch}"
        if self.kind == RUN:
            return f"{RUN}:{self.run_id}"
        return self.kind


def parse_view(text: str) -> View:
    """A link's view; ValueError (with a short reason) when it names none."""
    if not _VIEW.match(text):
        raise ValueError("not codes, raw, epoch:N or run:ID")
    kind, _, which = text.partition(":")
    if kind == EPOCH:
        return View(EPOCH, epoch=int(which))
    if kind == RUN:
        return View(RUN, run_id=which)
    return View(kind)


@dataclass(frozen=True)
class RunData:
    """What decides a run's rows: its name, its DataSpec, how many rows it read and their files."""

    name: str
    spec: Any
    n_rows: int
    files: tuple[str, ...] = ()

    def described(self) -> str:
        where = f" at {self.spec.path}" if self.spec.source in OWN_FILES and self.spec.path else ""
        return f"{self.spec.source}{where} ({self.n_rows:,} rows)"


def check_same_rows(mine: RunData, theirs: RunData) -> None:
    """ConfigError unless two runs read the same dataset rows in the same order (their picture sizes
    or greyscale may differ: the rows are what the maps share), naming what differs."""
    differ = [f for f in ROWS_DECIDED_BY if getattr(mine.spec, f) != getattr(theirs.spec, f)]
    if mine.spec.source in OWN_FILES and mine.spec.path != theirs.spec.path:
        differ.append("path")
    if not differ and mine.n_rows != theirs.n_rows:
        differ.append("number of rows")
    if not differ and mine.files != theirs.files:
        differ.append("files")
    if differ:
        raise ConfigError(
            f"Run {theirs.name} cannot be compared with {mine.name}: they were trained on different data "
            f"({theirs.described()} against {mine.described()}; their {', '.join(differ)} differ), so their "
            "maps do not show the same rows. Choose a run trained on the same dataset."
        )


@dataclass(frozen=True)
class Movers:
    """Per row (positions into the compared rows), the share of its k nearest neighbours in one view
    also among its k nearest in the other (1: the same neighbourhood, 0: all new); `order` lists the
    rows that moved, most first."""

    kept: np.ndarray
    k: int
    order: np.ndarray


def movers(first: np.ndarray, second: np.ndarray, k: int = MOVER_NEIGHBOURS) -> Movers:
    """Compare each row's k nearest neighbours in `first` and `second` (the same rows, same order, any widths)."""
    n = len(first)
    if len(second) != n:
        raise ConfigError(f"The two views hold {n:,} and {len(second):,} rows; they must be the same rows.")
    if k < 1 or k >= n:
        raise ConfigError(
            f"Comparing neighbourhoods needs more rows than neighbours: {n:,} rows, k={k}. Choose a larger split."
        )
    kept = kept_share(nearest_positions(first, k), nearest_positions(second, k))
    moved = np.flatnonzero(kept < 1.0)
    order = moved[np.argsort(kept[moved], kind="stable")]
    return Movers(kept=kept, k=k, order=order.astype(np.int64))


def view_vectors(trained: Any, view: View, rows: np.ndarray, epoch_codes: np.ndarray | None = None) -> np.ndarray:
    """The representation a view shows for dataset `rows`: `trained`'s codes (codes, run), the raw
    inputs, or an epoch's snapshot codes (`epoch_codes`, already of these rows)."""
    from core.evaluation.run_evaluation import raw_inputs
    from core.run_cache import run_codes

    rows = np.asarray(rows, dtype=np.int64)
    if view.kind == EPOCH:
        if epoch_codes is None or len(epoch_codes) != len(rows):
            raise ConfigError(f"Epoch {view.epoch} has no saved codes of these rows.")
        return np.asarray(epoch_codes, dtype=np.float32)
    if view.kind == RAW:
        return raw_inputs(trained, rows, np.zeros(0, dtype=np.int64))[0].reshape(len(rows), -1)
    return run_codes(trained, "all")[rows]
