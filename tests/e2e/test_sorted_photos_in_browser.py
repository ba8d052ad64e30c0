"""Sorted photos to take home, in a real browser: on a small folder of generated photos, name a
cluster, merge two, move a point picked with the box to a new cluster, then download the sorted zip
and find every photo in it exactly once, byte for byte, under the new folder names. The screenshot
goes to clusters-edited.png (the README shows it; see test_browser.SHOTS).
"""

from __future__ import annotations

import hashlib
import io
import re
import threading
import zipfile

import pytest

from tests.e2e.test_browser import COUNT_POINTS, SHOTS, wait_idle
from tests.e2e.test_map import POINT_ON_SCREEN

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def shapes_run(home, tmp_path_factory):
    """(run id, photo files): a tiny dense run on 15 generated photos in a flat folder, no labels."""
    from core.config import RunConfig
    from core.data import DataSpec
    from core.experiment import execute
    from core.models import ModelConfig
    from core.runs import RunStore
    from core.training import TrainConfig
    from tests.core.photo_fixtures import write_generated_photos

    files = write_generated_photos(tmp_path_factory.mktemp("shapes") / "shapes", per_kind=5, labelled=False, size=64)
    config = RunConfig(
        data=DataSpec(source="folder", path=str(files[0].parent), image_size=16),
        model=ModelConfig(family="dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(epochs=20, batch_size=8, lr=3e-3, device="cpu"),
        name="sorting test",
    )
    with pytest.MonkeyPatch.context() as patch:  # the server's data folder, where it looks for the folder's cache
        patch.setenv("LATENTBOARD_DATA_DIR", str(home / "data"))
        run = RunStore(home / "runs").create(config)
        for _ in execute(run, stop=threading.Event()):
            pass
    return run.id, files


def digests(blobs) -> list[str]:
    return sorted(hashlib.sha256(b).hexdigest() for b in blobs)


def choose(page, key: str, option: str) -> None:
    """Pick an option of the select whose key starts with `key` (Streamlit's class for it; the edit
    widgets' keys end in the edits' revision)."""
    page.locator(f"[class*='st-key-{key}-'] [data-testid='stSelectbox']").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_name_merge_move_and_take_the_sorted_photos_home(server, page, shapes_run):
    run_id, files = shapes_run
    page.goto(f"{server}/latent?run={run_id}&projection=pca&clusters=kmeans&k=3&colour=cluster")
    heading = page.get_by_role("heading", name="Clusters")
    heading.wait_for(timeout=90_000)
    page.wait_for_function(f"({COUNT_POINTS})().some(n => n >= 15)", timeout=60_000)
    wait_idle(page, timeout=90)

    # Name cluster 0, then merge cluster 1 into it.
    name = page.get_by_role("textbox", name="Name of cluster 0")
    name.fill("sparrows")
    name.press("Enter")
    page.get_by_text("(cluster 0) ·").wait_for()
    wait_idle(page)
    choose(page, "latent-sort-merge_from", "cluster 1")
    choose(page, "latent-sort-merge_into", "sparrows")
    page.get_by_role("button", name="Merge", exact=True).click()
    wait_idle(page)
    page.get_by_text("as you edited them").wait_for()
    assert page.get_by_text("Cluster 1 ·").count() == 0

    # Box two points (and whatever lies between them) and move them to a new cluster (cluster 3).
    page.locator('.js-plotly-plot .modebar-btn[data-val="select"]').first.click(force=True)
    a, b = page.evaluate(POINT_ON_SCREEN, 0), page.evaluate(POINT_ON_SCREEN, 1)
    page.mouse.move(min(a["x"], b["x"]) - 8, min(a["y"], b["y"]) - 8)
    page.mouse.down()
    page.mouse.move(max(a["x"], b["x"]) + 8, max(a["y"], b["y"]) + 8, steps=8)
    page.mouse.up()
    label = page.get_by_text(re.compile(r"Move the \d+ selected photos to"))
    label.wait_for(timeout=30_000)
    wait_idle(page)
    moved = int(re.search(r"Move the (\d+)", label.inner_text()).group(1))
    assert 2 <= moved < len(files)
    page.get_by_role("button", name="Move", exact=True).click()
    wait_idle(page)
    page.get_by_text(f"Cluster 3 · {moved} photos").wait_for()
    name = page.get_by_role("textbox", name="Name of cluster 3")
    name.fill("picked by hand")
    name.press("Enter")
    page.get_by_text("(cluster 3) ·").wait_for()
    wait_idle(page)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the photos sorted into folders (zip)").click()
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as archive:
        tree = {name: archive.read(name) for name in archive.namelist()}
    photos = {name: data for name, data in tree.items() if name != "clusters.csv"}
    assert len(photos) == len(files)
    assert digests(photos.values()) == digests(f.read_bytes() for f in files)  # every photo once, byte for byte
    folders = {name.split("/")[0] for name in photos}
    assert {"sparrows", "picked by hand"} <= folders and "cluster-01" not in folders, folders
    assert sum(name.startswith("picked by hand/") for name in photos) == moved
    assert "sparrows/" in tree["clusters.csv"].decode()

    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "clusters-edited.png"))
