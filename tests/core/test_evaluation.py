"""Evaluation: metrics against trusted references, real pipelines on data the test builds itself,
and one tiny digits run trained through core.experiment for the run-level functions and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest
import torch
from PIL import Image
from skimage.metrics import structural_similarity
from sklearn.base import clone
from sklearn.datasets import make_blobs

import core.clusterers as clusterers_module
from core import cli
from core.clusterers import clusterer
from core.config import RunConfig
from core.data import DataSpec
from core.errors import ConfigError, DataError, TrainingDiverged
from core.evaluation import (
    Classification,
    classify_images,
    cluster_accuracy,
    clustering_scores,
    compare_clusterings,
    confusion,
    evaluate_run,
    format_evaluation,
    load_evaluation,
    probe_cv_scores,
    probe_scores,
    reconstruction_errors,
    reconstruction_quality,
    run_clusters,
    run_methods,
    sorted_by,
)
from core.evaluation.clustering import labelled_clusterings
from core.evaluation.reconstruction import per_sample_quality, ssim_window
from core.evaluation.run_evaluation import cluster_rows, run_sorted_by, stored_sorted_by
from core.experiment import execute, start_run
from core.methods import CLUSTER_METHODS
from core.models import ModelConfig
from core.run_cache import run_codes
from core.runs import RunStore
from core.sort_choice import PHOTO_CANDIDATES, SortChoice, modularity_scores, sort_candidates
from core.trained import load_trained
from core.training import TrainConfig

# ------------------------------------------------------------------ the tiny trained run (conftest's `trained`)


@pytest.fixture(scope="session")
def evaluation(trained):
    return evaluate_run(trained, split="test")


def blobs(n=400, centers=4, seed=0):
    x, y = make_blobs(n, n_features=6, centers=centers, cluster_std=0.6, random_state=seed)
    return x.astype(np.float32), y


# --------------------------------------------------------------------------- clustering metrics


class TestClusterAccuracy:
    def test_permuted_labelling_is_perfect(self):
        y = np.repeat(np.arange(5), 20)
        assert cluster_accuracy(y, np.array([3, 0, 4, 1, 2])[y]) == 1.0

    def test_more_clusters_than_labels(self):
        y = np.repeat([0, 1], 10)
        pred = np.r_[np.zeros(10), np.ones(6), np.full(4, 2)]  # label 1 split 6 / 4
        assert cluster_accuracy(y, pred) == pytest.approx(16 / 20)

    def test_fewer_clusters_than_labels(self):
        y = np.repeat([0, 1, 2], 10)
        pred = np.r_[np.zeros(20), np.ones(10)]  # labels 0 and 1 merged
        assert cluster_accuracy(y, pred) == pytest.approx(20 / 30)

    def test_noise_is_never_correct(self):
        y = np.repeat([0, 1], 5)
        pred = np.array([-1, 0, 0, 0, 0, 1, 1, 1, 1, -1])
        assert cluster_accuracy(y, pred) == pytest.approx(8 / 10)

    def test_confusion_is_diagonal_after_matching(self):
        y = np.repeat(np.arange(4), 5)
        matrix, order = confusion(y, np.array([2, 3, 0, 1])[y])
        assert np.array_equal(matrix, np.eye(4, dtype=int) * 5)
        assert order.tolist() == [2, 3, 0, 1]

    def test_scores_without_labels_and_single_cluster(self):
        x, _ = blobs()
        scores = clustering_scores(x, None, np.zeros(len(x), dtype=int))
        assert scores["acc"] is None and scores["nmi"] is None and scores["ari"] is None
        assert scores["silhouette"] is None


def test_every_pipeline_finds_well_separated_blobs():
    x, y = blobs()
    results = compare_clusterings(x, y, n_clusters=4, random_state=0)
    assert set(results) == set(CLUSTER_METHODS) - {
        "n2d-features",
        "temi",
        "temi-features",
        "turtle",
        "turtle-features",
    }  # a run's features; a trained head
    for method, scores in results.items():
        assert scores["acc"] >= 0.99, method
        assert scores["nmi"] >= 0.97 and scores["silhouette"] > 0.5, method
        assert scores["seconds"] >= 0


def test_pipelines_on_the_manifold_share_one_umap(monkeypatch):
    x, y = blobs()
    calls = []
    real = clusterers_module.umap_manifold
    monkeypatch.setattr(clusterers_module, "umap_manifold", lambda *a, **k: calls.append(1) or real(*a, **k))
    scores, labels = labelled_clusterings(x, y, 4, random_state=0)
    on_manifold = [name for name, m in CLUSTER_METHODS.items() if m.on_manifold and m.reads == "codes"]
    assert len(calls) == 1 and set(on_manifold) == {"umap-kmeans", "umap-hdbscan", "umap-agglomerative", "n2d"}
    assert all(scores[m]["acc"] >= 0.99 for m in on_manifold)
    n2d = clusterer("n2d", 4, random_state=0).fit_predict(x)
    assert np.array_equal(labels["n2d"], n2d) and len(calls) == 2  # the same labels as on its own


def test_unknown_method_in_a_comparison_is_named():
    x, y = blobs()
    with pytest.raises(ConfigError, match="Unknown clustering method 'umap-dbscan'.*umap-hdbscan"):
        labelled_clusterings(x, y, 4, methods=("kmeans", "umap-dbscan"))


def test_n2d_is_seeded():
    x, _ = blobs(300, centers=3)
    n2d = clusterer("n2d", 3, random_state=1)
    assert np.array_equal(n2d.fit_predict(x), clone(n2d).fit_predict(x))


def test_unknown_clustering_method_lists_the_valid_ones(trained):
    with pytest.raises(ConfigError, match="kmeans.*n2d"):
        run_clusters(trained, "test", method="dbscan")


def on_features(trained, features: np.ndarray):
    """`trained` as if it had been trained on a backbone's `features` (what TrainedRun.inputs then holds)."""
    config = dataclasses.replace(
        trained.config, features=dataclasses.replace(trained.config.features, backbone="efficientnet-lite0")
    )
    return dataclasses.replace(trained, config=config, inputs=torch.as_tensor(features))


