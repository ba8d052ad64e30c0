"""EvaluationResult reads and writes the evaluation JSON both ways; one builder makes its table rows."""

from __future__ import annotations

import json

from core.evaluation.result import ClusteringScores, EvaluationResult
from core.evaluation.tables import clustering_table, probes_table, quality_table, skipped_lines
from core.evaluation.text import format_evaluation, n2d_line
from core.figures import table_frame


def scores(acc, seconds=0.5, **more):
    return {
        "acc": acc,
        "nmi": 0.5,
        "ari": 0.25,
        "silhouette": 0.1,
        "n_clusters": 3,
        "noise": 0.0,
        "seconds": seconds,
        **more,
    }


FULL = {  # what evaluation_steps stores today
    "latent_dim": 8,
    "clustering": {
        "n2d": scores(0.9),
        "kmeans": scores(0.8),
        "hdbscan": {**scores(None, 0.0), "n_clusters": None, "noise": None, "skipped": "needs at least 5 rows"},
    },
    "reconstruction": {"mse": 0.0123456, "psnr": 21.5, "ssim": 0.75},
    "trustworthiness": 0.93,
    "baselines": {"kmeans_raw": scores(0.7)},
    "probes": {"codes": {"knn": 0.95, "logistic": 0.9, "random_forest": 0.85}},
    "probes_cv": {"codes": {"knn": 0.94, "logistic": 0.89, "random_forest": 0.84}},
    "probe_protocol": "fit on train (90 rows), scored on test",
    "run_id": "20240101-000000-abcd",
    "dataset": "digits",
    "split": "test",
    "n": 30,
    "n_clusters": 3,
    "has_labels": True,
    "random_state": 0,
    "n2d_neighbors": 20,
    "checkpoint": "123-456",
    "epochs_done": 2,
    "seconds": 4.5,
    "timings": {"encode": 0.1, "n2d": 2.0},
    "left_out": [],
    "skipped": {"clustering.hdbscan": "needs at least 5 rows"},
}


def test_a_stored_result_round_trips_unchanged():
    result = EvaluationResult.from_dict(json.loads(json.dumps(FULL)))
    assert result.to_dict() == FULL
    assert result.clustering["n2d"] == ClusteringScores(0.9, 0.5, 0.25, 0.1, 3, 0.0, 0.5)
    assert result.clustering["hdbscan"].skipped == "needs at least 5 rows"
    assert result.probes.cross_validated["codes"]["knn"] == 0.94 and result.map.trustworthiness == 0.93
    assert result.best_clustering()[0] == "n2d"


def test_parts_not_run_are_none_and_stay_out_of_the_file():
    partial = {k: v for k, v in FULL.items() if k not in ("baselines", "probes", "probes_cv", "probe_protocol")}
    partial["left_out"] = ["baselines", "probes"]
    result = EvaluationResult.from_dict(partial)
    assert result.baselines is None and result.probes is None
    assert result.to_dict() == partial
    empty = EvaluationResult.from_dict({})  # the first event of a stream, before any step finished
    assert empty.clustering is None and empty.map is None and empty.best_clustering() is None


def test_an_old_file_loads_and_unknown_keys_are_kept():
    old = {
        "split": "val",
        "n": 5,
        "n_clusters": 2,
        "clustering": {"kmeans": {"acc": 0.5, "seconds": 0.1}},
        "trustworthiness": None,
        "some_future_key": [1, 2],
    }
    result = EvaluationResult.from_dict(old)
    assert result.labelled and result.timings == {} and result.left_out == () and result.map.trustworthiness is None
    again = result.to_dict()
    assert again["some_future_key"] == [1, 2] and again["clustering"]["kmeans"]["acc"] == 0.5
    assert EvaluationResult.from_dict(again) == result


def test_one_builder_of_rows_for_text_report_and_page():
    result = EvaluationResult.from_dict(FULL)
    table = clustering_table(result)
    assert [row.label for row in table.rows] == [
        "N2D: UMAP of codes + GMM",
        "k-means on codes",
        "HDBSCAN on codes",
        "k-means on raw inputs (baseline)",
    ]
    assert [row.baseline for row in table.rows] == [False, False, False, True]
    header, first, *_ = table.formatted()
    assert header[:2] == ("pipeline", "ACC") and first[1] == "0.900" and first[-1] == "0.5"
    probes = probes_table(result)
    assert probes.rows[0].label == "autoencoder codes" and probes.rows[0].values[-1] == 0.84
    quality = quality_table(result)
    assert quality.columns == ("split", "reconstruction MSE", "PSNR (dB)", "SSIM", "map trustworthiness")
    assert quality.formatted()[1] == ("test", "0.01235", "21.50", "0.750", "0.930")
    frame = table_frame(table)  # the Evaluate page's frame: numbers, labelled rows
    assert frame.loc["k-means on codes", "ACC"] == 0.8 and frame.isna().loc["HDBSCAN on codes", "ACC"]
    assert skipped_lines(result) == ["clustering.hdbscan: needs at least 5 rows"]


def test_tables_without_pictures_leave_out_psnr_and_ssim():
    result = EvaluationResult.from_dict({**FULL, "reconstruction": {"mse": 0.5, "psnr": None, "ssim": None}})
    assert quality_table(result).columns == ("split", "reconstruction MSE", "map trustworthiness")


def test_cli_text_reads_the_same_rows():
    result = EvaluationResult.from_dict(FULL)
    text = format_evaluation(result)
    for piece in (
        "N2D: UMAP of codes + GMM",
        "k-means on raw inputs (baseline)",
        "autoencoder codes",
        "0.01235",
        "fit on train (90 rows)",
        "clustering.hdbscan: needs at least 5 rows",
    ):
        assert piece in text, piece
    assert n2d_line(result) == "N2D: UMAP of codes + GMM: ACC 0.900, NMI 0.500, ARI 0.250 on 30 test rows (0.5 s)"
    no_probes = EvaluationResult.from_dict({**FULL, "left_out": ["probes"]})
    assert "Probes: left out on request" in format_evaluation(no_probes)
