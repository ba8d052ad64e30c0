"""Shared test settings: every test gets its own Latentboard home so nothing touches ~/.latentboard."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    home = tmp_path / "latentboard-home"
    monkeypatch.setenv("LATENTBOARD_HOME", str(home))
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(home / "runs"))
    monkeypatch.setenv("LATENTBOARD_DATA_DIR", str(home / "data"))
    return home


@pytest.fixture(autouse=True, scope="session")
def _few_threads():
    # CI has 2 cores; oversubscribing them makes small tests slower, not faster.
    torch.set_num_threads(2)
