"""A run's sorting edits (core.sorting): names, merges and moves replayed on a clustering, saved in
the run folder and read back, a damaged file reported and ignored, and the sorted export of the
edited clusters holding every original file exactly once, byte for byte.

The runs are tiny dense autoencoders on small generated photo folders, trained once per module.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import sorting
from core.config import DataSpec, RunConfig
from core.experiment import execute
from core.export import cluster_assignments, cluster_folder_names, sorted_zip_bytes
from core.models import ModelConfig
from core.runs import RunStore
from core.sorting import Merge, Move, read_sorting, save_sorting, start
from core.trained import load_trained
from core.training import TrainConfig
from tests.core.photo_fixtures import write_generated_photos

N_ROWS = 10


# --------------------------------------------------------------------------- replaying edits


def test_merges_and_moves_replay_in_order():
    base = np.array([0, 0, 1, 1, 2, 2, 3, 3, 0, 1])
    rows = np.arange(N_ROWS)
    s = start("kmeans", 4, N_ROWS).moved([0, 1], 3).merged(3, 2).moved([4], 5)
    assert s.edits == (Move((0, 1), 3), Merge(3, 2), Move((4,), 5))
    # rows 0, 1 went to 3, then 3 (with them) into 2; row 4 into the new cluster 5
    assert s.apply(base, rows).tolist() == [2, 2, 1, 1, 5, 2, 2, 2, 0, 1]
    assert s.apply(base, rows).tolist() == s.apply(base, rows).tolist()  # deterministic
    assert base.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 0, 1]  # the clustering itself is left alone


def test_edits_name_dataset_rows_whatever_the_order_on_screen():
    s = start("kmeans", 2, N_ROWS).moved([7, 2], 1)
    rows = np.array([9, 7, 2, 0])  # a split: positions are not rows
    assert s.apply(np.array([0, 0, 0, 0]), rows).tolist() == [0, 1, 1, 0]


def test_a_new_cluster_is_one_past_the_largest():
    assert sorting.new_cluster(np.array([0, 4, 2, -1])) == 5
    assert sorting.new_cluster(np.array([-1, -1])) == 0


def test_names_follow_merges_and_blank_names_go():
    s = start("kmeans", 3, N_ROWS).renamed(0, "  sparrows  ").renamed(1, "finches")
    assert dict(s.names) == {0: "sparrows", 1: "finches"}
    assert dict(s.merged(0, 1).names) == {1: "finches"}  # the target keeps its own name
    assert dict(s.merged(0, 2).names) == {1: "finches", 2: "sparrows"}  # an unnamed target takes the source's
    assert dict(s.renamed(0, "   ").names) == {1: "finches"}
    assert len(s.renamed(2, "x" * 500).names[2]) == sorting.MAX_NAME
    assert s.merged(1, 1) is s and s.moved([], 2) is s


# --------------------------------------------------------------------------- on disk


def test_saved_edits_read_back_the_same(tmp_path):
    s = start("n2d", 4, N_ROWS, seed=3).renamed(2, "crows").merged(1, 2).moved([9, 3], 5)
    path = save_sorting(tmp_path, s)
    assert path == tmp_path / "sorting.json" and not list(tmp_path.glob(".*.tmp"))
    again, problem = read_sorting(tmp_path, N_ROWS)
    assert problem is None and again == s
    assert again.matches("n2d", 4, 3) and not again.matches("n2d", 5, 3) and not again.matches("kmeans", 4, 3)
    assert sorting.clear_sorting(tmp_path) and read_sorting(tmp_path, N_ROWS) == (None, None)
    assert not sorting.clear_sorting(tmp_path)


GOOD = start("kmeans", 4, N_ROWS).renamed(1, "owls").moved([2], 1).to_dict()


@pytest.mark.parametrize(
    "damage, words",
    [
        (b"{not json", "could not be read"),
        (b"[]", "holds a list, not an object"),
        ({**GOOD, "version": 9}, "version is 9"),
        ({**GOOD, "method": "magic"}, "clustering method 'magic' is not one of"),
        ({**GOOD, "n_clusters": 0}, "number of clusters 0"),
        ({**GOOD, "n_clusters": True}, "number of clusters True"),
        ({**GOOD, "split": "test"}, "split is 'test'"),
        ({**GOOD, "n_rows": 11}, "made for 11 rows, but the run's data has 10"),
        ({**GOOD, "edits": [{"move": [10], "into": 1}]}, "edit 1 moves row 10, but the run's data has 10 rows"),
        ({**GOOD, "edits": [{"move": [-1], "into": 1}]}, "edit 1 should move a non-empty list of row numbers"),
        ({**GOOD, "edits": [{"move": [], "into": 1}]}, "edit 1 should move a non-empty list"),
        ({**GOOD, "edits": [{"merge": 1, "into": 99999}]}, "edit 1 moves into cluster 99999"),
        ({**GOOD, "edits": [{"merge": "a", "into": 2}]}, "edit 1 merges cluster 'a'"),
        ({**GOOD, "edits": [{"delete": 1}]}, "edit 1 should be {merge"),
        ({**GOOD, "edits": "all"}, "edits should be a list"),
        ({**GOOD, "names": {"x": "owls"}}, "names cluster 'x'"),
        ({**GOOD, "names": {"1": 7}}, "cluster 1's name should be text"),
        ({**GOOD, "names": {"1": ""}}, "cluster 1's name should be text"),
        ({**GOOD, "names": ["owls"]}, "names should be an object"),
    ],
)
def test_a_damaged_or_out_of_range_file_is_reported_and_ignored(tmp_path, damage, words):
    (tmp_path / "sorting.json").write_bytes(damage if isinstance(damage, bytes) else json.dumps(damage).encode())
    found, problem = read_sorting(tmp_path, N_ROWS)
    assert found is None and words in problem, problem
    assert str(tmp_path / "sorting.json") in problem


def test_an_unreadable_file_is_reported_not_raised(tmp_path):
    (tmp_path / "sorting.json").mkdir()  # a folder where the file should be
    found, problem = read_sorting(tmp_path, N_ROWS)
    assert found is None and "could not be read" in problem


# --------------------------------------------------------------------------- folder names


@pytest.mark.parametrize(
    "given, folder",
    [
        ("sparrows", "sparrows"),
        ("../../etc", "etc"),
        ("a/b\\c", "a_b_c"),
        ("..", "cluster-01"),
        ("   ", "cluster-01"),
        (".hidden", "hidden"),
        ("CON", "CON_"),
        ("nul.txt", "nul.txt_"),
        ("clusters.csv", "clusters.csv-2"),
        ("Große Vögel", "Große Vögel"),
    ],
)
def test_folder_names_are_safe(given, folder):
    assert cluster_folder_names(np.array([0, 1]), {1: given})[1] == folder


def test_folder_names_are_unique_even_ignoring_case():
    names = cluster_folder_names(np.array([0, 1, 2, 3, 4]), {0: "Birds", 1: "birds", 2: "birds-2", 4: "cluster-03"})
    assert names == {0: "Birds", 1: "birds-2", 2: "birds-2-2", 3: "cluster-03", 4: "cluster-03-2"}
    assert len({n.lower() for n in names.values()}) == 5
    long = cluster_folder_names(np.array([0]), {0: "x" * 400})[0]
    assert len(long) == 100


# --------------------------------------------------------------------------- the export, edited


def train(folder: Path, root: Path):
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=12),
        model=ModelConfig("dense", latent_dim=3, width=16, depth=1),
        train=TrainConfig(epochs=1, batch_size=8, device="cpu"),
    )
    run = RunStore(root).create(config)
    for _ in execute(run, stop=threading.Event()):
        pass
    return load_trained(run)


@pytest.fixture(scope="module")
def photo_runs(tmp_path_factory):
    """(labelled run, flat run whose file names repeat but for case): tiny runs on generated photos."""
    labelled = tmp_path_factory.mktemp("labelled") / "photos"
    write_generated_photos(labelled, per_kind=4)
    flat = tmp_path_factory.mktemp("flat") / "photos"
    made = write_generated_photos(flat, per_kind=2, labelled=False)
    for name, source in (("IMG_0001.jpg", made[0]), ("img_0001.jpg", made[2]), ("IMG_0001.JPG", made[4])):
        shutil.copy(source, flat / name)
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        return train(labelled, root), train(flat, root)


def digests(blobs) -> list[str]:
    return sorted(hashlib.sha256(b).hexdigest() for b in blobs)


def zipped(frame: pd.DataFrame) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(sorted_zip_bytes(frame))) as archive:
        return {n: archive.read(n) for n in archive.namelist()}


def test_every_file_once_byte_for_byte_after_merges_and_moves(photo_runs):
    trained, _ = photo_runs
    files = trained.dataset.files
    base = cluster_assignments(trained, "kmeans", 3)
    ids = sorted(base["cluster"].unique())
    s = (
        start("kmeans", 3, len(files))
        .renamed(ids[0], "discs")
        .merged(ids[1], ids[2])
        .moved([0, 5], sorting.new_cluster(base["cluster"].to_numpy()))
        .renamed(3, "odd ones")
    )
    frame = cluster_assignments(trained, "kmeans", 3, sorting=s)
    assert frame["cluster"].tolist() == s.apply(base["cluster"].to_numpy(), base["row"].to_numpy()).tolist()
    assert set(frame.loc[frame["row"].isin([0, 5]), "cluster_name"]) == {"odd ones"}
    assert ids[1] not in set(frame["cluster"])
    tree = zipped(frame)
    photos = {n: b for n, b in tree.items() if n != "clusters.csv"}
    assert len(photos) == len(files)
    assert digests(photos.values()) == digests(Path(f).read_bytes() for f in files)
    assert {n.split("/")[0] for n in photos} == set(frame["cluster_name"])
    assert "odd ones" in {n.split("/")[0] for n in photos} and "discs" in {n.split("/")[0] for n in photos}
    table = pd.read_csv(io.BytesIO(tree["clusters.csv"]))
    assert sorted(table["sorted_as"]) == sorted(photos) and "cluster_name" in table


def test_a_flat_folder_with_repeated_names_keeps_every_file_renamed(photo_runs, tmp_path):
    from core.export import write_sorted_folders

    _, trained = photo_runs
    files = trained.dataset.files
    assert trained.dataset.y is None and len({Path(f).name.lower() for f in files}) < len(files)
    base = cluster_assignments(trained, "kmeans", 2)
    everything = start("kmeans", 2, len(files)).merged(1, 0).renamed(0, "all of them")  # one folder: names meet
    out = write_sorted_folders(cluster_assignments(trained, "kmeans", 2, sorting=everything), tmp_path / "sorted")
    written = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "clusters.csv")
    assert {p.parent.name for p in written} == {"all of them"} and len(base) == len(written) == len(files)
    assert digests(p.read_bytes() for p in written) == digests(Path(f).read_bytes() for f in files)
    names = [p.name for p in written]
    assert len({n.lower() for n in names}) == len(names)  # unique even on a case-blind disk
    assert {"IMG_0001-2.jpg", "img_0001-3.jpg"} <= set(names)


# --------------------------------------------------------------------------- the CLI


def export(trained, out: Path, *flags: str) -> int:
    from core import cli

    return cli.main(
        ["export", trained.run.id, "--runs-dir", str(trained.run.path.parent), "--sorted-folders", str(out), *flags]
    )


def test_the_cli_export_uses_the_saved_edits_unless_told_not_to(photo_runs, tmp_path, capsys):
    trained, _ = photo_runs
    n = len(trained.dataset)
    save_sorting(trained.run.path, start("kmeans", 2, n).merged(1, 0).renamed(0, "everything"))
    try:
        assert export(trained, tmp_path / "edited") == 0  # the edits' own clustering: kmeans, 2, without flags
        captured = capsys.readouterr()
        assert f"{n} rows in 1 clusters" in captured.out and "Using the run's sorting edits" in captured.err
        assert [p.name for p in (tmp_path / "edited").iterdir() if p.is_dir()] == ["everything"]
        assert export(trained, tmp_path / "plain", "--ignore-edits", "--method", "kmeans", "--clusters", "2") == 0
        assert sorted(p.name for p in (tmp_path / "plain").iterdir() if p.is_dir()) == ["cluster-00", "cluster-01"]
        assert export(trained, tmp_path / "other", "--clusters", "3") == 2
        err = capsys.readouterr().err
        assert (
            "sorting edits made on kmeans with 2 clusters (seed 0), not --clusters 3" in err and "--ignore-edits" in err
        )
        assert not (tmp_path / "other").exists()
    finally:
        sorting.clear_sorting(trained.run.path)


def test_the_cli_reports_a_damaged_edits_file_and_exports_without_it(photo_runs, tmp_path, capsys):
    trained, _ = photo_runs
    (trained.run.path / "sorting.json").write_text('{"version": 1, "method": "kmeans"')
    try:
        assert export(trained, tmp_path / "sorted", "--method", "kmeans", "--clusters", "2") == 0
        err = capsys.readouterr().err
        assert "note: the sorting edits are left out" in err and "could not be read" in err
        written = [p for p in (tmp_path / "sorted").rglob("*.jpg")]
        assert len(written) == len(trained.dataset)
    finally:
        sorting.clear_sorting(trained.run.path)


def test_the_cli_export_trains_a_temi_head_with_progress_and_refuses_too_many_groups(
    photo_runs, tmp_path, capsys, monkeypatch
):
    from core.heads.temi import TEMIClusterer

    trained, _ = photo_runs
    n = len(trained.dataset)
    assert export(trained, tmp_path / "many", "--method", "temi", "--clusters", "1000") == 2
    err = capsys.readouterr().err
    assert f"error: TEMI cannot make 1000 groups of {n} rows" in err and "Traceback" not in err
    assert not (tmp_path / "many").exists()
    small = {**TEMIClusterer.__init__.__kwdefaults__, "min_steps": 30, "hidden_dim": 16, "bottleneck_dim": 16}
    monkeypatch.setattr(TEMIClusterer.__init__, "__kwdefaults__", small)  # a head sized for a test
    assert export(trained, tmp_path / "temi", "--method", "temi", "--clusters", "2", "--seed", "1") == 0
    captured = capsys.readouterr()
    assert "Training the TEMI head (30 steps)" in captured.err and "Trained the TEMI head in" in captured.err
    assert f"{n} rows in" in captured.out and len(list((tmp_path / "temi").rglob("*.jpg"))) == n
