"""The odd ones out and the suggested names on the Latent space page (AppTest): the planted photo
leads the gallery, a misfiled one is a possible mislabel, and a suggested name becomes the cluster's
name only when its button is clicked; a run without an ImageNet backbone says why it has none."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.config import DataSpec, FeatureConfig, RunConfig
from core.experiment import execute
from core.models import ModelConfig
from core.runs import RunStore
from core.sorting import read_sorting
from core.training import TrainConfig
from tests.core.photo_fixtures import write_photos_with_odd_ones

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
K = 3


def train(folder: Path, root: Path, data: Path, backbone: str | None) -> str:
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=12),
        features=FeatureConfig(backbone=backbone),
        model=ModelConfig("dense", latent_dim=3, width=16, depth=1),
        train=TrainConfig(epochs=2, batch_size=8, device="cpu"),
    )
    run = RunStore(root).create(config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_DATA_DIR", str(data))
        for _ in execute(run, stop=threading.Event()):
            pass
    return run.id


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, str, str]:
    """(runs folder, data folder, a Lite0-features run, a pixels run) on labelled generated photos with
    a receipt planted among the squares and a disc filed under stripes."""
    folder = tmp_path_factory.mktemp("photos") / "shapes"
    write_photos_with_odd_ones(folder)
    root, data = tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("data")
    return root, data, train(folder, root, data, "efficientnet-lite0"), train(folder, root, data, None)


def latent_page(
    runs: tuple,
    run_id: str,
    monkeypatch: pytest.MonkeyPatch,
    odd_ones: bool = True,
    clusterer: str | None = "kmeans",
    k: int | None = K,
) -> AppTest:
    """The Latent space page on `run_id`; `clusterer` / `k` None: the page's own defaults."""
    root, data, *_ = runs
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    monkeypatch.setenv("LATENTBOARD_DATA_DIR", str(data))
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = run_id
    at.session_state["latent.split"] = "all"
    at.session_state["latent.method"] = "pca"
    for key, value in (("latent.clusterer", clusterer), ("latent.k", k)):
        if value is not None:
            at.session_state[key] = value
    at.session_state["latent.outliers"] = odd_ones  # off until asked for
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_the_planted_photo_leads_and_the_misfiled_one_is_a_possible_mislabel(runs, monkeypatch):
    at = latent_page(runs, runs[2], monkeypatch)
    assert any(h.value == "The odd ones out" for h in at.subheader)
    assert "Most odd first: receipt.jpg (" in captions(at)
    assert "stripes/filed-wrong.jpg: stripes → circle" in captions(at)


def test_the_odd_ones_are_scored_only_when_asked_for(runs, monkeypatch):
    root, _, run_id, _ = runs
    for cached in (root / run_id).rglob("outliers-*"):
        cached.unlink()
    at = latent_page(runs, run_id, monkeypatch, odd_ones=False)
    assert any(h.value == "The odd ones out" for h in at.subheader)
    assert "Most odd first" not in captions(at)
    assert not list((root / run_id).rglob("outliers-*"))  # nothing computed behind the closed toggle
    at.toggle(key="latent.outliers").set_value(True).run()
    assert "Most odd first: receipt.jpg (" in captions(at)


def test_a_suggested_name_is_taken_only_with_a_click(runs, monkeypatch):
    root, _, run_id, _ = runs
    at = latent_page(runs, run_id, monkeypatch)
    assert "ImageNet's vocabulary" in captions(at)
    buttons = [b for b in at.button if str(b.key).startswith(f"latent.sort.suggest.{run_id}.kmeans.{K}.")]
    assert len(buttons) == K
    assert read_sorting(root / run_id, 20) == (None, None)  # shown, never applied unasked
    button = buttons[0]
    cluster, name = int(str(button.key).split(".")[-2]), button.label
    button.click().run()
    sorting, problem = read_sorting(root / run_id, 20)
    assert problem is None and dict(sorting.names) == {cluster: name}
    assert any(m.value.startswith(f"**{name}** (cluster {cluster}) · ") for m in at.markdown)
    (root / run_id / "sorting.json").unlink()


