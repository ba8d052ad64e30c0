"""Editing the clusters on the Latent space page (AppTest): name one, merge two, move the map's
selection to a new cluster, undo everything; the galleries, map colours and downloads follow the
edits, which are saved in the run folder for `latentboard export`.

One tiny dense run on generated photos (tests/core/photo_fixtures.py), trained once per module.
"""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.config import DataSpec, RunConfig
from core.experiment import execute
from core.models import ModelConfig
from core.runs import RunStore
from core.sorting import Merge, read_sorting, save_sorting, start
from core.trained import load_trained
from core.training import TrainConfig
from dashboard import cluster_edits
from dashboard.exports import clusters_table, sorted_photos_zip
from tests.core.photo_fixtures import write_generated_photos

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
K = 3


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("photos") / "shapes"
    write_generated_photos(folder, per_kind=4, labelled=False)
    root = tmp_path_factory.mktemp("runs")
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=12),
        model=ModelConfig("dense", latent_dim=3, width=16, depth=1),
        train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    run = RunStore(root).create(config)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        for _ in execute(run, stop=threading.Event()):
            pass
    return root, run.id


@pytest.fixture
def run_id(photo_run, monkeypatch):
    root, run_id = photo_run
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    yield run_id
    (root / run_id / "sorting.json").unlink(missing_ok=True)


def latent_page(run_id: str, **session) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = run_id
    at.session_state["latent.method"] = "pca"
    at.session_state["latent.clusterer"] = "kmeans"
    at.session_state["latent.k"] = K
    for key, value in session.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("views/latent.py").run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def headings(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown if " · " in m.value and m.value.startswith("**") and "Edit" not in m.value]


def saved(run_id: str):
    run = RunStore().open(run_id)
    return read_sorting(run.path, len(load_trained(run).dataset))


def widget(widgets, prefix: str):
    """The one edit widget whose key starts with `prefix` (the keys end in the edits' revision)."""
    found = [w for w in widgets if str(w.key).startswith(prefix + ".")]
    assert len(found) == 1, [w.key for w in widgets]
    return found[0]


def name_box(at: AppTest, run_id: str, cluster: int):
    return widget(at.text_input, f"latent.sort.name.{run_id}.kmeans.{K}.{cluster}")


def test_rename_then_merge_then_undo(run_id):
    at = latent_page(run_id)
    assert at.session_state["latent.split"] == "all"  # a folder opens on every photo
    before = headings(at)
    assert len(before) == K and all(h.startswith("**Cluster ") for h in before)
    name_box(at, run_id, 0).input("sparrows").run()
    ok(at)
    sorting, problem = saved(run_id)
    assert problem is None and dict(sorting.names) == {0: "sparrows"}
    assert any(h.startswith("**sparrows** (cluster 0) · ") for h in headings(at))
    assert name_box(at, run_id, 0).value == "sparrows"

    # merge cluster 1 into cluster 0: two galleries left, every photo still in one
    sizes = {h.split(" · ")[0]: int(h.split(" · ")[1].split()[0]) for h in headings(at)}
    widget(at.selectbox, "latent.sort.merge_from").set_value(1)
    widget(at.selectbox, "latent.sort.merge_into").set_value(0)
    at.button(key="latent.sort.merge").click().run()
    ok(at)
    after = {h.split(" · ")[0]: int(h.split(" · ")[1].split()[0]) for h in headings(at)}
    assert len(after) == K - 1 and sum(after.values()) == 12
    assert after["**sparrows** (cluster 0)"] == sizes["**sparrows** (cluster 0)"] + sizes["**Cluster 1**"]
    assert saved(run_id)[0].edits == (Merge(1, 0),)
    assert "as you edited them" in " ".join(c.value for c in at.caption)

    at.button(key="latent.sort.undo").click().run()
    ok(at)
    assert saved(run_id) == (None, None) and headings(at) == before
    assert name_box(at, run_id, 0).value == ""


