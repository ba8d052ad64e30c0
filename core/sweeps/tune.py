"""Run a sweep on Ray Tune: each trial is an ordinary run, trained by core.experiment.execute.

    sweep = SweepStore(runs_dir).create(base_config, load_space("quick"), samples=8)
    result = run_sweep(sweep)                       # local Ray with this machine's cores
    result = run_sweep(sweep, address="10.0.0.5:6379")   # an existing cluster (`ray start --head`)

With core.ray_cluster and core.features.distributed, the only modules of Latentboard that import
`ray` (and only inside functions, so importing them is as cheap as the rest): the CLI, the
dashboard and `latentboard train` without --address never load Ray.

Why this shape:
- A trial creates its run folder itself (start_run, then execute), on whichever node Tune puts
  it, so the runs dir must be one shared folder; `check_shared_runs_dir` proves that at start by
  having every node read the driver's probe file and write its own.
- Trials report once per finished epoch (the trainer's Progress events) so Tune's ASHA scheduler
  can stop poor trials early. The last epoch is not reported until the run is scored, because a
  trial Tune stops never runs another line; a run stopped that way ends "interrupted" on disk,
  and the driver relabels it "stopped" with the reason once Tune is done.
- A trial that fails (bad settings, a diverging loss, a bug) ends as a failed run with its
  message, and reports nothing more; the sweep goes on with the others.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from core.errors import ConfigError, LatentboardError
from core.ray_cluster import alive_nodes, connect, on_every_node, shutdown
from core.sweeps.scoring import SCORE_NAME, epoch_score, score_run
from core.sweeps.space import (
    Choice,
    Grid,
    LogUniform,
    RandInt,
    SearchSpace,
    Uniform,
    apply_params,
    check_space,
    parse_space,
)
from core.sweeps.store import TRIAL_FILE, Sweep, TrialRow, now_iso

EARLY_METRIC = "val_recon"  # what ASHA compares per epoch (see core.sweeps.scoring)
PROBE_DIR = "probes"
ASHA_GRACE_EPOCHS = 2  # no trial is stopped before this many epochs: the first epoch says little
ASHA_REDUCTION = 2  # keep the better half at every rung: with a handful of trials, 4 would keep one
ASHA_STOPPED = "Stopped early by the sweep's ASHA scheduler"
LET_GO_SECONDS = 30  # how long a stopped sweep waits for its cut-off trials' processes to exit


@dataclass(frozen=True)
class SweepResult:
    sweep: Sweep
    trials: list[TrialRow]
    best: TrialRow | None
    seconds: float
    nodes: int


# --------------------------------------------------------------------------- the cluster


def check_shared_runs_dir(folder: Path) -> int:
    """Every alive node reads the driver's probe file in `folder` and writes its own; returns the node count.

    Trials write their runs wherever Tune places them, and the driver, the dashboard and the
    other trials must all see them: a runs dir on one machine's local disk would scatter a sweep.
    """
    probes = folder / PROBE_DIR
    probes.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(8)
    (probes / "driver").write_text(token, encoding="utf-8")

    def probe(path: str, expected: str, node_id: str) -> str | None:
        try:
            if Path(path, "driver").read_text(encoding="utf-8") != expected:
                return "it holds another driver's probe file"
            Path(path, f"node-{node_id}").write_text(socket.gethostname(), encoding="utf-8")
        except OSError as exc:
            return str(exc)
        return None

    answers = on_every_node(probe, str(probes), token)
    problems = [f"{where}: {problem}" for where, problem in answers.items() if problem]
    missing = [n["NodeManagerAddress"] for n in alive_nodes() if not (probes / f"node-{n['NodeID']}").exists()]
    if problems or missing:
        raise ConfigError(
            f"The runs folder {folder.parent.parent} is not shared by every Ray node ("
            + "; ".join(problems + [f"{m}: its probe file did not arrive here" for m in missing])
            + "). Each trial writes its run where it trains: "
            "give --runs-dir a folder every node mounts at the same path "
            "(e.g. NFS), or sweep locally without --address."
        )
    return len(answers)


# --------------------------------------------------------------------------- one trial


def _sampler(domain: Any) -> Any:
    from ray import tune

    if isinstance(domain, Choice):
        return tune.choice(list(domain.values))
    if isinstance(domain, Grid):
        return tune.grid_search(list(domain.values))
    if isinstance(domain, Uniform):
        return tune.uniform(domain.low, domain.high)
    if isinstance(domain, LogUniform):
        return tune.loguniform(domain.low, domain.high)
    if isinstance(domain, RandInt):
        return tune.randint(domain.low, domain.high + 1)  # Ray's upper bound is exclusive
    raise TypeError(f"not a search domain: {domain!r}")


def _plain(value: Any) -> Any:
    """numpy scalars (what Tune samples) -> Python numbers, so the config stays JSON."""
    return value.item() if hasattr(value, "item") else value


def _trial(params: dict[str, Any], sweep_id: str, runs_dir: str, base: dict[str, Any], check: bool) -> None:
    """One Tune trial: create, train and score an ordinary run tagged with the sweep."""
    import ray
    import torch
    from ray import tune

    from core.config import RunConfig
    from core.experiment import execute, start_run
    from core.gate import check_config
    from core.runs import RunStore

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    params = {key: _plain(value) for key, value in params.items()}
    store = RunStore(runs_dir)
    config = apply_params(RunConfig.from_dict(base), params)
    trial = {
        "sweep": sweep_id,
        "trial": tune.get_context().get_trial_id(),
        "params": params,
        "host": socket.gethostname(),
        "node": ray.get_runtime_context().get_node_id(),
        "score": None,
        "score_name": SCORE_NAME,
        "check": {},
    }
    try:
        run = start_run(store, check_config(config))  # the gate; execute() loads the data on its node
    except ConfigError as exc:  # settings that cannot work on this data: a failed run says so
        run = store.create(config)
        run.write_json(TRIAL_FILE, trial)
        run.set_status("failed", str(exc), sweep=sweep_id)
        _report_failure(run)
        return
    run.write_json(TRIAL_FILE, trial)
    run.set_status("created", None, sweep=sweep_id)
    last = stopped_at = None
    try:
        for event in execute(run):
            if event.kind != "epoch":
                continue
            last = event
            if event.epoch < event.epochs and not event.message:  # the final epoch waits for the score
                try:
                    tune.report({EARLY_METRIC: epoch_score(event), "epoch": event.epoch, "run_id": run.id})
                except BaseException:  # Tune ends a trial it stops (ASHA) by raising here
                    stopped_at = event.epoch
                    raise
        if run.status() != "finished":
            return
        score, checks = score_run(run, check=check)
        run.write_json(TRIAL_FILE, {**trial, "score": score, "check": checks})
    except LatentboardError:  # execute() marked the run failed with the message; the sweep goes on
        _report_failure(run)
        return
    except Exception as exc:  # a bug in one trial must not end the sweep; the run says what happened
        if stopped_at is not None:
            raise
        if run.status() != "failed":
            run.set_status("failed", f"Unexpected error: {type(exc).__name__}: {exc}")
        _report_failure(run)
        return
    finally:
        if stopped_at is not None:  # execute() has checkpointed and said "stopped"; say why
            run.set_status("stopped", asha_message(stopped_at, config.train.epochs))
    tune.report(
        {
            EARLY_METRIC: epoch_score(last) if last else score,
            SCORE_NAME: score,
            "epoch": last.epoch if last else 0,
            "run_id": run.id,
        }
    )


def _report_failure(run: Any) -> None:
    """Tune expects the metric in a trial's last result: a failed trial scores worst of all."""
    from ray import tune

    tune.report({EARLY_METRIC: float("inf"), "run_id": run.id, "failed": True})


