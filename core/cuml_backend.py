"""cuML (RAPIDS) in place of umap-learn and scikit-learn's HDBSCAN, when it is installed and a CUDA
GPU is there: the same estimators (cuml.manifold.UMAP, cuml.cluster.HDBSCAN, same parameters),
tens of times faster on big maps. Anything else (no cuML, no GPU, a cuML error) falls back to the
CPU libraries silently, so nothing a user runs depends on it. LATENTBOARD_NO_CUML=1 turns it off.

cuML is not a dependency: it installs from NVIDIA's index for one CUDA version
(`pip install cuml-cu12 --extra-index-url=https://pypi.nvidia.com`), which a laptop cannot use.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from functools import cache
from types import ModuleType
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


@cache
def cuml_module(name: str) -> ModuleType | None:
    """`cuml.<name>` when cuML can run here, else None (asked once per process)."""
    if os.environ.get("LATENTBOARD_NO_CUML") or importlib.util.find_spec("cuml") is None:
        return None
    try:
        import torch

        if not torch.cuda.is_available():
            return None
        return importlib.import_module(f"cuml.{name}")
    except Exception as exc:  # a broken CUDA install must not stop the CPU path
        log.info("cuML is installed but cannot be used (%s); using the CPU libraries", exc)
        return None


def try_cuml(module: str, estimator: str, z: np.ndarray, method: str, **params: Any) -> np.ndarray | None:
    """`cuml.<module>.<estimator>(**params).<method>(z)` as a numpy array, or None to use the CPU library."""
    found = cuml_module(module)
    if found is None:
        return None
    try:
        result = getattr(getattr(found, estimator)(**params), method)(np.ascontiguousarray(z, dtype=np.float32))
        return np.asarray(result.get() if hasattr(result, "get") else result)  # cupy arrays come back with .get()
    except Exception as exc:  # out of GPU memory, an unsupported parameter: the CPU library does the same work
        log.info("cuML %s failed (%s); using the CPU library", estimator, exc)
        return None
