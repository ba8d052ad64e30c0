"""Named starting points for a run: a flag or a button away, every value still overridable.

"quick-demo" is for a live class: something visible in well under a minute on a laptop CPU.
"best-quality" looks at the data first (core.data.kinds) and lays the recipe tuned for its kind:
"digits" for handwriting and other line drawings, "objects" for small pictures of things,
"photos" for photographs; tables keep the defaults. Each recipe may also be asked for by name.
benchmarks/clustering.py measures them on mnist-10k and on the Fashion-MNIST tuning data.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:  # only for annotations: the CLI reads PRESET_NAMES without loading torch
    from core.config import RunConfig
    from core.data import Dataset

AUTO = "best-quality"
PRESETS: dict[str, dict[str, dict]] = {
    "quick-demo": {
        "model": {"family": "dense", "latent_dim": 10, "width": 256, "depth": 2},
        "train": {"epochs": 20, "batch_size": 64, "lr": 2e-3},
    },
    "digits": {
        # Tuned by scoring N2D on all of mnist-5k and digits. Pose augmentation is what moves the needle:
        # N2D ACC on mnist-5k 0.80 -> 0.97 at 40 epochs; 80 epochs added 0.004, 20 lost 0.01.
        # Then for speed, on all of mnist-10k: 60 epochs at lr 1e-3 0.971; a cosine schedule from 2e-3 gave
        # 0.968 in 30 epochs, 0.971 in 40, 0.973 in 45 (batch 128 and 256 lost 0.003-0.006 at equal time).
        "model": {"family": "conv", "latent_dim": 32, "width": 256, "depth": 2, "augment": 1.0, "noise": 0.0},
        "train": {"epochs": 45, "batch_size": 64, "lr": 2e-3, "schedule": "cosine"},
    },
    "objects": {
        # Small pictures of things (Fashion-MNIST) are upright and centred: pose augmentation only blurs
        # them (N2D ACC 0.56), while the pretrained features of the photos recipe group them by kind.
        # Tuned on the Fashion-MNIST tuning file, N2D on all rows: features read at 96 px, not 224
        # (core.features.Backbone.for_images), 0.665 -> 0.697 (seed 0). Latent 10 (N2D's own code size)
        # then varied least across seeds: 0.733 / 0.731 / 0.734 for seeds 0-2 (latent 32 0.696-0.736,
        # width 512 0.697-0.735, depth 3 0.694-0.722, input noise 0.3 0.685-0.730 in a quicker loop).
        "features": {"backbone": "efficientnet-lite0"},
        "model": {"family": "dense", "latent_dim": 10, "width": 256, "depth": 2, "augment": 0.0, "noise": 0.0},
        "train": {"epochs": 50, "batch_size": 64, "lr": 1e-3},
    },
    "photos": {
        # Photos cluster by what they show in a pretrained network's features, not in their pixels.
        # Tuned on birds (588 photos, 10 species; trained on the 70% train split, N2D on all rows, mean of
        # 3 seeds, standardised features): width 256 0.974, width 512 0.969, + input noise 0.2 0.966; raw
        # features 0.951; 20 epochs 0.964. Latent 10 and 64 lost 0.01-0.03. The backbone's features alone 0.98.
        "data": {"image_size": 96},  # image folders: what galleries show; the backbone reads the original files
        "features": {"backbone": "efficientnet-lite0"},
        "model": {"family": "dense", "latent_dim": 32, "width": 256, "depth": 2, "augment": 0.0, "noise": 0.0},
        "train": {"epochs": 50, "batch_size": 64, "lr": 1e-3},
    },
}
# Colour pictures of a few dozen pixels (CIFAR-10's 32 px): the photos recipe on EfficientNet-Lite2, which
# reads them at 128 px (Backbone.for_images). On the CIFAR-10 tuning file, UMAP + k-means on the features:
# Lite0 at 96 px 0.470, Lite0 at 128 px 0.515, Lite2 at 96 px 0.477, Lite2 at 128 px 0.523 (flip averaging
# and Lite0 + Lite2 side by side added nothing); the whole path 0.528 against 0.497 on Lite0 (0.553 once a
# TEMI head joined the sort candidates, core.sort_choice), for 100 s of features instead of 30. On photos
# Lite2 did not pay: the ten bird species sorted 0.976 / 0.973 / 0.973 (seeds 0-2) against 0.981 / 0.985 /
# 0.971 for UMAP + GMM on Lite0, at 2.5x the compute, so photos keep Lite0. Galleries of thumbnails keep
# the pictures' own size (no "data" section).
PRESETS["thumbnails"] = {
    "features": {"backbone": "efficientnet-lite2"},
    "model": PRESETS["photos"]["model"],
    "train": PRESETS["photos"]["train"],
}
PRESET_NAMES = ("quick-demo", AUTO, *[name for name in PRESETS if name != "quick-demo"])
RECIPE_BY_KIND = {
    "line-art": "digits",
    "objects": "objects",
    "thumbnails": "thumbnails",
    "photos": "photos",
    "table": None,
}


@dataclasses.dataclass(frozen=True)
class Recipe:
    """What a preset name stands for on one dataset: `preset` (None: the defaults) and why."""

    preset: str | None
    reason: str


def recipe_for(name: str, dataset: Dataset | None = None) -> Recipe:
    """The fixed preset `name` is, or for "best-quality" the one for `dataset`'s kind."""
    if name not in PRESET_NAMES:
        raise ConfigError(f"Unknown preset {name!r}; choose one of {', '.join(PRESET_NAMES)}.")
    if name != AUTO:
        return Recipe(name, f"the {name} preset")
    if dataset is None:
        raise ConfigError(f"The {AUTO} preset looks at the data before it chooses a recipe: load the dataset first.")
    from core.data.kinds import data_kind

    kind = data_kind(dataset)
    preset = RECIPE_BY_KIND[kind.name]
    chosen = f"the {preset} recipe" if preset else "the default dense autoencoder (no recipe is tuned for tables yet)"
    return Recipe(preset, f"{AUTO} chose {chosen}: {kind.reason}")


