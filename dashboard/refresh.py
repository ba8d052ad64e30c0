"""How often a page watching a job redraws: slower while the server is busy, so the trainings go first.

A class watching its trainings: every open page's fragment reran its script each second and
resent its charts, and six of them starved six trainings on two cores. Here a watching page's
redraw interval grows with how busy the server is (its trainings queued or running per core, and
the load average per core, whichever is higher), up to SLOWEST seconds, and the page says so in a
caption. The redraw's thread is not niced below the trainings: Streamlit may run a Start click in
that same thread, and the training thread it starts would inherit the lower priority.

A fragment keeps the interval it was made with, so `follow_cadence` reruns the whole page once
when the interval should change; the steps are coarse, so that happens seldom.
"""

from __future__ import annotations

import os

import streamlit as st

from core.job_limits import server_cores
from dashboard import state

SLOWEST = 5.0  # seconds: a page still shows progress at least this often
STEPS = (1, 2, 3, 5)  # multiples of a page's own interval, so a busy server changes cadence seldom
SWAY = 1.25  # how far busyness may move before a page's interval follows it


def busyness(active_jobs: int, cores: int, load: float) -> float:
    """How many times over the cores are taken: jobs queued or running, or the load average, per core."""
    cores = max(cores, 1)
    return max(active_jobs / cores, load / cores)


def redraw_every(base: float, busy: float) -> float:
    """The interval for a page whose own is `base` seconds: `base` while busy <= 1, then the next step up."""
    wanted = next((step for step in STEPS if step >= busy), STEPS[-1])
    return max(base, min(base * wanted, SLOWEST))


def busy_note(every: float, base: float, active_jobs: int, load: float, cores: int) -> str | None:
    """Why a page refreshes slower than usual, or None when it does not."""
    if every <= base:
        return None
    jobs = f"{active_jobs} job{'s' if active_jobs != 1 else ''} (trainings, evaluations, sweeps) queued or running"
    return (
        f"Server busy: refreshing every {every:g} s, so that the trainings keep the cores "
        f"({jobs}, load {load:.1f} on {cores} core{'s' if cores != 1 else ''})."
    )


def server_load() -> tuple[int, float, int]:
    """(trainings queued or running here, 1-minute load average, cores this server may use)."""
    try:
        load = os.getloadavg()[0]
    except OSError:  # not on a Unix
        load = 0.0
    return len(state.registry().active()), load, server_cores()


def keeps(made_with: float, base: float, busy: float) -> bool:
    """Whether a fragment made with `made_with` seconds may keep it: busyness within a quarter of what
    would choose it, so a load average wavering at a step's edge does not rerun whole pages."""
    return redraw_every(base, busy / SWAY) <= made_with <= redraw_every(base, busy * SWAY)


def cadence(base: float, made_with: float | None = None) -> tuple[float, str | None]:
    """(seconds between redraws, why it is slower than `base` or None) for a watching page now; a
    fragment's own interval while `keeps` allows it."""
    active, load, cores = server_load()
    busy = busyness(active, cores, load)
    every = made_with if made_with is not None and keeps(made_with, base, busy) else redraw_every(base, busy)
    return every, busy_note(every, base, active, load, cores)


def follow_cadence(made_with: float, base: float) -> None:
    """Inside a live fragment: say why it redraws slowly when it does, and rerun the page once when the
    interval should change (a fragment keeps the one it was made with)."""
    every, note = cadence(base, made_with)
    if every != made_with:
        st.rerun(scope="app")
    if note:
        st.caption(note)


def live_every(base: float, live: bool) -> float | None:
    """The run_every for a fragment made now: None when nothing is live, else the current cadence."""
    return cadence(base)[0] if live else None
