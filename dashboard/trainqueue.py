"""What the Train page shows while its run waits in the server's job queue (core.jobs): its place,
about how long, and Cancel. Once the job starts, the page's live view takes over."""

from __future__ import annotations

import streamlit as st

from core.figures import format_seconds
from core.job_limits import JobLimits
from core.runs import Run
from dashboard import state
from dashboard.components import run_label


def waiting_text(place: tuple[int, int], estimate: float | None) -> str:
    """'Queued: place 2 of 3, about 40 s'; without a timed epoch yet, the place alone says how far."""
    position, queued = place
    text = f"Queued: place {position} of {queued}"
    if estimate is None:
        return f"{text} ({position - 1} ahead of it; an estimate follows once a training has timed an epoch)"
    return f"{text}, about {format_seconds(estimate)}"


def limits_text(limits: JobLimits) -> str:
    jobs = "one training" if limits.max_jobs == 1 else f"{limits.max_jobs} trainings"
    return (
        f"This server trains {jobs} at a time, so that each gets its share of the cores and finishes "
        "sooner; yours starts by itself when a place frees. You may leave or refresh this page: its link "
        "brings you back to this run."
    )


def queued_panel(run: Run, place: tuple[int, int]) -> None:
    """The waiting run's head with Cancel (nothing has trained yet, so nothing is lost), its place and why."""
    registry = state.registry()
    head, button = st.columns([4, 1])
    summary = run.summary()
    head.markdown(f"**{run_label(summary)}**" + (f"  \n`{run.id}`" if summary.name else ""))
    button.button(
        "Cancel",
        key="train.cancel",
        on_click=registry.stop,
        args=(run.id,),
        width="stretch",
        help="Leave the queue. Nothing has been trained yet, so nothing is lost.",
    )
    st.progress(0.0, text=waiting_text(place, registry.wait_estimate(run.id)))
    st.info(limits_text(registry.limits), icon=":material/hourglass_top:")
