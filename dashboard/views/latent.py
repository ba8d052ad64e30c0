"""Latent space: the codes as a UMAP / PCA / t-SNE map coloured by label, cluster or error;
hover a point to see its picture; click one to see its nearest neighbours in the code (and, for
feature runs, in the backbone's features); select several (box or lasso) to see their images and
the mix of labels among them. The training replay below steps through the map of a fixed sample's
codes epoch by epoch (live while the run trains).

Below the map, the clusters themselves: a gallery of each (the original photos, for a folder) and
the file -> cluster table to download. For someone sorting a folder of photos, that is the product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core.evaluation import default_n_clusters
from core.figures import (
    cluster_names,
    label_mix_figure,
    mark_points,
    natural_sort,
    scatter_figure,
    selected_rows,
    with_sprites,
)
from core.methods import CLUSTER_METHODS, MAP_METHODS
from core.registry import label_of
from core.sorting import MAX_NAME, new_cluster
from dashboard import cluster_edits, links, state
from dashboard.cluster_edits import NEW, display_names, method_title
from dashboard.components import (
    IMAGE_TYPES,
    hover_pictures,
    is_feature_run,
    page_header,
    show_rows,
    uploaded_picture,
    user_errors,
)
from dashboard.exports import clusters_table, sorted_photos_zip
from dashboard.gallery import cluster_groups, file_captions, label_mix, square
from dashboard.links import CLUSTER_BOUNDS
from dashboard.neighbours import SPACES, Neighbours, nearest
from dashboard.replay import axis_ranges, next_epoch, replay_figure

SHOW_SELECTED = 60
SPLIT_WORDS = {
    "test": "the test split",
    "val": "the validation split",
    "train": "the training split",
    "all": "every row",
}
EXAMPLES_PER_GROUP = 8
GALLERY_COLUMNS = 8  # tiles in a row of a cluster's gallery (one row of photos per cluster)
TILE_SIZES = (48, 64, 96, 128, 160, 200)  # px per picture in the galleries (the size control)
DEFAULT_TILE = {True: 128, False: 64}  # photos (rows with files) / small built-in images
FOCUS = "latent.focus"  # (run id, split, position) of the point last clicked on the map
UPLOAD_KEY, UPLOAD_NEIGHBOURS = "latent.upload", 12  # an image of the user's own, and how many pictures like it
NEIGHBOUR_TILE = 96  # px at least per picture in the neighbours gallery
HOVER_VALUES = 8  # a table row's first values shown on hover
REPLAY_EPOCH, REPLAY_PLAYING = "latent.replay.epoch", "latent.replay.playing"
NAME_KEY = "latent.sort.name."  # + run, clusterer, k, cluster, edits' revision: the name boxes of the clusters
REPLAY_STEP = 0.8  # seconds per frame while playing (and between looks for new epochs while training)


def colourings(ds) -> list[str]:
    return (["label"] if ds.has_labels else []) + ["cluster", "error"]


def controls(ds, preferred: str | None = None) -> dict:
    if st.session_state.get("latent.colour", "cluster") not in colourings(
        ds
    ):  # a link's (or another run's) label colour
        links.notice([f"colour={st.session_state.pop('latent.colour')} (this dataset has no labels)"])
        links.write_url({"colour": None})
    a, b, c, d, *size = st.columns(5 if ds.kind == "image" else 4)
    methods = links.projections()
    method = a.selectbox(
        "Projection",
        methods,
        format_func=lambda m: label_of(MAP_METHODS, m),
        key="latent.method",
        help=" ".join(f"{p.label}: {p.help}" for p in MAP_METHODS.values()),
    )
    dims = b.radio("Dimensions", [2, 3], horizontal=True, format_func=lambda d: f"{d}-D", key="latent.dims")
    colour = c.selectbox(
        "Colour by",
        colourings(ds),
        format_func={"label": "label", "cluster": "cluster", "error": "reconstruction error"}.get,
        key="latent.colour",
    )
    settings = {"method": method, "dims": dims, "colour": colour, "params": {}, "tile": DEFAULT_TILE[bool(ds.files)]}
    if size:
        settings["tile"] = size[0].select_slider(
            "Picture size",
            TILE_SIZES,
            value=settings["tile"],
            format_func=lambda px: f"{px} px",
            key="latent.tile",
            help="Size of each picture in the galleries below and beside the map.",
        )
    methods = links.clusterers()
    settings["clusterer"] = d.selectbox(
        "Clusters",
        methods,
        index=methods.index(preferred) if preferred in methods else 0,
        format_func=method_title,
        key="latent.clusterer",
        help="Clusters are found in the full latent code, not in the 2-D map.",
    )
    default_k = min(max(default_n_clusters(ds), CLUSTER_BOUNDS[0]), CLUSTER_BOUNDS[1])
    settings["n_clusters"] = 10
    if state.teaching():  # the finer settings stay hidden in class; a link's number of clusters still counts
        settings["n_clusters"] = st.session_state["latent.k"] = int(st.session_state.get("latent.k", default_k))
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


def map_settings(settings: dict, default_k: int) -> None:
    """The expander of finer settings: number of clusters, UMAP's neighbours and minimum distance."""
    clusterer = CLUSTER_METHODS[settings["clusterer"]]
    with st.expander("Map and cluster settings"):
        e, f, g = st.columns(3)
        if not clusterer.chooses_own_cluster_count:
            settings["n_clusters"] = int(
                e.number_input("Number of clusters", *CLUSTER_BOUNDS, default_k, key="latent.k")
            )
        else:
            e.caption(f"{clusterer.label} finds the number of clusters itself; points it cannot place are 'noise'.")
        if MAP_METHODS[settings["method"]].neighbour_settings:
            settings["params"] = {
                "n_neighbors": int(
                    f.slider("UMAP neighbours", 5, 100, 15, key="latent.nn", help="Larger: more global structure.")
                ),
                "min_dist": float(
                    g.slider(
                        "UMAP min distance", 0.0, 0.99, 0.1, step=0.05, key="latent.md", help="Smaller: tighter clumps."
                    )
                ),
            }


