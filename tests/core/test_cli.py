"""The `latentboard` console script, run for real on digits: train, crash, resume, list, serve."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from core import cli
from core.config import RunConfig
from core.config_base import describe, sections
from core.presets import PRESETS
from core.runs import RunStore

SCRIPT = Path(sys.executable).with_name("latentboard")


def latentboard(*args: str) -> list[str]:
    # The installed console script when there is one (it is what users run), else the module.
    return [str(SCRIPT), *args] if SCRIPT.exists() else [sys.executable, "-m", "core.cli", *args]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def losses(run) -> list[tuple]:
    return [(e.kind, e.epoch, e.step, e.train_loss, e.val_loss) for e in run.metrics()]


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on `port`, read from Linux's /proc/net tables."""
    import ipaddress

    found = set()
    for table, size in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                raw = bytes.fromhex(address)
                raw = b"".join(raw[i : i + 4][::-1] for i in range(0, size, 4))  # little-endian words
                found.add(str(ipaddress.ip_address(raw)))
    assert found, f"nothing listens on port {port}"
    return found


def wait_for(predicate, timeout: float, process=None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended early:\n{process.stdout.read()}\n{process.stderr.read()}")
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def only_run(runs_dir: Path):
    runs = RunStore(runs_dir).list()
    assert len(runs) == 1
    return RunStore(runs_dir).open(runs[0].id)


class TestTrain:
    @pytest.mark.slow
    def test_five_conv_epochs_on_digits_leave_a_complete_run(self, tmp_path):
        runs_dir = tmp_path / "runs"
        done = subprocess.run(  # how long it takes is benchmarks/' business: shared machines make timed asserts flaky
            latentboard(
                "train", "--dataset", "digits", "--model", "conv", "--epochs", "5", "--runs-dir", str(runs_dir)
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        run = only_run(runs_dir)
        assert run.id in done.stdout and str(run.path) in done.stdout
        assert [line for line in done.stdout.splitlines() if line.startswith("epoch")][-1].startswith("epoch 5/5")
        for name in ("config.json", "status.json", "metrics.jsonl", "checkpoint.safetensors", "splits.safetensors"):
            assert (run.path / name).is_file(), name
        assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]
        info = run.info()
        assert info["state"] == "finished" and info["epochs_done"] == 5
        assert [e.epoch for e in run.epoch_metrics()] == [1, 2, 3, 4, 5]
        assert json.loads((run.path / "config.json").read_text())["model"]["family"] == "conv"
        assert run.checkpoint_metadata()["epoch"] == 5

    def test_same_seed_gives_identical_losses(self, tmp_path, capsys):
        dirs = [tmp_path / "a", tmp_path / "b"]
        for runs_dir in dirs:
            code, _, err = run_cli(
                capsys,
                "train",
                "--dataset",
                "digits",
                "--max-samples",
                "300",
                "--latent-dim",
                "3",
                "--epochs",
                "2",
                "--seed",
                "7",
                "--runs-dir",
                str(runs_dir),
            )
            assert code == 0, err
        a, b = (only_run(d) for d in dirs)
        assert losses(a) == losses(b) and len(a.epoch_metrics()) == 2

    def test_preset_then_flags(self, tmp_path):
        args = cli.build_parser().parse_args(
            ["train", "--dataset", "folder", "--data-dir", "imgs", "--preset", "digits", "--epochs", "3", "--seed", "4"]
        )
        config = cli.config_from_args(args)
        preset = PRESETS["digits"]["model"]
        assert (config.model.family, config.model.augment) == (preset["family"], preset["augment"])  # from the preset
        assert config.train.epochs == 3  # the flag wins
        assert config.train.seed == config.split.seed == config.data.seed == 4
        assert Path(config.data.path).is_absolute()
        args = cli.build_parser().parse_args(["train", "--preset", "digits", "--augment", "0", "--noise", "0.3"])
        assert (cli.config_from_args(args).model.augment, cli.config_from_args(args).model.noise) == (0.0, 0.3)


def _fields() -> list[tuple[str | None, Any]]:
    return [(section, f) for section, cls in sections(RunConfig).items() for f in describe(cls)] + [
        (None, f) for f in describe(RunConfig)
    ]


def _other_value(field, flag: str) -> tuple[list[str], Any]:
    """Command-line words giving `field` a value other than its default, and that value."""
    if field.type is bool:  # None (decide from the data) becomes True
        value = not field.default
        return [flag if value else f"--no-{flag[2:]}"], value
    if field.registry is not None:
        value = next(name for name in field.registry() if name != field.default)
    elif field.choices is not None:
        value = next(choice for choice in field.choices if choice != field.default)
    elif field.parse is not None:  # --data-dir: made absolute
        return [flag, "some/dir"], str(Path("some/dir").resolve())
    else:
        value = {int: 7, float: 0.375, str: "my label"}[field.type]
    return [flag, str(value)], value


class TestConfigFlags:
    """Flags derived from the config dataclasses: one per field, each reaching its field."""

    def test_every_config_field_has_a_flag_and_no_flag_is_shared(self):
        flags = cli.config_flags()
        assert len({flag.flag for flag in flags}) == len(flags)
        reached = {target for flag in flags for target in flag.targets}
        assert reached == {(section, f.name) for section, f in _fields()}

    @pytest.mark.parametrize("section, field", _fields(), ids=lambda value: getattr(value, "name", value))
    def test_a_flag_given_reaches_its_field_and_nothing_else(self, section, field, tmp_path, monkeypatch):
        monkeypatch.chdir(tmp_path)
        flag = next(flag for flag in cli.config_flags() if flag.targets == ((section, field.name),))
        argv, value = _other_value(field, flag.flag)
        config = cli.config_from_args(cli.build_parser().parse_args(["train", *argv]))
        expected = (
            dataclasses.replace(RunConfig(), **{field.name: value})
            if section is None
            else dataclasses.replace(
                RunConfig(), **{section: dataclasses.replace(getattr(RunConfig(), section), **{field.name: value})}
            )
        )
        assert value != field.default and config == expected

    def test_old_flag_names_still_work(self):
        args = cli.build_parser().parse_args(["train", "--dataset", "mnist-5k", "--model", "conv", "--data-dir", "x"])
        config = cli.config_from_args(args)
        assert (config.data.source, config.model.family, Path(config.data.path).name) == ("mnist-5k", "conv", "x")

    def test_seed_sets_every_part_and_a_section_seed_wins(self):
        config = cli.config_from_args(cli.build_parser().parse_args(["train", "--train-seed", "9", "--seed", "4"]))
        assert (config.data.seed, config.split.seed, config.train.seed) == (4, 4, 9)

    def test_none_for_optional_numbers(self, capsys):
        args = cli.build_parser().parse_args(["train", "--max-samples", "none", "--patience", "3", "--no-grayscale"])
        config = cli.config_from_args(args)
        assert (config.data.max_samples, config.train.patience, config.data.grayscale) == (None, 3, False)
        code, _, err = run_cli(capsys, "train", "--patience", "soon")
        assert code == 2 and "invalid int value: 'soon'" in err

    def test_help_lists_every_flag_with_its_help(self, capsys):
        code, out, _ = run_cli(capsys, "train", "--help")
        assert code == 0
        for flag in cli.config_flags():
            assert flag.flag in out, flag.flag
        text = " ".join(out.split())  # argparse wraps lines to the terminal's width
        assert "cosine decays it" in text and "one of dense, conv, recurrent, vae, conv-vae" in text

    def test_a_new_section_gets_its_flags(self):
        flags = {flag.flag: flag.targets for flag in cli.config_flags(WithFeatures)}
        assert flags["--backbone"] == (("features", "backbone"),)
        assert flags["--batch-size"] == (("train", "batch_size"),)  # the first section keeps the bare name
        assert flags["--features-batch-size"] == (("features", "batch_size"),)


@dataclasses.dataclass(frozen=True)
class FeatureConfig:  # the shape of the pretrained-features section, without help texts
    backbone: str | None = None
    batch_size: int = 32


@dataclasses.dataclass(frozen=True)
class WithFeatures(RunConfig):
    features: FeatureConfig = dataclasses.field(default_factory=FeatureConfig)


@pytest.mark.slow
class TestCrashAndResume:
    def test_sigkill_mid_run_lists_as_interrupted_and_resume_completes(self, tmp_path, capsys):
        runs_dir = tmp_path / "runs"
        process = subprocess.Popen(
            # conv epochs take long enough (~0.2 s) that the kill lands well before the last one
            latentboard(
                "train",
                "--dataset",
                "digits",
                "--model",
                "conv",
                "--epochs",
                "6",
                "--max-samples",
                "900",
                "--runs-dir",
                str(runs_dir),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: any(runs_dir.glob("*/checkpoint.safetensors")), 90, process)
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(30)
        run = only_run(runs_dir)
        done_before = run.checkpoint_metadata()["epoch"]
        assert 1 <= done_before < 6, "the kill came too late to test anything"

        code, out, _ = run_cli(capsys, "runs", "--runs-dir", str(runs_dir))
        assert code == 0
        row = next(line for line in out.splitlines() if line.startswith(run.id))
        assert "interrupted" in row.split()

        code, out, err = run_cli(capsys, "train", "--resume", run.id, "--runs-dir", str(runs_dir))
        assert code == 0, err
        assert run.status() == "finished" and run.info()["epochs_done"] == 6
        assert [e.epoch for e in run.epoch_metrics()] == list(range(1, 7))  # continued, no repeats
        assert "epoch 6/6" in out and f"epoch {done_before}/6" not in out

        code, _, err = run_cli(capsys, "train", "--resume", run.id, "--runs-dir", str(runs_dir))
        assert code == 2 and "nothing to resume" in err

    def test_ctrl_c_stops_cleanly_and_says_how_to_resume(self, tmp_path):
        runs_dir = tmp_path / "runs"
        process = subprocess.Popen(
            latentboard(
                "train",
                "--dataset",
                "digits",
                "--epochs",
                "100000",
                "--max-samples",
                "300",
                "--runs-dir",
                str(runs_dir),
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        wait_for(lambda: any(runs_dir.glob("*/checkpoint.safetensors")), 90, process)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        run = only_run(runs_dir)
        assert process.returncode == 2
        assert run.status() == "stopped" and run.has_checkpoint
        last = err.strip().splitlines()[-1]
        assert last.startswith("latentboard: error: interrupted") and f"--resume {run.id}" in last
        assert run.id in out


class TestErrors:
    @pytest.mark.parametrize(
        "args, words",
        [
            (["train", "--dataset", "nope"], "Unknown dataset 'nope'"),
            (["train", "--dataset", "digits", "--model", "nope"], "Unknown model family 'nope'"),
            (["train", "--dataset", "folder"], "--data-dir"),
            (["train", "--dataset", "digits", "--epochs", "-3"], "at least 1"),
            (["train", "--resume", "20200101-000000-dead"], "No run 20200101-000000-dead"),
            (["train", "--resume", "x", "--epochs", "3"], "leave out --epochs"),
            (["train"], "--dataset"),
            (["train", "--dataset", "digits", "--preset", "nope"], "invalid choice: 'nope' (choose from 'quick-demo'"),
            (["train", "--dataset", "digits", "--loss", "nope"], "invalid choice"),
            (["frobnicate"], "invalid choice"),
        ],
    )
    def test_bad_input_is_one_line_and_exit_2(self, args, words, tmp_path, capsys):
        code, _, err = (
            run_cli(capsys, *args, "--runs-dir", str(tmp_path / "runs"))
            if args[0] == "train"
            else run_cli(capsys, *args)
        )
        assert code == 2
        assert err.startswith("latentboard: error:") and err.count("\n") == 1, err
        assert words in err
        assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no junk runs

    def test_unknown_dataset_through_the_console_script(self, tmp_path):
        done = subprocess.run(
            latentboard("train", "--dataset", "nope", "--runs-dir", str(tmp_path)),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and done.stderr.startswith("latentboard: error: Unknown dataset")


class TestRunsAndServe:
    def test_runs_table_empty(self, tmp_path, capsys):
        code, out, _ = run_cli(capsys, "runs", "--runs-dir", str(tmp_path / "none"))
        assert code == 0 and "No runs" in out

    def test_serve_without_dashboard_is_a_clear_error(self, tmp_path, capsys, monkeypatch):
        monkeypatch.setattr(cli, "dashboard_app_path", lambda: tmp_path / "dashboard" / "app.py")
        code, _, err = run_cli(capsys, "serve", "--port", "1")
        assert code == 2 and "dashboard is missing" in err

    @pytest.mark.parametrize(("value", "words"), [("0", "=0 would never train"), ("two", "='two' is not a number")])
    def test_serve_refuses_a_bad_job_limit_before_starting(self, capsys, monkeypatch, value, words):
        monkeypatch.setenv("LATENTBOARD_MAX_JOBS", value)
        code, _, err = run_cli(capsys, "serve", "--port", "1", "--no-browser")
        assert code == 2 and "LATENTBOARD_MAX_JOBS" + words in err and "Traceback" not in err

    @pytest.mark.slow
    @pytest.mark.skipif(not cli.dashboard_app_path().exists(), reason="dashboard/app.py not written yet")
    def test_serve_answers_http(self, tmp_path):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        process = subprocess.Popen(
            latentboard("serve", "--port", str(port), "--no-browser", "--runs-dir", str(tmp_path / "runs")),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as reply:
                    return reply.status == 200
            except OSError:
                return False

        try:
            wait_for(healthy, 90, process)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                assert reply.status == 200
            assert listening_addresses(port) <= {"127.0.0.1", "::1"}  # not on every interface by default
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)
