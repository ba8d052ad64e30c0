"""The Latent space page's training replay: the map of a fixed sample's codes, epoch by epoch, with a
slider and a play button; a fragment, live while the run trains (the figures: dashboard.replay)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.data import Dataset
from core.figures import cluster_names
from core.runs import Run
from dashboard import refresh, state
from dashboard.keys import LATENT
from dashboard.replay import axis_ranges, next_epoch, replay_figure

REPLAY_STEP = 0.8  # seconds per frame while playing (and between looks for new epochs while training)


def replay_section(run: Run, ds: Dataset, settings: dict[str, Any]) -> None:
    """Training replay: a slider and a play button over the epochs' snapshot maps. A fragment, so
    playing (and following a live run) redraws this section alone; run_every only while either."""
    st.subheader("Training replay")
    live = state.is_running(run.id)
    playing = bool(st.session_state.get(LATENT.replay_playing))
    every = REPLAY_STEP if playing else refresh.live_every(REPLAY_STEP, live)
    st.fragment(replay_frames, run_every=every)(run, ds, settings, live, every if live and not playing else None)


def replay_frames(
    run: Run, ds: Dataset, settings: dict[str, Any], was_live: bool, following: float | None = None
) -> None:
    """`following`: the interval this fragment follows a live run at (not playing), which a busy server slows."""
    live = state.is_running(run.id)
    if was_live and not live:
        # The fragment keeps the arguments and timer of the page run that made it: once training
        # ends, redraw the whole page, so the timer stops and the map above shows the last epoch.
        st.rerun(scope="app")
    if following is not None:
        refresh.follow_cadence(following, REPLAY_STEP)
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
    epochs, playing, ended = replay.epochs, bool(st.session_state.get(LATENT.replay_playing)), False
    shown = st.session_state.get(LATENT.replay_epoch)
    if playing:
        if not (live and shown == epochs[-1]):
            shown = next_epoch(epochs, shown)
        ended = shown == epochs[-1] and not live  # while training, the play waits at the newest epoch
        if ended:
            st.session_state[LATENT.replay_playing] = playing = False
    elif shown not in epochs or (live and st.session_state.get(LATENT.replay_followed) == shown):
        shown = epochs[-1]  # the newest epoch, and keep following it while the run trains
    st.session_state[LATENT.replay_epoch] = shown
    st.session_state[LATENT.replay_followed] = epochs[-1]
    a, b = st.columns([5, 1], vertical_alignment="bottom")
    if len(epochs) > 1:
        epoch = a.select_slider("Epoch", epochs, key=LATENT.replay_epoch, help="Epoch 0 is the model before training.")
    else:
        epoch = epochs[0]
        a.caption("One epoch so far; the slider appears with the second.")
    if b.button(
        "Pause" if playing else "Play",
        icon=":material/pause:" if playing else ":material/play_arrow:",
        key=LATENT.replay_play,
        width="stretch",
        disabled=len(epochs) < 2,
    ):
        st.session_state[LATENT.replay_playing] = not playing
        if not playing and epoch == epochs[-1]:
            st.session_state.pop(LATENT.replay_epoch, None)  # play from the start: the next frame is the first
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
    st.plotly_chart(fig, key=LATENT.replay_map, width="stretch")
    st.caption(
        f"The codes of the same {len(rows):,} samples after every epoch"
        + (" (so far: the run is still training)" if live else "")
        + ", as PCA maps each turned to fit the one before, so points move rather than jump."
    )
