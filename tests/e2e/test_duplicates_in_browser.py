"""Near-duplicates in a real browser: on a folder of generated photos with planted copies (resized,
re-compressed, cropped, brightened; a blurred and a smaller copy of another), turn the section on,
see both groups with their kept photo marked, keep another photo of one group, then download the
sorted zip: _duplicates/ holds every photo not kept once, every other photo is in its cluster's
folder, each file exactly once. The screenshot goes to duplicates.png (see test_browser.SHOTS).
"""

from __future__ import annotations

import io
import threading
import zipfile
from pathlib import Path

import pytest

from tests.e2e.test_browser import SHOTS, wait_idle
from tests.e2e.test_sorted_photos_in_browser import digests

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def planted_run(home, tmp_path_factory):
    """(run id, photo files, planted groups): a tiny run on the Lite0 features of a folder with planted copies."""
    from core.config import DataSpec, FeatureConfig, RunConfig
    from core.experiment import execute
    from core.models import ModelConfig
    from core.runs import RunStore
    from core.training import TrainConfig
    from tests.core.photo_fixtures import write_planted_duplicates

    folder = tmp_path_factory.mktemp("planted") / "photos"
    planted = write_planted_duplicates(folder)
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=16),
        features=FeatureConfig(backbone="efficientnet-lite0", input_size=96),
        model=ModelConfig(family="dense", latent_dim=4, width=16, depth=1),
        train=TrainConfig(epochs=2, batch_size=8, device="cpu"),
        name="duplicates test",
    )
    with pytest.MonkeyPatch.context() as patch:  # the server's data folder, where it finds the features' cache
        patch.setenv("LATENTBOARD_DATA_DIR", str(home / "data"))
        run = RunStore(home / "runs").create(config)
        for _ in execute(run, stop=threading.Event()):
            pass
    return run.id, sorted(folder.iterdir()), planted


def test_duplicate_groups_with_keepers_and_the_zip_sets_them_aside(server, page, planted_run):
    run_id, files, planted = planted_run
    page.goto(f"{server}/latent?run={run_id}&projection=pca&clusters=kmeans&k=3&colour=cluster")
    page.get_by_role("heading", name="Clusters").wait_for(timeout=90_000)
    wait_idle(page, timeout=90)
    page.get_by_text("Look for near-duplicates and keep the best of each group").click()
    page.get_by_text("6 photos would go to _duplicates/").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_text("kept (the best shot)").count() == 2  # each group names the photo it keeps

    # Keep the smaller copy of the second group instead: saved, and marked as the user's choice.
    page.locator("[class*='st-key-latent-keeper-'] [data-testid='stSelectbox']").nth(1).click()
    page.keyboard.type("photo-1-small")
    page.keyboard.press("Enter")
    wait_idle(page)
    page.get_by_text("photo-1-small.jpg kept (your choice)").wait_for()

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the photos sorted into folders (zip)").click()
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as archive:
        tree = {name: archive.read(name) for name in archive.namelist()}
    photos = {name: data for name, data in tree.items() if name != "clusters.csv"}
    assert digests(photos.values()) == digests(f.read_bytes() for f in files)  # every photo once, byte for byte
    aside = sorted(Path(name).name for name in photos if name.startswith("_duplicates/"))
    copies = planted["a"] | planted["b"]
    assert "photo-1-small.jpg" not in aside and "photo-1.jpg" in aside
    assert len(aside) == len(copies) - 2 and set(aside) <= copies  # all but one of each group, each once
    elsewhere = [name for name in photos if not name.startswith("_duplicates/")]
    assert all(name.split("/")[0].startswith("cluster-") for name in elsewhere)
    assert len(elsewhere) == len(files) - len(aside)
    assert "duplicate_of" in tree["clusters.csv"].decode().splitlines()[0]

    heading = page.get_by_role("heading", name="Near-duplicates")
    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "duplicates.png"))
