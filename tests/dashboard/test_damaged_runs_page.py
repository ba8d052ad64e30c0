"""Damaged runs in the dashboard: the Runs page lists a damaged run beside a good one, and a run page
names a file that does not match its checksum (and computes nothing from it) or says once that an old
run cannot be verified."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.checksums import Verdict, verify
from core.config import DataSpec, FeatureConfig, RunConfig
from core.data import load_dataset
from core.features import features_path
from core.models import ModelConfig
from core.runs import RunStore
from core.snapshots import snapshot_path
from core.training import TrainConfig
from tests.core.photo_fixtures import write_bird_folder
from tests.core.run_fixtures import flip_byte_in_tensor, train_config, train_tiny_run, unseal_all

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.mark.parametrize(
    "damage",
    [("config.json", "[1]"), ("status.json", '{"state": 3}'), ("config.json", "")],
    ids=["config a list", "state a number", "config missing"],
)
def test_runs_page_lists_a_damaged_run_beside_the_others(monkeypatch, tmp_path, damage):
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    good = RunStore(root).create(RunConfig(data=DataSpec("digits"), name="good"))
    broken = root / "29990101-000000-dead"  # newest: the run picker's default
    broken.mkdir()
    name, text = damage
    if text:
        (broken / name).write_text(text)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    statuses = dict(zip(table["id"], table["status"]))
    assert statuses == {good.id: "created", broken.name: "damaged"}
    messages = dict(zip(table["id"], table["message"]))
    assert "is damaged" in messages[broken.name]


def test_picking_the_damaged_run_says_so_in_the_page(monkeypatch, tmp_path):
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    RunStore(root).create(RunConfig(data=DataSpec("digits"), name="good"))
    broken = root / "29990101-000000-dead"
    broken.mkdir()
    (broken / "config.json").write_text("[1]")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["run"] = broken.name
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="runs.run_picker").set_value(broken.name).run()
    assert not at.exception, at.exception
    assert any("is damaged" in e.value for e in at.error)


# --------------------------------------------------------------------------- checksums: bytes changed on disk


@pytest.fixture(scope="module")
def good_run_folder(tmp_path_factory) -> Path:
    return train_tiny_run(tmp_path_factory.mktemp("good"), max_samples=120, latent_dim=3, width=16, batch_size=32).path


@pytest.fixture
def copied_run(monkeypatch, tmp_path, good_run_folder) -> Path:
    """A copy of the good run, alone in the runs folder the dashboard reads."""
    folder = tmp_path / "runs" / good_run_folder.name
    shutil.copytree(good_run_folder, folder)
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(folder.parent))
    return folder


def open_page(run_id: str, page: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = run_id
    at.session_state["latent.method"] = "pca"  # UMAP is the browser tests' to draw
    at.run()
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("page", ["evaluate", "latent", "reconstructions"])
def test_a_flipped_byte_in_the_checkpoint_is_shown_as_damage_and_nothing_is_drawn(copied_run, page):
    flip_byte_in_tensor(copied_run / "checkpoint.safetensors", "model.")
    at = open_page(copied_run.name, page)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "is damaged: checkpoint.safetensors does not match its checksum" in errors[0]
    assert not at.image and not at.get("plotly_chart") and not at.metric  # nothing computed from it


def test_the_runs_page_offers_no_download_of_a_run_whose_checkpoint_is_damaged(copied_run):
    flip_byte_in_tensor(copied_run / "checkpoint.safetensors", "model.")
    at = open_page(copied_run.name, "runs")
    at.selectbox(key="runs.run_picker").set_value(copied_run.name).run()
    assert not at.exception, at.exception
    assert any("is damaged: checkpoint.safetensors does not match its checksum" in e.value for e in at.error)
    assert not at.get("download_button")  # neither the checkpoint nor codes computed from it


def test_a_flipped_byte_in_a_snapshot_is_named_on_the_page(copied_run):
    flip_byte_in_tensor(snapshot_path(copied_run, 1), "codes")
    at = open_page(copied_run.name, "reconstructions")
    assert not at.error
    warnings = [w.value for w in at.warning]
    assert any("snapshots/epoch-00001.safetensors does not match its checksum" in w for w in warnings), warnings
    assert at.image  # the rest of the run is sound


def test_a_run_from_before_checksums_says_so_once(copied_run):
    unseal_all(copied_run)
    at = open_page(copied_run.name, "reconstructions")
    notices = [w.value for w in at.warning if "written before latentboard kept checksums" in w.value]
    assert len(notices) == 1 and not at.error and at.image
    at.run()  # the next click in the same session
    assert not [w for w in at.warning if "written before latentboard kept checksums" in w.value]
    assert at.image


def test_a_damaged_features_cache_is_named_on_the_page_and_computed_again(monkeypatch, tmp_path):
    write_bird_folder(tmp_path / "birds", species=3, per_species=4)
    config = RunConfig(
        data=DataSpec("folder", path=str(tmp_path / "birds"), image_size=24),
        features=FeatureConfig(backbone="efficientnet-lite0"),
        model=ModelConfig("dense", latent_dim=3, width=16, depth=1),
        train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    run = train_config(tmp_path / "runs", config)
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(tmp_path / "runs"))
    path = features_path(load_dataset(config.data), "efficientnet-lite0")
    data = bytearray(path.read_bytes())
    data[-4] ^= 0x01  # the last feature value, still a finite number
    path.write_bytes(bytes(data))
    at = open_page(run.id, "reconstructions")
    assert not at.error, [e.value for e in at.error]
    warnings = [w.value for w in at.warning]
    assert f"The features cache {path} does not match its checksum" in " ".join(warnings), warnings
    assert verify(path) is Verdict.SOUND  # computed again from the photos, not read from the damaged copy
