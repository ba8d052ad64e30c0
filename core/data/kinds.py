"""What kind of data a dataset holds, read off the data itself: the one fact "best-quality" needs.

No single recipe suits every kind. Handwriting and other line drawings vary in pose from writer
to writer, so an autoencoder taught to ignore small turns and rescalings (pose augmentation)
groups them by what they are (N2D ACC 0.97 on mnist-10k). Photographed objects are upright and
centred: the same augmentation only blurs them (0.56 on Fashion-MNIST), and what groups them
by what they are is a pretrained network's features, as for photos. Labels play no part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from core.data.dataset import Dataset

KINDS = ("line-art", "objects", "thumbnails", "photos", "table")
# The median share of ink pixels that touch the background: strokes are a few pixels wide, so most
# of their pixels lie on an edge; filled shapes have an inside. Measured: 8x8 digits 0.96, mnist
# 0.70-0.71, Fashion-MNIST 0.43. The threshold sits between handwriting and clothes.
LINE_ART_EDGE_SHARE = 0.6
PHOTO_MIN_SIDE = 64  # grayscale images this large are photographs, not glyphs or icons
SAMPLE = 2000  # images looked at (seeded): the statistic is a median, stable long before this


@dataclass(frozen=True)
class DataKind:
    """`name` is one of KINDS; `reason` says in a sentence what in the data decided it."""

    name: str
    reason: str


def edge_share(x: torch.Tensor) -> np.ndarray:
    """For each image of (N, C, H, W) in [0, 1]: the share of its ink pixels that touch the background.

    Ink is what differs from the background, whichever is darker (the border's mean says which),
    above half the image's strongest ink. Images with no ink give NaN.
    """
    gray = x.float().mean(1)
    border = torch.cat([gray[:, 0], gray[:, -1], gray[:, :, 0], gray[:, :, -1]], 1).mean(1)
    ink_level = torch.where(border[:, None, None] > 0.5, 1 - gray, gray)
    ink = ink_level > 0.5 * ink_level.amax((1, 2), keepdim=True)
    ink &= ink_level.amax((1, 2), keepdim=True) > 0.1
    padded = F.pad(ink[:, None].float(), (1, 1, 1, 1))[:, 0] > 0
    inside = ink & padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2] & padded[:, 1:-1, 2:]
    total = ink.sum((1, 2)).float()
    share = 1 - inside.sum((1, 2)).float() / total.clamp_min(1)
    return torch.where(total > 0, share, torch.nan).numpy()


def data_kind(dataset: Dataset, seed: int = 0) -> DataKind:
    """Table, thumbnails (colour, smaller than PHOTO_MIN_SIDE), photos (colour, or grayscale at least
    PHOTO_MIN_SIDE), line art or objects (small grayscale)."""
    if dataset.kind == "table":
        return DataKind("table", "a table of values")
    channels, height, width = dataset.input_shape
    if channels == 3 and not _all_gray(dataset.x, seed):
        from core.features.cache import pictures_side  # the pictures' real side, not what the loader resized to

        side = pictures_side(dataset)
        if side < PHOTO_MIN_SIDE:
            return DataKind("thumbnails", f"colour pictures of {side} px, which a backbone reads enlarged")
        return DataKind("photos", "colour images")
    if min(height, width) >= PHOTO_MIN_SIDE:
        return DataKind("photos", f"grayscale images of {width} x {height} pixels")
    index = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:SAMPLE]
    shares = edge_share(dataset.x[index])
    median = float(np.nanmedian(shares)) if np.isfinite(shares).any() else 0.0
    if median >= LINE_ART_EDGE_SHARE:
        return DataKind("line-art", f"line drawings: {median:.0%} of the ink lies on a stroke's edge")
    return DataKind("objects", f"filled shapes: only {median:.0%} of the ink lies on an edge, the rest inside")


def _all_gray(x: torch.Tensor, seed: int) -> bool:
    """True when the three channels of a seeded sample agree (a colour file holding a grayscale image)."""
    index = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:SAMPLE]
    sample = x[index].float()
    return bool((sample.amax(1) - sample.amin(1)).max() < 1 / 255)
