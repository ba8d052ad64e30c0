"""The Latent space page's controls: projection, dimensions, colouring, clusterer and its number of
clusters, picture size (and UMAP's finer settings), mirrored into the page's link; and the colour
each point gets from them (labels, the clusters as the person edited them, reconstruction error, or
how far the map can be trusted there)."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core.data import Dataset
from core.evaluation import default_n_clusters
from core.methods import CLUSTER_METHODS, MAP_METHODS
from core.registry import label_of
from core.runs import Run
from dashboard import cluster_edits, links, state
from dashboard.cluster_edits import display_names, method_title
from dashboard.keys import LATENT
from dashboard.latent.trust import map_trust
from dashboard.links import CLUSTER_BOUNDS

TILE_SIZES = (48, 64, 96, 128, 160, 200)  # px per picture in the galleries (the size control)
DEFAULT_TILE = {True: 128, False: 64}  # photos (rows with files) / small built-in images


COLOUR_NAMES = {"label": "label", "cluster": "cluster", "error": "reconstruction error", "trust": "map trust"}


def colourings(ds: Dataset) -> list[str]:
    return (["label"] if ds.has_labels else []) + ["cluster", "error", "trust"]


def controls(
    ds: Dataset, preferred: str | None = None, clusterers: list[str] | None = None, estimate: int | None = None
) -> dict[str, Any]:
    """The controls above the map, and what they are set to: method, dims, colour, params (UMAP's),
    tile, clusterer, n_clusters. `clusterers`: the methods this run offers (default: every one);
    `preferred`: the one it opens on (core.evaluation.sorted_by); `estimate`, the estimated number
    of groups, is the default number of clusters for data without labels (labelled data keeps its
    number of classes)."""
    if st.session_state.get(LATENT.colour, "cluster") not in colourings(ds):  # a link's (or another run's) label colour
        links.notice([f"colour={st.session_state.pop(LATENT.colour)} (this dataset has no labels)"])
        links.write_url({"colour": None})
    a, b, c, d, *size = st.columns(5 if ds.kind == "image" else 4)
    methods = links.projections()
    method = a.selectbox(
        "Projection",
        methods,
        format_func=lambda m: label_of(MAP_METHODS, m),
        key=LATENT.method,
        help=" ".join(f"{p.label}: {p.help}" for p in MAP_METHODS.values()),
    )
    dims = b.radio("Dimensions", [2, 3], horizontal=True, format_func=lambda d: f"{d}-D", key=LATENT.dims)
    colour = c.selectbox(
        "Colour by",
        colourings(ds),
        format_func=COLOUR_NAMES.get,
        key=LATENT.colour,
        help="Map trust: how many of each point's nearest neighbours in the code the map kept beside it.",
    )
    settings = {"method": method, "dims": dims, "colour": colour, "params": {}, "tile": DEFAULT_TILE[bool(ds.files)]}
    if size:
        settings["tile"] = size[0].select_slider(
            "Picture size",
            TILE_SIZES,
            value=settings["tile"],
            format_func=lambda px: f"{px} px",
            key=LATENT.tile,
            help="Size of each picture in the galleries below and beside the map.",
        )
    methods = clusterers or links.clusterers()
    if st.session_state.get(LATENT.clusterer_switch) in methods:  # the run's choice arrived (latent.sorted_by)
        st.session_state[LATENT.clusterer] = st.session_state.pop(LATENT.clusterer_switch)
    if st.session_state.get(LATENT.clusterer, methods[0]) not in methods:  # e.g. a link's n2d-features on a pixel run
        links.notice([f"clusters={st.session_state.pop(LATENT.clusterer)} (not offered for this run)"])
    settings["clusterer"] = d.selectbox(
        "Clusters",
        methods,
        index=methods.index(preferred) if preferred in methods else 0,
        format_func=method_title,
        key=LATENT.clusterer,
        help="Clusters are found in the full latent code (or, for the methods on backbone features, in "
        "the features the model read), not in the 2-D map.",
    )
    default_k = default_clusters(ds, estimate)
    stand_in = st.session_state.pop(LATENT.k_stand_in, None)
    if estimate is not None and stand_in is not None and st.session_state.get(LATENT.k) == stand_in:
        st.session_state[LATENT.k] = default_k  # the estimate arrived: it replaces the number used while counting
    settings["n_clusters"] = 10
    if state.teaching():  # the finer settings stay hidden in class; a link's number of clusters still counts
        settings["n_clusters"] = st.session_state[LATENT.k] = int(st.session_state.get(LATENT.k, default_k))
    else:
        map_settings(settings, default_k)
    own_count = CLUSTER_METHODS[settings["clusterer"]].chooses_own_cluster_count
    links.write_url(
        {
            "projection": method,
            "dims": dims,
            "colour": colour,
            "clusters": settings["clusterer"],
            "k": None if own_count else settings["n_clusters"],
        }
    )
    return settings


def default_clusters(ds: Dataset, estimate: int | None = None) -> int:
    """The number of clusters the page opens on: the number of classes, else the estimated number of
    groups, else (while it is being counted) the clusterers' default; within CLUSTER_BOUNDS."""
    default_k = default_n_clusters(ds) if ds.has_labels or estimate is None else estimate
    return min(max(default_k, CLUSTER_BOUNDS[0]), CLUSTER_BOUNDS[1])


def map_settings(settings: dict[str, Any], default_k: int) -> None:
    """The expander of finer settings: number of clusters, UMAP's neighbours and minimum distance."""
    clusterer = CLUSTER_METHODS[settings["clusterer"]]
    with st.expander("Map and cluster settings"):
        e, f, g = st.columns(3)
        if not clusterer.chooses_own_cluster_count:
            settings["n_clusters"] = int(e.number_input("Number of clusters", *CLUSTER_BOUNDS, default_k, key=LATENT.k))
        else:
            e.caption(f"{clusterer.label} finds the number of clusters itself; points it cannot place are 'noise'.")
        if MAP_METHODS[settings["method"]].neighbour_settings:
            settings["params"] = {
                "n_neighbors": int(
                    f.slider(
                        "UMAP neighbours", 5, 100, 15, key=LATENT.umap_neighbours, help="Larger: more global structure."
                    )
                ),
                "min_dist": float(
                    g.slider(
                        "UMAP min distance",
                        0.0,
                        0.99,
                        0.1,
                        step=0.05,
                        key=LATENT.umap_min_dist,
                        help="Smaller: tighter clumps.",
                    )
                ),
            }


def colour_values(
    run: Run, split: str, ds: Dataset, rows: np.ndarray, settings: dict[str, Any]
) -> tuple[list | np.ndarray, bool, str]:
    if settings["colour"] == "label":
        return ds.label_names(ds.y[rows]), True, "label"
    if settings["colour"] == "cluster":
        edited = edited_clusters(run, split, ds, settings)
        return display_names(edited.clusters, edited.names), True, method_title(settings["clusterer"])
    trust = map_trust(run, split, settings)
    if trust is not None:
        return trust.scores, False, "map trust"
    return np.asarray(state.errors(run, split)), False, "error"


def edited_clusters(run: Run, split: str, ds: Dataset, settings: dict[str, Any]) -> cluster_edits.Grouping:
    """The clusters of the chosen clusterer, with the person's saved names, merges and moves where they apply."""
    method, k = settings["clusterer"], settings["n_clusters"]
    return cluster_edits.grouping(
        run.path, len(ds), state.rows(run, split), state.clusters(run, split, method, k), split, method, k
    )
