"""A sweep's trials as rows: one shape for the CLI's table and the dashboard's (no Ray, no Streamlit)."""

from __future__ import annotations

import math
from typing import Any

from core.sweeps.store import TrialRow

CHECK_NOTE = "acc* / nmi*: N2D clustering of validation codes against the labels, a check only; the score picks."


def short_name(key: str) -> str:
    """ "model.latent_dim" -> "latent_dim": every swept name is unique without its section."""
    return key.partition(".")[2] or key


def trial_records(trials: list[TrialRow]) -> list[dict[str, Any]]:
    """Plain dicts, one per trial: run, status, epochs done, each swept setting, score, acc*, nmi*, message."""
    keys = list(dict.fromkeys(k for t in trials for k in t.params))
    records = []
    for t in trials:
        record: dict[str, Any] = {"run": t.run_id, "status": t.status, "done": f"{t.epochs_done}/{t.epochs}"}
        record.update({short_name(k): t.params.get(k) for k in keys})
        record["score"] = t.score
        record["acc*"] = t.check.get("acc")
        record["nmi*"] = t.check.get("nmi")
        record["message"] = t.message or ""
        records.append(record)
    return records


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_trials(trials: list[TrialRow]) -> str:
    """The CLI's table, best score first, failed and stopped trials after the scored ones."""
    records = trial_records(sorted(trials, key=lambda t: (t.score is None, t.score or 0.0, t.created)))
    if not records:
        return "No trials."
    columns = [c for c in records[0] if c != "message"]
    if all(r["acc*"] is None for r in records):
        columns = [c for c in columns if c not in ("acc*", "nmi*")]
    rows = [[c.upper() for c in columns]] + [[_cell(r[c]) for c in columns] for r in records]
    widths = [max(len(row[i]) for row in rows) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    for r in records:
        if r["status"] in ("failed", "stopped") and r["message"]:
            lines.append(f"  {r['run']}: {r['message']}")
    if "acc*" in columns:
        lines.append(CHECK_NOTE)
    return "\n".join(lines)
