"""Evaluate: how good are the codes? Clustering and probe scores beside honest baselines, a
confusion matrix, your own image classified and placed on the map, and the HTML report."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from core.errors import LatentboardError
from core.evaluation.background import CANCELLED, STOPPED
from core.evaluation.result import EvaluationResult
from core.evaluation.tables import clustering_table, probes_table, quality_table
from core.figures import confusion_figure, scatter_figure, table_frame
from dashboard import pages, refresh, state
from dashboard.components import (
    IMAGE_TYPES,
    image_grid,
    is_feature_run,
    page_header,
    show_rows,
    uploaded_picture,
    user_errors,
)
from dashboard.evaluating import EVAL_ERROR, evaluation_controls
from dashboard.gallery import PHOTO_TILE, file_captions, square
from dashboard.trainqueue import waiting_bar

if TYPE_CHECKING:
    from core.runs import Run
    from core.trained import TrainedRun

LIVE_EVERY = 1.0  # seconds between redraws of a running evaluation


def headline(metrics: EvaluationResult, features: bool = False) -> None:
    """Three numbers a stakeholder reads first."""
    cols = st.columns(4)
    best = metrics.best_clustering()
    if best is not None:
        cols[0].metric(f"Cluster accuracy ({best[0]})", _fmt(best[1].acc))
        cols[1].metric("NMI", _fmt(best[1].nmi))
    probes = metrics.probes.held_out if metrics.probes else {}
    codes, raw = probes.get("codes") or {}, probes.get("raw") or {}
    if codes:
        key = "logistic" if "logistic" in codes else next(iter(codes))
        delta = None
        if key in raw and _num(raw[key]) > -1:
            delta = f"{_num(codes[key]) - _num(raw[key]):+.3f} vs raw"
        cols[2].metric(f"Probe accuracy ({key})", _fmt(codes[key]), delta=delta)
    rec = metrics.reconstruction
    if rec is not None and isinstance(
        rec.mse, (int, float)
    ):  # PSNR for pictures; feature runs (and tables) have only the MSE
        key, value = ("PSNR", rec.psnr) if isinstance(rec.psnr, (int, float)) else ("MSE", rec.mse)
        cols[3].metric(f"Reconstruction {key}" + (" (features)" if features else ""), _fmt(value))


def metric_tables(metrics: EvaluationResult, backbone: str | None = None) -> None:
    st.markdown("**Clustering the codes, beside the baselines**")
    st.caption(
        "acc: accuracy after matching clusters to labels (Hungarian); "
        "NMI and ARI: agreement with the labels (1 is perfect, "
        "0 is chance); silhouette: how well separated the clusters are. Baselines cluster the raw inputs or their PCA, "
        "without any autoencoder: the codes should beat them."
        + (
            f" This run reads {backbone} features: the feature baselines cluster those features directly, so the "
            "autoencoder earns its place only where its codes beat them, or match them in far fewer dimensions."
            if backbone
            else ""
        )
    )
    table = table_frame(clustering_table(metrics)).drop(columns="seconds", errors="ignore")
    if not table.empty:
        st.dataframe(table, width="stretch", column_config=_number_columns(table))
    probes = table_frame(probes_table(metrics))
    if not probes.empty and probes.notna().any().any():
        st.markdown("**Probes: how well a small classifier predicts the labels from each representation**")
        if metrics.probes and metrics.probes.protocol:
            st.caption(str(metrics.probes.protocol).capitalize() + ".")
        st.dataframe(probes, width="stretch", column_config=_number_columns(probes))
    if metrics.reconstruction is not None or metrics.map is not None:
        st.markdown("**Reconstruction and map**")
        frame = table_frame(quality_table(metrics)).dropna(axis=1, how="all")
        st.dataframe(frame, width="stretch", column_config=_number_columns(frame))
        st.caption(
            (
                "MSE compares the rebuilt features with the backbone's (standardised) features"
                if backbone
                else "MSE / PSNR / SSIM compare reconstructions with the originals"
            )
            + "; trustworthiness (0–1) says how faithfully the 2-D map keeps each sample's nearest neighbours."
        )
    details = [
        f"{metrics.n if metrics.n is not None else '?'} samples of the {metrics.split or ''} split",
        f"{metrics.n_clusters if metrics.n_clusters is not None else '?'} clusters",
    ]
    if isinstance(metrics.seconds, (int, float)):
        details.append(f"computed in {metrics.seconds:.0f} s")
    st.caption(" · ".join(details))


def _number_columns(frame: pd.DataFrame) -> dict:
    return {
        c: st.column_config.NumberColumn(format="%.3f")
        for c in frame.columns
        if pd.api.types.is_float_dtype(frame[c]) and c != "clusters"
    }


def _num(value: Any) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return -math.inf
    return value if math.isfinite(value) else -math.inf


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) and math.isfinite(value) else "–"


def confusion_section(run: Run, trained: TrainedRun, split: str, metrics: EvaluationResult) -> None:
    from core.evaluation import confusion

    ds = trained.dataset
    if not ds.has_labels:
        st.caption(
            "This dataset has no labels, so there is nothing to compare the clusters with. "
            "The clusters themselves, as galleries to look through and a table to download, "
            "are on the Latent space page."
        )
        pages.link(pages.LATENT, "See the clusters")
        return
    scored = metrics.clustering or {}
    methods = list(scored) or ["kmeans"]
    best = max(methods, key=lambda m: _num(getattr(scored.get(m), "acc", None)))
    method = st.selectbox(
        "Clusters from",
        methods,
        index=methods.index(best),
        key="eval.confusion_method",
        format_func=lambda m: f"{m} (best)" if m == best else m,
    )
    rows = state.rows(run, split)
    predicted = state.clusters(run, split, method, metrics.n_clusters)
    y = ds.y[rows].numpy()
    matrix, order = confusion(y, predicted)
    names = ds.label_names(np.unique(y))
    columns = ["noise" if c < 0 else str(c) for c in order]
    st.plotly_chart(
        confusion_figure(matrix, names, columns, title=f"{method} clusters vs labels ({split} split)"),
        width="stretch",
        key="eval.confusion",
    )
    if ds.files:  # a heatmap of counts says how many; a photo of each cluster says what
        examples = [int(np.flatnonzero(predicted == c)[0]) for c in order if c >= 0 and (predicted == c).any()]
        st.caption("A photo from each column's cluster, left to right:")
        image_grid(
            state.pictures(run, rows[examples], 64),
            [f"cluster {int(predicted[i])}" for i in examples],
            columns=max(1, len(examples)),
            tile=64,
        )


def classify_section(run: Run, trained: TrainedRun) -> None:
    from core.evaluation import classify_images

    ds = trained.dataset
    if ds.kind != "image":
        st.caption("Classifying your own file works for runs trained on images.")
        return
    upload = st.file_uploader(
        "Your own image",
        type=IMAGE_TYPES,
        key="eval.upload",
        help="It is resized and converted to match the dataset, encoded, and compared with the training codes.",
    )
    if upload is None:
        st.caption(
            "Upload a picture to see how the model reconstructs it, which cluster it joins, "
            "its likely label and its nearest neighbours."
        )
        return
    picture = uploaded_picture(upload)
    if picture is None:
        return
    with st.spinner("Encoding your image…"):
        result = classify_images(trained, [picture], k=5)[0]
    features = is_feature_run(run)
    a, b = st.columns([1, 2])
    with a:
        # A feature run rebuilds features, not a picture: core gives the training photo nearest to them instead.
        if features:  # the upload itself, not the small copy the dataset's size would make of it
            mine = square(picture, PHOTO_TILE)
            nearest = np.asarray(Image.fromarray(result.recon).convert("RGB").resize((PHOTO_TILE, PHOTO_TILE)))
            image_grid(np.stack([mine, nearest]), ["yours", "nearest photo"], columns=2, tile=PHOTO_TILE)
        else:
            image_grid(np.stack([result.input, result.recon]), ["yours", "reconstruction"], columns=2, tile=112)
        if features:
            st.caption(
                f"Right: the training photo whose {run.config.features.backbone} features lie nearest to what the "
                "model rebuilt from yours."
            )
    with b:
        st.metric(
            "Likely label", result.cluster_label or "–", help="The label most training images of its cluster carry."
        )
        unusual = _unusual(run, result.error)
        st.caption(
            f"Cluster {result.cluster} · {'feature ' if features else ''}reconstruction error {result.error:.4g}"
            + (" — higher than 99% of the training images: it looks unlike what the model learned." if unusual else "")
        )
        st.markdown("**Nearest neighbours in the training data**")
        neighbours = np.asarray([n.index for n in result.neighbors], dtype=np.int64)
        captions = [f"{n.label or '#' + str(n.index)} · {n.distance:.2g}" for n in result.neighbors]
        if ds.files:
            captions = [
                f"{name} · {n.distance:.2g}" for name, n in zip(file_captions(ds, neighbours), result.neighbors)
            ]
        show_rows(run, ds, neighbours, captions, columns=len(neighbours), tile=64)
    map_with_marker(run, trained, neighbours, "yours")


def _unusual(run: Run, error: float) -> bool:
    errors = state.errors(run, "train")
    return bool(len(errors)) and error > float(np.quantile(errors, 0.99))


def map_with_marker(run: Run, trained: TrainedRun, neighbours: np.ndarray, label: str) -> None:
    """The training split's UMAP map with the upload placed at the centre of its nearest neighbours."""
    rows = state.rows(run, "train")
    with st.spinner("Drawing the map…"):
        coords = state.projection(run, "train", "umap", 2, {})
    position = {int(r): i for i, r in enumerate(rows)}
    centre = coords[[position[int(n)] for n in neighbours if int(n) in position]].mean(axis=0)
    ds = trained.dataset
    colour = ds.label_names(ds.y[rows]) if ds.has_labels else ["sample"] * len(rows)
    fig, _ = scatter_figure(
        coords,
        colour,
        categorical=True,
        colour_title="label",
        title="Where your image lands (UMAP of the training codes)",
        highlight={"x": float(centre[0]), "y": float(centre[1]), "label": label},
        height=480,
    )
    st.plotly_chart(fig, width="stretch", key="eval.map")


