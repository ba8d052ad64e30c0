"""Soak: one dashboard server for N minutes while browser sessions come and go; its memory over time
and every error seen.

Each round, `--per-round` new sessions (Playwright contexts on the system Chromium) open the
dashboard, press Quick demo and Start training together, watch their runs finish, compute the
evaluation on the Evaluate page, and leave; rounds follow each other until the time is up (the last
one is finished). The server runs under `taskset` on the first core, the browsers on the others
(issue 24). Printed: the server's resident memory (with its children) at the start, every minute,
after the first round and at the end, the growth after the first round in %, and every error: page
exceptions and error alerts, JavaScript errors, runs that did not finish, tracebacks in the server's
log. Never part of the tests' pass/fail; a shared machine makes the round times noisy, not the memory.

    python benchmarks/soak.py --minutes 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from tests.e2e.classroom import (  # noqa: E402
    core_split,
    join,
    leave,
    press_start_together,
    ready_to_train,
    server_tracebacks,
    watch_class,
)
from tests.e2e.live_dashboard import browser_missing, dashboard_server, headless_chromium  # noqa: E402
from tests.e2e.server_usage import resident_bytes  # noqa: E402
from tests.e2e.test_browser import go, wait_idle  # noqa: E402

ROUND_DEADLINE = 600  # s for a round's runs to finish, and again for its evaluations: a wait, not a bar
MB = 1e6


class MemoryLog:
    """The server's resident memory, sampled every `every` seconds by a thread of its own."""

    def __init__(self, pid: int, every: float = 60.0):
        self.pid, self.every, self.began = pid, every, time.monotonic()
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-memory", daemon=True)

    def sample(self, label: str = "") -> float:
        rss = (resident_bytes(self.pid) or 0) / MB
        elapsed = time.monotonic() - self.began
        self.samples.append((elapsed, rss))
        print(f"  [{elapsed / 60:5.1f} min] server RSS {rss:7.1f} MB {label}", flush=True)
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def __enter__(self) -> MemoryLog:
        self.sample("(start)")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def at(self, minutes: float) -> float | None:
        """The first sample taken at or after `minutes`."""
        return next((rss for elapsed, rss in self.samples if elapsed >= minutes * 60 - 1), None)


def evaluate_all(pages: list, errors: list[str]) -> None:
    """Compute the evaluation on every page, then wait for each to show its numbers (Recompute)."""
    for page in pages:
        go(page, "Evaluate")
        page.get_by_role("button", name="Compute the evaluation").click()
    for index, page in enumerate(pages):
        try:
            page.get_by_role("button", name="Recompute").wait_for(timeout=ROUND_DEADLINE * 1000)
            wait_idle(page)
        except Exception as error:
            errors.append(f"session {index}: the evaluation did not finish ({str(error).splitlines()[0]})")
        for alert in page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').all():
            errors.append(f"session {index}, Evaluate page: {alert.inner_text()[:300]}")


def one_round(browser, url: str, sessions: int, errors: list[str]) -> float:
    """Sessions arrive, train, evaluate and leave; returns the seconds it took."""
    began = time.monotonic()
    pages = [join(browser, url) for _ in range(sessions)]
    for index, page in enumerate(pages):
        page.on("pageerror", lambda error, i=index: errors.append(f"session {i}, JavaScript: {error}"))
    try:
        ready_to_train(pages)
        started = press_start_together(pages)
        seen = watch_class(pages, started, started + ROUND_DEADLINE)
        for index, problems in seen.problems.items():
            errors.extend(f"session {index}, Train page: {problem}" for problem in problems)
        unfinished = [i for i in range(sessions) if i not in seen.finished_at]
        if unfinished:
            errors.append(f"sessions {unfinished}: no finished run within {ROUND_DEADLINE} s")
        evaluate_all(pages, errors)
        print(
            f"  round: {len(seen.finished_at)} of {sessions} pages showed their finished run, the last "
            f"{seen.last_finish() or float('nan'):.1f} s after Start",
            flush=True,
        )
    except Exception as error:  # a stuck page: counted, and the soak goes on with new sessions
        errors.append(f"round failed: {type(error).__name__}: {str(error).splitlines()[0]}")
    finally:
        for page in pages:
            leave(page)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--per-round", type=int, default=3, help="sessions that come and go together")
    args = parser.parse_args()
    if browser_missing():
        sys.exit(browser_missing())
    split = core_split()
    print(
        f"soak: {args.minutes:g} min, {args.per_round} sessions a round; "
        + (split.note or (f"server on core {sorted(split.server)}, browsers on {sorted(split.browsers)}")),
        flush=True,
    )
    errors: list[str] = []
    with tempfile.TemporaryDirectory() as root, dashboard_server(Path(root), split.server) as server:
        with MemoryLog(server.pid) as memory, headless_chromium(split.browsers) as browser:
            rounds, after_first = 0, None
            while time.monotonic() - memory.began < args.minutes * 60:
                seconds = one_round(browser, server.url, args.per_round, errors)
                rounds += 1
                print(f"  round {rounds} took {seconds:.0f} s; errors so far {len(errors)}", flush=True)
                if after_first is None:
                    after_first = memory.sample("(after the first round)")
            end = memory.sample("(end)")
        log_errors = server_tracebacks(server.log.read_text(errors="replace"))
    errors += [f"server log: {line}" for line in log_errors]
    start = memory.samples[0][1]
    print(f"\n{rounds} rounds, {rounds * args.per_round} sessions, {len(memory.samples)} samples")
    print(
        f"server RSS: start {start:.0f} MB, after the first round {after_first:.0f} MB, "
        + "".join(f"after {m} min {memory.at(m):.0f} MB, " for m in (10, 20) if memory.at(m) is not None)
        + f"end {end:.0f} MB"
    )
    print(f"growth after the first round: {100 * (end - after_first) / after_first:+.1f}%")
    print(f"errors: {len(errors)}")
    for error in errors:
        print(f"  - {error}")


if __name__ == "__main__":
    main()
