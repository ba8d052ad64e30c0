"""Autoencoder families, each built from one `ModelConfig` for any input shape.

CONTRACT (helpers implement the families below this line; keep these names and signatures):

    config = ModelConfig(family="conv", latent_dim=10)
    model = build_model(config, input_shape=(1, 28, 28))   # or (3, 32, 32), (1, 8, 8), (D,)
    z = model.encode(x)            # (N, latent_dim); for VAEs the posterior mean
    x_hat = model.decode(z)        # same shape as x, in data space (sigmoid for images, linear for tables)
    out = model(x)                 # AutoencoderOutput(recon, code, loss, parts)

`parts` always has "recon"; VAEs add "kl"; sparsity > 0 adds "sparsity". `loss` is the scalar
that training minimises (sum of weighted parts). Denoising noise is applied to the input only in
training mode; the loss compares against the clean input.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    family: str = "dense"  # one of FAMILIES: dense, conv, recurrent, vae, conv-vae
    latent_dim: int = 10
    width: int = 256  # hidden units (dense / recurrent) or base channels x8 (conv: width // 8 channels first)
    depth: int = 2  # hidden layers (dense), conv blocks (conv), stacked RNN layers (recurrent)
    activation: Literal["relu", "gelu", "elu", "leaky_relu", "tanh", "silu"] = "relu"
    cell: Literal["gru", "lstm"] = "gru"  # recurrent only
    beta: float = 1.0  # VAE: weight of the KL term
    noise: float = 0.0  # denoising: std of Gaussian noise added to inputs while training (0 = off)
    sparsity: float = 0.0  # sparse: weight of the L1 penalty on the code (0 = off)
    loss: Literal["mse", "bce"] = "mse"  # bce only for images in [0, 1]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


class AutoencoderOutput(NamedTuple):
    recon: torch.Tensor
    code: torch.Tensor
    loss: torch.Tensor
    parts: dict[str, torch.Tensor]
