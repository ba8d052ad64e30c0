"""Evaluate / report on the smallest dataset train accepts: what cannot run is skipped with the reason.

The run trains on 4 digits (2 train, 1 val, 1 test rows): HDBSCAN needs 5 rows, a Gaussian mixture
two, cross-validation two rows a class. Those are skipped and say why; k-means, the probes that
can fit, reconstruction and the map still give numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

from core import cli
from core.errors import ConfigError
from core.evaluation import evaluate_run
from core.evaluation.clustering import labelled_clusterings, too_few_rows
from core.evaluation.probes import cv_skip_reason, probe_cv_scores, probe_skip_reason
from core.evaluation.run_evaluation import run_clusters
from core.methods import CLUSTER_METHODS
from core.report import write_report
from core.trained import load_trained
from tests.core.run_fixtures import train_tiny_run


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return load_trained(train_tiny_run(tmp_path_factory.mktemp("runs"), max_samples=4))


@pytest.mark.parametrize("split,rows", [("test", 1), ("val", 1), ("train", 2), ("all", 4)])
def test_each_split_evaluates_and_says_what_it_skipped(tiny, split, rows):
    result = evaluate_run(tiny, split=split).to_dict()
    assert result["n"] == rows
    assert result["clustering"]["kmeans"]["acc"] is not None  # what can run, ran
    assert result["reconstruction"]["mse"] is not None
    skipped = result["skipped"]
    assert skipped["clustering.hdbscan"] == f"needs at least 5 rows, the split has {rows}"
    assert result["clustering"]["hdbscan"]["skipped"] == skipped["clustering.hdbscan"]
    if rows < 2:
        assert (
            "needs at least 2 rows" in skipped["clustering.n2d"]
            and "needs at least 2 rows" in skipped["baselines.umap_gmm_raw"]
        )
    assert "probes_cv" in skipped
    assert (tiny.run.path / f"evaluation-{split}.json").exists()


def test_cli_evaluate_prints_the_skipped_methods(tiny, capsys):
    code = cli.main(["evaluate", tiny.run.id, "--runs-dir", str(tiny.run.path.parent)])
    out = capsys.readouterr().out
    assert code == 0 and "Skipped (too few rows):" in out and "clustering.hdbscan: needs at least 5 rows" in out


def test_report_on_a_tiny_run(tiny, tmp_path):
    text = write_report(tiny, tmp_path / "report.html").read_text()
    assert "Skipped (too few rows)" in text and "needs at least 5 rows" in text


@pytest.mark.parametrize("method", ["hdbscan", "gmm", "n2d", "umap-hdbscan"])
def test_a_clustering_that_cannot_run_is_refused_with_the_reason(tiny, method):
    with pytest.raises(ConfigError, match=f"{method} needs at least"):
        run_clusters(tiny, "test", method)


@pytest.mark.parametrize("command", ["evaluate", "export"])
@pytest.mark.parametrize(
    "flags,message",
    [
        (["--clusters", "0"], "must be at least 1 (got 0)"),
        (["--clusters", "-3"], "must be at least 1 (got -3)"),
        (["--seed", "-1"], "from 0 to 4294967295"),
    ],
    ids=["clusters 0", "clusters -3", "seed -1"],
)
def test_bad_cluster_counts_and_seeds_are_refused(tiny, capsys, tmp_path, command, flags, message):
    out = ["--out", str(tmp_path / "c.csv")] if command == "export" else []
    code = cli.main([command, tiny.run.id, *flags, *out, "--runs-dir", str(tiny.run.path.parent)])
    err = capsys.readouterr().err
    assert code == 2 and message in err, err
    assert not (tmp_path / "c.csv").exists()


@pytest.mark.parametrize("method", list(CLUSTER_METHODS))
@pytest.mark.parametrize("n", [1, 2, 4])
def test_every_pipeline_runs_or_says_why(method, n):
    codes = np.random.default_rng(0).normal(size=(n, 3)).astype(np.float32)
    scores, labels = labelled_clusterings(codes, np.arange(n) % 2, 3, 0, methods=(method,))
    if n < CLUSTER_METHODS[method].min_rows:
        assert scores[method]["skipped"] == too_few_rows(method, n) and method not in labels
    else:
        assert "skipped" not in scores[method] and len(labels[method]) == n


@pytest.mark.parametrize(
    "y,reason", [([0, 0, 0], "two classes"), ([0, 1, 1], "the smallest has 1"), ([0], "two classes")]
)
def test_cross_validation_on_too_few_rows(y, reason):
    assert reason in cv_skip_reason(np.array(y))
    assert probe_cv_scores(np.zeros((len(y), 2)), np.array(y)) == {"knn": None, "logistic": None, "random_forest": None}


def test_probe_skip_reason():
    assert "a classifier needs two" in probe_skip_reason(np.array([3, 3]))
    assert probe_skip_reason(np.array([0, 1])) is None
