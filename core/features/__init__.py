"""The optional features stage: images -> pretrained backbone features -> the autoencoder.

from core.features import BACKBONES, FeatureConfig, dataset_features
feats = dataset_features(dataset, "efficientnet-lite0", device)   # (N, 1280), cached on disk
"""

from core.config import FeatureConfig
from core.features.backbones import BACKBONES, DEFAULT_BACKBONE, Backbone, get_backbone, load_backbone
from core.features.cache import backbone_for, dataset_features, features_path, settled_input_size, standardise
from core.features.extract import extract_features, read_for_backbone, tensor_for_backbone

__all__ = [
    "BACKBONES",
    "DEFAULT_BACKBONE",
    "Backbone",
    "get_backbone",
    "load_backbone",
    "backbone_for",
    "dataset_features",
    "features_path",
    "settled_input_size",
    "standardise",
    "FeatureConfig",
    "extract_features",
    "read_for_backbone",
    "tensor_for_backbone",
]
