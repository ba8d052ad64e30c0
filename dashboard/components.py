"""Widgets the pages share: error boxes, image grids, sample tables and the run picker."""

from __future__ import annotations

import io
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from core.errors import LatentboardError
from core.figures import compose_grid
from dashboard import links, pages, refresh, state
from dashboard.gallery import PHOTO_TILE

SPLITS = links.SPLITS  # the split picker offers what a link may carry
SPLIT_NAMES = {"test": "test", "val": "validation", "train": "train", "all": "all rows"}


@contextmanager
def user_errors(action: str = "") -> Iterator[None]:
    """Show a LatentboardError as a readable st.error; anything else too, with details tucked away."""
    try:
        yield
    except LatentboardError as error:
        st.error(str(error), icon=":material/error:")
    except Exception as error:  # a bug, but the page should still say what happened
        prefix = f"{action} failed: " if action else ""
        st.error(f"{prefix}{type(error).__name__}: {error}", icon=":material/error:")
        with st.expander("Details"):
            st.code("".join(traceback.format_exception(error)), language="text")


def image_grid(
    images: np.ndarray,
    captions: Sequence[str] | None = None,
    *,
    columns: int = 10,
    tile: int = 64,
    scale: int | None = None,
) -> None:
    """uint8 (N, H, W, C) images as one composed picture (fast even for hundreds of tiles)."""
    if len(images) == 0:
        st.caption("Nothing to show.")
        return
    picture = compose_grid(images, captions, columns=columns, tile=tile, scale=scale)
    st.image(picture, width=min(picture.width, 1400))


def table_rows(dataset: Any, values: np.ndarray, extra: dict[str, Sequence[Any]] | None = None) -> pd.DataFrame:
    """Table rows in original units with the dataset's feature names, plus extra leading columns."""
    names = list(dataset.feature_names) or [f"x{i}" for i in range(values.shape[1])]
    frame = pd.DataFrame(np.asarray(values), columns=names[: values.shape[1]])
    for i, (column, data) in enumerate((extra or {}).items()):
        frame.insert(i, column, list(data))
    return frame


def show_samples(
    dataset: Any,
    x: Any,
    captions: Sequence[str] | None = None,
    *,
    columns: int = 10,
    tile: int = 64,
    extra: dict[str, Sequence[Any]] | None = None,
) -> None:
    """Images as a grid with captions, or table rows as a dataframe."""
    shown = dataset.to_display(x)
    if dataset.kind == "image":
        image_grid(shown, captions, columns=columns, tile=tile)
    else:
        extra = dict(extra or {})
        if captions is not None and not extra:
            extra = {"label": captions}
        st.dataframe(table_rows(dataset, shown, extra), hide_index=True, width="stretch")


def show_rows(
    run: Any,
    dataset: Any,
    rows: Sequence[int] | np.ndarray,
    captions: Sequence[str] | None = None,
    *,
    columns: int = 10,
    tile: int = 64,
    extra: dict[str, Sequence[Any]] | None = None,
    photo_tile: int | None = None,
) -> None:
    """Dataset rows as show_samples draws them, except that photos (rows with files) show the
    original file at `photo_tile` px (default: PHOTO_TILE at least), whatever size the model read them at."""
    rows = np.asarray(rows, dtype=np.int64)
    if dataset.kind == "image" and dataset.files:
        size = photo_tile or max(tile, PHOTO_TILE)
        image_grid(state.pictures(run, rows, size), captions, columns=columns, tile=size)
    else:
        show_samples(dataset, dataset.x[rows], captions, columns=columns, tile=tile, extra=extra)


HOVER_SCRIPT = Path(__file__).with_name("hover.js")


def hover_pictures() -> None:
    """Pictures on hover for every plotly map whose layout.meta names sprite sheets (see hover.js).
    The script runs in the page itself (not an iframe) and installs itself once per browser tab."""
    st.html(f"<script>{HOVER_SCRIPT.read_text()}</script>", unsafe_allow_javascript=True)


def is_feature_run(run: Any) -> bool:
    """A run whose model reads a pretrained backbone's features, not the pixels the pages show."""
    return bool(run.config.features.backbone)


def no_runs_yet() -> None:
    st.info(
        "No trained runs yet. Train one on the **Train** page (the quick demo takes under a minute).",
        icon=":material/info:",
    )
    pages.link(pages.TRAIN, "Go to Train")


def run_label(summary: Any) -> str:
    name = summary.name or summary.id
    epochs = f"{summary.epochs_done}/{summary.epochs} ep"
    return f"{name} · {summary.dataset} · {summary.family} · {epochs} · {summary.status}"


