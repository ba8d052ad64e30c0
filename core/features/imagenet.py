"""What an ImageNet backbone calls each photo, from its cached features alone.

The offline backbones are ImageNet classifiers with their last layer dropped (core.features.backbones):
the features cache holds the globally pooled vector that layer read. Every layer between the pooled
vector and the logits is the identity at eval (EfficientNet's dropout; ResNet's fc and ConvNeXt's
last Linear follow the pooling and flatten directly), so `features @ weight.T + bias` is exactly
the network's logits, with no second pass over the photos (tests/core/test_cluster_names.py checks
it against the whole network). A backbone trained without ImageNet's labels (DINOv2) has no classes.

The 1,000 class names are ImageNet's, as torchvision's weights carry them (offline, in the wheel).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch

from core.errors import DataError
from core.features.backbones import get_backbone


@cache
def imagenet_classes() -> tuple[str, ...]:
    """ImageNet-1k's class names in the classifiers' output order ('tench', 'goldfish', ...)."""
    from torchvision.models import ResNet50_Weights

    return tuple(ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


def has_imagenet_classes(backbone_name: str) -> bool:
    return get_backbone(backbone_name).classifier is not None


def imagenet_logits(
    features: torch.Tensor | np.ndarray, backbone_name: str, allow_download: bool = False
) -> torch.Tensor:
    """(rows, 1000) ImageNet logits of the backbone's own pooled `features` (as the features cache
    holds them, not standardised); DataError for a backbone without ImageNet's classes."""
    backbone = get_backbone(backbone_name)
    if backbone.classifier is None:
        raise DataError(f"The backbone {backbone.label} was not trained on ImageNet's classes, so it names none.")
    weight, bias = backbone.classifier(allow_download)
    features = torch.as_tensor(np.asarray(features, dtype=np.float32))
    if features.ndim != 2 or features.shape[1] != weight.shape[1] or weight.shape[0] != len(imagenet_classes()):
        raise DataError(
            f"{backbone.label}'s classifier maps {weight.shape[1]} features to {weight.shape[0]} classes; "
            f"the features given are shaped {tuple(features.shape)}."
        )
    with torch.inference_mode():
        return torch.addmm(bias, features, weight.T)


def imagenet_top_classes(
    features: torch.Tensor | np.ndarray, backbone_name: str, allow_download: bool = False
) -> np.ndarray:
    """The ImageNet class (an index into imagenet_classes()) the backbone gives each row of its `features`."""
    return imagenet_logits(features, backbone_name, allow_download).argmax(1).numpy()
