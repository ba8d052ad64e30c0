"""Near-duplicate photos (or rows) in groups, with the best shot of each group kept.

Photo folders fill up with one scene several times: a burst, a resized or re-compressed copy, a
crop, a brightened edit. Two cheap steps find them once the features are cached:

1. Candidates from the representation the run sorts by (core.evaluation.cluster_rows: standardised
   backbone features for a photo run, the codes otherwise): each row's nearest neighbours whose
   cosine distance is under THRESHOLD times the data's typical neighbour distance (the median
   distance to the SCALE_NEIGHBOUR-th neighbour). Relative, so one number serves features and
   codes of any scale. THRESHOLD and PIXEL_AGREEMENT were chosen on copies made of the birds
   (benchmarks/duplicates.py, seed 0: at 0.6 the features alone reach 595 of the 600 planted
   pairs among 765 candidates, at 0.7 all 600 among 1,156); the README gives seed 1's figures.
2. Confirmed on pixels where that is cheap: rows read from image files, or images held as a
   tensor. Two photos of one species in one pose can sit as close in the features as a copy does;
   their pixels do not. Small greyscale copies (PIXEL_SIDE px, slightly blurred, each standardised
   so that brightening and contrast cancel out) must correlate above PIXEL_AGREEMENT. A numpy
   correlation rather than a perceptual hash (imagehash): on the same candidates a 64-bit dHash
   put planted copies up to 18 bits apart and distinct photos from 10 (the crops again), while no
   planted pair correlated below 0.70 and 99% of the distinct ones stayed under 0.77; the small
   copies are needed anyway to rank the group, so a new dependency would buy nothing.
   Only the rows of candidate pairs are read, never the whole folder again.

Groups are the connected components of confirmed pairs (tables have no pixels: their groups stand
on step 1 alone). Each group is ranked and its best member kept: sharpness (variance of the
Laplacian over the picture's own variance, so brightening, which scales both, gains nothing),
exposure (clipped pixels, distance of the mean from mid-grey) and resolution, measured on the
group's pictures at one common size. Rows without pictures keep the first row of the data.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors

if TYPE_CHECKING:
    from core.data import Dataset
    from core.trained import TrainedRun

CANDIDATES = 8  # nearest neighbours looked at per row: a larger burst still joins up through chains
SCALE_NEIGHBOUR = 10  # the typical neighbour distance: the median distance to this neighbour
THRESHOLD = 0.6  # a candidate pair is closer than this times the typical neighbour distance
ROWS_THRESHOLD = 0.05  # the same without pixels to confirm on (tables): all but identical rows only
PIXEL_SIDE = 32  # px of the greyscale copies compared
PIXEL_AGREEMENT = 0.7  # correlation of those copies a confirmed pair reaches
WORK_SIDE = 256  # px: the longest side photos are read at to compare and rank them
CLIPPED = (2 / 255, 253 / 255)  # greys at or past these count as clipped


@dataclass(frozen=True)
class Picture:
    """A photo as the checks see it: greyscale in [0, 1] at most WORK_SIDE px, its full pixel count,
    and the small copy pairs are compared on (made once per photo)."""

    grey: np.ndarray
    pixels: int
    small: np.ndarray

    @classmethod
    def of(cls, grey: np.ndarray, pixels: int) -> Picture:
        return cls(grey, pixels, small_copy(grey))


@dataclass(frozen=True)
class DuplicateGroup:
    """Dataset rows showing one scene: the one kept, and the others, best first."""

    keep: int
    others: tuple[int, ...]

    @property
    def rows(self) -> tuple[int, ...]:
        return (self.keep, *self.others)

    def keeping(self, row: int) -> DuplicateGroup:
        """The same group with `row` kept instead (the others stay in rank order)."""
        if row == self.keep or row not in self.others:
            return self
        return DuplicateGroup(row, tuple(r for r in self.rows if r != row))


# --------------------------------------------------------------------------- candidates


def candidate_pairs(
    representation: np.ndarray, threshold: float = THRESHOLD, cosine: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(pairs (P, 2) of positions i < j, their distance relative to the typical neighbour distance).

    Cosine distance of the centred rows for pictures: brightening or a crop moves a photo's
    features along themselves more than across (on the birds, cosine put all 600 planted pairs
    among the candidates at 0.7 where euclidean found 1000 of 1196 neighbour links). Euclidean
    for table rows, where a row twice another is not its copy.
    """
    x = np.asarray(representation, dtype=np.float32)
    n = len(x)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.float32)
    if cosine:
        x = x - x.mean(0)
        x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    k = min(max(CANDIDATES, SCALE_NEIGHBOUR), n - 1)
    distances, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)
    if cosine:
        distances = distances**2 / 2  # euclidean distance of unit vectors -> cosine distance
    scale = float(np.median(distances[:, min(SCALE_NEIGHBOUR, k)]))
    relative = distances[:, 1 : CANDIDATES + 1] / max(scale, 1e-12)
    rows = np.repeat(np.arange(n), relative.shape[1])
    near = relative.ravel() < threshold
    a, b = rows[near], neighbours[:, 1 : CANDIDATES + 1].ravel()[near]
    pairs = np.stack([np.minimum(a, b), np.maximum(a, b)], axis=1)
    apart = pairs[:, 0] != pairs[:, 1]  # identical rows may list each other before themselves
    pairs, first = np.unique(pairs[apart], axis=0, return_index=True)
    return pairs.astype(np.int64), relative.ravel()[near][apart][first]


