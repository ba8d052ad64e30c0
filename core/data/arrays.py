"""The `npz` source: a NumPy archive with `x`, optional `y` and optional `classes`.

The shape of `x` decides the kind: (N, D) is a table, (N, H, W), (N, H, W, C) and (N, C, H, W)
with C in {1, 3} are images. This is the quickest way to bring data from another tool.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from core.data.common import encode_labels, require_path
from core.data.dataset import Dataset, DataSpec
from core.data.tables import table_dataset
from core.errors import DataError
from core.limits import Limits, current_limits, describe_bytes, over_limit

_CHANNELS = (1, 3)


def _check_headers(path: Path, limits: Limits) -> None:
    """Refuse an array from its header alone: one that would not fit, or claims more than the file holds.

    A 300-byte .npy header can declare a petabyte; reading it would be a MemoryError at best.
    """
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with archive.open(info) as member:
                version = np.lib.format.read_magic(member)
                reader = (
                    np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                )
                shape, _, dtype = reader(member)
            need = int(np.prod(shape, dtype=object)) * dtype.itemsize
            name = info.filename[:-4]
            if need > limits.max_array_bytes:
                raise DataError(
                    over_limit(
                        f"Array '{name}' of '{path.name}', shaped {shape}",
                        describe_bytes(need),
                        "max_array_bytes",
                        describe_bytes(limits.max_array_bytes),
                    )
                )
            if not dtype.hasobject and need > info.file_size:
                raise DataError(
                    f"Array '{name}' of '{path.name}' declares shape {shape} ({describe_bytes(need)}) but "
                    f"the file holds {describe_bytes(info.file_size)}: it is damaged; save it again."
                )


def _read_npz(spec: DataSpec) -> tuple[str, dict[str, np.ndarray]]:
    path = require_path(spec, "a .npz file with an array 'x' (and optionally 'y' and 'classes')")
    try:
        if zipfile.is_zipfile(path):
            _check_headers(path, current_limits())
        loaded = np.load(path, allow_pickle=False)  # never unpickle: opening a file must not run code
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise DataError(f"'{path.name}' holds a single array; save it with np.savez(path, x=..., y=...).")
        with loaded:
            return path.name, {key: loaded[key] for key in loaded.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"Could not read '{path.name}' as a .npz archive: {error}") from None


def _label_encoder(classes: np.ndarray | None):
    """Codes from `y`; when `classes` is given, `y` must already index into it."""
    if classes is None:
        return encode_labels

    names = tuple(str(c) for c in np.asarray(classes).reshape(-1))

    def encode(y: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
        if not np.issubdtype(y.dtype, np.integer) or (y.size and (y.min() < 0 or y.max() >= len(names))):
            raise DataError(f"'y' must hold integers 0..{len(names) - 1} to index the {len(names)} names in 'classes'.")
        return y.astype(np.int64), names

    return encode


def _as_nchw(x: np.ndarray) -> np.ndarray | None:
    """(N, C, H, W) view of an image array, or None when the shape is not an image shape."""
    if x.ndim == 3:
        return x[:, None]
    if x.ndim == 4 and x.shape[1] in _CHANNELS and x.shape[-1] not in _CHANNELS:
        return x
    if x.ndim == 4 and x.shape[-1] in _CHANNELS:
        return x.transpose(0, 3, 1, 2)
    if x.ndim == 4 and x.shape[1] in _CHANNELS:
        return x
    return None


def _to_unit_range(images: np.ndarray, notes: list[str]) -> np.ndarray:
    """Pixel values into [0, 1]: uint8 / 255, [0, 1] floats as they are, anything else min-max."""
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    values = images.astype(np.float32)
    if not np.isfinite(values).all():
        raise DataError(f"'x' has {int((~np.isfinite(values)).sum())} missing or infinite pixel values.")
    low, high = float(values.min()), float(values.max())
    if low >= 0.0 and high <= 1.0:
        return values
    if np.issubdtype(images.dtype, np.integer) and low >= 0 and high <= 255:
        notes.append("Pixel values 0..255 were divided by 255.")
        return values / 255.0
    notes.append(f"Pixel values ranged from {low:g} to {high:g}; min-max scaled to [0, 1].")
    return (values - low) / (high - low) if high > low else np.zeros_like(values)


def load_npz(spec: DataSpec) -> Dataset:
    name, arrays = _read_npz(spec)
    if "x" not in arrays:
        raise DataError(f"'{name}' has no array named 'x'; found: {', '.join(arrays) or 'nothing'}.")
    x, y = arrays["x"], arrays.get("y")
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise DataError(f"'x' in '{name}' must be numeric, found dtype {x.dtype}.")
    if np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(
            f"'x' in '{name}' holds complex numbers; save their real and imaginary parts (or magnitudes) "
            "as real columns, e.g. np.concatenate([x.real, x.imag], axis=1)."
        )
    if x.ndim < 2 or len(x) == 0:
        raise DataError(f"'x' in '{name}' must be (N, D) or an image stack with N > 0, found shape {x.shape}.")
    if y is not None and (y.ndim != 1 or len(y) != len(x)):
        raise DataError(f"'y' in '{name}' must be one label per row of 'x' ({len(x)}), found shape {y.shape}.")
    encode = _label_encoder(arrays.get("classes"))

    if x.ndim == 2:
        frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
        return table_dataset(frame, spec, name=name, labels=y, encode=encode)

    images = _as_nchw(x)
    if images is None:
        raise DataError(
            f"'x' in '{name}' has shape {x.shape}; use (N, D) for a table, or (N, H, W), (N, H, W, C) "
            "or (N, C, H, W) with C = 1 or 3 for images."
        )
    notes: list[str] = []
    pixels = _to_unit_range(images, notes)
    codes, classes = (None, ()) if y is None else encode(y)
    return Dataset(
        name=name,
        kind="image",
        x=torch.from_numpy(np.ascontiguousarray(pixels)),
        y=None if codes is None else torch.from_numpy(codes),
        classes=classes,
        notes=tuple(notes),
    )
