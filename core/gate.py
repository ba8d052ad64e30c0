"""The one gate a new run passes before its folder exists: the config against the registries, then the data.

    dataset = prepare(config)      # ConfigError / DataError here leave nothing on disk
    config = settle(config, dataset)  # what depends on the data, made explicit before it is stored
    run = start_run(store, config) # core.experiment: the folder, no second check
    for event in execute(run, dataset=dataset): ...

core.config holds the settings and their own ranges only; whether a name is a real data source or
backbone, whether the model can be built for data of that kind, and whether the split leaves rows
to train on need the registries of core.data, core.features and core.models, all of which import
core.config. So the checks that look them up live here, above all of them, and every start (the
CLI, the dashboard's jobs, a sweep's trials) goes through `prepare` exactly once.
"""

from __future__ import annotations

import dataclasses

from core.config import RunConfig, check_ranges
from core.data import SOURCES, Dataset, load_dataset
from core.data.splits import check_enough_rows, min_rows
from core.devices import resolve_device
from core.errors import ConfigError
from core.features import BACKBONES, Backbone, get_backbone, settled_input_size
from core.limits import current_limits
from core.models import FAMILIES, check_model_config, check_model_size
from core.training import check_train_config

SMALLEST_FEATURES_SIZE = 32  # px: below it a backbone's downsampling leaves nothing to pool


def check_features_size(size: int | None, backbone: Backbone) -> None:
    if size is None:
        return
    if not backbone.any_input_size and size != backbone.input_size:
        raise ConfigError(
            f"{backbone.name} reads images at {backbone.input_size} px only (got --features-size {size}); "
            "leave it unset."
        )
    largest = current_limits().max_image_side
    if not SMALLEST_FEATURES_SIZE <= size <= largest:
        raise ConfigError(f"The features input size must be {SMALLEST_FEATURES_SIZE} to {largest} px (got {size}).")


def check_image_shape(config: RunConfig, shape: tuple[int, ...]) -> None:
    """Images whose shape makes no sense to learn from, refused with what to do instead.

    A 1 x 1 image is one colour: there is no picture to reconstruct or to group by (a backbone
    would only see that colour, enlarged). A convolutional family needs a few pixels a side to
    downsample at all (core.models.CONV_MIN_SIDE).
    """
    if len(shape) != 3:
        return
    height, width = shape[-2:]
    if height == width == 1:
        raise ConfigError(
            "These images are 1 x 1 pixel: each is one colour, with no picture in it to learn. "
            "Use larger images (or a larger --image-size if the originals are larger), or, if each row "
            "really is a colour, a table of its channel values."
        )
    family = FAMILIES[config.model.family]
    if config.features.backbone is None and min(height, width) < family.min_side:  # with one, it reads vectors
        usable = ", ".join(name for name, f in FAMILIES.items() if f.min_side <= min(height, width))
        raise ConfigError(
            f"The {config.model.family} family needs images of at least {family.min_side} x {family.min_side} "
            f"pixels to downsample, and these are {height} x {width}; use a larger --image-size, or one of "
            f"the families {usable}."
        )


def check_config(config: RunConfig) -> RunConfig:
    """Catch a typo before a run folder exists: unknown names and out-of-range numbers.

    The cheap early pass (the parts' own checks, run without loading any data), so that
    `latentboard train --model cnov` fails in a second instead of leaving a failed run behind.
    Checks that need the real input shape run when the model is built.
    """
    source = SOURCES.get(config.data.source)
    if source is None:
        raise ConfigError(f"Unknown dataset {config.data.source!r}; choose one of {', '.join(SOURCES)}.")
    if source.needs_path and not config.data.path:
        raise ConfigError(
            f"The {config.data.source!r} dataset reads your own files: give their location with --data-dir."
        )
    backbone = config.features.backbone
    if backbone is not None:
        get_backbone(backbone)
        if source.kind == "table":
            raise ConfigError(
                f"Pretrained image features need images; the {config.data.source!r} dataset is a table. "
                "Leave the backbone unset to train on its values."
            )
        if config.features.batch_size < 1:
            raise ConfigError(f"The features batch size must be at least 1 (got {config.features.batch_size}).")
        check_features_size(config.features.input_size, get_backbone(backbone))
    check_ranges(config)
    # Stand-in shape of its kind: features are a vector per image, whatever the images were.
    side = config.data.image_size or 8
    stand_in = (BACKBONES[backbone].dim,) if backbone else (3,) if source.kind == "table" else (1, side, side)
    check_model_config(config.model, stand_in)
    if config.data.image_size is not None and source.kind != "table":  # the images' side is known already
        check_image_shape(config, (1, side, side))
    check_model_size(config.model, stand_in)  # the real shape is checked when the model is built
    check_train_config(config.train)
    fewest = min_rows(config.split.val_fraction, config.split.test_fraction)
    if config.data.max_samples is not None and config.data.max_samples < fewest:
        raise ConfigError(
            f"--max-samples {config.data.max_samples} is too few to split into train, validation and "
            f"test rows; use at least {fewest}."
        )
    resolve_device(config.train.device)
    return config


def prepare(config: RunConfig, dataset: Dataset | None = None) -> Dataset:
    """Check `config`, then load and check its dataset: everything a fresh run needs before its folder.

    A refused input (a typo, unreadable or too little data) fails here and leaves nothing on
    disk; pass the dataset on to `execute(run, dataset=...)` so it is not loaded twice. `dataset`
    is that of a config with the same data settings, already loaded (best-quality looks at the
    data before it lays its recipe): the config is still checked, the data not read again.
    """
    check_config(config)
    if dataset is None:
        dataset = load_dataset(config.data)
    if dataset.kind == "image":
        check_image_shape(config, tuple(dataset.input_shape))
    check_enough_rows(len(dataset), config.split.val_fraction, config.split.test_fraction)
    return dataset


def settle(config: RunConfig, dataset: Dataset) -> RunConfig:
    """`config` as the new run stores it: settings left to the data made explicit.

    The features' input size follows the pictures' real side (core.features.settled_input_size),
    read once here and written into the run's config, so a later version's rule, or the folder
    changing, never feeds the model other features than it learned from.
    """
    features = config.features
    if features.backbone is None or features.input_size is not None:
        return config
    size = settled_input_size(dataset, features.backbone)
    return dataclasses.replace(config, features=dataclasses.replace(features, input_size=size))
