"""The features stage for real: the shipped EfficientNet-Lite0 weights, the online backbones' loading
code on weight files the tests write, extraction order and caching, and runs trained on features."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from core.checksums import Verdict, verify
from core.data import DataSpec, load_dataset
from core.errors import ConfigError, DataError
from core.features import BACKBONES, dataset_features, extract_features, features_path, get_backbone, load_backbone
from core.features.backbones import efficientnet_lite0_weights_path, lukemelas_to_timm
from core.features.weights import load_state_dict
from tests.core.photo_fixtures import birds_zip, write_bird_folder


def flip_a_value(path: Path) -> None:
    """Flip the lowest bit of the last value in a safetensors file: still a finite number (bit rot, a bad copy)."""
    data = bytearray(path.read_bytes())
    data[-4] ^= 0x01
    path.write_bytes(bytes(data))


# ImageNet-1k classes that are birds: cock ... jay, magpie ... bald eagle ... , and the water birds.
IMAGENET_BIRDS = set(range(7, 25)) | set(range(80, 101)) | set(range(127, 147))


@pytest.fixture(scope="module")
def lite0():
    return load_backbone("efficientnet-lite0")


@pytest.fixture
def birds(tmp_path):
    write_bird_folder(tmp_path / "birds", species=3, per_species=3)
    return load_dataset(DataSpec("folder", path=str(tmp_path / "birds"), image_size=16))


class TestShippedWeights:
    def test_every_key_of_the_wheel_fits_timm_and_photos_are_birds(self, birds):
        # Random weights would not name bird classes for real bird photos: this proves the rename.
        birds_zip()  # real birds, not the made-up photos a checkout without ../shared/data gets
        model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
        state = lukemelas_to_timm(load_state_dict(Path(efficientnet_lite0_weights_path()), "w"), model)
        model.load_state_dict(state, strict=True)
        backbone = get_backbone("efficientnet-lite0")
        from core.features.extract import read_for_backbone

        x = torch.from_numpy(np.stack([read_for_backbone(f, backbone) for f in birds.files])).permute(0, 3, 1, 2)
        x = (x.float() / 255 - 0.5) / 0.5
        with torch.inference_mode():
            predicted = model(x).argmax(1).tolist()
        assert sum(p in IMAGENET_BIRDS for p in predicted) >= len(predicted) - 1, predicted

    def test_features_are_pooled_vectors(self, lite0, birds):
        features = extract_features(lite0, get_backbone("efficientnet-lite0"), files=birds.files, batch_size=4)
        assert features.shape == (len(birds), 1280) and features.dtype == torch.float32
        assert torch.isfinite(features).all()


class TestExtraction:
    def test_order_is_kept_while_decoding_ahead(self, lite0, birds):
        backbone = get_backbone("efficientnet-lite0")
        together = extract_features(lite0, backbone, files=birds.files, batch_size=2, workers=3)
        one_by_one = torch.cat([extract_features(lite0, backbone, files=[f], batch_size=1) for f in birds.files])
        torch.testing.assert_close(together, one_by_one, atol=1e-4, rtol=1e-4)

    def test_uploaded_images_match_their_files(self, lite0, birds):
        backbone = get_backbone("efficientnet-lite0")
        from_files = extract_features(lite0, backbone, files=birds.files[:2])
        with Image.open(birds.files[0]) as a, Image.open(birds.files[1]) as b:
            from_images = extract_features(lite0, backbone, images=[a, b])
        torch.testing.assert_close(from_files, from_images)

    def test_grey_tensors_work_without_files(self, lite0):
        x = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        features = extract_features(lite0, get_backbone("efficientnet-lite0"), x=x)
        assert features.shape == (3, 1280)

    def test_a_file_that_changed_since_loading_is_named(self, lite0, birds, tmp_path):
        broken = tmp_path / "gone.jpg"
        with pytest.raises(DataError, match="gone.jpg"):
            extract_features(lite0, get_backbone("efficientnet-lite0"), files=[str(broken)])


class TestCache:
    def test_computed_once_then_read_back(self, birds, monkeypatch):
        first = dataset_features(birds, "efficientnet-lite0")
        assert features_path(birds, "efficientnet-lite0").is_file()
        monkeypatch.setattr("core.features.cache.load_backbone", lambda *a, **k: pytest.fail("recomputed"))
        torch.testing.assert_close(dataset_features(birds, "efficientnet-lite0"), first)

    def test_a_changed_file_is_a_new_key(self, birds):
        before = features_path(birds, "efficientnet-lite0")
        with Image.open(birds.files[0]) as img:
            img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(birds.files[0])
        assert features_path(birds, "efficientnet-lite0") != before

    def test_a_damaged_cache_file_is_recomputed(self, birds):
        first = dataset_features(birds, "efficientnet-lite0")
        features_path(birds, "efficientnet-lite0").write_bytes(b"not safetensors")
        torch.testing.assert_close(dataset_features(birds, "efficientnet-lite0"), first)

    def test_a_cache_file_that_does_not_match_its_checksum_is_computed_again(self, birds):
        first = dataset_features(birds, "efficientnet-lite0")
        path = features_path(birds, "efficientnet-lite0")
        flip_a_value(path)
        notes: list[str] = []
        again = dataset_features(birds, "efficientnet-lite0", on_note=notes.append)
        torch.testing.assert_close(again, first)  # computed from the images, not from the damaged file
        assert notes == [
            f"The features cache {path} does not match its checksum (it changed on disk after it was "
            "written); computing the features again."
        ]
        assert verify(path) is Verdict.SOUND

    def test_a_cache_file_from_before_checksums_is_computed_again_once(self, birds):
        first = dataset_features(birds, "efficientnet-lite0")
        path = features_path(birds, "efficientnet-lite0")
        path.write_bytes(safetensors_save({"features": first}))  # as latentboard wrote it before checksums
        notes: list[str] = []
        dataset_features(birds, "efficientnet-lite0", on_note=notes.append)
        dataset_features(birds, "efficientnet-lite0", on_note=notes.append)
        assert len(notes) == 1 and "written before latentboard kept checksums" in notes[0]

    def test_tables_are_refused(self, tmp_path):
        import pandas as pd

        pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]}).to_csv(tmp_path / "t.csv", index=False)
        table = load_dataset(DataSpec("table", path=str(tmp_path / "t.csv")))
        with pytest.raises(ConfigError, match="need images"):
            dataset_features(table, "efficientnet-lite0")


class TestDownloadedBackbones:
    """The real loading code of every online backbone, on weight files of the right shape written here."""

    @pytest.mark.parametrize("name", [n for n, b in BACKBONES.items() if not b.offline])
    def test_offline_message_names_the_file_and_the_folder(self, name, tmp_path, monkeypatch):
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        with pytest.raises(DataError) as error:
            load_backbone(name, allow_download=False)
        message = str(error.value)
        assert str(tmp_path / "torch" / "hub" / "checkpoints") in message and "https://" in message

    @pytest.mark.slow
    @pytest.mark.parametrize(
        "name, architecture",
        [
            ("resnet50", lambda: __import__("torchvision").models.resnet50()),
            ("convnext-tiny", lambda: __import__("torchvision").models.convnext_tiny()),
            # DINOv2's published weights are for 518 px: the loader must resample its position embeddings.
            (
                "dinov2-small",
                lambda: timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=518, num_classes=0),
            ),
        ],
    )
    def test_weights_in_the_hub_cache_are_loaded_strictly(self, name, architecture, tmp_path, monkeypatch):
        from core.features.backbones import DINOV2_URL

        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        torch.manual_seed(0)
        source = architecture()
        urls = {
            "resnet50": "resnet50-11ad3fa6.pth",
            "convnext-tiny": "convnext_tiny-983f1562.pth",
            "dinov2-small": DINOV2_URL.rsplit("/", 1)[-1],
        }
        target = tmp_path / "torch" / "hub" / "checkpoints" / urls[name]
        target.parent.mkdir(parents=True)
        torch.save(source.state_dict(), target)
        model = load_backbone(name, allow_download=False)
        with torch.inference_mode():
            out = model(torch.rand(2, 3, 224, 224))
        assert out.shape == (2, BACKBONES[name].dim)
        first = next(iter(source.state_dict()))
        torch.testing.assert_close(model.state_dict()[first], source.state_dict()[first])

    def test_a_file_that_does_not_fit_fails_loudly(self, tmp_path, monkeypatch):
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        target = tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
        target.parent.mkdir(parents=True)
        torch.save({"conv1.weight": torch.zeros(1)}, target)
        with pytest.raises(DataError, match="does not fit"):
            load_backbone("resnet50", allow_download=False)

    def test_a_pickle_is_never_run(self, tmp_path, monkeypatch):
        monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
        target = tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth"
        target.parent.mkdir(parents=True)
        torch.save({"weights": Image.new("RGB", (1, 1))}, target)  # an arbitrary object: needs unpickling
        with pytest.raises(DataError, match="damaged"):
            load_backbone("resnet50", allow_download=False)


def test_unknown_backbone_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="efficientnet-lite0"):
        get_backbone("vgg99")


class TestGeometry:
    """Small images are read at a few times their side; files and ViTs keep the backbone's own size."""

    @pytest.mark.parametrize("side, size", [(8, 96), (28, 96), (32, 96), (48, 160), (64, 192), (75, 224), (500, 224)])
    def test_the_input_side_follows_the_image_side(self, side, size):
        backbone = get_backbone("efficientnet-lite0").for_images(side)
        assert backbone.input_size == size
        assert backbone.resize >= size  # still a centre crop of a slightly larger resize, as at 224

    @pytest.mark.parametrize("side, size", [(28, 128), (32, 128), (48, 192), (64, 224), (96, 260), (500, 260)])
    def test_a_backbone_trained_larger_reads_small_images_larger(self, side, size):
        """Lite2 learned at 260 px, not 224: its objects were larger, so a thumbnail is enlarged in proportion."""
        assert get_backbone("efficientnet-lite2").for_images(side).input_size == size

    def test_files_and_fixed_size_backbones_keep_their_size(self):
        assert get_backbone("efficientnet-lite0").for_images(None).input_size == 224
        assert get_backbone("dinov2-small").for_images(28).input_size == 224

    def test_tensor_rows_are_read_at_their_geometry_and_keyed_by_it(self, lite0, tmp_path):
        from core.features import backbone_for

        x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
        np.savez(tmp_path / "small.npz", x=(x[:, 0] * 255).to(torch.uint8).numpy(), y=np.arange(4))
        small = load_dataset(DataSpec("npz", path=str(tmp_path / "small.npz")))
        assert backbone_for(small, "efficientnet-lite0").input_size == 96
        at_96 = extract_features(lite0, backbone_for(small, "efficientnet-lite0"), x=small.x)
        torch.testing.assert_close(dataset_features(small, "efficientnet-lite0"), at_96)
        at_224 = extract_features(lite0, get_backbone("efficientnet-lite0"), x=small.x)
        assert not torch.allclose(at_96, at_224, atol=1e-3)
        # the run's own setting wins, and is a cache key of its own
        assert backbone_for(small, "efficientnet-lite0", 224).input_size == 224
        assert features_path(small, "efficientnet-lite0", 224) != features_path(small, "efficientnet-lite0")
        torch.testing.assert_close(dataset_features(small, "efficientnet-lite0", input_size=224), at_224)


