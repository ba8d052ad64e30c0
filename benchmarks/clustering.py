"""How well does the "best-quality" preset cluster digits it never saw labels for?

Trains the preset on each dataset (CPU unless --device says otherwise), then clusters the codes
with N2D (UMAP + GMM; McConville et al., 2019) and k-means, beside three baselines that use no
autoencoder: k-means on raw pixels, k-means on PCA (as many dims as the codes) and UMAP of raw
pixels + GMM. Scored on the held-out test split and on all rows (N2D's own protocol clusters
everything it trained on). mnist-10k holds all of mnist-5k, on which the preset was tuned, so its
all-rows clustering is also scored on just the 5,000 rows tuning never saw. Prints one table;
never part of the tests' pass/fail.

    python benchmarks/clustering.py                      # mnist-10k, mnist-5k and digits, ~10 minutes on 2 cores
    python benchmarks/clustering.py --datasets fashion-10k --splits all   # Fashion-MNIST tuning data (../shared/data)
    python benchmarks/clustering.py --datasets digits --splits test
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

from core.data import DataSpec, load_dataset  # noqa: E402
from core.encoding import encode  # noqa: E402
from core.errors import DataError  # noqa: E402
from core.evaluation import cluster_with, clustering_baselines, clustering_scores, n2d_cluster  # noqa: E402
from core.evaluation.clustering import N2D_NEIGHBORS  # noqa: E402
from core.experiment import RunConfig, execute, load_trained, start_run  # noqa: E402
from core.presets import PRESETS, apply_preset  # noqa: E402
from core.runs import RunStore  # noqa: E402


# Tuning data beside the checkout (../shared/data, see its README), by a short name: never a test split.
LOCAL = {"fashion-10k": Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist-train-10k.npz"}


def data_spec(dataset: str, seed: int) -> DataSpec:
    """A built-in source by name, or one of LOCAL's files (as --dataset npz --data-dir FILE)."""
    if dataset in LOCAL:
        if not LOCAL[dataset].is_file():
            raise DataError(f"{dataset} reads {LOCAL[dataset]}, which is not there")
        return DataSpec("npz", path=str(LOCAL[dataset]), seed=seed)
    return DataSpec(dataset, seed=seed)


def train(store: RunStore, dataset: str, preset: str, device: str | None, seed: int):
    config = apply_preset(RunConfig(data=data_spec(dataset, seed)), preset)
    if device:
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, device=device))
    run = start_run(store, config)
    began = time.perf_counter()
    for event in execute(run):
        if event.kind == "epoch":
            print(f"  {dataset} epoch {event.epoch}/{event.epochs}: train {event.train_loss:.4f}"
                  + (f", val {event.val_loss:.4f}" if event.val_loss is not None else ""), file=sys.stderr, flush=True)
    return load_trained(run), time.perf_counter() - began


def untuned_rows(dataset) -> np.ndarray | None:
    """For mnist-10k: a mask of the rows that are not in mnist-5k (the tuning data); else None."""
    if dataset.name != "mnist-10k":
        return None
    tuning = load_dataset(DataSpec("mnist-5k"))
    seen = {image.tobytes() for image in (tuning.x * 255).round().to(torch.uint8).numpy()}
    return np.array([image.tobytes() not in seen for image in (dataset.x * 255).round().to(torch.uint8).numpy()])


def rows_for(trained, split: str, train_seconds: float, seed: int, n2d_neighbors: int) -> list[tuple]:
    """(rows label, pipeline, ACC, NMI, ARI, seconds) for the AE pipelines, then the baselines."""
    dataset = trained.dataset
    index = trained.splits.get(split)
    x = dataset.x[torch.as_tensor(index)]
    y = dataset.y.numpy()[index]
    k = len(dataset.classes)
    untuned = untuned_rows(dataset) if split == "all" else None
    rows = []

    began = time.perf_counter()
    codes = encode(trained.model, x)
    encode_seconds = time.perf_counter() - began
    for name, method in (("AE + N2D (UMAP + GMM)", "n2d"), ("AE + k-means", "kmeans")):
        began = time.perf_counter()
        if method == "n2d":
            pred = n2d_cluster(codes, k, seed, n_neighbors=n2d_neighbors)
        else:
            pred = cluster_with(method, codes, k, seed)
        seconds = time.perf_counter() - began + encode_seconds
        s = clustering_scores(codes, y, pred, seed)
        rows.append((f"{split} ({len(index)})", name, s["acc"], s["nmi"], s["ari"],
                     f"{seconds:.1f} (+{train_seconds:.0f} train)"))
        if untuned is not None:
            s = clustering_scores(codes[untuned], y[untuned], pred[untuned], seed)
            rows.append((f"{split}, untuned ({int(untuned.sum())})", name, s["acc"], s["nmi"], s["ari"], "same run"))

    raw = x.reshape(len(x), -1).numpy()
    raw_train = dataset.x[torch.as_tensor(trained.splits.train)].reshape(len(trained.splits.train), -1).numpy()
    names = {"kmeans_raw": "raw pixels + k-means", "kmeans_pca": f"PCA({codes.shape[1]}) + k-means",
             "umap_gmm_raw": "raw pixels + UMAP + GMM"}
    for key, s in clustering_baselines(raw, y, k, codes.shape[1], seed, pca_fit=raw_train).items():
        rows.append((f"{split} ({len(index)})", names[key], s["acc"], s["nmi"], s["ari"], f"{s['seconds']:.1f}"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["mnist-10k", "mnist-5k", "digits"])
    parser.add_argument("--splits", nargs="+", default=["test", "all"], choices=("test", "val", "train", "all"))
    parser.add_argument("--preset", default="best-quality", choices=tuple(PRESETS))
    parser.add_argument("--device", default=None, help="auto / cpu / cuda (default: the preset's, i.e. auto)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n2d-neighbors", type=int, default=N2D_NEIGHBORS)
    parser.add_argument("--runs-dir", default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2, like a laptop / CI)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="latentboard-bench-") as tmp:
        store = RunStore(args.runs_dir or tmp)
        table, walls = [], []
        for dataset in args.datasets:
            began = time.perf_counter()
            try:
                trained, train_seconds = train(store, dataset, args.preset, args.device, args.seed)
            except DataError as error:  # e.g. mnist-10k offline: say so, go on with the others
                print(f"{dataset}: skipped: {error}", file=sys.stderr, flush=True)
                continue
            evaluate_began = time.perf_counter()
            for split in args.splits:
                for row in rows_for(trained, split, train_seconds, args.seed, args.n2d_neighbors):
                    table.append((dataset, *row))
            evaluate_seconds = time.perf_counter() - evaluate_began
            total = time.perf_counter() - began
            walls.append(f"{dataset}: train {train_seconds:.0f} s wall, evaluate ({', '.join(args.splits)}) {evaluate_seconds:.0f} s wall, "
                         f"together {total:.0f} s (run {trained.run.id})")
            print(walls[-1], file=sys.stderr, flush=True)

    header = ("dataset", "rows", "pipeline", "ACC", "NMI", "ARI", "seconds")
    cells = [header] + [(d, s, p, f"{a:.3f}", f"{n:.3f}", f"{r:.3f}", t) for d, s, p, a, n, r, t in table]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\npreset {args.preset}: {PRESETS[args.preset]}")
    print(f"N2D n_neighbors={args.n2d_neighbors}, seed {args.seed}, torch threads {args.threads}")
    print("\n".join(walls) + "\n")
    for j, row in enumerate(cells):
        print("  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))
    return 0


if __name__ == "__main__":
    sys.exit(main())
