"""Background jobs: real training on digits in threads, watched through the run folder."""

from __future__ import annotations

import time

import pytest

from core.config import RunConfig
from core.data import DataSpec
from core.errors import ConfigError, DataError, RunError
from core.jobs import Job, JobRegistry, is_training, offers_resume, resume_problem
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
