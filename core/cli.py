"""`latentboard`: the same pipeline as the dashboard, headless.

    latentboard train --dataset digits --model conv --epochs 5
    latentboard train --resume 20261124-143012-a1b2
    latentboard runs
    latentboard serve --port 8501
    latentboard spread 20261124-143012-a1b2 --examples names.csv --out labels.csv

Adding a subcommand is one function `cmd_<name>(args) -> int` plus one entry in COMMANDS naming
its help text and arguments. `train`'s settings flags are not written here: config_flags() derives
one per field of RunConfig's sections, so a new config field has its flag at once. A
LatentboardError (or Ctrl-C) becomes one line on stderr and exit code 2; anything else is a bug
and exits 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import ConfigError, LatentboardError, RunError
from core.methods import CLUSTER_METHODS
from core.presets import PRESET_NAMES

EXIT_USAGE = 2  # a user's mistake or a Ctrl-C: the message says what to do
EXIT_BUG = 1


# --------------------------------------------------------------------------- train


# The flags that set RunConfig's fields are derived from the config dataclasses: one per field of
# every section (--latent-dim, --schedule, ...), typed, with the field's own help text. A field
# name that two sections share gets the section as prefix on the later one (--features-batch-size
# beside --batch-size), except the names below: one flag sets them in every section that has them,
# and --<section>-<name> sets one section's alone.
SHARED_FLAGS = {"seed": "one seed for the whole run: the subsample, the split and training"}


@dataclass(frozen=True)
class ConfigFlag:
    """One `train` flag and the RunConfig fields it sets: (section, field), section None for RunConfig's own."""

    flag: str
    targets: tuple[tuple[str | None, str], ...]
    kwargs: dict[str, Any]

    @property
    def dest(self) -> str:
        return self.flag[2:]


def _parser_of(field: Any) -> Callable[[str], Any]:
    parse = field.parse or field.type
    if not field.optional or field.type is str:
        return parse

    def optional(text: str) -> Any:  # "none" says None: --patience none turns early stopping off
        return None if text.strip().lower() == "none" else parse(text)

    optional.__name__ = parse.__name__  # argparse says "invalid int value"
    return optional


def _flag_kwargs(field: Any) -> dict[str, Any]:
    help_text = field.help
    if field.registry is not None:
        help_text += f"; one of {', '.join(field.registry())}"
    if field.default != "":
        help_text += f" (default: {'none' if field.default is None else field.default})"
    kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help_text.replace("%", "%%")}
    if field.type is bool:
        return {**kwargs, "action": argparse.BooleanOptionalAction}
    if field.choices is not None:
        return {**kwargs, "choices": field.choices, "type": field.type}
    metavar = {int: "N", float: "X"}.get(field.type, "PATH" if field.parse else "NAME" if field.registry else "TEXT")
    return {**kwargs, "type": _parser_of(field), "metavar": metavar}


def config_flags(root: type | None = None) -> list[ConfigFlag]:
    """Every flag that sets a field of `root` (RunConfig), derived from its dataclasses (see SHARED_FLAGS)."""
    from core.config import RunConfig
    from core.config_base import describe, sections

    root = root or RunConfig
    fields = [(section, f) for section, cls in sections(root).items() for f in describe(cls)]
    fields += [(None, f) for f in describe(root)]
    flags: list[ConfigFlag] = []
    for name, help_text in SHARED_FLAGS.items():
        shared = [(section, f) for section, f in fields if f.name == name]
        flags.append(
            ConfigFlag(
                f"--{name.replace('_', '-')}",
                tuple((section, f.name) for section, f in shared),
                {**_flag_kwargs(shared[0][1]), "help": help_text.replace("%", "%%")},
            )
        )
    seen = {flag.dest for flag in flags}
    for section, f in fields:
        bare = f.name.replace("_", "-")
        flag = f.flag or (f"--{section}-{bare}" if f.name in SHARED_FLAGS or bare in seen else f"--{bare}")
        if flag[2:] in seen:
            raise ValueError(f"Two config fields would share the flag {flag}; give one a flag= in its setting().")
        seen.add(flag[2:])
        flags.append(ConfigFlag(flag, ((section, f.name),), _flag_kwargs(f)))
    return flags


def config_from_args(args: argparse.Namespace, dataset: Any = None) -> Any:
    """RunConfig from `train` flags: defaults, then the preset, then every flag given.

    `dataset` is what "best-quality" looks at to choose its recipe (see `train_config`).
    """
    from core.config import RunConfig
    from core.presets import apply_preset

    config = RunConfig()
    if args.preset:  # the dataset first: a preset's data settings are for image folders only
        source = getattr(args, "dataset", config.data.source)
        config = apply_preset(
            dataclasses.replace(config, data=dataclasses.replace(config.data, source=source)), args.preset, dataset
        )
    values: dict[str | None, dict[str, Any]] = {}
    for flag in config_flags():  # shared flags come first: --train-seed wins over --seed
        if hasattr(args, flag.dest):
            for section, name in flag.targets:
                values.setdefault(section, {})[name] = getattr(args, flag.dest)
    own = values.pop(None, {})
    return dataclasses.replace(
        config,
        **own,
        **{section: dataclasses.replace(getattr(config, section), **fields) for section, fields in values.items()},
    )


