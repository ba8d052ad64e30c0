"""The features stage's settings: which pretrained backbone, if any, reads the images first."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FeatureConfig:
    backbone: str | None = None  # images -> pretrained features before the autoencoder (None = raw pixels)
    batch_size: int = 32  # images per backbone forward pass

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "FeatureConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})
