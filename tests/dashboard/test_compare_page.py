"""The Compare page under AppTest on small digits runs: opened with nothing chosen it draws the run's
codes beside the raw inputs; another run, an epoch or raw can be chosen; a run on other data is refused
with the reason; the choice lives in the URL."""

from __future__ import annotations

import dataclasses
import threading

import pytest
from streamlit.testing.v1 import AppTest

from core.data import DataSpec
from core.experiment import execute
from core.runs import RunStore
from tests.dashboard.test_map_trust_page import values
from tests.dashboard.test_pages import APP, TIMEOUT, small_config

PAGE = "views/compare.py"


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory) -> tuple:
    """Two runs on digits and one on a 300-row subsample (other data)."""
    root = tmp_path_factory.mktemp("runs")
    store = RunStore(root)
    ids = []
    other_data = dataclasses.replace(small_config(), data=DataSpec("digits", max_samples=300))
    for config in (small_config(), small_config(), other_data):
        run = store.create(config)
        for _ in execute(run, stop=threading.Event()):
            pass
        ids.append(run.id)
    return root, ids


@pytest.fixture
def runs(three_runs, monkeypatch) -> list[str]:
    root, ids = three_runs
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(root))
    return ids


def compare_page(run_id: str, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(run=run_id, **query)
    at.run()
    at.switch_page(PAGE).run()
    return at


def map_titles(at: AppTest) -> list[str]:
    import json

    return [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]


def test_opened_with_nothing_chosen_it_shows_the_codes_beside_the_raw_inputs(runs):
    at = compare_page(runs[0])
    assert not at.exception and not at.error, [e.value for e in at.error]
    titles = map_titles(at)
    assert len(titles) == 2 and "codes" in titles[0] and "raw inputs" in titles[1], titles
    assert at.query_params["compare-left"] == "codes" and at.query_params["compare-right"] == "raw"
    assert any(h.value == "Movers" for h in at.subheader)
    assert any("neighbours kept on average" in c.value for c in at.caption)


def test_choosing_another_run_an_epoch_or_raw_redraws_and_goes_in_the_url(runs):
    at = compare_page(runs[0])
    at.selectbox(key="compare.right").set_value(f"run:{runs[1]}").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.query_params["compare-right"] == f"run:{runs[1]}" and runs[1] in map_titles(at)[1]
    at.selectbox(key="compare.left").set_value("epoch:0").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "epoch 0" in map_titles(at)[0] and at.query_params["compare-left"] == "epoch:0"
    assert any("training replay saved" in c.value for c in at.caption)
    at.selectbox(key="compare.method").set_value("umap").run()
    assert not at.exception and at.query_params["compare-map"] == "umap" and "UMAP" in map_titles(at)[0]


def test_a_link_reopens_the_comparison(runs):
    at = compare_page(runs[0], **{"compare-left": "epoch:1", "compare-right": f"run:{runs[1]}"})
    assert not at.exception and not at.error
    assert at.selectbox(key="compare.left").value == "epoch:1"
    assert at.selectbox(key="compare.right").value == f"run:{runs[1]}"


def test_a_bad_or_unknown_view_in_a_link_opens_the_defaults_with_a_notice(runs):
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(run=runs[0], **{"compare-left": "pixels", "compare-right": "epoch:999"})
    at.run()  # the app checks every link setting before any page runs
    assert "compare-left=pixels (not codes, raw, epoch:N or run:ID)" in " ".join(i.value for i in at.info)
    at.switch_page(PAGE).run()  # the page knows which epochs this run has
    assert not at.exception and not at.error
    said = " ".join(i.value for i in at.info)
    assert "epoch:999 (this run has no such view)" in said, said
    assert at.selectbox(key="compare.left").value == "codes" and at.selectbox(key="compare.right").value == "raw"


def test_a_run_on_other_data_is_refused_with_the_reason(runs):
    at = compare_page(runs[0], **{"compare-right": f"run:{runs[2]}"})
    assert not at.exception
    said = " ".join(e.value for e in at.error)
    assert "trained on different data" in said and "max_samples" in said and "300 rows" in said, said
    assert not at.get("plotly_chart")


def test_selecting_the_movers_selects_the_same_rows_on_both_maps(runs):
    import json

    at = compare_page(runs[0])
    at.button(key="compare.select_movers").click().run()
    assert not at.exception and not at.error
    rings = []
    for chart in at.get("plotly_chart"):
        traces = {t.get("name"): t for t in json.loads(chart.proto.spec)["data"]}
        rings.append(sorted(values(traces["selected"]["customdata"]).tolist()))
    assert len(rings) == 2 and rings[0] == rings[1] and len(rings[0]) == 20
    assert any("20 rows selected on both maps" in c.value for c in at.caption)
