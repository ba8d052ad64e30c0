"""Evaluation that talks: named steps in order (N2D first), progress events with an ETA, partial
results as each part finishes, parts one may leave out, a background job, and the CLI's N2D line.

A run of 12 digits keeps it fast: the N2D manifold of so few rows is the codes themselves.
"""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from core import cli
from core.errors import ConfigError
from core.evaluation import evaluate_run, load_evaluation
from core.evaluation.background import EvaluationJobs
from core.evaluation.progress import (
    MIN_STEP_SECONDS,
    SECONDS_PER_1K_ROWS,
    STEP_OVERHEAD,
    StepClock,
    expected_seconds,
    format_duration,
)
from core.evaluation.run_evaluation import STEPS, evaluation_steps
from core.trained import load_trained
from tests.core.run_fixtures import train_tiny_run


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return load_trained(train_tiny_run(tmp_path_factory.mktemp("runs"), max_samples=12))


# --------------------------------------------------------------------------- the clock (no data)


def test_expected_seconds_use_an_earlier_evaluation_of_the_same_rows():
    steps = ["n2d", "probes"]
    earlier = {"n": 500, "timings": {"n2d": 12.0, "probes": 3.0, "encode": 0.1}}
    assert expected_seconds(steps, 500, earlier) == {"n2d": 12.0, "probes": 3.0}
    guess = expected_seconds(steps, 2000, earlier)  # other rows: the per-row guess
    assert guess == {s: STEP_OVERHEAD[s] + SECONDS_PER_1K_ROWS[s] * 2 for s in steps}
    assert (
        expected_seconds(steps, 500, {"n": 500, "timings": {"n2d": 12.0}})["probes"] != 3.0
    )  # an old file lacks a step
    assert expected_seconds(["encode"], 1)["encode"] == MIN_STEP_SECONDS


def test_the_eta_scales_the_rest_by_the_measured_speed():
    clock = StepClock(["a", "b", "c"], {"a": 10.0, "b": 10.0, "c": 20.0})
    assert clock.eta(None, finished=True) == pytest.approx(40.0)  # nothing ran yet: the plan itself
    clock.took["a"] = 5.0  # this machine is twice as fast as planned
    assert clock.rate() == pytest.approx(0.5)
    assert clock.eta("a", finished=True) == pytest.approx(15.0)
    clock.took["b"] = 15.0  # ... and on the two together exactly as fast as planned
    assert clock.eta("b", finished=True) == pytest.approx(20.0)
    event = clock.event("c", finished=False, result={})
    assert (event.index, event.total, event.fraction) == (3, 3, pytest.approx(2 / 3))
    assert event.remaining(event.made_at + 5) == pytest.approx(event.eta - 5)
    assert event.remaining(event.made_at + 1000) == 0.0
    assert event.line(event.made_at).startswith("[3/3] c ·") and "left" in event.line()
    assert format_duration(75) == "1 min 15 s" and format_duration(4.4) == "4 s"


# --------------------------------------------------------------------------- the steps of a real run


def test_steps_run_in_order_and_results_grow_as_each_part_finishes(small):
    events = list(evaluation_steps(small, split="all", save=False))
    assert [(e.step, e.finished) for e in events[:-1]] == [(s, f) for s in STEPS for f in (False, True)]
    assert events[-1].done and sum(e.done for e in events) == 1
    assert [e.index for e in events[:-1:2]] == list(range(1, len(STEPS) + 1))
    assert all(e.total == len(STEPS) for e in events)
    assert [e.elapsed for e in events] == sorted(e.elapsed for e in events)
    assert all(e.eta is not None and e.eta >= 0 for e in events) and events[-1].eta == 0
    after = {e.step: e.result for e in events if e.finished and not e.done}
    assert list(after["n2d"]["clustering"]) == ["n2d"]  # the headline before every other clustering
    assert "baselines" not in after["clusterings"] and "probes" not in after["baselines"]
    assert len(after["clusterings"]["clustering"]) > 1 and "trustworthiness" in after["map"]
    assert set(after["encode"]["timings"]) == {"encode"} and set(events[-1].result["timings"]) == set(STEPS)
    # the partial N2D numbers are the final ones
    assert after["n2d"]["clustering"]["n2d"]["acc"] == events[-1].result["clustering"]["n2d"]["acc"]


