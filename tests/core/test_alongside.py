"""The baselines in a second process give the very numbers they give here, and a process that
cannot start never fails an evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation import alongside, evaluate_run
from core.evaluation.alongside import Alongside, worth_a_process
from core.evaluation.clustering import clustering_baselines
from core.trained import load_trained
from tests.core.run_fixtures import train_tiny_run


def _blobs(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    return (rng.normal(size=(n, 16)) + 4 * y[:, None]).astype(np.float32), y


def _without_seconds(scores: dict) -> dict:
    return {name: {k: v for k, v in s.items() if k != "seconds"} for name, s in scores.items()}


def test_same_numbers_in_a_second_process():
    x, y = _blobs()
    here = clustering_baselines(x, y, 4, 3, 0)
    there = Alongside(clustering_baselines, x, y, 4, 3, 0)
    assert there.running
    assert _without_seconds(there.result()) == _without_seconds(here)
    assert not there.running  # the process is gone once its result is read


def test_what_cannot_travel_runs_here():
    offset = 5
    job = Alongside(lambda a: a + offset, 1)  # a lambda cannot be pickled for another process
    assert not job.running and job.result() == 6


def test_a_real_error_is_not_hidden():
    job = Alongside(np.linalg.cholesky, np.array([[-1.0]]))  # not positive definite: fails over there
    assert job.running
    with pytest.raises(np.linalg.LinAlgError):  # the error itself, not a silent second try here
        job.result()


def test_when_it_pays(monkeypatch):
    assert not worth_a_process(alongside.MIN_ROWS - 1)
    assert worth_a_process(alongside.MIN_ROWS) == ((__import__("os").cpu_count() or 1) >= 2)
    assert not worth_a_process(alongside.MAX_ROWS + 1)  # two processes' memory would add up
    monkeypatch.setenv(alongside.OFF_ENV, "1")
    assert not worth_a_process(10**6)


@pytest.mark.slow
def test_evaluation_alongside_equals_evaluation_in_one_process(tmp_path, monkeypatch):
    trained = load_trained(train_tiny_run(tmp_path, max_samples=300))
    monkeypatch.setenv(alongside.OFF_ENV, "1")
    one = evaluate_run(trained, "all", save=False, skip=("probes",))
    monkeypatch.delenv(alongside.OFF_ENV)
    monkeypatch.setattr(alongside, "MIN_ROWS", 1)
    two = evaluate_run(trained, "all", save=False, skip=("probes",))
    strip = lambda r: {k: {**v, "seconds": None} for k, v in r.to_dict()["baselines"].items()}  # noqa: E731
    assert strip(one) == strip(two)
    assert one.to_dict()["clustering"]["n2d"]["acc"] == two.to_dict()["clustering"]["n2d"]["acc"]


_PARENT = """
import sys, time
sys.path.insert(0, {root!r})
from core.evaluation.alongside import Alongside
job = Alongside(time.sleep, 120)
print(job._pool._processes and next(iter(job._pool._processes)), flush=True)
time.sleep(120)
"""


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie that a container's init has not reaped yet."""
    import os
    from pathlib import Path

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.is_file() and stat.read_text().rsplit(")", 1)[-1].split()[0] == "Z"


def test_the_second_process_leaves_when_its_parent_is_killed(tmp_path):
    """SIGTERM runs none of the parent's clean-up; the child must notice and go, not work on for an hour."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[2])
    parent = subprocess.Popen(
        [sys.executable, "-c", _PARENT.format(root=root)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        child = int(parent.stdout.readline())
        os.kill(child, 0)  # alive while its parent is
        parent.send_signal(signal.SIGTERM)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if _gone(child):
                break
            time.sleep(0.2)
        else:
            os.kill(child, signal.SIGKILL)
            pytest.fail(f"the second process {child} outlived its killed parent by 30 s")
    finally:
        parent.kill()
