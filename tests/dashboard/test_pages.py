"""Every dashboard page runs under Streamlit's AppTest on real data (digits) without an exception.

One small run (a dense autoencoder, 2 epochs) is trained once per module with core.experiment and
shared by the pages that need a run; each test points LATENTBOARD_RUNS_DIR at it.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core import figures
from core.config import RunConfig
from core.data import DataSpec
from core.data.splits import split_sizes
from core.experiment import execute
from core.methods import CLUSTER_METHODS
from core.models import ModelConfig
from core.runs import RunStore
from core.training import TrainConfig
from tests.dashboard.waiting import rerun_until

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT = 120  # seconds per script run: generous, the first model load and projections take a few


def small_config(epochs: int = 2) -> RunConfig:
    return RunConfig(
        data=DataSpec(source="digits"),
        model=ModelConfig(family="dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(epochs=epochs, batch_size=128, lr=3e-3, device="cpu"),
        name="test run",
    )


@pytest.fixture(scope="module")
def trained_runs_dir(tmp_path_factory) -> tuple[Path, str]:
    root = tmp_path_factory.mktemp("runs")
    run = RunStore(root).create(small_config())
    for _ in execute(run, stop=threading.Event()):
        pass
    assert run.status() == "finished"
    return root, run.id


@pytest.fixture
def with_run(trained_runs_dir, monkeypatch) -> str:
    root, run_id = trained_runs_dir
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    return run_id


def app(page: str | None = None, run_id: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if run_id:
        at.query_params["run"] = run_id
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
    return at


def latent_page(run_id: str, state: dict | None = None) -> AppTest:
    """The Latent space page of `run_id` with a PCA map (UMAP is driven by the browser tests) and
    any other session state given (a clicked point, a split), as a browser would have it."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = run_id
    at.session_state["latent.method"] = "pca"
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    at.switch_page("views/latent.py").run()
    return at


def texts(at: AppTest) -> str:
    parts = (
        [m.value for m in at.markdown]
        + [c.value for c in at.caption]
        + [str(m.label) + str(m.value) for m in at.metric]
    )
    return "\n".join(str(p) for p in parts)


# --- Data ------------------------------------------------------------------------------------------


def test_data_page_opens_on_digits():
    at = app()
    assert not at.error
    samples = {m.label: m.value for m in at.metric}
    assert samples["Samples"] == "1,797"
    assert samples["Classes"] == "10"
    n_train, n_val, n_test = split_sizes(1797)  # what training will use, as core splits it
    assert f"Training uses {n_train:,} samples, validates on {n_val:,} and keeps {n_test:,} aside" in texts(at)
    assert len(at.image) >= 1  # the preview grid
    assert at.session_state["data_spec"] == DataSpec(source="digits")


def test_bad_upload_shows_a_readable_error():
    at = app()
    at.selectbox(key="data.source").set_value("npz").run()
    at.file_uploader(key="data.upload.npz").upload("broken.npz", b"this is not an npz file").run()
    assert not at.exception
    assert at.error, "a broken upload should show st.error"
    assert "Traceback" not in at.error[0].value
    assert at.session_state["data_spec"].source == "digits"  # the previous choice stays in force


def test_zipped_image_folder_upload():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for label, value in (("dark", 30), ("light", 220)):
            for i in range(4):
                picture = io.BytesIO()
                Image.new("L", (12, 12), value + i).save(picture, format="PNG")
                archive.writestr(f"shapes/{label}/{i}.png", picture.getvalue())
    at = app()
    at.selectbox(key="data.source").set_value("folder").run()
    at.file_uploader(key="data.upload.folder").upload("shapes.zip", buffer.getvalue(), "application/zip").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert {m.label: m.value for m in at.metric}["Samples"] == "8"
    assert at.session_state["data_spec"].source == "folder"