# --------------------------------------------------------------------------- the sweep


def run_sweep(
    sweep: Sweep,
    address: str | None = None,
    max_concurrent: int | None = None,
    num_cpus: int | None = None,
    check: bool = True,
    log: Callable[[str], None] = lambda line: None,
) -> SweepResult:
    """Run every trial of `sweep` on Ray Tune and record the best run in its sweep.json."""
    from core.config import RunConfig

    began = time.monotonic()
    # Tune's own console output (banners, TensorBoard hints, per-trial CSV/JSON/TensorBoard logs)
    # would bury our table; the runs themselves hold every metric. Ctrl-C (or the dashboard's
    # Stop) reaches us as KeyboardInterrupt instead of Tune's quiet wind-down, so the sweep and
    # its cut-off trials can say they were stopped rather than finished.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    started = False
    try:
        record = sweep.record()
        base = RunConfig.from_dict(record["base_config"])
        space = parse_space(record["space"], record.get("space_name", "custom"))
        check_space(space, base)
        started = connect(address, num_cpus)
        sweep.update(state="running", message=None, pid=os.getpid(), host=socket.gethostname())
        nodes = check_shared_runs_dir(sweep.path)
        results = _tune(sweep, base, space, int(record["samples"]), max_concurrent, check, log, nodes)
    except BaseException as exc:
        cut = datetime.now(timezone.utc)
        with _interrupts_ignored():  # Stop is said again until it holds; the wind-down must not be cut short
            shutdown(started)  # first, so the cut-off trials let go of their runs
            _wait_for_trials_to_let_go(sweep)
            _settle_trials(sweep, {}, "Stopped: the sweep was interrupted.", cut=cut)
            if isinstance(exc, KeyboardInterrupt):
                sweep.update(
                    state="stopped",
                    message="Stopped on request (Ctrl-C, or Stop on the Sweeps page).",
                    finished=now_iso(),
                )
            else:
                sweep.update(state="failed", message=str(exc) or type(exc).__name__, finished=now_iso())
        raise
    shutdown(started)
    _settle_trials(sweep, results, None)
    best = sweep.best()
    trials = sweep.trials()
    seconds = time.monotonic() - began
    sweep.update(
        state="finished",
        finished=now_iso(),
        seconds=round(seconds, 1),
        nodes=nodes,
        best_run=best.run_id if best else None,
        best_score=best.score if best else None,
        message=None if best else "No trial finished; see each run's message.",
    )
    return SweepResult(sweep, trials, best, seconds, nodes)


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored inside, as it was after (only the main thread has handlers to change)."""
    try:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _tune(
    sweep: Sweep,
    base: Any,
    space: SearchSpace,
    samples: int,
    max_concurrent: int | None,
    check: bool,
    log: Callable[[str], None],
    nodes: int,
) -> dict[str, str | None]:
    """Tuner.fit over the space; returns run id -> Tune's error text (None when the trial ended cleanly)."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    cpus = int(ray.cluster_resources().get("CPU", 1))
    concurrent = max_concurrent or max(1, cpus)
    log(
        f"Sweep {sweep.id}: {space.trials(samples)} trials over {', '.join(space.params)}; up to {concurrent} at once "
        f"on {nodes} node{'s' if nodes != 1 else ''} ({cpus} CPUs)."
    )
    max_epochs = int(space.max_value("train.epochs", base.train.epochs))
    scheduler = ASHAScheduler(
        time_attr="training_iteration",
        max_t=max_epochs,
        grace_period=min(ASHA_GRACE_EPOCHS, max_epochs),
        reduction_factor=ASHA_REDUCTION,
    )
    trainable = tune.with_resources(
        tune.with_parameters(
            _trial, sweep_id=sweep.id, runs_dir=str(sweep.store.runs.root.resolve()), base=base.to_dict(), check=check
        ),
        _trial_resources(base, concurrent),
    )
    tuner = tune.Tuner(
        trainable,
        param_space={key: _sampler(domain) for key, domain in space.params.items()},
        tune_config=tune.TuneConfig(
            metric=EARLY_METRIC,
            mode="min",
            num_samples=samples,
            scheduler=scheduler,
            max_concurrent_trials=concurrent,
            reuse_actors=False,
            trial_dirname_creator=lambda trial: trial.trial_id,
        ),
        run_config=tune.RunConfig(
            name="tune",
            storage_path=str(sweep.path.resolve()),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
        ),
    )
    grid = tuner.fit()
    outcome: dict[str, str | None] = {}
    for result in grid:
        run_id = (result.metrics or {}).get("run_id")
        if run_id:
            outcome[run_id] = None if result.error is None else str(result.error).strip().splitlines()[-1]
    return outcome


