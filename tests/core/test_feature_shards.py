"""The features cache written in shards as it goes: a stopped, raised-out or SIGKILLed extraction resumes
from its finished shards and ends with the features an uninterrupted run computes; a damaged shard is
computed again; caches from before shards still open; progress says photos a second and time left;
`latentboard features` fills the cache `train` reads and refuses tables."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from core import cli
from core.checksums import sealed_safetensors
from core.data import DataSpec, load_dataset
from core.errors import ConfigError
from core.features import backbone_for, dataset_features, extract_features, features_path, load_backbone
from core.features.extract import iter_features
from core.throughput import Throughput
from tests.core.photo_fixtures import write_bird_folder

BACKBONE = "efficientnet-lite0"
SIZE = 64  # small input side: the same code path, a fraction of the time


class Stop(Exception):
    """What a user's Ctrl-C or a crash is to the extraction: it ends between two batches."""


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("photos") / "birds"
    write_bird_folder(root, species=2, per_species=4)
    return root


@pytest.fixture
def dataset(photos):
    return load_dataset(DataSpec("folder", path=str(photos), image_size=16))


@pytest.fixture(scope="module")
def uninterrupted(photos) -> torch.Tensor:
    """The features of every photo in one pass, no cache involved, at the batch size the tests use."""
    rows = load_dataset(DataSpec("folder", path=str(photos), image_size=16))
    return extract_features(load_backbone(BACKBONE), backbone_for(rows, BACKBONE, SIZE), files=rows.files, batch_size=1)


def features(dataset, **kwargs) -> torch.Tensor:
    return dataset_features(dataset, BACKBONE, batch_size=1, input_size=SIZE, shard_rows=2, **kwargs)


def shard_folder(dataset) -> Path:
    return features_path(dataset, BACKBONE, SIZE).with_suffix("")


def stop_after(rows: int, seen: list[tuple[int, int]] | None = None):
    def progress(done: int, total: int) -> None:
        if seen is not None:
            seen.append((done, total))
        if done >= rows:
            raise Stop

    return progress


def test_shards_appear_as_extraction_goes_then_become_one_file(dataset, uninterrupted):
    shards_seen: list[int] = []
    folder = shard_folder(dataset)
    result = features(dataset, progress=lambda done, total: shards_seen.append(len(list(folder.glob("shard-*")))))
    assert shards_seen[0] == 0 and max(shards_seen) == 4  # 8 rows, 2 a shard, written one by one
    assert shards_seen == sorted(shards_seen)
    assert features_path(dataset, BACKBONE, SIZE).is_file() and not folder.exists()
    torch.testing.assert_close(result, uninterrupted)


def test_a_stopped_extraction_resumes_from_its_finished_shards(dataset, uninterrupted, monkeypatch):
    with pytest.raises(Stop):
        features(dataset, progress=stop_after(4))
    assert sorted(p.name for p in shard_folder(dataset).iterdir()) == [
        "shard-00000.safetensors",
        "shard-00001.safetensors",
    ]
    assert not features_path(dataset, BACKBONE, SIZE).exists()

    computed: list[int] = []
    monkeypatch.setattr(
        "core.features.cache.iter_features",
        lambda model, backbone, **kw: computed.append(len(kw["files"])) or iter_features(model, backbone, **kw),
    )
    seen: list[tuple[int, int]] = []
    notes: list[str] = []
    result = features(dataset, progress=lambda done, total: seen.append((done, total)), on_note=notes.append)
    assert computed == [4]  # only the rows after the finished shards
    assert seen[0] == (4, 8) and seen[-1] == (8, 8)  # the count starts at the rows already done
    assert notes == [
        f"Resuming the {BACKBONE} features from 4 of 8 photos already computed (2 shards in {shard_folder(dataset)})."
    ]
    torch.testing.assert_close(result, uninterrupted)


def test_a_damaged_shard_is_computed_again_not_trusted(dataset, uninterrupted):
    with pytest.raises(Stop):
        features(dataset, progress=stop_after(6))
    damaged = shard_folder(dataset) / "shard-00001.safetensors"
    data = bytearray(damaged.read_bytes())
    data[-3] ^= 0x10  # one byte of a value: still a finite number, only the checksum can tell
    damaged.write_bytes(bytes(data))

    seen: list[tuple[int, int]] = []
    notes: list[str] = []
    result = features(dataset, progress=lambda done, total: seen.append((done, total)), on_note=notes.append)
    assert seen[0] == (2, 8)  # shard 0 kept; shard 1 and the sound shard 2 after it computed again
    assert notes[0] == (
        f"The features shard {damaged} does not match its checksum (it changed on disk after it was written); "
        "computing it and the rows after it again."
    )
    torch.testing.assert_close(result, uninterrupted)