def test_a_zip_bomb_upload_is_refused_in_the_page_and_only_the_upload_stays():
    from core.paths import default_data_dir

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("cats/huge.png", bytes(80 << 20))  # 80 MB of zeros in about 80 KB
    bomb = buffer.getvalue()
    at = app()
    at.selectbox(key="data.source").set_value("folder").run()
    assert "LATENTBOARD_MAX_" in at.file_uploader(key="data.upload.folder").proto.help  # the limits, before uploading
    at.file_uploader(key="data.upload.folder").upload("bomb.zip", bomb, "application/zip").run()
    assert not at.exception
    assert at.error and "zip bombs" in at.error[0].value
    files = [p for p in default_data_dir().rglob("*") if p.is_file()]
    assert [p.name for p in files] == ["bomb.zip"] and files[0].stat().st_size == len(bomb)
    assert at.session_state["data_spec"].source == "digits"  # the previous choice stays in force


def test_table_upload_becomes_the_dataset():
    at = app()
    at.selectbox(key="data.source").set_value("table").run()
    csv = "a,b,c,kind\n" + "\n".join(f"{i},{i % 7},{(i * 3) % 5},{'xy'[i % 2]}" for i in range(60))
    at.text_input(key="data.label_column").set_value("kind").run()
    at.file_uploader(key="data.upload.table").upload("small.csv", csv.encode(), "text/csv").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    spec = at.session_state["data_spec"]
    assert spec.source == "table" and spec.label_column == "kind"
    assert Path(spec.path).is_file() and "uploads" in Path(spec.path).parts  # rebuildable later
    assert at.dataframe, "table preview"


# --- Train -----------------------------------------------------------------------------------------


def test_train_page_starts_a_run_and_follows_it():
    at = app("train")
    assert at.session_state["m.family"] == "dense"  # the quick demo preset is the default
    at.button(key="preset.best-quality").click().run()
    assert at.session_state["m.family"] == "conv" and at.number_input(key="m.augment").value == 1.0
    assert any("best-quality chose the digits recipe: line drawings" in c.value for c in at.caption)  # it says why
    at.button(key="preset.quick-demo").click().run()
    assert at.number_input(key="m.augment").value == 0.0  # a preset resets what it does not set
    assert not any("best-quality chose" in c.value for c in at.caption)
    at.number_input(key="t.epochs").set_value(2).run()
    at.number_input(key="m.width").set_value(32).run()
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    run_id = at.query_params.get("run")
    assert run_id, "starting puts the run id in the URL"
    other = app("train")  # a second person's session: it follows nothing until it starts its own
    assert "run" not in other.session_state
    assert other.query_params.get("run") is None
    run = RunStore().open(run_id)
    deadline = time.monotonic() + 120
    while run.status() in ("created", "running") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert run.status() == "finished", run.info()
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) >= 1  # the loss chart, redrawn from run.metrics()
    assert {m.label: m.value for m in at.metric}["Epoch (of 2)"] == "2"
    assert "train.resume" not in [b.key for b in at.button]  # finished: nothing to resume
    # A fresh session with ?run= re-attaches (a refresh, or a second tab).
    again = app("train", run_id=run_id)
    assert again.session_state["run"] == run_id
    assert len(again.get("plotly_chart")) >= 1


# --- pages that need a run -------------------------------------------------------------------------


def test_reconstructions_page(with_run):
    at = app("reconstructions", with_run)
    assert not at.error, [e.value for e in at.error]
    assert len(at.image) >= 2  # pairs and interpolation


def test_vae_run_draws_samples_from_the_prior(monkeypatch, tmp_path):
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    config = small_config(epochs=1)
    config = RunConfig(
        data=config.data, model=ModelConfig(family="vae", latent_dim=2, width=32, depth=1), train=config.train
    )
    run = RunStore(root).create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    at = app("reconstructions", run.id)
    assert not at.error, [e.value for e in at.error]
    assert "Samples from the prior" in [t.label for t in at.tabs]
    at.button(key="recon.prior_draw").click().run()
    assert not at.exception and at.session_state["recon.prior_seed"] == 1


