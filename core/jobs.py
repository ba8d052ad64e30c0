"""Background training a UI can start, watch, stop and re-attach to, through one queue per server.

    registry = JobRegistry(RunStore())      # the dashboard keeps one per server (st.cache_resource)
    run_id = registry.start(config, session="abc")  # queued; trains in a daemon thread when a slot frees
    registry.queue_place(run_id)            # (place, queued) while waiting, else None
    registry.get(run_id).latest             # newest Progress, or None before the first one
    registry.stop(run_id)                   # queued: cancelled at once; running: stops after the batch
    registry.progress.read(run.metrics_path)  # the run's events, one shared reading for every watcher
    registry.submit("evaluate:RUN:test", work, session="abc", kind="evaluation")  # other work, same queue

Nothing here knows about Streamlit: a page keeps only the run id, and everything it draws can be
read back from the run folder (`store.open(run_id).metrics()`), so a refresh or a second browser
tab re-attaches without holding any handle from the first. The job's thread never touches UI state.

A class on one server: every Start used to launch its thread at once, each with PyTorch's own
intra-op threads, so twelve students oversubscribed two cores many times over. Now at most
`max_jobs` train at once (JobLimits: one per core, or LATENTBOARD_MAX_JOBS), each with
`threads_per_job` PyTorch threads, and the rest wait in order of arrival. One browser session
may hold at most `per_session` queued or running jobs, so nobody fills the queue ahead of the rest.

Evaluations and sweeps started from the dashboard wait in the same queue (`submit`): each takes one
slot while it works, so a class evaluating and training at once still shares the cores the same way.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from core.config import RunConfig
from core.data import Dataset
from core.errors import LatentboardError, RunError
from core.experiment import execute, start_run
from core.gate import prepare, settle
from core.job_limits import JobLimits, remember
from core.live_progress import LiveProgress
from core.runs import Run, RunStore
from core.training import Progress

log = logging.getLogger(__name__)

FINISHED_KEPT = 200  # ended jobs remembered (their error for a page to show); older ones are forgotten
RESUMABLE = ("stopped", "interrupted", "failed")  # the states Resume continues from the last checkpoint
CANCELLED = "Cancelled while queued: nothing was trained. Start it again to train."


@dataclass(eq=False)
class Job:
    """One training, queued or in its thread. `latest`, `error`, `started_at` are written by the registry
    and the thread, read by anyone."""

    run_id: str
    session: str | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    latest: Progress | None = None
    error: str | None = None
    epochs_left: int = 0  # for the queue's estimates (other work counts as none)
    cancelled: bool = False  # stopped while still queued: it never trained
    kind: str = "training"  # or what `submit` was told: "evaluation", "sweep"

    @property
    def queued(self) -> bool:
        return self.thread is None and not self.done

    @property
    def done(self) -> bool:
        return self.ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends, queued time included (or `timeout` seconds pass); True if it has ended."""
        return self.ended.wait(timeout)


