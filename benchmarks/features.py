"""How close does feature extraction from files come to the backbone's bare forward speed?

Pipeline: `extract_features` on JPEG files (decode + resize + crop on threads one batch ahead,
normalise, forward). Plain: a `model(x)` loop over the same images already decoded, resized and
normalised in memory, which is the most any pipeline can reach. Both run the same backbone with
the same batch size and threads (and the same channels-last weights: `load_backbone`'s, which
alone make EfficientNet-Lite0 1.7x faster on a CPU), alternating over rounds in one process; each round gives a
paired ratio and the median is reported (a noisy neighbour slows both runs of a round alike).
The last line is `ratio: X.XX` (pipeline / plain throughput; the aim is >= 0.8). Never part of
the tests' pass/fail.

    python benchmarks/features.py                         # 128 bird photos, efficientnet-lite0, 2 threads
    python benchmarks/features.py --images 256 --rounds 5 --backbone resnet50
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.features import extract_features, get_backbone, load_backbone, read_for_backbone  # noqa: E402

BIRDS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "birds-10-species.zip"


def photo_files(zip_path: Path, count: int, folder: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg"))
        step = max(1, len(names) // count)
        picked = names[::step][:count]
        for name in picked:
            archive.extract(name, folder)
    return [str(folder / name) for name in picked]


def plain(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> float:
    began = time.perf_counter()
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])
    return time.perf_counter() - began


def pipeline(model: torch.nn.Module, backbone, files: list[str], batch_size: int) -> float:
    began = time.perf_counter()
    extract_features(model, backbone, files=files, batch_size=batch_size)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=BIRDS, help="a .zip of JPEG photos")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    backbone = get_backbone(args.backbone)
    model = load_backbone(args.backbone)
    with tempfile.TemporaryDirectory() as tmp:
        files = photo_files(args.data, args.images, Path(tmp))
        decoded = torch.from_numpy(np.stack([read_for_backbone(f, backbone) for f in files])).permute(0, 3, 1, 2)
        mean, std = torch.tensor(backbone.mean).view(1, 3, 1, 1), torch.tensor(backbone.std).view(1, 3, 1, 1)
        x = ((decoded.float() / 255.0 - mean) / std).contiguous()
        plain(model, x[: args.batch_size], args.batch_size)  # warm-up: first calls allocate
        ratios, plain_rates, pipe_rates = [], [], []
        for round_ in range(args.rounds):
            order = (0, 1) if round_ % 2 == 0 else (1, 0)
            seconds = [0.0, 0.0]
            for which in order:
                seconds[which] = (
                    plain(model, x, args.batch_size)
                    if which == 0
                    else pipeline(model, backbone, files, args.batch_size)
                )
            plain_rates.append(len(files) / seconds[0])
            pipe_rates.append(len(files) / seconds[1])
            ratios.append(seconds[0] / seconds[1])
            print(
                f"round {round_ + 1}: plain {plain_rates[-1]:.1f} images/s, pipeline {pipe_rates[-1]:.1f} images/s, "
                f"ratio {ratios[-1]:.2f}",
                flush=True,
            )
    print(f"{args.backbone}, {len(files)} JPEG photos, batch {args.batch_size}, {args.threads} threads")
    print(
        f"plain model(x) on decoded tensors: median {statistics.median(plain_rates):.1f} images/s "
        f"(best {max(plain_rates):.1f})"
    )
    print(
        f"pipeline from files:               median {statistics.median(pipe_rates):.1f} images/s "
        f"(best {max(pipe_rates):.1f})"
    )
    print(f"ratio: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