def test_a_shard_that_is_not_safetensors_is_computed_again(dataset, uninterrupted):
    with pytest.raises(Stop):
        features(dataset, progress=stop_after(2))
    (shard_folder(dataset) / "shard-00000.safetensors").write_bytes(b"torn")
    notes: list[str] = []
    torch.testing.assert_close(features(dataset, on_note=notes.append), uninterrupted)
    assert "cannot be read" in notes[0]


def test_a_single_file_cache_from_before_shards_is_read_not_recomputed(dataset, uninterrupted, monkeypatch):
    path = features_path(dataset, BACKBONE, SIZE)
    path.parent.mkdir(parents=True)
    path.write_bytes(sealed_safetensors({"features": uninterrupted}, metadata={"backbone": BACKBONE}))
    monkeypatch.setattr("core.features.cache.load_backbone", lambda *a, **k: pytest.fail("recomputed"))
    torch.testing.assert_close(features(dataset), uninterrupted)


def test_finished_shards_whose_assembly_was_cut_short_need_no_backbone(dataset, uninterrupted, monkeypatch):
    folder = shard_folder(dataset)
    folder.mkdir(parents=True)
    for index, start in enumerate(range(0, 8, 4)):  # written with another shard size: each says its rows
        block = uninterrupted[start : start + 4].contiguous()
        metadata = {"backbone": BACKBONE, "start": str(start), "rows": "4"}
        (folder / f"shard-{index:05d}.safetensors").write_bytes(sealed_safetensors({"features": block}, metadata))
    monkeypatch.setattr("core.features.cache.load_backbone", lambda *a, **k: pytest.fail("recomputed"))
    seen: list[tuple[int, int]] = []
    torch.testing.assert_close(features(dataset, progress=lambda d, t: seen.append((d, t))), uninterrupted)
    assert seen == [(8, 8)] and not folder.exists()


def test_a_shard_from_before_checksums_is_not_trusted(dataset, uninterrupted):
    folder = shard_folder(dataset)
    folder.mkdir(parents=True)
    save_file({"features": uninterrupted[:2].contiguous()}, folder / "shard-00000.safetensors", {"start": "0"})
    notes: list[str] = []
    torch.testing.assert_close(features(dataset, on_note=notes.append), uninterrupted)
    assert "cannot be verified" in notes[0]


class TestThroughput:
    def test_rate_and_time_left_count_from_the_first_report_not_from_zero(self):
        now = [100.0]
        speed = Throughput(clock=lambda: now[0])
        speed.update(3000, 10000)  # resumed: 3,000 photos already in the shards
        assert speed.per_second is None and speed.summary() == "3,000 of 10,000 photos"
        now[0] += 50.0
        speed.update(4000, 10000)
        assert speed.per_second == pytest.approx(20.0)
        assert speed.seconds_left == pytest.approx(300.0)
        assert speed.summary() == "4,000 of 10,000 photos, 20.0 photos/s, about 5 min 0 s left"
        assert speed.resumed_from == 3000

    def test_hours_are_said_in_hours(self):
        now = [0.0]
        speed = Throughput(clock=lambda: now[0])
        speed.update(0, 100000)
        now[0] = 100.0
        speed.update(100, 100000)
        assert speed.summary().endswith("1.0 photos/s, about 27 h 45 min left")


def test_the_run_status_the_train_page_shows_has_the_rate_and_time_left():
    from core.experiment import _status_reporter

    statuses: list[str] = []

    class FakeRun:
        def set_status(self, state: str, message: str | None, **fields) -> None:
            statuses.append(message)

    report = _status_reporter(FakeRun(), None)
    report("efficientnet-lite0 features", 1024, 4096)  # resumed: the first report is where the count starts
    time.sleep(0.01)
    report("efficientnet-lite0 features", 4096, 4096)
    assert statuses[0] == "Computing efficientnet-lite0 features: 1,024 of 4,096 photos."
    assert re.fullmatch(
        r"Computing efficientnet-lite0 features: 4,096 of 4,096 photos, [\d,.]+ photos/s, about 0 s left\.",
        statuses[-1],
    )


