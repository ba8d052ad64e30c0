"""`latentboard`: the same pipeline as the dashboard, headless.

    latentboard train --dataset digits --model conv --epochs 5
    latentboard train --resume 20261124-143012-a1b2
    latentboard runs
    latentboard serve --port 8501

Adding a subcommand is one function `cmd_<name>(args) -> int` plus one entry in COMMANDS naming
its help text and arguments. A LatentboardError (or Ctrl-C) becomes one line on stderr and exit
code 2; anything else is a bug and exits 1.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from core.errors import ConfigError, LatentboardError, RunError

EXIT_USAGE = 2  # a user's mistake or a Ctrl-C: the message says what to do
EXIT_BUG = 1


# --------------------------------------------------------------------------- train


# Flag dest -> (RunConfig section, field). Only flags the user gave override the preset / defaults.
_TRAIN_OVERRIDES: dict[str, tuple[str, str]] = {
    "dataset": ("data", "source"),
    "max_samples": ("data", "max_samples"),
    "image_size": ("data", "image_size"),
    "label_column": ("data", "label_column"),
    "model": ("model", "family"),
    "latent_dim": ("model", "latent_dim"),
    "width": ("model", "width"),
    "depth": ("model", "depth"),
    "noise": ("model", "noise"),
    "augment": ("model", "augment"),
    "sparsity": ("model", "sparsity"),
    "beta": ("model", "beta"),
    "loss": ("model", "loss"),
    "epochs": ("train", "epochs"),
    "batch_size": ("train", "batch_size"),
    "lr": ("train", "lr"),
    "optimizer": ("train", "optimizer"),
    "patience": ("train", "patience"),
    "device": ("train", "device"),
    "features": ("features", "backbone"),
    "bad_files": ("data", "bad_files"),
}
_CONFIG_FLAGS = (*_TRAIN_OVERRIDES, "data_dir", "seed", "preset", "name")


def config_from_args(args: argparse.Namespace) -> Any:
    """RunConfig from `train` flags: defaults, then the preset, then every flag given."""
    from core.experiment import RunConfig
    from core.presets import apply_preset

    config = RunConfig()
    if args.preset:
        config = apply_preset(config, args.preset)
    sections: dict[str, dict[str, Any]] = {"data": {}, "model": {}, "train": {}, "split": {}, "features": {}}
    for dest, (section, name) in _TRAIN_OVERRIDES.items():
        value = getattr(args, dest)
        if value is not None:
            sections[section][name] = value
    if args.data_dir is not None:
        # Absolute, so that resuming from another folder still finds the data.
        sections["data"]["path"] = str(Path(args.data_dir).expanduser().resolve())
    if args.seed is not None:  # one seed for the whole run: subsample, split and training
        for section in ("data", "train", "split"):
            sections[section]["seed"] = args.seed
    config = dataclasses.replace(
        config,
        **{section: dataclasses.replace(getattr(config, section), **values) for section, values in sections.items() if values},
    )
    if args.name is not None:
        config = dataclasses.replace(config, name=args.name)
    return config


def cmd_train(args: argparse.Namespace) -> int:
    from core.experiment import start_run
    from core.runs import RunStore

    store = RunStore(args.runs_dir)
    if args.resume:
        given = [f"--{flag.replace('_', '-')}" for flag in _CONFIG_FLAGS if getattr(args, flag) is not None]
        if given:
            raise ConfigError(f"--resume continues a run with its own settings; leave out {', '.join(given)}.")
        run = store.open(args.resume)
        state = run.status()  # execute() checks again; this only spares a misleading banner
        if state == "finished":
            raise RunError(f"Run {run.id} already finished its {run.config.train.epochs} epochs; there is nothing to resume.")
        if state == "running":
            raise RunError(f"Run {run.id} is being trained by another process (pid {run.info().get('pid')}).")
    else:
        if not args.dataset:
            raise ConfigError("Say what to train on with --dataset NAME (e.g. --dataset digits), or continue a run with --resume RUN_ID.")
        run = start_run(store, config_from_args(args))
    return _train(run, resume=bool(args.resume), runs_dir_flag=args.runs_dir)


def _train(run: Any, resume: bool, runs_dir_flag: str | None) -> int:
    from tqdm import tqdm

    from core.experiment import execute

    config = run.config
    resume_hint = f"latentboard train --resume {run.id}" + (f" --runs-dir {runs_dir_flag}" if runs_dir_flag else "")
    verb = "Resuming" if resume else "Training"
    reads = f"{config.features.backbone} features of {config.data.source}" if config.features.backbone else config.data.source
    print(f"{verb} run {run.id}: {config.model.family} autoencoder on {reads}, "
          f"{config.train.epochs} epochs, latent size {config.model.latent_dim}", flush=True)
    print(f"Run folder: {run.path}", flush=True)

    stop = threading.Event()
    restore = _stop_on_ctrl_c(stop)
    began = time.monotonic()
    bar = tqdm(unit="batch", dynamic_ncols=True, leave=False, disable=not sys.stderr.isatty())
    prepare = _PrepareLine()
    try:
        for event in execute(run, stop=stop, resume=resume, on_prepare=prepare):
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
    print(f"Run {run.id} {info['state']} after {info.get('epochs_done', 0)} of {config.train.epochs} epochs "
          f"in {seconds:.1f} s.", flush=True)
    message = info.get("message") or ""
    if message and not message.startswith(("Finished", "Stopped after")):  # e.g. why it stopped early
        print(message)
    if info.get("train_loss") is not None:
        val = info.get("val_loss")
        print(f"Last epoch: train loss {info['train_loss']:.4g}" + (f", val loss {val:.4g}" if val is not None else ""))
    print(f"Run id: {run.id}")
    print(f"Run folder: {run.path}", flush=True)
    if info["state"] == "stopped":
        print(f"latentboard: error: interrupted; run {run.id} stopped after {info.get('epochs_done', 0)} of "
              f"{config.train.epochs} epochs, its checkpoint is kept. Resume with: {resume_hint}", file=sys.stderr)
        return EXIT_USAGE
    return 0


class _PrepareLine:
    """What happens before the first batch: loading notes as lines, feature extraction as a bar."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.began = time.monotonic()

    def __call__(self, what: str, done: int, total: int) -> None:
        from tqdm import tqdm

        if not total:
            print(what, flush=True)
            return
        if self.bar is None:
            self.began = time.monotonic()
            self.bar = tqdm(total=total, desc=f"Computing {what}", unit="image", dynamic_ncols=True, leave=False,
                            disable=not sys.stderr.isatty())
        self.bar.update(done - self.bar.n)
        if done >= total:
            self.close()
            print(f"Computed {what} of {total} images in {time.monotonic() - self.began:.1f} s.", flush=True)

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
        table.append((r.id, r.name or "-", r.status, r.dataset or "-", r.family or "-",
                      f"{r.epochs_done}/{r.epochs}", _number(r.train_loss), _number(r.val_loss)))
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
    from core.runs import RunStore

    app = dashboard_app_path()
    if not app.is_file():
        raise LatentboardError(f"The dashboard is missing: {app} does not exist. Install latentboard from its "
                               "source folder (pip install -e .) so the dashboard/ folder sits next to core/.")
    runs_dir = RunStore(args.runs_dir).root.resolve()
    env = dict(os.environ, LATENTBOARD_RUNS_DIR=str(runs_dir))
    command = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port)]
    # Streamlit stays headless (not headless, it asks for an e-mail address on first start and would
    # hang a launch with no terminal); we open the tab ourselves once the server answers.
    command += ["--server.headless", "true"]
    print(f"Serving the dashboard on http://localhost:{args.port} (runs in {runs_dir}); Ctrl-C to quit.", flush=True)
    # cwd: the project folder, so Streamlit picks up its .streamlit/config.toml.
    process = subprocess.Popen(command, env=env, cwd=app.parent.parent)
    if not args.no_browser:
        threading.Thread(target=_open_when_ready, args=(args.port,), daemon=True).start()
    try:
        return process.wait()
    except KeyboardInterrupt:  # Streamlit got the same Ctrl-C and shuts down on its own
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait()
        return 0


