"""The map coloured by map trust on the Latent space page (dashboard.latent.trust), under AppTest on a
small digits run: chosen in "Colour by" or from a link's colour=trust, with the map's trustworthiness
beside it; a clicked point's nearest neighbours in the code ringed and lines to those placed far; a map
too small to judge says so."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading

import numpy as np
from streamlit.testing.v1 import AppTest

from core.data import DataSpec
from core.experiment import execute
from core.runs import RunStore
from dashboard import links
from tests.dashboard.test_pages import (  # noqa: F401  (trained_runs_dir and with_run are fixtures)
    APP,
    TIMEOUT,
    latent_page,
    small_config,
    trained_runs_dir,
    with_run,
)


def map_spec(at: AppTest) -> dict:
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return next(s for s in specs if "of the codes" in json.dumps(s["layout"].get("title", "")))


def values(data: list | dict) -> np.ndarray:
    """A figure's array as plotly sends it: a list, or a typed array in base64."""
    if isinstance(data, dict):
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"])
    return np.asarray(data)


def trustworthiness(at: AppTest) -> float:
    return float(next(m.value for m in at.metric if m.label == "Trustworthiness"))


def test_a_link_with_colour_trust_colours_the_map_by_trust(with_run):  # noqa: F811
    assert links.map_params()["colour"].parse("trust") == "trust"
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(run=with_run, projection="pca", colour="trust")
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception and not at.error and not at.info, [i.value for i in at.info]
    assert at.selectbox(key="latent.colour").value == "trust" and at.query_params["colour"] == "trust"
    assert 0.5 < trustworthiness(at) <= 1.0
    assert any("are bright" in c.value and "Click a point" in c.value for c in at.caption)
    marker = map_spec(at)["data"][0]["marker"]
    assert (marker["cmin"], marker["cmax"]) == (0, 1) and marker["colorscale"][0][1] == "#440154"  # viridis
    assert "map trust" in json.dumps(map_spec(at)["data"][0]["hovertext"][:3])


def test_choosing_map_trust_and_clicking_rings_the_code_neighbours_and_draws_lines(with_run):  # noqa: F811
    at = latent_page(with_run)
    at.selectbox(key="latent.colour").set_value("trust").run()
    assert not at.exception and not at.error and at.query_params["colour"] == "trust"
    scores = values(map_spec(at)["data"][0]["marker"]["color"])
    assert ((scores >= 0) & (scores <= 1)).all() and len(set(scores.round(1))) > 2
    worst = int(np.argmin(scores))
    at.session_state["latent.focus"] = (with_run, "test", worst)  # what a click on the least trusted point leaves
    at.run()
    assert not at.exception and not at.error
    traces = {t.get("name"): t for t in map_spec(at)["data"]}
    assert len(values(traces["nearest"]["customdata"])) == 10  # its 10 nearest in the code, ringed
    assert list(values(traces["clicked"]["customdata"])) == [worst]
    said = next(i.value for i in at.info if "nearest neighbours in the code are ringed" in i.value)
    far = len(traces["placed far"]["x"]) // 3  # start, end, gap per line
    assert far > 0 and traces["placed far"]["mode"] == "lines"
    assert f"kept {10 - far} of them" in said, said
    assert round(scores[worst] * 10) == 10 - far  # the clicked point's colour says the same
    assert not any("ringed on the map" in c.value for c in at.caption)  # the panel's list is not what is ringed


def test_a_3d_map_coloured_by_trust_says_to_switch_to_2d_to_click(with_run):  # noqa: F811
    at = latent_page(with_run, {"latent.colour": "trust", "latent.dims": 3})
    assert not at.exception and not at.error
    assert any("Switch to 2-D to click a point" in c.value for c in at.caption)
    assert 0.5 < trustworthiness(at) <= 1.0


def test_a_map_with_too_few_points_for_map_trust_says_so_without_a_traceback(monkeypatch, tmp_path):
    config = dataclasses.replace(small_config(epochs=1), data=DataSpec(source="digits", max_samples=40))
    run = RunStore(tmp_path).create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(tmp_path))
    at = latent_page(run.id, {"latent.colour": "trust"})
    assert not at.exception
    assert any("needs at least 11 points; this map has" in e.value for e in at.error), [e.value for e in at.error]