def _trial_resources(base: Any, concurrent: int) -> dict[str, float]:
    """One CPU per trial; with --device cuda also an equal share of one GPU, so Tune places trials
    only on nodes that have one and never runs more on a GPU than were asked to run at once."""
    resources: dict[str, float] = {"cpu": 1}
    if base.train.device == "cuda":
        resources["gpu"] = 1 / concurrent
    return resources


def asha_message(done: int, epochs: int) -> str:
    return (
        f"{ASHA_STOPPED} after {done} of {epochs} epochs: "
        "its validation reconstruction was among the worst at that point."
    )


def _wait_for_trials_to_let_go(sweep: Sweep, seconds: float = LET_GO_SECONDS) -> None:
    """ray.shutdown() returns before its workers have exited, and a worker being torn down may
    still write its run's last status. Wait (a bounded time) until no trial's run is held by one."""
    deadline = time.monotonic() + seconds
    while any(trial.status == "running" for trial in sweep.trials()) and time.monotonic() < deadline:
        time.sleep(0.2)


def _settle_trials(
    sweep: Sweep, outcome: dict[str, str | None], default: str | None, cut: datetime | None = None
) -> None:
    """Say why Tune ended a trial from outside, in the run's status.

    A trial Tune stops is cut off wherever it is: its run says "interrupted" (process gone) or
    "stopped" by execute() with a generic message. After a clean sweep the only such stops are
    ASHA's (errors come back in `outcome`); `default` is the reason when the sweep itself ended early.
    A trial that failed after the moment `cut` (the interrupt) failed because its process was
    being torn down: it was stopped, and its message keeps what the process last said.
    """
    for trial in sweep.trials():
        # A trial cut off by the interrupt may have guessed ASHA (Tune stopped it inside report()).
        relabel = trial.status == "stopped" and (
            default is not None or not (trial.message or "").startswith(ASHA_STOPPED)
        )
        torn_down = trial.status == "failed" and default is not None and _updated_after(sweep, trial.run_id, cut)
        if trial.status not in ("interrupted", "running", "created") and not (relabel or torn_down):
            continue
        run = sweep.store.runs.open(trial.run_id)
        settled = (
            ("interrupted", "created", "stopped", "failed") if torn_down else ("interrupted", "created", "stopped")
        )
        if run.status() not in settled:  # still trained by someone, or failed on its own: leave it alone
            continue
        error = outcome.get(trial.run_id)
        if error:
            run.set_status("failed", f"The trial ended with an error: {error}")
        elif torn_down:
            run.set_status("stopped", f"{default} While stopping, its process said: {trial.message}")
        elif default:
            run.set_status("stopped", default)
        else:
            run.set_status("stopped", asha_message(int(run.info().get("epochs_done") or 0), run.config.train.epochs))