def test_a_feature_run_sorts_by_n2d_on_the_features_it_read(trained):
    assert sorted_by(trained.config) == "n2d" and "n2d-features" not in run_methods(trained.config)
    with pytest.raises(ConfigError, match="not on a backbone's features, so n2d-features has nothing to cluster"):
        run_clusters(trained, "test", "n2d-features")
    x, y = blobs(len(trained.dataset), centers=4)
    featured = on_features(trained, x)
    assert sorted_by(featured.config) == "n2d-features" and "n2d-features" in run_methods(featured.config)
    labels = run_clusters(featured, "test", "n2d-features", n_clusters=4)
    test = trained.splits.test
    np.testing.assert_array_equal(labels, clusterer("n2d", 4, random_state=0).fit_predict(x[test]))
    assert cluster_accuracy(y[test], labels) >= 0.99  # the blobs, not the digits the codes hold
    assert "temi" not in run_methods(featured.config) and "temi" in run_methods(featured.config, heads=True)


def with_its_codes(trained, features: np.ndarray):
    """on_features, its codes those the model gives its pixels (cached first: they are what the run keeps)."""
    run_codes(trained, "all")
    return on_features(trained, features)


def test_a_feature_run_chooses_what_it_sorts_by_without_labels_and_keeps_the_choice(trained):
    x, _ = blobs(len(trained.dataset), centers=4)
    featured = with_its_codes(trained, x)
    assert stored_sorted_by(featured, "all", 4) is None  # not chosen yet: a page opens on the default
    choice = run_sorted_by(featured, "all", 4)
    assert choice.candidates == sort_candidates(featured.config, len(featured.dataset))
    assert choice.candidates[:3] == PHOTO_CANDIDATES and not np.isnan(choice.scores).any()
    # Four tight blobs in the features, ten digits in the codes: the graph of the features is what decides.
    assert choice.method == "n2d-features" and choice.scores[0] == max(choice.scores)
    assert stored_sorted_by(featured, "all", 4) == choice  # kept in the run folder
    # The partitions it scored are the ones every later step reads.
    labels = run_clusters(featured, "all", "umap-kmeans", n_clusters=4)
    assert modularity_scores([labels], cluster_rows(featured, "all", "n2d-features"))[0] == choice.scores[2]
    # A run on pixels has nothing to choose from: N2D on its codes, with no scores.
    assert run_sorted_by(trained, "all", 4) == SortChoice("n2d") == stored_sorted_by(trained, "all", 4)


