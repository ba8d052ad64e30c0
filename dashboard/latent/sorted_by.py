"""The clustering the page sorts by: the run's choice among its candidates (core.sort_choice), made
without labels once the run has finished and the number of clusters is settled. The page opens on
the choice when it is already made, else on the default (N2D on the backbone's features); when the
choice arrives and the person has not picked a clusterer, one rerun switches to it, and a caption
says why."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.methods import CLUSTER_METHODS
from core.registry import label_of
from core.runs import Run
from core.sort_choice import HEAD_CANDIDATES
from dashboard import state
from dashboard.keys import LATENT


def opening_clusterer(run: Run, split: str, n_clusters: int, default: str) -> str:
    """The clusterer the page opens on: the run's choice at `n_clusters` when made already, else `default`."""
    choice = state.stored_sort_choice(run, split, n_clusters)
    return default if choice is None else choice.method


def sort_choice_section(run: Run, split: str, settings: dict[str, Any], opened_on: str) -> None:
    """Make the choice (cached in the run) and switch to it, once per run, split and number of clusters,
    unless the person picked another clusterer than the one the page opened on."""
    if CLUSTER_METHODS[settings["clusterer"]].chooses_own_cluster_count:
        return
    k = settings["n_clusters"]
    choice = state.stored_sort_choice(run, split, k)
    if choice is None:
        with st.spinner(choosing_message(state.sort_candidates(run, split, k))):
            choice = state.sort_choice(run, split, k)
    if isinstance(choice, str) or not choice.scores:  # too few rows, or a run with nothing to choose from
        return
    st.caption(f"Sorted by default by {label_of(CLUSTER_METHODS, choice.method)}: {choice.reason()}.")
    applied = (run.id, split, k)
    if st.session_state.get(LATENT.sort_choice_applied) == applied:
        return
    st.session_state[LATENT.sort_choice_applied] = applied
    if settings["clusterer"] == opened_on and choice.method != settings["clusterer"]:
        st.session_state[LATENT.clusterer_switch] = choice.method  # set before the widget, on the rerun
        st.rerun()


HEAD_SECONDS_PER_10K = 16  # a TEMI head on 10,000 photos' features, 2 cores (CIFAR-10 tuning images, Lite2)


def choosing_message(candidates: tuple[str, ...]) -> str:
    """The spinner's words while the choice is made: what it chooses among, and that a head trains first
    (the longest part the first time)."""
    names = ", ".join(label_of(CLUSTER_METHODS, method) for method in candidates)
    message = "Choosing the clustering to sort by (the one whose groups keep their neighbours best"
    message += f", of {names})" if names else ")"
    heads = [label_of(CLUSTER_METHODS, method) for method in candidates if method in HEAD_CANDIDATES]
    if heads:
        message += f"; {' and '.join(heads)} trains first, about {HEAD_SECONDS_PER_10K} s per 10,000 rows on 2 cores"
    return message + "…"
