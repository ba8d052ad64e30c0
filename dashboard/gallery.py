"""Photos for galleries: thumbnails from each row's original file, and rows grouped by cluster.

A folder dataset keeps every row's file. The model may have read the photo at 32 px (or only a
backbone's features of it), but a person sorting photos wants to see the photo itself, so
galleries read a thumbnail from the file; rows without a file (built-in sets, or a file that has
gone since) show the dataset's own pixels instead. numpy and PIL only, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

PHOTO_TILE = 112  # px: small enough for 8 in a row, big enough to tell one bird from another


def square(picture: Image.Image, size: int) -> np.ndarray:
    """uint8 (size, size, 3): a picture upright, centre-cropped to a square and resized."""
    picture = ImageOps.exif_transpose(picture).convert("RGB")
    return np.asarray(ImageOps.fit(picture, (size, size), Image.Resampling.BICUBIC), dtype=np.uint8)


def thumbnail(path: str, size: int) -> np.ndarray | None:
    """`square` of an image file; None if it cannot be read."""
    try:
        with Image.open(path) as img:
            img.draft("RGB", (size, size))  # JPEG: decode at a fraction of full size, much faster
            return square(img, size)
    except Exception:  # a file moved or damaged after loading: the caller falls back to the pixels
        return None


def row_pictures(dataset: Any, rows: Sequence[int] | np.ndarray, size: int = PHOTO_TILE) -> np.ndarray:
    """uint8 (N, H, W, C) pictures of dataset rows: file thumbnails where the rows have files.

    Rows without a readable file get the dataset's pixels, scaled to `size` so every tile matches.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if not dataset.files or not len(rows):
        return dataset.to_display(dataset.x[rows]) if len(rows) else np.zeros((0, size, size, 3), np.uint8)
    out = np.empty((len(rows), size, size, 3), dtype=np.uint8)
    unread = []
    for i, row in enumerate(rows.tolist()):
        picture = thumbnail(dataset.files[row], size)
        if picture is None:
            unread.append(i)
        else:
            out[i] = picture
    if unread:  # the pixels only of these: a folder's are read from disk (core.data.image_rows)
        for i, shown in zip(unread, dataset.to_display(dataset.x[rows[unread]]), strict=True):
            fallback = Image.fromarray(shown[..., 0] if shown.shape[-1] == 1 else shown).convert("RGB")
            out[i] = np.asarray(fallback.resize((size, size), Image.Resampling.NEAREST))
    return out


def file_captions(dataset: Any, rows: Sequence[int] | np.ndarray) -> list[str]:
    """Each row's file name (no folder: the tile is narrow and the gallery's heading names the group),
    or '#row' without files."""
    rows = np.asarray(rows, dtype=np.int64)
    if not dataset.files:
        return [f"#{int(r)}" for r in rows]
    return [Path(dataset.files[int(r)]).name for r in rows]


def cluster_groups(clusters: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(cluster id, positions of its members) per cluster, biggest first, noise (-1) last.

    Positions index `clusters`; a gallery shows the first few of each and says how many there are.
    """
    clusters = np.asarray(clusters)
    ids, counts = np.unique(clusters, return_counts=True)
    order = sorted(range(len(ids)), key=lambda i: (ids[i] < 0, -counts[i], ids[i]))
    return [(int(ids[i]), np.flatnonzero(clusters == ids[i])) for i in order]


def a_few(members: np.ndarray, count: int) -> np.ndarray:
    """`count` of `members` drawn at random (seeded, so a rerun shows the same ones), in their order.

    Not the first ones: folders and arrays are often sorted by class, so a cluster's first members are
    those of the first class that strayed into it. On the CIFAR-10 tuning images a gallery of the
    cluster that is 770 of 1,118 ships showed 16 aeroplanes."""
    members = np.asarray(members)
    if len(members) <= count:
        return members
    return np.sort(np.random.default_rng(0).choice(members, size=count, replace=False))


def label_mix(names: Sequence[str]) -> str:
    """'mostly Cardinal (9 of 10)', or 'all Cardinal' — how pure a cluster is, in words."""
    if not len(names):
        return ""
    values, counts = np.unique(np.asarray(names, dtype=object).astype(str), return_counts=True)
    top = int(np.argmax(counts))
    if counts[top] == len(names):
        return f"all {values[top]}"
    return f"mostly {values[top]} ({counts[top]} of {len(names)})"