def test_latent_page_pca_and_clusters(with_run):
    at = latent_page(with_run)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) >= 1
    at.selectbox(key="latent.colour").set_value("cluster").run()
    assert not at.exception and not at.error
    assert at.number_input(key="latent.k").value == 10 and at.query_params["k"] == "10"  # digits: one per class
    at.selectbox(key="latent.clusterer").set_value("hdbscan").run()  # it finds the number of clusters itself
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "latent.k" not in [n.key for n in at.number_input] and "k" not in at.query_params
    assert "HDBSCAN finds the number of clusters itself" in texts(at)
    at.radio(key="latent.dims").set_value(3).run()
    assert not at.exception and not at.error


def digit_png() -> bytes:
    picture = Image.new("L", (32, 32), 0)
    picture.paste(255, (12, 4, 20, 28))  # a rough "1"
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.slow  # about 10 s on 2 idle cores: the whole evaluation, as the page runs it
def test_evaluate_page_computes_and_classifies(with_run, monkeypatch):
    from core.evaluation.run_evaluation import _Evaluation

    held, probes = threading.Event(), _Evaluation.probes
    monkeypatch.setattr(_Evaluation, "probes", lambda self: held.wait(60) and probes(self))  # hold the last step
    at = app("evaluate", with_run)
    at.button(key="eval.compute").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.progress, "a progress bar while it runs"
    assert at.button(key="eval.compute").disabled, "a second click must not start a second evaluation"
    # While the probes still run, the clusterings' tables are on the page already, with the step and an ETA.
    rerun_until(at, lambda at: at.progress and at.progress[0].text.startswith("[8/8] Probes"), what="the probes step")
    assert "left" in at.progress[0].text and at.dataframe, "the finished parts' tables while the rest runs"
    assert any(m.label.startswith("Cluster accuracy") for m in at.metric)
    held.set()
    rerun_until(at, lambda at: at.button(key="eval.compute").label == "Recompute", what="the finished evaluation")
    assert not at.progress and not at.error, [e.value for e in at.error]
    assert at.dataframe, "metric tables"
    table = at.dataframe[0].value
    assert "N2D: UMAP of codes + GMM" in table.index and "k-means on raw inputs (baseline)" in table.index
    assert list(table.columns) == ["ACC", "NMI", "ARI", "silhouette", "clusters"]
    assert len(at.get("plotly_chart")) >= 1  # confusion matrix
    at.file_uploader(key="eval.upload").upload("mine.png", digit_png(), "image/png").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Likely label" in [m.label for m in at.metric]
    # stored in the run folder: a new session shows it without recomputing
    fresh = app("evaluate", with_run)
    assert fresh.button(key="eval.compute").label == "Recompute"


def test_an_evaluation_stored_in_the_old_format_is_shown(with_run, trained_runs_dir):
    """A run folder from before probes_cv, timings and skipped existed still shows its numbers."""
    import json

    from core.run_cache import checkpoint_fingerprint
    from core.runs import RunStore

    run = RunStore(trained_runs_dir[0]).open(with_run)
    path = run.path / "evaluation-test.json"
    old = {
        "split": "test",
        "n": 3,
        "n_clusters": 2,
        "seconds": 1.0,
        "checkpoint": checkpoint_fingerprint(run),
        "clustering": {"n2d": {"acc": 0.625, "nmi": 0.25, "ari": 0.1, "silhouette": 0.3, "seconds": 0.2}},
        "baselines": {"kmeans_raw": {"acc": 0.4, "nmi": 0.2, "ari": 0.05, "silhouette": 0.2, "seconds": 0.1}},
        "probes": {"codes": {"knn": 0.9, "logistic": 0.8, "random_forest": 0.7}},
        "reconstruction": {"mse": 0.01, "psnr": 20.0, "ssim": 0.9},
        "trustworthiness": 0.95,
    }
    kept = path.read_bytes() if path.exists() else None
    path.write_text(json.dumps(old))
    try:
        at = app("evaluate", with_run)
        assert at.button(key="eval.compute").label == "Recompute" and not at.error
        assert at.metric[0].label == "Cluster accuracy (n2d)" and at.metric[0].value == "0.625"
        clustering, probes = at.dataframe[0].value, at.dataframe[1].value
        assert clustering.loc["k-means on raw inputs (baseline)", "ACC"] == 0.4
        assert probes.loc["autoencoder codes", "logistic"] == 0.8
    finally:
        path.unlink()
        if kept is not None:
            path.write_bytes(kept)


