"""Evaluations a UI starts in the background and watches, like training (core.jobs).

    evaluations = EvaluationJobs()                    # the dashboard keeps one per server
    job = evaluations.start(trained, "test")          # returns at once; the same job if one runs
    job.latest                                        # newest EvalProgress (partial result inside)
    job.result, job.error                             # once job.done

An evaluation of 10k images takes minutes: a page that ran it in its own script run would be
frozen behind a spinner all that time. Here it runs in a daemon thread that never touches UI
state; the page only reads `latest`. The result is also stored in the run folder as usual, so a
page that lost the job (a server restart) still finds the finished numbers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import LatentboardError
from core.evaluation.progress import EvalProgress
from core.evaluation.result import EvaluationResult
from core.evaluation.run_evaluation import evaluate_run

if TYPE_CHECKING:
    from core.trained import TrainedRun

log = logging.getLogger(__name__)


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

    @property
    def done(self) -> bool:
        return self.ended.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the evaluation ends (or `timeout` seconds pass); True if it has ended."""
        return self.ended.wait(timeout)


class EvaluationJobs:
    """The evaluations of one process, one per (run, split) at a time. Thread-safe; no UI objects."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[str, str], EvaluationJob] = {}
        self._lock = threading.Lock()

    def start(
        self, trained: TrainedRun, split: str = "test", skip: Collection[str] = (), **options: Any
    ) -> EvaluationJob:
        """Evaluate `split` of `trained` in a daemon thread (evaluate_run's `options`); returns the job.

        While an evaluation of the same run and split is still running, returns that job instead of
        starting a second one (a second click, a second tab). Errors end up in `job.error`.
        """
        key = (trained.run.id, split)
        with self._lock:
            current = self._jobs.get(key)
            if current is not None and not current.done:
                return current
            job = EvaluationJob(trained.run.id, split)
            job.thread = threading.Thread(
                target=self._evaluate,
                args=(job, trained, split, tuple(skip), options),
                name=f"latentboard-evaluate-{trained.run.id}-{split}",
                daemon=True,
            )
            self._jobs[key] = job
            job.thread.start()
        return job

    def get(self, run_id: str, split: str) -> EvaluationJob | None:
        with self._lock:
            return self._jobs.get((run_id, split))

    def forget(self, run_id: str, split: str) -> None:
        """Drop a finished job (its error has been shown); a running one stays."""
        with self._lock:
            job = self._jobs.get((run_id, split))
            if job is not None and job.done:
                del self._jobs[(run_id, split)]

    @staticmethod
    def _evaluate(job: EvaluationJob, trained: TrainedRun, split: str, skip: tuple[str, ...], options: dict) -> None:
        def follow(event: EvalProgress) -> None:
            job.latest = event

        try:
            job.result = evaluate_run(trained, split, skip=skip, on_progress=follow, **options)
        except LatentboardError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug: say what broke instead of a silent stop
            log.exception("evaluating run %s (%s split) failed", job.run_id, split)
            job.error = f"Unexpected error: {type(exc).__name__}: {exc}"
        finally:
            job.ended.set()
