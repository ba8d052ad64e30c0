"""A real dashboard server (`streamlit run dashboard/app.py`, own Latentboard home, free port) and the
system Chromium that opens it (Debian's; the tests never download a browser).

Shared by the e2e fixtures (conftest.py) and the benchmarks that drive a class of browsers
(benchmarks/class_load.py, benchmarks/soak.py), which also pin the server to some cores.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVER_START_TIMEOUT = 60
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    for candidate in (
        os.environ.get("LATENTBOARD_CHROMIUM"),
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        "/usr/bin/chromium",
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def browser_missing() -> str | None:
    """Why no headless Chromium can be driven here, or None when one can."""
    if chromium_path() is None:
        return "Chromium is not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


@contextmanager
def pinned(cpus: Iterable[int] | None) -> Iterator[None]:
    """This thread, and every process it starts meanwhile (Playwright's driver, Chromium), on `cpus`."""
    if not cpus:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(cpus))
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


@contextmanager
def headless_chromium(cpus: Iterable[int] | None = None):
    """The system Chromium driven by Playwright; with `cpus`, it and the driver run on those cores only."""
    from playwright.sync_api import sync_playwright

    with pinned(cpus), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class ServerDidNotStart(RuntimeError):
    """The server exited or never answered its health check; the message ends with its log."""


@dataclass(frozen=True)
class Server:
    url: str
    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return reply.read().strip() == b"ok"
    except OSError:
        return False


@contextmanager
def dashboard_server(
    home: Path, cpus: Iterable[int] | None = None, env: dict | None = None, root: Path = ROOT
) -> Iterator[Server]:
    """A server whose runs, data and log (home / "server.log") live in `home`; with `cpus`, it runs
    under `taskset -c` on those cores only (it then sizes its job queue from them). `root`: the
    source tree it serves (a benchmark compares checkouts)."""
    port = free_port()
    environ = {
        **os.environ,
        "LATENTBOARD_HOME": str(home),
        "LATENTBOARD_RUNS_DIR": str(home / "runs"),
        "LATENTBOARD_DATA_DIR": str(home / "data"),
        "OMP_NUM_THREADS": "2",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),  # the caller's settings win, these defaults included
    }
    pin = ["taskset", "-c", ",".join(map(str, sorted(cpus)))] if cpus else []
    command = [
        *pin,
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "dashboard/app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--browser.gatherUsageStats",
        "false",
    ]
    log_path = home / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=root, env=environ, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while not _healthy(url):
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    raise ServerDidNotStart(f"the dashboard did not start:\n{tail}")
                time.sleep(0.3)
            yield Server(url=url, pid=process.pid, log=log_path)
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
