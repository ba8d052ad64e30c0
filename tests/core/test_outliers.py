"""The odd ones out (core.outliers) and `latentboard outliers`: a planted odd row ranks first, planted
label flips come back as possible mislabels, on arrays, a table run and a run on generated photos."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest

from core import cli
from core.config import DataSpec, FeatureConfig, RunConfig
from core.errors import ConfigError
from core.experiment import execute
from core.models import ModelConfig
from core.outliers import (
    SCORES,
    OddOnes,
    mislabel_skip_reason,
    outlier_scores,
    possible_mislabels,
    row_names,
    run_outliers,
)
from core.runs import RunStore
from core.trained import load_trained
from core.training import TrainConfig
from tests.core.photo_fixtures import write_photos_with_odd_ones


def blobs_with_one_far(seed: int = 0) -> tuple[np.ndarray, np.ndarray, int]:
    """(rows, labels, the planted row): three tight groups of 40 in 8-D and one row far from all."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 6, (3, 8))
    labels = np.repeat(np.arange(3), 40)
    x = centres[labels] + rng.normal(0, 1, (120, 8))
    planted = 57
    x[planted] = centres.mean(0) + 12 * np.ones(8)
    return x, labels, planted


@pytest.mark.parametrize("method", list(SCORES))
def test_every_score_ranks_a_planted_odd_row_first(method):
    x, labels, planted = blobs_with_one_far()
    scores = outlier_scores(x, labels, method)
    assert scores.shape == (len(x),)
    assert int(np.argmax(scores)) == planted


def test_ranking_puts_every_row_once_most_odd_first():
    x, _, planted = blobs_with_one_far()
    odd = OddOnes.ranked(np.arange(100, 220), outlier_scores(x))
    assert odd.rows[0] == 100 + planted and sorted(odd.rows.tolist()) == list(range(100, 220))
    assert np.all(np.diff(odd.scores) <= 0)
    kept = odd.within(np.array([105, 100 + planted, 110]))
    assert kept.rows[0] == 100 + planted and len(kept.rows) == 3


@pytest.mark.parametrize("rows", [0, 1, 2])
def test_too_few_rows_are_refused_with_a_message(rows):
    with pytest.raises(ConfigError, match="at least 3 rows"):
        outlier_scores(np.zeros((rows, 4)))


def test_an_unknown_score_names_the_known_ones():
    with pytest.raises(ConfigError, match="lof"):
        outlier_scores(np.zeros((5, 2)), method="magic")


def test_planted_label_flips_come_back_as_possible_mislabels():
    x, labels, planted = blobs_with_one_far(1)
    flipped = labels.copy()
    flips = np.array([3, 44, 90, 101])
    flipped[flips] = (flipped[flips] + 1) % 3
    found = possible_mislabels(x, flipped, rows=np.arange(1000, 1120))
    assert set((flips + 1000).tolist()) <= set(found.rows.tolist())
    assert len(found) <= len(flips) + 2  # hardly anything else
    for flip in flips:
        at = found.rows.tolist().index(flip + 1000)
        assert found.given[at] == flipped[flip] and found.suggested[at] == labels[flip]
        assert 0 <= found.quality[at] <= 1


def test_mislabels_start_no_process(monkeypatch):
    """cleanlab forks a multiprocessing.Pool by default; a fork of the dashboard's threaded server can hang."""
    import multiprocessing

    def no_pool(*args, **kwargs):
        raise AssertionError("possible_mislabels started a process pool")

    monkeypatch.setattr(multiprocessing, "Pool", no_pool)
    x, labels, _ = blobs_with_one_far(1)
    flipped = labels.copy()
    flipped[[3, 44, 90]] = (flipped[[3, 44, 90]] + 1) % 3
    assert {3, 44, 90} <= set(possible_mislabels(x, flipped).rows.tolist())