def test_move_the_map_selection_to_a_new_cluster_and_colour_by_it(run_id):
    map_key = f"latent.map.{run_id}.all"
    at = latent_page(
        run_id,
        **{"latent.colour": "cluster", map_key: {"selection": {"points": [{"customdata": [2]}, {"customdata": [7]}]}}},
    )
    assert "Move the 2 selected photos to" == widget(at.selectbox, "latent.sort.move_to").label
    assert widget(at.selectbox, "latent.sort.move_to").value == cluster_edits.NEW
    at.button(key="latent.sort.move").click().run()
    ok(at)
    sorting, _ = saved(run_id)
    assert [(e.rows, e.target) for e in sorting.edits] == [((2, 7), K)]
    assert any(h.startswith(f"**Cluster {K}** · 2 photos") for h in headings(at))
    # and name the new cluster: the map's colours carry the name
    name_box(at, run_id, K).input("odd ones").run()
    ok(at)
    legend = {
        trace.get("name") for chart in at.get("plotly_chart") for trace in json.loads(chart.proto.spec).get("data", [])
    }
    assert "odd ones" in legend, legend


def test_downloads_follow_the_edits(run_id):
    run = RunStore().open(run_id)
    trained = load_trained(run)
    n = len(trained.dataset)
    sorting = start("kmeans", K, n).merged(2, 1).renamed(1, "blue/ish").moved([0], 5)
    save_sorting(run.path, sorting)
    table = pd.read_csv(io.BytesIO(clusters_table(trained, "kmeans", K, ".csv", sorting)))
    assert set(table["cluster"]) <= {0, 1, 5} and 2 not in set(table["cluster"])
    assert table.loc[table["row"] == 0, "cluster_name"].item() == "cluster-05"
    with zipfile.ZipFile(io.BytesIO(sorted_photos_zip(trained, "kmeans", K, sorting))) as archive:
        photos = [name for name in archive.namelist() if name != "clusters.csv"]
        assert sorted(archive.read(p) for p in photos) == sorted(Path(f).read_bytes() for f in trained.dataset.files)
    assert {p.split("/")[0] for p in photos} <= {"cluster-00", "blue_ish", "cluster-05"} and "blue_ish" in {
        p.split("/")[0] for p in photos
    }


def test_edits_of_another_clustering_are_offered_not_applied(run_id):
    run = RunStore().open(run_id)
    save_sorting(run.path, start("kmeans", 2, 12).renamed(0, "kept"))
    at = latent_page(run_id)
    assert "start from k-means with 2 clusters" in " ".join(i.value for i in at.info)
    assert not any("kept" in h for h in headings(at))
    at.button(key="latent.sort.switch").click().run()
    ok(at)
    assert at.session_state["latent.k"] == 2 and any(h.startswith("**kept** (cluster 0)") for h in headings(at))


def test_a_damaged_edits_file_is_a_notice_not_an_error(run_id):
    run = RunStore().open(run_id)
    (run.path / "sorting.json").write_text("[1, 2")
    at = latent_page(run_id)
    assert "The saved cluster edits are left out" in " ".join(i.value for i in at.info)
    assert len(headings(at)) == K
    name_box(at, run_id, 1).input("fresh start").run()  # the next edit starts over
    ok(at)
    assert dict(saved(run_id)[0].names) == {1: "fresh start"}


def test_grouping_keeps_edits_to_the_all_split():
    clusters, rows = np.array([0, 1, 1]), np.array([0, 1, 2])
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        save_sorting(folder, start("kmeans", 2, 3).moved([0], 1))
        shown = cluster_edits.grouping(folder, 3, rows, clusters, "all", "kmeans", 2)
        assert shown.editable and shown.clusters.tolist() == [1, 1, 1]
        test = cluster_edits.grouping(folder, 3, rows, clusters, "test", "kmeans", 2)
        assert not test.editable and test.clusters.tolist() == [0, 1, 1] and "all rows" in test.note
    assert cluster_edits.display_names(np.array([1, -1, 3]), {3: "owls"}) == ["cluster 1", "noise", "owls"]


def test_other_splits_show_the_clustering_and_say_where_to_edit(run_id):
    at = latent_page(run_id, **{"latent.split": "test"})
    assert "pick the split 'all rows'" in " ".join(c.value for c in at.caption)
    assert not [w for w in at.text_input if str(w.key).startswith("latent.sort.name.")]
    assert not [b for b in at.button if b.key == "latent.sort.merge"]
