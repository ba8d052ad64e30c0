"""The HTML report's interactive map: zoom, pan, a picture on hover, the cluster names, and the run's
tour (core.tour) walked with Next / Back, each step restoring its colouring, selection, zoom and caption.

Everything travels inside the one HTML file, so it opens from an email attachment with the network
off: the points (positions rounded, one small integer per point per categorical colouring) as one JSON
block, the pictures as ONE sprite sheet (a single image data URL; each point is an offset into it, the
Projector's way, never one data URL per point), and report_map.js, which draws the map with the
plotly.js the report inlines once. Small thumbnails keep 10,000 pictures to a few MB.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from core.errors import ConfigError
from core.figures import NOISE_COLOUR, PALETTE, cluster_names, marker_size, natural_sort
from core.methods import CLUSTER_METHODS, MAP_METHODS
from core.tour import Step, read_tour

if TYPE_CHECKING:
    from core.trained import TrainedRun

MAP_MAX_POINTS = 20_000  # a random (seeded) sample beyond this: the file stays small and quick to open
TILE_MAX = 32  # px: the side of each hover picture in the sheet (built-in images smaller than this stay as they are)
HOVER_DISPLAY = 112  # px the hover card shows a picture at
BATCH = 512  # pictures made at once
SCRIPT = Path(__file__).with_name("report_map.js")
SPAN = 1000.0  # map positions are scaled to this span and rounded to 0.1: 4 significant digits
TOUR_NOTES = {3: "On the page this was a 3-D map; here it is drawn in 2-D."}


@dataclass(frozen=True)
class MapPoints:
    """The rows the report's map draws: their dataset rows, in map order."""

    split: str
    rows: np.ndarray  # dataset rows of the points drawn
    sampled: int  # rows of the split left out (beyond MAP_MAX_POINTS)


def map_points(trained: TrainedRun, split: str) -> tuple[MapPoints, np.ndarray]:
    """The split's rows the map draws, and their positions in the split."""
    index = np.asarray(trained.splits.get(split))
    keep = np.arange(len(index))
    if len(keep) > MAP_MAX_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(len(keep), MAP_MAX_POINTS, replace=False))
    return MapPoints(split, index[keep], len(index) - len(keep)), keep


# --------------------------------------------------------------------------- pictures


