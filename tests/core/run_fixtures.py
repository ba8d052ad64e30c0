"""Tiny digits runs trained for real through core.experiment, for tests that need a run on disk."""

from __future__ import annotations

from pathlib import Path

from core.config import DataSpec, RunConfig
from core.experiment import execute, start_run
from core.gate import prepare
from core.models import ModelConfig
from core.runs import Run, RunStore
from core.training import TrainConfig


def train_tiny_run(folder: Path, max_samples: int, latent_dim: int = 2, width: int = 8, batch_size: int = 64) -> Run:
    """One epoch of a one-layer dense AE on the first `max_samples` digits, in a run store at `folder`."""
    config = RunConfig(
        data=DataSpec("digits", max_samples=max_samples),
        model=ModelConfig("dense", latent_dim=latent_dim, width=width, depth=1),
        train=TrainConfig(epochs=1, batch_size=batch_size, device="cpu"),
    )
    run = start_run(RunStore(folder), config)
    list(execute(run, dataset=prepare(config)))
    return run
