"""The Latent space page's "Name a few, the rest follow" (core.spread): name the photo clicked on the
map, or the box or lasso selection ("robin"); with two or more groups named every other photo gets
a group and a confidence, and a review queue shows the least sure first beside their nearest named
examples, to confirm or correct (each answer names that photo, and the rest follow). Every name is
saved in the run's sorting.json at once, so the downloads and `latentboard export` sort by the groups.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from core.data import Dataset
from core.runs import Run
from core.sorting import MAX_NAME, Sorting, read_sorting
from core.spread import Spread, named_groups
from dashboard import cluster_edits, state
from dashboard.components import show_rows
from dashboard.gallery import file_captions
from dashboard.keys import LATENT
from dashboard.latent.points import focused_position

if TYPE_CHECKING:
    from core.trained import TrainedRun

REVIEW = 6  # doubtful rows in the review queue at once
UNSURE = 0.6  # a confidence below this counts as unsure in the groups' table


def spread_section(run: Run, trained: TrainedRun, split: str, settings: dict[str, Any], picked: np.ndarray) -> None:
    """Name the selection; the named groups; with two or more, what each got and the review queue."""
    ds = trained.dataset
    things = "photos" if ds.files else "samples"
    saved, problem = read_sorting(run.path, len(ds))
    examples = dict(saved.examples) if saved else {}
    st.subheader("Name a few, the rest follow")
    st.caption(
        f"Name the {things[:-1]} you clicked on the map, or those you selected with the box or lasso. With two "
        f"groups or more, every other {things[:-1]} gets the group it most likely belongs to and a confidence "
        "(a seeded model on what the run sorts by); review the least sure first. Saved with the run: the "
        "downloads below and `latentboard export` then sort into these groups."
    )
    if problem:
        st.info(f"The saved names are left out: {problem}. Your next name starts them over.", icon=":material/info:")
    rows = state.rows(run, split)
    focus = focused_position(run, split, len(rows))
    chosen = rows[picked] if len(picked) else rows[[focus]] if focus is not None else np.zeros(0, dtype=np.int64)
    naming(run, ds, settings, chosen, examples, things)
    groups = named_groups(examples)
    if len(groups) < 2:
        if groups:
            st.caption(f"Named so far: {groups[0]} ({len(examples)}). Name {things} of a second group.")
        return
    with st.spinner("Spreading the names… (the first time, a UMAP of every row: about a minute for 6,000)"):
        result, near = spread_of(run, trained, examples)
    groups_table(result, examples, things)
    review_queue(run, ds, settings, result, near, revision(examples))


def naming(
    run: Run, ds: Dataset, settings: dict[str, Any], chosen: np.ndarray, examples: dict[int, str], things: str
) -> None:
    """The name box and its button for the chosen rows, and forgetting every name."""
    what = (
        f"the {len(chosen):,} selected {things[:-1] if len(chosen) == 1 else things}"
        if len(chosen)
        else f"the {things} clicked or selected on the map"
    )
    key = f"{LATENT.spread_group}{revision(examples)}"
    a, b, c = st.columns([3, 1, 1], vertical_alignment="bottom")
    a.text_input(
        f"Name {what}",
        key=key,
        max_chars=MAX_NAME,
        placeholder="robin",
        disabled=not len(chosen),
        help="A new group's name, or one named before to add to it. Click a point, or pick the box or lasso in "
        "the map's toolbar and drag.",
    )
    b.button(
        "Name",
        key=LATENT.spread_name,
        icon=":material/label:",
        width="stretch",
        disabled=not len(chosen),
        on_click=lambda: name(run.path, len(ds), settings, chosen, st.session_state.get(key, "")),
    )
    c.button(
        "Forget all names",
        key=LATENT.spread_forget,
        icon=":material/label_off:",
        width="stretch",
        disabled=not examples,
        on_click=lambda: change(run.path, len(ds), settings, lambda s: s.unnamed()),
    )


def groups_table(result: Spread, examples: dict[int, str], things: str) -> None:
    """How many rows each group got, how many of them were named by hand, and how many are unsure."""
    counts = result.counts()
    by_hand = Counter(examples.values())
    unsure = Counter(result.names(np.flatnonzero(result.confidence < UNSURE)))
    st.dataframe(
        {
            "group": list(result.groups),
            things: [counts[g] for g in result.groups],
            "named by you": [by_hand[g] for g in result.groups],
            f"unsure (under {UNSURE:.0%})": [unsure[g] for g in result.groups],
        },
        hide_index=True,
    )


def review_queue(
    run: Run, ds: Dataset, settings: dict[str, Any], result: Spread, near: np.ndarray, names_revision: str
) -> None:
    """The least sure rows first, each with its guess, its nearest named examples, and yes / no."""
    doubtful = result.least_confident_first(unnamed_only=True)[:REVIEW]
    if not len(doubtful):
        st.caption("Every row is named by hand: nothing to review.")
        return
    st.markdown(
        "**Review, least sure first** · each answer names the photo, and the rest follow. Beside each: its "
        "nearest named examples."
    )
    tile = settings["tile"]
    for i, position in enumerate(doubtful.tolist()):
        row, guess = int(result.rows[position]), result.groups[result.group[position]]
        with st.container(border=True):
            picture, neighbours, answer = st.columns([1, 3, 2], vertical_alignment="center")
            with picture:
                show_rows(run, ds, [row], file_captions(ds, [row]), columns=1, tile=tile, photo_tile=tile)
            with neighbours:
                shown = result.rows[near[i]]
                show_rows(run, ds, shown, result.names(near[i]), columns=max(1, len(shown)), tile=tile, photo_tile=tile)
            answer.markdown(f"**{guess}?** {result.confidence[position]:.0%} sure")
            answer.button(
                f"Yes, {guess}",
                key=f"{LATENT.spread_yes}{row}",
                icon=":material/check:",
                on_click=name,
                args=(run.path, len(ds), settings, [row], guess),
            )
            key = f"{LATENT.spread_no}{row}.{names_revision}"
            answer.selectbox(
                f"No, row {row} is",
                [g for g in result.groups if g != guess],
                index=None,
                key=key,
                placeholder="No, it is… (pick or type a group)",
                accept_new_options=True,
                label_visibility="collapsed",
                on_change=lambda row=row, key=key: name(
                    run.path, len(ds), settings, [row], st.session_state.get(key) or ""
                ),
            )


def revision(examples: dict[int, str]) -> str:
    """Changes with every name saved: part of the widgets' keys, so each shows the saved state after."""
    return hashlib.sha1(json.dumps(sorted(examples.items())).encode()).hexdigest()[:10]


