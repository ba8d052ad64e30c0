"""The `folder` source: a directory (or a .zip of one) of image files.

One sub-folder per class gives labels (the sub-folder names, sorted), like torchvision's
ImageFolder; image files straight in the folder give an unlabelled dataset, which ImageFolder
refuses. Every image is centre-cropped to a square and resized, so a folder of phone photos,
screenshots and scans of any size and mode becomes (N, C, S, S) images. They are decoded a batch
at a time into a uint8 file in the data cache and read back by row (core.data.image_rows), so a
library of 100,000 photos never sits in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageOps

from core.data.common import count, require_path
from core.data.dataset import Dataset, DataSpec
from core.data.image_rows import Channels, ImageRows
from core.data.pixel_cache import Decode, decoded_folder
from core.data.splits import sample_rows
from core.errors import DataError
from core.limits import Limits, current_limits, describe_bytes, over_limit
from core.paths import default_data_dir

DEFAULT_IMAGE_SIZE = 32
_JUNK = {"__MACOSX", "Thumbs.db", "desktop.ini"}
_LOOKED_FOR = "image files (PNG, JPEG, BMP, GIF, WebP), either in one sub-folder per class or straight in the folder"


def _visible(path: Path) -> bool:
    return not path.name.startswith(".") and path.name not in _JUNK


def _files_under(folder: Path) -> list[Path]:
    """Visible files below `folder`, at any depth, skipping hidden and OS-junk folders."""
    found = []
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if _visible(Path(d)))
        found += [Path(parent, f) for f in sorted(files) if _visible(Path(f))]
    return found


# --- zip archives ---------------------------------------------------------------------------


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()[:16]


# Deflate64 (Windows' "compressed folder" for big zips) and others are not in Python's zipfile.
_READABLE_COMPRESSION = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_RATIO_CHECK_FROM = 64 << 20  # below this many unpacked bytes a high ratio (blank images) is harmless
_SIZE_FILE = ".unpacked-bytes"  # in each unpacked folder: its size, for the cache budget


def _zip_members(archive: zipfile.ZipFile, name: str, limits: Limits) -> tuple[list[zipfile.ZipInfo], int]:
    """The entries worth unpacking, after checking the archive's directory against the limits.

    Everything here is read from the central directory, before a byte is written.
    """
    members = []
    for info in archive.infolist():
        parts = PurePosixPath(info.filename.replace("\\", "/")).parts
        if info.filename.startswith(("/", "\\")) or ".." in parts or re.match(r"^[A-Za-z]:", info.filename):
            raise DataError(
                f"'{name}' has an entry outside its own folder ({info.filename!r}); unzip it yourself, "
                "check what it holds, and choose the folder."
            )
        if info.is_dir() or any(p.startswith(".") or p in _JUNK for p in parts):
            continue
        if info.flag_bits & 0x1:
            raise DataError(f"'{name}' is encrypted; unzip it with its password and choose the folder instead.")
        if info.compress_type not in _READABLE_COMPRESSION:
            raise DataError(
                f"'{name}' uses a compression method Python cannot unpack (type {info.compress_type}, e.g. "
                "Deflate64 from Windows); unzip it yourself and choose the folder, or re-zip it."
            )
        members.append(info)
    if len(members) > limits.max_archive_entries:
        raise DataError(
            over_limit(
                f"'{name}'", f"{len(members):,} files", "max_archive_entries", f"{limits.max_archive_entries:,} files"
            )
        )
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.max_archive_bytes:
        raise DataError(
            over_limit(
                f"'{name}' unpacked",
                describe_bytes(unpacked),
                "max_archive_bytes",
                describe_bytes(limits.max_archive_bytes),
            )
        )
    packed = max(1, sum(m.compress_size for m in members))
    if unpacked > _RATIO_CHECK_FROM and unpacked > limits.max_compression_ratio * packed:
        raise DataError(
            over_limit(
                f"'{name}' unpacks to {unpacked // packed} times its size, which is how zip bombs "
                "look; its compression ratio",
                f"{unpacked // packed}:1",
                "max_compression_ratio",
                f"{limits.max_compression_ratio}:1",
            )
        )
    return members, unpacked


def _unpack(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], staging: Path, allowed: int) -> None:
    """Stream the members out, counting bytes: a directory that lies about sizes is caught too."""
    written = 0
    for info in members:
        target = staging.joinpath(*PurePosixPath(info.filename.replace("\\", "/")).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as source, target.open("wb") as out:
            while block := source.read(1 << 20):
                written += len(block)
                if written > allowed:
                    raise DataError(
                        f"'{archive.filename}' unpacks to more than its directory declares; "
                        "it is damaged or built to fill the disk."
                    )
                out.write(block)
        stamp = time.mktime((*info.date_time, 0, 0, -1))  # stable mtimes: caches keyed on them survive a re-unpack
        os.utime(target, (stamp, stamp))


def _extract_zip(path: Path) -> Path:
    """Unpack once into the data folder's `extracted/<content hash>`; later loads reuse it.

    The archive's directory is checked against the limits first, so a bomb writes nothing; any
    failure removes the staging folder; the cache of unpacked zips keeps to its budget.
    """
    target = default_data_dir() / "extracted" / _digest(path)
    if target.is_dir():
        os.utime(target)  # recently used: the budget removes others first
        return target
    limits = current_limits()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        with zipfile.ZipFile(path) as archive:
            members, unpacked = _zip_members(archive, path.name, limits)
            _unpack(archive, members, staging, unpacked)
        (staging / _SIZE_FILE).write_text(str(unpacked))
        os.replace(staging, target)  # atomic: a crash never leaves a half-unpacked cache
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, DataError):
            raise
        if target.is_dir():  # another process unpacked the same zip first
            return target
        if isinstance(
            error,
            (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                OSError,
                EOFError,
                ValueError,
                NotImplementedError,
                RuntimeError,
            ),
        ):
            raise DataError(f"Could not unpack '{path.name}': {error}") from None
        raise
    prune_extracted(limits.max_extract_cache_bytes, keep=target)
    return target


def prune_extracted(budget: int, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used unpacked zips until the rest fit in `budget` bytes."""
    root = default_data_dir() / "extracted"
    if not root.is_dir():
        return []
    folders = []
    for folder in root.iterdir():
        if folder.is_dir() and not folder.name.startswith("."):
            try:
                size = int((folder / _SIZE_FILE).read_text())
            except (OSError, ValueError):
                size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            folders.append((folder.stat().st_mtime, folder, size))
    total = sum(size for _, _, size in folders)
    removed = []
    for _, folder, size in sorted(folders):
        if total <= budget:
            break
        if keep is not None and folder == keep:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        total -= size
        removed.append(folder)
    return removed


