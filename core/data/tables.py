"""The `table` source: a CSV or Parquet file, one row per sample.

Numeric columns become standardised features (the mean and std are kept so values can be shown
back in the file's own units); one optional column holds labels. `table_dataset` is shared with
the `npz` source, so a 2-D array is cleaned exactly like a table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from core.data.common import count, encode_labels, require_path
from core.data.dataset import Dataset, DataSpec
from core.errors import DataError

LabelEncoder = Callable[[np.ndarray], "tuple[np.ndarray, tuple[str, ...]]"]

_CSV_SUFFIXES = (".csv", ".tsv", ".txt")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def _names(columns, limit: int = 10) -> str:
    shown = ", ".join(str(c) for c in list(columns)[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


# Spreadsheets save CSVs in the machine's code page: UTF-8 first, then Windows-1252 (a superset of
# Latin-1's printable characters), which decodes any byte, so a file is never refused for its accents.
_ENCODINGS = ("utf-8-sig", "cp1252")


def _read_text_table(path: Path, sep: str) -> pd.DataFrame:
    """CSV / TSV in UTF-8 or a Windows code page; ';'-separated files (European spreadsheets) with decimal commas."""
    for encoding in _ENCODINGS:
        try:
            frame = pd.read_csv(path, sep=sep, encoding=encoding)
            if frame.shape[1] == 1 and ";" in str(frame.columns[0]):  # European CSV: ';' between, ',' in numbers
                frame = pd.read_csv(path, sep=";", decimal=",", encoding=encoding)
            return frame
        except UnicodeDecodeError:
            continue
    raise ValueError("its text is in an encoding Latentboard does not recognise")


def read_frame(path: Path) -> pd.DataFrame:
    """Read a CSV / TSV / Parquet file by its suffix; any reading problem becomes a DataError."""
    suffix = path.suffix.lower()
    try:
        if suffix in _PARQUET_SUFFIXES:
            return pd.read_parquet(path)
        if suffix in _CSV_SUFFIXES:
            return _read_text_table(path, "\t" if suffix == ".tsv" else ",")
    except (ValueError, OSError, ImportError) as error:  # pandas / pyarrow parse errors are ValueErrors
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise DataError(
            f"Could not read '{path.name}' as a table: {reason}. Save it as a UTF-8 CSV with ',' between "
            "values and '.' in numbers (or as Parquet), and try again."
        ) from None
    raise DataError(
        f"'{path.name}' is not a table file Latentboard reads; use one of "
        f"{', '.join(_CSV_SUFFIXES + _PARQUET_SUFFIXES)}."
    )


def _clean_missing(values: np.ndarray, missing: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Drop or median-fill rows with NaN / inf; returns (values, kept row mask)."""
    finite = np.isfinite(values)
    bad_rows = ~finite.all(axis=1)
    keep = np.ones(len(values), dtype=bool)
    if not bad_rows.any():
        return values, keep
    if missing == "drop":
        keep = ~bad_rows
        notes.append(f"Dropped {int(bad_rows.sum())} of {count(len(values), 'row')} with missing or infinite values.")
        return values[keep], keep
    medians = np.nanmedian(np.where(finite, values, np.nan), axis=0)
    notes.append(
        f"Filled {count(int((~finite).sum()), 'missing or infinite value')} "
        f"in {count(int(bad_rows.sum()), 'row')} with the column median."
    )
    return np.where(finite, values, medians), keep


def table_dataset(
    frame: pd.DataFrame,
    spec: DataSpec,
    name: str,
    labels: np.ndarray | None = None,
    encode: LabelEncoder = encode_labels,
    notes: list[str] | None = None,
) -> Dataset:
    """A standardised table Dataset: the numeric columns of `frame` are the features.

    `labels` (one per row, any type) are turned into codes by `encode` after bad rows are gone.
    """
    notes = list(notes or [])
    if spec.missing not in ("drop", "impute"):
        raise DataError(f"Unknown missing-value strategy {spec.missing!r}; use 'drop' or 'impute'.")
    numeric = frame.select_dtypes(include=["number", "bool"])
    ignored = [c for c in frame.columns if c not in numeric.columns]
    if numeric.shape[1] == 0:
        raise DataError(
            f"'{name}' has no numeric column to learn from. Columns found: {_names(frame.columns, 30) or 'none'}."
        )
    if ignored:
        notes.append(f"Ignored {count(len(ignored), 'non-numeric column')}: {_names(ignored)}.")

    values = numeric.to_numpy(dtype=np.float64)
    hollow = ~np.isfinite(values).any(axis=0)
    if hollow.all():
        raise DataError(f"Every numeric column of '{name}' is empty or infinite.")
    if hollow.any():
        empty = _names(numeric.columns[hollow])
        notes.append(f"Ignored {count(int(hollow.sum()), 'column')} with no finite value: {empty}.")
        numeric, values = numeric.loc[:, ~hollow], values[:, ~hollow]

    values, keep = _clean_missing(values, spec.missing, notes)
    if len(values) == 0:
        raise DataError(
            f"No rows of '{name}' are left after dropping rows with missing values; "
            "try missing='impute' to fill them with the column median."
        )
    mean, std = values.mean(axis=0), values.std(axis=0)
    constant = std == 0
    if constant.any():
        flat = _names(numeric.columns[constant])
        notes.append(f"Kept {count(int(constant.sum()), 'constant column')} ({flat}); they carry no information.")
    std = np.where(constant, 1.0, std)  # avoid dividing by zero; the column becomes all zeros

    y, classes = None, ()
    if labels is not None:
        codes, classes = encode(np.asarray(labels)[keep])
        y = torch.from_numpy(codes)
    return Dataset(
        name=name,
        kind="table",
        x=torch.from_numpy(((values - mean) / std).astype(np.float32)),
        y=y,
        classes=classes,
        feature_names=tuple(str(c) for c in numeric.columns),
        feature_mean=mean,
        feature_std=std,
        notes=tuple(notes),
    )


def load_table(spec: DataSpec) -> Dataset:
    path = require_path(spec, "a CSV or Parquet file")
    if path.is_dir():
        raise DataError(f"'{path}' is a folder; the 'table' source expects a CSV or Parquet file.")
    frame = read_frame(path)
    if frame.empty:
        raise DataError(f"'{path.name}' has no rows.")
    labels, notes = None, []
    if spec.label_column is not None:
        if spec.label_column not in frame.columns:
            raise DataError(
                f"Label column '{spec.label_column}' is not in '{path.name}'. "
                f"Columns found: {_names(frame.columns, 30)}."
            )
        no_label = frame[spec.label_column].isna().to_numpy()
        if no_label.any():
            unlabelled = count(int(no_label.sum()), "row")
            notes.append(f"Dropped {unlabelled} with no value in the label column '{spec.label_column}'.")
            frame = frame[~no_label]
        labels = frame[spec.label_column].to_numpy()
        frame = frame.drop(columns=[spec.label_column])
    return table_dataset(frame, spec, name=path.name, labels=labels, notes=notes)