def name(path: Path, n_rows: int, settings: dict[str, Any], rows: np.ndarray | list[int], group: str) -> None:
    if str(group).strip():
        change(path, n_rows, settings, lambda s: s.named(rows, group))


def change(path: Path, n_rows: int, settings: dict[str, Any], edit: Any) -> Sorting:
    return cluster_edits.edit_examples(path, n_rows, settings["clusterer"], settings["n_clusters"], edit)


@st.cache_data(show_spinner=False, max_entries=8)
def _spread(_trained: TrainedRun, root: str, run_id: str, stamp: str, examples_json: str) -> tuple[Spread, np.ndarray]:
    from core.spread import nearest_examples, run_representation, spread_run

    examples = {int(row): group for row, group in json.loads(examples_json)}
    result = spread_run(_trained, examples)
    doubtful = result.least_confident_first(unnamed_only=True)[:REVIEW]
    return result, nearest_examples(run_representation(_trained), result, doubtful)


def spread_of(run: Run, trained: TrainedRun, examples: dict[int, str]) -> tuple[Spread, np.ndarray]:
    """core.spread.spread_run of the names, and the review queue's nearest named examples; cached per names."""
    return _spread(trained, state.runs_dir(), run.id, state.run_stamp(run), json.dumps(sorted(examples.items())))
