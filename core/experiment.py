"""One training run end to end: data -> splits -> model -> trainer -> run folder.

CONTRACT (keep these names and signatures; the CLI, the job registry and the dashboard call them):

    config = RunConfig(data=DataSpec("digits"), model=ModelConfig("conv"), train=TrainConfig(epochs=5))
    dataset = core.gate.prepare(config)              # checks config and data before any folder exists
    run = start_run(store, config)                   # core.runs.RunStore.create; the gate checked it
    for event in execute(run, stop=threading.Event(), dataset=dataset):   # writes metrics, checkpoints, status
        ...
    for event in execute(store.open(run_id), resume=True): ...   # continue from the last checkpoint

Opening a finished run again (TrainedRun, load_trained) is core.trained's, so that readers
never import the trainer's wiring.

Lifecycle of a run's status: created -> running -> finished | stopped | failed; a trainer that
dies without a word shows as "interrupted" (see core.runs). stopped / interrupted / failed runs
resume from their last checkpoint; finished ones refuse.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import torch

from core.config import RunConfig
from core.data import Dataset, load_dataset, make_splits
from core.data.splits import check_enough_rows
from core.errors import LatentboardError, RunError
from core.models import build_model
from core.run_checks import damaged
from core.runs import Run, RunStore
from core.snapshots import SnapshotRecorder, snapshot_epochs, truncate_snapshots
from core.throughput import Throughput
from core.trained import SPLITS_FILE, Prepare, load_splits, model_inputs, save_splits
from core.training import Progress, Trainer

_SEEDING = threading.Lock()


# --------------------------------------------------------------------------- running a config


def start_run(store: RunStore, config: RunConfig) -> Run:
    """The run folder (status "created") for a config that passed the gate, `core.gate.prepare`.

    `execute(run)` trains it. No second check here: the gate runs once per start.
    """
    return store.create(config)


def execute(
    run: Run,
    stop: threading.Event | None = None,
    resume: bool = False,
    on_prepare: Prepare | None = None,
    dataset: Dataset | None = None,
) -> Iterator[Progress]:
    """Train `run`, writing metrics, checkpoints and status as it goes; yields every Progress.

    `stop` is checked between batches; when set, what was learned so far is checkpointed and the
    run ends "stopped". `resume=True` continues a stopped, interrupted or failed run from its last
    checkpoint (epoch numbers continue). The run's lock is held throughout, so a second trainer
    of the same run fails with RunError instead of interleaving. `on_prepare` hears what loading
    noticed (skipped files, total 0) and the progress of computing backbone features; the run's
    status message says the same for the dashboard. `dataset` is `prepare(run.config)`'s, when
    the caller loaded it already; otherwise it is loaded from the config (as on resume).
    Temporary files a killed write left in the run folder are removed first, under the lock.
    """
    stop = stop if stop is not None else threading.Event()
    with run.training_lock():
        run.remove_leftovers()
        yield from _execute_locked(run, stop, resume, on_prepare, dataset)


def _status_reporter(run: Run, on_prepare: Prepare | None) -> Prepare:
    """Pass preparation news on, and show it in the run's status at most twice a second."""
    last = [0.0]
    speed = Throughput()  # one count for the run: preparation computes the features once

    def report(what: str, done: int, total: int) -> None:
        if on_prepare is not None:
            on_prepare(what, done, total)
        if not total:
            return
        speed.update(done, total)
        now = time.monotonic()
        if now - last[0] > 0.5 or done == total:
            last[0] = now
            run.set_status("running", f"Computing {what}: {speed.summary()}.")

    return report


