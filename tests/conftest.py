"""Shared test settings and fixtures.

Every test gets its own Latentboard home, so nothing touches ~/.latentboard. `trained` is one
tiny run trained through the real pipeline, once per session, for every test that needs a
trained model (evaluation, embedding, report).
"""

from __future__ import annotations

import pytest
import torch

from core.config import DataSpec, RunConfig
from core.experiment import execute, start_run
from core.models import ModelConfig
from core.runs import RunStore
from core.trained import load_trained
from core.training import TrainConfig


@pytest.fixture(scope="session", autouse=True)
def isolated_session_home(tmp_path_factory):
    """Module- and session-scoped fixtures run before `isolated_home`: they get a home of their own
    (a folder they load writes its decoded images to the data folder)."""
    home = tmp_path_factory.mktemp("session-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_HOME", str(home))
        patch.setenv("LATENTBOARD_RUNS_DIR", str(home / "runs"))
        patch.setenv("LATENTBOARD_DATA_DIR", str(home / "data"))
        yield home


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "latentboard-home"
    monkeypatch.setenv("LATENTBOARD_HOME", str(home))
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(home / "runs"))
    monkeypatch.setenv("LATENTBOARD_DATA_DIR", str(home / "data"))
    return home


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A dense AE trained 2 epochs on digits through core.experiment, loaded: a TrainedRun."""
    config = RunConfig(
        data=DataSpec("digits"),
        model=ModelConfig("dense", latent_dim=8, width=64),
        train=TrainConfig(epochs=2, batch_size=64, device="cpu"),
    )
    run = start_run(RunStore(tmp_path_factory.mktemp("runs")), config)
    for _ in execute(run):
        pass
    return load_trained(run)


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # CI has 2 cores; oversubscribing them makes small tests slower, not faster.
    torch.set_num_threads(2)
