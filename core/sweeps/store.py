"""Sweeps on disk, beside the runs they made (no Ray here: the dashboard and `runs` read this).

    <runs_dir>/_sweeps/<sweep id>/sweep.json    what was asked (base config, space, samples), state, best run
    <runs_dir>/<run id>/trial.json             in each trial's ordinary run folder: sweep id, settings, score

The sweep folder starts with "_", which is not a run id, so RunStore.list() never mistakes it for
a run. Each trial writes only into its own run folder, so trials on many nodes never contend for
one file; the table of a sweep is rebuilt by reading the trial.json of the runs that name it.
"""

from __future__ import annotations

import json
import math
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_json
from core.errors import RunError
from core.runs import RunStore

SWEEPS_DIR = "_sweeps"
SWEEP_FILE = "sweep.json"
TRIAL_FILE = "trial.json"
SWEEP_STATES = ("created", "running", "finished", "stopped", "failed")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class TrialRow:
    """One trial of a sweep: its run, the settings it tried, how it ended and how it scored."""

    run_id: str
    status: str
    params: dict[str, Any]
    score: float | None  # lower is better; None until the trial finished (or when stopped early)
    check: dict[str, float] = field(default_factory=dict)  # ACC / NMI against labels: a check, never the criterion
    epochs_done: int = 0
    epochs: int = 0
    message: str | None = None
    created: str = ""


class Sweep:
    """One sweep folder; every accessor reads the disk, so a page polling it is never stale."""

    def __init__(self, store: SweepStore, sweep_id: str):
        self.store = store
        self.id = sweep_id
        self.path = store.root / sweep_id

    def __repr__(self) -> str:
        return f"Sweep({self.id!r})"

    def record(self) -> dict[str, Any]:
        try:
            return json.loads((self.path / SWEEP_FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunError(f"No sweep {self.id} in {self.store.root}.") from None
        except (OSError, ValueError) as exc:
            raise RunError(f"Sweep {self.id} is damaged: cannot read {SWEEP_FILE} ({exc}).") from exc

    def update(self, **fields: Any) -> dict[str, Any]:
        record = self.record()
        record.update(fields, updated=now_iso())
        atomic_write_json(self.path / SWEEP_FILE, record)
        return record

    def trials(self) -> list[TrialRow]:
        """The sweep's trials, oldest first, read from the run folders that name this sweep."""
        rows = []
        for summary in self.store.runs.list():
            run = self.store.runs.open(summary.id) if summary.status != "damaged" else None
            trial = run.read_json(TRIAL_FILE) if run is not None and (run.path / TRIAL_FILE).exists() else None
            if not trial or trial.get("sweep") != self.id:
                continue
            score = trial.get("score")
            rows.append(
                TrialRow(
                    run_id=summary.id,
                    status=summary.status,
                    params=dict(trial.get("params") or {}),
                    score=score if isinstance(score, (int, float)) and math.isfinite(score) else None,
                    check=dict(trial.get("check") or {}),
                    epochs_done=summary.epochs_done,
                    epochs=summary.epochs,
                    message=summary.message,
                    created=summary.created,
                )
            )
        rows.sort(key=lambda r: (r.created, r.run_id))
        return rows

    def best(self) -> TrialRow | None:
        """The finished trial with the lowest score, or None before any finished."""
        scored = [t for t in self.trials() if t.score is not None and t.status == "finished"]
        return min(scored, key=lambda t: t.score) if scored else None


class SweepStore:
    """The sweeps of one runs folder."""

    def __init__(self, runs_dir: str | Path | None = None):
        self.runs = RunStore(runs_dir)
        self.root = self.runs.root / SWEEPS_DIR

    def create(self, base_config: Any, space: Any, samples: int, **fields: Any) -> Sweep:
        """A new sweep record in state "created"; nothing runs yet."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            sweep_id = "sweep-" + time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)
            try:
                (self.root / sweep_id).mkdir()
                break
            except FileExistsError:
                continue
        now = now_iso()
        atomic_write_json(
            self.root / sweep_id / SWEEP_FILE,
            {
                "id": sweep_id,
                "state": "created",
                "message": None,
                "created": now,
                "updated": now,
                "base_config": base_config.to_dict(),
                "space": space.to_dict(),
                "space_name": space.name,
                "samples": int(samples),
                "best_run": None,
                **fields,
            },
        )
        return Sweep(self, sweep_id)

    def open(self, sweep_id: str) -> Sweep:
        if (
            not sweep_id
            or "/" in sweep_id
            or sweep_id.startswith(".")
            or not (self.root / sweep_id / SWEEP_FILE).exists()
        ):
            raise RunError(f"No sweep {sweep_id!r} in {self.root}.")
        return Sweep(self, sweep_id)

    def list(self) -> list[dict[str, Any]]:
        """Every sweep's record, newest first; a damaged one is listed with state "damaged"."""
        if not self.root.is_dir():
            return []
        records = []
        for path in self.root.iterdir():
            if not (path / SWEEP_FILE).exists():
                continue
            try:
                records.append(Sweep(self, path.name).record())
            except RunError as exc:
                records.append({"id": path.name, "state": "damaged", "message": str(exc), "created": ""})
        records.sort(key=lambda r: (r.get("created", ""), r["id"]), reverse=True)
        return records