def test_a_failed_evaluation_says_why_on_the_page(with_run, monkeypatch):
    from core.errors import DataError
    from core.evaluation.run_evaluation import _Evaluation

    def broken(self):
        raise DataError("The run folder cannot be written (disk full).")

    monkeypatch.setattr(_Evaluation, "encode", broken)
    at = app("evaluate", with_run)
    at.button(key="eval.compute").click().run()
    rerun_until(at, lambda at: at.error, timeout=30, what="the error")
    assert at.error[0].value.startswith("The evaluation failed: The run folder cannot be written (disk full).")
    assert not at.button(key="eval.compute").disabled and not at.progress  # free to try again


def test_runs_page_lists_and_compares(with_run):
    at = app("runs", with_run)
    assert not at.error
    assert with_run in at.dataframe[0].value["id"].tolist()
    assert len(at.get("plotly_chart")) >= 1  # the comparison chart


def test_codes_export_has_labels_clusters_and_codes(trained_runs_dir, monkeypatch):
    import pandas as pd

    from core.trained import load_trained
    from dashboard.exports import codes_csv, codes_parquet

    root, run_id = trained_runs_dir
    trained = load_trained(RunStore(root).open(run_id))
    frame = pd.read_parquet(io.BytesIO(codes_parquet(trained)))
    assert len(frame) == 1797 and list(frame.columns[:4]) == ["row", "split", "label", "cluster"]
    assert [c for c in frame.columns if c.startswith("z")] == ["z0", "z1", "z2", "z3"]
    assert set(frame["split"]) == {"train", "val", "test"}
    assert codes_csv(trained).decode().startswith("row,split,label,cluster,z0")


def test_runs_page_delete(monkeypatch, tmp_path):
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    run = RunStore(root).create(small_config(epochs=1))
    at = app("runs", run.id)
    at.button(key="runs.delete").click().run()
    assert not at.exception
    assert RunStore(root).list() == []
    assert at.query_params.get("run") is None


# --- pure helpers ----------------------------------------------------------------------------------


def test_scatter_selection_maps_back_to_rows():
    coords = np.random.default_rng(0).normal(size=(50, 2))
    colour = ["a" if i % 3 else "b" for i in range(50)]
    fig, trace_rows = figures.scatter_figure(coords, colour, categorical=True, index=np.arange(50) + 100)
    assert [t.type for t in fig.data] == ["scattergl", "scattergl"]
    points = [{"curve_number": 1, "point_index": 2}, {"customdata": 107}]
    assert figures.selected_rows(points, trace_rows).tolist() == [int(trace_rows[1][2]), 107]


def test_progress_numbers_and_grid():
    class Event:
        kind, epoch, epochs, step, steps_per_epoch, elapsed, samples_per_second = "step", 2, 4, 15, 10, 3.0, 500.0

    numbers = figures.progress_numbers(Event())
    assert numbers["fraction"] == pytest.approx(15 / 40)
    assert numbers["remaining"] == pytest.approx(3.0 * 25 / 15)
    grid = figures.compose_grid(np.zeros((12, 8, 8, 1), np.uint8), [str(i) for i in range(12)], columns=5, tile=32)
    assert grid.size[0] > 5 * 32 and grid.mode == "RGB"


