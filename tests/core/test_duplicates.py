"""Near-duplicates (core.duplicates): planted copies of generated photos (resized, re-compressed,
cropped, brightened, blurred) found among distinct photos and nothing else, the sharp original
kept over its blurred copy, the user's choice of keeper saved in sorting.json, the sorted export
putting every other copy in _duplicates/ once, and `latentboard duplicates` in text and JSON.

One tiny run on the EfficientNet-Lite0 features of a generated folder, trained once per module.
"""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import sorting
from core.cli import main
from core.config import DataSpec, FeatureConfig, RunConfig
from core.duplicates import (
    DuplicateGroup,
    find_duplicates,
    groups_array,
    groups_from_array,
    run_duplicates,
    save_keeper,
    with_keepers,
)
from core.experiment import execute
from core.export import DUPLICATES_FOLDER, cluster_assignments, set_aside_duplicates, write_sorted_folders
from core.models import ModelConfig
from core.runs import RunStore
from core.trained import load_trained
from core.training import TrainConfig
from tests.core.photo_fixtures import COPY_KINDS, write_planted_duplicates


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """(trained run on a folder of generated photos with planted near-duplicates, the planted groups)."""
    folder = tmp_path_factory.mktemp("planted") / "photos"
    planted = write_planted_duplicates(folder)
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=16),
        features=FeatureConfig(backbone="efficientnet-lite0", input_size=96),
        model=ModelConfig("dense", latent_dim=4, width=16, depth=1),
        train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        run = RunStore(tmp_path_factory.mktemp("runs")).create(config)
        for _ in execute(run, stop=threading.Event()):
            pass
        yield load_trained(run), planted


def found(trained, groups) -> list[set[str]]:
    return [set(trained.dataset.file_names(list(g.rows))) for g in groups]


# --------------------------------------------------------------------------- finding and ranking


def test_planted_copies_are_found_and_nothing_else(planted_run):
    trained, planted = planted_run
    groups = run_duplicates(trained)
    assert sorted(found(trained, groups), key=len) == sorted(planted.values(), key=len)


def test_the_sharp_full_size_shot_is_kept(planted_run):
    trained, _ = planted_run
    kept = [trained.dataset.file_names([g.keep])[0] for g in run_duplicates(trained)]
    assert "photo-1.jpg" in kept  # not its blurred copy, nor its smaller one
    assert "photo-0-resized.jpg" not in kept  # fewer pixels (a crop or a brightened edit may win: they are edits too)


def test_every_copy_kind_confirmed_on_pixels(planted_run):
    trained, planted = planted_run
    biggest = run_duplicates(trained)[0]
    assert set(trained.dataset.file_names(list(biggest.rows))) == planted["a"]
    assert {f"photo-0-{kind}.jpg" for kind in COPY_KINDS} <= planted["a"]


def test_close_in_the_representation_but_not_in_pixels_is_no_group(planted_run):
    trained, _ = planted_run
    rows = np.arange(len(trained.dataset))
    same = np.ones((len(rows), 4), dtype=np.float32) + np.random.default_rng(0).normal(0, 1e-3, (len(rows), 4))
    from core.duplicates import row_pictures

    groups = find_duplicates(same, rows, row_pictures(trained), threshold=10.0)
    assert all(len(names) <= 5 for names in found(trained, groups))  # only real copies agree on pixels


def test_tables_group_on_the_representation_alone():
    rng = np.random.default_rng(0)
    rows = rng.normal(0, 1, (60, 6)).astype(np.float32)
    copies = rows[[3, 3, 10]] + rng.normal(0, 0.01, (3, 6)).astype(np.float32)
    table = np.concatenate([rows, copies])
    groups = find_duplicates(table, np.arange(len(table)))
    assert [g.rows for g in groups] == [(3, 60, 61), (10, 62)]  # the first row of each kept


def test_cached_groups_read_back_the_same():
    groups = [DuplicateGroup(4, (1, 9)), DuplicateGroup(2, (7,))]
    assert groups_from_array(groups_array(groups)) == groups
    assert groups_from_array(groups_array([])) == []


# --------------------------------------------------------------------------- the user's keepers


def test_a_chosen_keeper_wins_and_keeps_the_rest_in_order():
    groups = [DuplicateGroup(4, (1, 9)), DuplicateGroup(2, (7,))]
    assert with_keepers(groups, [9, 5]) == [DuplicateGroup(9, (4, 1)), DuplicateGroup(2, (7,))]
    assert with_keepers(groups, []) == groups


def test_keepers_saved_in_sorting_json_and_read_back(tmp_path):
    group = DuplicateGroup(4, (1, 9))
    save_keeper(tmp_path, 10, group, 9, "kmeans", 3)
    save_keeper(tmp_path, 10, group, 1, "kmeans", 3)  # another choice in the same group replaces the first
    saved, problem = sorting.read_sorting(tmp_path, 10)
    assert problem is None and saved.keepers == (1,)
    edited = saved.merged(0, 1)
    assert sorting.from_dict(edited.to_dict()).keepers == (1,)


def test_a_sorting_file_without_keepers_still_reads(tmp_path):
    obj = sorting.start("kmeans", 3, 10).to_dict()
    assert "keepers" not in obj
    (tmp_path / sorting.SORTING_FILE).write_text(json.dumps(obj))
    saved, problem = sorting.read_sorting(tmp_path, 10)
    assert problem is None and saved.keepers == ()


