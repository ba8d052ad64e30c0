"""Figures and data shaping: plotly, numpy, pandas and PIL only, no Streamlit.

Everything here takes plain arrays or core's Progress events and returns a figure, a frame or an
image, so tests call it directly, the dashboard's pages stay thin and the HTML report
(core.report) draws the same charts as the pages.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image, ImageDraw, ImageFont

if TYPE_CHECKING:
    from core.evaluation.tables import Table
    from core.group_count import GroupCount

# Qualitative colours for labels and clusters; beyond 24 categories they repeat.
PALETTE = (
    "#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2", "#FF9DA6",
    "#9D755D", "#BAB0AC", "#1F77B4", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2",
    "#7F7F7F", "#BCBD22", "#17BECF", "#393B79", "#637939", "#8C6D31", "#843C39", "#7B4173",
)  # fmt: skip
NOISE_COLOUR = "#C8C8C8"
_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), template="plotly_white")


# --- training progress ---------------------------------------------------------------------------


def smooth(values: Sequence[float], weight: float = 0.8) -> np.ndarray:
    """Exponential moving average with bias correction (TensorBoard's smoothing slider)."""
    out = np.empty(len(values), dtype=np.float64)
    mean, correction = 0.0, 0.0
    for i, value in enumerate(values):
        mean = weight * mean + (1 - weight) * float(value)
        correction = weight * correction + (1 - weight)
        out[i] = mean / correction
    return out


def smoothing_for(n: int) -> float:
    """Less smoothing for short curves, where a long average would only lag behind."""
    return float(min(0.9, max(0.0, 1.0 - 4.0 / max(n, 1))))


def loss_figure(events: Sequence[Any], *, smoothing: float | None = None, title: str = "Loss") -> go.Figure:
    """Train loss per step (raw, faint, and smoothed) and train / validation loss per epoch.

    `events` are core.training.Progress records (anything with the same attributes). The x axis is
    in epochs and spans the planned total, so the curves grow from left to right while training.
    """
    steps = [e for e in events if e.kind == "step" and _finite(e.train_loss)]
    epochs = [e for e in events if e.kind == "epoch"]
    fig = go.Figure()
    if steps:
        x = [e.step / max(e.steps_per_epoch, 1) for e in steps]
        y = [e.train_loss for e in steps]
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines",
                name="train (per step)",
                line=dict(color="#4C78A8", width=1),
                opacity=0.25,
                hovertemplate="epoch %{x:.2f}<br>loss %{y:.4g}<extra>step</extra>",
            )
        )
        weight = smoothing_for(len(y)) if smoothing is None else smoothing
        fig.add_trace(
            go.Scatter(
                x=x,
                y=smooth(y, weight),
                mode="lines",
                name="train (smoothed)",
                line=dict(color="#4C78A8", width=2),
                hovertemplate="epoch %{x:.2f}<br>loss %{y:.4g}<extra>smoothed</extra>",
            )
        )
    if epochs:
        fig.add_trace(
            go.Scatter(
                x=[e.epoch for e in epochs],
                y=[e.train_loss for e in epochs],
                mode="lines+markers",
                name="train (epoch)",
                line=dict(color="#1F4E79", width=2, dash="dot"),
            )
        )
        val = [(e.epoch, e.val_loss) for e in epochs if e.val_loss is not None and _finite(e.val_loss)]
        if val:
            fig.add_trace(
                go.Scatter(
                    x=[v[0] for v in val],
                    y=[v[1] for v in val],
                    mode="lines+markers",
                    name="validation (epoch)",
                    line=dict(color="#F58518", width=2),
                )
            )
    planned = max([e.epochs for e in events], default=1)
    all_y = [v for t in fig.data for v in t.y if v is not None and v > 0]
    log = bool(all_y) and max(all_y) / max(min(all_y), 1e-12) > 20
    fig.update_layout(
        title=title,
        height=360,
        uirevision="loss",
        legend=dict(orientation="h", y=-0.2),
        **_LAYOUT,
        xaxis=dict(title="epoch", range=[0, max(planned, 1)]),
        yaxis=dict(title="loss" + (" (log scale)" if log else ""), type="log" if log else "linear"),
    )
    return fig


