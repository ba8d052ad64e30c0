"""From a trained model to codes, 2-D / 3-D maps and cluster labels: arrays in, arrays out.

    z = encode(model, x)                         # (N, latent_dim) float32
    xy = project(z, "umap", dims=2)              # (N, 2)
    labels = cluster(z, "kmeans", n_clusters=10) # (N,) int, HDBSCAN noise = -1

`run_codes` / `run_projection` do the same for a trained run and keep the result in the run's
cache folder, keyed by the checkpoint and the parameters, so a server restart does not recompute.
"""

from __future__ import annotations

import hashlib
import io
import json
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from core.atomic import atomic_write_bytes
from core.cuml_backend import try_cuml
from core.errors import ConfigError

if TYPE_CHECKING:
    from core.experiment import TrainedRun

AGGLOMERATIVE_FIT_MAX = 5000  # ward linkage is O(N^2) memory: fit on a sample, assign the rest


# --------------------------------------------------------------------------- encoding


def model_device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def batched_apply(model: torch.nn.Module, x: torch.Tensor | np.ndarray, fn, batch_size: int = 1024) -> list[np.ndarray]:
    """fn(batch) for each batch of x as float32 numpy: eval mode, no gradients, on the model's device.

    The model's train/eval mode is restored afterwards, so a trainer's model can be probed mid-run.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    device = model_device(model)
    cuda = device.type == "cuda"  # from pinned pages the copy is one DMA, with no staging copy on the host
    was_training = model.training
    model.eval()
    parts = []
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = x[start:start + batch_size]
                batch = batch.pin_memory().to(device, non_blocking=True) if cuda else batch.to(device)
                parts.append(fn(batch).detach().float().cpu().numpy())
    finally:
        model.train(was_training)
    return parts


def encode(model: torch.nn.Module, x: torch.Tensor | np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Codes of `x` as float32 (N, latent_dim); for a VAE, the posterior mean."""
    parts = batched_apply(model, x, model.encode, batch_size)
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(parts)


# --------------------------------------------------------------------------- projections


def _check_dims(dims: int) -> None:
    if dims not in (2, 3):
        raise ConfigError(f"A projection has 2 or 3 dimensions (got {dims}).")


def _pad(y: np.ndarray, dims: int) -> np.ndarray:
    """Codes with fewer dimensions than asked for: add zero columns so callers always get `dims`."""
    if y.shape[1] < dims:
        y = np.hstack([y, np.zeros((len(y), dims - y.shape[1]), dtype=y.dtype)])
    return y


def umap_project(z: np.ndarray, dims: int, random_state: int | None, n_neighbors: int = 15, min_dist: float = 0.1,
          n_epochs: int | None = None, **_: Any) -> np.ndarray:
    from core.umap_cache import import_umap

    umap = import_umap()

    n = len(z)
    if n <= dims + 1:  # UMAP needs a neighbour graph; with this few points PCA says the same
        return _pca(z, dims, random_state)
    k = max(2, min(int(n_neighbors), n - 1))
    init = "spectral" if n > 2 * dims + 10 else "random"
    on_gpu = try_cuml("manifold", "UMAP", z, "fit_transform", n_components=dims, n_neighbors=k, min_dist=float(min_dist),
                      n_epochs=n_epochs, random_state=random_state, init=init)
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


def _pca(z: np.ndarray, dims: int, random_state: int | None, **_: Any) -> np.ndarray:
    from sklearn.decomposition import PCA

    k = max(1, min(dims, z.shape[1], len(z)))
    y = PCA(n_components=k, random_state=random_state).fit_transform(z)
    return _pad(y.astype(np.float32), dims)


