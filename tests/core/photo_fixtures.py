"""Photos for tests: real bird photos copied out of the tuning data in ../shared/data (never
checked in) where a checkout has it beside it, and made-up photos (seeded JPEGs of three kinds that
look apart) everywhere else, laid out the same way, so a clean clone without ../shared (CI) runs
every test but the one that needs real birds."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

BIRDS_ZIP = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "birds-10-species.zip"


def birds_zip() -> Path:
    """The shared bird photos, for the one test that must see real birds; skipped without them."""
    if not BIRDS_ZIP.is_file():
        pytest.skip(f"real bird photos are needed and not at {BIRDS_ZIP} (../shared/data beside the checkout)")
    return BIRDS_ZIP


def write_bird_folder(
    root: Path, species: int = 3, per_species: int = 4, labelled: bool = True
) -> dict[str, list[str]]:
    """`per_species` photos of the first `species` species: root/<Species>/<id>.jpg, or flat as
    root/<Species>-<id>.jpg. Real birds where ../shared/data has them, made-up photos otherwise."""
    if not BIRDS_ZIP.is_file():
        return _write_made_up_species(root, species, per_species, labelled)
    written: dict[str, list[str]] = {}
    with zipfile.ZipFile(BIRDS_ZIP) as archive:
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


def _write_made_up_species(root: Path, species: int, per_species: int, labelled: bool) -> dict[str, list[str]]:
    """write_bird_folder's layout (ids 0000.jpg, 0001.jpg, ... in every species) with made-up photos."""
    if species > len(GENERATED_KINDS):
        raise ValueError(f"only {len(GENERATED_KINDS)} made-up kinds; put the real birds in {BIRDS_ZIP.parent}")
    rng = np.random.default_rng(0)
    written: dict[str, list[str]] = {}
    for kind in GENERATED_KINDS[:species]:
        name = kind.capitalize()
        for i in range(per_species):
            target = root / name / f"{i:04d}.jpg" if labelled else root / f"{name}-{i:04d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            made_up_photo(kind, rng, size=96).save(target, quality=90)
            written.setdefault(name, []).append(str(target))
    return written


GENERATED_KINDS = ("circle", "square", "stripes")


def made_up_photo(kind: str, rng: np.random.Generator, size: int = 48):
    """One RGB picture of `kind` (a red disc, a blue square or green stripes) on a light ground, with noise."""
    from PIL import Image, ImageDraw

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
    return Image.fromarray(np.clip(np.asarray(picture, dtype=np.int64) + noise, 0, 255).astype(np.uint8))


def write_generated_photos(
    root: Path, per_kind: int = 5, labelled: bool = True, size: int = 48, seed: int = 0
) -> list[Path]:
    """Small made-up photos (JPEG) of three kinds that look apart, for tests that need no real
    photos: root/<kind>/<kind>-00.jpg, or flat."""
    rng = np.random.default_rng(seed)
    written = []
    for kind in GENERATED_KINDS:
        for i in range(per_kind):
            target = root / kind / f"{kind}-{i:02d}.jpg" if labelled else root / f"{kind}-{i:02d}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            made_up_photo(kind, rng, size).save(target, quality=90)
            written.append(target)
    return written


def write_photos_with_odd_ones(root: Path, per_kind: int = 6) -> list[Path]:
    """write_generated_photos (labelled, 64 px) plus a photo of a receipt planted among the squares
    (square/receipt.jpg, the odd one out) and a disc filed under stripes (stripes/filed-wrong.jpg, a mislabel)."""
    from PIL import ImageDraw

    written = write_generated_photos(root, per_kind=per_kind, size=64)
    receipt = made_up_photo("square", np.random.default_rng(9), 64).point(lambda _: 255)
    draw = ImageDraw.Draw(receipt)
    for line in range(6):
        draw.text((4, 4 + 10 * line), "TOTAL 12.50 EUR", fill=(0, 0, 0))
    receipt.save(root / "square" / "receipt.jpg", quality=90)
    made_up_photo("circle", np.random.default_rng(7), 64).save(root / "stripes" / "filed-wrong.jpg", quality=90)
    return [*written, root / "square" / "receipt.jpg", root / "stripes" / "filed-wrong.jpg"]
