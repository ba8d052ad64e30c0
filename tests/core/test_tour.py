"""The tour file (core.tour): steps added, moved, recaptioned and removed; saved with its checksum and read
back whole; a damaged file, another run's tour or rows beyond the run's data dropped with a clear notice."""

from __future__ import annotations

import json

import pytest

from core.errors import ConfigError
from core.tour import MAX_CAPTION, MAX_STEPS, Step, Tour, read_tour, save_tour, selected_rows, tour_path

RUN, ROWS = "run-a", 100


def three_steps() -> Tour:
    tour = Tour(RUN, ROWS)
    tour = tour.added(Step("All the clusters.", colour="cluster", n_clusters=7))
    tour = tour.added(Step("  Shoes sit together.  ", colour="label", rows=selected_rows([5, 3, 3, 9])))
    return tour.added(Step("Zoomed in.", method="pca", x_range=(-1.0, 2.5), y_range=(0.0, 1.0), params={}))


def test_a_tour_round_trips_through_its_file(tmp_path):
    tour = three_steps()
    assert tour.steps[1].caption == "Shoes sit together." and tour.steps[1].rows == (3, 5, 9)
    save_tour(tmp_path, tour)
    assert json.loads(tour_path(tmp_path).read_text())["sha256"]  # sealed like sorting.json
    back, problem = read_tour(tmp_path, RUN, ROWS)
    assert problem is None and back == tour


def test_steps_move_up_and_down_change_caption_and_go():
    tour = three_steps()
    assert [s.caption for s in tour.moved(2, -1).steps] == ["All the clusters.", "Zoomed in.", "Shoes sit together."]
    assert tour.moved(0, -1) == tour and tour.moved(2, 1) == tour  # at an end, it stays
    assert tour.recaptioned(0, " New words ").steps[0].caption == "New words"
    assert tour.recaptioned(0, "x" * 900).steps[0].caption == "x" * MAX_CAPTION
    assert [s.caption for s in tour.removed(1).steps] == ["All the clusters.", "Zoomed in."]


def test_a_full_tour_refuses_another_step():
    tour = Tour(RUN, ROWS, tuple(Step(f"{i}") for i in range(MAX_STEPS)))
    with pytest.raises(ConfigError, match=f"at most {MAX_STEPS} steps"):
        tour.added(Step("one more"))


def test_no_file_is_an_empty_tour_without_a_notice(tmp_path):
    assert read_tour(tmp_path, RUN, ROWS) == (Tour(RUN, ROWS), None)


def edited(tmp_path, change) -> str:
    """Save the three steps, change the file's JSON as `change` says (checksum dropped), read it back."""
    save_tour(tmp_path, three_steps())
    obj = json.loads(tour_path(tmp_path).read_text())
    obj.pop("sha256")
    change(obj)
    tour_path(tmp_path).write_text(json.dumps(obj))
    tour, problem = read_tour(tmp_path, RUN, ROWS)
    assert tour == Tour(RUN, ROWS)  # dropped
    return problem


@pytest.mark.parametrize(
    "change, said",
    [
        (lambda o: o.update(run="run-b"), "tour of run 'run-b', not of run 'run-a' (copied from another run?)"),
        (lambda o: o.update(n_rows=5000), "made for 5000 rows, but the run's data has 100"),
        (lambda o: o["steps"][1].update(rows=[3, 150]), "step 2 selects row 150, but the run's data has 100 rows"),
        (lambda o: o["steps"][0].update(colour="mood"), "step 1 has colour 'mood', not one of"),
        (lambda o: o["steps"][2].update(x_range=[3, 1]), "step 3 has x_range [3, 1], not null or [low, high]"),
        (lambda o: o["steps"][0].update(params={"n_neighbors": 1e9}), "step 1 has n_neighbors 1000000000.0"),
        (lambda o: o["steps"][0].pop("caption"), "step 1 should be an object of exactly"),
        (lambda o: o.update(version=7), "its version is 7, not 1"),
        (lambda o: o.update(steps={}), "its steps should be a list"),
    ],
)
def test_a_bad_tour_file_is_dropped_with_what_is_wrong(tmp_path, change, said):
    problem = edited(tmp_path, change)
    assert problem and "is damaged" in problem and said in problem, problem


def test_a_tour_changed_on_disk_fails_its_checksum(tmp_path):
    save_tour(tmp_path, three_steps())
    path = tour_path(tmp_path)
    path.write_text(path.read_text().replace("Shoes sit together.", "Boots sit together."))
    tour, problem = read_tour(tmp_path, RUN, ROWS)
    assert tour.steps == () and "does not match its checksum" in problem


@pytest.mark.parametrize("text", ["{not json", "", "\x00\x01"])
def test_an_unreadable_tour_file_is_dropped(tmp_path, text):
    tour_path(tmp_path).write_text(text)
    tour, problem = read_tour(tmp_path, RUN, ROWS)
    assert tour.steps == () and "could not be read" in problem and "dropped" in problem


def test_a_tour_file_holding_a_list_is_dropped(tmp_path):
    tour_path(tmp_path).write_text("[1, 2]")
    assert "holds a list, not an object" in read_tour(tmp_path, RUN, ROWS)[1]
