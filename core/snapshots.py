"""Training replayed: the codes of a fixed sample of rows, saved after every epoch, and aligned maps of them.

    recorder = SnapshotRecorder(run.path, inputs, seed=config.split.seed)   # picks min(2000, N) rows once
    recorder.record(model, epoch)            # one no-grad encode of the sample -> snapshots/epoch-00003.safetensors
    replay = read_snapshots(run.path)        # Replay(epochs, rows, codes, notes); damaged files are skipped
    maps = aligned_maps(replay.codes)        # one (n, 2) map per epoch, each turned to fit the one before

One safetensors file per epoch under `<run>/snapshots/`, each written atomically and holding its
own `rows` and `codes`: an epoch costs one small write (about 8 bytes per row plus 4 per code
value; ~100 KB for 2000 rows of 10-d codes), never a rewrite of everything saved before, a
damaged file (also one that does not match its checksum, core.checksums) loses only its epoch,
and dropping the epochs a resume lost is deleting files. The folder is optional: runs from
before it, or whose snapshots were deleted, still open.

Maps are PCA of each epoch's codes, then an orthogonal Procrustes fit (rotation or reflection,
scipy) onto the previous epoch's map, so points move rather than jump between frames. AlignedUMAP
(umap-learn) does the same for UMAP maps, but it fits all epochs together: on digits' quick demo
(21 snapshots x 1797 rows of 10-d codes, 2 busy cores) it took 128 s, against 0.02 s for reading
and aligning here, and the page must draw the replay at once, also while training still runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load as safetensors_load

from core.atomic import atomic_write_bytes
from core.checksums import Verdict, sealed_safetensors, verify

SNAPSHOTS_DIR = "snapshots"
SAMPLE_SIZE = 2000  # rows per snapshot: enough for a readable map, small enough to encode every epoch
_NAME = re.compile(r"^epoch-(\d{5,})\.safetensors$")


def sample_rows(n: int, seed: int, size: int = SAMPLE_SIZE) -> np.ndarray:
    """min(size, n) distinct row indices, sorted, the same for the same (n, seed, size)."""
    rng = np.random.default_rng(seed)
    if n <= size:
        return np.arange(n, dtype=np.int64)
    return np.sort(rng.choice(n, size=size, replace=False)).astype(np.int64)


def snapshot_path(run_path: str | Path, epoch: int) -> Path:
    return Path(run_path) / SNAPSHOTS_DIR / f"epoch-{int(epoch):05d}.safetensors"


def save_snapshot(run_path: str | Path, epoch: int, rows: np.ndarray, codes: np.ndarray) -> Path:
    """Write one epoch's codes of `rows` atomically (a reader sees all of it or none)."""
    path = snapshot_path(run_path, epoch)
    path.parent.mkdir(exist_ok=True)
    tensors = {
        "rows": torch.as_tensor(np.asarray(rows, dtype=np.int32)),
        "codes": torch.as_tensor(np.ascontiguousarray(codes, dtype=np.float32)),
    }
    atomic_write_bytes(path, sealed_safetensors(tensors))
    return path


