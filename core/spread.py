"""Name a few, the rest follow: from a handful of rows a person has named ("robin", "sparrow"), a
group and a confidence for every other row, and the doubtful ones to review first.

A person sorting photos knows what some of them are long before they would label them all. The
named rows are the examples of a semi-supervised model on the representation the run sorts by
(core.evaluation.sorted_by: the standardised backbone features of a photo run, the codes
otherwise), fitted on every row of the run, seeded. Scikit-learn's LabelSpreading on k-nearest-
neighbour graphs of all the rows (the unnamed ones carry the names along the data's own shape),
once on a UMAP manifold and once on the rows themselves, averaged, measured best on the bird tuning
photos (accuracy 0.90 / 0.98 / 0.98 with 1 / 2 / 5 named per species); the other methods stay
because benchmarks/spread.py measures them beside it (its docstring and the README have the table).

The examples themselves live in the run's sorting.json (core.sorting.Sorting.examples); the
spread is recomputed from them whenever it is needed, the same every time.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.errors import ConfigError
from core.sorting import MAX_NAME, clean_name

if TYPE_CHECKING:
    from core.data import Dataset
    from core.trained import TrainedRun

NEIGHBOURS = 10  # the graph's neighbours per row (LabelSpreading's knn kernel), fewer on little data
ALPHA = 0.8  # how much of its label a named row may take from its neighbours (scikit-learn's alpha)
MAX_ITER = 200
REVIEW_EXAMPLES = 3  # nearest named examples shown beside a doubtful row
SHOWN_UNKNOWN = 10  # unknown file names listed in a refusal


# --------------------------------------------------------------------------- the models


def _logistic(x: np.ndarray, z: np.ndarray | None, named: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """Only the named rows teach it: a linear model on a few points (directions, so L2-normalised)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import normalize

    x = normalize(x)
    return LogisticRegression(C=10.0, max_iter=2000, random_state=seed).fit(x[named], labels).predict_proba(x)


