"""Name a few, the rest follow (core.spread): the spread on generated blobs, the names file and every
way it can be wrong, the named examples kept in sorting.json, and the export and CLI that use them.

The run is a tiny dense autoencoder on 12 generated photos of three kinds, trained once per module.
"""

from __future__ import annotations

import dataclasses
import io
import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from core import cli, sorting
from core.config import DataSpec, RunConfig
from core.data import Dataset
from core.errors import ConfigError
from core.experiment import execute
from core.export import cluster_assignments, sorted_zip_bytes
from core.models import ModelConfig
from core.runs import RunStore
from core.sorting import read_sorting, save_sorting, start
from core.spread import METHODS, graph_neighbours, nearest_examples, read_examples, spread, spread_run
from core.trained import load_trained
from core.training import TrainConfig
from tests.core.data_fixtures import blobs
from tests.core.photo_fixtures import write_generated_photos

# --------------------------------------------------------------------------- the spread itself


def one_per_blob(y: np.ndarray) -> dict[int, str]:
    return {int(np.flatnonzero(y == label)[0]): f"blob {label}" for label in np.unique(y)}


@pytest.mark.parametrize("method", list(METHODS))
def test_one_named_point_per_blob_labels_the_rest(method):
    x, y = blobs(n=150, centers=3, dims=5)
    examples = one_per_blob(y)
    result = spread(x, np.arange(len(x)), examples, method=method)
    truth = np.asarray([f"blob {label}" for label in y])
    assert np.mean(np.asarray(result.names()) == truth) > 0.95
    assert result.groups == ("blob 0", "blob 1", "blob 2")
    assert result.named.sum() == 3 and (result.confidence[result.named] == 1).all()
    assert ((result.confidence > 0) & (result.confidence <= 1)).all()
    assert sum(result.counts().values()) == len(x)


def test_the_spread_is_seeded_and_the_named_rows_keep_their_names():
    x, y = blobs(n=90, centers=3, dims=4, seed=1)
    examples = one_per_blob(y)
    wrong = next(iter(examples))
    examples[int(np.flatnonzero(y == y[wrong])[1])] = "blob odd"  # a person may name against the data
    rows = np.arange(len(x)) + 100  # data rows need not be positions
    first = spread(x, rows, {r + 100: g for r, g in examples.items()}, random_state=3)
    again = spread(x, rows, {r + 100: g for r, g in examples.items()}, random_state=3)
    assert np.array_equal(first.group, again.group) and np.array_equal(first.confidence, again.confidence)
    for row, group in examples.items():
        assert first.names(np.array([row]))[0] == group


def test_least_confident_first_and_the_nearest_named_examples():
    x, y = blobs(n=60, centers=2, dims=3, seed=2)
    between = (x[y == 0].mean(0) + x[y == 1].mean(0)) / 2  # a point halfway: the most doubtful
    x = np.vstack([x, between[None, :]]).astype(np.float32)
    examples = {int(np.flatnonzero(y == label)[i]): f"g{label}" for label in (0, 1) for i in range(2)}
    result = spread(x, np.arange(len(x)), examples, method="logistic")  # the graphs: two components, both sure
    order = result.least_confident_first()
    assert np.all(np.diff(result.confidence[order]) >= 0)
    assert order[0] == len(x) - 1
    doubtful = result.least_confident_first(unnamed_only=True)
    assert not result.named[doubtful].any() and len(doubtful) == len(x) - 4
    near = nearest_examples(x, result, doubtful[:5], k=3)
    assert near.shape == (5, 3) and result.named[near].all()
    d = np.linalg.norm(x[near] - x[doubtful[:5], None, :], axis=2)
    assert np.all(np.diff(d, axis=1) >= 0)  # nearest first


def test_the_graph_has_fewer_neighbours_on_little_data():
    assert [graph_neighbours(n) for n in (2, 5, 15, 40, 588)] == [1, 3, 3, 10, 10]


@pytest.mark.parametrize(
    "examples, words",
    [({}, "No rows are named yet"), ({0: "robin", 5: "robin"}, "Every named row is in one group ('robin')")],
)
def test_fewer_than_two_groups_is_refused(examples, words):
    x, _ = blobs(n=20)
    with pytest.raises(ConfigError) as caught:
        spread(x, np.arange(20), examples)
    assert words in str(caught.value)


