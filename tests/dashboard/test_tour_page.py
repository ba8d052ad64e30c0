"""The tour for the report on the Latent space page (dashboard.latent.tour), under AppTest on a small digits
run: add two views (the second with points selected on the map), move a step up, change a caption, delete
one, each saved to tour.json as it happens; a damaged tour file opens the page with a notice, not an error."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.paths import default_runs_dir
from core.runs import RunStore
from core.tour import read_tour, tour_path
from core.trained import load_trained as load
from dashboard.keys import LATENT
from tests.dashboard.test_pages import (  # noqa: F401  (trained_runs_dir and with_run are fixtures)
    latent_page,
    trained_runs_dir,
    with_run,
)


def load_trained(run_id: str):
    return load(RunStore(default_runs_dir()).open(run_id))


def saved(run_id: str):
    trained = load_trained(run_id)
    return read_tour(trained.run.path, run_id, len(trained.dataset))


def ok(at: AppTest) -> None:
    assert not at.exception and not at.error, [e.value for e in at.error] or at.exception


def step_boxes(at: AppTest) -> list:
    return [w for w in at.text_input if str(w.key).startswith(LATENT.tour_step)]


def step_button(at: AppTest, step: int, what: str):
    return next(b for b in at.button if str(b.key).startswith(LATENT.tour_step) and b.key.endswith(f".{step}.{what}"))


def test_add_reorder_recaption_and_delete_tour_steps(with_run):  # noqa: F811
    tour_path(load_trained(with_run).run.path).unlink(missing_ok=True)
    at = latent_page(with_run, {"latent.colour": "label"})
    ok(at)
    assert step_boxes(at) == [] and at.button(key=LATENT.tour_add).label == "Add this view to the tour"
    at.text_area(key=LATENT.tour_caption).input("Digits by what they are.").run()
    at.button(key=LATENT.tour_add).click().run()
    ok(at)
    assert at.text_area(key=LATENT.tour_caption).value == ""  # ready for the next view
    tour, problem = saved(with_run)
    assert problem is None and [s.caption for s in tour.steps] == ["Digits by what they are."]
    assert (tour.steps[0].method, tour.steps[0].colour, tour.steps[0].split) == ("pca", "label", "test")

    # the second view: coloured by cluster, three points selected on the map
    at.selectbox(key=LATENT.colour).set_value("cluster").run()
    points = [{"customdata": [p]} for p in (2, 5, 9)]
    at.session_state[f"{LATENT.map}{with_run}.test"] = {"selection": {"points": points}}
    at.run()
    assert at.button(key=LATENT.tour_add).label == "Add this view to the tour with the 3 points selected"
    at.text_area(key=LATENT.tour_caption).input("These three look alike.").run()
    at.button(key=LATENT.tour_add).click().run()
    ok(at)
    tour, _ = saved(with_run)
    split_rows = load_trained(with_run).splits.get("test")
    assert tour.steps[1].colour == "cluster" and tour.steps[1].rows == tuple(sorted(split_rows[[2, 5, 9]].tolist()))
    assert [w.label for w in step_boxes(at)] == ["Step 1", "Step 2"]
    assert any("3 rows highlighted" in c.value for c in at.caption)

    step_button(at, 1, "up").click().run()  # the second step first
    ok(at)
    assert [s.caption for s in saved(with_run)[0].steps] == ["These three look alike.", "Digits by what they are."]
    assert [w.value for w in step_boxes(at)] == ["These three look alike.", "Digits by what they are."]

    step_boxes(at)[1].input("Each digit has its own island.").run()
    ok(at)
    assert saved(with_run)[0].steps[1].caption == "Each digit has its own island."

    step_button(at, 0, "delete").click().run()
    ok(at)
    assert [s.caption for s in saved(with_run)[0].steps] == ["Each digit has its own island."]
    assert [w.value for w in step_boxes(at)] == ["Each digit has its own island."]


def test_a_damaged_tour_file_opens_the_page_with_a_notice_and_no_tour(with_run):  # noqa: F811
    path = tour_path(load_trained(with_run).run.path)
    path.write_text('{"version": 1, "run": "someone-else", "n_rows": 3, "steps": []}')
    at = latent_page(with_run)
    assert not at.exception and not at.error
    said = [w.value for w in at.warning if "The saved tour was dropped" in w.value]
    assert said and "tour of run 'someone-else'" in said[0], [w.value for w in at.warning]
    assert step_boxes(at) == []
    at.text_area(key=LATENT.tour_caption).input("A new start.").run()
    at.button(key=LATENT.tour_add).click().run()  # the next view added starts a new tour
    ok(at)
    assert [s.caption for s in saved(with_run)[0].steps] == ["A new start."] and not at.warning
