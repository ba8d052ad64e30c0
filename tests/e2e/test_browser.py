"""The dashboard in a real browser: open it, train a quick demo while the loss chart grows,
then visit every page, checking what a newcomer sees and saving a screenshot of each.

Screenshots go to tests/artifacts/screenshots/ (ignored by git), so a test run leaves the tree
clean; `bash scripts/dev.sh screenshots` runs the browser tests with LATENTBOARD_README_SCREENSHOTS=1
to refresh the README's images in assets/screenshots/ on purpose.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]  # a real browser: minutes, not seconds

ROOT = Path(__file__).resolve().parents[2]
SHOTS = (ROOT / "tests" / "artifacts" / "screenshots",) + (
    (ROOT / "assets" / "screenshots",) if os.environ.get("LATENTBOARD_README_SCREENSHOTS") else ()
)
START = [0.0]
TRAIN_TIMEOUT = 240  # a deadline for waiting, not a speed check: CI shares 2 busy cores
UNTIL_STOPPED_EPOCHS = 1000  # the Train form's most: minutes of quick-demo training, ended by the test's Stop
EPOCHS_BEFORE_STOP = 20  # the quick demo's own length: enough for the later pages to show a trained model

# Points per plotly chart on the page: plotly.js's own count (_length), since numpy arrays arrive
# base64-encoded and only the parsed traces have a length.
COUNT_POINTS = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(
    el => (el._fullData || []).reduce((n, t) => n + (t._length ?? ((t.x && t.x.length) || 0)), 0))"""


def script_state(page) -> str | None:
    return page.evaluate(
        "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"
    )


IDLE_WAIT_FLOOR = 180.0  # s: the Latent page's first open computes groups, names and odd ones below the map


def wait_idle(page, timeout: float = 60.0, settle: float = 0.6) -> None:
    """Until the app is connected, its script is not running and no 'Running…' widget shows.

    Never less than IDLE_WAIT_FLOOR: a wait, not a bar (2 shared cores made 90 s too short once)."""
    timeout = max(timeout, IDLE_WAIT_FLOOR)
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    quiet_since = None
    while time.monotonic() < deadline:
        busy = (
            script_state(page) == "running"
            or page.locator('[data-testid="stStatusWidget"]').filter(has_text="Running").count() > 0
        )
        if busy:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= settle:
            return
        time.sleep(0.1)
    raise AssertionError(f"the app did not become idle within {timeout} s (script state {script_state(page)!r})")


def go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_selector(f'h1:has-text("{title}")')
    wait_idle(page)


def start_quick_demo(page, server: str) -> float:
    """Open the dashboard, press Quick demo then Start training on the Train page; returns when it was started."""
    page.goto(server)
    wait_idle(page, timeout=90)  # the first load imports torch and friends
    go(page, "Train")
    page.get_by_role("button", name="Quick demo").click()
    wait_idle(page)
    started = time.monotonic()
    page.get_by_role("button", name="Start training").click()
    return started


def shot(page, name: str) -> None:
    print(f"{name}: {time.monotonic() - START[0]:.1f} s")  # shown with pytest -s: where the time goes
    page.evaluate("() => window.scrollTo(0, 0)")
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def lasso(page, area) -> None:
    """Pick the lasso in the map's toolbar (the map drags to pan, so a click selects one point),
    then drag a lasso loop through the middle of the plot area."""
    page.locator('.js-plotly-plot .modebar-btn[data-val="lasso"]').first.click(force=True)
    box = area.bounding_box()
    cx, cy, rx, ry = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.3, box["height"] * 0.3
    page.mouse.move(cx - rx, cy - ry)
    page.mouse.down()
    for fx, fy in ((1, -1), (1, 1), (-1, 1), (-1, -1)):
        page.mouse.move(cx + fx * rx, cy + fy * ry, steps=8)
    page.mouse.up()


def plotted_points(page) -> list[int]:
    return page.evaluate(COUNT_POINTS)


