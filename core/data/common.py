"""Small helpers every loader shares: finding the user's file, and turning labels into codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from core.data.dataset import DataSpec
from core.errors import DataError
from core.paths import default_data_dir


def require_path(spec: DataSpec, what: str) -> Path:
    """The file or folder `spec.path` names, or a DataError saying what the source expected."""
    if not spec.path:
        raise DataError(f"The '{spec.source}' source needs a path to {what}.")
    path = Path(spec.path).expanduser()
    if not path.exists():
        raise DataError(f"'{path}' does not exist; the '{spec.source}' source expects {what}.")
    return path


def data_root(spec: DataSpec) -> Path:
    """Where downloadable datasets live: `spec.path` when given, else Latentboard's data folder."""
    return (Path(spec.path).expanduser() if spec.path else default_data_dir()).absolute()


def count(n: int, noun: str) -> str:
    """'1 file', '2 files': notes are read by people."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def encode_labels(values) -> tuple[np.ndarray, tuple[str, ...]]:
    """Any label values -> (int64 codes, class names): the sorted unique values, as strings.

    Whole-number floats (a label column that pandas read as 1.0, 2.0 because of a hole) are named
    "1", "2", not "1.0". Values of mixed types are sorted by their text.
    """
    series = pd.Series(np.asarray(values) if not isinstance(values, pd.Series) else values)
    series = series.reset_index(drop=True)
    if pd.api.types.is_float_dtype(series) and np.all(np.mod(series.dropna(), 1) == 0):
        series = series.astype("Int64")
    uniques = series.dropna().unique().tolist()
    try:
        uniques = sorted(uniques)
    except TypeError:
        uniques = sorted(uniques, key=str)
    codes = pd.Categorical(series, categories=uniques).codes.astype(np.int64)
    return codes, tuple(str(value) for value in uniques)
