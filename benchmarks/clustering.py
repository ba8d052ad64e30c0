"""How well, and how fast, does "best-quality" cluster data it never saw labels for?

For each dataset: `latentboard train --preset best-quality` (which chooses its recipe from the
data's kind), then exactly what `latentboard evaluate --split SPLIT [--heads]` runs (evaluate_run:
N2D, every other clustering, the trained heads with --heads, reconstruction, the map, the
no-autoencoder baselines, the number of groups and the probes), each stage timed in wall seconds.
Prints every clustering stage on the codes and, for runs on a backbone's features, on the features
(UMAP + GMM = N2D, McConville et al., 2019; k-means; the TEMI and TURTLE heads with --heads), the baselines
(k-means / UMAP + GMM on raw pixels, on PCA, on the backbone's own features), the estimated number
of groups with the labels hidden against the truth, and, as the ceiling, a logistic probe with
labels on each representation. mnist-10k holds all of mnist-5k, on which the digits recipe was
tuned, so its all-rows N2D is also scored on just the 5,000 rows tuning never saw. Never part of
the tests' pass/fail.

    python benchmarks/clustering.py --datasets mnist-10k --splits all           # the issue's 150 s bar
    python benchmarks/clustering.py --datasets birds fashion-10k cifar-10k --splits all --heads  # photo tuning sets
    python benchmarks/clustering.py --datasets digits --splits test --preset digits

The tuning sets (birds, fashion-10k, cifar-10k) are read from ../shared/data beside the checkout.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from core.clusterers import N2D_NEIGHBORS  # noqa: E402
from core.config import RunConfig  # noqa: E402
from core.data import DataSpec, load_dataset  # noqa: E402
from core.errors import DataError  # noqa: E402
from core.evaluation import clustering_scores, evaluate_run, run_clusters  # noqa: E402
from core.evaluation.tables import BASELINE_NAMES, FEATURE_NAMES  # noqa: E402
from core.experiment import execute, start_run  # noqa: E402
from core.gate import prepare, settle  # noqa: E402
from core.methods import CLUSTER_METHODS  # noqa: E402
from core.presets import PRESET_NAMES, apply_preset, preset_summary, recipe_for  # noqa: E402
from core.run_cache import run_codes  # noqa: E402
from core.runs import RunStore  # noqa: E402
from core.trained import load_trained  # noqa: E402

# Tuning data beside the checkout (../shared/data, see its README), by a short name: never a test split.
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LOCAL = {"fashion-10k": SHARED / "fashion-mnist-train-10k.npz", "cifar-10k": SHARED / "cifar10-train-10k.npz"}
LOCAL_FOLDERS = {"birds": SHARED / "birds-10-species.zip"}  # photos: a folder source reads the zip


def data_spec(dataset: str, seed: int) -> DataSpec:
    if dataset in LOCAL_FOLDERS:
        if not LOCAL_FOLDERS[dataset].is_file():
            raise DataError(f"{dataset} reads {LOCAL_FOLDERS[dataset]}, which is not there")
        return DataSpec("folder", path=str(LOCAL_FOLDERS[dataset]), seed=seed)
    """A built-in source by name, or one of LOCAL's files (as --dataset npz --data-dir FILE)."""
    if dataset in LOCAL:
        if not LOCAL[dataset].is_file():
            raise DataError(f"{dataset} reads {LOCAL[dataset]}, which is not there")
        return DataSpec("npz", path=str(LOCAL[dataset]), seed=seed)
    return DataSpec(dataset, seed=seed)


