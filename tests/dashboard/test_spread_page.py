"""Name a few, the rest follow, on the Latent space page (AppTest): name the map's selection, see the
groups each got and the review queue, confirm a guess; the names are saved in sorting.json, survive
undoing the cluster edits, and decide the downloads.

One tiny dense run on 12 generated photos in a flat folder (circle-00.jpg, ..., stripes-03.jpg).
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from core.runs import RunStore
from core.sorting import save_sorting, start
from core.trained import load_trained
from dashboard import cluster_edits
from dashboard.exports import sorted_photos_zip
from tests.dashboard import test_sorting_page as sorting_page
from tests.dashboard.test_sorting_page import K, latent_page, ok, saved

photo_run, run_id = sorting_page.photo_run, sorting_page.run_id  # the same run and its fixtures


def select(at, run_id: str, *positions: int):
    at.session_state[f"latent.map.{run_id}.all"] = {"selection": {"points": [{"customdata": [p]} for p in positions]}}
    return at.run()


def name_box(at):
    found = [w for w in at.text_input if str(w.key).startswith("latent.spread.group.")]
    assert len(found) == 1, [w.key for w in at.text_input]
    return found[0]


def test_name_two_groups_then_review_and_confirm(run_id):
    at = select(latent_page(run_id), run_id, 0, 1)  # circle-00, circle-01
    assert name_box(at).label == "Name the 2 selected photos"
    name_box(at).input("circles")
    at.button(key="latent.spread.name").click().run()
    ok(at)
    assert dict(saved(run_id)[0].examples) == {0: "circles", 1: "circles"}
    assert "Named so far: circles (2)" in " ".join(c.value for c in at.caption)

    select(at, run_id, 4, 5)  # square-00, square-01
    name_box(at).input("squares")
    at.button(key="latent.spread.name").click().run()
    ok(at)
    assert dict(saved(run_id)[0].examples) == {0: "circles", 1: "circles", 4: "squares", 5: "squares"}
    table = at.dataframe[0].value
    assert list(table["group"]) == ["circles", "squares"] and table["photos"].sum() == 12
    assert list(table["named by you"]) == [2, 2]
    yes = [b for b in at.button if str(b.key).startswith("latent.spread.yes.")]
    assert len(yes) == 6 and all(b.label.startswith("Yes, ") for b in yes)
    row, group = int(yes[0].key.rsplit(".", 1)[1]), yes[0].label.removeprefix("Yes, ")
    yes[0].click().run()
    ok(at)
    assert saved(run_id)[0].examples[row] == group and len(saved(run_id)[0].examples) == 5

    no = [w for w in at.selectbox if str(w.key).startswith("latent.spread.no.")]
    assert len(no) == 6 and all(w.value is None for w in no)
    corrected, other = int(no[0].key.split(".")[3]), no[0].options[0]  # the group it was not guessed to be
    no[0].set_value(other).run()
    ok(at)
    assert saved(run_id)[0].examples[corrected] == other and len(saved(run_id)[0].examples) == 6
    assert at.dataframe[0].value["named by you"].sum() == 6
    assert "sort the photos into the groups you named" in " ".join(c.value for c in at.caption)


def test_undoing_the_cluster_edits_keeps_the_names_and_the_downloads_follow_them(run_id):
    run = RunStore().open(run_id)
    save_sorting(run.path, start("kmeans", K, 12).renamed(0, "owls").named([0, 1], "circles").named([4], "squares"))
    cluster_edits.undo_all(run.path, 12)
    kept, _ = saved(run_id)
    assert dict(kept.names) == {} and dict(kept.examples) == {0: "circles", 1: "circles", 4: "squares"}
    with zipfile.ZipFile(io.BytesIO(sorted_photos_zip(load_trained(run), "kmeans", K, kept))) as archive:
        folders = {name.split("/")[0] for name in archive.namelist() if name != "clusters.csv"}
    assert folders <= {"circles", "squares"} and len(archive.namelist()) == 13
    cluster_edits.edit(run.path, 12, "kmeans", 2, lambda s: s.renamed(1, "new start"))  # another clustering
    again, _ = saved(run_id)
    assert again.n_clusters == 2 and dict(again.examples) == dict(kept.examples)


def test_forget_all_names(run_id):
    run = RunStore().open(run_id)
    save_sorting(run.path, start("kmeans", K, 12).named([0], "circles").named([4], "squares"))
    at = latent_page(run_id)
    at.button(key="latent.spread.forget").click().run()
    ok(at)
    assert dict(saved(run_id)[0].examples) == {}
    assert Path(run.path / "sorting.json").is_file()
