"""The Sweeps page under AppTest: empty, then a real 2-trial sweep started from the page.

The sweep runs as its own process with its own local Ray (2 CPUs here), exactly as from the
browser; the test waits for it on disk, then checks the page lists both trials and the best run.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.sweeps import SweepStore
from core.sweeps.jobs import stop_sweep, sweep_state

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TINY_SPACE = {"family": ["dense"], "latent_dim": {"grid": [2, 3]}, "width": [16], "depth": [1], "epochs": [2]}
SWEEP_TIMEOUT = 300  # a deadline for waiting, not a speed check


def sweeps_page() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.switch_page("views/sweeps.py").run()
    assert not at.exception, at.exception
    return at


def test_empty_sweeps_page():
    at = sweeps_page()
    assert any("No sweeps yet" in i.value for i in at.info)
    assert [b.label for b in at.button] == ["Start sweep"]


def test_start_a_two_trial_sweep_and_see_both_trials(isolated_home):
    at = sweeps_page()
    at.selectbox(key="sweeps.space").set_value("custom (JSON)").run()
    at.text_area(key="sweeps.custom").set_value(json.dumps(TINY_SPACE)).run()
    at.number_input(key="sweeps.samples").set_value(1).run()
    at.button(key="sweeps.start").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    store = SweepStore(isolated_home / "runs")
    (record,) = store.list()
    sweep = store.open(record["id"])
    try:
        deadline = time.monotonic() + SWEEP_TIMEOUT
        while sweep_state(sweep) in ("created", "running") and time.monotonic() < deadline:
            time.sleep(1)
        assert sweep_state(sweep) == "finished", (sweep.path / "log.txt").read_text()[-3000:]
    finally:
        if stop_sweep(sweep):
            pytest.fail("the sweep did not finish in time")
    at.run()
    assert not at.exception
    (table,) = at.dataframe
    assert len(table.value) == 2 and set(table.value["status"]) == {"finished"}
    assert sorted(table.value["latent_dim"]) == [2, 3]
    assert any("Best so far" in s.value for s in at.success)
    assert "Open best run" in [b.label for b in at.button]
