"""A class at once (issue 24): browser sessions that open the dashboard, start the quick demo at the
same moment and keep watching their Train pages, against one server on a core of its own.

Shared by tests/e2e/test_class_load.py (6 sessions, asserted), benchmarks/class_load.py (12 and 24,
printed) and benchmarks/soak.py (sessions coming and going for 20 minutes). The server runs under
`taskset` on the first core and this process, Playwright's driver and Chromium on the others, as a
class's browsers run on the students' own machines.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from tests.e2e.test_browser import go, wait_idle

START_DELAY_MS = 1500  # every page is told to press Start at the same moment, this far ahead
VIEWPORT = {"width": 1280, "height": 900}

# One look at a Train page: its run, the live panel's bar text, a queue place, and anything gone wrong.
TRAIN_VIEW = """() => {
    const text = document.body.innerText;
    const bars = [...document.querySelectorAll('[data-testid="stProgress"]')].map(e => e.innerText.trim());
    const place = text.match(/Queued: place (\\d+) of (\\d+)/);
    const alerts = [...document.querySelectorAll('[data-testid="stException"], [data-testid="stAlertContentError"]')]
        .map(e => e.innerText.trim().slice(0, 300));
    return {
        run: new URLSearchParams(location.search).get('run'),
        bars: bars,
        finished: bars.some(b => b.startsWith('Finished')) && text.includes('What next?'),
        training: bars.some(b => b.startsWith('Training')),
        place: place ? [Number(place[1]), Number(place[2])] : null,
        exception: document.querySelectorAll('[data-testid="stException"]').length > 0 || text.includes('Traceback'),
        alerts: alerts,
    };
}"""
DATA_PAGE_SHOWN = """() => [...document.querySelectorAll('h1')].some(h => h.innerText.includes('Data'))
    && document.querySelector('[data-testid="stImage"] img') !== null"""
PRESS_START_AT = """(at) => new Promise(done => setTimeout(() => {
    const start = [...document.querySelectorAll('button')].find(b => b.innerText.includes('Start training'));
    window.__pressedStartAt = Date.now();
    start.click();
    done();
}, Math.max(0, at - Date.now())))"""


@dataclass(frozen=True)
class CoreSplit:
    """Cores for the server and for the browsers; `note` says why they are not split, when not."""

    server: frozenset[int] | None
    browsers: frozenset[int] | None
    note: str | None = None


def core_split() -> CoreSplit:
    """The server on the first core this process may use, the browsers on the rest; unpinned (with a
    note) without taskset or with a single core."""
    cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if shutil.which("taskset") is None or len(cores) < 2:
        why = "no taskset" if shutil.which("taskset") is None else f"{len(cores) or 'unknown'} core(s)"
        return CoreSplit(None, None, f"server and browsers share the cores, unpinned ({why})")
    return CoreSplit(frozenset(cores[:1]), frozenset(cores[1:]))


def join(browser, url: str, path: str = ""):
    """A new student: a browser context of its own (so its own Streamlit session), opening `url`."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{url}/{path}", wait_until="commit")
    return page


def leave(page) -> None:
    page.context.close()


def ready_to_train(pages: list) -> None:
    """Every page on the Train page with the Quick demo's settings, each waited for in turn."""
    for page in pages:
        wait_idle(page, timeout=180)
    for page in pages:
        go(page, "Train")
        page.get_by_role("button", name="Quick demo").click()
        wait_idle(page)


def press_start_together(pages: list) -> float:
    """Press Start training on every page at one moment (a timer in each page, one clock for all);
    returns the monotonic time it was pressed, and checks the presses came within a second."""
    at = pages[0].evaluate("() => Date.now()") + START_DELAY_MS
    pressed = time.monotonic() + START_DELAY_MS / 1000
    for page in pages:
        page.evaluate(f"() => {{ ({PRESS_START_AT})({at}); }}")  # scheduled, not awaited
    moments = []
    for page in pages:
        page.wait_for_function("() => window.__pressedStartAt !== undefined", timeout=60_000)
        moments.append(page.evaluate("() => window.__pressedStartAt"))
    spread = (max(moments) - min(moments)) / 1000
    assert spread < 1.0, f"the Start presses spread over {spread:.2f} s, not within a second"
    return pressed


def train_view(page) -> dict:
    try:
        return page.evaluate(TRAIN_VIEW)
    except Exception as error:  # a page mid-navigation: look again next round
        return {
            "run": None,
            "bars": [],
            "finished": False,
            "training": False,
            "place": None,
            "exception": False,
            "alerts": [],
            "unreadable": str(error),
        }


@dataclass
class Watch:
    """What the watching saw of each page: when it first showed its finished run, its queue places,
    exceptions and error alerts; and when a late visitor's Data page first rendered."""

    started: float
    finished_at: dict[int, float] = field(default_factory=dict)
    places: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    runs: dict[int, str] = field(default_factory=dict)
    last_bar: dict[int, str] = field(default_factory=dict)  # the live panel's bar text when last seen
    problems: dict[int, list[str]] = field(default_factory=dict)
    late_opened: float | None = None
    late_shown: float | None = None

    def last_finish(self) -> float | None:
        return max(self.finished_at.values()) - self.started if self.finished_at else None

    def late_wait(self) -> float | None:
        if self.late_opened is None or self.late_shown is None:
            return None
        return self.late_shown - self.late_opened


def watch_class(pages: list, started: float, deadline: float, late=None, on_round=None) -> Watch:
    """Look at every page in turn until all show their finished run or `deadline` (monotonic) passes.

    `late`, a callable returning a new page, is called once some run waits or trains: the late
    visitor, whose Data page is timed from then on. `on_round` is called after each round."""
    seen = Watch(started=started)
    late_page = None
    while time.monotonic() < deadline:
        for index, page in enumerate(pages):
            view = train_view(page)
            if view["run"]:
                seen.runs.setdefault(index, view["run"])
            place = tuple(view["place"] or ())
            if place and place not in seen.places.setdefault(index, []):
                seen.places[index].append(place)
            if view["bars"]:
                seen.last_bar[index] = view["bars"][0]
            if view["exception"] or view["alerts"]:
                problems = seen.problems.setdefault(index, [])
                problems.extend(a for a in view["alerts"] or ["Traceback on the page"] if a not in problems)
            if view["finished"] and index not in seen.finished_at:
                seen.finished_at[index] = time.monotonic()
            busy = view["place"] or view["training"]
            if late is not None and late_page is None and busy:
                seen.late_opened = time.monotonic()
                late_page = late()
        if late_page is not None and seen.late_shown is None and late_page.evaluate(DATA_PAGE_SHOWN):
            seen.late_shown = time.monotonic()
        if on_round is not None:
            on_round(seen)
        if len(seen.finished_at) == len(pages) and (late_page is None or seen.late_shown is not None):
            break
        time.sleep(0.2)
    return seen


def final_views(pages: list) -> list[dict]:
    """Each page's Train view once its app has come to rest after the finish (it redraws once then)."""
    views = []
    for page in pages:
        wait_idle(page)
        views.append(train_view(page))
    return views


CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def server_tracebacks(log_text: str) -> list[str]:
    """The server log's errors, each as the last line of its traceback (a chain of them counts once)."""
    found, lines, previous = [], log_text.splitlines(), ""
    for number, line in enumerate(lines):
        if line.startswith("Traceback"):
            tail = next((later for later in lines[number + 1 :] if later and not later.startswith(" ")), line)
            if found and previous.startswith(CHAINED):
                found[-1] = tail.strip()  # the chain's last exception stands for it
            else:
                found.append(tail.strip())
        if line.strip():
            previous = line
    return found