def colour_values(run, split: str, ds, rows: np.ndarray, settings: dict) -> tuple[list | np.ndarray, bool, str]:
    if settings["colour"] == "label":
        return ds.label_names(ds.y[rows]), True, "label"
    if settings["colour"] == "cluster":
        edited = edited_clusters(run, split, ds, settings)
        return display_names(edited.clusters, edited.names), True, method_title(settings["clusterer"])
    return np.asarray(state.errors(run, split)), False, "error"


def edited_clusters(run, split: str, ds, settings: dict) -> cluster_edits.Grouping:
    """The clusters of the chosen clusterer, with the person's saved names, merges and moves where they apply."""
    method, k = settings["clusterer"], settings["n_clusters"]
    return cluster_edits.grouping(
        run.path, len(ds), state.rows(run, split), state.clusters(run, split, method, k), split, method, k
    )


def hover_texts(
    ds, rows: np.ndarray, colour: list | np.ndarray, categorical: bool, errors: np.ndarray | None
) -> list[str]:
    """What hovering a point says beside its picture: row, file name, label, cluster, error; for
    tables, the row's first values in their own units."""
    labels = ds.label_names(ds.y[rows]) if ds.has_labels else None
    files = file_captions(ds, rows) if ds.files else None
    values = None
    if ds.kind == "table":
        names = list(ds.feature_names) or [f"x{i}" for i in range(ds.x.shape[1])]
        shown = np.asarray(ds.to_display(ds.x[rows]))[:, :HOVER_VALUES]
        values = ["<br>".join(f"{name} {v:.4g}" for name, v in zip(names, line)) for line in shown]
    out = []
    for k, row in enumerate(rows):
        parts = [f"<b>row {int(row)}</b>"]
        if files is not None:
            parts.append(files[k])
        if labels is not None:
            parts.append(f"label {labels[k]}")
        if categorical and (labels is None or colour[k] != labels[k]):
            parts.append(str(colour[k]))
        if errors is not None:
            parts.append(f"error {errors[k]:.3g}")
        if values is not None:
            parts.append(values[k])
        out.append("<br>".join(parts))
    return out