def test_latent_page_clicked_point_shows_its_neighbours(with_run):
    at = latent_page(with_run, {"latent.focus": (with_run, "test", 3)})  # what a click on the map's fourth point leaves
    assert not at.exception and not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert list(table[""])[:2] == ["clicked", "#1"] and len(table) == 13  # the point and its 12 nearest
    assert table["distance"].is_monotonic_increasing and table["distance"].iloc[0] == 0
    assert {"label", "cluster", "row"} <= set(table.columns)
    figure = at.get("plotly_chart")[0].proto.spec
    assert (
        '"clicked"' in figure and '"nearest"' in figure and '"sprites"' in figure
    )  # marked on the map, pictures on hover
    at.slider(key="latent.neighbours").set_value(5).run()
    assert len(at.dataframe[0].value) == 6
    at.button(key="latent.clear_focus").click().run()
    assert "latent.focus" not in at.session_state and not at.exception


def test_latent_page_finds_pictures_like_an_uploaded_one_and_rings_them(with_run):
    at = latent_page(with_run, {"latent.split": "all"})  # every training row is on the map
    at.file_uploader(key="latent.upload").upload("mine.png", digit_png(), "image/png").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Pictures like yours" in [h.value for h in at.subheader]
    caption = " ".join(c.value for c in at.caption)
    assert "The 12 training pictures nearest to yours in the code, 12 of them ringed on this map" in caption, caption
    figure = at.get("plotly_chart")[0].proto.spec
    assert '"nearest"' in figure and '"clicked"' not in figure  # ringed, and no clicked point to star


def test_latent_page_says_why_an_upload_is_not_a_picture(with_run):
    at = latent_page(with_run)
    at.file_uploader(key="latent.upload").upload("mine.png", b"not a picture at all", "image/png").run()
    assert not at.exception
    assert [e.value for e in at.error] and at.error[0].value.startswith("Could not read mine.png as an image")
    assert "Pictures like yours" not in [h.value for h in at.subheader]


