"""The one validation layer for what a run folder holds, read back from disk.

config.json, status.json, splits.safetensors and the checkpoint's metadata and tensors are
written by us, atomically; what is wrong with them afterwards came from outside (an editor, a
copy from another machine, a disk error, a hand-made file). Every reader in core.runs and
core.trained passes what it read through one of the `*_problem` functions below, each of
which names the first thing wrong (or None), and `damaged` turns that into the one message a
user sees: "Run X ... is damaged: what; delete it ... or train it again", instead of a deep
library error later. The checkpoint, the splits and the snapshots also carry a sha256
(core.checksums): `checksum_problem` names a file whose bytes changed since they were written,
damage no value check can see (a flipped bit in a weight is still a finite number).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from core.checksums import Verdict, verify
from core.config_base import describe, sections
from core.errors import ConfigError, RunError
from core.limits import current_limits

SPLIT_NAMES = ("train", "val", "test")


def advice(path: Path) -> str:
    """What to do about a damaged run folder."""
    return f"delete it (rm -r {path}) and train it again, or put back a good copy of the file"


def damaged(path: Path, what: str, todo: str | None = None) -> RunError:
    """RunError for the run folder at `path`: what is wrong with it, and what to do (by default `advice`)."""
    what = " ".join(what.split())  # one line: library errors (torch's) come with newlines and tabs
    return RunError(f"Run {path.name} in {path.parent} is damaged: {what}; {todo or advice(path)}.")


# --------------------------------------------------------------------------- checksums


def checksum_problem(path: Path, name: str | None = None) -> str | None:
    """`name` (the file's name in the run folder) does not match the checksum written into it, or None.

    None too for a file written before checksums: `unverified_note` says that, once per run.
    """
    if verify(path) is not Verdict.MISMATCH:
        return None
    return (
        f"{name or path.name} does not match its checksum (it changed on disk after it was written: "
        "a bad copy or a failing disk)"
    )


def unverified_note(path: Path, names: list[str]) -> str:
    """The one notice for a run whose files were written before latentboard kept checksums."""
    return (
        f"Run {path.name} was written before latentboard kept checksums: {', '.join(names)} cannot be checked "
        "for damage on disk. It opens as before; files written from now on (a resumed run's checkpoint, "
        "new sorting edits) carry a checksum."
    )


# --------------------------------------------------------------------------- plain values


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _value_problem(name: str, value: Any, kind: type, optional: bool, choices: tuple[Any, ...] | None) -> str | None:
    if value is None:
        return None if optional else f"{name} is missing (null)"
    fits = {int: _is_int, float: _is_number, bool: lambda v: isinstance(v, bool), str: lambda v: isinstance(v, str)}
    if not fits[kind](value):
        return f"{name} should be {'an' if kind is int else 'a'} {kind.__name__}, not {type(value).__name__} {value!r}"
    if kind is float and not math.isfinite(value):
        return f"{name} is {value}"
    if choices is not None and value not in choices:
        return f"{name} is {value!r}, not one of {', '.join(map(str, choices))}"
    return None


def config_problem(config: Any) -> str | None:
    """Wrong types or impossible values in a RunConfig read from config.json, or None."""
    from core.training import check_train_config

    for section, cls in sections(type(config)).items():
        values = getattr(config, section)
        for field in describe(cls):
            problem = _value_problem(
                f"{section}.{field.name}", getattr(values, field.name), field.type, field.optional, field.choices
            )
            if problem:
                return problem
    for field in describe(type(config)):
        problem = _value_problem(field.name, getattr(config, field.name), field.type, field.optional, field.choices)
        if problem:
            return problem
    at_least_one = [
        ("data.max_samples", config.data.max_samples),
        ("data.image_size", config.data.image_size),
        ("model.latent_dim", config.model.latent_dim),
        ("model.width", config.model.width),
        ("model.depth", config.model.depth),
        ("features.batch_size", config.features.batch_size),
    ]
    for name, value in at_least_one:
        if value is not None and value < 1:
            return f"{name} is {value}, less than 1"
    for name in ("beta", "noise", "augment", "sparsity"):
        if getattr(config.model, name) < 0:
            return f"model.{name} is negative ({getattr(config.model, name)})"
    split = config.split
    if not (
        0 <= split.val_fraction < 1 and 0 <= split.test_fraction < 1 and split.val_fraction + split.test_fraction < 1
    ):
        return f"split fractions val={split.val_fraction}, test={split.test_fraction} leave no training rows"
    try:
        check_train_config(config.train)
    except ConfigError as exc:
        return f"train settings: {exc}"
    return None


def status_problem(status: Any, states: tuple[str, ...]) -> str | None:
    """Wrong structure or types in a status.json, or None."""
    if not isinstance(status, Mapping):
        return f"status.json holds a {type(status).__name__}, not an object"
    if "state" in status and status["state"] not in states:
        return f"status.json has state {status['state']!r}, not one of {', '.join(states)}"
    for key in ("message", "created", "updated", "started", "host", "device"):
        if status.get(key) is not None and not isinstance(status[key], str):
            return f"status.json's {key} should be text, not {type(status[key]).__name__}"
    for key in ("epochs_done", "epochs", "pid", "best_epoch"):
        if status.get(key) is not None and not (_is_int(status[key]) and status[key] >= 0):
            return f"status.json's {key} should be a whole number of 0 or more, not {status[key]!r}"
    for key in ("train_loss", "val_loss", "best_val_loss", "train_seconds"):
        if status.get(key) is not None and not _is_number(status[key]):
            return f"status.json's {key} should be a number, not {status[key]!r}"
    if (
        _is_int(status.get("epochs_done"))
        and _is_int(status.get("epochs"))
        and status["epochs_done"] > status["epochs"]
    ):
        return f"status.json says {status['epochs_done']} of {status['epochs']} epochs are done"
    if status.get("data_notes") is not None and not (
        isinstance(status["data_notes"], list) and all(isinstance(n, str) for n in status["data_notes"])
    ):
        return "status.json's data_notes should be a list of text"
    return None


# --------------------------------------------------------------------------- splits and checkpoints


def splits_problem(tensors: Mapping[str, Any], n_rows: int | None = None) -> str | None:
    """Missing parts, wrong types, negative, out-of-range, repeated or shared row indices, or None."""
    seen: dict[str, np.ndarray] = {}
    for name in SPLIT_NAMES:
        part = tensors.get(name)
        if part is None:
            return f"the split file has no {name} part"
        array = part.numpy() if isinstance(part, torch.Tensor) else np.asarray(part)
        if array.ndim != 1 or array.dtype.kind not in "iu":
            return f"the {name} split should be a list of row numbers, not {array.dtype} shaped {array.shape}"
        if len(array) and array.min() < 0:
            return f"the {name} split holds a negative row number ({int(array.min())})"
        if n_rows is not None and len(array) and array.max() >= n_rows:
            return (
                f"the {name} split holds row {int(array.max())}, but the dataset has {n_rows} rows "
                "(did the data change since it trained?)"
            )
        if len(np.unique(array)) != len(array):
            return f"the {name} split lists a row twice"
        for other, earlier in seen.items():
            shared = np.intersect1d(array, earlier)
            if len(shared):
                return f"the {other} and {name} splits share {len(shared)} rows (e.g. row {int(shared[0])})"
        seen[name] = array
    if not len(seen["train"]):
        return "the train split is empty"
    return None


def checkpoint_meta_problem(meta: Any) -> str | None:
    """Wrong types or absurd values in a checkpoint's JSON metadata, or None."""
    if not isinstance(meta, Mapping):
        return f"the checkpoint's metadata is a {type(meta).__name__}, not an object"
    if "epoch" in meta and not (_is_int(meta["epoch"]) and meta["epoch"] >= 0):
        return f"the checkpoint's epoch should be a whole number of 0 or more, not {meta['epoch']!r}"
    shape = meta.get("input_shape")
    if shape is not None:
        if not (isinstance(shape, list) and len(shape) in (1, 3) and all(_is_int(s) and s >= 1 for s in shape)):
            return f"the checkpoint's input shape {shape!r} is not (features,) or (channels, height, width)"
        values = math.prod(shape)
        most = current_limits().max_array_bytes // 4
        if values > most or (len(shape) == 3 and shape[0] > 4):
            return f"the checkpoint's input shape {tuple(shape)} is absurd ({values:,} values a row)"
    trainer = meta.get("trainer", {})
    if not isinstance(trainer, Mapping):
        return f"the checkpoint's trainer state is a {type(trainer).__name__}, not an object"
    for key in ("epoch", "step"):
        if key in trainer and not (_is_int(trainer[key]) and trainer[key] >= 0):
            return f"the checkpoint's trainer {key} should be a whole number of 0 or more, not {trainer[key]!r}"
    return None


def tensors_problem(tensors: Mapping[str, torch.Tensor], what: str) -> str | None:
    """A NaN or infinite value in any floating-point tensor, or None."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            return f"the checkpoint's {what} {name} holds {bad} NaN or infinite values"
    return None


def check(path: Path, problem: str | None) -> None:
    """Raise `damaged(path, problem)` when there is a problem."""
    if problem:
        raise damaged(path, problem)
