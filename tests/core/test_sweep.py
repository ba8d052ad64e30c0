"""Sweeps: search spaces checked against the configs, and real Ray Tune sweeps on tiny digits.

The Ray tests start their own Ray (a local one with 2 CPUs, or a two-node cluster on loopback)
and always shut it down, so no Ray process outlives them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import main
from core.config import RunConfig
from core.data import DataSpec
from core.errors import ConfigError
from core.models import ModelConfig
from core.runs import RunStore
from core.sweeps import SweepStore, apply_params, check_space, load_space, parse_space
from core.sweeps.store import TRIAL_FILE
from core.sweeps.table import format_trials
from core.training import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
TRAINS_UNTIL_STOPPED = 1_000_000  # epochs: a trial that only the test's Stop ends
RAY_TEST_TIMEOUT = 300  # a hung Ray fails the test (its finally then shuts Ray down) instead of the suite
TINY_SPACE = {
    "family": ["dense"],
    "latent_dim": {"grid": [2, 3]},
    "width": [16],
    "depth": [1],
    "epochs": [2],
    "lr": {"loguniform": [1e-3, 3e-3]},
}


def tiny_base() -> RunConfig:
    return RunConfig(
        data=DataSpec(source="digits", max_samples=200),
        model=ModelConfig(width=16, depth=1),
        train=TrainConfig(epochs=2, batch_size=64, device="cpu"),
    )


# --------------------------------------------------------------------------- spaces (no Ray)


class TestSpaces:
    def test_builtin_quick_parses_and_fits_digits(self):
        space = load_space("quick")
        assert "model.family" in space.params and "train.lr" in space.params
        check_space(space, tiny_base())

    def test_unknown_setting_lists_the_valid_ones(self):
        with pytest.raises(ConfigError, match="latent_dims") as info:
            parse_space({"latent_dims": [2]})
        assert "model: family, latent_dim" in str(info.value) and "train: epochs" in str(info.value)

    def test_plain_and_qualified_names_apply_to_the_config(self):
        space = parse_space({"latent_dim": [4], "train.lr": 0.01})
        assert set(space.params) == {"model.latent_dim", "train.lr"}
        config = apply_params(tiny_base(), {"model.latent_dim": 4, "lr": 0.01})
        assert config.model.latent_dim == 4 and config.train.lr == 0.01 and config.data.max_samples == 200

    def test_bad_values_fail_before_any_trial(self):
        with pytest.raises(ConfigError, match="model.family = 'cnov'"):
            check_space(parse_space({"family": ["dense", "cnov"]}), tiny_base())
        with pytest.raises(ConfigError, match="low < high"):
            parse_space({"lr": {"loguniform": [1e-2, 1e-3]}})
        with pytest.raises(ConfigError, match="cannot be swept"):
            parse_space({"loss": ["mse", "bce"]})

    def test_yaml_and_json_files(self, tmp_path):
        (tmp_path / "space.yaml").write_text("family: [dense, vae]\nlr: {loguniform: [0.0001, 0.01]}\n")
        (tmp_path / "space.json").write_text(json.dumps({"latent_dim": {"grid": [2, 4, 8]}}))
        assert set(load_space(str(tmp_path / "space.yaml")).params) == {"model.family", "train.lr"}
        assert load_space(str(tmp_path / "space.json")).trials(2) == 6
        with pytest.raises(ConfigError, match="quick"):
            load_space(str(tmp_path / "missing.json"))

    def test_cli_rejects_a_bad_space_without_starting_ray(self, capsys):
        assert main(["sweep", "--dataset", "digits", "--space", "nope"]) == 2
        assert "not a built-in (quick, wide)" in capsys.readouterr().err

    def test_sweep_folder_is_not_a_run(self, tmp_path):
        store = SweepStore(tmp_path)
        store.create(tiny_base(), parse_space(TINY_SPACE), 1)
        assert RunStore(tmp_path).list() == [] and len(store.list()) == 1


def test_a_trial_failing_while_its_stopped_sweep_tears_it_down_says_stopped(tmp_path):
    """A worker cut off by Stop can raise on its way out (torch half torn down) and mark its run
    failed; that run was stopped by the sweep. A trial that failed before the stop stays failed."""
    from datetime import datetime, timezone

    from core.sweeps.tune import _settle_trials

    store = SweepStore(tmp_path)
    sweep = store.create(tiny_base(), parse_space(TINY_SPACE), 2)
    runs = RunStore(tmp_path)
    before, during = runs.create(tiny_base()), runs.create(tiny_base())
    for run in (before, during):
        run.write_json(TRIAL_FILE, {"sweep": sweep.id, "params": {}})
    before.set_status("failed", "Training diverged: the loss became NaN at epoch 3.")
    cut = datetime.now(timezone.utc)
    during.set_status("failed", "Unexpected error: RuntimeError: operator streams::record_event does not exist")

    _settle_trials(sweep, {}, "Stopped: the sweep was interrupted.", cut=cut)

    assert before.status() == "failed" and "diverged" in before.info()["message"]
    message = during.info()["message"]
    assert during.status() == "stopped" and "interrupted" in message and "record_event" in message


def test_cli_and_experiment_do_not_import_ray():
    """`latentboard train`, the CLI and the sweep's non-Ray modules start as fast as before."""
    code = (
        "import sys, core.cli, core.experiment, core.jobs, core.sweeps, core.sweeps.command, core.sweeps.table, "
        "core.sweeps.jobs, core.sweeps.scoring; core.cli.build_parser(); "
        "assert 'ray' not in sys.modules, 'ray was imported'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


# --------------------------------------------------------------------------- real sweeps on Ray


def check_trials_on_disk(runs_dir: Path, sweep_id: str, expected: int) -> list:
    sweep = SweepStore(runs_dir).open(sweep_id)
    trials = sweep.trials()
    assert len(trials) == expected
    for trial in trials:
        run = RunStore(runs_dir).open(trial.run_id)
        assert (run.path / "config.json").exists() and run.metrics_path.exists() and run.has_checkpoint
        assert run.read_json(TRIAL_FILE)["sweep"] == sweep_id
        assert run.status() == "finished", run.info().get("message")
        assert trial.score is not None and trial.score > 0
        assert set(trial.check) == {"acc", "nmi"}
    record = sweep.record()
    assert record["state"] == "finished"
    assert record["best_run"] == min(trials, key=lambda t: t.score).run_id
    return trials


@pytest.mark.slow
@pytest.mark.timeout(RAY_TEST_TIMEOUT)
def test_local_sweep_two_trials(tmp_path):
    from core.sweeps.tune import run_sweep

    store = SweepStore(tmp_path / "runs")
    sweep = store.create(tiny_base(), parse_space(TINY_SPACE), samples=1)
    result = run_sweep(sweep, num_cpus=2)
    trials = check_trials_on_disk(tmp_path / "runs", sweep.id, 2)
    assert sorted(t.params["model.latent_dim"] for t in trials) == [2, 3]
    assert result.nodes == 1 and result.best is not None
    assert "LATENT_DIM" in format_trials(trials)
    # Ordinary runs: `latentboard runs` lists them, and the sweep folder is not among them.
    assert sorted(RunStore(tmp_path / "runs").ids()) == sorted(t.run_id for t in trials)
    import ray

    assert not ray.is_initialized()


@pytest.mark.slow
@pytest.mark.timeout(RAY_TEST_TIMEOUT)
def test_failed_trial_is_marked_and_the_sweep_goes_on(tmp_path):
    from core.sweeps.tune import run_sweep

    # The plainest failure a space can hold: a learning rate that makes SGD's loss overflow.
    space = {
        "family": ["dense"],
        "width": [16],
        "depth": [1],
        "epochs": [2],
        "optimizer": ["sgd"],
        "lr": {"grid": [1e-2, 1e30]},
    }
    store = SweepStore(tmp_path / "runs")
    sweep = store.create(tiny_base(), parse_space(space), samples=1)
    result = run_sweep(sweep, num_cpus=2, check=False)
    by_lr = {t.params["train.lr"]: t for t in result.trials}
    assert by_lr[1e30].status == "failed" and "loss became" in by_lr[1e30].message
    assert by_lr[1e-2].status == "finished" and result.best.run_id == by_lr[1e-2].run_id


@pytest.mark.slow
@pytest.mark.timeout(RAY_TEST_TIMEOUT)
def test_sweep_on_a_two_node_cluster(tmp_path):
    """Two Ray nodes on this machine (loopback), one CPU each: the two trials run one on each."""
    from ray.cluster_utils import Cluster

    from core.sweeps.tune import run_sweep

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        store = SweepStore(tmp_path / "runs")
        sweep = store.create(tiny_base(), parse_space(TINY_SPACE), samples=1)
        result = run_sweep(sweep, address=cluster.address, max_concurrent=2)
        assert result.nodes == 2
        trials = check_trials_on_disk(tmp_path / "runs", sweep.id, 2)
        nodes = {RunStore(tmp_path / "runs").open(t.run_id).read_json(TRIAL_FILE)["node"] for t in trials}
        assert len(nodes) == 2, "both trials ran on the same node"
        assert len(list((sweep.path / "probes").glob("node-*"))) == 2
    finally:
        import ray

        ray.shutdown()
        cluster.shutdown()


@pytest.mark.slow
@pytest.mark.timeout(RAY_TEST_TIMEOUT)
def test_background_sweep_stops_on_request(tmp_path):
    """The dashboard's job: a sweep process that Stop interrupts; it and its trials say so."""
    import signal
    import time

    from core.sweeps.jobs import start_sweep, stop_sweep, sweep_state

    store = SweepStore(tmp_path / "runs")
    # Its trials cannot end before the test's Stop does: a million epochs are hours of work on any
    # machine, where 200 tiny ones sometimes finished between the first epoch and the Stop.
    space = parse_space({**TINY_SPACE, "epochs": [TRAINS_UNTIL_STOPPED]})
    # Started as from a server in a shell's background (`latentboard serve &`): SIGINT ignored, which
    # the sweep's process inherits; Stop (a SIGINT) must still stop it.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sweep = start_sweep(store, tiny_base(), space, samples=1)
    finally:
        signal.signal(signal.SIGINT, previous)
    deadline = time.monotonic() + 120
    while not any(t.epochs_done for t in sweep.trials()) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert stop_sweep(sweep)
    while sweep_state(sweep) in ("created", "running") and time.monotonic() < deadline + 60:
        time.sleep(0.5)
    assert sweep_state(sweep) == "stopped", (sweep.path / "log.txt").read_text()[-2000:]
    trials = sweep.trials()
    assert trials and all(t.status == "stopped" and "interrupted" in t.message for t in trials)
    trained = [t for t in trials if t.epochs_done]  # the other trial may have been cut off in its first epoch
    assert trained and all(RunStore(tmp_path / "runs").open(t.run_id).has_checkpoint for t in trained)
