"""Builders for tiny data files in the real formats, so data tests run offline in milliseconds.

Each returns what it wrote, so a test can compare what was loaded with what is on disk.
"""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

# --- MNIST family: IDX files ------------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format MNIST uses: magic (0, 0, uint8 type 0x08, ndim), big-endian sizes, raw bytes."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_fake_mnist(
    root: Path, class_name: str = "MNIST", n_train: int = 20, n_test: int = 10, gz: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """root/<class_name>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]; returns (images, labels)."""
    rng = np.random.default_rng(seed)
    raw = root / class_name / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images = rng.integers(0, 256, size=(n_train + n_test, 28, 28), dtype=np.uint8)
    labels = np.arange(n_train + n_test, dtype=np.uint8) % 10
    parts = {"train": slice(0, n_train), "t10k": slice(n_train, None)}
    for prefix, rows in parts.items():
        for kind, array in (("images-idx3", images[rows]), ("labels-idx1", labels[rows])):
            data = idx_bytes(array)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)
    return images, labels


# --- CIFAR-10: pickled batches ----------------------------------------------------------------

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_fake_cifar(
    root: Path, per_batch: int = 2, as_archive: bool = False, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """root/cifar-10-batches-py/{data_batch_1..5, test_batch, batches.meta}, or the .tar.gz of it.

    Returns (images (N, 32, 32, 3) uint8 in train-then-test order, labels).
    """
    rng = np.random.default_rng(seed)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    files: dict[str, bytes] = {}
    all_images, all_labels = [], []
    for i, name in enumerate(names):
        images = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
        labels = [(i * per_batch + j) % 10 for j in range(per_batch)]
        rows = images.transpose(0, 3, 1, 2).reshape(per_batch, -1)  # CIFAR stores planes R, G, B
        files[name] = pickle.dumps({"data": rows, "labels": labels, "batch_label": name})
        all_images.append(images)
        all_labels += labels
    files["batches.meta"] = pickle.dumps({"label_names": CIFAR_NAMES, "num_cases_per_batch": per_batch})
    if as_archive:
        root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    else:
        folder = root / "cifar-10-batches-py"
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
    return np.concatenate(all_images), np.array(all_labels)


# --- image folders ----------------------------------------------------------------------------


def _picture(size: tuple[int, int], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)


def write_image_tree(root: Path) -> dict[str, list[str]]:
    """Two classes of mixed formats, sizes and modes, plus junk the loader must step over.

    Returns {class: [readable file names]}; 'cat/broken.jpg' and 'dog/notes.txt' are unreadable.
    """
    cat, dog = root / "cat", root / "dog"
    cat.mkdir(parents=True)
    dog.mkdir(parents=True)
    Image.fromarray(_picture((40, 30), 1)).save(cat / "wide.png")  # RGB, not square
    Image.fromarray(_picture((20, 20), 2)).convert("L").save(cat / "gray.jpg", quality=90)
    Image.fromarray(_picture((16, 16), 3)).convert("RGBA").save(cat / "alpha.webp")
    Image.fromarray(_picture((12, 24), 4)).convert("P").save(cat / "palette.gif")
    (cat / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    Image.fromarray(_picture((33, 33), 5)).save(dog / "photo.bmp")
    Image.fromarray(np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 15).save(dog / "deep16.png")  # I;16
    (dog / "nested").mkdir()
    Image.fromarray(_picture((8, 8), 6)).save(dog / "nested" / "tiny.png")
    (dog / "notes.txt").write_text("not an image")
    (root / ".DS_Store").write_bytes(b"\x00junk")  # hidden: never looked at
    return {
        "cat": ["alpha.webp", "gray.jpg", "palette.gif", "wide.png"],
        "dog": ["deep16.png", "photo.bmp", "tiny.png"],
    }


def write_gray_flat_folder(root: Path, count: int = 6) -> None:
    """Unlabelled grayscale PNGs of different sizes straight in `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        side = 10 + 3 * i
        Image.fromarray(_picture((side, side), i)[..., 0]).save(root / f"img{i}.png")


def zip_tree(source: Path, archive: Path, wrapper: str | None = "pets") -> Path:
    """Zip `source` (optionally under one top-level folder) with macOS junk beside it."""
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                name = path.relative_to(source).as_posix()
                out.write(path, f"{wrapper}/{name}" if wrapper else name)
        out.writestr("__MACOSX/pets/cat/._wide.png", b"resource fork")
        out.writestr(f"{wrapper + '/' if wrapper else ''}cat/._hidden.png", b"AppleDouble")
    return archive


# --- tables -----------------------------------------------------------------------------------


def table_frame() -> pd.DataFrame:
    """12 rows: two useful features, a constant one, a text one, a label; holes and an inf in rows 2, 5."""
    frame = pd.DataFrame(
        {
            "height": [1.0, 2.0, np.nan, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0],
            "weight": [10.0, 20.0, 30.0, 40.0, 50.0, np.inf, 70.0, 80.0, 90.0, 100.0, 110.0, 120.0],
            "constant": [3.0] * 12,
            "city": ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"],
            "species": ["fox", "cat", "fox", "cat", "owl", "fox", "cat", "owl", "fox", "cat", "owl", "owl"],
        }
    )
    return frame


# --- codes: Gaussian blobs --------------------------------------------------------------------------


def blobs(n=300, centers=3, dims=5, seed=0):
    """(float32 (n, dims) points, their blob labels): well separated, for clustering and map tests."""
    from sklearn.datasets import make_blobs

    x, y = make_blobs(n, n_features=dims, centers=centers, cluster_std=0.5, random_state=seed)
    return x.astype(np.float32), y