# --------------------------------------------------------------------------- pixels


def read_picture(path: str | Path) -> Picture | None:
    """A photo file as a Picture (JPEG decoded at a fraction of its size); None if it cannot be read."""
    try:
        with Image.open(path) as img:
            pixels = img.size[0] * img.size[1]
            img.draft("L", (WORK_SIDE, WORK_SIDE))
            picture = ImageOps.exif_transpose(img).convert("L")
            picture.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BILINEAR)
            return Picture.of(np.asarray(picture, dtype=np.float32) / 255, pixels)
    except Exception:  # a file moved or damaged since the features were read: never grouped
        return None


def array_picture(display: np.ndarray) -> Picture:
    """An image row held as uint8 (H, W, C) pixels (core.data's to_display) as a Picture."""
    grey = np.asarray(display, dtype=np.float32).mean(-1) / 255
    return Picture.of(grey, int(grey.size))


def small_copy(grey: np.ndarray) -> np.ndarray:
    """PIXEL_SIDE x PIXEL_SIDE, slightly blurred, zero mean and unit variance: what pairs are compared on."""
    small = np.asarray(
        Image.fromarray(grey).resize((PIXEL_SIDE, PIXEL_SIDE), Image.Resampling.BILINEAR), dtype=np.float32
    )
    small = ndimage.gaussian_filter(small, 1.0)
    return (small - small.mean()) / (small.std() + 1e-6)


def pixel_agreement(a: Picture, b: Picture) -> float:
    """Correlation of two pictures' small copies: about 1 for one scene, about 0 for unrelated ones."""
    return float(np.mean(a.small * b.small))


# --------------------------------------------------------------------------- quality


@dataclass(frozen=True)
class Quality:
    sharpness: float  # Laplacian variance over grey variance, at the group's common size
    exposure: float  # 1 - clipped share - distance of the mean grey from 0.5
    pixels: int


def quality(picture: Picture, side: int) -> Quality:
    """How good a shot is, measured with its longest side brought to `side` px."""
    grey = picture.grey
    if max(grey.shape) != side:
        scale = side / max(grey.shape)
        size = (max(1, round(grey.shape[1] * scale)), max(1, round(grey.shape[0] * scale)))
        grey = np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.LANCZOS), dtype=np.float32)
    sharpness = float(ndimage.laplace(grey).var() / (grey.var() + 1e-6))
    clipped = float(np.mean((grey <= CLIPPED[0]) | (grey >= CLIPPED[1])))
    return Quality(sharpness, 1 - clipped - abs(float(grey.mean()) - 0.5), picture.pixels)


def ranked(rows: Sequence[int], pictures: Sequence[Picture]) -> list[int]:
    """`rows` best first: sharpness and resolution each relative to the group's best, plus exposure.

    Equal weights: a blurred copy loses most of its sharpness, a resized one most of its pixels,
    a brightened one some exposure; each of these sinks below the original by itself.
    """
    side = min(max(p.grey.shape) for p in pictures)
    scores = [quality(p, side) for p in pictures]
    sharpest = max(q.sharpness for q in scores) or 1.0
    largest = max(q.pixels for q in scores) or 1
    total = [q.sharpness / sharpest + q.exposure + q.pixels / largest for q in scores]
    order = sorted(range(len(rows)), key=lambda i: (-total[i], rows[i]))
    return [int(rows[i]) for i in order]


# --------------------------------------------------------------------------- groups


def find_duplicates(
    representation: np.ndarray,
    rows: Sequence[int] | np.ndarray,
    picture: Callable[[int], Picture | None] | None = None,
    threshold: float | None = None,
    agreement: float = PIXEL_AGREEMENT,
) -> list[DuplicateGroup]:
    """Groups of near-duplicate rows, the kept row first, biggest group first.

    `representation[i]` describes dataset row `rows[i]`; `picture(row)` gives a row's Picture (None:
    unreadable), or leave it out for data without pixels (tables: then only all but identical rows,
    ROWS_THRESHOLD, as nothing confirms them). Pixels are read only for rows in candidate pairs, each once.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if threshold is None:
        threshold = THRESHOLD if picture is not None else ROWS_THRESHOLD
    pairs, _ = candidate_pairs(representation, threshold, cosine=picture is not None)
    read: dict[int, Picture | None] = {}

    def seen(position: int) -> Picture | None:
        if position not in read:
            read[position] = picture(int(rows[position])) if picture is not None else None
        return read[position]

    if picture is not None:
        confirmed = [
            (i, j)
            for i, j in pairs.tolist()
            if (a := seen(i)) is not None and (b := seen(j)) is not None and pixel_agreement(a, b) >= agreement
        ]
        pairs = np.asarray(confirmed, dtype=np.int64).reshape(-1, 2)
    return connected_groups(pairs, rows, seen if picture is not None else None)


def connected_groups(
    pairs: np.ndarray, rows: np.ndarray, picture: Callable[[int], Picture | None] | None
) -> list[DuplicateGroup]:
    """The connected components of `pairs` (positions into `rows`) of two or more, each ranked."""
    n = len(rows)
    if not len(pairs):
        return []
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, component = connected_components(graph, directed=False)
    members = np.unique(pairs)
    groups = []
    for label in np.unique(component[members]):
        positions = members[component[members] == label]
        if picture is None:
            order = sorted(int(r) for r in rows[positions])
        else:
            order = ranked(rows[positions].tolist(), [picture(int(p)) for p in positions])
        groups.append(DuplicateGroup(order[0], tuple(order[1:])))
    return sorted(groups, key=lambda g: (-len(g.rows), g.keep))


def with_keepers(groups: Iterable[DuplicateGroup], keepers: Iterable[int]) -> list[DuplicateGroup]:
    """The groups with the user's chosen rows kept where a group holds one (the first chosen, if several)."""
    chosen = list(dict.fromkeys(int(r) for r in keepers))
    out = []
    for group in groups:
        mine = [r for r in chosen if r in group.rows]
        out.append(group.keeping(mine[0]) if mine else group)
    return out


