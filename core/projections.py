"""2-D and 3-D maps of codes (UMAP, PCA, t-SNE): arrays in, float32 arrays out.

    xy = project(z, "umap", dims=2)    # (N, 2)

UMAP on many rows of narrow codes gets exact neighbours from scikit-learn (`_exact_pays`), which
is faster than umap-learn's own search and gives the same clusters; see EXACT_KNN_MIN_ROWS.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from core.cuml_backend import try_cuml
from core.errors import ConfigError
from core.methods import MAP_METHODS
from core.registry import lookup


def _check_dims(dims: int) -> None:
    if dims not in (2, 3):
        raise ConfigError(f"A projection has 2 or 3 dimensions (got {dims}).")


def _pad(y: np.ndarray, dims: int) -> np.ndarray:
    """Codes with fewer dimensions than asked for: add zero columns so callers always get `dims`."""
    if y.shape[1] < dims:
        y = np.hstack([y, np.zeros((len(y), dims - y.shape[1]), dtype=y.dtype)])
    return y


def umap_project(
    z: np.ndarray,
    dims: int,
    random_state: int | None,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    n_epochs: int | None = None,
    **_: Any,
) -> np.ndarray:
    from core.umap_cache import import_umap

    umap = import_umap()

    n = len(z)
    if n <= dims + 1:  # UMAP needs a neighbour graph; with this few points PCA says the same
        return pca_project(z, dims, random_state)
    k = max(2, min(int(n_neighbors), n - 1))
    init = "spectral" if n > 2 * dims + 10 else "random"
    on_gpu = try_cuml(
        "manifold",
        "UMAP",
        z,
        "fit_transform",
        n_components=dims,
        n_neighbors=k,
        min_dist=float(min_dist),
        n_epochs=n_epochs,
        random_state=random_state,
        init=init,
    )
    if on_gpu is not None:
        return on_gpu.astype(np.float32)
    reducer = umap.UMAP(
        n_components=dims,
        n_neighbors=k,
        precomputed_knn=exact_neighbours(z, k) if _exact_pays(z) else (None, None, None),
        min_dist=float(min_dist),
        n_epochs=n_epochs,
        random_state=random_state,
        n_jobs=1 if random_state is not None else -1,  # umap is only reproducible single-threaded
        init=init,
    )
    return reducer.fit_transform(z).astype(np.float32)


# umap-learn finds neighbours exactly below 4,096 rows and with pynndescent above; pynndescent
# builds closures numba cannot keep on disk, so every new process compiles them again: 16 s of a
# 21 s N2D manifold of 10k codes on 2 cores. For codes (a few dozen dims) exact search with
# scikit-learn takes well under a second and gives the same clusters (N2D ACC on 10k mnist codes,
# seeds 0-2: 0.967/0.965/0.966 exact, 0.965/0.966/0.966 pynndescent). In raw pixel space (784-d)
# the two graphs differ (UMAP of raw mnist-10k + GMM: 0.77-0.78 exact, 0.78-0.84 pynndescent), so
# wide inputs, the raw-pixel baselines among them, keep umap's own search, as N2D's paper ran it.
EXACT_KNN_MIN_ROWS, EXACT_KNN_MAX_DIMS, EXACT_KNN_MAX_ROWS = 4096, 64, 30_000


def _exact_pays(z: np.ndarray) -> bool:
    n, d = z.shape[0], int(np.prod(z.shape[1:]))
    return EXACT_KNN_MIN_ROWS <= n <= EXACT_KNN_MAX_ROWS and d <= EXACT_KNN_MAX_DIMS


def exact_neighbours(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices int32, distances float32) of each row's k nearest rows, itself first, as umap wants them."""
    from sklearn.neighbors import NearestNeighbors

    z = np.asarray(z, dtype=np.float32).reshape(len(z), -1)
    distances, indices = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(z).kneighbors(z)
    return indices.astype(np.int32), distances.astype(np.float32)


def pca_project(z: np.ndarray, dims: int, random_state: int | None, **_: Any) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = max(1, min(dims, z.shape[1], len(z)))
    y = PCA(n_components=k, random_state=random_state).fit_transform(z)
    return _pad(y.astype(np.float32), dims)


def tsne_project(z: np.ndarray, dims: int, random_state: int | None, perplexity: float = 30.0, **_: Any) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = len(z)
    if n < 5:
        return pca_project(z, dims, random_state)
    perplexity = min(float(perplexity), (n - 1) / 3.0)  # t-SNE requires perplexity < N
    y = TSNE(n_components=dims, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(z)
    return y.astype(np.float32)


# name -> (codes, dims, random_state, **settings) -> map: core.methods' entries, run by name.
PROJECTIONS: dict[str, Callable[..., np.ndarray]] = {name: entry.run for name, entry in MAP_METHODS.items()}


def check_projection(method: str, dims: int) -> None:
    """ConfigError unless `method` is a known projection and `dims` is 2 or 3."""
    lookup(MAP_METHODS, method, "projection")
    _check_dims(dims)


def project(
    z: np.ndarray,
    method: str = "umap",
    dims: int = 2,
    random_state: int | None = 0,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    **params: Any,
) -> np.ndarray:
    """A 2-D or 3-D map of the codes, float32 (N, dims).

    `n_neighbors` / `min_dist` (and `n_epochs`) tune UMAP; t-SNE takes `perplexity`; PCA ignores them.
    """
    check_projection(method, dims)
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or len(z) == 0:
        raise ConfigError(f"Projecting needs a non-empty (N, D) array of codes (got shape {z.shape}).")
    return PROJECTIONS[method](z, dims, random_state, n_neighbors=n_neighbors, min_dist=min_dist, **params)


_warm_lock = threading.Lock()
_warmed = False


def warm_up_umap() -> None:
    """Fit a tiny UMAP once so numba compiles its kernels before the first real projection."""
    global _warmed
    with _warm_lock:
        if _warmed:
            return
        rng = np.random.default_rng(0)
        umap_project(rng.normal(size=(64, 4)).astype(np.float32), 2, 0, n_neighbors=5, n_epochs=20)
        _warmed = True
