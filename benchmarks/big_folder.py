"""A photo library, not a sample: wall seconds and peak memory of the photo workflow on N photos.

Builds a folder of N photos (default 100,000) from the CIFAR-10 tuning images
(/work/shared/data/cifar10-train-10k.npz): each is an upscaled copy with small seeded changes (a
mirror, a crop of a few pixels, a brightness shift), saved as JPEG in one sub-folder per class.
Then runs, each as its own process, `latentboard train --preset photos` on it, `evaluate --split
all --skip-probes` and `export --sorted-folders`, and prints each one's wall seconds and peak
resident memory (getrusage of the finished child: its maximum resident set), with the step lines
the commands print (where the time goes). Last (`--page`, on by default), the dashboard is served
on that runs folder and the run's Latent space page opened in headless Chromium: the seconds to
the map on screen and to the page settled (clusters, names and all), and the server's peak
resident memory (sampled every 0.5 s, its children included). `--run RUN` starts from a run
already trained on that folder. The issue's bar: under 4 GB at
100,000 photos.

    .venv/bin/python benchmarks/big_folder.py --photos 5000 --work /tmp/big5k

Everything (photos, data cache, runs, export) lives under --work; a second call reuses the photos.
`--load-only` times just what every command does first: load the folder (decode it into the cache
of small copies), then again (read from that cache).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a source checkout

from tests.e2e.live_dashboard import dashboard_server, headless_chromium  # noqa: E402
from tests.e2e.server_usage import resident_bytes  # noqa: E402

CIFAR = Path("/work/shared/data/cifar10-train-10k.npz")
PHOTO_SIDE = 128  # small photos: the backbone reads them at its own size, the galleries at 96 px


def photo(source: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """One upscaled CIFAR image with a seeded mirror, crop and brightness change."""
    img = Image.fromarray(source)
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    left, top = rng.integers(0, 4, size=2)
    img = img.crop((left, top, left + 29, top + 29)).resize((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.BICUBIC)
    return ImageEnhance.Brightness(img).enhance(float(rng.uniform(0.85, 1.15)))


def build_folder(folder: Path, photos: int, seed: int = 0) -> float:
    """Writes the photos (skipping those already there); the seconds it took."""
    start = time.perf_counter()
    data = np.load(CIFAR)
    x, y, classes = data["x"], data["y"], [str(c) for c in data["classes"]]
    for name in classes:
        (folder / name).mkdir(parents=True, exist_ok=True)
    order = np.random.default_rng(seed).permutation(len(x))  # any N holds every class alike
    for i in range(photos):
        source = int(order[i % len(x)])
        target = folder / classes[int(y[source])] / f"{i:06d}.jpg"
        if not target.exists():
            photo(x[source], np.random.default_rng([seed, i])).save(target, quality=90)
    return time.perf_counter() - start


# What every command does first: load the folder (decoding it, or reading the cache of copies),
# then read a gallery's worth of rows back (one in 50).
LOAD = """
import sys
from core.data import DataSpec, load_dataset
ds = load_dataset(DataSpec("folder", path=sys.argv[1], image_size=96))
ds.x[list(range(0, len(ds), 50))]
print(ds.notes[-1])
"""


def run_step(name: str, args: list[str], env: dict[str, str], log: Path) -> tuple[float, float, str]:
    """(wall seconds, peak resident MB, output) of one Python child process (`python *args`).

    os.wait4 gives this child's own rusage: its maximum resident set, not the largest of all children.
    """
    start = time.perf_counter()
    with log.open("w") as out:
        child = subprocess.Popen(
            [sys.executable, *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=Path(__file__).parents[1]
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    text = log.read_text()
    if child.returncode != 0:
        raise SystemExit(f"{name} failed (exit {child.returncode}); see {log}:\n{text[-2000:]}")
    return wall, usage.ru_maxrss / 1024, text  # ru_maxrss is in KB on Linux


PAGE_DEADLINE = 3600  # seconds: a wait for the page, not a speed bar
DRAWN_MAP = """() => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(g => (g._fullData || []).reduce((n, t) => n + (t._length ?? 0), 0) > 100)"""


def latent_page(work: Path, run_id: str) -> tuple[float, float, float, str]:
    """(seconds to the map on screen, seconds to the page settled, the server's peak resident MB, what
    the page said below the map) for the run's Latent space page, opened cold on a server of its own."""
    from tests.e2e.test_browser import wait_idle

    peak, stop = [0], threading.Event()
    with dashboard_server(work, env={"LATENTBOARD_RUNS_DIR": str(work / "runs")}) as server:

        def sample() -> None:
            while not stop.wait(0.5):
                peak[0] = max(peak[0], resident_bytes(server.pid) or 0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            with headless_chromium() as browser:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                start = time.perf_counter()
                page.goto(f"{server.url}/?run={run_id}")
                wait_idle(page, timeout=120)
                page.locator('[data-testid="stSidebarNav"] a', has_text="Latent space").first.click()
                page.wait_for_function(DRAWN_MAP, timeout=PAGE_DEADLINE * 1000)
                drawn = time.perf_counter() - start
                wait_idle(page, timeout=PAGE_DEADLINE)
                settled = time.perf_counter() - start
                headings = page.locator("h2, h3").all_inner_texts()
        finally:
            stop.set()
            sampler.join()
    return drawn, settled, peak[0] / 2**20, " | ".join(headings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/latentboard-big-folder"))
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's 50 epochs")
    parser.add_argument(
        "--features-size", type=int, default=None, help="the backbone's input side (quicker features, same memory)"
    )
    parser.add_argument("--load-only", action="store_true", help="time loading the folder only: first, then cached")
    parser.add_argument("--run", default=None, help="skip training: evaluate, export and open this run")
    parser.add_argument("--page-only", dest="evaluate", action="store_false", help="with --run: only the page")
    parser.add_argument("--no-page", dest="page", action="store_false", help="leave out the Latent space page")
    args = parser.parse_args()

    folder = args.work / f"photos-{args.photos}"
    if args.run is None or args.load_only:  # an existing run (--run) needs no folder built
        print(f"Building {args.photos:,} photos in {folder} ...", flush=True)
        print(f"  {build_folder(folder, args.photos):.0f} s", flush=True)
    env = {
        **os.environ,
        "LATENTBOARD_DATA_DIR": str(args.work / "data"),
        "LATENTBOARD_RUNS_DIR": str(args.work / "runs"),
    }
    results = []

    def step(name: str, argv: list[str]) -> str:
        results.append((name, *run_step(name, argv, env, args.work / f"{name}.log")))
        print(f"{name}: {results[-1][1]:.0f} s, peak {results[-1][2]:.0f} MB", flush=True)
        return results[-1][3]

    if args.load_only:
        step("load", ["-c", LOAD, str(folder)])
        step("load-again", ["-c", LOAD, str(folder)])
    else:
        run_id = args.run
        if run_id is None:
            train = ["-m", "core.cli", "train", "--preset", "photos", "--dataset", "folder", "--data-dir", str(folder)]
            train += ["--epochs", str(args.epochs)] if args.epochs else []
            train += ["--features-size", str(args.features_size)] if args.features_size else []
            run_id = Path(re.search(r"^Run folder: (.+)$", step("train", train), re.M)[1]).name
        if args.evaluate:
            step("evaluate", ["-m", "core.cli", "evaluate", run_id, "--split", "all", "--skip-probes"])
            export = ["-m", "core.cli", "export", run_id, "--sorted-folders", str(args.work / f"sorted-{run_id}")]
            step("export", export)
        if args.page:
            drawn, settled, peak, headings = latent_page(args.work, run_id)
            results.append(("page", settled, peak, headings))
            print(f"page: map on screen after {drawn:.0f} s, settled after {settled:.0f} s, server peak {peak:.0f} MB")
            print(f"  its sections: {headings}", flush=True)
    what = f"run {args.run}" if args.run else f"{args.photos:,} photos ({PHOTO_SIDE} px JPEG)"
    print(f"\n{what}, {os.cpu_count()} cores")
    print(f"{'step':<10}{'wall s':>10}{'peak MB':>10}")
    for name, wall, peak, _ in results:
        print(f"{name:<10}{wall:>10.0f}{peak:>10.0f}")
    print(f"(step lines of each command in {args.work}/<step>.log)")


if __name__ == "__main__":
    main()