def focused_position(run, split: str, n: int) -> int | None:
    """The position (in the split) of the point last clicked on this run's map, if any."""
    focus = st.session_state.get(FOCUS)
    if focus and focus[0] == run.id and focus[1] == split and 0 <= focus[2] < n:
        return int(focus[2])
    return None


def remember_click(map_key: str, run_id: str, split: str) -> None:
    """on_select: a single clicked point becomes the focus whose neighbours are shown. A box or lasso
    of many points leaves the focus alone (the map keeps its marks, so the selection stays)."""
    event = st.session_state.get(map_key) or {}
    picked = selected_rows((event.get("selection") or {}).get("points", []), [])
    if len(picked) == 1:
        st.session_state[FOCUS] = (run_id, split, int(picked[0]))


def forget_click() -> None:
    st.session_state.pop(FOCUS, None)


def neighbour_query(run, split: str, position: int) -> Neighbours:
    """The neighbour controls (how many, in which space) and the clicked point's neighbours."""
    spaces = ["code", "features"] if is_feature_run(run) else ["code"]
    st.subheader("Nearest neighbours")
    a, b, c = st.columns([3, 3, 2], vertical_alignment="bottom")
    k = a.slider("How many", 3, 48, 12, key="latent.neighbours")
    space = b.radio(
        "Nearest in",
        spaces,
        format_func=SPACES.get,
        horizontal=True,
        key="latent.space",
        help="Distances in the model's latent code"
        + (", or in the pretrained backbone's features it read." if len(spaces) > 1 else "."),
    )
    c.button("Clear", key="latent.clear_focus", on_click=forget_click, help="Forget the clicked point.")
    return nearest(state.neighbour_index(run, split, space), position, k)