def test_an_unknown_method_or_row_is_refused():
    x, _ = blobs(n=20)
    with pytest.raises(ConfigError, match="choose one of both-graphs, umap-spreading"):
        spread(x, np.arange(20), {0: "a", 1: "b"}, method="magic")
    with pytest.raises(ConfigError, match=r"Rows \[25\] are named but not among the 20 rows"):
        spread(x, np.arange(20), {0: "a", 25: "b"})


# --------------------------------------------------------------------------- kept in sorting.json

N_ROWS = 10


def test_named_examples_read_back_and_an_old_file_without_them_still_reads(tmp_path):
    s = start("kmeans", 3, N_ROWS).renamed(1, "owls").named([4, 2], "  robin ").named([7], "sparrow")
    assert dict(s.examples) == {2: "robin", 4: "robin", 7: "sparrow"} and s.spreads
    assert not start("kmeans", 3, N_ROWS).named([1], "a").edited  # examples are no cluster edit
    save_sorting(tmp_path, s)
    again, problem = read_sorting(tmp_path, N_ROWS)
    assert problem is None and again == s
    assert dict(s.named([2], "").examples) == {4: "robin", 7: "sparrow"}  # blank: no longer named
    assert not s.named([7], "robin").spreads and s.unnamed().names == s.names and not s.unnamed().examples
    old = start("kmeans", 3, N_ROWS).renamed(1, "owls").to_dict()
    del old["examples"]
    (tmp_path / "sorting.json").write_text(json.dumps(old))
    again, problem = read_sorting(tmp_path, N_ROWS)
    assert problem is None and dict(again.examples) == {} and not again.spreads


GOOD = start("kmeans", 4, N_ROWS).named([1], "owls").to_dict()


@pytest.mark.parametrize(
    "examples, words",
    [
        (["owls"], "its examples should be an object of row -> group name"),
        ({"10": "owls"}, "it names row '10' as an example, not a row number from 0 to 9"),
        ({"-1": "owls"}, "it names row '-1' as an example"),
        ({"x": "owls"}, "it names row 'x' as an example"),
        ({"1": ""}, "row 1's group should be text of 1 to 100 characters"),
        ({"1": 3}, "row 1's group should be text"),
        ({"1": " owls"}, "row 1's group should be text"),
        ({"1": "o" * 101}, "row 1's group should be text"),
    ],
)
def test_damaged_examples_are_reported_and_ignored(tmp_path, examples, words):
    (tmp_path / "sorting.json").write_text(json.dumps({**GOOD, "examples": examples}))
    found, problem = read_sorting(tmp_path, N_ROWS)
    assert found is None and words in problem, problem


# --------------------------------------------------------------------------- a names file


