"""How long does `evaluate --split all` take on a few thousand photos once their features are cached?

Issue 19 asks for about 2 minutes on 6,000 photos on 2 cores, with every baseline and probe. The
photos are the CIFAR-10 tuning images (../shared/data), upscaled to 128 px JPEG files in one
sub-folder per class, so the run has labels to score against and raw inputs as wide as a photo's
(49,152 values a row before the PCA-50 the baselines read). Steps, each a `latentboard` process:
`train --preset photos` (computes and caches the features), then `evaluate --split all --json`
twice: cold (nothing but the features cached) and warm (its own results cached, as a second look
would be). Prints the wall seconds of each and `evaluate`'s per-step lines from stderr, so where
the time goes is visible. Timings are only meaningful on an otherwise idle machine.

    python benchmarks/evaluate_photos.py                 # 6,000 photos
    python benchmarks/evaluate_photos.py --photos 1000   # a quick check that it runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CIFAR = ROOT.parent / "shared" / "data" / "cifar10-train-10k.npz"


def write_photos(folder: Path, count: int, side: int) -> None:
    """`count` CIFAR-10 tuning images, as many of each class, upscaled to `side` px JPEG files."""
    data = np.load(CIFAR)
    x, y, classes = data["x"], data["y"], [str(c) for c in data["classes"]]
    per_class = count // len(classes)
    for label, name in enumerate(classes):
        (folder / name).mkdir(parents=True, exist_ok=True)
        for i, row in enumerate(np.flatnonzero(y == label)[:per_class]):
            Image.fromarray(x[row]).resize((side, side), Image.BICUBIC).save(folder / name / f"{i:05d}.jpg", quality=90)


def latentboard(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "core.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"latentboard {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return time.perf_counter() - began, done


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=6000)
    parser.add_argument("--side", type=int, default=128, help="pixels a side of the photos written")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (2, like a laptop / CI)")
    args = parser.parse_args()
    if not CIFAR.exists():
        sys.exit(f"{CIFAR} is missing: this benchmark reads the CIFAR-10 tuning images from ../shared/data.")
    with tempfile.TemporaryDirectory(prefix="evaluate-photos-") as tmp:
        home = Path(tmp)
        env = dict(os.environ, LATENTBOARD_RUNS_DIR=str(home / "runs"), LATENTBOARD_DATA_DIR=str(home / "data"))
        env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
        write_photos(home / "photos", args.photos, args.side)
        seconds, done = latentboard(
            ["train", "--dataset", "folder", "--data-dir", str(home / "photos"), "--preset", "photos"], env
        )
        (run_id,) = [p.name for p in (home / "runs").iterdir() if p.is_dir()]
        print(f"{args.photos:,} photos of {args.side} px; train --preset photos: {seconds:.0f} s")
        for look in ("cold", "warm"):
            seconds, done = latentboard(["evaluate", run_id, "--split", "all", "--json"], env)
            result = json.loads(done.stdout)
            best = result["clustering"][result["sorted_by"]]
            key = result["sorted_by"]
            print(f"evaluate --split all ({look}): {seconds:.0f} s; sorted_by {key} ACC {best['acc']:.3f}")
            if look == "cold":
                print("  its steps (stderr):")
                for line in done.stderr.splitlines():
                    if line.lstrip().startswith("["):
                        print("   ", line.strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
