"""The Train page while its run waits in the server's job queue: its place, Cancel, then what a
cancelled run reads. Two AppTest sessions share one server's registry, as two students would."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.job_limits import MAX_JOBS_ENV
from core.jobs import CANCELLED
from core.runs import RunStore
from tests.dashboard.waiting import rerun_until

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"


def train_page(epochs: int) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("views/train.py").run()
    at.number_input(key="t.epochs").set_value(epochs).run()
    at.number_input(key="m.width").set_value(32).run()
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    return at


def progress_text(at: AppTest) -> str:
    return " ".join(p.proto.text for p in at.get("progress"))


def test_a_queued_run_shows_its_place_and_can_be_cancelled(monkeypatch):
    monkeypatch.setenv(MAX_JOBS_ENV, "1")  # read when this runs dir's registry is made (isolated_home: a new dir)
    first = train_page(epochs=1000)
    first_id = first.query_params["run"]
    second = train_page(epochs=2)
    second_id = second.query_params["run"]
    assert first_id != second_id
    try:
        assert "Queued: place 1 of 1" in progress_text(second), progress_text(second)
        assert any("trains one training at a time" in i.value for i in second.info)
        assert second.button(key="train.start").disabled  # one waiting run per page: nothing to queue twice
        # A refresh (a new session on the same link) finds the same place.
        again = AppTest.from_file(str(APP), default_timeout=120)
        again.query_params["run"] = second_id
        again.run()
        again.switch_page("views/train.py").run()
        assert "Queued: place 1 of 1" in progress_text(again)

        second.button(key="train.cancel").click().run()
        assert not second.exception, second.exception
        rerun_until(second, lambda at: "Cancelled while queued" in progress_text(at), what="the cancelled run")
        assert any(CANCELLED in c.value for c in second.caption)
        run = RunStore().open(second_id)
        assert run.status() == "stopped" and not run.has_checkpoint
        assert "train.cancel" not in [b.key for b in second.button]
    finally:
        first.button(key="train.stop").click().run()
    rerun_until(first, lambda at: RunStore().open(first_id).status() == "stopped", what="the stopped run")
    assert RunStore().open(first_id).has_checkpoint


def test_a_bad_job_limit_is_said_on_start_and_nothing_is_created(monkeypatch):
    monkeypatch.setenv(MAX_JOBS_ENV, "0")  # a server started without `latentboard serve`'s own check
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page("views/train.py").run()
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    assert any("LATENTBOARD_MAX_JOBS=0 would never train anything" in e.value for e in at.error)
    assert RunStore().list() == [] and "run" not in at.query_params


def test_a_run_the_server_never_started_says_so():
    """Queued when the server stopped: its folder reads "created" and no job of this server holds it."""
    from core.config import RunConfig

    run = RunStore().create(RunConfig())
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.query_params["run"] = run.id
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    assert "Not started: the server stopped before its turn in the queue came" in progress_text(at)
    assert not at.button(key="train.start").disabled


def test_the_waiting_text_gives_an_estimate_or_else_the_count_ahead():
    from dashboard.trainqueue import waiting_text

    assert waiting_text((2, 3), 40.0) == "Queued: place 2 of 3, about 40 s"
    assert waiting_text((2, 3), None).startswith("Queued: place 2 of 3 (1 ahead of it; an estimate follows")
