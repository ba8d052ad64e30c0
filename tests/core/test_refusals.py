"""Refused inputs leave nothing behind; disk trouble is a user error; killed writes are cleaned up.

Every case feeds a bad input through the real CLI (in process) or the job registry and checks the
exit code, the message, and what is left on disk. Disk faults (full, read-only, no permission)
are injected at the os call that would meet them, since tests cannot fill the real disk.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import cli
from core.atomic import atomic_write_bytes, disk_error
from core.config import DataSpec, RunConfig
from core.data.splits import min_rows
from core.errors import DataError, DiskError, RunError
from core.experiment import execute, start_run
from core.gate import prepare
from core.jobs import JobRegistry
from core.models import ModelConfig
from core.runs import RunStore
from core.training import TrainConfig

SMALL = ["--model", "dense", "--latent-dim", "2", "--width", "8", "--depth", "1", "--epochs", "1", "--device", "cpu"]


def run_folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def train(capsys, runs: Path, *args: str) -> tuple[int, str]:
    code = cli.main(["train", *args, *SMALL, "--runs-dir", str(runs)])
    return code, capsys.readouterr().err


def write_npz(path: Path, rows: int) -> Path:
    np.savez(path, x=np.random.default_rng(0).random((rows, 5)).astype(np.float32))
    return path


def write_images(folder: Path, count: int) -> Path:
    (folder / "a").mkdir(parents=True)
    for i in range(count):
        Image.fromarray(np.full((8, 8), i * 20, dtype=np.uint8)).save(folder / "a" / f"{i}.png")
    return folder


def bad_data(tmp_path: Path, kind: str) -> list[str]:
    """Command-line arguments naming one bad dataset, built on the spot."""
    if kind == "empty folder":
        (tmp_path / "empty").mkdir()
        return ["--dataset", "folder", "--data-dir", str(tmp_path / "empty")]
    if kind == "folder of text files":
        (tmp_path / "texts").mkdir()
        (tmp_path / "texts" / "a.png").write_text("not an image")
        return ["--dataset", "folder", "--data-dir", str(tmp_path / "texts")]
    if kind == "three images":
        return ["--dataset", "folder", "--data-dir", str(write_images(tmp_path / "three", 3))]
    if kind == "missing npz":
        return ["--dataset", "npz", "--data-dir", str(tmp_path / "missing.npz")]
    if kind == "npz of three rows":
        return ["--dataset", "npz", "--data-dir", str(write_npz(tmp_path / "three.npz", 3))]
    if kind == "npz of one row":
        return ["--dataset", "npz", "--data-dir", str(write_npz(tmp_path / "one.npz", 1))]
    if kind == "csv header only":
        (tmp_path / "head.csv").write_text("a,b,c\n")
        return ["--dataset", "table", "--data-dir", str(tmp_path / "head.csv")]
    if kind == "csv of text":
        (tmp_path / "words.csv").write_text("a,b\nx,y\nz,w\nq,r\ns,t\nu,v\n")
        return ["--dataset", "table", "--data-dir", str(tmp_path / "words.csv")]
    if kind == "csv of three rows":
        (tmp_path / "short.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
        return ["--dataset", "table", "--data-dir", str(tmp_path / "short.csv")]
    raise AssertionError(kind)


BAD_DATA = [
    "empty folder",
    "folder of text files",
    "three images",
    "missing npz",
    "npz of three rows",
    "npz of one row",
    "csv header only",
    "csv of text",
    "csv of three rows",
]


@pytest.mark.parametrize("kind", BAD_DATA)
def test_refused_data_leaves_no_run_folder(tmp_path, capsys, kind):
    runs = tmp_path / "runs"
    code, err = train(capsys, runs, *bad_data(tmp_path, kind))
    assert code == 2, err
    assert err.startswith("latentboard: error: ") and "unexpected" not in err
    assert run_folders(runs) == []


@pytest.mark.parametrize("kind", ["three images", "npz of three rows", "csv of three rows"])
def test_too_few_rows_states_the_minimum(tmp_path, capsys, kind):
    code, err = train(capsys, tmp_path / "runs", *bad_data(tmp_path, kind))
    assert code == 2 and "training needs at least 4" in err


@pytest.mark.parametrize("kind", ["missing npz", "npz of three rows", "empty folder"])
def test_the_dashboards_job_refuses_before_a_folder_exists(tmp_path, kind):
    args = bad_data(tmp_path, kind)
    config = RunConfig(
        data=DataSpec(args[1], path=args[3]),
        model=ModelConfig("dense", latent_dim=2, width=8, depth=1),
        train=TrainConfig(epochs=1, device="cpu"),
    )
    registry = JobRegistry(RunStore(tmp_path / "runs"))
    with pytest.raises(DataError):
        registry.start(config)
    assert run_folders(tmp_path / "runs") == [] and registry.active() == []


BAD_FLAGS = {
    "max-samples 1": (["--max-samples", "1"], "use at least 4"),
    "max-samples 2": (["--max-samples", "2"], "use at least 4"),
    "max-samples 3": (["--max-samples", "3"], "use at least 4"),
    "max-samples 5, big val and test": (
        ["--max-samples", "5", "--val-fraction", "0.4", "--test-fraction", "0.4"],
        f"use at least {min_rows(0.4, 0.4)}",
    ),
    "seed -1": (["--seed", "-1"], "from 0 to 4294967295 (got -1)"),
    "seed 2**32": (["--seed", str(2**32)], "from 0 to 4294967295"),
    "train seed -5": (["--train-seed", "-5"], "train seed"),
    "split seed -1": (["--split-seed", "-1"], "split seed"),
    "data seed -2": (["--data-seed", "-2"], "data seed"),
}


@pytest.mark.parametrize("case", BAD_FLAGS, ids=list(BAD_FLAGS))
def test_refused_settings_leave_no_run_folder(tmp_path, capsys, case):
    flags, message = BAD_FLAGS[case]
    runs = tmp_path / "runs"
    code, err = train(capsys, runs, "--dataset", "digits", *flags)
    assert code == 2 and message in err, err
    assert run_folders(runs) == []


def test_min_rows_leaves_two_training_rows():
    assert min_rows(0.1, 0.2) == 4 and min_rows(0, 0) == 2
    assert min_rows(0.4, 0.4) > 5


# --------------------------------------------------------------------------- the runs folder and the disk


@pytest.mark.parametrize(
    "command",
    [
        ["train", "--dataset", "digits", "--max-samples", "50", *SMALL],
        ["runs"],
        ["evaluate", "20200101-000000-aaaa"],
        ["report", "20200101-000000-aaaa"],
    ],
    ids=["train", "runs", "evaluate", "report"],
)
@pytest.mark.parametrize("where", ["file", "below a file"])
def test_runs_dir_that_is_a_file(tmp_path, capsys, command, where):
    (tmp_path / "file").write_text("x")
    runs = tmp_path / "file" if where == "file" else tmp_path / "file" / "runs"
    code = cli.main([*command, "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and "is a file, not a folder" in err and "--runs-dir" in err, err
    assert (tmp_path / "file").read_text() == "x"


DISK_FAULTS = {
    "disk full": (errno.ENOSPC, "the disk is full"),
    "quota": (errno.EDQUOT, "quota"),
    "read-only": (errno.EROFS, "read-only"),
    "no permission": (errno.EACCES, "permission denied"),
    "not permitted": (errno.EPERM, "permission denied"),
}


@pytest.mark.parametrize("fault", DISK_FAULTS, ids=list(DISK_FAULTS))
def test_a_failed_first_write_leaves_no_run_folder(tmp_path, capsys, monkeypatch, fault):
    code_, message = DISK_FAULTS[fault]

    def fsync(fd):
        raise OSError(code_, os.strerror(code_))

    runs = tmp_path / "runs"
    monkeypatch.setattr(os, "fsync", fsync)
    code, err = train(capsys, runs, "--dataset", "digits", "--max-samples", "50")
    assert code == 2 and message in err and "--runs-dir or LATENTBOARD_RUNS_DIR" in err, err
    assert run_folders(runs) == []


@pytest.mark.parametrize("fault", ["disk full", "no permission"])
def test_a_runs_dir_that_cannot_be_made(tmp_path, monkeypatch, fault):
    code_, message = DISK_FAULTS[fault]
    real_mkdir = os.mkdir

    def mkdir(path, *args, **kwargs):
        if "runs" in str(path):
            raise OSError(code_, os.strerror(code_))
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "mkdir", mkdir)
    with pytest.raises(DiskError, match=message):
        RunStore(tmp_path / "runs").create(RunConfig())
    assert not (tmp_path / "runs").exists()


def test_disk_full_while_checkpointing_is_a_user_error(tmp_path, capsys, monkeypatch):
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("checkpoint.safetensors"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    runs = tmp_path / "runs"
    code, err = train(capsys, runs, "--dataset", "digits", "--max-samples", "50")
    assert code == 2 and "the disk is full" in err and "checkpoint.safetensors" in err, err
    (folder,) = run_folders(runs)
    run = RunStore(runs).open(folder)
    assert run.status() == "failed" and "disk is full" in run.info()["message"]
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]  # the failed write cleaned up


def test_other_os_errors_stay_bugs(tmp_path):
    assert disk_error(OSError(errno.EIO, "I/O error"), tmp_path) is None
    assert "disk is full" in str(disk_error(OSError(errno.ENOSPC, "full"), tmp_path / "x"))


# --------------------------------------------------------------------------- leftovers


@pytest.fixture
def stopped_run(tmp_path):
    config = RunConfig(
        data=DataSpec("digits", max_samples=60),
        model=ModelConfig("dense", latent_dim=2, width=8, depth=1),
        train=TrainConfig(epochs=2, device="cpu"),
    )
    run = start_run(RunStore(tmp_path / "runs"), config)
    stop = threading.Event()
    stop.set()
    list(execute(run, stop=stop, dataset=prepare(config)))
    assert run.status() == "stopped"
    return run


LEFTOVERS = [
    ".checkpoint.safetensors.k2j4h1.tmp",
    ".status.json.abc123.tmp",
    ".splits.safetensors.x.tmp",
    "cache/.umap-all.npy.q9.tmp",
]
KEPT = ["notes.tmp", ".hidden", "cache/keep.npy"]


def test_killed_writes_are_cleaned_up_when_the_run_is_next_trained(stopped_run):
    (stopped_run.path / "cache").mkdir(exist_ok=True)
    for name in LEFTOVERS + KEPT:
        (stopped_run.path / name).write_bytes(b"half a file")
    (stopped_run.path / ".folder.tmp").mkdir()  # not a file a write left: kept
    list(execute(stopped_run, resume=True))
    assert stopped_run.status() == "finished"
    assert not any((stopped_run.path / name).exists() for name in LEFTOVERS)
    assert all((stopped_run.path / name).exists() for name in KEPT) and (stopped_run.path / ".folder.tmp").is_dir()


def test_leftovers_stay_while_another_process_trains(stopped_run):
    leftover = stopped_run.path / LEFTOVERS[0]
    leftover.write_bytes(b"someone is writing this")
    other = RunStore(stopped_run.path.parent).open(stopped_run.id)
    with other.training_lock():
        with pytest.raises(RunError, match="already being trained"):
            list(execute(stopped_run, resume=True))
        assert leftover.exists()
    with pytest.raises(RunError, match="training lock"):
        stopped_run.remove_leftovers()


def test_a_run_folder_without_config_is_listed_as_damaged(tmp_path):
    store = RunStore(tmp_path / "runs")
    good = store.create(RunConfig())
    (store.root / "20200101-000000-abcd").mkdir()  # what a kill between mkdir and the first write leaves
    (store.root / "not-a-run").mkdir()
    rows = {row.id: row for row in store.list()}
    assert set(rows) == {good.id, "20200101-000000-abcd"}
    assert rows["20200101-000000-abcd"].status == "damaged" and "config.json" in rows["20200101-000000-abcd"].message
    store.delete("20200101-000000-abcd")
    assert [row.id for row in store.list()] == [good.id]


def test_atomic_write_into_a_missing_folder_is_still_a_bug(tmp_path):
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(tmp_path / "missing" / "x", b"1")
