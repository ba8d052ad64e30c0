"""Evaluations a UI starts in the background and watches, like training (core.jobs).

    evaluations = EvaluationJobs(queue=registry)      # the dashboard keeps one per server
    job = evaluations.start(trained, "test", session="abc")  # queued; the same job if one waits or runs
    evaluations.queue_place(job), evaluations.stop(job)      # its place while waiting; cancel or stop it
    job.latest                                        # newest EvalProgress (partial result inside)
    job.result, job.error                             # once job.done

An evaluation of 10k images takes minutes: a page that ran it in its own script run would be
frozen behind a spinner all that time. Here it runs in a daemon thread that never touches UI
state; the page only reads `latest`. The result is also stored in the run folder as usual, so a
page that lost the job (a server restart) still finds the finished numbers.

Given the server's job queue (core.jobs.JobRegistry), an evaluation waits there for a slot like a
training, with its place, its session's limit and Cancel; stopped while it runs, it ends after the
current step and stores nothing, so the last stored numbers stay as they were.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import LatentboardError, RunError
from core.evaluation.progress import EvalProgress
from core.evaluation.result import EvaluationResult
from core.evaluation.run_evaluation import evaluate_run
from core.job_limits import remember

if TYPE_CHECKING:
    from core.jobs import Job, JobRegistry
    from core.trained import TrainedRun

log = logging.getLogger(__name__)

FINISHED_KEPT = 64  # ended evaluations remembered (their error or result for a page); older ones forgotten
CANCELLED = "Cancelled while queued: nothing was computed; the stored numbers are as they were."
STOPPED = "Stopped: nothing was stored; the numbers shown are the last stored ones."


class EvaluationStopped(RunError):
    """Raised inside the evaluation's thread when it was asked to stop."""


@dataclass(eq=False)
class EvaluationJob:
    """One evaluation thread. `latest`, `result` and `error` are written by the thread, read by anyone."""

    run_id: str
    split: str
    thread: threading.Thread | None = None
    latest: EvalProgress | None = None
    result: EvaluationResult | None = None
    error: str | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    slot: Job | None = None  # its place in the server's queue, when there is one

    @property
    def done(self) -> bool:
        return self.ended.is_set()

    @property
    def queued(self) -> bool:
        return self.slot is not None and self.slot.queued

    @property
    def key(self) -> str:
        """Its name in the job queue."""
        return queue_key(self.run_id, self.split)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the evaluation ends (or `timeout` seconds pass); True if it has ended."""
        return self.ended.wait(timeout)


def queue_key(run_id: str, split: str) -> str:
    return f"evaluate:{run_id}:{split}"


class EvaluationJobs:
    """The evaluations of one process, one per (run, split) at a time. Thread-safe; no UI objects.

    Without a queue each starts its thread at once (the CLI, tests); with one, it waits for a slot.
    """

    def __init__(self, queue: JobRegistry | None = None) -> None:
        self.queue = queue
        self._jobs: dict[tuple[str, str], EvaluationJob] = {}
        self._lock = threading.Lock()

    def start(
        self,
        trained: TrainedRun,
        split: str = "test",
        skip: Collection[str] = (),
        session: str | None = None,
        **options: Any,
    ) -> EvaluationJob:
        """Evaluate `split` of `trained` in a daemon thread (evaluate_run's `options`); returns the job.

        While an evaluation of the same run and split is still queued or running, returns that job
        instead of starting a second one (a second click, a second tab). Errors end up in `job.error`;
        a session over the queue's limit raises RunError here.
        """
        key = (trained.run.id, split)
        with self._lock:
            current = self._jobs.get(key)
            if current is not None and not current.done:
                return current
            job = EvaluationJob(trained.run.id, split)
            if self.queue is not None:
                job.slot = self.queue.submit(
                    job.key,
                    lambda slot: self._evaluate(job, trained, split, tuple(skip), options, slot.stop_event),
                    session=session,
                    kind="evaluation",
                    on_cancel=lambda: self._cancelled(job),
                )
                remember(self._jobs, key, job, FINISHED_KEPT)
                return job
            job.thread = threading.Thread(
                target=self._evaluate,
                args=(job, trained, split, tuple(skip), options),
                name=f"latentboard-evaluate-{trained.run.id}-{split}",
                daemon=True,
            )
            remember(self._jobs, key, job, FINISHED_KEPT)
            job.thread.start()
        return job

    def get(self, run_id: str, split: str) -> EvaluationJob | None:
        with self._lock:
            return self._jobs.get((run_id, split))

    def queue_place(self, job: EvaluationJob) -> tuple[int, int] | None:
        """(place, queued) while the evaluation waits for a slot, else None."""
        return self.queue.queue_place(job.key) if self.queue is not None and job.queued else None

    def wait_estimate(self, job: EvaluationJob) -> float | None:
        return self.queue.wait_estimate(job.key) if self.queue is not None else None

    def stop(self, run_id: str, split: str) -> bool:
        """Cancel a queued evaluation, or stop a running one after its current step; False if none."""
        job = self.get(run_id, split)
        if job is None or job.done or self.queue is None:
            return False
        return self.queue.stop(job.key)

    def forget(self, run_id: str, split: str) -> None:
        """Drop a finished job (its error has been shown); a running one stays."""
        with self._lock:
            job = self._jobs.get((run_id, split))
            if job is not None and job.done:
                del self._jobs[(run_id, split)]

    @staticmethod
    def _cancelled(job: EvaluationJob) -> None:
        job.error = CANCELLED
        job.ended.set()

    @staticmethod
    def _evaluate(
        job: EvaluationJob,
        trained: TrainedRun,
        split: str,
        skip: tuple[str, ...],
        options: dict,
        stop: threading.Event | None = None,
    ) -> None:
        def follow(event: EvalProgress) -> None:
            job.latest = event
            if stop is not None and stop.is_set() and not event.done:  # the last event comes after the save
                raise EvaluationStopped(STOPPED)

        try:
            job.result = evaluate_run(trained, split, skip=skip, on_progress=follow, **options)
        except LatentboardError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug: say what broke instead of a silent stop
            log.exception("evaluating run %s (%s split) failed", job.run_id, split)
            job.error = f"Unexpected error: {type(exc).__name__}: {exc}"
        finally:
            job.ended.set()
