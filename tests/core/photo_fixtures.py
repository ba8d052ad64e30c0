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
