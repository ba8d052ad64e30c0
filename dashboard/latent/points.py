"""What the Latent space page shows beside its map about points: the hover text, the clicked point
and its nearest neighbours, pictures like an upload of the user's own, the points selected with the
box or lasso, and (with nothing picked) a few examples of every colour."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from core.data import Dataset
from core.figures import label_mix_figure, natural_sort, selected_rows
from core.runs import Run
from dashboard import state
from dashboard.components import IMAGE_TYPES, is_feature_run, show_rows, uploaded_picture
from dashboard.gallery import a_few, file_captions, square
from dashboard.keys import LATENT
from dashboard.neighbours import SPACES, Neighbours, nearest

if TYPE_CHECKING:
    from PIL.Image import Image

    from core.evaluation import Classification
    from core.trained import TrainedRun

SHOW_SELECTED = 60
EXAMPLES_PER_GROUP = 8
UPLOAD_NEIGHBOURS = 12  # how many pictures like the user's own
NEIGHBOUR_TILE = 96  # px at least per picture in the neighbours gallery
HOVER_VALUES = 8  # a table row's first values shown on hover


def hover_texts(
    ds: Dataset, rows: np.ndarray, colour: list[str] | np.ndarray, categorical: bool, errors: np.ndarray | None
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


def focused_position(run: Run, split: str, n: int) -> int | None:
    """The position (in the split) of the point last clicked on this run's map, if any."""
    focus = st.session_state.get(LATENT.focus)
    if focus and focus[0] == run.id and focus[1] == split and 0 <= focus[2] < n:
        return int(focus[2])
    return None


def remember_click(map_key: str, run_id: str, split: str) -> None:
    """on_select: a single clicked point becomes the focus whose neighbours are shown. A box or lasso
    of many points leaves the focus alone (the map keeps its marks, so the selection stays)."""
    event = st.session_state.get(map_key) or {}
    picked = selected_rows((event.get("selection") or {}).get("points", []), [])
    if len(picked) == 1:
        st.session_state[LATENT.focus] = (run_id, split, int(picked[0]))


def forget_click() -> None:
    st.session_state.pop(LATENT.focus, None)


def neighbour_query(run: Run, split: str, position: int) -> Neighbours:
    """The neighbour controls (how many, in which space) and the clicked point's neighbours."""
    spaces = ["code", "features"] if is_feature_run(run) else ["code"]
    st.subheader("Nearest neighbours")
    a, b, c = st.columns([3, 3, 2], vertical_alignment="bottom")
    k = a.slider("How many", 3, 48, 12, key=LATENT.neighbours)
    space = b.radio(
        "Nearest in",
        spaces,
        format_func=SPACES.get,
        horizontal=True,
        key=LATENT.space,
        help="Distances in the model's latent code"
        + (", or in the pretrained backbone's features it read." if len(spaces) > 1 else "."),
    )
    c.button("Clear", key=LATENT.clear_focus, on_click=forget_click, help="Forget the clicked point.")
    return nearest(state.neighbour_index(run, split, space), position, k)


def neighbours_panel(
    run: Run,
    ds: Dataset,
    rows: np.ndarray,
    found: Neighbours,
    clusters: list[str] | None,
    tile: int,
    ringed: bool = True,
) -> None:
    """The clicked point and its neighbours: pictures with distances, then a table with labels and clusters.
    `ringed`: these are the neighbours ringed on the map (the map-trust colouring rings its own)."""
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
        f"The clicked point (first) and the {len(found.positions)} nearest to it, nearest first"
        + ("; ringed on the map" if ringed else "")
        + ". Click another point, or a ring, to move."
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


def upload_neighbours(
    run: Run, trained: TrainedRun, rows: np.ndarray
) -> tuple[Classification, Image, np.ndarray] | None:
    """An image of the user's own: (its classification, the picture, the map positions of its
    nearest training pictures that are on this map), or None without one."""
    ds = trained.dataset
    if ds.kind != "image":
        return None
    with st.expander(
        "Find pictures like yours", icon=":material/image_search:", expanded=bool(st.session_state.get(LATENT.upload))
    ):
        upload = st.file_uploader(
            "Your own image",
            type=IMAGE_TYPES,
            key=LATENT.upload,
            help="Encoded by the model; its nearest training pictures in the code are shown and ringed on the map.",
        )
        picture = None if upload is None else uploaded_picture(upload)
    if picture is None:
        return None
    from core.evaluation import classify_images

    with st.spinner("Encoding your image…"):
        result = classify_images(trained, [picture], k=UPLOAD_NEIGHBOURS)[0]
    return result, picture, result.positions_on(rows)


def like_yours_panel(
    run: Run, ds: Dataset, result: Classification, picture: Image, on_map: np.ndarray, tile: int
) -> None:
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


def selection_panel(
    run: Run, ds: Dataset, rows: np.ndarray, picked: np.ndarray, colour: list[str] | np.ndarray, tile: int
) -> None:
    """Images (or table rows) of the selected points, and the mix of labels among them."""
    st.subheader(f"{len(picked):,} selected")
    labels = ds.label_names(ds.y[rows[picked]]) if ds.has_labels else None
    if labels is not None:
        st.plotly_chart(label_mix_figure(labels), width="stretch", key=LATENT.mix)
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


def examples_panel(
    run: Run, ds: Dataset, rows: np.ndarray, colour: list[str] | np.ndarray, categorical: bool, tile: int
) -> None:
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
        members = a_few(np.flatnonzero(colour == group), EXAMPLES_PER_GROUP // 2 if ds.kind == "image" else 2)
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