def epochs_shown(page) -> int:
    """The Train page's "Epoch (of N)" metric: how far the followed run has trained."""
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Epoch (of")
    if not metric.count():
        return 0
    value = metric.first.locator('[data-testid="stMetricValue"]').inner_text(timeout=2000).strip()
    return int(value) if value.isdigit() else 0


def test_newcomer_trains_a_quick_demo_and_explores_it(server, page):
    started = START[0] = time.monotonic()
    page.goto(server)
    wait_idle(page, timeout=90)  # the first load imports torch and friends
    # The first screen is useful on its own: digits, their labels and class balance.
    page.wait_for_selector('[data-testid="stImage"] img')
    assert page.get_by_text("1,797").count() >= 1
    page.wait_for_selector(".js-plotly-plot")
    shot(page, "data")

    go(page, "Train")
    page.get_by_role("button", name="Quick demo").click()
    wait_idle(page)
    # The run trains until the test stops it, so the chart is seen growing however fast the machine
    # is: 20 quick-demo epochs once ended within two of the live panel's redraws in CI.
    epochs = page.get_by_label("Epochs")
    epochs.fill(str(UNTIL_STOPPED_EPOCHS))
    epochs.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start training").click()
    # The loss chart gains points while the run trains: watch it at several moments, then Stop.
    seen: list[int] = []
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while time.monotonic() < deadline and (len(seen) < 3 or epochs_shown(page) < EPOCHS_BEFORE_STOP):
        counts = plotted_points(page)
        if counts and counts[0] and (not seen or counts[0] != seen[-1]):
            seen.append(counts[0])
        time.sleep(0.25)
    assert len(seen) >= 3 and seen == sorted(seen), (
        f"the loss chart should grow while training; point counts seen: {seen}"
    )
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("What next?").wait_for(timeout=TRAIN_TIMEOUT * 1000)
    print(f"trained: {time.monotonic() - START[0]:.1f} s; loss chart point counts seen: {seen}")
    assert page.get_by_text("Stopped at").count(), "a stopped run says so under its progress bar"
    wait_idle(page)
    assert "run=" in page.url
    final = plotted_points(page)
    page.reload()  # a refresh re-attaches to the run and redraws its chart from disk
    wait_idle(page)
    page.wait_for_function(f"({COUNT_POINTS})().length > 0")
    assert plotted_points(page) == final
    shot(page, "train")

    go(page, "Reconstructions")
    page.wait_for_selector('[data-testid="stImage"] img')
    shot(page, "reconstructions")

    go(page, "Latent space")
    page.wait_for_function(f"({COUNT_POINTS})().some(n => n > 100)", timeout=90_000)
    assert page.locator(".js-plotly-plot canvas").count() > 0  # WebGL scatter
    wait_idle(page, timeout=90)
    lasso(page, page.locator(".js-plotly-plot .nsewdrag").first)  # select a patch of the map...
    page.get_by_text("selected").first.wait_for()  # ...and its images and label mix appear beside it
    wait_idle(page)
    shot(page, "latent")

    go(page, "Evaluate")
    page.get_by_role("button", name="Compute the evaluation").click()
    bar = page.locator('[data-testid="stProgress"]')
    bar.first.wait_for(timeout=60_000)  # it runs in the background: steps and an ETA, the page stays live
    page.get_by_text("Clustering the codes").first.wait_for(timeout=120_000)  # N2D's table, before the rest
    assert bar.count(), "the first tables should appear while the later steps still run"
    page.locator('[data-testid="stDataFrame"] canvas').first.wait_for(timeout=30_000)
    shot(page, "evaluate-progress")
    page.get_by_role("button", name="Recompute").wait_for(timeout=180_000)
    wait_idle(page, timeout=120)
    shot(page, "evaluate")

    go(page, "Runs")
    page.wait_for_selector('[data-testid="stDataFrame"]')
    shot(page, "runs")
    print(f"whole tour: {time.monotonic() - started:.1f} s")


def bird_zip(folder: Path) -> Path:
    """A zip of real bird photos in species folders, as a person would upload their own."""
    import zipfile

    from tests.core.photo_fixtures import write_bird_folder

    write_bird_folder(folder / "birds", species=3, per_species=5)
    archive = folder / "birds.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for photo in sorted((folder / "birds").rglob("*.jpg")):
            out.write(photo, photo.relative_to(folder).as_posix())
    return archive


def test_photos_are_sorted_into_cluster_galleries(server, page, tmp_path):
    START[0] = time.monotonic()
    archive = bird_zip(tmp_path)
    page.goto(server)
    wait_idle(page, timeout=90)
    page.get_by_test_id("stSelectbox").filter(has_text="Source").click()
    page.get_by_role("option", name="folder", exact=True).click()
    wait_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(archive))
    page.get_by_text("Train an autoencoder on").wait_for(timeout=60_000)
    wait_idle(page)
    assert page.get_by_test_id("stMetric").filter(has_text="Samples").filter(has_text="15").count() == 1
    print(f"photos uploaded: {time.monotonic() - START[0]:.1f} s")

    go(page, "Train")
    page.get_by_role("button", name="Photos").click()
    wait_idle(page)
    assert page.get_by_text("images at 96 px").count() >= 1
    page.get_by_role("button", name="Start training").click()
    print(f"photos training: {time.monotonic() - START[0]:.1f} s")
    page.get_by_text("What next?").wait_for(timeout=TRAIN_TIMEOUT * 1000)
    wait_idle(page)
    assert page.get_by_text("Skipped").count() == 0 and page.get_by_text("What loading did").count() == 1
    print(f"photos trained: {time.monotonic() - START[0]:.1f} s")

    go(page, "Reconstructions")  # a feature run rebuilds features: each photo beside its nearest training photos
    page.get_by_text("not a picture").first.wait_for()
    page.wait_for_selector('[data-testid="stImage"] img')
    assert page.get_by_role("tab", name="Interpolate").count() == 0
    shot(page, "photos-reconstructions")

    go(page, "Latent space")
    heading = page.get_by_role("heading", name="Clusters")
    # The first open of a photo run computes more below the map now (the group count, names from
    # ImageNet, the odd ones out); on 2 shared cores that once took over 90 s. A wait, not a bar.
    heading.wait_for(timeout=180_000)
    wait_idle(page, timeout=180)
    galleries = page.get_by_text("Cluster 0 ·")
    assert galleries.count() == 1
    # Each cluster's gallery is a picture of photos (at least 96 px a tile), not a chart of vectors.
    heading.scroll_into_view_if_needed()
    images = page.locator('[data-testid="stImage"] img')
    widths = images.evaluate_all("els => els.map(el => el.naturalWidth)")
    assert max(widths) >= 3 * 96, widths
    assert page.get_by_text("Download file → cluster (CSV)").count() == 1
    print(f"photos-clusters: {time.monotonic() - START[0]:.1f} s")
    page.evaluate("() => window.scrollTo(0, 0)")
    box = heading.bounding_box()
    page.evaluate(f"() => window.scrollBy(0, {box['y'] - 20})")
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "photos-clusters.png"))
    print(f"photo tour: {time.monotonic() - START[0]:.1f} s")


