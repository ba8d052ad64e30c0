"""How many groups: the estimate core.group_count made from the rows the run sorts by (no labels
involved), with its evidence, the score of every candidate number. It is counted after the map is
drawn (the first open of a large run does not wait for it); data without labels gets it as its
number of clusters once it is known."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.data import Dataset
from core.evaluation import default_n_clusters
from core.figures import group_count_figure
from core.group_count import GroupCount
from core.methods import CLUSTER_METHODS
from core.runs import Run
from dashboard import state
from dashboard.keys import LATENT
from dashboard.latent.controls import default_clusters


def groups_section(ds: Dataset, count: GroupCount | str, settings: dict[str, Any]) -> None:
    """The estimated number of groups, what the clusters use instead (if anything), and the curve."""
    if isinstance(count, str):
        st.caption(f"Number of groups: not estimated. {count}")
        return
    own_count = CLUSTER_METHODS[settings["clusterer"]].chooses_own_cluster_count
    in_use = None if own_count else settings["n_clusters"]
    if ds.has_labels:
        default = f"The data has {default_n_clusters(ds)} classes, which the clusters default to."
    else:
        default = "The clusters default to it; set another number under Map and cluster settings."
    with st.expander(f"How many groups? About {count.estimate}, estimated without labels", expanded=not ds.has_labels):
        text, chart = st.columns([1, 2])
        text.markdown(
            f"**Estimated number of groups: {count.estimate}** "
            f"(of {count.candidates[0]} to {count.candidates[-1]}): the {count.method}, the median over "
            f"{len(count.found)} samples of the rows (the diamonds). The line: the same score "
            f"for spectral clustering into each number. {default}"
        )
        if in_use is not None and in_use != count.estimate:
            text.caption(f"The clusters shown use {in_use}.")
        chart.plotly_chart(group_count_figure(count, in_use), width="stretch", key="latent.groups_chart")


def counted_groups(
    run: Run, split: str, ds: Dataset, settings: dict[str, Any], ready: GroupCount | str | None
) -> GroupCount | str:
    """The estimate: `ready` (state.stored_group_count, read before the map) or counted now. For data
    without labels whose clusters used the stand-in number while it was unknown, one rerun, so the
    controls and the clusters take the estimate instead."""
    if ready is not None:
        return ready
    with st.spinner(f"Counting the groups (the clusters use {settings['n_clusters']} until then)…"):
        count = state.group_count(run, split)
    stand_in = default_clusters(ds)
    waiting = not ds.has_labels and not CLUSTER_METHODS[settings["clusterer"]].chooses_own_cluster_count
    untouched = settings["n_clusters"] == stand_in  # a number the person typed meanwhile stays
    if waiting and untouched and isinstance(count, GroupCount) and default_clusters(ds, count.estimate) != stand_in:
        st.session_state[LATENT.k_stand_in] = stand_in
        st.rerun()
    return count
