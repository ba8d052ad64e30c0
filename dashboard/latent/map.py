"""The Latent space page's map: the codes projected (UMAP, PCA, t-SNE) and coloured (by map trust too:
dashboard.latent.trust), with pictures on hover; beside it, the clicked point's neighbours, pictures
like an upload, the selected points, or a few examples of every colour."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from core.figures import mark_points, scatter_figure, selected_rows, with_sprites
from core.methods import MAP_METHODS
from core.runs import Run
from dashboard import links, state
from dashboard.cluster_edits import display_names, method_title
from dashboard.components import hover_pictures, user_errors
from dashboard.keys import LATENT
from dashboard.latent.controls import colour_values, edited_clusters
from dashboard.latent.points import (
    examples_panel,
    focused_position,
    hover_texts,
    like_yours_panel,
    neighbour_query,
    neighbours_panel,
    remember_click,
    selection_panel,
    upload_neighbours,
)
from dashboard.latent.trust import TRUST_RANGE, map_trust, mark_torn, torn_caption, trust_header, with_trust

if TYPE_CHECKING:
    from core.trained import TrainedRun


def take_link_point(run: Run, split: str, n: int) -> None:
    """A link's clicked point: its neighbours show as if it had been clicked."""
    linked = st.session_state.pop(LATENT.link_point, None)
    if linked is None:
        return
    if linked < n:
        st.session_state[LATENT.focus] = (run.id, split, int(linked))
    else:
        links.notice([f"point={linked} (this map has {n:,} points)"])


def map_section(run: Run, trained: TrainedRun, split: str, settings: dict[str, Any]) -> np.ndarray | None:
    """The map and its side panels; returns the positions selected on it (box or lasso), or None
    when there is no map (the reason is on the page)."""
    ds = trained.dataset
    rows = state.rows(run, split)
    take_link_point(run, split, len(rows))
    method_name = MAP_METHODS[settings["method"]].label
    coords = None
    working = st.empty()  # a status box only while computing; cached maps appear at once
    with user_errors(f"{method_name} projection"):
        with working.status(f"Projecting {len(rows):,} codes with {method_name}…", expanded=True) as status:
            if MAP_METHODS[settings["method"]].compiles_on_first_use:
                status.write(
                    f"The first {method_name} map of a server compiles its code once (up to half a minute); "
                    "later maps are quick."
                )
            projected = state.projection(run, split, settings["method"], settings["dims"], settings["params"])
            if settings["colour"] == "cluster":
                status.write(f"Clustering the codes with {method_title(settings['clusterer'])}…")
            if settings["colour"] == "trust":
                status.write("Comparing each point's nearest neighbours in the code and on the map…")
            colour, categorical, colour_title = colour_values(run, split, ds, rows, settings)
            errors = state.errors(run, split) if settings["colour"] == "error" or len(rows) <= 20000 else None
            trust = map_trust(run, split, settings)
            coords = projected  # only once its colours are known too: a refused colouring leaves no map
        working.empty()
    if coords is None:
        return None
    map_col, side = st.columns([3, 2], gap="medium")
    map_key = f"{LATENT.map}{run.id}.{split}"
    focus = focused_position(run, split, len(rows)) if settings["dims"] == 2 else None
    links.write_url({"split": split, "point": focus})
    found = None
    hover = hover_texts(ds, rows, colour, categorical, errors)
    if trust is not None:
        hover = with_trust(hover, trust)
    if focus is not None:
        with side, user_errors("Nearest neighbours"):
            found = neighbour_query(run, split, focus)
    liked = None
    if settings["dims"] == 2:
        with side, user_errors("Pictures like yours"):
            liked = upload_neighbours(run, trained, rows)
    with map_col:
        if trust is not None:
            trust_header(trust, settings["dims"])
        fig, trace_rows = scatter_figure(
            coords,
            colour,
            categorical=categorical,
            index=np.arange(len(rows)),
            hover=hover,
            colour_title=colour_title,
            title=f"{method_name} of the codes ({split}, coloured by {colour_title})",
            height=620,
            colour_range=TRUST_RANGE if trust is not None else None,
        )
        torn = None
        if found is not None and trust is not None:
            torn = mark_torn(fig, trace_rows, coords, trust, found.query, hover)
        elif found is not None:
            mark_points(fig, trace_rows, coords, found.query, found.positions, hover)
        elif liked is not None:
            mark_points(fig, trace_rows, coords, None, liked[2], hover)
        with_sprites(fig, state.sprite_meta(run, split))
        if settings["dims"] == 2:
            event = st.plotly_chart(
                fig,
                key=map_key,
                on_select=lambda: remember_click(map_key, run.id, split),
                selection_mode=("points", "box", "lasso"),
                width="stretch",
            )
            points = (event.get("selection") or {}).get("points", []) if event else []
        else:
            st.plotly_chart(fig, key=f"{LATENT.map3d}{run.id}.{split}", width="stretch")
            st.caption("Drag to turn the 3-D map; switch to 2-D to select points.")
            points = []
        hover_pictures()
    with side:
        picked = selected_rows(points, trace_rows)
        if found is not None:
            with st.spinner("Sorting into clusters…"):  # the clusters section below needs them too (cached)
                edited = edited_clusters(run, split, ds, settings)
                clusters = display_names(edited.clusters, edited.names)
            if torn is not None:
                torn_caption(torn)
            neighbours_panel(run, ds, rows, found, clusters, settings["tile"], ringed=torn is None)
        if liked is not None:
            like_yours_panel(run, ds, *liked, settings["tile"])
        if len(picked) > 1:
            selection_panel(run, ds, rows, picked, colour, settings["tile"])
        elif found is None and liked is None:
            examples_panel(run, ds, rows, colour, categorical, settings["tile"])
    return picked
