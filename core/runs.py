"""Runs on disk: one folder per run, written so that a crash never leaves it half-readable.

    store = RunStore()                      # default: core.paths.default_runs_dir()
    run = store.create(config)              # <root>/20261124-143012-a1b2/
    run.status()                            # created / running / finished / stopped / failed / interrupted

A run folder holds:

    config.json              RunConfig.to_dict() + id, created time, latentboard version
    status.json              state, message, pid, host, times, epochs done, latest losses
    metrics.jsonl            append-only, one Progress.to_dict() per line
    checkpoint.safetensors   model weights ("model.*") + trainer state ("trainer.*"), JSON metadata, sha256
    splits.safetensors       train / val / test row indices (core.trained writes and reads them)
    snapshots/               epoch-00003.safetensors: codes of a fixed sample per epoch (core.snapshots; optional)
    sorting.json             the person's cluster names, merges and moves (core.sorting; optional, user work)
    lock                     flock'ed while a process trains the run
    cache/                   projections and other derived results other modules keep

Every file except metrics.jsonl is written to a temporary name in the same folder, fsync'd and
renamed over the old one, so a reader sees the old version or the new one, never half of either.
metrics.jsonl is only appended to; a reader skips a torn last line. The checkpoint, the splits,
the snapshots and sorting.json carry a sha256 inside them (core.checksums), checked when read: a
file whose bytes changed on disk after it was written is reported as damaged, never computed from.

A process that dies while training cannot update status.json, so "running" alone is not proof of
life: the trainer holds an flock on `lock` for as long as it trains, the kernel drops it when the
process dies, and `status()` reports "interrupted" when status.json says running but nobody holds
the lock. Checkpoints are safetensors files, so loading a run never unpickles anything.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open

from core.atomic import atomic_write_bytes, atomic_write_json, remove_temporaries, writing
from core.checksums import sealed_safetensors
from core.config import RunConfig, stored_run_config
from core.errors import ConfigError, DiskError, RunError
from core.metrics_log import MetricsTail, read_events
from core.paths import default_runs_dir
from core.run_checks import (
    advice,
    check,
    checkpoint_meta_problem,
    checksum_problem,
    config_problem,
    damaged,
    status_problem,
    tensors_problem,
)
from core.snapshots import SNAPSHOTS_DIR
from core.training import Progress, Trainer

try:  # POSIX; on Windows we fall back to asking whether the owning pid is alive
    import fcntl
except ImportError:  # pragma: no cover - exercised only on platforms without fcntl
    fcntl = None

STATES = ("created", "running", "finished", "stopped", "failed", "interrupted")
CONFIG_FILE = "config.json"
FOLDER_KEYS = ("id", "created", "latentboard_version")  # written into config.json beside RunConfig.to_dict()
STATUS_FILE = "status.json"
METRICS_FILE = "metrics.jsonl"
CHECKPOINT_FILE = "checkpoint.safetensors"
LOCK_FILE = "lock"
CACHE_DIR = "cache"
_METADATA_KEY = "latentboard"
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_MADE_ID = re.compile(r"^\d{8}-\d{6}-[0-9a-f]{4}$")  # the ids RunStore.create makes


def latentboard_version() -> str:
    # Not `core.__version__`: under pytest `core` can resolve to the tests/core namespace folder.
    try:
        from importlib.metadata import version

        return version("latentboard")
    except Exception:
        return "unknown"


# --------------------------------------------------------------------------- files


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


# --------------------------------------------------------------------------- the training lock


class _HeldLock:
    """An exclusive lock on a run folder, held for as long as one process trains it."""

    _held_here: set[str] = set()  # fallback bookkeeping (no fcntl): runs locked by this process
    _guard = threading.Lock()

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if fcntl is None:  # pragma: no cover
            with self._guard:
                if str(self.path) in self._held_here:
                    return False
                self._held_here.add(str(self.path))
                self._fd = -1
                return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        if fcntl is None:  # pragma: no cover
            with self._guard:
                self._held_here.discard(str(self.path))
        else:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
        self._fd = None


def _lock_is_free(lock_path: Path, status: dict[str, Any]) -> bool:
    """True when nobody trains the run: the lock can be taken (and is released at once)."""
    if fcntl is None:  # pragma: no cover
        if str(lock_path) in _HeldLock._held_here:
            return False
        if status.get("host") not in (None, socket.gethostname()):
            return False  # another machine's process; we cannot tell, so trust status.json
        return not _pid_alive(status.get("pid"))
    if not lock_path.exists():
        return True
    probe = _HeldLock(lock_path)
    if probe.try_acquire():
        probe.release()
        return True
    return False


def _status_for_lock(path: Path) -> dict[str, Any]:
    """status.json's pid and host, as far as they can be read (only used without fcntl)."""
    try:
        status = _read_json(path / STATUS_FILE)
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def _pid_alive(pid: Any) -> bool:  # runs: only without fcntl; core.sweeps.jobs: its sweep processes
    if not isinstance(pid, int) or pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class RunSummary:
    """One row of `latentboard runs` / the dashboard's run picker, read without loading metrics."""

    id: str
    name: str
    status: str  # one of STATES, or "damaged" when the folder cannot be read
    created: str  # ISO 8601, UTC
    dataset: str
    family: str
    epochs_done: int
    epochs: int
    train_loss: float | None
    val_loss: float | None
    message: str | None