# --------------------------------------------------------------------------- evaluate, classify, report


def _trained_run(args: argparse.Namespace) -> Any:
    """The run named on the command line, loaded with its dataset, splits and model."""
    from core.experiment import load_trained
    from core.runs import RunStore

    return load_trained(RunStore(args.runs_dir).open(args.run_id))


def cmd_evaluate(args: argparse.Namespace) -> int:
    import json

    from core.evaluation import evaluate_run, format_evaluation

    trained = _trained_run(args)
    if not args.json:
        print(f"Evaluating run {trained.run.id} on its {args.split} split ...", file=sys.stderr, flush=True)
    result = evaluate_run(trained, split=args.split, random_state=args.seed, n_clusters=args.clusters)
    if args.json:
        print(json.dumps(result, allow_nan=False))
    else:
        print(format_evaluation(result))
        print(f"\nSaved to {trained.run.path / f'evaluation-{args.split}.json'}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from core.evaluation import classify_images

    trained = _trained_run(args)
    for result in classify_images(trained, args.images, k=args.k):
        labels = [n.label if n.label is not None else str(n.index) for n in result.neighbors]
        likely = result.cluster_label if result.cluster_label is not None else "-"
        print(f"{result.source}: cluster {result.cluster}, likely label {likely}, "
              f"nearest neighbours {' '.join(labels)}, reconstruction error {result.error:.4f}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from core.report import write_report

    trained = _trained_run(args)
    print(f"Writing the report of run {trained.run.id} ...", file=sys.stderr, flush=True)
    path = write_report(trained, args.out)
    print(f"Report: {path}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from core.export import cluster_assignments, write_assignments

    trained = _trained_run(args)
    frame = cluster_assignments(trained, args.method, args.clusters, args.seed)
    path = write_assignments(frame, args.out)
    sizes = frame["cluster"].value_counts().sort_index()
    print(f"{len(frame)} rows in {len(sizes)} clusters ({', '.join(f'{c}: {n}' for c, n in sizes.items())}) -> {path}")
    return 0


# --------------------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    from core.sweeps.command import sweep_command  # Ray loads only once a sweep really starts

    return sweep_command(args)


# --------------------------------------------------------------------------- the registry


def arg(*flags: str, **kwargs: Any) -> tuple[tuple[str, ...], dict[str, Any]]:
    """One argparse argument, as data: arg("--epochs", type=int, help=...)."""
    return flags, kwargs


RUNS_DIR = arg("--runs-dir", metavar="DIR", help="folder of runs (default: $LATENTBOARD_RUNS_DIR or ~/.latentboard/runs)")


@dataclass(frozen=True)
class Command:
    run: Callable[[argparse.Namespace], int]
    help: str
    arguments: tuple[tuple[tuple[str, ...], dict[str, Any]], ...] = ()


COMMANDS: dict[str, Command] = {
    "train": Command(cmd_train, "train an autoencoder (or --resume a run)", (
        arg("--dataset", metavar="NAME", help="digits, mnist, fashion-mnist, cifar10, folder, table, npz, ..."),
        arg("--data-dir", metavar="DIR", help="data location: your folder / file for folder, table and npz; the download cache otherwise"),
        arg("--model", metavar="FAMILY", help="dense, conv, recurrent, vae, conv-vae, ..."),
        arg("--latent-dim", type=int, metavar="N", help="size of the code"),
        arg("--width", type=int, metavar="N", help="hidden units (dense, recurrent) or channels x8 (conv)"),
        arg("--depth", type=int, metavar="N", help="hidden layers / conv blocks / RNN layers"),
        arg("--epochs", type=int, metavar="N"),
        arg("--batch-size", type=int, metavar="N"),
        arg("--lr", type=float, metavar="X", help="learning rate"),
        arg("--optimizer", choices=("adam", "adamw", "sgd")),
        arg("--patience", type=int, metavar="N", help="stop early after N epochs without a better validation loss"),
        arg("--seed", type=int, metavar="N", help="one seed for the subsample, the split and training"),
        arg("--max-samples", type=int, metavar="N", help="train on a stratified subsample of N rows"),
        arg("--image-size", type=int, metavar="N", help="resize images to N x N"),
        arg("--label-column", metavar="COL", help="table: the column holding labels (kept out of training)"),
        arg("--noise", type=float, metavar="X", help="denoising: std of the input noise"),
        arg("--augment", type=float, metavar="X", help="images: strength of random turns/shifts of the input (1 = up to 15 degrees, 10%% of the side)"),
        arg("--sparsity", type=float, metavar="X", help="weight of the L1 penalty on the code"),
        arg("--beta", type=float, metavar="X", help="VAE: weight of the KL term"),
        arg("--loss", choices=("mse", "bce")),
        arg("--device", choices=("auto", "cpu", "cuda", "mps")),
        arg("--features", metavar="BACKBONE", help="images: train on a pretrained backbone's features instead of pixels "
            "(efficientnet-lite0 works offline; resnet50, convnext-tiny, dinov2-small download once)"),
        arg("--bad-files", choices=("skip", "fail"), help="folder: skip unreadable images and say which (default), or stop at the first"),
        arg("--preset", metavar="NAME", help="quick-demo, best-quality or photos; other flags override it"),
        arg("--name", metavar="TEXT", help="a label for the run"),
        arg("--resume", metavar="RUN_ID", help="continue a stopped or interrupted run from its last checkpoint"),
        RUNS_DIR,
    )),
    "runs": Command(cmd_runs, "list runs, newest first", (RUNS_DIR,)),
    "serve": Command(cmd_serve, "open the dashboard in the browser", (
        arg("--port", type=int, default=8501, metavar="N"),
        arg("--no-browser", action="store_true", help="do not open a browser tab (servers, CI)"),
        RUNS_DIR,
    )),
    "evaluate": Command(cmd_evaluate, "score a run's codes: clusterings, baselines, probes, reconstruction", (
        arg("run_id", metavar="RUN_ID"),
        arg("--split", choices=("test", "val", "train", "all"), default="test", help="rows to evaluate (default: test)"),
        arg("--clusters", type=int, metavar="N", help="number of clusters (default: number of classes, or 10)"),
        arg("--seed", type=int, default=0, metavar="N", help="random state of clusterings, UMAP and probes"),
        arg("--json", action="store_true", help="print one JSON object instead of tables"),
        RUNS_DIR,
    )),
    "classify": Command(cmd_classify, "place new images among a run's training codes", (
        arg("run_id", metavar="RUN_ID"),
        arg("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, ...)"),
        arg("-k", type=int, default=5, metavar="N", help="nearest training neighbours to show (default: 5)"),
        RUNS_DIR,
    )),
    "export": Command(cmd_export, "write which file (or row) is in which cluster, as CSV or Parquet", (
        arg("run_id", metavar="RUN_ID"),
        arg("--out", required=True, metavar="FILE", help="clusters.csv or clusters.parquet"),
        arg("--method", default="n2d", metavar="NAME", help="clustering pipeline (default: n2d; see evaluate)"),
        arg("--clusters", type=int, metavar="N", help="number of clusters (default: number of classes, or 10)"),
        arg("--seed", type=int, default=0, metavar="N", help="random state of the clustering"),
        RUNS_DIR,
    )),
    "sweep": Command(cmd_sweep, "train many runs over a search space on Ray Tune; pick the best without labels", (
        arg("--dataset", metavar="NAME", help="what every trial trains on (digits, mnist, ...)"),
        arg("--space", default="quick", metavar="SPEC", help="a built-in space (quick, wide) or a .json / .yaml file"),
        arg("--samples", type=int, default=8, metavar="N", help="trials to run (default: 8)"),
        arg("--max-concurrent", type=int, metavar="K", help="trials at once (default: one per CPU of the cluster)"),
        arg("--address", metavar="ADDR", help="join a running Ray cluster (ray start --head) instead of a local one"),
        arg("--num-cpus", type=int, metavar="N", help="local Ray only: CPUs to use (default: all)"),
        arg("--data-dir", metavar="DIR", help="data location, as for train"),
        arg("--max-samples", type=int, metavar="N", help="train on a stratified subsample of N rows"),
        arg("--device", choices=("auto", "cpu", "cuda", "mps"), help="device of every trial (default: cpu)"),
        arg("--seed", type=int, default=0, metavar="N", help="one seed for the subsample, the split and training"),
        arg("--no-check", action="store_true", help="skip the ACC/NMI check against labels (saves a UMAP per trial)"),
        arg("--name", metavar="TEXT", help="a label for the trials' runs"),
        RUNS_DIR,
    )),
    "report": Command(cmd_report, "write a run's self-contained HTML report", (
        arg("run_id", metavar="RUN_ID"),
        arg("--out", metavar="FILE", help="where to write it (default: report.html in the run folder)"),
        RUNS_DIR,
    )),
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
        p.set_defaults(handler=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if not getattr(args, "handler", None):
        print(f"latentboard: error: choose a command: {', '.join(COMMANDS)} (see `latentboard --help`)", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except LatentboardError as exc:
        print(f"latentboard: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("latentboard: error: interrupted", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        if os.environ.get("LATENTBOARD_DEBUG"):
            traceback.print_exc()
        print(f"latentboard: unexpected error: {type(exc).__name__}: {exc} "
              "(a bug; set LATENTBOARD_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
