"""Search spaces: which train settings a sweep tries, as plain data (no Ray here).

    space = load_space("quick")                       # a built-in, or a .json / .yaml file
    space.params == {"model.family": Choice(("dense", "conv", "vae")), "train.lr": LogUniform(3e-4, 3e-3), ...}
    config = apply_params(base_config, {"model.family": "conv", "train.lr": 1e-3})

A space file maps setting names to what to try. A name is a field of ModelConfig or TrainConfig,
written plainly ("latent_dim") or with its section ("model.latent_dim"); what to try is a list (a
random choice per trial), a single value (fixed for every trial), {"grid": [...]} (every value, each
with --samples trials), or a one-key mapping for a range:

    {"family": ["dense", "conv"], "latent_dim": [4, 8, 16], "lr": {"loguniform": [3e-4, 3e-3]}, "epochs": 8}

Only the sweep's runner (core.sweeps.tune) turns these into Ray Tune's samplers, so reading and
checking a space costs no Ray import and can fail in a second, before any cluster starts.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.models import ModelConfig
from core.training import TrainConfig

SECTIONS: dict[str, type] = {"model": ModelConfig, "train": TrainConfig}
# Not worth a trial: they change where or how often, not what is learned. `loss` changes what the
# per-epoch score measures (BCE vs MSE), so early stopping would compare unlike numbers.
NOT_SWEPT = {
    "train.device": "the device is one for the whole sweep",
    "train.log_every": "it only changes how often progress is logged",
    "model.loss": "BCE and MSE losses are not comparable while trials are stopped early; "
    "set the loss on the base settings instead",
}


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float


@dataclass(frozen=True)
class LogUniform:
    low: float
    high: float


@dataclass(frozen=True)
class RandInt:
    low: int  # inclusive
    high: int  # inclusive (unlike Ray's randint, so a file says what it means)


@dataclass(frozen=True)
class Grid:
    values: tuple[Any, ...]  # every value, each with --samples trials (Tune's grid_search)


Domain = Choice | Grid | Uniform | LogUniform | RandInt
RANGES: dict[str, type] = {"uniform": Uniform, "loguniform": LogUniform, "randint": RandInt}


@dataclass(frozen=True)
class SearchSpace:
    """Qualified setting name ("model.latent_dim") -> what to try; `name` says where it came from."""

    params: dict[str, Domain]
    name: str = "custom"

    def to_dict(self) -> dict[str, Any]:
        """The file form again (stored in the sweep's record, so the sweep can be read back)."""
        out: dict[str, Any] = {}
        for key, domain in self.params.items():
            if isinstance(domain, Choice):
                out[key] = list(domain.values)
            elif isinstance(domain, Grid):
                out[key] = {"grid": list(domain.values)}
            else:
                kind = next(k for k, cls in RANGES.items() if isinstance(domain, cls))
                out[key] = {kind: [domain.low, domain.high]}
        return out

    def max_value(self, key: str, default: Any) -> Any:
        """The largest value `key` can take (e.g. epochs, for the early-stopping schedule)."""
        domain = self.params.get(key)
        if domain is None:
            return default
        return max(domain.values) if isinstance(domain, (Choice, Grid)) else domain.high

    def trials(self, samples: int) -> int:
        """How many trials `samples` makes: every grid combination gets `samples` of its own."""
        grid = 1
        for domain in self.params.values():
            if isinstance(domain, Grid):
                grid *= len(domain.values)
        return grid * samples


BUILTIN_SPACES: dict[str, dict[str, Any]] = {
    # A few minutes on 2 CPU cores for 8 samples of digits: small models, few epochs, the
    # choices that change the codes most (family, code size, corruption, learning rate).
    "quick": {
        "model.family": ["dense", "conv", "vae"],
        "model.latent_dim": [4, 8, 16],
        "model.width": [64],
        "model.noise": [0.0, 0.2],
        "train.lr": {"loguniform": [5e-4, 5e-3]},
        "train.epochs": [8],
        "train.batch_size": [64],
    },
    # Longer, wider: worth a cluster or a GPU.
    "wide": {
        "model.family": ["dense", "conv", "vae", "conv-vae"],
        "model.latent_dim": [8, 16, 32, 64],
        "model.width": [128, 256, 512],
        "model.depth": [1, 2, 3],
        "model.noise": [0.0, 0.1, 0.3],
        "model.augment": [0.0, 0.5, 1.0],
        "train.lr": {"loguniform": [1e-4, 3e-3]},
        "train.epochs": [30],
    },
}


def field_names() -> dict[str, list[str]]:
    return {section: [f.name for f in dataclasses.fields(cls)] for section, cls in SECTIONS.items()}


def qualify(name: str) -> str:
    """ "latent_dim" -> "model.latent_dim"; ConfigError listing every valid name when unknown."""
    fields = field_names()
    section, dot, rest = name.partition(".")
    if dot and section in fields and rest in fields[section]:
        return name
    if not dot:
        owners = [s for s, names in fields.items() if name in names]
        if len(owners) == 1:
            return f"{owners[0]}.{name}"
    valid = "; ".join(f"{section}: {', '.join(names)}" for section, names in fields.items())
    raise ConfigError(f"Unknown setting {name!r} in the search space; valid names are {valid}.")


def _domain(key: str, value: Any) -> Domain:
    if isinstance(value, list):
        if not value:
            raise ConfigError(f"The search space gives {key} an empty list; give at least one value.")
        return Choice(tuple(value))
    if isinstance(value, dict) and list(value) == ["grid"]:
        values = value["grid"]
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{key}: grid needs a non-empty list of values; got {values!r}.")
        return Grid(tuple(values))
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in RANGES:
            raise ConfigError(
                f"{key}: a range is one of {', '.join(f'{{{k!r}: [low, high]}}' for k in RANGES)}, "
                f"or {{'grid': [values]}}; got {value!r}."
            )
        kind, bounds = next(iter(value.items()))
        if not (isinstance(bounds, list) and len(bounds) == 2 and all(isinstance(b, (int, float)) for b in bounds)):
            raise ConfigError(f"{key}: {kind} needs [low, high] numbers; got {bounds!r}.")
        low, high = bounds
        if not low < high or (kind == "loguniform" and low <= 0):
            raise ConfigError(
                f"{key}: {kind} needs low < high{' and low > 0' if kind == 'loguniform' else ''}; got {bounds!r}."
            )
        if kind == "randint":
            return RandInt(int(low), int(high))
        return RANGES[kind](float(low), float(high))
    return Choice((value,))


def parse_space(spec: dict[str, Any], name: str = "custom") -> SearchSpace:
    """Check names and shapes (not values: `check_space` does that against a base config)."""
    if not isinstance(spec, dict) or not spec:
        raise ConfigError("A search space is a non-empty mapping of setting names to values or ranges.")
    params: dict[str, Domain] = {}
    for raw, value in spec.items():
        key = qualify(str(raw))
        if key in NOT_SWEPT:
            raise ConfigError(f"{key} cannot be swept: {NOT_SWEPT[key]}.")
        if key in params:
            raise ConfigError(f"The search space names {key} twice.")
        params[key] = _domain(key, value)
    return SearchSpace(params, name)


def load_space(spec: str) -> SearchSpace:
    """A built-in space by name, or a .json / .yaml / .yml file of one."""
    if spec in BUILTIN_SPACES:
        return parse_space(BUILTIN_SPACES[spec], spec)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"Unknown search space {spec!r}: not a built-in ({', '.join(BUILTIN_SPACES)}) and no such file."
        )
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            values = yaml.safe_load(text)
        else:
            values = json.loads(text)
    except Exception as exc:
        raise ConfigError(f"The search space file {path} cannot be read ({exc}).") from exc
    return parse_space(values, path.name)


def apply_params(base: Any, params: dict[str, Any]) -> Any:
    """`base` (a RunConfig) with the trial's qualified settings laid over it."""
    sections: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        section, _, name = qualify(key).partition(".")
        sections.setdefault(section, {})[name] = value
    return dataclasses.replace(base, **{s: dataclasses.replace(getattr(base, s), **v) for s, v in sections.items()})


def check_space(space: SearchSpace, base: Any) -> None:
    """Every listed value (and both ends of every range) passes the run config checks on `base`.

    So `family: [dense, cnov]` fails before the cluster starts, not as one failed trial among many.
    """
    from core.gate import check_config

    for key, domain in space.params.items():
        values = domain.values if isinstance(domain, (Choice, Grid)) else (domain.low, domain.high)
        for value in values:
            try:
                check_config(apply_params(base, {key: value}))
            except ConfigError as exc:
                raise ConfigError(f"Search space, {key} = {value!r}: {exc}") from None
            except TypeError as exc:
                raise ConfigError(f"Search space, {key} = {value!r} has the wrong type ({exc}).") from None