def _updated_after(sweep: Sweep, run_id: str, moment: datetime | None) -> bool:
    if moment is None:
        return False
    try:
        return datetime.fromisoformat(str(sweep.store.runs.open(run_id).info().get("updated"))) >= moment
    except (TypeError, ValueError):
        return False


def main(argv: list[str] | None = None) -> int:
    """`python -m core.sweeps.tune SWEEP_ID --runs-dir DIR`: run a sweep already recorded (the dashboard's job)."""
    import argparse

    from core.sweeps.store import SweepStore

    parser = argparse.ArgumentParser(prog="python -m core.sweeps.tune")
    parser.add_argument("sweep_id")
    parser.add_argument("--runs-dir")
    parser.add_argument("--address")
    parser.add_argument("--max-concurrent", type=int)
    parser.add_argument("--num-cpus", type=int)
    parser.add_argument("--no-check", action="store_true")
    args = parser.parse_args(argv)
    # Stop reaches this process as SIGINT (core.sweeps.jobs.stop_sweep). A process started in the
    # background by a non-interactive shell (`latentboard serve &`, `nohup ... &`) inherits SIGINT
    # ignored, and so would every sweep it starts: Stop would be lost and the trials train on.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sweep = SweepStore(args.runs_dir).open(args.sweep_id)
    try:
        result = run_sweep(sweep, args.address, args.max_concurrent, args.num_cpus, check=not args.no_check, log=print)
    except LatentboardError as exc:
        print(f"latentboard: error: {exc}", flush=True)
        return 2
    except KeyboardInterrupt:
        print("Sweep stopped on request.", flush=True)
        return 2
    print(f"Best run: {result.best.run_id if result.best else '-'}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
