"""Every start passes the gate once: check_config runs once, and the model and training checks are not repeated."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import cli
from core.config import DataSpec, RunConfig
from core.data import load_dataset
from core.gate import check_config
from core.jobs import JobRegistry
from core.models import ModelConfig, check_model_config, check_model_size
from core.runs import RunStore
from core.training import TrainConfig, check_train_config

CHECKS = (check_config, check_model_config, check_model_size, check_train_config)


@contextmanager
def calls_of(*functions: Callable) -> Iterator[Counter]:
    """How often each function runs, in this thread and in threads started meanwhile, however it is imported."""
    names = {function.__code__: function.__name__ for function in functions}
    calls: Counter = Counter()

    def profile(frame, event, arg):
        if event == "call" and frame.f_code in names:
            calls[names[frame.f_code]] += 1

    sys.setprofile(profile)
    threading.setprofile(profile)
    try:
        yield calls
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]


# Once at the gate (a stand-in input shape, before any data loads), once where the real thing is
# built: build_model on the real input shape, Trainer on the config it trains with.
ONCE_AT_THE_GATE_ONCE_WHEN_BUILT = {
    "check_config": 1,
    "check_model_config": 2,
    "check_model_size": 2,
    "check_train_config": 2,
}


def test_latentboard_train_checks_its_config_once(tmp_path, capsys):
    args = ["train", "--dataset", "digits", "--max-samples", "60", "--epochs", "1", "--runs-dir", str(tmp_path)]
    with calls_of(*CHECKS) as calls:
        assert cli.main(args) == 0, capsys.readouterr().err
    assert dict(calls) == ONCE_AT_THE_GATE_ONCE_WHEN_BUILT


def test_a_job_the_dashboard_starts_checks_its_config_once(tmp_path):
    config = RunConfig(
        data=DataSpec("digits", max_samples=60),
        model=ModelConfig("dense", latent_dim=2, width=8, depth=1),
        train=TrainConfig(epochs=1, device="cpu"),
    )
    registry = JobRegistry(RunStore(tmp_path))
    with calls_of(*CHECKS) as calls:
        job = registry.get(registry.start(config))
        assert job.wait(60) and job.error is None
    assert dict(calls) == ONCE_AT_THE_GATE_ONCE_WHEN_BUILT


def test_best_quality_checks_the_flags_and_then_its_recipe_once_each(tmp_path, capsys):
    """It checks the plain config to read the data, then the recipe it lays on it; the data is read once."""
    args = ["train", "--dataset", "digits", "--preset", "best-quality", "--max-samples", "60", "--epochs", "1"]
    with calls_of(check_config, load_dataset) as calls:
        assert cli.main([*args, "--runs-dir", str(tmp_path)]) == 0, capsys.readouterr().err
    assert calls == {"check_config": 2, "load_dataset": 1}


# --------------------------------------------------------------------------- shapes that cannot make sense


def one_pixel_images(folder: Path, side: tuple[int, int] = (1, 1), n: int = 40) -> Path:
    """An .npz image stack of `n` tiny RGB images, each a colour of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    x = np.random.default_rng(0).integers(0, 256, size=(n, *side, 3), dtype=np.uint8)
    np.savez(folder / "tiny.npz", x=x, y=np.arange(n) % 2)
    return folder / "tiny.npz"


NPZ, DIGITS = "npz of 1x1 images", "digits"
NONSENSE_SHAPES = {
    "1x1 images, dense": (NPZ, ["--model", "dense"], "1 x 1 pixel: each is one colour"),
    "1x1 images, conv": (NPZ, ["--model", "conv"], "1 x 1 pixel: each is one colour"),
    "1x1 images, features": (NPZ, ["--features", "efficientnet-lite0"], "1 x 1 pixel: each is one colour"),
    "resized to 1x1": (DIGITS, ["--image-size", "1", "--model", "dense"], "1 x 1 pixel"),
    "conv on 3x3": (DIGITS, ["--image-size", "3", "--model", "conv"], "conv family needs images of at least 4 x 4"),
    "conv-vae on 2x2": (DIGITS, ["--image-size", "2", "--model", "conv-vae"], "conv-vae family needs images of"),
}


@pytest.mark.parametrize("case", NONSENSE_SHAPES, ids=list(NONSENSE_SHAPES))
def test_shapes_that_cannot_make_sense_are_refused_at_the_gate(tmp_path, capsys, case):
    data, flags, what = NONSENSE_SHAPES[case]
    if data == NPZ:
        source = ["--dataset", "npz", "--data-dir", str(one_pixel_images(tmp_path / "data"))]
    else:
        source = ["--dataset", "digits"]
    runs = tmp_path / "runs"
    code = cli.main(["train", *source, *flags, "--epochs", "1", "--runs-dir", str(runs)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("latentboard: error: ") and len(err.strip().splitlines()) == 1, err
    assert what in err
    assert "--image-size" in err or "table" in err  # with what to do instead
    assert not runs.exists() or not any(runs.iterdir())  # refused before a run folder exists


def test_a_folder_of_one_pixel_photos_says_why_none_is_read(tmp_path, capsys):
    for i in range(4):
        Image.new("RGB", (1, 1), (i * 60, 0, 0)).save(tmp_path / f"{i}.png")
    code = cli.main(["train", "--dataset", "folder", "--data-dir", str(tmp_path), "--runs-dir", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "could be read as an image (0.png: 1x1 pixels, smaller than 2x2)" in err


def test_the_smallest_sensible_conv_images_train(tmp_path, capsys):
    code = cli.main(
        ["train", "--dataset", "digits", "--image-size", "4", "--model", "conv", "--epochs", "1"]
        + ["--max-samples", "60", "--runs-dir", str(tmp_path / "runs")]
    )
    assert code == 0, capsys.readouterr().err
