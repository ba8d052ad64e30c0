"""The one shape every source returns, and seeded splits; the spec that rebuilds it is core.config.DataSpec."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from core.config import DataSpec  # defined below core.data, so that core.runs need not import it
from core.data.image_rows import ImageRows

Kind = Literal["image", "table"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A whole dataset, in memory or (image folders) read from disk by row.

    Images: `x` float32 (N, C, H, W) scaled to [0, 1]; from a folder an ImageRows, indexed like
    the tensor (`x[rows]` is a tensor) but holding nothing until then. Tables: `x` float32 (N, D), standardised
    with `feature_mean` / `feature_std` so values can be shown in original units.
    `y` is int64 (N,) or None; `classes[i]` names label i. `notes` says what loading did
    (rows dropped, images resized, subsampled) in sentences a user can read. `files`, when the
    rows came from image files, names each row's file: the original is what a person wants to see
    and take home, and what a pretrained backbone reads at its own resolution.
    """

    name: str
    kind: Kind
    x: torch.Tensor | ImageRows
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

    def subset(self, index: np.ndarray | torch.Tensor) -> Dataset:
        index = torch.as_tensor(np.asarray(index), dtype=torch.long)
        files = tuple(self.files[i] for i in index.tolist()) if self.files else ()
        x = self.x.take(index) if isinstance(self.x, ImageRows) else self.x[index]
        return dataclasses.replace(self, x=x, y=None if self.y is None else self.y[index], files=files)

    def file_names(self, rows: np.ndarray | list[int]) -> list[str]:
        """Short names for rows (the file relative to its class folder's parent), or '' without files."""
        if not self.files:
            return [""] * len(rows)
        return [
            str(Path(*Path(self.files[i]).parts[-2:])) if self.y is not None else Path(self.files[i]).name
            for i in np.asarray(rows).tolist()
        ]

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
