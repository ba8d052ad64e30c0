"""Damaged run folders: every file read back from a run passes one validation layer (core.run_checks).

Each case copies a real trained run, damages one file the way an editor, a bad copy or a hand-made
file would, and checks that reading it gives "Run X ... is damaged: <what>; delete it ..." (a
RunError, exit 2 in the CLI) instead of a deep library error, and that the other runs still list.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import save as safetensors_save

from core import cli
from core.checksums import Verdict, verify
from core.errors import RunError
from core.experiment import execute
from core.runs import RunStore
from core.snapshots import read_snapshots, snapshot_path
from core.trained import SPLITS_FILE, load_model, load_splits, load_trained
from tests.core.run_fixtures import flip_byte_in_tensor, train_tiny_run, unseal_all


@pytest.fixture(scope="module")
def good_run_folder(tmp_path_factory) -> Path:
    """One tiny run trained for real, once; each test damages its own copy."""
    return train_tiny_run(tmp_path_factory.mktemp("good"), max_samples=120, latent_dim=3, width=16, batch_size=32).path


@pytest.fixture
def store(tmp_path, good_run_folder) -> RunStore:
    """A runs folder holding two copies of the good run: "20200101-000000-aaaa" (to damage) and "-bbbb"."""
    for name in ("20200101-000000-aaaa", "20200102-000000-bbbb"):
        shutil.copytree(good_run_folder, tmp_path / "runs" / name)
    return RunStore(tmp_path / "runs")


DAMAGED = "20200101-000000-aaaa"


def damage_json(store: RunStore, name: str, change: Callable[[Any], Any]) -> None:
    path = store.root / DAMAGED / name
    path.write_text(json.dumps(change(json.loads(path.read_text())), allow_nan=True))


def assert_listed_as_damaged(store: RunStore, what: str) -> None:
    rows = {row.id: row for row in store.list()}
    assert rows["20200102-000000-bbbb"].status == "finished"  # the other run still lists
    row = rows[DAMAGED]
    assert row.status == "damaged", row
    assert f"Run {DAMAGED} in {store.root} is damaged" in row.message and what in row.message
    assert "delete it" in row.message


def at(*keys: str, value: Any) -> Callable[[dict], dict]:
    """A change that sets the JSON value under `keys` (config["train"]["epochs"], status["state"], ...)."""

    def change(document: dict) -> dict:
        inner = document
        for key in keys[:-1]:
            inner = inner[key]
        inner[keys[-1]] = value
        return document

    return change


CONFIG_DAMAGE = {
    "epochs as text": (at("train", "epochs", value="ten"), "train.epochs should be an int"),
    "negative epochs": (at("train", "epochs", value=-3), "Epochs must be at least 1"),
    "zero latent size": (at("model", "latent_dim", value=0), "model.latent_dim is 0"),
    "fractional latent size": (at("model", "latent_dim", value=2.5), "model.latent_dim should be an int"),
    "bool max_samples": (at("data", "max_samples", value=True), "data.max_samples should be an int"),
    "val fraction above 1": (at("split", "val_fraction", value=1.5), "leave no training rows"),
    "learning rate null": (at("train", "lr", value=None), "train.lr is missing"),
    "learning rate NaN": (at("train", "lr", value=math.nan), "train.lr is nan"),
    "unknown activation": (at("model", "activation", value="swish"), "not one of relu"),
    "batch size as float": (at("train", "batch_size", value=1e300), "train.batch_size should be an int"),
    "negative beta": (at("model", "beta", value=-1.0), "model.beta is negative"),
    "name as number": (at("name", value=7), "name should be a str"),
    "created as number": (at("created", value=5), "created should be text"),
    "section as list": (at("data", value=[]), "must be a mapping"),
    "whole file a list": (lambda config: [config], "it holds a list"),
}


@pytest.mark.parametrize("case", CONFIG_DAMAGE, ids=list(CONFIG_DAMAGE))
def test_damaged_config_json(store, case):
    change, what = CONFIG_DAMAGE[case]
    damage_json(store, "config.json", change)
    with pytest.raises(RunError, match="is damaged"):
        store.open(DAMAGED)
    assert_listed_as_damaged(store, what)


def test_config_json_that_is_not_json(store):
    (store.root / DAMAGED / "config.json").write_text("{oops")
    assert_listed_as_damaged(store, "cannot read config.json")


STATUS_DAMAGE = {
    "a list": (lambda status: [status], "holds a list"),
    "unknown state": (at("state", value="exploded"), "state 'exploded'"),
    "state as number": (at("state", value=3), "state 3"),
    "epochs_done as text": (at("epochs_done", value="many"), "epochs_done should be a whole number"),
    "negative epochs_done": (at("epochs_done", value=-1), "epochs_done should be a whole number"),
    "more epochs done than planned": (at("epochs_done", value=99), "99 of 1 epochs"),
    "loss as text": (at("train_loss", value="low"), "train_loss should be a number"),
    "message as object": (at("message", value={"a": 1}), "message should be text"),
    "negative pid": (at("pid", value=-5), "pid should be a whole number"),
    "notes as text": (at("data_notes", value="x"), "data_notes should be a list"),
}


@pytest.mark.parametrize("case", STATUS_DAMAGE, ids=list(STATUS_DAMAGE))
def test_damaged_status_json(store, case):
    change, what = STATUS_DAMAGE[case]
    damage_json(store, "status.json", change)
    run = store.open(DAMAGED)
    with pytest.raises(RunError, match="is damaged"):
        run.info()
    assert_listed_as_damaged(store, what)


def test_status_json_that_is_not_json(store):
    (store.root / DAMAGED / "status.json").write_text("{oops")
    assert_listed_as_damaged(store, "cannot read status.json")


def test_a_damaged_run_can_still_be_deleted(store):
    (store.root / DAMAGED / "status.json").write_text("[]")
    store.delete(DAMAGED)
    assert [row.id for row in store.list()] == ["20200102-000000-bbbb"]


def test_runs_command_lists_the_others_and_exits_0(store, capsys):
    (store.root / DAMAGED / "status.json").write_text('{"state": 3}')
    code = cli.main(["runs", "--runs-dir", str(store.root)])
    out = capsys.readouterr().out
    assert code == 0
    assert "20200102-000000-bbbb" in out and "finished" in out
    assert DAMAGED in out and "damaged" in out


# --------------------------------------------------------------------------- checkpoints


def rewrite_checkpoint(
    store: RunStore,
    tensors: Callable[[dict], dict] = lambda t: t,
    meta: Callable[[Any], Any] = lambda m: m,
    raw_meta: str | None = None,
) -> None:
    path = store.root / DAMAGED / "checkpoint.safetensors"
    with safe_open(str(path), framework="pt") as f:
        values = {key: f.get_tensor(key) for key in f.keys()}
        metadata = json.loads(f.metadata()["latentboard"])
    text = raw_meta if raw_meta is not None else json.dumps(meta(metadata))
    path.write_bytes(safetensors_save(tensors(values), metadata={"latentboard": text}))


def first_weight(value: float) -> Callable[[dict], dict]:
    def change(tensors: dict) -> dict:
        key = next(k for k in tensors if k.startswith("model.") and k.endswith("weight"))
        tensors[key] = tensors[key].clone()
        tensors[key].view(-1)[0] = value
        return tensors

    return change


def optimiser_nan(tensors: dict) -> dict:
    key = next(k for k in tensors if k.startswith("trainer.optimizer."))
    tensors[key] = torch.full_like(tensors[key], math.nan)
    return tensors


def wrong_shape(tensors: dict) -> dict:
    key = next(k for k in tensors if k.startswith("model.") and k.endswith("weight"))
    tensors[key] = torch.zeros(5, 5)
    return tensors


CHECKPOINT_DAMAGE = {
    "NaN weight": (dict(tensors=first_weight(math.nan)), "holds 1 NaN or infinite"),
    "infinite weight": (dict(tensors=first_weight(math.inf)), "holds 1 NaN or infinite"),
    "NaN optimiser state": (dict(tensors=optimiser_nan), "optimiser state"),
    "weight of the wrong shape": (dict(tensors=wrong_shape), "does not fit its model config"),
    "metadata not JSON": (dict(raw_meta="{bad"), "cannot read checkpoint.safetensors"),
    "metadata a list": (dict(raw_meta="[1]"), "metadata is a list"),
    "huge input shape": (dict(meta=at("input_shape", value=[10**12])), "absurd"),
    "huge image shape": (dict(meta=at("input_shape", value=[3, 100000, 100000])), "absurd"),
    "too many channels": (dict(meta=at("input_shape", value=[5000, 8, 8])), "absurd"),
    "input shape as text": (dict(meta=at("input_shape", value="64")), "is not (features,)"),
    "negative input shape": (dict(meta=at("input_shape", value=[-1])), "is not (features,)"),
    "zero input shape": (dict(meta=at("input_shape", value=[0])), "is not (features,)"),
    "two-number input shape": (dict(meta=at("input_shape", value=[8, 8])), "is not (features,)"),
    "other input width": (dict(meta=at("input_shape", value=[50])), "does not fit its model config"),
    "negative epoch": (dict(meta=at("epoch", value=-1)), "epoch should be a whole number"),
    "epoch as text": (dict(meta=at("epoch", value="one")), "epoch should be a whole number"),
    "trainer state as text": (dict(meta=at("trainer", value="x")), "trainer state is a str"),
    "negative trainer step": (dict(meta=at("trainer", "step", value=-4)), "trainer step should be"),
}


@pytest.mark.parametrize("case", CHECKPOINT_DAMAGE, ids=list(CHECKPOINT_DAMAGE))
def test_damaged_checkpoint(store, case, capsys):
    change, what = CHECKPOINT_DAMAGE[case]
    rewrite_checkpoint(store, **change)
    with pytest.raises(RunError, match=f"Run {DAMAGED} in .* is damaged: .*{re.escape(what)}.*; delete it"):
        load_trained(store.open(DAMAGED))
    assert cli.main(["evaluate", DAMAGED, "--runs-dir", str(store.root)]) == 2
    assert "is damaged" in capsys.readouterr().err


@pytest.mark.parametrize("garbage", [b"\x00garbage", b"", b"{" * 64], ids=["bytes", "empty", "braces"])
def test_checkpoint_of_garbage(store, garbage):
    (store.root / DAMAGED / "checkpoint.safetensors").write_bytes(garbage)
    with pytest.raises(RunError, match="is damaged: cannot read checkpoint.safetensors"):
        load_model(store.open(DAMAGED))


def test_truncated_checkpoint(store):
    path = store.root / DAMAGED / "checkpoint.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RunError, match="is damaged: cannot read checkpoint.safetensors"):
        store.open(DAMAGED).load_checkpoint()


def test_resuming_a_damaged_checkpoint_fails_with_advice(store):
    rewrite_checkpoint(store, tensors=first_weight(math.nan))
    damage_json(store, "status.json", at("state", value="stopped"))
    with pytest.raises(RunError, match="is damaged: .*NaN"):
        list(execute(store.open(DAMAGED), resume=True))


# --------------------------------------------------------------------------- splits


def rewrite_splits(store: RunStore, change: Callable[[dict], dict]) -> None:
    path = store.root / DAMAGED / SPLITS_FILE
    with safe_open(str(path), framework="pt") as f:
        tensors = {key: f.get_tensor(key) for key in f.keys()}
    path.write_bytes(safetensors_save(change(tensors)))


def splits_with(**parts: Any) -> Callable[[dict], dict]:
    def change(tensors: dict) -> dict:
        for name, value in parts.items():
            if value is None:
                del tensors[name]
            else:
                tensors[name] = value(tensors) if callable(value) else value
        return tensors

    return change


SPLIT_DAMAGE = {
    "negative index": (
        splits_with(train=lambda t: torch.cat([t["train"], torch.tensor([-3])])),
        "negative row number (-3)",
    ),
    "index past the end": (
        splits_with(test=lambda t: torch.cat([t["test"], torch.tensor([10**6])])),
        "holds row 1000000, but the dataset has 120 rows",
    ),
    "train and test overlap": (
        splits_with(test=lambda t: torch.cat([t["test"], t["train"][:2]])),
        "the train and test splits share 2 rows",
    ),
    "row twice in val": (splits_with(val=lambda t: torch.cat([t["val"], t["val"][:1]])), "val split lists a row twice"),
    "no test part": (splits_with(test=None), "has no test part"),
    "2-D train": (splits_with(train=lambda t: t["train"][:4].reshape(2, 2)), "should be a list of row numbers"),
    "float indices": (splits_with(train=lambda t: t["train"].float()), "should be a list of row numbers"),
    "empty train": (splits_with(train=torch.zeros(0, dtype=torch.int64)), "the train split is empty"),
}


@pytest.mark.parametrize("case", SPLIT_DAMAGE, ids=list(SPLIT_DAMAGE))
def test_damaged_splits(store, case, capsys):
    change, what = SPLIT_DAMAGE[case]
    rewrite_splits(store, change)
    with pytest.raises(RunError, match=f"is damaged: .*{re.escape(what)}"):
        load_trained(store.open(DAMAGED))
    assert cli.main(["report", DAMAGED, "--runs-dir", str(store.root)]) == 2
    assert "is damaged" in capsys.readouterr().err


def test_splits_of_garbage(store):
    (store.root / DAMAGED / SPLITS_FILE).write_bytes(b"\x01\x02garbage")
    with pytest.raises(RunError, match="is damaged: cannot read splits.safetensors"):
        load_splits(store.open(DAMAGED))


# --------------------------------------------------------------------------- checksums: bytes changed on disk


def commands(store: RunStore, tmp_path: Path) -> dict[str, list[str]]:
    """evaluate, classify, export and report of the damaged run, each writing into tmp_path."""
    digit = tmp_path / "digit.png"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8) * 4).save(digit)
    runs = ["--runs-dir", str(store.root)]
    return {
        "evaluate": ["evaluate", DAMAGED, "--skip-baselines", "--skip-probes", "--clusters", "3", *runs],
        "classify": ["classify", DAMAGED, str(digit), *runs],
        "export": ["export", DAMAGED, "--out", str(tmp_path / "clusters.csv"), "--clusters", "3", *runs],
        "report": ["report", DAMAGED, "--out", str(tmp_path / "report.html"), *runs],
    }


@pytest.mark.parametrize("command", ["evaluate", "classify", "export", "report"])
def test_a_flipped_byte_in_the_checkpoint_is_damage_every_command_refuses(store, tmp_path, capsys, command):
    flip_byte_in_tensor(store.root / DAMAGED / "checkpoint.safetensors", "model.")
    before = sorted(p.name for p in (store.root / DAMAGED).iterdir())
    assert cli.main(commands(store, tmp_path)[command]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"Run {DAMAGED} in {store.root} is damaged: checkpoint.safetensors does not match its checksum" in err
    assert "put back a good copy" in err and "train it again" in err
    # Nothing was computed from it: no evaluation, report or export written.
    assert sorted(p.name for p in (store.root / DAMAGED).iterdir()) == before
    assert not any(tmp_path.glob("clusters.csv")) and not any(tmp_path.glob("report.html"))
    assert store.list()[1].status == "finished"  # the other run is untouched


def test_a_flipped_byte_in_the_checkpoint_stops_a_resume(store):
    damage_json(store, "status.json", at("state", value="stopped"))
    flip_byte_in_tensor(store.root / DAMAGED / "checkpoint.safetensors", "trainer.")
    with pytest.raises(RunError, match="is damaged: checkpoint.safetensors does not match its checksum"):
        list(execute(store.open(DAMAGED), resume=True))


def test_a_flipped_byte_in_the_splits_is_damage(store):
    flip_byte_in_tensor(store.root / DAMAGED / SPLITS_FILE, "test")
    with pytest.raises(RunError, match="is damaged: splits.safetensors does not match its checksum"):
        load_trained(store.open(DAMAGED))


@pytest.mark.parametrize("command", ["evaluate", "classify", "export", "report"])
def test_a_flipped_byte_in_a_snapshot_is_named_and_its_epoch_left_out(store, tmp_path, capsys, command):
    flip_byte_in_tensor(snapshot_path(store.root / DAMAGED, 1), "codes")
    assert cli.main(commands(store, tmp_path)[command]) == 0  # the replay is a view: the rest of the run is sound
    err = capsys.readouterr().err
    assert err.count("does not match its checksum") == 1, err
    assert (
        f"Run {DAMAGED} in {store.root} is damaged: snapshots/epoch-00001.safetensors does not match its checksum"
        in err
    )
    assert "the replay leaves epoch 1 out" in err
    replay = read_snapshots(store.root / DAMAGED)
    assert (
        replay.epochs == [0]
        and "epoch-00001.safetensors is damaged (it does not match its checksum)" in (replay.notes[0])
    )


def test_a_run_from_before_checksums_opens_with_one_notice(store, tmp_path, capsys):
    unseal_all(store.root / DAMAGED)
    trained = load_trained(store.open(DAMAGED))
    (note,) = trained.notes
    assert f"Run {DAMAGED} was written before latentboard kept checksums" in note
    assert "checkpoint.safetensors, splits.safetensors, 2 snapshots cannot be checked" in note
    for command, argv in commands(store, tmp_path).items():
        assert cli.main(argv) == 0, command
        err = capsys.readouterr().err
        assert err.count("was written before latentboard kept checksums") == 1, (command, err)
    assert read_snapshots(store.root / DAMAGED).epochs == [0, 1]  # its replay is whole


def test_a_resumed_old_run_gets_a_checksum_on_its_new_checkpoint(store):
    unseal_all(store.root / DAMAGED)
    damage_json(store, "config.json", at("train", "epochs", value=2))
    damage_json(store, "status.json", at("state", value="stopped"))
    list(execute(store.open(DAMAGED), resume=True))
    assert verify(store.root / DAMAGED / "checkpoint.safetensors") is Verdict.SOUND
    (note,) = load_trained(store.open(DAMAGED)).notes
    assert "splits.safetensors, 2 snapshots cannot be checked" in note  # what it kept from before