def snapshot_epochs(run_path: str | Path) -> list[int]:
    """Epochs with a snapshot file, in order (without reading them)."""
    folder = Path(run_path) / SNAPSHOTS_DIR
    if not folder.is_dir():
        return []
    found = (_NAME.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def truncate_snapshots(run_path: str | Path, after_epoch: int) -> int:
    """Delete snapshots of epochs later than `after_epoch` (work a crash lost, as metrics are truncated on resume)."""
    dropped = 0
    for epoch in snapshot_epochs(run_path):
        if epoch > after_epoch:
            snapshot_path(run_path, epoch).unlink(missing_ok=True)
            dropped += 1
    return dropped


@dataclass(frozen=True, eq=False)
class Replay:
    """The readable snapshots of a run: codes[i] belongs to epochs[i]; notes name what was skipped."""

    epochs: list[int]
    rows: np.ndarray  # (n,) row indices into the dataset, the same for every epoch
    codes: list[np.ndarray] = field(default_factory=list)  # one (n, latent_dim) float32 array per epoch
    notes: list[str] = field(default_factory=list)


def _snapshot_problem(tensors: dict[str, torch.Tensor]) -> str | None:
    rows, codes = tensors.get("rows"), tensors.get("codes")
    if rows is None or codes is None:
        return "it lacks rows or codes"
    if rows.ndim != 1 or codes.ndim != 2 or len(rows) != len(codes) or len(rows) == 0:
        return f"rows {tuple(rows.shape)} and codes {tuple(codes.shape)} do not fit together"
    if rows.dtype not in (torch.int32, torch.int64) or not codes.dtype.is_floating_point:
        return f"rows are {rows.dtype} and codes {codes.dtype}"
    if int(rows.min()) < 0 or not bool(torch.isfinite(codes).all()):
        return "it holds negative rows or non-finite codes"
    return None


def read_snapshots(run_path: str | Path, n_rows: int | None = None) -> Replay:
    """Every readable snapshot, oldest first. A damaged file, one whose rows differ from the first
    good one's, or rows past `n_rows` (the dataset changed) is skipped with a note, never raised:
    the replay is a view, and the rest of the run is fine without it."""
    epochs, codes, notes = [], [], []
    rows: np.ndarray | None = None
    for epoch in snapshot_epochs(run_path):
        path = snapshot_path(run_path, epoch)
        name = path.name
        try:
            tensors = safetensors_load(path.read_bytes())
            sealed = verify(path)
        except Exception as exc:  # safetensors raises its own types on a torn or foreign file
            notes.append(f"{name} could not be read ({type(exc).__name__}); epoch {epoch} is left out")
            continue
        problem = "it does not match its checksum" if sealed is Verdict.MISMATCH else _snapshot_problem(tensors)
        these = None if problem else tensors["rows"].numpy().astype(np.int64)
        if problem is None and n_rows is not None and int(these.max()) >= n_rows:
            problem = f"it names row {int(these.max())} of a dataset with {n_rows}"
        if problem is None and rows is not None and (len(these) != len(rows) or not np.array_equal(these, rows)):
            problem = "its rows differ from the other epochs'"
        if problem is None and codes and tensors["codes"].shape[1] != codes[0].shape[1]:
            problem = "its codes have another width than the other epochs'"
        if problem:
            notes.append(f"{name} is damaged ({problem}); epoch {epoch} is left out")
            continue
        rows = these if rows is None else rows
        epochs.append(epoch)
        codes.append(tensors["codes"].float().numpy())
    return Replay(epochs=epochs, rows=np.zeros(0, dtype=np.int64) if rows is None else rows, codes=codes, notes=notes)


class SnapshotRecorder:
    """Saves the codes of a fixed, seeded sample of `inputs` after each epoch.

    The sample is drawn from all rows (not one split) so the replay shows the whole dataset's
    shape, and from the seed alone so a resumed run keeps recording the very same points.
    """

    def __init__(self, run_path: str | Path, inputs: torch.Tensor, seed: int, size: int = SAMPLE_SIZE):
        self.run_path = Path(run_path)
        self.rows = sample_rows(len(inputs), seed, size)
        self.inputs = inputs[torch.as_tensor(self.rows)]

    def record(self, model: torch.nn.Module, epoch: int) -> Path:
        from core.encoding import encode

        return save_snapshot(self.run_path, epoch, self.rows, encode(model, self.inputs))


# --------------------------------------------------------------------------- aligned maps


def _pca_2d(z: np.ndarray) -> np.ndarray:
    """The first two principal components, scaled to unit RMS radius (so zooming codes do not zoom the map)."""
    centred = np.asarray(z, dtype=np.float64) - np.asarray(z, dtype=np.float64).mean(axis=0)
    if centred.shape[1] < 2:
        centred = np.hstack([centred, np.zeros((len(centred), 2 - centred.shape[1]))])
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    y = centred @ vt[:2].T
    scale = np.sqrt((y**2).sum(axis=1).mean())
    return y / scale if scale > 0 else y


def align(y: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """`y` turned (rotated or mirrored, about its centre) to lie as close as it can to `reference`, row by row."""
    from scipy.linalg import orthogonal_procrustes

    centred = y - y.mean(axis=0)
    turn, _ = orthogonal_procrustes(centred, reference - reference.mean(axis=0))
    return centred @ turn


def aligned_maps(codes: list[np.ndarray]) -> list[np.ndarray]:
    """One (n, 2) float32 map per epoch: PCA, each fitted onto the previous map (the first is as PCA gives it)."""
    maps: list[np.ndarray] = []
    for z in codes:
        y = _pca_2d(z)
        maps.append(y if not maps else align(y, maps[-1]))
    return [m.astype(np.float32) for m in maps]
