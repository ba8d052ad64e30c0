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


COPY_KINDS = ("resized", "recompressed", "cropped", "brightened")


def near_copies(picture, rng: np.random.Generator) -> dict[str, object]:
    """The ways a photo comes back into a folder: resized to 50-80%, re-compressed as a JPEG at
    quality 30-50, cropped by 5-10% of each side's length (at a random place), brightened by 20-40%.
    PIL images by COPY_KINDS; save them as JPEG."""
    import io

    from PIL import Image, ImageEnhance

    picture = picture.convert("RGB")
    w, h = picture.size
    scale = rng.uniform(0.5, 0.8)
    resized = picture.resize((max(8, round(w * scale)), max(8, round(h * scale))), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=int(rng.integers(30, 51)))
    recompressed = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    cut_w, cut_h = round(w * rng.uniform(0.05, 0.10)), round(h * rng.uniform(0.05, 0.10))
    left, top = int(rng.integers(0, cut_w + 1)), int(rng.integers(0, cut_h + 1))
    cropped = picture.crop((left, top, left + w - cut_w, top + h - cut_h))
    brightened = ImageEnhance.Brightness(picture).enhance(rng.uniform(1.2, 1.4))
    return dict(zip(COPY_KINDS, (resized, recompressed, cropped, brightened)))


def textured_photo(rng: np.random.Generator, size: int = 96):
    """A made-up photo that looks like no other: smooth random colour fields with a few sharp-edged
    shapes on top (edges, so a blurred copy measurably loses sharpness)."""
    from PIL import Image, ImageDraw

    ground = rng.integers(0, 256, (4, 4, 3)).astype(np.uint8)
    picture = Image.fromarray(ground).resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(picture)
    for _ in range(6):
        x, y = rng.integers(0, size, 2)
        r = int(rng.integers(size // 10, size // 4))
        box = (int(x) - r, int(y) - r, int(x) + r, int(y) + r)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    return picture


def write_planted_duplicates(folder: Path, distinct: int = 12) -> dict[str, set[str]]:
    """Distinct photos, four copies of 'a', a blurred and a resized copy of 'b': the planted groups by file name."""
    from PIL import ImageFilter

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    photos = {f"photo-{i}": textured_photo(rng, 128) for i in range(distinct)}
    for name, photo in photos.items():
        photo.save(folder / f"{name}.jpg", quality=92)
    planted = {"a": {"photo-0.jpg"}, "b": {"photo-1.jpg"}}
    for kind, copy in near_copies(photos["photo-0"], rng).items():
        copy.save(folder / f"photo-0-{kind}.jpg", quality=92)
        planted["a"].add(f"photo-0-{kind}.jpg")
    photos["photo-1"].filter(ImageFilter.GaussianBlur(1.2)).save(folder / "photo-1-blurred.jpg", quality=92)
    photos["photo-1"].resize((100, 100)).save(folder / "photo-1-small.jpg", quality=92)
    planted["b"] |= {"photo-1-blurred.jpg", "photo-1-small.jpg"}
    return planted


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
