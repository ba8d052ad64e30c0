"""Small model calls the pages need beyond core: interpolation and prior samples.

Plain torch, no Streamlit; every function runs the model in eval mode without gradients.
"""

from __future__ import annotations

import numpy as np
import torch


@torch.no_grad()
def interpolate(
    model: torch.nn.Module, a: torch.Tensor, b: torch.Tensor, steps: int
) -> tuple[torch.Tensor, np.ndarray]:
    """Decoded points on the straight line between the codes of samples a and b (ends included)."""
    model.eval()
    z = model.encode(torch.stack([a, b]))
    t = torch.linspace(0.0, 1.0, steps, dtype=z.dtype).unsqueeze(1)
    path = (1 - t) * z[0] + t * z[1]
    return model.decode(path), t.squeeze(1).numpy()


@torch.no_grad()
def prior_samples(model: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """n new samples from a variational model's prior, reproducible for a given seed."""
    model.eval()
    return model.sample(n, generator=torch.Generator().manual_seed(seed))
