"""The dashboard's Runs page with a damaged run beside a good one: it lists both, the damaged one as such."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.config import DataSpec, RunConfig
from core.runs import RunStore

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


@pytest.mark.parametrize(
    "damage",
    [("config.json", "[1]"), ("status.json", '{"state": 3}'), ("config.json", "")],
    ids=["config a list", "state a number", "config missing"],
)
def test_runs_page_lists_a_damaged_run_beside_the_others(monkeypatch, tmp_path, damage):
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    good = RunStore(root).create(RunConfig(data=DataSpec("digits"), name="good"))
    broken = root / "29990101-000000-dead"  # newest: the run picker's default
    broken.mkdir()
    name, text = damage
    if text:
        (broken / name).write_text(text)
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    statuses = dict(zip(table["id"], table["status"]))
    assert statuses == {good.id: "created", broken.name: "damaged"}
    messages = dict(zip(table["id"], table["message"]))
    assert "is damaged" in messages[broken.name]


def test_picking_the_damaged_run_says_so_in_the_page(monkeypatch, tmp_path):
    root = tmp_path / "runs"
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    RunStore(root).create(RunConfig(data=DataSpec("digits"), name="good"))
    broken = root / "29990101-000000-dead"
    broken.mkdir()
    (broken / "config.json").write_text("[1]")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["run"] = broken.name
    at.run()
    at.switch_page("views/runs.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="runs.run_picker").set_value(broken.name).run()
    assert not at.exception, at.exception
    assert any("is damaged" in e.value for e in at.error)