def _image_root(path: Path) -> Path:
    """The folder to read: `path` itself, or an unpacked zip without its single wrapper folder."""
    if path.is_dir():
        return path
    if path.suffix.lower() != ".zip":
        raise DataError(f"'{path.name}' is neither a folder nor a .zip; the 'folder' source expects {_LOOKED_FOR}.")
    root = _extract_zip(path)
    entries = [p for p in root.iterdir() if _visible(p)]
    while len(entries) == 1 and entries[0].is_dir():  # "pets.zip" holding "pets/cat, pets/dog"
        root = entries[0]
        entries = [p for p in root.iterdir() if _visible(p)]
    return root


# --- finding and reading images -------------------------------------------------------------


def _find_files(root: Path, notes: list[str]) -> tuple[list[Path], np.ndarray | None, list[str]]:
    """(files, class index per file or None, class names): sub-folders are classes when present."""
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    per_class = [(d.name, _files_under(d)) for d in class_dirs]
    per_class = [(name, files) for name, files in per_class if files]
    if not per_class:
        return sorted(p for p in root.iterdir() if p.is_file() and _visible(p)), None, []
    loose = [p for p in root.iterdir() if p.is_file() and _visible(p)]
    if loose:
        notes.append(f"Ignored {count(len(loose), 'file')} next to the class folders (not inside one).")
    files = [f for _, class_files in per_class for f in class_files]
    labels = np.concatenate([np.full(len(class_files), i) for i, (_, class_files) in enumerate(per_class)])
    return files, labels, [name for name, _ in per_class]


