"""A sweep as a background job a UI can start, watch and stop (no Ray in this process).

    sweep = start_sweep(SweepStore(runs_dir), base_config, load_space("quick"), samples=2)
    sweep_state(sweep)      # created / running / finished / stopped / failed, or "interrupted"
    stop_sweep(sweep)       # Ctrl-C to the sweep's process: Tune stops its trials, runs keep checkpoints

The sweep runs in its own process (`python -m core.sweeps.tune`), not in a thread of the
dashboard's server: Ray and Tune want a main thread and signal handlers of their own, and a
separate process keeps `import ray` out of the server altogether. Everything the page shows is
read back from the sweep's folder and its runs, so a refresh re-attaches.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from core.errors import RunError
from core.runs import _pid_alive
from core.sweeps.space import SearchSpace, check_space
from core.sweeps.store import Sweep, SweepStore

LOG_FILE = "log.txt"


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
    return sweep


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
    pid = record.get("launcher_pid") or record.get("pid")
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
