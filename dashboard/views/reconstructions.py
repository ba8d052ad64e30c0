"""Reconstructions: originals beside what the model rebuilds, worst first; interpolation; VAE samples.

A run on pretrained features rebuilds feature vectors, which are not pictures: there each photo
stands beside the training photos whose features lie nearest to what the model rebuilt, and the
tabs that decode codes into pictures (interpolation, prior samples) are left out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.evaluation.reconstruction import reconstruct
from core.figures import pair_tiles
from core.models import FAMILIES
from dashboard import state
from dashboard.components import image_grid, is_feature_run, page_header, show_samples, table_rows, user_errors
from dashboard.gallery import PHOTO_TILE, file_captions
from dashboard.modelops import interpolate, prior_samples

if TYPE_CHECKING:
    from core.runs import Run
    from core.trained import TrainedRun

NEAREST = 3  # training photos shown beside each photo of a feature run
ORDERS = {
    "worst": "Worst first (likely anomalies)",
    "best": "Best first",
    "data": "Dataset order",
    "random": "Random",
}


def order_rows(errors: np.ndarray, how: str, seed: int = 0) -> np.ndarray:
    if how == "worst":
        return np.argsort(-errors, kind="stable")
    if how == "best":
        return np.argsort(errors, kind="stable")
    if how == "random":
        return np.random.default_rng(seed).permutation(len(errors))
    return np.arange(len(errors))


def error_histogram(errors: np.ndarray, shown: np.ndarray) -> go.Figure:
    fig = go.Figure(go.Histogram(x=errors, nbinsx=60, marker_color="#4C78A8", name="all"))
    if len(shown):
        fig.add_vline(x=float(errors[shown].min()), line_dash="dot", line_color="#E45756")
        fig.add_vline(x=float(errors[shown].max()), line_dash="dot", line_color="#E45756")
    fig.update_layout(
        title="Reconstruction error (dotted: the range shown)",
        height=240,
        margin=dict(l=10, r=10, t=40, b=10),
        xaxis_title="mean squared error per sample",
        yaxis_title="samples",
        template="plotly_white",
        showlegend=False,
    )
    return fig


def pick_rows(run: Run, split: str, most: int, default: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order and count controls: (the split's rows, their errors, positions of the ones to show)."""
    rows = state.rows(run, split)
    errors = state.errors(run, split)
    a, b = st.columns([2, 1])
    how = a.radio("Order", list(ORDERS), format_func=ORDERS.get, horizontal=True, key="recon.order")
    count = b.slider("How many", step, most, default, step=step, key="recon.count")
    return rows, errors, order_rows(errors, how)[:count]


