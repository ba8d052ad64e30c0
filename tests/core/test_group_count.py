"""The number of groups, estimated without labels: core.group_count, and where evaluate and export use it."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from core.errors import ConfigError
from core.group_count import (
    MIN_ROWS_PER_GROUP,
    SUBSAMPLES,
    GroupCount,
    candidate_counts,
    chosen_count,
    estimate_group_count,
)


def blobs(groups: int, n: int = 300, seed: int = 0) -> np.ndarray:
    x, _ = make_blobs(n, centers=groups, n_features=8, cluster_std=1.0, center_box=(-20, 20), random_state=seed)
    return x.astype(np.float32)


@pytest.mark.parametrize("groups", [3, 6])
def test_blobs_are_counted_right(groups):
    count = estimate_group_count(blobs(groups), random_state=0, max_groups=12)
    assert count.estimate == groups
    assert count.candidates == tuple(range(2, 13)) and len(count.scores) == len(count.candidates)
    assert count.scores[count.candidates.index(count.estimate)] == max(count.scores)  # the curve agrees
    assert count.n == 300
    assert len(count.errors) == len(count.candidates)


def test_the_median_of_the_leiden_partitions_wins_within_the_candidates():
    assert chosen_count((2, 3, 4, 5, 6), ((4, 0.7), (3, 0.6), (5, 0.7), (4, 0.7), (6, 0.7))) == 4
    assert chosen_count((2, 3, 4), ((9, 0.5), (8, 0.5), (9, 0.5))) == 4  # more than the rows allow: the most
    assert chosen_count((2, 3, 4), ((1, 0.0),)) == 2
    with pytest.raises(ConfigError, match="do not fall into separate groups"):
        chosen_count((2, 3), ())


def test_groups_in_two_tiers_are_counted_at_the_finer_one():
    """Ten groups as five pairs of close groups: every subsample's Leiden partition keeps the ten apart.
    (Where real classes blur, as CIFAR-10's do, spectral clustering's curve went flat and the rule that
    read it took 7; benchmarks/group_count.py shows that on the tuning sets.)"""
    rng = np.random.default_rng(0)
    pairs = rng.normal(0, 12, size=(5, 16))
    centres = np.concatenate([pairs + rng.normal(0, 2.2, size=(5, 16)) for _ in range(2)])
    x = np.concatenate([c + rng.normal(size=(80, 16)) for c in centres]).astype(np.float32)
    count = estimate_group_count(x, random_state=0, max_groups=16)
    assert len(count.found) == SUBSAMPLES and all(q > 0 for _, q in count.found)
    assert count.estimate == 10


def test_the_curve_is_returned_and_survives_json_and_the_cache_format():
    count = estimate_group_count(blobs(3, n=120), random_state=0, max_groups=8)
    again = GroupCount.from_dict(json.loads(json.dumps(count.to_dict())))
    assert again == count
    assert GroupCount.from_array(count.to_array(), count.n) == count
    assert len(count.found) == SUBSAMPLES
    assert "modularity" in count.method


def test_seeded():
    x = blobs(4, n=150, seed=1)
    once, again = (estimate_group_count(x, random_state=3, max_groups=8) for _ in range(2))
    assert once == again


def test_candidates_are_bounded_by_the_rows():
    assert candidate_counts(1000) == tuple(range(2, 31))
    assert candidate_counts(40) == tuple(range(2, 40 // MIN_ROWS_PER_GROUP + 1))


@pytest.mark.parametrize("n", [0, 1, 9])
def test_too_few_rows_say_so(n):
    with pytest.raises(ConfigError, match="at least 10 rows|non-empty"):
        estimate_group_count(np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32))


def test_points_all_alike_say_so():
    with pytest.raises(ConfigError, match="do not fall into separate groups"):
        estimate_group_count(np.ones((40, 3), dtype=np.float32))


def test_rows_with_missing_values_say_so():
    x = blobs(3, n=60)
    x[5, 2] = np.nan
    with pytest.raises(ConfigError, match="missing or infinite"):
        estimate_group_count(x)


def test_the_hierarchy_top_does_not_win():
    """Two far-apart families of three close groups each: six groups, not the two families silhouette would pick."""
    rng = np.random.default_rng(0)
    centres = np.concatenate([family + rng.normal(0, 4, size=(3, 8)) for family in (np.zeros(8), np.full(8, 40.0))])
    x = np.concatenate([c + rng.normal(size=(60, 8)) for c in centres]).astype(np.float32)
    assert estimate_group_count(x, random_state=0, max_groups=12).estimate == 6


# --- where it is used: evaluate and export ----------------------------------------------------------


def write_flat_pngs(folder, per_kind: int = 12) -> None:
    """A flat folder (no labels) of small PNGs of three kinds that look apart."""
    from tests.core.photo_fixtures import GENERATED_KINDS, made_up_photo

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for kind in GENERATED_KINDS:
        for i in range(per_kind):
            made_up_photo(kind, rng, size=32).save(folder / f"{kind}-{i:02d}.png")


@pytest.fixture(scope="module")
def flat_run(tmp_path_factory) -> tuple[str, str]:
    """(runs dir, run id): a photos-preset run on a flat folder of 36 PNGs of three kinds."""
    from core import cli
    from core.runs import RunStore

    root = tmp_path_factory.mktemp("groups")
    write_flat_pngs(root / "flat")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_RUNS_DIR", str(root / "runs"))
        patch.setenv("LATENTBOARD_DATA_DIR", str(root / "data"))
        args = ["train", "--dataset", "folder", "--data-dir", str(root / "flat"), "--preset", "photos"]
        assert cli.main([*args, "--epochs", "2", "--image-size", "32"]) == 0
        return str(root), RunStore().ids()[0]


@pytest.fixture
def flat(flat_run, monkeypatch) -> tuple[str, str]:
    root, run_id = flat_run
    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", f"{root}/runs")
    monkeypatch.setenv("LATENTBOARD_DATA_DIR", f"{root}/data")
    return root, run_id


def test_export_sorts_a_flat_folder_into_the_estimated_number_of_folders(flat, tmp_path, capsys):
    from core import cli
    from core.evaluation.run_evaluation import run_group_count
    from core.runs import RunStore
    from core.trained import load_trained

    _, run_id = flat
    assert cli.main(["export", run_id, "--sorted-folders", str(tmp_path / "sorted")]) == 0
    count = run_group_count(load_trained(RunStore().open(run_id)), "all")
    assert count.estimate == 3  # the three kinds
    folders = sorted(p.name for p in (tmp_path / "sorted").iterdir() if p.is_dir())
    assert len(folders) == count.estimate
    assert "estimated number of groups" in capsys.readouterr().err

    assert cli.main(["export", run_id, "--sorted-folders", str(tmp_path / "two"), "--clusters", "2"]) == 0
    assert len([p for p in (tmp_path / "two").iterdir() if p.is_dir()]) == 2  # the number given wins


def test_evaluate_json_holds_the_estimate_and_its_curve(flat, capsys):
    from core import cli

    _, run_id = flat
    assert cli.main(["evaluate", run_id, "--split", "all", "--json", "--skip-baselines", "--skip-probes"]) == 0
    result = json.loads(capsys.readouterr().out)
    count = GroupCount.from_dict(result["group_count"])
    assert count.estimate == 3 and count.candidates == tuple(range(2, 36 // MIN_ROWS_PER_GROUP + 1))
    assert result["n_clusters"] == 10  # no labels: the scoring default is unchanged, the estimate beside it

    assert cli.main(["evaluate", run_id, "--split", "all", "--skip-baselines", "--skip-probes"]) == 0
    assert "Number of groups, estimated without labels: 3" in capsys.readouterr().out


def test_evaluate_says_why_there_is_no_estimate_on_too_few_rows(tmp_path, monkeypatch, capsys):
    from core import cli
    from tests.core.run_fixtures import train_tiny_run

    monkeypatch.setenv("LATENTBOARD_RUNS_DIR", str(tmp_path))
    run = train_tiny_run(tmp_path, max_samples=40)  # its test split holds a handful of rows
    assert cli.main(["evaluate", run.id, "--json", "--skip-baselines", "--skip-probes"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["group_count"] is None and "at least 10 rows" in result["group_count_skipped"]


def test_an_estimate_saved_before_the_standard_errors_still_reads():
    old = {"estimate": 4, "candidates": [2, 3, 4], "scores": [0.1, 0.2, 0.3], "method": "silhouette", "n": 50}
    count = GroupCount.from_dict(old)
    assert count.estimate == 4 and count.errors == ()


def test_a_damaged_cached_estimate_is_counted_again(flat):
    from core.evaluation.run_evaluation import run_group_count, stored_group_count
    from core.runs import RunStore
    from core.trained import load_trained

    _, run_id = flat
    trained = load_trained(RunStore().open(run_id))
    assert run_group_count(trained, "all").estimate == 3
    for cached in trained.run.cache_dir.glob("groups-all-*.npy"):
        cached.write_bytes(b"not an array")
    assert stored_group_count(trained, "all") is None  # the page counts again instead of failing
    assert run_group_count(trained, "all").estimate == 3
    assert stored_group_count(trained, "all") == run_group_count(trained, "all")


def test_principal_rows_fit_on_a_sample_of_many_rows_and_project_every_one():
    from sklearn.decomposition import PCA

    from core.group_count import principal_rows

    rng = np.random.default_rng(0)
    rows = (rng.normal(size=(600, 5)) * [9, 7, 5, 3, 2]) @ rng.normal(size=(5, 80)) + rng.normal(size=(600, 80))
    rows = rows.astype(np.float32)
    whole = principal_rows(rows)  # few rows: fitted on all of them, as a PCA of the centred rows
    centred = rows.astype(np.float64) - rows.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(whole, PCA(50, random_state=0).fit_transform(centred), atol=1e-6)
    sampled = principal_rows(rows, fit_rows=200)  # fitted on 200, every row projected
    assert sampled.shape == whole.shape == (600, 50) and sampled.dtype == np.float64
    for i in range(5):  # the strong directions are the same ones, up to sign
        assert abs(np.corrcoef(sampled[:, i], whole[:, i])[0, 1]) > 0.97
