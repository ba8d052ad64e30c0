"""MetricsTail follows a growing metrics.jsonl reading only what was added, and starts over when it is rewritten."""

from __future__ import annotations

import json

from core.atomic import atomic_write_bytes
from core.config import RunConfig
from core.metrics_log import MetricsTail, parse_events, read_events
from core.runs import RunStore
from core.training import Progress


def event(epoch: int, loss: float = 0.5) -> Progress:
    return Progress(
        kind="epoch", epoch=epoch, epochs=3, step=epoch * 4, steps_per_epoch=4, train_loss=loss, val_loss=loss
    )


def line(epoch: int, loss: float = 0.5) -> bytes:
    return (json.dumps(event(epoch, loss=loss).to_dict()) + "\n").encode()


def epochs(events: list[Progress]) -> list[int]:
    return [e.epoch for e in events]


def test_no_log_yet_is_no_events_and_a_new_log_is_read_once_it_appears(tmp_path):
    tail = MetricsTail(tmp_path / "metrics.jsonl")
    assert tail.read() == [] and read_events(tmp_path / "metrics.jsonl") == []
    (tmp_path / "metrics.jsonl").write_bytes(line(1))
    assert epochs(tail.read()) == [1]


def test_appended_lines_are_read_and_earlier_ones_not_parsed_again(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1) + line(2))
    tail = MetricsTail(path)
    assert epochs(tail.read()) == [1, 2]
    read_so_far = tail.offset
    assert read_so_far == path.stat().st_size
    with open(path, "ab") as f:
        f.write(line(3))
    assert epochs(tail.read()) == [1, 2, 3] and tail.offset == path.stat().st_size
    assert epochs(tail.read()) == [1, 2, 3]  # nothing new: the same events, nothing read twice


def test_a_last_line_still_being_written_waits_for_its_newline(tmp_path):
    path = tmp_path / "metrics.jsonl"
    whole = line(2)
    path.write_bytes(line(1) + whole[:10])
    tail = MetricsTail(path)
    assert epochs(tail.read()) == [1] and tail.offset == len(line(1))
    with open(path, "ab") as f:
        f.write(whole[10:])
    assert epochs(tail.read()) == [1, 2]


def test_a_torn_line_from_a_crash_is_skipped_like_the_whole_read_does(tmp_path):
    data = line(1) + b'{"kind": "epo\n' + line(2) + b"[1, 2]\n\n"
    (tmp_path / "metrics.jsonl").write_bytes(data)
    assert epochs(MetricsTail(tmp_path / "metrics.jsonl").read()) == [1, 2] == epochs(parse_events(data))


def test_a_log_rewritten_shorter_on_resume_is_read_again_from_the_start(tmp_path):
    run = RunStore(tmp_path / "runs").create(RunConfig())
    for epoch in (1, 2, 3):
        run.append_metrics(event(epoch, loss=0.5))
    tail = run.metrics_tail()
    assert epochs(tail.read()) == [1, 2, 3]
    run.truncate_metrics(after_epoch=1)  # what a resume from the epoch-1 checkpoint does
    assert epochs(tail.read()) == [1]
    run.append_metrics(event(2, loss=0.25))
    assert (
        [(e.epoch, e.train_loss) for e in tail.read()]
        == [(1, 0.5), (2, 0.25)]
        == [(e.epoch, e.train_loss) for e in run.metrics()]
    )


def test_a_file_replaced_by_one_as_long_is_still_noticed(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1, loss=0.5) + line(2, loss=0.5))
    tail = MetricsTail(path)
    tail.read()
    atomic_write_bytes(path, line(1, loss=0.5) + line(2, loss=0.75))  # same length, a new file
    assert [e.train_loss for e in tail.read()] == [0.5, 0.75]


def test_a_log_that_shrank_in_place_starts_over(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(line(1) + line(2) + line(3))
    tail = MetricsTail(path)
    tail.read()
    with open(path, "r+b") as f:  # the same file, cut short
        f.truncate(len(line(1)))
    assert epochs(tail.read()) == [1]
