"""The one shape every source returns, the spec that rebuilds it, and seeded splits."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

Kind = Literal["image", "table"]


@dataclass(frozen=True)
class DataSpec:
    """Everything needed to rebuild a Dataset: stored in each run's config as plain JSON.

    `path` is the data folder for torchvision sources (their cache), or the folder / zip / CSV /
    Parquet / npz file for `folder`, `table` and `npz`.
    """

    source: str = "digits"
    path: str | None = None
    max_samples: int | None = None
    image_size: int | None = None  # folder: resize to this square size; others: optional resize
    grayscale: bool | None = None  # folder: None = keep RGB unless every image is grayscale
    label_column: str | None = None  # table: name of the label column, if any
    missing: Literal["drop", "impute"] = "drop"  # table: what to do with NaN / inf rows
    bad_files: Literal["skip", "fail"] = "skip"  # folder: skip unreadable images (and say which), or stop at the first
    seed: int = 0  # drives the stratified subsample
    download: bool = True  # torchvision sources: try to download when files are absent

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DataSpec":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole dataset in memory.

    Images: `x` float32 (N, C, H, W) scaled to [0, 1]. Tables: `x` float32 (N, D), standardised
    with `feature_mean` / `feature_std` so values can be shown in original units.
    `y` is int64 (N,) or None; `classes[i]` names label i. `notes` says what loading did
    (rows dropped, images resized, subsampled) in sentences a user can read. `files`, when the
    rows came from image files, names each row's file: the original is what a person wants to see
    and take home, and what a pretrained backbone reads at its own resolution.
    """

    name: str
    kind: Kind
    x: torch.Tensor
    y: torch.Tensor | None = None
    classes: tuple[str, ...] = ()
    feature_names: tuple[str, ...] = ()
    feature_mean: np.ndarray | None = None
    feature_std: np.ndarray | None = None
    notes: tuple[str, ...] = ()
    spec: DataSpec = field(default_factory=DataSpec)
    files: tuple[str, ...] = ()  # folder source: the file each row was read from (galleries, exports, features)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x.shape[1:])

    @property
    def has_labels(self) -> bool:
        return self.y is not None

    def subset(self, index: np.ndarray | torch.Tensor) -> "Dataset":
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        files = tuple(self.files[i] for i in index.tolist()) if self.files else ()
        return dataclasses.replace(
            self, x=self.x[index], y=None if self.y is None else self.y[index], files=files
        )

    def file_names(self, rows: np.ndarray | list[int]) -> list[str]:
        """Short names for rows (the file relative to its class folder's parent), or '' without files."""
        if not self.files:
            return [""] * len(rows)
        return [str(Path(*Path(self.files[i]).parts[-2:])) if self.y is not None else Path(self.files[i]).name
                for i in np.asarray(rows).tolist()]

    def label_names(self, labels: np.ndarray | torch.Tensor | None = None) -> list[str]:
        """Class names for labels (default: this dataset's own), falling back to the number."""
        labels = self.y if labels is None else labels
        if labels is None:
            return []
        return [self.classes[i] if 0 <= i < len(self.classes) else str(i) for i in np.asarray(labels).tolist()]

    def to_display(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        """Model-space values back to what a person looks at.

        Images -> uint8 (N, H, W, C); tables -> float64 (N, D) in the original units.
        """
        values = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        if self.kind == "image":
            values = np.clip(values, 0.0, 1.0) * 255.0
            return np.round(values).astype(np.uint8).transpose(0, 2, 3, 1)
        values = values.astype(np.float64)
        if self.feature_std is not None and self.feature_mean is not None:
            values = values * self.feature_std + self.feature_mean
        return values


@dataclass(frozen=True)
class Splits:
    """Row indices of the train / validation / test parts of one Dataset."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def get(self, name: str) -> np.ndarray:
        """'train', 'val', 'test' or 'all' (every row, in order)."""
        if name == "all":
            return np.sort(np.concatenate([self.train, self.val, self.test]))
        if name not in ("train", "val", "test"):
            raise ValueError(f"Unknown split {name!r}; choose train, val, test or all.")
        return getattr(self, name)