def test_a_temi_head_on_the_features_joins_the_candidates_where_the_rows_allow(trained, monkeypatch):
    from core import sort_choice

    x, _ = blobs(len(trained.dataset), centers=4)
    featured = with_its_codes(trained, x)
    n = len(trained.dataset)
    monkeypatch.setattr(sort_choice, "HEAD_ROWS", range(n + 1, 10**6))  # too few rows for the head
    assert "temi-features" not in run_methods(featured.config, rows=n)
    assert run_sorted_by(featured, "all", 4).candidates == PHOTO_CANDIDATES
    monkeypatch.setattr(sort_choice, "HEAD_ROWS", range(10, 10**6))
    assert "temi-features" in run_methods(featured.config, rows=n)  # evaluate scores it in its table too
    assert "temi-features" not in run_methods(trained.config, rows=n)  # a run on pixels has no features
    choice = run_sorted_by(featured, "all", 4)
    assert choice.candidates == (*PHOTO_CANDIDATES, "temi-features") and not np.isnan(choice.scores).any()
    labels = run_clusters(featured, "all", "temi-features", n_clusters=4)  # cached: the very partition scored
    assert modularity_scores([labels], cluster_rows(featured, "all", "n2d-features"))[0] == choice.scores[3]


def test_a_head_candidate_that_diverges_is_left_out_of_the_choice_not_a_failure(trained, monkeypatch):
    from core import sort_choice
    from core.evaluation.clustering import labelled_clusterings
    from core.heads import temi

    def diverge(self, X, y=None):
        raise TrainingDiverged("TEMI training diverged: the loss became NaN at step 3. Lower the learning rate.")

    monkeypatch.setattr(temi.TEMIClusterer, "fit", diverge)
    monkeypatch.setattr(sort_choice, "HEAD_ROWS", range(10, 10**6))
    x, _ = blobs(len(trained.dataset), centers=3)
    featured = with_its_codes(trained, x)
    choice = run_sorted_by(featured, "all", 3)  # 3 groups: no head cached by another test
    assert choice.candidates[-1] == "temi-features" and np.isnan(choice.scores[-1])
    assert choice.method in PHOTO_CANDIDATES and "temi" not in choice.reason().lower()
    with pytest.raises(TrainingDiverged, match="Lower the learning rate"):  # no garbage labels were kept for it
        run_clusters(featured, "all", "temi-features", n_clusters=3)
    # In evaluate: a skipped row that says why, when the head is there only as a candidate; asked for, it raises.
    scores, labels = labelled_clusterings(x, None, 3, 0, ("kmeans", "temi-features"), tolerate=("temi-features",))
    assert "diverged" in scores["temi-features"]["skipped"] and set(labels) == {"kmeans"}
    with pytest.raises(TrainingDiverged):
        labelled_clusterings(x, None, 3, 0, ("temi-features",))


@pytest.mark.slow  # a whole evaluation of the fixture run, read as features
def test_evaluate_names_the_chosen_clustering_as_sorted_by(trained, monkeypatch):
    from core.evaluation import run_evaluation

    # The stand-in features are no image the model could redraw: its reconstruction is beside the point here.
    monkeypatch.setattr(run_evaluation._Evaluation, "reconstruction", lambda self: {})
    x, _ = make_blobs(len(trained.dataset), n_features=trained.inputs[0].numel(), centers=4, random_state=0)
    featured = with_its_codes(trained, x.astype(np.float32))  # as wide as its inputs: the model reconstructs them
    result = evaluate_run(featured, "all", n_clusters=4, save=False, skip=("baselines", "probes"))
    choice = run_sorted_by(featured, "all", 4)
    assert result.sorted_by == choice.method == result.extra["sort_choice"]["method"]
    assert set(result.extra["sort_choice"]["scores"]) == set(sort_candidates(featured.config, len(featured.dataset)))
    assert set(result.extra["sort_choice"]["scores"]) <= set(result.clustering)  # each scored in the table too
    assert "whose groups keep their neighbours best" in format_evaluation(result)


# --------------------------------------------------------------------------- probes


def test_probes_read_blobs_perfectly():
    x, y = blobs(300)
    scores = probe_scores(x[:200], y[:200], x[200:], y[200:], random_state=0)
    assert scores == {"knn": 1.0, "logistic": 1.0, "random_forest": 1.0}
    cv = probe_cv_scores(x, y, random_state=0)
    assert set(cv) == {"knn", "logistic", "random_forest"} and min(cv.values()) >= 0.99


