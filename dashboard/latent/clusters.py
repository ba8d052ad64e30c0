"""The Latent space page's clusters: a gallery of each (the original photos, for a folder), the edits
a person makes to them (names, merges, moving the map's selection; saved by core.sorting), and the
file -> cluster table and sorted photos to download. For someone sorting a folder of photos, that
is the product."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from core.data import Dataset
from core.export import DUPLICATES_FOLDER
from core.runs import Run
from core.sorting import MAX_NAME, Sorting, new_cluster
from dashboard import cluster_edits, links, state
from dashboard.cluster_edits import NEW, method_title
from dashboard.components import show_rows
from dashboard.exports import clusters_table, sorted_photos_zip
from dashboard.gallery import a_few, cluster_groups, file_captions, label_mix
from dashboard.keys import LATENT
from dashboard.latent.controls import edited_clusters
from dashboard.latent.duplicates import setting_aside
from dashboard.latent.names import name_suggestions, suggestion_button

if TYPE_CHECKING:
    from core.trained import TrainedRun

SPLIT_WORDS = {
    "test": "the test split",
    "val": "the validation split",
    "train": "the training split",
    "all": "every row",
}
GALLERY_COLUMNS = 8  # tiles in a row of a cluster's gallery (one row of photos per cluster)
TABLE_FORMATS = (  # the file -> cluster table's downloads: (suffix, label, MIME type, widget key)
    (".csv", "CSV", "text/csv", LATENT.clusters_csv),
    (".parquet", "Parquet", "application/octet-stream", LATENT.clusters_parquet),
)


def clusters_section(run: Run, trained: TrainedRun, split: str, settings: dict[str, Any], picked: np.ndarray) -> None:
    """Every cluster as a gallery (photos at full tile size, file names as captions), the edits a
    person makes to them (names, merges, moving the map's selection), and the file -> cluster table
    and sorted photos of all rows to download, both as edited."""
    ds = trained.dataset
    method, k = settings["clusterer"], settings["n_clusters"]
    name = method_title(method)
    rows = state.rows(run, split)
    edited = edited_clusters(run, split, ds, settings)
    groups = cluster_groups(edited.clusters)
    things = "photos" if ds.files else "samples"
    st.subheader("Clusters")
    st.caption(
        f"{len(rows):,} {things} ({SPLIT_WORDS.get(split, split)}) in {len(groups)} clusters by {name}, the clusterer "
        "chosen above"
        + (", as you edited them" if edited.sorting and edited.sorting.edited else "")
        + "; biggest first."
        + ("" if ds.has_labels else " No labels were used, none are needed.")
    )
    edit_controls(run, ds, rows, edited, settings, picked, things)
    sorting = edited.sorting
    stem = f"{run.id}-clusters-{method}" + ("-edited" if sorting else "")
    named = cluster_edits.spreading(run.path, len(ds))  # named examples decide the downloads, not these clusters
    if named is not None:
        sorting, stem = named, f"{run.id}-named-groups"
        st.caption(f"The downloads below sort the {things} into the groups you named above, not into these clusters.")
    if not state.teaching():
        downloads(trained, ds, split, method, k, stem, sorting)
    photos = bool(ds.files)
    suggestions = name_suggestions(trained, edited.clusters, rows)
    for cluster, members in groups:
        shown = a_few(members, GALLERY_COLUMNS if photos else 2 * GALLERY_COLUMNS)
        plain = "Noise (no cluster)" if cluster < 0 else f"Cluster {cluster}"
        title = f"**{edited.names[cluster]}** ({plain.lower()})" if cluster in edited.names else f"**{plain}**"
        mix = label_mix(ds.label_names(ds.y[rows[members]])) if ds.has_labels else ""
        suggestion = suggestions.get(cluster)
        offer = edited.editable and suggestion is not None and edited.names.get(cluster) != suggestion.name
        heading, suggesting, naming = st.container(), None, None
        if offer:
            heading, suggesting, naming = st.columns([3, 1, 1], vertical_alignment="bottom")
        elif edited.editable:
            heading, naming = st.columns([3, 1], vertical_alignment="bottom")
        heading.markdown(
            f"{title} · {len(members):,} {things}"
            + (f" · {mix}" if mix else "")
            + (f" · showing {len(shown)}" if len(shown) < len(members) and ds.kind == "image" else "")
            + (f" · ImageNet: {suggestion.line()}" if suggestion else "")
        )
        if suggesting is not None:
            ending = f"{run.id}.{method}.{k}.{cluster}.{edited.revision}"
            suggestion_button(suggesting, suggestion, run.path, len(ds), method, k, cluster, ending)
        if naming is not None:
            key = f"{LATENT.name}{run.id}.{method}.{k}.{cluster}.{edited.revision}"
            naming.text_input(
                f"Name of cluster {cluster}",
                value=edited.names.get(cluster, ""),
                key=key,
                max_chars=MAX_NAME,
                placeholder=f"Name cluster {cluster}",
                label_visibility="collapsed",
                on_change=rename,
                args=(run.path, len(ds), method, k, cluster, key),
            )
        if ds.kind != "image":
            continue
        captions = (
            file_captions(ds, rows[shown]) if photos else (ds.label_names(ds.y[rows[shown]]) if ds.has_labels else None)
        )
        show_rows(
            run,
            ds,
            rows[shown],
            captions,
            columns=len(shown) if photos else 2 * GALLERY_COLUMNS,
            tile=settings["tile"],
            photo_tile=settings["tile"],
        )


def downloads(
    trained: TrainedRun, ds: Dataset, split: str, method: str, k: int, stem: str, sorting: Sorting | None
) -> None:
    """The sorted-photos zip (folders) and the file -> cluster table (CSV, Parquet), as edited; not in teaching mode."""
    if ds.files:
        aside = setting_aside()  # read here, outside the click: the zip is built later, off the script run
        st.download_button(
            "Download the photos sorted into folders (zip)",
            data=lambda: sorted_photos_zip(trained, method, k, sorting, aside),
            file_name=f"{stem}-sorted.zip",
            mime="application/zip",
            icon=":material/folder_zip:",
            key=LATENT.sorted_zip,
            on_click="ignore",
            type="primary",
            help="One folder per cluster (named as you named it) holding the original files under their "
            "own names (same names renamed, never overwritten), plus clusters.csv; all rows"
            + (f"; near-duplicates but the one kept in {DUPLICATES_FOLDER}/ (see below)." if aside else "."),
        )
    a, b, c = st.columns([1, 1, 2])
    for column, (suffix, label, mime, key) in zip((a, b), TABLE_FORMATS):
        column.download_button(
            f"Download file → cluster ({label})",
            data=lambda suffix=suffix: clusters_table(trained, method, k, suffix, sorting),
            file_name=f"{stem}{suffix}",
            mime=mime,
            icon=":material/download:",
            key=key,
            on_click="ignore",
            width="stretch",
        )
    c.caption(
        "One line per "
        + ("file: its name, full path and cluster" if ds.files else "row: its index and cluster")
        + (" and the cluster's name" if sorting else "")
        + (", and its folder's label" if ds.has_labels else "")
        + ". The table covers all rows"
        + ("." if split == "all" else "; pick the split 'all rows' to see the very same clusters here.")
    )


def edit_controls(
    run: Run,
    ds: Dataset,
    rows: np.ndarray,
    edited: cluster_edits.Grouping,
    settings: dict[str, Any],
    picked: np.ndarray,
    things: str,
) -> None:
    """Merge two clusters, move the map's selection to a cluster (or a new one), undo everything;
    each saves to the run at once (core.sorting), so the downloads and the CLI export see it."""
    method, k = settings["clusterer"], settings["n_clusters"]
    if edited.note:
        st.info(edited.note, icon=":material/edit_note:")
    other = edited.other
    if other is not None and not edited.sorting:
        a, b, _ = st.columns([1, 1, 2])
        if other.method in links.clusterers():
            a.button(
                "Show the edited clusters",
                key=LATENT.switch,
                on_click=switch_to,
                args=(other.method, other.n_clusters),
                help=f"{method_title(other.method)} with {other.n_clusters} clusters, and the split 'all rows'.",
            )
        b.button(
            "Undo all edits",
            key=LATENT.undo_other,
            on_click=cluster_edits.undo_all,
            args=(run.path, len(ds)),
            icon=":material/undo:",
        )
    if not edited.editable:
        if not edited.note:
            st.caption("To name, merge or move clusters (and take them home that way), pick the split 'all rows'.")
        return
    ids = [cluster for cluster, _ in cluster_groups(edited.clusters)]
    title = lambda c: cluster_edits.title(c, edited.names)  # noqa: E731
    with st.container(border=True):
        st.markdown(
            "**Edit the clusters** · name one beside its gallery (the name of its folder in the zip), merge two, "
            "or move the points selected on the map "
            "(box or lasso). Edits are saved with the run; the downloads below and `latentboard export` use them."
        )
        a, b, c = st.columns([2, 2, 1], vertical_alignment="bottom")
        source = a.selectbox("Merge cluster", ids, format_func=title, key=f"{LATENT.merge_from}{edited.revision}")
        target = b.selectbox(
            "into", ids, index=min(1, len(ids) - 1), format_func=title, key=f"{LATENT.merge_into}{edited.revision}"
        )
        c.button(
            "Merge",
            key=LATENT.merge,
            on_click=cluster_edits.edit,
            args=(run.path, len(ds), method, k, lambda s: s.merged(source, target)),
            disabled=source == target,
            width="stretch",
            icon=":material/call_merge:",
        )
        a, b, c = st.columns([2, 2, 1], vertical_alignment="bottom")
        moving = rows[picked] if len(picked) else np.zeros(0, dtype=np.int64)
        what = (
            f"the {len(moving):,} selected {things[:-1] if len(moving) == 1 else things}"
            if len(moving)
            else "the points selected on the map"
        )
        where = a.selectbox(
            f"Move {what} to",
            [NEW] + ids,
            key=f"{LATENT.move_to}{edited.revision}",
            format_func=lambda c: "a new cluster" if c == NEW else title(c),
            disabled=not len(moving),
            help="Select points on the map with the box or lasso in its toolbar.",
        )
        b.button(
            "Move",
            key=LATENT.move,
            width="stretch",
            icon=":material/move_group:",
            disabled=not len(moving),
            on_click=cluster_edits.edit,
            args=(
                run.path,
                len(ds),
                method,
                k,
                lambda s: s.moved(moving, new_cluster(edited.clusters) if where == NEW else where),
            ),
        )
        c.button(
            "Undo all edits",
            key=LATENT.undo,
            on_click=cluster_edits.undo_all,
            args=(run.path, len(ds)),
            icon=":material/undo:",
            disabled=not (edited.sorting and edited.sorting.edited),
            width="stretch",
        )


def rename(path: Path, n_rows: int, method: str, k: int, cluster: int, key: str) -> None:
    cluster_edits.edit(path, n_rows, method, k, lambda s: s.renamed(cluster, st.session_state.get(key, "")))


def switch_to(method: str, k: int) -> None:
    st.session_state[LATENT.clusterer] = method
    st.session_state[LATENT.k] = k
    st.session_state[LATENT.split] = "all"
