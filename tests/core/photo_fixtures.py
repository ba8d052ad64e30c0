"""Real bird photos for tests, copied out of the tuning data in ../shared/data (never checked in)."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

BIRDS_ZIP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "birds-10-species.zip"


def birds_zip() -> Path:
    """The shared bird photos; under CI their absence is a failure, elsewhere a skip."""
    if not BIRDS_ZIP.is_file():
        message = f"the bird photos are not at {BIRDS_ZIP}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return BIRDS_ZIP


def write_bird_folder(root: Path, species: int = 3, per_species: int = 4, labelled: bool = True) -> dict[str, list[str]]:
    """`per_species` photos of the first `species` species: root/<Species>/<id>.jpg, or flat."""
    written: dict[str, list[str]] = {}
    with zipfile.ZipFile(birds_zip()) as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg"))
        by_species: dict[str, list[str]] = {}
        for name in names:
            by_species.setdefault(Path(name).parent.name, []).append(name)
        for bird in sorted(by_species)[:species]:
            for name in by_species[bird][:per_species]:
                target = root / bird / Path(name).name if labelled else root / f"{bird}-{Path(name).name}"
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(name))
                written.setdefault(bird, []).append(str(target))
    return written


GENERATED_KINDS = ("circle", "square", "stripes")


def write_generated_photos(root: Path, per_kind: int = 5, labelled: bool = True, size: int = 48,
                           seed: int = 0) -> list[Path]:
    """Small made-up photos (JPEG) of three kinds that look apart (a red disc, a blue square, green
    stripes) with seeded noise, for tests that need no real photos: root/<kind>/<kind>-00.jpg, or flat."""
    from PIL import Image, ImageDraw
    import numpy as np

    rng = np.random.default_rng(seed)
    written = []
    for kind in GENERATED_KINDS:
        for i in range(per_kind):
            picture = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(200, 256, 3)))
            draw = ImageDraw.Draw(picture)
            a, b = int(rng.integers(4, 12)), int(rng.integers(size - 12, size - 4))
            if kind == "circle":
                draw.ellipse((a, a, b, b), fill=(220, int(rng.integers(0, 60)), 30))
            elif kind == "square":
                draw.rectangle((a, a, b, b), fill=(30, int(rng.integers(0, 60)), 220))
            else:
                for x in range(0, size, 8):
                    draw.rectangle((x, 0, x + 3, size), fill=(30, 200, int(rng.integers(0, 60))))
            noise = rng.integers(-12, 13, (size, size, 3))
            picture = Image.fromarray(np.clip(np.asarray(picture, dtype=np.int64) + noise, 0, 255).astype(np.uint8))
            target = root / kind / f"{kind}-{i:02d}.jpg" if labelled else root / f"{kind}-{i:02d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            picture.save(target, quality=90)
            written.append(target)
    return written
