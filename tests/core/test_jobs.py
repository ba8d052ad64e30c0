"""Background jobs: real training on digits in threads, watched through the run folder."""

from __future__ import annotations

import time

import pytest
import torch

from core.config import RunConfig
from core.data import DataSpec
from core.errors import ConfigError, DataError, RunError
from core.job_limits import MAX_JOBS_ENV, JobLimits
from core.jobs import (
    CANCELLED,
    Job,
    JobRegistry,
    is_training,
    offers_resume,
    resume_problem,
)
from core.models import ModelConfig
from core.runs import RunStore
from core.training import TrainConfig


def config(epochs: int, seed: int = 0, **data) -> RunConfig:
    return RunConfig(
        data=DataSpec(**{"source": "digits", "max_samples": 300, **data}),
        model=ModelConfig("dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(epochs=epochs, batch_size=64, seed=seed, device="cpu"),
    )


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def registry(tmp_path):
    registry = JobRegistry(RunStore(tmp_path / "runs"))
    yield registry
    registry.shutdown()


def test_stop_leaves_a_stopped_run_with_a_checkpoint_and_resume_finishes_it(registry):
    run_id = registry.start(config(epochs=10_000))
    run = registry.store.open(run_id)
    job = registry.get(run_id)
    wait_for(lambda: len(run.epoch_metrics()) >= 1)
    assert run.status() == "running" and job in registry.active()
    assert is_training(run.status(), job) and not offers_resume(run, job)

    assert registry.stop(run_id)
    assert job.wait(30) and job.error is None
    assert run.status() == "stopped" and run.has_checkpoint
    assert not is_training(run.status(), job) and offers_resume(run, job) and resume_problem(run, job) is None
    assert job.latest is not None and registry.active() == []
    done = run.info()["epochs_done"]
    assert 1 <= done < 10_000
    assert not registry.stop(run_id)  # nothing left to stop

    # Resuming continues the epoch count; a run cannot train twice at once.
    registry.resume(run_id)
    with pytest.raises(RunError, match="already training"):
        registry.resume(run_id)
    wait_for(lambda: run.info()["epochs_done"] >= done + 2)
    registry.stop(run_id)
    registry.get(run_id).wait(30)
    epochs = [e.epoch for e in run.epoch_metrics()]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) >= done + 2


def test_what_a_run_state_allows_without_training_it(tmp_path):
    """The rules the pages and the CLI share: is it training, may it resume, is Resume offered."""
    run = RunStore(tmp_path / "runs").create(config(epochs=3))
    assert not is_training(run.status()) and not offers_resume(run)  # created: nothing to resume from
    alive = Job(run.id)  # no thread yet: about to start, so training
    assert is_training("created", alive) and resume_problem(run, alive) == f"Run {run.id} is already training."
    run.set_status("stopped")
    assert resume_problem(run) is None and not offers_resume(run)  # no checkpoint: the page offers none
    run.set_status("finished")
    assert "nothing to resume" in resume_problem(run) and not is_training(run.status())
    assert is_training("running") and not is_training("interrupted")


def test_two_jobs_keep_their_metrics_apart(registry):
    first, second = registry.start(config(epochs=3, seed=1)), registry.start(config(epochs=2, seed=2))
    for run_id in (first, second):
        assert registry.get(run_id).wait(60)
        assert registry.get(run_id).error is None
    a, b = registry.store.open(first), registry.store.open(second)
    assert [e.epoch for e in a.epoch_metrics()] == [1, 2, 3]
    assert [e.epoch for e in b.epoch_metrics()] == [1, 2]
    assert a.epoch_metrics()[-1] == registry.get(first).latest
    assert b.epoch_metrics()[-1] == registry.get(second).latest
    assert a.status() == b.status() == "finished"
    with pytest.raises(RunError, match="nothing to resume"):
        registry.resume(first)


def test_bad_config_and_bad_data_fail_before_a_folder_exists(registry, tmp_path):
    with pytest.raises(ConfigError, match="Unknown dataset"):
        registry.start(config(epochs=1, source="no-such-data"))
    assert registry.store.list() == []

    # Issue 14: the data is loaded before the run folder exists, so a refused dataset leaves no
    # "failed" run behind (it used to reach the job as one).
    with pytest.raises(DataError, match="does not exist"):
        registry.start(config(epochs=1, source="folder", path=str(tmp_path / "missing")))
    assert registry.store.list() == [] and registry.active() == []


# --- the queue (issue 24) --------------------------------------------------------------------------


@pytest.fixture
def one_slot(tmp_path):
    """A server that trains one job at a time, two jobs per session."""
    registry = JobRegistry(RunStore(tmp_path / "runs"), JobLimits(max_jobs=1, threads_per_job=1))
    yield registry
    registry.shutdown()


def started(registry, run_id) -> bool:
    job = registry.get(run_id)
    return job.thread is not None