@pytest.mark.parametrize(
    "keepers, words",
    [
        ("3", "keepers should be a list of row numbers"),
        ([1, "2"], "keepers should be a list of row numbers"),
        ([-1], "keepers should be a list of row numbers"),
        ([2, 2], "names a row among the keepers twice"),
        ([10], "keeps row 10, but the run's data has 10 rows"),
    ],
)
def test_bad_keepers_are_reported(tmp_path, keepers, words):
    obj = {**sorting.start("kmeans", 3, 10).to_dict(), "keepers": keepers}
    (tmp_path / sorting.SORTING_FILE).write_text(json.dumps(obj))
    saved, problem = sorting.read_sorting(tmp_path, 10)
    assert saved is None and words in problem


# --------------------------------------------------------------------------- export


def test_sorted_folders_put_every_other_copy_in_duplicates_once(planted_run, tmp_path):
    trained, planted = planted_run
    groups = run_duplicates(trained)
    frame = set_aside_duplicates(cluster_assignments(trained, "kmeans", 2), groups)
    out = write_sorted_folders(frame, tmp_path / "sorted")
    photos = sorted(p for p in out.rglob("*.jpg"))
    digest = lambda path: hashlib.sha256(Path(path).read_bytes()).hexdigest()  # noqa: E731
    assert sorted(map(digest, photos)) == sorted(map(digest, trained.dataset.files))  # each file once
    kept = set(trained.dataset.file_names([g.keep for g in groups]))
    aside = {p.name for p in (out / DUPLICATES_FOLDER).iterdir()}
    assert aside == (planted["a"] | planted["b"]) - kept
    table = pd.read_csv(out / "clusters.csv")
    copies = table.dropna(subset=["duplicate_of"])
    assert set(copies["duplicate_of"]) == kept and len(copies) == len(aside)
    assert all(s.startswith(f"{DUPLICATES_FOLDER}/") for s in copies["sorted_as"])
    assert not any(s.startswith(f"{DUPLICATES_FOLDER}/") for s in table.loc[table["duplicate_of"].isna(), "sorted_as"])


def test_cli_export_duplicates_sets_them_aside(planted_run, tmp_path, capsys):
    trained, planted = planted_run
    group = run_duplicates(trained)[0]
    save_keeper(trained.run.path, len(trained.dataset), group, group.others[0], "n2d", 5)  # made on another clustering
    out = tmp_path / "sorted"
    args = ["export", trained.run.id, "--sorted-folders", str(out), "--method", "kmeans", "--clusters", "2"]
    try:
        assert (
            main([*args, "--duplicates", "--runs-dir", str(trained.run.path.parent)]) == 0
        )  # keepers bind no clustering
    finally:
        sorting.clear_sorting(trained.run.path)
    assert "2 groups of near-duplicates: 6 go to _duplicates/" in capsys.readouterr().err
    aside = {p.name for p in (out / DUPLICATES_FOLDER).iterdir()}
    assert len(aside) == 6 and trained.dataset.file_names([group.others[0]])[0] not in aside  # the choice kept
    assert len(list(out.rglob("*.jpg"))) == len(trained.dataset)


def test_table_rows_name_their_kept_row():
    frame = pd.DataFrame({"row": [0, 1, 2, 3], "cluster": [0, 0, 1, 1]})
    table = set_aside_duplicates(frame, [DuplicateGroup(2, (0,))])
    assert table["duplicate_of"].tolist() == [2, pd.NA, pd.NA, pd.NA]


def test_a_cluster_named_duplicates_never_takes_the_folder():
    from core.export import cluster_folder_names

    assert DUPLICATES_FOLDER not in cluster_folder_names(np.array([0, 1]), {0: "_duplicates"}).values()


# --------------------------------------------------------------------------- the command line


def test_cli_json_names_files_as_in_the_dataset(planted_run, capsys):
    trained, planted = planted_run
    assert main(["duplicates", trained.run.id, "--json", "--runs-dir", str(trained.run.path.parent)]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert set(groups[0]) == {"keep", "others"}
    assert sorted(({g["keep"], *g["others"]} for g in groups), key=len) == sorted(planted.values(), key=len)
    assert "photo-1.jpg" in {g["keep"] for g in groups}


def test_cli_text_lists_each_keeper_first_and_follows_a_saved_choice(planted_run, capsys):
    trained, _ = planted_run
    runs = str(trained.run.path.parent)
    small = trained.dataset.files.index(next(f for f in trained.dataset.files if f.endswith("photo-1-small.jpg")))
    group = next(g for g in run_duplicates(trained) if small in g.rows)
    save_keeper(trained.run.path, len(trained.dataset), group, small, "kmeans", 2)
    try:
        assert main(["duplicates", trained.run.id, "--runs-dir", runs]) == 0
        out = capsys.readouterr().out
        assert "2 groups of near-duplicates" in out and "6 photos would go to _duplicates/" in out
        assert "keep  photo-1-small.jpg" in out and "keep  photo-1.jpg" not in out
    finally:
        sorting.clear_sorting(trained.run.path)


def test_cli_on_a_run_that_never_trained_says_to_train_first(tmp_path, capsys):
    run = RunStore(tmp_path).create(RunConfig(data=DataSpec("digits", max_samples=50)))
    assert main(["duplicates", run.id, "--runs-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no codes or features to compare yet" in err and f"latentboard train --resume {run.id}" in err


def test_cli_on_an_unknown_run_is_one_line(tmp_path, capsys):
    assert main(["duplicates", "no-such-run", "--runs-dir", str(tmp_path)]) == 2
    assert "no-such-run" in capsys.readouterr().err