def test_progress_reaches_the_callback_and_the_result_is_stored(small):
    seen = []
    result = evaluate_run(small, split="all", on_progress=seen.append)
    assert seen[-1].done and dict(seen[-1].result) == result.to_dict() and result == load_evaluation(small.run, "all")
    assert json.loads((small.run.path / "evaluation-all.json").read_text()) == result.to_dict()
    assert result.left_out == ()
    # the next evaluation of the same rows plans with the measured timings
    steps = list(STEPS)
    assert expected_seconds(steps, result.n, result.to_dict()) == {s: result.timings[s] for s in steps}


def test_leaving_parts_out_keeps_the_other_numbers(small):
    full = evaluate_run(small, split="all", save=False).to_dict()
    lean = evaluate_run(small, split="all", save=False, skip=("probes", "baselines")).to_dict()
    assert lean["left_out"] == ["baselines", "probes"]
    assert "probes" not in lean and "baselines" not in lean and "probes" not in lean["skipped"]
    for method, scores in full["clustering"].items():
        assert lean["clustering"][method]["acc"] == scores["acc"], method
    assert lean["reconstruction"] == full["reconstruction"] and lean["trustworthiness"] == full["trustworthiness"]


def test_an_unknown_part_to_leave_out_is_named(small):
    with pytest.raises(ConfigError, match="Cannot leave out 'n2d'.*baselines, probes"):
        evaluate_run(small, split="all", skip=("n2d",))


# --------------------------------------------------------------------------- in the background


def test_a_background_evaluation_is_never_started_twice(small):
    jobs = EvaluationJobs()
    first = jobs.start(small, "all", skip=("probes",))
    assert jobs.start(small, "all") is first  # a second click while it runs joins the first
    assert first.wait(120) and first.error is None
    assert first.latest.done and first.result.to_dict() == dict(first.latest.result)
    assert first.result.left_out == ("probes",) and first.result.probes is None
    again = jobs.start(small, "all")  # once finished, a new click starts a new evaluation
    assert again is not first and again.wait(120) and again.result.left_out == ()


def test_a_failed_background_evaluation_says_why(small):
    jobs = EvaluationJobs()
    job = jobs.start(small, "holdout")
    assert job.wait(30) and job.result is None
    assert "Unknown split 'holdout'" in job.error and "test, val, train, all" in job.error
    jobs.forget(small.run.id, "holdout")
    assert jobs.get(small.run.id, "holdout") is None


# --------------------------------------------------------------------------- the CLI


def test_cli_prints_the_n2d_line_before_the_probes_start(small):
    both = io.StringIO()  # stdout and stderr in one stream keeps their order
    with contextlib.redirect_stdout(both), contextlib.redirect_stderr(both):
        code = cli.main(["evaluate", small.run.id, "--runs-dir", str(small.run.path.parent), "--split", "all"])
    lines = both.getvalue().splitlines()
    assert code == 0
    n2d = next(i for i, line in enumerate(lines) if line.startswith("N2D: UMAP of codes + GMM: ACC"))
    probes_start = next(i for i, line in enumerate(lines) if line.startswith(f"[{len(STEPS)}/{len(STEPS)}] Probes"))
    assert n2d < probes_start
    assert [line for line in lines if line.startswith("[")][:2][0].startswith(f"[1/{len(STEPS)}] Encoding the rows")
    assert all("elapsed" in line and "left" in line for line in lines if line.startswith("["))
    assert any(line.startswith("Probes: accuracy") for line in lines[probes_start:])  # the full table still follows


def test_cli_skips_probes_and_baselines_on_request(small, capsys):
    runs = str(small.run.path.parent)
    assert cli.main(["evaluate", small.run.id, "--runs-dir", runs, "--split", "all", "--skip-probes"]) == 0
    captured = capsys.readouterr()
    last = len(STEPS) - 1  # probes left out: the baselines come last
    assert "Probes: left out on request" in captured.out and f"[{last}/{last}] Baselines" in captured.err
    assert "Probes (small classifiers" not in captured.err
    assert cli.main(["evaluate", small.run.id, "--runs-dir", runs, "--split", "all", "--skip-baselines", "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)  # still exactly one JSON object; the progress goes to stderr
    assert result["left_out"] == ["baselines"] and "baselines" not in result
    steps = [line for line in captured.err.splitlines() if line.startswith("[")]
    kept = len(STEPS) - 1  # every step but the baselines
    assert [line.split("]")[0] for line in steps] == [f"[{i}/{kept}" for i in range(1, kept + 1)]
    assert "Probes (small classifiers" in steps[-1] and "Baselines" not in captured.err
