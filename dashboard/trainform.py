"""The Train page's form: which config fields it shows (widget keys m.<field>, t.<field>,
f.backbone), the bounds of its number boxes, presets laid over it, and its settings in a link.

Kept out of the page so the link registry (dashboard.links) and the tests share one list of fields
and one set of bounds with the widgets.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.config import RunConfig
from core.errors import LatentboardError
from core.features import FeatureConfig
from core.models import ModelConfig
from core.presets import AUTO, PRESET_NAMES, Recipe, apply_preset, recipe_for
from core.training import TrainConfig
from dashboard import state
from dashboard.keys import TRAIN
from dashboard.links import UrlParam, field_params, one_of

MODEL_KEYS = (
    "family",
    "latent_dim",
    "width",
    "depth",
    "activation",
    "cell",
    "beta",
    "noise",
    "augment",
    "sparsity",
    "loss",
)
TRAIN_KEYS = ("epochs", "batch_size", "lr", "optimizer", "weight_decay", "schedule", "patience", "seed", "device")
ADVANCED_KEYS = tuple(
    TRAIN.train(k) for k in ("optimizer", "schedule", "weight_decay", "patience", "seed", "device")
)  # hidden in teaching mode
BOUNDS = {  # (min, max) of each number box: the form and a link's values are checked against the same
    "latent_dim": (2, 512),
    "width": (8, 4096),
    "depth": (1, 8),
    "beta": (0.0, 100.0),
    "noise": (0.0, 2.0),
    "augment": (0.0, 2.0),
    "sparsity": (0.0, 10.0),
    "epochs": (1, 1000),
    "batch_size": (1, 8192),
    "lr": (1e-6, 1.0),
    "weight_decay": (0.0, 1.0),
    "patience": (0, 1000),
    "seed": (0, 2**31 - 1),
}
RAW_PIXELS = "none"  # the features select's value for "no backbone" (a select box keeps strings best)


def choices(cls: type, name: str) -> tuple[Any, ...]:
    """The values a config field allows, as its dataclass declares them (a Literal, or its registry's
    names), so the form's select boxes never retype a list that could drift from the config."""
    from core.config_base import describe

    field = {f.name: f for f in describe(cls)}[name]
    if field.choices is not None:
        return tuple(field.choices)
    if field.registry is not None:
        return tuple(field.registry())
    raise ValueError(f"{cls.__name__}.{name} declares no choices.")


def widget_values(config: RunConfig) -> dict[str, object]:
    values = {TRAIN.model(k): getattr(config.model, k) for k in MODEL_KEYS}
    values.update({TRAIN.train(k): getattr(config.train, k) for k in TRAIN_KEYS})
    values[TRAIN.train("patience")] = config.train.patience or 0
    values[TRAIN.train("lr")] = float(config.train.lr)
    values[TRAIN.backbone] = config.features.backbone or RAW_PIXELS
    return values


def use_preset(name: str) -> None:
    """Button callback: every setting back to its default, then the preset laid over it.

    The data settings live on the Data page (the session's DataSpec); a preset's data section
    (Photos: 96 px images, what galleries show) is laid over it there, for image folders only:
    the built-in sets would only be blown up.
    """
    spec = state.data_spec()
    recipe = session_recipe(name)
    config = apply_preset(RunConfig(data=spec), recipe.preset) if recipe.preset else RunConfig(data=spec)
    for key, value in widget_values(config).items():
        st.session_state[key] = value
    st.session_state[TRAIN.preset] = name
    st.session_state[TRAIN.recipe] = recipe.reason if name == AUTO else None
    if config.data != spec:
        state.set_data_spec(config.data)


def session_recipe(name: str) -> Recipe:
    """recipe_for(name) on the session's dataset; a dataset that cannot load leaves the defaults,
    saying why (the Data page shows the full error)."""
    if name != AUTO:
        return recipe_for(name)
    try:
        return recipe_for(name, state.dataset(state.data_spec()))
    except LatentboardError as error:
        return Recipe(None, f"{AUTO} could not look at the data ({error}); the defaults are set")


def url_params() -> dict[str, UrlParam]:
    """?preset=quick-demo&latent-dim=16&epochs=5: the preset first (it resets every field), then the
    fields, named and parsed as the config dataclasses declare them."""
    from core.features import BACKBONES

    params = {"preset": UrlParam(use_preset, one_of(PRESET_NAMES))}
    params.update(field_params("model", ModelConfig, {k: TRAIN.model(k) for k in MODEL_KEYS}, BOUNDS))
    params.update(field_params("train", TrainConfig, {k: TRAIN.train(k) for k in TRAIN_KEYS}, BOUNDS))
    features = field_params("features", FeatureConfig, {"backbone": TRAIN.backbone}, BOUNDS)
    params.update({name: UrlParam(p.target, one_of([RAW_PIXELS, *BACKBONES])) for name, p in features.items()})
    return params


def url_values(session: Any) -> dict[str, Any]:
    """The form's link settings: the preset, and each field where it differs from what the preset
    (or, without one, the defaults) set, so the quick demo's link is just ?preset=quick-demo."""
    preset = session.get(TRAIN.preset)
    recipe = session_recipe(preset).preset if preset in PRESET_NAMES else None
    base = widget_values(apply_preset(RunConfig(), recipe) if recipe else RunConfig())
    targets = {p.target: name for name, p in url_params().items() if isinstance(p.target, str)}
    values: dict[str, Any] = {"preset": preset if preset in PRESET_NAMES else None}
    for key, name in targets.items():
        value = session.get(key, base[key])
        values[name] = None if value == base[key] else value
    return values
