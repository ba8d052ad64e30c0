"""Waiting in AppTest for what a background job (training, evaluation) shows on its fragment's timer."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest


def rerun_until(at: AppTest, done, timeout: float = 120.0, what: str = "") -> AppTest:
    """Rerun the page (as its fragment's timer would) until `done(at)`: a background job's progress."""
    deadline = time.monotonic() + timeout
    while not done(at):
        assert not at.exception, at.exception
        assert time.monotonic() < deadline, f"gave up waiting for {what} after {timeout} s"
        time.sleep(0.3)
        at.run()
    return at