def _tsne(z: np.ndarray, dims: int, random_state: int | None, perplexity: float = 30.0, **_: Any) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = len(z)
    if n < 5:
        return _pca(z, dims, random_state)
    perplexity = min(float(perplexity), (n - 1) / 3.0)  # t-SNE requires perplexity < N
    y = TSNE(n_components=dims, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(z)
    return y.astype(np.float32)


PROJECTIONS: dict[str, Callable[..., np.ndarray]] = {"umap": umap_project, "pca": _pca, "tsne": _tsne}


def project(z: np.ndarray, method: str = "umap", dims: int = 2, random_state: int | None = 0,
            n_neighbors: int = 15, min_dist: float = 0.1, **params: Any) -> np.ndarray:
    """A 2-D or 3-D map of the codes, float32 (N, dims).

    `n_neighbors` / `min_dist` (and `n_epochs`) tune UMAP; t-SNE takes `perplexity`; PCA ignores them.
    """
    if method not in PROJECTIONS:
        raise ConfigError(f"Unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}.")
    _check_dims(dims)
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


# --------------------------------------------------------------------------- clustering


def _kmeans(z: np.ndarray, n_clusters: int, random_state: int | None) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=n_clusters, n_init=10, random_state=random_state).fit_predict(z)


def fit_gmm(z: np.ndarray, n_clusters: int, random_state: int | None, n_init: int) -> np.ndarray:
    """Labels of the most likely of `n_init` full-covariance Gaussian mixtures.

    A cluster squeezed into fewer dimensions than the codes have (a few dozen points in 32-d)
    has a singular covariance and the fit fails; then it is refitted with a ridge on the
    covariances sized to the data (1e-3, then 1e-1 of the mean variance) instead of failing.
    """
    from sklearn.mixture import GaussianMixture

    z = np.asarray(z, dtype=np.float64)
    scale = float(np.mean(np.var(z, axis=0))) or 1.0
    for reg_covar in (1e-5, 1e-3 * scale, 1e-1 * scale):
        gmm = GaussianMixture(n_components=n_clusters, covariance_type="full", reg_covar=reg_covar, n_init=n_init,
                              random_state=random_state)
        try:
            return gmm.fit(z).predict(z).astype(np.int64)
        except ValueError:
            continue
    raise ConfigError(f"A {n_clusters}-component Gaussian mixture cannot be fitted to these {len(z)} points, "
                      "even with regularised covariances; choose fewer clusters or another method.")


def _gmm(z: np.ndarray, n_clusters: int, random_state: int | None) -> np.ndarray:
    return fit_gmm(z, n_clusters, random_state, n_init=3)


