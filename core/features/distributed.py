"""The features stage on a Ray cluster: the same cache file as on one machine, computed by every node.

    features = cluster_features(dataset, "efficientnet-lite0", "10.0.0.5:6379")

Ray Data maps the rows (file paths, or row numbers of an in-memory image tensor) over an actor
pool, one backbone per worker, loaded once in its constructor. A worker reads its batch's files
from its own node's disk, so the photos never pass through the driver; only the features come
back. They go through core.features.cache unchanged (its key, its shards, its sealed file): every
later step reads them as if this machine had computed them, and a stopped run resumes from its
shards with or without a cluster.

Every node must see the photos at the driver's path; `check_nodes_see` proves it at start with a
tiny task per node. A photo that turns unreadable midway is stood in for as on one machine: its
worker marks the row, this machine computes it from the copy decoded when the folder was loaded
(core.features.cache.loaded_copy), and a note names it and the node that tried it. A node or
worker lost stops the stage; the shards finished before it are kept. With core.sweeps and
core.ray_cluster, the only modules that import `ray`, and only inside functions.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from core.data.dataset import Dataset
from core.errors import ClusterError, ConfigError, DataError, LatentboardError
from core.features.backbones import Backbone
from core.features.cache import RowBlocks, dataset_features, loaded_copy, stood_in_note

SAMPLE_FILES = 8  # files each node opens at start: the first, the last and some between


def cluster_features(
    dataset: Dataset,
    backbone_name: str,
    address: str,
    device: str = "cpu",
    batch_size: int = 32,
    allow_download: bool = True,
    on_note: Callable[[str], None] | None = None,
    **settings: Any,
) -> torch.Tensor:
    """`dataset_features`, with the missing rows computed on the Ray cluster at `address`.

    `settings` are dataset_features' own (progress, input_size, shard_rows). `device` is where the
    workers run the backbone: "cuda" puts one worker on each GPU of the cluster, "auto" does so
    when the cluster has GPUs, anything else one worker per CPU.
    """
    from core.ray_cluster import alive_nodes, connect, shutdown

    started = connect(address)
    try:
        if dataset.files:
            check_nodes_see(dataset.files)
        workers, on_gpu = _pool_size(device)
        if on_note is not None:
            nodes = len(alive_nodes())
            on_note(
                f"Computing the features on the Ray cluster at {address}: {workers} "
                f"{'GPU' if on_gpu else 'CPU'} worker{'s' if workers != 1 else ''} on {nodes} "
                f"node{'s' if nodes != 1 else ''}."
            )
        stood_in: list[str] = []  # photos gone or changed since loading, computed here from their loaded copies
        features = dataset_features(
            dataset,
            backbone_name,
            batch_size=batch_size,
            allow_download=allow_download,
            on_note=on_note,
            compute=on_cluster(dataset, workers, on_gpu, batch_size, allow_download, stood_in),
            **settings,
        )
        if stood_in and on_note is not None:
            on_note(stood_in_note(stood_in))
        return features
    finally:
        shutdown(started)


def _pool_size(device: str) -> tuple[int, bool]:
    """(workers, on GPUs) for `device` on the cluster joined."""
    import ray

    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
    if device == "cuda" and not gpus:
        raise ConfigError("--device cuda was asked for, but no node of the Ray cluster has a GPU.")
    if device in ("cuda", "auto") and gpus:
        return gpus, True
    if not cpus:
        raise ConfigError("The Ray cluster has no CPUs to compute the features on (every node started --num-cpus 0).")
    return cpus, False


# --------------------------------------------------------------------------- every node sees the photos


def sample_files(files: Sequence[str], count: int = SAMPLE_FILES) -> list[str]:
    """`count` files spread evenly from the first to the last (all of them when there are fewer)."""
    if len(files) <= count:
        return list(files)
    return [files[round(i * (len(files) - 1) / (count - 1))] for i in range(count)]


def photos_problem(folder: str, sample: Sequence[str], node_id: str = "") -> str | None:
    """What keeps this node from reading the photos (None: nothing). Runs on each node."""
    from core.data.images import open_image

    if not os.path.isdir(folder):
        return f"the folder {folder} does not exist there"
    for name in sample:
        try:
            with open_image(name) as img:  # as the backbone's reader opens them, limits included
                img.load()
        except Exception as exc:  # whatever stops it here stops the backbone too
            return f"{name} cannot be read there ({type(exc).__name__}: {exc})"
    return None


def check_nodes_see(files: Sequence[str]) -> int:
    """ConfigError naming every node that cannot read the photos at the driver's path; else the node count.

    Each worker reads its share of the files where they are, by the path this machine gave them:
    a node without that folder (or with another copy that lacks files) would fail its share
    after minutes of work, so every node opens a sample at start.
    """
    from core.ray_cluster import on_every_node

    folder = os.path.commonpath([os.path.dirname(name) for name in files])
    answers = on_every_node(photos_problem, folder, sample_files(files))
    problems = [f"{node}: {problem}" for node, problem in answers.items() if problem]
    if problems:
        raise ConfigError(
            f"Not every Ray node sees the photos at {folder} ({'; '.join(problems)}). Each node reads "
            "its share of the photos from the same path as this machine: put them in a folder every node "
            "mounts at that path (e.g. NFS), or compute the features here without --address."
        )
    return len(answers)


# --------------------------------------------------------------------------- the actor pool


class BackboneWorker:
    """One Ray Data actor: the backbone loaded once, then batches of rows -> their features.

    A batch holds "row" (and "path" for file rows); the answer adds "features", "node" (who
    computed them), "error": why this worker has no backbone (say, its weights are missing on this
    node), and "unreadable": read_for_backbone's message for a file that could not be read any more
    (its features are left for the driver to compute from the copy it loaded).
    """

    def __init__(
        self, backbone_name: str, input_size: int, device: str, allow_download: bool, pixels: Any = None
    ) -> None:
        import ray

        from core.features.backbones import get_backbone, load_backbone

        torch.set_num_threads(1)  # one worker per CPU: threads would only fight over it
        self.backbone = get_backbone(backbone_name).at_size(input_size)
        try:
            self.model, self.problem = load_backbone(backbone_name, device, allow_download), ""
        except LatentboardError as exc:  # e.g. its weights are not on this node: the driver says so, once
            self.model, self.problem = None, str(exc)
        self.pixels = ray.get(pixels) if isinstance(pixels, ray.ObjectRef) else pixels
        self.node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = batch["row"]
        unreadable = np.full(len(rows), "", dtype=object)
        features = torch.zeros(len(rows), self.backbone.dim) if self.problem else self._features(batch, unreadable)
        return {
            "row": rows,
            "features": features.numpy(),
            "node": np.full(len(rows), self.node),
            "error": np.full(len(rows), self.problem),
            "unreadable": unreadable.astype(str),
        }

    def _features(self, batch: dict[str, np.ndarray], unreadable: np.ndarray) -> torch.Tensor:
        from core.features.extract import extract_features, iter_features

        if self.pixels is None:  # files, read here: on this node's disk
            files = [str(name) for name in batch["path"]]
            side = self.backbone.input_size

            def mark(position: int, why: str) -> np.ndarray:  # gone or changed since the dataset was read
                unreadable[position] = why
                return np.zeros((side, side, 3), dtype=np.uint8)

            blocks = iter_features(
                self.model, self.backbone, files=files, batch_size=len(files), workers=1, stand_in=mark
            )
            return torch.cat(list(blocks))
        x = self.pixels[torch.from_numpy(batch["row"].astype(np.int64))]
        return extract_features(self.model, self.backbone, x=x, batch_size=len(x))


def on_cluster(
    dataset: Dataset, workers: int, on_gpu: bool, batch_size: int, allow_download: bool, stood_in: list[str]
) -> RowBlocks:
    """core.features.cache's `compute`: the rows from `start` on, mapped over `workers` actors, in order.
    A photo a worker could not read is computed here from its loaded copy and named in `stood_in`."""

    def compute(backbone: Backbone, start: int) -> Iterator[torch.Tensor]:
        import ray

        stand_in = from_loaded_copy(dataset, backbone, allow_download, stood_in)

        rows = range(start, len(dataset))
        items = [{"row": i, "path": dataset.files[i]} for i in rows] if dataset.files else [{"row": i} for i in rows]
        pixels = None if dataset.files else ray.put(dataset.x)
        blocks = min(len(items), max(workers, -(-len(items) // batch_size)))  # every worker gets some
        mapped = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            BackboneWorker,
            batch_size=batch_size,
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=0 if on_gpu else 1,
            num_gpus=1 if on_gpu else 0,
            fn_constructor_kwargs={
                "backbone_name": backbone.name,
                "input_size": backbone.input_size,
                "device": "cuda" if on_gpu else "cpu",
                "allow_download": allow_download,
                "pixels": pixels,
            },
        )
        try:
            with _console_warnings_only():  # Ray Data's plan and progress, each step at INFO: our bar says it
                # prefetch_batches=0: Ray Data's prefetcher thread outlives an iteration ended early (a Stop, a
                # failed worker) and ray.shutdown(); woken with blocks to fetch, it called into the shut-down
                # core worker, which ends the whole process ("The core worker has already been shutdown"): a
                # full test run died so. The actors compute ahead regardless; only the local fetch waits.
                batches = mapped.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0)
                yield from in_row_order(batches, start, stand_in)
        except ray.exceptions.RayError as exc:  # a node or worker lost: nothing the photos did
            raise ClusterError(
                f"The Ray cluster lost the features stage ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
                "The finished shards are kept: run the same command again to resume from them."
            ) from None

    return compute


@contextlib.contextmanager
def _console_warnings_only() -> Iterator[None]:
    """Ray Data's console handler at WARNING while inside; its session log file keeps every line."""
    handlers = [h for h in logging.getLogger("ray.data").handlers if isinstance(h, logging.StreamHandler)]
    levels = [h.level for h in handlers]
    for handler in handlers:
        handler.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for handler, level in zip(handlers, levels):
            handler.setLevel(level)


