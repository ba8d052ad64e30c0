"""A run's whole configuration: RunConfig and its sections, and check_ranges, their own bounds.

    config = RunConfig(data=DataSpec("digits"), model=ModelConfig("conv"), train=TrainConfig(epochs=5))
    RunConfig.from_dict(config.to_dict()) == config      # unknown keys: ConfigError

This module sits below core.runs (which reads a RunConfig back from every run folder) and
core.experiment (which trains one), and imports neither of them nor core.data: opening a run
folder must not load the data sources' libraries. The names a config holds (a data source, a
backbone) are registry choices given as dotted paths (core.config_base.setting), looked up
when asked for; checking them against the registries is core.gate's job, above them all.
DataSpec lives here rather than in core.data (which re-exports it) for the same reason, while
ModelConfig and TrainConfig live beside the code they configure, in core.models and core.training.

A new section is one field of RunConfig whose type is a config dataclass: to_dict, from_dict and
the CLI's flags find it from the type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from core.config_base import Config, setting
from core.errors import ConfigError
from core.limits import current_limits, over_limit
from core.models import ModelConfig
from core.training import TrainConfig


def _absolute_path(text: str) -> str:
    # Absolute, so that resuming from another folder still finds the data.
    return str(Path(text).expanduser().resolve())


@dataclass(frozen=True)
class DataSpec(Config):
    """Everything needed to rebuild a Dataset: stored in each run's config as plain JSON.

    `path` is the data folder for torchvision sources (their cache), or the folder / zip / CSV /
    Parquet / npz file for `folder`, `table` and `npz`.
    """

    source: str = setting("digits", "the data to learn from", flag="--dataset", choices="core.data:SOURCES")
    path: str | None = setting(
        None,
        "data location: your folder / zip / file for folder, table and npz; the download cache otherwise",
        flag="--data-dir",
        parse=_absolute_path,
    )
    max_samples: int | None = setting(None, "train on a stratified subsample of this many rows (none = all)")
    image_size: int | None = setting(None, "resize images to N x N (folder: needed when sizes differ)")
    grayscale: bool | None = setting(
        None, "folder: load as grayscale, or --no-grayscale for colour (unset: colour unless every image is grayscale)"
    )
    label_column: str | None = setting(None, "table: the column holding labels (kept out of training)")
    missing: Literal["drop", "impute"] = setting("drop", "table: what to do with rows holding NaN or inf")
    bad_files: Literal["skip", "fail"] = setting(
        "skip", "folder: skip unreadable images and say which, or stop at the first"
    )
    seed: int = setting(0, "drives the stratified subsample")
    download: bool = setting(True, "downloadable sources: fetch the files when they are absent")


@dataclass(frozen=True)
class SplitConfig(Config):
    val_fraction: float = setting(0.1, "share of rows held out for the validation loss and early stopping")
    test_fraction: float = setting(0.2, "share of rows held out for evaluation")
    seed: int = setting(0, "drives which rows land in which split")


@dataclass(frozen=True)
class FeatureConfig(Config):
    """The optional features stage (core.features): a pretrained backbone reads the images first."""

    backbone: str | None = setting(
        None,
        "images: train on a pretrained backbone's features instead of pixels "
        "(efficientnet-lite0 works offline; the others download once)",
        flag="--features",
        choices="core.features:BACKBONES",
    )
    batch_size: int = setting(32, "images per backbone forward pass")
    input_size: int | None = setting(
        None,
        "the side in px the backbone reads each image at (default: from the "
        "pictures' real side, whatever holds them: small ones at about 3x their "
        "side, at least 96; photos at the backbone's own, 224; stored in the run)",
        flag="--features-size",
    )


@dataclass(frozen=True)
class RunConfig(Config):
    data: DataSpec = field(default_factory=DataSpec)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    name: str = setting("", "a label for the run; its id is separate and unique")


# Every backbone read images at 224 px before features had `input_size`; their runs must keep reading so.
FEATURES_SIZE_BEFORE_SETTING = 224


def stored_run_config(values: Mapping[str, Any]) -> RunConfig:
    """A run folder's config.json as this version reads it: what older versions left implicit made explicit.

    A run trained on backbone features before `features.input_size` existed read its images at
    224 px; reading them now by today's rule (96 px for small images) would feed its model other
    features than it learned from, silently.
    """
    values = dict(values)
    features = values.get("features")
    if isinstance(features, Mapping) and features.get("backbone") and "input_size" not in features:
        values["features"] = {**features, "input_size": FEATURES_SIZE_BEFORE_SETTING}
    return RunConfig.from_dict(values)


SEED_MAX = 2**32 - 1  # numpy's RandomState (scikit-learn's random_state) takes no more, nor a negative one


def check_seed(value: object, what: str = "The seed") -> None:
    """ConfigError unless `value` is a seed every library accepts: a whole number in [0, 2**32 - 1]."""
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= SEED_MAX:
        raise ConfigError(f"{what} must be a whole number from 0 to {SEED_MAX} (got {value!r}).")


def check_ranges(config: RunConfig) -> None:
    """ConfigError for a number no data or registry can make right: sizes, seeds, split fractions.

    The config's own part of the gate (core.gate.check_config runs it first); the names it holds
    are looked up there, where the registries are.
    """
    for name in ("max_samples", "image_size"):
        value = getattr(config.data, name)
        if value is not None and value < 1:
            raise ConfigError(f"{name} must be at least 1 (got {value}).")
    for section in ("train", "data", "split"):
        check_seed(getattr(config, section).seed, f"The {section} seed (--seed or --{section}-seed)")
    largest = current_limits().max_image_side
    if config.data.image_size is not None and config.data.image_size > largest:
        raise ConfigError(
            over_limit(
                f"An image size of {config.data.image_size} x {config.data.image_size}",
                f"{config.data.image_size} pixels a side",
                "max_image_side",
                f"{largest}",
            )
        )
    split = config.split
    if not (
        0 <= split.val_fraction < 1 and 0 <= split.test_fraction < 1 and split.val_fraction + split.test_fraction < 1
    ):
        raise ConfigError(
            "Validation and test fractions must each be in [0, 1) and sum to less than 1 "
            f"(got val={split.val_fraction}, test={split.test_fraction})."
        )
