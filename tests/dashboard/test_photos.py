"""The dashboard on real photos: a feature run (EfficientNet-Lite0, offline) trained on a few bird
photos, through every page a person sorting their own folder would use.

Runs are trained once per module with core.experiment on real JPEGs from the shared bird set
(tests/core/photo_fixtures.py), 3 epochs at 24 px: seconds, not minutes.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.config import RunConfig
from core.data import DataSpec, load_dataset
from core.experiment import execute
from core.methods import CLUSTER_METHODS
from core.models import FAMILIES
from core.presets import apply_preset
from core.runs import RunStore
from dashboard import gallery
from dashboard.exports import clusters_table
from tests.core.photo_fixtures import write_bird_folder
from tests.dashboard.waiting import rerun_until

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT = 120
SPECIES, PER_SPECIES = 3, 4
BACKBONE = "efficientnet-lite0"


def photo_config(folder: Path, labelled: bool = True) -> RunConfig:
    config = apply_preset(RunConfig(data=DataSpec(source="folder", path=str(folder))), "photos")
    return dataclasses.replace(
        config,
        data=dataclasses.replace(config.data, image_size=24),
        train=dataclasses.replace(config.train, epochs=3, device="cpu"),
        name="birds" if labelled else "flat birds",
    )


def train(root: Path, config: RunConfig) -> str:
    run = RunStore(root).create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    assert run.status() == "finished", run.info()
    return run.id


@pytest.fixture(scope="module")
def birds(tmp_path_factory) -> Path:
    """12 bird photos in 3 species folders, and one file that is not a photo at all."""
    folder = tmp_path_factory.mktemp("photos") / "birds"
    write_bird_folder(folder, species=SPECIES, per_species=PER_SPECIES)
    species = sorted(p for p in folder.iterdir() if p.is_dir())[0]
    (species / "broken.jpg").write_bytes(b"this is not a jpeg")
    return folder


@pytest.fixture(scope="module")
def photo_runs(tmp_path_factory, birds) -> tuple[Path, str, str]:
    """(runs dir, labelled run id, unlabelled run id): the same kind of feature run on a folder
    with species sub-folders and on a flat folder without any labels."""
    root = tmp_path_factory.mktemp("photo-runs")
    flat = tmp_path_factory.mktemp("flat") / "photos"
    write_bird_folder(flat, species=SPECIES, per_species=PER_SPECIES, labelled=False)
    with pytest.MonkeyPatch.context() as patch:  # the features cache goes to a temporary data dir, not ~/.latentboard
        patch.setenv("LATENTBOARD_DATA_DIR", str(tmp_path_factory.mktemp("photo-data")))
        return root, train(root, photo_config(birds)), train(root, photo_config(flat, labelled=False))


@pytest.fixture
def runs_dir(photo_runs, monkeypatch) -> tuple[str, str]:
    root, labelled, flat = photo_runs
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    return labelled, flat


def app(page: str | None = None, run_id: str | None = None, **session) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if run_id:
        at.query_params["run"] = run_id
    for key, value in session.items():
        at.session_state[key.replace("__", ".")] = value
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info]
    parts += [str(m.label) + " " + str(m.value) for m in at.metric]
    return "\n".join(str(p) for p in parts)


def download_labels(at: AppTest) -> list[str]:
    return [e.proto.label for e in at.get("download_button")]


# --- Train -----------------------------------------------------------------------------------------


def test_photos_preset_sets_features_and_image_size_and_keeps_conv_away(birds, monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(tmp_path / "runs"))
    at = app("train", data_spec=DataSpec(source="folder", path=str(birds), image_size=24))
    assert at.selectbox(key="f.backbone").value == "none"  # the quick demo: raw pixels
    at.selectbox(key="m.family").set_value("conv").run()
    at.button(key="preset.photos").click().run()
    assert at.selectbox(key="f.backbone").value == BACKBONE
    assert at.selectbox(key="m.family").value == "dense"
    offered = at.selectbox(key="m.family").options  # pictures-only families are not offered with features
    assert offered == [f.label for f in FAMILIES.values() if not f.image_only] and FAMILIES["conv"].label not in offered
    assert at.session_state["data_spec"].image_size == 96  # the preset's data section reaches the DataSpec
    assert "images at 96 px" in texts(at)
    assert "EfficientNet-Lite0 (offline)" in at.selectbox(key="f.backbone").options

    # Raw pixels bring conv back; choosing a backbone while conv is picked switches to dense, saying so.
    at.selectbox(key="f.backbone").set_value("none").run()
    at.selectbox(key="m.family").set_value("conv").run()
    at.selectbox(key="f.backbone").set_value(BACKBONE).run()
    assert at.selectbox(key="m.family").value == "dense"
    assert f"switched to {FAMILIES['dense'].label}" in texts(at)

    at.number_input(key="t.epochs").set_value(2).run()
    at.button(key="train.start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    run = RunStore().open(at.query_params.get("run"))
    assert run.config.features.backbone == BACKBONE and run.config.data.image_size == 96
    assert run.config.model.family == "dense"
    deadline = time.monotonic() + 120
    while run.status() in ("created", "running") and time.monotonic() < deadline:
        time.sleep(0.3)
    assert run.status() == "finished", run.info()
    at.run()
    shown = texts(at)
    assert "What loading did" in shown and "Skipped 1 unreadable file" in shown and "broken.jpg" in shown


def test_tables_get_no_backbone(monkeypatch, tmp_path):
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(tmp_path / "runs"))
    at = app("train", data_spec=DataSpec(source="table", path=str(tmp_path / "t.csv")))
    at.button(key="preset.photos").click().run()
    assert at.selectbox(key="f.backbone").disabled
    assert "Tables have no images" in texts(at)
    assert at.session_state["data_spec"].image_size is None  # the preset's image size is for image folders only


def test_a_refresh_brings_back_the_runs_photos_too(runs_dir):
    labelled, _ = runs_dir
    at = app("train", labelled)
    assert at.session_state["data_spec"].source == "folder"  # not the digits a fresh session starts with
    assert at.selectbox(key="f.backbone").value == BACKBONE
    assert "What loading did" in texts(at) and "Skipped 1 unreadable file" in texts(at)


def test_live_panel_shows_feature_progress_before_the_first_epoch(birds, monkeypatch, tmp_path):
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    run = RunStore(root).create(photo_config(birds))
    message = f"Computing {BACKBONE} features: 128 of 588 photos, 4.7 photos/s, about 1 min 39 s left."
    with run.training_lock():  # what a trainer holds: the run reads as running, not interrupted
        run.set_status("running", message, data_notes=["Skipped 1 unreadable file: Cardinal/x.jpg (not an image)."])
        at = app("train", run.id)
        assert message in [i.value for i in at.info]
        assert "Skipped 1 unreadable file: Cardinal/x.jpg" in texts(at)
        run.set_status("stopped", "Stopped.")  # let the page stop refreshing before the lock goes


# --- Reconstructions -------------------------------------------------------------------------------


def test_reconstructions_of_a_feature_run_show_nearest_photos_not_feature_vectors(runs_dir):
    labelled, _ = runs_dir
    at = app("reconstructions", labelled)
    shown = texts(at)
    assert f"reads **{BACKBONE}** features" in shown and "not a picture" in shown
    assert "Interpolate" not in [t.label for t in at.tabs]  # decoding features into pictures means nothing
    assert "Interpolation and samples are hidden" in shown
    assert "Nearest training photo shows the same label" in [m.label for m in at.metric]
    assert "'= itself'" in shown  # the legend of the photo / nearest-photos grid
    assert len(at.image) == 2  # two columns of photo lines
    assert at.selectbox(key="recon.split").value == "all"  # a folder of one's own photos: every photo


def test_nearest_photos_come_from_the_training_split(photo_runs):
    from core.evaluation.reconstruction import nearest_to_reconstruction
    from core.trained import load_trained

    root, labelled, _ = photo_runs
    trained = load_trained(RunStore(root).open(labelled))
    rows = np.asarray(trained.splits.get("all"))
    nearest, distances = nearest_to_reconstruction(
        trained.model, trained.inputs, rows, np.asarray(trained.splits.train), 3
    )
    assert nearest.shape == (len(rows), 3) and set(nearest.ravel()) <= set(trained.splits.train.tolist())
    assert (np.diff(distances, axis=1) >= 0).all()


# --- Latent space: the clusters as the product ------------------------------------------------------


def test_cluster_gallery_and_downloads_for_labelled_photos(runs_dir):
    labelled, _ = runs_dir
    at = app("latent", labelled, latent__method="pca")
    # The run sorts by N2D on the backbone's features (core.evaluation.sorted_by); the head is offered too.
    assert at.selectbox(key="latent.clusterer").value == "n2d-features"
    assert {CLUSTER_METHODS[m].label for m in ("n2d", "temi")} <= set(at.selectbox(key="latent.clusterer").options)
    headings = [m.value for m in at.markdown if m.value.startswith("**Cluster ")]
    assert headings, texts(at)
    assert sum(int(h.split("·")[1].split()[0]) for h in headings) == SPECIES * PER_SPECIES  # every photo in one cluster
    assert any(" · all " in h or " · mostly " in h for h in headings)  # the species mix of each cluster
    assert len(at.image) >= len(headings)  # a gallery per cluster, besides the examples
    assert download_labels(at)[-3:] == [
        "Download the photos sorted into folders (zip)",
        "Download file → cluster (CSV)",
        "Download file → cluster (Parquet)",
    ]


def test_cluster_gallery_for_a_folder_without_labels(runs_dir):
    _, flat = runs_dir
    at = app("latent", flat, latent__method="pca")
    assert at.selectbox(key="latent.colour").value == "cluster"  # no labels: coloured by cluster from the start
    shown = texts(at)
    assert "No labels were used, none are needed." in shown
    headings = [m.value for m in at.markdown if m.value.startswith("**Cluster ")]
    assert headings and all("mostly" not in h.split("ImageNet:")[0] for h in headings)  # no labels: no majority label
    assert sum(int(h.split("·")[1].split()[0]) for h in headings) == SPECIES * PER_SPECIES


def test_cluster_tables_name_every_file(photo_runs):
    from core.trained import load_trained

    root, labelled, flat = photo_runs
    trained = load_trained(RunStore(root).open(labelled))
    frame = pd.read_csv(io.BytesIO(clusters_table(trained, "kmeans", 3, ".csv")))
    assert list(frame.columns) == ["row", "file", "path", "cluster", "label"]
    assert len(frame) == SPECIES * PER_SPECIES and not frame["file"].str.contains("broken").any()
    assert frame["file"].str.endswith(".jpg").all() and frame["cluster"].nunique() <= 3
    unlabelled = load_trained(RunStore(root).open(flat))
    parquet = pd.read_parquet(io.BytesIO(clusters_table(unlabelled, "kmeans", 4, ".parquet")))
    assert list(parquet.columns) == ["row", "file", "path", "cluster"]
    assert all(Path(p).is_file() for p in parquet["path"])


def test_the_sorted_zip_holds_every_photo_once(photo_runs):
    import zipfile

    from core.trained import load_trained
    from dashboard.exports import sorted_photos_zip

    root, labelled, _ = photo_runs
    trained = load_trained(RunStore(root).open(labelled))
    with zipfile.ZipFile(io.BytesIO(sorted_photos_zip(trained, "kmeans", 3))) as archive:
        photos = sorted(archive.read(n) for n in archive.namelist() if n != "clusters.csv")
    assert photos == sorted(Path(f).read_bytes() for f in trained.dataset.files)


# --- Evaluate --------------------------------------------------------------------------------------


def test_evaluate_a_feature_run_and_classify_a_photo(runs_dir, birds):
    labelled, _ = runs_dir
    at = app("evaluate", labelled)
    at.button(key="eval.compute").click().run()
    rerun_until(
        at, lambda at: at.button(key="eval.compute").label == "Recompute", what="the finished evaluation"
    )  # a background job
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = texts(at)
    assert f"This run reads {BACKBONE} features" in shown
    assert "Reconstruction MSE (features)" in [m.label for m in at.metric]
    table = at.dataframe[0].value
    assert any("features" in str(name) for name in table.index)  # baselines on the backbone's own features
    assert "A photo from each column's cluster" in shown  # the confusion matrix comes with photos
    photo = sorted(birds.glob("*/*.jpg"))[-1]
    at.file_uploader(key="eval.upload").upload(photo.name, photo.read_bytes(), "image/jpeg").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Likely label" in [m.label for m in at.metric]
    assert f"the training photo whose {BACKBONE} features lie nearest" in texts(at)
    assert "feature reconstruction error" in texts(at)


# --- gallery helpers -------------------------------------------------------------------------------


def test_row_pictures_read_the_original_photos(birds):
    ds = load_dataset(DataSpec(source="folder", path=str(birds), image_size=16))
    pictures = gallery.row_pictures(ds, [0, 1], 112)
    assert pictures.shape == (2, 112, 112, 3) and pictures.dtype == np.uint8
    assert pictures.std() > 10  # a photo, not a blown-up 16 px grid of flat blocks
    blown_up = np.repeat(np.repeat(ds.to_display(ds.x[[0]])[0], 7, axis=0), 7, axis=1)
    assert np.abs(pictures[0].astype(int) - blown_up.astype(int)).mean() > 1
    assert gallery.file_captions(ds, [0]) == [Path(ds.files[0]).name]


def test_row_pictures_read_the_loaded_pixels_only_of_a_photo_gone_since(birds, tmp_path):
    shutil.copytree(birds, tmp_path / "birds")  # the module's photos stay whole for the other tests
    ds = load_dataset(DataSpec(source="folder", path=str(tmp_path / "birds"), image_size=16))
    Path(ds.files[1]).unlink()
    read = []
    rows = ds.x

    class Watched:  # the folder's pixels, noting which rows are read from disk
        shape = rows.shape

        def __getitem__(self, index):
            read.append(np.asarray(index).tolist())
            return rows[index]

    pictures = gallery.row_pictures(dataclasses.replace(ds, x=Watched()), [0, 1, 2], 112)
    assert read == [[1]]
    expected = Image.fromarray(ds.to_display(ds.x[[1]])[0]).resize((112, 112), Image.Resampling.NEAREST)
    assert np.array_equal(pictures[1], np.asarray(expected))


def test_cluster_groups_and_label_mix():
    groups = gallery.cluster_groups(np.array([2, 0, 2, -1, 2, 0, 1]))
    assert [c for c, _ in groups] == [2, 0, 1, -1]  # biggest first, noise last
    assert groups[0][1].tolist() == [0, 2, 4]
    assert gallery.label_mix(["a", "a", "b"]) == "mostly a (2 of 3)"
    assert gallery.label_mix(["a", "a"]) == "all a"


def test_a_gallery_shows_a_fair_few_of_a_cluster_not_its_first_members():
    """Rows sorted by class (as folders and arrays often are): a cluster of 300 'b' rows holding 100 'a'
    rows that strayed in shows mostly 'b', the same ones on every rerun; its first 16 were all 'a'."""
    labels = np.array(["a"] * 400 + ["b"] * 400)
    members = np.concatenate([np.arange(100), np.arange(450, 750)])  # 100 strays first, then 300 'b'
    shown = gallery.a_few(members, 16)
    assert len(shown) == 16 and set(shown.tolist()) <= set(members.tolist()) and list(shown) == sorted(shown)
    assert (labels[shown] == "b").sum() >= 9 and (labels[members[:16]] == "b").sum() == 0
    assert np.array_equal(gallery.a_few(members, 16), shown)
    assert gallery.a_few(members[:5], 16).tolist() == members[:5].tolist()  # fewer than asked: all of them


def test_neighbours_of_a_clicked_photo_in_code_and_in_backbone_features(runs_dir):
    labelled, _ = runs_dir
    at = app("latent", labelled, latent__method="pca", latent__focus=(labelled, "all", 0), latent__split="all")
    assert at.radio(key="latent.space").options == ["latent code", "backbone features"]
    code_table = at.dataframe[0].value
    assert code_table["file"].iloc[0].endswith(".jpg") and "cluster" in code_table and "label" in code_table
    at.radio(key="latent.space").set_value("features").run()
    assert not at.exception and not at.error
    features_table = at.dataframe[0].value
    assert features_table["row"].iloc[0] == code_table["row"].iloc[0]
    assert features_table["distance"].is_monotonic_increasing
    # Hover pictures of photos come from JPEG sprite sheets of the original files, drawn after the map.
    import json

    from dashboard.sprites import SPRITES

    meta = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]["meta"]["sprites"]
    assert meta["ext"] == "jpg" and meta["count"] == SPECIES * PER_SPECIES and meta["tile"] >= 96
    assert (SPRITES / meta["url"].rstrip("/").split("/")[-1] / "sheet-000.jpg").is_file()