SWEEP_TIMEOUT = 300
TINY_SPACE = '{"family": ["dense"], "latent_dim": {"grid": [2, 3]}, "width": [16], "depth": [1], "epochs": [2]}'


def test_sweeps_page_starts_a_two_trial_sweep(server, page):
    """Sweeps: a custom 2-trial space started from the page; both trials appear, then the best run."""
    START[0] = time.monotonic()
    page.goto(server)
    wait_idle(page, timeout=90)
    go(page, "Sweeps")
    page.get_by_label("Search space").click()  # the "Start a sweep" expander is open while there are no sweeps
    page.get_by_role("option", name="custom (JSON)").click()
    wait_idle(page)
    space = page.get_by_label("Space", exact=True)
    space.fill(TINY_SPACE)
    space.press("Control+Enter")
    trials = page.get_by_label("Trials")
    trials.fill("1")
    trials.press("Enter")
    wait_idle(page)
    page.get_by_role("button", name="Start sweep").click()
    page.get_by_text("2 of 2").first.wait_for(timeout=SWEEP_TIMEOUT * 1000)  # both trials listed
    page.get_by_text("Best so far").first.wait_for(timeout=SWEEP_TIMEOUT * 1000)
    wait_idle(page)
    grid = page.locator('[data-testid="stDataFrame"]')
    assert grid.count() == 1
    shot(page, "sweeps")
