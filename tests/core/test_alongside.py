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
