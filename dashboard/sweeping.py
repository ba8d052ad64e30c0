"""What the Sweeps page draws, starts from and stops with: the parallel-coordinates chart, the base
settings, and Stop through the server's queue.

Kept apart from core/figures.py so the sweep feature stays in its own files.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from core.config import RunConfig
from core.models import ModelConfig
from core.sweeps.jobs import stop_sweep, sweep_key
from core.sweeps.store import Sweep
from core.training import TrainConfig
from dashboard import state
from dashboard.keys import TRAIN


def stop(sweep: Sweep) -> None:
    """The Stop (or Cancel) button: through the server's queue, which cancels a waiting sweep and stops
    a running one; a sweep this server did not start (the CLI, an earlier server) gets the Ctrl-C directly."""
    if not state.registry().stop(sweep_key(sweep.id)):
        stop_sweep(sweep)


def base_config() -> RunConfig:
    """The current dataset with the Train page's last settings (its defaults until it was opened)."""
    saved = st.session_state.get(TRAIN.saved) or {}
    model = {k.removeprefix(TRAIN.model_prefix): v for k, v in saved.items() if k.startswith(TRAIN.model_prefix)}
    train = {k.removeprefix(TRAIN.train_prefix): v for k, v in saved.items() if k.startswith(TRAIN.train_prefix)}
    if train.get("patience") == 0:  # the Train page shows "off" as 0
        train["patience"] = None
    return RunConfig(data=state.data_spec(), model=ModelConfig.from_dict(model), train=TrainConfig.from_dict(train))


def _axis(label: str, values: Sequence[Any]) -> dict[str, Any]:
    """A numeric axis, or for words (families) evenly spaced ticks named by the words."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        numbers = [float(v) for v in values]
        if label in ("lr", "weight_decay") and all(v > 0 for v in numbers):
            numbers = [math.log10(v) for v in numbers]
            label = f"log10 {label}"
        return {"label": label, "values": numbers}
    words = sorted({str(v) for v in values})
    return {
        "label": label,
        "values": [words.index(str(v)) for v in values],
        "tickvals": list(range(len(words))),
        "ticktext": words,
    }


def parallel_figure(records: Sequence[Mapping[str, Any]], settings: Sequence[str]) -> go.Figure | None:
    """Each scored trial as a line through its settings to its score (lower is better: darker)."""
    scored = [r for r in records if r.get("score") is not None]
    if not scored:
        return None
    dimensions = [
        _axis(name, [r.get(name) for r in scored]) for name in settings if len({str(r.get(name)) for r in scored}) > 1
    ]  # a setting every trial shares says nothing
    scores = [float(r["score"]) for r in scored]
    dimensions.append({"label": "score (val recon MSE)", "values": scores})
    figure = go.Figure(
        go.Parcoords(line={"color": scores, "colorscale": "Viridis_r", "showscale": True}, dimensions=dimensions)
    )
    figure.update_layout(height=380, margin={"l": 60, "r": 40, "t": 50, "b": 30})
    return figure
