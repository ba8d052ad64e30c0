"""How many trainings a server runs at once, and with how many PyTorch threads each (core.jobs).

Kept apart from core.jobs, which imports torch, so `latentboard serve` checks LATENTBOARD_MAX_JOBS
before it starts without paying for that import.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError

MAX_JOBS_ENV = "LATENTBOARD_MAX_JOBS"  # trainings at once on this server; unset: one per core
SESSION_LIMIT = 2  # queued + running jobs one browser session may hold


def server_cores() -> int:
    """The cores this process may use (its CPU affinity, e.g. under taskset), not the machine's."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class JobLimits:
    """How many trainings run at once, and with how many PyTorch threads each.

    By default one job per core, one PyTorch thread each (jobs x threads = cores). Measured with
    benchmarks/job_queue.py on a loaded 2-core machine, 6 quick demos: one job at a time with 2
    threads took 384 s to the last finish, 6 at once with 1 thread 27 s (in a later, busier run 2 at
    a time with 1 thread 49 s, 6 at once 45 s); 4 demos with 1 thread took 20 s one at a time, 15 s
    two at a time. OpenMP's threads wait on each other whenever a core is
    taken, and the small models a class trains gain little from a second thread. LATENTBOARD_MAX_JOBS
    sets max_jobs; threads then follow as cores // max_jobs (at least 1, so more jobs than cores
    oversubscribe: that is what was asked for).
    """

    max_jobs: int
    threads_per_job: int
    per_session: int = SESSION_LIMIT

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None, cores: int | None = None) -> JobLimits:
        """The limits for this server; ConfigError for a LATENTBOARD_MAX_JOBS of 0 or a non-number."""
        environ = os.environ if environ is None else environ
        cores = server_cores() if cores is None else cores
        max_jobs = cores
        raw = environ.get(MAX_JOBS_ENV, "").strip()
        if raw:
            max_jobs = parse_max_jobs(raw)
        return cls(max_jobs=max_jobs, threads_per_job=max(1, cores // max_jobs))


def parse_max_jobs(raw: str) -> int:
    """LATENTBOARD_MAX_JOBS as a positive whole number, or a ConfigError that says what to set."""
    advice = f"set {MAX_JOBS_ENV} to a whole number of at least 1 (or unset it to follow the cores)"
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{MAX_JOBS_ENV}={raw!r} is not a number; {advice}.") from None
    if value < 1:
        raise ConfigError(f"{MAX_JOBS_ENV}={value} would never train anything; {advice}.")
    return value


def remember(jobs: MutableMapping[Hashable, Any], key: Hashable, job: Any, keep: int) -> None:
    """Add `job` under `key` as the newest, and forget the oldest ended jobs (`job.done`) beyond `keep`:
    a server that ran for days must not hold every job it ever ran. The caller holds its lock."""
    jobs.pop(key, None)
    jobs[key] = job
    ended = [k for k, known in jobs.items() if known.done]
    for k in ended[: max(0, len(ended) - keep)]:
        del jobs[k]
