"""One self-contained HTML file that shows what a run learned: settings, loss curves,
reconstructions, the latent map and the metrics beside their baselines.

plotly.js is inlined once (in the head), images are base64 data URIs, and the latent map is interactive
(core.report_map: zoom, pan, pictures on hover from one sprite sheet, the cluster names and the run's
tour with Next / Back): the file opens in a browser offline, attached to an email or copied anywhere.

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
from core.evaluation.result import EvaluationResult
from core.evaluation.tables import Table, clustering_table, probes_table, quality_table, skipped_lines
from core.figures import compose_grid, loss_figure, pair_tiles
from core.report_map import map_section

if TYPE_CHECKING:
    from core.trained import TrainedRun

GRID_COUNT = 16  # originals vs reconstructions shown
GRID_MIN_SIDE = 56  # small images (8x8 digits) are scaled up, pixel for pixel

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #1f2328; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; }
.muted { color: #59636e; } table { border-collapse: collapse; margin: .5rem 0; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f6f8fa; }
tr.baseline td { color: #59636e; font-style: italic; }
.notice { background: #fff8c5; border: 1px solid #d4a72c; padding: .5rem .8rem; border-radius: 6px; }
.tour { display: flex; gap: .8rem; align-items: center; margin: .6rem 0; }
.tour button { font: inherit; padding: .3rem 1rem; border: 1px solid #8c959f; border-radius: 6px; background: #f6f8fa; }
.tour button:disabled { color: #8c959f; } .caption { font-size: 1.1rem; min-height: 1.4em; margin: .3rem 0; }
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


def picture_pairs(originals: np.ndarray, others: np.ndarray) -> str:
    """Each original above its counterpart (a reconstruction, a nearest photo), one PNG data URI."""
    scale = max(1, int(np.ceil(GRID_MIN_SIDE / max(originals.shape[1], 1))))
    grid = compose_grid(pair_tiles(originals, others), columns=len(originals), scale=scale, pad=2)
    return png_data_uri(np.asarray(grid))


def _table(
    header: list[str] | tuple[str, ...], rows: list[list[str]] | list[tuple[str, ...]], classes: list[str] | None = None
) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _rows_table(table: Table) -> str:
    """An evaluation table (core.evaluation.tables) as HTML; baselines styled apart."""
    header, *rows = table.formatted()
    return _table(header, rows, ["baseline" if row.baseline else "" for row in table.rows])


def _settings(trained: TrainedRun) -> str:
    config = trained.config.to_dict()
    blocks = []
    for section in ("data", "model", "train", "split"):
        values = config.get(section) or {}
        rows = [[str(k), "-" if v is None else str(v)] for k, v in values.items()]
        blocks.append(f"<div><h3>{section}</h3>{_table(['setting', 'value'], rows)}</div>")
    return f'<div class="settings">{"".join(blocks)}</div>'


def _figure_html(fig: Any) -> str:
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def _plotly_script() -> str:
    """plotly.js itself, once, in the page's head: every chart (and the map's script) draws with it offline."""
    from plotly.offline import get_plotlyjs

    return f'<script charset="utf-8">{get_plotlyjs()}</script>'


def _loss_figure(trained: TrainedRun) -> Any | None:
    events = trained.run.metrics()
    if not any(e.kind == "epoch" for e in events):
        return None
    return loss_figure(events, title="")


def _reconstructions(trained: TrainedRun, split: str) -> str:
    from core.evaluation.reconstruction import reconstruct

    dataset = trained.dataset
    index = np.asarray(trained.splits.get(split))[:GRID_COUNT]
    if trained.config.features.backbone:
        return _feature_reconstructions(trained, index, split)
    x = dataset.x[torch.as_tensor(index)]
    x_hat = reconstruct(trained.model, x)
    if dataset.kind == "image":
        uri = picture_pairs(dataset.to_display(x), dataset.to_display(x_hat))
        return (
            f'<p class="muted">{len(index)} {split} images, each above what the model makes of it.</p>'
            f'<img class="grid" src="{uri}" alt="originals and reconstructions">'
        )
    # Tables: the first rows, original and reconstructed values of the first features side by side.
    originals, recons = dataset.to_display(x), dataset.to_display(x_hat)
    names = list(dataset.feature_names) or [f"feature {i}" for i in range(originals.shape[1])]
    shown = min(6, originals.shape[1])
    header = ["row"] + [f"{names[j]} / recon" for j in range(shown)]
    rows = [
        [str(index[i])] + [f"{originals[i, j]:.3g} / {recons[i, j]:.3g}" for j in range(shown)]
        for i in range(min(8, len(index)))
    ]
    return '<p class="muted">Original / reconstructed values, first rows and features.</p>' + _table(header, rows)


def _feature_reconstructions(trained: TrainedRun, index: np.ndarray, split: str) -> str:
    from core.evaluation.reconstruction import nearest_to_reconstruction

    dataset = trained.dataset
    nearest, _ = nearest_to_reconstruction(trained.model, trained.inputs, index, np.asarray(trained.splits.train), k=1)
    uri = picture_pairs(
        dataset.to_display(dataset.x[torch.as_tensor(index)]),
        dataset.to_display(dataset.x[torch.as_tensor(nearest[:, 0])]),
    )
    return (
        f'<p class="muted">This model rebuilds {html.escape(trained.config.features.backbone)} features, not pixels. '
        f"{len(index)} {split} photos, each above the training photo whose features lie nearest "
        "to its reconstruction (the photo itself when the model rebuilt it faithfully).</p>"
        f'<img class="grid" src="{uri}" alt="photos and the training photos nearest their reconstructions">'
    )


def _metrics(evaluation: EvaluationResult) -> str:
    parts = [
        f'<p class="muted">{html.escape(str(evaluation.split))} split, {evaluation.n} rows, '
        f"{evaluation.n_clusters} clusters. ACC matches clusters to labels one-to-one (Hungarian method).</p>",
        _rows_table(clustering_table(evaluation)),
    ]
    if evaluation.labelled:
        protocol = evaluation.probes.protocol if evaluation.probes else ""
        parts += [
            f'<h3>Probes</h3><p class="muted">{html.escape(str(protocol or ""))}</p>',
            _rows_table(probes_table(evaluation)),
        ]
    parts.append(_rows_table(quality_table(evaluation)))
    if skipped_lines(evaluation):
        parts.append(
            "<h3>Skipped (too few rows)</h3><ul>"
            + "".join(f"<li>{html.escape(line)}</li>" for line in skipped_lines(evaluation))
            + "</ul>"
        )
    return "".join(parts)


# --------------------------------------------------------------------------- the report


def render_report(trained: TrainedRun, evaluation: EvaluationResult | None = None) -> str:
    """The report as one HTML string. Without `evaluation`, the stored test evaluation is used
    (computed and stored first if there is none, or if it describes an older checkpoint)."""
    from core.evaluation.run_evaluation import evaluate_run, load_evaluation

    run = trained.run
    if evaluation is None:
        split = "test" if len(trained.splits.test) else "all"
        evaluation = load_evaluation(run, split) or evaluate_run(trained, split)
    split = evaluation.split or "test"
    info = run.info()
    config = trained.config
    title = config.name or run.id
    loss = _loss_figure(trained)
    figures = [("Loss curves", _figure_html(loss) if loss is not None else '<p class="muted">No epochs logged.</p>')]
    body = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="muted">Run {html.escape(run.id)} · {html.escape(config.model.family)} autoencoder, latent size '
        f"{config.model.latent_dim}, on {html.escape(trained.dataset.name)} ({len(trained.dataset)} rows) · "
        f"{html.escape(str(info.get('state')))}, {info.get('epochs_done')}/{info.get('epochs')} epochs · "
        f"report written {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}</p>",
        "<h2>Settings</h2>",
        _settings(trained),
        *[f"<h2>{name}</h2>{content}" for name, content in figures],
        "<h2>Reconstructions</h2>",
        _reconstructions(trained, split),
        "<h2>Latent map</h2>",
        map_section(trained, split),
        "<h2>How good are the codes?</h2>",
        _metrics(evaluation),
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · Latentboard report</title><style>{_STYLE}</style>{_plotly_script()}</head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_report(
    trained: TrainedRun, path: str | Path | None = None, evaluation: EvaluationResult | None = None
) -> Path:
    """Write render_report() to `path` (default: report.html in the run folder), atomically."""
    target = Path(path).expanduser() if path is not None else trained.run.path / "report.html"
    if target.is_dir():
        target = target / f"report-{trained.run.id}.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, render_report(trained, evaluation).encode("utf-8"))
    return target