def train(store: RunStore, dataset: str, preset: str, device: str | None, seed: int):
    """(trained run, wall seconds): the CLI's train, best-quality's look at the data included."""
    began = time.perf_counter()
    spec = data_spec(dataset, seed)
    data = prepare(RunConfig(data=spec))
    recipe = recipe_for(preset, data)
    config = apply_preset(RunConfig(data=spec), preset, data)
    if device:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, device=device))
    if config.data != spec:
        data = prepare(config)
    print(f"  {dataset}: {recipe.reason}", file=sys.stderr, flush=True)
    run = start_run(store, settle(config, data))
    for event in execute(run, dataset=data):
        if event.kind == "epoch":
            print(
                f"  {dataset} epoch {event.epoch}/{event.epochs}: train {event.train_loss:.4f}"
                + (f", val {event.val_loss:.4f}" if event.val_loss is not None else ""),
                file=sys.stderr,
                flush=True,
            )
    return load_trained(run), time.perf_counter() - began, recipe


def untuned_rows(dataset) -> np.ndarray | None:
    """For mnist-10k: a mask of the rows that are not in mnist-5k (the tuning data); else None."""
    if dataset.name != "mnist-10k":
        return None
    tuning = load_dataset(DataSpec("mnist-5k"))
    seen = {image.tobytes() for image in (tuning.x * 255).round().to(torch.uint8).numpy()}
    return np.array([image.tobytes() not in seen for image in (dataset.x * 255).round().to(torch.uint8).numpy()])


def rows_for(trained, result, seed: int) -> list[tuple]:
    """(rows label, pipeline, ACC, NMI, ARI, seconds): every clustering stage evaluate ran, on the codes
    and on the features, then the baselines."""
    rows = []
    label = f"{result.split} ({result.n})"
    for key, s in result.clustering.items():
        if s.acc is None:  # skipped (too few rows) or no labels
            continue
        rows.append((label, f"{CLUSTER_METHODS[key].summary} ({key})", s.acc, s.nmi, s.ari, f"{s.seconds:.1f}"))
    untuned = untuned_rows(trained.dataset) if result.split == "all" else None
    if untuned is not None:  # the labels evaluate_run scored, from the run's cache
        pred = run_clusters(trained, "all", "n2d", random_state=seed)
        y = trained.dataset.y.numpy()
        s = clustering_scores(run_codes(trained, "all")[untuned], y[untuned], pred[untuned], seed)
        rows.append(
            (f"all, untuned ({int(untuned.sum())})", "AE + N2D (UMAP + GMM)", s["acc"], s["nmi"], s["ari"], "same run")
        )
    for key, s in (result.baselines or {}).items():
        rows.append((label, BASELINE_NAMES.get(key, key) + " (baseline)", s.acc, s.nmi, s.ari, f"{s.seconds:.1f}"))
    return rows


def reference_rows(trained, result, reference: str, seed: int) -> list[tuple]:
    """For a run on another backbone's features: UMAP + GMM (N2D) on `reference`'s features of the same
    split, read at the size rule's side, scored as the run's own features baseline is. The photos issue's
    bar is measured against Lite0's features, whichever backbone the photos path now reads."""
    backbone = trained.config.features.backbone
    if backbone is None or backbone == reference or trained.dataset.y is None:
        return []
    from core.clusterers import clusterer
    from core.evaluation.run_evaluation import split_index
    from core.features import dataset_features, settled_input_size

    index = split_index(trained, result.split)
    size = settled_input_size(trained.dataset, reference)
    features = dataset_features(trained.dataset, reference, input_size=size)[torch.as_tensor(index)].numpy()
    y = trained.dataset.y.numpy()[index]
    began = time.perf_counter()  # N2D on the raw features, into as many clusters as the run's rows were scored with
    scores = clustering_scores(features, y, clusterer("n2d", result.n_clusters, seed).fit_predict(features), seed)
    seconds = time.perf_counter() - began
    label = f"{result.split} ({result.n})"
    name = f"UMAP of {reference} features ({size} px) + GMM (reference)"
    return [(label, name, scores["acc"], scores["nmi"], scores["ari"], f"{seconds:.1f}")]


