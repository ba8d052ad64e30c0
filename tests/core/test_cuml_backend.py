"""The switch to cuML: taken when cuML imports and CUDA is there, left silently otherwise.

cuML cannot be installed on a machine without CUDA, so a stand-in `cuml` package (the two
estimators, recording how they were called) sits in sys.modules; what is checked is Latentboard's
side: when it asks, with which parameters, and that any failure falls back to the CPU libraries.
On a GPU machine with cuML, test_real_cuml_when_installed runs the real thing.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs

import core.cuml_backend as backend
from core.clusterers import clusterer
from core.projections import project


@pytest.fixture
def fresh_switch():
    backend.cuml_module.cache_clear()
    yield
    backend.cuml_module.cache_clear()


@pytest.fixture
def stand_in(monkeypatch, fresh_switch):
    """A `cuml` package whose UMAP / HDBSCAN record their parameters; CUDA reported present."""
    calls: list[tuple[str, dict]] = []

    class UMAP:
        def __init__(self, **params):
            calls.append(("UMAP", params))
            self.params = params

        def fit_transform(self, z):
            return np.full((len(z), self.params["n_components"]), 7.0, dtype=np.float64)

    class HDBSCAN:
        def __init__(self, **params):
            calls.append(("HDBSCAN", params))

        def fit_predict(self, z):
            return np.arange(len(z)) % 2

    root, manifold, clustering = (types.ModuleType(n) for n in ("cuml", "cuml.manifold", "cuml.cluster"))
    manifold.UMAP, clustering.HDBSCAN = UMAP, HDBSCAN
    root.__spec__ = importlib.util.spec_from_loader("cuml", loader=None)
    for module in (root, manifold, clustering):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("LATENTBOARD_NO_CUML", raising=False)
    return calls


def blobs(n=200):
    x, _ = make_blobs(n, n_features=5, centers=3, random_state=0)
    return x.astype(np.float32)


def test_umap_and_hdbscan_run_on_cuml_with_the_same_parameters(stand_in):
    coords = project(blobs(), "umap", dims=2, random_state=3, n_neighbors=12, min_dist=0.2)
    assert coords.dtype == np.float32 and (coords == 7.0).all()
    labels = clusterer("hdbscan", 3, random_state=0).fit_predict(blobs())
    assert set(labels.tolist()) == {0, 1}
    (name, umap_params), (other, hdbscan_params) = stand_in
    assert name == "UMAP" and umap_params["n_components"] == 2 and umap_params["n_neighbors"] == 12
    assert umap_params["min_dist"] == 0.2 and umap_params["random_state"] == 3
    assert other == "HDBSCAN" and hdbscan_params["min_cluster_size"] >= 2


def test_a_cuml_failure_falls_back_to_the_cpu_library(stand_in):
    def broken(self, z):
        raise MemoryError("out of GPU memory")

    sys.modules["cuml.manifold"].UMAP.fit_transform = broken
    coords = project(blobs(), "umap", dims=2, random_state=0)
    assert np.isfinite(coords).all() and not (coords == 7.0).all()  # umap-learn's map


def test_no_gpu_or_turned_off_means_the_cpu_libraries(stand_in, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert backend.cuml_module("manifold") is None
    backend.cuml_module.cache_clear()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setenv("LATENTBOARD_NO_CUML", "1")
    assert backend.cuml_module("manifold") is None
    project(blobs(), "umap", dims=2, random_state=0)
    assert stand_in == []


def test_without_cuml_installed_nothing_is_asked(fresh_switch, monkeypatch):
    if importlib.util.find_spec("cuml") is not None:
        pytest.skip("cuML is installed here")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert backend.cuml_module("manifold") is None and backend.cuml_module("cluster") is None


@pytest.mark.cuda
@pytest.mark.skipif(
    importlib.util.find_spec("cuml") is None or not torch.cuda.is_available(), reason="needs cuML and a CUDA GPU"
)
def test_real_cuml_when_installed(fresh_switch):
    x, y = make_blobs(2000, n_features=8, centers=4, random_state=0)
    coords = project(x.astype(np.float32), "umap", dims=2, random_state=0)
    assert backend.cuml_module("manifold") is not None and coords.shape == (2000, 2) and np.isfinite(coords).all()