def compare_figure(curves: Mapping[str, Sequence[Any]], *, which: str = "val_loss") -> go.Figure:
    """One line per run: its per-epoch validation (or train) loss, for side-by-side comparison."""
    fig = go.Figure()
    for i, (label, events) in enumerate(curves.items()):
        points = [(e.epoch, getattr(e, which)) for e in events if e.kind == "epoch" and getattr(e, which) is not None]
        if not points:
            continue
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="lines+markers",
                name=label,
                line=dict(color=PALETTE[i % len(PALETTE)]),
            )
        )
    name = "validation loss" if which == "val_loss" else "train loss"
    fig.update_layout(
        title=f"{name.capitalize()} per epoch",
        height=380,
        xaxis_title="epoch",
        yaxis_title=name,
        legend=dict(orientation="h", y=-0.2),
        **_LAYOUT,
    )
    return fig


def progress_numbers(latest: Any | None) -> dict[str, float]:
    """Fraction done, elapsed and estimated remaining seconds, and throughput from the latest event."""
    if latest is None:
        return {
            "fraction": 0.0,
            "elapsed": 0.0,
            "remaining": float("nan"),
            "samples_per_second": 0.0,
            "epoch": 0,
            "epochs": 0,
        }
    total = max(latest.epochs * max(latest.steps_per_epoch, 1), 1)
    done = latest.epoch * latest.steps_per_epoch if latest.kind == "epoch" else latest.step
    done = min(max(done, latest.step), total)
    fraction = done / total
    remaining = latest.elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
    return {
        "fraction": fraction,
        "elapsed": float(latest.elapsed),
        "remaining": remaining,
        "samples_per_second": float(latest.samples_per_second),
        "epoch": int(latest.epoch),
        "epochs": int(latest.epochs),
    }


