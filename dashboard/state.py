"""What the pages share: the run store and job registry (one per runs dir, per server), the
session's chosen dataset and run, and caches around core's loaders.

A session follows exactly one run id, kept in `st.session_state` and mirrored into the URL
(`?run=ID`), so a refresh or a second tab re-attaches and two people training at once never see
each other's runs mixed up.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import streamlit as st

from core.data import DataSpec, load_dataset
from core.paths import default_runs_dir

if TYPE_CHECKING:
    from plotly.graph_objects import Figure

    from core.data import Dataset
    from core.evaluation.background import EvaluationJobs
    from core.group_count import GroupCount
    from core.jobs import Job, JobRegistry
    from core.live_progress import Seen
    from core.map_trust import MapTrust
    from core.runs import Run, RunStore
    from core.snapshots import Replay
    from core.sort_choice import SortChoice
    from core.trained import TrainedRun
    from dashboard.neighbours import Index

RUN_KEY = "run"  # the query parameter and session key holding the followed run id
SPEC_KEY = "data_spec"
SESSION_ID_KEY = "session_id"  # this browser session's id in the job queue (its per-session limit)
TEACH_KEY = "teach"  # the query parameter and session key of teaching mode (the sidebar toggle)


# --- server-wide resources -------------------------------------------------------------------------


def runs_dir() -> str:
    return str(default_runs_dir())


@st.cache_resource(show_spinner=False)
def _store(root: str) -> RunStore:
    from core.runs import RunStore

    return RunStore(Path(root))


@st.cache_resource(show_spinner=False)
def _registry(root: str) -> JobRegistry:
    from core.jobs import JobRegistry

    return JobRegistry(_store(root))


def store() -> RunStore:
    """The RunStore for LATENTBOARD_RUNS_DIR (or the default), shared by every session."""
    return _store(runs_dir())


def registry() -> JobRegistry:
    """The JobRegistry training runs in background threads; keyed by runs dir like the store."""
    return _registry(runs_dir())


@st.cache_resource(show_spinner=False)
def _evaluations(root: str) -> EvaluationJobs:
    from core.evaluation.background import EvaluationJobs

    return EvaluationJobs(queue=_registry(root))


def evaluations() -> EvaluationJobs:
    """The EvaluationJobs evaluating runs in background threads, one per server, waiting in the
    registry's queue like the trainings (keyed by runs dir like the registry)."""
    return _evaluations(runs_dir())


@st.cache_resource(show_spinner=False)
def start_umap_warm_up() -> threading.Thread | None:
    """Compile UMAP's numba code once per server, in the background, so the first map is quick."""
    try:
        from core.projections import warm_up_umap
    except ImportError:
        return None

    def low_priority_warm_up() -> None:
        try:  # Linux nices single threads: a quick demo started meanwhile gets the CPU first
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except (AttributeError, OSError):
            pass
        warm_up_umap()

    thread = threading.Thread(target=low_priority_warm_up, name="umap-warm-up", daemon=True)
    thread.start()
    return thread


# --- the session's dataset -------------------------------------------------------------------------


def data_spec() -> DataSpec:
    """The DataSpec chosen on the Data page; the embedded digits until the user picks another."""
    spec = st.session_state.get(SPEC_KEY)
    return spec if isinstance(spec, DataSpec) else DataSpec(source="digits")


def set_data_spec(spec: DataSpec) -> None:
    st.session_state[SPEC_KEY] = spec


@st.cache_resource(show_spinner=False, max_entries=4)
def _load_dataset(spec_json: str) -> Dataset:
    return load_dataset(DataSpec.from_dict(json.loads(spec_json)))


def dataset(spec: DataSpec) -> Dataset:
    """load_dataset, kept in memory per spec (shared read-only across sessions)."""
    return _load_dataset(json.dumps(spec.to_dict(), sort_keys=True))


# --- the session's run -----------------------------------------------------------------------------