def from_loaded_copy(
    dataset: Dataset, backbone: Backbone, allow_download: bool, stood_in: list[str]
) -> Callable[[int, str, str], np.ndarray]:
    """(row, why its file could not be read, the node that tried) -> its features, computed here from
    the copy decoded when the folder was loaded, as a single-machine run stands in for it; the
    backbone is loaded here only if some photo needs it."""
    from core.features.backbones import load_backbone
    from core.features.extract import features_of_pixels

    model: list[torch.nn.Module] = []

    def features(row: int, why: str, node: str) -> np.ndarray:
        if not model:
            model.append(load_backbone(backbone.name, "cpu", allow_download))
        pixels = loaded_copy(dataset, backbone, row, stood_in)(0, why)
        stood_in[-1] = f"{stood_in[-1][:-1]}, on the Ray node {node[:8]})"
        return features_of_pixels(model[0], backbone, pixels[None])[0].numpy()

    return features


def in_row_order(
    batches: Iterable[dict[str, np.ndarray]], start: int, stand_in: Callable[[int, str, str], np.ndarray] | None = None
) -> Iterator[torch.Tensor]:
    """The workers' answers as blocks of consecutive rows from `start` on, whatever order they finished in.

    A worker without a backbone stops the stage with its message and node, once every row before it
    is out (their shards are kept for the next run). A file a worker could not read gets
    `stand_in(row, why, node)`'s features (without one, it stops the stage the same way).
    """
    waiting: dict[int, tuple[np.ndarray, str, str, str]] = {}
    expected = start
    for batch in batches:
        answers = zip(batch["row"], batch["features"], batch["node"], batch["error"], batch["unreadable"])
        for row, features, node, error, unreadable in answers:
            waiting[int(row)] = features, str(node), str(error), str(unreadable)
        ready = []
        while expected in waiting:
            features, node, error, unreadable = waiting.pop(expected)
            if unreadable and stand_in is not None:
                features = stand_in(expected, unreadable, node)
            elif error or unreadable:
                yield from ([torch.from_numpy(np.stack(ready))] if ready else [])
                raise DataError(f"{error or unreadable} (on the Ray node {node[:8]})")
            ready.append(features)
            expected += 1
        if ready:
            yield torch.from_numpy(np.stack(ready))
