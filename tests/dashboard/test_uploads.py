"""The upload cache keeps to its budget, least recently used first, and never drops a run's data."""

from __future__ import annotations

import os
import time

from core.config import RunConfig
from core.data import DataSpec
from core.paths import default_data_dir
from core.runs import RunStore
from dashboard.uploads import save_upload


def test_old_uploads_go_first_but_never_a_runs_data(monkeypatch):
    monkeypatch.setenv("LATENTBOARD_MAX_UPLOAD_CACHE_BYTES", "2500")
    first = save_upload("first.csv", b"a" * 1000)
    RunStore().create(RunConfig(data=DataSpec("table", path=str(first))))  # a run reads the first upload
    second = save_upload("second.csv", b"b" * 1000)
    old = time.time() - 60
    for path in (first, second):
        os.utime(path.parent, (old, old))
    third = save_upload("third.csv", b"c" * 1000)  # 3000 bytes > 2500: the oldest unused one goes
    assert first.is_file() and third.is_file() and not second.exists()
    assert sorted(p.name for p in (default_data_dir() / "uploads").rglob("*.csv")) == ["first.csv", "third.csv"]


def test_uploading_the_same_bytes_again_reuses_the_file():
    path = save_upload("t.csv", b"x,y\n1,2\n")
    assert save_upload("t.csv", b"x,y\n1,2\n") == path
