"""One training run end to end: data -> splits -> model -> trainer -> run folder.

CONTRACT (keep these names and signatures; the CLI, the job registry and the dashboard call them):

    config = RunConfig(data=DataSpec("digits"), model=ModelConfig("conv"), train=TrainConfig(epochs=5))
    run = store.create(config)                       # core.runs.RunStore
    for event in execute(run, stop=threading.Event()):   # writes metrics, checkpoints, status as it goes
        ...
    for event in execute(store.open(run_id), resume=True): ...   # continue from the last checkpoint

    trained = load_trained(run)     # TrainedRun(config, dataset, splits, model) on the CPU, eval mode
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.data import DataSpec
from core.models import ModelConfig
from core.training import TrainConfig


@dataclass(frozen=True)
class SplitConfig:
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    seed: int = 0


@dataclass(frozen=True)
class RunConfig:
    data: DataSpec = field(default_factory=DataSpec)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    name: str = ""  # a label the user chose; the run id is separate and unique

    def to_dict(self) -> dict[str, Any]:
        return {
            "data": self.data.to_dict(),
            "model": self.model.to_dict(),
            "train": self.train.to_dict(),
            "split": dict(vars(self.split)),
            "name": self.name,
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "RunConfig":
        return cls(
            data=DataSpec.from_dict(values.get("data", {})),
            model=ModelConfig.from_dict(values.get("model", {})),
            train=TrainConfig.from_dict(values.get("train", {})),
            split=SplitConfig(**values.get("split", {})),
            name=values.get("name", ""),
        )
