"""best-quality reads the kind of data off the data and lays the recipe for it; labels play no part."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core import cli
from core.config import RunConfig
from core.data import Dataset, DataSpec
from core.data.kinds import LINE_ART_EDGE_SHARE, data_kind, edge_share
from core.errors import ConfigError
from core.presets import AUTO, PRESET_NAMES, PRESETS, apply_preset, preset_summary, recipe_for


def _drawn(n: int, filled: bool, seed: int = 0, side: int = 28, invert: bool = False) -> torch.Tensor:
    """(n, 1, side, side) strokes two pixels wide, or filled shapes with a soft texture."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        img = Image.new("L", (side, side), 0)
        draw = ImageDraw.Draw(img)
        a, b = rng.integers(3, side // 2, 2), rng.integers(side // 2, side - 3, 2)
        box = [int(a[0]), int(a[1]), int(b[0]), int(b[1])]
        if filled:
            draw.ellipse(box, fill=int(rng.integers(150, 256)))
        else:
            draw.line(box, fill=255, width=2)
            draw.line([box[0], box[3], box[2], box[1]], fill=255, width=2)
        pixels = np.asarray(img, dtype=np.float32) / 255
        if filled:
            pixels = pixels * (0.8 + 0.2 * rng.random(pixels.shape, dtype=np.float32))
        images.append(1 - pixels if invert else pixels)
    return torch.from_numpy(np.stack(images))[:, None]


def _images(x: torch.Tensor, name: str = "drawn") -> Dataset:
    return Dataset(
        name=name, kind="image", x=x, y=torch.zeros(len(x), dtype=torch.long), spec=DataSpec("npz", path="x.npz")
    )


def test_strokes_are_edges_and_filled_shapes_have_an_inside():
    strokes, shapes = edge_share(_drawn(40, filled=False)), edge_share(_drawn(40, filled=True))
    assert np.nanmedian(strokes) > LINE_ART_EDGE_SHARE > np.nanmedian(shapes)
    assert np.isnan(edge_share(torch.zeros(2, 1, 28, 28))).all()  # no ink: no share, not a crash


@pytest.mark.parametrize("invert", [False, True])
def test_line_art_either_way_round(invert):
    kind = data_kind(_images(_drawn(60, filled=False, invert=invert)))
    assert kind.name == "line-art" and "line drawings" in kind.reason


def test_filled_shapes_are_objects():
    kind = data_kind(_images(_drawn(60, filled=True)))
    assert kind.name == "objects" and "filled shapes" in kind.reason


def test_colour_large_gray_and_tables():
    rng = torch.Generator().manual_seed(0)
    assert data_kind(_images(torch.rand(10, 3, 16, 16, generator=rng))).name == "thumbnails"
    assert data_kind(_images(torch.rand(10, 3, 64, 64, generator=rng))).name == "photos"
    gray_in_rgb = torch.rand(10, 1, 16, 16, generator=rng).expand(-1, 3, -1, -1).clone()
    assert data_kind(_images(gray_in_rgb)).name != "photos"  # a colour file of a grayscale picture is not a photo
    assert data_kind(_images(_drawn(5, filled=False, side=64))).name == "photos"
    table = Dataset(name="t", kind="table", x=torch.zeros(5, 3))
    assert data_kind(table).name == "table"


def test_built_in_digits_are_line_art():
    from core.data import load_dataset

    kind = data_kind(load_dataset(DataSpec("digits")))
    assert kind.name == "line-art", kind.reason
    assert float(kind.reason.split("%")[0].split()[-1]) / 100 >= LINE_ART_EDGE_SHARE


def test_best_quality_lays_the_recipe_of_the_kind():
    lines, shapes = _images(_drawn(30, filled=False)), _images(_drawn(30, filled=True))
    config = apply_preset(RunConfig(), AUTO, lines)
    assert (config.model.family, config.model.augment) == ("conv", PRESETS["digits"]["model"]["augment"])
    config = apply_preset(RunConfig(), AUTO, shapes)
    assert config.features.backbone == PRESETS["objects"]["features"]["backbone"] and config.model.family == "dense"
    table = Dataset(name="t", kind="table", x=torch.zeros(5, 3))
    assert apply_preset(RunConfig(), AUTO, table) == RunConfig()  # no recipe is tuned for tables: the defaults
    assert "objects recipe" in recipe_for(AUTO, shapes).reason
    assert "line-art -> digits" in preset_summary(AUTO)


def test_thumbnails_are_told_by_the_pictures_real_side_and_read_by_lite2(tmp_path):
    """A folder of 32 px colour pictures is thumbnails even when loaded at 96 px (the side comes from the
    files' headers); the same pictures at 100 px are photos. Thumbnails take Lite2, photos Lite0."""
    from PIL import Image

    from core.data import load_dataset

    rng = np.random.default_rng(0)
    for side in (32, 100):
        folder = tmp_path / f"side-{side}"
        for label in ("a", "b"):
            (folder / label).mkdir(parents=True)
            for i in range(5):
                pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / label / f"{i}.png")
    small = load_dataset(DataSpec("folder", path=str(tmp_path / "side-32"), image_size=96))
    large = load_dataset(DataSpec("folder", path=str(tmp_path / "side-100"), image_size=32))
    kind = data_kind(small)
    assert kind.name == "thumbnails" and "32 px" in kind.reason
    assert data_kind(large).name == "photos"
    assert "thumbnails recipe" in recipe_for(AUTO, small).reason
    assert apply_preset(RunConfig(), AUTO, small).features.backbone == "efficientnet-lite2"
    assert apply_preset(RunConfig(), AUTO, large).features.backbone == "efficientnet-lite0"
    assert "thumbnails -> thumbnails" in preset_summary(AUTO)


def test_best_quality_without_data_or_unknown_names_say_why():
    with pytest.raises(ConfigError, match="looks at the data"):
        apply_preset(RunConfig(), AUTO)
    with pytest.raises(ConfigError, match="Unknown preset 'best'.*quick-demo"):
        recipe_for("best")
    assert set(PRESETS) | {AUTO} == set(PRESET_NAMES)


def test_cli_best_quality_says_what_it_chose(tmp_path, capsys):
    x = (_drawn(40, filled=True).numpy()[:, 0] * 255).astype(np.uint8)
    np.savez(tmp_path / "shapes.npz", x=x, y=np.arange(40) % 2)
    args = cli.build_parser().parse_args(
        ["train", "--dataset", "npz", "--data-dir", str(tmp_path / "shapes.npz"), "--preset", AUTO, "--epochs", "2"]
    )
    config, dataset = cli.train_config(args)
    assert "best-quality chose the objects recipe: filled shapes" in capsys.readouterr().out
    assert config.features.backbone == "efficientnet-lite0" and config.train.epochs == 2  # the flag still wins
    assert len(dataset) == 40
