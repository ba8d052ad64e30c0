"""Train: pick a family and its settings (or a preset), start a background job, watch it live."""

from __future__ import annotations

import streamlit as st

from core.config import RunConfig
from core.data import SOURCES
from core.features import BACKBONES, FeatureConfig
from core.figures import format_seconds, progress_numbers
from core.jobs import CANCELLED, is_training, offers_resume
from core.models import FAMILIES, ModelConfig, families_for
from core.presets import AUTO, preset_summary
from core.registry import label_of
from core.training import TrainConfig
from dashboard import links, pages, refresh, state
from dashboard.components import run_label, user_errors
from dashboard.keys import TRAIN
from dashboard.trainform import (
    ADVANCED_KEYS,
    BOUNDS,
    MODEL_KEYS,
    RAW_PIXELS,
    TRAIN_KEYS,
    choices,
    url_params,
    url_values,
    use_preset,
    widget_values,
)
from dashboard.trainqueue import queued_panel

PRESET_BUTTONS = {
    "quick-demo": "Quick demo",
    "best-quality": "Best quality",
    "photos": "Photos",
}  # digits, objects: by link or CLI
DEFAULT_PRESET = "quick-demo"  # a newcomer's first click should finish in well under a minute
LIVE_EVERY = 1.0  # seconds between redraws of the live panel on an idle server (dashboard.refresh slows it)


# --- settings --------------------------------------------------------------------------------------


def backbone_label(name: str) -> str:
    return "None — learn from the raw pixels" if name == RAW_PIXELS else BACKBONES[name].label


def features_setting(images: bool) -> str | None:
    """The 'Pretrained features' select: a backbone name, or None for raw pixels (and for tables)."""
    s = st.session_state
    s.setdefault(TRAIN.backbone, RAW_PIXELS)
    st.selectbox(
        "Pretrained features",
        [RAW_PIXELS, *BACKBONES],
        key=TRAIN.backbone,
        format_func=backbone_label,
        disabled=not images,
        help="For photos: a network trained on millions of labelled photos reads each image first, and the autoencoder "
        "learns from its features, so photos group by what they show rather than by background and colour. "
        "None trains on the pixels (right for digits and other simple images).",
    )
    if not images:
        st.caption("Tables have no images, so no pretrained features: the model reads the table's values.")
        return None
    if s[TRAIN.backbone] == RAW_PIXELS:
        return None
    entry = BACKBONES[s[TRAIN.backbone]]
    st.caption(
        f"{entry.help} "
        + ("Works offline." if entry.offline else "Its weights download once, the first time (needs internet).")
    )
    return entry.name