def apply_preset(config: RunConfig, name: str, dataset: Dataset | None = None) -> RunConfig:
    """The config with every section the preset names (data, features, model, train) laid over it.

    A preset's data settings reach only a source that has them as its own settings (Source.settings:
    image folders' size): the built-in sets keep their own size, so `--preset photos` on mnist does
    not blow 28 px digits up to 96 px. "best-quality" needs the `dataset` it will train on.
    """
    recipe = recipe_for(name, dataset)
    if recipe.preset is None:
        return config
    from core.data import SOURCES  # here: the CLI reads PRESET_NAMES without loading torch

    source = SOURCES.get(config.data.source)
    own = source.settings if source is not None else ()
    preset = {
        section: values
        for section, values in PRESETS[recipe.preset].items()
        if section != "data" or set(values) <= set(own)
    }
    return dataclasses.replace(
        config,
        **{section: dataclasses.replace(getattr(config, section), **values) for section, values in preset.items()},
    )


def preset_summary(name: str) -> str:
    """The values a preset sets, for help texts; for "best-quality" the rule it follows."""
    if name == AUTO:
        return "looks at the data and takes the recipe for its kind: " + ", ".join(
            f"{kind} -> {preset or 'defaults'}" for kind, preset in RECIPE_BY_KIND.items()
        )
    recipe = PRESETS[name]
    parts = [f"{k}={v}" for group in ("features", "model", "train") for k, v in recipe.get(group, {}).items()]
    if "image_size" in recipe.get("data", {}):
        parts.append(f"image folders shown at {recipe['data']['image_size']} px (set on the Data page)")
    return ", ".join(parts)