def run_picker(key: str, *, label: str = "Run", need_checkpoint: bool = True, container: Any = st) -> Any | None:
    """Select box over the runs on disk, defaulting to the run this session follows.

    Picking a run makes it the session's run (so other pages follow it too); merely showing the
    newest run to a session that follows none does not. Returns the opened Run, or None (with a
    hint) when there is nothing to pick.
    """
    try:
        summaries = state.store().list()
    except Exception as error:  # a broken runs dir should not take the page down
        st.error(f"Could not list the runs in {state.runs_dir()}: {error}")
        return None
    if need_checkpoint:
        waiting = _followed_run_before_first_epoch([s.id for s in summaries])
        summaries = [s for s in summaries if _has_checkpoint(s.id)]
        if waiting is not None:
            first_epoch_note(waiting)
            return None
    if not summaries:
        no_runs_yet()
        return None
    ids = [s.id for s in summaries]
    labels = {s.id: run_label(s) for s in summaries}
    current = state.current_run_id()
    widget_key = f"{key}.run_picker"
    if st.session_state.get(widget_key) not in ids:
        st.session_state[widget_key] = current if current in ids else ids[0]
    chosen = container.selectbox(
        label,
        ids,
        format_func=labels.get,
        key=widget_key,
        on_change=lambda: state.set_current_run(st.session_state[widget_key]),
    )
    with user_errors(f"Opening run {chosen}"):  # a damaged run says so; the page stays up
        return state.open_run(chosen)
    return None


FIRST_EPOCH_POLL = 0.5  # seconds between looks for the followed run's first checkpoint


def _followed_run_before_first_epoch(ids: list[str]) -> str | None:
    """The run this session follows, when it is training and has no checkpoint yet: the page
    waits for it rather than showing another run, or 'no trained runs yet'."""
    current = state.current_run_id()
    if current in ids and not _has_checkpoint(current) and state.is_running(current):
        return current
    return None


def first_epoch_note(run_id: str) -> None:
    """Says the run is on its first epoch, and reruns the page the moment its checkpoint lands."""
    st.info(
        f"Your run **{run_id}** is training its first epoch; this page shows it as soon as that epoch is done.",
        icon=":material/hourglass_top:",
    )

    every = refresh.live_every(FIRST_EPOCH_POLL, True)

    @st.fragment(run_every=every)
    def poll() -> None:
        if _has_checkpoint(run_id) or not state.is_running(run_id):
            st.rerun(scope="app")
        refresh.follow_cadence(every, FIRST_EPOCH_POLL)

    poll()


def _has_checkpoint(run_id: str) -> bool:
    try:
        return bool(state.open_run(run_id).has_checkpoint)
    except Exception:
        return False


def split_picker(key: str, *, container: Any = st, default: str = "test") -> str:
    return container.selectbox(
        "Split", SPLITS, index=SPLITS.index(default), format_func=SPLIT_NAMES.get, key=f"{key}.split"
    )


def page_header(title: str, caption: str, key: str) -> tuple[Any, Any, str] | None:
    """Title, caption, run and split pickers, then the loaded run: (run, trained, split), or None
    when there is no run to show (the reason is already on the page)."""
    st.title(title)
    st.caption(caption)
    bar = st.columns([3, 1])
    run = run_picker(key, container=bar[0])
    if run is None:
        return None
    # Sorting a folder of your own photos is about every photo, not a held-out fifth of them.
    split = split_picker(key, container=bar[1], default="all" if run.config.data.source == "folder" else "test")
    trained = trained_or_error(run)
    return None if trained is None else (run, trained, split)


def trained_or_error(run: Any) -> Any | None:
    """load_trained for the run (cached), or None after showing why it cannot be loaded."""
    with st.spinner("Loading the model and its data…"):
        with user_errors("Loading the run"):
            trained = state.trained(run)
            say_once(trained.notes)
            return trained
    return None


NOTES_SAID = "components.notes_said"  # the notes this browser session has been shown


def say_once(notes: Sequence[str]) -> None:
    """Each note (a damaged replay snapshot, a run from before checksums) once per session, not on every rerun."""
    said = st.session_state.setdefault(NOTES_SAID, set())
    for note in notes:
        if note not in said:
            said.add(note)
            st.warning(note, icon=":material/warning:")


def sidebar_status() -> None:
    """Which run this session follows, so moving between pages never loses it."""
    run_id = state.current_run_id()
    if run_id is None:
        return
    try:
        summary = state.open_run(run_id).summary()
    except Exception:
        return
    live = state.is_running(run_id)
    icon = (
        ":material/autorenew:"
        if live
        else ":material/check_circle:"
        if summary.status == "finished"
        else ":material/pause_circle:"
    )
    st.sidebar.caption(
        f"{icon} Your run: **{summary.name or summary.id}** · {summary.epochs_done}/{summary.epochs} epochs · "
        f"{'training' if live else summary.status}"
    )


def copy_link(container: Any, page_path: str) -> None:
    """The link to this view (page and settings), in a code box whose copy button puts it on the clipboard."""
    with container:
        st.caption(":material/link: **Copy link** to this view (the button at its right copies it)")
        st.code(links.link_to(page_path), language=None, wrap_lines=True)


IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "gif", "webp", "tif", "tiff"]


def uploaded_picture(upload: Any) -> Any | None:
    """The decoded picture of an st.file_uploader file, or None after saying why it cannot be read."""
    from PIL import Image

    try:
        picture = Image.open(io.BytesIO(upload.getvalue()))
        picture.load()
        return picture
    except Exception as error:
        st.error(f"Could not read {upload.name} as an image ({error}).", icon=":material/error:")
        return None