def test_a_link_with_bad_or_unknown_settings_opens_the_map_with_defaults_and_a_notice(with_run):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(
        run=with_run, projection="pca", colour="cluster", dims="7", k="500", clusters="nope", zoom="3"
    )
    at.run()  # the link is checked on whichever page it opens, against every page's settings
    notice = " ".join(i.value for i in at.info)
    for part in (
        "dims=7 (not one of 2, 3)",
        "k=500 (not between 2 and 100)",
        "clusters=nope",
        "zoom (unknown setting)",
    ):
        assert part in notice, notice
    at.switch_page("views/latent.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    # Good values are used, bad ones fall back to the defaults...
    assert at.selectbox(key="latent.method").value == "pca" and at.selectbox(key="latent.colour").value == "cluster"
    # (the clusters: N2D on the codes, what a run on pixels sorts by, core.evaluation.sorted_by)
    assert at.radio(key="latent.dims").value == 2 and at.selectbox(key="latent.clusterer").value == "n2d"
    offered = at.selectbox(key="latent.clusterer").options
    assert CLUSTER_METHODS["n2d-features"].label not in offered  # no backbone features to cluster
    # ...and the URL now names the view as shown, so copying it shares this map.
    url = {k: at.query_params[k] for k in ("projection", "dims", "colour", "clusters", "k")}
    assert url == {"projection": "pca", "dims": "2", "colour": "cluster", "clusters": "n2d", "k": "10"}, url
    assert "zoom" not in at.query_params
    at.radio(key="latent.dims").set_value(3).run()  # a later change wins over the link
    assert at.radio(key="latent.dims").value == 3 and at.query_params["dims"] == "3" and not at.exception


def test_a_link_to_a_missing_run_opens_without_it(with_run):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = "no-such-run/../x"
    at.run()
    assert not at.exception
    assert any("was not found" in t.value for t in at.toast)
    at.switch_page("views/latent.py").run()
    assert not at.exception


def test_a_link_sets_the_map(with_run):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(run=with_run, projection="pca", colour="cluster", clusters="gmm", k="7")
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception and not at.error and not at.warning and not at.info, [w.value for w in at.warning]
    assert at.selectbox(key="latent.clusterer").value == "gmm" and at.number_input(key="latent.k").value == 7
    at.number_input(key="latent.k").set_value(5).run()
    assert at.query_params["k"] == "5" and not at.exception


def replay_spec(at: AppTest) -> dict:
    """The training replay's figure as the page sent it (its title says the epoch)."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return next(s for s in specs if "Epoch" in str(s["layout"].get("title", "")))


def test_the_replay_slider_changes_the_map(with_run):
    at = latent_page(with_run)
    assert not at.exception and not at.error, [e.value for e in at.error]
    slider = at.select_slider(key="latent.replay.epoch")
    assert list(slider.options) == ["0", "1", "2"] and slider.value == 2  # the newest epoch first
    last = replay_spec(at)
    assert "Epoch 2 of 2" in json.dumps(last["layout"]["title"])
    slider.set_value(0).run()
    first = replay_spec(at)
    assert not at.exception and "before training" in json.dumps(first["layout"]["title"])
    assert first["data"] != last["data"]  # the points moved
    assert first["layout"]["xaxis"]["range"] == last["layout"]["xaxis"]["range"]  # in the same frame
    at.button(key="latent.replay.play").click().run()
    assert not at.exception and at.session_state["latent.replay.playing"]


def test_a_run_without_snapshots_says_it_cannot_be_replayed(trained_runs_dir, monkeypatch, tmp_path):
    root, run_id = trained_runs_dir
    shutil.copytree(root / run_id, tmp_path / run_id)
    shutil.rmtree(tmp_path / run_id / "snapshots")  # as a run trained before snapshots existed
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(tmp_path))
    at = latent_page(run_id)
    assert not at.exception and not at.error
    assert any("no per-epoch snapshots" in i.value for i in at.info)


def test_a_link_with_a_clicked_point_shows_its_neighbours_and_a_click_moves_it(with_run):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(run=with_run, projection="pca", split="val", point="4")
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception and not at.error and not at.info, [i.value for i in at.info]
    assert at.selectbox(key="latent.split").value == "val"
    assert at.session_state["latent.focus"] == (with_run, "val", 4)
    assert list(at.dataframe[0].value[""])[:1] == ["clicked"]
    at.session_state["latent.focus"] = (with_run, "val", 9)  # what a click on another point leaves
    at.run()
    assert (
        at.query_params["point"] == "9" and at.session_state["latent.focus"][2] == 9
    )  # the link follows, not the reverse
    at.button(key="latent.clear_focus").click().run()
    assert "point" not in at.query_params and not at.exception


def test_a_link_with_a_point_outside_the_map_opens_it_without_one(with_run):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(run=with_run, projection="pca", point="99999")
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception and not at.error
    assert any("point=99999 (this map has" in i.value for i in at.info)
    assert "latent.focus" not in at.session_state and "point" not in at.query_params


def test_map_settings_come_back_after_visiting_another_page(with_run):
    at = latent_page(with_run)
    at.selectbox(key="latent.colour").set_value("cluster").run()
    at.query_params.clear()  # what clicking another page in the sidebar does to the address
    at.switch_page("views/data.py").run()
    assert (
        at.query_params["colour"] == "cluster" and at.query_params["projection"] == "pca"
    )  # put back: a link from here carries the map
    at.query_params.clear()
    at.switch_page("views/latent.py").run()
    assert not at.exception
    assert at.selectbox(key="latent.colour").value == "cluster" and at.selectbox(key="latent.method").value == "pca"
    assert at.code[-1].value.startswith("/latent?") and "colour=cluster" in at.code[-1].value  # the Copy link box


def test_best_quality_on_data_that_cannot_load_says_so_and_keeps_the_defaults(tmp_path):
    at = app("train")
    at.session_state["data_spec"] = DataSpec("folder", path=str(tmp_path / "gone"))
    at.run()
    at.button(key="preset.best-quality").click().run()
    assert not at.exception, at.exception
    assert any("best-quality could not look at the data" in c.value for c in at.caption), [c.value for c in at.caption]
    assert at.session_state["m.family"] == "dense"  # the defaults, not a recipe for data it could not see
