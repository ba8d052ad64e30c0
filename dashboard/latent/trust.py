"""The map coloured by how far it can be trusted (core.map_trust): the whole map's trustworthiness and
a few words on what the colours mean above it; for a clicked point, its nearest neighbours in the
code ringed, and dashed lines to those the map placed further away (not among its nearest there)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.figures import draw_torn, mark_points
from core.runs import Run
from dashboard import state

if TYPE_CHECKING:
    from core.map_trust import MapTrust, TornNeighbours

TRUST_RANGE = (0.0, 1.0)  # the colour scale's ends on every map, so two maps' colours compare


def map_trust(run: Run, split: str, settings: dict[str, Any]) -> MapTrust | None:
    """The map's trust when the map is coloured by it (cached with the map), else None."""
    if settings["colour"] != "trust":
        return None
    return state.map_trust(run, split, settings["method"], settings["dims"], settings["params"])


def with_trust(hover: list[str], trust: MapTrust) -> list[str]:
    """Each point's hover text, with how many of its code neighbours the map kept beside it."""
    kept = np.rint(trust.scores * trust.k).astype(int)
    return [f"{text}<br>map trust {share:.0%} ({n} of {trust.k})" for text, share, n in zip(hover, trust.scores, kept)]


def trust_header(trust: MapTrust, dims: int) -> None:
    """The whole map's trustworthiness, and what the colours mean, in words a class understands."""
    number, words = st.columns([1, 3], vertical_alignment="center")
    number.metric(
        "Trustworthiness",
        "—" if trust.trustworthiness is None else f"{trust.trustworthiness:.2f}",
        help=f"The whole map's trustworthiness (scikit-learn's, k = {trust.k}): 1 when the points drawn near each "
        "point are its neighbours in the code too; lower when the map brings strangers together.",
    )
    number.caption(f"On average a point keeps {trust.scores.mean():.0%} of its {trust.k} neighbours beside it.")
    words.caption(
        f"**Map trust**: of each point's {trust.k} nearest neighbours in the model's code, how many the map drew "
        "beside it. Points the map drew close to their real neighbours are bright (yellow); points whose real "
        "neighbours ended up elsewhere are dark (purple), so distances there, and between clusters, mean little. "
        + (
            "Click a point: its real neighbours are ringed, dashed lines go to those the map put further away."
            if dims == 2
            else "Switch to 2-D to click a point and see which of its neighbours the map put further away."
        )
    )


def mark_torn(
    fig: go.Figure, trace_rows: list[np.ndarray], coords: np.ndarray, trust: MapTrust, focus: int, hover: list[str]
) -> TornNeighbours:
    """Star the clicked point, ring its nearest neighbours in the code, draw lines to those placed far."""
    torn = trust.torn(focus)
    mark_points(fig, trace_rows, coords, torn.query, torn.in_code, hover)
    draw_torn(fig, trace_rows, coords, torn.query, torn.placed_far)
    legend_below = dict(title=dict(text=""), orientation="h", x=0, y=0, yanchor="top")  # clear of the colour bar
    fig.update_layout(legend=legend_below)
    return torn


def torn_caption(torn: TornNeighbours) -> None:
    k, far = len(torn.in_code), len(torn.placed_far)
    st.info(
        f"On the map: this point's {k} nearest neighbours in the code are ringed. The map kept "
        f"{k - far} of them among its {k} nearest"
        + (
            f"; the dashed lines go to the {far} it placed further away."
            if far
            else ": its neighbourhood is drawn faithfully."
        ),
        icon=":material/hub:",
    )
