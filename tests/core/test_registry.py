"""Registry entries describe themselves, and the traits they claim hold for the code that runs them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import ClusterMixin

from core.clusterers import Clusterer, OnManifold, clusterer, hdbscan_min_cluster_size
from core.data import SOURCES
from core.errors import ConfigError
from core.features import BACKBONES
from core.methods import CLUSTER_METHODS, MAP_METHODS
from core.models import FAMILIES
from core.projections import PROJECTIONS, pca_project, project
from core.registry import Entry, label_of, lookup, registry, resolve


def test_a_registry_keeps_order_and_refuses_a_repeated_name():
    a, b = Entry("a", "A", "first."), Entry("b", "B", "second.")
    assert list(registry(b, a)) == ["b", "a"]
    with pytest.raises(ValueError, match="'a'"):
        registry(a, Entry("a", "Again", "clash."))


def test_lookup_names_the_valid_entries_and_label_of_falls_back_to_the_name():
    table = registry(Entry("kmeans", "k-means", "."), Entry("gmm", "Gaussian mixture", "."))
    assert lookup(table, "gmm", "clustering method").label == "Gaussian mixture"
    with pytest.raises(ConfigError, match="Unknown clustering method 'gnm'; choose one of kmeans, gmm"):
        lookup(table, "gnm", "clustering method")
    assert label_of(table, "kmeans") == "k-means" and label_of(table, "an-old-one") == "an-old-one"


@pytest.mark.parametrize(
    "table",
    [FAMILIES, SOURCES, BACKBONES, MAP_METHODS, CLUSTER_METHODS],
    ids=["families", "sources", "backbones", "projections", "clusterings"],
)
def test_every_entry_is_named_by_its_key_with_a_label_and_help(table):
    for name, entry in table.items():
        assert isinstance(entry, Entry) and entry.name == name and entry.label and entry.help


def test_resolve_imports_what_a_build_path_names():
    assert resolve("core.projections:pca_project") is pca_project
    with pytest.raises(ValueError, match="package.module:attribute"):
        resolve("core.projections.pca_project")


def test_reading_the_methods_loads_none_of_the_code_that_runs_them():
    code = "import core.methods, sys; print([m for m in ('numpy', 'sklearn', 'umap') if m in sys.modules])"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_tables_that_run_the_methods_are_their_entries():
    assert list(MAP_METHODS) == list(PROJECTIONS) and all(callable(resolve(p.build)) for p in MAP_METHODS.values())
    for name, method in CLUSTER_METHODS.items():
        estimator = clusterer(name, 3, 0)
        step = estimator.clusterer if method.on_manifold else estimator
        assert isinstance(estimator, OnManifold) == method.on_manifold and type(step) is resolve(method.build)
        # every estimator keeps scikit-learn's contract; a trained head (TEMI) is its own, not a Clusterer
        assert isinstance(step, ClusterMixin if method.trained_head else Clusterer)
    assert CLUSTER_METHODS["kmeans"].min_rows == 1 and CLUSTER_METHODS["n2d"].min_rows == 2
    assert (
        CLUSTER_METHODS["umap-hdbscan"].min_rows == CLUSTER_METHODS["hdbscan"].min_rows == hdbscan_min_cluster_size(0)
    )


def blobs(n_per: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    return np.vstack([c + rng.normal(scale=0.5, size=(n_per, 2)) for c in centres]).astype(np.float32)


@pytest.mark.parametrize("name", list(CLUSTER_METHODS))
def test_only_a_clusterer_that_chooses_its_own_count_ignores_the_number_asked_for(name):
    z, method = blobs(), CLUSTER_METHODS[name]
    small = {}  # a trained head, sized to be fast
    if method.trained_head:
        turtle = {"outer_steps": 30, "outer_lr": 5e-2}
        small = turtle if "turtle" in name else {"min_steps": 30, "hidden_dim": 16, "bottleneck_dim": 16}
    two, four = clusterer(name, 2, 0, **small), clusterer(name, 4, 0, **small)
    if method.on_manifold:  # the trait is the clusterer's: the manifold's dimensions follow the number asked for
        two, four = two.clusterer, four.clusterer
    same = np.array_equal(two.fit_predict(z), four.fit_predict(z))
    assert same == method.chooses_own_cluster_count


@pytest.mark.parametrize("name", [n for n, p in MAP_METHODS.items() if not p.neighbour_settings])
def test_projections_without_neighbour_settings_ignore_them(name):
    z = np.random.default_rng(1).normal(size=(40, 6)).astype(np.float32)
    assert np.allclose(
        project(z, name, 2, 0, n_neighbors=5, min_dist=0.0), project(z, name, 2, 0, n_neighbors=30, min_dist=0.9)
    )
