"""The features stage on a Ray cluster: two Ray nodes on this machine (loopback, one CPU each) compute the
same features as one process, into the same cache file, and `train --address` trains from it; a node
that cannot see the photos stops the job with its name; a photo gone midway is stood in for from its
loaded copy and named, as on one machine; a backbone the nodes cannot load stops
it with the loader's message; `--address` where nothing listens fails within seconds.

The blind node is real: a third Ray node started in its own mount namespace (unshare), where an empty
tmpfs hides the photos' folder, as a machine without the share mounted would. Where the kernel refuses
namespaces the test says so and skips; the check itself is still tested with a folder no node has.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from core import cli
from core.data import DataSpec, load_dataset
from core.errors import ConfigError, DataError
from core.features import dataset_features, features_path
from core.features.shards import read_sealed_features
from tests.core.photo_fixtures import GENERATED_KINDS, made_up_photo

BACKBONE = "efficientnet-lite0"
SIZE = 64  # the backbone's input side: the same code path as 224 px, a fraction of the time
PHOTOS = 24
RAY_TEST_TIMEOUT = 300  # a hung Ray fails the test (the fixture then shuts it down) instead of the suite

ROOT = Path(__file__).resolve().parents[2]


def on_ray(test):
    """A test that starts Ray nodes: slow, and failed (not hung) when Ray hangs."""
    return pytest.mark.slow(pytest.mark.timeout(RAY_TEST_TIMEOUT)(test))


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """24 made-up 32 px photos, under a folder of their own that the blind node's tmpfs can cover."""
    root = tmp_path_factory.mktemp("share") / "photos"
    root.mkdir()
    rng = np.random.default_rng(0)
    for i in range(PHOTOS):
        made_up_photo(GENERATED_KINDS[i % len(GENERATED_KINDS)], rng, size=32).save(root / f"{i:03d}.jpg", quality=90)
    return root


@pytest.fixture(scope="module")
def cluster():
    """A head and one more node, one CPU each: a pool of two one-CPU workers has one on each node."""
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()


def load(photos: Path):
    return load_dataset(DataSpec("folder", path=str(photos), image_size=16))


def on_cluster(dataset, address: str, **kwargs) -> torch.Tensor:
    from core.features.distributed import cluster_features

    return cluster_features(dataset, BACKBONE, address, batch_size=4, input_size=SIZE, shard_rows=8, **kwargs)


@on_ray
def test_two_nodes_compute_the_single_process_features_into_the_same_cache_file(photos, cluster, monkeypatch):
    from ray.data._internal.block_batching import util

    handed: list[int] = []  # blocks given to Ray Data's prefetcher thread, which outlives an early stop
    for prefetcher in (util.WaitBlockPrefetcher, util.ActorBlockPrefetcher):
        monkeypatch.setattr(prefetcher, "prefetch_blocks", lambda self, blocks: handed.append(len(blocks)))
    dataset = load(photos)
    path = features_path(dataset, BACKBONE, SIZE)
    here = dataset_features(dataset, BACKBONE, batch_size=4, input_size=SIZE)
    path.rename(path.with_name("computed-here"))

    notes: list[str] = []
    there = on_cluster(dataset, cluster.address, on_note=notes.append)

    assert "2 CPU workers on 2 nodes" in notes[0]  # two one-CPU workers on two one-CPU nodes: one each
    assert handed == []  # nothing for a thread to fetch after ray.shutdown(), which would end this process
    torch.testing.assert_close(there, here, atol=1e-4, rtol=1e-4)
    stored, metadata, problem = read_sealed_features(path)  # the single-machine path and key, sealed
    assert problem == "" and metadata["backbone"] == BACKBONE
    assert torch.equal(stored, there)
    assert not path.with_suffix("").exists()  # the shards were assembled and cleared, as here
    # Every later step reads it as its own: the single-machine call finds it and computes nothing.
    assert torch.equal(dataset_features(dataset, BACKBONE, input_size=SIZE, progress=None), there)