def current_run_id() -> str | None:
    """The run this session follows: session state first, else `?run=` from the URL (a refresh)."""
    run_id = st.session_state.get(RUN_KEY)
    from_url = st.query_params.get(RUN_KEY)
    if run_id is None and from_url:
        run_id = from_url
        st.session_state[RUN_KEY] = run_id
        if SPEC_KEY not in st.session_state and run_exists(run_id):
            # A refresh re-attaches to the run: its dataset comes back too, or Start would train its
            # settings (a photo backbone, say) on the built-in digits.
            set_data_spec(open_run(run_id).config.data)
    if run_id is not None and not run_exists(run_id):
        if run_id == from_url:
            st.toast(
                f"This link's run '{str(run_id)[:40]}' was not found here; showing no run.", icon=":material/link_off:"
            )
        forget_run()
        return None
    if run_id is not None and from_url != run_id:
        st.query_params[RUN_KEY] = run_id  # navigation drops the query string; put it back
    return run_id


def set_current_run(run_id: str | None) -> None:
    if run_id is None:
        forget_run()
        return
    st.session_state[RUN_KEY] = run_id
    st.query_params[RUN_KEY] = run_id


def forget_run() -> None:
    st.session_state.pop(RUN_KEY, None)
    if RUN_KEY in st.query_params:
        del st.query_params[RUN_KEY]


def run_exists(run_id: str) -> bool:
    try:
        store().open(run_id)
    except Exception:
        return False
    return True


def open_run(run_id: str) -> Run:
    return store().open(run_id)


def run_stamp(run: Run) -> str:
    """The checkpoint's fingerprint (core.run_cache): changes whenever it is rewritten, so cached models refresh."""
    from core.run_cache import checkpoint_fingerprint

    try:
        return checkpoint_fingerprint(run)
    except OSError:
        return ""


@st.cache_resource(show_spinner=False, max_entries=3)
def _trained(root: str, run_id: str, stamp: str) -> TrainedRun:
    from core.trained import load_trained

    return load_trained(_store(root).open(run_id))


def trained(run: Run) -> TrainedRun:
    """core.trained.load_trained, cached per run and checkpoint version."""
    return _trained(runs_dir(), run.id, run_stamp(run))


def session_id() -> str:
    """This browser session's id, which the job queue counts its jobs by (SESSION_LIMIT).

    A refresh starts a new session and so a new id; jobs still re-attach by run id, and a
    refresh cannot queue more than the Train page allows (Start is off while its run waits).
    """
    return st.session_state.setdefault(SESSION_ID_KEY, uuid.uuid4().hex)


def job_for(run_id: str) -> Job | None:
    """The live job for a run started (or resumed) by this server, or None."""
    try:
        return registry().get(run_id)
    except Exception:
        return None


def is_running(run_id: str) -> bool:
    """core.jobs.is_training for a run id: a job of this server, or another process, trains it now."""
    from core.jobs import is_training

    try:
        status = open_run(run_id).status()
    except Exception:  # gone or damaged: nothing trains it (the page says why elsewhere)
        status = "damaged"
    return is_training(status, job_for(run_id))


def metrics(run: Run) -> Seen:
    """The run's metrics events and their version, read incrementally and once for every session
    watching it (core.live_progress, kept in the job registry): a live chart redrawn every second
    parses only the lines added since anyone's last redraw, and none when nothing was logged."""
    return registry().progress.read(run.metrics_path)


def charted_metrics(run: Run) -> Seen:
    """The events a live loss chart draws: `metrics` as it was at most CHART_EVERY seconds ago
    (core.live_progress), so a chart shared by the run's watchers is rebuilt that often at most."""
    return registry().progress.charted(run.metrics_path)


@st.cache_resource(show_spinner=False, max_entries=16)
def _loss_chart(path: str, version: tuple[int, int, int] | None, _events: tuple) -> Figure:
    from core.figures import loss_figure
    from core.live_progress import live_points

    return loss_figure(live_points(_events), title="Loss")


def loss_chart(run: Run, seen: Seen) -> Figure:
    """The live loss chart, built once per new metrics line and shared by every session watching the run
    (at most core.live_progress.LIVE_STEPS step points, so its size stops growing)."""
    return _loss_chart(str(run.metrics_path), seen.version, seen.events)