class Run:
    """One run folder. Cheap to construct; every accessor reads the disk, so it is never stale."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.id = self.path.name
        try:
            raw = _read_json(self.path / CONFIG_FILE)
            if not isinstance(raw, dict):
                raise ValueError(f"it holds a {type(raw).__name__}, not an object")
            self.config = stored_run_config({k: v for k, v in raw.items() if k not in FOLDER_KEYS})
        except (OSError, ValueError) as exc:
            raise damaged(self.path, f"cannot read {CONFIG_FILE} ({exc})") from exc
        except ConfigError as exc:  # a setting this version does not know: a typo, or a newer latentboard's run
            raise RunError(
                f"Run {self.id} in {self.path.parent} is damaged or from another version "
                f"(latentboard {raw.get('latentboard_version', 'unknown')} wrote it, this is "
                f"{latentboard_version()}): {str(exc).rstrip('.')}; {advice(self.path)}."
            ) from exc
        check(self.path, config_problem(self.config))
        created = raw.get("created", "")
        check(
            self.path, None if isinstance(created, str) else f"{CONFIG_FILE}'s created should be text, not {created!r}"
        )
        self.created: str = created
        self._lock: _HeldLock | None = None

    @classmethod
    def _written(cls, path: Path, config: RunConfig, created: str) -> Run:
        """The run RunStore.create just wrote from `config`: nothing to read back and check again."""
        run = cls.__new__(cls)
        run.path, run.id, run.config, run.created, run._lock = path, path.name, config, created, None
        return run

    def __repr__(self) -> str:
        return f"Run({self.id!r}, {str(self.path)!r})"

    # -- status ------------------------------------------------------------------------------

    def _raw_status(self) -> dict[str, Any]:
        """status.json as written ({} before there is one); RunError if it is damaged."""
        try:
            status = _read_json(self.path / STATUS_FILE)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise damaged(self.path, f"cannot read {STATUS_FILE} ({exc})") from exc
        check(self.path, status_problem(status, STATES))
        return status

    def status(self) -> str:
        """created / running / finished / stopped / failed, or interrupted if its trainer died."""
        status = self._raw_status()
        state = status.get("state", "created")
        if state == "running" and self._lock is None and _lock_is_free(self.path / LOCK_FILE, status):
            return "interrupted"
        return state

    def info(self) -> dict[str, Any]:
        """status.json plus `id`, `path` and the derived `state` (which may say interrupted)."""
        info = self._raw_status()
        info.setdefault("state", "created")
        info["recorded_state"] = info["state"]
        info["state"] = self.status()
        info["id"] = self.id
        info["path"] = str(self.path)
        info.setdefault("epochs", self.config.train.epochs)
        info.setdefault("epochs_done", 0)
        return info

    def set_status(self, state: str, message: str | None = None, **fields: Any) -> dict[str, Any]:
        """Rewrite status.json atomically, keeping fields not given; `updated` is always refreshed."""
        if state not in STATES:
            raise ValueError(f"Unknown run state {state!r}; choose one of {', '.join(STATES)}.")
        status = self._raw_status()
        status.update(fields)
        status["state"] = state
        status["message"] = message
        status["updated"] = _now_iso()
        atomic_write_json(self.path / STATUS_FILE, status)
        return status

    @contextlib.contextmanager
    def training_lock(self, wait: float = 1.0) -> Iterator[None]:
        """Hold the run's lock while training; RunError if another trainer holds it.

        A status() probe from another process holds the lock for microseconds, so we retry
        briefly before concluding that someone is training.
        """
        lock = _HeldLock(self.path / LOCK_FILE)
        deadline = time.monotonic() + wait
        while not lock.try_acquire():
            if time.monotonic() >= deadline:
                pid = self._raw_status().get("pid")
                who = f" (pid {pid})" if pid else ""
                raise RunError(
                    f"Run {self.id} is already being trained by another process{who}; wait for it or stop it first."
                )
            time.sleep(0.05)
        self._lock = lock
        try:
            yield
        finally:
            self._lock = None
            lock.release()

    # -- metrics -----------------------------------------------------------------------------

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    def append_metrics(self, event: Progress) -> None:
        """Append one event as one JSON line and flush it to the OS."""
        line = (json.dumps(event.to_dict(), allow_nan=True) + "\n").encode("utf-8")
        with writing(self.metrics_path), open(self.metrics_path, "a+b") as f:
            # A process killed mid-write leaves a torn last line; start ours on a fresh one.
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    line = b"\n" + line
            f.write(line)
            f.flush()

    def metrics(self) -> list[Progress]:
        """Every event logged so far, oldest first; a torn or damaged line is skipped.

        A live view that polls should keep a `metrics_tail()` instead: it reads only what was added.
        """
        return read_events(self.metrics_path)

    def metrics_tail(self) -> MetricsTail:
        return MetricsTail(self.metrics_path)

    def epoch_metrics(self) -> list[Progress]:
        return [e for e in self.metrics() if e.kind == "epoch"]

    def truncate_metrics(self, after_epoch: int) -> int:
        """Drop events of epochs later than `after_epoch` (work a crash lost); returns how many.

        Used on resume so the log describes the weights in the checkpoint, and epoch numbers
        continue without duplicates.
        """
        try:
            data = self.metrics_path.read_bytes()
        except FileNotFoundError:
            return 0
        kept, dropped = [], 0
        for line in data.splitlines():
            try:
                event = Progress.from_dict(json.loads(line))
            except (ValueError, TypeError):
                dropped += bool(line.strip())
                continue
            if event.epoch > after_epoch:
                dropped += 1
            else:
                kept.append(line + b"\n")
        if dropped:
            atomic_write_bytes(self.metrics_path, b"".join(kept))
        return dropped

    # -- checkpoints -------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> Path:
        return self.path / CHECKPOINT_FILE

    @property
    def has_checkpoint(self) -> bool:
        return self.checkpoint_path.exists()

    def save_checkpoint(
        self,
        model: torch.nn.Module,
        trainer: Trainer,
        input_shape: tuple[int, ...] | None = None,
        **metadata: Any,
    ) -> None:
        """Model weights + trainer state in one safetensors file, replaced atomically.

        `input_shape` (needed to rebuild the model) defaults to `model.input_shape` if it has one.
        Extra keyword metadata must be JSON-able.
        """
        if input_shape is None:
            input_shape = getattr(model, "input_shape", None)
        trainer_tensors, trainer_meta = trainer.state_tensors()
        tensors: dict[str, torch.Tensor] = {}
        # clone(): safetensors refuses tensors that share storage (tied weights, views).
        for key, value in model.state_dict().items():
            tensors[f"model.{key}"] = value.detach().to("cpu").contiguous().clone()
        for key, value in trainer_tensors.items():
            tensors[f"trainer.{key}"] = value.detach().to("cpu").contiguous().clone()
        meta = {
            "epoch": int(trainer.epoch),
            "trainer": trainer_meta,
            "input_shape": None if input_shape is None else [int(s) for s in input_shape],
            "latentboard_version": latentboard_version(),
            "saved": _now_iso(),
            **metadata,
        }
        data = sealed_safetensors(tensors, metadata={_METADATA_KEY: json.dumps(meta, allow_nan=True)})
        atomic_write_bytes(self.checkpoint_path, data)

    def load_checkpoint(self) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict[str, Any]]:
        """(model state_dict, trainer tensors, metadata) from the checkpoint, on the CPU."""
        if not self.has_checkpoint:
            raise RunError(f"Run {self.id} has no checkpoint yet: it never finished an epoch.")
        model_state: dict[str, torch.Tensor] = {}
        trainer_tensors: dict[str, torch.Tensor] = {}
        try:
            with safe_open(str(self.checkpoint_path), framework="pt", device="cpu") as f:
                meta = self._checked_metadata(f)
                for key in f.keys():
                    prefix, _, name = key.partition(".")
                    if prefix == "model":
                        model_state[name] = f.get_tensor(key)
                    elif prefix == "trainer":
                        trainer_tensors[name] = f.get_tensor(key)
        except (SafetensorError, OSError, ValueError) as exc:
            raise damaged(self.path, f"cannot read {CHECKPOINT_FILE} ({exc})") from exc
        check(self.path, tensors_problem(model_state, "weight"))
        check(
            self.path,
            tensors_problem({k: v for k, v in trainer_tensors.items() if not k.startswith("rng.")}, "optimiser state"),
        )
        return model_state, trainer_tensors, meta

    def _checked_metadata(self, opened: Any) -> dict[str, Any]:
        """The metadata of the opened checkpoint, once its checksum and its values are checked."""
        check(self.path, checksum_problem(self.checkpoint_path))
        meta = json.loads((opened.metadata() or {}).get(_METADATA_KEY, "{}"))
        check(self.path, checkpoint_meta_problem(meta))
        return meta

    def checkpoint_metadata(self) -> dict[str, Any]:
        """The checkpoint's JSON metadata (epoch, input_shape, trainer state) without its tensors."""
        if not self.has_checkpoint:
            raise RunError(f"Run {self.id} has no checkpoint yet: it never finished an epoch.")
        try:
            with safe_open(str(self.checkpoint_path), framework="pt", device="cpu") as f:
                return self._checked_metadata(f)
        except (SafetensorError, OSError, ValueError) as exc:
            raise damaged(self.path, f"cannot read {CHECKPOINT_FILE} ({exc})") from exc

    def remove_leftovers(self) -> list[str]:
        """Delete temporary files that killed writes left behind (call with the training lock held)."""
        if self._lock is None:
            raise RunError(f"Run {self.id}: leftovers may only be removed while holding its training lock.")
        return remove_temporaries(self.path) + [
            f"{folder}/{name}"
            for folder in (CACHE_DIR, SNAPSHOTS_DIR)
            for name in remove_temporaries(self.path / folder)
        ]

    # -- other files -------------------------------------------------------------------------

    def _file(self, name: str) -> Path:
        rel = Path(name)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            raise ValueError(f"{name!r} is not a plain file name inside the run folder.")
        return self.path / rel

    def read_json(self, name: str, default: Any = None) -> Any:
        """A JSON file inside the run folder (e.g. "evaluation.json"), or `default` if absent."""
        path = self._file(name)
        try:
            return _read_json(path)
        except FileNotFoundError:
            return default
        except (OSError, ValueError) as exc:
            raise RunError(f"{name} in run {self.id} is damaged ({exc}).") from exc

    def write_json(self, name: str, obj: Any) -> Path:
        path = self._file(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, obj)
        return path

    @property
    def cache_dir(self) -> Path:
        """A folder for derived results (projections, codes) that may be deleted at any time."""
        path = self.path / CACHE_DIR
        path.mkdir(exist_ok=True)
        return path

    def summary(self) -> RunSummary:
        info = self.info()
        return RunSummary(
            id=self.id,
            name=self.config.name,
            status=info["state"],
            created=self.created,
            dataset=self.config.data.source,
            family=self.config.model.family,
            epochs_done=int(info.get("epochs_done") or 0),
            epochs=int(info.get("epochs") or self.config.train.epochs),
            train_loss=info.get("train_loss"),
            val_loss=info.get("val_loss"),
            message=info.get("message"),
        )


