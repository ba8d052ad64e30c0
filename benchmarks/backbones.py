"""Which offline features tell the CIFAR-10 tuning images apart best, and at what size?

For each BACKBONE:SIZE[:flip] given, the features of a class-balanced sample of the CIFAR-10 tuning
file (../shared/data/cifar10-train-10k.npz; never a test split), then two label-aware figures:
the share of each image's 10 nearest neighbours (standardised features) that hold its class, and
N2D's ACC / NMI (UMAP + GMM, the clustering photos are sorted by) averaged over two seeds. `flip`
averages the features of each image and its mirror. Feature seconds are wall time; compare them
only within one quiet run. Never part of the tests' pass/fail.

    python benchmarks/backbones.py --per-class 200 efficientnet-lite0:96 efficientnet-lite0:224 \\
        efficientnet-lite2:128 efficientnet-lite2:260 efficientnet-lite0:96:flip
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import normalized_mutual_info_score
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.clusterers import clusterer  # noqa: E402
from core.evaluation.clustering import cluster_accuracy  # noqa: E402
from core.features import extract_features, get_backbone, load_backbone  # noqa: E402

CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-train-10k.npz"


def sample(per_class: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    data = np.load(CIFAR)
    x, y = data["x"], data["y"]
    rng = np.random.default_rng(seed)
    index = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    images = torch.from_numpy(x[index]).float().div(255)
    if images.shape[-1] == 3:  # (N, H, W, C) -> (N, C, H, W)
        images = images.permute(0, 3, 1, 2).contiguous()
    return images, y[index]


def scores(features: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(10-NN class purity, N2D ACC, N2D NMI) on standardised features."""
    z = (features - features.mean(0)) / (features.std(0) + 1e-6)
    _, neighbours = NearestNeighbors(n_neighbors=11).fit(z).kneighbors(z)
    purity = float((y[neighbours[:, 1:]] == y[:, None]).mean())
    runs = [clusterer("n2d", len(np.unique(y)), random_state=seed).fit_predict(z) for seed in (0, 1)]
    acc = float(np.mean([cluster_accuracy(y, p) for p in runs]))
    nmi = float(np.mean([normalized_mutual_info_score(y, p) for p in runs]))
    return purity, acc, nmi


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", metavar="BACKBONE:SIZE[:flip]")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not CIFAR.is_file():
        print(f"needs the CIFAR-10 tuning file at {CIFAR}", file=sys.stderr)
        return 1
    images, y = sample(args.per_class, args.seed)
    print(f"{len(y)} CIFAR-10 tuning images ({args.per_class} a class), seed {args.seed}")
    print(f"{'features':32s} {'seconds':>8s} {'10-NN purity':>13s} {'N2D ACC':>8s} {'NMI':>6s}")
    for setting in args.settings:
        name, size, *rest = setting.split(":")
        model, backbone = load_backbone(name), get_backbone(name).at_size(int(size))
        began = time.perf_counter()
        features = extract_features(model, backbone, x=images).numpy()
        if rest == ["flip"]:
            features = (features + extract_features(model, backbone, x=images.flip(-1)).numpy()) / 2
        seconds = time.perf_counter() - began
        purity, acc, nmi = scores(features, y)
        print(f"{setting:32s} {seconds:8.0f} {purity:13.3f} {acc:8.3f} {nmi:6.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
