"""The run folder: atomic files, an append-only log that survives a torn line, the liveness lock."""

from __future__ import annotations

import dataclasses
import json
import os
import threading

import pytest
import torch

from core.atomic import atomic_write_bytes, atomic_write_json
from core.config import RunConfig
from core.data import DataSpec, make_splits
from core.errors import RunError, TrainingDiverged
from core.experiment import execute
from core.models import ModelConfig
from core.runs import RunStore, RunSummary
from core.trained import load_model, load_trained
from core.training import Progress, TrainConfig


def tiny_config(**train) -> RunConfig:
    return RunConfig(
        data=DataSpec("digits", max_samples=300),
        model=ModelConfig("dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(**{"epochs": 2, "batch_size": 64, "device": "cpu", **train}),
        name="tiny",
    )


def event(epoch: int, kind: str = "epoch", loss: float = 0.5) -> Progress:
    return Progress(kind=kind, epoch=epoch, epochs=3, step=epoch * 4, steps_per_epoch=4, train_loss=loss, val_loss=loss)


@pytest.fixture
def store(tmp_path) -> RunStore:
    return RunStore(tmp_path / "runs")


class TestFiles:
    def test_atomic_write_replaces_whole_file_and_leaves_no_temp(self, tmp_path):
        path = tmp_path / "x.json"
        atomic_write_json(path, {"a": 1})
        atomic_write_bytes(path, b'{"a": 2}')
        assert json.loads(path.read_text()) == {"a": 2}
        assert [p.name for p in tmp_path.iterdir()] == ["x.json"]

    def test_failed_write_keeps_old_file(self, tmp_path):
        path = tmp_path / "x.json"
        atomic_write_json(path, {"a": 1})
        with pytest.raises(TypeError):
            atomic_write_json(path, {"a": object()})
        assert json.loads(path.read_text()) == {"a": 1}
        assert len(list(tmp_path.iterdir())) == 1


class TestStore:
    def test_create_open_list_delete(self, store):
        run = store.create(tiny_config())
        assert run.path.parent == store.root
        assert (run.path / "config.json").exists() and run.status() == "created"
        saved = json.loads((run.path / "config.json").read_text())
        assert saved["latentboard_version"] and saved["created"] and saved["id"] == run.id
        assert store.open(run.id).config == tiny_config()

        second = store.create(tiny_config())
        rows = store.list()
        assert [r.id for r in rows] == [second.id, run.id]  # newest first
        assert isinstance(rows[0], RunSummary) and rows[0].dataset == "digits" and rows[0].family == "dense"
        assert rows[0].epochs == 2 and rows[0].epochs_done == 0 and rows[0].name == "tiny"

        store.delete(run.id)
        assert [r.id for r in store.list()] == [second.id]

    def test_missing_and_malicious_ids(self, store):
        with pytest.raises(RunError, match="latentboard runs"):
            store.open("20200101-000000-dead")
        for bad in ("../etc", "", "a/b"):
            with pytest.raises(RunError):
                store.open(bad)

    def test_damaged_folder_is_listed_not_fatal(self, store):
        good = store.create(tiny_config())
        broken = store.root / "20200101-000000-beef"
        broken.mkdir()
        (broken / "config.json").write_text("{not json")
        (store.root / "stray-file.txt").write_text("hi")
        rows = {r.id: r for r in store.list()}
        assert rows[good.id].status == "created"
        assert rows[broken.name].status == "damaged" and "config.json" in rows[broken.name].message

    def test_run_files(self, store):
        run = store.create(tiny_config())
        assert run.read_json("evaluation.json") is None
        run.write_json("evaluation.json", {"ari": 0.5})
        assert run.read_json("evaluation.json") == {"ari": 0.5}
        assert run.cache_dir.is_dir() and run.cache_dir.parent == run.path
        with pytest.raises(ValueError):
            run.write_json("../escape.json", {})


class TestMetrics:
    def test_append_and_read_back(self, store):
        run = store.create(tiny_config())
        for i in (1, 2):
            run.append_metrics(event(i, "step"))
            run.append_metrics(event(i))
        assert [e.epoch for e in run.epoch_metrics()] == [1, 2]
        assert len(run.metrics()) == 4 and run.metrics()[0] == event(1, "step")

    def test_torn_last_line_is_skipped_and_next_append_starts_fresh(self, store):
        run = store.create(tiny_config())
        run.append_metrics(event(1))
        with open(run.metrics_path, "ab") as f:
            f.write(b'{"kind": "epoch", "epo')  # a process killed mid-write
        assert [e.epoch for e in run.metrics()] == [1]
        run.append_metrics(event(2))
        assert [e.epoch for e in run.metrics()] == [1, 2]

    def test_truncate_drops_lost_epochs(self, store):
        run = store.create(tiny_config())
        for i in (1, 2, 3):
            run.append_metrics(event(i, "step"))
            run.append_metrics(event(i))
        assert run.truncate_metrics(after_epoch=2) == 2
        assert [e.epoch for e in run.metrics()] == [1, 1, 2, 2]


class TestLiveness:
    def test_running_without_lock_holder_is_interrupted(self, store):
        run = store.create(tiny_config())
        run.set_status("running", pid=123456)
        assert run.status() == "interrupted"
        assert run.info()["state"] == "interrupted" and run.info()["recorded_state"] == "running"

    def test_lock_held_by_another_open_file_counts_as_running(self, store):
        run = store.create(tiny_config())
        holder = store.open(run.id)
        with holder.training_lock():
            run.set_status("running")
            assert run.status() == "running"  # seen through a different Run object
            with pytest.raises(RunError, match="already being trained"):
                with store.open(run.id).training_lock(wait=0.1):
                    pass
            with pytest.raises(RunError, match="stop it"):
                store.delete(run.id)
        assert run.status() == "interrupted"


class TestCheckpoints:
    """With the real model and trainer: weights and optimiser state round-trip through safetensors."""

    def test_execute_leaves_a_loadable_checkpoint(self, store):
        run = store.create(tiny_config(epochs=1))
        events = list(execute(run))
        assert events[-1].kind == "epoch" and run.status() == "finished"
        state, trainer_tensors, meta = run.load_checkpoint()
        assert meta["epoch"] == 1 and meta["input_shape"] == [1, 8, 8]
        assert state and all(isinstance(t, torch.Tensor) for t in state.values())
        assert trainer_tensors  # optimiser moments, so resume continues smoothly
        model = load_model(run)
        assert not model.training
        with torch.no_grad():
            assert model.encode(torch.rand(3, 1, 8, 8)).shape == (3, 4)
        trained = load_trained(run)
        expected = make_splits(trained.dataset, 0.1, 0.2, 0)
        assert (trained.splits.test == expected.test).all() and len(trained.dataset) == 300
        assert not trained.model.training and trained.run is run and trained.config == run.config
        info = run.info()
        assert info["epochs_done"] == 1 and info["train_loss"] == events[-1].train_loss
        summary = store.list()[0]
        assert summary.status == "finished" and summary.val_loss == events[-1].val_loss

    def test_divergence_fails_the_run_with_the_trainers_message(self, store):
        config = tiny_config(epochs=3, optimizer="sgd", lr=1e20)  # NaN at the second step
        run = store.create(dataclasses.replace(config, model=dataclasses.replace(config.model, sparsity=1.0)))
        with pytest.raises(TrainingDiverged):
            list(execute(run))
        assert run.status() == "failed" and "loss became" in run.info()["message"]
        with pytest.raises(RunError, match="already started"):
            list(execute(run))

    def test_damaged_checkpoint_is_a_run_error(self, store):
        run = store.create(tiny_config())
        run.checkpoint_path.write_bytes(b"\x00garbage")
        with pytest.raises(RunError, match="damaged"):
            run.load_checkpoint()

    def test_stop_before_first_epoch(self, store):
        run = store.create(tiny_config(epochs=3))
        stop = threading.Event()
        stop.set()
        list(execute(run, stop=stop))
        assert run.status() == "stopped" and run.has_checkpoint
        assert os.path.exists(run.path / "splits.safetensors")
