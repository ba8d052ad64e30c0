"""Sweeps: many ordinary runs over a search space, launched on Ray Tune, best picked without labels.

    from core.sweeps import SweepStore, load_space
    sweep = SweepStore(runs_dir).create(base_config, load_space("quick"), samples=8)
    from core.sweeps.tune import run_sweep      # the one import that loads Ray
    result = run_sweep(sweep)

Modules: space (what to try, checked against the config dataclasses), store (sweep records and
their trials on disk), scoring (the label-free criterion and the labelled check), tune (Ray),
command (the `latentboard sweep` command's body), table (rows for the CLI and the dashboard).
Nothing imported here loads Ray.
"""

from core.sweeps.space import BUILTIN_SPACES, SearchSpace, apply_params, check_space, load_space, parse_space
from core.sweeps.store import Sweep, SweepStore, TrialRow

__all__ = [
    "BUILTIN_SPACES",
    "SearchSpace",
    "Sweep",
    "SweepStore",
    "TrialRow",
    "apply_params",
    "check_space",
    "load_space",
    "parse_space",
]