def _execute_locked(
    run: Run, stop: threading.Event, resume: bool, on_prepare: Prepare | None, dataset: Dataset | None
) -> Iterator[Progress]:
    config = run.config
    before = run.info()
    recorded = before["recorded_state"]
    if resume and recorded == "finished":
        raise RunError(f"Run {run.id} already finished its {config.train.epochs} epochs; there is nothing to resume.")
    if not resume and recorded != "created":
        raise RunError(
            f"Run {run.id} was already started ({before['state']}); "
            f"continue it with `latentboard train --resume {run.id}`."
        )

    began = time.monotonic()
    spent_before = float(before.get("train_seconds") or 0.0)
    run.set_status(
        "running",
        None,
        pid=os.getpid(),
        host=socket.gethostname(),
        started=_now_iso(),
        epochs=config.train.epochs,
        epochs_done=int(before.get("epochs_done") or 0),
    )
    model = trainer = None
    input_shape: tuple[int, ...] = ()
    try:
        if dataset is None:
            dataset = load_dataset(config.data)
            check_enough_rows(len(dataset), config.split.val_fraction, config.split.test_fraction)
        report = _status_reporter(run, on_prepare)
        for note in dataset.notes:
            report(note, 0, 0)
        run.set_status("running", None, data_notes=list(dataset.notes))
        inputs = model_inputs(dataset, config, report)
        input_shape = tuple(int(s) for s in inputs.shape[1:])
        splits = (
            load_splits(run, dataset)
            if (run.path / SPLITS_FILE).exists()
            else save_splits(
                run, make_splits(dataset, config.split.val_fraction, config.split.test_fraction, config.split.seed)
            )
        )
        with _SEEDING:  # the global RNG is shared by every job thread: seed + init as one step
            torch.manual_seed(config.train.seed)
            model = build_model(config.model, input_shape)
            trainer = Trainer(model, config.train)
        if resume and run.has_checkpoint:
            state, trainer_tensors, meta = run.load_checkpoint()
            try:
                model.load_state_dict(state)
                trainer.load_state_tensors(trainer_tensors, meta.get("trainer", {}))
            except (RuntimeError, ValueError, KeyError, TypeError) as exc:
                raise damaged(run.path, f"its checkpoint does not fit its model and trainer ({exc})") from exc
        if resume:
            run.truncate_metrics(after_epoch=trainer.epoch)  # work done after the checkpoint was lost
            truncate_snapshots(run.path, after_epoch=trainer.epoch)
        snapshots = SnapshotRecorder(run.path, inputs, seed=config.split.seed)
        if trainer.epoch == 0 and 0 not in snapshot_epochs(run.path):
            snapshots.record(model, 0)  # the untrained model's codes: where the replay starts
        train_x = inputs[torch.as_tensor(splits.train)]
        val_x = inputs[torch.as_tensor(splits.val)] if len(splits.val) else None

        last: Progress | None = None
        for event in trainer.fit(train_x, val_x, stop=stop):
            run.append_metrics(event)
            if event.kind == "epoch":
                last = event
                run.save_checkpoint(model, trainer, input_shape)
                snapshots.record(model, event.epoch)
                run.set_status(
                    "running", None, **_epoch_fields(run, trainer, event, spent_before + time.monotonic() - began)
                )
            yield event

        seconds = spent_before + time.monotonic() - began
        if trainer.epoch < config.train.epochs and stop.is_set():
            run.save_checkpoint(model, trainer, input_shape)
            run.set_status(
                "stopped",
                f"Stopped after {trainer.epoch} of {config.train.epochs} epochs.",
                epochs_done=trainer.epoch,
                train_seconds=seconds,
            )
        else:  # all epochs done, or early stopping (its event says why)
            message = (
                last.message if last is not None and last.message else None
            ) or f"Finished {trainer.epoch} epochs."
            run.set_status("finished", message, epochs_done=trainer.epoch, train_seconds=seconds)
    except GeneratorExit:  # the consumer stopped listening: keep what was learned, as for stop
        _save_quietly(run, model, trainer, input_shape)
        run.set_status(
            "stopped", "Stopped: nobody was watching the training any more.", epochs_done=getattr(trainer, "epoch", 0)
        )
        raise
    except KeyboardInterrupt:  # weights may be half-updated: keep the last epoch's checkpoint instead
        run.set_status("stopped", "Interrupted (Ctrl-C); the last epoch's checkpoint is kept.")
        raise
    except LatentboardError as exc:  # TrainingDiverged, DataError, ConfigError, RunError
        run.set_status("failed", str(exc))
        raise
    except Exception as exc:
        run.set_status("failed", f"Unexpected error: {type(exc).__name__}: {exc}")
        raise


def _epoch_fields(run: Run, trainer: Any, event: Progress, seconds: float) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "epochs_done": int(trainer.epoch),
        "train_loss": event.train_loss,
        "val_loss": event.val_loss,
        "train_seconds": seconds,
    }
    best = run.info().get("best_val_loss")
    if event.val_loss is not None and math.isfinite(event.val_loss) and (best is None or event.val_loss < best):
        fields.update(best_val_loss=event.val_loss, best_epoch=event.epoch)
    device = getattr(trainer, "device", None)
    if device is not None:
        fields["device"] = str(device)
    return fields


def _save_quietly(run: Run, model: Any, trainer: Any, input_shape: tuple[int, ...]) -> None:
    if model is None or trainer is None:
        return
    try:
        run.save_checkpoint(model, trainer, input_shape)
    except Exception:  # already on the way out; the previous checkpoint stays
        pass


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")
