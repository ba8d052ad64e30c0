"""Does the estimated number of groups (core.group_count) find the number of classes, labels hidden?

Each set's EfficientNet-Lite0 features (or --backbone's; `recipe`: the backbone best-quality's recipe
gives the set, Lite2 for CIFAR-10's thumbnails) (core.features.dataset_features, cached under
LATENTBOARD_DATA_DIR), standardised as a photos run reads them, go to estimate_group_count; the
labels are used only to say how many classes there are, and to take subsets with fewer classes
(so a method that always says 10 shows up). Prints one row per set: true k, estimate, seconds;
`--curves` adds the scores (mean modularity of spectral clustering per k) and each subsample's
Leiden partition (groups: modularity), which the estimate is the median of. Never part of the tests' pass/fail.

Measured at the commit that counts Leiden's communities (2 CPU cores, nothing else running; seed 0;
`--backbone recipe` differs only on CIFAR-10, whose thumbnails recipe reads Lite2):

    set            rows true k estimate  seconds   Lite2   the one-standard-error rule it replaced
    birds           588     10       10      1.6              10
    birds-4         240      4        4      0.6               4
    birds-6         360      6        6      0.8               6
    cifar10       10000     10        9     36.9       9       9 (Lite2: 7)
    cifar10-6      6000      6        9     21.7      10      11
    fashion       10000     10       11     32.1              10
    fashion-6      6000      6        9     15.7               9

(The seconds ran Leiden to convergence; its default two iterations, kept, found the same counts in
about half the time.) The subsets show where it over-counts: CIFAR-10's first six classes (cat and
dog, bird and deer hard to tell apart) and Fashion-MNIST's (shirts, pullovers and coats). The
spectral curve's one-standard-error rule took the low end of flat stretches instead: CIFAR-10 on
Lite2, flat from 6 to 12, gave 7. The silhouette rule before it: 10, 4, -, 2, 2, 2, 4.

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
from core.features import dataset_features, standardise  # noqa: E402
from core.group_count import estimate_group_count  # noqa: E402
from core.paths import default_data_dir  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SETS = {  # name: (source, classes kept or None for all)
    "birds": ("birds", None),
    "birds-4": ("birds", (0, 1, 2, 3)),
    "birds-6": ("birds", (0, 1, 2, 3, 4, 5)),
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
            archive.extractall(folder)  # the archive holds the species folders at its top
    return folder


def spec(source: str) -> DataSpec:
    if source == "birds":
        return DataSpec(source="folder", path=str(bird_folder()))
    return DataSpec(
        source="npz", path=str(SHARED / f"{'cifar10' if source == 'cifar10' else 'fashion-mnist'}-train-10k.npz")
    )


def features(source: str, backbone: str) -> tuple[torch.Tensor, np.ndarray]:
    dataset = load_dataset(spec(source))
    if backbone == "recipe":
        from core.config import RunConfig
        from core.presets import AUTO, apply_preset

        backbone = apply_preset(RunConfig(data=dataset.spec), AUTO, dataset).features.backbone
    print(f"{source}: {backbone} features", file=sys.stderr, flush=True)
    return dataset_features(dataset, backbone), dataset.y.numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--curves", action="store_true", help="print each set's score per k too")
    parser.add_argument(
        "--backbone",
        default="efficientnet-lite0",
        help="whose features (default efficientnet-lite0); 'recipe': the one best-quality chooses for each set",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    loaded: dict[str, tuple[torch.Tensor, np.ndarray]] = {}
    print(f"{'set':<12} {'rows':>6} {'true k':>6} {'estimate':>8} {'seconds':>8}", flush=True)
    for name in args.sets:
        source, keep = SETS[name]
        if source not in loaded:
            loaded[source] = features(source, args.backbone)
        x, y = loaded[source]
        if keep is not None:
            rows = np.isin(y, keep)
            x, y = x[torch.as_tensor(rows)], y[rows]
        x = standardise(x, x).numpy()  # as a photos run reads them: the rows its estimate counts
        began = time.perf_counter()
        count = estimate_group_count(x, random_state=args.seed)
        seconds = time.perf_counter() - began
        print(f"{name:<12} {len(x):>6} {len(np.unique(y)):>6} {count.estimate:>8} {seconds:>8.1f}", flush=True)
        if args.curves:
            print("   " + "  ".join(f"{k}:{s:.3f}" for k, s in zip(count.candidates, count.scores)), flush=True)
            print("   Leiden: " + "  ".join(f"{k}:{q:.3f}" for k, q in count.found), flush=True)


if __name__ == "__main__":
    main()
