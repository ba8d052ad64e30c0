"""Every start passes the gate once: check_config runs once, and the model and training checks are not repeated."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from core import cli
from core.config import DataSpec, RunConfig
from core.data import load_dataset
from core.gate import check_config
from core.jobs import JobRegistry
from core.models import ModelConfig, check_model_config, check_model_size
from core.runs import RunStore
from core.training import TrainConfig, check_train_config

CHECKS = (check_config, check_model_config, check_model_size, check_train_config)


@contextmanager
def calls_of(*functions: Callable) -> Iterator[Counter]:
    """How often each function runs, in this thread and in threads started meanwhile, however it is imported."""
    names = {function.__code__: function.__name__ for function in functions}
    calls: Counter = Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in names:
            calls[names[frame.f_code]] += 1

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


# Once at the gate (a stand-in input shape, before any data loads), once where the real thing is
# built: build_model on the real input shape, Trainer on the config it trains with.
ONCE_AT_THE_GATE_ONCE_WHEN_BUILT = {
    "check_config": 1,
    "check_model_config": 2,
    "check_model_size": 2,
    "check_train_config": 2,
}


def test_latentboard_train_checks_its_config_once(tmp_path, capsys):
    args = ["train", "--dataset", "digits", "--max-samples", "60", "--epochs", "1", "--runs-dir", str(tmp_path)]
    with calls_of(*CHECKS) as calls:
        assert cli.main(args) == 0, capsys.readouterr().err
    assert dict(calls) == ONCE_AT_THE_GATE_ONCE_WHEN_BUILT


def test_a_job_the_dashboard_starts_checks_its_config_once(tmp_path):
    config = RunConfig(
        data=DataSpec("digits", max_samples=60),
        model=ModelConfig("dense", latent_dim=2, width=8, depth=1),
        train=TrainConfig(epochs=1, device="cpu"),
    )
    registry = JobRegistry(RunStore(tmp_path))
    with calls_of(*CHECKS) as calls:
        job = registry.get(registry.start(config))
        assert job.wait(60) and job.error is None
    assert dict(calls) == ONCE_AT_THE_GATE_ONCE_WHEN_BUILT


def test_best_quality_checks_the_flags_and_then_its_recipe_once_each(tmp_path, capsys):
    """It checks the plain config to read the data, then the recipe it lays on it; the data is read once."""
    args = ["train", "--dataset", "digits", "--preset", "best-quality", "--max-samples", "60", "--epochs", "1"]
    with calls_of(check_config, load_dataset) as calls:
        assert cli.main([*args, "--runs-dir", str(tmp_path)]) == 0, capsys.readouterr().err
    assert calls == {"check_config": 2, "load_dataset": 1}
