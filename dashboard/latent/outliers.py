"""The Latent space page's odd ones out: the photos (or rows) that fit their group least, overall and
within each cluster on screen, and for labelled data the possible mislabels, each with its label and
the one its neighbours hold. The scores come from core.outliers, cached in the run folder.

Off until the user turns it on: scoring every row (and cleanlab's vote for the mislabels) takes
seconds to minutes on a large run, and the page's first open should cost the map and the clusters
only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from core.errors import ConfigError
from core.outliers import OddOnes, row_names, run_mislabels, run_outliers
from dashboard.components import show_rows, user_errors
from dashboard.gallery import cluster_groups, file_captions
from dashboard.keys import LATENT
from dashboard.latent.controls import edited_clusters

if TYPE_CHECKING:
    from core.runs import Run
    from core.trained import TrainedRun

MOST_ODD = 8  # photos in the overall gallery (one row)
PER_CLUSTER = 4  # the most odd of each cluster
MISLABELS_SHOWN = 16


def outliers_section(run: Run, trained: TrainedRun, split: str, settings: dict[str, Any]) -> None:
    """The toggle, then the most odd rows of the split on screen, per cluster, and the possible mislabels."""
    ds = trained.dataset
    things = "photos" if ds.files else "samples"
    st.subheader("The odd ones out")
    mislabels = " and the possible mislabels" if ds.has_labels else ""
    on = st.toggle(
        f"Find the {things} that fit in least{mislabels}",
        key=LATENT.outliers,
        help=f"Scores every one of the {len(ds):,} {things} (seconds on a small run, a minute or more on tens of "
        "thousands); the scores are kept with the run, so turning it on again is instant.",
    )
    if not on:
        return
    with st.spinner("Finding the odd ones out…"), user_errors("The odd ones out"):
        odd_ones(run, trained, split, settings)


def odd_ones(run: Run, trained: TrainedRun, split: str, settings: dict[str, Any]) -> None:
    ds = trained.dataset
    rows = trained.splits.get(split)
    odd = run_outliers(trained).within(rows)
    things = "photos" if ds.files else "samples"
    st.caption(
        f"The {things} that fit in least: each scored by how much sparser its neighbourhood is than its "
        "neighbours' in the representation the clusters are found in (the local outlier factor; about 1 "
        "fits in, higher fits less). A blurry shot, a photo of something else, a copy that went wrong. "
        "`latentboard outliers RUN` lists them all."
    )
    st.markdown(f"**Most odd of all** (of {len(odd.rows):,} {things})")
    show_odd(run, trained, odd, MOST_ODD, settings["tile"])
    edited = edited_clusters(run, split, ds, settings)
    with st.expander("The most odd of each cluster"):
        for cluster, members in cluster_groups(edited.clusters):
            title = edited.names.get(cluster) or ("noise" if cluster < 0 else f"cluster {cluster}")
            st.markdown(f"**{title}** (of its {len(members):,} {things})")
            show_odd(run, trained, odd.within(rows[members]), PER_CLUSTER, settings["tile"])
    if ds.has_labels:
        mislabels_part(run, trained, rows, settings["tile"])


def show_odd(run: Run, trained: TrainedRun, odd: OddOnes, count: int, tile: int) -> None:
    ds = trained.dataset
    shown, scores = odd.rows[:count], odd.scores[:count]
    if ds.kind == "image":
        names = file_captions(ds, shown)
        captions = [f"{s:.2f} {n}" for s, n in zip(scores, names)]
        show_rows(run, ds, shown, captions, columns=max(len(shown), 1), tile=tile, photo_tile=tile)
        st.caption("Most odd first: " + ", ".join(f"{n} ({s:.2f})" for n, s in zip(names, scores)))
    else:
        show_rows(run, ds, shown, extra={"row": row_names(ds, shown), "oddness": np.round(scores, 3)})


def mislabels_part(run: Run, trained: TrainedRun, rows: np.ndarray, tile: int) -> None:
    """Rows whose label their nearest rows disagree with (cleanlab's find_label_issues), most doubtful first."""
    ds = trained.dataset
    try:
        found = run_mislabels(trained)
    except ConfigError as error:
        st.caption(str(error))
        return
    keep = np.isin(found.rows, rows)
    shown = found.rows[keep][:MISLABELS_SHOWN]
    given, neighbours = ds.label_names(found.given[keep]), ds.label_names(found.suggested[keep])
    st.markdown(
        f"**Possible mislabels**: {int(keep.sum()):,} whose label their nearest neighbours disagree with "
        "(cleanlab's find_label_issues on a nearest-neighbour vote that never saw the row)"
    )
    if not len(shown):
        st.caption("None: every label agrees with its neighbours'.")
        return
    if ds.kind == "image":
        captions = [f"{g} -> {n}?" for g, n in zip(given, neighbours)]  # the tiles' font has no arrow
        show_rows(run, ds, shown, captions, columns=min(len(shown), 8), tile=tile, photo_tile=tile)
    else:
        extra = {"row": row_names(ds, shown), "label": given[: len(shown)], "neighbours say": neighbours[: len(shown)]}
        show_rows(run, ds, shown, extra=extra)
    st.caption(
        "Each shows its label → the label its neighbours hold: "
        + "; ".join(f"{n}: {g} → {s}" for n, g, s in zip(row_names(ds, shown), given, neighbours))
    )