def report_button(trained: TrainedRun) -> None:
    from core.report import render_report

    st.download_button(
        "Download the HTML report",
        data=lambda: render_report(trained).encode("utf-8"),
        file_name=f"{trained.run.id}-report.html",
        mime="text/html",
        icon=":material/description:",
        key="eval.report",
        on_click="ignore",
        type="primary",
        help="One self-contained file: settings, loss curves, reconstructions, the map and these scores.",
    )


def start_evaluation(trained: TrainedRun, split: str) -> None:
    """The Compute button's callback: one background evaluation per run and split (a second click joins
    it), queued with the server's other jobs; a session over its limit hears why."""
    try:
        state.evaluations().start(trained, split, session=state.session_id())
    except LatentboardError as error:
        st.session_state[EVAL_ERROR] = str(error)


def evaluation_progress(run: Run, split: str) -> None:
    """The running evaluation's step, ETA and finished parts, redrawn every LIVE_EVERY seconds in a
    fragment: the rest of the page (and every other page) stays usable meanwhile."""

    every = refresh.live_every(LIVE_EVERY, True)

    @st.fragment(run_every=every)
    def panel() -> None:
        job = state.evaluations().get(run.id, split)
        if job is None or job.done:
            st.rerun(scope="app")  # finished or failed: redraw the page from the stored result (or the error)
        refresh.follow_cadence(every, LIVE_EVERY)
        evaluation_controls(run.id, split, job)
        place = state.evaluations().queue_place(job)
        if place is not None:
            waiting_bar(place, state.evaluations().wait_estimate(job), what="evaluation")
            return
        event = job.latest
        if event is None:
            st.progress(0.0, text="Starting the evaluation…")
            return
        st.progress(event.fraction, text=event.line())
        partial = replace(event.evaluation, seconds=None)
        if partial.clustering:  # each part's table as soon as it is there, N2D first
            headline(partial, is_feature_run(run))
            metric_tables(partial, run.config.features.backbone)

    panel()


