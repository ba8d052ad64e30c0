"""`latentboard serve` stopped the way servers are stopped (kill, systemd, docker stop, a closed terminal):
the Streamlit child goes with it and the port is free again, instead of an orphan holding it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core import cli
from tests.core.test_cli import wait_for

PROJECT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # past TIME_WAIT, never past a listener
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not cli.dashboard_app_path().exists(), reason="no dashboard/app.py")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_one_signal_stops_the_server_and_frees_its_port(tmp_path, stop):
    port = free_port()
    process = subprocess.Popen(
        # This checkout's code (an installed console script may point at another checkout's).
        [sys.executable, "-m", "core.cli", "serve", "--port", str(port), "--no-browser", "--runs-dir", str(tmp_path)],
        cwd=PROJECT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the signal reaches `latentboard` alone, not Streamlit too
    )
    try:
        wait_for(lambda: answers(port), 90, process)
        process.send_signal(stop)  # to the parent only, as `kill PID` and systemd's main-process stop do
        assert process.wait(timeout=15) == 0
        deadline = time.monotonic() + 5
        while not port_is_free(port):
            assert time.monotonic() < deadline, f"port {port} is still held after `latentboard serve` exited"
            time.sleep(0.1)
        assert not answers(port)
        with pytest.raises(ProcessLookupError):  # no Streamlit left in the group either
            os.killpg(process.pid, 0)
    finally:
        if process.poll() is None:
            process.kill()
        try:  # nothing of the group may outlive the test, whatever it found
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