def train_config(args: argparse.Namespace) -> tuple[Any, Any]:
    """(config, its prepared dataset). "best-quality" first loads the data as the flags describe
    it, to choose a recipe by its kind; a recipe that changes the data settings loads it again."""
    from core.gate import prepare, settle
    from core.presets import AUTO, recipe_for

    if args.preset != AUTO:
        config = config_from_args(args)
        dataset = prepare(config)
        return settle(config, dataset), dataset
    plain = config_from_args(argparse.Namespace(**{**vars(args), "preset": None}))
    dataset = prepare(plain)
    print(recipe_for(AUTO, dataset).reason + ".", flush=True)
    config = config_from_args(args, dataset)  # the recipe's settings: checked too, the data read again only if changed
    dataset = prepare(config, dataset if config.data == plain.data else None)
    return settle(config, dataset), dataset


def cmd_train(args: argparse.Namespace) -> int:
    from core.experiment import start_run
    from core.jobs import resume_problem
    from core.runs import RunStore

    store = RunStore(args.runs_dir)
    dataset = None
    if args.address:  # an address where nothing listens fails now, not after the photos are read
        from core.ray_cluster import check_reachable

        check_reachable(args.address)
    if args.resume:
        given = [flag.flag for flag in config_flags() if hasattr(args, flag.dest)] + ["--preset"] * bool(args.preset)
        if given:
            raise ConfigError(f"--resume continues a run with its own settings; leave out {', '.join(given)}.")
        run = store.open(args.resume)
        problem = resume_problem(run)  # execute() checks again; this only spares a misleading banner
        if problem:
            raise RunError(problem)
    else:
        if not hasattr(args, "dataset"):
            raise ConfigError(
                "Say what to train on with --dataset NAME (e.g. --dataset digits), "
                "or continue a run with --resume RUN_ID."
            )
        config, dataset = train_config(args)  # a refused dataset fails here, before the run folder exists
        if args.address:  # so does a cluster that cannot compute its features
            _features_on_cluster(config, dataset, args.address)
        run = start_run(store, config)
    if args.resume and args.address:
        dataset = _features_on_cluster(run.config, dataset, args.address)
    return _train(run, resume=bool(args.resume), runs_dir_flag=args.runs_dir, dataset=dataset)


def _features_on_cluster(config: Any, dataset: Any, address: str) -> Any:
    """`train --address`: the backbone's features computed on the Ray cluster into the cache that
    training then reads, as if computed here. Returns the dataset (loaded here when resuming)."""
    if not config.features.backbone:
        raise ConfigError(
            "--address computes a backbone's features on a Ray cluster; this run has none "
            "(give --features NAME, or --preset photos), so it has nothing to send there."
        )
    if dataset is None:  # --resume: execute() would load it; load it once, here
        from core.data import load_dataset

        dataset = load_dataset(config.data)
    _fill_features(config, dataset, config.features.backbone, config.features.input_size, address)
    return dataset