def format_seconds(seconds: float | None) -> str:
    """12 s, 3 min 05 s, 1 h 02 min; a dash when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


# --- the latent map --------------------------------------------------------------------------------


def marker_size(n: int) -> float:
    return 3 if n > 20000 else 4 if n > 5000 else 6 if n > 1000 else 8


def scatter_figure(
    coords: np.ndarray,
    colour: Sequence[Any] | np.ndarray,
    *,
    categorical: bool,
    index: np.ndarray | None = None,
    hover: Sequence[str] | None = None,
    colour_title: str = "",
    title: str = "",
    highlight: Mapping[str, Any] | None = None,
    height: int = 600,
    colour_range: tuple[float, float] | None = None,
) -> tuple[go.Figure, list[np.ndarray]]:
    """A WebGL scatter of 2-D or 3-D coordinates; returns the figure and, per trace, the row indices.

    Categorical colours get one trace per category (so the legend toggles them); continuous ones one
    trace with a colour bar. Each point carries its row index as customdata, so a selection maps
    back to rows; `highlight` adds a star (x, y[, z], label) that is not selectable data;
    `colour_range` fixes a continuous scale's ends (a share: 0 to 1 on every map). A 2-D map
    drags to pan: in Streamlit only then does a click select a single point (with the box or lasso
    tool chosen, plotly's click is an event Streamlit does not pass on).
    """
    coords = np.asarray(coords, dtype=np.float64)
    n, dims = coords.shape
    index = np.arange(n) if index is None else np.asarray(index)
    hover = np.asarray(hover if hover is not None else [f"#{i}" for i in index], dtype=object)
    size = marker_size(n)
    fig = go.Figure()
    trace_rows: list[np.ndarray] = []

    def add(mask: np.ndarray, name: str, marker: dict, showlegend: bool = True) -> None:
        rows = np.flatnonzero(mask)
        common = dict(
            mode="markers",
            name=name,
            marker=marker,
            customdata=index[rows],
            hovertext=hover[rows],
            hovertemplate="%{hovertext}<extra></extra>",
            showlegend=showlegend,
        )
        if dims == 3:
            fig.add_trace(go.Scatter3d(x=coords[rows, 0], y=coords[rows, 1], z=coords[rows, 2], **common))
        else:
            fig.add_trace(go.Scattergl(x=coords[rows, 0], y=coords[rows, 1], **common))
        trace_rows.append(rows)

    if categorical:
        values = np.asarray([str(v) for v in colour], dtype=object)
        for i, category in enumerate(natural_sort(set(values.tolist()))):
            noise = category in ("noise", "-1")
            col = NOISE_COLOUR if noise else PALETTE[i % len(PALETTE)]
            add(values == category, category, dict(size=size, color=col, opacity=0.85))
    else:
        values = np.asarray(colour, dtype=np.float64)
        add(
            np.ones(n, dtype=bool),
            colour_title or "value",
            dict(
                size=size,
                color=values,
                colorscale="Viridis",
                opacity=0.85,
                colorbar=dict(title=colour_title),
                **(dict(cmin=colour_range[0], cmax=colour_range[1]) if colour_range else {}),
            ),
            showlegend=False,
        )

    if highlight is not None:
        star = dict(
            mode="markers+text",
            name=highlight.get("label", "yours"),
            text=[highlight.get("label", "yours")],
            textposition="top center",
            marker=dict(
                size=18, color="black", symbol="diamond" if dims == 3 else "star", line=dict(color="white", width=1)
            ),
            hoverinfo="name",
        )
        if dims == 3:
            fig.add_trace(go.Scatter3d(x=[highlight["x"]], y=[highlight["y"]], z=[highlight["z"]], **star))
        else:
            fig.add_trace(go.Scattergl(x=[highlight["x"]], y=[highlight["y"]], **star))
        trace_rows.append(np.empty(0, dtype=np.int64))

    fig.update_layout(
        title=title,
        height=height,
        uirevision=title,
        legend=dict(title=colour_title, itemsizing="constant"),
        dragmode="pan" if dims == 2 else "orbit",
        **_LAYOUT,
    )
    if dims == 2:
        fig.update_xaxes(showticklabels=False, title=None)
        fig.update_yaxes(showticklabels=False, title=None, scaleanchor="x", scaleratio=1)
    return fig, trace_rows


def mark_points(
    fig: go.Figure,
    trace_rows: list[np.ndarray],
    coords: np.ndarray,
    focus: int | None,
    neighbours: Sequence[int],
    hover: Sequence[str],
) -> None:
    """Ring a clicked point's neighbours and star the point itself on a 2-D map (no star for an
    uploaded image's neighbours: focus None). The marks carry their positions as customdata, so
    clicking a ring moves the focus to that neighbour."""
    coords = np.asarray(coords)
    hover = np.asarray(hover, dtype=object)
    for name, positions, marker in (
        (
            "nearest",
            np.asarray(neighbours, dtype=np.int64),
            dict(size=15, color="rgba(0,0,0,0)", line=dict(color="#111827", width=2)),
        ),
        (
            "clicked",
            np.asarray([] if focus is None else [focus], dtype=np.int64),
            dict(size=22, color="#111827", symbol="star", line=dict(color="white", width=1)),
        ),
    ):
        if not len(positions):
            continue
        fig.add_trace(
            go.Scattergl(
                x=coords[positions, 0],
                y=coords[positions, 1],
                mode="markers",
                name=name,
                marker=marker,
                customdata=positions,
                hovertext=hover[positions],
                hovertemplate="%{hovertext}<extra></extra>",
            )
        )
        trace_rows.append(positions)


def draw_torn(fig: go.Figure, trace_rows: list[np.ndarray], coords: np.ndarray, query: int, far: Sequence[int]) -> None:
    """Lines on a 2-D map from a clicked point to its neighbours in the code that the map placed far
    away (core.map_trust): one trace, the lines broken apart by gaps; not selectable, no hover."""
    far = np.asarray(far, dtype=np.int64)
    if not len(far):
        return
    coords = np.asarray(coords, dtype=np.float64)
    xs: list[float | None] = []
    ys: list[float | None] = []
    for position in far.tolist():  # a plain list: None (a gap between lines) survives plotly's encoding
        xs += [float(coords[query, 0]), float(coords[position, 0]), None]
        ys += [float(coords[query, 1]), float(coords[position, 1]), None]
    fig.add_trace(
        go.Scattergl(
            x=xs,
            y=ys,
            mode="lines",
            name="placed far",
            line=dict(color="#111827", width=2, dash="dash"),
            hoverinfo="skip",
            connectgaps=False,
        )
    )
    trace_rows.append(np.empty(0, dtype=np.int64))


def with_sprites(fig: go.Figure, sprites: Mapping[str, Any] | None) -> go.Figure:
    """Pictures on hover (dashboard/hover.js): the sheets' address in layout.meta, and plotly's own
    text label turned off, since the picture card shows the same text beside the picture."""
    if sprites:
        fig.update_layout(meta={"sprites": dict(sprites)})
        fig.update_traces(hoverinfo="none", hovertemplate=None)
    return fig


def selected_rows(points: Iterable[Mapping[str, Any]], trace_rows: Sequence[np.ndarray]) -> np.ndarray:
    """Row indices of the points a plotly selection event names (customdata first, else position)."""
    rows: list[int] = []
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, (list, tuple)):
            custom = custom[0] if custom else None
        if custom is not None:
            rows.append(int(custom))
            continue
        curve, position = point.get("curve_number"), point.get("point_index", point.get("point_number"))
        if curve is not None and position is not None and curve < len(trace_rows) and position < len(trace_rows[curve]):
            rows.append(int(trace_rows[curve][position]))
    return np.unique(np.asarray(rows, dtype=np.int64))


def natural_sort(values: Iterable[str]) -> list[str]:
    """'2' before '10'; words after numbers; noise last."""

    def key(v: str) -> tuple:
        try:
            return (0, float(v), "")
        except ValueError:
            return (2 if v in ("noise", "-1") else 1, 0.0, v)

    return sorted(values, key=key)


def cluster_names(labels: np.ndarray) -> list[str]:
    """Cluster ids as display names; HDBSCAN's -1 becomes 'noise'."""
    return ["noise" if int(c) < 0 else f"cluster {int(c)}" for c in np.asarray(labels)]


# --- other charts ----------------------------------------------------------------------------------


def class_balance_figure(names: Sequence[str]) -> go.Figure:
    counts = pd.Series(list(names)).value_counts()
    order = natural_sort(counts.index.astype(str))
    counts.index = counts.index.astype(str)
    counts = counts.reindex(order)
    fig = go.Figure(
        go.Bar(
            x=counts.index.tolist(),
            y=counts.values.tolist(),
            marker_color="#4C78A8",
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
    )
    fig.update_layout(
        title="Class balance", height=300, xaxis_title="label", yaxis_title="samples", xaxis_type="category", **_LAYOUT
    )
    return fig


def label_mix_figure(names: Sequence[str], title: str = "Labels in the selection") -> go.Figure:
    fig = class_balance_figure(names)
    fig.update_layout(title=title, height=260)
    return fig


def group_count_figure(count: GroupCount, chosen: int | None = None) -> go.Figure:
    """The estimate's evidence: the modularity of spectral clustering into each number of groups (with its
    standard error), the Leiden partitions the estimate was read from as diamonds, the estimate marked
    (and the number in use, `chosen`, when it differs)."""
    from core.group_count import SCORE_NAME

    def finite(values: Sequence[float]) -> list[float | None]:
        return [None if not math.isfinite(v) else v for v in values]

    fig = go.Figure(
        go.Scatter(
            x=list(count.candidates),
            y=finite(count.scores),
            error_y={"type": "data", "array": finite(count.errors), "visible": bool(count.errors)},
            mode="lines+markers",
            line_color="#4C78A8",
            hovertemplate="%{x} groups: %{y:.3f}<extra></extra>",
            name="score",
        )
    )
    if count.found:  # the partitions the estimate was read from: each subsample's Leiden partition
        fig.add_trace(
            go.Scatter(
                x=[k for k, _ in count.found],
                y=[q for _, q in count.found],
                mode="markers",
                marker={"symbol": "diamond", "size": 9, "color": "#F58518", "opacity": 0.7},
                hovertemplate="Leiden: %{x} groups, %{y:.3f}<extra></extra>",
                name="Leiden",
            )
        )
    fig.add_vline(
        x=count.estimate,
        line_dash="dash",
        line_color="#E45756",
        annotation_text=f"estimate {count.estimate}",
        annotation_position="top left",  # the number in use, often one beside it, is labelled on its right
    )
    if chosen is not None and chosen != count.estimate:
        fig.add_vline(
            x=chosen,
            line_dash="dot",
            line_color="#7F7F7F",
            annotation_text=f"in use {chosen}",
            annotation_position="top right",
        )
    fig.update_layout(
        title="How many groups?",
        height=240,
        xaxis_title="number of groups",
        yaxis_title=SCORE_NAME,
        showlegend=False,
        **_LAYOUT,
    )
    return fig


def confusion_figure(
    matrix: np.ndarray, rows: Sequence[str], columns: Sequence[str], *, title: str = "Clusters vs labels"
) -> go.Figure:
    """Heatmap with counts written in each cell; rows are true labels, columns the clusters."""
    matrix = np.asarray(matrix)
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=[str(c) for c in columns],
            y=[str(r) for r in rows],
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="label %{y}<br>cluster %{x}<br>%{z} samples<extra></extra>",
        )
    )
    fig.update_layout(
        title=title,
        height=max(320, 32 * len(rows) + 120),
        xaxis_title="cluster (matched to labels)",
        yaxis_title="true label",
        xaxis_type="category",
        yaxis_type="category",
        yaxis_autorange="reversed",
        **_LAYOUT,
    )
    return fig


