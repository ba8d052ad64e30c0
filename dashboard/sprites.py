"""Sprite sheets for pictures on the map: every point's picture, tiled into a few image files.

The map carries only each point's position in the sheet (its customdata, which it has anyway) and
one small `layout.meta` entry naming the sheets; the browser fetches a sheet the first time a
point on it is hovered. That is the Projector's way, and it keeps the chart's payload the size of
a plain scatter: 70k thumbnails as data URLs inside one chart came to 690 MB.

Sheets are written under dashboard/static/sprites/ (Streamlit serves that folder at app/static/
with `server.enableStaticServing`), once per run version, split and tile size; a folder appears
whole or not at all. numpy and PIL only, no Streamlit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

STATIC = Path(__file__).resolve().parent / "static"
SPRITES = STATIC / "sprites"
URL = "app/static/sprites"  # relative to the page, so a server behind a base path works too
COLUMNS = 32  # tiles per sheet row: 1,024 tiles a sheet, 3,072 px square at 96 px photos
PER_SHEET = COLUMNS * COLUMNS
BATCH = 256  # pictures made at once: bounded memory for big photo folders
DISPLAY = 160  # px the hover card shows a picture at: big enough to tell one bird from another
KEEP = 24  # sets of sheets kept; older ones (retrained or deleted runs) are removed when a new one is drawn


def sprite_key(*parts: object) -> str:
    """A folder name for one set of sheets: changes whenever any part (run folder, checkpoint stamp,
    split, tile size) does, so a retrained run never shows stale pictures."""
    return hashlib.sha1(json.dumps([str(p) for p in parts]).encode()).hexdigest()[:16]


def write_sheets(
    pictures: Callable[[np.ndarray], np.ndarray],
    count: int,
    folder: Path,
    *,
    photo: bool,
    columns: int = COLUMNS,
    per_sheet: int = PER_SHEET,
) -> None:
    """Sheets of `count` pictures in order: sheet i holds positions [i * per_sheet, (i + 1) * per_sheet),
    row-major, `columns` to a row. `pictures(positions)` returns uint8 (n, H, W, C) with C 1 or 3.
    Photos are stored as JPEG (small), built-in images as PNG (exact pixels)."""
    folder.mkdir(parents=True, exist_ok=True)
    for sheet, start in enumerate(range(0, count, per_sheet)):
        positions = np.arange(start, min(start + per_sheet, count))
        canvas = None
        for lo in range(0, len(positions), BATCH):
            batch = np.asarray(pictures(positions[lo : lo + BATCH]), dtype=np.uint8)
            if canvas is None:
                h, w, c = batch.shape[1:]
                rows = -(-len(positions) // columns)
                canvas = np.full((rows * h, columns * w, c), 255, dtype=np.uint8)
            for j, picture in enumerate(batch, start=lo):
                r, col = divmod(j, columns)
                canvas[r * h : (r + 1) * h, col * w : (col + 1) * w] = picture
        image = Image.fromarray(canvas[..., 0] if canvas.shape[-1] == 1 else canvas)
        if photo:
            image.convert("RGB").save(folder / f"sheet-{sheet:03d}.jpg", quality=85)
        else:
            image.save(folder / f"sheet-{sheet:03d}.png", optimize=True)


def sprite_meta(key: str, count: int, tile: int, *, photo: bool, url: str = URL) -> dict:
    """What the browser needs to cut point i's picture from the sheets: the map's `layout.meta`
    entry. Known before the sheets exist, so the map need not wait for them."""
    return {
        "url": f"{url}/{key}/",
        "count": int(count),
        "tile": int(tile),
        "columns": COLUMNS,
        "per_sheet": PER_SHEET,
        "ext": "jpg" if photo else "png",
        "pixelated": tile < 64,
        "display": DISPLAY,
    }


def ensure_sprites(
    key: str,
    pictures: Callable[[np.ndarray], np.ndarray],
    count: int,
    *,
    photo: bool,
    root: Path = SPRITES,
    url: str = URL,
) -> dict:
    """The sheets for `key`, written now unless a finished set is there already; returns sprite_meta."""
    folder = root / key
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=root))
        try:
            write_sheets(pictures, count, scratch, photo=photo)
            tile = int(np.asarray(pictures(np.arange(1))).shape[1]) if count else 0
            (scratch / "manifest.json").write_text(json.dumps(sprite_meta(key, count, tile, photo=photo, url=url)))
            try:
                os.replace(scratch, folder)  # whole or not at all; a rival writer may have won the race
            except OSError:
                pass
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        prune(root, keep=KEEP)
    info = json.loads(manifest.read_text())
    return sprite_meta(key, info["count"], info["tile"], photo=info["ext"] == "jpg", url=url)


def prune(root: Path, keep: int = KEEP) -> None:
    """Remove all but the `keep` most recently written sets of sheets."""
    folders = sorted(
        (f for f in root.iterdir() if f.is_dir() and not f.name.startswith(".")),
        key=lambda f: f.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
