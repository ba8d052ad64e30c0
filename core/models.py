"""Autoencoder families, each built from one `ModelConfig` for any input shape.

CONTRACT (helpers implement the families below this line; keep these names and signatures):

    config = ModelConfig(family="conv", latent_dim=10)
    model = build_model(config, input_shape=(1, 28, 28))   # or (3, 32, 32), (1, 8, 8), (D,)
    z = model.encode(x)            # (N, latent_dim); for VAEs the posterior mean
    x_hat = model.decode(z)        # same shape as x, in data space (sigmoid for images, linear for tables)
    out = model(x)                 # AutoencoderOutput(recon, code, loss, parts)

`parts` always has "recon"; VAEs add "kl"; sparsity > 0 adds "sparsity". `loss` is the scalar
that training minimises (sum of weighted parts). Denoising noise is applied to the input only in
training mode; the loss compares against the clean input. So is `augment`, a random small
rotation, shift and rescaling of each image: the decoder must rebuild the upright, centred digit
from a tilted, shifted one, so the code keeps what the thing is and drops its pose.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from core.config_base import Config, setting
from core.errors import ConfigError
from core.limits import current_limits, describe_bytes, over_limit
from core.registry import Entry, lookup, registry


@dataclass(frozen=True)
class ModelConfig(Config):
    family: str = setting("dense", "the autoencoder family", flag="--model", choices="core.models:FAMILIES")
    latent_dim: int = setting(10, "size of the code")
    width: int = setting(256, "hidden units (dense, recurrent) or base channels x8 (conv: width // 8 channels first)")
    depth: int = setting(2, "hidden layers (dense), conv blocks (conv), stacked RNN layers (recurrent)")
    activation: Literal["relu", "gelu", "elu", "leaky_relu", "tanh", "silu"] = setting(
        "relu", "nonlinearity between layers"
    )
    cell: Literal["gru", "lstm"] = setting("gru", "recurrent: the RNN cell")
    beta: float = setting(1.0, "VAE: weight of the KL term")
    noise: float = setting(0.0, "denoising: std of Gaussian noise added to inputs while training (0 = off)")
    augment: float = setting(
        0.0,
        "images: strength of random turns / shifts / rescaling while training "
        "(1 = up to 15 degrees, 10% of the side; 0 = off; tables: ignored)",
    )
    sparsity: float = setting(0.0, "weight of the L1 penalty on the code (0 = off)")
    loss: Literal["mse", "bce"] = setting("mse", "reconstruction loss; bce only for images in [0, 1]")


class AutoencoderOutput(NamedTuple):
    recon: torch.Tensor
    code: torch.Tensor
    loss: torch.Tensor
    parts: dict[str, torch.Tensor]


# --------------------------------------------------------------------------- building blocks

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
}
CELLS: dict[str, type[nn.RNNBase]] = {"gru": nn.GRU, "lstm": nn.LSTM}
LOSSES = ("mse", "bce")
# augment=1: rotation up to +-15 degrees, shift up to +-10% of the side, scale up to +-10%.
AUGMENT_DEGREES, AUGMENT_SHIFT, AUGMENT_SCALE = 15.0, 0.10, 0.10


def reconstruction_loss(logits: torch.Tensor, x: torch.Tensor, kind: str, image: bool) -> torch.Tensor:
    """Mean over every value. bce works on the decoder's pre-sigmoid output: log-sum-exp stays finite."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, x)
    return F.mse_loss(torch.sigmoid(logits) if image else logits, x)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) for a diagonal Gaussian posterior.

    See Appendix B of Kingma and Welling, Auto-Encoding Variational Bayes, ICLR 2014,
    https://arxiv.org/abs/1312.6114: -KL = 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2).
    pytorch/examples sums both the reconstruction and this term over everything; we divide both
    by the number of input values instead, which keeps their ratio (the ELBO) and makes the loss
    read on the same per-value scale for every family and batch size.
    """
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.numel()


def random_pose(x: torch.Tensor, strength: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Each image of (N, C, H, W) turned, shifted and rescaled at random, zeros outside.

    Geometric "noise" for a denoising autoencoder: on mnist-5k, N2D clustering of a conv model's
    codes went from 0.80 accuracy (Gaussian noise 0.2) to 0.97 at the same 40 epochs.
    """
    n = x.shape[0]
    uniform = lambda *shape: (torch.rand(*shape, generator=generator, device=x.device) * 2 - 1) * strength  # noqa: E731
    angle = uniform(n) * math.radians(AUGMENT_DEGREES)
    scale = 1 + uniform(n) * AUGMENT_SCALE
    shift = uniform(n, 2) * 2 * AUGMENT_SHIFT  # affine_grid's coordinates run from -1 to 1: the side is 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Crop(nn.Module):
    """Transposed convs overshoot sizes that are not powers of two: cut back to the input size."""

    def __init__(self, height: int, width: int):
        super().__init__()
        self.height, self.width = height, width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., : self.height, : self.width]