class TestPicturesGeometry:
    """One rule from the pictures themselves: the container (array, folder) does not change the size."""

    def test_the_same_small_pictures_get_one_size_from_an_array_and_from_files(self, tmp_path):
        from core.features import settled_input_size

        pixels = (np.random.default_rng(0).random((6, 28, 28)) * 255).astype(np.uint8)
        np.savez(tmp_path / "small.npz", x=pixels, y=np.arange(6) % 2)
        (tmp_path / "pngs").mkdir()
        for i, picture in enumerate(pixels):
            Image.fromarray(picture).save(tmp_path / "pngs" / f"{i}.png")
        array = load_dataset(DataSpec("npz", path=str(tmp_path / "small.npz")))
        files = load_dataset(DataSpec("folder", path=str(tmp_path / "pngs"), image_size=64))
        assert settled_input_size(array, "efficientnet-lite0") == 96
        assert settled_input_size(files, "efficientnet-lite0") == 96  # from the headers, not the 64 px it was read at

    def test_photos_go_in_at_the_backbones_own_size(self, tmp_path):
        from core.features import settled_input_size

        photos = write_bird_folder(tmp_path / "birds", species=2, per_species=3)
        dataset = load_dataset(DataSpec("folder", path=str(tmp_path / "birds"), image_size=32))
        assert settled_input_size(dataset, "efficientnet-lite0") == 224
        assert settled_input_size(dataset, "dinov2-small") == 224
        assert photos

    def test_a_new_run_stores_the_size_and_an_older_run_keeps_its_rule(self, tmp_path):
        from core.config import RunConfig
        from core.features import FeatureConfig, backbone_for
        from core.gate import prepare, settle

        (tmp_path / "pngs").mkdir()
        for i in range(12):
            Image.new("RGB", (30, 20), (20 * i, 0, 0)).save(tmp_path / "pngs" / f"{i}.png")
        config = RunConfig(
            data=DataSpec("folder", path=str(tmp_path / "pngs"), image_size=16),
            features=FeatureConfig(backbone="efficientnet-lite0"),
        )
        dataset = prepare(config)
        assert settle(config, dataset).features.input_size == 96
        assert settle(settle(config, dataset), dataset) == settle(config, dataset)
        chosen = dataclasses.replace(config, features=FeatureConfig(backbone="efficientnet-lite0", input_size=160))
        assert settle(chosen, dataset) == chosen  # the user's own setting stands
        assert settle(dataclasses.replace(config, features=FeatureConfig()), dataset).features.input_size is None
        # a run stored before sizes were settled (input_size null) reads its files as it trained: 224 px
        assert backbone_for(dataset, "efficientnet-lite0").input_size == 224


