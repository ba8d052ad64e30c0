"""The GPU path: training, encoding and backbone features on CUDA agree with the CPU.

Marked `cuda` and skipped where PyTorch sees no CUDA GPU (CI and the developers' machines have
none; run `pytest -m cuda` on a machine with one).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from core.data import DataSpec, load_dataset
from core.encoding import encode
from core.evaluation import reconstruct
from core.features import extract_features, get_backbone, load_backbone
from core.models import ModelConfig, build_model
from core.training import TrainConfig, Trainer

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not torch.cuda.is_available(), reason="no CUDA GPU on this machine (none was lent to this session)"
    ),
]


@pytest.fixture(scope="module")
def digits():
    return load_dataset(DataSpec("digits", max_samples=400))


def test_training_runs_on_the_gpu(digits):
    torch.manual_seed(0)
    model = build_model(ModelConfig("conv", latent_dim=4, width=32), tuple(digits.x.shape[1:]))
    trainer = Trainer(model, TrainConfig(epochs=2, batch_size=64, device="cuda"))
    events = [e for e in trainer.fit(digits.x[:320], digits.x[320:], stop=threading.Event()) if e.kind == "epoch"]
    assert trainer.device.type == "cuda" and next(model.parameters()).is_cuda
    assert len(events) == 2 and all(np.isfinite(e.val_loss) for e in events)
    assert events[-1].val_loss < events[0].val_loss * 1.5


def test_encode_and_reconstruct_on_the_gpu_match_the_cpu(digits):
    torch.manual_seed(0)
    model = build_model(ModelConfig("dense", latent_dim=4, width=32), tuple(digits.x.shape[1:])).eval()
    on_cpu = encode(model, digits.x, batch_size=100), reconstruct(model, digits.x, batch_size=100)
    model.to("cuda")
    on_gpu = encode(model, digits.x, batch_size=100), reconstruct(model, digits.x, batch_size=100)
    for cpu, gpu in zip(on_cpu, on_gpu):
        np.testing.assert_allclose(gpu, cpu, atol=1e-4)


def test_backbone_features_on_the_gpu_match_the_cpu(digits):
    backbone = get_backbone("efficientnet-lite0")
    network = load_backbone("efficientnet-lite0")
    x = digits.x[:16]
    cpu = extract_features(network, backbone, x=x, batch_size=8)
    gpu = extract_features(network.to("cuda"), backbone, x=x, batch_size=8)
    np.testing.assert_allclose(gpu.numpy(), cpu.numpy(), atol=2e-3, rtol=2e-3)
