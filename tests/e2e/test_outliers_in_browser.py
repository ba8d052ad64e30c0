"""The odd ones out in a real browser: on a small folder of generated photos of three kinds, with a
photo of a receipt planted among the squares and a disc filed under stripes, the receipt comes first
in the outlier gallery, the disc is a possible mislabel, and each cluster is offered an ImageNet name
that one click makes its name. Screenshots: outliers.png, cluster-names.png (see test_browser.SHOTS).
"""

from __future__ import annotations

import threading

import pytest

from tests.e2e.test_browser import COUNT_POINTS, SHOTS, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def odd_run(home, tmp_path_factory):
    """The run id of a tiny run on EfficientNet-Lite0 features of 20 generated photos in labelled folders."""
    from core.config import FeatureConfig, RunConfig
    from core.data import DataSpec
    from core.experiment import execute
    from core.models import ModelConfig
    from core.runs import RunStore
    from core.training import TrainConfig
    from tests.core.photo_fixtures import write_photos_with_odd_ones

    folder = tmp_path_factory.mktemp("odd") / "shapes"
    write_photos_with_odd_ones(folder)
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=16),
        features=FeatureConfig(backbone="efficientnet-lite0"),
        model=ModelConfig(family="dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(epochs=5, batch_size=8, device="cpu"),
        name="odd ones test",
    )
    with pytest.MonkeyPatch.context() as patch:  # the server's data folder, where it looks for the features
        patch.setenv("LATENTBOARD_DATA_DIR", str(home / "data"))
        run = RunStore(home / "runs").create(config)
        for _ in execute(run, stop=threading.Event()):
            pass
    return run.id


def test_the_planted_photo_comes_first_among_the_odd_ones(server, page, odd_run):
    page.goto(f"{server}/latent?run={odd_run}&split=all&projection=pca&clusters=kmeans&k=3&colour=cluster")
    heading = page.get_by_role("heading", name="The odd ones out")
    heading.wait_for(timeout=120_000)
    page.wait_for_function(f"({COUNT_POINTS})().some(n => n >= 20)", timeout=60_000)
    wait_idle(page, timeout=90)
    assert page.get_by_text("Most odd first").count() == 0  # off until asked for: the first open stays cheap
    page.get_by_text("Find the photos that fit in least and the possible mislabels").click()
    wait_idle(page, timeout=90)
    assert page.get_by_text("Most odd first: receipt.jpg (").first.is_visible()
    page.get_by_text("filed-wrong.jpg: stripes → circle").wait_for()
    assert page.get_by_text("ImageNet's vocabulary").is_visible()
    assert page.get_by_text("ImageNet: mostly").count() >= 3  # a suggestion beside every cluster

    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    shoot(page, "outliers.png")

    # One click takes a cluster's suggested name; it then heads the cluster's gallery.
    suggest = page.locator("[class*='st-key-latent-sort-suggest-'] button").first
    name = suggest.inner_text().strip().splitlines()[-1]  # after the icon's ligature
    assert name and page.get_by_text(f"{name} (cluster").count() == 0
    suggest.click()
    wait_idle(page)
    page.get_by_text(f"{name} (cluster").wait_for()
    page.get_by_text("Suggested names use ImageNet's vocabulary").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    shoot(page, "cluster-names.png")


def shoot(page, name: str) -> None:
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name))
