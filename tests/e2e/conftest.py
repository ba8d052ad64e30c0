"""A real dashboard server (streamlit run, own runs folder, free port) and a headless Chromium.

Chromium is Debian's (`apt-get install chromium`), driven by Playwright for Python; the test never
downloads a browser. Without one it is skipped locally and fails under CI (CI is set).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.live_dashboard import ServerDidNotStart, browser_missing, dashboard_server, headless_chromium

ROOT = Path(__file__).resolve().parents[2]


def missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (required under CI)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """The Latentboard home of this module's server: runs a test trains itself go in home / "runs"."""
    return tmp_path_factory.mktemp("e2e-home")


@pytest.fixture(scope="module")
def server(home):
    """URL of a fresh `streamlit run dashboard/app.py` with its own Latentboard home."""
    try:
        with dashboard_server(home) as running:
            yield running.url
    except ServerDidNotStart as error:
        pytest.fail(str(error))


def launched_chromium(cpus=None):
    """A browser fixture's body: the headless Chromium (on `cpus` when given), or a skip saying why not."""
    reason = browser_missing()
    if reason:
        missing(reason)
    with headless_chromium(cpus) as browser:
        yield browser


@pytest.fixture(scope="module")
def browser():
    yield from launched_chromium()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, device_scale_factor=1)
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:  # what the browser showed when it went wrong
        artifacts = ROOT / "tests" / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / f"failure-{request.node.name}.png"), full_page=True)
    context.close()