def neighbours_panel(run, ds, rows: np.ndarray, found: Neighbours, clusters: list[str] | None, tile: int) -> None:
    """The clicked point and its neighbours: pictures with distances, then a table with labels and clusters."""
    order = np.concatenate([[found.query], found.positions])
    distances = np.concatenate([[0.0], found.distances])
    names = file_captions(ds, rows[order])
    labels = ds.label_names(ds.y[rows[order]]) if ds.has_labels else None
    table = {"": ["clicked"] + [f"#{i}" for i in range(1, len(order))], "row": rows[order].tolist()}
    if ds.files:
        table["file"] = names
    if labels is not None:
        table["label"] = labels
    if clusters is not None:
        table["cluster"] = [clusters[i] for i in order.tolist()]
    table["distance"] = np.round(distances, 4).tolist()
    st.caption(
        f"The clicked point (first) and the {len(found.positions)} nearest to it, nearest first; "
        "ringed on the map. Click another point, or a ring, to move."
    )
    if ds.kind == "image":
        tile = max(tile, NEIGHBOUR_TILE)  # the captions (distance and label) need the width
        captions = ["clicked"] + [
            (f"{labels[i]} · " if labels is not None else "") + f"{d:.2g}" for i, d in enumerate(distances) if i
        ]
        show_rows(run, ds, rows[order], captions, columns=max(2, 560 // (tile + 6)), tile=tile, photo_tile=tile)
        st.dataframe(table, hide_index=True, width="stretch", height=min(400, 36 * (len(order) + 1)))
    else:
        show_rows(run, ds, rows[order], extra=table)


def upload_neighbours(run, trained, rows: np.ndarray) -> tuple[Any, Any, np.ndarray] | None:
    """An image of the user's own: (its classification, the picture, the map positions of its
    nearest training pictures that are on this map), or None without one."""
    ds = trained.dataset
    if ds.kind != "image":
        return None
    with st.expander(
        "Find pictures like yours", icon=":material/image_search:", expanded=bool(st.session_state.get(UPLOAD_KEY))
    ):
        upload = st.file_uploader(
            "Your own image",
            type=IMAGE_TYPES,
            key=UPLOAD_KEY,
            help="Encoded by the model; its nearest training pictures in the code are shown and ringed on the map.",
        )
        picture = None if upload is None else uploaded_picture(upload)
    if picture is None:
        return None
    from core.evaluation import classify_images

    with st.spinner("Encoding your image…"):
        result = classify_images(trained, [picture], k=UPLOAD_NEIGHBOURS)[0]
    return result, picture, result.positions_on(rows)


def like_yours_panel(run, ds, result, picture, on_map: np.ndarray, tile: int) -> None:
    """Your picture, then its nearest training pictures with labels and distances, nearest first."""
    st.subheader("Pictures like yours")
    tile = max(tile, NEIGHBOUR_TILE)
    neighbour_rows = np.asarray([n.index for n in result.neighbors], dtype=np.int64)
    names = file_captions(ds, neighbour_rows) if ds.files else [n.label or f"#{n.index}" for n in result.neighbors]
    st.image(square(picture, tile), caption="yours", width=tile)
    show_rows(
        run,
        ds,
        neighbour_rows,
        [f"{name} · {n.distance:.2g}" for name, n in zip(names, result.neighbors)],
        columns=max(2, 560 // (tile + 6)),
        tile=tile,
        photo_tile=tile,
    )
    st.caption(
        f"The {len(neighbour_rows)} training pictures nearest to yours in the code"
        + (f", {len(on_map)} of them ringed on this map" if len(on_map) else " (none is on this split's map)")
        + (
            f"; it joins cluster {result.cluster}"
            + (f", mostly '{result.cluster_label}'" if result.cluster_label else "")
            + "."
            if result.cluster >= 0
            else "."
        )
    )


def selection_panel(run, ds, rows: np.ndarray, picked: np.ndarray, colour, tile: int) -> None:
    """Images (or table rows) of the selected points, and the mix of labels among them."""
    st.subheader(f"{len(picked):,} selected")
    labels = ds.label_names(ds.y[rows[picked]]) if ds.has_labels else None
    if labels is not None:
        st.plotly_chart(label_mix_figure(labels), width="stretch", key="latent.mix")
    shown = picked[:SHOW_SELECTED]
    captions = labels[: len(shown)] if labels is not None else [f"#{int(r)}" for r in rows[shown]]
    if len(picked) > len(shown):
        st.caption(f"Showing the first {len(shown)} of them.")
    if ds.files:
        captions = file_captions(ds, rows[shown])
    show_rows(
        run,
        ds,
        rows[shown],
        captions,
        columns=max(2, 560 // (tile + 6)),
        tile=tile,
        photo_tile=tile,
        extra={"row": rows[shown], "colour": [colour[i] for i in shown]} if ds.kind == "table" else None,
    )


def examples_panel(run, ds, rows: np.ndarray, colour, categorical: bool, tile: int) -> None:
    """Without a selection: a few samples of every colour group, so the map means something at a glance."""
    if not categorical:
        st.caption(
            "Hover a point to see its picture; click one to see its nearest neighbours; pick the box or lasso in "
            "the map's toolbar and drag to see many."
        )
        return
    colour = np.asarray([str(c) for c in colour], dtype=object)
    groups = natural_sort(set(colour.tolist()))[:12]
    st.caption(
        "Hover a point to see its picture; click one to see its nearest neighbours; pick the box or lasso in "
        "the map's toolbar and drag to see many. Meanwhile, a few of each colour:"
    )
    picked, captions = [], []
    for group in groups:
        members = np.flatnonzero(colour == group)[: EXAMPLES_PER_GROUP // 2 if ds.kind == "image" else 2]
        picked.extend(members.tolist())
        captions.extend([group] * len(members))
    picked = np.asarray(picked, dtype=np.int64)
    if ds.files:  # the file name first (a narrow tile cuts the end), then its colour group
        captions = [f"{name} · {group}" for group, name in zip(captions, file_captions(ds, rows[picked]))]
    per_row = EXAMPLES_PER_GROUP // 2 if tile <= 96 else 2
    show_rows(
        run,
        ds,
        rows[picked],
        captions,
        columns=per_row,
        tile=tile,
        photo_tile=tile,
        extra={"group": captions} if ds.kind == "table" else None,
    )


def replay_section(run, ds, settings: dict) -> None:
    """Training replay: a slider and a play button over the epochs' snapshot maps. A fragment, so
    playing (and following a live run) redraws this section alone; run_every only while either."""
    st.subheader("Training replay")
    live = state.is_running(run.id)
    playing = bool(st.session_state.get(REPLAY_PLAYING))
    st.fragment(replay_frames, run_every=REPLAY_STEP if playing or live else None)(run, ds, settings, live)


def replay_frames(run, ds, settings: dict, was_live: bool) -> None:
    live = state.is_running(run.id)
    if was_live and not live:
        # The fragment keeps the arguments and timer of the page run that made it: once training
        # ends, redraw the whole page, so the timer stops and the map above shows the last epoch.
        st.rerun(scope="app")
    replay, maps = state.replay(run, len(ds))
    for note in replay.notes:
        st.caption(f"Left out of the replay: {note}.")
    if not replay.epochs:
        st.info(
            "This run has no per-epoch snapshots (it was trained before Latentboard saved them), so its training "
            "cannot be replayed. Runs trained from now on can.",
            icon=":material/history_toggle_off:",
        )
        return
    epochs, playing, ended = replay.epochs, bool(st.session_state.get(REPLAY_PLAYING)), False
    shown = st.session_state.get(REPLAY_EPOCH)
    if playing:
        if not (live and shown == epochs[-1]):
            shown = next_epoch(epochs, shown)
        ended = shown == epochs[-1] and not live  # while training, the play waits at the newest epoch
        if ended:
            st.session_state[REPLAY_PLAYING] = playing = False
    elif shown not in epochs or (live and st.session_state.get("latent.replay.followed") == shown):
        shown = epochs[-1]  # the newest epoch, and keep following it while the run trains
    st.session_state[REPLAY_EPOCH] = shown
    st.session_state["latent.replay.followed"] = epochs[-1]
    a, b = st.columns([5, 1], vertical_alignment="bottom")
    if len(epochs) > 1:
        epoch = a.select_slider("Epoch", epochs, key=REPLAY_EPOCH, help="Epoch 0 is the model before training.")
    else:
        epoch = epochs[0]
        a.caption("One epoch so far; the slider appears with the second.")
    if b.button(
        "Pause" if playing else "Play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key="latent.replay.play",
        width="stretch",
        disabled=len(epochs) < 2,
    ):
        st.session_state[REPLAY_PLAYING] = not playing
        if not playing and epoch == epochs[-1]:
            st.session_state.pop(REPLAY_EPOCH, None)  # play from the start: the next frame is the first
        st.rerun()  # the whole page: the fragment's run_every changes with playing
    if ended:
        st.rerun()  # the last frame: a whole-page run, so the fragment loses its timer
    rows = replay.rows
    if ds.has_labels:
        colour, title = ds.label_names(ds.y[rows]), "label"
    else:
        colour, title = (
            cluster_names(state.replay_clusters(run, len(ds), settings["n_clusters"])),
            "k-means of the last epoch",
        )
    hover = [f"row {int(r)}<br>{c}" for r, c in zip(rows, colour)]
    fig = replay_figure(maps[epochs.index(epoch)], colour, hover, axis_ranges(maps), epoch, epochs[-1], title)
    st.plotly_chart(fig, key="latent.replay.map", width="stretch")
    st.caption(
        f"The codes of the same {len(rows):,} samples after every epoch"
        + (" (so far: the run is still training)" if live else "")
        + ", as PCA maps each turned to fit the one before, so points move rather than jump."
    )


def clusters_section(run, trained, split: str, settings: dict, picked: np.ndarray) -> None:
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
    if not state.teaching():
        downloads(trained, ds, split, method, k, stem, sorting)
    photos = bool(ds.files)
    for cluster, members in groups:
        shown = members[: GALLERY_COLUMNS if photos else 2 * GALLERY_COLUMNS]
        plain = "Noise (no cluster)" if cluster < 0 else f"Cluster {cluster}"
        title = f"**{edited.names[cluster]}** ({plain.lower()})" if cluster in edited.names else f"**{plain}**"
        mix = label_mix(ds.label_names(ds.y[rows[members]])) if ds.has_labels else ""
        heading, naming = st.columns([3, 1], vertical_alignment="bottom") if edited.editable else (st.container(), None)
        heading.markdown(
            f"{title} · {len(members):,} {things}"
            + (f" · {mix}" if mix else "")
            + (f" · showing {len(shown)}" if len(shown) < len(members) and ds.kind == "image" else "")
        )
        if naming is not None:
            key = f"{NAME_KEY}{run.id}.{method}.{k}.{cluster}.{edited.revision}"
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


def downloads(trained, ds, split: str, method: str, k: int, stem: str, sorting) -> None:
    """The sorted-photos zip (folders) and the file -> cluster table (CSV, Parquet), as edited; not in teaching mode."""
    if ds.files:
        st.download_button(
            "Download the photos sorted into folders (zip)",
            data=lambda: sorted_photos_zip(trained, method, k, sorting),
            file_name=f"{stem}-sorted.zip",
            mime="application/zip",
            icon=":material/folder_zip:",
            key="latent.sorted_zip",
            on_click="ignore",
            type="primary",
            help="One folder per cluster (named as you named it) holding the original files under their "
            "own names (same names renamed, never overwritten), plus clusters.csv; all rows.",
        )
    a, b, c = st.columns([1, 1, 2])
    a.download_button(
        "Download file → cluster (CSV)",
        data=lambda: clusters_table(trained, method, k, ".csv", sorting),
        file_name=f"{stem}.csv",
        mime="text/csv",
        icon=":material/download:",
        key="latent.clusters_csv",
        on_click="ignore",
        width="stretch",
    )
    b.download_button(
        "Download file → cluster (Parquet)",
        data=lambda: clusters_table(trained, method, k, ".parquet", sorting),
        file_name=f"{stem}.parquet",
        mime="application/octet-stream",
        icon=":material/download:",
        key="latent.clusters_parquet",
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
    run, ds, rows: np.ndarray, edited: cluster_edits.Grouping, settings: dict, picked: np.ndarray, things: str
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
                key="latent.sort.switch",
                on_click=switch_to,
                args=(other.method, other.n_clusters),
                help=f"{method_title(other.method)} with {other.n_clusters} clusters, and the split 'all rows'.",
            )
        b.button(
            "Undo all edits",
            key="latent.sort.undo_other",
            on_click=cluster_edits.undo_all,
            args=(run.path,),
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
        source = a.selectbox("Merge cluster", ids, format_func=title, key=f"latent.sort.merge_from.{edited.revision}")
        target = b.selectbox(
            "into", ids, index=min(1, len(ids) - 1), format_func=title, key=f"latent.sort.merge_into.{edited.revision}"
        )
        c.button(
            "Merge",
            key="latent.sort.merge",
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
            key=f"latent.sort.move_to.{edited.revision}",
            format_func=lambda c: "a new cluster" if c == NEW else title(c),
            disabled=not len(moving),
            help="Select points on the map with the box or lasso in its toolbar.",
        )
        b.button(
            "Move",
            key="latent.sort.move",
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
            key="latent.sort.undo",
            on_click=cluster_edits.undo_all,
            args=(run.path,),
            icon=":material/undo:",
            disabled=not (edited.sorting and edited.sorting.edited),
            width="stretch",
        )


def rename(path, n_rows: int, method: str, k: int, cluster: int, key: str) -> None:
    cluster_edits.edit(path, n_rows, method, k, lambda s: s.renamed(cluster, st.session_state.get(key, "")))


def switch_to(method: str, k: int) -> None:
    st.session_state["latent.clusterer"] = method
    st.session_state["latent.k"] = k
    st.session_state["latent.split"] = "all"


links.notice(links.read_url(links.map_params()))  # before the widgets: the split picker is the first
shown = page_header(
    "Latent space",
    "Each point is one sample's code, squeezed to 2-D or 3-D. Samples the model finds similar sit together.",
    "latent",
)
if shown is not None:
    run, trained, split = shown
    ds = trained.dataset
    # N2D is what the Photos preset was tuned for, and what `latentboard export` uses by default.
    settings = controls(ds, preferred="n2d" if is_feature_run(run) else None)
    rows = state.rows(run, split)
    linked = st.session_state.pop(links.LINK_POINT, None)
    if linked is not None:  # a link's clicked point: its neighbours show as if it had been clicked
        if linked < len(rows):
            st.session_state[FOCUS] = (run.id, split, int(linked))
        else:
            links.notice([f"point={linked} (this map has {len(rows):,} points)"])
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
            coords = state.projection(run, split, settings["method"], settings["dims"], settings["params"])
            if settings["colour"] == "cluster":
                status.write(f"Clustering the codes with {method_title(settings['clusterer'])}…")
            colour, categorical, colour_title = colour_values(run, split, ds, rows, settings)
            errors = state.errors(run, split) if settings["colour"] == "error" or len(rows) <= 20000 else None
        working.empty()
    if coords is not None:
        map_col, side = st.columns([3, 2], gap="medium")
        map_key = f"latent.map.{run.id}.{split}"
        focus = focused_position(run, split, len(rows)) if settings["dims"] == 2 else None
        links.write_url({"split": split, "point": focus})
        found = None
        hover = hover_texts(ds, rows, colour, categorical, errors)
        if focus is not None:
            with side, user_errors("Nearest neighbours"):
                found = neighbour_query(run, split, focus)
        liked = None
        if settings["dims"] == 2:
            with side, user_errors("Pictures like yours"):
                liked = upload_neighbours(run, trained, rows)
        with map_col:
            fig, trace_rows = scatter_figure(
                coords,
                colour,
                categorical=categorical,
                index=np.arange(len(rows)),
                hover=hover,
                colour_title=colour_title,
                title=f"{method_name} of the codes ({split}, coloured by {colour_title})",
                height=620,
            )
            if found is not None:
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
                st.plotly_chart(fig, key=f"latent.map3d.{run.id}.{split}", width="stretch")
                st.caption("Drag to turn the 3-D map; switch to 2-D to select points.")
                points = []
            hover_pictures()
        with side:
            picked = selected_rows(points, trace_rows)
            if found is not None:
                with st.spinner("Sorting into clusters…"):  # the clusters section below needs them too (cached)
                    edited = edited_clusters(run, split, ds, settings)
                    clusters = display_names(edited.clusters, edited.names)
                neighbours_panel(run, ds, rows, found, clusters, settings["tile"])
            if liked is not None:
                like_yours_panel(run, ds, *liked, settings["tile"])
            if len(picked) > 1:
                selection_panel(run, ds, rows, picked, colour, settings["tile"])
            elif found is None and liked is None:
                examples_panel(run, ds, rows, colour, categorical, settings["tile"])
        with user_errors("Training replay"):
            replay_section(run, ds, settings)
        with st.spinner("Sorting into clusters…"), user_errors("Clustering"):
            clusters_section(run, trained, split, settings, picked)
        state.write_sprites(run, split)  # after the map is on screen: the first hover fetches them