# --------------------------------------------------------------------------- a run's


def run_duplicates(trained: TrainedRun, chosen: bool = True) -> list[DuplicateGroup]:
    """The near-duplicate groups of every row of a run, kept row first: the user's choice where they
    made one (the run's sorting.json) when `chosen`, else the best by quality.

    From the representation the run sorts by, confirmed on the photos' files (or the dataset's
    pixels for images held as a tensor); cached in the run folder, so the page asks again for free.
    """
    from core.evaluation import sorted_by
    from core.evaluation.run_evaluation import cluster_rows
    from core.run_cache import cached_array

    def compute() -> np.ndarray:
        rows = np.asarray(trained.splits.get("all"), dtype=np.int64)
        groups = find_duplicates(cluster_rows(trained, "all", sorted_by(trained.config)), rows, row_pictures(trained))
        return groups_array(groups)

    groups = groups_from_array(
        cached_array(trained, "duplicates", compute, threshold=THRESHOLD, agreement=PIXEL_AGREEMENT, side=PIXEL_SIDE)
    )
    return with_keepers(groups, saved_keepers(trained.run.path, len(trained.dataset))) if chosen else groups


def row_pictures(trained: TrainedRun) -> Callable[[int], Picture | None] | None:
    """How to read a row's Picture: from its file, from the dataset's pixels, or None for tables."""
    dataset = trained.dataset
    if dataset.files:
        return lambda row: read_picture(dataset.files[row])
    if dataset.kind == "image":
        return lambda row: array_picture(dataset.to_display(dataset.x[row : row + 1])[0])
    return None


def groups_array(groups: Sequence[DuplicateGroup]) -> np.ndarray:
    """(M, 2) int64 of (row, group number), each group's rows kept row first: how the run caches them."""
    pairs = [(row, number) for number, group in enumerate(groups) for row in group.rows]
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


def groups_from_array(array: np.ndarray) -> list[DuplicateGroup]:
    groups: dict[int, list[int]] = {}
    for row, number in np.asarray(array, dtype=np.int64).reshape(-1, 2).tolist():
        groups.setdefault(number, []).append(row)
    return [DuplicateGroup(rows[0], tuple(rows[1:])) for _, rows in sorted(groups.items()) if len(rows) > 1]


def duplicate_rows(groups: Iterable[DuplicateGroup]) -> dict[int, int]:
    """Every row that is not kept -> the row kept in its place: what goes to `_duplicates/`."""
    return {other: group.keep for group in groups for other in group.others}


# --------------------------------------------------------------------------- the user's choice


def saved_keepers(run_path: str | Path, n_rows: int) -> tuple[int, ...]:
    """The rows the user chose to keep (the run's sorting.json); none without one or from a damaged one."""
    from core.sorting import read_sorting

    saved, _ = read_sorting(run_path, n_rows)
    return saved.keepers if saved is not None else ()


def save_keeper(
    run_path: str | Path, n_rows: int, group: DuplicateGroup, row: int, method: str, n_clusters: int
) -> None:
    """Keep `row` of `group` from now on: saved in the run's sorting (a new one on method and
    n_clusters when there is none, or a damaged one, as a cluster edit would)."""
    from core.sorting import read_sorting, save_sorting, start

    saved, _ = read_sorting(run_path, n_rows)
    save_sorting(run_path, (saved or start(method, n_clusters, n_rows)).keeping(group.rows, row))


def duplicate_names(dataset: Dataset, groups: Iterable[DuplicateGroup]) -> list[dict[str, Any]]:
    """[{"keep": FILE, "others": [FILE, ...]}, ...] with files named as in the dataset (row numbers without files)."""
    name: Callable[[Sequence[int]], list[Any]] = dataset.file_names if dataset.files else list
    return [{"keep": name([g.keep])[0], "others": name(list(g.others))} for g in groups]
