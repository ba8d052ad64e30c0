"""Training replayed: per-epoch code snapshots written, read back, truncated on resume, and maps aligned."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.config import RunConfig
from core.data import DataSpec
from core.experiment import execute, start_run
from core.gate import prepare
from core.models import ModelConfig
from core.runs import RunStore
from core.snapshots import (
    SNAPSHOTS_DIR,
    SnapshotRecorder,
    align,
    aligned_maps,
    read_snapshots,
    sample_rows,
    save_snapshot,
    snapshot_epochs,
    snapshot_path,
    truncate_snapshots,
)
from core.training import TrainConfig


def test_the_sample_is_seeded_sorted_and_never_larger_than_the_data():
    assert np.array_equal(sample_rows(50, seed=1), np.arange(50))
    a, b = sample_rows(10_000, seed=3), sample_rows(10_000, seed=3)
    assert len(a) == 2000 and np.array_equal(a, b) and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, sample_rows(10_000, seed=4))


def test_snapshots_round_trip_and_truncate(tmp_path):
    rows = np.array([0, 3, 7])
    for epoch in (0, 1, 2, 3):
        save_snapshot(tmp_path, epoch, rows, np.full((3, 2), epoch, dtype=np.float32))
    replay = read_snapshots(tmp_path)
    assert replay.epochs == [0, 1, 2, 3] and np.array_equal(replay.rows, rows) and not replay.notes
    assert replay.codes[2].shape == (3, 2) and np.all(replay.codes[2] == 2)
    assert truncate_snapshots(tmp_path, after_epoch=1) == 2
    assert snapshot_epochs(tmp_path) == [0, 1]


def test_a_run_without_snapshots_reads_as_an_empty_replay(tmp_path):
    replay = read_snapshots(tmp_path)
    assert replay.epochs == [] and len(replay.rows) == 0 and not replay.notes


def test_damaged_snapshots_are_skipped_with_a_note(tmp_path):
    rows = np.arange(4)
    for epoch in range(4):
        save_snapshot(tmp_path, epoch, rows, np.random.default_rng(epoch).normal(size=(4, 3)))
    snapshot_path(tmp_path, 1).write_bytes(b"not a safetensors file")
    save_snapshot(tmp_path, 2, np.arange(1, 5), np.zeros((4, 3)))  # other rows than the rest
    save_snapshot(tmp_path, 5, rows, np.full((4, 3), np.nan))
    replay = read_snapshots(tmp_path)
    assert replay.epochs == [0, 3] and len(replay.notes) == 3
    assert "epoch-00001" in replay.notes[0] and "rows differ" in replay.notes[1] and "non-finite" in replay.notes[2]
    assert read_snapshots(tmp_path, n_rows=3).epochs == []  # row 3 is past a 3-row dataset


def test_a_rotated_and_mirrored_copy_aligns_back_onto_the_original():
    y = np.random.default_rng(0).normal(size=(200, 2))
    angle = 1.1
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    back = align(y @ turn + 5.0, y)
    assert np.allclose(back, y - y.mean(axis=0), atol=1e-8)


def test_aligned_maps_move_little_between_similar_epochs():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(300, 6)) * [5, 3, 1, 0.5, 0.1, 0.1]
    codes = [z + 0.05 * rng.normal(size=z.shape) for _ in range(4)]
    codes[2] = -codes[2]  # PCA may flip a sign between epochs; the fit undoes it
    maps = aligned_maps(codes)
    assert len(maps) == 4 and all(m.shape == (300, 2) and m.dtype == np.float32 for m in maps)
    for before, after in zip(maps, maps[1:]):
        assert np.sqrt(((after - before) ** 2).sum(axis=1).mean()) < 0.1  # unit-RMS maps: points barely move


def test_the_recorder_encodes_its_sample_without_touching_training_mode(tmp_path):
    model = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Dropout(0.5))
    model.encode = model.forward
    model.train()
    recorder = SnapshotRecorder(tmp_path, torch.randn(10, 5), seed=0, size=4)
    recorder.record(model, 1)
    recorder.record(model, 2)
    assert model.training
    replay = read_snapshots(tmp_path)
    assert replay.epochs == [1, 2] and np.array_equal(replay.codes[0], replay.codes[1])  # eval mode: no dropout


@pytest.mark.slow
def test_training_saves_a_snapshot_per_epoch_and_resume_continues_them(tmp_path):
    config = RunConfig(
        data=DataSpec(source="digits"),
        model=ModelConfig(family="dense", latent_dim=3, width=16, depth=1),
        train=TrainConfig(epochs=3, batch_size=256, device="cpu"),
    )
    run = start_run(RunStore(tmp_path / "runs"), config)
    stop = threading.Event()
    for event in execute(run, stop=stop, dataset=prepare(config)):
        if event.kind == "epoch" and event.epoch == 2:
            stop.set()
    assert snapshot_epochs(run.path) == [0, 1, 2]
    save_snapshot(run.path, 9, np.arange(3), np.zeros((3, 3)))  # as if a crash lost epochs after the checkpoint
    (run.path / SNAPSHOTS_DIR / ".epoch-00003.safetensors.x.tmp").write_bytes(b"half")
    list(execute(run, resume=True))
    replay = read_snapshots(run.path)
    assert replay.epochs == [0, 1, 2, 3] and not replay.notes and replay.codes[0].shape == (1797, 3)
    assert not list((run.path / SNAPSHOTS_DIR).glob("*.tmp"))