def settings() -> RunConfig:
    s = st.session_state
    if TRAIN.model("family") not in s:
        # Streamlit forgets a widget's value when its page is left; bring back what was set, or the preset.
        saved = s.get(TRAIN.saved)
        followed = state.current_run_id()
        if saved:
            s.update(saved)
        elif followed is not None:  # re-attached from the URL: show the settings that run used
            s.update(widget_values(state.open_run(followed).config))
        else:
            use_preset(DEFAULT_PRESET)
    links.notice(links.read_url(url_params()))  # a link's preset, then its settings, over what was there
    cols = st.columns(len(PRESET_BUTTONS))
    for col, (name, label) in zip(cols, PRESET_BUTTONS.items()):
        col.button(
            label,
            key=f"preset.{name}",
            on_click=use_preset,
            args=(name,),
            width="stretch",
            type="primary" if s.get(TRAIN.preset) == name else "secondary",
            help=_preset_help(name),
        )
    if s.get(TRAIN.preset) == AUTO and s.get(TRAIN.recipe):
        st.caption(s[TRAIN.recipe] + ".")

    images = getattr(SOURCES.get(state.data_spec().source), "kind", None) != "table"
    backbone = features_setting(images)
    families = families_for(images=not backbone)
    if s[TRAIN.model("family")] not in families:  # conv reads pictures; a backbone gives it one vector per image
        dropped = label_of(FAMILIES, s[TRAIN.model("family")])
        s[TRAIN.model("family")] = families[0]
        st.caption(
            f"{dropped} reads pictures, and pretrained features are one vector per photo: switched to "
            f"{FAMILIES[families[0]].label}."
        )
    st.selectbox(
        "Model family",
        families,
        key=TRAIN.model("family"),
        format_func=lambda name: FAMILIES[name].label,
        help=" ".join(f"{f.label}: {f.help}" for f in FAMILIES.values()),
    )
    family = FAMILIES[s[TRAIN.model("family")]]
    st.caption(family.help)
    a, b, c = st.columns(3)
    a.number_input(
        "Code size",
        *BOUNDS["latent_dim"],
        key=TRAIN.model("latent_dim"),
        help="Dimensions of the latent code (the bottleneck).",
    )
    b.number_input(
        "Width",
        *BOUNDS["width"],
        step=32,
        key=TRAIN.model("width"),
        help="Hidden units (dense, recurrent) or channel budget (conv).",
    )
    c.number_input(
        "Depth",
        *BOUNDS["depth"],
        key=TRAIN.model("depth"),
        help="Hidden layers (dense), conv blocks (conv), stacked RNN layers.",
    )
    a, b = st.columns(2)
    a.selectbox("Activation", choices(ModelConfig, "activation"), key=TRAIN.model("activation"))
    if backbone and s[TRAIN.model("loss")] == "bce":  # features are standardised: not in [0, 1]
        s[TRAIN.model("loss")] = "mse"
    b.selectbox(
        "Reconstruction loss",
        ("mse",) if backbone else choices(ModelConfig, "loss"),
        key=TRAIN.model("loss"),
        help="bce only for images scaled to [0, 1]; pretrained features (standardised) use mse.",
    )
    if family.recurrent:
        st.selectbox("Recurrent cell", choices(ModelConfig, "cell"), key=TRAIN.model("cell"))
    if family.variational:
        st.number_input("β (weight of the KL term)", *BOUNDS["beta"], step=0.1, key=TRAIN.model("beta"))
    a, b, c = st.columns(3)
    a.number_input(
        "Denoising noise (std)", *BOUNDS["noise"], step=0.05, key=TRAIN.model("noise"), help="0 = plain autoencoder."
    )
    b.number_input(
        "Pose augmentation",
        *BOUNDS["augment"],
        step=0.25,
        key=TRAIN.model("augment"),
        help="Images only: train on randomly turned, shifted and rescaled copies (1 = up to 15°, 10% of the "
        "side) and rebuild the original, so codes group by what a thing is rather than its pose. "
        "0 = off; tables and pretrained features ignore it.",
    )
    c.number_input(
        "Sparsity penalty (L1)",
        *BOUNDS["sparsity"],
        step=0.001,
        format="%.3f",
        key=TRAIN.model("sparsity"),
        help="0 = off.",
    )

    a, b, c = st.columns(3)
    a.number_input("Epochs", *BOUNDS["epochs"], key=TRAIN.train("epochs"))
    b.number_input("Batch size", *BOUNDS["batch_size"], step=32, key=TRAIN.train("batch_size"))
    c.number_input("Learning rate", *BOUNDS["lr"], step=1e-4, format="%.1e", key=TRAIN.train("lr"))
    if state.teaching():  # hidden, but kept: a widget not drawn loses its value otherwise
        for key in ADVANCED_KEYS:
            s[key] = s[key]
    else:
        with st.expander("More training settings"):
            a, b = st.columns(2)
            a.selectbox("Optimizer", choices(TrainConfig, "optimizer"), key=TRAIN.train("optimizer"))
            b.selectbox("Schedule", choices(TrainConfig, "schedule"), key=TRAIN.train("schedule"))
            a.number_input(
                "Weight decay", *BOUNDS["weight_decay"], step=1e-4, format="%.1e", key=TRAIN.train("weight_decay")
            )
            b.number_input("Early stopping patience (0 = off)", *BOUNDS["patience"], key=TRAIN.train("patience"))
            a.number_input("Seed", *BOUNDS["seed"], key=TRAIN.train("seed"))
            b.selectbox("Device", choices(TrainConfig, "device"), key=TRAIN.train("device"))
    name = st.text_input("Run name (optional)", key=TRAIN.name, placeholder="e.g. digits dense 10-d")

    links.write_url(url_values(s))
    s[TRAIN.saved] = {
        k: s[k]
        for k in (
            *(TRAIN.model(k) for k in MODEL_KEYS),
            *(TRAIN.train(k) for k in TRAIN_KEYS),
            TRAIN.backbone,
            TRAIN.name,
        )
        if k in s
    }
    model = ModelConfig(**{k: s[TRAIN.model(k)] for k in MODEL_KEYS})
    train = {k: s[TRAIN.train(k)] for k in TRAIN_KEYS}
    train["patience"] = int(train["patience"]) or None
    train["lr"] = float(train["lr"])
    return RunConfig(
        data=state.data_spec(),
        model=model,
        train=TrainConfig(**train),
        features=FeatureConfig(backbone=backbone),
        name=name.strip(),
    )


