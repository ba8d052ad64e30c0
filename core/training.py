"""The trainer: batches from in-memory tensors, progress as a stream of small immutable events.

CONTRACT (keep these names and signatures):

    trainer = Trainer(model, TrainConfig(epochs=5, seed=0))      # picks the device, seeds, builds the optimiser
    for event in trainer.fit(train_x, val_x, stop=threading.Event()):
        ...                                                      # Progress events, see below
    trainer.epoch                # epochs completed so far (resume continues from here)
    trainer.state_tensors() / trainer.load_state_tensors(...)   # optimiser + scheduler state as flat tensors + JSON metadata

fit() yields kind="step" events every `log_every` batches and one kind="epoch" event at the end of
every epoch (with val_loss). It returns when the epochs are done, when `stop` is set (checked
between batches), or when early stopping triggers (the last event then has `message`). A NaN or
infinite loss raises TrainingDiverged before the weights of that batch are applied.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 128
    lr: float = 1e-3
    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    weight_decay: float = 0.0
    schedule: Literal["none", "cosine", "plateau"] = "none"
    patience: int | None = None  # early stopping on validation loss; None = off
    seed: int = 0
    device: str = "auto"
    log_every: int = 10  # batches between step events

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class Progress:
    """One thing that happened while training. JSON-able via `to_dict()`; one line each in metrics.jsonl."""

    kind: Literal["step", "epoch"]
    epoch: int  # 1-based epoch this event belongs to
    epochs: int  # planned total
    step: int  # global batch count so far
    steps_per_epoch: int
    train_loss: float  # step: mean over the last log_every batches; epoch: mean over the epoch
    val_loss: float | None = None  # epoch events only (None when there is no validation set)
    parts: dict[str, float] = field(default_factory=dict)  # e.g. {"recon": .., "kl": ..}
    val_parts: dict[str, float] = field(default_factory=dict)
    lr: float = 0.0
    elapsed: float = 0.0  # seconds since fit() started (resumed runs: since this fit started)
    samples_per_second: float = 0.0
    message: str | None = None  # e.g. "early stopping: no improvement for 5 epochs"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "Progress":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
