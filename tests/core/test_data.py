"""Data sources, subsampling and splits, on tiny files each test writes itself (all offline)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import torch
from data_fixtures import (
    CIFAR_NAMES,
    table_frame,
    write_fake_cifar,
    write_fake_mnist,
    write_gray_flat_folder,
    write_image_tree,
    zip_tree,
)

from core.data import SOURCES, Dataset, DataSpec, load_dataset, make_splits
from core.data.common import encode_labels
from core.data.splits import split_sizes
from core.errors import ConfigError, DataError


def load(source: str, path=None, **options) -> Dataset:
    return load_dataset(DataSpec(source=source, path=None if path is None else str(path), **options))


def joined_notes(dataset: Dataset) -> str:
    return " ".join(dataset.notes)


class TestRegistry:
    def test_unknown_source_lists_valid_names(self):
        with pytest.raises(DataError, match="Unknown data source 'nope'") as caught:
            load("nope")
        for name in SOURCES:
            assert name in str(caught.value)

    def test_every_source_is_described_and_named_by_its_key(self):
        for key, source in SOURCES.items():
            assert source.name == key and source.label and source.help and callable(source.load)
            assert bool(source.uploads) == bool(source.path_hint) == source.needs_path  # the Data page's upload box
        expected = {
            "digits",
            "mnist-5k",
            "mnist",
            "fashion-mnist",
            "kmnist",
            "cifar10",
            "mnist-10k",
            "folder",
            "table",
            "npz",
        }
        assert expected <= set(SOURCES)
        assert {k for k, s in SOURCES.items() if s.downloads} == {
            "mnist-10k",
            "mnist",
            "fashion-mnist",
            "kmnist",
            "cifar10",
        }

    @pytest.mark.parametrize("source", ["folder", "table", "npz"])
    def test_path_sources_without_a_path_say_so(self, source):
        assert SOURCES[source].needs_path
        with pytest.raises(DataError, match="needs a path"):
            load(source)

    def test_missing_path_is_named(self, tmp_path):
        with pytest.raises(DataError, match="does not exist"):
            load("table", tmp_path / "absent.csv")

    @pytest.mark.parametrize("options", [{"max_samples": 0}, {"image_size": 0}])
    def test_nonsense_sizes_are_refused(self, options):
        with pytest.raises(DataError, match="at least 1"):
            load("digits", **options)


class TestBuiltin:
    def test_digits_shape_range_and_classes(self):
        ds = load("digits")
        assert ds.kind == "image" and ds.x.shape == (1797, 1, 8, 8) and ds.x.dtype == torch.float32
        assert float(ds.x.min()) == 0.0 and float(ds.x.max()) == 1.0
        assert ds.classes == tuple("0123456789") and ds.y.dtype == torch.int64
        assert sorted(ds.y.unique().tolist()) == list(range(10))
        assert ds.spec == DataSpec("digits")

    def test_mnist_5k_shape_and_range(self):
        ds = load("mnist-5k")
        assert ds.x.shape == (5000, 1, 28, 28) and ds.y.shape == (5000,)
        assert float(ds.x.min()) == 0.0 and float(ds.x.max()) == 1.0
        assert ds.classes == tuple("0123456789")


class TestTorchvisionSources:
    def test_fake_mnist_loads_train_then_test(self, tmp_path):
        images, labels = write_fake_mnist(tmp_path, "MNIST")
        ds = load("mnist", tmp_path, download=False)
        assert ds.x.shape == (30, 1, 28, 28)
        assert torch.equal(ds.x[:, 0], torch.from_numpy(images).float() / 255)
        assert torch.equal(ds.y, torch.from_numpy(labels).long())
        assert ds.classes[0] == "0 - zero"  # torchvision's own names
        assert "20 train and 10 test" in joined_notes(ds)

    @pytest.mark.parametrize(
        "source, class_name, first_class",
        [
            ("fashion-mnist", "FashionMNIST", "T-shirt/top"),
            ("kmnist", "KMNIST", "o"),
        ],
    )
    def test_gzipped_lookalikes_load(self, tmp_path, source, class_name, first_class):
        images, _ = write_fake_mnist(tmp_path, class_name, n_train=6, n_test=4, gz=True)
        ds = load(source, tmp_path, download=False)
        assert ds.x.shape == (10, 1, 28, 28) and ds.classes[0] == first_class
        assert torch.equal(ds.x[:, 0], torch.from_numpy(images).float() / 255)

    def test_missing_mnist_names_files_and_folder(self, tmp_path):
        with pytest.raises(DataError) as caught:
            load("mnist", tmp_path, download=False)
        message = str(caught.value)
        assert str(tmp_path / "MNIST" / "raw") in message
        for part in ("train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1"):
            assert f"{part}-ubyte" in message
        assert ".gz" in message and "download" in message

    def test_corrupt_idx_file_is_a_data_error(self, tmp_path):
        write_fake_mnist(tmp_path, "MNIST")
        (tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x08")
        with pytest.raises(DataError, match="Could not read the MNIST files"):
            load("mnist", tmp_path, download=False)

    def test_corrupt_gz_is_a_data_error(self, tmp_path):
        write_fake_mnist(tmp_path, "KMNIST", gz=True)
        (tmp_path / "KMNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(b"x")[:8])
        with pytest.raises(DataError, match="Could not unpack"):
            load("kmnist", tmp_path, download=False)

    @pytest.mark.parametrize("as_archive", [False, True])
    def test_fake_cifar_loads_from_batches_or_archive(self, tmp_path, as_archive):
        images, labels = write_fake_cifar(tmp_path, per_batch=2, as_archive=as_archive)
        ds = load("cifar10", tmp_path, download=False)
        assert ds.x.shape == (12, 3, 32, 32) and ds.classes == tuple(CIFAR_NAMES)
        assert np.array_equal(ds.to_display(ds.x), images)  # exact: uint8 / 255 and back
        assert ds.y.tolist() == labels.tolist()
        assert "checksum" in joined_notes(ds)  # our stand-ins are not the official files

    def test_missing_cifar_names_batches_and_archive(self, tmp_path):
        with pytest.raises(DataError) as caught:
            load("cifar10", tmp_path, download=False)
        message = str(caught.value)
        assert str(tmp_path / "cifar-10-batches-py") in message
        for name in ("data_batch_1", "data_batch_5", "test_batch", "batches.meta", "cifar-10-python.tar.gz"):
            assert name in message

    def test_corrupt_cifar_batch_is_a_data_error(self, tmp_path):
        write_fake_cifar(tmp_path)
        (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"not a pickle")
        with pytest.raises(DataError, match="Could not read the CIFAR-10 files"):
            load("cifar10", tmp_path, download=False)


class TestFolder:
    def test_class_folders_of_mixed_images(self, tmp_path):
        expected = write_image_tree(tmp_path / "pets")
        ds = load("folder", tmp_path / "pets", image_size=16)
        assert ds.kind == "image" and ds.classes == ("cat", "dog")
        assert ds.x.shape == (7, 3, 16, 16) and ds.x.dtype == torch.float32
        assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0
        assert ds.y.tolist() == [0] * len(expected["cat"]) + [1] * len(expected["dog"])
        notes = joined_notes(ds)
        assert "Skipped 2 unreadable files" in notes and "broken.jpg" in notes and "notes.txt" in notes
        assert "RGB 16x16" in notes and "centre-cropping" in notes

    def test_transparency_is_laid_on_white_and_16_bit_is_rescaled(self, tmp_path):
        from PIL import Image

        (tmp_path / "imgs").mkdir()
        clear = np.zeros((4, 4, 4), dtype=np.uint8)  # fully transparent black
        Image.fromarray(clear, "RGBA").save(tmp_path / "imgs" / "clear.png")
        Image.fromarray(np.full((4, 4), 65535, dtype=np.uint16)).save(tmp_path / "imgs" / "white16.png")
        ds = load("folder", tmp_path / "imgs", image_size=4)
        assert torch.allclose(ds.x, torch.ones_like(ds.x))

    def test_default_size_is_32(self, tmp_path):
        write_gray_flat_folder(tmp_path / "flat", count=2)
        assert load("folder", tmp_path / "flat").input_shape == (1, 32, 32)

    def test_flat_grayscale_folder_has_no_labels(self, tmp_path):
        write_gray_flat_folder(tmp_path / "flat")
        ds = load("folder", tmp_path / "flat", image_size=8)
        assert ds.x.shape == (6, 1, 8, 8) and ds.y is None and ds.classes == ()
        assert "grayscale" in joined_notes(ds)

    @pytest.mark.parametrize("grayscale, channels", [(True, 1), (False, 3)])
    def test_grayscale_can_be_forced(self, tmp_path, grayscale, channels):
        write_image_tree(tmp_path / "pets")
        assert load("folder", tmp_path / "pets", image_size=8, grayscale=grayscale).x.shape[1] == channels

    def test_gray_folder_kept_rgb_on_request_has_equal_channels(self, tmp_path):
        write_gray_flat_folder(tmp_path / "flat", count=2)
        x = load("folder", tmp_path / "flat", image_size=8, grayscale=False).x
        assert x.shape[1] == 3 and torch.equal(x[:, 0], x[:, 2])

    @pytest.mark.parametrize("wrapper", ["pets", None])
    def test_zip_matches_the_folder(self, tmp_path, wrapper):
        write_image_tree(tmp_path / "pets")
        archive = zip_tree(tmp_path / "pets", tmp_path / "pets.zip", wrapper=wrapper)
        from_folder = load("folder", tmp_path / "pets", image_size=8)
        from_zip = load("folder", archive, image_size=8)
        assert from_zip.classes == from_folder.classes
        assert torch.equal(from_zip.x, from_folder.x) and torch.equal(from_zip.y, from_folder.y)
        assert "__MACOSX" not in joined_notes(from_zip) and "._" not in joined_notes(from_zip)
        again = load("folder", archive, image_size=8)  # second load reuses the unpacked cache
        assert torch.equal(again.x, from_zip.x)

    def test_max_samples_reads_a_stratified_sample(self, tmp_path):
        write_image_tree(tmp_path / "pets")
        ds = load("folder", tmp_path / "pets", image_size=8, max_samples=4)
        assert len(ds) <= 4 and set(ds.y.tolist()) == {0, 1}

    def test_empty_folder_says_what_was_looked_for(self, tmp_path):
        (tmp_path / "empty" / "cats").mkdir(parents=True)
        with pytest.raises(DataError, match=r"holds no files; expected image files \(PNG, JPEG"):
            load("folder", tmp_path / "empty")

    def test_folder_without_readable_images(self, tmp_path):
        (tmp_path / "junk").mkdir()
        (tmp_path / "junk" / "a.txt").write_text("hello")
        (tmp_path / "junk" / "b.jpg").write_bytes(b"nope")
        with pytest.raises(DataError, match="None of the 2 files"):
            load("folder", tmp_path / "junk")

    def test_corrupt_zip_is_a_data_error(self, tmp_path):
        (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 truncated")
        with pytest.raises(DataError, match="Could not unpack 'bad.zip'"):
            load("folder", tmp_path / "bad.zip")

    def test_a_plain_file_is_refused(self, tmp_path):
        (tmp_path / "x.png").write_bytes(b"")
        with pytest.raises(DataError, match="neither a folder nor a .zip"):
            load("folder", tmp_path / "x.png")


class TestTable:
    def test_drop_rows_with_holes_and_inf(self, tmp_path):
        table_frame().to_csv(tmp_path / "animals.csv", index=False)
        ds = load("table", tmp_path / "animals.csv", label_column="species")
        assert ds.kind == "table" and ds.x.shape == (10, 3) and ds.x.dtype == torch.float32
        assert ds.feature_names == ("height", "weight", "constant")
        assert ds.classes == ("cat", "fox", "owl") and len(ds.y) == 10
        notes = joined_notes(ds)
        assert "Dropped 2 of 12 rows" in notes and "city" in notes and "constant" in notes
        assert torch.isfinite(ds.x).all()
        assert torch.allclose(ds.x[:, :2].mean(0), torch.zeros(2), atol=1e-6)
        assert torch.allclose(ds.x[:, :2].std(0, unbiased=False), torch.ones(2), atol=1e-5)
        assert torch.equal(ds.x[:, 2], torch.zeros(10)) and ds.feature_std[2] == 1.0

    def test_display_round_trips_to_original_units(self, tmp_path):
        frame = table_frame()
        frame.to_csv(tmp_path / "animals.csv", index=False)
        ds = load("table", tmp_path / "animals.csv", label_column="species")
        kept = frame.drop(index=[2, 5])
        np.testing.assert_allclose(ds.to_display(ds.x), kept[["height", "weight", "constant"]].to_numpy(), rtol=1e-5)
        assert ds.label_names()[:2] == kept["species"].tolist()[:2]

    def test_impute_fills_with_the_median(self, tmp_path):
        table_frame().to_csv(tmp_path / "animals.csv", index=False)
        ds = load("table", tmp_path / "animals.csv", missing="impute")
        values = ds.to_display(ds.x)
        assert len(ds) == 12 and ds.y is None
        assert values[2, 0] == pytest.approx(7.0)  # median of the finite heights
        assert values[5, 1] == pytest.approx(70.0)
        assert "Filled 2 missing or infinite values in 2 rows with the column median" in joined_notes(ds)

    def test_parquet_with_numeric_labels(self, tmp_path):
        frame = pd.DataFrame({"a": np.arange(8.0), "b": np.arange(8.0) ** 2, "label": [10, 2, 2, 10, 2, 10, 2, 10]})
        frame.to_parquet(tmp_path / "t.parquet")
        ds = load("table", tmp_path / "t.parquet", label_column="label")
        assert ds.x.shape == (8, 2) and ds.classes == ("2", "10")  # sorted as numbers, named as text
        assert ds.y.tolist() == [1, 0, 0, 1, 0, 1, 0, 1]

    def test_missing_label_column_lists_columns(self, tmp_path):
        table_frame().to_csv(tmp_path / "animals.csv", index=False)
        expected = r"Label column 'kind' is not in 'animals.csv'.*height, weight, constant, city, species"
        with pytest.raises(DataError, match=expected):
            load("table", tmp_path / "animals.csv", label_column="kind")

    def test_no_numeric_column(self, tmp_path):
        (tmp_path / "words.csv").write_text("name,colour\nann,red\nbob,blue\n")
        with pytest.raises(DataError, match="no numeric column.*name, colour"):
            load("table", tmp_path / "words.csv")

    def test_unreadable_files(self, tmp_path):
        (tmp_path / "broken.parquet").write_bytes(b"definitely not parquet")
        with pytest.raises(DataError, match="Could not read 'broken.parquet' as a table"):
            load("table", tmp_path / "broken.parquet")
        (tmp_path / "empty.csv").write_text("")
        with pytest.raises(DataError, match="Could not read 'empty.csv'"):
            load("table", tmp_path / "empty.csv")
        (tmp_path / "sheet.xlsx").write_bytes(b"PK")
        with pytest.raises(DataError, match="not a table file"):
            load("table", tmp_path / "sheet.xlsx")

    def test_semicolon_csv(self, tmp_path):
        (tmp_path / "eu.csv").write_text("a;b\n1;2\n3;5\n")
        assert load("table", tmp_path / "eu.csv").feature_names == ("a", "b")

    def test_every_row_dropped_suggests_impute(self, tmp_path):
        (tmp_path / "holes.csv").write_text("a,b\n1,\n,2\n")
        with pytest.raises(DataError, match="missing='impute'"):
            load("table", tmp_path / "holes.csv")


class TestNpz:
    def test_2d_is_a_standardised_table(self, tmp_path):
        x = np.random.default_rng(0).normal(5.0, 3.0, size=(20, 4))
        np.savez(tmp_path / "a.npz", x=x, y=np.array(["b", "a"] * 10))
        ds = load("npz", tmp_path / "a.npz")
        assert ds.kind == "table" and ds.x.shape == (20, 4) and ds.classes == ("a", "b")
        np.testing.assert_allclose(ds.to_display(ds.x), x, rtol=1e-5)

    @pytest.mark.parametrize("shape", [(6, 5, 7), (6, 5, 7, 3), (6, 3, 5, 7), (6, 5, 7, 1)])
    def test_image_layouts_become_nchw(self, tmp_path, shape):
        x = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
        np.savez(tmp_path / "i.npz", x=x)
        ds = load("npz", tmp_path / "i.npz")
        channels = 1 if len(shape) == 3 or 1 in shape[1:] else 3
        assert ds.kind == "image" and ds.x.shape == (6, channels, 5, 7)
        displayed = ds.to_display(ds.x)
        expected = x.reshape(6, 5, 7, -1) if shape[1] != 3 else x.transpose(0, 2, 3, 1)
        assert np.array_equal(displayed, expected)  # uint8 / 255 and back is exact

    def test_unit_floats_kept_and_others_min_max_scaled(self, tmp_path):
        unit = np.linspace(0, 1, 6 * 16, dtype=np.float32).reshape(6, 1, 4, 4)
        np.savez(tmp_path / "u.npz", x=unit)
        assert torch.equal(load("npz", tmp_path / "u.npz").x, torch.from_numpy(unit))
        np.savez(tmp_path / "w.npz", x=unit * 40 - 10)
        ds = load("npz", tmp_path / "w.npz")
        assert torch.allclose(ds.x, torch.from_numpy(unit), atol=1e-6) and "min-max" in joined_notes(ds)

    def test_given_class_names(self, tmp_path):
        x, y = np.zeros((4, 8, 8), np.uint8), np.array([0, 2, 1, 2])
        np.savez(tmp_path / "c.npz", x=x, y=y, classes=np.array(["r", "g", "b"]))
        ds = load("npz", tmp_path / "c.npz")
        assert ds.classes == ("r", "g", "b") and ds.label_names() == ["r", "b", "g", "b"]

    @pytest.mark.parametrize(
        "arrays, message",
        [
            ({"data": np.zeros((3, 2))}, "no array named 'x'; found: data"),
            ({"x": np.zeros(5)}, r"found shape \(5,\)"),
            ({"x": np.zeros((2, 5, 4, 4))}, r"has shape \(2, 5, 4, 4\)"),
            ({"x": np.zeros((2, 1, 2, 2, 2))}, r"has shape \(2, 1, 2, 2, 2\)"),
            ({"x": np.zeros((4, 3)), "y": np.zeros(3)}, r"one label per row of 'x' \(4\), found shape \(3,\)"),
            ({"x": np.zeros((2, 4, 4)), "y": np.array([0, 5]), "classes": np.array(["a", "b"])}, "integers 0..1"),
            ({"x": np.array([["a", "b"]])}, "must be numeric"),
        ],
    )
    def test_bad_arrays_say_what_was_found(self, tmp_path, arrays, message):
        np.savez(tmp_path / "bad.npz", **arrays)
        with pytest.raises(DataError, match=message):
            load("npz", tmp_path / "bad.npz")

    def test_corrupt_and_single_array_files(self, tmp_path):
        (tmp_path / "junk.npz").write_bytes(b"garbage")
        with pytest.raises(DataError, match="Could not read 'junk.npz'"):
            load("npz", tmp_path / "junk.npz")
        np.save(tmp_path / "one.npy", np.zeros((3, 2)))
        with pytest.raises(DataError, match="single array"):
            load("npz", tmp_path / "one.npy")


class TestSubsampleAndResize:
    def test_max_samples_is_stratified_and_seeded(self):
        a = load("digits", max_samples=200, seed=1)
        b = load("digits", max_samples=200, seed=1)
        c = load("digits", max_samples=200, seed=2)
        assert len(a) == 200 and torch.equal(a.x, b.x) and not torch.equal(a.x, c.x)
        share = load("digits").y.bincount().numpy() / 1797
        assert np.all(np.abs(a.y.bincount().numpy() - 200 * share) <= 1)  # each class keeps its share
        assert "stratified sample of 200 of 1797" in joined_notes(a)

    def test_max_samples_above_size_is_a_no_op(self, tmp_path):
        np.savez(tmp_path / "a.npz", x=np.ones((5, 3)))
        ds = load("npz", tmp_path / "a.npz", max_samples=50)
        assert len(ds) == 5 and "sample" not in joined_notes(ds)

    def test_image_size_resizes_other_sources(self):
        ds = load("digits", image_size=16, max_samples=20)
        assert ds.x.shape == (20, 1, 16, 16) and "Resized 8x8 images to 16x16" in joined_notes(ds)
        assert 0.0 <= float(ds.x.min()) and float(ds.x.max()) <= 1.0

    def test_rare_classes_fall_back_to_a_plain_sample(self, tmp_path):
        y = np.array([0] * 9 + [1])
        np.savez(tmp_path / "r.npz", x=np.arange(20.0).reshape(10, 2), y=y)
        assert len(load("npz", tmp_path / "r.npz", max_samples=3)) == 3


def labelled(n: int, classes: int) -> Dataset:
    y = torch.arange(n) % classes
    return Dataset(name="toy", kind="table", x=torch.randn(n, 2), y=y, classes=tuple(map(str, range(classes))))


class TestSplits:
    def check_partition(self, splits, n):
        parts = [splits.train, splits.val, splits.test]
        assert sum(len(p) for p in parts) == n
        assert np.array_equal(splits.get("all"), np.arange(n))

    def test_disjoint_covering_stratified(self):
        splits = make_splits(labelled(200, 4), val_fraction=0.1, test_fraction=0.2, seed=0)
        self.check_partition(splits, 200)
        assert (len(splits.train), len(splits.val), len(splits.test)) == (140, 20, 40)
        y = np.arange(200) % 4
        assert np.bincount(y[splits.test]).tolist() == [10] * 4
        assert np.bincount(y[splits.val]).tolist() == [5] * 4

    def test_seeded(self):
        ds = labelled(50, 2)
        a, b, c = make_splits(ds, seed=3), make_splits(ds, seed=3), make_splits(ds, seed=4)
        assert np.array_equal(a.test, b.test) and not np.array_equal(a.test, c.test)

    @pytest.mark.parametrize("n, classes", [(10, 10), (10, 3), (3, 1), (2, 2), (1, 1)])
    def test_tiny_datasets_split_without_crashing(self, n, classes):
        splits = make_splits(labelled(n, classes))
        self.check_partition(splits, n)
        assert len(splits.train) >= 1

    def test_singleton_class_falls_back(self):
        ds = labelled(30, 2)
        ds = Dataset(name="toy", kind="table", x=ds.x, y=torch.cat([ds.y[:-1], torch.tensor([2])]))
        self.check_partition(make_splits(ds), 30)

    def test_zero_val_fraction_gives_empty_val(self):
        splits = make_splits(labelled(20, 2), val_fraction=0.0, test_fraction=0.25)
        assert len(splits.val) == 0 and len(splits.test) == 5
        self.check_partition(splits, 20)

    def test_unlabelled(self):
        ds = Dataset(name="toy", kind="table", x=torch.randn(37, 2))
        self.check_partition(make_splits(ds, seed=1), 37)

    @pytest.mark.parametrize("val, test", [(0.1, 0.2), (0.0, 0.25), (0.3, 0.3)])
    @pytest.mark.parametrize("n", [1, 2, 3, 7, 10, 37, 200])
    def test_split_sizes_say_what_make_splits_gives(self, n, val, test):
        """The Data page tells the sizes before training: they are the ones training will use."""
        splits = make_splits(labelled(n, 2), val_fraction=val, test_fraction=test)
        assert split_sizes(n, val, test) == (len(splits.train), len(splits.val), len(splits.test))

    @pytest.mark.parametrize("val, test", [(-0.1, 0.2), (0.5, 0.5), (0.1, 1.0)])
    def test_bad_fractions(self, val, test):
        with pytest.raises(ConfigError, match="fractions"):
            make_splits(labelled(10, 2), val_fraction=val, test_fraction=test)


def test_encode_labels_sorts_and_names():
    codes, names = encode_labels(np.array([3.0, 1.0, 3.0]))
    assert names == ("1", "3") and codes.tolist() == [1, 0, 1]
    codes, names = encode_labels(np.array(["b", 2, "a"], dtype=object))
    assert names == ("2", "a", "b") and codes.tolist() == [2, 0, 1]