class RunStore:
    """The folder of runs: create, open, list, delete."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root).expanduser() if root is not None else default_runs_dir()

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    def _check_root(self) -> None:
        for folder in (self.root, *self.root.parents):
            if folder.exists():
                if not folder.is_dir():
                    raise DiskError(
                        f"The runs folder {self.root} cannot be made: {folder} is a file, not a folder; "
                        "choose another with --runs-dir or LATENTBOARD_RUNS_DIR."
                    )
                return

    def create(self, config: RunConfig) -> Run:
        """A new, empty run folder holding `config`; its status is "created".

        A write that fails (disk full, no permission) removes the folder again, so no run is
        left without its config.
        """
        self._check_root()
        with writing(self.root):
            self.root.mkdir(parents=True, exist_ok=True)
            while True:
                run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(2)
                path = self.root / run_id
                try:
                    path.mkdir()
                    break
                except FileExistsError:
                    continue
        created = _now_iso()
        try:
            atomic_write_json(
                path / CONFIG_FILE,
                {**config.to_dict(), "id": run_id, "created": created, "latentboard_version": latentboard_version()},
            )
            atomic_write_json(
                path / STATUS_FILE,
                {
                    "state": "created",
                    "message": None,
                    "created": created,
                    "updated": created,
                    "epochs_done": 0,
                    "epochs": config.train.epochs,
                },
            )
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return Run._written(path, config, created)

    def _path(self, run_id: str) -> Path:
        if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
            raise RunError(f"{run_id!r} is not a run id; `latentboard runs` lists them.")
        return self.root / run_id

    def open(self, run_id: str) -> Run:
        path = self._path(run_id)
        self._check_root()
        if not (path / CONFIG_FILE).exists():
            raise RunError(f"No run {run_id} in {self.root}; `latentboard runs` lists them.")
        return Run(path)

    def list(self) -> list[RunSummary]:
        """Every run, newest first; a folder that cannot be read is listed as "damaged"."""
        self._check_root()
        if not self.root.is_dir():
            return []
        rows = []
        for path in self.root.iterdir():
            if not path.is_dir() or path.name.startswith(".") or not _RUN_ID.match(path.name):
                continue
            if (
                not (path / CONFIG_FILE).exists()
                and not (path / STATUS_FILE).exists()
                and not _MADE_ID.match(path.name)
            ):
                continue  # not a run folder
            try:
                rows.append(Run(path).summary())
            except Exception as exc:  # a damaged folder must not hide the others
                rows.append(RunSummary(path.name, "", "damaged", "", "", "", 0, 0, None, None, str(exc)))
        rows.sort(key=lambda r: (r.created, r.id), reverse=True)
        return rows

    def ids(self) -> list[str]:
        return [row.id for row in self.list()]

    def delete(self, run_id: str) -> None:
        """Remove a run folder; refused while it is training."""
        path = self._path(run_id)
        if not path.is_dir():
            raise RunError(f"No run {run_id} in {self.root}; `latentboard runs` lists them.")
        if not _lock_is_free(path / LOCK_FILE, _status_for_lock(path)):  # a damaged run may be deleted too
            raise RunError(f"Run {run_id} is training; stop it before deleting it.")
        shutil.rmtree(path)
