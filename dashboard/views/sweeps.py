"""Sweeps: start a Ray Tune sweep from the current dataset and settings, watch its trials arrive.

The sweep runs as its own process (core.sweeps.jobs), started when its turn in the server's job
queue comes; this page only reads the sweep's folder and its trials' runs, so a refresh, a restart or
a second tab shows the same thing.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from core.sweeps import BUILTIN_SPACES, SweepStore, load_space, parse_space
from core.sweeps.jobs import queue_sweep, sweep_key, sweep_state
from core.sweeps.scoring import SCORE_TEXT
from core.sweeps.table import CHECK_NOTE, short_name, trial_records
from dashboard import pages, refresh, state
from dashboard.components import user_errors
from dashboard.sweeping import base_config, parallel_figure, stop
from dashboard.trainqueue import waiting_bar

SWEEP_KEY = "sweep"  # query parameter and session key of the sweep on show
LIVE_EVERY = 2.0
LIVE_STATES = ("created", "running")
CUSTOM = "custom (JSON)"


def sweeps() -> SweepStore:
    return SweepStore(state.runs_dir())


def start(space_name: str, custom: str, samples: int, concurrent: int) -> None:
    """Button callback: record and launch the sweep, then show it."""
    try:
        space = parse_space(json.loads(custom)) if space_name == CUSTOM else load_space(space_name)
        sweep = queue_sweep(
            state.registry(),
            sweeps(),
            base_config(),
            space,
            samples,
            max_concurrent=concurrent or None,
            session=state.session_id(),
        )
    except json.JSONDecodeError as error:
        st.session_state["sweeps.error"] = f"The custom space is not valid JSON: {error}."
        return
    except Exception as error:
        st.session_state["sweeps.error"] = str(error)
        return
    st.session_state[SWEEP_KEY] = sweep.id
    st.query_params[SWEEP_KEY] = sweep.id


st.title("Sweeps")
st.caption(
    f"Many runs over a search space on Ray Tune; the best is picked without labels by its {SCORE_TEXT}. "
    "Every trial is an ordinary run: the other pages open it as usual."
)
if "sweeps.error" in st.session_state:
    st.error(st.session_state.pop("sweeps.error"), icon=":material/error:")

with st.expander("Start a sweep", expanded=not sweeps().list()):
    base = base_config()
    st.write(
        f"Dataset **{base.data.source}**; every setting not in the space as on the Train page "
        f"({base.model.family}, code size {base.model.latent_dim}, {base.train.epochs} epochs)."
    )
    a, b, c = st.columns(3)
    space_name = a.selectbox("Search space", [*BUILTIN_SPACES, CUSTOM], key="sweeps.space")
    samples = b.number_input("Trials", 1, 200, 8, key="sweeps.samples")
    concurrent = c.number_input("At once (0 = one per core)", 0, 64, 0, key="sweeps.concurrent")
    shown = BUILTIN_SPACES.get(space_name, BUILTIN_SPACES["quick"])
    custom = st.text_area(
        "Space",
        json.dumps(shown, indent=1),
        height=180,
        key="sweeps.custom",
        disabled=space_name != CUSTOM,
        help="Setting names of the model and training settings; a list is a "
        'choice, {"grid": [...]} tries each, {"loguniform": [low, high]} a range.',
    )
    st.button(
        "Start sweep",
        type="primary",
        key="sweeps.start",
        icon=":material/play_arrow:",
        on_click=start,
        args=(space_name, custom, int(samples), int(concurrent)),
    )

records = sweeps().list()
if not records:
    st.info("No sweeps yet.", icon=":material/info:")
    st.stop()
ids = [r["id"] for r in records]
chosen = st.session_state.get(SWEEP_KEY) or st.query_params.get(SWEEP_KEY)
if chosen not in ids:
    chosen = ids[0]
labels = {r["id"]: f"{r['id']} · space {r.get('space_name', '')} · {r.get('samples', '?')} samples" for r in records}
sweep_id = st.selectbox("Sweep", ids, index=ids.index(chosen), format_func=labels.get, key="sweeps.pick")
st.session_state[SWEEP_KEY] = sweep_id
st.query_params[SWEEP_KEY] = sweep_id


def is_live(sweep_id: str) -> bool:
    try:
        return sweep_state(sweeps().open(sweep_id)) in LIVE_STATES
    except Exception:  # gone or damaged: the panel says so, once
        return False


def live(sweep_id: str, was_live: bool, every: float | None = None) -> None:
    """The sweep's state, trials and best run; a fragment redrawn every LIVE_EVERY seconds while the
    sweep runs, and once more as a whole page when it ends, so the timer stops."""
    with user_errors("Reading the sweep"):
        sweep = sweeps().open(sweep_id)
        record = sweep.record()
        now = sweep_state(sweep)
        if was_live and now not in LIVE_STATES:
            st.rerun(scope="app")
        if every is not None:
            refresh.follow_cadence(every, LIVE_EVERY)
        trials = sweep.trials()
        a, b, c = st.columns([2, 2, 1])
        a.metric("State", now)
        b.metric("Trials", f"{len(trials)} of {parse_space(record['space']).trials(int(record['samples']))}")
        if now in LIVE_STATES:
            place = state.registry().queue_place(sweep_key(sweep_id))
            c.button(
                "Cancel" if place else "Stop", key="sweeps.stop", icon=":material/stop:", on_click=stop, args=(sweep,)
            )
            if place is not None:
                waiting_bar(place, state.registry().wait_estimate(sweep_key(sweep_id)), what="sweep")
                return
        if record.get("message") and now != "running":
            st.warning(record["message"], icon=":material/warning:")
        if not trials:
            st.caption("Waiting for the first trial (Ray takes a few seconds to start)...")
            return
        rows = trial_records(trials)
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "score": st.column_config.NumberColumn(format="%.4g"),
                "acc*": st.column_config.NumberColumn(format="%.3f"),
                "nmi*": st.column_config.NumberColumn(format="%.3f"),
            },
        )
        if any(r["acc*"] is not None for r in rows):
            st.caption(CHECK_NOTE)
        settings = [short_name(k) for k in dict.fromkeys(k for t in trials for k in t.params)]
        figure = parallel_figure(rows, settings)
        if figure is not None:
            st.plotly_chart(figure, width="stretch", key="sweeps.parallel")
        best = sweep.best()
        if best is not None:
            st.success(f"Best so far: run **{best.run_id}**, score {best.score:.4g}.", icon=":material/trophy:")
            if st.button(
                "Open best run",
                key="sweeps.open_best",
                icon=":material/open_in_new:",
                help="Follow this run on every page, starting with its latent space.",
            ):
                state.set_current_run(best.run_id)
                pages.switch(pages.LATENT)


running = is_live(sweep_id)
every = refresh.live_every(LIVE_EVERY, running)
st.fragment(live, run_every=every)(sweep_id, running, every)