def test_probe_cv_is_none_when_a_class_is_too_small():
    x, y = blobs(40, centers=2)
    y[0] = 2  # a class of one row cannot be stratified over two folds
    assert set(probe_cv_scores(x, y).values()) == {None}


# --------------------------------------------------------------------------- reconstruction


def test_perfect_reconstruction():
    x = np.random.default_rng(0).random((6, 1, 8, 8)).astype(np.float32)
    quality = reconstruction_quality(x, x, "image")
    assert quality["mse"] == 0.0 and quality["ssim"] == pytest.approx(1.0) and quality["psnr"] == pytest.approx(100.0)


@pytest.mark.parametrize("shape", [(5, 1, 8, 8), (3, 3, 16, 16), (2, 1, 28, 28)])
def test_ssim_matches_skimage_per_image(shape):
    rng = np.random.default_rng(1)
    x = rng.random(shape)
    x_hat = np.clip(x + 0.1 * rng.normal(size=shape), 0, 1)
    ours = per_sample_quality(x, x_hat, "image")["ssim"]
    win = ssim_window(*shape[2:])
    reference = [
        structural_similarity(a.transpose(1, 2, 0), b.transpose(1, 2, 0), data_range=1.0, channel_axis=-1, win_size=win)
        for a, b in zip(x, x_hat)
    ]
    np.testing.assert_allclose(ours, reference, atol=1e-10)


def test_tables_get_mse_only():
    x = np.random.default_rng(0).normal(size=(10, 4))
    quality = reconstruction_quality(x, x + 0.5, "table")
    assert quality["mse"] == pytest.approx(0.25) and quality["psnr"] is None and quality["ssim"] is None


def test_reconstruction_errors_match_the_model(trained):
    x = trained.dataset.x[:7]
    with torch.no_grad():
        expected = ((trained.model.decode(trained.model.encode(x)) - x) ** 2).flatten(1).mean(1).numpy()
    np.testing.assert_allclose(reconstruction_errors(trained.model, x), expected, rtol=1e-5)


# --------------------------------------------------------------------------- a whole run


@pytest.mark.slow  # the `evaluation` fixture: about 12 s on 2 idle cores
def test_evaluate_run_reports_everything(trained, evaluation):
    r = evaluation.to_dict()  # what evaluation-test.json holds
    assert r["split"] == "test" and r["n"] == len(trained.splits.test) and r["n_clusters"] == 10
    assert (
        set(r["clustering"])
        == set(run_methods(trained.config))
        == set(CLUSTER_METHODS) - {"n2d-features", "temi", "temi-features", "turtle", "turtle-features"}
    )
    assert r["sorted_by"] == sorted_by(trained.config) == "n2d"  # a run on pixels sorts by N2D on its codes
    for scores in [*r["clustering"].values(), *r["baselines"].values()]:
        assert {"acc", "nmi", "ari", "silhouette", "seconds"} <= set(scores)
        assert 0 <= scores["acc"] <= 1
    assert set(r["baselines"]) == {"kmeans_raw", "kmeans_pca", "umap_gmm_raw"}
    for features in ("codes", "raw", "pca"):
        assert set(r["probes"][features]) == {"knn", "logistic", "random_forest"}
        assert all(0 < v <= 1 for v in r["probes"][features].values())
        assert all(0 < v <= 1 for v in r["probes_cv"][features].values())
    assert r["probes"]["raw"]["logistic"] > 0.9  # digits are easy for a linear probe on pixels
    assert 0 < r["reconstruction"]["mse"] < 0.2 and 0 < r["reconstruction"]["ssim"] <= 1
    assert 0.5 < r["trustworthiness"] <= 1
    assert r["seconds"] > 0  # how long, not a bar: timings live in benchmarks/ (shared machines are noisy)
    json.dumps(r, allow_nan=False)  # plain JSON, no NaN
    assert "N2D" in format_evaluation(evaluation)
    assert "Sorted by (the Latent space page and export, by default): N2D: UMAP of codes + GMM (n2d)" in (
        format_evaluation(evaluation)
    )