def hdbscan_min_cluster_size(n: int) -> int:
    """About 1% of the points, at least 5: small enough to find ten digits in a few thousand."""
    return int(max(5, min(n // 100, 1000)))


def _hdbscan(z: np.ndarray, n_clusters: int, random_state: int | None) -> np.ndarray:
    from sklearn.cluster import HDBSCAN

    # n_clusters is ignored: HDBSCAN decides how many clusters there are (and which points are noise).
    on_gpu = try_cuml("cluster", "HDBSCAN", z, "fit_predict", min_cluster_size=hdbscan_min_cluster_size(len(z)))
    if on_gpu is not None:
        return on_gpu.astype(np.int64)
    return HDBSCAN(min_cluster_size=hdbscan_min_cluster_size(len(z)), copy=True).fit_predict(z)


def _agglomerative(z: np.ndarray, n_clusters: int, random_state: int | None) -> np.ndarray:
    from sklearn.cluster import AgglomerativeClustering

    n = len(z)
    if n <= AGGLOMERATIVE_FIT_MAX:
        return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(z)
    # Ward on 70k points would need a 70k x 70k distance matrix: fit a seeded sample, then give
    # every point the cluster of the nearest sample-cluster centroid (the sample keeps its own).
    rng = np.random.default_rng(random_state)
    sample = np.sort(rng.choice(n, AGGLOMERATIVE_FIT_MAX, replace=False))
    fitted = AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(z[sample])
    centroids = np.stack([z[sample][fitted == c].mean(axis=0) for c in range(n_clusters)])
    labels = nearest_centroid(z, centroids)
    labels[sample] = fitted
    return labels


def nearest_centroid(z: np.ndarray, centroids: np.ndarray, batch_size: int = 8192) -> np.ndarray:
    """Index of the closest centroid for every row of `z` (batched to keep memory flat)."""
    out = np.empty(len(z), dtype=np.int64)
    c2 = (centroids.astype(np.float64) ** 2).sum(axis=1)
    for start in range(0, len(z), batch_size):
        block = z[start:start + batch_size].astype(np.float64)
        out[start:start + batch_size] = np.argmin(c2[None, :] - 2.0 * block @ centroids.T, axis=1)
    return out


CLUSTERERS: dict[str, Callable[[np.ndarray, int, int | None], np.ndarray]] = {
    "kmeans": _kmeans,
    "gmm": _gmm,
    "hdbscan": _hdbscan,
    "agglomerative": _agglomerative,
}


def cluster(z: np.ndarray, method: str = "kmeans", n_clusters: int = 10, random_state: int | None = 0) -> np.ndarray:
    """Cluster labels, int64 (N,), numbered 0..k-1; HDBSCAN marks noise -1 and ignores `n_clusters`."""
    if method not in CLUSTERERS:
        raise ConfigError(f"Unknown clustering method {method!r}; choose one of {', '.join(CLUSTERERS)}.")
    z = np.asarray(z, dtype=np.float32)
    if z.ndim != 2 or len(z) == 0:
        raise ConfigError(f"Clustering needs a non-empty (N, D) array (got shape {z.shape}).")
    if int(n_clusters) < 1:
        raise ConfigError(f"The number of clusters must be at least 1 (got {n_clusters}).")
    n_clusters = min(int(n_clusters), len(z))
    return np.asarray(CLUSTERERS[method](z, n_clusters, random_state), dtype=np.int64)


# --------------------------------------------------------------------------- per-run disk cache


def checkpoint_fingerprint(trained: "TrainedRun") -> str:
    """Changes whenever the checkpoint file is rewritten (size + modification time in ns)."""
    path = Path(trained.run.checkpoint_path)
    stat = path.stat()
    return f"{stat.st_size}-{stat.st_mtime_ns}"


def _cache_key(trained: "TrainedRun", **params: Any) -> str:
    text = json.dumps({"checkpoint": checkpoint_fingerprint(trained), **params}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def cached_array(trained: "TrainedRun", stem: str, compute: Callable[[], np.ndarray], **params: Any) -> np.ndarray:
    """`compute()` once per (checkpoint, stem, params); later calls read `<cache>/<stem>-<key>.npy`.

    Results of an older checkpoint with the same stem are removed when a new one is written.
    """
    folder = trained.run.cache_dir
    path = folder / f"{stem}-{_cache_key(trained, stem=stem, **params)}.npy"
    if path.exists():
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):  # damaged: compute again and replace it
            pass
    values = np.asarray(compute())
    buffer = io.BytesIO()
    np.save(buffer, values, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
    for old in folder.glob(f"{stem}-*.npy"):
        if old != path and len(old.stem) == len(stem) + 17:  # same stem + "-" + 16-char key
            old.unlink(missing_ok=True)
    return values


def run_codes(trained: "TrainedRun", split: str = "all") -> np.ndarray:
    """Codes of a run's split (rows in `trained.splits.get(split)` order), cached on disk."""
    index = trained.splits.get(split)
    return cached_array(
        trained, f"codes-{split}",
        lambda: encode(trained.model, trained.inputs[torch.as_tensor(index)]),
        n=len(index),
    )


def run_projection(trained: "TrainedRun", split: str = "all", method: str = "umap", dims: int = 2,
                   random_state: int | None = 0, **params: Any) -> np.ndarray:
    """`project(run_codes(trained, split), ...)`, cached on disk per checkpoint and parameters."""
    if method not in PROJECTIONS:
        raise ConfigError(f"Unknown projection {method!r}; choose one of {', '.join(PROJECTIONS)}.")
    _check_dims(dims)
    return cached_array(
        trained, f"{method}{dims}d-{split}",
        lambda: project(run_codes(trained, split), method, dims, random_state, **params),
        random_state=random_state, **params,
    )