def _preset_help(name: str) -> str:
    return preset_summary(name)


# --- the live panel --------------------------------------------------------------------------------


def live_panel(run_id: str) -> None:
    live = state.is_running(run_id)
    every = refresh.live_every(LIVE_EVERY, live)

    @st.fragment(run_every=every)
    def panel() -> None:
        try:
            run = state.open_run(run_id)
        except Exception as error:
            st.warning(f"Run {run_id} is gone ({error}).")
            return
        job = state.job_for(run_id)
        place = state.registry().queue_place(run_id) if job is not None and job.queued else None
        if place is not None:
            queued_panel(run, place)
            refresh.follow_cadence(every or LIVE_EVERY, LIVE_EVERY)
            return
        status = run.status()
        seen = state.metrics(run)
        events = seen.events
        latest = (job.latest if job is not None and job.latest is not None else None) or (
            events[-1] if events else None
        )
        now_live = is_training(status, job)

        head, button = st.columns([4, 1])
        summary = run.summary()
        head.markdown(f"**{run_label(summary)}**" + (f"  \n`{run.id}`" if summary.name else ""))
        if now_live:
            if job is not None and job.stop_event.is_set():
                button.button("Stopping…", disabled=True, key="train.stopping", width="stretch")
            elif job is not None:
                button.button(
                    "Stop",
                    type="primary",
                    key="train.stop",
                    on_click=state.registry().stop,
                    args=(run_id,),
                    width="stretch",
                    help="Ends after the current batch and keeps what was learned (a checkpoint).",
                )
        elif offers_resume(run, job):
            button.button(
                "Resume",
                key="train.resume",
                on_click=_resume,
                args=(run_id,),
                width="stretch",
                help="Continue from the last checkpoint.",
            )

        numbers = progress_numbers(latest)
        if summary.epochs_done and not now_live:
            numbers["fraction"] = min(1.0, summary.epochs_done / max(summary.epochs, 1))
        cancelled = status == "stopped" and summary.message == CANCELLED
        progress_text = "Cancelled while queued" if cancelled else _progress_text(status, numbers, now_live)
        st.progress(numbers["fraction"], text=progress_text)
        a, b, c, d = st.columns(4)
        a.metric(
            f"Epoch (of {numbers['epochs'] or summary.epochs})", numbers["epoch"]
        )  # "100 / 100" is cut in a quarter column
        b.metric("Elapsed", format_seconds(numbers["elapsed"]))
        c.metric("Remaining", format_seconds(numbers["remaining"]) if now_live else "–")
        d.metric("Samples / s", f"{numbers['samples_per_second']:,.0f}")
        if events:
            charted = state.charted_metrics(run) if now_live else seen  # a finished run's chart: every line
            st.plotly_chart(state.loss_chart(run, charted), key="train.loss", width="stretch")
        elif now_live:  # before the first epoch: loading, and for photos the backbone's features (the slow part)
            st.info(
                summary.message or "Preparing data and model… the first points appear after a few batches.",
                icon=":material/hourglass_top:",
            )
        notes = run.info().get("data_notes") or []
        if notes:
            st.caption("**What loading did:** " + " ".join(str(note) for note in notes))

        error = (job.error if job is not None else None) or (summary.message if status == "failed" else None)
        if error:
            st.error(error, icon=":material/error:")
        elif summary.message and not now_live:
            st.caption(summary.message)
        if not now_live and run.has_checkpoint:
            st.success("What next? Look at what it learned:", icon=":material/check_circle:")
            a, b, c = st.columns(3)
            for column, page in zip((a, b, c), (pages.RECONSTRUCTIONS, pages.LATENT, pages.EVALUATE)):
                pages.link(page, container=column)
        if now_live and every is not None:
            refresh.follow_cadence(every, LIVE_EVERY)
        if live != now_live:
            # Training ended (or a resume began): redraw the whole page once, so the timer stops
            # (or starts) and the buttons on the left follow.
            st.rerun(scope="app")

    panel()


