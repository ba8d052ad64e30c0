"""How many groups: the estimate core.group_count made from the codes (no labels involved), with
its evidence, the score of every candidate number, drawn small beside the map's controls."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.data import Dataset
from core.evaluation import default_n_clusters
from core.figures import group_count_figure
from core.group_count import GroupCount
from core.methods import CLUSTER_METHODS


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
            f"(of {count.candidates[0]} to {count.candidates[-1]}; {count.method}, highest is best). {default}"
        )
        if in_use is not None and in_use != count.estimate:
            text.caption(f"The clusters shown use {in_use}.")
        chart.plotly_chart(group_count_figure(count, in_use), width="stretch", key="latent.groups_chart")
