"""The HTML report opened from disk with the network off: a small digits run with a three-step tour, its
report written by core, opened from file:// in Chromium with every request that is not file:// or data:
aborted (and none may be attempted). Hovering the map shows a picture cut from the one sprite sheet;
Next walks the tour (its caption, colouring and highlighted rows), Back returns. Screenshot:
report-tour.png (see test_browser.SHOTS).
"""

from __future__ import annotations

import pytest

from tests.e2e.test_map import save

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CAPTIONS = (
    "Every digit, coloured by what it is.",
    "The team's clusters; these look alike.",
    "Where to trust the map: dark points lost their neighbours.",
)
# Where point k of the map's first trace is on the screen (plotly's own axes map data to pixels).
POINT_ON_SCREEN = """(k) => {
    const gd = document.getElementById('latent-map'), L = gd._fullLayout, box = gd.getBoundingClientRect();
    const t = gd._fullData[0];
    return {x: box.left + L._size.l + L.xaxis.l2p(t.x[k]), y: box.top + L._size.t + L.yaxis.l2p(t.y[k])};
}"""
PICTURE = """() => {
    const card = document.getElementById('latentboard-hover'), img = card && card.querySelector('img');
    return card && card.style.display !== 'none' && img && img.complete && img.naturalWidth > 0
        ? {text: card.innerText, position: img.dataset.position, src: img.src.slice(0, 22)} : null;
}"""
VIEW = """() => {
    const gd = document.getElementById('latent-map');
    return {title: gd._fullLayout.title.text, traces: gd._fullData.map(t => t.name),
            x: gd._fullLayout.xaxis.range.slice(), step: gd.dataset.step};
}"""


def block_network(context) -> list[str]:
    """Abort every request of `context` that is not file:// or data:; the list fills with those attempted."""
    attempted: list[str] = []

    def only_the_file(route) -> None:
        if route.request.url.startswith(("file://", "data:")):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_file)
    return attempted


@pytest.fixture(scope="module")
def report_file(home):
    """A digits run trained by core, a tour of three views saved with it, and its report on disk."""
    from core.report import write_report
    from core.tour import Step, Tour, save_tour
    from core.trained import load_trained
    from tests.core.run_fixtures import train_tiny_run

    run = train_tiny_run(home / "runs", max_samples=600, latent_dim=4, width=32)
    trained = load_trained(run)
    tour = Tour(run.id, len(trained.dataset))
    test_rows = trained.splits.get("test")[:12].tolist()
    for caption, colour, rows in zip(CAPTIONS, ("label", "cluster", "trust"), ((), test_rows, ())):
        tour = tour.added(Step(caption, colour=colour, clusterer="kmeans", n_clusters=6, rows=tuple(rows)))
    save_tour(run.path, tour)
    return write_report(trained, home / "report.html")


def test_the_report_opens_offline_shows_pictures_on_hover_and_walks_the_tour(browser, report_file):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    attempted = block_network(context)
    page = context.new_page()
    try:
        page.goto(report_file.as_uri())
        page.wait_for_function("() => document.body.dataset.mapDrawn", timeout=30_000)
        assert page.locator("#tour-caption").inner_text() == CAPTIONS[0]
        assert page.locator("#tour-count").inner_text() == "Step 1 of 3"
        first = page.evaluate(VIEW)
        assert "coloured by label" in first["title"] and "highlighted" not in first["traces"]

        page.locator("#latent-map").scroll_into_view_if_needed()
        point = page.evaluate(POINT_ON_SCREEN, 3)
        page.mouse.move(point["x"] - 25, point["y"] - 25)
        page.mouse.move(point["x"], point["y"], steps=4)
        page.wait_for_function(PICTURE, timeout=10_000)
        shown = page.evaluate(PICTURE)
        assert shown["src"].startswith("data:image/") and shown["position"] is not None
        assert "row " in shown["text"] and "label: " in shown["text"]
        assert page.locator("img").evaluate_all("imgs => imgs.filter(i => i.src.startsWith('data:')).length") >= 1

        page.mouse.move(5, 5)
        page.locator("#tour-next").click()
        page.wait_for_function("() => document.getElementById('latent-map').dataset.step === '1'")
        assert page.locator("#tour-caption").inner_text() == CAPTIONS[1]
        second = page.evaluate(VIEW)
        assert "coloured by k-means" in second["title"].lower() or "cluster" in second["title"].lower(), second
        assert "highlighted" in second["traces"] and second["x"] != first["x"]  # zoomed onto the rows it highlights
        point = page.evaluate(POINT_ON_SCREEN, 0)
        page.mouse.move(point["x"] - 25, point["y"] - 25)
        page.mouse.move(point["x"], point["y"], steps=4)
        page.wait_for_function(PICTURE, timeout=10_000)
        save(page, "report-tour")

        page.mouse.move(5, 5)
        page.locator("#tour-back").click()
        page.wait_for_function("() => document.getElementById('latent-map').dataset.step === '0'")
        assert page.locator("#tour-caption").inner_text() == CAPTIONS[0]
        back = page.evaluate(VIEW)
        assert back["title"] == first["title"] and "highlighted" not in back["traces"]
        assert page.locator("#tour-back").is_disabled()
    finally:
        context.close()
    assert attempted == [], f"the report asked the network for {attempted}"