def test_sessions_asking_at_once_each_get_their_own_mislabels():
    """cleanlab keeps its per-class arrays in module globals: two threads at once must not mix them."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    asks = []
    for seed in range(8):
        x, labels, _ = blobs_with_one_far(seed)
        flipped = labels.copy()
        flips = rng.choice(len(labels), 6, replace=False)
        flipped[flips] = (flipped[flips] + 1) % 3
        asks.append((x, flipped))
    alone = [possible_mislabels(x, y).rows.tolist() for x, y in asks]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda ask: possible_mislabels(*ask).rows.tolist(), asks * 3))
    assert together == alone * 3


@pytest.mark.parametrize(
    ("labels", "message"),
    [([0, 0, 0, 0], "single label"), ([0, 0, 0, 1], "a label has a single row")],
)
def test_labels_that_cannot_be_checked_say_why(labels, message):
    assert message in mislabel_skip_reason(np.array(labels))
    with pytest.raises(ConfigError, match=message):
        possible_mislabels(np.random.default_rng(0).normal(size=(4, 3)), np.array(labels))


def test_six_thousand_rows_answer_in_seconds():
    import time

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(10), 600)
    x = rng.normal(0, 3, (10, 64))[labels] + rng.normal(0, 1, (6000, 64))
    began = time.monotonic()
    outlier_scores(x)
    possible_mislabels(x, labels)
    assert time.monotonic() - began < 60  # a deadline on 2 shared cores, not a speed claim


# --------------------------------------------------------------------------- runs, and the CLI


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def train(config: RunConfig, root) -> str:
    run = RunStore(root).create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    return run.id


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """(runs folder, run id, planted row): a tiny run on a CSV of three labelled groups and one odd row."""
    x, labels, planted = blobs_with_one_far(2)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(x.shape[1])])
    frame["kind"] = np.array(["ant", "bee", "cat"])[labels]
    path = tmp_path_factory.mktemp("table") / "rows.csv"
    frame.to_csv(path, index=False)
    config = RunConfig(
        data=DataSpec(source="table", path=str(path), label_column="kind"),
        model=ModelConfig("dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(epochs=30, batch_size=16, lr=3e-3, device="cpu"),
    )
    root = tmp_path_factory.mktemp("runs")
    return root, train(config, root), planted


def test_a_table_run_names_its_planted_odd_row_first(table_run, capsys):
    root, run_id, planted = table_run
    code, out, err = run_cli(capsys, "outliers", run_id, "--json", "--runs-dir", str(root))
    assert code == 0, err
    reply = json.loads(out)
    assert set(reply) == {"outliers", "mislabels"}
    names = [o["file"] for o in reply["outliers"]]
    assert names[0] == f"row {planted}" and sorted(names) == sorted(f"row {i}" for i in range(120))
    assert all(set(o) == {"file", "score"} for o in reply["outliers"])
    code, out, _ = run_cli(capsys, "outliers", run_id, "--top", "3", "--runs-dir", str(root))
    assert code == 0 and f"row {planted}" in out.splitlines()[1] and "117 more" in out


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory):
    """(runs folder, data folder, run id): generated photos of three kinds in labelled folders, one
    odd photo (text on paper) planted among the squares and one disc filed under stripes; on the
    EfficientNet-Lite0 features, as the photos preset trains."""
    folder = tmp_path_factory.mktemp("photos") / "photos"
    write_photos_with_odd_ones(folder)
    data = tmp_path_factory.mktemp("data")
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=16),
        features=FeatureConfig(backbone="efficientnet-lite0"),
        model=ModelConfig("dense", latent_dim=4, width=32, depth=1),
        train=TrainConfig(epochs=2, batch_size=8, device="cpu"),
    )
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_DATA_DIR", str(data))
        return root, data, train(config, root)


def test_a_photo_run_puts_the_planted_photo_first_and_finds_the_misfiled_one(photo_run, capsys, monkeypatch):
    root, data, run_id = photo_run
    monkeypatch.setenv("LATENTBOARD_DATA_DIR", str(data))  # the features cached when it trained
    code, out, err = run_cli(capsys, "outliers", run_id, "--json", "--runs-dir", str(root))
    assert code == 0, err
    reply = json.loads(out)
    assert reply["outliers"][0]["file"] == "square/receipt.jpg"
    assert len(reply["outliers"]) == 20
    flagged = {m["file"]: m for m in reply["mislabels"]}
    assert flagged["stripes/filed-wrong.jpg"]["label"] == "stripes"
    assert flagged["stripes/filed-wrong.jpg"]["neighbours_label"] == "circle"
    code, out, _ = run_cli(capsys, "outliers", run_id, "--runs-dir", str(root))
    assert code == 0 and "square/receipt.jpg" in out.splitlines()[1]
    assert "stripes/filed-wrong.jpg: labelled stripes, its neighbours say circle" in out


def test_run_outliers_covers_every_row_and_names_them_as_the_dataset_does(photo_run, monkeypatch):
    root, data, run_id = photo_run
    monkeypatch.setenv("LATENTBOARD_DATA_DIR", str(data))
    trained = load_trained(RunStore(root).open(run_id))
    odd = run_outliers(trained)
    assert sorted(odd.rows.tolist()) == list(range(len(trained.dataset)))
    assert row_names(trained.dataset, odd.rows[:1]) == ["square/receipt.jpg"]
    assert np.array_equal(run_outliers(trained).scores, odd.scores)  # cached, the same


def test_a_run_that_never_trained_says_to_train_it_first(tmp_path, capsys):
    run = RunStore(tmp_path).create(RunConfig(data=DataSpec("digits")))
    code, out, err = run_cli(capsys, "outliers", run.id, "--runs-dir", str(tmp_path))
    assert code == 2 and not out
    assert "no codes or features to score yet" in err and f"latentboard train --resume {run.id}" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [(["no-such-run"], "no-such-run"), (["RUN", "--top", "-1"], "--top must be 0"), (["RUN", "--top", "x"], "int")],
)
def test_bad_arguments_get_one_line(table_run, capsys, args, message):
    root, run_id, _ = table_run
    code, out, err = run_cli(capsys, "outliers", *[run_id if a == "RUN" else a for a in args], "--runs-dir", str(root))
    assert code == 2 and not out
    assert message in err and len(err.strip().splitlines()) == 1


def test_exact_copies_neither_warn_nor_hide_the_odd_row(recwarn):
    x = np.vstack([np.zeros((30, 3)), np.ones((30, 3)), [[5.0, 5.0, 5.0]]])
    scores = outlier_scores(x)
    assert int(np.argmax(scores)) == 60 and np.isfinite(scores).all()
    assert not [w for w in recwarn if "Duplicate" in str(w.message)]
