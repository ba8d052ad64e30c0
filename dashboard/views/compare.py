"""Compare: two maps of the same rows side by side (this run's codes, another run's on the same data,
an epoch of its training replay, or the raw inputs), linked: select in one and the same rows light up
in both; hover one and the row is ringed in the other. Below, the movers: rows whose neighbours changed most.

The page only draws its parts in order; each lives in dashboard.compare.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import links, state
from dashboard.compare.choice import (
    METHODS,
    check_view,
    compare_params,
    compared_rows,
    pick_view,
    vectors,
    view_labels,
    view_map,
)
from dashboard.compare.maps import linked_maps
from dashboard.compare.movers import movers_section
from dashboard.components import page_header, user_errors
from dashboard.keys import COMPARE

links.notice(links.read_url(compare_params()))
shown = page_header(
    "Compare",
    "Two views of the same rows side by side. Select points on one map (box, lasso or click) and the same rows "
    "are selected on both; hover a point and it is ringed on the other map.",
    "compare",
)
if shown is not None:
    run, trained, split = shown
    ds = trained.dataset
    labels = view_labels(run, len(ds))
    left_col, right_col, method_col = st.columns([2, 2, 1])
    views = [
        pick_view(COMPARE.left, "Left map", labels, left_col),
        pick_view(COMPARE.right, "Right map", labels, right_col),
    ]
    st.session_state.setdefault(COMPARE.method, "pca")
    method = method_col.selectbox("Drawn with", list(METHODS), format_func=METHODS.get, key=COMPARE.method)
    links.write_url({"compare-left": views[0].text, "compare-right": views[1].text, "compare-map": method})
    with user_errors("Comparing"):
        for view in views:
            check_view(run, view)
        rows, which = compared_rows(run, split, views)
        with st.spinner(f"Drawing both views of {len(rows):,} rows…"):
            reps = [vectors(run, view, rows) for view in views]
            titles = [f"{METHODS[method]} of {labels[v.text][0].lower()}{labels[v.text][1:]}" for v in views]
            maps = [(title, view_map(r, method)) for title, r in zip(titles, reps)]
        colour = ds.label_names(ds.y[rows]) if ds.has_labels else ["row"] * len(rows)
        hover = [f"row {int(r)}<br>label {c}" if ds.has_labels else f"row {int(r)}" for r, c in zip(rows, colour)]
        st.caption(f"Both maps draw {which}.")
        context = (run.id, split, views[0].text, views[1].text)
        sprites = state.sprite_meta(run, split) if np.array_equal(rows, state.rows(run, split)) else None
        picked = linked_maps(maps, colour, hover, context, sprites)
        if len(picked):
            st.caption(f"{len(picked):,} rows selected on both maps.")
        movers_section(run, ds, rows, reps[0], reps[1], context)
        if sprites:
            state.write_sprites(run, split)
