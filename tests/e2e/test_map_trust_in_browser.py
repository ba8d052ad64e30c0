"""Map trust in a real browser: colour the Latent space map by "map trust" (a viridis scale from 0 to 1,
the map's trustworthiness above it), click the least trusted point, and find its 10 nearest
neighbours in the code ringed and dashed lines to those the map drew far away. Screenshot:
map-trust.png (see test_browser.SHOTS).
"""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import wait_idle
from tests.e2e.test_link_reopens_view import MAP_TITLE, pick
from tests.e2e.test_map import HOVER_PICTURE, POINT_ON_SCREEN, TRACE_SIZES, digits_run, open_map, save  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The map's first trace (every point, in row order): its colour scale, range and the least trusted point.
TRUST_COLOURS = """() => {
    const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
      .find(g => g.layout && g.layout.meta && g.layout.meta.sprites);
    const m = gd._fullData[0].marker, c = Array.from(m.color);
    return {scale: m.colorscale[0][1], cmin: m.cmin, cmax: m.cmax, n: c.length,
            worst: c.indexOf(Math.min(...c)), scores: c};
}"""
CLICKED = """() => {
    const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
      .find(g => g.layout && g.layout.meta && g.layout.meta.sprites);
    const t = gd._fullData.find(t => t.name === 'clicked');
    return t ? Number(Array.from(t.customdata)[0]) : null;
}"""


ZOOM_TO_CLICKED = """() => {
    const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
      .find(g => g.layout && g.layout.meta && g.layout.meta.sprites);
    const t = gd._fullData.find(t => t.name === 'nearest'), c = gd._fullData.find(t => t.name === 'clicked');
    const xs = [...Array.from(t.x), c.x[0]], ys = [...Array.from(t.y), c.y[0]];
    const pad = (lo, hi) => { const d = Math.max(hi - lo, 1e-6) * 0.6; return [lo - d, hi + d]; };
    if (!window.Plotly) return false;
    window.Plotly.relayout(gd, {'xaxis.range': pad(Math.min(...xs), Math.max(...xs)),
                                'yaxis.range': pad(Math.min(...ys), Math.max(...ys))});
    return true;
}"""


def zoom_to_clicked(page) -> None:
    """For the screenshot: the map zoomed onto the clicked point and its rings (plotly's own relayout,
    where the page exposes it), so the lines read."""
    print("zoomed to the clicked point:", page.evaluate(ZOOM_TO_CLICKED))


def test_map_trust_colours_the_map_and_a_click_draws_the_torn_neighbours(server, page, digits_run):  # noqa: F811
    open_map(page, server, digits_run)
    pick(page, "Colour by", "map trust")
    page.wait_for_function(f"String(({MAP_TITLE})()).includes('coloured by map trust')", timeout=90_000)
    wait_idle(page, timeout=90)
    colours = page.evaluate(TRUST_COLOURS)
    assert colours["scale"].lower() == "#440154" and (colours["cmin"], colours["cmax"]) == (0, 1), colours  # viridis
    assert all(0 <= s <= 1 for s in colours["scores"]) and len(set(colours["scores"])) > 2
    assert page.get_by_test_id("stMetric").filter(has_text="Trustworthiness").count() == 1
    assert page.get_by_text("are bright").count() == 1  # the help in plain words

    point = page.evaluate(POINT_ON_SCREEN, colours["worst"])
    page.mouse.move(point["x"] - 20, point["y"] - 20)
    page.mouse.move(point["x"], point["y"], steps=3)
    page.wait_for_function(HOVER_PICTURE)
    assert "map trust" in page.evaluate(HOVER_PICTURE)  # the hover says how many neighbours were kept
    page.mouse.click(point["x"], point["y"])
    page.get_by_text("nearest neighbours in the code are ringed").wait_for(timeout=60_000)
    wait_idle(page)
    page.wait_for_function(f"({TRACE_SIZES})()['nearest'] === 10")
    clicked = page.evaluate(CLICKED)
    sizes = page.evaluate(TRACE_SIZES)
    far = sizes.get("placed far", 0) // 3  # each line: its start, its end and a gap
    assert sizes["clicked"] == 1 and round(colours["scores"][clicked] * 10) == 10 - far, (clicked, sizes)
    assert far > 0, (clicked, colours["scores"][clicked])  # the least trusted point has neighbours drawn far
    page.mouse.move(5, 5)
    zoom_to_clicked(page)
    page.set_viewport_size({"width": 1440, "height": 1180})  # the controls, the help, the map and the panel
    wait_idle(page)
    page.evaluate("() => window.scrollTo(0, 0)")
    save(page, "map-trust")