def test_a_run_without_an_imagenet_backbone_says_why_it_has_no_names(runs, monkeypatch):
    at = latent_page(runs, runs[3], monkeypatch)
    assert "No names to suggest. Suggested names come from an ImageNet backbone's classes" in captions(at)
    assert not [b for b in at.button if str(b.key).startswith("latent.sort.suggest.")]
    assert "Most odd first: " in captions(at)  # the odd ones out work on the codes alike


def test_a_table_run_lists_its_odd_rows_and_mislabels_as_tables(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 20)
    x = rng.normal(0, 6, (3, 4))[labels] + rng.normal(0, 1, (60, 4))
    x[7] = 40.0  # the odd row
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"]).assign(kind=np.array(["ant", "bee", "cat"])[labels])
    frame.loc[30, "kind"] = "ant"  # a bee filed as an ant
    frame.to_csv(tmp_path / "rows.csv", index=False)
    config = RunConfig(
        data=DataSpec(source="table", path=str(tmp_path / "rows.csv"), label_column="kind"),
        model=ModelConfig("dense", latent_dim=3, width=16, depth=1),
        train=TrainConfig(epochs=30, batch_size=16, lr=3e-3, device="cpu"),
    )
    run = RunStore(tmp_path / "runs").create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    at = latent_page((tmp_path / "runs", tmp_path / "data"), run.id, monkeypatch)
    odd = [t.value for t in at.dataframe if "oddness" in t.value.columns]
    assert odd and odd[0]["row"].iloc[0] == "row 7"
    flagged = [t.value for t in at.dataframe if "neighbours say" in t.value.columns]
    assert flagged and "row 30" in set(flagged[0]["row"])
    assert "No names to suggest" not in captions(at)  # tables get no word about photo names


def test_a_photo_run_opens_on_the_clustering_it_chose_without_labels(runs, monkeypatch):
    from core.evaluation.run_evaluation import run_sorted_by
    from core.trained import load_trained

    root, _, featured, _ = runs
    at = latent_page(runs, featured, monkeypatch, odd_ones=False, clusterer=None, k=None)  # the page's defaults
    trained = load_trained(RunStore(root).open(featured))
    choice = run_sorted_by(trained, "all", at.session_state["latent.k"])  # made by the page, read back here
    assert len(choice.scores) == 3
    assert at.selectbox(key="latent.clusterer").value == choice.method
    assert f"Sorted by default by {choice.line().split(': ', 1)[0].removeprefix('sorted by ')}" in captions(at)
    at.selectbox(key="latent.clusterer").set_value("kmeans").run()  # the person's pick stays
    assert at.selectbox(key="latent.clusterer").value == "kmeans"


def test_when_the_choice_is_not_the_default_the_page_switches_to_it_once(runs, monkeypatch):
    from core.evaluation import run_evaluation

    # Whatever these tiny photos give, N2D on the codes wins here: the switch is what is tested.
    monkeypatch.setattr(run_evaluation, "modularity_scores", lambda partitions, rows: np.array([0.1, 0.9, 0.5]))
    at = latent_page(runs, runs[2], monkeypatch, odd_ones=False, clusterer=None, k=2)  # a k not chosen for before
    assert at.selectbox(key="latent.clusterer").value == "n2d"
    assert "Sorted by default by N2D (UMAP + GMM)" in captions(at)
    at.selectbox(key="latent.clusterer").set_value("n2d-features").run()  # once chosen, the person decides
    assert at.selectbox(key="latent.clusterer").value == "n2d-features"


def test_the_spinner_names_the_candidates_and_warns_of_a_head_to_train():
    from dashboard.latent.sorted_by import choosing_message

    plain = choosing_message(("n2d-features", "n2d", "umap-kmeans"))
    assert "N2D on backbone features" in plain and "UMAP + k-means" in plain and "trains first" not in plain
    with_head = choosing_message(("n2d-features", "n2d", "umap-kmeans", "temi-features"))
    assert "TEMI head on backbone features trains first, about 16 s per 10,000 rows" in with_head
    assert choosing_message(()).endswith("best)…")