@dataclass(eq=False)
class _Waiting:
    """What a queued job needs to start: its run and how, or the other work it does and what a cancel does."""

    job: Job
    run: Run | None
    resume: bool = False
    dataset: Dataset | None = None
    work: Callable[[Job], None] | None = None  # not a training: run this in the slot
    on_cancel: Callable[[], None] | None = None


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
    """The jobs of one process, by run id, and the queue they wait in. Thread-safe; holds no UI objects."""

    def __init__(self, store: RunStore | None = None, limits: JobLimits | None = None):
        self.store = store if store is not None else RunStore()
        self.limits = limits if limits is not None else JobLimits.from_environment()
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[_Waiting] = deque()
        self._running = 0
        self._epoch_seconds: deque[float] = deque(maxlen=20)  # recent epochs of any job, for estimates
        self._lock = threading.Lock()
        self.progress = LiveProgress()  # one reading of each watched run's metrics, shared by its pages

    def start(self, config: RunConfig, session: str | None = None) -> str:
        """Create a run for `config` and queue it for training; returns its id at once.

        Bad names and ranges (ConfigError) and unreadable or too little data (DataError) raise
        here, before any folder exists: the dataset is loaded in the caller's thread. So does a
        session over its limit (RunError). Errors while training (divergence) end up in
        `Job.error` and the run's status.
        """
        self._check_session(session)
        dataset = prepare(config)
        run = start_run(self.store, settle(config, dataset))
        return self._submit(run, resume=False, dataset=dataset, session=session)

    def resume(self, run_id: str, session: str | None = None) -> str:
        """Continue a stopped, interrupted or failed run from its last checkpoint (queued like a start)."""
        with self._lock:
            job = self._jobs.get(run_id)
            if job is not None and not job.done:
                raise RunError(f"Run {run_id} is already training.")
        self._check_session(session)
        run = self.store.open(run_id)
        problem = resume_problem(run)
        if problem:
            raise RunError(problem)
        return self._submit(run, resume=True, session=session)

    def stop(self, run_id: str) -> bool:
        """Cancel a queued job at once, or ask a running one to stop after the current batch.

        A cancelled fresh run reads "stopped" with CANCELLED as its message (it has no checkpoint,
        so nothing was lost); a cancelled resume leaves its run as it was. False if no job of that
        id is queued or running here.
        """
        with self._lock:
            waiting = next((w for w in self._waiting if w.job.run_id == run_id), None)
            if waiting is not None:
                self._waiting.remove(waiting)
        if waiting is not None:
            self._cancel(waiting)
            return True
        job = self.get(run_id)
        if job is None or job.done:
            return False
        job.stop_event.set()
        return True

    def submit(
        self,
        key: str,
        work: Callable[[Job], None],
        *,
        session: str | None = None,
        kind: str = "work",
        on_cancel: Callable[[], None] | None = None,
    ) -> Job:
        """Queue other work (an evaluation, a sweep) under `key`, to run as `work(job)` in a slot of its own.

        It waits, is placed, counted against its session and cancelled like a training: `stop(key)`
        while queued calls `on_cancel` (and `work` never runs); while running it sets `job.stop_event`,
        which `work` should heed soon. A LatentboardError it raises ends up in `job.error`.
        """
        self._check_session(session)
        job = Job(key, session=session, kind=kind)
        with self._lock:
            current = self._jobs.get(key)
            if current is not None and not current.done:
                raise RunError(f"{kind.capitalize()} {key} is already queued or running.")
            remember(self._jobs, job.run_id, job, FINISHED_KEPT)
            self._waiting.append(_Waiting(job, None, work=work, on_cancel=on_cancel))
            self._start_waiting()
        return job

    def get(self, run_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(run_id)

    def active(self) -> list[Job]:
        """Jobs queued or still training."""
        with self._lock:
            return [job for job in self._jobs.values() if not job.done]

    def queue_place(self, run_id: str) -> tuple[int, int] | None:
        """(place, queued) of a waiting job, 1 = next to start; None when it is not waiting."""
        with self._lock:
            ids = [w.job.run_id for w in self._waiting]
        return (ids.index(run_id) + 1, len(ids)) if run_id in ids else None

    def wait_estimate(self, run_id: str) -> float | None:
        """About how many seconds until a queued job starts, or None when there is no timing yet.

        The work ahead (epochs left of the running jobs and of those queued before it) at the
        recent seconds per epoch, handed to the free slots in queue order as they free up.
        """
        with self._lock:
            if not self._epoch_seconds:
                return None
            per_epoch = sum(self._epoch_seconds) / len(self._epoch_seconds)
            ids = [w.job.run_id for w in self._waiting]
            if run_id not in ids:
                return None
            ahead = [w.job for w in list(self._waiting)[: ids.index(run_id)]]
            running = [job for job in self._jobs.values() if job.thread is not None and not job.done]
        slots = sorted(job.epochs_left * per_epoch for job in running)
        slots += [0.0] * max(0, self.limits.max_jobs - len(slots))
        for job in ahead:  # each job ahead takes the slot that frees first
            slots.sort()
            slots[0] += job.epochs_left * per_epoch
        return min(slots)

    def session_jobs(self, session: str) -> list[Job]:
        """A browser session's jobs that are queued or training."""
        return [job for job in self.active() if job.session == session]

    def shutdown(self, timeout: float | None = 30.0) -> None:
        """Cancel what waits, stop every job and wait for them (server exit, tests)."""
        with self._lock:
            waiting, self._waiting = list(self._waiting), deque()
        for entry in waiting:
            self._cancel(entry)
        jobs = self.active()
        for job in jobs:
            job.stop_event.set()
        for job in jobs:
            job.wait(timeout)

    def _check_session(self, session: str | None) -> None:
        """Browser sessions run their callbacks one at a time, so counting here cannot race with a second Start."""
        if session is None:
            return
        jobs = self.session_jobs(session)
        held = len(jobs)
        if held >= self.limits.per_session:
            what = (
                "trainings" if all(job.kind == "training" for job in jobs) else "jobs (trainings, evaluations, sweeps)"
            )
            raise RunError(
                f"This session already has {held} {what} queued or running, the most one session may hold "
                "so that everyone's turn comes; stop one, or wait until one finishes."
            )

    def _submit(self, run: Run, resume: bool, dataset: Dataset | None = None, session: str | None = None) -> str:
        done = int(run.info().get("epochs_done") or 0) if resume else 0
        job = Job(run.id, session=session, epochs_left=max(run.config.train.epochs - done, 0))
        with self._lock:
            current = self._jobs.get(run.id)
            if current is not None and not current.done:
                raise RunError(f"Run {run.id} is already training.")
            remember(self._jobs, job.run_id, job, FINISHED_KEPT)
            self._waiting.append(_Waiting(job, run, resume, dataset))
            self._start_waiting()
        return run.id

    def _start_waiting(self) -> None:
        """Start queued jobs, oldest first, while a slot is free (the caller holds the lock)."""
        while self._waiting and self._running < self.limits.max_jobs:
            entry = self._waiting.popleft()
            entry.job.thread = threading.Thread(
                target=self._train if entry.work is None else self._work,
                args=(entry,),
                name=f"latentboard-{entry.job.kind}-{entry.job.run_id}",
                daemon=True,
            )
            self._running += 1
            entry.job.thread.start()

    def _cancel(self, entry: _Waiting) -> None:
        entry.job.cancelled = True
        try:
            if entry.on_cancel is not None:
                entry.on_cancel()
            elif entry.run is not None and not entry.resume:
                entry.run.set_status("stopped", CANCELLED, epochs_done=0)
        except OSError as exc:  # the folder went away meanwhile: nothing of it is left to mark
            log.warning("could not mark cancelled job %s: %s", entry.job.run_id, exc)
        finally:
            entry.job.ended.set()

    def _release(self, job: Job) -> None:
        """A job's thread is done: free its slot, start the next waiting one, then say it ended."""
        with self._lock:
            self._running -= 1
            self._start_waiting()
        job.ended.set()

    def _work(self, entry: _Waiting) -> None:
        """The thread of other work (an evaluation, a sweep), with a training's share of PyTorch threads."""
        job = entry.job
        try:
            torch.set_num_threads(self.limits.threads_per_job)
            entry.work(job)
        except LatentboardError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug: say what broke instead of a silent stop
            log.exception("%s %s failed", job.kind, job.run_id)
            job.error = f"Unexpected error: {type(exc).__name__}: {exc}"
        finally:
            entry.work = None  # a finished job keeps nothing of its work in memory
            self._release(job)

    def _train(self, entry: _Waiting) -> None:
        """The job's thread. torch.set_num_threads is called here because it is per thread: checked with
        torch 2.14 (OpenMP + MKL build) through torch.__config__.parallel_info(), a worker's call sets its own
        at::, OpenMP and MKL thread counts, while a thread that had already used torch keeps its own; a
        thread that first uses torch later starts from the latest value (so a page's torch calls take no
        more than a job's share either). Called once in the main thread, it would not reach the workers.
        """
        job, previous = entry.job, 0.0
        try:
            torch.set_num_threads(self.limits.threads_per_job)
            for event in execute(entry.run, stop=job.stop_event, resume=entry.resume, dataset=entry.dataset):
                job.latest = event
                if event.kind == "epoch":
                    job.epochs_left = max(event.epochs - event.epoch, 0)
                    with self._lock:
                        self._epoch_seconds.append(max(event.elapsed - previous, 0.0))
                    previous = event.elapsed
        except LatentboardError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug; the run's status says "failed" with the same words
            log.exception("training run %s failed", entry.run.id)
            job.error = f"Unexpected error: {type(exc).__name__}: {exc}"
        finally:
            entry.dataset = None  # a finished job keeps no data in memory
            self._release(job)
