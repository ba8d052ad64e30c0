"""Evaluations and sweeps started from the dashboard wait in the server's one job queue (core.jobs)
like trainings: placed, counted against their session, cancelled while queued, stopped while
running, and nothing of the user's lost either way."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading

import pytest

from core.errors import RunError
from core.evaluation.background import CANCELLED, STOPPED, EvaluationJobs, queue_key
from core.job_limits import JobLimits
from core.jobs import JobRegistry
from core.runs import RunStore
from core.sweeps import SweepStore, parse_space
from core.sweeps import jobs as sweep_jobs
from core.trained import load_trained
from tests.core.run_fixtures import train_tiny_run
from tests.core.test_jobs import config, wait_for

SPACE = {"latent_dim": [2, 3]}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load_trained(train_tiny_run(tmp_path_factory.mktemp("runs"), max_samples=60))


@pytest.fixture
def one_slot(tmp_path):
    registry = JobRegistry(RunStore(tmp_path / "runs"), JobLimits(max_jobs=1, threads_per_job=1))
    yield registry
    registry.shutdown()


def occupy(registry: JobRegistry) -> str:
    """A long training in the only slot, so what comes next waits."""
    run_id = registry.start(config(epochs=10_000), session="teacher")
    wait_for(lambda: registry.get(run_id).thread is not None)
    return run_id


def stored(trained, split: str = "all") -> bytes | None:
    path = trained.run.path / f"evaluation-{split}.json"
    return path.read_bytes() if path.exists() else None


def test_a_queued_evaluation_waits_its_turn_and_cancelling_it_computes_nothing(one_slot, small):
    evaluations = EvaluationJobs(queue=one_slot)
    before = stored(small)
    occupy(one_slot)
    job = evaluations.start(small, "all", skip=("probes", "baselines"), session="student")
    assert job.queued and evaluations.queue_place(job) == (1, 1)
    assert evaluations.start(small, "all", session="student") is job  # a second click joins it
    assert one_slot.session_jobs("student")[0].kind == "evaluation"
    assert evaluations.stop(small.run.id, "all")
    assert job.done and job.error == CANCELLED and job.result is None
    assert stored(small) == before  # nothing computed, nothing overwritten
    assert not evaluations.stop(small.run.id, "all")  # nothing left to stop


def test_a_queued_evaluation_runs_by_itself_once_the_slot_frees_even_if_its_session_left(one_slot, small):
    evaluations = EvaluationJobs(queue=one_slot)
    training = occupy(one_slot)
    job = evaluations.start(small, "all", skip=("probes", "baselines"), session="closed-tab")
    assert job.queued
    one_slot.stop(training)  # the training ahead ends: the evaluation starts with nobody watching
    assert job.wait(180) and job.error is None and job.result is not None
    assert stored(small) is not None and one_slot.active() == []


def test_stopping_a_running_evaluation_keeps_the_stored_numbers(one_slot, small, monkeypatch):
    from core.evaluation import background

    evaluations = EvaluationJobs(queue=one_slot)
    reached = threading.Event()
    real = background.evaluate_run

    def slow(trained, split, on_progress=None, **options):  # the first step's event, then wait for the Stop
        def follow(event):
            on_progress(event)
            reached.set()
            one_slot.get(queue_key(trained.run.id, split)).stop_event.wait(30)

        return real(trained, split, on_progress=follow, save=True, **options)

    monkeypatch.setattr(background, "evaluate_run", slow)
    before = stored(small, "test")
    job = evaluations.start(small, "test", skip=("probes", "baselines"))
    assert reached.wait(120)
    assert evaluations.stop(small.run.id, "test")
    assert job.wait(60) and job.error == STOPPED and job.result is None
    assert stored(small, "test") == before  # a stopped evaluation stores nothing
    assert one_slot.active() == []  # its slot is free again


def test_a_session_at_its_limit_hears_it_counts_evaluations_too(one_slot, small):
    evaluations = EvaluationJobs(queue=one_slot)
    one_slot.start(config(epochs=10_000), session="a")
    evaluations.start(small, "all", session="a")
    with pytest.raises(RunError, match=r"already has 2 jobs \(trainings, evaluations, sweeps\)"):
        evaluations.start(small, "test", session="a")
    assert evaluations.get(small.run.id, "test") is None


def tiny_base():
    return config(epochs=1)


def test_a_queued_sweep_is_recorded_placed_and_cancelled_without_starting(one_slot, monkeypatch):
    launched = []
    monkeypatch.setattr(sweep_jobs, "launch", lambda *args: launched.append(args))
    store = SweepStore(one_slot.store.root)
    occupy(one_slot)
    sweep = sweep_jobs.queue_sweep(one_slot, store, tiny_base(), parse_space(SPACE), samples=2, session="s")
    key = sweep_jobs.sweep_key(sweep.id)
    assert sweep_jobs.sweep_state(sweep) == "created" and one_slot.queue_place(key) == (1, 1)
    assert one_slot.stop(key)
    assert sweep_jobs.sweep_state(sweep) == "stopped" and sweep.record()["message"] == sweep_jobs.CANCELLED
    assert launched == [] and sweep.trials() == []


def test_a_running_sweep_holds_its_slot_until_stop_ends_its_process(one_slot, monkeypatch):
    def fake_launch(sweep, store, max_concurrent, address):  # the sweep's process, without Ray
        # Like core.sweeps.tune's main, it takes Ctrl-C even where it started with SIGINT ignored (a shell's
        # background job): a bare `sleep` there outlived the Stop and the wait below.
        honours_ctrl_c = "import signal, time; signal.signal(signal.SIGINT, signal.default_int_handler); time.sleep(60)"
        process = subprocess.Popen([sys.executable, "-c", honours_ctrl_c])
        sweep.update(launcher_pid=process.pid)
        return process

    monkeypatch.setattr(sweep_jobs, "launch", fake_launch)
    monkeypatch.setattr(sweep_jobs, "SLOT_POLL_SECONDS", 0.05)
    store = SweepStore(one_slot.store.root)
    sweep = sweep_jobs.queue_sweep(one_slot, store, tiny_base(), parse_space(SPACE), samples=2)
    job = one_slot.get(sweep_jobs.sweep_key(sweep.id))
    wait_for(lambda: sweep.record().get("launcher_pid") is not None)
    assert job.thread is not None and not job.done
    queued = one_slot.start(config(epochs=1, seed=3))
    assert one_slot.queue_place(queued) == (1, 1)  # the sweep holds the only slot
    assert one_slot.stop(sweep_jobs.sweep_key(sweep.id))
    assert job.wait(30) and job.error is None
    assert one_slot.get(queued).wait(60) and one_slot.store.open(queued).status() == "finished"


def test_a_sweep_over_the_session_limit_leaves_no_record(one_slot):
    store = SweepStore(one_slot.store.root)
    one_slot.start(config(epochs=10_000), session="a")
    one_slot.start(config(epochs=2, seed=1), session="a")
    with pytest.raises(RunError, match="already has 2 trainings"):
        sweep_jobs.queue_sweep(one_slot, store, tiny_base(), parse_space(SPACE), samples=2, session="a")
    assert store.list() == []


def test_a_queued_sweep_whose_server_went_away_reads_interrupted(tmp_path):
    store = SweepStore(tmp_path / "runs")
    sweep = store.create(tiny_base(), parse_space(SPACE), 2)
    gone = subprocess.Popen(["true"])
    gone.wait()
    sweep.update(queued_by=gone.pid, launcher_host=socket.gethostname())
    assert sweep_jobs.sweep_state(sweep) == "interrupted"


def test_a_long_running_server_forgets_old_ended_jobs_but_not_live_ones(one_slot, monkeypatch):
    from core import jobs as jobs_module

    monkeypatch.setattr(jobs_module, "FINISHED_KEPT", 2)
    ids = [one_slot.submit(f"work:{n}", lambda job: None, kind="evaluation").run_id for n in range(5)]
    last = one_slot.get(ids[-1])
    assert last.wait(30)  # one slot: the last one done means all are
    held = one_slot.submit("work:held", lambda job: job.stop_event.wait(30), kind="evaluation")
    one_slot.submit("work:last", lambda job: None, kind="evaluation")
    assert one_slot.get(ids[0]) is None and one_slot.get(ids[1]) is None  # the oldest ended ones forgotten
    assert one_slot.get("work:held") is held and not held.done  # a live one is never forgotten
    one_slot.stop("work:held")
