"""Tiny digits runs trained for real through core.experiment, and the damage a disk or a bad copy does to them."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from core.config import DataSpec, RunConfig
from core.experiment import execute, start_run
from core.gate import prepare
from core.models import ModelConfig
from core.runs import Run, RunStore
from core.trained import SPLITS_FILE
from core.training import TrainConfig


def train_tiny_run(folder: Path, max_samples: int, latent_dim: int = 2, width: int = 8, batch_size: int = 64) -> Run:
    """One epoch of a one-layer dense AE on the first `max_samples` digits, in a run store at `folder`."""
    config = RunConfig(
        data=DataSpec("digits", max_samples=max_samples),
        model=ModelConfig("dense", latent_dim=latent_dim, width=width, depth=1),
        train=TrainConfig(epochs=1, batch_size=batch_size, device="cpu"),
    )
    return train_config(folder, config)


def train_config(folder: Path, config: RunConfig) -> Run:
    """A run of `config` trained through the gate and core.experiment, in a run store at `folder`."""
    run = start_run(RunStore(folder), config)
    list(execute(run, dataset=prepare(config)))
    return run


def flip_byte_in_tensor(path: Path, prefix: str) -> None:
    """Flip the lowest bit of the first value of the first tensor named `prefix...`: still a finite
    number, so only the checksum can tell (bit rot, a bad copy)."""
    data = bytearray(path.read_bytes())
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    name = next(key for key in sorted(header) if key.startswith(prefix))
    at_byte = 8 + length + header[name]["data_offsets"][0]
    data[at_byte] ^= 0x01
    path.write_bytes(bytes(data))


def unseal_all(folder: Path) -> None:
    """The run as latentboard wrote it before checksums: the same files, without their sha256."""
    for path in [folder / "checkpoint.safetensors", folder / SPLITS_FILE, *(folder / "snapshots").iterdir()]:
        with safe_open(str(path), framework="pt") as f:
            tensors = {key: f.get_tensor(key) for key in f.keys()}
            metadata = {k: v for k, v in (f.metadata() or {}).items() if k != "sha256"}
        path.write_bytes(safetensors_save(tensors, metadata=metadata or None))
