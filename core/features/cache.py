"""Features computed once per (dataset rows, backbone, input size), kept beside the dataset cache.

The key is what decides the numbers: the backbone and its input size, and the rows themselves
(each source file's path, size and modification time, or the bytes of an in-memory image
tensor). The file is safetensors, written atomically, so a crash mid-write leaves no half cache,
and carries its checksum (core.checksums), so one damaged on disk is computed again, never trusted.
While it is computed it is written in shards (core.features.shards), so a killed extraction
resumes where it stopped; the finished cache is one file, as before shards existed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_write_bytes
from core.checksums import sealed_safetensors
from core.data.common import count
from core.data.dataset import Dataset
from core.data.images import open_image
from core.errors import ConfigError
from core.features.backbones import Backbone, get_backbone, load_backbone
from core.features.extract import Progress, StandIn, iter_features, tensor_for_backbone
from core.features.shards import SHARD_ROWS, ShardFolder, read_sealed_features
from core.paths import default_data_dir

FEATURES_DIR = "features"


def backbone_for(dataset: Dataset, backbone_name: str, input_size: int | None = None) -> Backbone:
    """The backbone at the geometry it reads `dataset`'s rows at, and any new image beside them.

    `input_size` is the run's setting (FeatureConfig.input_size); a new run always has one (see
    settled_input_size). Unset, as in runs from before it was settled, the rule those runs trained
    by: rows read from files at the backbone's own size, rows held as a tensor (MNIST-like arrays)
    at a size fitted to their side.
    """
    backbone = get_backbone(backbone_name)
    if input_size is not None:
        return backbone.at_size(input_size)
    return backbone.for_images(None if dataset.files else max(dataset.input_shape[-2:]))


HEADERS_SAMPLED = 500  # files whose headers decide the side: the median settles within a few hundred


def pictures_side(dataset: Dataset, sampled: int = HEADERS_SAMPLED) -> int:
    """The longer side, in px, of a typical picture of `dataset` as it was before any resize.

    Read from the image files' headers (no pixel decoded; a seeded sample of a large folder, its
    median), or from the array rows' own shape: the same 28 px picture gets the same answer from
    an array and from a folder of PNG files. A file that cannot be opened is left out; none at all
    falls back to the array rows' shape.
    """
    if not dataset.files:
        return int(max(dataset.input_shape[-2:]))
    files = list(dataset.files)
    if len(files) > sampled:
        picked = np.random.default_rng(0).choice(len(files), sampled, replace=False)
        files = [files[i] for i in sorted(picked.tolist())]
    sides = []
    for name in files:
        try:
            with open_image(name) as img:
                sides.append(max(img.size))
        except Exception:  # unreadable files were skipped when the dataset was read; they decide nothing
            continue
    return int(np.median(sides)) if sides else int(max(dataset.input_shape[-2:]))


def settled_input_size(dataset: Dataset, backbone_name: str) -> int:
    """The side the backbone reads `dataset`'s pictures at, by their real size: small pictures at a
    few times their side (Backbone.for_images), photos at the backbone's own size, whatever the
    container. A new run stores it in its config (core.gate.settle), so it never changes under the run.
    """
    return get_backbone(backbone_name).for_images(pictures_side(dataset)).input_size


def features_key(dataset: Dataset, backbone_name: str, input_size: int | None = None) -> str:
    backbone = backbone_for(dataset, backbone_name, input_size)
    sha = hashlib.sha256(json.dumps([backbone.name, backbone.weights, backbone.input_size, backbone.resize]).encode())
    if dataset.files:
        for name in dataset.files:
            stat = os.stat(name)
            sha.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    else:
        sha.update(str(tuple(dataset.x.shape)).encode())
        sha.update(dataset.x.contiguous().numpy().tobytes())
    return sha.hexdigest()[:20]


def features_path(dataset: Dataset, backbone_name: str, input_size: int | None = None) -> Path:
    key = features_key(dataset, backbone_name, input_size)
    return default_data_dir() / FEATURES_DIR / f"{backbone_name}-{key}.safetensors"


def dataset_features(
    dataset: Dataset,
    backbone_name: str,
    device: torch.device | str = "cpu",
    batch_size: int = 32,
    progress: Progress | None = None,
    allow_download: bool = True,
    input_size: int | None = None,
    on_note: Callable[[str], None] | None = None,
    shard_rows: int = SHARD_ROWS,
    compute: RowBlocks | None = None,
) -> torch.Tensor:
    """float32 (len(dataset), dim) features of every row: from the cache, or computed and cached.

    A cache file that does not match its checksum, or from before checksums, is computed again
    (`on_note` hears why): it is only a cache, and the same features come back from the images.
    While computing, every `shard_rows` rows are written as a shard (see core.features.shards), so
    a stopped or killed extraction resumes from its finished shards; `progress` then starts at
    the rows they hold. `compute` computes the missing rows elsewhere (core.features.distributed:
    on a Ray cluster); by default this process does, on `device`. Either way the same file holds them.
    """
    if dataset.kind != "image" or len(dataset.input_shape) != 3:
        raise ConfigError(
            f"Pretrained image features need images; '{dataset.name}' is a table. "
            "Train on its values directly (leave the backbone unset)."
        )
    path = features_path(dataset, backbone_name, input_size)
    shards = ShardFolder(path.with_suffix(""), backbone_name, len(dataset), shard_rows)
    note = on_note or (lambda _: None)
    if path.is_file():
        features, problem = _cached_features(path, len(dataset))
        if features is not None:
            shards.remove()  # left behind by a process killed between assembling and clearing them
            if progress is not None:
                progress(len(dataset), len(dataset))
            return features
        note(f"The features cache {path} {problem}; computing the features again.")
    finished = shards.finished(note)
    done = sum(len(block) for block in finished)
    if done:
        note(
            f"Resuming the {backbone_name} features from {done} of {len(dataset)} photos already computed "
            f"({len(finished)} shards in {shards.folder})."
        )
    if done < len(dataset):
        stood_in: list[str] = []  # photos gone or changed since loading, read from their loaded copies
        compute = compute or in_this_process(dataset, device, batch_size, allow_download, stood_in)
        blocks = compute(backbone_for(dataset, backbone_name, input_size), done)
        if progress is not None:  # after loading: the rate counts photos, not the backbone's start-up
            progress(done, len(dataset))
        finished += shards.write_as_computed(blocks, len(finished), done, progress)
        if stood_in:
            note(stood_in_note(stood_in))
    elif progress is not None:  # every shard finished; only the assembling was cut short
        progress(done, len(dataset))
    features = torch.cat(finished)
    del finished  # the shards' copy: at 100,000 photos 0.5 GB that the sealed bytes below need more
    atomic_write_bytes(
        path, sealed_safetensors({"features": features.contiguous()}, metadata={"backbone": backbone_name})
    )
    shards.remove()
    return features


# (the backbone at the geometry it reads the rows at, the first row to compute) -> the features of
# that row and every later one, in order, a block at a time
RowBlocks = Callable[[Backbone, int], Iterator[torch.Tensor]]


def in_this_process(
    dataset: Dataset,
    device: torch.device | str = "cpu",
    batch_size: int = 32,
    allow_download: bool = True,
    stood_in: list[str] | None = None,
) -> RowBlocks:
    """The features computed here: the backbone loaded once on `device`, the rows read from their files
    (with `stood_in`, a photo gone since loading is read from its loaded copy and named there)."""

    def compute(backbone: Backbone, start: int) -> Iterator[torch.Tensor]:
        model = load_backbone(backbone.name, device, allow_download)
        return iter_features(
            model,
            backbone,
            files=dataset.files[start:],
            x=None if dataset.files else dataset.x[start:],
            batch_size=batch_size,
            stand_in=None if stood_in is None else loaded_copy(dataset, backbone, start, stood_in),
        )

    return compute


def loaded_copy(dataset: Dataset, backbone: Backbone, offset: int, stood_in: list[str]) -> StandIn:
    """A photo gone or changed since the folder was loaded: the backbone reads the copy decoded then.

    Its row stays (every later step counts on the rows), and `stood_in` collects its name and why.
    """

    def stand_in(position: int, why: str) -> np.ndarray:
        row = offset + position
        stood_in.append(f"{Path(dataset.files[row]).name} ({why.split(' (')[-1].split(');')[0]})")
        pixels = tensor_for_backbone(dataset.x[row : row + 1], backbone)[0]
        return pixels.permute(1, 2, 0).mul(255.0).round().to(torch.uint8).numpy()

    return stand_in


def stood_in_note(stood_in: list[str]) -> str:
    more = f"; and {len(stood_in) - 5} more" if len(stood_in) > 5 else ""
    return (
        f"{count(len(stood_in), 'photo')} could not be read for the features any more (gone or changed since "
        f"the folder was loaded): {'; '.join(stood_in[:5])}{more}. Their features come from the copies decoded "
        "when it was loaded; load the folder again to leave them out."
    )


def _cached_features(path: Path, rows: int) -> tuple[torch.Tensor | None, str]:
    """(the features in a sound cache file, ""), or (None, what is wrong with it)."""
    features, _, problem = read_sealed_features(path)
    if features is not None and features.shape[0] != rows:
        return None, f"holds {features.shape[0]} rows, not {rows}"
    return features, problem


def standardise(features: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Features on the scale the autoencoder learned: per-dimension z-scores against `reference`.

    Backbones differ in scale by an order of magnitude; on standardised features one recipe
    (width, noise, learning rate) fits them all. `reference` is every row of the run's dataset
    (no labels involved), so a new image is scaled exactly as the training rows were.
    """
    return (features - reference.mean(0)) / (reference.std(0) + 1e-6)
