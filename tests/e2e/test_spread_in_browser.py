"""Name a few, the rest follow, in a real browser: on a small folder of generated photos (discs,
squares, stripes), click a disc on the map and name it, click a square and name it, then see every
photo labelled (the groups' table), the review queue with its yes / no answers, and the sorted zip
holding every photo once in the named groups' folders. The screenshot goes to spread.png (see
test_browser.SHOTS).
"""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from tests.e2e.test_browser import COUNT_POINTS, SHOTS, wait_idle
from tests.e2e.test_map import HOVER_PICTURE
from tests.e2e.test_sorted_photos_in_browser import digests, shapes_run  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Where on screen the map draws the point of a position (its customdata), whichever trace holds it.
POSITION_ON_SCREEN = """(position) => {
    const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
      .find(g => g.layout && g.layout.meta && g.layout.meta.sprites);
    gd.scrollIntoView({block: 'center'});
    const L = gd._fullLayout, box = gd.getBoundingClientRect();
    for (const t of gd._fullData) {
        for (let k = 0; t.customdata && k < t.customdata.length; k++) {
            const c = t.customdata[k];
            if ((Array.isArray(c) ? c[0] : c) === position)
                return {x: box.left + L._size.l + L.xaxis.l2p(t.x[k]), y: box.top + L._size.t + L.yaxis.l2p(t.y[k])};
        }
    }
    return null;
}"""


def click_point(page, position: int) -> None:
    point = page.evaluate(POSITION_ON_SCREEN, position)
    assert point is not None, position
    page.wait_for_timeout(300)  # the scroll settles
    page.mouse.move(point["x"] - 20, point["y"] - 20)
    page.mouse.move(point["x"], point["y"], steps=4)
    page.wait_for_function(HOVER_PICTURE, timeout=15_000)  # plotly has the point under the cursor: a click selects it
    page.mouse.click(point["x"], point["y"])
    page.get_by_role("textbox", name="Name the 1 selected photo").wait_for(timeout=60_000)
    wait_idle(page)


def name_it(page, group: str) -> None:
    box = page.get_by_role("textbox", name="Name the 1 selected photo")
    box.fill(group)
    box.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Name", exact=True).click()
    wait_idle(page)


def test_name_two_photos_and_the_rest_follow(server, page, shapes_run, home):  # noqa: F811 (the fixture)
    run_id, files = shapes_run  # 15 photos: circle-00..04 are positions 0-4, square-00..04 5-9, stripes 10-14
    page.goto(f"{server}/latent?run={run_id}&projection=pca&clusters=kmeans&k=3&colour=cluster")
    heading = page.get_by_role("heading", name="Name a few, the rest follow")
    heading.wait_for(timeout=90_000)
    page.wait_for_function(f"({COUNT_POINTS})().some(n => n >= 15)", timeout=60_000)
    wait_idle(page, timeout=90)

    click_point(page, 0)
    name_it(page, "discs")
    page.get_by_text("Named so far: discs (1)").wait_for(timeout=30_000)
    click_point(page, 5)
    name_it(page, "squares")

    page.get_by_text("Review, least sure first").wait_for(timeout=60_000)
    wait_idle(page)
    answers = page.get_by_role("button", name="Yes, ")
    assert answers.count() == 6  # 13 photos nobody named, the six least sure shown
    assert page.get_by_text(" sure", exact=False).count() >= 6
    saved = json.loads((home / "runs" / run_id / "sorting.json").read_text())
    kinds = {int(row): group for row, group in saved["examples"].items()}  # a click may take a point beside it
    assert sorted(kinds.values()) == ["discs", "squares"]
    assert all(row < 5 if group == "discs" else 5 <= row < 10 for row, group in kinds.items()), kinds

    with page.expect_download() as download:
        page.get_by_role("button", name="Download the photos sorted into folders (zip)").click()
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as archive:
        photos = {name: archive.read(name) for name in archive.namelist() if name != "clusters.csv"}
        table = archive.read("clusters.csv").decode()
    assert {name.split("/")[0] for name in photos} == {"discs", "squares"}  # every photo in a named group
    assert all(name.startswith("discs/circle-") for name in photos if "/circle-" in name)  # the rest followed
    assert all(name.startswith("squares/square-") for name in photos if "/square-" in name)
    assert digests(photos.values()) == digests(f.read_bytes() for f in files)
    assert "confidence" in table.splitlines()[0]

    heading.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "spread.png"))