def teaching() -> bool:
    """Teaching mode (the sidebar toggle, or ?teach=1): advanced controls hidden, larger text."""
    return bool(st.session_state.get(TEACH_KEY))


# --- derived arrays, cached per run version ---------------------------------------------------------
# Streamlit's cache keys on the arguments, so each takes the run id and its checkpoint stamp; the
# heavy lifting (and the on-disk cache in the run folder) stays in core.run_cache / core.evaluation.


def rows(run: Run, split: str) -> np.ndarray:
    """Row indices of a split of the run's dataset."""
    return trained(run).splits.get(split)


@st.cache_data(show_spinner=False, max_entries=16)
def _codes(root: str, run_id: str, stamp: str, split: str) -> np.ndarray:
    from core.run_cache import run_codes

    return run_codes(_trained(root, run_id, stamp), split)


def codes(run: Run, split: str) -> np.ndarray:
    return _codes(runs_dir(), run.id, run_stamp(run), split)


@st.cache_data(show_spinner=False, max_entries=32)
def _projection(root: str, run_id: str, stamp: str, split: str, method: str, dims: int, params_json: str) -> np.ndarray:
    from core.run_cache import run_projection

    return run_projection(_trained(root, run_id, stamp), split, method, dims, random_state=0, **json.loads(params_json))


# project()'s defaults: left out of the key so the Evaluate page's map and this one share a cache file.
PROJECTION_DEFAULTS = {"n_neighbors": 15, "min_dist": 0.1}


def _params_key(params: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in params.items() if PROJECTION_DEFAULTS.get(k, object()) != v}, sort_keys=True)


def projection(run: Run, split: str, method: str, dims: int, params: dict[str, Any]) -> np.ndarray:
    return _projection(runs_dir(), run.id, run_stamp(run), split, method, dims, _params_key(params))


@st.cache_data(show_spinner=False, max_entries=8)
def _map_trust(root: str, run_id: str, stamp: str, split: str, method: str, dims: int, params_json: str) -> MapTrust:
    from core.map_trust import map_trust as judge

    coords = _projection(root, run_id, stamp, split, method, dims, params_json)
    return judge(_codes(root, run_id, stamp, split), coords, random_state=0)


def map_trust(run: Run, split: str, method: str, dims: int, params: dict[str, Any]) -> MapTrust:
    """How far to trust this map, point by point and as a whole (core.map_trust), for the map's own settings."""
    return _map_trust(runs_dir(), run.id, run_stamp(run), split, method, dims, _params_key(params))


