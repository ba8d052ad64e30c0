"""From a trained model to codes: arrays in, float32 arrays out.

z = encode(model, x)    # (N, latent_dim); for a VAE, the posterior mean
"""

from __future__ import annotations

import numpy as np
import torch


def model_device(model: torch.nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def batched_apply(model: torch.nn.Module, x: torch.Tensor | np.ndarray, fn, batch_size: int = 1024) -> list[np.ndarray]:
    """fn(batch) for each batch of x as float32 numpy: eval mode, no gradients, on the model's device.

    The model's train/eval mode is restored afterwards, so a trainer's model can be probed mid-run.
    """
    x = torch.as_tensor(x, dtype=torch.float32)
    device = model_device(model)
    cuda = device.type == "cuda"  # from pinned pages the copy is one DMA, with no staging copy on the host
    was_training = model.training
    model.eval()
    parts = []
    try:
        with torch.no_grad():
            for start in range(0, len(x), batch_size):
                batch = x[start : start + batch_size]
                batch = batch.pin_memory().to(device, non_blocking=True) if cuda else batch.to(device)
                parts.append(fn(batch).detach().float().cpu().numpy())
    finally:
        model.train(was_training)
    return parts


def encode(model: torch.nn.Module, x: torch.Tensor | np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Codes of `x` as float32 (N, latent_dim); for a VAE, the posterior mean."""
    parts = batched_apply(model, x, model.encode, batch_size)
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(parts)