def table_frame(table: Table) -> pd.DataFrame:
    """An evaluation table (core.evaluation.tables) as numbers, its row labels as the index."""
    if not table.rows:
        return pd.DataFrame()
    frame = pd.DataFrame(
        [row.values for row in table.rows], index=[row.label for row in table.rows], columns=list(table.columns[1:])
    )
    return frame.apply(pd.to_numeric, errors="coerce")


# --- images ----------------------------------------------------------------------------------------


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale so an 8x8 digit stays crisp instead of a blur."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def compose_grid(
    images: np.ndarray,
    captions: Sequence[str] | None = None,
    *,
    columns: int = 10,
    tile: int = 64,
    pad: int = 6,
    scale: int | None = None,
) -> Image.Image:
    """uint8 (N, H, W, C) images as one PIL picture, `columns` wide, each with its caption below.

    Small images are scaled up by a whole factor (default: to about `tile` pixels wide) so their
    pixels stay sharp.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    n = len(images)
    if n == 0:
        return Image.new("RGB", (tile, tile), "white")
    factor = scale or max(1, tile // max(images.shape[1], images.shape[2]))
    tiles = [upscale(img, factor) for img in images]
    th = max(t.shape[0] for t in tiles)
    tw = max(t.shape[1] for t in tiles)
    font = _font(11)
    caption_h = 16 if captions else 0
    columns = max(1, min(columns, n))
    rows = math.ceil(n / columns)
    canvas = Image.new("RGB", (columns * (tw + pad) + pad, rows * (th + caption_h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        x, y = pad + c * (tw + pad), pad + r * (th + caption_h + pad)
        picture = Image.fromarray(t[..., 0] if t.shape[2] == 1 else t[..., :3])
        canvas.paste(picture.convert("RGB"), (x, y))
        if captions:
            text = _fit(draw, str(captions[i]), font, tw)
            draw.text((x + tw / 2, y + th + 2), text, fill="#333333", font=font, anchor="ma")
    return canvas


def pair_tiles(originals: np.ndarray, reconstructions: np.ndarray, gap: int = 1) -> np.ndarray:
    """Each original stacked above its reconstruction (a thin grey bar between), as one tile."""
    originals = np.asarray(originals)
    bar = np.full((len(originals), gap, *originals.shape[2:]), 160, dtype=np.uint8)
    return np.concatenate([originals, bar, np.asarray(reconstructions)], axis=1)


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Any, width: int) -> str:
    while len(text) > 1 and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text
