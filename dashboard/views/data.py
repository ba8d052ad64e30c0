"""Data: pick a source (or upload one), see samples, class balance, shape and what cleaning did."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from core.config import SplitConfig
from core.data import SOURCES, DataSpec
from core.data.splits import split_sizes
from core.figures import class_balance_figure
from core.limits import describe_limits
from core.paths import default_data_dir
from dashboard import pages, state
from dashboard.components import show_samples, user_errors
from dashboard.links import DATA_BOUNDS
from dashboard.uploads import save_upload

if TYPE_CHECKING:
    from core.data import Dataset

PREVIEW_PER_CLASS = 4


def choose_spec(current: DataSpec) -> DataSpec | None:
    """The settings column: returns the DataSpec the widgets describe, or None while incomplete."""
    names = list(SOURCES)
    source = st.selectbox(
        "Source",
        names,
        index=names.index(current.source) if current.source in names else 0,
        key="data.source",
        help="digits is built in and loads instantly; the others read a file or a download cache.",
    )
    entry = SOURCES[source]
    st.caption(entry.help)
    same = current.source == source
    spec = DataSpec(source=source, seed=current.seed)

    if "label_column" in entry.settings:
        label = st.text_input(
            "Label column (optional)",
            value=(current.label_column or "") if same else "",
            key="data.label_column",
            help="Used only to colour maps and score clusters, never for training.",
        )
        missing = st.radio(
            "Rows with missing values",
            ["drop", "impute"],
            horizontal=True,
            index=0 if current.missing == "drop" else 1,
            key="data.missing",
        )
        spec = dataclasses.replace(spec, label_column=label.strip() or None, missing=missing)
    if "image_size" in entry.settings:
        size = st.number_input(
            "Resize images to (pixels)",
            *DATA_BOUNDS["image_size"],
            value=(current.image_size or 32) if same else 32,
            step=4,
            key="data.image_size",
        )
        colours = {"keep": None, "grayscale": True, "rgb": False}
        grey = st.selectbox(
            "Colour",
            list(colours),
            index=list(colours.values()).index(current.grayscale) if same else 0,
            key="data.grayscale",
        )
        spec = dataclasses.replace(spec, image_size=int(size), grayscale=colours[grey])
        st.caption(
            "Photos of things (birds, pets, products)? Press **Photos** on the Train page: a pretrained network reads "
            "each photo first, so they group by what they show. It also sets this size to 96 px, for the galleries."
        )
    limit = st.number_input(
        "Use at most this many samples (0 = all)",
        min_value=0,
        value=int(current.max_samples or 0) if same else 0,
        step=500,
        key=f"data.max.{source}",
        help="A stratified subsample, so every class keeps its share.",
    )
    spec = dataclasses.replace(spec, max_samples=int(limit) or None)

    if entry.needs_path:
        how = st.radio(
            "From",
            ["Upload a file", "A path on the server"],
            index=int(bool(same and current.path)),
            horizontal=True,
            key=f"data.how.{source}",
        )
        if how == "Upload a file":
            upload = st.file_uploader(
                f"Upload {entry.path_hint or 'a file'}",
                type=list(entry.uploads) or None,
                key=f"data.upload.{source}",
                help=describe_limits(),
            )
            if upload is None:
                st.caption("Uploads are kept under the data folder so a run can rebuild its dataset later.")
                return None
            path = None
            with user_errors("Saving the upload"):
                path = save_upload(upload.name, upload.getvalue())
            return None if path is None else dataclasses.replace(spec, path=str(path))
        path = st.text_input(
            f"Path to {entry.path_hint or 'the data'}",
            value=current.path if same and current.path else "",
            key=f"data.path.{source}",
        )
        return dataclasses.replace(spec, path=path.strip()) if path.strip() else None
    if entry.downloads:  # a cache folder the user may point elsewhere
        folder = st.text_input(
            "Data folder (download cache)",
            value=(current.path if same and current.path else str(default_data_dir())),
            key=f"data.dir.{source}",
        )
        download = st.checkbox(
            "Download if missing",
            value=False,
            key=f"data.download.{source}",
            help="Needs internet; otherwise point the data folder at a copy you already have.",
        )
        spec = dataclasses.replace(spec, path=folder.strip() or None, download=download)
    return spec


def preview_rows(y: np.ndarray | None, n: int) -> np.ndarray:
    """A few samples of every class (or the first rows when unlabelled), in class order."""
    if y is None:
        return np.arange(min(n, 40))
    rows = [np.flatnonzero(y == c)[:PREVIEW_PER_CLASS] for c in np.unique(y)[:25]]
    return np.concatenate(rows) if rows else np.arange(0)


def show_dataset(ds: Dataset) -> None:
    x = ds.x
    y = None if ds.y is None else ds.y.numpy()
    split = SplitConfig()
    n_train, n_val, n_test = split_sizes(len(ds), split.val_fraction, split.test_fraction)
    cols = st.columns(4)
    cols[0].metric("Samples", f"{len(ds):,}")
    cols[1].metric("Shape of one sample", " × ".join(str(s) for s in ds.input_shape))
    cols[2].metric("Classes", len(ds.classes) if ds.has_labels else "unlabelled")
    cols[3].metric(
        "Value range",
        f"{float(x.min()):.3g} to {float(x.max()):.3g}",
        help="Of the model's inputs: pixels scaled to [0, 1]; table columns standardised.",
    )
    st.caption(
        f"{ds.kind.capitalize()} data. Training uses {n_train:,} samples, validates on {n_val:,} and keeps "
        f"{n_test:,} aside for testing. Labels are never used for training, only to colour maps and score clusters."
    )
    if ds.notes:
        st.info(
            "**What loading did**\n\n" + "\n".join(f"- {note}" for note in ds.notes),
            icon=":material/cleaning_services:",
        )
    left, right = st.columns([3, 2]) if ds.has_labels else (st.container(), None)
    with left:
        st.subheader("Samples")
        rows = preview_rows(y, len(ds))
        captions = ds.label_names(y[rows]) if y is not None else [f"#{r}" for r in rows]
        show_samples(ds, x[rows], captions, columns=PREVIEW_PER_CLASS * 2, tile=56)
    if right is not None:
        with right:
            st.plotly_chart(class_balance_figure(ds.label_names()), width="stretch", key="data.balance")


st.title("Data")
st.markdown(
    "**Latentboard** trains an autoencoder without labels and shows what it learned. The built-in handwritten digits "
    "are ready below: go to **Train**, press **Start training** (the quick demo takes seconds), then look at the "
    "**Reconstructions** and the **Latent space** map. Or pick your own data here."
)
current = state.data_spec()
settings, preview = st.columns([1, 2.6], gap="large")
with settings:
    candidate = choose_spec(current)
with preview:
    if candidate is None:
        st.info(
            "Upload a file or type a path on the left to load it. Until then the Train page uses "
            f"**{current.source}**.",
            icon=":material/upload_file:",
        )
    else:
        loaded = None
        with st.spinner(f"Loading {candidate.source}…"), user_errors(f"Loading {candidate.source}"):
            loaded = state.dataset(candidate)
        if loaded is not None:
            state.set_data_spec(candidate)
            show_dataset(loaded)
            pages.link(pages.TRAIN, f"Train an autoencoder on {loaded.name}", icon=":material/arrow_forward:")
