"""The training replay's figure and playback steps, apart from the page so tests import them directly.

Every epoch's map is drawn in the same axis ranges (those of all epochs together): with the maps
aligned (core.snapshots.aligned_maps), a point that keeps its place in the code keeps its place on
the screen, and the eye follows clusters forming instead of the axes rescaling.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from core.figures import scatter_figure

MARGIN = 0.05  # of each axis' span, around the points of every epoch


def axis_ranges(maps: Sequence[np.ndarray]) -> tuple[list[float], list[float]]:
    """x and y ranges holding every point of every epoch, with a small margin."""
    both = np.concatenate([np.asarray(m, dtype=np.float64) for m in maps])
    lo, hi = both.min(axis=0), both.max(axis=0)
    pad = np.maximum(hi - lo, 1e-9) * MARGIN
    return [float(lo[0] - pad[0]), float(hi[0] + pad[0])], [float(lo[1] - pad[1]), float(hi[1] + pad[1])]


def next_epoch(epochs: Sequence[int], current: int | None) -> int:
    """The epoch after `current` while playing; from the end (or an epoch no longer there) back to the first."""
    if current in epochs and current != epochs[-1]:
        return epochs[list(epochs).index(current) + 1]
    return epochs[0]


def replay_figure(
    coords: np.ndarray,
    colour: Sequence[Any],
    hover: Sequence[str],
    ranges: tuple[list[float], list[float]],
    epoch: int,
    last: int,
    colour_title: str,
    height: int = 480,
) -> go.Figure:
    """The map of one epoch's snapshot codes, in the ranges shared by all epochs."""
    fig, _ = scatter_figure(
        coords,
        colour,
        categorical=True,
        hover=hover,
        colour_title=colour_title,
        title=f"Epoch {epoch} of {last}" + (" (before training)" if epoch == 0 else ""),
        height=height,
    )
    fig.update_layout(
        xaxis=dict(range=ranges[0], autorange=False, showticklabels=False, title=None),
        yaxis=dict(range=ranges[1], autorange=False, showticklabels=False, title=None),
        uirevision="replay",
        meta={"epoch": int(epoch)},
    )  # uirevision: a zoom survives the next frame
    return fig
