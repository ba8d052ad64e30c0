"""Put new images on the map: reconstruction, cluster, likely label and nearest training neighbours.

The clusters are the evaluation's: the chosen pipeline (N2D by default) clusters the codes of the
train split once, and the labels are cached in the run folder as a plain .npy array. A new image
joins the cluster most of its k nearest training neighbours (in code space) belong to — N2D's
UMAP cannot be stored without pickling, neighbours can. Its likely label is the label most
training images of that cluster carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from sklearn.neighbors import NearestNeighbors

from core.data.images import UnreadableImage, open_image, to_rgb
from core.encoding import encode
from core.errors import ConfigError, DataError
from core.evaluation.clustering import majority_labels
from core.evaluation.reconstruction import mse_per_sample, reconstruct
from core.evaluation.run_evaluation import run_clusters
from core.features import standardise
from core.limits import current_limits, over_limit
from core.run_cache import run_codes

if TYPE_CHECKING:
    from core.trained import TrainedRun

ImageInput = Image.Image | str | Path


@dataclass(frozen=True)
class Neighbor:
    index: int  # row of the run's dataset
    label: str | None  # its class name, when the dataset has labels
    distance: float  # euclidean distance in code space


@dataclass(frozen=True, eq=False)
class Classification:
    source: str  # the path given, or "image <i>" for an in-memory image
    input: np.ndarray  # uint8 (H, W, C): the image as the model saw it (resized, gray / RGB)
    recon: np.ndarray  # uint8 (H, W, C): its reconstruction (feature runs: the training photo nearest to it)
    cluster: int
    cluster_label: str | None  # the label most training images of that cluster carry
    neighbors: tuple[Neighbor, ...]
    error: float  # reconstruction MSE of what the model reads: [0, 1] pixels, or standardised features
    nearest_row: int | None = None  # feature runs: the training row `recon` shows (its original file is the photo)

    def positions_on(self, rows: np.ndarray) -> np.ndarray:
        """Where the image lands on a map of `rows` (dataset rows, in the map's order): the map
        positions of its nearest training rows, nearest first; those not on that map are left out."""
        position = {int(row): i for i, row in enumerate(np.asarray(rows).tolist())}
        return np.asarray([position[n.index] for n in self.neighbors if n.index in position], dtype=np.int64)


def _open(image: ImageInput, i: int) -> tuple[Image.Image, str]:
    """A decoded image and its name; over-sized images are refused from their header, unread."""
    limit = current_limits().max_image_pixels
    if isinstance(image, Image.Image):
        if image.width * image.height > limit:
            raise DataError(
                f"Cannot classify image {i}: "
                + over_limit("it", f"{image.width}x{image.height} pixels", "max_image_pixels", f"{limit:,} pixels")
            )
        return image, f"image {i}"
    path = Path(image).expanduser()
    try:
        with open_image(path) as img:
            img.load()
            return ImageOps.exif_transpose(img), str(image)
    except FileNotFoundError:
        raise DataError(f"Cannot classify '{image}': no such file.") from None
    except UnreadableImage as exc:
        raise DataError(f"Cannot classify '{image}': {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"Cannot classify '{image}': not a readable image ({exc}).") from None


def preprocess_image(image: Image.Image, input_shape: tuple[int, ...], source: str) -> np.ndarray:
    """One image as the run's dataset holds its rows: float32 (C, H, W) in [0, 1].

    Folder datasets centre-crop to the square and resize (as the folder loader does); the built-in
    datasets are plain resizes. One channel means ITU-R 601 luma, like PIL's convert("L").
    """
    channels, height, width = input_shape
    rgb = to_rgb(image)
    if source == "folder":
        rgb = ImageOps.fit(rgb, (width, height), Image.Resampling.BICUBIC)
    else:
        rgb = rgb.resize(
            (width, height), Image.Resampling.BICUBIC if min(rgb.size) < 4 * width else Image.Resampling.LANCZOS
        )
    pixels = np.asarray(rgb.convert("L") if channels == 1 else rgb, dtype=np.float32) / 255.0
    if pixels.ndim == 2:
        pixels = pixels[None]
    else:
        pixels = pixels.transpose(2, 0, 1)
    return np.clip(pixels, 0.0, 1.0)


def classify_images(
    trained: TrainedRun,
    images: Sequence[ImageInput],
    k: int = 5,
    method: str = "n2d",
    n_clusters: int | None = None,
    random_state: int | None = 0,
) -> list[Classification]:
    """Encode new images with the run's model and place each among the training codes.

    `images`: PIL images or paths. Unreadable files raise DataError naming the file; a run on a
    table raises ConfigError.
    """
    dataset = trained.dataset
    if dataset.kind != "image" or len(dataset.input_shape) != 3:
        raise ConfigError(f"Run {trained.run.id} was trained on a table; only image runs can classify images.")
    if k < 1:
        raise ConfigError(f"k (the number of neighbours) must be at least 1 (got {k}).")
    train_index = np.asarray(trained.splits.train)
    if len(train_index) == 0:
        raise ConfigError(f"Run {trained.run.id} has no training rows to compare with.")
    opened = [_open(image, i) for i, image in enumerate(images)]
    if not opened:
        return []
    x = np.stack([preprocess_image(img, dataset.input_shape, dataset.spec.source) for img, _ in opened])
    inputs = _model_inputs(trained, [img for img, _ in opened], x)
    codes = encode(trained.model, inputs)
    x_hat = reconstruct(trained.model, inputs)
    errors = mse_per_sample(inputs.numpy(), x_hat)
    nearest_rows: list[int | None] = [None] * len(opened)
    if trained.config.features.backbone:  # show the training photo nearest to each rebuilt feature vector
        nearest = NearestNeighbors(n_neighbors=1).fit(trained.inputs[torch.as_tensor(train_index)].numpy())
        nearest_rows = train_index[nearest.kneighbors(x_hat)[1][:, 0]].tolist()
        x_hat = dataset.x[torch.as_tensor(nearest_rows)].numpy()

    train_codes = run_codes(trained, "train")
    train_clusters = run_clusters(trained, "train", method, n_clusters, random_state)
    k = min(k, len(train_index))
    distances, rows = NearestNeighbors(n_neighbors=k).fit(train_codes).kneighbors(codes)
    y_train = None if dataset.y is None else dataset.y.numpy()[train_index]
    majority = {} if y_train is None else majority_labels(y_train, train_clusters)
    names = dataset.label_names

    results = []
    for i, (_, source) in enumerate(opened):
        neighbour_clusters = train_clusters[rows[i]]
        cluster_id = _vote(neighbour_clusters, distances[i])
        neighbors = tuple(
            Neighbor(
                index=int(train_index[r]),
                label=None if y_train is None else names(np.array([y_train[r]]))[0],
                distance=float(d),
            )
            for r, d in zip(rows[i], distances[i])
        )
        label = majority.get(cluster_id)
        results.append(
            Classification(
                source=source,
                input=dataset.to_display(x[i : i + 1])[0],
                recon=dataset.to_display(x_hat[i : i + 1])[0],
                cluster=cluster_id,
                cluster_label=None if label is None else names(np.array([label]))[0],
                neighbors=neighbors,
                error=float(errors[i]),
                nearest_row=nearest_rows[i],
            )
        )
    return results


def _model_inputs(trained: TrainedRun, images: list[Image.Image], pixels: np.ndarray) -> torch.Tensor:
    """New images as the run's model reads them: their pixels, or the run's backbone features of them."""
    backbone = trained.config.features.backbone
    if backbone is None:
        return torch.from_numpy(pixels)
    from core.features import backbone_for, dataset_features, extract_features, load_backbone

    size = trained.config.features.input_size
    reference = dataset_features(trained.dataset, backbone, input_size=size)  # cached when the run trained
    # A new image goes the way the rows went: the original file's pixels beside rows read from files,
    # the dataset's own pixels (already converted to its size and channels) beside rows held as a tensor.
    source = {"images": images} if trained.dataset.files else {"x": torch.from_numpy(pixels)}
    new = extract_features(
        load_backbone(backbone),
        backbone_for(trained.dataset, backbone, size),
        batch_size=trained.config.features.batch_size,
        **source,
    )
    return standardise(new, reference)


def _vote(clusters: np.ndarray, distances: np.ndarray) -> int:
    """The most common cluster among the neighbours; ties go to the one with the closest member.

    Noise (-1, HDBSCAN) only wins when every neighbour is noise.
    """
    real = clusters >= 0
    if not real.any():
        return -1
    values, counts = np.unique(clusters[real], return_counts=True)
    best = values[counts == counts.max()]
    if len(best) == 1:
        return int(best[0])
    closest = {int(c): float(distances[real][clusters[real] == c].min()) for c in best}
    return min(closest, key=closest.get)
