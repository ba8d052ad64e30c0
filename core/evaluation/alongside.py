"""One evaluation step computed in a second process while the other steps run in this one.

Most of an evaluation runs on one core: UMAP's seeded layout is single-threaded, and so is most of
a small Gaussian mixture. On a two-core laptop the baselines (UMAP of the raw pixels, k-means,
PCA), which need nothing from the model, can take the other core. The numbers do not change:
every step draws its randomness from the same seed in whichever process it runs.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from threadpoolctl import threadpool_limits

MIN_ROWS = 4000  # below this a second process (a few seconds to start) costs more than it saves
# Above this the second process's own copy of the features and its own UMAPs would double the peak
# memory (100,000 photos: 2.1 GB there beside 2.8 GB here, 4.8 GB in all): the baselines run here, after.
MAX_ROWS = 25_000
OFF_ENV = "LATENTBOARD_EVALUATE_IN_ONE_PROCESS"  # "1": every step here, e.g. where processes cannot start


def worth_a_process(rows: int) -> bool:
    """Whether a step over `rows` rows should run alongside: enough rows to pay for a process, not so many
    that two processes' memory adds up, a spare core, not switched off."""
    return MIN_ROWS <= rows <= MAX_ROWS and (os.cpu_count() or 1) >= 2 and os.environ.get(OFF_ENV) != "1"


PARENT_CHECK_SECONDS = 1.0


def _exit_with_parent(parent_pid: int) -> None:
    """In the second process: leave when the evaluation that started it is gone. A parent killed with
    SIGTERM runs no clean-up, and its orphan kept working (and holding about 1 GB) for an hour."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _one_thread(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
    """In the second process: one thread, so the two processes share two cores without spinning
    against each other (busy-waiting thread pools slowed both ten times in a measured run)."""
    import torch

    torch.set_num_threads(1)
    with threadpool_limits(1):
        return fn(*args, **kwargs)


class Alongside:
    """`fn(*args, **kwargs)` started in a fresh process now; `result()` waits for it.

    If the process cannot start or dies (no `spawn` here, out of memory), `result()` runs `fn`
    in this process instead, so an evaluation never fails for want of a second process.
    """

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self._pool: ProcessPoolExecutor | None = None
        self._future: Future | None = None
        try:
            pickle.dumps((fn, args, kwargs))  # what cannot travel (a lambda, a lock) runs here, not fails there
        except Exception:
            return
        try:  # spawn, not fork: a forked copy of a process whose OpenMP pool has run can hang
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
            self._future = self._pool.submit(_one_thread, fn, args, kwargs)
        except (OSError, RuntimeError):
            self.close()

    def result(self) -> Any:
        try:
            if self._future is not None:
                return self._future.result()
        except (BrokenProcessPool, OSError):
            pass
        finally:
            self.close()
        return self.fn(*self.args, **self.kwargs)

    def close(self) -> None:
        """Shut the process down: at once if its work was abandoned, after it exits if it finished."""
        if self._pool is not None:
            finished = self._future is not None and self._future.done()
            self._pool.shutdown(wait=finished, cancel_futures=True)
            self._pool, self._future = None, None

    @property
    def running(self) -> bool:
        return self._future is not None
