"""What every registry entry shares: a name, a label, a help text; and the two ways to use a registry.

    FAMILIES = registry(Family("dense", "Dense", "fully connected layers", build=..., ...), ...)
    family = lookup(FAMILIES, config.family, "model family")   # ConfigError naming the valid ones

A registry (model families, data sources, backbones, projections, clustering methods) is a dict
of small frozen dataclasses, one per entry. Each describes itself: `name` is what configs, links
and flags say, `label` what a person reads, `help` one sentence on when to choose it, and each
kind adds its build function and the traits callers branch on (image_only, variational,
chooses_own_cluster_count...). Pages, the CLI and tests read those traits instead of keeping
name tables of their own or testing names (`"vae" in family`).

An entry whose code is heavy to import (scikit-learn, umap) names it by a dotted path instead,
"core.clusterers:KMeansClusterer", which `resolve` imports on first use: a page or a link
parser can read the registry without loading what the entries run.

This module sits at the bottom of core (it imports only core.errors).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from core.errors import ConfigError


@dataclass(frozen=True)
class Entry:
    """The part every registry entry has; kinds of entry subclass it with their build and traits."""

    name: str
    label: str
    help: str


E = TypeVar("E", bound=Entry)


def registry(*entries: E) -> dict[str, E]:
    """The entries by name, in the order given (the order choices are offered in)."""
    table: dict[str, E] = {}
    for entry in entries:
        if entry.name in table:
            raise ValueError(f"Two registry entries are named {entry.name!r}.")
        table[entry.name] = entry
    return table


def lookup(entries: Mapping[str, E], name: str, what: str) -> E:
    """The entry called `name`; ConfigError naming the valid ones when there is none."""
    entry = entries.get(name)
    if entry is None:
        raise ConfigError(f"Unknown {what} {name!r}; choose one of {', '.join(entries)}.")
    return entry


def label_of(entries: Mapping[str, Entry], name: str) -> str:
    """The entry's label, or the name itself for one no longer registered (an old run's setting)."""
    entry = entries.get(name)
    return entry.label if entry is not None else name


@cache
def resolve(path: str) -> Any:
    """The object a dotted path "package.module:attribute" names, imported on first use."""
    module, colon, attribute = path.partition(":")
    if not (module and colon and attribute):
        raise ValueError(f"A build path reads 'package.module:attribute' (got {path!r}).")
    return getattr(importlib.import_module(module), attribute)
