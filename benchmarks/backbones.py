"""Which offline features, and which clustering stage on them, tell the CIFAR-10 tuning images apart best?

For each setting, the features of a class-balanced sample of the CIFAR-10 tuning file
(../shared/data/cifar10-train-10k.npz; never a test split), then, per clustering STAGE, ACC / NMI /
seconds against the labels (and the share of each image's 10 nearest neighbours, standardised
features, that hold its class). A setting is BACKBONE:SIZE with optional parts:

    :flip     the mean of the features of each image and of its mirror
    :logits   the ImageNet classifier's 1,000 logits beside the 1,280 pooled features
    A+B       two settings side by side, each L2-normalised first (TURTLE: one space each)

Stages: n2d (UMAP to 10-d + the best of 10 GMMs on the standardised features: what photos were
sorted by), n2d-cosine (the same UMAP with cosine distance, on the raw features), kmeans, temi
(core.heads.temi with its defaults), turtle (core.heads.turtle with its defaults). Each setting's
features are computed once into --cache (one .npy per backbone, size and mirror), so a second run
only clusters. Feature seconds are wall time; compare them only within one quiet run. Never part
of the tests' pass/fail.

    python benchmarks/backbones.py --per-class 1000 --stages n2d turtle --cache /tmp/cifar-features -- \\
        efficientnet-lite0:96 efficientnet-lite0:96:flip efficientnet-lite2:128:flip \\
        efficientnet-lite0:96:flip+efficientnet-lite2:128:flip
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

from core.clusterers import N2D_EPOCHS, N2D_NEIGHBORS, N2DMixture, clusterer  # noqa: E402
from core.evaluation.clustering import cluster_accuracy  # noqa: E402
from core.features import extract_features, get_backbone, load_backbone  # noqa: E402
from core.heads import TEMIClusterer, TURTLEClusterer  # noqa: E402

CIFAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-train-10k.npz"
STAGES = ("n2d", "n2d-cosine", "kmeans", "temi", "turtle")


def sample(per_class: int, seed: int) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """(images (N, 3, 32, 32) in [0, 1], labels, their rows in the file)."""
    data = np.load(CIFAR)
    x, y = data["x"], data["y"]
    rng = np.random.default_rng(seed)
    index = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)])
    images = torch.from_numpy(x[index]).float().div(255)
    if images.shape[-1] == 3:  # (N, H, W, C) -> (N, C, H, W)
        images = images.permute(0, 3, 1, 2).contiguous()
    return images, y[index], index


class Features:
    """Pooled features per (backbone, size, mirror), computed once per process and kept in `cache`."""

    def __init__(self, images: torch.Tensor, index: np.ndarray, cache: Path | None):
        self.images, self.index, self.cache, self.seconds = images, index, cache, {}

    def pooled(self, name: str, size: int, mirrored: bool) -> np.ndarray:
        path = self.cache / f"{name}-{size}{'-flip' if mirrored else ''}.npy" if self.cache else None
        if path is not None and path.is_file():  # the cache holds all 10,000 rows of the file
            return np.load(path)[self.index]
        model, backbone = load_backbone(name), get_backbone(name).at_size(size)
        began = time.perf_counter()
        images = self.images.flip(-1) if mirrored else self.images
        features = extract_features(model, backbone, x=images).numpy()
        self.seconds[(name, size, mirrored)] = time.perf_counter() - began
        if path is not None and len(self.index) == len(np.load(CIFAR)["y"]):
            path.parent.mkdir(parents=True, exist_ok=True)
            full = np.empty_like(features)
            full[self.index] = features
            np.save(path, full)
        return features

    def setting(self, setting: str) -> tuple[np.ndarray, list[int]]:
        """(the rows of `setting`, the widths of its spaces)."""
        if "+" in setting:
            parts = [self.setting(part)[0] for part in setting.split("+")]
            parts = [p / np.linalg.norm(p, axis=1, keepdims=True) for p in parts]
            return np.hstack(parts), [p.shape[1] for p in parts]
        name, size, *options = setting.split(":")
        features = self.pooled(name, int(size), False)
        if "flip" in options:
            features = (features + self.pooled(name, int(size), True)) / 2
        if "logits" in options:
            weight, bias = get_backbone(name).classifier(True)
            features = np.hstack([features, features @ weight.numpy().T + bias.numpy()])
        return features.astype(np.float32), [features.shape[1]]


def standardised(x: np.ndarray) -> np.ndarray:
    return (x - x.mean(0)) / (x.std(0) + 1e-6)


def cluster(stage: str, features: np.ndarray, spaces: list[int], k: int, seed: int) -> np.ndarray:
    z = standardised(features)
    if stage == "n2d":
        return clusterer("n2d", k, random_state=seed).fit_predict(z)
    if stage == "n2d-cosine":
        from core.umap_cache import import_umap

        manifold = import_umap().UMAP(
            n_components=k,
            n_neighbors=N2D_NEIGHBORS,
            min_dist=0.0,
            metric="cosine",
            n_epochs=N2D_EPOCHS,
            random_state=seed,
        )
        return N2DMixture(k, random_state=seed).fit_predict(manifold.fit_transform(features))
    if stage == "kmeans":
        return clusterer("kmeans", k, random_state=seed).fit_predict(z)
    if stage == "temi":
        return TEMIClusterer(k, random_state=seed).fit_predict(z)
    if stage == "turtle":
        return TURTLEClusterer(k, random_state=seed, spaces=spaces).fit_predict(features)
    raise ValueError(stage)


def purity(features: np.ndarray, y: np.ndarray) -> float:
    """The share of each row's 10 nearest neighbours (standardised features) that hold its class."""
    z = standardised(features)
    _, neighbours = NearestNeighbors(n_neighbors=11).fit(z).kneighbors(z)
    return float((y[neighbours[:, 1:]] == y[:, None]).mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="+", metavar="BACKBONE:SIZE[:flip][:logits][+...]")
    parser.add_argument("--per-class", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0, help="the sample's seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="the clustering's seeds (averaged)")
    parser.add_argument("--stages", nargs="+", default=["n2d"], choices=STAGES)
    parser.add_argument("--cache", type=Path, default=None, help="keep the features of all 10,000 images here")
    parser.add_argument("--purity", action="store_true", help="also the 10-NN class purity")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not CIFAR.is_file():
        print(f"needs the CIFAR-10 tuning file at {CIFAR}", file=sys.stderr)
        return 1
    images, y, index = sample(args.per_class, args.seed)
    features = Features(images, index, args.cache)
    k = len(np.unique(y))
    print(f"{len(y)} CIFAR-10 tuning images ({args.per_class} a class), sample seed {args.seed}, seeds {args.seeds}")
    print(f"{'features':56s} {'dim':>5s} {'stage':>10s} {'ACC':>6s} {'NMI':>6s} {'seconds':>8s}", flush=True)
    for setting in args.settings:
        rows, spaces = features.setting(setting)
        if args.purity:
            print(f"{setting:56s} {rows.shape[1]:5d} {'10-NN':>10s} {purity(rows, y):6.3f}", flush=True)
        for stage in args.stages:
            began = time.perf_counter()
            runs = [cluster(stage, rows, spaces, k, seed) for seed in args.seeds]
            seconds = (time.perf_counter() - began) / len(runs)
            acc = float(np.mean([cluster_accuracy(y, p) for p in runs]))
            nmi = float(np.mean([normalized_mutual_info_score(y, p) for p in runs]))
            print(f"{setting:56s} {rows.shape[1]:5d} {stage:>10s} {acc:6.3f} {nmi:6.3f} {seconds:8.0f}", flush=True)
    for (name, size, mirrored), seconds in features.seconds.items():
        print(f"features of {name} at {size} px{' (mirrored)' if mirrored else ''}: {seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
