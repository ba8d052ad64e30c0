"""The Compare page's two maps, linked: a box, lasso or click on either selects the same rows on both
(plotly_chart's on_select, kept in the session), and hovering a point rings it on the other map
(link.js, in the page like dashboard/hover.js: st.plotly_chart passes no hover events to Python)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.figures import scatter_figure, selected_rows, with_sprites
from dashboard.components import hover_pictures
from dashboard.keys import COMPARE

LINK_SCRIPT = Path(__file__).with_name("link.js")
PAIR = "pair"  # layout.meta.compare: the maps link.js rings a hovered row on


def selection(context: tuple) -> np.ndarray:
    """Positions (into the compared rows) selected on either map, if they belong to this comparison."""
    kept = st.session_state.get(COMPARE.selected)
    return kept[1] if kept and kept[0] == context else np.zeros(0, dtype=np.int64)


def _remember(key: str, context: tuple) -> None:
    event = st.session_state.get(key) or {}
    points = (event.get("selection") or {}).get("points", [])
    st.session_state[COMPARE.selected] = (context, selected_rows(points, []))


def select(context: tuple, positions: np.ndarray) -> None:
    st.session_state[COMPARE.selected] = (context, np.asarray(positions, dtype=np.int64))


def linked_figure(coords: np.ndarray, colour: list[str], hover: list[str], title: str, picked: np.ndarray) -> go.Figure:
    """One map, its selected rows ringed and the rest dimmed; customdata is each point's position."""
    fig, trace_rows = scatter_figure(
        coords, colour, categorical=True, hover=hover, colour_title="label", title=title, height=520
    )
    if len(picked):
        for trace, rows in zip(fig.data, trace_rows):
            trace.selectedpoints = np.flatnonzero(np.isin(rows, picked)).tolist()
        fig.add_trace(
            go.Scattergl(
                x=coords[picked, 0],
                y=coords[picked, 1],
                mode="markers",
                name="selected",
                customdata=picked,
                marker=dict(size=12, symbol="circle-open", color="#111827", line=dict(width=2)),
                hoverinfo="skip",
            )
        )
    return fig


def linked_maps(
    maps: list[tuple[str, np.ndarray]], colour: list[str], hover: list[str], context: tuple, sprites: Any
) -> np.ndarray:
    """Both maps side by side; returns the selected positions."""
    picked = selection(context)
    for i, (column, (title, coords)) in enumerate(zip(st.columns(len(maps), gap="medium"), maps)):
        fig = with_sprites(linked_figure(coords, colour, hover, title, picked), sprites)
        fig.update_layout(meta={**(fig.layout.meta or {}), "compare": PAIR})
        key = f"{COMPARE.map}{i}"
        with column:
            st.plotly_chart(
                fig,
                key=key,
                on_select=lambda key=key: _remember(key, context),
                selection_mode=("points", "box", "lasso"),
                width="stretch",
            )
    hover_pictures()
    st.html(f"<script>{LINK_SCRIPT.read_text()}</script>", unsafe_allow_javascript=True)
    return picked
