"""The HTML report: one self-contained file with its figures, images and metrics."""

from __future__ import annotations

import re

import numpy as np

from core import cli
from core.evaluation import EvaluationResult
from core.report import picture_pairs, png_data_uri, render_report, write_report


def test_report_is_one_self_contained_file(trained):
    path = write_report(trained)
    assert path == trained.run.path / "report.html"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # plotly.js inlined exactly once, nothing fetched from the network
    assert text.count("plotly.js v") == 1 or len(re.findall(r"\* plotly\.js", text)) == 1
    assert not re.search(r"<script[^>]+src=", text) and "<link" not in text
    images = re.findall(r'<img[^>]+src="([^"]*)"', text)
    assert images and all(src.startswith("data:image/png;base64,") for src in images)
    assert text.count("Plotly.newPlot") == 1 and text.count('id="latent-map"') == 1  # loss curves; the map (JS)
    for piece in (
        "Loss curves",
        "Reconstructions",
        "Latent map",
        "N2D",
        "k-means on raw inputs",
        "Probes",
        "latent_dim",
    ):
        assert piece in text, piece


def test_cli_report_to_a_chosen_file(trained, tmp_path, capsys):
    out = tmp_path / "sub" / "r.html"
    code = cli.main(["report", trained.run.id, "--runs-dir", str(trained.run.path.parent), "--out", str(out)])
    assert code == 0 and out.is_file()
    assert str(out) in capsys.readouterr().out


def test_render_uses_the_evaluation_given(trained):
    evaluation = EvaluationResult.from_dict(
        {
            "split": "test",
            "n": 1,
            "n_clusters": 2,
            "random_state": 0,
            "has_labels": True,
            "clustering": {"kmeans": {"acc": 0.123456, "nmi": None, "ari": None, "silhouette": None}},
            "baselines": {},
            "probes": {},
            "probes_cv": {},
            "reconstruction": {},
            "trustworthiness": None,
        }
    )
    html = render_report(trained, evaluation)
    assert "0.123" in html and "k-means on codes" in html


def test_picture_pairs_and_png():
    a = np.zeros((3, 4, 5, 1), dtype=np.uint8)
    b = np.full((3, 4, 5, 1), 200, dtype=np.uint8)
    uri = picture_pairs(a, b)
    assert uri.startswith("data:image/png;base64,iVBOR")
    assert png_data_uri(np.zeros((4, 5), np.uint8)).startswith("data:image/png;base64,iVBOR")


def test_an_old_evaluation_file_still_renders(trained):
    """A file written before probes_cv, timings, skipped and left_out existed."""
    old = {
        "split": "test",
        "n": 3,
        "n_clusters": 2,
        "seconds": 1.0,
        "clustering": {"n2d": {"acc": 0.5, "nmi": 0.25, "ari": 0.1, "silhouette": 0.3, "seconds": 0.2}},
        "baselines": {"kmeans_raw": {"acc": 0.4, "nmi": 0.2, "ari": 0.05, "silhouette": 0.2, "seconds": 0.1}},
        "probes": {"codes": {"knn": 0.9, "logistic": 0.8, "random_forest": 0.7}},
        "reconstruction": {"mse": 0.01, "psnr": 20.0, "ssim": 0.9},
        "trustworthiness": 0.95,
    }
    html = render_report(trained, EvaluationResult.from_dict(old))
    for piece in ("N2D: UMAP of codes + GMM", "k-means on raw inputs (baseline)", "0.500", "0.95", "20.00"):
        assert piece in html, piece


def test_the_report_map_walks_the_tour_and_carries_one_sprite_sheet(trained):
    from core.report_map import map_payload
    from core.sorting import save_sorting, sorting_path, start
    from core.tour import Step, Tour, save_tour, tour_path

    rows = tuple(trained.splits.get("all")[:5].tolist())
    tour = Tour(trained.run.id, len(trained.dataset))
    tour = tour.added(Step("By label.", split="all", colour="label"))
    tour = tour.added(
        Step("Named clusters.", split="all", colour="cluster", clusterer="kmeans", n_clusters=4, rows=rows)
    )
    save_tour(trained.run.path, tour)
    save_sorting(trained.run.path, start("kmeans", 4, len(trained.dataset)).renamed(2, "loops"))
    try:
        payload, problem = map_payload(trained, "test")
        text = render_report(trained)
    finally:
        tour_path(trained.run.path).unlink()
        sorting_path(trained.run.path).unlink()
    assert problem is None and payload["n"] == len(trained.dataset)  # the tour's split: every row
    assert [v["caption"] for v in payload["views"]] == ["By label.", "Named clusters."]
    assert payload["views"][1]["selected"] == [0, 1, 2, 3, 4] and not payload["views"][0]["selected"]
    clusters = payload["colourings"][payload["views"][1]["colouring"]]
    assert "loops" in clusters["names"]  # the team's name for cluster 2, from sorting.json
    assert len(payload["maps"]) == 1 and all(len(m["x"]) == payload["n"] for m in payload["maps"].values())
    assert text.count("data:image/png;base64,") + text.count("data:image/jpeg;base64,") == 3  # 2 grids + 1 sheet
    assert "Named clusters." in text and 'id="tour-next"' in text


def test_a_tour_of_another_run_leaves_the_report_with_a_notice_and_no_tour(trained):
    from core.tour import Tour, save_tour, tour_path

    save_tour(trained.run.path, Tour("another-run", len(trained.dataset)))
    try:
        text = render_report(trained)
    finally:
        tour_path(trained.run.path).unlink()
    assert '<p class="notice">' in text and "tour of run &#x27;another-run&#x27;" in text
    assert 'id="tour-next"' not in text and 'id="latent-map"' in text


def test_a_tour_step_the_run_cannot_draw_is_left_out_with_a_notice(trained):
    from core.report_map import map_payload
    from core.tour import Step, Tour, save_tour, tour_path

    tour = Tour(trained.run.id, len(trained.dataset)).added(Step("By label.", split="all", colour="label"))
    tour = tour.added(Step("The backbone's clusters.", split="all", colour="cluster", clusterer="n2d-features"))
    save_tour(trained.run.path, tour)  # valid as a file, but this run reads pixels: it has no backbone features
    try:
        payload, problem = map_payload(trained, "test")
        text = render_report(trained)
    finally:
        tour_path(trained.run.path).unlink()
    assert [v["caption"] for v in payload["views"]] == ["By label."] and payload["tour"]
    assert problem is not None and problem.startswith("The tour's step 2 (") and problem.endswith("left out.")
    assert '<p class="notice">' in text and 'id="latent-map"' in text
