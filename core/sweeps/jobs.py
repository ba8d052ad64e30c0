"""A sweep as a background job a UI can start, watch and stop (no Ray in this process).

    sweep = start_sweep(SweepStore(runs_dir), base_config, load_space("quick"), samples=2)
    sweep_state(sweep)      # created / running / finished / stopped / failed, or "interrupted"
    stop_sweep(sweep)       # Ctrl-C to the sweep's process: Tune stops its trials, runs keep checkpoints
    queue_sweep(registry, store, base_config, space, samples, session="abc")  # the dashboard's way: queued

The sweep runs in its own process (`python -m core.sweeps.tune`), not in a thread of the
dashboard's server: Ray and Tune want a main thread and signal handlers of their own, and a
separate process keeps `import ray` out of the server altogether. Everything the page shows is
read back from the sweep's folder and its runs, so a refresh re-attaches.

From the dashboard a sweep waits in the server's job queue (core.jobs) like a training: recorded at
once, its process started when a slot frees, and the slot held until the process ends. Its Stop then
goes through the queue (`registry.stop(sweep_key(id))`): cancelled while queued, stopped as above
while it runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import RunError
from core.runs import _pid_alive
from core.sweeps.space import SearchSpace, check_space
from core.sweeps.store import Sweep, SweepStore

if TYPE_CHECKING:
    from core.jobs import Job, JobRegistry

LOG_FILE = "log.txt"
CANCELLED = "Cancelled while queued: no trial was started."


def start_sweep(
    store: SweepStore,
    base_config: Any,
    space: SearchSpace,
    samples: int,
    max_concurrent: int | None = None,
    address: str | None = None,
) -> Sweep:
    """Check the space, record the sweep and start its process; returns at once."""
    check_space(space, base_config)
    sweep = store.create(base_config, space, samples, address=address)
    launch(sweep, store, max_concurrent, address)
    return sweep


def launch(sweep: Sweep, store: SweepStore, max_concurrent: int | None, address: str | None) -> subprocess.Popen:
    """Start the sweep's process (`python -m core.sweeps.tune`) and record its pid."""
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "core.sweeps.tune", sweep.id, "--runs-dir", str(store.runs.root.resolve())]
    if max_concurrent:
        command += ["--max-concurrent", str(int(max_concurrent))]
    if address:
        command += ["--address", address]
    path = [str(root), *([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path), PYTHONUNBUFFERED="1")
    with open(sweep.path / LOG_FILE, "ab") as log:
        # A session of its own: a Ctrl-C meant for the dashboard's server does not cut the sweep short.
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    sweep.update(launcher_pid=process.pid, launcher_host=socket.gethostname())
    return process


def sweep_key(sweep_id: str) -> str:
    """A sweep's name in the job queue."""
    return f"sweep:{sweep_id}"


def queue_sweep(
    queue: JobRegistry,
    store: SweepStore,
    base_config: Any,
    space: SearchSpace,
    samples: int,
    max_concurrent: int | None = None,
    address: str | None = None,
    session: str | None = None,
) -> Sweep:
    """start_sweep through the server's job queue: recorded at once, launched when a slot frees.

    Until then it reads "created"; should the server stop first, "interrupted" (the record names the
    queuing server's pid). A session over the queue's limit raises RunError and leaves no record.
    """
    check_space(space, base_config)
    sweep = store.create(base_config, space, samples, address=address)
    sweep.update(queued_by=os.getpid(), launcher_host=socket.gethostname())
    try:
        queue.submit(
            sweep_key(sweep.id),
            lambda job: _run_in_slot(sweep, store, job, max_concurrent, address),
            session=session,
            kind="sweep",
            on_cancel=lambda: sweep.update(state="stopped", message=CANCELLED),
        )
    except RunError:
        shutil.rmtree(sweep.path, ignore_errors=True)
        raise
    return sweep


SLOT_POLL_SECONDS = 1.0


def _run_in_slot(sweep: Sweep, store: SweepStore, job: Job, max_concurrent: int | None, address: str | None) -> None:
    """The sweep's turn in the queue: launch its process and hold the slot until it ends; a Stop
    from the queue reaches the process as stop_sweep's Ctrl-C."""
    if job.stop_event.is_set():
        sweep.update(state="stopped", message=CANCELLED)
        return
    process = launch(sweep, store, max_concurrent, address)
    stopping = False
    while process.poll() is None:  # (a page's sweep_state may reap it first: poll then reads 0, and ends too)
        if job.stop_event.is_set() and not stopping:
            stop_sweep(sweep)
            stopping = True
        time.sleep(SLOT_POLL_SECONDS)


def _alive(pid: Any) -> bool:
    if isinstance(pid, int) and pid > 0:
        try:  # a child of ours that exited stays a zombie, which still answers kill(pid, 0): reap it first
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass  # not our child (another server started it), or already reaped
    return _pid_alive(pid)


def sweep_state(sweep: Sweep) -> str:
    """The recorded state, or "interrupted" when it says created/running but its process is gone."""
    record = sweep.record()
    state = record.get("state", "created")
    pid = record.get("launcher_pid") or record.get("pid") or record.get("queued_by")
    if (
        state in ("created", "running")
        and record.get("launcher_host", record.get("host")) == socket.gethostname()
        and pid is not None
        and not _alive(pid)
    ):
        return "interrupted"
    return state


def stop_sweep(sweep: Sweep) -> bool:
    """Ask the sweep's process to stop (as Ctrl-C would); False if it is not running here."""
    record = sweep.record()
    pid = record.get("launcher_pid")
    if sweep_state(sweep) not in ("created", "running") or not _alive(pid):
        return False
    try:
        os.kill(pid, signal.SIGINT)
    except OSError as exc:
        raise RunError(f"Cannot stop sweep {sweep.id} ({exc}).") from exc
    threading.Thread(target=_insist, args=(sweep, pid), name=f"stop-{sweep.id}", daemon=True).start()
    return True


STOP_REPEAT_SECONDS = 5.0  # how often Stop is said again while the sweep still runs
STOP_TRIES = 12


def _insist(sweep: Sweep, pid: int) -> None:
    """Say Stop again until the sweep has stopped: a SIGINT that lands while Ray starts its workers can
    be lost (seen once in a full test run: the sweep ran on for minutes), and a user's Stop must hold."""
    for _ in range(STOP_TRIES):
        time.sleep(STOP_REPEAT_SECONDS)
        if sweep_state(sweep) not in ("created", "running") or not _alive(pid):
            return
        try:
            os.kill(pid, signal.SIGINT)
        except OSError:
            return
