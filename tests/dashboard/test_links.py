"""Links that reopen a view (dashboard.links): the dataset, the training settings and teaching mode
read from a link and written back as they change; bad links open with defaults and a notice.

The map's settings and the clicked point need a trained run: their tests are in test_pages.py.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import pytest
from streamlit.testing.v1 import AppTest

from core.data import DataSpec
from dashboard import links, trainform

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT = 120


def opened(page: str | None = None, **query: str) -> AppTest:
    """The app opened from a link with these settings, then (like a click in the sidebar, which drops
    the query string) moved to `page`."""
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    if page:
        at.query_params.clear()
        at.switch_page(f"views/{page}.py").run()
        assert not at.exception, at.exception
    return at


def notice(at: AppTest) -> str:
    """The link's notice (the pages' own hints are st.info too)."""
    return " ".join(i.value for i in at.info if "this link" in i.value)


def test_every_form_field_and_map_setting_has_one_link_name():
    names = links.params(trainform.url_params())  # raises if two pages' settings shared a name
    targets = {p.target for p in names.values() if isinstance(p.target, str)}
    form = {f"m.{k}" for k in trainform.MODEL_KEYS} | {f"t.{k}" for k in trainform.TRAIN_KEYS} | {"f.backbone"}
    assert form <= targets  # derived from the form's fields: a new field gets its link name at once
    assert {
        "dataset",
        "data-dir",
        "max-samples",
        "image-size",
        "model",
        "latent-dim",
        "epochs",
        "train-seed",
        "preset",
        "features",
        "projection",
        "point",
        "teach",
    } <= set(names)
    assert names["model"].parse("conv") == "conv" and names["lr"].parse("2e-3") == 0.002
    for name, raw in (("model", "cnov"), ("epochs", "0"), ("lr", "nan"), ("latent-dim", "2.5"), ("grayscale", "maybe")):
        with pytest.raises(ValueError):
            names[name].parse(raw)


def test_a_link_sets_the_dataset_and_its_options(tmp_path):
    csv = tmp_path / "small.csv"
    csv.write_text("a,b,c,kind\n" + "\n".join(f"{i},{i % 7},{(i * 3) % 5},{'xy'[i % 2]}" for i in range(60)))
    at = opened(
        **{"dataset": "table", "data-dir": str(csv), "label-column": "kind", "missing": "impute", "max-samples": "40"}
    )
    assert not at.error and not notice(at), notice(at)
    assert at.session_state["data_spec"] == DataSpec(
        source="table", path=str(csv), label_column="kind", missing="impute", max_samples=40
    )
    assert at.selectbox(key="data.source").value == "table" and at.radio(key="data.missing").value == "impute"
    assert at.radio(key="data.how.table").value == "A path on the server" and at.text_input(
        key="data.path.table"
    ).value == str(csv)
    assert {m.label: m.value for m in at.metric}["Samples"] == "40"
    at.number_input(key="data.max.table").set_value(30).run()  # a change goes into the link
    assert at.query_params["max-samples"] == "30" and at.query_params["dataset"] == "table"
    at.selectbox(key="data.source").set_value("digits").run()  # another source: its options leave the link
    assert (
        at.query_params.get("dataset") == "digits"
        and "label-column" not in at.query_params
        and "max-samples" not in at.query_params
    )


def test_a_link_sets_the_training_settings_over_its_preset():
    at = opened("train", preset="best-quality", epochs="3", lr="0.01", optimizer="sgd", features="none")
    assert not notice(at), notice(at)
    assert at.selectbox(key="m.family").value == "conv" and at.number_input(key="m.augment").value == 1.0  # the preset
    assert at.number_input(key="t.epochs").value == 3 and at.number_input(key="t.lr").value == 0.01
    assert at.selectbox(key="t.optimizer").value == "sgd"
    # The link names the preset and what differs from it, nothing else.
    assert {k: at.query_params[k] for k in ("preset", "epochs", "lr", "optimizer")} == {
        "preset": "best-quality",
        "epochs": "3",
        "lr": "0.01",
        "optimizer": "sgd",
    }
    assert "features" not in at.query_params and "model" not in at.query_params
    at.number_input(key="m.latent_dim").set_value(16).run()
    assert at.query_params["latent-dim"] == "16"
    at.button(key="preset.quick-demo").click().run()  # a preset button resets the fields, and the link with them
    assert (
        at.query_params["preset"] == "quick-demo"
        and "latent-dim" not in at.query_params
        and "epochs" not in at.query_params
    )
    path, query = at.code[-1].value.split("?")  # the Copy link box: page and settings
    assert path == "/train" and parse_qs(query) == {"dataset": ["digits"], "preset": ["quick-demo"]}


def test_settings_for_other_pages_are_kept_and_come_back_after_a_page_change():
    at = opened(dataset="digits", epochs="4", projection="pca", k="7")  # opened on the Data page
    assert not notice(at), notice(at)
    assert {k: at.query_params[k] for k in ("epochs", "projection", "k")} == {
        "epochs": "4",
        "projection": "pca",
        "k": "7",
    }
    at.query_params.clear()  # a click in the sidebar drops the query string...
    at.switch_page("views/train.py").run()
    assert at.number_input(key="t.epochs").value == 4  # ...the session's link brings it back
    assert at.query_params["projection"] == "pca" and at.query_params["k"] == "7"


def test_a_bad_link_opens_with_defaults_and_a_short_notice():
    at = opened(
        **{
            "dataset": "nope",
            "max-samples": "-5",
            "image-size": "9999",
            "model": "cnov",
            "epochs": "0",
            "lr": "fast",
            "preset": "slow",
            "teach": "maybe",
            "colour": "purple",
            "zoom": "3",
            "x" * 200: "1",
        }
    )
    assert not at.error
    text = notice(at)
    for part in (
        "dataset=nope (not one of",
        "max-samples=-5 (not between 1 and",
        "image-size=9999 (not between 8 and 256)",
        "model=cnov (not one of",
        "epochs=0 (not between 1 and 1000)",
        "lr=fast (not a number)",
        "preset=slow (not one of",
        "teach=maybe (not 1 or 0)",
        "colour=purple",
        "zoom (unknown setting)",
        "x" * 30 + " (unknown setting)",
    ):
        assert part in text, text
    assert "x" * 31 not in text  # a long name is cut short
    assert at.session_state["data_spec"] == DataSpec(source="digits") and not at.toggle(key="teach").value
    assert dict(at.query_params) == {"dataset": "digits"}  # the bad parts are gone from the address
    at.query_params.clear()
    at.switch_page("views/train.py").run()
    assert not at.exception and not notice(at)
    assert (
        at.selectbox(key="m.family").value == "dense" and at.number_input(key="t.epochs").value == 20
    )  # the quick demo


def test_teaching_mode_hides_advanced_settings_and_keeps_their_values():
    at = opened("train", teach="1", optimizer="sgd")
    assert at.toggle(key="teach").value and at.query_params["teach"] == "1"
    assert "More training settings" not in [e.label for e in at.expander]
    assert "t.optimizer" not in [w.key for w in at.selectbox]
    at.number_input(key="t.epochs").set_value(5).run()
    assert at.session_state["t.optimizer"] == "sgd" and at.query_params["optimizer"] == "sgd"  # hidden, not forgotten
    at.toggle(key="teach").set_value(False).run()
    assert "teach" not in at.query_params
    assert "More training settings" in [e.label for e in at.expander] and at.selectbox(key="t.optimizer").value == "sgd"
