"""Named starting points for a run: a flag or a button away, every value still overridable.

"quick-demo" is for a live class: something visible in well under a minute on a laptop CPU.
"photos" puts a pretrained backbone in front of a dense autoencoder: photos of the same thing
look alike in its features, not in their pixels.
"best-quality" is tuned for clustering quality within a laptop budget by scoring N2D on all of
mnist-5k and digits; benchmarks/clustering.py measures it, also on the 5,000 rows of mnist-10k
that tuning never saw.
"""

from __future__ import annotations

import dataclasses

from core.config import RunConfig, data_sources
from core.errors import ConfigError

PRESETS: dict[str, dict[str, dict]] = {
    "quick-demo": {
        "model": {"family": "dense", "latent_dim": 10, "width": 256, "depth": 2},
        "train": {"epochs": 20, "batch_size": 64, "lr": 2e-3},
    },
    "best-quality": {
        # Pose augmentation is what moves the needle: N2D ACC on all of mnist-5k 0.80 -> 0.97 at 40 epochs;
        # 80 epochs added 0.004, 20 lost 0.01: 60 keeps 10,000 images well inside 5 minutes on 2 cores.
        "model": {"family": "conv", "latent_dim": 32, "width": 256, "depth": 2, "augment": 1.0, "noise": 0.0},
        "train": {"epochs": 60, "batch_size": 64, "lr": 1e-3},
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


def apply_preset(config: RunConfig, name: str) -> RunConfig:
    """The config with every section the preset names (data, features, model, train) laid over it.

    A preset's data settings reach only a source that has them as its own settings (Source.settings:
    image folders' size): the built-in sets keep their own size, so `--preset photos` on mnist does
    not blow 28 px digits up to 96 px.
    """
    if name not in PRESETS:
        raise ConfigError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    source = data_sources().get(config.data.source)
    own = source.settings if source is not None else ()
    preset = {section: values for section, values in PRESETS[name].items()
              if section != "data" or set(values) <= set(own)}
    return dataclasses.replace(config, **{
        section: dataclasses.replace(getattr(config, section), **values) for section, values in preset.items()
    })