def sprite_sheet(pictures: np.ndarray) -> dict[str, Any]:
    """uint8 (N, H, W, C) pictures tiled into one image, as a data URL: PNG or JPEG, whichever is smaller."""
    n, h, w, c = pictures.shape
    columns = max(1, math.ceil(math.sqrt(n)))
    rows = -(-n // columns)
    canvas = np.full((rows * h, columns * w, c), 255, dtype=np.uint8)
    for i, picture in enumerate(pictures):
        r, col = divmod(i, columns)
        canvas[r * h : (r + 1) * h, col * w : (col + 1) * w] = picture
    image = Image.fromarray(canvas[..., 0] if c == 1 else canvas)
    encoded = []
    for fmt, mime, options in (("PNG", "image/png", {"optimize": True}), ("JPEG", "image/jpeg", {"quality": 85})):
        buffer = io.BytesIO()
        image.save(buffer, format=fmt, **options)
        encoded.append((len(buffer.getvalue()), mime, buffer.getvalue()))
    _, mime, data = min(encoded)
    return {
        "uri": f"data:{mime};base64," + base64.b64encode(data).decode("ascii"),
        "tile": int(w),
        "columns": columns,
        "display": HOVER_DISPLAY,
        "pixelated": w < 64,
    }


def thumbnails(dataset: Any, rows: np.ndarray, tile: int = TILE_MAX) -> np.ndarray:
    """uint8 (N, t, t, C) pictures of dataset rows, at most `tile` px a side (the dataset's own pixels)."""
    parts = []
    for lo in range(0, len(rows), BATCH):
        shown = dataset.to_display(dataset.x[torch.as_tensor(rows[lo : lo + BATCH])])
        h, w = shown.shape[1:3]
        if max(h, w) > tile:
            mode = None if shown.shape[-1] == 3 else "L"
            shown = np.stack(
                [
                    np.asarray(
                        Image.fromarray(p if mode is None else p[..., 0], mode).resize(
                            (tile, tile), Image.Resampling.LANCZOS
                        )
                    ).reshape(tile, tile, -1)
                    for p in shown
                ]
            )
        parts.append(shown)
    return np.concatenate(parts) if parts else np.zeros((0, tile, tile, 1), np.uint8)


# --------------------------------------------------------------------------- colourings and maps


def _categories(values: list[str], title: str) -> dict[str, Any]:
    names = natural_sort(set(values))
    code = {name: i for i, name in enumerate(names)}
    colours = [NOISE_COLOUR if n in ("noise", "-1") else PALETTE[i % len(PALETTE)] for i, n in enumerate(names)]
    return {
        "kind": "categories",
        "title": title,
        "names": names,
        "colours": colours,
        "codes": [code[v] for v in values],
    }


def _scale(values: np.ndarray, title: str, value_range: tuple[float, float] | None = None) -> dict[str, Any]:
    values = np.asarray(values, dtype=np.float64)
    low, high = value_range or (float(np.nanmin(values)), float(np.nanmax(values)))
    return {
        "kind": "scale",
        "title": title,
        "range": [low, high],
        "values": [float(f"{v:.4g}") if math.isfinite(v) else None for v in values.tolist()],
    }


def _cluster_labels(trained: TrainedRun, points: MapPoints, keep: np.ndarray, method: str, k: int | None) -> list[str]:
    """Cluster names of the drawn points: the team's names (sorting.json) where they apply, as on the page."""
    from core.evaluation.clustering import too_few_rows
    from core.evaluation.run_evaluation import run_clusters
    from core.sorting import SPLIT, read_sorting

    split_rows = np.asarray(trained.splits.get(points.split))
    if too_few_rows(method, len(split_rows)):
        return ["all rows"] * len(keep)
    clusters = run_clusters(trained, points.split, method, k, random_state=0)
    sorting, _ = read_sorting(trained.run.path, len(trained.dataset))
    names: dict[int, str] = {}
    if sorting is not None and points.split == SPLIT and sorting.matches(method, k or sorting.n_clusters):
        clusters, names = sorting.apply(clusters, split_rows), dict(sorting.names)
    clusters = np.asarray(clusters)[keep]
    return [names.get(int(c)) or plain for c, plain in zip(clusters.tolist(), cluster_names(clusters))]


class MapData:
    """The positions and colourings the views need, each computed once and kept under a short key."""

    def __init__(self, trained: TrainedRun, points: MapPoints, keep: np.ndarray) -> None:
        self.trained, self.points, self.keep = trained, points, keep
        self.maps: dict[str, dict[str, Any]] = {}
        self.coords: dict[str, np.ndarray] = {}
        self.colourings: dict[str, dict[str, Any]] = {}

    def map_key(self, method: str, params: dict[str, Any]) -> str:
        from core.run_cache import run_projection

        key = method + "".join(f"-{k}{v}" for k, v in sorted(params.items()))
        if key not in self.coords:
            xy = run_projection(self.trained, self.points.split, method, 2, 0, **params)[self.keep]
            low = xy.min(axis=0)
            scale = SPAN / max(float((xy.max(axis=0) - low).max()), 1e-12)
            self.coords[key] = np.stack([low, np.full(2, scale)])  # to carry a step's zoom into these units
            scaled = np.round((xy - low) * scale, 1)
            self.maps[key] = {
                "title": MAP_METHODS[method].label,
                "x": scaled[:, 0].tolist(),
                "y": scaled[:, 1].tolist(),
            }
        return key

    def scaled_range(self, map_key: str, span: tuple[float, float] | None, axis: int) -> list[float] | None:
        if span is None:
            return None
        low, scale = self.coords[map_key][0][axis], self.coords[map_key][1][axis]
        return [round((v - low) * scale, 1) for v in span]

    def colouring_key(self, colour: str, clusterer: str, k: int | None, map_key: str) -> str:
        trained, points, keep = self.trained, self.points, self.keep
        if colour == "label" and trained.dataset.y is None:
            colour = "cluster"
        key = {"label": "label", "error": "error", "cluster": f"cluster-{clusterer}-{k}"}.get(
            colour, f"trust-{map_key}"
        )
        if key in self.colourings:
            return key
        if colour == "label":
            self.colourings[key] = _categories(trained.dataset.label_names(trained.dataset.y[points.rows]), "label")
        elif colour == "cluster":
            title = CLUSTER_METHODS[clusterer].label
            self.colourings[key] = _categories(_cluster_labels(trained, points, keep, clusterer, k), title)
        elif colour == "error":
            from core.evaluation.reconstruction import reconstruction_errors

            errors = reconstruction_errors(trained.model, trained.inputs[torch.as_tensor(points.rows)])
            self.colourings[key] = _scale(errors, "reconstruction error")
        else:
            from core.map_trust import map_trust
            from core.run_cache import run_codes

            codes = np.asarray(run_codes(trained, points.split))[keep]
            xy = np.column_stack([self.maps[map_key]["x"], self.maps[map_key]["y"]])
            self.colourings[key] = _scale(map_trust(codes, xy).scores, "map trust", (0.0, 1.0))
        return key

    def view(self, step: Step) -> dict[str, Any]:
        """One step as report_map.js draws it: which map and colouring, the selected points, the zoom."""
        own = CLUSTER_METHODS[step.clusterer].chooses_own_cluster_count
        map_key = self.map_key(step.method, dict(step.params))
        colouring = self.colouring_key(step.colour, step.clusterer, None if own else step.n_clusters, map_key)
        position = {int(r): i for i, r in enumerate(self.points.rows.tolist())}
        selected = sorted(position[r] for r in step.rows if r in position)
        return {
            "caption": step.caption,
            "map": map_key,
            "colouring": colouring,
            "selected": selected,
            "x_range": self.scaled_range(map_key, step.x_range, 0),
            "y_range": self.scaled_range(map_key, step.y_range, 1),
            "note": TOUR_NOTES.get(step.dims, ""),
        }


def overview(trained: TrainedRun, split: str) -> Step:
    """The view a report without a tour opens on: UMAP, by label where there are labels, else N2D clusters."""
    from core.evaluation.run_evaluation import default_n_clusters

    colour = "label" if trained.dataset.y is not None else "cluster"
    return Step("", split=split, colour=colour, clusterer="n2d", n_clusters=default_n_clusters(trained.dataset))


def map_payload(trained: TrainedRun, split: str) -> tuple[dict[str, Any], str | None]:
    """Everything report_map.js needs, and the notice about a tour file that was dropped (or None).

    The map shows the tour's split (its first step's) when there is a tour, else `split`."""
    dataset = trained.dataset
    tour, problem = read_tour(trained.run.path, trained.run.id, len(dataset))
    steps = list(tour.steps)
    points, keep = map_points(trained, steps[0].split if steps else split)
    data = MapData(trained, points, keep)
    views, left_out = [], []
    for number, step in enumerate(steps, 1):
        try:  # a step a hand-edited file asks for that this run cannot draw: dropped, not the whole report
            views.append(data.view(step))
        except ConfigError as error:
            left_out.append(f"step {number} ({error})")
    if left_out:
        problem = " ".join(filter(None, [problem, f"The tour's {'; '.join(left_out)} could not be drawn: left out."]))
    steps = steps if views else []
    views = views or [data.view(overview(trained, points.split))]
    payload = {
        "n": len(points.rows),
        "size": marker_size(len(points.rows)),
        "rows": points.rows.tolist(),
        "files": dataset.file_names(points.rows) if dataset.files else None,
        "maps": data.maps,
        "colourings": data.colourings,
        "views": views,
        "tour": bool(steps),
        "sprite": sprite_sheet(thumbnails(dataset, points.rows)) if dataset.kind == "image" else None,
    }
    return payload, problem


def _script_json(payload: dict[str, Any]) -> str:
    """JSON safe inside a <script> element: no '</' can close it early."""
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def map_section(trained: TrainedRun, split: str) -> str:
    """The map's HTML: heading words, the tour's buttons and caption, the plot, its data and script."""
    payload, problem = map_payload(trained, split)
    points = len(payload["rows"])
    said = [f"{points:,} points"]
    if payload["tour"]:
        said.append(f"a tour of {len(payload['views'])} views chosen by the team: Back and Next walk it")
    notice = f'<p class="notice">{html.escape(problem)}</p>' if problem else ""
    nav = (
        '<div class="tour" id="tour"><button type="button" id="tour-back">Back</button>'
        '<span id="tour-count"></span><button type="button" id="tour-next">Next</button></div>'
    )
    return (
        f'{notice}<p class="muted">{"; ".join(said)}. Scroll to zoom, drag to pan, double-click to see it '
        "all again; hover a point to see its picture.</p>"
        f'{nav if payload["tour"] else ""}<p class="caption" id="tour-caption"></p>'
        '<p class="muted" id="tour-note"></p><div id="latent-map" style="height:620px"></div>'
        f'<script type="application/json" id="latent-map-data">{_script_json(payload)}</script>'
        f"<script>{SCRIPT.read_text(encoding='utf-8')}</script>"
    )
