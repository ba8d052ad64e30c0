"""How well do a few named photos label the rest (core.spread)? Accuracy on the bird tuning photos.

The birds (../shared/data/birds-10-species.zip: 588 photos, 10 species in sub-folders) are read as
a folder dataset; their EfficientNet-Lite0 features (core.features.dataset_features, the photos
preset's backbone, cached under LATENTBOARD_DATA_DIR after the first run) are standardised as a
photo run reads them, the representation such a run sorts by. For 1, 2 and 5 named photos per
species, a few seeded draws of which photos are named; every way of spreading in core.spread.METHODS
labels the rest, scored on the photos nobody named: accuracy against the species folders, and how
well the confidence puts the wrong labels first (the review queue's order: the area under the ROC
curve of confidence against being right; 0.5 is no better than chance). Prints mean ± standard
deviation over the draws and seconds per spread (the UMAP included). Never part of the tests.

    LATENTBOARD_DATA_DIR=/tmp/spread-bench python benchmarks/spread.py
    python benchmarks/spread.py --draws 10 --per-species 1 2 5 10

Measured at the commit that added it (2 CPU cores shared with about six other jobs, so the
seconds are rough; 5 draws, seeds 0-4; a fresh UMAP in every draw's seconds):

    method           named/species        accuracy    doubts first  seconds
    both-graphs                  1    0.899 ± 0.044    0.963 ± 0.020     7.56
    both-graphs                  2    0.982 ± 0.004    0.941 ± 0.020     5.06
    both-graphs                  5    0.983 ± 0.003    0.950 ± 0.028     5.06
    umap-spreading               1    0.876 ± 0.063    0.860 ± 0.168     5.38
    umap-spreading               2    0.977 ± 0.007    0.743 ± 0.095     4.71
    umap-spreading               5    0.981 ± 0.002    0.721 ± 0.105     4.10
    spreading                    1    0.792 ± 0.083    0.965 ± 0.028     0.70
    spreading                    2    0.891 ± 0.069    0.969 ± 0.015     0.71
    spreading                    5    0.946 ± 0.005    0.960 ± 0.016     0.61
    logistic                     1    0.833 ± 0.038    0.877 ± 0.035     0.29
    logistic                     2    0.918 ± 0.022    0.922 ± 0.010     0.98
    logistic                     5    0.957 ± 0.008    0.946 ± 0.016     0.44

both-graphs (core.spread's default) is the most accurate and keeps the feature graph's sense of
doubt; the UMAP alone is nearly as accurate but sure of its mistakes.
"""

from __future__ import annotations

import argparse
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.config import DataSpec  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.features import dataset_features, standardise  # noqa: E402
from core.paths import default_data_dir  # noqa: E402
from core.spread import METHODS, spread  # noqa: E402

BIRDS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "birds-10-species.zip"
BACKBONE = "efficientnet-lite0"  # core.presets' "photos"


def bird_folder() -> Path:
    """The bird photos unpacked once into the data folder (their paths key the features cache)."""
    folder = default_data_dir() / "birds-10-species"
    if not folder.is_dir():
        with zipfile.ZipFile(BIRDS) as archive:  # <Species>/<id>.jpg, no wrapping folder
            archive.extractall(folder)
    return folder


def bird_features() -> tuple[np.ndarray, np.ndarray]:
    """(standardised features, species) of every bird photo, as a photo run sorts them."""
    dataset = load_dataset(DataSpec(source="folder", path=str(bird_folder())))
    features = dataset_features(dataset, BACKBONE)
    return standardise(features, features).numpy(), dataset.y.numpy()


def draw(y: np.ndarray, per_species: int, seed: int) -> dict[int, str]:
    """`per_species` photos of every species, picked at random (seeded): row -> species."""
    rng = np.random.default_rng(seed)
    return {
        int(row): f"species-{label}"
        for label in np.unique(y)
        for row in rng.choice(np.flatnonzero(y == label), per_species, replace=False)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-species", nargs="+", type=int, default=[1, 2, 5])
    parser.add_argument("--draws", type=int, default=5, help="seeded draws of the named photos (seeds 0..N-1)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    args = parser.parse_args()
    x, y = bird_features()
    rows = np.arange(len(x))
    print(f"birds: {len(x)} photos, {len(np.unique(y))} species, {x.shape[1]} features; {args.draws} draws")
    print(f"{'method':<16} {'named/species':>13} {'accuracy':>15} {'doubts first':>15} {'seconds':>8}", flush=True)
    for method in args.methods:
        for per_species in args.per_species:
            scores, doubts, seconds = [], [], []
            for seed in range(args.draws):
                examples = draw(y, per_species, seed)
                began = time.perf_counter()
                result = spread(x, rows, examples, method=method, random_state=seed)
                seconds.append(time.perf_counter() - began)
                truth = np.asarray([f"species-{label}" for label in y])
                unnamed = ~result.named
                right = np.asarray(result.names())[unnamed] == truth[unnamed]
                scores.append(float(np.mean(right)))
                if 0 < right.sum() < len(right):  # with no wrong label, nothing to put first
                    doubts.append(roc_auc_score(right, result.confidence[unnamed]))
            print(
                f"{method:<16} {per_species:>13} {np.mean(scores):>8.3f} ± {np.std(scores):.3f} "
                f"{np.mean(doubts):>8.3f} ± {np.std(doubts):.3f} {np.mean(seconds):>8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
