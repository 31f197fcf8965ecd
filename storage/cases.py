"""Cases: what staff must act on, with a short pseudonym code staff can say aloud."""

from __future__ import annotations

import secrets
import statistics
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import Case, CaseState

CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I or O: they read as 1 and 0 on a phone


def new_code(length: int = 4) -> str:
    return "K-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))


def open_case(
    session: Session,
    *,
    contact_id: str | None,
    kind: str,
    now: datetime,
    summary: str | None = None,
    relative: bool = False,
    urgent: bool = False,
    due_at: datetime | None = None,
) -> Case:
    """A new case with a unique code; the unique constraint, not a read, settles a clash."""
    for attempt in range(12):
        case = Case(
            code=new_code(4 if attempt < 6 else 6), contact_id=contact_id, kind=kind, state=CaseState.OPEN, urgent=urgent,
            relative=relative, summary=summary, due_at=due_at, created_at=now, updated_at=now,
        )  # fmt: skip
        try:
            with session.begin_nested():
                session.add(case)
                session.flush()
            return case
        except IntegrityError:
            continue
    raise RuntimeError("could not find a free case code")


def open_case_of(session: Session, contact_id: str, kinds: tuple[str, ...] | None = None) -> Case | None:
    """The contact's most recent case that is not closed."""
    query = select(Case).where(Case.contact_id == contact_id, Case.state != CaseState.CLOSED)
    if kinds:
        query = query.where(Case.kind.in_(kinds))
    return session.scalar(query.order_by(Case.id.desc()).limit(1))


def open_cases_of(session: Session, contact_id: str) -> list[Case]:
    """Every case of the contact that is not closed, newest first."""
    query = select(Case).where(Case.contact_id == contact_id, Case.state != CaseState.CLOSED).order_by(Case.id.desc())
    return list(session.scalars(query))


def claimed_case_of(session: Session, contact_id: str) -> Case | None:
    return session.scalar(
        select(Case).where(Case.contact_id == contact_id, Case.state == CaseState.CLAIMED).order_by(Case.id.desc()).limit(1)
    )


def count_open(session: Session, kind: str) -> int:
    return session.scalar(select(func.count()).select_from(Case).where(Case.kind == kind, Case.state == CaseState.OPEN)) or 0


def recent_waits(session: Session, kind: str, now: datetime, days: int = 90) -> list[timedelta]:
    """How long cases of this kind waited before someone took them, over the last `days`."""
    rows = session.execute(
        select(Case.created_at, Case.claimed_at).where(
            Case.kind == kind, Case.claimed_at.is_not(None), Case.created_at >= now - timedelta(days=days)
        )
    ).all()
    return [claimed - created for created, claimed in rows]


def expected_wait_days(session: Session, kind: str, now: datetime, promise_days: int, floor_days: int) -> int:
    """An honest estimate: what three in four recent cases waited, never above the promise or below the floor.

    With no history, or a queue longer than the team clears in a normal week, the promise itself is the
    honest answer."""
    waits = recent_waits(session, kind, now)
    if len(waits) < 4 or count_open(session, kind) > 10:
        return promise_days
    upper_quartile = statistics.quantiles([wait.total_seconds() for wait in waits], n=4)[2]
    days = int(-(-upper_quartile // 86400))  # round up: better early than late
    return max(floor_days, min(promise_days, days))
