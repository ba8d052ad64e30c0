"""The body of `latentboard sweep`: base settings from a few flags, a space, Ray Tune, the table.

Kept out of core/cli.py so the CLI module stays as it is apart from one entry, and so the base
config a sweep starts from is built here from the sweep's own flags (the train flags are not a
sweep's: what varies comes from the space).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from core.errors import ConfigError


def base_config(args: argparse.Namespace):
    """RunConfig every trial starts from: the dataset, its subsample, the device and seed."""
    from core.config import RunConfig, SplitConfig
    from core.data import DataSpec
    from core.training import TrainConfig

    if not args.dataset:
        raise ConfigError("Say what to sweep on with --dataset NAME (e.g. --dataset digits).")
    data = DataSpec(
        source=args.dataset,
        max_samples=args.max_samples,
        seed=args.seed,
        path=str(Path(args.data_dir).expanduser().resolve()) if args.data_dir else None,
    )
    train = dataclasses.replace(TrainConfig(), device=args.device or "cpu", seed=args.seed)
    return RunConfig(data=data, train=train, split=SplitConfig(seed=args.seed), name=args.name or "")


def sweep_command(args: argparse.Namespace) -> int:
    from core.sweeps.space import check_space, load_space
    from core.sweeps.store import SweepStore
    from core.sweeps.table import format_trials

    if args.samples < 1:
        raise ConfigError(f"--samples must be at least 1 (got {args.samples}).")
    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise ConfigError(f"--max-concurrent must be at least 1 (got {args.max_concurrent}).")
    config = base_config(args)
    space = load_space(args.space)
    check_space(space, config)  # a typo fails here, before Ray starts and before any folder exists
    sweep = SweepStore(args.runs_dir).create(config, space, args.samples, address=args.address)
    print(
        f"Sweep {sweep.id}: {space.trials(args.samples)} trials of space {space.name!r} on {args.dataset}; "
        f"record in {sweep.path}",
        flush=True,
    )

    from core.sweeps.tune import run_sweep  # the one line that loads Ray

    result = run_sweep(
        sweep,
        address=args.address,
        max_concurrent=args.max_concurrent,
        num_cpus=args.num_cpus,
        check=not args.no_check,
        log=lambda line: print(line, flush=True),
    )
    print()
    print(format_trials(result.trials))
    print(
        f"\n{len(result.trials)} trials in {result.seconds:.1f} s "
        f"on {result.nodes} node{'s' if result.nodes != 1 else ''}. "
        "Score: validation reconstruction MSE of clean inputs (lower is better)."
    )
    if result.best is None:
        raise ConfigError(f"No trial of sweep {sweep.id} finished; each run's message says why (`latentboard runs`).")
    print(f"Best run: {result.best.run_id} (score {result.best.score:.4g})")
    return 0