def _on_graph(points: np.ndarray, named: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """LabelSpreading: the names flow along a graph of every row's nearest neighbours (deterministic);
    each row's distribution over the groups (all zeros where no name reaches)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import normalize
    from sklearn.semi_supervised import LabelSpreading

    target = np.full(len(points), -1, dtype=np.int64)
    target[named] = labels
    model = LabelSpreading(kernel="knn", n_neighbors=graph_neighbours(len(points)), alpha=ALPHA, max_iter=MAX_ITER)
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)  # an unconverged spread is still a spread
        model.fit(points, target)
    return normalize(np.nan_to_num(model.label_distributions_), norm="l1")


def graph_neighbours(n: int) -> int:
    """NEIGHBOURS, but at most a quarter of the rows (at least 3): on 15 photos of three kinds, 10
    neighbours join every kind to the others, and two named photos labelled 82% of the rest; 3, all."""
    return int(max(1, min(NEIGHBOURS, max(3, n // 4), n - 1)))


def _feature_graph(x: np.ndarray, z: np.ndarray | None, named: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """LabelSpreading on the rows themselves, neighbours by cosine (L2-normalised rows)."""
    from sklearn.preprocessing import normalize

    return _on_graph(normalize(x), named, labels)


def _manifold_graph(
    x: np.ndarray, z: np.ndarray | None, named: np.ndarray, labels: np.ndarray, seed: int
) -> np.ndarray:
    """LabelSpreading on the UMAP manifold (`manifold`): its neighbourhoods follow the groups."""
    return _on_graph(z, named, labels)


def _both_graphs(x: np.ndarray, z: np.ndarray | None, named: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """The mean of the two: the manifold's labels (more often right), the features' doubts (its graph
    still joins the groups where they touch, so the rows between them come out unsure)."""
    return (_manifold_graph(x, z, named, labels, seed) + _feature_graph(x, z, named, labels, seed)) / 2


MANIFOLD_DIMS = 10  # N2D's default for data without labels


def manifold(x: np.ndarray, random_state: int = 0) -> np.ndarray:
    """N2D's kind of manifold, which the names spread on: a 10-D UMAP (min_dist 0), seeded, with N2D's
    neighbours but at most a quarter of the rows (at least 5): with 36 photos of three kinds and 20
    neighbours every neighbourhood spans two kinds and the UMAP merges them."""
    from core.clusterers import N2D_NEIGHBORS, check_codes, umap_manifold

    x = check_codes(x)
    neighbours = int(min(N2D_NEIGHBORS, max(5, len(x) // 4)))
    return umap_manifold(x, MANIFOLD_DIMS, random_state, neighbours, dims=MANIFOLD_DIMS)


@dataclass(frozen=True)
class SpreadMethod:
    """fit(rows, their `manifold` or None, named positions, their group numbers, seed) -> (rows, groups)
    probabilities."""

    fit: Callable[[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, int], np.ndarray]
    on_manifold: bool = False  # needs `manifold(x)`


METHODS: dict[str, SpreadMethod] = {
    "both-graphs": SpreadMethod(_both_graphs, on_manifold=True),
    "umap-spreading": SpreadMethod(_manifold_graph, on_manifold=True),
    "spreading": SpreadMethod(_feature_graph),
    "logistic": SpreadMethod(_logistic),
}
DEFAULT_METHOD = "both-graphs"


# --------------------------------------------------------------------------- the spread


@dataclass(frozen=True, eq=False)
class Spread:
    """Every row's group (an index into `groups`, sorted by name) and how sure the model is of it."""

    rows: np.ndarray  # dataset rows, as the representation has them (every row, in order)
    groups: tuple[str, ...]
    group: np.ndarray
    confidence: np.ndarray  # the model's probability of the group given; 1 for a named row
    named: np.ndarray  # True where a person named the row

    def names(self, positions: np.ndarray | None = None) -> list[str]:
        picked = self.group if positions is None else self.group[positions]
        return [self.groups[g] for g in picked.tolist()]

    def least_confident_first(self, unnamed_only: bool = False) -> np.ndarray:
        """Positions (into `rows`), the most doubtful first; ties in row order."""
        order = np.lexsort((self.rows, self.confidence))
        return order[~self.named[order]] if unnamed_only else order

    def counts(self) -> dict[str, int]:
        """How many rows each group got (named ones included), in group order."""
        return {name: int(n) for name, n in zip(self.groups, np.bincount(self.group, minlength=len(self.groups)))}


def named_groups(examples: Mapping[int, str]) -> tuple[str, ...]:
    return tuple(sorted(set(examples.values())))


def check_examples(examples: Mapping[int, str], things: str = "rows") -> None:
    """ConfigError unless the examples name at least two groups (with one, nothing tells the rest apart)."""
    groups = named_groups(examples)
    if not groups:
        raise ConfigError(f"No {things} are named yet; name some {things} of at least two groups.")
    if len(groups) < 2:
        raise ConfigError(
            f"Every named {things[:-1]} is in one group ({groups[0]!r}); name {things} of at least two "
            "groups, so the rest can be told apart."
        )


def spread(
    x: np.ndarray,
    rows: np.ndarray,
    examples: Mapping[int, str],
    method: str = DEFAULT_METHOD,
    random_state: int = 0,
    on_manifold: np.ndarray | None = None,
) -> Spread:
    """The group of every row of `x` (row `rows[i]` of the data) from the examples (data row -> group name).

    `on_manifold`: `manifold(x, random_state)` when the caller has it (a run caches it), for the
    methods fitted there."""
    check_examples(examples)
    if method not in METHODS:
        raise ConfigError(f"Unknown way to spread names {method!r}; choose one of {', '.join(METHODS)}.")
    x = np.asarray(x, dtype=np.float32)
    rows = np.asarray(rows, dtype=np.int64)
    position = {int(r): i for i, r in enumerate(rows.tolist())}
    missing = [r for r in examples if int(r) not in position]
    if missing:
        raise ConfigError(f"Rows {missing[:SHOWN_UNKNOWN]} are named but not among the {len(rows)} rows spread over.")
    groups = named_groups(examples)
    index = {name: i for i, name in enumerate(groups)}
    named = np.asarray([position[int(r)] for r in examples], dtype=np.int64)
    labels = np.asarray([index[name] for name in examples.values()], dtype=np.int64)
    chosen = METHODS[method]
    z = None
    if chosen.on_manifold:
        z = manifold(x, random_state) if on_manifold is None else np.asarray(on_manifold, dtype=np.float32)
    proba = np.nan_to_num(np.asarray(chosen.fit(x, z, named, labels, random_state), dtype=np.float64))
    totals = proba.sum(axis=1, keepdims=True)
    proba = np.where(totals > 0, proba / np.where(totals > 0, totals, 1), 1.0 / len(groups))
    group = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    group[named], confidence[named] = labels, 1.0
    is_named = np.zeros(len(rows), dtype=bool)
    is_named[named] = True
    return Spread(rows, groups, group.astype(np.int64), confidence.astype(np.float32), is_named)


def nearest_examples(x: np.ndarray, result: Spread, positions: np.ndarray, k: int = REVIEW_EXAMPLES) -> np.ndarray:
    """For each position, the positions of its `k` nearest named rows (nearest first), in `x`'s space."""
    from sklearn.neighbors import NearestNeighbors

    named = np.flatnonzero(result.named)
    positions = np.asarray(positions, dtype=np.int64)
    if not len(positions) or not len(named):
        return np.zeros((len(positions), 0), dtype=np.int64)
    finder = NearestNeighbors(n_neighbors=min(k, len(named))).fit(np.asarray(x)[named])
    _, found = finder.kneighbors(np.asarray(x)[positions])
    return named[found]


def run_representation(trained: TrainedRun) -> np.ndarray:
    """What the run sorts by, for every row: the standardised backbone features, or the codes."""
    from core.evaluation import sorted_by
    from core.evaluation.run_evaluation import cluster_rows

    return cluster_rows(trained, "all", sorted_by(trained.config))


def run_manifold(trained: TrainedRun, x: np.ndarray, random_state: int = 0) -> np.ndarray:
    """`manifold` of the run's representation, cached in the run (the UMAP is the slow part)."""
    from core.run_cache import cached_array

    return cached_array(
        trained, "spread-manifold-all", lambda: manifold(x, random_state), random_state=random_state, n=len(x)
    )


def spread_run(trained: TrainedRun, examples: Mapping[int, str], random_state: int = 0) -> Spread:
    """`spread` over every row of a run, on what it sorts by (the manifold cached in the run)."""
    check_examples(examples)
    x = run_representation(trained)
    z = run_manifold(trained, x, random_state) if METHODS[DEFAULT_METHOD].on_manifold else None
    return spread(x, trained.splits.get("all"), examples, random_state=random_state, on_manifold=z)


def spread_table(dataset: Dataset, result: Spread) -> pd.DataFrame:
    """file (or row, for data without files), group, confidence: every row, least confident first."""
    order = result.least_confident_first()
    rows = result.rows[order]
    first = {"file": dataset.file_names(rows)} if dataset.files else {"row": rows}
    return pd.DataFrame(
        {**first, "group": result.names(order), "confidence": np.round(result.confidence[order].astype(float), 4)}
    )


# --------------------------------------------------------------------------- a names file


def read_examples(path: str | Path, dataset: Dataset) -> dict[int, str]:
    """The examples a CSV names: columns file,group (files named as in the dataset), or row,group for
    data without files (a table's rows by number, from 0). ConfigError naming every problem found."""
    path = Path(path).expanduser()
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"The names file {path} does not exist.") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:  # EmptyDataError is a ValueError
        raise ConfigError(f"The names file {path} could not be read as CSV ({' '.join(str(exc).split())}).") from None
    key = "file" if dataset.files else "row"
    columns = [str(c).strip().lower() for c in frame.columns]
    frame.columns = columns
    if not dataset.files and "file" in columns and "row" not in columns:
        raise ConfigError(
            f"{path} names files, but this run's data ({dataset.name}) has no files; name its rows by "
            "number instead, in columns row,group (rows count from 0)."
        )
    missing = [c for c in (key, "group") if c not in columns]
    if missing:
        raise ConfigError(
            f"{path} has no {' or '.join(repr(c) for c in missing)} column (it has {', '.join(columns) or 'none'}); "
            f"it needs the columns {key},group."
        )
    if frame.empty:
        raise ConfigError(f"{path} names no {key}s; give at least one {key} of each of two groups.")
    lines = np.arange(len(frame)) + 2  # the header is line 1
    groups = [clean_name(g) for g in frame["group"]]
    blank = [int(n) for n, g in zip(lines, groups) if not g]
    if blank:
        raise ConfigError(f"{path} leaves the group empty on line{_plural(blank)}; give every {key} a group name.")
    long = [int(n) for n, g in zip(lines, groups) if len(g) > MAX_NAME]
    if long:
        raise ConfigError(f"{path} has a group name longer than {MAX_NAME} characters on line{_plural(long)}.")
    rows = _file_rows(path, dataset, frame["file"]) if key == "file" else _number_rows(path, len(dataset), frame["row"])
    examples: dict[int, str] = {}
    first_line: dict[int, int] = {}
    for row, group, line, given in zip(rows, groups, lines.tolist(), frame[key]):
        if row in examples and examples[row] != group:
            raise ConfigError(
                f"{path} names {key} {given.strip()!r} twice with two groups ({examples[row]!r} on line "
                f"{first_line[row]}, {group!r} on line {line}); keep one."
            )
        examples.setdefault(row, group)
        first_line.setdefault(row, line)
    groups_named = named_groups(examples)
    if len(groups_named) < 2:
        raise ConfigError(
            f"{path} names only one group ({groups_named[0]!r}); name {key}s of at least two groups, so the "
            "rest can be told apart."
        )
    return examples


