"""Background training a UI can start, watch, stop and re-attach to.

    registry = JobRegistry(RunStore())      # the dashboard keeps one per server (st.cache_resource)
    run_id = registry.start(config)         # trains in a daemon thread; returns at once
    registry.get(run_id).latest             # newest Progress, or None before the first one
    registry.stop(run_id)                   # checked between batches; ends "stopped" with a checkpoint

Nothing here knows about Streamlit: a page keeps only the run id, and everything it draws can be
read back from the run folder (`store.open(run_id).metrics()`), so a refresh or a second browser
tab re-attaches without holding any handle from the first. The job's thread never touches UI state.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from core.config import RunConfig
from core.data import Dataset
from core.errors import LatentboardError, RunError
from core.experiment import execute, start_run
from core.gate import prepare, settle
from core.runs import Run, RunStore
from core.training import Progress

log = logging.getLogger(__name__)

RESUMABLE = ("stopped", "interrupted", "failed")  # the states Resume continues from the last checkpoint


@dataclass(eq=False)
class Job:
    """One training thread. `latest` and `error` are written by the thread, read by anyone."""

    run_id: str
    stop_event: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    latest: Progress | None = None
    error: str | None = None

    @property
    def done(self) -> bool:
        return self.thread is not None and not self.thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the thread ends (or `timeout` seconds pass); True if it has ended."""
        if self.thread is not None:
            self.thread.join(timeout)
        return self.done


def is_training(status: str, job: Job | None = None) -> bool:
    """Whether a run trains now: a job of this process still at it, or a recorded "running".

    Run.status() says running only while a trainer holds the run's lock (a dead trainer's run
    reads "interrupted"), so training in another process (the CLI) counts as well.
    """
    return (job is not None and not job.done) or status == "running"


def resume_problem(run: Run, job: Job | None = None) -> str | None:
    """Why `run` cannot be resumed now, or None when it can (from its checkpoint; without one, from the start)."""
    if job is not None and not job.done:
        return f"Run {run.id} is already training."
    state = run.status()
    if state == "running":
        pid = run.info().get("pid")
        return f"Run {run.id} is being trained by another process" + (f" (pid {pid})." if pid else ".")
    if state == "finished":
        return f"Run {run.id} already finished its {run.config.train.epochs} epochs; there is nothing to resume."
    return None


def offers_resume(run: Run, job: Job | None = None) -> bool:
    """Whether a UI offers Resume: a run that stopped, was interrupted or failed, with a checkpoint to go on from."""
    return run.status() in RESUMABLE and run.has_checkpoint and resume_problem(run, job) is None


class JobRegistry:
    """The jobs of one process, by run id. Thread-safe; holds no UI objects."""

    def __init__(self, store: RunStore | None = None):
        self.store = store if store is not None else RunStore()
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def start(self, config: RunConfig) -> str:
        """Create a run for `config` and train it in the background; returns its id.

        Bad names and ranges (ConfigError) and unreadable or too little data (DataError) raise
        here, before any folder exists: the dataset is loaded in the caller's thread. Errors
        while training (divergence) end up in `Job.error` and the run's status.
        """
        dataset = prepare(config)
        run = start_run(self.store, settle(config, dataset))
        return self._launch(run, resume=False, dataset=dataset)

    def resume(self, run_id: str) -> str:
        """Continue a stopped, interrupted or failed run from its last checkpoint."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is not None and not job.done:
                raise RunError(f"Run {run_id} is already training.")
        run = self.store.open(run_id)
        problem = resume_problem(run)
        if problem:
            raise RunError(problem)
        return self._launch(run, resume=True)

    def stop(self, run_id: str) -> bool:
        """Ask a job to stop after the current batch; False if no job of that id is running here."""
        job = self.get(run_id)
        if job is None or job.done:
            return False
        job.stop_event.set()
        return True

    def get(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def active(self) -> list[Job]:
        """Jobs whose thread is still running (or about to start)."""
        with self._lock:
            return [job for job in self._jobs.values() if not job.done]

    def shutdown(self, timeout: float | None = 30.0) -> None:
        """Stop every job and wait for them (server exit, tests)."""
        jobs = self.active()
        for job in jobs:
            job.stop_event.set()
        for job in jobs:
            job.wait(timeout)

    def _launch(self, run: Run, resume: bool, dataset: Dataset | None = None) -> str:
        job = Job(run.id)
        job.thread = threading.Thread(
            target=self._train, args=(job, run, resume, dataset), name=f"latentboard-train-{run.id}", daemon=True
        )
        with self._lock:
            current = self._jobs.get(run.id)
            if current is not None and not current.done:
                raise RunError(f"Run {run.id} is already training.")
            self._jobs[run.id] = job
            job.thread.start()
        return run.id

    @staticmethod
    def _train(job: Job, run: Run, resume: bool, dataset: Dataset | None) -> None:
        try:
            for event in execute(run, stop=job.stop_event, resume=resume, dataset=dataset):
                job.latest = event
        except LatentboardError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug; the run's status says "failed" with the same words
            log.exception("training run %s failed", run.id)
            job.error = f"Unexpected error: {type(exc).__name__}: {exc}"
