"""Configs: one strict from_dict for every section, defaults for what an old run folder lacks."""

from __future__ import annotations

import json

import pytest

from core.config import DataSpec, RunConfig, SplitConfig
from core.config_base import Config, describe, sections
from core.errors import ConfigError, RunError
from core.models import ACTIVATIONS, CELLS, LOSSES, ModelConfig
from core.runs import RunStore
from core.training import OPTIMIZERS, SCHEDULES, TrainConfig

CONFIGS = (RunConfig, *sections(RunConfig).values())  # a new section is tested as soon as RunConfig has it


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda cls: cls.__name__)
def test_round_trip_through_json(cls):
    config = cls()
    assert cls.from_dict(json.loads(json.dumps(config.to_dict()))) == config


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda cls: cls.__name__)
def test_unknown_key_names_itself_and_the_valid_ones(cls):
    with pytest.raises(ConfigError) as error:
        cls.from_dict({"colour": "blue"})
    message = str(error.value)
    assert "'colour'" in message and cls.__name__ in message
    assert all(name in message for name in cls.__dataclass_fields__)


def test_unknown_key_inside_a_section_names_the_section():
    with pytest.raises(ConfigError, match=r"'widht' in RunConfig\.model; valid ones are family, latent_dim, width"):
        RunConfig.from_dict({"model": {"widht": 64}})
    with pytest.raises(ConfigError, match="RunConfig.train settings must be a mapping"):
        RunConfig.from_dict({"train": 5})


def test_missing_keys_take_their_defaults():
    config = RunConfig.from_dict({"model": {"family": "conv"}, "train": {"epochs": 3}})
    assert config.model == ModelConfig(family="conv") and config.train == TrainConfig(epochs=3)
    assert (config.data, config.split, config.name) == (DataSpec(), SplitConfig(), "")
    assert RunConfig.from_dict({}) == RunConfig()


def test_sections_are_found_from_the_field_types():
    assert {"data": DataSpec, "model": ModelConfig, "train": TrainConfig, "split": SplitConfig}.items() <= sections(
        RunConfig
    ).items()
    assert [f.name for f in describe(RunConfig)] == ["name"]


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda cls: cls.__name__)
def test_every_field_says_what_it_is_for(cls):
    assert issubclass(cls, Config)
    for described in describe(cls):
        assert described.help, f"{cls.__name__}.{described.name} has no help text"


def test_an_old_run_folder_still_opens(tmp_path):
    # config.json as an early version wrote it: no split section, fewer settings
    store = RunStore(tmp_path)
    run = store.create(RunConfig())
    old = {
        "data": {"source": "digits", "path": None, "max_samples": 300},
        "model": {"family": "dense", "latent_dim": 4},
        "train": {"epochs": 2},
        "name": "",
        "id": run.id,
        "created": "2026-01-01T00:00:00+00:00",
        "latentboard_version": "0.1.0",
    }
    (run.path / "config.json").write_text(json.dumps(old))
    config = store.open(run.id).config
    assert config.data.max_samples == 300 and config.model.latent_dim == 4 and config.split == SplitConfig()


def test_a_features_run_from_before_the_size_setting_keeps_reading_at_224(tmp_path):
    # Such runs learned from 224 px features; today's rule would read small images at 96 px.
    from core.config import FeatureConfig

    store = RunStore(tmp_path)
    with_features = store.create(RunConfig(features=FeatureConfig(backbone="efficientnet-lite0")))
    without = store.create(RunConfig())
    for run in (with_features, without):
        raw = json.loads((run.path / "config.json").read_text())
        del raw["features"]["input_size"]
        (run.path / "config.json").write_text(json.dumps(raw))
    assert store.open(with_features.id).config.features.input_size == 224
    assert store.open(without.id).config.features.input_size is None
    fresh = store.create(RunConfig(features=FeatureConfig(backbone="efficientnet-lite0")))
    assert store.open(fresh.id).config.features.input_size is None  # today's runs: chosen from the images


@pytest.mark.parametrize(
    "backbone, size, message",
    [
        ("efficientnet-lite0", 8, "must be 32 to"),
        ("efficientnet-lite0", 100_000, "must be 32 to"),
        ("dinov2-small", 96, "dinov2-small reads images at 224 px only"),
    ],
)
def test_a_features_size_the_backbone_cannot_read_is_refused(backbone, size, message):
    from core.config import FeatureConfig
    from core.gate import check_config

    with pytest.raises(ConfigError, match=message):
        check_config(RunConfig(features=FeatureConfig(backbone=backbone, input_size=size)))


def test_a_config_json_with_an_unknown_setting_is_a_damaged_run(tmp_path):
    store = RunStore(tmp_path)
    run = store.create(RunConfig())
    raw = json.loads((run.path / "config.json").read_text())
    raw["train"]["epohcs"] = 5
    (run.path / "config.json").write_text(json.dumps(raw))
    with pytest.raises(
        RunError, match=f"Run {run.id} .* is damaged or from another version .*: Unknown setting 'epohcs'"
    ):
        store.open(run.id)
    assert [row.status for row in store.list()] == ["damaged"]


@pytest.mark.parametrize(
    "cls, name, registry",
    [
        (ModelConfig, "activation", ACTIVATIONS),
        (ModelConfig, "cell", CELLS),
        (ModelConfig, "loss", LOSSES),
        (TrainConfig, "optimizer", OPTIMIZERS),
        (TrainConfig, "schedule", SCHEDULES),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_literal_choices_are_the_registry_names(cls, name, registry):
    # The CLI offers the Literal's values; the model and trainer look them up in the registry.
    described = next(f for f in describe(cls) if f.name == name)
    assert set(described.choices) == set(registry)