@on_ray
def test_a_photo_gone_midway_is_stood_in_for_from_its_loaded_copy_and_named_as_on_one_machine(
    photos, cluster, tmp_path
):
    copy = shutil.copytree(photos, tmp_path / "photos")
    dataset = load(copy)
    gone = Path(dataset.files[20])
    features_path(dataset, BACKBONE, SIZE)  # its key needs the file: ask now

    def remove_once_started(done: int, total: int) -> None:
        if gone.exists():
            gone.unlink()

    notes: list[str] = []
    there = on_cluster(dataset, cluster.address, progress=remove_once_started, on_note=notes.append)

    assert there.shape == (PHOTOS, 1280) and torch.isfinite(there).all()
    [note] = [n for n in notes if "could not be read for the features" in n]
    assert note.startswith("1 photo could not") and gone.name in note
    assert re.search(r"on the Ray node \w{8}\)", note)  # which node tried it
    # The same stand-in a single-machine run computes: the copy decoded when the folder was loaded.
    from core.features import backbone_for, load_backbone
    from core.features.cache import loaded_copy
    from core.features.extract import extract_features, features_of_pixels

    backbone = backbone_for(dataset, BACKBONE, SIZE)
    pixels = loaded_copy(dataset, backbone, 20, [])(0, "gone")
    torch.testing.assert_close(there[20], features_of_pixels(load_backbone(BACKBONE), backbone, pixels[None])[0])
    others = [i for i in range(PHOTOS) if i != 20]  # every other row: its file's features, as one process's
    here = extract_features(load_backbone(BACKBONE), backbone, files=[dataset.files[i] for i in others])
    torch.testing.assert_close(there[others], here, atol=1e-4, rtol=1e-4)


@on_ray
def test_no_node_seeing_the_folder_names_it(cluster, tmp_path):
    import ray

    from core.features.distributed import check_nodes_see

    ray.init(address=cluster.address, include_dashboard=False, logging_level="ERROR")
    try:
        with pytest.raises(ConfigError, match="Not every Ray node sees the photos") as info:
            check_nodes_see([str(tmp_path / "nowhere" / "a.jpg"), str(tmp_path / "nowhere" / "b.jpg")])
    finally:
        ray.shutdown()
    message = str(info.value)
    assert message.count("does not exist there") == 2 and "mounts at that path" in message


@on_ray
def test_train_with_an_address_computes_on_the_cluster_then_trains_from_that_cache(photos, cluster, capsys, tmp_path):
    flags = ["--dataset", "folder", "--data-dir", str(photos), "--features-size", str(SIZE)]
    code = cli.main(
        ["train", *flags, "--features", BACKBONE, "--features-batch-size", "4", "--epochs", "1"]
        + ["--address", cluster.address, "--runs-dir", str(tmp_path / "runs")]
    )
    out = capsys.readouterr().out
    assert code == 0 and "on the Ray cluster at" in out and "finished after 1 of 1 epochs" in out
    assert "Computing" not in out.split("Training run")[1]  # training read the cache the cluster filled
    # `latentboard features` here, without the cluster, finds that same file and computes nothing.
    assert cli.main(["features", *flags, "--features", BACKBONE]) == 0
    out = capsys.readouterr().out
    assert "Shape: (24, 1280)" in out and " new, " not in out


def unshare_works() -> bool:
    done = subprocess.run(["unshare", "-rm", "true"], capture_output=True) if shutil.which("unshare") else None
    return done is not None and done.returncode == 0


