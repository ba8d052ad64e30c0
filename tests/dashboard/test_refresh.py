"""A watching page redraws slower while the server is busy, and says why."""

from __future__ import annotations

import pytest

from dashboard.refresh import SLOWEST, busy_note, busyness, keeps, redraw_every


@pytest.mark.parametrize(
    ("busy", "every"),
    [(0.0, 1.0), (1.0, 1.0), (1.5, 2.0), (2.5, 3.0), (4.0, 5.0), (40.0, SLOWEST)],
)
def test_the_redraw_slows_in_coarse_steps_with_how_busy_the_server_is(busy, every):
    assert redraw_every(1.0, busy) == every


def test_a_slow_page_stays_within_the_slowest_and_never_goes_faster_than_its_own():
    assert redraw_every(2.0, 3.0) == SLOWEST
    assert redraw_every(0.5, 0.0) == 0.5 and redraw_every(0.5, 2.0) == 1.0


def test_busy_counts_trainings_or_load_per_core_whichever_is_higher():
    assert busyness(active_jobs=6, cores=2, load=1.0) == 3.0
    assert busyness(active_jobs=0, cores=2, load=5.0) == 2.5
    assert busyness(active_jobs=1, cores=0, load=0.0) == 1.0  # no cores reported: counted as one


def test_the_page_says_why_it_refreshes_slower_only_when_it_does():
    assert busy_note(1.0, 1.0, active_jobs=0, load=0.3, cores=2) is None
    note = busy_note(3.0, 1.0, active_jobs=6, load=5.2, cores=2)
    assert note.startswith("Server busy: refreshing every 3 s")
    assert "6 jobs (trainings, evaluations, sweeps) queued or running, load 5.2 on 2 cores" in note


def test_a_load_wavering_at_a_steps_edge_keeps_the_interval_a_page_has():
    assert redraw_every(1.0, 1.9) == 2.0 and redraw_every(1.0, 2.1) == 3.0
    assert keeps(2.0, 1.0, busy=2.1) and keeps(3.0, 1.0, busy=1.9)  # either side of the edge: no page rerun
    assert not keeps(1.0, 1.0, busy=3.0) and not keeps(5.0, 1.0, busy=0.5)  # a real change is followed