@st.cache_data(show_spinner=False, max_entries=32)
def _clusters(
    root: str,
    run_id: str,
    stamp: str,
    split: str,
    method: str,
    n_clusters: int | None,
    _progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    from core.evaluation import run_clusters

    return run_clusters(_trained(root, run_id, stamp), split, method, n_clusters, random_state=0, progress=_progress)


def clusters(run: Run, split: str, method: str, n_clusters: int | None = None) -> np.ndarray:
    """Cluster labels of a split's codes or features (any pipeline, n2d included): the evaluation's own
    labels. A trained head (TEMI) shows its training steps in a progress bar while it trains."""
    from core.methods import CLUSTER_METHODS

    entry = CLUSTER_METHODS.get(method)
    if entry is None or not entry.trained_head:
        return _clusters(runs_dir(), run.id, run_stamp(run), split, method, n_clusters)
    bar = st.empty()  # filled only while the head trains: a cached result never calls it

    def progress(done: int, total: int) -> None:
        bar.progress(done / max(total, 1), text=f"Training the {entry.label}: step {done} of {total}")

    try:
        return _clusters(runs_dir(), run.id, run_stamp(run), split, method, n_clusters, progress)
    finally:
        bar.empty()


@st.cache_data(show_spinner=False, max_entries=16)
def _group_count(root: str, run_id: str, stamp: str, split: str) -> GroupCount | str:
    from core.errors import ConfigError
    from core.evaluation.run_evaluation import run_group_count

    try:
        return run_group_count(_trained(root, run_id, stamp), split, random_state=0)
    except ConfigError as error:  # too few rows: the reason, which the page shows instead
        return str(error)


def group_count(run: Run, split: str) -> GroupCount | str:
    """The estimated number of groups of a split (core.group_count, cached in the run), or why there is none."""
    return _group_count(runs_dir(), run.id, run_stamp(run), split)


def sort_choice(run: Run, split: str, n_clusters: int) -> SortChoice | str:
    """The clustering the run sorts by at `n_clusters` (core.sort_choice, chosen and cached in the run), or
    why it cannot be chosen."""
    from core.errors import ConfigError
    from core.evaluation.run_evaluation import run_sorted_by

    try:
        return run_sorted_by(_trained(runs_dir(), run.id, run_stamp(run)), split, n_clusters, random_state=0)
    except ConfigError as error:
        return str(error)


def sort_candidates(run: Run, split: str, n_clusters: int) -> tuple[str, ...]:
    """What sort_choice chooses among (nothing when it cannot choose)."""
    from core.errors import ConfigError
    from core.evaluation.run_evaluation import sort_candidates_of

    try:
        return sort_candidates_of(_trained(runs_dir(), run.id, run_stamp(run)), split, n_clusters, random_state=0)
    except ConfigError:
        return ()


def stored_sort_choice(run: Run, split: str, n_clusters: int) -> SortChoice | None:
    """sort_choice when it needs no work (already chosen, or nothing to choose from), else None."""
    from core.errors import ConfigError
    from core.evaluation.run_evaluation import stored_sorted_by

    try:
        return stored_sorted_by(_trained(runs_dir(), run.id, run_stamp(run)), split, n_clusters, random_state=0)
    except ConfigError:
        return None


def stored_group_count(run: Run, split: str) -> GroupCount | str | None:
    """group_count when it is ready (in the run folder), why there is none, or None while it is still to compute."""
    from core.errors import ConfigError
    from core.evaluation.run_evaluation import stored_group_count as stored

    try:
        return stored(_trained(runs_dir(), run.id, run_stamp(run)), split, random_state=0)
    except ConfigError as error:
        return str(error)


@st.cache_data(show_spinner=False, max_entries=16)
def _errors(root: str, run_id: str, stamp: str, split: str) -> np.ndarray:
    from core.evaluation import reconstruction_errors

    t = _trained(root, run_id, stamp)
    return reconstruction_errors(t.model, t.inputs[t.splits.get(split)])


def errors(run: Run, split: str) -> np.ndarray:
    """Per-sample reconstruction error of a split, in the split's row order."""
    return _errors(runs_dir(), run.id, run_stamp(run), split)


@st.cache_data(show_spinner=False, max_entries=64)
def _pictures(root: str, run_id: str, stamp: str, rows: tuple[int, ...], size: int) -> np.ndarray:
    from dashboard.gallery import row_pictures

    return row_pictures(_trained(root, run_id, stamp).dataset, list(rows), size)


def pictures(run: Run, rows: Sequence[int] | np.ndarray, size: int) -> np.ndarray:
    """Gallery pictures of dataset rows (thumbnails of the original files where there are files)."""
    return _pictures(runs_dir(), run.id, run_stamp(run), tuple(int(r) for r in rows), int(size))


@st.cache_data(show_spinner=False, max_entries=16)
def _nearest(root: str, run_id: str, stamp: str, rows: tuple[int, ...], k: int) -> tuple[np.ndarray, np.ndarray]:
    from core.evaluation.reconstruction import nearest_to_reconstruction

    t = _trained(root, run_id, stamp)
    return nearest_to_reconstruction(t.model, t.inputs, np.asarray(rows, dtype=np.int64), np.asarray(t.splits.train), k)


def nearest_to_reconstruction(run: Run, rows: Sequence[int] | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(training rows (n, k), distances): for a feature run, the photos nearest each rebuilt feature vector."""
    return _nearest(runs_dir(), run.id, run_stamp(run), tuple(int(r) for r in rows), int(k))


@st.cache_resource(show_spinner=False, max_entries=8)
def _neighbour_index(root: str, run_id: str, stamp: str, split: str, space: str) -> Index:
    from dashboard.neighbours import build_index

    t = _trained(root, run_id, stamp)
    if space == "features":  # a feature run's inputs are the backbone's features of every row
        return build_index(t.inputs[t.splits.get(split)].detach().cpu().numpy())
    return build_index(np.asarray(_codes(root, run_id, stamp, split)))


def neighbour_index(run: Run, split: str, space: str = "code") -> Index:
    """A nearest-neighbour index over a split's codes ('code') or backbone features ('features')."""
    return _neighbour_index(runs_dir(), run.id, run_stamp(run), split, space)


SPRITE_PHOTO_TILE = 112  # px per photo in the hover sheets (shown at sprites.DISPLAY)


def _sprite_source(run: Run, split: str) -> tuple[str, Callable[[np.ndarray], np.ndarray], int, int, bool]:
    """(sheet key, pictures(positions), count, tile, photo) for a split's hover pictures."""
    from dashboard.gallery import row_pictures
    from dashboard.sprites import sprite_key

    ds = trained(run).dataset
    split_rows = rows(run, split)
    photo = bool(ds.files)
    tile = SPRITE_PHOTO_TILE if photo else int(ds.to_display(ds.x[split_rows[:1]]).shape[1])

    def pictures(positions: np.ndarray) -> np.ndarray:
        return row_pictures(ds, split_rows[positions], tile)

    return sprite_key(runs_dir(), run.id, run_stamp(run), split, tile), pictures, len(split_rows), tile, photo


def sprite_meta(run: Run, split: str) -> dict[str, Any] | None:
    """The map's `layout.meta` entry for pictures on hover, or None for tables."""
    from dashboard.sprites import sprite_meta as meta

    if trained(run).dataset.kind != "image":
        return None
    key, _, count, tile, photo = _sprite_source(run, split)
    return meta(key, count, tile, photo=photo)


def write_sprites(run: Run, split: str) -> None:
    """The hover sheets of a split, drawn once per run version (after the map is on screen)."""
    from dashboard.sprites import ensure_sprites

    if trained(run).dataset.kind == "image":
        key, pictures, count, _, photo = _sprite_source(run, split)
        ensure_sprites(key, pictures, count, photo=photo)


# --- training replay: per-epoch snapshots, re-read as new epochs appear --------------------------


def replay_stamp(run: Run) -> tuple[tuple[int, int], ...]:
    """(epoch, mtime) of every snapshot file: grows while the run trains, changes when resume rewrites one."""
    from core.snapshots import snapshot_epochs, snapshot_path

    stamp = []
    for epoch in snapshot_epochs(run.path):
        try:
            stamp.append((epoch, snapshot_path(run.path, epoch).stat().st_mtime_ns))
        except OSError:  # deleted by a resume between listing and looking
            continue
    return tuple(stamp)


@st.cache_data(show_spinner=False, max_entries=8)
def _replay(path: str, stamp: tuple[tuple[int, int], ...], n_rows: int) -> tuple[Replay, list[np.ndarray]]:
    from core.snapshots import aligned_maps, read_snapshots

    replay = read_snapshots(path, n_rows)
    return replay, aligned_maps(replay.codes)


def replay(run: Run, n_rows: int) -> tuple[Replay, list[np.ndarray]]:
    """The run's readable snapshots (core.snapshots.Replay) and one aligned 2-D map per epoch."""
    return _replay(str(run.path), replay_stamp(run), n_rows)


@st.cache_data(show_spinner=False, max_entries=8)
def _replay_clusters(path: str, stamp: tuple[tuple[int, int], ...], n_rows: int, n_clusters: int) -> np.ndarray:
    from core.clusterers import clusterer

    codes = _replay(path, stamp, n_rows)[0].codes
    return clusterer("kmeans", n_clusters, random_state=0).fit_predict(codes[-1])


def replay_clusters(run: Run, n_rows: int, n_clusters: int) -> np.ndarray:
    """k-means of the latest snapshot's codes: one colour per point for every epoch, where there are no labels."""
    return _replay_clusters(str(run.path), replay_stamp(run), n_rows, n_clusters)