@pytest.fixture
def blind_node(cluster, photos):
    """A third Ray node whose processes see an empty tmpfs where the photos' folder's parent is."""
    if not unshare_works():
        pytest.skip("this kernel or container refuses mount namespaces (unshare -rm), so no node can be made blind")
    ray_cli = Path(sys.executable).with_name("ray")
    script = (
        f"mount -t tmpfs tmpfs '{photos.parent}' && exec '{ray_cli}' start --address '{cluster.address}' "
        "--num-cpus 0 --block --disable-usage-stats"
    )
    node = subprocess.Popen(
        ["unshare", "-rm", "sh", "-c", script],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield node
    finally:
        stop_session(node)


def stop_session(process: subprocess.Popen) -> None:
    """End `process` and everything it started (its own session: the raylet and its workers with it)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=30)
            return
        except ProcessLookupError:  # already gone
            return
        except subprocess.TimeoutExpired:
            continue


@on_ray
def test_a_node_that_cannot_see_the_photos_stops_the_job_naming_it(photos, cluster, blind_node):
    import ray

    from core.ray_cluster import alive_nodes

    ray.init(address=cluster.address, include_dashboard=False, logging_level="ERROR")
    try:
        deadline = time.monotonic() + 120
        while len(alive_nodes()) < 3 and time.monotonic() < deadline:
            assert blind_node.poll() is None, "the blind node's `ray start` ended early"
            time.sleep(0.5)
        nodes = alive_nodes()
        assert len(nodes) == 3, "the blind node never joined"
        blind = [n for n in nodes if n["Resources"].get("CPU", 0) == 0]
        assert len(blind) == 1
        with pytest.raises(ConfigError, match="Not every Ray node sees the photos") as info:
            on_cluster(load(photos), cluster.address)  # joins the Ray this test is in
    finally:
        ray.shutdown()
    message = str(info.value)
    assert f"({blind[0]['NodeID'][:8]}): the folder {photos} does not exist there" in message
    assert message.count("does not exist there") == 1  # the two nodes that see it are not named


def test_an_address_where_nothing_listens_fails_within_seconds(photos, capsys):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    began = time.monotonic()
    code = cli.main(["features", "--dataset", "folder", "--data-dir", str(photos), "--address", f"127.0.0.1:{port}"])
    seconds = time.monotonic() - began
    err = capsys.readouterr().err
    assert code == cli.EXIT_USAGE and seconds < 10
    assert f"No Ray cluster answers at 127.0.0.1:{port}" in err and "ray start --head" in err
    assert "Traceback" not in err


def test_an_address_that_is_not_host_and_port_is_refused(photos, capsys):
    assert cli.main(["train", "--dataset", "digits", "--address", "headnode"]) == cli.EXIT_USAGE
    assert "--address must be HOST:PORT" in capsys.readouterr().err


def test_importing_the_cluster_stage_loads_no_ray():
    """Only computing on a cluster loads Ray: the CLI and the features stage start as fast as before."""
    code = (
        "import sys, core.cli, core.features.distributed, core.ray_cluster, core.sweeps.tune; "
        "core.cli.build_parser(); assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


def test_train_with_an_address_but_no_backbone_says_there_is_nothing_to_send(capsys, tmp_path):
    with socket.socket() as head:  # something listens: the refusal is about the run, not the address
        head.bind(("127.0.0.1", 0))
        head.listen()
        address = f"127.0.0.1:{head.getsockname()[1]}"
        code = cli.main(["train", "--dataset", "digits", "--address", address, "--runs-dir", str(tmp_path / "runs")])
    assert code == cli.EXIT_USAGE
    assert "this run has none (give --features" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no run folder left behind


@on_ray
def test_a_backbone_the_nodes_cannot_load_stops_the_stage_with_its_message(photos, cluster):
    from core.features.distributed import cluster_features
    from core.features.weights import hub_checkpoints_dir

    if any(hub_checkpoints_dir().glob("resnet50*")):  # downloaded once into torch's hub cache, then always there
        pytest.skip("resnet50's weights are on this machine, so every node can load it")

    with pytest.raises(DataError, match=r"weights are not on this machine.* \(on the Ray node \w{8}\)"):
        cluster_features(load(photos), "resnet50", cluster.address, batch_size=4, input_size=SIZE, allow_download=False)
