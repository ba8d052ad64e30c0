"""Where Latentboard keeps data and runs by default.

Environment variables win so that tests, CI and a teacher's demo machine can point everything
at a folder of their choosing without flags.
"""

from __future__ import annotations

import os
from pathlib import Path


def _home() -> Path:
    return Path(os.environ.get("LATENTBOARD_HOME", Path.home() / ".latentboard")).expanduser()


def default_runs_dir() -> Path:
    """Folder holding one sub-folder per training run."""
    return Path(os.environ.get("LATENTBOARD_RUNS_DIR", _home() / "runs")).expanduser()


def default_data_dir() -> Path:
    """Cache folder for downloaded datasets (torchvision sources) and uploaded files."""
    return Path(os.environ.get("LATENTBOARD_DATA_DIR", _home() / "data")).expanduser()
