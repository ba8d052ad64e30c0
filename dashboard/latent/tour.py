"""The Latent space page's tour for the report: "Add this view to the tour" keeps the map's settings (the
projection, colouring, clusterer and number of clusters, the points selected) with a caption the author
types; the steps below can be moved up and down, recaptioned and deleted. The tour is saved in the run
folder (core.tour) and walked with Next / Back in the HTML report (core.report_map).

Changes happen in button callbacks, before the page is drawn again, so what is on screen is what is
saved; a damaged tour file opens the page with a notice and an empty tour.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np
import streamlit as st

from core.errors import LatentboardError
from core.methods import MAP_METHODS
from core.runs import Run
from core.tour import MAX_CAPTION, Step, Tour, read_tour, save_tour, selected_rows
from dashboard import state
from dashboard.cluster_edits import method_title
from dashboard.keys import LATENT
from dashboard.latent.controls import COLOUR_NAMES


def _saved(run: Run, tour: Tour) -> None:
    """Save the tour; a full disk or a full tour is said on the next draw, not raised inside a callback."""
    try:
        save_tour(run.path, tour)
    except LatentboardError as error:
        st.session_state[LATENT.tour_said] = str(error)


def view_step(split: str, settings: dict[str, Any], rows: np.ndarray, caption: str) -> Step:
    """The map as it is now, as a step of the tour."""
    return Step(
        caption=caption,
        split=split,
        method=settings["method"],
        dims=int(settings["dims"]),
        colour=settings["colour"],
        clusterer=settings["clusterer"],
        n_clusters=int(settings["n_clusters"]),
        params=dict(settings["params"]),
        rows=selected_rows(rows),
    )


def describe(step: Step) -> str:
    """A step's view in words: 'UMAP (2-D) of test, coloured by cluster (k-means, 6); 12 rows highlighted'."""
    colour = COLOUR_NAMES.get(step.colour, step.colour)
    if step.colour == "cluster":
        colour += f" ({method_title(step.clusterer)}, {step.n_clusters})"
    said = f"{MAP_METHODS[step.method].label} ({step.dims}-D) of {step.split}, coloured by {colour}"
    return said + (f"; {len(step.rows):,} rows highlighted" if step.rows else "")


def _revision(tour: Tour) -> str:
    """Changes with every saved change: part of the step widgets' keys, so each shows the saved caption."""
    return hashlib.sha1(json.dumps(tour.to_dict(), sort_keys=True).encode()).hexdigest()[:10]


def tour_section(run: Run, split: str, settings: dict[str, Any], picked: np.ndarray) -> None:
    """The tour's expander under the map: add the view on screen, then each step with its buttons."""
    tour, problem = read_tour(run.path, run.id, len(state.trained(run).dataset))
    if problem:
        st.warning(f"The saved tour was dropped: {problem}. The next view you add starts a new tour.")
    said = st.session_state.pop(LATENT.tour_said, None)
    if said:
        st.error(said, icon=":material/error:")
    with st.expander(f"Tour for the report ({len(tour.steps)} steps)", expanded=bool(tour.steps)):
        st.caption(
            "Keep this view of the map (its colouring, clusters and the points selected) with a sentence about "
            "it; the HTML report (Evaluate page, or `latentboard report`) walks the steps with Next and Back."
        )
        rows = state.rows(run, split)[np.asarray(picked, dtype=np.int64)] if len(picked) else np.empty(0, np.int64)

        def add() -> None:
            caption = st.session_state.get(LATENT.tour_caption, "")
            _saved(run, tour.added(view_step(split, settings, rows, caption)))
            st.session_state[LATENT.tour_caption] = ""

        st.text_area(
            "Caption for this view",
            key=LATENT.tour_caption,
            max_chars=MAX_CAPTION,
            placeholder="What should a reader see here?",
        )
        selected = f" with the {len(rows):,} points selected" if len(rows) else ""
        st.button(f"Add this view to the tour{selected}", key=LATENT.tour_add, on_click=add)
        revision = _revision(tour)
        for i in range(len(tour.steps)):
            step_row(run, tour, i, f"{LATENT.tour_step}{revision}.{i}")


def step_row(run: Run, tour: Tour, i: int, key: str) -> None:
    """One step: its caption (saved as it is changed), what it shows, and up / down / delete."""
    step = tour.steps[i]
    text, up, down, delete = st.columns([8, 1, 1, 1], vertical_alignment="bottom")
    text.text_input(
        f"Step {i + 1}",
        value=step.caption,
        max_chars=MAX_CAPTION,
        key=key,
        on_change=lambda: _saved(run, tour.recaptioned(i, st.session_state.get(key, ""))),
    )
    up.button("↑", key=f"{key}.up", disabled=i == 0, on_click=lambda: _saved(run, tour.moved(i, -1)), help="Move up")
    down.button(
        "↓",
        key=f"{key}.down",
        disabled=i == len(tour.steps) - 1,
        on_click=lambda: _saved(run, tour.moved(i, 1)),
        help="Move down",
    )
    delete.button("✕", key=f"{key}.delete", on_click=lambda: _saved(run, tour.removed(i)), help="Delete this step")
    st.caption(describe(step))
