"""Data sources: every one returns the same `Dataset` (see dataset.py).

from core.data import DataSpec, load_dataset, make_splits, SOURCES
ds = load_dataset(DataSpec(source="digits"))
"""

from core.data.dataset import Dataset, DataSpec, Splits
from core.data.sources import SOURCES, Source, load_dataset
from core.data.splits import make_splits

__all__ = ["Dataset", "DataSpec", "Splits", "SOURCES", "Source", "load_dataset", "make_splits"]