def to_rgb(img: Image.Image) -> Image.Image:
    """Any PIL mode -> RGB; 16-bit grayscale is rescaled, transparency is laid on white."""
    if img.mode in ("I", "F") or img.mode.startswith("I;16"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if values.max() > 255 else (1.0 if values.max() <= 1 and img.mode == "F" else 255.0)
        img = Image.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (img.mode == "P" and "transparency" in img.info):
        img = Image.alpha_composite(Image.new("RGBA", img.size, "white"), img.convert("RGBA"))
    return img.convert("RGB")


MIN_IMAGE_SIDE = 2  # a 1-pixel-wide "image" (a tracking pixel, a placeholder) carries no picture


class UnreadableImage(Exception):
    """One file that is not a usable image; the message says why in a few words."""


@contextlib.contextmanager
def open_image(path: str | Path) -> Iterator[Image.Image]:
    """Image.open, refusing images over the pixel limit from their header, before decoding a pixel.

    Pillow's own bomb limit is set to the same number deliberately (it raises at twice that).
    """
    limit = current_limits().max_image_pixels
    Image.MAX_IMAGE_PIXELS = limit
    try:
        img = Image.open(path)
    except Image.DecompressionBombError as error:  # Pillow refuses at twice its limit, naming the size
        found = re.search(r"\((\d+) pixels\)", str(error))
        amount = f"{int(found[1]):,} pixels" if found else "more than twice the pixel limit"
        raise UnreadableImage(over_limit("The image", amount, "max_image_pixels", f"{limit:,} pixels")) from None
    with img:
        if img.width * img.height > limit:
            raise UnreadableImage(
                over_limit("The image", f"{img.width}x{img.height} pixels", "max_image_pixels", f"{limit:,} pixels")
            )
        yield img


def _read_image(path: Path, size: int) -> tuple[np.ndarray, bool]:
    """(H, W, 3) uint8 pixels at `size` x `size`, and whether the source was square."""
    try:
        with open_image(path) as img:
            if min(img.size) < MIN_IMAGE_SIDE:
                raise UnreadableImage(
                    f"{img.width}x{img.height} pixels, smaller than {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE}"
                )
            img.draft("RGB", (size, size))  # JPEG: decode at a reduced scale, much faster for photos
            img = ImageOps.exif_transpose(img)  # phone photos: honour the orientation tag
            square = img.width == img.height
            rgb = ImageOps.fit(to_rgb(img), (size, size), Image.Resampling.BICUBIC)
            return np.asarray(rgb, dtype=np.uint8), square
    except UnreadableImage:
        raise
    except Exception as error:  # PIL raises many types for broken or non-image files
        reason = str(error).split(" '")[0].split(" <")[0] or type(error).__name__
        raise UnreadableImage(reason) from None


def _decoder(size: int) -> Decode:
    def decode(file: Path) -> tuple[np.ndarray, bool] | str:
        try:
            return _read_image(file, size)
        except UnreadableImage as error:
            return str(error)

    return decode


def _skipped_note(skipped: list[tuple[Path, str]], root: Path) -> str:
    names = "; ".join(f"{p.relative_to(root)} ({why.rstrip('.')})" for p, why in skipped[:5])
    more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return f"Skipped {count(len(skipped), 'unreadable file')}: {names}{more}."


def _channels(all_gray: bool, grayscale: bool | None) -> Channels:
    """Stored RGB as asked: one channel when asked, or when every image is gray (None)."""
    if not (all_gray if grayscale is None else grayscale):
        return "rgb"
    return "gray" if all_gray else "luma"


def _present_classes(labels: np.ndarray, classes: list[str]) -> tuple[torch.Tensor, tuple[str, ...]]:
    """Renumber labels so a class whose every file was unreadable (or not sampled) disappears."""
    present, codes = np.unique(labels, return_inverse=True)
    return torch.from_numpy(codes.astype(np.int64)), tuple(classes[i] for i in present)


def load_folder(spec: DataSpec) -> Dataset:
    path = require_path(spec, f"a folder or .zip of {_LOOKED_FOR}")
    size = spec.image_size or DEFAULT_IMAGE_SIZE
    root = _image_root(path)
    notes: list[str] = []
    files, labels, classes = _find_files(root, notes)
    if not files:
        raise DataError(f"'{path.name}' holds no files; expected {_LOOKED_FOR}.")
    if spec.max_samples is not None and len(files) > spec.max_samples:  # read only what is kept
        keep = sample_rows(labels, len(files), spec.max_samples, spec.seed)
        files, labels = [files[i] for i in keep], None if labels is None else labels[keep]
        how = "a stratified" if labels is not None else "a random"
        notes.append(f"Read {how} sample of {len(files)} files (seed {spec.seed}).")

    def refuse(index: int, why: str) -> None:
        raise DataError(
            f"'{files[index].relative_to(root)}' is not a usable image ({why}). Remove it, "
            "or choose to skip unreadable files (--bad-files skip)."
        )

    decoded = decoded_folder(files, size, _decoder(size), refuse if spec.bad_files == "fail" else None)
    skipped = [(files[i], why) for i, why in decoded.skipped]
    if not decoded.read:
        first, why = skipped[0] if skipped else (None, "")
        example = f" ({first.relative_to(root)}: {why.rstrip('.')})" if first is not None else ""
        raise DataError(
            f"None of the {count(len(files), 'file')} in '{path.name}' could be read as an image{example}; "
            f"expected {_LOOKED_FOR}."
        )
    if skipped:
        notes.append(_skipped_note(skipped, root))
    channels = _channels(decoded.all_gray, spec.grayscale)
    x = ImageRows(decoded.path, channels, value_range=decoded.ranges.get(channels))
    notes.append(
        f"Read {count(len(x), 'image')} as {'grayscale' if x.shape[1] == 1 else 'RGB'} {size}x{size}"
        + (f", centre-cropping {decoded.cropped} that were not square." if decoded.cropped else ".")
    )
    read = np.asarray(decoded.read, dtype=np.int64)
    y, names = (None, ()) if labels is None else _present_classes(labels[read], classes)
    return Dataset(
        name=path.name,
        kind="image",
        x=x,
        y=y,
        classes=names,
        notes=tuple(notes),
        files=tuple(str(files[i]) for i in read),
    )
