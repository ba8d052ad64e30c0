"""N quick demos started at once through core.jobs.JobRegistry: time to the last finish, by queue limit.

What a class pressing Start together costs the training side alone (no pages, no browsers): each
`--limits` value L trains N quick-demo runs (digits, seeded) with at most L at once and
cores // L PyTorch threads each (at least 1). Wall seconds on a shared machine are noisy: compare
limits within one run only. Never part of the tests' pass/fail.

    python benchmarks/job_queue.py --runs 6 --limits 1 2 6
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.config import RunConfig  # noqa: E402
from core.data import DataSpec  # noqa: E402
from core.job_limits import JobLimits, server_cores  # noqa: E402
from core.jobs import JobRegistry  # noqa: E402
from core.presets import apply_preset  # noqa: E402
from core.runs import RunStore  # noqa: E402


def last_finish(runs: int, limit: int, threads: int) -> tuple[float, float]:
    """(seconds to the last finish, mean seconds a run waited in the queue)."""
    limits = JobLimits(max_jobs=limit, threads_per_job=threads, per_session=runs)
    with tempfile.TemporaryDirectory() as root:
        registry = JobRegistry(RunStore(Path(root)), limits)
        began = time.monotonic()
        demo = apply_preset(RunConfig(data=DataSpec("digits")), "quick-demo")
        ids = [registry.start(replace(demo, train=replace(demo.train, seed=seed))) for seed in range(runs)]
        waits = {}
        while registry.active():
            for run_id in ids:
                job = registry.get(run_id)
                if run_id not in waits and job.thread is not None:
                    waits[run_id] = time.monotonic() - began
            time.sleep(0.05)
        seconds = time.monotonic() - began
        errors = [registry.get(r).error for r in ids if registry.get(r).error]
        assert not errors, errors
    return seconds, sum(waits.values()) / max(len(waits), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--limits", type=int, nargs="+", default=[1, 2, 6])
    parser.add_argument("--threads", type=int, default=None, help="PyTorch threads per job (default: cores // limit)")
    args = parser.parse_args()
    cores = server_cores()
    print(f"{args.runs} quick demos on digits, {cores} cores")
    print("limit  threads/job  last finish (s)  mean queue wait (s)")
    for limit in args.limits:
        threads = args.threads or max(1, cores // limit)
        seconds, wait = last_finish(args.runs, limit, threads)
        print(f"{limit:5d}  {threads:11d}  {seconds:15.1f}  {wait:19.1f}")


if __name__ == "__main__":
    main()