def to_sequence(x: torch.Tensor) -> torch.Tensor:
    """Images are read row by row: (N, C, H, W) -> (N, H, C*W); a table value by value: (N, D) -> (N, D, 1)."""
    if x.dim() == 4:
        n, c, h, w = x.shape
        return x.permute(0, 2, 1, 3).reshape(n, h, c * w)
    return x.unsqueeze(-1)


def from_sequence(seq: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    if len(shape) == 3:
        c, h, w = shape
        return seq.reshape(len(seq), h, c, w).permute(0, 2, 1, 3)
    return seq.squeeze(-1)


class SequenceEncoder(nn.Module):
    def __init__(self, config: ModelConfig, shape: tuple[int, ...]):
        super().__init__()
        features = to_sequence(torch.zeros(1, *shape)).shape[-1]
        self.rnn = CELLS[config.cell](features, config.width, num_layers=config.depth, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(to_sequence(x))
        return out[:, -1]  # the top layer's state after reading the whole sequence


class SequenceDecoder(nn.Module):
    """The code is fed at every time step; the RNN unrolls it back into rows (or values)."""

    def __init__(self, config: ModelConfig, shape: tuple[int, ...]):
        super().__init__()
        self.shape = shape
        self.steps, features = to_sequence(torch.zeros(1, *shape)).shape[1:]
        self.rnn = CELLS[config.cell](config.latent_dim, config.width, num_layers=config.depth, batch_first=True)
        self.out = nn.Linear(config.width, features)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(z.unsqueeze(1).expand(-1, self.steps, -1))
        return from_sequence(self.out(out), self.shape)


# --------------------------------------------------------------------------- encoder / decoder bodies
# Each returns (encoder: x -> (N, features), features, decoder: code -> logits shaped like x).

Parts = tuple[nn.Module, int, nn.Module]


def dense_parts(config: ModelConfig, shape: tuple[int, ...]) -> Parts:
    act, size = ACTIVATIONS[config.activation], math.prod(shape)
    encoder: list[nn.Module] = [nn.Flatten()]
    decoder: list[nn.Module] = []
    for i in range(config.depth):
        encoder += [nn.Linear(size if i == 0 else config.width, config.width), act()]
        decoder += [nn.Linear(config.latent_dim if i == 0 else config.width, config.width), act()]
    decoder += [nn.Linear(config.width, size), nn.Unflatten(1, shape)]
    return nn.Sequential(*encoder), config.width, nn.Sequential(*decoder)


# One stride-2 block at least: below 4 px a side it leaves a map of 1 pixel, where a 3 x 3 kernel
# sees no neighbours and the decoder has no shape to grow back from.
CONV_MIN_SIDE = 4


def conv_blocks(depth: int, side: int) -> int:
    """`depth` stride-2 blocks, but never so many that the smaller side drops below 2 pixels."""
    blocks = 1
    while blocks < depth and math.ceil(side / 2 ** (blocks + 1)) >= 2:
        blocks += 1
    return blocks


def conv_parts(config: ModelConfig, shape: tuple[int, ...]) -> Parts:
    act, (c, h, w) = ACTIVATIONS[config.activation], shape
    blocks = conv_blocks(config.depth, min(h, w))
    channels = [c] + [max(1, config.width // 8) * 2**i for i in range(blocks)]
    pairs = list(zip(channels, channels[1:]))
    # Stride 2 with padding 1 halves each side, rounding up, for any size.
    body = nn.Sequential(*[m for c_in, c_out in pairs for m in (nn.Conv2d(c_in, c_out, 3, stride=2, padding=1), act())])
    with torch.no_grad():  # dry run: the feature map's exact shape for this input size
        fmap = tuple(body(torch.zeros(1, *shape)).shape[1:])
    features = math.prod(fmap)
    decoder: list[nn.Module] = [nn.Linear(config.latent_dim, features), act(), nn.Unflatten(1, fmap)]
    for i, (c_out, c_in) in enumerate(reversed(pairs)):
        decoder.append(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1))  # exactly doubles each side
        if i < len(pairs) - 1:  # no activation on the output logits
            decoder.append(act())
    decoder.append(Crop(h, w))
    return nn.Sequential(body, nn.Flatten()), features, nn.Sequential(*decoder)


def recurrent_parts(config: ModelConfig, shape: tuple[int, ...]) -> Parts:
    return SequenceEncoder(config, shape), config.width, SequenceDecoder(config, shape)


# --------------------------------------------------------------------------- the models


class Autoencoder(nn.Module):
    """x -> encoder -> features -> code -> decoder -> x_hat. The families differ only in their bodies."""

    is_variational = False

    # Where training draws its randomness (denoising noise, poses, VAE samples). The Trainer gives
    # each run its own, so runs training side by side in one process stay reproducible;
    # None (a model used on its own) means torch's global RNG.
    generator: torch.Generator | None = None

    def __init__(
        self, config: ModelConfig, input_shape: tuple[int, ...], encoder: nn.Module, features: int, decoder: nn.Module
    ):
        super().__init__()
        self.config = config
        self.input_shape = tuple(input_shape)
        self.is_image = len(self.input_shape) == 3  # images live in [0, 1]: sigmoid output; tables are unbounded
        self.encoder = encoder
        self.decoder = decoder
        self.build_head(features)

    def build_head(self, features: int) -> None:
        self.to_code = nn.Linear(features, self.config.latent_dim)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_code(self.encoder(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.to_data(self.decoder(z))

    def to_data(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits) if self.is_image else logits

    def corrupt(self, x: torch.Tensor) -> torch.Tensor:
        """Denoising (Vincent et al., 2008): a posed and/or noisy input in training, the clean one as the target."""
        if not self.training:
            return x
        if self.config.augment > 0 and self.is_image:
            x = random_pose(x, self.config.augment, self.generator)
        if self.config.noise > 0:
            x = x + self.config.noise * self.standard_normal(x)
            x = x.clamp(0, 1) if self.is_image else x
        return x

    def standard_normal(self, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(like.shape, generator=self.generator, device=like.device, dtype=like.dtype)

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        z = self.encode(self.corrupt(x))
        return self.output(x, z, self.decoder(z))

    def output(
        self, x: torch.Tensor, code: torch.Tensor, logits: torch.Tensor, kl: torch.Tensor | None = None
    ) -> AutoencoderOutput:
        """The recon and the weighted loss terms; `parts` holds each term before weighting."""
        cfg = self.config
        parts = {"recon": reconstruction_loss(logits, x, cfg.loss, self.is_image)}
        loss = parts["recon"]
        if kl is not None:
            parts["kl"] = kl
            loss = loss + cfg.beta * kl
        if cfg.sparsity > 0:
            parts["sparsity"] = code.abs().mean()  # L1 on the code: most units silent for any one input
            loss = loss + cfg.sparsity * parts["sparsity"]
        return AutoencoderOutput(self.to_data(logits), code, loss, parts)


class VariationalAutoencoder(Autoencoder):
    """Kingma & Welling (2014): the encoder gives a Gaussian q(z|x); the code is drawn from it."""

    is_variational = True

    def build_head(self, features: int) -> None:
        self.to_mu = nn.Linear(features, self.config.latent_dim)
        self.to_logvar = nn.Linear(features, self.config.latent_dim)

    def encode_gaussian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_mu(self.encoder(x))  # the posterior mean: maps and clusters need deterministic codes

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        if not self.training:  # evaluation: the mean, so val loss and reconstructions are deterministic
            return mu
        std = torch.exp(0.5 * logvar)
        eps = self.standard_normal(std)
        return mu + eps * std

    def forward(self, x: torch.Tensor) -> AutoencoderOutput:
        mu, logvar = self.encode_gaussian(self.corrupt(x))
        z = self.reparameterize(mu, logvar)
        return self.output(x, mu, self.decoder(z), kl=kl_divergence(mu, logvar, x))

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n new data points: codes drawn from the prior N(0, I), decoded."""
        device = next(self.parameters()).device
        z = torch.randn(
            n, self.config.latent_dim, generator=generator, device=generator.device if generator else device
        )
        return self.decode(z.to(device))


# --------------------------------------------------------------------------- registry

Builder = Callable[[ModelConfig, tuple[int, ...]], Autoencoder]


@dataclass(frozen=True)
class Family(Entry):
    """One autoencoder family: `build(config, input_shape)`, and what sets it apart."""

    build: Builder
    image_only: bool = False  # needs (C, H, W) images: convolutions have no meaning on a table's row
    variational: bool = False  # a VAE: beta weighs its KL term, and it can sample new data from the prior
    recurrent: bool = False  # reads rows as a sequence with an RNN cell (the `cell` setting)
    min_side: int = 1  # px: the smallest image side it reads sensibly (core.gate refuses smaller images)


FAMILIES: dict[str, Family] = registry(
    Family(
        "dense",
        "Dense",
        "Fully connected layers: works on images, tables and features alike.",
        lambda config, shape: Autoencoder(config, shape, *dense_parts(config, shape)),
    ),
    Family(
        "conv",
        "Convolutional",
        "Convolutions see nearby pixels together: usually the best on images.",
        lambda config, shape: Autoencoder(config, shape, *conv_parts(config, shape)),
        image_only=True,
        min_side=CONV_MIN_SIDE,
    ),
    Family(
        "recurrent",
        "Recurrent",
        "Reads an image row by row (a table's row value by value) with a GRU or LSTM.",
        lambda config, shape: Autoencoder(config, shape, *recurrent_parts(config, shape)),
        recurrent=True,
    ),
    Family(
        "vae",
        "VAE",
        "A dense variational autoencoder: smooth codes, and it can generate new samples.",
        lambda config, shape: VariationalAutoencoder(config, shape, *dense_parts(config, shape)),
        variational=True,
    ),
    Family(
        "conv-vae",
        "Convolutional VAE",
        "A convolutional variational autoencoder for images; can generate new samples.",
        lambda config, shape: VariationalAutoencoder(config, shape, *conv_parts(config, shape)),
        image_only=True,
        variational=True,
        min_side=CONV_MIN_SIDE,
    ),
)


# Refused before the size check: that check builds the model on the meta device, layer by layer, and at
# depth 100,000 the refusal took 30 s.
MAX_DEPTH = 64


def families_for(images: bool) -> list[str]:
    """The family names that can read these inputs: all for images, those that are not image-only for vectors."""
    return [name for name, family in FAMILIES.items() if images or not family.image_only]


def check_model_config(config: ModelConfig, input_shape: tuple[int, ...]) -> None:
    """ConfigError, with what to do, for any setting this input cannot be built with."""

    def choose(what: str, value: Any, names: Iterable[str]) -> None:
        if value not in names:
            raise ConfigError(f"Unknown {what} {value!r}; choose one of {', '.join(names)}.")

    family = lookup(FAMILIES, config.family, "model family")
    choose("activation", config.activation, ACTIVATIONS)
    choose("recurrent cell", config.cell, CELLS)
    choose("loss", config.loss, LOSSES)
    for name, low in (
        ("latent_dim", 1),
        ("width", 1),
        ("depth", 1),
        ("noise", 0),
        ("augment", 0),
        ("sparsity", 0),
        ("beta", 0),
    ):
        value = getattr(config, name)
        if not value >= low:  # also catches NaN
            raise ConfigError(f"{name} must be at least {low} (got {value}).")
    if config.depth > MAX_DEPTH:
        raise ConfigError(
            f"depth must be at most {MAX_DEPTH} hidden layers a side (got {config.depth}); the Train form offers "
            "1 to 8, and a wider model (--width) is the usual way to add capacity."
        )
    if len(input_shape) not in (1, 3) or min(input_shape, default=0) < 1:
        raise ConfigError(f"Inputs must be images (C, H, W) or table rows (D,); got shape {tuple(input_shape)}.")
    if len(input_shape) == 1:
        if family.image_only:
            raise ConfigError(
                f"The {config.family} family reads images, and these inputs are vectors (a table's rows, "
                f"or a backbone's features); use {', '.join(families_for(images=False))}."
            )
        if config.loss == "bce":
            raise ConfigError(
                "bce needs values in [0, 1], and vectors (a table's rows, a backbone's features) are "
                "standardised; use the mse loss."
            )


def training_bytes(config: ModelConfig, input_shape: tuple[int, ...]) -> int:
    """Memory the weights need in training: weights, gradients and Adam's two moments, 4 bytes each.

    Built on PyTorch's meta device, which records shapes without allocating: a latent size of a
    billion costs nothing to check and terabytes to build.
    """
    with torch.device("meta"):
        model = FAMILIES[config.family].build(config, tuple(int(s) for s in input_shape))
    return 16 * sum(p.numel() for p in model.parameters())


def check_model_size(config: ModelConfig, input_shape: tuple[int, ...]) -> None:
    limits = current_limits()
    need = training_bytes(config, input_shape)
    if need > limits.max_model_bytes:
        raise ConfigError(
            over_limit(
                f"Training a {config.family} model with latent size {config.latent_dim}, width "
                f"{config.width} and depth {config.depth} on inputs shaped {tuple(input_shape)}",
                f"{describe_bytes(need)} for weights, gradients and optimiser state",
                "max_model_bytes",
                describe_bytes(limits.max_model_bytes),
            )
        )


def build_model(config: ModelConfig, input_shape: tuple[int, ...]) -> Autoencoder:
    """The family's autoencoder for inputs shaped `input_shape` ((C, H, W) images or (D,) table rows)."""
    shape = tuple(int(s) for s in input_shape)
    check_model_config(config, shape)
    check_model_size(config, shape)
    return FAMILIES[config.family].build(config, shape)