# --- `latentboard features` -------------------------------------------------------------------------


def test_the_features_command_fills_the_cache_train_reads(photos, capsys, monkeypatch):
    code = cli.main(["features", "--dataset", "folder", "--data-dir", str(photos), "--features-size", str(SIZE)])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = load_dataset(DataSpec("folder", path=str(photos)))
    path = features_path(rows, BACKBONE, SIZE)
    assert f"Features: {path}\n" in out
    assert f"Shape: (8, 1280) ({BACKBONE} at {SIZE} px)\n" in out
    assert "Seconds: " in out and path.is_file()

    monkeypatch.setattr("core.features.cache.load_backbone", lambda *a, **k: pytest.fail("recomputed"))
    code = cli.main(
        ["train", "--dataset", "folder", "--data-dir", str(photos), "--preset", "photos", "--epochs", "1"]
        + ["--image-size", "16", "--features-size", str(SIZE)]
    )
    out, err = capsys.readouterr()
    assert code == 0, err  # trained on the cached features: the backbone was never loaded


def test_the_features_command_refuses_a_table(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    code = cli.main(["features", "--dataset", "table", "--data-dir", str(tmp_path / "t.csv")])
    _, err = capsys.readouterr()
    assert code == cli.EXIT_USAGE
    assert err.startswith("latentboard: error: `latentboard features` computes a backbone's features of images; ")
    assert "a table has none" in err and "Traceback" not in err


def test_the_features_command_asks_which_pictures(capsys):
    assert cli.main(["features"]) == cli.EXIT_USAGE
    assert capsys.readouterr().err == (
        "latentboard: error: Say which pictures with --dataset, e.g. --dataset folder --data-dir ~/photos.\n"
    )


def test_the_table_refusal_is_a_config_error_in_the_library(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    with pytest.raises(ConfigError, match="need images"):
        dataset_features(load_dataset(DataSpec("table", path=str(tmp_path / "t.csv"))), BACKBONE)


def test_a_features_command_killed_midway_resumes_and_equals_an_uninterrupted_run(photos, tmp_path, monkeypatch):
    """SIGKILL: no handler runs, nothing is flushed; only what was atomically written survives. At the
    backbone's own 224 px, so a shard takes long enough to kill the process between two of them."""
    monkeypatch.setenv("LATENTBOARD_DATA_DIR", str(tmp_path / "data"))
    rows = load_dataset(DataSpec("folder", path=str(photos)))
    path = features_path(rows, BACKBONE, 224)
    folder = path.with_suffix("")
    command = [sys.executable, "-m", "core.cli", "features", "--dataset", "folder", "--data-dir", str(photos)]
    command += ["--features-size", "224", "--features-batch-size", "1", "--shard-rows", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not list(folder.glob("shard-*.safetensors")):
            assert process.poll() is None, process.stdout.read().decode()
            assert time.monotonic() < deadline, "no shard was written within two minutes"
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    kept = len(list(folder.glob("shard-*.safetensors")))
    assert 1 <= kept < 8 and not path.exists(), f"{kept} shards: the process was not stopped midway"

    finished = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert f"Resuming the {BACKBONE} features from {kept} of 8 photos already computed" in finished.stdout
    assert f"Features: {path}" in finished.stdout and not folder.exists()
    whole = extract_features(load_backbone(BACKBONE), backbone_for(rows, BACKBONE, 224), files=rows.files, batch_size=1)
    torch.testing.assert_close(load_file(path)["features"], whole)


def test_the_cli_prints_rate_and_time_left_in_a_log_and_counts_only_new_photos(capsys, monkeypatch):
    monkeypatch.setattr(cli._PrepareLine, "LOG_EVERY", 0.0)  # a line on every report (10 s apart in real logs)
    line = cli._PrepareLine()
    line("efficientnet-lite0 features", 1024, 4096)  # resumed from four shards
    time.sleep(0.01)
    line("efficientnet-lite0 features", 2048, 4096)
    line("efficientnet-lite0 features", 4096, 4096)
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"Computing efficientnet-lite0 features: 2,048 of 4,096 photos, [\d,.]+ photos/s, about .+ left", out[-2]
    )
    assert re.fullmatch(
        r"Computed efficientnet-lite0 features of 4096 images in [\d.]+ s \(3072 new, [\d,.]+ photos/s\)\.", out[-1]
    )