def _listed(items: list[str]) -> str:
    """'a, b, c' or, past SHOWN_UNKNOWN items, the first ones 'and 7 more'."""
    more = len(items) - SHOWN_UNKNOWN
    return ", ".join(items[:SHOWN_UNKNOWN]) + (f" and {more} more" if more > 0 else "")


def _plural(lines: list[int]) -> str:
    """'s 3, 7' or ' 3': the end of 'on line...'."""
    return ("s " if len(lines) > 1 else " ") + _listed([str(n) for n in lines])


def _file_rows(path: Path, dataset: Dataset, given: pd.Series) -> list[int]:
    """The dataset row of each file named; ConfigError listing the names not found."""
    everything = np.arange(len(dataset))
    row_of = {name: int(row) for name, row in zip(dataset.file_names(everything), everything.tolist())}
    wanted = [name.strip() for name in given]
    unknown = list(dict.fromkeys(name for name in wanted if name not in row_of))
    if unknown:
        example = next(iter(row_of), "")
        raise ConfigError(
            f"{path} names {len(unknown)} file{'s' if len(unknown) > 1 else ''} not in the run's data: "
            f"{_listed([repr(n) for n in unknown])} (files are named as in the dataset, e.g. {example!r})."
        )
    return [row_of[name] for name in wanted]


def _number_rows(path: Path, n_rows: int, given: pd.Series) -> list[int]:
    """Row numbers 0..n_rows-1; ConfigError naming the first line that is not one."""
    rows = []
    for line, value in enumerate(given, 2):
        value = value.strip()
        if not (value.isdigit() and int(value) < n_rows):
            raise ConfigError(f"{path} line {line}: {value!r} is not a row number from 0 to {n_rows - 1}.")
        rows.append(int(value))
    return rows
