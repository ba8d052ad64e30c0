"""Which view each side of the Compare page shows: the followed run's codes, another run's codes, an
epoch of the run's training replay, or the raw inputs; and the rows both maps draw."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from core.compare import CODES, EPOCH, RAW, RUN, RunData, View, check_same_rows, parse_view, view_vectors
from core.projections import project
from core.runs import Run
from core.snapshots import sample_rows
from dashboard import links, state
from dashboard.keys import COMPARE

DEFAULTS = {COMPARE.left: CODES, COMPARE.right: RAW}  # opened with nothing chosen: two maps at once
METHODS = {"pca": "PCA", "umap": "UMAP"}
MAX_ROWS = 5000  # rows both maps draw at most (a seeded sample beyond): raw inputs and neighbours stay quick


def compare_params() -> dict[str, links.UrlParam]:
    """?compare-left=codes&compare-right=run:ID&compare-map=umap (a view: codes, raw, epoch:N, run:ID)."""

    def view(raw: str) -> str:
        return parse_view(raw).text

    return {
        "compare-left": links.UrlParam(COMPARE.left, view),
        "compare-right": links.UrlParam(COMPARE.right, view),
        "compare-map": links.UrlParam(COMPARE.method, links.one_of(METHODS)),
    }


def view_labels(run: Run, n_rows: int) -> dict[str, str]:
    """Every view a side may show, link text -> label: this run's codes, raw inputs, each replay epoch,
    then every other run with a checkpoint (those on other data too: choosing one says why it cannot)."""
    labels = {CODES: "This run's codes", RAW: "Raw inputs (pixels or table values)"}
    replay, _ = state.replay(run, n_rows)
    labels.update({View(EPOCH, epoch=e).text: f"This run's codes at epoch {e}" for e in replay.epochs})
    for summary in state.store().list():
        if summary.id != run.id and state.open_run(summary.id).has_checkpoint:
            name = f" ({summary.name})" if summary.name else ""
            labels[View(RUN, run_id=summary.id).text] = f"Codes of run {summary.id}{name}, {summary.epochs_done} epochs"
    return labels


def pick_view(key: str, label: str, labels: dict[str, str], container: Any) -> View:
    """A side's select box; a link's view this run does not have is dropped with a notice."""
    current = st.session_state.get(key, DEFAULTS[key])
    if current not in labels:
        links.notice([f"{current[:40]} (this run has no such view)"])
        current = DEFAULTS[key]
    st.session_state[key] = current
    return parse_view(container.selectbox(label, list(labels), format_func=labels.get, key=key))


def compared_rows(run: Run, split: str, views: list[View]) -> tuple[np.ndarray, str]:
    """Dataset rows both maps draw, and what they are: the replay's sample when a side is an epoch
    (only those rows' codes were saved), else the split (a seeded sample of it beyond MAX_ROWS)."""
    if any(v.kind == EPOCH for v in views):
        rows = state.replay(run, len(state.trained(run).dataset))[0].rows
        return rows, f"the {len(rows):,} rows the training replay saved every epoch"
    rows = state.rows(run, split)
    if len(rows) > MAX_ROWS:
        rows = rows[sample_rows(len(rows), 0, MAX_ROWS)]
        return rows, f"a sample of {MAX_ROWS:,} rows of the {split} split"
    return rows, f"the {len(rows):,} rows of the {split} split"


def check_view(run: Run, view: View) -> None:
    """ConfigError when the view is another run on other data (core.compare.check_same_rows)."""
    if view.kind != RUN:
        return
    mine, theirs = state.trained(run), state.trained(state.open_run(view.run_id))
    check_same_rows(run_data(mine), run_data(theirs))


def run_data(trained: Any) -> RunData:
    ds = trained.dataset
    return RunData(trained.run.id, trained.config.data, len(ds), tuple(ds.files or ()))


@st.cache_data(show_spinner=False, max_entries=16)
def _vectors(root: str, run_id: str, stamp: str, view_text: str, rows: tuple[int, ...]) -> np.ndarray:
    del root, stamp  # in the key only: a new checkpoint or runs folder computes again
    view = parse_view(view_text)
    run = state.open_run(view.run_id if view.kind == RUN else run_id)
    epoch_codes = None
    if view.kind == EPOCH:
        replay, _ = state.replay(run, len(state.trained(run).dataset))
        epoch_codes = replay.codes[replay.epochs.index(view.epoch)]
    return view_vectors(state.trained(run), view, np.asarray(rows, dtype=np.int64), epoch_codes)


def vectors(run: Run, view: View, rows: np.ndarray) -> np.ndarray:
    """The view's representation of the rows (cached per run version)."""
    other = state.open_run(view.run_id) if view.kind == RUN else run
    stamp = state.run_stamp(run) + state.run_stamp(other)
    return _vectors(str(state.runs_dir()), run.id, stamp, view.text, tuple(int(r) for r in rows))


@st.cache_data(show_spinner=False, max_entries=16)
def view_map(vectors: np.ndarray, method: str) -> np.ndarray:
    """A 2-D map of a view (cached by its values, seeded)."""
    return project(vectors, method, 2, random_state=0)
