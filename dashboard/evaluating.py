"""The Evaluate page's controls for its background evaluation: Cancel while it waits in the server's
queue, Stop while it runs (it ends after the current step and stores nothing: the last stored
numbers stay)."""

from __future__ import annotations

import streamlit as st

from core.evaluation.background import EvaluationJob
from dashboard import state

EVAL_ERROR = "eval.error"  # why the last Compute was refused (a session over the queue's limit)


def stop_evaluation(run_id: str, split: str) -> None:
    state.evaluations().stop(run_id, split)


def evaluation_controls(run_id: str, split: str, job: EvaluationJob) -> None:
    """Cancel (queued) or Stop (running), or a disabled 'Stopping…' once asked."""
    if job.slot is None:  # started without the queue: nothing to cancel it through
        return
    if job.slot.stop_event.is_set():
        st.button("Stopping…", key="eval.stopping", disabled=True)
        return
    queued = job.queued
    st.button(
        "Cancel" if queued else "Stop",
        key="eval.stop",
        icon=":material/stop:",
        on_click=stop_evaluation,
        args=(run_id, split),
        help="Leave the queue: nothing has been computed yet."
        if queued
        else "Ends after the current step; nothing is stored, the last stored numbers stay.",
    )
