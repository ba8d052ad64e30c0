"""Does core.duplicates find planted near-duplicates among the bird photos, and nothing else?

Takes N of the bird tuning photos (../shared/data/birds-10-species.zip), makes four copies of each
(resized, re-compressed, cropped by 5-10%, brightened: tests/core/photo_fixtures.near_copies),
and puts them in one flat folder with every other bird photo, so each planted group has five
members among hundreds of photos of the same ten species. The photos preset's backbone
(EfficientNet-Lite0, core.presets) reads the folder once (core.features.dataset_features, cached
under LATENTBOARD_DATA_DIR); then find_duplicates runs on the standardised features, as on a run.
Prints precision and recall over pairs (two photos in one found group, against two photos of one
planted group) and the seconds find_duplicates took, for a few thresholds, with and without the
pixel check (then the distance is euclidean, as for tables). Never part of the tests' pass/fail;
timings are noisy on a shared machine.

Measured at the commit that added it, seed 1 (the thresholds were chosen on seed 0), on 2 CPU
cores shared with other jobs (load average about 17), features not yet cached:

    828 photos (60 planted groups of 5); efficientnet-lite0 features in 330.8 s (0 when cached)
    threshold pixels groups precision recall seconds
         0.40    yes     60     1.000  0.960    1.72
         0.50    yes     62     0.997  0.987    3.05
         0.60    yes     62     0.988  0.993    3.37  <- default
         0.70    yes     63     0.943  0.993    3.04
         0.80    yes     67     0.899  0.993    3.32
         0.60     no     61     0.692  0.815    0.71
    (pixel agreement 0.7; pairs: 600 planted)
    candidate search alone on 6,000 rows of 1280 dims: 9.9 s

Some "false" pairs are real near-duplicates of the bird set itself: on seed 0 two Red-headed
Woodpecker photos and two pairs of White Pelicans are shots of one bird seconds apart.

    python benchmarks/duplicates.py                       # 60 originals, seed 0
    python benchmarks/duplicates.py --originals 100 --seed 1
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.config import DataSpec  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.duplicates import PIXEL_AGREEMENT, THRESHOLD, candidate_pairs, find_duplicates, read_picture  # noqa: E402
from core.features import dataset_features, standardise  # noqa: E402
from core.presets import PRESETS  # noqa: E402
from tests.core.photo_fixtures import BIRDS_ZIP, near_copies  # noqa: E402

THRESHOLDS = (0.4, 0.5, 0.6, 0.7, 0.8)
SEARCH_ROWS = 6000  # the "seconds on 6,000 photos": the nearest-neighbour search at that size


def build_folder(folder: Path, originals: int, seed: int) -> dict[str, str]:
    """Every bird photo, flat, plus four copies of `originals` of them: file name -> its planted group."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    group_of: dict[str, str] = {}
    with zipfile.ZipFile(BIRDS_ZIP) as archive:
        names = sorted(n for n in archive.namelist() if n.lower().endswith(".jpg"))
        planted = set(rng.choice(len(names), originals, replace=False).tolist())
        for i, name in enumerate(names):
            stem = f"{Path(name).parent.name}-{Path(name).stem}"
            (folder / f"{stem}.jpg").write_bytes(archive.read(name))
            group_of[f"{stem}.jpg"] = stem
            if i in planted:
                with Image.open(folder / f"{stem}.jpg") as photo:
                    for kind, copy in near_copies(photo, rng).items():
                        copy.save(folder / f"{stem}-{kind}.jpg", quality=90)
                        group_of[f"{stem}-{kind}.jpg"] = stem
    return group_of


def pairs_of(groups: list[list[str]]) -> set[tuple[str, str]]:
    return {tuple(sorted(p)) for g in groups for p in itertools.combinations(g, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--originals", type=int, default=60, help="photos that get four copies each")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    backbone = PRESETS["photos"]["features"]["backbone"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "birds-with-copies"
        folder.mkdir()
        group_of = build_folder(folder, args.originals, args.seed)
        dataset = load_dataset(DataSpec(source="folder", path=str(folder), image_size=32))
        began = time.perf_counter()
        features = dataset_features(dataset, backbone)
        print(
            f"{len(dataset)} photos ({args.originals} planted groups of 5); {backbone} features in "
            f"{time.perf_counter() - began:.1f} s (0 when cached)"
        )
        representation = standardise(features, features).numpy()
        names = [Path(f).name for f in dataset.files]
        planted: dict[str, list[str]] = {}
        for name in names:
            planted.setdefault(group_of[name], []).append(name)
        truth = pairs_of([g for g in planted.values() if len(g) > 1])
        rows = np.arange(len(dataset))
        print(f"{'threshold':>9} {'pixels':>6} {'groups':>6} {'precision':>9} {'recall':>6} {'seconds':>7}")
        for threshold, pixels in [(t, True) for t in THRESHOLDS] + [(THRESHOLD, False)]:
            began = time.perf_counter()
            picture = (lambda row: read_picture(dataset.files[row])) if pixels else None
            groups = find_duplicates(representation, rows, picture, threshold=threshold)
            seconds = time.perf_counter() - began
            found = pairs_of([[names[r] for r in g.rows] for g in groups])
            hits = len(found & truth)
            precision = hits / len(found) if found else float("nan")
            marker = "  <- default" if (threshold, pixels) == (THRESHOLD, True) else ""
            print(
                f"{threshold:>9.2f} {'yes' if pixels else 'no':>6} {len(groups):>6} {precision:>9.3f} "
                f"{hits / len(truth):>6.3f} {seconds:>7.2f}{marker}"
            )
        print(f"(pixel agreement {PIXEL_AGREEMENT}; pairs: {len(truth)} planted)")
    search = np.random.default_rng(args.seed).normal(size=(SEARCH_ROWS, representation.shape[1])).astype(np.float32)
    began = time.perf_counter()
    candidate_pairs(search)
    print(
        f"candidate search alone on {SEARCH_ROWS:,} rows of {search.shape[1]} dims: {time.perf_counter() - began:.1f} s"
    )


if __name__ == "__main__":
    main()
