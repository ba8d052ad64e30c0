"""A folder's images as `Dataset.x` without holding them: float rows read from a uint8 file on demand.

100,000 photos at 96 px are 11 GB as float32 but 2.8 GB as uint8, and a run on photos needs their
pixels only for the backbone (which reads the original files), galleries, thumbnails and a few
reconstructions. So the decoded small copies stay on disk (core.data.pixel_cache) and indexing
reads just the rows asked for, with plain reads rather than a memory map: pages a map touched
would count as the process's own memory until it is closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import torch

from core.errors import DataError

Channels = Literal["rgb", "gray", "luma"]  # as stored; the first channel of gray files; ITU-R 601 luma
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # what PIL's convert("L") uses
_CHUNK = 2048  # rows read at a time by whole-array reductions


class ImageRows:
    """float32 (N, C, S, S) images in [0, 1], read from a uint8 (M, S, S, 3) .npy when indexed.

    Indexing (`x[rows]`, `x[a:b]`, `x[i]`) gives torch tensors exactly as the in-memory tensor
    gave them. `take(rows)` is a subset that reads nothing. A torch function given an ImageRows
    (torch.equal, F.interpolate) reads every row first: correct, but whole, so the code paths that
    run at a library's size index in batches instead.
    """

    def __init__(
        self,
        path: str | Path,
        channels: Channels = "rgb",
        rows: np.ndarray | None = None,
        value_range: tuple[float, float] | None = None,
    ) -> None:
        self.path = Path(path)
        self.channels = channels
        self._range = value_range  # of every stored row, found while decoding: min() and max() read nothing
        try:
            stored = np.load(self.path, mmap_mode="r")
        except (OSError, ValueError) as error:
            raise DataError(
                f"The decoded images in {self.path} cannot be read ({error}); load the dataset again."
            ) from None
        if stored.dtype != np.uint8 or stored.ndim != 4 or stored.shape[-1] != 3:
            raise DataError(f"{self.path} does not hold decoded images (uint8 N x S x S x 3); load the dataset again.")
        self._stored = int(stored.shape[0])
        self._side = int(stored.shape[1])
        self._offset = int(stored.offset)
        del stored  # unmapped: rows are read with plain reads
        self.rows = np.arange(self._stored) if rows is None else np.asarray(rows, dtype=np.int64)

    # --- what torch.Tensor callers look at ------------------------------------------------------

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self.rows), 3 if self.channels == "rgb" else 1, self._side, self._side))

    dtype = torch.float32
    device = torch.device("cpu")

    def __len__(self) -> int:
        return len(self.rows)

    def dim(self) -> int:
        return 4

    def size(self, dim: int | None = None) -> torch.Size | int:
        return self.shape if dim is None else self.shape[dim]

    def __getitem__(self, key: object) -> torch.Tensor:
        rest = ()
        if isinstance(key, tuple):  # x[rows, channel, ...]: the rows read, the rest as a tensor's
            key, rest = key[0], key[1:]
        if isinstance(key, torch.Tensor):
            key = key.cpu().numpy()
        picked = self.rows[key]
        x = self._read(np.asarray([picked]))[0] if np.ndim(picked) == 0 else self._read(picked)
        return x[(slice(None), *rest) if np.ndim(picked) else rest] if rest else x

    def take(self, index: np.ndarray | torch.Tensor) -> ImageRows:
        """The rows `index` picks, still on disk."""
        return ImageRows(self.path, self.channels, self.rows[np.asarray(index, dtype=np.int64)])

    def pixels(self, index: np.ndarray | list[int] | slice) -> np.ndarray:
        """uint8 (n, S, S, 3) as stored, for pictures (gray files have three equal channels)."""
        return self._read_stored(np.atleast_1d(self.rows[index]))

    def min(self) -> torch.Tensor:
        if self._range is not None:
            return torch.tensor(self._range[0])
        return torch.stack([self[i : i + _CHUNK].min() for i in range(0, len(self), _CHUNK)]).min()

    def max(self) -> torch.Tensor:
        if self._range is not None:
            return torch.tensor(self._range[1])
        return torch.stack([self[i : i + _CHUNK].max() for i in range(0, len(self), _CHUNK)]).max()

    def materialize(self) -> torch.Tensor:
        """Every row as one float32 tensor: only for small datasets or code that needs them whole."""
        return self[:]

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN206
        def whole(value: object) -> object:
            if isinstance(value, ImageRows):
                return value.materialize()
            if isinstance(value, (list, tuple)):
                return type(value)(whole(v) for v in value)
            return value

        return func(*whole(args), **{k: whole(v) for k, v in (kwargs or {}).items()})

    def __repr__(self) -> str:
        return f"ImageRows({self.path.name}, {tuple(self.shape)}, {self.channels})"

    # --- reading ----------------------------------------------------------------------------------

    def _read_stored(self, rows: np.ndarray) -> np.ndarray:
        row_bytes = self._side * self._side * 3
        out = np.empty((len(rows), self._side, self._side, 3), np.uint8)
        if len(rows) and (rows.min() < 0 or rows.max() >= self._stored):
            raise IndexError(f"row {int(rows.max())} is outside the {self._stored} decoded images")
        try:
            with self.path.open("rb", buffering=0) as handle:
                for i, row in enumerate(rows.tolist()):
                    handle.seek(self._offset + row * row_bytes)
                    if handle.readinto(memoryview(out[i]).cast("B")) != row_bytes:
                        raise OSError("the file is shorter than its header says")
        except OSError as error:
            raise DataError(
                f"The decoded images in {self.path} cannot be read ({error}); load the dataset again."
            ) from None
        return out

    def _read(self, rows: np.ndarray) -> torch.Tensor:
        x = as_float(self._read_stored(rows), self.channels)
        return torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))


def as_float(stored: np.ndarray, channels: Channels) -> np.ndarray:
    """uint8 (n, S, S, 3) -> float32 (n, S, S, C): the numbers the in-memory loader gave (/ 255, then luma)."""
    x = stored.astype(np.float32) / np.float32(255.0)
    if channels == "gray":
        return x[..., :1]
    if channels == "luma":
        return np.clip(x @ _LUMA, 0.0, 1.0)[..., None]
    return x
