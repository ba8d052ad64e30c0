"""UMAP with its numba kernels kept compiled on disk, so a fresh process skips ~10 s of compiling.

umap-learn compiles about 250 numba functions the first time a process fits a map (14 s for a
map of scikit-learn's digits on 2 cores, 4 s of it the fit itself), and marks only a few of them
cache=True. numba can keep any of them on disk with `Dispatcher.enable_caching()`, the machinery
behind cache=True: files beside umap's sources (or in NUMBA_CACHE_DIR), rebuilt whenever umap's
source changes. We ask for that before the first fit; from the second process on, the compile is
a load. The CLI's `evaluate` and every dashboard start gain most.
"""

from __future__ import annotations

import sys
import warnings
from functools import cache
from types import ModuleType

CACHED_PACKAGES = ("umap", "pynndescent")


@cache
def import_umap() -> ModuleType:
    """The `umap` module, with disk caching on for every module-level numba function it brings."""
    import umap
    from numba.core.dispatcher import Dispatcher
    from numba.core.errors import NumbaWarning

    # A few kernels close over arrays numba cannot store; they compile as before, and saying so
    # on every first fit would only worry a user.
    warnings.filterwarnings("ignore", message="Cannot cache compiled function", category=NumbaWarning)
    # core.projections hands umap exact neighbours without a search index; it never transforms new rows.
    warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")

    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in CACHED_PACKAGES:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher):
                try:
                    value.enable_caching()
                except Exception:  # no writable cache location for this file: it compiles as before
                    continue
    return umap
