"""What a watching Train page costs: one shared reading of the run for every session, and on a busy
server a slower redraw that the page explains."""

from __future__ import annotations

import os

from streamlit.testing.v1 import AppTest

from core.runs import RunStore
from dashboard import state
from tests.dashboard.test_queue_page import APP, train_page
from tests.dashboard.waiting import rerun_until


def watcher(run_id: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = run_id
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    return at


def test_a_busy_server_slows_the_redraw_and_sessions_share_one_reading(monkeypatch):
    at = train_page(epochs=1000)
    run_id = at.query_params["run"]
    try:
        rerun_until(at, lambda page: len(page.get("plotly_chart")) >= 1, what="the first points of the loss chart")
        monkeypatch.setattr(os, "getloadavg", lambda: (40.0, 40.0, 40.0))  # a class's worth of load
        others = [watcher(run_id) for _ in range(2)]
        for page in [at, *others]:
            page.run()
            notes = [c.value for c in page.caption if c.value.startswith("Server busy")]
            assert notes and "refreshing every 5 s" in notes[0] and "load 40.0" in notes[0], notes
            assert len(page.get("plotly_chart")) == 1
        metrics_path = RunStore().open(run_id).metrics_path
        assert len(state._registry(state.runs_dir()).progress) == 1  # one reading of the run for three pages
        monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
        at.run()
        assert not [c.value for c in at.caption if c.value.startswith("Server busy")]
        assert metrics_path.exists()
    finally:
        at.button(key="train.stop").click().run()
    rerun_until(at, lambda page: RunStore().open(run_id).status() == "stopped", what="the stopped run")
