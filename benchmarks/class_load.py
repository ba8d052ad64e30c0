"""A class at once (issue 24), for larger classes: N browser sessions press Quick demo then Start
training together and keep watching, while a late visitor opens the dashboard.

For each `--sessions` value, on a fresh server under `taskset` on the first core (the browsers on
the others, as tests/e2e/test_class_load.py does for 6), printed:
- the time from the Start presses to the last page showing its finished run,
- the late visitor's wait for its first page (the Data page, opened once the first run waits or trains),
- the server's CPU seconds (its process and children, from /proc) per watching page per minute, two
  ways: during the class (the training included), and "watch only": N pages following one run that a
  separate `latentboard train` process trains, so the server's CPU is the pages' cost alone.
Wall times on a shared machine are noisy: compare within one run only. Never part of the tests.

    python benchmarks/class_load.py --sessions 12 24
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.job_limits import JobLimits  # noqa: E402
from tests.e2e.classroom import (  # noqa: E402
    core_split,
    join,
    leave,
    press_start_together,
    ready_to_train,
    server_tracebacks,
    train_view,
    watch_class,
)
from tests.e2e.live_dashboard import ROOT, browser_missing, dashboard_server, headless_chromium  # noqa: E402
from tests.e2e.server_usage import cpu_seconds  # noqa: E402
from tests.e2e.test_browser import wait_idle  # noqa: E402

WATCH_WINDOW = 30  # s over which the watch-only cost is measured
UNTIL_STOPPED_EPOCHS = 1000  # the watched run trains until the benchmark stops it


def per_page_minute(cpu: float, pages: int, seconds: float) -> float:
    return cpu / max(pages, 1) / max(seconds / 60, 1e-9)


def class_at_once(browser, server, sessions: int, deadline: float) -> dict:
    pages = [join(browser, server.url) for _ in range(sessions)]
    late_pages = []

    def late():
        late_pages.append(join(browser, server.url))
        return late_pages[-1]

    try:
        ready_to_train(pages)
        cpu_before = cpu_seconds(server.pid)
        started = press_start_together(pages)
        seen = watch_class(pages, started, started + deadline, late=late)
        seconds = time.monotonic() - started
        cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        for page in pages + late_pages:
            leave(page)
    return {
        "finished": len(seen.finished_at),
        "last_finish": seen.last_finish(),
        "late_wait": seen.late_wait(),
        "problems": seen.problems,
        "places": sum(1 for places in seen.places.values() if places),
        "deadline": deadline,
        "cpu_per_page_minute": per_page_minute(cpu, sessions, seconds),
    }


def watched_run(home: Path, cpus) -> tuple[subprocess.Popen, str]:
    """A quick demo that a separate `latentboard train` process trains (on the browsers' cores)."""
    pin = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
    command = [*pin, sys.executable, "-m", "core.cli", "train", "--dataset", "digits", "--preset", "quick-demo"]
    command += ["--epochs", str(UNTIL_STOPPED_EPOCHS), "--runs-dir", str(home / "runs")]
    env = dict(os.environ, LATENTBOARD_HOME=str(home), LATENTBOARD_DATA_DIR=str(home / "data"), OMP_NUM_THREADS="1")
    trainer = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # Started from a shell's background job, this process ignores SIGINT and so would the trainer:
        # its Ctrl-C below must reach it.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    first = trainer.stdout.readline()  # "Training run <id>: ..."
    if not first.startswith("Training run "):
        trainer.kill()
        raise RuntimeError(f"latentboard train did not start: {first!r}")
    # Keep reading what it prints: a full pipe would block the trainer mid-epoch, and its Ctrl-C with it.
    threading.Thread(target=trainer.stdout.read, daemon=True).start()
    return trainer, first.split()[2].rstrip(":")


def watch_only(browser, server, home: Path, sessions: int, cpus) -> dict:
    """Server CPU while `sessions` pages follow a run trained outside the server, and with none."""
    trainer, run_id = watched_run(home, cpus)
    pages = []
    try:
        time.sleep(2)
        cpu_before = cpu_seconds(server.pid)
        time.sleep(WATCH_WINDOW / 3)
        idle = per_page_minute(cpu_seconds(server.pid) - cpu_before, 1, WATCH_WINDOW / 3)
        pages = [join(browser, server.url, f"train?run={run_id}") for _ in range(sessions)]
        for page in pages:
            wait_for_training(page)
        began, cpu_before = time.monotonic(), cpu_seconds(server.pid)
        while time.monotonic() - began < WATCH_WINDOW:
            time.sleep(1)
        seconds, cpu = time.monotonic() - began, cpu_seconds(server.pid) - cpu_before
        lagging = sum(1 for page in pages if not train_view(page)["training"])
    finally:
        trainer.send_signal(signal.SIGINT)  # Ctrl-C: the trainer stops after its batch and keeps its checkpoint
        try:
            trainer.wait(60)
        except subprocess.TimeoutExpired:
            trainer.kill()
            trainer.wait()
        for page in pages:
            leave(page)
    return {"cpu_per_page_minute": per_page_minute(cpu, sessions, seconds), "idle_per_minute": idle, "lag": lagging}


def wait_for_training(page) -> None:
    """Until the page's live panel shows the run training (it reruns itself from then on)."""
    wait_idle(page, timeout=180)
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stProgress"]')]
            .some(e => e.innerText.trim().startsWith('Training'))""",
        timeout=180_000,
    )


def report(sessions: int, limit: int, crowd: dict, watching: dict | None, tracebacks: list[str]) -> None:
    last = crowd["last_finish"] if crowd["finished"] == sessions else None
    late = crowd["late_wait"]
    print(f"\n{sessions} sessions (queue limit {limit}):")
    print(
        f"  runs finished: {crowd['finished']} of {sessions}; last finish "
        + (f"{last:.1f} s" if last is not None else f"not within {crowd['deadline']:.0f} s")
        + f" after Start; pages that showed their queue place: {crowd['places']}"
    )
    print("  late visitor's Data page: " + (f"{late:.1f} s" if late is not None else "never rendered"))
    print(f"  server CPU per watching page: {crowd['cpu_per_page_minute']:.2f} s/min during the class (training in)")
    if watching is not None:
        print(
            f"  server CPU per watching page, watch only: {watching['cpu_per_page_minute']:.2f} s/min "
            f"(server with no page open: {watching['idle_per_minute']:.2f} s/min; pages not showing Training "
            f"at the end: {watching['lag']})"
        )
    problems = [p for found in crowd["problems"].values() for p in found] + tracebacks
    print(f"  errors: {len(problems)}" + "".join(f"\n    - {p}" for p in problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, nargs="+", default=[12, 24])
    parser.add_argument("--deadline", type=float, default=600, help="seconds to wait for a class's runs")
    parser.add_argument("--no-watch-only", action="store_true", help="skip the watch-only CPU measurement")
    args = parser.parse_args()
    if browser_missing():
        sys.exit(browser_missing())
    split = core_split()
    print(split.note or f"server on core {sorted(split.server)}, browsers on {sorted(split.browsers)}", flush=True)
    limit = JobLimits.from_environment(cores=len(split.server) if split.server else None).max_jobs
    with headless_chromium(split.browsers) as browser:
        for sessions in args.sessions:
            with tempfile.TemporaryDirectory() as root, dashboard_server(Path(root), split.server) as server:
                crowd = class_at_once(browser, server, sessions, args.deadline)
                print(f"{sessions} sessions: {crowd}", flush=True)
                watching = None
                if not args.no_watch_only:
                    watching = watch_only(browser, server, Path(root), sessions, split.browsers)
                tracebacks = server_tracebacks(server.log.read_text(errors="replace"))
            report(sessions, limit, crowd, watching, tracebacks)


if __name__ == "__main__":
    main()
