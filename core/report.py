"""One self-contained HTML file that shows what a run learned: settings, loss curves,
reconstructions, the latent map and the metrics beside their baselines.

plotly.js is inlined once (the first figure), images are base64 PNG data URIs: the file opens in
a browser offline, attached to an email or copied anywhere.

    path = write_report(load_trained(run))       # <run folder>/report.html
"""

from __future__ import annotations

import base64
import html
import io
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from core.atomic import atomic_write_bytes
from core.evaluation.text import BASELINE_NAMES, CLUSTERING_NAMES, FEATURE_NAMES, PROBE_NAMES, fmt, skipped_lines

if TYPE_CHECKING:
    from core.experiment import TrainedRun

GRID_COUNT = 16  # originals vs reconstructions shown
GRID_MIN_SIDE = 56  # small images (8x8 digits) are scaled up, pixel for pixel
MAP_MAX_POINTS = 20_000

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #1f2328; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.muted { color: #59636e; } table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f8fa; }
tr.baseline td { color: #59636e; font-style: italic; }
.settings { display: flex; gap: 1.5rem; flex-wrap: wrap; } img.grid { image-rendering: pixelated; max-width: 100%; }
"""


# --------------------------------------------------------------------------- pieces


def png_data_uri(pixels: np.ndarray) -> str:
    """uint8 (H, W) or (H, W, C) pixels -> "data:image/png;base64,..."."""
    from PIL import Image

    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[..., 0]
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def image_grid(rows: list[np.ndarray], gap: int = 2, scale: int = 1) -> np.ndarray:
    """Rows of uint8 (N, H, W, C) images tiled into one (H', W', C) picture with white gaps."""
    n = max(len(r) for r in rows)
    _, h, w, c = rows[0].shape
    out = np.full((len(rows) * (h + gap) - gap, n * (w + gap) - gap, c), 255, dtype=np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = img
    if scale > 1:
        out = out.repeat(scale, axis=0).repeat(scale, axis=1)
    return out


def _table(header: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _settings(trained: "TrainedRun") -> str:
    config = trained.config.to_dict()
    blocks = []
    for section in ("data", "model", "train", "split"):
        values = config.get(section) or {}
        rows = [[str(k), "-" if v is None else str(v)] for k, v in values.items()]
        blocks.append(f"<div><h3>{section}</h3>{_table(['setting', 'value'], rows)}</div>")
    return f'<div class="settings">{"".join(blocks)}</div>'


def _figure_html(fig: Any, first: bool) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=first, config={"displaylogo": False})


def _loss_figure(trained: "TrainedRun") -> Any | None:
    import plotly.graph_objects as go

    events = trained.run.epoch_metrics()
    if not events:
        return None
    epochs = [e.epoch for e in events]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=epochs, y=[e.train_loss for e in events], mode="lines+markers", name="train"))
    if any(e.val_loss is not None for e in events):
        fig.add_trace(go.Scatter(x=epochs, y=[e.val_loss for e in events], mode="lines+markers", name="validation"))
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss", height=360, xaxis_tickformat="d", margin=dict(l=40, r=20, t=20, b=40),
                      template="plotly_white")
    return fig


def _map_figure(trained: "TrainedRun", split: str, random_state: int | None) -> Any:
    import plotly.graph_objects as go

    from core.run_cache import run_projection
    from core.evaluation.clustering import too_few_rows
    from core.evaluation.run_evaluation import run_clusters

    index = np.asarray(trained.splits.get(split))
    xy = run_projection(trained, split, "umap", 2, random_state)
    if trained.dataset.y is not None:
        colour = np.asarray(trained.dataset.label_names(trained.dataset.y.numpy()[index]), dtype=object)
        legend = "label"
    elif too_few_rows("n2d", len(index)):
        colour, legend = np.full(len(index), "all rows", dtype=object), "too few rows to cluster"
    else:
        colour = np.array([f"cluster {c}" for c in run_clusters(trained, split, "n2d", random_state=random_state)], dtype=object)
        legend = "N2D cluster"
    keep = np.arange(len(xy))
    if len(keep) > MAP_MAX_POINTS:
        keep = np.sort(np.random.default_rng(0).choice(len(keep), MAP_MAX_POINTS, replace=False))
    fig = go.Figure()
    for name in sorted(set(colour[keep].tolist()), key=_natural):
        sel = keep[colour[keep] == name]
        fig.add_trace(go.Scattergl(x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=str(name),
                                   marker=dict(size=4, opacity=0.8),
                                   text=[f"row {index[i]}" for i in sel], hoverinfo="text+name"))
    fig.update_layout(height=560, legend_title_text=legend, template="plotly_white",
                      margin=dict(l=20, r=20, t=20, b=20), xaxis=dict(showticklabels=False), yaxis=dict(showticklabels=False))
    return fig


def _natural(text: str) -> tuple:
    return (0, int(text), "") if text.lstrip("-").isdigit() else (1, 0, text)


def _reconstructions(trained: "TrainedRun", split: str) -> str:
    from core.evaluation.reconstruction import reconstruct

    dataset = trained.dataset
    index = np.asarray(trained.splits.get(split))[:GRID_COUNT]
    if trained.config.features.backbone:
        return _feature_reconstructions(trained, index, split)
    x = dataset.x[torch.as_tensor(index)]
    x_hat = reconstruct(trained.model, x)
    if dataset.kind == "image":
        originals, recons = dataset.to_display(x), dataset.to_display(x_hat)
        scale = max(1, int(np.ceil(GRID_MIN_SIDE / max(originals.shape[1], 1))))
        uri = png_data_uri(image_grid([originals, recons], scale=scale))
        return (f'<p class="muted">Top row: {len(index)} {split} images; bottom row: what the model makes of them.</p>'
                f'<img class="grid" src="{uri}" alt="originals and reconstructions">')
    # Tables: the first rows, original and reconstructed values of the first features side by side.
    originals, recons = dataset.to_display(x), dataset.to_display(x_hat)
    names = list(dataset.feature_names) or [f"feature {i}" for i in range(originals.shape[1])]
    shown = min(6, originals.shape[1])
    header = ["row"] + [f"{names[j]} / recon" for j in range(shown)]
    rows = [[str(index[i])] + [f"{originals[i, j]:.3g} / {recons[i, j]:.3g}" for j in range(shown)]
            for i in range(min(8, len(index)))]
    return '<p class="muted">Original / reconstructed values, first rows and features.</p>' + _table(header, rows)


def _feature_reconstructions(trained: "TrainedRun", index: np.ndarray, split: str) -> str:
    from core.evaluation.reconstruction import nearest_to_reconstruction

    dataset = trained.dataset
    nearest, _ = nearest_to_reconstruction(trained.model, trained.inputs, index, np.asarray(trained.splits.train), k=1)
    originals = dataset.to_display(dataset.x[torch.as_tensor(index)])
    matches = dataset.to_display(dataset.x[torch.as_tensor(nearest[:, 0])])
    scale = max(1, int(np.ceil(GRID_MIN_SIDE / max(originals.shape[1], 1))))
    uri = png_data_uri(image_grid([originals, matches], scale=scale))
    return (f'<p class="muted">This model rebuilds {html.escape(trained.config.features.backbone)} features, not pixels. '
            f'Top row: {len(index)} {split} photos; bottom row: the training photo whose features lie nearest '
            'to each reconstruction (the photo itself when the model rebuilt it faithfully).</p>'
            f'<img class="grid" src="{uri}" alt="photos and the training photos nearest their reconstructions">')


def _metrics(evaluation: dict[str, Any]) -> str:
    header = ["pipeline", "ACC", "NMI", "ARI", "silhouette", "clusters", "seconds"]
    rows, classes = [], []
    for group, names in (("clustering", CLUSTERING_NAMES), ("baselines", BASELINE_NAMES)):
        for key, s in (evaluation.get(group) or {}).items():
            rows.append([names.get(key, key) + (" (baseline)" if group == "baselines" else ""),
                         fmt(s.get("acc")), fmt(s.get("nmi")), fmt(s.get("ari")), fmt(s.get("silhouette")),
                         fmt(s.get("n_clusters")), fmt(s.get("seconds"), 1)])
            classes.append("baseline" if group == "baselines" else "")
    parts = [
        f'<p class="muted">{html.escape(evaluation["split"])} split, {evaluation["n"]} rows, '
        f'{evaluation["n_clusters"]} clusters. ACC matches clusters to labels one-to-one (Hungarian method).</p>',
        _table(header, rows, classes),
    ]
    if evaluation.get("has_labels", True):
        probes, cv = evaluation.get("probes") or {}, evaluation.get("probes_cv") or {}
        names = list(PROBE_NAMES)
        probe_rows = [[FEATURE_NAMES.get(f, f)] + [fmt(s.get(p)) for p in names] + [fmt((cv.get(f) or {}).get(p)) for p in names]
                      for f, s in probes.items()]
        parts += [f"<h3>Probes</h3><p class=\"muted\">{html.escape(str(evaluation.get('probe_protocol', '')))}</p>",
                  _table(["features"] + [PROBE_NAMES[p] for p in names] + [f"{PROBE_NAMES[p]} (CV)" for p in names], probe_rows)]
    rec = evaluation.get("reconstruction") or {}
    parts.append(_table(["reconstruction MSE", "PSNR (dB)", "SSIM", "map trustworthiness"],
                        [[fmt(rec.get("mse"), 5), fmt(rec.get("psnr"), 2), fmt(rec.get("ssim")),
                          fmt(evaluation.get("trustworthiness"))]]))
    if skipped_lines(evaluation):
        parts.append("<h3>Skipped (too few rows)</h3><ul>"
                     + "".join(f"<li>{html.escape(line)}</li>" for line in skipped_lines(evaluation)) + "</ul>")
    return "".join(parts)


# --------------------------------------------------------------------------- the report


def render_report(trained: "TrainedRun", evaluation: dict[str, Any] | None = None) -> str:
    """The report as one HTML string. Without `evaluation`, the stored test evaluation is used
    (computed and stored first if there is none, or if it describes an older checkpoint)."""
    from core.evaluation.run_evaluation import evaluate_run, load_evaluation

    run = trained.run
    if evaluation is None:
        split = "test" if len(trained.splits.test) else "all"
        evaluation = load_evaluation(run, split) or evaluate_run(trained, split)
    split = evaluation.get("split", "test")
    random_state = evaluation.get("random_state", 0)
    info = run.info()
    config = trained.config
    title = config.name or run.id
    figures, first = [], True
    loss = _loss_figure(trained)
    if loss is not None:
        figures.append(("Loss curves", _figure_html(loss, first)))
        first = False
    else:
        figures.append(("Loss curves", '<p class="muted">No epochs logged.</p>'))
    map_html = _figure_html(_map_figure(trained, split, random_state), first)
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">Run {html.escape(run.id)} · {html.escape(config.model.family)} autoencoder, latent size '
        f"{config.model.latent_dim}, on {html.escape(trained.dataset.name)} ({len(trained.dataset)} rows) · "
        f"{html.escape(str(info.get('state')))}, {info.get('epochs_done')}/{info.get('epochs')} epochs · "
        f"report written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}</p>",
        "<h2>Settings</h2>", _settings(trained),
        *[f"<h2>{name}</h2>{content}" for name, content in figures],
        "<h2>Reconstructions</h2>", _reconstructions(trained, split),
        f"<h2>Latent map</h2><p class=\"muted\">UMAP of the codes of the {html.escape(split)} split, "
        f"coloured by {'label' if trained.dataset.y is not None else 'N2D cluster'}.</p>", map_html,
        "<h2>How good are the codes?</h2>", _metrics(evaluation),
    ]
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)} · Latentboard report</title><style>{_STYLE}</style></head>"
            f"<body>{''.join(body)}</body></html>\n")


def write_report(trained: "TrainedRun", path: str | Path | None = None, evaluation: dict[str, Any] | None = None) -> Path:
    """Write render_report() to `path` (default: report.html in the run folder), atomically."""
    target = Path(path).expanduser() if path is not None else trained.run.path / "report.html"
    if target.is_dir():
        target = target / f"report-{trained.run.id}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, render_report(trained, evaluation).encode("utf-8"))
    return target
