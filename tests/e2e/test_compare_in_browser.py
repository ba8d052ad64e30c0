"""The Compare page in a real browser: two maps of the same rows (the run's codes beside the raw
pixels); hovering a point on one rings the same row on the other; a lasso on one selects the same rows
on both; the movers list with pictures below. Saves compare.png where test_browser.SHOTS says."""

from __future__ import annotations

import pytest

from tests.e2e.test_browser import COUNT_POINTS, wait_idle
from tests.e2e.test_map import digits_run, save  # noqa: F401  (digits_run is a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAPS = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .filter(g => g.layout && g.layout.meta && g.layout.meta.compare)"""
POINT_ON_MAP = f"""([m, k]) => {{
    const gd = ({MAPS})()[m];
    const L = gd._fullLayout, box = gd.getBoundingClientRect(), trace = gd._fullData[0];
    return {{x: box.left + L._size.l + L.xaxis.l2p(trace.x[k]), y: box.top + L._size.t + L.yaxis.l2p(trace.y[k]),
             position: Number(trace.customdata[k])}};
}}"""
PIXEL_OF = f"""([m, i]) => {{
    const gd = ({MAPS})()[m], L = gd._fullLayout, box = gd.getBoundingClientRect();
    for (const t of gd._fullData) {{
        const k = Array.from(t.customdata || []).map(Number).indexOf(i);
        if (t.name !== 'selected' && k >= 0)
            return {{x: box.left + L._size.l + L.xaxis.l2p(t.x[k]), y: box.top + L._size.t + L.yaxis.l2p(t.y[k])}};
    }}
}}"""
RING = """() => Array.from(document.querySelectorAll('.latentboard-compare-ring'))
    .filter(r => r.style.display !== 'none').map(r => ({position: Number(r.dataset.position),
      x: parseFloat(r.style.left), y: parseFloat(r.style.top)}))"""
SELECTED = f"""() => ({MAPS})().map(gd => {{
    const ring = (gd._fullData || []).find(t => t.name === 'selected');
    return ring ? Array.from(ring.customdata).map(Number).sort((a, b) => a - b) : [];
}})"""


def test_two_linked_maps_and_the_movers(server, page, digits_run):  # noqa: F811
    page.set_viewport_size({"width": 1600, "height": 1500})  # the movers in the screenshot too
    page.goto(f"{server}/?run={digits_run}")
    wait_idle(page, timeout=90)
    # by address: "Compare" is also the Reconstructions icon's name (material "compare"), inside its link text
    page.locator('[data-testid="stSidebarNav"] a[href$="/compare"]').click()
    page.wait_for_selector('h1:has-text("Compare")')
    page.wait_for_function(
        f"({MAPS})().length === 2 && ({COUNT_POINTS})().filter(n => n > 100).length === 2", timeout=90_000
    )
    wait_idle(page, timeout=90)
    titles = page.evaluate(f"() => ({MAPS})().map(g => g.layout.title.text)")
    assert "codes" in titles[0] and "raw inputs" in titles[1], titles

    # Hover a point on the left map: the same row is ringed on the right one, on that row's point.
    point = page.evaluate(POINT_ON_MAP, [0, 5])
    page.mouse.move(point["x"] - 30, point["y"] - 30)
    page.mouse.move(point["x"], point["y"], steps=5)
    page.wait_for_function(f"({RING})().length === 1", timeout=15_000)
    ring = page.evaluate(RING)[0]
    on_left = page.evaluate(PIXEL_OF, [0, ring["position"]])  # the row plotly found under the cursor...
    assert abs(on_left["x"] - point["x"]) < 8 and abs(on_left["y"] - point["y"]) < 8, (on_left, point)
    on_right = page.evaluate(PIXEL_OF, [1, ring["position"]])  # ...is the one ringed on the right map
    assert abs(on_right["x"] - ring["x"]) < 2 and abs(on_right["y"] - ring["y"]) < 2, (on_right, ring)
    page.mouse.move(5, 5)

    # A lasso around that point on the right map selects the same rows on both.
    page.locator('.js-plotly-plot .modebar-btn[data-val="lasso"]').nth(1).click(force=True)
    around = page.evaluate(PIXEL_OF, [1, ring["position"]])
    page.mouse.move(around["x"] - 50, around["y"] - 50)
    page.mouse.down()
    for dx, dy in ((50, -50), (50, 50), (-50, 50), (-50, -50)):
        page.mouse.move(around["x"] + dx, around["y"] + dy, steps=8)
    page.mouse.up()
    page.wait_for_function(
        f"(() => {{ const s = ({SELECTED})(); return s[0].length > 0 && s[1].length > 0; }})()", timeout=60_000
    )
    wait_idle(page)
    left, right_rows = page.evaluate(SELECTED)
    assert left == right_rows and len(left) > 5, (len(left), len(right_rows))
    assert page.get_by_text(f"{len(left):,} rows selected on both maps").count() == 1

    # The movers, with their pictures.
    page.get_by_role("heading", name="Movers").wait_for()
    movers = page.locator('[data-testid="stImage"] img')
    assert movers.count() >= 1 and movers.first.evaluate("el => el.naturalWidth") > 0
    assert page.get_by_text("kept", exact=False).count() >= 1
    page.evaluate("() => window.scrollTo(0, 0)")
    save(page, "compare")
