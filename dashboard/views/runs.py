"""Runs: every run on disk with its settings and losses; compare curves; download or delete one."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from core.figures import compare_figure
from dashboard import pages, state
from dashboard.components import run_label, run_picker, user_errors
from dashboard.exports import codes_csv, codes_parquet

if TYPE_CHECKING:
    from core.runs import RunSummary


def runs_frame(summaries: list[RunSummary], configs: dict) -> pd.DataFrame:
    rows = []
    for s in summaries:
        config = configs.get(s.id)
        model = config.model if config else None
        train = config.train if config else None
        rows.append(
            {
                "id": s.id,
                "name": s.name,
                "status": s.status,
                "created": s.created[:19].replace("T", " "),
                "dataset": s.dataset,
                "family": s.family,
                "code size": model.latent_dim if model else None,
                "epochs": f"{s.epochs_done}/{s.epochs}",
                "batch": train.batch_size if train else None,
                "lr": train.lr if train else None,
                "train loss": s.train_loss,
                "val loss": s.val_loss,
                "message": s.message or "",
            }
        )
    return pd.DataFrame(rows)


def delete(run_id: str) -> None:
    try:
        state.store().delete(run_id)
    except Exception as error:
        st.session_state["runs.error"] = str(error)
        return
    if st.session_state.get(state.RUN_KEY) == run_id:
        state.forget_run()
    st.session_state["runs.deleted"] = run_id


st.title("Runs")
st.caption(f"Every training run in `{state.runs_dir()}`; they survive server restarts.")
if "runs.deleted" in st.session_state:
    st.success(f"Deleted run {st.session_state.pop('runs.deleted')}.", icon=":material/delete:")
if "runs.error" in st.session_state:
    st.error(st.session_state.pop("runs.error"), icon=":material/error:")

summaries = state.store().list()
if not summaries:
    st.info("No runs yet. Train one on the **Train** page.", icon=":material/info:")
    pages.link(pages.TRAIN, "Go to Train")
    st.stop()

configs = {}
for s in summaries:
    try:
        configs[s.id] = state.open_run(s.id).config
    except Exception:
        pass
st.dataframe(
    runs_frame(summaries, configs),
    hide_index=True,
    width="stretch",
    column_config={
        "train loss": st.column_config.NumberColumn(format="%.4g"),
        "val loss": st.column_config.NumberColumn(format="%.4g"),
        "lr": st.column_config.NumberColumn(format="%.0e"),
    },
)

st.subheader("Compare loss curves")
labels = {s.id: run_label(s) for s in summaries}
current = state.current_run_id()
default = [i for i in [current, *labels] if i in labels][:2]
a, b = st.columns([4, 1])
chosen = a.multiselect(
    "Runs", list(labels), default=list(dict.fromkeys(default)), format_func=labels.get, key="runs.compare"
)
which = b.radio(
    "Loss",
    ["val_loss", "train_loss"],
    format_func={"val_loss": "validation", "train_loss": "train"}.get,
    key="runs.which",
)
if chosen:
    curves = {}
    for run_id in chosen:
        with user_errors(f"Reading run {run_id}"):
            curves[labels[run_id]] = state.open_run(run_id).epoch_metrics()
    st.plotly_chart(compare_figure(curves, which=which), width="stretch", key="runs.curves")
else:
    st.caption("Pick two or more runs to see their curves on one chart.")

st.subheader("One run")
run = run_picker("runs", need_checkpoint=False)
if run is not None:
    a, b, c, d = st.columns(4)
    trained = None
    if run.has_checkpoint:
        with user_errors("Loading the run"):
            trained = state.trained(run)
    if trained is not None:
        a.download_button(
            "Checkpoint (.safetensors)",
            data=run.checkpoint_path.read_bytes(),
            file_name=f"{run.id}.safetensors",
            mime="application/octet-stream",
            icon=":material/download:",
            key="runs.ckpt",
            on_click="ignore",
        )
        b.download_button(
            "Codes (CSV)",
            data=lambda: codes_csv(trained),
            file_name=f"{run.id}-codes.csv",
            mime="text/csv",
            icon=":material/download:",
            key="runs.csv",
            on_click="ignore",
            help="Every row's latent code with its split, label and k-means cluster.",
        )
        c.download_button(
            "Codes (Parquet)",
            data=lambda: codes_parquet(trained),
            file_name=f"{run.id}-codes.parquet",
            mime="application/vnd.apache.parquet",
            icon=":material/download:",
            key="runs.parquet",
            on_click="ignore",
        )
    elif not run.has_checkpoint:
        a.caption("No checkpoint yet (it never finished an epoch).")
    with d.popover("Delete…", icon=":material/delete:"):
        st.write(f"Delete run **{run.id}** and everything in its folder? This cannot be undone.")
        st.button("Yes, delete it", type="primary", key="runs.delete", on_click=delete, args=(run.id,))
    with st.expander("Settings of this run"):
        st.json(run.config.to_dict())
