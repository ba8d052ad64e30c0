"""How close the reconstructions are to the inputs: MSE everywhere, PSNR and SSIM for images.

Images are in [0, 1], so PSNR and SSIM use a data range of 1. SSIM follows scikit-image's
`structural_similarity` (7x7 window, smaller for tiny images such as the 8x8 digits).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from core.encoding import batched_apply

SSIM_CHUNK = 1024  # images per vectorised SSIM call (bounds memory)


def reconstruct(model: torch.nn.Module, x: torch.Tensor | np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """decode(encode(x)) as float32 (deterministic even for VAEs: encode gives the posterior mean)."""
    parts = batched_apply(model, x, lambda batch: model.decode(model.encode(batch)), batch_size)
    if not parts:
        return np.zeros((0, *np.shape(x)[1:]), dtype=np.float32)
    return np.concatenate(parts)


def reconstruction_errors(model: torch.nn.Module, x: torch.Tensor | np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Per-sample mean squared error between x and its reconstruction, float64 (N,)."""
    x_np = np.asarray(torch.as_tensor(x, dtype=torch.float32).cpu().numpy())
    x_hat = reconstruct(model, x, batch_size)
    return mse_per_sample(x_np, x_hat)


def mse_per_sample(x: np.ndarray, x_hat: np.ndarray, chunk: int = SSIM_CHUNK) -> np.ndarray:
    """float64 (N,), a chunk of rows at a time: whole float64 copies of 100,000 photos' features took 3 GB."""
    out = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), chunk):
        diff = np.asarray(x[start : start + chunk], dtype=np.float64) - np.asarray(
            x_hat[start : start + chunk], dtype=np.float64
        )
        out[start : start + chunk] = (diff.reshape(len(diff), -1) ** 2).mean(axis=1)
    return out


def ssim_window(height: int, width: int) -> int | None:
    """The largest odd window up to skimage's default 7 that fits the image; None below 3 pixels."""
    side = min(7, height, width)
    side -= 1 - side % 2
    return side if side >= 3 else None


def ssim_per_sample(x: np.ndarray, x_hat: np.ndarray) -> np.ndarray | None:
    """SSIM of every image pair in (N, C, H, W) arrays in [0, 1]; None if the images are too small.

    Equal to calling skimage's structural_similarity(a, b, data_range=1, channel_axis=...) on each
    pair, but done a chunk of images at a time: the images are laid side by side as channels of one
    array, the full SSIM map is computed once, and each image's (border-cropped) part is averaged.
    """
    from skimage.metrics import structural_similarity

    n, c, h, w = np.shape(x)
    win = ssim_window(h, w)
    if win is None:
        return None
    pad = (win - 1) // 2
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, SSIM_CHUNK):  # float64 copies a chunk at a time, never of all the images
        a = np.asarray(x[start : start + SSIM_CHUNK], dtype=np.float64)
        b = np.asarray(np.clip(x_hat[start : start + SSIM_CHUNK], 0.0, 1.0), dtype=np.float64)
        m = len(a)
        # (m, C, H, W) -> (H, W, m*C): every channel of every image is one "channel" for skimage
        a2 = a.reshape(m * c, h, w).transpose(1, 2, 0)
        b2 = b.reshape(m * c, h, w).transpose(1, 2, 0)
        _, full = structural_similarity(a2, b2, data_range=1.0, channel_axis=-1, win_size=win, full=True)
        cropped = full[pad : h - pad, pad : w - pad, :]
        out[start : start + m] = cropped.reshape(-1, m, c).mean(axis=(0, 2)) if cropped.size else np.nan
    return out


def per_sample_quality(x: np.ndarray, x_hat: np.ndarray, kind: str = "image") -> dict[str, np.ndarray | None]:
    """{"mse": (N,), "psnr": (N,) or None, "ssim": (N,) or None}.

    PSNR and SSIM are for images in [0, 1]; tables (standardised values with no fixed range) get None.
    """
    x, x_hat = np.asarray(x), np.asarray(x_hat)
    mse = mse_per_sample(x, x_hat)
    if kind != "image" or x.ndim != 4:
        return {"mse": mse, "psnr": None, "ssim": None}
    psnr = 10.0 * np.log10(1.0 / np.maximum(mse, 1e-10))  # capped at 100 dB for perfect copies
    return {"mse": mse, "psnr": psnr, "ssim": ssim_per_sample(x, x_hat)}


def reconstruction_quality(x: np.ndarray, x_hat: np.ndarray, kind: str = "image") -> dict[str, Any]:
    """{"mse", "psnr", "ssim"}: means over samples (psnr/ssim None for tables); see per_sample_quality."""
    per = per_sample_quality(x, x_hat, kind)
    return {key: None if values is None or len(values) == 0 else float(np.mean(values)) for key, values in per.items()}


def streamed_reconstruction_quality(
    model: torch.nn.Module, inputs: torch.Tensor, index: np.ndarray, kind: str = "image", chunk: int = 8192
) -> dict[str, Any]:
    """reconstruction_quality of inputs[index] and their reconstructions, `chunk` rows at a time: only one
    chunk of inputs and reconstructions is ever in memory (at 100,000 photos all of both took 1 GB)."""
    per: dict[str, list[np.ndarray]] = {"mse": [], "psnr": [], "ssim": []}
    for start in range(0, len(index), chunk):
        x = inputs[torch.as_tensor(np.asarray(index[start : start + chunk]))].numpy()
        for key, values in per_sample_quality(x, reconstruct(model, x), kind).items():
            if values is not None:
                per[key].append(values)
    return {key: float(np.mean(np.concatenate(values))) if values else None for key, values in per.items()}


def nearest_to_reconstruction(
    model: torch.nn.Module, inputs: torch.Tensor, rows: np.ndarray, pool: np.ndarray, k: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """(pool rows (n, k), distances (n, k)): the rows of `pool` whose inputs lie nearest each reconstruction.

    A model trained on backbone features rebuilds a feature vector, not a picture; the honest way
    to show it is the photos whose features it rebuilt best. The row itself comes first when it is
    in `pool` and the model reconstructs it faithfully.
    """
    from sklearn.neighbors import NearestNeighbors

    pool = np.asarray(pool)
    rows = np.asarray(rows)
    k = max(1, min(int(k), len(pool)))
    if len(rows) == 0:
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
    x_hat = reconstruct(model, inputs[torch.as_tensor(rows)])
    index = NearestNeighbors(n_neighbors=k).fit(inputs[torch.as_tensor(pool)].reshape(len(pool), -1).numpy())
    distances, found = index.kneighbors(x_hat.reshape(len(rows), -1))
    return pool[found], distances
