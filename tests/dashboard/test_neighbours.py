"""Nearest neighbours and sprite sheets: the Streamlit-free parts of the map's hover and click."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from dashboard.neighbours import build_index, nearest
from dashboard.sprites import ensure_sprites, sprite_key


def test_nearest_matches_brute_force_and_leaves_out_the_point_itself():
    rng = np.random.default_rng(0)
    codes = rng.normal(size=(300, 7)).astype(np.float32)
    index = build_index(codes)
    for position in (0, 17, 299):
        found = nearest(index, position, 5)
        d = np.linalg.norm(codes - codes[position], axis=1)
        d[position] = np.inf
        expected = np.argsort(d)[:5]
        assert found.query == position and position not in found.positions
        np.testing.assert_array_equal(found.positions, expected)
        np.testing.assert_allclose(found.distances, d[expected], rtol=1e-5)
        assert np.all(np.diff(found.distances) >= 0)


def test_nearest_with_duplicates_small_sets_and_bad_positions():
    codes = np.zeros((4, 2), dtype=np.float32)  # all the same: the point itself must still be left out
    for position in range(4):
        found = nearest(build_index(codes), position, 3)
        assert sorted(found.positions.tolist()) == sorted(set(range(4)) - {position})
        assert np.all(found.distances == 0)
    assert len(nearest(build_index(codes), 0, 50).positions) == 3  # k larger than the set
    images = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)  # image-shaped codes are flattened
    assert nearest(build_index(images), 1, 1).positions.tolist() == [0]
    with pytest.raises(IndexError):
        nearest(build_index(codes), 4, 1)


def test_sprite_sheets_hold_every_picture_in_place(tmp_path):
    n, tile = 1100, 8  # two sheets: 1,024 tiles and 76

    def pictures(positions):
        return np.stack([np.full((tile, tile, 1), p % 251, np.uint8) for p in positions])

    key = sprite_key("run-a", 1.0, "test", tile)
    info = ensure_sprites(key, pictures, n, photo=False, root=tmp_path, url="app/static/sprites")
    assert info["url"] == f"app/static/sprites/{key}/" and info["count"] == n and info["tile"] == tile
    assert info["ext"] == "png" and info["pixelated"] and info["display"] >= 128
    sheets = sorted((tmp_path / key).glob("sheet-*.png"))
    assert [s.name for s in sheets] == ["sheet-000.png", "sheet-001.png"]
    for position in (0, 31, 32, 1023, 1024, 1099):
        sheet, k = divmod(position, info["per_sheet"])
        r, c = divmod(k, info["columns"])
        pixels = np.asarray(Image.open(sheets[sheet]))
        assert pixels[r * tile + 3, c * tile + 3] == position % 251
    assert json.loads((tmp_path / key / "manifest.json").read_text())["count"] == n
    # A second call reuses the sheets: nothing is drawn again.
    assert ensure_sprites(key, lambda p: 1 / 0, n, photo=False, root=tmp_path)["count"] == n
    assert sprite_key("run-a", 2.0, "test", tile) != key  # a retrained run gets new sheets


def test_photo_sprites_are_jpeg(tmp_path):
    def pictures(positions):
        return np.zeros((len(positions), 96, 96, 3), np.uint8)

    info = ensure_sprites("photos", pictures, 3, photo=True, root=tmp_path)
    assert info["ext"] == "jpg" and not info["pixelated"] and info["tile"] == 96
    assert Image.open(tmp_path / "photos" / "sheet-000.jpg").size == (32 * 96, 96)


def test_sprite_meta_is_known_before_the_sheets_exist(tmp_path):
    from dashboard.sprites import sprite_meta

    def pictures(positions):
        return np.zeros((len(positions), 28, 28, 1), np.uint8)

    assert sprite_meta("k", 5, 28, photo=False) == ensure_sprites("k", pictures, 5, photo=False, root=tmp_path)


def test_old_sheets_are_pruned(tmp_path):
    import os

    from dashboard.sprites import prune

    def pictures(positions):
        return np.zeros((len(positions), 8, 8, 1), np.uint8)

    for i in range(5):
        ensure_sprites(f"set{i}", pictures, 2, photo=False, root=tmp_path)
        os.utime(tmp_path / f"set{i}", (i, i))
    prune(tmp_path, keep=2)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["set3", "set4"]
