"""Image folders stream: decoded a batch at a time into a uint8 file in the data cache and read back
by row, with the same pixels and features the in-memory loader gave, and photos that vanish or
turn unreadable midway skipped (while loading) or stood in for (while computing features), and said."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import torch

from core.data import DataSpec, load_dataset, pixel_cache
from core.data import images as folder_images
from core.data.image_rows import ImageRows
from core.errors import DataError
from core.features import dataset_features, extract_features, load_backbone
from core.features.cache import backbone_for
from core.paths import default_data_dir
from tests.core.photo_fixtures import write_generated_photos

BACKBONE, SIZE = "efficientnet-lite0", 64  # a small input side: the same code path, quicker


@pytest.fixture
def photos(tmp_path, monkeypatch):
    monkeypatch.setattr(pixel_cache, "BATCH", 4)  # 15 photos: four batches
    write_generated_photos(tmp_path / "photos", per_kind=5)
    return tmp_path / "photos"


def load(folder, **settings):
    return load_dataset(DataSpec("folder", path=str(folder), image_size=settings.pop("image_size", 24), **settings))


def in_memory(files, size: int = 24) -> torch.Tensor:
    """What the loader held before it streamed: every file decoded, stacked, as float32 in [0, 1]."""
    x = np.stack([folder_images._read_image(f, size)[0] for f in files]).astype(np.float32) / 255.0
    return torch.from_numpy(x.transpose(0, 3, 1, 2))


def test_a_folder_is_read_by_row_with_the_pixels_the_in_memory_loader_gave(photos):
    ds = load(photos)
    assert isinstance(ds.x, ImageRows) and ds.x.shape == (15, 3, 24, 24) and len(ds) == 15
    expected = in_memory(ds.files)
    assert torch.equal(ds.x[:], expected)
    rows = np.array([14, 0, 7, 7])
    assert torch.equal(ds.x[rows], expected[rows]) and torch.equal(ds.x[torch.as_tensor(rows)], expected[rows])
    assert torch.equal(ds.x[3], expected[3]) and torch.equal(ds.x[2:5], expected[2:5])
    assert np.array_equal(ds.to_display(ds.x[rows]), ds.x.pixels(rows))  # galleries: the very pixels
    part = ds.subset(np.array([5, 1]))
    assert isinstance(part.x, ImageRows) and torch.equal(part.x[:], expected[[5, 1]])
    assert part.files == (ds.files[5], ds.files[1])


def test_grayscale_on_request_is_the_luma_the_in_memory_loader_computed(photos):
    ds = load(photos, grayscale=True)
    rgb = in_memory(ds.files).permute(0, 2, 3, 1).numpy()
    luma = np.clip(rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32), 0.0, 1.0)
    assert ds.x.shape == (15, 1, 24, 24) and torch.equal(ds.x[:][:, 0], torch.from_numpy(luma))


def test_a_second_load_decodes_nothing_and_a_damaged_cache_is_read_again(photos, monkeypatch):
    first = load(photos)
    [cached] = (default_data_dir() / pixel_cache.PIXELS_DIR).glob("*.npy")

    def no_decoding(*_):
        raise AssertionError("decoded again")

    with monkeypatch.context() as patch:
        patch.setattr(folder_images, "_read_image", no_decoding)
        assert torch.equal(load(photos).x[:], first.x[:])
    cached.write_bytes(cached.read_bytes()[:1000])  # cut short: a full disk, a bad copy
    again = load(photos)
    assert torch.equal(again.x[:], first.x[:])


def test_the_folder_is_written_to_disk_a_batch_at_a_time(photos, monkeypatch):
    on_disk: list[int] = []
    read = folder_images._read_image

    def watch(path, size):
        if path == sorted(photos.rglob("*.jpg"))[8]:  # the ninth photo, in the third batch of four
            on_disk.extend([f.stat().st_size for f in (default_data_dir() / pixel_cache.PIXELS_DIR).glob(".*.tmp")])
        return read(path, size)

    monkeypatch.setattr(folder_images, "_read_image", watch)
    assert len(load(photos)) == 15
    assert len(on_disk) == 1 and on_disk[0] > 128  # earlier batches already left memory for the file


def test_a_photo_that_vanishes_while_the_folder_is_read_is_skipped_and_said(photos, monkeypatch):
    files = sorted(photos.rglob("*.jpg"))
    vanishing = files[9]  # in the third batch of four
    read = folder_images._read_image

    def read_then_delete(path, size):
        if path == files[1]:  # while the first batch is decoded, a later photo is deleted
            vanishing.unlink()
        return read(path, size)

    monkeypatch.setattr(folder_images, "_read_image", read_then_delete)
    ds = load(photos)
    assert len(ds) == 14 and str(vanishing) not in ds.files
    assert any(n.startswith("Skipped 1 unreadable file:") and vanishing.name in n for n in ds.notes)
    assert torch.equal(ds.x[:], in_memory(ds.files))
    assert len(ds.y) == 14 and ds.classes == ("circle", "square", "stripes")


def test_a_photo_turned_unreadable_with_bad_files_fail_stops_even_from_the_cache(photos):
    (photos / "circle" / "circle-02.jpg").write_bytes(b"not a picture")
    assert len(load(photos)) == 14
    with pytest.raises(DataError, match=r"circle-02\.jpg' is not a usable image.*--bad-files skip"):
        load(photos, bad_files="fail")


def test_streaming_gives_the_features_of_the_files(photos):
    ds = load(photos)
    direct = extract_features(load_backbone(BACKBONE), backbone_for(ds, BACKBONE, SIZE), files=ds.files)
    assert torch.allclose(dataset_features(ds, BACKBONE, input_size=SIZE), direct, atol=1e-5)


def test_a_photo_unreadable_while_features_are_computed_is_stood_in_for_and_said(photos):
    ds = load(photos)
    broken = ds.files[6]
    with open(broken, "wb") as handle:  # the same size keeps nothing from noticing: garbage bytes
        handle.write(b"\0" * 100)
    notes = []
    features = dataset_features(ds, BACKBONE, input_size=SIZE, on_note=notes.append)
    assert features.shape[0] == 15 and torch.isfinite(features).all()
    [note] = [n for n in notes if "could not be read for the features" in n]
    assert note.startswith("1 photo could not") and broken.split("/")[-1] in note and "load the folder again" in note
    copy = extract_features(load_backbone(BACKBONE), backbone_for(ds, BACKBONE, SIZE), x=ds.x[6:7])[0]
    similarity = torch.nn.functional.cosine_similarity(features[6], copy, dim=0)
    assert similarity > 0.99  # the copy decoded when loading (rounded to bytes on the way)


def test_a_copy_left_half_written_by_a_killed_load_is_removed_a_live_one_kept(photos):
    folder = default_data_dir() / pixel_cache.PIXELS_DIR
    folder.mkdir(parents=True)
    key = pixel_cache.cache_key(sorted(photos.rglob("*.jpg")), 24)
    abandoned, live = folder / f".{key}.npy.old1.tmp", folder / f".{key}.npy.new1.tmp"
    for temp in (abandoned, live):
        temp.write_bytes(b"\0" * 64)
    os.utime(abandoned, (time.time() - 3600,) * 2)
    load(photos)
    assert not abandoned.exists() and live.exists()


@pytest.mark.parametrize("grayscale", [None, True])
def test_the_value_range_the_data_page_shows_was_found_while_decoding(photos, grayscale, monkeypatch):
    ds = load(photos, grayscale=grayscale)
    whole = ds.x[:]
    monkeypatch.setattr(ImageRows, "_read_stored", lambda *_: pytest.fail("read the rows again"))
    assert float(ds.x.min()) == float(whole.min()) and float(ds.x.max()) == float(whole.max())
