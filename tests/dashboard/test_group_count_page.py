"""The Latent space page shows the estimated number of groups and its curve, and uses it as the
default number of clusters for data without labels."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from sklearn.datasets import make_blobs
from streamlit.testing.v1 import AppTest

from core.config import DataSpec, RunConfig
from core.experiment import execute
from core.models import ModelConfig
from core.runs import RunStore
from core.training import TrainConfig

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT = 120


@pytest.fixture(scope="module")
def unlabelled_run(tmp_path_factory) -> tuple[Path, str]:
    """(runs dir, run id): a dense AE on a table of 150 rows in 3 blobs, without a label column."""
    root = tmp_path_factory.mktemp("groups-page")
    x, _ = make_blobs(150, centers=3, n_features=6, cluster_std=0.5, center_box=(-10, 10), random_state=0)
    pd.DataFrame(x, columns=[f"f{i}" for i in range(6)]).to_csv(root / "blobs.csv", index=False)
    config = RunConfig(
        data=DataSpec(source="table", path=str(root / "blobs.csv")),
        model=ModelConfig(family="dense", latent_dim=3, width=32, depth=1),
        train=TrainConfig(epochs=5, batch_size=32, lr=3e-3, device="cpu"),
        name="blobs",
    )
    run = RunStore(root / "runs").create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    assert run.status() == "finished"
    return root / "runs", run.id


def open_latent_page(run_id: str) -> AppTest:
    """The Latent space page of `run_id` (PCA map, every row), checked to have drawn without an error."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = run_id
    at.session_state["latent.method"] = "pca"
    at.session_state["latent.split"] = "all"
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def test_the_latent_page_shows_the_estimate_and_its_chart(unlabelled_run, monkeypatch):
    root, run_id = unlabelled_run
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    at = open_latent_page(run_id)

    shown = "\n".join(str(m.value) for m in at.markdown)
    assert "Estimated number of groups:" in shown
    estimate = int(shown.split("Estimated number of groups: ")[1].split("**")[0])
    charts = [c for c in at.get("plotly_chart") if "How many groups" in c.proto.spec]
    assert len(charts) == 1
    assert at.number_input(key="latent.k").value == estimate  # no labels: the estimate is the default
    assert estimate == 3


def test_a_run_too_small_to_estimate_says_so(tmp_path, monkeypatch):
    x = np.random.default_rng(0).normal(size=(12, 4))
    pd.DataFrame(x, columns=list("abcd")).to_csv(tmp_path / "tiny.csv", index=False)
    config = RunConfig(
        data=DataSpec(source="table", path=str(tmp_path / "tiny.csv")),
        model=ModelConfig(family="dense", latent_dim=2, width=8, depth=1),
        train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    run = RunStore(tmp_path / "runs").create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params["run"] = run.id
    at.session_state["latent.method"] = "pca"
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Number of groups: not estimated" in str(c.value) for c in at.caption)
    assert at.number_input(key="latent.k").value == 10  # the documented fallback


def test_the_map_is_drawn_before_the_groups_are_counted(unlabelled_run, monkeypatch):
    """The first open of a large run does not wait for the count: the map comes first; a later open reads it."""
    import core.evaluation.run_evaluation as run_evaluation
    import dashboard.latent.map as latent_map

    root, run_id = unlabelled_run
    calls: list[str] = []
    estimate, draw_map = run_evaluation.estimate_group_count, latent_map.map_section
    monkeypatch.setattr(
        run_evaluation, "estimate_group_count", lambda *a, **k: calls.append("count") or estimate(*a, **k)
    )
    monkeypatch.setattr(latent_map, "map_section", lambda *a, **k: calls.append("map") or draw_map(*a, **k))
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    for cache in (root / run_id / "cache").glob("groups-*.npy"):  # as on a first open
        cache.unlink()
    st.cache_data.clear()

    at = open_latent_page(run_id)
    assert calls.index("map") < calls.index("count")
    assert at.number_input(key="latent.k").value == 3  # the estimate replaced the stand-in once counted
    calls.clear()
    open_latent_page(run_id)
    assert "count" not in calls  # read back from the run folder
