"""Does a TEMI clustering head (core.heads) beat k-means and UMAP + GMM on the same frozen features?

EfficientNet-Lite0 features of the two image tuning sets, computed through the project's own path
(`load_dataset` -> `dataset_features`, cached as safetensors under $LATENTBOARD_DATA_DIR, default
/tmp/latentboard-temi-bench here, so the CIFAR features take their few CPU minutes once), then
ACC / NMI / seconds for, all with 10 clusters:

    kmeans      k-means (best of 10 starts) on the standardised features
    umap+gmm    N2D: UMAP to 10 dims with min_dist=0, then the best of 10 GMMs (core.evaluation.clustering)
    temi        TEMIClusterer with its defaults (one line per seed)

Issue 19's aim: TEMI >= UMAP + GMM + 0.05 ACC on the CIFAR-10 tuning file, and no loss on the birds.
Prints figures; never part of the tests' pass/fail.

    python benchmarks/temi_head.py                           # both sets, TEMI seed 0, one thread
    python benchmarks/temi_head.py --sets birds --seeds 0 1 2
    python benchmarks/temi_head.py --features-only           # just fill the features cache
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import zipfile
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CACHE = Path(os.environ.setdefault("LATENTBOARD_DATA_DIR", "/tmp/latentboard-temi-bench"))

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

import numpy as np  # noqa: E402
import torch  # noqa: E402

from core.config import DataSpec  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.evaluation.clustering import cluster_accuracy, n2d_cluster  # noqa: E402
from core.features.cache import dataset_features, standardise  # noqa: E402

BACKBONE = "efficientnet-lite0"


def birds_folder() -> Path:
    """The birds zip unpacked once under the cache (a folder source reads files, and keys features by them)."""
    folder = CACHE / "birds-10-species"
    if not folder.is_dir():
        with zipfile.ZipFile(SHARED / "birds-10-species.zip") as archive:
            archive.extractall(folder)
    return folder


def spec_for(name: str) -> DataSpec:
    if name == "birds":
        return DataSpec(source="folder", path=str(birds_folder()))
    return DataSpec(source="npz", path=str(SHARED / "cifar10-train-10k.npz"))


def features_of(name: str) -> tuple[np.ndarray, np.ndarray]:
    dataset = load_dataset(spec_for(name))
    began = time.perf_counter()
    features = dataset_features(dataset, BACKBONE)
    print(f"{name}: {len(dataset)} rows, features {tuple(features.shape)} in {time.perf_counter() - began:.1f} s")
    return standardise(features, features).numpy(), dataset.y.numpy()


def scores(y: np.ndarray, pred: np.ndarray) -> tuple[float, float]:
    from sklearn.metrics import normalized_mutual_info_score

    return cluster_accuracy(y, pred), float(normalized_mutual_info_score(y, pred))


def timed(fn) -> tuple[np.ndarray, float]:
    began = time.perf_counter()
    pred = fn()
    return np.asarray(pred), time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["birds", "cifar10"], choices=["birds", "cifar10"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0], help="TEMI seeds (baselines use seed 0)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--features-only", action="store_true")
    parser.add_argument("--no-baselines", action="store_true", help="TEMI only")
    parser.add_argument("--param", nargs="*", default=[], help="TEMI overrides, name=value (tuning)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    overrides = {k: float(v) if "." in v or "e" in v else int(v) for k, v in (p.split("=", 1) for p in args.param)}

    print(f"features cache: {CACHE}, threads: {torch.get_num_threads()}, TEMI overrides: {overrides or 'none'}")
    for name in args.sets:
        x, y = features_of(name)
        if args.features_only:
            continue
        k = len(np.unique(y))
        rows = []
        if not args.no_baselines:
            from sklearn.cluster import KMeans

            kmeans = KMeans(n_clusters=k, n_init=10, random_state=0)
            pred, s = timed(lambda: kmeans.fit_predict(x))  # noqa: B023 (called at once)
            rows.append(("kmeans", 0, *scores(y, pred), s))
            pred, s = timed(lambda: n2d_cluster(x, k, random_state=0))  # noqa: B023
            rows.append(("umap+gmm", 0, *scores(y, pred), s))
        from core.heads import TEMIClusterer

        for seed in args.seeds:
            head = TEMIClusterer(n_clusters=k, random_state=seed, **overrides)
            pred, s = timed(lambda head=head: head.fit_predict(x))  # noqa: B023
            rows.append(("temi", seed, *scores(y, pred), s))
            print(f"  temi seed {seed}: clusters used {len(np.unique(pred))}, best head {head.best_head_}")
        print(f"\n{name} ({len(x)} rows, {x.shape[1]}-d {BACKBONE} features, {k} clusters)")
        print(f"{'method':<10} {'seed':>4} {'ACC':>6} {'NMI':>6} {'seconds':>8}")
        for method, seed, acc, nmi, s in rows:
            print(f"{method:<10} {seed:>4} {acc:>6.3f} {nmi:>6.3f} {s:>8.1f}")
        print(flush=True)


if __name__ == "__main__":
    main()
