"""What every config dataclass shares: a help text beside each field, and one strict from_dict.

    @dataclass(frozen=True)
    class TrainConfig(Config):
        epochs: int = setting(10, "passes over the training rows")

A config is a frozen dataclass of plain JSON values, or of other configs (RunConfig's sections).
The help text lives in the field's metadata, so the CLI's flags (and any form built from the
config) are derived from the dataclass instead of being written out again beside it.

`from_dict` is strict: a misspelt key in a config.json or a preset would otherwise be dropped
without a word and the default trained in its place. Missing keys take their defaults, so run
folders written before a setting existed still open.

This module sits at the bottom of core (it imports only core.errors and core.registry), so every
module that declares a config can use it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from core.errors import ConfigError
from core.registry import resolve


def setting(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: str | None = None,
    parse: Callable[[str], Any] | None = None,
) -> Any:
    """A config field with its help text.

    `flag` renames its command-line flag (`--dataset` for DataSpec.source). `choices` names the
    registry that holds the valid values by its dotted path ("core.data:SOURCES"), imported when
    the names are asked for (core.registry.resolve): registries sit above the configs naming them.
    `parse` turns the command-line text into the value.
    """
    metadata = {"help": help, "flag": flag, "choices": choices, "parse": parse}
    return dataclasses.field(default=default, metadata={k: v for k, v in metadata.items() if v is not None})


def registry_names(path: str) -> list[str]:
    """The names in the registry at the dotted path `path`, imported on first use."""
    return list(resolve(path))


def config_from_dict(cls: type, values: Any, where: str | None = None) -> Any:
    """`cls(**values)`, building dataclass-typed fields (sections) from their own dicts.

    Works on any dataclass, so a section need not derive from Config. ConfigError names an
    unknown key and the valid ones; keys left out take their defaults.
    """
    where = where or cls.__name__
    if not isinstance(values, Mapping):
        raise ConfigError(f"The {where} settings must be a mapping of names to values (got {type(values).__name__}).")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [key for key in values if key not in fields]
    if unknown:
        raise ConfigError(
            f"Unknown setting {', '.join(map(repr, unknown))} in {where}; valid ones are {', '.join(fields)}."
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in values.items():
        section = hints[name]
        if dataclasses.is_dataclass(section):
            value = config_from_dict(section, value, f"{where}.{name}")
        kwargs[name] = value
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"The {where} settings are not valid ({exc}).") from exc


class Config:
    """Mixin for frozen config dataclasses: to_dict() for JSON, the strict from_dict() back."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Any:
        return config_from_dict(cls, values)


# --------------------------------------------------------------------------- describing fields


@dataclass(frozen=True)
class Field:
    """One field of a config, described for a command line or a form."""

    name: str
    type: type  # int, float, str or bool: what a value is once parsed
    default: Any
    help: str
    optional: bool = False  # None is a valid value
    choices: tuple[Any, ...] | None = None  # from a Literal: the only valid values
    registry: Callable[[], Iterable[str]] | None = None  # valid names, checked by core.gate.check_config
    flag: str | None = None
    parse: Callable[[str], Any] | None = None


def sections(cls: type) -> dict[str, type]:
    """The fields of `cls` that are themselves configs (RunConfig's data, model, train, ...)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])}


def describe(cls: type) -> list[Field]:
    """Every plain (non-section) field of the dataclass `cls`, with its type, default and help."""
    hints = typing.get_type_hints(cls)
    described = []
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            continue
        optional = False
        if typing.get_origin(kind) in (typing.Union, types.UnionType):
            members = [arg for arg in typing.get_args(kind) if arg is not type(None)]
            if len(members) != 1:
                raise TypeError(f"{cls.__name__}.{f.name}: only X | None unions can be described, not {kind}.")
            optional, kind = len(members) < len(typing.get_args(kind)), members[0]
        choices = None
        if typing.get_origin(kind) is Literal:
            choices = typing.get_args(kind)
            kind = type(choices[0])
        if kind not in (int, float, str, bool):
            raise TypeError(f"{cls.__name__}.{f.name}: cannot describe a field of type {kind}.")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        described.append(
            Field(
                name=f.name,
                type=kind,
                default=default,
                optional=optional,
                choices=choices,
                help=f.metadata.get("help", ""),
                registry=partial(registry_names, f.metadata["choices"]) if "choices" in f.metadata else None,
                flag=f.metadata.get("flag"),
                parse=f.metadata.get("parse"),
            )
        )
    return described