@pytest.mark.slow  # the `evaluation` fixture
def test_stored_evaluation_follows_the_checkpoint(trained, evaluation):
    assert load_evaluation(trained.run, "test") == evaluation
    assert load_evaluation(trained.run, "val") is None
    # The cluster labels the evaluation scored are the ones the dashboard gets back.
    labels = run_clusters(trained, "test", "n2d")
    y = trained.dataset.y.numpy()[trained.splits.test]
    assert cluster_accuracy(y, labels) == pytest.approx(evaluation.clustering["n2d"].acc)
    stat = trained.run.checkpoint_path.stat()
    try:
        os.utime(trained.run.checkpoint_path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        assert load_evaluation(trained.run, "test") is None  # numbers of other weights
    finally:
        os.utime(trained.run.checkpoint_path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_bad_split_and_cluster_count(trained):
    with pytest.raises(ConfigError, match="test, val, train, all"):
        evaluate_run(trained, split="holdout")
    with pytest.raises(ConfigError, match="at least 1"):
        evaluate_run(trained, n_clusters=-3)


# --------------------------------------------------------------------------- classifying new images


def _digit_image(trained, row: int, size: int = 32) -> Image.Image:
    pixels = (trained.dataset.x[row, 0].numpy() * 255).astype(np.uint8)
    return Image.fromarray(pixels).resize((size, size), Image.Resampling.NEAREST)


@pytest.mark.slow  # about 8 s: UMAP and the clusterers on the run's codes
def test_classify_images(trained, tmp_path):
    row = int(trained.splits.train[0])
    path = tmp_path / "digit.png"
    _digit_image(trained, row).convert("RGBA").save(path)
    results = classify_images(trained, [_digit_image(trained, row), str(path)], k=3)
    assert len(results) == 2 and all(isinstance(r, Classification) for r in results)
    first, second = results
    assert first.source == "image 0" and second.source == str(path)
    assert first.recon.shape == (8, 8, 1) and first.recon.dtype == np.uint8
    assert len(first.neighbors) == 3 and first.neighbors[0].distance <= first.neighbors[2].distance
    assert all(n.index in set(trained.splits.train.tolist()) for n in first.neighbors)
    assert first.cluster >= 0 and first.cluster_label in trained.dataset.classes
    assert first.error >= 0
    assert first.cluster == second.cluster  # a PIL image and its file on disk are the same input


def test_classify_rejects_unreadable_files(trained, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(DataError, match="notes.png"):
        classify_images(trained, [bad])
    with pytest.raises(DataError, match="no such file"):
        classify_images(trained, [tmp_path / "missing.png"])


# --------------------------------------------------------------------------- the CLI


@pytest.mark.slow  # about 12 s on 2 idle cores: every clusterer, baseline and probe of `latentboard evaluate`
def test_cli_evaluate_json(trained, capsys):
    code = cli.main(
        ["evaluate", trained.run.id, "--runs-dir", str(trained.run.path.parent), "--split", "val", "--json"]
    )
    out = capsys.readouterr().out
    assert code == 0
    result = json.loads(out)  # exactly one JSON object on stdout
    assert result["sorted_by"] == "n2d" and result["sorted_by"] in result["clustering"]
    for method in (
        "kmeans",
        "gmm",
        "hdbscan",
        "agglomerative",
        "umap-kmeans",
        "umap-hdbscan",
        "umap-agglomerative",
        "n2d",
    ):
        assert {"acc", "nmi", "ari", "silhouette"} <= set(result["clustering"][method])
    for features in ("codes", "raw", "pca"):
        for probe in ("knn", "logistic", "random_forest"):
            assert isinstance(result["probes"][features][probe], float)
    assert result["split"] == "val"


def test_cli_classify_prints_one_line_per_image(trained, tmp_path, capsys):
    paths = []
    for i, row in enumerate(trained.splits.train[:2]):
        paths.append(tmp_path / f"d{i}.png")
        _digit_image(trained, int(row)).save(paths[-1])
    code = cli.main(["classify", trained.run.id, *map(str, paths), "--runs-dir", str(trained.run.path.parent)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 2
    assert lines[0].startswith(str(paths[0])) and "cluster" in lines[0] and "likely label" in lines[0]


def test_cli_bad_inputs_give_one_line(trained, tmp_path, capsys):
    runs = str(trained.run.path.parent)
    assert cli.main(["evaluate", "no-such-run", "--runs-dir", runs]) == 2
    assert "No run no-such-run" in capsys.readouterr().err
    bad = tmp_path / "x.png"
    bad.write_bytes(b"\x89PNG broken")
    assert cli.main(["classify", trained.run.id, str(bad), "--runs-dir", runs]) == 2
    err = capsys.readouterr().err
    assert "x.png" in err and len(err.strip().splitlines()) == 1
    untrained = start_run(RunStore(runs), RunConfig(data=DataSpec("digits")))
    assert cli.main(["report", untrained.id, "--runs-dir", runs]) == 2
    err = capsys.readouterr().err
    assert "checkpoint" in err and len(err.strip().splitlines()) == 1


# --------------------------------------------------------------------------- a table without labels


def test_unlabelled_table_run(tmp_path):
    x, _ = blobs(240, centers=3)
    csv = tmp_path / "points.csv"
    np.savetxt(csv, x, delimiter=",", header=",".join(f"f{i}" for i in range(x.shape[1])), comments="")
    config = RunConfig(
        data=DataSpec("table", path=str(csv)),
        model=ModelConfig("dense", latent_dim=2, width=16),
        train=TrainConfig(epochs=1, device="cpu"),
    )
    run = start_run(RunStore(tmp_path / "runs"), config)
    for _ in execute(run):
        pass
    table = load_trained(run)
    r = evaluate_run(table, split="all", n_clusters=3)
    assert r.has_labels is False and not r.labelled and r.n == 240
    assert all(s.acc is None and s.nmi is None for s in r.clustering.values())
    assert r.probes.held_out["codes"]["knn"] is None
    assert r.reconstruction.mse > 0 and r.reconstruction.ssim is None
    assert "no labels" in format_evaluation(r)
    with pytest.raises(ConfigError, match="table"):
        classify_images(table, [Image.new("L", (8, 8))])


@pytest.mark.slow  # every clustering of the test split, and a small TEMI head
def test_trained_heads_are_scored_only_when_asked(trained, monkeypatch):
    from core.heads.temi import TEMIClusterer

    small = {**TEMIClusterer.__init__.__kwdefaults__, "min_steps": 30, "hidden_dim": 16, "bottleneck_dim": 16}
    monkeypatch.setattr(TEMIClusterer.__init__, "__kwdefaults__", small)  # a head sized for a test
    from core.heads.turtle import TURTLEClusterer

    quick = {**TURTLEClusterer.__init__.__kwdefaults__, "outer_steps": 30, "outer_lr": 5e-2}
    monkeypatch.setattr(TURTLEClusterer.__init__, "__kwdefaults__", quick)
    skip = ("baselines", "probes")
    plain = evaluate_run(trained, "test", save=False, skip=skip)
    with_heads = evaluate_run(trained, "test", save=False, skip=skip, heads=True)
    temi = with_heads.clustering["temi"]  # the fixture's 2-epoch codes cluster poorly whatever reads them
    assert "temi" not in plain.clustering and temi.acc is not None and temi.n_clusters >= 2 and temi.skipped is None
    assert with_heads.clustering["n2d"].acc == plain.clustering["n2d"].acc  # the head changes nothing else


def test_per_sample_errors_are_the_same_a_chunk_at_a_time():
    from core.evaluation.reconstruction import mse_per_sample, ssim_per_sample

    rng = np.random.default_rng(0)
    x, x_hat = rng.random((10, 1, 8, 8)).astype(np.float32), rng.random((10, 1, 8, 8)).astype(np.float32)
    whole = ((x.astype(np.float64) - x_hat) ** 2).reshape(10, -1).mean(axis=1)
    np.testing.assert_allclose(mse_per_sample(x, x_hat, chunk=3), whole)
    each = [structural_similarity(a[0], b[0], data_range=1.0, win_size=7) for a, b in zip(x, x_hat)]
    np.testing.assert_allclose(ssim_per_sample(x, x_hat), each, atol=1e-6)


def test_reconstruction_quality_streamed_in_chunks_equals_it_whole(trained):
    from core.evaluation.reconstruction import reconstruct, reconstruction_quality, streamed_reconstruction_quality

    index = np.asarray(trained.splits.test)
    x = trained.inputs[torch.as_tensor(index)].numpy()
    whole = reconstruction_quality(x, reconstruct(trained.model, x), "image")
    streamed = streamed_reconstruction_quality(trained.model, trained.inputs, index, "image", chunk=50)
    assert streamed.keys() == whole.keys() and all(v is not None for v in streamed.values())
    for key in whole:
        assert streamed[key] == pytest.approx(whole[key], rel=1e-6)
    assert streamed_reconstruction_quality(trained.model, trained.inputs, index[:0]) == dict.fromkeys(whole)