def pairs_section(run: Run, trained: TrainedRun, split: str) -> None:
    ds = trained.dataset
    rows, errors, picked = pick_rows(run, split, most=120, default=40, step=10)
    x = ds.x[rows[picked]]
    recon = reconstruct(trained.model, x)
    labels = ds.label_names(ds.y[rows[picked]]) if ds.has_labels else [""] * len(picked)
    if ds.kind == "image":
        st.caption(
            "Each tile: the original on top, the reconstruction below; the caption gives the label and the error."
        )
        tiles = pair_tiles(ds.to_display(x), ds.to_display(recon))
        captions = [f"{lab} · {err:.2g}" if lab else f"{err:.2g}" for lab, err in zip(labels, errors[picked])]
        image_grid(tiles, captions, columns=10, scale=max(1, 56 // tiles.shape[2]))
    else:
        extra = {"row": rows[picked], "error": errors[picked]}
        if ds.has_labels:
            extra["label"] = labels
        st.markdown("**Originals**")
        st.dataframe(table_rows(ds, ds.to_display(x), extra), hide_index=True, width="stretch")
        st.markdown("**Reconstructions**")
        st.dataframe(table_rows(ds, ds.to_display(recon), {"row": rows[picked]}), hide_index=True, width="stretch")
    st.plotly_chart(error_histogram(errors, picked), width="stretch", key="recon.hist")


def nearest_section(run: Run, trained: TrainedRun, split: str) -> None:
    """Feature runs: each photo, then the training photos nearest to its rebuilt feature vector."""
    ds = trained.dataset
    rows, errors, picked = pick_rows(run, split, most=60, default=12, step=4)
    photos = rows[picked]
    nearest, _ = state.nearest_to_reconstruction(run, photos, NEAREST)
    k = nearest.shape[1]
    order = np.concatenate([photos[:, None], nearest], axis=1).reshape(-1)  # photo, its matches, next photo, ...
    names = file_captions(ds, order)
    captions = []
    for i, name in enumerate(names):
        photo = photos[i // (k + 1)]
        if i % (k + 1) == 0:
            captions.append(f"{name} · {errors[picked[i // (k + 1)]]:.2g}")
        else:
            captions.append("= itself" if order[i] == photo else f"~ {name}")  # the tile font has no ≈
    if ds.has_labels:
        same = ds.y.numpy()[nearest[:, 0]] == ds.y.numpy()[photos]
        st.metric(
            "Nearest training photo shows the same label",
            f"{same.mean():.0%}",
            help="Of the photos shown: how often the training photo nearest to the rebuilt features "
            "has the photo's own label.",
        )
    st.caption(
        f"Each line: a photo (with the error of its rebuilt features), then the {k} training photos whose "
        "features lie nearest to what the model rebuilt; '= itself' when that is the photo itself."
    )
    pictures = state.pictures(run, order, PHOTO_TILE)
    half = (len(photos) + 1) // 2 * (k + 1)  # two columns of lines, so each photo's line stays together
    for column, part in zip(st.columns(2), (slice(0, half), slice(half, None))):
        with column:
            image_grid(pictures[part], captions[part], columns=k + 1, tile=PHOTO_TILE)
    st.plotly_chart(error_histogram(errors, picked), width="stretch", key="recon.hist")


def interpolation_section(run: Run, trained: TrainedRun, split: str) -> None:
    ds = trained.dataset
    rows = state.rows(run, split)
    y = ds.y[rows].numpy() if ds.has_labels else None
    first_other = int(np.flatnonzero(y != y[0])[0]) if y is not None and (y != y[0]).any() else min(1, len(rows) - 1)
    a, b, c = st.columns(3)
    i = a.number_input(f"Sample A (0–{len(rows) - 1} in the {split} split)", 0, len(rows) - 1, 0, key="recon.a")
    j = b.number_input("Sample B", 0, len(rows) - 1, first_other, key="recon.b")
    steps = c.slider("Steps", 3, 15, 9, key="recon.steps")
    decoded, t = interpolate(trained.model, ds.x[rows[i]], ds.x[rows[j]], steps)
    names = ds.label_names(ds.y[rows[[i, j]]]) if ds.has_labels else [f"#{i}", f"#{j}"]
    captions = [f"t={v:.2f}" for v in t]
    if ds.kind == "image":
        image_grid(
            np.concatenate([ds.to_display(ds.x[rows[[i]]]), ds.to_display(decoded), ds.to_display(ds.x[rows[[j]]])]),
            [f"A: {names[0]}", *captions, f"B: {names[1]}"],
            columns=steps + 2,
            tile=64,
        )
        st.caption("Outer tiles: the two originals. Between them: decoded codes from A's (t=0) to B's (t=1).")
    else:
        st.dataframe(table_rows(ds, ds.to_display(decoded), {"step": captions}), hide_index=True, width="stretch")


def prior_section(trained: TrainedRun) -> None:
    a, b = st.columns([1, 3])
    n = a.slider("Samples", 8, 64, 32, step=8, key="recon.prior_n")
    seed = st.session_state.setdefault("recon.prior_seed", 0)
    if a.button("Draw new ones", key="recon.prior_draw"):
        st.session_state["recon.prior_seed"] = seed = seed + 1
    with b:
        show_samples(trained.dataset, prior_samples(trained.model, n, seed), None, columns=16, tile=48)


def feature_run_page(run: Run, trained: TrainedRun, split: str) -> None:
    backbone = run.config.features.backbone
    st.info(
        f"This model reads **{backbone}** features of each photo, not its pixels, so what it rebuilds is a feature "
        "vector, not a picture. Below, each photo stands beside the training photos whose features lie nearest to "
        "its reconstruction: when they show the same thing, the code kept what matters.",
        icon=":material/info:",
    )
    with st.spinner("Reconstructing…"), user_errors("Reconstructing"):
        nearest_section(run, trained, split)
    st.caption(
        "Interpolation and samples are hidden for feature runs: decoding a code gives features, not a picture to show."
    )


def pixel_run_page(run: Run, trained: TrainedRun, split: str) -> None:
    tabs = ["Originals and reconstructions", "Interpolate"]
    variational = FAMILIES[run.config.model.family].variational
    if variational:
        tabs.append("Samples from the prior")
    parts = st.tabs(tabs)
    with parts[0], st.spinner("Reconstructing…"), user_errors("Reconstructing"):
        pairs_section(run, trained, split)
    with parts[1], user_errors("Interpolating"):
        st.caption(
            "Walk in a straight line through the latent space from one sample's code to another's and decode each step."
        )
        interpolation_section(run, trained, split)
    if variational:
        with parts[2], user_errors("Sampling"):
            st.caption("New samples: codes drawn from the prior N(0, I) and decoded.")
            prior_section(trained)


shown = page_header(
    "Reconstructions",
    "What the autoencoder rebuilds from its code. Samples it rebuilds worst are often the odd ones out.",
    "recon",
)
if shown is not None:
    run, trained, split = shown
    (feature_run_page if is_feature_run(run) else pixel_run_page)(run, trained, split)