def _progress_text(status: str, numbers: dict, live: bool) -> str:
    percent = f"{100 * numbers['fraction']:.0f}%"
    if live:
        return f"Training… {percent}"
    return {
        "finished": "Finished",
        "stopped": f"Stopped at {percent}; the checkpoint keeps what was learned",
        "interrupted": f"Interrupted at {percent} (the server stopped); resume to continue",
        "failed": "Failed",
        "created": "Not started: the server stopped before its turn in the queue came; Start trains them anew",
    }.get(status, status)


def _resume(run_id: str) -> None:
    try:
        state.registry().resume(run_id, session=state.session_id())
    except Exception as error:
        st.session_state["train.error"] = str(error)


def _start(config: RunConfig) -> None:
    try:
        run_id = state.registry().start(config, session=state.session_id())
    except Exception as error:
        st.session_state["train.error"] = str(error)
        return
    state.set_current_run(run_id)


# --- the page --------------------------------------------------------------------------------------

st.title("Train")
spec = state.data_spec()
run_id = state.current_run_id()
left, right = st.columns([2, 3], gap="large")
with left:
    resized = spec.source in SOURCES and "image_size" in SOURCES[spec.source].settings
    size = f", images at {spec.image_size} px" if resized and spec.image_size else ""
    st.markdown(
        f"Dataset: **{spec.source}**"
        + (f" (`{spec.path}`)" if spec.path else "")
        + size
        + " — change it on the Data page."
    )
    config = None
    with user_errors("Reading the settings"):
        config = settings()
    busy = run_id is not None and state.is_running(run_id)
    if config is not None:
        st.button(
            "Start training",
            type="primary",
            icon=":material/play_arrow:",
            key="train.start",
            on_click=_start,
            args=(config,),
            disabled=busy,
            width="stretch",
            help="Already training or queued: stop it first, or wait." if busy else None,
        )
    if "train.error" in st.session_state:
        st.error(st.session_state.pop("train.error"), icon=":material/error:")
with right:
    if run_id is None:
        st.info(
            "Pick settings (the **Quick demo** finishes in well under a minute on a laptop) "
            "and press **Start training**. "
            "The loss curves will grow here while it trains.",
            icon=":material/model_training:",
        )
        earlier = [s for s in state.store().list()]
        if earlier:
            with st.expander(f"Or open one of {len(earlier)} earlier run{'s' if len(earlier) != 1 else ''}"):
                labels = {s.id: run_label(s) for s in earlier}
                chosen = st.selectbox(
                    "Run",
                    list(labels),
                    index=None,
                    format_func=labels.get,
                    key="train.open",
                    placeholder="choose a run",
                )
                if chosen:
                    state.set_current_run(chosen)
                    st.rerun()
    else:
        live_panel(run_id)
        if not state.is_running(run_id) and st.button(
            "New run", key="train.clear", help="Stop following this run (it stays on disk)."
        ):
            state.forget_run()
            st.rerun()