@pytest.fixture(scope="module")
def photo_run(tmp_path_factory):
    """A tiny dense run on 12 generated photos in three labelled folders (circle, square, stripes)."""
    folder = tmp_path_factory.mktemp("photos") / "photos"
    write_generated_photos(folder, per_kind=4)
    config = RunConfig(
        data=DataSpec(source="folder", path=str(folder), image_size=12),
        model=ModelConfig("dense", latent_dim=3, width=16, depth=1),
        train=TrainConfig(epochs=2, batch_size=8, device="cpu"),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LATENTBOARD_DATA_DIR", str(tmp_path_factory.mktemp("data")))
        run = RunStore(tmp_path_factory.mktemp("runs")).create(config)
        for _ in execute(run, stop=threading.Event()):
            pass
        yield load_trained(run)


def names_csv(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "names.csv"
    path.write_text(text, encoding=encoding)
    return path


def test_a_names_file_names_files_as_in_the_dataset(photo_run, tmp_path):
    ds = photo_run.dataset
    rows = {name: row for row, name in enumerate(ds.file_names(np.arange(len(ds))))}
    path = names_csv(
        tmp_path,
        "File,Group\ncircle/circle-00.jpg, round  things\nsquare/square-01.jpg,boxes\n"
        "circle/circle-00.jpg,round things\n",
    )
    assert read_examples(path, ds) == {
        rows["circle/circle-00.jpg"]: "round things",
        rows["square/square-01.jpg"]: "boxes",
    }
    excel = names_csv(tmp_path, "file,group\ncircle/circle-00.jpg,a\nsquare/square-01.jpg,b\n", "utf-8-sig")
    assert read_examples(excel, ds) == {rows["circle/circle-00.jpg"]: "a", rows["square/square-01.jpg"]: "b"}


TABLE = Dataset(name="measurements", kind="table", x=torch.zeros(12, 3))


@pytest.mark.parametrize(
    "text, words",
    [
        (
            "file,group\ncircle/nope.jpg,a\nsquare/square-00.jpg,b\nnope2.jpg,a\n",
            "names 2 files not in the run's data: "
            "'circle/nope.jpg', 'nope2.jpg' (files are named as in the dataset, e.g. 'circle/circle-00.jpg')",
        ),
        ("file,group\ncircle/circle-00.jpg,a\nsquare/square-00.jpg,\n", "leaves the group empty on line 3"),
        ("file,group\ncircle/circle-00.jpg,  \nsquare/square-00.jpg,\n", "leaves the group empty on lines 2, 3"),
        ("file,group\ncircle/circle-00.jpg,a\nsquare/square-00.jpg,a\n", "names only one group ('a')"),
        (
            "file,group\ncircle/circle-00.jpg,a\nsquare/square-00.jpg,b\ncircle/circle-00.jpg,b\n",
            "names file 'circle/circle-00.jpg' twice with two groups ('a' on line 2, 'b' on line 4); keep one",
        ),
        ("name,group\na.jpg,b\n", "has no 'file' column (it has name, group); it needs the columns file,group"),
        ("file\na.jpg\n", "has no 'group' column"),
        ("file,group\n", "names no files"),
        ("", "could not be read as CSV"),
        ("file,group\ncircle/circle-00.jpg," + "x" * 101 + "\n", "longer than 100 characters on line 2"),
    ],
)
def test_a_bad_names_file_is_refused_saying_what_is_wrong(photo_run, tmp_path, text, words):
    with pytest.raises(ConfigError) as caught:
        read_examples(names_csv(tmp_path, text), photo_run.dataset)
    assert words in str(caught.value), str(caught.value)


def test_a_missing_names_file_is_refused(photo_run, tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_examples(tmp_path / "absent.csv", photo_run.dataset)


def test_data_without_files_is_named_by_row_number(tmp_path):
    assert read_examples(names_csv(tmp_path, "row,group\n0,a\n11,b\n"), TABLE) == {0: "a", 11: "b"}
    with pytest.raises(ConfigError, match="has no files; name its rows by number instead, in columns row,group"):
        read_examples(names_csv(tmp_path, "file,group\na.jpg,a\n"), TABLE)
    with pytest.raises(ConfigError, match="line 3: '12' is not a row number from 0 to 11"):
        read_examples(names_csv(tmp_path, "row,group\n0,a\n12,b\n"), TABLE)
    with pytest.raises(ConfigError, match="line 2: 'x' is not a row number"):
        read_examples(names_csv(tmp_path, "row,group\nx,a\n1,b\n"), TABLE)


# --------------------------------------------------------------------------- export and the CLI


def kinds(trained) -> dict[int, str]:
    """Two named photos of each of two kinds: dataset row -> kind."""
    names = trained.dataset.file_names(np.arange(len(trained.dataset)))
    return {row: name.split("/")[0] for row, name in enumerate(names) if name.endswith(("-00.jpg", "-01.jpg"))}


def test_the_export_follows_the_spread_groups_with_a_confidence(photo_run):
    n = len(photo_run.dataset)
    examples = {row: kind for row, kind in kinds(photo_run).items() if kind != "stripes"}
    s = start("kmeans", 3, n).renamed(0, "cluster names do not apply").named(list(examples), "x")
    s = dataclasses.replace(s, examples=examples)
    frame = cluster_assignments(photo_run, "kmeans", 3, sorting=s)
    assert set(frame["cluster_name"]) <= {"circle", "square"} and "confidence" in frame
    assert frame["row"].tolist() == list(range(n))
    result = spread_run(photo_run, examples)
    assert frame["cluster_name"].tolist() == result.names()
    for row, kind in examples.items():
        assert frame.loc[row, "cluster_name"] == kind and frame.loc[row, "confidence"] == 1
    with zipfile.ZipFile(io.BytesIO(sorted_zip_bytes(frame))) as archive:
        photos = [name for name in archive.namelist() if name != "clusters.csv"]
        table = pd.read_csv(io.BytesIO(archive.read("clusters.csv")))
    assert len(photos) == n and {p.split("/")[0] for p in photos} == set(frame["cluster_name"])
    assert "confidence" in table
    one_group = dataclasses.replace(s, examples={row: "circle" for row in examples})
    plain = cluster_assignments(photo_run, "kmeans", 3, sorting=one_group)  # one group: the clusters, as today
    assert "confidence" not in plain and "cluster names do not apply" in set(plain["cluster_name"])


def spread_cli(trained, *flags: str) -> int:
    return cli.main(["spread", trained.run.id, "--runs-dir", str(trained.run.path.parent), *flags])


def test_the_cli_spreads_records_the_names_and_export_uses_them(photo_run, tmp_path, capsys):
    examples = kinds(photo_run)
    names = "\n".join(
        ["file,group", *(f"{f},{g}" for f, g in zip(photo_run.dataset.file_names(list(examples)), examples.values()))]
    )
    path = names_csv(tmp_path, names + "\n")
    try:
        assert spread_cli(photo_run, "--examples", str(path)) == 0
        captured = capsys.readouterr()
        table = pd.read_csv(io.StringIO(captured.out))
        assert list(table.columns) == ["file", "group", "confidence"] and len(table) == len(photo_run.dataset)
        assert table["confidence"].is_monotonic_increasing and set(table["group"]) <= {"circle", "square", "stripes"}
        assert "saved in" in captured.err and "latentboard export" in captured.err
        saved, _ = read_sorting(photo_run.run.path, len(photo_run.dataset))
        assert dict(saved.examples) == examples
        assert spread_cli(photo_run, "--examples", str(path), "--out", str(tmp_path / "labels.csv")) == 0
        assert pd.read_csv(tmp_path / "labels.csv").equals(table)
        out = tmp_path / "sorted"
        export = ["export", photo_run.run.id, "--runs-dir", str(photo_run.run.path.parent), "--sorted-folders"]
        assert cli.main([*export, str(out)]) == 0
        assert {p.name for p in out.iterdir() if p.is_dir()} == set(table["group"])
        assert pd.read_csv(out / "clusters.csv")["confidence"].between(0, 1).all()
        captured = capsys.readouterr()
        assert "Using the run's named examples" in captured.err and "rows in 3 named groups (circle: " in captured.out
        assert cli.main([*export, str(tmp_path / "other"), "--method", "kmeans"]) == 2
        assert "sorted by named examples" in capsys.readouterr().err and not (tmp_path / "other").exists()
        assert cli.main([*export, str(tmp_path / "plain"), "--ignore-edits", "--method", "kmeans"]) == 0
        assert "confidence" not in pd.read_csv(tmp_path / "plain" / "clusters.csv")
    finally:
        sorting.clear_sorting(photo_run.run.path)


def test_the_cli_refuses_unknown_files_with_their_names(photo_run, tmp_path, capsys):
    path = names_csv(tmp_path, "file,group\ncircle/circle-00.jpg,a\nrobin.jpg,b\n")
    assert spread_cli(photo_run, "--examples", str(path)) == 2
    err = capsys.readouterr().err
    assert "not in the run's data: 'robin.jpg'" in err and "Traceback" not in err
    assert read_sorting(photo_run.run.path, len(photo_run.dataset)) == (None, None)  # nothing recorded


def test_the_cli_says_to_train_a_run_without_codes_first(tmp_path, capsys):
    run = RunStore(tmp_path / "runs").create(RunConfig(data=DataSpec(source="digits")))
    path = names_csv(tmp_path, "row,group\n0,a\n1,b\n")
    assert cli.main(["spread", run.id, "--runs-dir", str(tmp_path / "runs"), "--examples", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"Run {run.id} has no codes or features" in err and f"latentboard train --resume {run.id}" in err
