"""Training replayed in a real browser: train the quick demo on digits through the page, then move
the Latent space page's epoch slider and see the replay map change. The screenshot goes to
latent-replay.png (the README shows it; see test_browser.SHOTS).
"""

from __future__ import annotations

import time

import pytest

from tests.e2e.test_browser import COUNT_POINTS, SHOTS, TRAIN_TIMEOUT, go, start_quick_demo, wait_idle

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# The replay figure's epoch (its layout.meta) and where its first points are drawn.
REPLAY = """() => {
    const gd = Array.from(document.querySelectorAll('.js-plotly-plot'))
      .find(g => g.layout && g.layout.meta && g.layout.meta.epoch !== undefined);
    if (!gd || !gd._fullData) return null;
    const t = gd._fullData[0];
    return {epoch: gd.layout.meta.epoch, x: Array.from(t.x).slice(0, 20), y: Array.from(t.y).slice(0, 20)};
}"""


def slide_to(page, selector: str, target: int, timeout_s: float = 60) -> None:
    """Arrow keys on a slider until it reads `target`, as a keyboard user would.

    Each key press reruns the page, which may redraw the slider and take its focus: a burst of
    presses then lands partly nowhere (seen once in CI). So press one at a time, focusing first,
    and read the value back before the next.
    """
    thumb = page.locator(selector)
    deadline = time.monotonic() + timeout_s
    while (value := int(float(thumb.input_value()))) != target:
        assert time.monotonic() < deadline, f"the slider stayed at {value}, not {target}"
        thumb.focus()
        page.keyboard.press("ArrowLeft" if value > target else "ArrowRight")
        page.wait_for_timeout(100)


def test_the_epoch_slider_replays_training(server, page):
    started = start_quick_demo(page, server)
    page.get_by_text("What next?").wait_for(timeout=TRAIN_TIMEOUT * 1000)
    wait_idle(page)

    go(page, "Latent space")
    page.wait_for_function(f"({COUNT_POINTS})().some(n => n > 100)", timeout=90_000)
    print(f"map on screen: {time.monotonic() - started:.1f} s after Start training")
    page.get_by_text("Training replay").first.scroll_into_view_if_needed()
    page.wait_for_function(f"({REPLAY})() !== null", timeout=60_000)
    wait_idle(page, timeout=90)
    last = page.evaluate(REPLAY)
    assert last["epoch"] == 20, last  # the quick demo's 20 epochs, the newest shown first

    slide_to(page, '.st-key-latent-replay-epoch input[type="range"]', 3)  # back to epoch 3: clusters still forming
    page.wait_for_function(f"({REPLAY})()?.epoch === 3", timeout=30_000)
    wait_idle(page)
    early = page.evaluate(REPLAY)
    moved = sum(abs(a - b) + abs(c - d) for a, b, c, d in zip(early["x"], last["x"], early["y"], last["y"]))
    assert moved > 0.1, (early, last)  # the points are elsewhere at epoch 3
    # The page scrolls inside Streamlit's main container, not the window: bring the section to the top.
    page.get_by_text("Training replay").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    for folder in SHOTS:
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / "latent-replay.png"))

    page.get_by_role("button", name="Play").click()  # steps on through the epochs by itself
    page.wait_for_function(f"({REPLAY})()?.epoch > 4", timeout=30_000)
