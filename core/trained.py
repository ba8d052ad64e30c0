"""Opening a finished run: its config, dataset, splits, model and the inputs the model reads.

    trained = load_trained(store.open(run_id))   # TrainedRun on the CPU, the model in eval mode
    model = load_model(run)                      # only the autoencoder, without loading the data

Evaluation, export, the report, classification, the run cache and the pages read runs through
here and never through core.experiment, which trains them. core.runs keeps to the files of a
run folder; building a model from them belongs here, with everything else a reader rebuilds.
Training writes the splits and computes the model's inputs with the same functions it reads
them back with (save_splits, model_inputs), so a run is opened exactly as it was trained.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from safetensors.torch import load as safetensors_load

from core.atomic import atomic_write_bytes
from core.checksums import Verdict, sealed_safetensors, verify
from core.config import RunConfig
from core.data import Dataset, Splits, load_dataset
from core.devices import resolve_device
from core.errors import ConfigError, RunError
from core.features import dataset_features, standardise
from core.models import Autoencoder, build_model
from core.run_checks import check, checksum_problem, damaged, splits_problem, unverified_note
from core.runs import Run
from core.snapshots import SNAPSHOTS_DIR, snapshot_epochs, snapshot_path
from core.sorting import sorting_path

SPLITS_FILE = "splits.safetensors"

Prepare = Callable[[str, int, int], None]  # (what, done, total) of the work before training; total 0 = a note


@dataclass(frozen=True, eq=False)
class TrainedRun:
    """A finished (or stopped) run, ready to encode: everything on the CPU, the model in eval mode."""

    run: Run
    config: RunConfig
    dataset: Dataset
    splits: Splits
    model: Autoencoder
    inputs: torch.Tensor  # what the model reads: dataset.x, or the backbone's features of every row
    notes: tuple[str, ...] = ()  # what the user should hear once about opening it (files that cannot be verified)


def model_inputs(dataset: Dataset, config: RunConfig, on_prepare: Prepare | None = None) -> torch.Tensor:
    """What the autoencoder reads: `dataset.x`, or the backbone's features of every row.

    Features are standardised (see `core.features.standardise`); on birds that also clustered
    better than raw features (N2D ACC 0.974 vs 0.951, mean of 3 seeds).
    """
    backbone = config.features.backbone
    if backbone is None:
        return dataset.x
    what = f"{backbone} features"
    features = dataset_features(
        dataset,
        backbone,
        resolve_device(config.train.device),
        config.features.batch_size,
        progress=None if on_prepare is None else lambda done, total: on_prepare(what, done, total),
        input_size=config.features.input_size,
        on_note=None if on_prepare is None else lambda note: on_prepare(note, 0, 0),
    )
    return standardise(features, features)


def save_splits(run: Run, splits: Splits) -> Splits:
    """The run's train / val / test row indices, so evaluation later uses the very same rows."""
    tensors = {name: torch.as_tensor(getattr(splits, name), dtype=torch.int64) for name in ("train", "val", "test")}
    atomic_write_bytes(run.path / SPLITS_FILE, sealed_safetensors(tensors))
    return splits


def load_splits(run: Run, dataset: Dataset | None = None) -> Splits:
    """The indices written when the run first trained; RunError if absent or not fitting `dataset`."""
    path = run.path / SPLITS_FILE
    if not path.exists():
        raise RunError(f"Run {run.id} has no saved splits: it never started training.")
    try:
        tensors = safetensors_load(path.read_bytes())
    except Exception as exc:  # safetensors raises its own error types, and others on garbage headers
        raise damaged(run.path, f"cannot read {SPLITS_FILE} ({exc})") from exc
    check(run.path, checksum_problem(path))
    check(run.path, splits_problem(tensors, None if dataset is None else len(dataset)))
    return Splits(**{name: tensors[name].numpy().astype(np.int64) for name in ("train", "val", "test")})


def load_model(run: Run) -> Autoencoder:
    """The trained autoencoder, built from the run's config, on the CPU, in eval mode."""
    state, _, meta = run.load_checkpoint()
    shape = meta.get("input_shape")
    if not shape:
        raise RunError(f"Checkpoint of run {run.id} does not record the input shape; train it again.")
    try:
        model = build_model(run.config.model, tuple(shape))
    except ConfigError as exc:  # the shape fits the config's family no more: one of the two was edited
        raise damaged(run.path, f"its config cannot build a model for the checkpoint's input shape ({exc})") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise damaged(run.path, f"the checkpoint does not fit its model config ({exc})") from exc
    return model.to("cpu").eval()


def load_trained(run: Run) -> TrainedRun:
    """Dataset, the run's own splits, and the trained model (CPU, eval) in one bundle.

    A damaged checkpoint or split file raises RunError; what the user should still hear (a replay
    snapshot or features cache that was damaged, files from before checksums) comes back as `notes`.
    """
    model = load_model(run)
    dataset = load_dataset(run.config.data)
    notes: list[str] = []  # on_prepare's total 0 is a note (a features cache computed again, and why)
    inputs = model_inputs(dataset, run.config, lambda what, _, total: None if total else notes.append(what))
    trained_shape = tuple(run.checkpoint_metadata().get("input_shape") or ())
    if trained_shape != tuple(inputs.shape[1:]):
        raise RunError(
            f"Run {run.id} was trained on inputs shaped {trained_shape}, "
            f"but its dataset now gives {tuple(inputs.shape[1:])}; the data changed since."
        )
    splits = load_splits(run, dataset)
    return TrainedRun(
        run=run,
        config=run.config,
        dataset=dataset,
        splits=splits,
        model=model,
        inputs=inputs,
        notes=tuple(notes + integrity_notes(run)),
    )


def integrity_notes(run: Run) -> list[str]:
    """A note for each damaged snapshot (the replay leaves its epoch out), and one for every file of the
    run written before checksums; a damaged checkpoint or split file raised before this is asked."""
    notes, unsealed = [], []
    snapshots = [snapshot_path(run.path, epoch) for epoch in snapshot_epochs(run.path)]
    for path in [run.checkpoint_path, run.path / SPLITS_FILE, *snapshots, sorting_path(run.path)]:
        name = path.relative_to(run.path).as_posix()
        try:
            verdict = verify(path)
        except OSError:  # absent (sorting.json is optional) or gone since: its reader says what matters
            continue
        if verdict is Verdict.UNSEALED:
            unsealed.append(name)
        elif verdict is Verdict.MISMATCH and path in snapshots:
            todo = f"the replay leaves epoch {int(path.stem.split('-')[1])} out; delete {path} or put back a good copy"
            notes.append(str(damaged(run.path, checksum_problem(path, name), todo)))
    if unsealed:
        old_snapshots = [name for name in unsealed if name.startswith(SNAPSHOTS_DIR)]
        if len(old_snapshots) > 1:
            unsealed = [name for name in unsealed if name not in old_snapshots] + [f"{len(old_snapshots)} snapshots"]
        notes.append(unverified_note(run.path, unsealed))
    return notes
