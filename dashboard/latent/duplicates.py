"""The Latent space page's near-duplicates: each group of copies, crops and burst shots
(core.duplicates) with the photo kept marked, a choice of another to keep (saved in the run's
sorting.json), and how many photos the sorted zip puts in _duplicates/.

Off until the user turns it on: finding them reads the candidate photos again (seconds), and the
sorted zip sets duplicates aside only while it is on, so nothing moves out of a cluster's folder
unless the user has seen which photos go and which one stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from core.duplicates import DuplicateGroup, run_duplicates, save_keeper, saved_keepers
from core.export import DUPLICATES_FOLDER
from core.runs import Run
from dashboard.components import show_rows, user_errors
from dashboard.gallery import file_captions
from dashboard.keys import LATENT

if TYPE_CHECKING:
    from core.trained import TrainedRun

COLUMNS = 8  # tiles in a row, as in the cluster galleries
MAX_GROUPS = 30  # groups drawn; the count, the zip and `latentboard duplicates` cover them all
KEPT = "KEPT"  # drawn into the gallery picture, so plain letters


def setting_aside() -> bool:
    """Whether the sorted zip puts near-duplicates in _duplicates/: while the section is on."""
    return bool(st.session_state.get(LATENT.duplicates, False))


def duplicates_section(run: Run, trained: TrainedRun, settings: dict[str, Any]) -> None:
    """The toggle, then each group with the kept photo first and a picker for another."""
    ds = trained.dataset
    things = "photos" if ds.files else "rows"
    st.subheader("Near-duplicates")
    on = st.toggle(
        "Look for near-duplicates and keep the best of each group",
        key=LATENT.duplicates,
        help="Copies, crops, brightened edits and burst shots of one scene, found from the features and checked "
        f"on the pixels. While this is on, the sorted zip puts all but the kept one in {DUPLICATES_FOLDER}/; "
        "nothing is ever deleted.",
    )
    if not on:
        return
    with st.spinner("Looking for near-duplicates…"), user_errors("Near-duplicates"):
        groups = run_duplicates(trained)
        chosen = set(saved_keepers(run.path, len(ds)))
        if not groups:
            st.info(f"No near-duplicates among the {len(ds):,} {things}.", icon=":material/check:")
            return
        aside = sum(len(g.others) for g in groups)
        st.caption(
            f"{len(groups):,} groups; **{aside:,} {things} would go to {DUPLICATES_FOLDER}/** in the sorted zip, "
            f"the kept one (captioned {KEPT}) of each staying in its cluster's folder. Ranked by sharpness, "
            "exposure and resolution; pick another to keep it instead (saved with the run)."
            + (f" Showing the {MAX_GROUPS} biggest." if len(groups) > MAX_GROUPS else "")
        )
        revision = "-".join(map(str, sorted(chosen)))[-40:] or "0"
        for group in groups[:MAX_GROUPS]:
            group_view(run, trained, group, chosen, settings, revision)


def group_view(
    run: Run, trained: TrainedRun, group: DuplicateGroup, chosen: set[int], settings: dict[str, Any], revision: str
) -> None:
    ds = trained.dataset
    names = file_captions(ds, list(group.rows))
    captions = [f"{KEPT}: {name}" if row == group.keep else name for row, name in zip(group.rows, names)]
    with st.container(border=True):
        heading, picker = st.columns([3, 2], vertical_alignment="bottom")
        whose = "your choice" if group.keep in chosen else "the best shot"
        heading.markdown(f"**{names[0]}** kept ({whose}) · {len(group.rows)} {'photos' if ds.files else 'rows'}")
        key = f"{LATENT.keeper}{run.id}.{min(group.rows)}.{revision}"
        picker.selectbox(
            f"Keep which of {names[0]}'s group",
            list(group.rows),
            format_func=dict(zip(group.rows, names)).get,
            key=key,
            label_visibility="collapsed",
            on_change=keep,
            args=(run, len(ds), group, key, settings),
        )
        if ds.kind == "image":
            show_rows(
                run,
                ds,
                list(group.rows),
                captions,
                columns=COLUMNS,
                tile=settings["tile"],
                photo_tile=settings["tile"],
            )


def keep(run: Run, n_rows: int, group: DuplicateGroup, key: str, settings: dict[str, Any]) -> None:
    save_keeper(run.path, n_rows, group, int(st.session_state[key]), settings["clusterer"], settings["n_clusters"])
