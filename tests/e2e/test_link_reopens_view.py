"""A link reopens the view in a real browser: set the dataset's options, a training setting and the
map's choices, copy the link from the sidebar, open it in a fresh browser context (no cookies, no
session) and find the same page, dataset, settings and map. Screenshot: link-restored.png (see test_browser.SHOTS).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.e2e.test_browser import COUNT_POINTS, go, wait_idle
from tests.e2e.test_map import digits_run, save  # noqa: F401  (digits_run is a fixture)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

MAP_TITLE = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .map(g => g.layout && g.layout.title && (g.layout.title.text || g.layout.title))
    .find(t => t && String(t).includes('of the codes'))"""


def type_number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_idle(page)


def pick(page, label: str, option: str) -> None:
    page.get_by_test_id("stSelectbox").filter(has_text=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page, timeout=90)


def selected(page, label: str) -> str:
    """The value a select box shows (a combobox input: its text is its value)."""
    return page.get_by_role("combobox", name=label, exact=True).input_value()


def wait_map(page) -> None:
    page.wait_for_function(f"({COUNT_POINTS})().some(n => n > 100)", timeout=90_000)
    wait_idle(page, timeout=90)


def test_a_copied_link_reopens_page_dataset_and_map_in_a_fresh_browser(server, browser, page, digits_run):  # noqa: F811
    page.goto(f"{server}/?run={digits_run}")
    wait_idle(page, timeout=90)
    type_number(page, "Use at most this many samples (0 = all)", "1000")  # the dataset's options
    go(page, "Train")
    type_number(page, "Epochs", "7")  # a training setting
    go(page, "Latent space")
    wait_map(page)
    pick(page, "Projection", "PCA")  # the map
    pick(page, "Colour by", "cluster")
    wait_map(page)
    link = page.locator('[data-testid="stSidebar"] [data-testid="stCode"] code').inner_text().strip()
    address = urlsplit(link)
    query = {k: v[0] for k, v in parse_qs(address.query).items()}
    assert link.startswith(server) and address.path == "/latent", link
    assert {k: query.get(k) for k in ("run", "dataset", "max-samples", "epochs", "projection", "colour")} == {
        "run": digits_run,
        "dataset": "digits",
        "max-samples": "1000",
        "epochs": "7",
        "projection": "pca",
        "colour": "cluster",
    }, query
    assert page.url.split("?")[0] == link.split("?")[0]  # the address bar says the same page

    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    try:
        fresh = context.new_page()
        fresh.set_default_timeout(30_000)
        fresh.goto(link)
        fresh.wait_for_selector('h1:has-text("Latent space")')  # the page
        wait_map(fresh)
        assert (
            selected(fresh, "Projection") == "PCA" and selected(fresh, "Colour by") == "cluster"
        )  # the map's settings
        title = fresh.evaluate(MAP_TITLE)
        assert "PCA of the codes (test, coloured by N2D (UMAP + GMM))" in title, title  # the run sorts by N2D
        assert fresh.get_by_text("were not understood").count() == 0
        fresh.evaluate("() => window.scrollTo(0, 0)")
        save(fresh, "link-restored")
        go(fresh, "Data")  # the dataset and its options
        assert fresh.get_by_label("Use at most this many samples (0 = all)", exact=True).input_value() == "1000"
        assert fresh.get_by_text("1,000").count() >= 1  # the Samples metric of the subsample
        go(fresh, "Train")  # the training settings
        assert fresh.get_by_label("Epochs", exact=True).input_value() == "7"
    finally:
        context.close()
