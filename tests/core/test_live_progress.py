"""One shared reading of a run's metrics log for every page watching it: read once, skipped when
nothing was logged, bounded in how many logs it keeps, and a live chart's points bounded too."""

from __future__ import annotations

from core import metrics_log
from core.atomic import atomic_write_bytes
from core.jobs import JobRegistry
from core.live_progress import LIVE_STEPS, LiveProgress, live_points
from core.runs import RunStore
from core.training import Progress
from tests.core.test_metrics_log import event, line


def step(n: int) -> Progress:
    return Progress(kind="step", epoch=n // 10 + 1, epochs=100, step=n, steps_per_epoch=10, train_loss=1.0 / (n + 1))


def test_watchers_share_one_reading_and_nothing_new_is_not_read_again(tmp_path, monkeypatch):
    path = tmp_path / "metrics.jsonl"
    progress = LiveProgress()
    empty = progress.read(path)
    assert empty.events == () and empty.version is None  # no log yet
    path.write_bytes(line(1))
    reads = []
    original = metrics_log.MetricsTail.read
    monkeypatch.setattr(metrics_log.MetricsTail, "read", lambda self: reads.append(1) or original(self))
    first = progress.read(path)
    for _ in range(5):  # five more pages redraw: the same reading, the log not even opened
        assert progress.read(path) is first
    assert len(reads) == 1 and [e.epoch for e in first.events] == [1]
    with open(path, "ab") as f:
        f.write(line(2) + line(3)[:10])  # a new line and half of the next
    second = progress.read(path)
    assert [e.epoch for e in second.events] == [1, 2] and second.version != first.version
    with open(path, "ab") as f:
        f.write(line(3)[10:])
    assert [e.epoch for e in progress.read(path).events] == [1, 2, 3]


def test_a_rewritten_log_is_read_again_from_the_start(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1) + line(2))
    progress = LiveProgress()
    assert len(progress.read(path).events) == 2
    atomic_write_bytes(path, line(1, loss=0.25))  # a resume truncates the log
    assert [e.train_loss for e in progress.read(path).events] == [0.25]


def test_it_keeps_only_the_logs_watched_lately(tmp_path):
    progress = LiveProgress(limit=2)
    for name in "abc":
        (tmp_path / name).write_bytes(line(1))
        progress.read(tmp_path / name)
    assert len(progress) == 2
    assert [e.epoch for e in progress.read(tmp_path / "a").events] == [1]  # dropped, then read again


def test_a_live_chart_draws_a_bounded_number_of_points_and_keeps_every_epoch():
    events = [step(n) for n in range(5000)] + [event(e) for e in (1, 2, 3)]
    shown = live_points(events)
    steps = [e for e in shown if e.kind == "step"]
    assert len(steps) <= LIVE_STEPS and steps[-1].step == 4999  # the newest step is drawn
    assert [e.epoch for e in shown if e.kind == "epoch"] == [1, 2, 3]
    few = [step(n) for n in range(10)]
    assert live_points(few) == few


def test_the_job_registry_holds_the_shared_reading(tmp_path):
    registry = JobRegistry(RunStore(tmp_path / "runs"))
    (tmp_path / "metrics.jsonl").write_bytes(line(1))
    assert registry.progress.read(tmp_path / "metrics.jsonl").events == (event(1),)


def test_the_chart_is_renewed_at_most_every_few_seconds_while_the_numbers_follow_each_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1))
    slow, eager = LiveProgress(chart_every=3600), LiveProgress(chart_every=0)
    for progress in (slow, eager):
        assert [e.epoch for e in progress.charted(path).events] == [1]  # the first lines are drawn at once
    with open(path, "ab") as f:
        f.write(line(2))
    assert [e.epoch for e in slow.read(path).events] == [1, 2]
    assert [e.epoch for e in slow.charted(path).events] == [1]  # the chart waits its turn
    assert [e.epoch for e in eager.charted(path).events] == [1, 2]