shown = page_header(
    "Evaluate",
    "Numbers that say how good the codes are, against baselines that use no autoencoder at all. "
    "Labels are used only here, for scoring.",
    "eval",
)
if shown is not None:
    run, trained, split = shown
    from core.evaluation import load_evaluation

    job = state.evaluations().get(run.id, split)
    busy = job is not None and not job.done
    metrics = None
    with user_errors("Reading the evaluation"):
        metrics = load_evaluation(run, split)
    a, b = st.columns([1, 3])
    label = "Evaluating…" if busy else "Recompute" if metrics else "Compute the evaluation"
    a.button(
        label,
        type="secondary" if metrics or busy else "primary",
        key="eval.compute",
        icon=":material/calculate:",
        on_click=start_evaluation,
        args=(trained, split),
        disabled=busy,
    )
    with b:
        report_button(trained)
    if EVAL_ERROR in st.session_state:
        st.error(st.session_state.pop(EVAL_ERROR), icon=":material/error:")
    failed = job.error if job is not None and not busy else None
    if failed in (CANCELLED, STOPPED):
        st.info(failed, icon=":material/stop_circle:")
        failed = None
    if failed:
        st.error(
            f"The evaluation failed: {failed}" + (" The numbers below are the last stored ones." if metrics else ""),
            icon=":material/error:",
        )
    if busy:
        evaluation_progress(run, split)
    elif metrics:
        headline(metrics, is_feature_run(run))
        left, right = st.columns([3, 2], gap="large")
        with left:
            metric_tables(metrics, run.config.features.backbone)
        with right, user_errors("Building the confusion matrix"):
            confusion_section(run, trained, split, metrics)
    elif not failed:
        st.info(
            "Not evaluated yet for this split: press **Compute the evaluation**. "
            "It runs in the background (N2D's numbers "
            "first, then the other clusterings, baselines and probes) and is stored in the run folder.",
            icon=":material/info:",
        )
    st.subheader("Classify your own image")
    with user_errors("Classifying"):
        classify_section(run, trained)
