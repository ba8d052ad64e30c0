"""Evaluation that scales: wide raw inputs (photos) reach the baselines and probes as a seeded
PCA-50, the tables say so, narrow ones stay as they are, and `evaluate --json` still reports its
steps on stderr. Data built here: blobs in 1,200 dims, and digits blown up to 40 px (1,600 values).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from core import cli
from core.config import DataSpec, RunConfig
from core.evaluation.clustering import RAW_COMPONENTS, clustering_baselines, reduce_raw
from core.evaluation.result import EvaluationResult
from core.evaluation.run_evaluation import STEPS
from core.evaluation.tables import clustering_table, probes_table
from core.evaluation.text import format_evaluation
from core.experiment import execute, start_run
from core.gate import prepare
from core.models import ModelConfig
from core.runs import RunStore
from core.training import TrainConfig


def blobs(rows: int, dims: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(rows) % 3
    centres = rng.normal(0, 4, size=(3, dims))
    return (centres[y] + rng.normal(0, 1, size=(rows, dims))).astype(np.float32), y


def test_wide_inputs_are_reduced_to_a_seeded_pca_and_narrow_ones_kept():
    wide, _ = blobs(120, 1200)
    (fit, other), components = reduce_raw(wide, [wide[:7]], random_state=0)
    assert components == RAW_COMPONENTS and fit.shape == (120, RAW_COMPONENTS) and other.shape == (7, RAW_COMPONENTS)
    np.testing.assert_allclose(other, fit[:7], rtol=1e-5, atol=1e-4)
    (again, _), _ = reduce_raw(wide, [wide[:7]], random_state=0)
    np.testing.assert_array_equal(fit, again)  # seeded: the same numbers every time
    narrow, _ = blobs(120, 784)
    (same,), none = reduce_raw(narrow, [], random_state=0)
    assert none is None and same is narrow


def test_baselines_on_wide_inputs_are_those_on_their_pca():
    wide, y = blobs(150, 1200)
    direct = clustering_baselines(wide, y, 3, 4, 0)
    (reduced,), _ = reduce_raw(wide, [], 0)
    via_pca = clustering_baselines(reduced, y, 3, 4, 0)  # what evaluate_run hands the second process
    for name in ("kmeans_raw", "kmeans_pca", "umap_gmm_raw"):
        assert direct[name]["acc"] == pytest.approx(via_pca[name]["acc"])
    assert direct["kmeans_raw"]["acc"] == 1.0  # three blobs, as plain in 50 dims as in 1,200


def test_the_tables_name_the_reduction():
    rows = {"acc": 0.5, "nmi": 0.4, "ari": 0.3, "silhouette": 0.1, "seconds": 1.0}
    values = {
        "split": "all",
        "n": 10,
        "n_clusters": 3,
        "baselines": {"kmeans_raw": rows, "kmeans_pca": rows, "umap_gmm_raw": rows},
        "probes": {"raw": {"knn": 0.5}},
        "probes_cv": {"raw": {"knn": 0.5}},
    }
    plain = [row.label for row in clustering_table(EvaluationResult.from_dict(values)).rows]
    assert plain == [
        "k-means on raw inputs (baseline)",
        "k-means on PCA (baseline)",
        "UMAP of raw inputs + GMM (baseline)",
    ]
    reduced = EvaluationResult.from_dict({**values, "raw_pca": 50})
    assert [row.label for row in clustering_table(reduced).rows] == [
        "k-means on raw inputs (PCA-50) (baseline)",
        "k-means on PCA (baseline)",
        "UMAP of raw inputs (PCA-50) + GMM (baseline)",
    ]
    assert [row.label for row in probes_table(reduced).rows] == ["raw inputs (PCA-50)"]
    assert "PCA-50" in format_evaluation(reduced)
    assert reduced.to_dict()["raw_pca"] == 50  # kept through a round trip


@pytest.fixture(scope="module")
def wide_run(tmp_path_factory):
    """Digits blown up to 40 x 40 (1,600 values a row): one epoch of a small dense AE."""
    config = RunConfig(
        data=DataSpec("digits", max_samples=90, image_size=40),
        model=ModelConfig("dense", latent_dim=4, width=16, depth=1),
        train=TrainConfig(epochs=1, batch_size=64, device="cpu"),
    )
    run = start_run(RunStore(tmp_path_factory.mktemp("runs")), config)
    list(execute(run, dataset=prepare(config)))
    return run


def test_evaluate_json_keeps_stdout_one_object_and_reports_steps_on_stderr(wide_run, capsys):
    runs = str(wide_run.path.parent)
    assert cli.main(["evaluate", wide_run.id, "--runs-dir", runs, "--split", "all", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # exactly one JSON object, nothing else on stdout
    steps = [line for line in captured.err.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in steps] == [f"[{i}/{len(STEPS)}" for i in range(1, len(STEPS) + 1)]
    assert "Baselines" in captured.err and "Probes" in captured.err
    assert result["raw_pca"] == RAW_COMPONENTS  # 1,600 values a row: reduced, and the result says so
    assert set(result["baselines"]) == {"kmeans_raw", "kmeans_pca", "umap_gmm_raw"}
    assert isinstance(result["probes"]["raw"]["logistic"], float)
    assert cli.main(["evaluate", wide_run.id, "--runs-dir", runs, "--split", "test"]) == 0
    out = capsys.readouterr().out
    assert "k-means on raw inputs (PCA-50) (baseline)" in out and "raw inputs (PCA-50)" in out
