"""Every family through the whole pipeline (data -> model -> trainer -> run folder) on every kind of input.

The data has structure a model can learn in a few epochs: a generated RGB image folder of coloured
shapes, a table whose columns follow three hidden factors (with holes), digits and mnist-5k.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageDraw

from core.config import RunConfig
from core.data import DataSpec
from core.experiment import execute
from core.models import FAMILIES, ModelConfig
from core.runs import RunStore
from core.trained import load_trained
from core.training import TrainConfig


def write_shape_folder(root, per_class=24, seed=0):
    """root/<class>/*.png: discs, squares and bars in class colours, at random places and sizes."""
    rng = np.random.default_rng(seed)
    colours = {"disc": (220, 60, 40), "square": (40, 120, 220), "bar": (40, 180, 80)}
    for name, colour in colours.items():
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            image = Image.new("RGB", (40, 40), (245, 245, 240))
            draw = ImageDraw.Draw(image)
            x, y, r = (int(v) for v in rng.integers([8, 8, 5], [32, 32, 9]))
            box = (x - r, y - r, x + r, y + r)
            if name == "disc":
                draw.ellipse(box, fill=colour)
            elif name == "square":
                draw.rectangle(box, fill=colour)
            else:  # a bar
                draw.rectangle((box[0], y - 2, box[2], y + 2), fill=colour)
            image.save(root / name / f"{i}.png")
    return root


def write_factor_table(path, rows=300, seed=0):
    """Twelve columns driven by three hidden factors, a label from the first factor, and some holes."""
    rng = np.random.default_rng(seed)
    factors = rng.normal(size=(rows, 3))
    values = factors @ rng.normal(size=(3, 12)) + 0.1 * rng.normal(size=(rows, 12))
    frame = pd.DataFrame(values, columns=[f"f{i}" for i in range(12)])
    frame["kind"] = np.where(factors[:, 0] > 0, "high", "low")
    frame.iloc[::37, 3] = np.nan
    frame.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("pipeline-data")
    return {
        "digits": DataSpec("digits", max_samples=240),
        "mnist-5k": DataSpec("mnist-5k", max_samples=240),
        "folder": DataSpec("folder", path=str(write_shape_folder(root / "shapes")), image_size=16),
        "table": DataSpec("table", path=str(write_factor_table(root / "factors.csv")), label_column="kind"),
    }


CASES = [
    (family, source)
    for source in ("digits", "mnist-5k", "folder", "table")
    for family in FAMILIES
    if not (source == "table" and FAMILIES[family].image_only)
]


@pytest.mark.parametrize("family,source", CASES)
def test_every_family_trains_and_its_loss_goes_down(family, source, sources, tmp_path):
    config = RunConfig(
        data=sources[source],
        model=ModelConfig(family=family, latent_dim=4, width=32, depth=2),
        train=TrainConfig(epochs=3, batch_size=32, lr=3e-3, log_every=5),
    )
    run = RunStore(tmp_path / "runs").create(config)
    events = [e for e in execute(run) if e.kind == "epoch"]

    assert [e.epoch for e in events] == [1, 2, 3]
    assert run.status() == "finished" and run.has_checkpoint
    assert events[-1].train_loss < events[0].train_loss, [e.train_loss for e in events]
    trained = load_trained(run)
    assert trained.model.encode(trained.dataset.x[:3]).shape == (3, 4)
