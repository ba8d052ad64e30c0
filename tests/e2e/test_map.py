"""The Latent space map in a real browser: hovering a point shows its picture, clicking one shows
its nearest neighbours. A small digits run is trained with core beforehand (the newcomer's tour in
test_browser.py trains through the page); screenshots go where test_browser.SHOTS says.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.e2e.test_browser import COUNT_POINTS, SHOTS, go, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Where on the screen a map point is: plotly's own axes map data to pixels inside the plot area.
POINT_ON_SCREEN = """(k) => {
    const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
      .find(g => g.layout && g.layout.meta && g.layout.meta.sprites);
    const L = gd._fullLayout, box = gd.getBoundingClientRect(), trace = gd._fullData[0];
    return {x: box.left + L._size.l + L.xaxis.l2p(trace.x[k]), y: box.top + L._size.t + L.yaxis.l2p(trace.y[k])};
}"""
HOVER_PICTURE = """() => {
    const card = document.getElementById('latentboard-hover'), img = card && card.querySelector('img');
    return card && card.style.display !== 'none' && img.complete && img.naturalWidth > 0 ? card.innerText : null;
}"""
TRACE_SIZES = """() => Object.fromEntries(Array.from(document.querySelectorAll('.js-plotly-plot'))
    .flatMap(g => (g._fullData || []).map(t => [t.name, t._length ?? (t.x ? t.x.length : 0)])))"""


@pytest.fixture(scope="module")
def digits_run(home) -> str:
    from core.config import RunConfig
    from core.data import DataSpec
    from core.experiment import execute
    from core.models import ModelConfig
    from core.runs import RunStore
    from core.training import TrainConfig

    config = RunConfig(
        data=DataSpec(source="digits"),
        model=ModelConfig(family="dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(epochs=3, batch_size=128, lr=3e-3, device="cpu"),
        name="map test",
    )
    run = RunStore(home / "runs").create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    return run.id


def save(page, name: str) -> None:
    """The viewport as it is (a full-page shot would scroll and drop the hover card)."""
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"))


def open_map(page, server: str, run_id: str) -> None:
    started = time.monotonic()
    page.goto(f"{server}/?run={run_id}")
    wait_idle(page, timeout=90)
    go(page, "Latent space")
    page.wait_for_function(f"({COUNT_POINTS})().some(n => n > 100)", timeout=90_000)
    wait_idle(page, timeout=90)
    print(f"map on screen: {time.monotonic() - started:.1f} s")


def test_hovering_a_point_shows_its_picture(server, page, digits_run):
    open_map(page, server, digits_run)
    spec_bytes = page.evaluate(
        "() => JSON.stringify(Array.from(document.querySelectorAll('.js-plotly-plot')).map(g => g.layout.meta)).length"
    )
    assert spec_bytes < 2000  # the map names its sprite sheets; no picture travels inside the chart
    point = page.evaluate(POINT_ON_SCREEN, 5)
    page.mouse.move(point["x"] - 30, point["y"] - 30)
    page.mouse.move(point["x"], point["y"], steps=5)
    page.wait_for_function(HOVER_PICTURE, timeout=15_000)
    text = page.evaluate(HOVER_PICTURE)
    assert "row " in text and "label " in text, text
    size = page.evaluate("() => document.querySelector('#latentboard-hover > div').getBoundingClientRect().width")
    assert size >= 128  # large enough to recognise
    save(page, "latent-hover")
    page.mouse.move(5, 5)
    page.wait_for_function("() => document.getElementById('latentboard-hover').style.display === 'none'")


def test_clicking_a_point_shows_its_neighbours(server, page, digits_run):
    open_map(page, server, digits_run)
    point = page.evaluate(POINT_ON_SCREEN, 7)
    page.mouse.move(point["x"], point["y"], steps=3)
    page.wait_for_function(HOVER_PICTURE)  # plotly has found the point under the cursor: a click now selects it
    page.mouse.click(point["x"], point["y"])
    page.get_by_role("heading", name="Nearest neighbours").wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_function(f"({TRACE_SIZES})()['nearest'] === 12")
    sizes = page.evaluate(TRACE_SIZES)
    assert sizes["clicked"] == 1 and sizes["nearest"] == 12, sizes  # the point starred, its neighbours ringed
    assert page.get_by_text("the 12 nearest to it").count() == 1
    gallery = page.locator('[data-testid="stImage"] img').first
    assert gallery.evaluate("el => el.naturalWidth") >= 300
    assert page.locator('[data-testid="stDataFrame"]').count() >= 1
    save(page, "latent-neighbours")
