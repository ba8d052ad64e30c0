"""Do planted foreign photos rank among the odd ones out, are flipped labels found, and do the
suggested ImageNet names fit the birds?

Ten CIFAR-10 photos of things that are not birds (upscaled from 32 px to the birds' 227 px) are
planted among the bird tuning photos, one in each species' folder; the photos preset's backbone
(core.presets) gives the features, standardised as a photos run's model reads them (the
representation core.outliers scores). Prints, per scoring method in core.outliers.SCORES, how many
of the 10 rank in the top 20 (and top 10, mean rank); then possible mislabels on 20 flipped bird
labels, for the kept nearest-neighbour vote and a logistic regression; the seconds each step takes on
6,000 rows; then each species' suggested name (core.cluster_names) on the birds alone, whether it is
an ImageNet bird class, and whether it names the species' own kind where ImageNet has one. Never
part of the tests' pass/fail.

    python benchmarks/outliers.py            # LATENTBOARD_DATA_DIR decides where the features cache
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.cluster_names import suggest_names  # noqa: E402
from core.clusterers import clusterer  # noqa: E402
from core.config import DataSpec  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.features import dataset_features, standardise  # noqa: E402
from core.features.imagenet import imagenet_classes, imagenet_top_classes  # noqa: E402
from core.outliers import SCORES, outlier_scores, possible_mislabels  # noqa: E402
from core.paths import default_data_dir  # noqa: E402
from core.presets import PRESETS  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
PLANTED = 10
FLIPS = 20
TOP = 20
TIMED_ROWS = 6000
CIFAR_BIRD = 2  # CIFAR-10's 'bird' class: never planted
# ImageNet-1k's bird classes (indices): cock .. great grey owl, black grouse .. black swan, white stork .. albatross.
IMAGENET_BIRDS = set(range(7, 25)) | set(range(80, 101)) | set(range(127, 147))
# The ImageNet classes that name a species' own kind; ImageNet has none for the others.
OWN_KIND = {
    "White_Pelican": {"pelican"},
    "Green_Violetear": {"hummingbird"},
    "Painted_Bunting": {"indigo bunting"},  # the same genus, Passerina
}


def planted_folder(seed: int) -> Path:
    """The bird photos with PLANTED CIFAR-10 photos of other things, one per species folder, made once."""
    folder = default_data_dir() / f"birds-planted-{seed}"
    if folder.is_dir():
        return folder
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(SHARED / "birds-10-species.zip") as archive:
        archive.extractall(partial)
    cifar = np.load(SHARED / "cifar10-train-10k.npz")
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(cifar["y"] != CIFAR_BIRD)
    species = sorted(p for p in partial.iterdir() if p.is_dir())
    for row, target in zip(rng.choice(candidates, PLANTED, replace=False), species):
        name = str(cifar["classes"][cifar["y"][row]])
        Image.fromarray(cifar["x"][row]).resize((227, 227), Image.Resampling.BICUBIC).save(
            target / f"foreign-{name}-{row}.jpg", quality=90
        )
    partial.rename(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    backbone = PRESETS["photos"]["features"]["backbone"]
    dataset = load_dataset(DataSpec(source="folder", path=str(planted_folder(args.seed))))
    began = time.monotonic()
    features = dataset_features(dataset, backbone)
    print(
        f"{len(dataset)} photos, {backbone} features in {time.monotonic() - began:.1f} s (cached after the first run)"
    )
    foreign = np.array(["foreign-" in Path(f).name for f in dataset.files])
    x = standardise(features, features).numpy()
    labels = dataset.y.numpy()
    clusters = clusterer("n2d", 10, args.seed).fit_predict(x)

    print(f"\nPlanted foreign photos among the {TOP} most odd (of {PLANTED}):")
    print(f"{'method':18} {'top 20':>6} {'top 10':>6} {'mean rank':>9} {'worst':>5} {'seconds':>7}")
    for method in SCORES:
        began = time.monotonic()
        scores = outlier_scores(x, clusters, method)
        seconds = time.monotonic() - began
        ranks = np.argsort(np.argsort(-scores, kind="stable"))[foreign] + 1
        print(
            f"{method:18} {(ranks <= TOP).sum():>6} {(ranks <= 10).sum():>6} {ranks.mean():>9.1f} "
            f"{ranks.max():>5} {seconds:>7.2f}"
        )

    rng = np.random.default_rng(args.seed)
    flipped = labels.copy()
    flips = rng.choice(np.flatnonzero(~foreign), FLIPS, replace=False)
    flipped[flips] = (flipped[flips] + rng.integers(1, len(dataset.classes), FLIPS)) % len(dataset.classes)
    print(f"\nPossible mislabels with {FLIPS} bird labels flipped:")
    for name, probabilities in (("kNN vote (kept)", None), ("logistic regression", logistic_probabilities)):
        began = time.monotonic()
        if probabilities is None:
            found = possible_mislabels(x, flipped).rows
        else:
            from cleanlab.filter import find_label_issues

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = find_label_issues(flipped, probabilities(x, flipped, args.seed))
                found = np.flatnonzero(found)
        hits = int(np.isin(flips, found).sum())
        print(
            f"  {name:20} found {hits} of {FLIPS}, flagged {len(found)} ({int(foreign[found].sum())} of them "
            f"planted foreign photos), {time.monotonic() - began:.1f} s"
        )

    print(f"\nOn {TIMED_ROWS:,} rows (these features repeated with noise), {backbone}'s {x.shape[1]} dimensions:")
    big = np.resize(x, (TIMED_ROWS, x.shape[1])) + rng.normal(0, 0.3, (TIMED_ROWS, x.shape[1])).astype(np.float32)
    for name, work in (
        ("odd ones out (LOF)", lambda: outlier_scores(big)),
        ("possible mislabels", lambda: possible_mislabels(big, np.resize(labels, TIMED_ROWS))),
        (
            "ImageNet classes",
            lambda: imagenet_top_classes(np.resize(features.numpy(), (TIMED_ROWS, x.shape[1])), backbone),
        ),
    ):
        began = time.monotonic()
        work()
        print(f"  {name:20} {time.monotonic() - began:.1f} s")

    birds = ~foreign
    classes = imagenet_top_classes(features[torch.as_tensor(np.flatnonzero(birds))], backbone)
    names = suggest_names(classes, labels[birds])
    vocabulary = imagenet_classes()
    bird_names = {vocabulary[i] for i in IMAGENET_BIRDS}
    print("\nSuggested names per species (ImageNet's vocabulary;", end=" ")
    print("* first class a bird class, + names the species' own kind):")
    are_birds = own = own_within = 0
    for label, suggestion in sorted(names.items()):
        species = dataset.classes[label]
        first = suggestion.classes[0][0]
        own_kind = OWN_KIND.get(species, set())
        is_bird, is_own = first in bird_names, first in own_kind
        within = any(name in own_kind for name, _ in suggestion.classes)
        are_birds, own, own_within = are_birds + is_bird, own + is_own, own_within + within
        print(f"  {species:22} {suggestion.line()} {'*' if is_bird else ''}{'+' if within else ''}")
    print(
        f"{are_birds} of {len(names)} species are first named by a bird class; ImageNet has a class for the own "
        f"kind of {len(OWN_KIND)} of them: first in the suggestion for {own}, in it for {own_within}."
    )


def logistic_probabilities(x: np.ndarray, labels: np.ndarray, seed: int) -> np.ndarray:
    """The alternative tried: out-of-fold probabilities of a logistic regression on 64 principal components."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(PCA(64, random_state=seed), LogisticRegression(max_iter=1000))
    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    return cross_val_predict(model, x, labels, cv=cv, method="predict_proba")


if __name__ == "__main__":
    main()
