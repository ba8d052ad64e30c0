"""What a page shows while its job (a training, an evaluation, a sweep) waits in the server's job
queue (core.jobs): its place, about how long, and Cancel. Once the job starts, the page's live view
takes over."""

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


def waiting_bar(place: tuple[int, int], estimate: float | None, what: str = "training") -> None:
    """The place in the queue as an empty progress bar, and why it waits."""
    st.progress(0.0, text=waiting_text(place, estimate))
    limits = state.registry().limits
    if what == "training":
        st.info(limits_text(limits), icon=":material/hourglass_top:")
    else:
        jobs = "one job" if limits.max_jobs == 1 else f"{limits.max_jobs} jobs"
        st.info(
            f"This server runs {jobs} (trainings, evaluations, sweeps) at a time, so that each gets its share "
            f"of the cores; this {what} starts by itself when a place frees.",
            icon=":material/hourglass_top:",
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
    waiting_bar(place, registry.wait_estimate(run.id))
