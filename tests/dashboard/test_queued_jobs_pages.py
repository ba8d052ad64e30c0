"""The Evaluate and Sweeps pages while their job waits in the server's job queue behind a training:
its place, Cancel, and what a cancelled job reads (nothing computed or launched, nothing lost)."""

from __future__ import annotations

import json
import threading

from core.evaluation.background import CANCELLED
from core.experiment import execute
from core.job_limits import MAX_JOBS_ENV
from core.runs import RunStore
from tests.dashboard.test_pages import app, small_config
from tests.dashboard.test_queue_page import progress_text, train_page
from tests.dashboard.waiting import rerun_until


def test_a_queued_evaluation_shows_its_place_and_can_be_cancelled(monkeypatch):
    monkeypatch.setenv(MAX_JOBS_ENV, "1")
    finished = RunStore().create(small_config())
    for _ in execute(finished, stop=threading.Event()):
        pass
    training = train_page(epochs=1000)  # takes the only slot
    training_id = training.query_params["run"]
    try:
        at = app("evaluate", finished.id)
        at.button(key="eval.compute").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert "Queued: place 1 of 1" in progress_text(at), progress_text(at)
        assert any("this evaluation starts by itself" in i.value for i in at.info)
        assert at.button(key="eval.compute").disabled and at.button(key="eval.stop").label == "Cancel"
        at.button(key="eval.stop").click().run()
        assert not at.exception, at.exception
        rerun_until(at, lambda page: any(CANCELLED in i.value for i in page.info), what="the cancelled evaluation")
        assert not at.error and at.button(key="eval.compute").label == "Compute the evaluation"
        assert not (finished.path / "evaluation-test.json").exists()
    finally:
        training.button(key="train.stop").click().run()
    rerun_until(training, lambda page: RunStore().open(training_id).status() == "stopped", what="the stopped run")


def test_a_queued_sweep_shows_its_place_and_cancel_leaves_it_stopped_without_a_trial(monkeypatch, isolated_home):
    from core.sweeps import SweepStore
    from core.sweeps.jobs import CANCELLED as SWEEP_CANCELLED
    from core.sweeps.jobs import sweep_state
    from tests.dashboard.test_sweeps_page import TINY_SPACE, sweeps_page

    monkeypatch.setenv(MAX_JOBS_ENV, "1")
    training = train_page(epochs=1000)
    training_id = training.query_params["run"]
    try:
        at = sweeps_page()
        at.selectbox(key="sweeps.space").set_value("custom (JSON)").run()
        at.text_area(key="sweeps.custom").set_value(json.dumps(TINY_SPACE)).run()
        at.button(key="sweeps.start").click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert "Queued: place 1 of 1" in progress_text(at), progress_text(at)
        assert any("this sweep starts by itself" in i.value for i in at.info)
        assert at.button(key="sweeps.stop").label == "Cancel"
        at.button(key="sweeps.stop").click().run()
        assert not at.exception, at.exception
        (record,) = SweepStore(isolated_home / "runs").list()
        sweep = SweepStore(isolated_home / "runs").open(record["id"])
        assert sweep_state(sweep) == "stopped" and sweep.record()["message"] == SWEEP_CANCELLED
        assert sweep.trials() == [] and "launcher_pid" not in sweep.record()
    finally:
        training.button(key="train.stop").click().run()
    rerun_until(training, lambda page: RunStore().open(training_id).status() == "stopped", what="the stopped run")
