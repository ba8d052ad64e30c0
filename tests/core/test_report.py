"""The HTML report: one self-contained file with its figures, images and metrics."""

from __future__ import annotations

import re

import numpy as np

from core import cli
from core.report import image_grid, png_data_uri, render_report, write_report


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
    assert text.count("Plotly.newPlot") == 2  # loss curves + latent map
    for piece in ("Loss curves", "Reconstructions", "Latent map", "N2D", "k-means on raw inputs", "Probes", "latent_dim"):
        assert piece in text, piece


def test_cli_report_to_a_chosen_file(trained, tmp_path, capsys):
    out = tmp_path / "sub" / "r.html"
    code = cli.main(["report", trained.run.id, "--runs-dir", str(trained.run.path.parent), "--out", str(out)])
    assert code == 0 and out.is_file()
    assert str(out) in capsys.readouterr().out


def test_render_uses_the_evaluation_given(trained):
    evaluation = {"split": "test", "n": 1, "n_clusters": 2, "random_state": 0, "has_labels": True,
                  "clustering": {"kmeans": {"acc": 0.123456, "nmi": None, "ari": None, "silhouette": None}},
                  "baselines": {}, "probes": {}, "probes_cv": {}, "reconstruction": {}, "trustworthiness": None}
    assert "0.123" in render_report(trained, evaluation)


def test_image_grid_and_png():
    a = np.zeros((3, 4, 5, 1), dtype=np.uint8)
    b = np.full((3, 4, 5, 1), 200, dtype=np.uint8)
    grid = image_grid([a, b], gap=1, scale=2)
    assert grid.shape == ((2 * 4 + 1) * 2, (3 * 5 + 2) * 2, 1)
    assert png_data_uri(grid).startswith("data:image/png;base64,iVBOR")
