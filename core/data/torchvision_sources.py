"""MNIST, Fashion-MNIST, KMNIST and CIFAR-10 through torchvision's own dataset classes.

The train and test parts are joined into one dataset (Latentboard makes its own splits). Pixels
come from the classes' `.data` / `.targets` in one go, not per-sample `__getitem__`, so all 70,000
MNIST images load in about a second. When the files are absent and cannot be downloaded, the
error says which files to put in which folder, so an offline classroom can copy them in by hand.
torchvision is imported on first use: it adds over a second to every start otherwise.
"""

from __future__ import annotations

import gzip
import os
import pickle
import shutil
import tarfile
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np
import torch

from core.data.common import data_root
from core.data.dataset import Dataset, DataSpec
from core.errors import DataError

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch", "batches.meta")

# What torchvision raises for absent, truncated or garbled files and failed downloads
# (URLError is an OSError; its IDX parser uses asserts; CIFAR batches are pickles).
_LOAD_ERRORS = (
    RuntimeError,
    OSError,
    ValueError,
    TypeError,
    AssertionError,
    EOFError,
    KeyError,
    pickle.UnpicklingError,
)


def _reason(error: Exception) -> str:
    """One line of what went wrong; torchvision's download errors put the cause on the last line."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    text = lines[0] if len(lines) == 1 else f"{lines[0]} {lines[-1]}"
    return text if len(text) <= 240 else text[:237] + "..."


def _missing(folder: Path, names: tuple[str, ...]) -> list[str]:
    return [name for name in names if not (folder / name).is_file()]


def _open_parts(
    make: Callable[[bool, bool], object], label: str, missing: list[str], spec: DataSpec, how_to: str
) -> list:
    """Build the (train, test) torchvision datasets with `make(train, download)`; failures become DataErrors."""
    if missing and not spec.download:
        raise DataError(f"{label} files not found. {how_to} Or allow downloading (needs internet).")
    try:
        return [make(True, bool(missing)), make(False, bool(missing))]  # download only what is absent
    except _LOAD_ERRORS as error:
        if missing:
            raise DataError(f"{label} files not found and downloading failed ({_reason(error)}). {how_to}") from None
        raise DataError(f"Could not read the {label} files: {_reason(error)}. {how_to}") from None


# --- MNIST family ---------------------------------------------------------------------------


def _gunzip_placed_files(raw: Path) -> None:
    """torchvision reads the unpacked IDX files; a user may have copied in the .gz ones."""
    for name in _missing(raw, MNIST_FILES):
        packed = raw / f"{name}.gz"
        if packed.is_file():
            staging = raw / f".{name}.partial"
            try:
                with gzip.open(packed, "rb") as source, staging.open("wb") as target:
                    shutil.copyfileobj(source, target)
            except (OSError, EOFError) as error:
                staging.unlink(missing_ok=True)
                raise DataError(f"Could not unpack '{packed}': {_reason(error)}. Replace it with a copy.") from None
            os.replace(staging, raw / name)


def load_mnist_family(class_name: str, spec: DataSpec) -> Dataset:
    """torchvision's MNIST or a look-alike ("FashionMNIST", "KMNIST"): 28x28 grayscale, 10 classes."""
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, class_name)
    root = data_root(spec)
    label = class_name
    raw = root / label / "raw"
    if raw.is_dir():
        _gunzip_placed_files(raw)
    how_to = f"Put these 4 files (each may be .gz) in {raw}/: {', '.join(MNIST_FILES)}."
    parts = _open_parts(
        lambda train, download: dataset_class(str(root), train=train, download=download),
        label,
        _missing(raw, MNIST_FILES),
        spec,
        how_to,
    )
    if any(len(p.data) != len(p.targets) for p in parts):
        raise DataError(f"The {label} image and label files in {raw} hold different numbers of items. {how_to}")
    return Dataset(
        name=spec.source,
        kind="image",
        x=torch.cat([p.data for p in parts]).unsqueeze(1).float().div_(255.0),
        y=torch.cat([p.targets for p in parts]).long(),
        classes=tuple(parts[0].classes),
        notes=(f"Joined {len(parts[0])} train and {len(parts[1])} test images of torchvision's {label}.",),
    )


# --- CIFAR-10 -------------------------------------------------------------------------------


@cache
def _cifar10_as_placed() -> type:
    """CIFAR10 that reads the files that are there without checking their MD5 against the release.

    torchvision checks CIFAR's checksums (but not MNIST's); a re-packed copy, or a test's tiny
    stand-in, should still load, with a note saying it differs from the official files.
    """
    from torchvision.datasets import CIFAR10

    class CIFAR10AsPlaced(CIFAR10):
        train_list = [[name, None] for name, _ in CIFAR10.train_list]
        test_list = [[name, None] for name, _ in CIFAR10.test_list]
        meta = {**CIFAR10.meta, "md5": None}

    return CIFAR10AsPlaced


def _unpack_placed_archive(root: Path, folder: Path, archive_name: str) -> None:
    """torchvision unpacks the CIFAR archive only after downloading it; a user may have copied it in."""
    archive = root / archive_name
    if not _missing(folder, CIFAR_FILES) or not archive.is_file():
        return
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}  # refuses links and paths outside root
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(root, **safe)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DataError(f"Could not unpack '{archive}': {_reason(error)}. Replace it with a fresh copy.") from None


def load_cifar10(spec: DataSpec) -> Dataset:
    """CIFAR-10: 60,000 32x32 colour images of 10 classes."""
    from torchvision.datasets import CIFAR10

    root = data_root(spec)
    folder = root / CIFAR10.base_folder
    _unpack_placed_archive(root, folder, CIFAR10.filename)
    how_to = f"Put {', '.join(CIFAR_FILES)} in {folder}/, or the archive {CIFAR10.filename} in {root}/."
    missing = _missing(folder, CIFAR_FILES)
    try:
        parts = _open_parts(
            lambda train, download: CIFAR10(str(root), train=train, download=download),
            "CIFAR-10",
            missing,
            spec,
            how_to,
        )
        notes = []
    except DataError:
        if missing:
            raise
        # Every file is there, so torchvision refused their checksums (or could not read them).
        parts = _open_parts(lambda train, _: _cifar10_as_placed()(str(root), train=train), "CIFAR-10", [], spec, how_to)
        notes = ["These CIFAR-10 files differ from the official release (checksum mismatch); loaded as they are."]
    pixels = np.concatenate([p.data for p in parts])  # (N, 32, 32, 3) uint8
    return Dataset(
        name=spec.source,
        kind="image",
        x=torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div_(255.0).contiguous(),
        y=torch.tensor([t for p in parts for t in p.targets], dtype=torch.long),
        classes=tuple(parts[0].classes),
        notes=(f"Joined {len(parts[0])} train and {len(parts[1])} test images of torchvision's CIFAR10.", *notes),
    )
