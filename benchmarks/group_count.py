"""Does the estimated number of groups (core.group_count) find the number of classes, labels hidden?

Each set's EfficientNet-Lite0 features (core.features.dataset_features, cached under
LATENTBOARD_DATA_DIR) go to estimate_group_count as the codes; the labels are used only to say
how many classes there are, and to take subsets with fewer classes (so a method that always says
10 shows up). Prints one row per set: true k, estimate, seconds; `--curves` adds the scores.
Never part of the tests' pass/fail.

Measured at the commit that added it (2 shared CPU cores, seed 0):

    set            rows true k estimate  seconds
    birds           588     10       10     60.5
    birds-4         240      4        4      7.3
    cifar10       10000     10        2    175.5
    cifar10-6      6000      6        2    176.9
    fashion       10000     10        2     91.4
    fashion-6      6000      6        4     59.1

CIFAR-10's curve peaks at 2 (0.512) with a second peak at 6 (0.385; 10 scores 0.331), Fashion's
at 2 (0.674) with a second at 14 (0.563; 10 scores 0.518): the features part animals from
vehicles and clothes from shoes and bags far more clearly than class from class.

    LATENTBOARD_DATA_DIR=/tmp/latentboard-temi-bench python benchmarks/group_count.py
    python benchmarks/group_count.py --sets birds birds-4 --curves
"""

from __future__ import annotations

import argparse
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.config import DataSpec  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.features import dataset_features  # noqa: E402
from core.group_count import estimate_group_count  # noqa: E402
from core.paths import default_data_dir  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = {  # name: (source, classes kept or None for all)
    "birds": ("birds", None),
    "birds-4": ("birds", (0, 1, 2, 3)),
    "cifar10": ("cifar10", None),
    "cifar10-6": ("cifar10", (0, 1, 2, 3, 4, 5)),
    "fashion": ("fashion", None),
    "fashion-6": ("fashion", (0, 1, 2, 3, 4, 5)),
}


def bird_folder() -> Path:
    """The bird photos unpacked once beside the features cache (their paths key that cache)."""
    folder = default_data_dir() / "birds-10-species"
    if not folder.is_dir():
        with zipfile.ZipFile(SHARED / "birds-10-species.zip") as archive:
            archive.extractall(folder.parent)
    return folder


def spec(source: str) -> DataSpec:
    if source == "birds":
        return DataSpec(source="folder", path=str(bird_folder()))
    return DataSpec(
        source="npz", path=str(SHARED / f"{'cifar10' if source == 'cifar10' else 'fashion-mnist'}-train-10k.npz")
    )


def features(source: str) -> tuple[np.ndarray, np.ndarray]:
    dataset = load_dataset(spec(source))
    return dataset_features(dataset, "efficientnet-lite0").numpy(), dataset.y.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curves", action="store_true", help="print each set's score per k too")
    args = parser.parse_args()
    torch.set_num_threads(1)

    loaded: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    print(f"{'set':<12} {'rows':>6} {'true k':>6} {'estimate':>8} {'seconds':>8}", flush=True)
    for name in args.sets:
        source, keep = SETS[name]
        if source not in loaded:
            loaded[source] = features(source)
        x, y = loaded[source]
        if keep is not None:
            rows = np.isin(y, keep)
            x, y = x[rows], y[rows]
        began = time.perf_counter()
        count = estimate_group_count(x, random_state=args.seed)
        seconds = time.perf_counter() - began
        print(f"{name:<12} {len(x):>6} {len(np.unique(y)):>6} {count.estimate:>8} {seconds:>8.1f}", flush=True)
        if args.curves:
            print("   " + "  ".join(f"{k}:{s:.3f}" for k, s in zip(count.candidates, count.scores)), flush=True)


if __name__ == "__main__":
    main()
