"""What a server process and its children cost: resident memory and CPU seconds, read from /proc.

Linux only (psutil is not a dependency); elsewhere the readers return None and callers say so.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (which may hold spaces): [state, ppid, ...]."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def process_tree(pid: int) -> list[int]:
    """`pid` and every live descendant (a feature extraction or sweep may run as a child)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir() if PROC.is_dir() else ():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def resident_bytes(pid: int) -> int | None:
    """Resident memory of the process and its children, or None once the process is gone."""
    total, seen = 0, False
    for member in process_tree(pid):
        fields = _stat(member)
        if fields:
            total += int(fields[21]) * PAGE  # rss, in pages
            seen = True
    return total if seen else None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of the process (all its threads), its live children, and the
    children it has already waited for."""
    root = _stat(pid)
    if root is None:
        return None
    ticks = sum(int(v) for v in root[11:15])  # utime, stime, cutime, cstime
    for member in process_tree(pid)[1:]:
        fields = _stat(member)
        if fields:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / TICKS