def test_limit_one_runs_one_and_queues_the_rest_in_order(one_slot):
    first = one_slot.start(config(epochs=10_000))
    second, third = one_slot.start(config(epochs=2, seed=1)), one_slot.start(config(epochs=2, seed=2))
    assert started(one_slot, first) and one_slot.queue_place(first) is None
    assert one_slot.queue_place(second) == (1, 2) and one_slot.queue_place(third) == (2, 2)
    assert one_slot.get(second).queued and is_training("created", one_slot.get(second))
    assert one_slot.store.open(second).status() == "created"

    # An estimate once an epoch has been timed: the third waits for the second's two epochs more.
    wait_for(lambda: one_slot.wait_estimate(second) is not None)
    assert one_slot.wait_estimate(third) > one_slot.wait_estimate(second) >= 0

    # Stopping the running job (the page's Stop) keeps its checkpoint and starts the next by itself.
    assert one_slot.stop(first) and one_slot.get(first).wait(30)
    assert one_slot.store.open(first).status() == "stopped" and one_slot.store.open(first).has_checkpoint
    wait_for(lambda: started(one_slot, second))
    assert one_slot.queue_place(third) == (1, 1) or started(one_slot, third)
    for run_id in (second, third):
        assert one_slot.get(run_id).wait(60) and one_slot.get(run_id).error is None
        assert one_slot.store.open(run_id).status() == "finished"
    assert one_slot.active() == []
    second_info, third_info = (one_slot.store.open(r).info() for r in (second, third))
    assert second_info["updated"] <= third_info["started"]  # the second had finished before the third began


def test_cancelling_a_queued_job_reads_stopped_and_loses_nothing(one_slot):
    first = one_slot.start(config(epochs=10_000))
    second, third = one_slot.start(config(epochs=2, seed=1)), one_slot.start(config(epochs=2, seed=2), session="b")
    assert one_slot.stop(second)
    job, run = one_slot.get(second), one_slot.store.open(second)
    assert job.done and job.cancelled and job.thread is None and job.error is None
    assert run.status() == "stopped" and run.summary().message == CANCELLED and not run.has_checkpoint
    assert not offers_resume(run, job) and not is_training(run.status(), job)
    assert not one_slot.stop(second)  # nothing left to cancel
    assert one_slot.queue_place(third) == (1, 1)  # the one behind moves up
    assert started(one_slot, first) and not one_slot.get(first).stop_event.is_set()  # the running one goes on

    # Started again later, a cancelled run trains from the start (it has nothing to resume from).
    one_slot.stop(first)
    one_slot.resume(second)
    assert one_slot.get(second).wait(60) and one_slot.store.open(second).status() == "finished"


def test_a_session_may_hold_two_jobs_and_hears_why_not_a_third(one_slot):
    one_slot.start(config(epochs=10_000), session="a")
    queued = one_slot.start(config(epochs=2, seed=1), session="a")
    with pytest.raises(RunError, match="already has 2 trainings queued or running"):
        one_slot.start(config(epochs=2, seed=2), session="a")
    assert len(one_slot.store.list()) == 2  # the refused start left no folder
    other = one_slot.start(config(epochs=2, seed=3), session="b")  # another session is not held up by a's
    assert one_slot.queue_place(other) == (2, 2)
    one_slot.stop(queued)
    assert len(one_slot.session_jobs("a")) == 1
    one_slot.start(config(epochs=2, seed=4), session="a")  # a freed place can be used again


def test_a_queued_job_whose_session_went_away_still_trains(one_slot):
    """The server cannot tell a closed tab from a refresh (both end the session), and a refreshing
    student must find their run: so a queued job keeps its place and trains with nobody watching.
    The registry holds only the session's id, nothing of the session, so a page going away cannot
    touch it; a returning page re-attaches by run id."""
    first = one_slot.start(config(epochs=10_000), session="teacher")
    orphan = one_slot.start(config(epochs=2, seed=1), session="closed-tab")
    one_slot.stop(first)
    assert one_slot.get(orphan).wait(60) and one_slot.store.open(orphan).status() == "finished"
    assert one_slot.session_jobs("closed-tab") == []  # its place is free once the job ends


def test_each_job_trains_with_its_share_of_the_threads(tmp_path, monkeypatch):
    seen = []

    def fake_execute(run, **_):
        seen.append(torch.get_num_threads())
        yield from ()

    before = torch.get_num_threads()
    monkeypatch.setattr("core.jobs.execute", fake_execute)
    registry = JobRegistry(RunStore(tmp_path / "runs"), JobLimits(max_jobs=2, threads_per_job=1))
    run_id = registry.start(config(epochs=1))
    assert registry.get(run_id).wait(30) and seen == [1]
    assert torch.get_num_threads() == before  # the caller's (the page's) own threads are untouched


@pytest.mark.parametrize(("cores", "expected"), [(1, (1, 1)), (2, (2, 1)), (3, (3, 1)), (8, (8, 1))])
def test_default_limits_keep_jobs_times_threads_within_the_cores(cores, expected):
    limits = JobLimits.from_environment({}, cores=cores)
    assert (limits.max_jobs, limits.threads_per_job) == expected
    assert limits.max_jobs * limits.threads_per_job <= cores


def test_the_limit_can_be_set_and_a_bad_one_is_refused_with_advice(tmp_path, monkeypatch):
    assert JobLimits.from_environment({MAX_JOBS_ENV: " 3 "}, cores=8) == JobLimits(3, 2)
    assert JobLimits.from_environment({MAX_JOBS_ENV: "4"}, cores=2).threads_per_job == 1
    with pytest.raises(ConfigError, match="LATENTBOARD_MAX_JOBS=0 would never train anything; set"):
        JobLimits.from_environment({MAX_JOBS_ENV: "0"})
    with pytest.raises(ConfigError, match="LATENTBOARD_MAX_JOBS='lots' is not a number; set .* at least 1"):
        JobLimits.from_environment({MAX_JOBS_ENV: "lots"})
    with pytest.raises(ConfigError, match="-2 would never train"):
        JobLimits.from_environment({MAX_JOBS_ENV: "-2"})
    monkeypatch.setenv(MAX_JOBS_ENV, "2.5")  # the registry reads it when it is made: the server's first use
    with pytest.raises(ConfigError, match="'2.5' is not a number"):
        JobRegistry(RunStore(tmp_path / "runs"))