def ceiling_and_groups(dataset: str, trained, result) -> list[str]:
    """The labelled ceiling (a logistic probe on each representation), what the run sorts by with its
    scores, and the estimated number of groups."""
    lines = []
    probes = result.probes.held_out if result.split in ("val", "test") else result.probes.cross_validated
    ceiling = ", ".join(
        f"{FEATURE_NAMES.get(name, name)} {scores['logistic']:.3f}"
        for name, scores in (probes or {}).items()
        if scores.get("logistic") is not None
    )
    if ceiling:
        lines.append(
            f"{dataset} {result.split}: ceiling, a logistic probe with labels ({result.probes.protocol}): {ceiling}"
        )
    chosen = (result.clustering or {}).get(result.sorted_by)
    if chosen is not None and chosen.acc is not None:
        lines.append(
            f"{dataset} {result.split}: sorted by {result.sorted_by} (what export and the page use, chosen without "
            f"labels): ACC {chosen.acc:.3f}, NMI {chosen.nmi:.3f}"
        )
    count = result.group_count
    if count is not None:
        truth = len(np.unique(trained.dataset.y.numpy())) if trained.dataset.y is not None else "unknown"
        lines.append(
            f"{dataset} {result.split}: estimated number of groups, labels hidden: {count.estimate} (truth {truth}; "
            f"{count.method})"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist-10k", "mnist-5k", "digits"])
    parser.add_argument("--splits", nargs="+", default=["test", "all"], choices=("test", "val", "train", "all"))
    parser.add_argument("--preset", default="best-quality", choices=PRESET_NAMES)
    parser.add_argument("--device", default=None, help="auto / cpu / cuda (default: the preset's, i.e. auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n2d-neighbors", type=int, default=N2D_NEIGHBORS)
    parser.add_argument("--runs-dir", default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, like a laptop / CI)")
    parser.add_argument(
        "--reference-backbone",
        default="efficientnet-lite0",
        help="for runs on another backbone, also UMAP + GMM on this one's features (default efficientnet-lite0)",
    )
    parser.add_argument("--heads", action="store_true", help="also train and score TEMI and TURTLE (evaluate --heads)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="latentboard-bench-") as tmp:
        store = RunStore(args.runs_dir or tmp)
        table, walls, notes = [], [], []
        for dataset in args.datasets:
            try:
                trained, train_seconds, recipe = train(store, dataset, args.preset, args.device, args.seed)
            except DataError as error:  # e.g. mnist-10k offline: say so, go on with the others
                print(f"{dataset}: skipped: {error}", file=sys.stderr, flush=True)
                continue
            stages = [f"train {train_seconds:.0f} s"]
            total = train_seconds
            for split in args.splits:
                began = time.perf_counter()
                result = evaluate_run(trained, split, args.seed, n2d_neighbors=args.n2d_neighbors, heads=args.heads)
                seconds = time.perf_counter() - began
                total += seconds
                steps = ", ".join(f"{name} {t:.0f}" for name, t in result.timings.items())
                stages.append(f"evaluate --split {split} {seconds:.0f} s ({steps})")
                table += [(dataset, *row) for row in rows_for(trained, result, args.seed)]
                reference = reference_rows(trained, result, args.reference_backbone, args.seed)
                table += [(dataset, *row) for row in reference]
                notes += ceiling_and_groups(dataset, trained, result)
            walls.append(
                f"{dataset}: {'; '.join(stages)}; together {total:.0f} s wall (run {trained.run.id}, {recipe.reason})"
            )
            print(walls[-1], file=sys.stderr, flush=True)

    header = ("dataset", "rows", "pipeline", "ACC", "NMI", "ARI", "seconds")
    cells = [header] + [(d, s, p, f"{a:.3f}", f"{n:.3f}", f"{r:.3f}", t) for d, s, p, a, n, r, t in table]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\npreset {args.preset}: {preset_summary(args.preset)}")
    print(f"N2D n_neighbors={args.n2d_neighbors}, seed {args.seed}, torch threads {args.threads}")
    print("\n".join(walls) + "\n")
    print("\n".join(notes) + "\n")
    for j, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