def _train(run: Any, resume: bool, runs_dir_flag: str | None, dataset: Any = None) -> int:
    from tqdm import tqdm

    from core.experiment import execute

    config = run.config
    resume_hint = f"latentboard train --resume {run.id}" + (f" --runs-dir {runs_dir_flag}" if runs_dir_flag else "")
    verb = "Resuming" if resume else "Training"
    reads = (
        f"{config.features.backbone} features of {config.data.source}"
        if config.features.backbone
        else config.data.source
    )
    print(
        f"{verb} run {run.id}: {config.model.family} autoencoder on {reads}, "
        f"{config.train.epochs} epochs, latent size {config.model.latent_dim}",
        flush=True,
    )
    print(f"Run folder: {run.path}", flush=True)

    stop = threading.Event()
    restore = _stop_on_ctrl_c(stop)
    began = time.monotonic()
    bar = tqdm(unit="batch", dynamic_ncols=True, leave=False, disable=not sys.stderr.isatty())
    prepare = _PrepareLine()
    try:
        for event in execute(run, stop=stop, resume=resume, on_prepare=prepare, dataset=dataset):
            prepare.close()
            if bar.total is None:
                bar.reset(total=event.epochs * event.steps_per_epoch)
            bar.update(max(0, event.step - bar.n))
            postfix = {"epoch": f"{event.epoch}/{event.epochs}", "loss": f"{event.train_loss:.4g}"}
            if event.val_loss is not None:
                postfix["val"] = f"{event.val_loss:.4g}"
            bar.set_postfix(postfix, refresh=False)
            if event.kind == "epoch":
                tqdm.write(_epoch_line(event))
                sys.stdout.flush()
    except LatentboardError as exc:
        bar.close()
        if run.id in str(exc):
            raise
        raise type(exc)(f"{exc} (run {run.id} in {run.path})") from exc
    finally:
        prepare.close()
        bar.close()
        restore()

    info = run.info()
    seconds = time.monotonic() - began
    print(
        f"Run {run.id} {info['state']} after {info.get('epochs_done', 0)} of {config.train.epochs} epochs "
        f"in {seconds:.1f} s.",
        flush=True,
    )
    message = info.get("message") or ""
    if message and not message.startswith(("Finished", "Stopped after")):  # e.g. why it stopped early
        print(message)
    if info.get("train_loss") is not None:
        val = info.get("val_loss")
        print(f"Last epoch: train loss {info['train_loss']:.4g}" + (f", val loss {val:.4g}" if val is not None else ""))
    print(f"Run id: {run.id}")
    print(f"Run folder: {run.path}", flush=True)
    if info["state"] == "stopped":
        print(
            f"latentboard: error: interrupted; run {run.id} stopped after {info.get('epochs_done', 0)} of "
            f"{config.train.epochs} epochs, its checkpoint is kept. Resume with: {resume_hint}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return 0


class _PrepareLine:
    """What happens before the first batch: loading notes as lines, feature extraction as a bar with
    photos a second and time left (on a terminal), or as a line of the same every LOG_EVERY seconds
    (in a log). A resumed extraction starts the count at the rows its shards already hold."""

    LOG_EVERY = 10.0

    def __init__(self) -> None:
        from core.throughput import Throughput

        self.bar: Any = None
        self.speed = Throughput()
        self.began = self.logged = time.monotonic()

    def __call__(self, what: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if not total:
            print(what, flush=True)
            return
        if self.bar is None:
            self.began = self.logged = time.monotonic()
            self.bar = tqdm(
                total=total,
                initial=done,
                desc=f"Computing {what}",
                unit="photo",
                dynamic_ncols=True,
                leave=False,
                disable=not sys.stderr.isatty(),
            )
        self.speed.update(done, total)
        self.bar.update(done - self.bar.n)
        if self.bar.disable and time.monotonic() - self.logged >= self.LOG_EVERY and done < total:
            self.logged = time.monotonic()
            print(f"Computing {what}: {self.speed.summary()}", flush=True)
        if done >= total:
            self.close()
            seconds = time.monotonic() - self.began
            rate = self.speed.per_second
            computed = total - self.speed.resumed_from
            print(
                f"Computed {what} of {total} images in {seconds:.1f} s"
                + (f" ({computed} new, {rate:,.1f} photos/s)" if rate is not None and computed else "")
                + ".",
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _epoch_line(event: Any) -> str:
    width = len(str(event.epochs))
    line = f"epoch {event.epoch:>{width}}/{event.epochs}  train loss {event.train_loss:.4f}"
    if event.val_loss is not None:
        line += f"  val loss {event.val_loss:.4f}"
    line += f"  ({event.elapsed:.1f} s, {event.samples_per_second:,.0f} samples/s)"
    if event.message:
        line += f"  {event.message}"
    return line


def _stop_on_ctrl_c(stop: threading.Event) -> Callable[[], None]:
    """First Ctrl-C: finish the current batch, checkpoint, stop. Second: abort at once."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        print("\nStopping after this batch (Ctrl-C again to abort at once)...", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    return lambda: signal.signal(signal.SIGINT, previous)


# --------------------------------------------------------------------------- features


def cmd_features(args: argparse.Namespace) -> int:
    """Fill the features cache a `train` with the same data and features flags reads, and nothing else."""
    from core.data import load_dataset
    from core.features import DEFAULT_BACKBONE, features_path, settled_input_size
    from core.features.shards import SHARD_ROWS

    if not hasattr(args, "dataset"):
        raise ConfigError("Say which pictures with --dataset, e.g. --dataset folder --data-dir ~/photos.")
    config = config_from_args(argparse.Namespace(**{**vars(args), "preset": None}))
    if config.data.source == "table":
        raise ConfigError(
            "`latentboard features` computes a backbone's features of images; a table has none. "
            "Train on its values directly: latentboard train --dataset table --data-dir FILE."
        )
    if args.address:  # an address where nothing listens fails now, not after the photos are read
        from core.ray_cluster import check_reachable

        check_reachable(args.address)
    dataset = load_dataset(config.data)
    backbone = config.features.backbone or DEFAULT_BACKBONE
    size = config.features.input_size or settled_input_size(dataset, backbone)
    began = time.monotonic()
    features = _fill_features(config, dataset, backbone, size, args.address, args.shard_rows or SHARD_ROWS)
    print(f"Features: {features_path(dataset, backbone, size)}")
    print(f"Shape: {tuple(features.shape)} ({backbone} at {size} px)")
    print(f"Seconds: {time.monotonic() - began:.1f}", flush=True)
    return 0


def _fill_features(
    config: Any, dataset: Any, backbone: str, size: int, address: str | None, shard_rows: int | None = None
) -> Any:
    """The features cache of `dataset` filled, here or (with `address`) on that Ray cluster, with progress."""
    from core.devices import resolve_device
    from core.features import dataset_features
    from core.features.shards import SHARD_ROWS

    prepare = _PrepareLine()
    for note in dataset.notes:
        prepare(note, 0, 0)
    settings: dict[str, Any] = {
        "batch_size": config.features.batch_size,
        "progress": lambda done, total: prepare(f"{backbone} features", done, total),
        "input_size": size,
        "on_note": lambda note: prepare(note, 0, 0),
        "shard_rows": shard_rows or SHARD_ROWS,
    }
    try:
        if address:
            from core.features.distributed import cluster_features

            return cluster_features(dataset, backbone, address, config.train.device, **settings)
        return dataset_features(dataset, backbone, resolve_device(config.train.device), **settings)
    finally:
        prepare.close()


# --------------------------------------------------------------------------- runs


def cmd_runs(args: argparse.Namespace) -> int:
    from core.runs import RunStore

    store = RunStore(args.runs_dir)
    rows = store.list()
    if not rows:
        print(f"No runs in {store.root} yet; start one with `latentboard train --dataset digits`.")
        return 0
    table = [("ID", "NAME", "STATUS", "DATASET", "MODEL", "EPOCHS", "TRAIN LOSS", "VAL LOSS")]
    for r in rows:
        table.append(
            (
                r.id,
                r.name or "-",
                r.status,
                r.dataset or "-",
                r.family or "-",
                f"{r.epochs_done}/{r.epochs}",
                _number(r.train_loss),
                _number(r.val_loss),
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print(f"\n{len(rows)} run{'s' if len(rows) != 1 else ''} in {store.root}")
    return 0


def _number(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.4f}"


# --------------------------------------------------------------------------- serve


def dashboard_app_path() -> Path:
    """<project>/dashboard/app.py, found next to this package (an editable / source install)."""
    return Path(__file__).resolve().parent.parent / "dashboard" / "app.py"


def _open_when_ready(port: int, timeout: float = 60.0) -> None:
    """Open a browser tab once the dashboard answers; quietly nothing where there is no browser."""
    import urllib.request
    import webbrowser

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2):
                webbrowser.open(f"http://localhost:{port}")
                return
        except OSError:
            time.sleep(0.5)


def cmd_serve(args: argparse.Namespace) -> int:
    from core.job_limits import JobLimits
    from core.runs import RunStore

    JobLimits.from_environment()  # a bad LATENTBOARD_MAX_JOBS is refused now, not at a student's first Start
    app = dashboard_app_path()
    if not app.is_file():
        raise LatentboardError(
            f"The dashboard is missing: {app} does not exist. Install latentboard from its "
            "source folder (pip install -e .) so the dashboard/ folder sits next to core/."
        )
    runs_dir = RunStore(args.runs_dir).root.resolve()
    env = dict(os.environ, LATENTBOARD_RUNS_DIR=str(runs_dir))
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    # Streamlit stays headless (not headless, it asks for an e-mail address on first start and would
    # hang a launch with no terminal); we open the tab ourselves once the server answers.
    command += ["--server.headless", "true", "--server.address", args.address]
    print(
        f"Serving the dashboard on http://{args.address}:{args.port} (runs in {runs_dir}); Ctrl-C to quit.", flush=True
    )
    if args.address not in ("localhost", "127.0.0.1", "::1"):
        print(
            "Anyone who can reach this address can upload data and start training; uploads are held to the "
            "limits in the README (LATENTBOARD_MAX_*).",
            flush=True,
        )
    # cwd: the project folder, so Streamlit picks up its .streamlit/config.toml.
    process = subprocess.Popen(command, env=env, cwd=app.parent.parent)
    stopping = _forward_stop_signals(process)
    if not args.no_browser:
        threading.Thread(target=_open_when_ready, args=(args.port,), daemon=True).start()
    try:
        code = process.wait()
        return 0 if stopping.is_set() else code
    except KeyboardInterrupt:  # Streamlit got the same Ctrl-C and shuts down on its own
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait()
        return 0


# Signals that ask a server to stop (kill, systemd, docker stop; a closed terminal): each is passed on to
# Streamlit as SIGTERM, its clean shutdown, so the port is freed with us. Forwarded rather than exec'd
# into Streamlit, which would end the thread that opens the browser tab once the server answers.
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _forward_stop_signals(process: subprocess.Popen) -> threading.Event:
    """Pass a stop signal on to the Streamlit child; the event says one came (then its exit code is ours: 0)."""
    stopping = threading.Event()

    def forward(signum: int, frame: Any) -> None:
        stopping.set()
        threading.Thread(target=_stop_child, args=(process,), daemon=True).start()

    if threading.current_thread() is threading.main_thread():  # only there may Python set handlers
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, forward)
    return stopping


def _stop_child(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the child, and kill it if it has not exited after `grace` seconds."""
    try:
        process.terminate()
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
    except ProcessLookupError:  # already gone
        pass


# --------------------------------------------------------------------------- evaluate, classify, report


def _trained_run(args: argparse.Namespace, purpose: str | None = None) -> Any:
    """The run named on the command line, loaded with its dataset, splits and model; its notes said once.

    `purpose` ("to compare", ...): the command needs the trained codes or features, so a run that never
    finished an epoch is refused with what to run first."""
    from core.runs import RunStore
    from core.trained import load_trained

    run = RunStore(args.runs_dir).open(args.run_id)
    if purpose and not run.has_checkpoint:
        raise RunError(
            f"Run {run.id} has no codes or features {purpose} yet: it never finished an epoch. "
            f"Train it first (latentboard train --resume {run.id})."
        )
    trained = load_trained(run)
    for note in trained.notes:
        print(f"latentboard: note: {note}", file=sys.stderr, flush=True)
    return trained


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from core.evaluation import evaluate_run, format_evaluation
    from core.evaluation.text import n2d_line

    trained = _trained_run(args)
    skip = [step for step, flag in (("baselines", args.skip_baselines), ("probes", args.skip_probes)) if flag]

    def report(event: Any) -> None:
        """A line per step started on stderr (with --json too: stdout holds exactly one JSON object);
        without --json, the N2D line on stdout the moment N2D has run."""
        if not event.finished:
            print(event.line(), file=sys.stderr, flush=True)
        elif event.step == "n2d" and not event.done and not args.json:
            print(n2d_line(event.evaluation), flush=True)

    print(f"Evaluating run {trained.run.id} on its {args.split} split ...", file=sys.stderr, flush=True)
    result = evaluate_run(
        trained,
        split=args.split,
        random_state=args.seed,
        n_clusters=args.clusters,
        skip=skip,
        on_progress=report,
        heads=args.heads,
    )
    if args.json:
        print(json.dumps(result.to_dict(), allow_nan=False))
    else:
        print()
        print(format_evaluation(result))
        print(f"\nSaved to {trained.run.path / f'evaluation-{args.split}.json'}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from core.evaluation import classify_images

    trained = _trained_run(args)
    for result in classify_images(trained, args.images, k=args.k):
        labels = [n.label if n.label is not None else str(n.index) for n in result.neighbors]
        likely = result.cluster_label if result.cluster_label is not None else "-"
        print(
            f"{result.source}: cluster {result.cluster}, likely label {likely}, "
            f"nearest neighbours {' '.join(labels)}, reconstruction error {result.error:.4f}"
        )
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from core.report import write_report

    trained = _trained_run(args)
    print(f"Writing the report of run {trained.run.id} ...", file=sys.stderr, flush=True)
    path = write_report(trained, args.out)
    print(f"Report: {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.evaluation.run_evaluation import run_sorted_by
    from core.export import cluster_assignments, export_cluster_count, write_assignments, write_sorted_folders
    from core.methods import CLUSTER_METHODS

    if not (args.out or args.sorted_folders):
        raise ConfigError("Say what to write: --out clusters.csv (or .parquet), --sorted-folders FOLDER, or both.")
    trained = _trained_run(args)
    method, n_clusters, seed, sorting = _export_clustering(args, trained)
    if sorting is None and n_clusters is None:  # the number given wins, and needs no word
        n_clusters, _, why = export_cluster_count(trained, method, n_clusters, seed)
        print(f"latentboard: {why}", file=sys.stderr)
    if sorting is None and args.method is None:  # the clustering the run sorts by, chosen at that number
        choice = run_sorted_by(trained, "all", n_clusters, seed)
        method = choice.method
        print(f"latentboard: {choice.line()}; --method sets another", file=sys.stderr)
    progress = _HeadProgress(CLUSTER_METHODS[method].label) if CLUSTER_METHODS[method].trained_head else None
    try:
        frame = cluster_assignments(trained, method, n_clusters, seed, sorting, progress=progress)
    finally:
        if progress is not None:
            progress.close()
    spread = "confidence" in frame  # sorted by named examples: the groups go by their names
    sizes = frame["cluster_name" if spread else "cluster"].value_counts().sort_index()
    kind = "named groups" if spread else "clusters"
    summary = f"{len(frame)} rows in {len(sizes)} {kind} ({', '.join(f'{c}: {n}' for c, n in sizes.items())})"
    if args.duplicates:
        frame = _with_duplicates_aside(trained, frame)
    if args.sorted_folders:
        print(f"{summary} -> {write_sorted_folders(frame, args.sorted_folders)}")
    if args.out:
        print(f"{summary} -> {write_assignments(frame, args.out)}")
    return 0


def cmd_duplicates(args: argparse.Namespace) -> int:
    import json

    from core.duplicates import duplicate_names, run_duplicates
    from core.export import DUPLICATES_FOLDER

    trained = _trained_run(args, "to compare")
    run = trained.run
    groups = duplicate_names(trained.dataset, run_duplicates(trained))
    if args.json:
        print(json.dumps({"groups": groups}))
        return 0
    things = "photos" if trained.dataset.files else "rows"
    if not groups:
        print(f"No near-duplicates among the {len(trained.dataset)} {things}.")
        return 0
    aside = sum(len(g["others"]) for g in groups)
    print(
        f"{len(groups)} groups of near-duplicates, the one kept first; {aside} {things} would go to "
        f"{DUPLICATES_FOLDER}/ (latentboard export {run.id} --sorted-folders OUT --duplicates)."
    )
    for group in groups:
        print(f"\nkeep  {group['keep']}")
        for other in group["others"]:
            print(f"      {other}")
    return 0


class _HeadProgress:
    """A trained head's steps (TEMI) as a bar on stderr, and a line when it is done."""

    def __init__(self, label: str) -> None:
        self.label, self.bar = label, None
        self.began = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        from tqdm import tqdm

        if self.bar is None:
            print(f"Training the {self.label} ({total} steps) ...", file=sys.stderr, flush=True)
            self.bar = tqdm(
                total=total,
                desc=f"Training the {self.label}",
                unit="step",
                leave=False,
                dynamic_ncols=True,
                disable=not sys.stderr.isatty(),
            )
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            print(f"Trained the {self.label} in {time.monotonic() - self.began:.1f} s.", file=sys.stderr, flush=True)
            self.bar = None


def _with_duplicates_aside(trained: Any, frame: Any) -> Any:
    """export --duplicates: the table with every near-duplicate but the kept one set aside, and a line saying so."""
    from core.duplicates import run_duplicates
    from core.export import DUPLICATES_FOLDER, set_aside_duplicates

    groups = run_duplicates(trained)
    aside = sum(len(g.others) for g in groups)
    print(
        f"latentboard: {len(groups)} groups of near-duplicates: {aside} go to {DUPLICATES_FOLDER}/, "
        "the one kept of each stays with its cluster",
        file=sys.stderr,
    )
    return set_aside_duplicates(frame, groups)


def _export_clustering(args: argparse.Namespace, trained: Any) -> tuple[str, int | None, int, Any]:
    """(method, clusters, seed, sorting): the run's saved sorting edits (from the dashboard), or its
    named examples (which decide on their own, core.spread), unless --ignore-edits; a damaged edits
    file is reported and left out; flags that contradict the edits' clustering (or that a spread
    would not use) are an error rather than edits quietly dropped. Without --method and edits, the
    clustering the run sorts by (core.evaluation.sorted_by)."""
    from core.evaluation import sorted_by
    from core.sorting import read_sorting

    given = {"--method": args.method, "--clusters": args.clusters, "--seed": args.seed}
    plain = (args.method or sorted_by(trained.config), args.clusters, 0 if args.seed is None else args.seed, None)
    if args.ignore_edits:
        return plain
    sorting, problem = read_sorting(trained.run.path, len(trained.dataset))
    if problem:
        print(f"latentboard: note: the sorting edits are left out: {problem}", file=sys.stderr)
    if sorting is None or not (sorting.edited or sorting.spreads):  # none, or only near-duplicates' keepers
        return plain
    saved = {"--method": sorting.method, "--clusters": sorting.n_clusters, "--seed": sorting.seed}
    clash = [f"{flag} {value}" for flag, value in given.items() if value is not None and value != saved[flag]]
    if sorting.spreads:
        if clash:
            raise ConfigError(
                f"Run {trained.run.id} is sorted by named examples (latentboard spread, or the Latent space page), "
                f"not by a clustering, so {', '.join(clash)} would not be used; leave those flags out, or add "
                "--ignore-edits to export a clustering instead."
            )
        groups = len(set(sorting.examples.values()))
        print(
            f"Using the run's named examples ({len(sorting.examples)} named, {groups} groups): every row goes to "
            "the group they spread to; --ignore-edits leaves them out.",
            file=sys.stderr,
        )
        return sorting.method, sorting.n_clusters, sorting.seed, sorting
    if clash:
        raise ConfigError(
            f"Run {trained.run.id} has sorting edits made on {sorting.method} with {sorting.n_clusters} "
            f"clusters (seed {sorting.seed}), not {', '.join(clash)}; leave those flags out to export the "
            "edited sorting, or add --ignore-edits to export that clustering unedited."
        )
    print(
        f"Using the run's sorting edits ({len(sorting.edits)} merges and moves, {len(sorting.names)} names); "
        "--ignore-edits leaves them out.",
        file=sys.stderr,
    )
    return sorting.method, sorting.n_clusters, sorting.seed, sorting


# --------------------------------------------------------------------------- spread


def cmd_spread(args: argparse.Namespace) -> int:
    import dataclasses

    from core.export import write_assignments
    from core.sorting import save_sorting
    from core.spread import read_examples, spread_run, spread_table

    trained = _trained_run(args, "to spread the names over")
    run = trained.run
    examples = read_examples(args.examples, trained.dataset)
    print(f"Spreading {len(examples)} named examples over {len(trained.dataset)} rows ...", file=sys.stderr, flush=True)
    result = spread_run(trained, examples)
    table = spread_table(trained.dataset, result)
    if args.out:
        write_assignments(table, args.out)
    else:
        sys.stdout.write(table.to_csv(index=False))
    path = save_sorting(run.path, dataclasses.replace(_sorting_to_name(trained), examples=examples))
    counts = ", ".join(f"{group}: {n}" for group, n in result.counts().items())
    print(
        f"{len(table)} rows in {len(result.groups)} groups ({counts})" + (f" -> {args.out}" if args.out else "") + "; "
        f"the names are saved in {path}, so `latentboard export {run.id} --sorted-folders FOLDER` sorts by them.",
        file=sys.stderr,
    )
    return 0


def _sorting_to_name(trained: Any) -> Any:
    """The run's saved sorting (its cluster edits kept), or a new one on the clustering export would use."""
    from core.evaluation import sorted_by
    from core.evaluation.run_evaluation import cluster_count, run_sorted_by
    from core.export import export_cluster_count
    from core.sorting import read_sorting, start

    saved, problem = read_sorting(trained.run.path, len(trained.dataset))
    if problem:
        print(f"latentboard: note: starting the sorting over: {problem}", file=sys.stderr)
    if saved is not None:
        return saved
    n_clusters = export_cluster_count(trained, sorted_by(trained.config))[0]
    method = run_sorted_by(trained, "all", n_clusters).method  # as export would sort
    return start(method, cluster_count(n_clusters, trained.dataset), len(trained.dataset))


# --------------------------------------------------------------------------- outliers


def cmd_outliers(args: argparse.Namespace) -> int:
    import json

    from core.outliers import row_names, run_mislabels, run_outliers

    if args.top < 0:
        raise ConfigError(f"--top must be 0 (every row) or more, not {args.top}.")
    trained = _trained_run(args, "to score")
    odd = run_outliers(trained)
    names = row_names(trained.dataset, odd.rows)
    mislabels, why_not = None, None
    if trained.dataset.y is not None:
        try:
            mislabels = run_mislabels(trained)
        except ConfigError as error:
            why_not = str(error)
    if why_not:
        print(f"latentboard: note: {why_not}", file=sys.stderr)
    if args.json:
        out: dict[str, Any] = {"outliers": [{"file": n, "score": float(s)} for n, s in zip(names, odd.scores)]}
        if mislabels is not None:
            out["mislabels"] = _mislabel_records(trained.dataset, mislabels)
        print(json.dumps(out, allow_nan=False))
        return 0
    shown = len(names) if args.top == 0 else min(args.top, len(names))
    print(f"The {shown} most odd of {len(names)} (local outlier factor: about 1 fits in, higher fits less):")
    for rank, (name, score) in enumerate(zip(names[:shown], odd.scores[:shown]), 1):
        print(f"{rank:>5}  {score:7.3f}  {name}")
    if shown < len(names):
        print(f"... {len(names) - shown} more; --top 0 lists every row, --json every row as JSON.")
    if mislabels is not None:
        print(f"\n{len(mislabels)} possible mislabels (the label given, and the one its nearest rows hold):")
        for record in _mislabel_records(trained.dataset, mislabels):
            print(f"  {record['file']}: labelled {record['label']}, its neighbours say {record['neighbours_label']}")
    return 0


def _mislabel_records(dataset: Any, mislabels: Any) -> list[dict[str, Any]]:
    from core.outliers import row_names

    return [
        {"file": name, "label": given, "neighbours_label": suggested, "label_quality": round(float(quality), 4)}
        for name, given, suggested, quality in zip(
            row_names(dataset, mislabels.rows),
            dataset.label_names(mislabels.given),
            dataset.label_names(mislabels.suggested),
            mislabels.quality,
        )
    ]


# --------------------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    from core.sweeps.command import sweep_command  # Ray loads only once a sweep really starts

    return sweep_command(args)


# --------------------------------------------------------------------------- the registry


def arg(*flags: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One argparse argument, as data: arg("--epochs", type=int, help=...)."""
    return flags, kwargs


OWN_COUNT = " and ".join(name for name, m in CLUSTER_METHODS.items() if m.chooses_own_cluster_count)
CLUSTER_FEATURES = arg(
    "--address",
    metavar="HEAD:PORT",
    help="compute the backbone's features on this Ray cluster (ray start --head); every node must see the photos "
    "at the same path",
)
RUNS_DIR = arg(
    "--runs-dir", metavar="DIR", help="folder of runs (default: $LATENTBOARD_RUNS_DIR or ~/.latentboard/runs)"
)


@dataclass(frozen=True)
class Command:
    run: Callable[[argparse.Namespace], int]
    help: str
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = ()
    config_flags: bool = False  # also every RunConfig field's flag (see config_flags)
    config_sections: tuple[str, ...] = ()  # or only the flags of these RunConfig sections


COMMANDS: dict[str, Command] = {
    "train": Command(
        cmd_train,
        "train an autoencoder (or --resume a run)",
        (
            arg(
                "--preset",
                metavar="NAME",
                choices=PRESET_NAMES,
                help=f"{', '.join(PRESET_NAMES)}; best-quality chooses digits, objects or photos by the data's kind; "
                "the flags below override it",
            ),
            arg("--resume", metavar="RUN_ID", help="continue a stopped or interrupted run from its last checkpoint"),
            CLUSTER_FEATURES,
            RUNS_DIR,
        ),
        config_flags=True,
    ),
    "features": Command(
        cmd_features,
        "compute a photo folder's backbone features into the cache `train` reads, and nothing else (resumable)",
        (
            arg(
                "--shard-rows",
                type=int,
                metavar="N",
                help="rows per shard written as it goes; a stopped or killed run resumes from the last finished "
                "one (default: core.features.shards.SHARD_ROWS, 1024)",
            ),
            CLUSTER_FEATURES,
        ),
        config_sections=("data", "features"),
    ),
    "runs": Command(cmd_runs, "list runs, newest first", (RUNS_DIR,)),
    "serve": Command(
        cmd_serve,
        "open the dashboard in the browser",
        (
            arg("--port", type=int, default=8501, metavar="N"),
            arg(
                "--address",
                default="localhost",
                metavar="HOST",
                help="interface to listen on (default: localhost, this machine only; 0.0.0.0 serves the network)",
            ),
            arg("--no-browser", action="store_true", help="do not open a browser tab (servers, CI)"),
            RUNS_DIR,
        ),
    ),
    "evaluate": Command(
        cmd_evaluate,
        "score a run's codes: N2D first, then other clusterings, reconstruction, baselines, probes",
        (
            arg("run_id", metavar="RUN_ID"),
            arg(
                "--split",
                choices=("test", "val", "train", "all"),
                default="test",
                help="rows to evaluate (default: test)",
            ),
            arg(
                "--clusters",
                type=int,
                metavar="N",
                help=f"number of clusters (default: number of classes, or 10; {OWN_COUNT} choose their own)",
            ),
            arg("--seed", type=int, default=0, metavar="N", help="random state of clusterings, UMAP and probes"),
            arg(
                "--skip-baselines",
                action="store_true",
                help="leave out the no-autoencoder baselines (a UMAP of the raw inputs)",
            ),
            arg(
                "--skip-probes",
                action="store_true",
                help="leave out the probes (classifiers trained on each representation)",
            ),
            arg(
                "--heads",
                action="store_true",
                help="also train and score the clustering heads (temi, turtle; temi-features and turtle-features for "
                "runs on features): a minute or more each on a CPU",
            ),
            arg("--json", action="store_true", help="print one JSON object instead of tables"),
            RUNS_DIR,
        ),
    ),
    "classify": Command(
        cmd_classify,
        "place new images among a run's training codes",
        (
            arg("run_id", metavar="RUN_ID"),
            arg("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)"),
            arg("-k", type=int, default=5, metavar="N", help="nearest training neighbours to show (default: 5)"),
            RUNS_DIR,
        ),
    ),
    "export": Command(
        cmd_export,
        "take the clusters home: photos sorted into one folder per cluster, or a table",
        (
            arg("run_id", metavar="RUN_ID"),
            arg(
                "--out",
                metavar="FILE",
                help="which file (or row) is in which cluster: clusters.csv or clusters.parquet",
            ),
            arg(
                "--sorted-folders",
                metavar="FOLDER",
                help="a new folder with one sub-folder per cluster holding the "
                "original files, byte for byte (same names renamed, never overwritten), plus clusters.csv",
            ),
            arg(
                "--method",
                metavar="NAME",
                choices=list(CLUSTER_METHODS),
                help="clustering method: "
                + ", ".join(f"{m.name} ({m.label})" for m in CLUSTER_METHODS.values())
                + " (default: that of the run's sorting edits, else the one the run sorts by: "
                "n2d-features for a run trained on a backbone's features, n2d otherwise)",
            ),
            arg(
                "--clusters",
                type=int,
                metavar="N",
                help="number of clusters (default: that of the sorting edits, else the number of classes, "
                f"or for data without labels the estimated number of groups; {OWN_COUNT} choose their own)",
            ),
            arg(
                "--seed",
                type=int,
                metavar="N",
                help="random state of the clustering (default: the sorting edits', else 0)",
            ),
            arg(
                "--ignore-edits",
                action="store_true",
                help="leave out the cluster names, merges and moves saved on the Latent space page",
            ),
            arg(
                "--duplicates",
                action="store_true",
                help="put every near-duplicate but the one kept (see `latentboard duplicates`) in a _duplicates/ "
                "folder instead of its cluster's; the table's duplicate_of column names the one kept",
            ),
            RUNS_DIR,
        ),
    ),
    "duplicates": Command(
        cmd_duplicates,
        "find near-duplicate photos (copies, crops, bursts), the best shot of each group first",
        (
            arg("run_id", metavar="RUN_ID"),
            arg(
                "--json",
                action="store_true",
                help='print {"groups": [{"keep": FILE, "others": [FILE, ...]}, ...]} (row numbers for data '
                "without files)",
            ),
            RUNS_DIR,
        ),
    ),
    "spread": Command(
        cmd_spread,
        "name a few files, and every other one gets a group and a confidence (least confident first)",
        (
            arg("run_id", metavar="RUN_ID"),
            arg(
                "--examples",
                required=True,
                metavar="CSV",
                help="the named examples: columns file,group, files named as in the dataset (e.g. Robin/0001.jpg "
                "in a labelled folder); for data without files, columns row,group with row numbers from 0. "
                "At least two groups. They replace the run's named examples and decide its export",
            ),
            arg(
                "--out",
                metavar="FILE",
                help="write file,group,confidence there (.csv or .parquet) instead of to stdout",
            ),
            RUNS_DIR,
        ),
    ),
    "outliers": Command(
        cmd_outliers,
        "the odd ones out, most odd first; for labelled data also the possible mislabels",
        (
            arg("run_id", metavar="RUN_ID"),
            arg(
                "--top",
                type=int,
                default=20,
                metavar="N",
                help="rows to list (default: 20; 0: every row); --json always gives every row",
            ),
            arg(
                "--json",
                action="store_true",
                help='print {"outliers": [{"file": FILE, "score": S}, ...]} (every row, most odd first; table rows '
                'named "row N"), plus "mislabels" for labelled data',
            ),
            RUNS_DIR,
        ),
    ),
    "sweep": Command(
        cmd_sweep,
        "train many runs over a search space on Ray Tune; pick the best without labels",
        (
            arg("--dataset", metavar="NAME", help="what every trial trains on (digits, mnist, ...)"),
            arg(
                "--space",
                default="quick",
                metavar="SPEC",
                help="a built-in space (quick, wide) or a .json / .yaml file",
            ),
            arg("--samples", type=int, default=8, metavar="N", help="trials to run (default: 8)"),
            arg("--max-concurrent", type=int, metavar="K", help="trials at once (default: one per CPU of the cluster)"),
            arg(
                "--address", metavar="ADDR", help="join a running Ray cluster (ray start --head) instead of a local one"
            ),
            arg("--num-cpus", type=int, metavar="N", help="local Ray only: CPUs to use (default: all)"),
            arg("--data-dir", metavar="DIR", help="data location, as for train"),
            arg("--max-samples", type=int, metavar="N", help="train on a stratified subsample of N rows"),
            arg("--device", choices=("auto", "cpu", "cuda", "mps"), help="device of every trial (default: cpu)"),
            arg("--seed", type=int, default=0, metavar="N", help="one seed for the subsample, the split and training"),
            arg(
                "--no-check", action="store_true", help="skip the ACC/NMI check against labels (saves a UMAP per trial)"
            ),
            arg("--name", metavar="TEXT", help="a label for the trials' runs"),
            RUNS_DIR,
        ),
    ),
    "report": Command(
        cmd_report,
        "write a run's self-contained HTML report",
        (
            arg("run_id", metavar="RUN_ID"),
            arg("--out", metavar="FILE", help="where to write it (default: report.html in the run folder)"),
            RUNS_DIR,
        ),
    ),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line instead of usage + message
        self.exit(EXIT_USAGE, f"latentboard: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from core.runs import latentboard_version

    parser = _Parser(prog="latentboard", description="Train autoencoders without labels and see what they learned.")
    parser.add_argument("--version", action="version", version=f"latentboard {latentboard_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, command in COMMANDS.items():
        p = sub.add_parser(name, help=command.help, description=command.help)
        for flags, kwargs in command.arguments:
            p.add_argument(*flags, **kwargs)
        if command.config_flags or command.config_sections:
            settings = p.add_argument_group(
                "settings",
                "Defaults shown are before a --preset; only the flags given override it."
                if command.config_flags
                else "The same flags as `train`'s, read the same way.",
            )
            for flag in config_flags():
                if command.config_flags or any(section in command.config_sections for section, _ in flag.targets):
                    settings.add_argument(flag.flag, dest=flag.dest, **flag.kwargs)
        p.set_defaults(handler=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "handler", None):
        print(
            f"latentboard: error: choose a command: {', '.join(COMMANDS)} (see `latentboard --help`)", file=sys.stderr
        )
        return EXIT_USAGE
    try:
        return args.handler(args)
    except LatentboardError as exc:
        print(f"latentboard: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("latentboard: error: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # `latentboard runs | head`: the reader has what it wanted; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit flush cannot fail again
        return EXIT_BUG
    except Exception as exc:
        if os.environ.get("LATENTBOARD_DEBUG"):
            traceback.print_exc()
        print(
            f"latentboard: unexpected error: {type(exc).__name__}: {exc} "
            "(a bug; set LATENTBOARD_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
