"""A run's sorting: the clustering a person started from, plus their edits to it.

Sorting photos is a clustering and then a person's corrections: this cluster is 'sparrows', these
two are one, these five photos belong over there. The edits are the person's work, so they live in
the run folder itself (sorting.json, not cache/, which may be cleared at any time), written
atomically; the dashboard writes them and `latentboard export` applies them.

Edits are an ordered list replayed on the clustering of every row ('all' split): a merge relabels
one cluster as another, a move puts dataset rows into a cluster (a new one too). Replaying the same
list on the same (seeded) clustering always gives the same grouping. Names belong to the clusters
as they are after the edits. Keepers are the rows a person chose to keep among their near-duplicates
(core.duplicates), whatever the clustering; a file without them (older ones) keeps none.

Named examples (`examples`: dataset row -> group name, core.spread) are the other way to sort: a
person names a few rows and the rest follow. With two or more groups named they decide the export
(core.export), whatever the clustering; the field is optional on disk, so older files still read.

A file that is damaged, from another version or out of range for the run's data is reported and
ignored (`read_sorting` returns the problem instead of raising): the export then uses the clustering
unedited, and the next edit starts over.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import atomic_write_bytes
from core.checksums import Verdict, opened_json, sealed_json
from core.methods import CLUSTER_METHODS

SORTING_FILE = "sorting.json"
VERSION = 1
SPLIT = "all"  # edits name dataset rows and the clusters of every row, the ones exports use
MAX_CLUSTER = 9999  # cluster ids an edit may name (-1 is HDBSCAN's noise)
MAX_NAME = 100  # characters in a cluster's name
MAX_EDITS = 10_000


def clean_name(name: str) -> str:
    """A name as kept: runs of spaces (and newlines) made one, ends trimmed."""
    return " ".join(str(name).split())


@dataclass(frozen=True)
class Merge:
    source: int
    target: int


@dataclass(frozen=True)
class Move:
    rows: tuple[int, ...]
    target: int


@dataclass(frozen=True)
class Sorting:
    """The clustering (method, k, seed, over how many rows) and the edits on top of it."""

    method: str
    n_clusters: int
    n_rows: int
    seed: int = 0
    edits: tuple[Merge | Move, ...] = ()
    names: Mapping[int, str] = field(default_factory=dict)
    keepers: tuple[int, ...] = ()  # rows chosen to keep, one per group of near-duplicates
    examples: Mapping[int, str] = field(default_factory=dict)  # dataset row -> the group a person named it

    def matches(self, method: str, n_clusters: int, seed: int = 0) -> bool:
        return (self.method, self.n_clusters, self.seed) == (method, int(n_clusters), seed)

    @property
    def edited(self) -> bool:
        return bool(self.edits or self.names)

    @property
    def spreads(self) -> bool:
        """Two or more groups are named: the names spread to every row (core.spread) and decide the export."""
        return len(set(self.examples.values())) >= 2

    def named(self, rows: np.ndarray | list[int], group: str) -> Sorting:
        """These dataset rows are examples of `group` (blank: no longer examples of anything)."""
        group = clean_name(group)[:MAX_NAME]
        examples = dict(self.examples)
        for row in np.asarray(rows, dtype=np.int64).tolist():
            if group:
                examples[row] = group
            else:
                examples.pop(row, None)
        return dataclasses.replace(self, examples=dict(sorted(examples.items())))

    def unnamed(self) -> Sorting:
        """Every named example forgotten; the cluster edits stay."""
        return dataclasses.replace(self, examples={})

    def apply(self, clusters: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """The edited cluster of each row: `clusters[i]` is row `rows[i]`'s cluster before the edits."""
        out = np.asarray(clusters, dtype=np.int64).copy()
        rows = np.asarray(rows, dtype=np.int64)
        position = np.full(max(self.n_rows, int(rows.max(initial=-1)) + 1), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        for edit in self.edits:
            if isinstance(edit, Merge):
                out[out == edit.source] = edit.target
            else:
                at = position[np.asarray(edit.rows, dtype=np.int64)]
                out[at[at >= 0]] = edit.target
        return out

    def renamed(self, cluster: int, name: str) -> Sorting:
        """This cluster called `name` (blank: back to its number)."""
        names = dict(self.names)
        name = clean_name(name)[:MAX_NAME]
        if name:
            names[int(cluster)] = name
        else:
            names.pop(int(cluster), None)
        return dataclasses.replace(self, names=names)

    def merged(self, source: int, target: int) -> Sorting:
        """Every row of `source` into `target`; `target` keeps its name, or takes `source`'s if it had none."""
        source, target = int(source), int(target)
        if source == target:
            return self
        names = dict(self.names)
        moved_name = names.pop(source, None)
        if moved_name and target not in names:
            names[target] = moved_name
        return dataclasses.replace(self, edits=self.edits + (Merge(source, target),), names=names)

    def moved(self, rows: np.ndarray | list[int], target: int) -> Sorting:
        """These dataset rows into `target` (an existing cluster, or `new_cluster(...)` for a new one)."""
        rows = tuple(sorted({int(r) for r in np.asarray(rows, dtype=np.int64).tolist()}))
        if not rows:
            return self
        return dataclasses.replace(self, edits=self.edits + (Move(rows, int(target)),))

    def keeping(self, group: Iterable[int], row: int) -> Sorting:
        """`row` kept among its near-duplicates `group`, in place of any row of it chosen before."""
        group = {int(r) for r in group}
        return dataclasses.replace(self, keepers=(*(r for r in self.keepers if r not in group), int(row)))

    def to_dict(self) -> dict[str, Any]:
        edits = [
            {"merge": e.source, "into": e.target} if isinstance(e, Merge) else {"move": list(e.rows), "into": e.target}
            for e in self.edits
        ]
        return {
            "version": VERSION,
            "method": self.method,
            "n_clusters": self.n_clusters,
            "seed": self.seed,
            "split": SPLIT,
            "n_rows": self.n_rows,
            "edits": edits,
            "names": {str(c): n for c, n in sorted(self.names.items())},
            **({"keepers": list(self.keepers)} if self.keepers else {}),
            "examples": {str(r): g for r, g in sorted(self.examples.items())},
        }


def new_cluster(clusters: np.ndarray) -> int:
    """The id a new cluster gets: one past the largest there is (noise, -1, aside)."""
    return int(np.asarray(clusters).max(initial=-1)) + 1


def start(method: str, n_clusters: int, n_rows: int, seed: int = 0) -> Sorting:
    return Sorting(method=method, n_clusters=int(n_clusters), n_rows=int(n_rows), seed=seed)


# --------------------------------------------------------------------------- on disk


def sorting_path(run_path: str | Path) -> Path:
    return Path(run_path) / SORTING_FILE


def save_sorting(run_path: str | Path, sorting: Sorting) -> Path:
    path = sorting_path(run_path)
    atomic_write_bytes(path, sealed_json(sorting.to_dict()))
    return path


def clear_sorting(run_path: str | Path) -> bool:
    """Undo every edit: the file goes; True if there was one."""
    try:
        sorting_path(run_path).unlink()
        return True
    except FileNotFoundError:
        return False


def read_sorting(run_path: str | Path, n_rows: int) -> tuple[Sorting | None, str | None]:
    """(the saved sorting, None), (None, None) without one, or (None, what is wrong with the file).

    Never raises for a bad file: a person's edits are worth a warning, not a page that will not open.
    """
    path = sorting_path(run_path)
    try:
        obj, verdict = opened_json(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as exc:
        return None, f"{path} could not be read ({' '.join(str(exc).split())})"
    if verdict is Verdict.MISMATCH:
        return None, f"{path} is damaged: it does not match its checksum (it changed on disk after it was saved)"
    problem = sorting_problem(obj, n_rows)
    if problem:
        return None, f"{path} is damaged: {problem}"
    return from_dict(obj), None


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def sorting_problem(obj: Any, n_rows: int) -> str | None:
    """The first thing wrong with a sorting.json read back (types, versions, rows out of range), or None."""
    if not isinstance(obj, Mapping):
        return f"it holds a {type(obj).__name__}, not an object"
    if obj.get("version") != VERSION:
        return f"its version is {obj.get('version')!r}, not {VERSION}"
    if obj.get("method") not in CLUSTER_METHODS:
        return f"its clustering method {obj.get('method')!r} is not one of {', '.join(CLUSTER_METHODS)}"
    if not _whole(obj.get("n_clusters"), 1, MAX_CLUSTER):
        return f"its number of clusters {obj.get('n_clusters')!r} is not a whole number from 1 to {MAX_CLUSTER}"
    if not _whole(obj.get("seed"), 0, 2**32 - 1):
        return f"its seed {obj.get('seed')!r} is not a whole number of 0 or more"
    if obj.get("split") != SPLIT:
        return f"its split is {obj.get('split')!r}, not {SPLIT!r}"
    if obj.get("n_rows") != n_rows:
        return f"it was made for {obj.get('n_rows')!r} rows, but the run's data has {n_rows} (did the data change?)"
    edits = obj.get("edits")
    if not isinstance(edits, list) or len(edits) > MAX_EDITS:
        return f"its edits should be a list of at most {MAX_EDITS}"
    for i, edit in enumerate(edits, 1):
        problem = _edit_problem(edit, n_rows)
        if problem:
            return f"edit {i} {problem}"
    names = obj.get("names")
    if not isinstance(names, Mapping):
        return "its names should be an object of cluster -> name"
    for key, name in names.items():
        if not (isinstance(key, str) and key.lstrip("-").isdigit() and -1 <= int(key) <= MAX_CLUSTER):
            return f"it names cluster {key!r}, not a cluster number from -1 to {MAX_CLUSTER}"
        if not (isinstance(name, str) and 0 < len(name) <= MAX_NAME):
            return f"cluster {key}'s name should be text of 1 to {MAX_NAME} characters, not {name!r}"
    return _keepers_problem(obj.get("keepers", []), n_rows) or _examples_problem(obj.get("examples", {}), n_rows)


def _keepers_problem(keepers: Any, n_rows: int) -> str | None:
    if not (isinstance(keepers, list) and all(_whole(r, 0, 2**62) for r in keepers)):
        return "its keepers should be a list of row numbers"
    if len(set(keepers)) != len(keepers):
        return "it names a row among the keepers twice"
    if keepers and max(keepers) >= n_rows:
        return f"it keeps row {max(keepers)}, but the run's data has {n_rows} rows"
    return None


def _examples_problem(examples: Any, n_rows: int) -> str | None:
    if not isinstance(examples, Mapping):
        return "its examples should be an object of row -> group name"
    for key, group in examples.items():
        if not (isinstance(key, str) and key.isdigit() and int(key) < n_rows):
            return f"it names row {key!r} as an example, not a row number from 0 to {n_rows - 1}"
        if not (isinstance(group, str) and 0 < len(group) <= MAX_NAME and group == clean_name(group)):
            return f"row {key}'s group should be text of 1 to {MAX_NAME} characters, not {group!r}"
    return None


def _edit_problem(edit: Any, n_rows: int) -> str | None:
    if not isinstance(edit, Mapping) or set(edit) not in ({"merge", "into"}, {"move", "into"}):
        return "should be {merge: cluster, into: cluster} or {move: [rows], into: cluster}"
    if not _whole(edit["into"], 0, MAX_CLUSTER):
        return f"moves into cluster {edit['into']!r}, not a number from 0 to {MAX_CLUSTER}"
    if "merge" in edit:
        return (
            None
            if _whole(edit["merge"], -1, MAX_CLUSTER)
            else f"merges cluster {edit['merge']!r}, not a number from -1 to {MAX_CLUSTER}"
        )
    rows = edit["move"]
    if not (isinstance(rows, list) and rows and all(_whole(r, 0, 2**62) for r in rows)):
        return "should move a non-empty list of row numbers"
    if max(rows) >= n_rows:
        return f"moves row {max(rows)}, but the run's data has {n_rows} rows"
    return None


def from_dict(obj: Mapping[str, Any]) -> Sorting:
    """A Sorting from a dict that passed `sorting_problem`."""
    edits = tuple(
        Merge(e["merge"], e["into"]) if "merge" in e else Move(tuple(sorted(set(e["move"]))), e["into"])
        for e in obj["edits"]
    )
    return Sorting(
        method=obj["method"],
        n_clusters=obj["n_clusters"],
        n_rows=obj["n_rows"],
        seed=obj["seed"],
        edits=edits,
        names={int(k): v for k, v in obj["names"].items()},
        keepers=tuple(obj.get("keepers", ())),
        examples={int(k): v for k, v in sorted(obj.get("examples", {}).items(), key=lambda kv: int(kv[0]))},
    )
