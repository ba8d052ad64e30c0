"""Images -> backbone features, batched, with decoding overlapped with the forward pass.

A backbone reads each image at its own resolution: straight from the original file when the
dataset came from files (a 64 px thumbnail would throw away what the network needs), else from
the dataset's own tensor, resized. Decoding runs on a small thread pool one batch ahead, so the
cores that run the network never wait for JPEGs (Pillow releases the GIL while decoding).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from core.data.images import open_image, to_rgb
from core.errors import ConfigError, DataError
from core.features.backbones import Backbone

Progress = Callable[[int, int], None]  # (images done, images in all)


def image_for_backbone(img: Image.Image, backbone: Backbone) -> np.ndarray:
    """uint8 (S, S, 3): shorter side resized to `backbone.resize`, centre-cropped to its input size."""
    img = to_rgb(ImageOps.exif_transpose(img))
    scale = backbone.resize / min(img.size)
    img = img.resize((max(1, round(img.width * scale)), max(1, round(img.height * scale))), Image.Resampling.BICUBIC)
    return np.asarray(ImageOps.fit(img, (backbone.input_size,) * 2, Image.Resampling.BICUBIC))


def read_for_backbone(path: str | Path, backbone: Backbone) -> np.ndarray:
    """`image_for_backbone` of a file, decoding JPEGs at the smallest scale that suffices."""
    try:
        with open_image(path) as img:
            img.draft("RGB", (backbone.resize, backbone.resize))
            return image_for_backbone(img, backbone)
    except Exception as error:
        raise DataError(
            f"'{path}' could not be read for the {backbone.name} features ({error}); "
            "it may have changed since the dataset was loaded."
        ) from None


def tensor_for_backbone(x: torch.Tensor, backbone: Backbone) -> torch.Tensor:
    """float (N, C, H, W) in [0, 1] -> float (N, 3, S, S) in [0, 1], resized and centre-cropped alike."""
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    height, width = x.shape[-2:]
    scale = backbone.resize / min(height, width)
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    x = F.interpolate(x, size=size, mode="bicubic", antialias=True, align_corners=False).clamp_(0.0, 1.0)
    top, left = (size[0] - backbone.input_size) // 2, (size[1] - backbone.input_size) // 2
    return x[..., top : top + backbone.input_size, left : left + backbone.input_size]


StandIn = Callable[[int, str], np.ndarray]  # (position in the files, why unreadable) -> uint8 (S, S, 3)


def _file_batches(
    files: Sequence[str], backbone: Backbone, batch_size: int, workers: int, stand_in: StandIn | None = None
) -> Iterator[torch.Tensor]:
    """uint8 (B, 3, S, S) batches in file order, decoded `workers` batches ahead.

    A file that cannot be read any more (gone or changed since the dataset was loaded) stops the
    extraction, or with `stand_in` is replaced by what it gives for it.
    """
    starts = range(0, len(files), batch_size)

    def read(position: int) -> np.ndarray:
        try:
            return read_for_backbone(files[position], backbone)
        except DataError as error:
            if stand_in is None:
                raise
            return stand_in(position, str(error))

    def decode(start: int) -> torch.Tensor:
        rows = range(start, min(start + batch_size, len(files)))
        return torch.from_numpy(np.stack([read(i) for i in rows])).permute(0, 3, 1, 2)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = deque(pool.submit(decode, start) for start in starts[: workers + 1])
        queued = len(pending)
        while pending:
            batch = pending.popleft().result()
            if queued < len(starts):
                pending.append(pool.submit(decode, starts[queued]))
                queued += 1
            yield batch


def _tensor_batches(x: torch.Tensor, backbone: Backbone, batch_size: int) -> Iterator[torch.Tensor]:
    for start in range(0, len(x), batch_size):
        yield tensor_for_backbone(x[start : start + batch_size].float(), backbone)


def extract_features(
    model: torch.nn.Module,
    backbone: Backbone,
    *,
    files: Sequence[str] = (),
    x: torch.Tensor | None = None,
    images: Sequence[Image.Image] = (),
    batch_size: int = 32,
    progress: Progress | None = None,
    workers: int | None = None,
) -> torch.Tensor:
    """float32 (N, backbone.dim) on the CPU: one row per file (or per image of `x`, or PIL image), in order.

    `model` is `load_backbone(...)`'s network, on the device it should run on.
    """
    total = len(images) or len(files) or (0 if x is None else len(x))
    out, done = [], 0
    for block in iter_features(
        model, backbone, files=files, x=x, images=images, batch_size=batch_size, workers=workers
    ):
        out.append(block)
        done += len(block)
        if progress is not None:
            progress(done, total)
    return torch.cat(out)


def iter_features(
    model: torch.nn.Module,
    backbone: Backbone,
    *,
    files: Sequence[str] = (),
    x: torch.Tensor | None = None,
    images: Sequence[Image.Image] = (),
    batch_size: int = 32,
    workers: int | None = None,
    stand_in: StandIn | None = None,
) -> Iterator[torch.Tensor]:
    """`extract_features`' rows a batch at a time, as they are computed: a caller can keep them as it goes
    (the features cache writes them in shards, so a killed extraction loses at most one shard).
    `stand_in` gives the pixels of a file that can no longer be read (see _file_batches)."""
    if batch_size < 1:
        raise ConfigError(f"The features batch size must be at least 1 (got {batch_size}).")
    if images:  # a handful of uploads: decode here, then the same batched forward
        x = torch.from_numpy(np.stack([image_for_backbone(img, backbone) for img in images])).permute(0, 3, 1, 2)
        return _forward(model, backbone, iter(x.split(batch_size)))
    if not files and x is None:
        raise ConfigError("Nothing to compute features of: give image files or an image tensor.")
    if x is not None and x.dim() != 4:
        raise ConfigError(f"Pretrained image features need images shaped (N, C, H, W); got {tuple(x.shape)}.")
    workers = workers or max(1, min(4, (os.cpu_count() or 2) // 2))
    if files:
        batches = _file_batches(files, backbone, batch_size, workers, stand_in)
    else:
        batches = _tensor_batches(x, backbone, batch_size)
    return _forward(model, backbone, batches)


def features_of_pixels(model: torch.nn.Module, backbone: Backbone, pixels: np.ndarray) -> torch.Tensor:
    """The features of uint8 (N, S, S, 3) pixels already at the backbone's geometry (a stand-in's, say)."""
    return next(_forward(model, backbone, iter([torch.from_numpy(pixels).permute(0, 3, 1, 2)])))


def _forward(model: torch.nn.Module, backbone: Backbone, batches: Iterator[torch.Tensor]) -> Iterator[torch.Tensor]:
    """Normalise each batch (uint8 0-255 or float 0-1) the backbone's way and run it, on its device."""
    device = next(model.parameters()).device
    mean = torch.tensor(backbone.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(backbone.std, device=device).view(1, 3, 1, 1)
    for batch in batches:
        with torch.inference_mode():  # not across the yield: the caller's code runs outside it
            if device.type == "cuda":
                batch = batch.pin_memory()
            batch = batch.to(device, non_blocking=True)
            batch = batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()
            out = model((batch - mean) / std).float().cpu()
        yield out