class TestRunsOnFeatures:
    """`latentboard train --features` end to end: a dense model on features, baselines, classify."""

    def test_train_evaluate_classify(self, tmp_path, capsys):
        from core import cli
        from core.runs import RunStore

        photos = write_bird_folder(tmp_path / "birds", species=3, per_species=5)
        code = cli.main(
            [
                "train",
                "--dataset",
                "folder",
                "--data-dir",
                str(tmp_path / "birds"),
                "--preset",
                "photos",
                "--epochs",
                "3",
                "--image-size",
                "24",
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        assert "dense autoencoder on efficientnet-lite0 features of folder" in out
        assert "Computed efficientnet-lite0 features of 15 images" in out
        run = RunStore().open(RunStore().ids()[0])
        assert run.config.features.backbone == "efficientnet-lite0"
        assert run.checkpoint_metadata()["input_shape"] == [1280]

        assert cli.main(["evaluate", run.id, "--split", "all", "--clusters", "3"]) == 0
        table = capsys.readouterr().out
        for row in (
            "N2D: UMAP of codes + GMM",
            "k-means on backbone features (baseline)",
            "UMAP of backbone features + GMM (baseline)",
            "UMAP of raw inputs (PCA-",  # 24 x 24 x 3 = 1,728 values a row: reduced first, and named so
        ):
            assert row in table
        assert "backbone features" in table.split("Probes")[1]

        photo = photos[sorted(photos)[1]][0]
        from core.evaluation import classify_images
        from core.trained import load_trained

        (result,) = classify_images(load_trained(run), [photo], k=1)
        assert result.nearest_row is not None and result.recon.shape == (24, 24, 3)
        assert cli.main(["classify", run.id, photo, "-k", "1"]) == 0
        line = capsys.readouterr().out
        assert "nearest neighbours " + sorted(photos)[1] in line  # the photo itself is in the run's data

    def test_a_damaged_features_cache_is_named_and_computed_again(self, tmp_path, capsys):
        from core import cli
        from core.config import FeatureConfig, RunConfig
        from core.models import ModelConfig
        from core.training import TrainConfig
        from tests.core.run_fixtures import train_config

        photos = write_bird_folder(tmp_path / "birds", species=3, per_species=4)
        config = RunConfig(
            data=DataSpec("folder", path=str(tmp_path / "birds"), image_size=24),
            features=FeatureConfig(backbone="efficientnet-lite0"),
            model=ModelConfig("dense", latent_dim=3, width=16, depth=1),
            train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
        )
        run = train_config(tmp_path / "runs", config)
        path = features_path(load_dataset(config.data), "efficientnet-lite0")
        first = safetensors_load(path.read_bytes())["features"]
        runs = ["--runs-dir", str(tmp_path / "runs")]
        for argv in (
            ["evaluate", run.id, "--skip-baselines", "--skip-probes", "--clusters", "3", *runs],
            ["classify", run.id, photos[sorted(photos)[0]][0], "-k", "1", *runs],
            ["export", run.id, "--out", str(tmp_path / "c.csv"), "--clusters", "3", *runs],
            ["report", run.id, "--out", str(tmp_path / "r.html"), *runs],
        ):
            flip_a_value(path)
            assert cli.main(argv) == 0, argv
            err = capsys.readouterr().err
            assert err.count(f"note: The features cache {path} does not match its checksum") == 1, err
            assert "computing the features again" in err
            assert verify(path) is Verdict.SOUND  # nothing was computed from the damaged copy: it was replaced
            torch.testing.assert_close(safetensors_load(path.read_bytes())["features"], first)

    def test_an_upload_beside_small_array_images_is_read_as_its_rows_were(self, tmp_path, capsys):
        from core import cli
        from core.evaluation import classify_images
        from core.runs import RunStore
        from core.trained import load_trained

        rng = np.random.default_rng(0)
        x = (rng.random((12, 28, 28)) * 255).astype(np.uint8)
        np.savez(tmp_path / "small.npz", x=x, y=np.arange(12) % 3)
        assert (
            cli.main(
                [
                    "train",
                    "--dataset",
                    "npz",
                    "--data-dir",
                    str(tmp_path / "small.npz"),
                    "--features",
                    "efficientnet-lite0",
                    "--model",
                    "dense",
                    "--epochs",
                    "2",
                ]
            )
            == 0
        ), capsys.readouterr()
        trained = load_trained(RunStore().open(RunStore().ids()[0]))
        row = int(trained.splits.train[0])
        Image.fromarray(x[row]).save(tmp_path / "row.png")
        (result,) = classify_images(trained, [str(tmp_path / "row.png")], k=1)
        # the same pixels at the same geometry: the upload's features, code and nearest row are the row's own
        assert result.neighbors[0].index == row and result.neighbors[0].distance == pytest.approx(0, abs=1e-4)

    def test_conv_on_features_is_refused_before_a_run_exists(self, tmp_path, capsys):
        from core import cli
        from core.runs import RunStore

        write_bird_folder(tmp_path / "birds", species=1, per_species=2)
        code = cli.main(
            [
                "train",
                "--dataset",
                "folder",
                "--data-dir",
                str(tmp_path / "birds"),
                "--features",
                "efficientnet-lite0",
                "--model",
                "conv",
            ]
        )
        assert code == 2 and "conv" in capsys.readouterr().err
        assert RunStore().ids() == []

    def test_features_on_a_table_are_refused(self, tmp_path, capsys):
        from core import cli

        (tmp_path / "t.csv").write_text("a,b\n1,2\n3,4\n")
        code = cli.main(
            ["train", "--dataset", "table", "--data-dir", str(tmp_path / "t.csv"), "--features", "resnet50"]
        )
        assert code == 2 and "need images" in capsys.readouterr().err


class TestBadPhotos:
    """A folder with a corrupt JPEG, a CMYK JPEG, a 16-bit PNG and a 1x1 image."""

    @pytest.fixture
    def folder(self, tmp_path):
        root = tmp_path / "mixed"
        photos = write_bird_folder(root, species=1, per_species=2, labelled=False)
        first = next(iter(photos.values()))[0]
        with Image.open(first) as img:
            img.convert("CMYK").save(root / "cmyk.jpg")
            grey16 = np.asarray(img.convert("L"), dtype=np.uint16) * 257
        Image.fromarray(grey16).save(root / "deep.png")
        assert Image.open(root / "deep.png").mode.startswith("I")
        (root / "broken.jpg").write_bytes(Path(first).read_bytes()[:300])
        Image.new("RGB", (1, 1), "red").save(root / "dot.png")
        return root

    def test_skipped_by_default_with_each_file_named(self, folder, capsys):
        from core import cli

        code = cli.main(
            ["train", "--dataset", "folder", "--data-dir", str(folder), "--epochs", "1", "--image-size", "16"]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        assert "Skipped 2 unreadable files: broken.jpg (" in out and "dot.png (1x1 pixels" in out
        assert "Read 4 images as RGB 16x16" in out  # two photos, the CMYK JPEG and the 16-bit PNG

    def test_fail_names_the_first_bad_file(self, folder, capsys):
        from core import cli

        code = cli.main(["train", "--dataset", "folder", "--data-dir", str(folder), "--bad-files", "fail"])
        err = capsys.readouterr().err
        assert code == 2 and "'broken.jpg' is not a usable image" in err and "--bad-files skip" in err


class TestSortingAFlatFolder:
    """No class folders, no labels: the clusters are the product, exported as file -> cluster."""

    @pytest.mark.parametrize("suffix", [".csv", ".parquet"])
    def test_export_names_every_file_once(self, tmp_path, capsys, suffix):
        import pandas as pd

        from core import cli
        from core.runs import RunStore

        photos = write_bird_folder(tmp_path / "flat", species=2, per_species=4, labelled=False)
        assert (
            cli.main(
                [
                    "train",
                    "--dataset",
                    "folder",
                    "--data-dir",
                    str(tmp_path / "flat"),
                    "--preset",
                    "photos",
                    "--epochs",
                    "2",
                    "--image-size",
                    "16",
                ]
            )
            == 0
        )
        run_id = RunStore().ids()[0]
        out = tmp_path / f"clusters{suffix}"
        assert cli.main(["export", run_id, "--out", str(out), "--clusters", "2"]) == 0
        assert "8 rows in 2 clusters" in capsys.readouterr().out
        table = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        names = sorted(Path(p).name for files in photos.values() for p in files)
        assert sorted(table["file"]) == names and "label" not in table
        assert set(table["cluster"]) == {0, 1}

    def test_an_unknown_format_is_refused(self, tmp_path, capsys):
        from core import cli
        from core.runs import RunStore

        write_bird_folder(
            tmp_path / "flat", species=1, per_species=4, labelled=False
        )  # 4: the fewest rows train accepts
        assert cli.main(["train", "--dataset", "folder", "--data-dir", str(tmp_path / "flat"), "--epochs", "1"]) == 0
        assert cli.main(["export", RunStore().ids()[0], "--out", str(tmp_path / "c.xlsx"), "--clusters", "2"]) == 2
        assert ".csv or .parquet" in capsys.readouterr().err


class TestSortedFolders:
    """`latentboard export --sorted-folders`: every original file exactly once, byte for byte."""

    @staticmethod
    def train(tmp_path, data: Path) -> str:
        from core import cli
        from core.runs import RunStore

        assert (
            cli.main(
                [
                    "train",
                    "--dataset",
                    "folder",
                    "--data-dir",
                    str(data),
                    "--preset",
                    "photos",
                    "--epochs",
                    "2",
                    "--image-size",
                    "16",
                ]
            )
            == 0
        )
        return RunStore().ids()[0]

    @staticmethod
    def digests(paths) -> list[str]:
        import hashlib

        return sorted(hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths)

    @pytest.mark.parametrize("layout", ["labelled folder", "zip", "flat folder"])
    def test_every_photo_once_byte_for_byte(self, tmp_path, capsys, layout):
        from core import cli
        from tests.core.data_fixtures import zip_tree

        photos = write_bird_folder(tmp_path / "birds", species=2, per_species=3, labelled=layout != "flat folder")
        data = zip_tree(tmp_path / "birds", tmp_path / "birds.zip") if layout == "zip" else tmp_path / "birds"
        run_id = self.train(tmp_path, data)
        out = tmp_path / "sorted"
        assert cli.main(["export", run_id, "--sorted-folders", str(out), "--clusters", "2"]) == 0
        assert "6 rows in 2 clusters" in capsys.readouterr().out
        written = [p for p in out.rglob("*") if p.is_file() and p.name != "clusters.csv"]
        assert self.digests(written) == self.digests(p for files in photos.values() for p in files)
        assert {p.parent.name for p in written} <= {"cluster-00", "cluster-01"}
        import pandas as pd

        table = pd.read_csv(out / "clusters.csv")
        assert sorted(table["sorted_as"]) == sorted(str(p.relative_to(out)) for p in written)

    def test_same_names_are_renamed_not_overwritten(self, tmp_path, capsys):
        from core import cli

        write_bird_folder(tmp_path / "birds", species=2, per_species=2)  # both species hold 0000.jpg and 0001.jpg
        run_id = self.train(tmp_path, tmp_path / "birds")
        assert cli.main(["export", run_id, "--sorted-folders", str(tmp_path / "one"), "--clusters", "1"]) == 0
        names = sorted(p.name for p in (tmp_path / "one" / "cluster-00").iterdir())
        assert names == ["0000-2.jpg", "0000.jpg", "0001-2.jpg", "0001.jpg"]

    def test_an_existing_folder_is_never_written_into(self, tmp_path, capsys):
        from core import cli

        write_bird_folder(tmp_path / "birds", species=1, per_species=4)
        run_id = self.train(tmp_path, tmp_path / "birds")
        (tmp_path / "taken").mkdir()
        (tmp_path / "taken" / "mine.txt").write_text("keep me")
        assert cli.main(["export", run_id, "--sorted-folders", str(tmp_path / "taken"), "--clusters", "1"]) == 2
        assert "not an empty folder" in capsys.readouterr().err
        assert [p.name for p in (tmp_path / "taken").iterdir()] == ["mine.txt"]

    def test_a_zip_for_the_browser_holds_the_same_tree(self, tmp_path):
        import zipfile

        from core.export import cluster_assignments, sorted_zip_bytes
        from core.runs import RunStore
        from core.trained import load_trained

        photos = write_bird_folder(tmp_path / "birds", species=2, per_species=2)
        trained = load_trained(RunStore().open(self.train(tmp_path, tmp_path / "birds")))
        frame = cluster_assignments(trained, "kmeans", 2)
        with zipfile.ZipFile(io.BytesIO(sorted_zip_bytes(frame, {0: "orioles", 1: "orioles"}))) as archive:
            names = sorted(n for n in archive.namelist() if n != "clusters.csv")
            import hashlib

            assert sorted(hashlib.sha256(archive.read(n)).hexdigest() for n in names) == self.digests(
                p for files in photos.values() for p in files
            )
        assert {n.split("/")[0] for n in names} <= {"orioles", "orioles-2"}

    def test_datasets_without_files_are_told_to_export_the_table(self, tmp_path, capsys):
        from core import cli
        from core.runs import RunStore

        assert cli.main(["train", "--dataset", "digits", "--epochs", "1", "--max-samples", "200"]) == 0
        code = cli.main(["export", RunStore().ids()[0], "--sorted-folders", str(tmp_path / "x")])
        assert code == 2 and "--out clusters.csv" in capsys.readouterr().err


def test_the_photos_preset_leaves_built_in_image_sizes_alone():
    from core.cli import build_parser, config_from_args

    parse = build_parser().parse_args
    assert config_from_args(parse(["train", "--dataset", "mnist-5k", "--preset", "photos"])).data.image_size is None
    folder = config_from_args(parse(["train", "--dataset", "folder", "--data-dir", ".", "--preset", "photos"]))
    assert folder.data.image_size == 96 and folder.features.backbone == "efficientnet-lite0"
