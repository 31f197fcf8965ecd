"""The numbers for the lead and the municipality: open cases, queue times against the promise, outcomes.

Counts and durations only: nothing in here identifies a person, so the dashboard, a CSV export and a
command line report can all print it as it is.
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Case, CaseKind, CaseState, Outcome

KINDS = tuple(CaseKind)
SUCCESS = (Outcome.HOUSING, Outcome.INCOME, Outcome.OCCUPATION)


def report(session: Session, now: datetime) -> dict:
    """Everything on the numbers page, as plain data (minutes as floats, shares as 0..1 or None)."""
    rows = session.execute(
        select(Case.kind, Case.state, Case.created_at, Case.claimed_at, Case.due_at, Case.breached_at, Case.enrolled_at,
               Case.closed_at, Case.outcome)
    ).all()  # fmt: skip
    kinds = [kind for kind in KINDS if any(row.kind == kind for row in rows)] or list(KINDS[:3])
    kinds += sorted({row.kind for row in rows} - set(kinds))

    open_cases = {kind: {"open": 0, "claimed": 0} for kind in kinds}
    for row in rows:
        if row.state in (CaseState.OPEN, CaseState.CLAIMED):
            open_cases[row.kind][row.state] += 1

    queue = {kind: _queue_times([row for row in rows if row.kind == kind], now) for kind in kinds}
    queue["all"] = _queue_times(rows, now)

    closed = [row for row in rows if row.state == CaseState.CLOSED]
    outcomes = {name: sum(1 for row in closed if name in (row.outcome or "").split("+")) for name in SUCCESS}
    successful = sum(1 for row in closed if set((row.outcome or "").split("+")) & set(SUCCESS))
    first = min((row.created_at for row in rows), default=None)
    return {
        "generated_at": now,
        "since": first,
        "open": open_cases,
        "open_total": sum(counts["open"] + counts["claimed"] for counts in open_cases.values()),
        "queue": queue,
        "outcomes": {
            "enrolled": sum(1 for row in rows if row.enrolled_at is not None),
            "closed": len(closed),
            **outcomes,
            "successful": successful,
            "successful_share": successful / len(closed) if closed else None,
        },
    }


def _queue_times(rows: list, now: datetime) -> dict:
    """Time until someone took the case, and whether that was within the promise (due_at)."""
    waits = sorted((row.claimed_at - row.created_at).total_seconds() / 60 for row in rows if row.claimed_at is not None)
    decided = kept = 0
    for row in rows:
        if row.due_at is None:
            continue
        taken_in_time = row.claimed_at is not None and row.claimed_at <= row.due_at and row.breached_at is None
        if row.claimed_at is not None or row.breached_at is not None or row.due_at <= now:
            decided += 1  # still waiting and not yet due: not decided either way
            kept += taken_in_time
    return {
        "taken": len(waits),
        "waiting": sum(1 for row in rows if row.state == "open"),
        "median_minutes": statistics.median(waits) if waits else None,
        "p90_minutes": _percentile(waits, 0.9),
        "with_promise": decided,
        "within_promise": kept,
        "within_share": kept / decided if decided else None,
    }


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """Nearest rank: the smallest value at least `fraction` of the values are at or below."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def report_rows(numbers: dict) -> list[tuple[str, str, str]]:
    """The report flattened to (section, name, value) rows, for CSV."""
    rows: list[tuple[str, str, str]] = [("report", "generated_at", numbers["generated_at"].isoformat()),
                                        ("report", "since", numbers["since"].isoformat() if numbers["since"] else "")]  # fmt: skip
    for kind, counts in numbers["open"].items():
        rows += [("open", f"{kind}.{state}", str(count)) for state, count in counts.items()]
    for kind, times in numbers["queue"].items():
        rows += [("queue", f"{kind}.{name}", _plain(value)) for name, value in times.items()]
    rows += [("outcomes", name, _plain(value)) for name, value in numbers["outcomes"].items()]
    return rows


def _plain(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)
