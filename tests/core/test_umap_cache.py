"""UMAP's numba kernels are cached on disk once core asks for umap (see core/umap_cache.py)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import umap.umap_ as kernels
before = kernels.smooth_knn_dist.stats.cache_path   # umap-learn itself does not cache this kernel
from core.umap_cache import import_umap
umap = import_umap()
after = kernels.smooth_knn_dist.stats.cache_path
print(repr(before), repr(after), umap is sys.modules["umap"])
import warnings
from numba.core.errors import NumbaWarning
warnings.warn('Cannot cache compiled function "nn_descent" as it uses dynamic globals', NumbaWarning)
warnings.warn("a NumbaWarning about anything else still shows", NumbaWarning)
"""


def test_import_umap_turns_on_disk_caching_for_kernels_umap_leaves_uncached():
    done = subprocess.run(
        [sys.executable, "-c", "import sys\n" + PROBE], capture_output=True, text=True, timeout=120, check=True
    )
    before, after, same_module = done.stdout.split()
    assert before == "None"
    assert after != "None"  # a folder: beside umap's sources, or NUMBA_CACHE_DIR
    assert same_module == "True"
    assert "Cannot cache" not in done.stderr  # kernels numba cannot store compile quietly, as before
    assert "anything else still shows" in done.stderr
