"""What a page watching a training costs the dashboard server: its CPU seconds per watching page per minute.

A class keeps its live loss charts open while it trains; each open Train page redraws on a timer.
This starts `streamlit run dashboard/app.py` from a checkout (its own runs folder, a free port),
trains a quick demo stretched to many epochs in a separate `latentboard train` process (niced, so
its CPU is not the server's), opens N headless Chromium pages (the system's, as tests/e2e does) on
the Train page following that run, and reads the server's CPU seconds (/proc/PID/stat, children
included) first with no page open, then over `--seconds` with the N pages watching.

Point --checkout at another tree (the main branch, say) to measure the code before a change with
the same command. Seconds are noisy on a shared machine: compare figures from one sitting only.

    python benchmarks/live_page_cost.py --pages 4 --seconds 30 --checkout /work/main
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from tests.e2e.live_dashboard import dashboard_server, headless_chromium  # noqa: E402
from tests.e2e.server_usage import cpu_seconds  # noqa: E402

HERE = Path(__file__).resolve().parent.parent


def wait_for(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise SystemExit(f"timed out waiting for {what}")


def running_run(runs: Path) -> str | None:
    """The id of the run being trained, once its metrics log has a line."""
    for folder in runs.glob("*/metrics.jsonl"):
        if folder.stat().st_size:
            return folder.parent.name
    return None


SHOWN_WITHIN = 120  # seconds a page may take to show the training before it is counted as not shown


def shows_training(page) -> bool:
    """Whether the page shows the run training (its progress bar's text) within SHOWN_WITHIN seconds."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.get_by_text("Training…").first.wait_for(timeout=SHOWN_WITHIN * 1000)
    except PlaywrightTimeout:
        return False
    return True


def measure(checkout: Path, pages: int, seconds: float, browser) -> tuple[float, float]:
    """(idle server CPU s per minute, CPU s per watching page per minute) for one checkout."""
    home = Path(tempfile.mkdtemp(prefix="live-cost-"))
    env = dict(
        os.environ,
        LATENTBOARD_HOME=str(home),
        LATENTBOARD_RUNS_DIR=str(home / "runs"),
        LATENTBOARD_DATA_DIR=str(home / "data"),
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",
    )
    python = sys.executable
    trainer = subprocess.Popen(
        ["nice", "-n", "10", python, "-m", "core.cli", "train", "--dataset", "digits", "--preset", "quick-demo"]
        + ["--epochs", "1000"],
        cwd=checkout,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    contexts = []
    try:
        with dashboard_server(home, env={"OMP_NUM_THREADS": "1"}, root=checkout) as server:
            url = server.url
            run_id = wait_for(lambda: running_run(home / "runs"), 120, "the training's first metrics")
            first = browser.new_context(viewport={"width": 1280, "height": 900})
            warm = first.new_page()  # the first page pays for imports: not part of what a watcher costs
            warm.goto(f"{url}/train?run={run_id}", wait_until="commit", timeout=120_000)
            if not shows_training(warm):
                raise SystemExit(f"{checkout}: the first page did not show the training in {SHOWN_WITHIN} s")
            first.close()
            time.sleep(3)
            before = cpu_seconds(server.pid)
            time.sleep(10)
            idle = (cpu_seconds(server.pid) - before) * 6
            for _ in range(pages):
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.goto(f"{url}/train?run={run_id}", wait_until="commit", timeout=120_000)
                contexts.append((context, page))
            unshown = sum(not shows_training(page) for _, page in contexts)
            time.sleep(3)
            before, began = cpu_seconds(server.pid), time.monotonic()
            time.sleep(seconds)
            used = cpu_seconds(server.pid) - before
            minutes = (time.monotonic() - began) / 60
            if trainer.poll() is not None:
                print(f"  (the training ended early: exit {trainer.returncode})")
            if unshown:
                print(f"  ({unshown} of {pages} pages had not shown the training after {SHOWN_WITHIN} s)")
            return idle, (used / minutes - idle) / pages
    finally:
        for context, _ in contexts:
            context.close()
        trainer.terminate()
        try:
            trainer.wait(15)
        except subprocess.TimeoutExpired:
            trainer.kill()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4, help="headless pages watching the run")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to measure with the pages open")
    parser.add_argument(
        "--checkout", type=Path, nargs="*", default=[HERE], help="source trees to serve, each measured in turn"
    )
    args = parser.parse_args()
    print(f"{args.pages} pages watching one training for {args.seconds:.0f} s; load average {os.getloadavg()[0]:.1f}")
    print("checkout                          idle server (CPU s/min)  per watching page (CPU s/min)")
    with headless_chromium() as browser:
        for checkout in args.checkout:
            idle, per_page = measure(checkout.resolve(), args.pages, args.seconds, browser)
            print(f"{str(checkout):32s}  {idle:23.1f}  {per_page:29.1f}")


if __name__ == "__main__":
    main()
